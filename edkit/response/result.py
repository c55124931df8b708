"""The typed result of :func:`edkit.response.dynamics`.

:meth:`DynamicsResult.to_dict` gives the JSON of ``edkit dynamics --json``: ``omega``,
``spectrum``, ``sum_rules`` first (the interface of issue 15), then what was computed and how.
The result is also a read-only mapping with those keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edkit.observables.results import MappingView
from edkit.response.lehmann import Poles


@dataclass(frozen=True, eq=False, repr=False)
class DynamicsResult(MappingView):
    """A spectral function (and optionally :math:`G(\\tau)`) of one operator at one momentum.

    Attributes
    ----------
    omega, spectrum
        The frequency grid and :math:`S(\\omega)` on it.
    sum_rules
        See :mod:`edkit.response.sum_rules`.
    model, L, bc, params, sector
        What was solved (sector of the ground state: ``N``, ``Sz``).
    operator, q, layer, eta
        The operator (``sz``, ``n``, ``c_up``, ``pair``), its momentum in radians, the layer(s)
        summed (``"all"`` or a name) and the Lorentzian half width.
    method
        ``"exact"`` (Lehmann, full diagonalization) or ``"lanczos"`` (continued fraction).
    path
        ``"dense"``, ``"stored"`` (QuSpin sparse matrix) or ``"matrix-free"``.
    ground_energy, degeneracy
        :math:`E_0` and the number of ground states averaged over.
    parts
        Per part (``operator``, ``addition``, ``removal``): target sector, dimension, Lanczos steps
        and whether the Krylov space was exhausted.
    tau, G, G_parts, beta
        :math:`G(\\tau)` when a ``tau`` grid was given (``beta``: ``None`` for zero temperature).
    poles
        The spectrum's poles (not in the JSON).
    """

    omega: list[float]
    spectrum: list[float]
    sum_rules: dict[str, float]
    model: str
    L: int
    bc: str
    params: dict[str, float]
    sector: dict[str, float]
    operator: str
    q: float
    layer: str
    eta: float
    method: str
    path: str
    ground_energy: float
    degeneracy: int
    parts: dict[str, dict[str, Any]]
    tau: list[float] | None = None
    G: list[float] | None = None
    G_parts: dict[str, list[float]] | None = None
    beta: float | None = None
    poles: Poles = field(default_factory=Poles)

    def to_dict(self) -> dict[str, Any]:
        """Plain data with the JSON keys (``tau``, ``G``, ``G_parts``, ``beta`` only when computed)."""
        out = {k: getattr(self, k) for k in ("omega", "spectrum", "sum_rules", "model", "L", "bc", "params",
                                             "sector", "operator", "q", "layer", "eta", "method", "path",
                                             "ground_energy", "degeneracy", "parts")}
        if self.tau is not None:
            out.update({"tau": self.tau, "G": self.G, "G_parts": self.G_parts, "beta": self.beta})
        return out

    def __repr__(self) -> str:
        return f"DynamicsResult(model={self.model!r}, operator={self.operator!r}, q={self.q})"


__all__ = ["DynamicsResult"]
