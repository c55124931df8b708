"""Model factories and the registry of named models (used by the command line)."""

from __future__ import annotations

from collections.abc import Callable

from edkit.core.errors import EdkitError
from edkit.core.lattice import LatticeError
from edkit.core.model import Model
from edkit.models.anderson import anderson_lattice
from edkit.models.hubbard import hubbard_chain
from edkit.models.kbp import kbp_bilayer, kbp_effective
from edkit.models.kondo import kondo_lattice
from edkit.models.polarizer import little_chain, polarizer_pair
from edkit.models.two_wire import two_wire

MODELS: dict[str, Callable[..., Model]] = {
    "hubbard": hubbard_chain,
    "kbp": kbp_bilayer,
    "kbp-eff": kbp_effective,
    "anderson": anderson_lattice,
    "kondo": kondo_lattice,
    "two-wire": two_wire,
    "hamo": polarizer_pair,
    "little": little_chain,
}


class UnknownModelError(EdkitError, LookupError):
    """A model name that is not in the registry."""

    def __str__(self) -> str:
        return str(self.args[0])


#: The longest lattice :func:`build_model` builds. Building is linear in ``L`` (~0.2 s per 1000 sites of
#: a Hubbard chain) but no exact method reaches such sizes beyond one or two particles; a length of a
#: million would take minutes to build only to be refused by the planner.
MAX_L = 10_000


def build_model(name: str, L: int, bc: str = "open") -> Model:
    """Build a registered model by name.

    Raises
    ------
    UnknownModelError
        If ``name`` is not registered (the message lists the known models).
    LatticeError
        If ``L`` is above :data:`MAX_L` (refused before anything is built).
    """
    try:
        factory = MODELS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None
    if isinstance(L, int) and not isinstance(L, bool) and L > MAX_L:
        raise LatticeError(f"L={L:,} is longer than edkit builds (at most {MAX_L:,} sites): exact "
                           "diagonalization reaches a few dozen orbitals at most")
    return factory(L, bc)


__all__ = ["MAX_L", "MODELS", "anderson_lattice", "build_model", "hubbard_chain", "kbp_bilayer",
           "kbp_effective", "kondo_lattice"]
