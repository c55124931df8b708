r"""Finite-temperature rows of ``edkit compare`` (QMC numbers against thermal ED).

A row with a ``beta`` column is a finite-temperature point. Its ED values come from
:func:`edkit.thermodynamics.thermal_averages` (through the one function :func:`thermal_values`); all
rows of one model, size, boundary, parameter set, filling and chemical potential are computed in
one call over all their betas.

Columns
-------
- ``beta`` (> 0): inverse temperature;
- ``mu`` (optional): the grand-canonical chemical potential, as in ``edkit thermal --mu``: every
  ``N`` and ``Sz`` weighted by :math:`e^{-\beta(E - \mu N)}`, the energy is :math:`\langle H\rangle`
  without :math:`-\mu N`. In a finite-temperature row ``mu`` is this ensemble's chemical potential,
  even for a model with a parameter of that name (which then keeps its default); sector columns
  are refused with it. Without ``mu`` the ensemble is canonical at the row's ``N`` (default half
  filling), every ``Sz`` summed, or the one sector ``N``, ``Sz`` when a ``Sz`` column is given
  (:mod:`edkit.thermodynamics.ensemble`);
- quantities (:data:`THERMAL_QUANTITIES`): ``energy``, ``specific_heat`` (:math:`\beta^2
  \mathrm{Var}\,H`), ``double_occupancy``, ``spin_susceptibility``, ``charge_susceptibility``,
  ``N`` (:math:`\langle N\rangle`, grand-canonical rows only: in a canonical row ``N`` is the
  filling), and correlators ``KEY:layer:i:j`` as at T = 0; each with an optional error bar
  ``<quantity>_err`` (> 0);
- or long format, one quantity per row: ``beta``, ``observable`` (a quantity name), ``value`` and
  ``error`` (optional, > 0) besides the model, size, parameter and sector columns. Long rows
  without ``beta`` are T = 0 rows (``observable`` then names any T = 0 quantity).

Every row is checked before the first thermal calculation; a T = 0 quantity (``E0``,
``charge_gap``, ...) in a finite-temperature row, ``beta <= 0``, an error bar ``<= 0`` or an
unknown observable is refused with the row named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edkit.observables.correlations import COLUMN as _CORR
from edkit.workflows.compare import CompareError, _number, _present

#: Scalar finite-temperature quantities (names of the thermal engine's result).
THERMAL_QUANTITIES = ("energy", "specific_heat", "N", "double_occupancy", "spin_susceptibility",
                      "charge_susceptibility")
#: Thermal methods offered on the ED side.
METHODS = ("auto", "exact", "ftlm")
LONG_COLUMNS = ("observable", "value", "error")


def is_long(raw: Mapping[str, Any]) -> bool:
    """Whether a row is in long format (an ``observable`` cell)."""
    return _present(raw.get("observable"))


def is_thermal(raw: Mapping[str, Any]) -> bool:
    """Whether a row is a finite-temperature point (a ``beta`` cell)."""
    return _present(raw.get("beta"))


def widen(raw: Mapping[str, Any], where: str, known: Any) -> dict[str, Any]:
    """A long-format row as a wide one: ``{observable: value, observable_err: error}``.

    ``known(name) -> bool`` says whether a quantity name is known; an unknown one is refused.
    """
    name = str(raw["observable"]).strip()
    if not known(name):
        raise CompareError(f"{where}: unknown observable {name!r}"
                           + (" at finite temperature (known: " + ", ".join(THERMAL_QUANTITIES)
                              + ", KEY:layer:i:j)" if is_thermal(raw) else ""))
    if not _present(raw.get("value")):
        raise CompareError(f"{where}: observable {name!r} without a value")
    wide = {k: v for k, v in raw.items() if k not in LONG_COLUMNS}
    if _present(wide.get(name)) or _present(wide.get(f"{name}_err")):
        raise CompareError(f"{where}: {name!r} given both as a column and as the observable")
    wide[name] = raw["value"]
    wide[f"{name}_err"] = raw.get("error")
    return wide


def known_thermal(name: str) -> bool:
    """Whether a column names a finite-temperature quantity."""
    return name in THERMAL_QUANTITIES or _CORR.match(name) is not None


@dataclass
class ThermalPlan:
    """One checked finite-temperature row."""

    row: int
    model: Any
    params: dict[str, float]
    shown_params: dict[str, float]
    sector: dict[str, Any]
    beta: float
    mu: float | None
    quantities: dict[str, float]
    errors: dict[str, float]
    ed: dict[str, tuple[float | None, float, str]] = field(default_factory=dict)

    def key(self) -> tuple:
        m = self.model
        return (m.name, m.lattice.L, m.lattice.bc, tuple(sorted(self.params.items())),
                tuple(sorted(self.sector.items())), self.mu)


def plan_row(raw: Mapping[str, Any], n: int, m: Any, is_quantity: Any, check_correlator: Any,
             ignored: list[str]) -> ThermalPlan:
    """Check one finite-temperature row (wide format) of model ``m``; nothing is computed.

    Columns that name nothing known are appended to ``ignored``.
    """
    from edkit.core.model import SectorError
    from edkit.core.params import ParameterError

    where = f"row {n}"
    beta = _number(raw["beta"], f"{where} beta")
    if beta <= 0:
        raise CompareError(f"{where}: beta must be > 0, got {beta:g}")
    mu = _number(raw["mu"], f"{where} mu") if _present(raw.get("mu")) else None
    params: dict[str, float] = {}
    sector: dict[str, Any] = {}
    quantities: dict[str, float] = {}
    errors: dict[str, float] = {}
    for col, v in raw.items():
        if col in ("model", "L", "bc", "beta", "mu") or not _present(v):
            continue
        if col == "N" and mu is not None:
            quantities[col] = _number(v, f"{where} {col}")  # <N> of the grand-canonical ensemble
        elif col in m.parameters:
            params[col] = _number(v, f"{where} {col}")
        elif col in m.sector_names:
            if mu is not None:
                raise CompareError(f"{where}: {col}: a grand-canonical row (with mu) sums over every "
                                   "sector; drop the column")
            sector[col] = _number(v, f"{where} {col}")
        elif known_thermal(col):
            quantities[col] = _number(v, f"{where} {col}")
        elif col.endswith("_err") and known_thermal(col[:-4]):
            e = _number(v, f"{where} {col}")
            if e <= 0:
                raise CompareError(f"{where}: error bar {col} must be > 0, got {e:g} (leave the cell "
                                   "empty for a value without error bar)")
            errors[col[:-4]] = e
        elif is_quantity(col) or (col.endswith("_err") and is_quantity(col[:-4])):
            raise CompareError(f"{where}: {col!r} is a T = 0 quantity, not one of a finite-temperature "
                               f"row (beta={beta:g}): {', '.join(THERMAL_QUANTITIES)}, KEY:layer:i:j")
        elif col not in ignored:
            ignored.append(col)
    try:
        resolved = m.resolve(params)
    except ParameterError as err:
        raise CompareError(f"{where}: {err}") from None
    if mu is None:
        try:
            full = m.resolve_sector(sector)  # without a Sz column: checked at the lowest |Sz|
            extra = {k: v for k, v in full.items() if k not in ("N", "Sz")}
            m.sector(full["N"], full.get("Sz") if m.spinful else None, **extra)
            sector = {k: v for k, v in full.items() if k != "Sz" or "Sz" in sector}
        except SectorError as err:
            raise CompareError(f"{where}: {err}") from None
    if not quantities:
        raise CompareError(f"{where}: nothing to compare at beta={beta:g} (columns such as "
                           f"{', '.join(THERMAL_QUANTITIES)}, SzSz:c:0:1)")
    if "N" in quantities and mu is None:  # pragma: no cover  (N is the filling without mu)
        raise CompareError(f"{where}: <N> needs a grand-canonical row (a mu column)")
    for q in quantities:
        check_correlator(q, m, where)
    for q in errors:
        if q not in quantities:
            raise CompareError(f"{where}: error bar {q}_err without a value {q}")
    return ThermalPlan(n, m, resolved, params, sector, beta, mu, quantities, errors)


def check_options(method: str, samples: int, seed: int) -> None:
    """The ED side's thermal options, checked before any work."""
    if method not in METHODS:
        raise CompareError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise CompareError(f"samples must be an integer >= 1, got {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise CompareError(f"seed must be an integer >= 0, got {seed!r}")


def compute(plans: Sequence[ThermalPlan], *, method: str = "auto", samples: int = 20, seed: int = 0
            ) -> dict[int, str]:
    """Fill ``plan.ed`` of every row, one thermal call per group; returns each row's method."""
    groups: dict[tuple, list[ThermalPlan]] = {}
    for p in plans:
        groups.setdefault(p.key(), []).append(p)
    used: dict[int, str] = {}
    for members in groups.values():
        first = members[0]
        betas = sorted({p.beta for p in members})
        names = sorted({q for p in members for q in p.quantities})
        points, how = thermal_values(first.model, first.params, betas=betas, sector=first.sector or None,
                                     mu=first.mu, observables=names, method=method, samples=samples,
                                     seed=seed)
        for p in members:
            at = points[betas.index(p.beta)]
            p.ed = {q: at.get(q, (None, 0.0, "")) for q in p.quantities}
            used[p.row] = how
    return used


def thermal_values(model: Any, values: Mapping[str, float], *, betas: Sequence[float],
                   sector: Mapping[str, Any] | None, mu: float | None, observables: Sequence[str],
                   method: str, samples: int, seed: int
                   ) -> tuple[list[dict[str, tuple[float | None, float, str]]], str]:
    """The thermal engine's values at each beta, ``[{Q: (value, error, note)}]`` in the order of
    ``betas``, and the method used.

    The one coupling to :mod:`edkit.thermodynamics` (contract: ``thermal_averages(...).to_dict()`` with
    ``points`` holding ``Q`` and ``Q_error`` per quantity).
    """
    from edkit.thermodynamics import thermal_averages

    scalars_only = all(q in THERMAL_QUANTITIES for q in observables)
    result = thermal_averages(model, values, betas=list(betas), sector=sector, mu=mu, method=method,
                              samples=samples, seed=seed,
                              observables=None if scalars_only else list(observables))
    data = result.to_dict()
    points = data["points"]
    if len(points) != len(betas):  # pragma: no cover  (contract: one point per beta, in order)
        raise CompareError(f"thermal engine returned {len(points)} points for {len(betas)} betas")
    out = []
    for pt in points:
        vals: dict[str, tuple[float | None, float, str]] = {}
        for q in observables:
            v, e = pt.get(q), pt.get(f"{q}_error")
            note = ""
            if v is None and pt.get("low_temperature"):
                note = ("FTLM does not resolve this low temperature: use --method exact or the T = 0 "
                        "result (edkit correlations)")
            elif v is not None and e is None:
                note = "no ED error bar (one FTLM sample)"
            vals[q] = (None if v is None else float(v), float(e or 0.0), note)
        out.append(vals)
    return out, str(data.get("method", method))


__all__ = ["LONG_COLUMNS", "METHODS", "THERMAL_QUANTITIES", "ThermalPlan", "check_options", "compute",
           "is_long", "is_thermal", "known_thermal", "plan_row", "thermal_values", "widen"]
