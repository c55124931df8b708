"""The typed result of a thermal average (:func:`edkit.thermodynamics.thermal_averages`).

``to_dict()`` is the JSON of ``edkit thermal --json`` (issue 15)::

    {"model", "L", "bc", "params", "ensemble": "canonical" | "grand-canonical", "method",
     "points": [{"beta", "energy", "energy_error", "specific_heat", "specific_heat_error", "N", ...}],
     ...}

followed by ``"sector"`` (canonical: the fixed values), ``"mu"`` (grand-canonical), ``"samples"``,
``"steps"``, ``"seed"`` (FTLM), ``"sectors"`` (each solved sector: ``N``, ``Sz``, ``dimension``,
``method``, ``images``), ``"ground_energy"`` (the lowest level found: exact, or the lowest Ritz
value; the T = 0 limit of ``energy``), ``"spin_flip"`` and ``"warnings"``. A point that FTLM
cannot resolve (low temperature, see :mod:`edkit.thermodynamics.run`) has ``"low_temperature": true``
and ``null`` for the operator averages (double occupancy, correlators) and their errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edkit.observables.results import MappingView


@dataclass(frozen=True, eq=False)
class ThermalResult(MappingView):
    """Thermal averages at each inverse temperature.

    Attributes
    ----------
    model, L, bc, params
        What was averaged: model name, length, boundary, resolved parameter values.
    ensemble
        ``"canonical"`` or ``"grand-canonical"``.
    method
        ``"exact"`` or ``"ftlm"``.
    points
        One dict per ``beta``: ``"beta"``, then every quantity ``Q`` and ``"Q_error"`` (0 for exact).
    extras
        The keys after ``points`` (module docs).
    """

    model: str
    L: int | None
    bc: str
    params: Mapping[str, float]
    ensemble: str
    method: str
    points: list[dict[str, Any]]
    extras: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON)."""
        return {"model": self.model, "L": self.L, "bc": self.bc, "params": dict(self.params),
                "ensemble": self.ensemble, "method": self.method, "points": [dict(p) for p in self.points],
                **dict(self.extras)}

    @property
    def warnings(self) -> list[str]:
        """What the run says about its own reliability (low temperatures, single samples)."""
        return list(self.extras.get("warnings", []))

    def column(self, name: str) -> list[Any]:
        """One quantity (or ``"beta"``) at every point."""
        return [p.get(name) for p in self.points]


__all__ = ["ThermalResult"]
