"""The project's own setup: README commands and CI stay in step."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```")[0] for b in readme.split("```bash")[1:3]]
    test_cmd = [ln for ln in blocks[1].splitlines() if ln.strip() and not ln.startswith("#")][0]
    assert "pytest" in test_cmd
    assert test_cmd.strip() in (ROOT / ".ci" / "run").read_text()
    demo_cmd = [ln for ln in blocks[0].splitlines() if ln.strip() and not ln.startswith("#")][0]
    assert "edkit demo" in demo_cmd


def _run(code: str) -> str:
    """Run ``code`` in a fresh interpreter (so that nothing imported here leaks in)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_edkit_is_light():
    out = _run("import sys, edkit; print(sorted(m for m in ('quspin', 'numba', 'mappings', 'edkit.api')"
               " if m in sys.modules))")
    assert out.strip() == "[]"


def test_every_public_name_resolves():
    out = _run(
        "import edkit, sys\n"
        "missing = [n for n in edkit.__all__ if getattr(edkit, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert set(edkit.__all__) <= set(dir(edkit))\n"
        "assert set(edkit.__all__) == {*edkit._LAZY, '__version__', 'verify'}\n"
        "assert issubclass(edkit.InputError, edkit.EdkitError)\n"
        "assert callable(edkit.observables.get)\n"
        "assert edkit.MODELS['hubbard'] is edkit.hubbard_chain\n"
        "try:\n"
        "    edkit.no_such_name\n"
        "except AttributeError:\n"
        "    print('ok')\n")
    assert out.strip() == "ok"


def test_top_level_spectrum_two_site_hubbard():
    import math

    out = _run("import edkit\n"
               "print(repr(edkit.spectrum('hubbard', {'U': 4}, N=2, Sz=0, L=2)['energies'][0]))")
    U = 4.0
    assert abs(float(out) - (U / 2 - math.sqrt(U**2 / 4 + 4))) < 1e-10


def test_top_level_build_model_plan_and_verify():
    out = _run(
        "import edkit\n"
        "m = edkit.build_model('hubbard', 4, 'periodic')\n"
        "assert isinstance(m, edkit.Model)\n"
        "p = edkit.plan(m, m.sector(4, 0))\n"
        "res = edkit.verify('kbp-to-anderson')\n"
        "assert edkit.verify([]) == []\n"
        "try:\n"
        "    edkit.verify(['no-such-verification'])\n"
        "except edkit.EdkitError as err:\n"
        "    assert 'kbp-to-anderson' in str(err)  # the message lists the known names\n"
        "else:\n"
        "    raise AssertionError('an unknown verification was accepted')\n"
        "print(p.dimension, len(res), res[0].name, res[0].passed, type(res[0].to_dict()).__name__)\n")
    assert out.split() == ["36", "1", "kbp-to-anderson", "True", "dict"]  # C(4,2)^2 states


def test_readme_command_line_never_uses_a_bare_edkit():
    """The set-up commands never activate the venv: every example says ``.venv/bin/edkit``."""
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S):
        for line in block.splitlines():
            code = line.split("#", 1)[0]
            assert not re.search(r"(^|[\s;&|(])edkit\s", code), line
