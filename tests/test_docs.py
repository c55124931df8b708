"""The API reference builds from the docstrings with warnings as errors, and covers every module."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _public_modules() -> set[str]:
    out = set()
    for package in ("edkit", "mappings"):
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if any(p.startswith("_") for p in parts):
                continue
            out.add(".".join(parts))
    return out


def test_every_module_has_a_reference_page():
    documented = set()
    for page in DOCS.glob("*.rst"):
        documented |= set(re.findall(r"^\.\. automodule:: (\S+)", page.read_text(), flags=re.M))
    missing = sorted(_public_modules() - documented - {"edkit"})
    assert not missing, f"modules without an automodule entry in docs/*.rst: {missing}"
    stale = sorted(documented - _public_modules())
    assert not stale, f"docs/*.rst name modules that do not exist: {stale}"


def test_sphinx_build_has_no_warnings(tmp_path):
    pytest.importorskip("sphinx")
    out = tmp_path / "html"
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html", "-j", "auto",
         str(DOCS), str(out), "-d", str(tmp_path / "doctrees")],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-6000:]
    models = (out / "models.html").read_text()
    from edkit.models import MODELS

    for name, factory in MODELS.items():
        assert factory.__name__ in models, name  # the registry table and the factory's page
    from mappings.verifications import CATALOGUE

    catalogue = (out / "mappings.html").read_text()
    assert all(name in catalogue for name in CATALOGUE)
    observables = (out / "observables.html").read_text()
    from edkit.observables import REGISTRY, load_families

    load_families()
    assert all(name in observables for name in REGISTRY)
