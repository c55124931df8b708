"""The layers of edkit and mappings import one way (issue 12, item 4).

Every module under ``edkit/`` and ``mappings/`` is parsed (``ast``); every import counts, also one
inside a function and ``importlib.import_module("...")`` with a literal name. The rules:

- ``edkit.core`` imports only ``edkit.core``; ``edkit.models`` only ``edkit.core`` and ``edkit.models``;
- the symbolic layer (``mappings`` outside ``mappings.verifications``) imports only ``edkit.core``,
  ``edkit.models`` and itself; the catalogue ``mappings.verifications`` is the top layer;
- ``edkit.engine`` imports no observables, studies, workflows, api or cli, and no ``mappings``;
- ``edkit.observables`` imports no workflows, cli or ``mappings``;
- ``edkit.studies`` and ``edkit.workflows`` import no cli and no ``mappings``;
- only ``edkit.engine.backend_quspin`` imports ``quspin``;
- no import cycle among the modules at module level (imports under ``if TYPE_CHECKING:`` and
  inside functions do not run at import time and are left out of this one rule).

A runtime check backs the static one: importing the symbolic layer (or the core and the models)
in a fresh interpreter loads no numeric module and no QuSpin.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edkit", "mappings")


@dataclass(frozen=True)
class Edge:
    """One import: ``source`` imports ``target`` at ``line`` (``top``: at module level)."""

    source: str
    target: str
    line: int
    top: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: dict[str, Path] = {
    module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
    if "__pycache__" not in p.parts
}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, names: list[str]) -> list[str]:
    """``from module import a, b``: the submodules ``module.a`` where they exist, else ``module``."""
    out = []
    for name in names:
        sub = f"{module}.{name}"
        out.append(sub if sub in MODULES else module)
    return out or [module]


def _relative_base(source: str, level: int, is_package: bool) -> str:
    parts = source.split(".")
    keep = len(parts) - level + (1 if is_package else 0)
    return ".".join(parts[:keep])


def imports_of(name: str, source: str | None = None, is_package: bool | None = None) -> list[Edge]:
    """Every import of module ``name`` (absolute dotted targets), with its place.

    ``source`` (with ``is_package``) parses given text instead of the module's file.
    """
    if source is None:
        path = MODULES[name]
        source, is_package = path.read_text(), path.name == "__init__.py"
    tree = ast.parse(source)
    edges: list[Edge] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_top = top
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                child_top = False
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:  # static-only imports: never at run time
                    visit_stmt(stmt, False)
                for stmt in child.orelse:
                    visit_stmt(stmt, top)
                continue
            visit_stmt(child, child_top)

    def visit_stmt(child: ast.AST, top: bool) -> None:
        if isinstance(child, ast.Import):
            for alias in child.names:
                edges.append(Edge(name, alias.name, child.lineno, top))
        elif isinstance(child, ast.ImportFrom):
            base = child.module or ""
            if child.level:
                prefix = _relative_base(name, child.level, is_package)
                base = f"{prefix}.{base}" if base else prefix
            for target in _resolve(base, [a.name for a in child.names]):
                edges.append(Edge(name, target, child.lineno, top))
        elif isinstance(child, ast.Call):
            func = child.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and child.args and isinstance(
                    child.args[0], ast.Constant) and isinstance(child.args[0].value, str):
                edges.append(Edge(name, child.args[0].value, child.lineno, top))
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            top = False
        visit(child, top)

    visit(tree, True)
    return edges


EDGES: list[Edge] = [e for name in MODULES for e in imports_of(name)]


def within(module: str, *prefixes: str) -> bool:
    """Whether ``module`` is one of ``prefixes`` or inside one of them."""
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def is_catalogue(module: str) -> bool:
    return within(module, "mappings.verifications")


def is_symbolic(module: str) -> bool:
    return within(module, "mappings") and not is_catalogue(module)


def ours(target: str) -> bool:
    return within(target, *PACKAGES)


def violations(source_rule, allowed) -> list[str]:
    """``source: target (line)`` for every import of an edkit/mappings module that breaks a rule."""
    return [f"{e.source} imports {e.target} (line {e.line})" for e in EDGES
            if source_rule(e.source) and ours(e.target) and not allowed(e.target)]


# ------------------------------------------------------------------------------- the parser
def test_the_parser_sees_every_kind_of_import():
    assert "edkit.core.model" in MODULES and "mappings.algebra" in MODULES and "mappings" in MODULES
    edges = {(e.source, e.target) for e in EDGES}
    assert ("mappings.algebra", "edkit.core.model") in edges  # from-import of a module's name
    assert ("edkit.core.model", "edkit.core.words") in edges
    # an import inside a function is seen and marked as not top-level
    inner = [e for e in EDGES if e.source == "edkit.testing" and e.target.startswith("mappings")]
    assert inner and not any(e.top for e in inner)
    # a from-import of a submodule resolves to the submodule
    assert _resolve("edkit.core", ["model"]) == ["edkit.core.model"]
    assert _resolve("edkit.core.model", ["Model"]) == ["edkit.core.model"]


def test_the_parser_on_written_source():
    src = ("import os\nfrom typing import TYPE_CHECKING\nfrom edkit.core import model\n"
           "if TYPE_CHECKING:\n    from edkit.api import spectrum\n"
           "def f():\n    import importlib\n    importlib.import_module('edkit.cli')\n"
           "    from . import words\n")
    got = {(e.target, e.top) for e in imports_of("edkit.core.probe", src, is_package=False)}
    assert ("edkit.core.model", True) in got and ("os", True) in got
    assert ("edkit.api", False) in got  # under TYPE_CHECKING: never at run time
    assert ("edkit.cli", False) in got and ("edkit.core.words", False) in got


# ---------------------------------------------------------------------------- the rules
def test_core_imports_only_core():
    assert not violations(lambda m: within(m, "edkit.core"), lambda t: within(t, "edkit.core"))


def test_models_import_only_core_and_models():
    assert not violations(lambda m: within(m, "edkit.models"),
                          lambda t: within(t, "edkit.core", "edkit.models"))


def test_symbolic_layer_imports_only_core_models_and_itself():
    """``mappings`` outside the catalogue: no ``edkit`` numerics, no catalogue."""
    assert not violations(is_symbolic, lambda t: within(t, "edkit.core", "edkit.models") or is_symbolic(t))


def test_engine_imports_nothing_above_it():
    bad = ("edkit.observables", "edkit.studies", "edkit.workflows", "edkit.api", "edkit.cli", "mappings")
    assert not violations(lambda m: within(m, "edkit.engine"), lambda t: not within(t, *bad))


def test_observables_import_no_workflows_cli_or_mappings():
    bad = ("edkit.workflows", "edkit.cli", "mappings")
    assert not violations(lambda m: within(m, "edkit.observables"), lambda t: not within(t, *bad))


def test_dynamics_sits_at_the_observables_level():
    bad = ("edkit.studies", "edkit.workflows", "edkit.api", "edkit.cli", "edkit.cli_dynamics", "mappings")
    assert not violations(lambda m: within(m, "edkit.response"), lambda t: not within(t, *bad))


def test_thermal_sits_at_the_observables_level():
    bad = ("edkit.studies", "edkit.workflows", "edkit.api", "edkit.cli", "edkit.cli_thermal", "mappings")
    assert not violations(lambda m: within(m, "edkit.thermodynamics"), lambda t: not within(t, *bad))


def test_studies_and_workflows_import_no_cli_or_mappings():
    bad = ("edkit.cli", "mappings")
    assert not violations(lambda m: within(m, "edkit.studies", "edkit.workflows"),
                          lambda t: not within(t, *bad))


def test_only_the_quspin_backend_imports_quspin():
    users = sorted({e.source for e in EDGES if within(e.target, "quspin")})
    assert users == ["edkit.engine.backend_quspin"], users


def _cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a self-import."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert _cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
    assert _cycles([("a", "b"), ("b", "c")]) == []


def test_no_import_cycle_at_module_level():
    top = [(e.source, e.target) for e in EDGES
           if e.top and e.target in MODULES and e.target != e.source]
    assert not _cycles(top), _cycles(top)


# ----------------------------------------------------------------- at run time, in a fresh process
PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
heavy = ("edkit.engine", "edkit.api", "edkit.observables", "edkit.studies", "edkit.workflows",
         "edkit.cli", "mappings.verifications", "quspin", "numba")
print(json.dumps(sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))))
"""


@pytest.mark.parametrize("layer", ["symbolic", "core-and-models"])
def test_light_layers_load_no_numerics_at_run_time(layer):
    names = ([m for m in MODULES if is_symbolic(m)] if layer == "symbolic"
             else [m for m in MODULES if within(m, "edkit.core", "edkit.models")])
    out = subprocess.run([sys.executable, "-c", PROBE, *names], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [], f"importing the {layer} layer loaded numeric modules"
