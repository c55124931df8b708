"""edkit: exact diagonalization of small correlated-electron clusters.

The stable public API sits at the top of the package::

    import edkit

    edkit.spectrum("hubbard", {"U": 4}, N=2, Sz=0, L=2)["energies"]
    edkit.gaps("kbp", {"U": 4, "t_perp": 0.5}, N=6, L=3)
    model = edkit.build_model("hubbard", L=4, bc="periodic")
    edkit.plan(model, model.sector(4, 0)).path
    [r.passed for r in edkit.verify(["kbp-to-anderson"])]

``import edkit`` is light: every name is imported on first use (PEP 562), so QuSpin, numba and the
symbolic catalogue load only when a function that needs them is called.

Layers: the neutral model core is :mod:`edkit.core`, the factories and their registry
:mod:`edkit.models`, the numeric engine (the only place that imports QuSpin) :mod:`edkit.engine`,
observables :mod:`edkit.observables`, studies :mod:`edkit.studies`, sweeps and comparisons
:mod:`edkit.workflows`; the symbolic layer is the sibling package :mod:`mappings`, with the
verification catalogue :mod:`mappings.verifications` on top.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> (module, attribute); attribute None means the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    # numeric API
    "spectrum": ("edkit.api", "spectrum"),
    "gaps": ("edkit.api", "gaps"),
    "correlations": ("edkit.api", "correlations"),
    "dynamics": ("edkit.api", "dynamics"),
    "thermal": ("edkit.api", "thermal"),
    "plan": ("edkit.engine.planning", "plan"),
    # models
    "Model": ("edkit.core.model", "Model"),
    "Capabilities": ("edkit.core.model", "Capabilities"),
    "MODELS": ("edkit.models", "MODELS"),
    "build_model": ("edkit.models", "build_model"),
    "hubbard_chain": ("edkit.models", "hubbard_chain"),
    "kbp_bilayer": ("edkit.models", "kbp_bilayer"),
    "kbp_effective": ("edkit.models", "kbp_effective"),
    "anderson_lattice": ("edkit.models", "anderson_lattice"),
    "kondo_lattice": ("edkit.models", "kondo_lattice"),
    "polarizer_pair": ("edkit.models.polarizer", "polarizer_pair"),
    "little_chain": ("edkit.models.polarizer", "little_chain"),
    "two_wire": ("edkit.models.two_wire", "two_wire"),
    # errors
    "EdkitError": ("edkit.core.errors", "EdkitError"),
    "InputError": ("edkit.core.errors", "InputError"),
    # subpackages
    "observables": ("edkit.observables", None),
}

__all__ = [
    "MODELS", "Capabilities", "EdkitError", "InputError", "Model", "__version__", "anderson_lattice",
    "build_model", "correlations", "dynamics", "gaps", "hubbard_chain", "kbp_bilayer", "kbp_effective",
    "kondo_lattice", "little_chain", "observables", "plan", "polarizer_pair", "spectrum", "thermal",
    "two_wire", "verify",
]


def verify(names: str | list[str] | None = None) -> list[VerificationResult]:
    """Run the verification catalogue (all of it by default) and return its structured results.

    Parameters
    ----------
    names
        Catalogue names (``"kbp-to-anderson"``, ...) to run, in the order given (a single name is
        a list of one); ``None`` runs the whole catalogue, an empty list nothing.

    Returns
    -------
    list of mappings.result.VerificationResult
        One result per verification, with its verdict (``passed``), what was compared and the
        term-by-term residual of a failed comparison; ``to_dict()`` gives the JSON form.

    Raises
    ------
    mappings.verifications.UnknownVerificationError
        For a name that is not in the catalogue (an :class:`EdkitError`).
    """
    from mappings.verifications import run_catalogue

    if names is None:
        return run_catalogue(None)
    selected = [names] if isinstance(names, str) else list(names)
    return run_catalogue(selected) if selected else []


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'edkit' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    value = mod if attribute is None else getattr(mod, attribute)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # static checkers and IDEs see the real names
    from edkit import observables
    from edkit.api import correlations, dynamics, gaps, spectrum, thermal
    from edkit.core.errors import EdkitError, InputError
    from edkit.core.model import Capabilities, Model
    from edkit.engine.planning import plan
    from edkit.models import (
        MODELS,
        anderson_lattice,
        build_model,
        hubbard_chain,
        kbp_bilayer,
        kbp_effective,
        kondo_lattice,
    )
    from edkit.models.polarizer import little_chain, polarizer_pair
    from edkit.models.two_wire import two_wire
    from mappings.result import VerificationResult
