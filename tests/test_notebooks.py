"""Every notebook in ``notebooks/`` executes without error and asserts what it shows.

Notebooks are stored without outputs; they are executed here in a temporary copy, never written
back. The kernel is named explicitly (``python3``) so a fresh virtualenv with ipykernel finds it
whatever the notebook metadata says. Each notebook checks its physics with plain ``assert``
statements in its cells (against closed forms, scaling laws and symmetry identities), so executing
it is a test of what it shows; a failing assertion fails the notebook.

The notebooks run once per session, two kernels at a time, the longest first (the machines have
two cores and each kernel is one busy process): about half the wall time of running them one after
the other (measured under load: 124 s instead of 173 s; quiet, about 30 s instead of 50 s).
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]
CONCURRENT_KERNELS = 2
#: Started first, so that the longest notebook does not run alone at the end (longest first).
LONGEST_FIRST = ("two_wire.ipynb", "dmrg_crosscheck.ipynb")
MIN_ASSERTS = 3


def code_of(path: Path) -> list[str]:
    """Python source of each code cell, IPython magics (``%...``, ``!...``) removed."""
    nb = nbformat.read(path, as_version=4)
    return ["\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            for cell in nb.cells if cell.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: stored with outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_does_not_choose_a_matplotlib_backend(path):
    """``matplotlib.use("Agg")`` would hide every plot in Jupyter; the test run sets MPLBACKEND."""
    use = re.compile(r"\b(matplotlib|mpl)\s*\.\s*use\s*\(|from\s+matplotlib\s+import\s+[^\n]*\buse\b")
    for source in code_of(path):
        assert not use.search(source), f"{path.name} chooses a matplotlib backend"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_asserts_what_it_shows(path):
    """At least ``MIN_ASSERTS`` ``assert`` statements in the code cells (parsed, not grepped)."""
    count = 0
    for source in code_of(path):
        count += sum(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(source)))
    assert count >= MIN_ASSERTS, f"{path.name} has {count} assert statements"


def test_the_assert_counter_and_backend_check_on_written_cells(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%matplotlib inline\nimport matplotlib\nmatplotlib.use('Agg')"),
                nbformat.v4.new_code_cell("x = 1\nassert x == 1\nif x:\n    assert x > 0")]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    sources = code_of(path)
    assert sources[0].startswith("import matplotlib")
    assert sum(isinstance(n, ast.Assert) for s in sources for n in ast.walk(ast.parse(s))) == 2
    with pytest.raises(AssertionError, match="chooses a matplotlib backend"):
        test_notebook_does_not_choose_a_matplotlib_backend(path)


async def _execute_all(paths: list[Path], workdir: Path) -> dict[str, tuple[object, float]]:
    """Execute every notebook (at most ``CONCURRENT_KERNELS`` at a time); name -> (error or None, s)."""
    gate = asyncio.Semaphore(CONCURRENT_KERNELS)

    async def one(path: Path) -> tuple[str, tuple[object, float]]:
        async with gate:
            here = workdir / path.stem
            here.mkdir()
            nb = nbformat.read(path, as_version=4)
            client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                             resources={"metadata": {"path": str(here)}})
            t0 = time.perf_counter()
            try:
                await client.async_execute()  # raises CellExecutionError on the first failing cell
            except Exception as err:  # reported by the notebook's own test below
                return path.name, (err, time.perf_counter() - t0)
            errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                      if o.output_type == "error"]
            return path.name, (errors or None, time.perf_counter() - t0)

    return dict(await asyncio.gather(*(one(p) for p in paths)))


@pytest.fixture(scope="session")
def executed_notebooks(request, tmp_path_factory) -> dict[str, tuple[object, float]]:
    """Every selected notebook executed once, in its own temporary directory."""
    selected = {item.callspec.id for item in request.session.items
                if item.originalname == "test_notebook_executes" and hasattr(item, "callspec")}
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    paths = sorted((p for p in NOTEBOOKS if p.name in selected), key=lambda p: rank.get(p.name, len(rank)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLBACKEND", "Agg")  # headless; the notebooks themselves never choose a backend
        mp.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        return asyncio.run(_execute_all(paths, tmp_path_factory.mktemp("notebooks")))


@pytest.mark.slow  # starts the kernels; the five notebooks take ~30 s together, two at a time
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_executes(path, executed_notebooks):
    error, elapsed = executed_notebooks[path.name]
    if os.environ.get("EDKIT_NOTEBOOK_TIMING"):
        print(f"{path.name}: {elapsed:.1f} s")
    assert error is None, f"{path.name}:\n{error}"
