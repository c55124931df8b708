"""The README's "Extending edkit" examples run as written (each block alone, in a fresh interpreter)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def extending_blocks() -> list[tuple[str, str]]:
    """``(subsection title, code)`` for every python block of the README's "Extending edkit" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Extending edkit\n", 1)[1].split("\n## ", 1)[0]
    blocks = []
    for part in re.split(r"\n### ", section)[1:]:
        title = part.splitlines()[0].strip()
        blocks += [(title, code) for code in re.findall(r"```python\n(.*?)```", part, flags=re.S)]
    return blocks


def test_the_section_shows_a_model_an_observable_and_a_backend():
    titles = " ".join(title.lower() for title, _ in extending_blocks())
    for what in ("model", "observable", "backend"):
        assert what in titles, f"no example for adding a {what}"


@pytest.mark.parametrize("title, code", extending_blocks(), ids=lambda x: x if len(x) < 40 else "")
def test_example_runs(title, code):
    assert "assert" in code, f"the example '{title}' checks nothing"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, f"README example '{title}' failed:\n{done.stderr[-4000:]}"


def test_the_readme_model_passes_the_generic_model_suite():
    """The model of the README, once registered, is checked by tests/test_models_generic.py as is."""
    code = next(code for title, code in extending_blocks() if "model" in title.lower())
    driver = (
        "import sys, pytest\n"
        "from edkit.models import MODELS\n"
        "before = set(MODELS)\n"
        f"exec({code!r})\n"
        "new = sorted(set(MODELS) - before)\n"
        "assert len(new) == 1, new\n"
        "sys.exit(pytest.main(['tests/test_models_generic.py', '-q', '-p', 'no:cacheprovider',\n"
        "                      '-k', new[0]]))\n")
    done = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " failed" not in done.stdout
