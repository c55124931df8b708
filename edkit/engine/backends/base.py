"""The backend protocol: a request, an estimate, and the three questions every backend answers.

A backend is any object with

- ``name`` (``str``): how users and the planner call it (``method=name``);
- ``supports(model, sector, request) -> str | None``: ``None`` when it can do the request, else one
  true sentence saying why not (the planner shows it to the user);
- ``estimate(model, sector, request) -> Estimate``: peak memory and rough time, with the numbers used;
- ``solve(model, values, sector, request) -> (Eigen, space)``: the levels and the space they live in
  (``space.dimension`` is the number of states).

It is registered with :func:`edkit.engine.backends.register`; :mod:`edkit.engine.planning` asks
every registered backend and chooses. A backend never decides for another one.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from edkit.core.errors import InputError
from edkit.core.model import Model, Sector
from edkit.core.units import approx_seconds, format_bytes

#: ``method`` value that lets the planner choose.
AUTO = "auto"


@dataclass(frozen=True)
class Request:
    """What is wanted from one sector.

    Attributes
    ----------
    nev
        Number of lowest levels (at least 1; more than the dimension means all of them).
    vectors
        Whether eigenvectors are wanted too.
    method
        ``"auto"`` (the planner chooses) or the name of a registered backend (``"stored"``,
        ``"matrix-free"``, ``"blocks"``, ``"two-wire-product"``, ``"tenpy"``, ...).
    symmetries
        Checked :class:`edkit.engine.symmetry.Symmetry` objects: solve in their blocks (the
        ``blocks`` backend); empty for the plain sector.
    fixed
        Quantum numbers held fixed with ``symmetries`` (``{"k": 0}``).
    seed
        Seed of the Lanczos start vector.
    options
        Backend-specific options (e.g. ``{"chi_max": 64}`` for ``tenpy``, ``{"progress": f}``).
    manifold
        With ``vectors``: only the ground manifold is wanted (the levels degenerate with the lowest
        one, at most ``nev``, and their vectors), as for ground-state correlators. A backend may
        return just those (``matrix-free``: no vector is built for a level above the ground
        manifold) or the ``nev`` lowest levels (``stored``); the caller keeps the degenerate ones.

    Raises
    ------
    InputError
        For ``nev`` below 1 or not an integer, or a ``method`` that is not a string.
    """

    nev: int = 1
    vectors: bool = False
    method: str = AUTO
    symmetries: tuple = ()
    fixed: Mapping[str, int] = field(default_factory=dict)
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)
    manifold: bool = False

    def __post_init__(self) -> None:
        nev = self.nev
        if isinstance(nev, bool) or not isinstance(nev, numbers.Integral):
            raise InputError(f"nev must be a positive integer (the number of levels), got {nev!r}")
        if nev < 1:
            raise InputError(f"nev must be at least 1 (the number of levels), got {nev}")
        object.__setattr__(self, "nev", int(nev))
        if not isinstance(self.method, str):
            raise InputError(f"method must be a string, got {self.method!r}")
        object.__setattr__(self, "vectors", bool(self.vectors))
        object.__setattr__(self, "manifold", bool(self.manifold))
        object.__setattr__(self, "symmetries", tuple(self.symmetries))

    @property
    def ground_only(self) -> bool:
        """Whether only the ground energy is wanted (``nev == 1`` without eigenvectors)."""
        return self.nev == 1 and not self.vectors

    def replace(self, **changes: Any) -> Request:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """The request in words (``"ground energy"``, ``"nev=3 with eigenvectors"``)."""
        if self.ground_only:
            return "the ground energy"
        if self.manifold and self.vectors:
            return f"the ground manifold (up to {self.nev:,} states) with eigenvectors"
        return f"nev={self.nev:,}" + (" with eigenvectors" if self.vectors else "")


@dataclass(frozen=True)
class Estimate:
    """A backend's rough cost of a request, with the numbers that went into it.

    Attributes
    ----------
    bytes
        Estimated peak memory.
    seconds
        Rough wall time (measured rates on the project's 2-core machines; +-3x).
    dimension
        States handled (per block for block backends).
    what
        The work in words (``"stored matrix, ARPACK with 40 vectors"``).
    numbers
        The numbers used (non-zeros, vectors, matrix bytes, ...), for ``edkit plan --json``.
    """

    bytes: int
    seconds: float
    dimension: int
    what: str = ""
    numbers: Mapping[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """``"<what>: ~1.2 GiB, ~30 s"``."""
        head = f"{self.what}: " if self.what else ""
        return f"{head}~{format_bytes(self.bytes)}, {approx_seconds(self.seconds)}"

    def as_dict(self) -> dict:
        """Plain data (JSON)."""
        seconds = float(f"{self.seconds:.3g}") if math.isfinite(self.seconds) else None
        return {"bytes": int(self.bytes), "seconds_rough": seconds,
                "dimension": int(self.dimension), "what": self.what, **dict(self.numbers)}


@runtime_checkable
class Backend(Protocol):
    """What the planner asks of a backend (see the module docs)."""

    name: str

    def supports(self, model: Model, sector: Sector, request: Request) -> str | None:
        """``None`` if the request can be done here, else why not (one sentence)."""

    def estimate(self, model: Model, sector: Sector, request: Request) -> Estimate:
        """Peak memory and rough time of the request (only called when supported)."""

    def solve(self, model: Model, values: Mapping[str, float], sector: Sector,
              request: Request) -> tuple[Any, Any]:
        """``(Eigen, space)``: the lowest levels and the space they live in."""


def where(model: Model, sector: Sector) -> str:
    """``"hubbard L=12 sector (N_up=6, N_dn=6)"`` for messages."""
    return f"{model.name} L={model.lattice.L} sector (N_up={sector.n_up}, N_dn={sector.n_dn})"


__all__ = ["AUTO", "Backend", "Estimate", "Request", "where"]
