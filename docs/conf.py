"""Sphinx configuration: the API reference built from the docstrings (numpy style).

Build with warnings as errors (the test suite does the same, ``tests/test_docs.py``)::

    .venv/bin/sphinx-build -W --keep-going -b html docs build/docs

No extension here fetches anything from the network.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

import edkit  # noqa: E402

project = "edkit"
author = "the edkit authors"
copyright = "the edkit authors"
release = version = edkit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "edkit_tables",
]

exclude_patterns = ["_build"]
root_doc = "index"
html_theme = "alabaster"
html_static_path: list[str] = []
pygments_style = "sphinx"

# numpy-style docstrings only
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True
# section titles used in edkit docstrings beyond the numpy standard ones: rendered as rubrics
napoleon_custom_sections = ["Conventions", "Definitions", "Conventions and checks", "Checks", "Encoding",
                            "Columns", "Format", "Limits"]

autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    "ignore-module-all": True,  # document each object once, where it is defined
}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "class"
# dataclass fields documented under "Attributes" would otherwise be listed twice
napoleon_attr_annotations = True

suppress_warnings: list[str] = []
