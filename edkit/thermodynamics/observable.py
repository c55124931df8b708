"""The ``thermal`` observable of the registry: thermal averages at one or more inverse temperatures.

Registered with ``kind="thermal"``, so ``edkit observables`` lists it and
:func:`edkit.observables.evaluate` / ``edkit sweep --observable thermal`` compute it. Options:
``beta`` (a number or a list), ``mu`` (``None``: canonical at the sector's ``N``, every ``Sz``;
a number: grand-canonical), ``method``, ``samples``, ``steps``, ``seed`` and ``observables``
(correlator names, as :func:`edkit.thermodynamics.thermal_averages`).

Columns: for one ``beta``, the quantities of :mod:`edkit.thermodynamics.quantities` and their errors under
their own names prefixed ``thermal_`` (``thermal_energy``, ``thermal_energy_error``, ...,
``thermal_C:p:0:1``), so that they never shadow the ground-state ``energy`` or correlator columns;
for several, each name gets ``@beta`` appended (``thermal_energy@0.5``). Finite-temperature rows of
``edkit compare`` go through :mod:`edkit.workflows.compare_thermal`, which calls
:func:`edkit.thermodynamics.thermal_averages` directly.

The registry loads :mod:`edkit.studies` on first look-up; :mod:`edkit.studies.thermal` imports this
module there, so the observable is registered without an edit of the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edkit.observables.registry import Observable, register

PREFIX = "thermal_"


def _betas(options: Mapping[str, Any]) -> list[float]:
    from edkit.thermodynamics.ensemble import parse_betas

    return parse_betas(options["beta"])


def _names(model, options: Mapping[str, Any]) -> list[str]:
    from edkit.thermodynamics.quantities import SCALARS, resolve_observables

    out = []
    for q in [*SCALARS, *resolve_observables(model, options["observables"])]:
        out += [q, f"{q}_error"]
    return out


def _columns(model, options: Mapping[str, Any]) -> list[str]:
    betas = _betas(options)
    names = _names(model, options)
    if len(betas) == 1:
        return [PREFIX + n for n in names]
    return [f"{PREFIX}{n}@{b:g}" for b in betas for n in names]


def _compute(model, values: Mapping[str, Any], sector: Mapping[str, Any], options: Mapping[str, Any]) -> dict:
    from edkit.thermodynamics import thermal_averages

    betas = _betas(options)
    mu = options["mu"]
    fixed = None if mu is not None else {k: v for k, v in sector.items() if k != "Sz"}
    res = thermal_averages(model, values, betas=betas, sector=fixed, mu=mu, method=options["method"],
                           samples=options["samples"], steps=options["steps"], seed=options["seed"],
                           observables=options["observables"])
    names = _names(model, options)
    out: dict = {}
    for point in res.points:
        suffix = "" if len(betas) == 1 else f"@{point['beta']:g}"
        for n in names:
            out[f"{PREFIX}{n}{suffix}"] = point.get(n)
    return out


def _applies(model) -> str | None:
    space = model.capabilities.space
    return None if space is None else (f"thermal averages work on the plain Fock sectors; {model.name!r} "
                                       f"needs the {space!r} space")


THERMAL = register(Observable(
    name="thermal",
    summary="thermal averages (energy, specific heat, N, double occupancy, susceptibilities, correlators) "
            "at inverse temperature(s) beta, exact or FTLM, with error bars",
    compute_fn=_compute,
    options={"beta": 1.0, "mu": None, "method": "auto", "samples": 20, "steps": 100, "seed": 0,
             "observables": None},
    kind="thermal",
    columns_fn=_columns,
    applies_fn=_applies,
    match_fn=lambda column: None,  # compare's beta rows use edkit.workflows.compare_thermal
))

__all__ = ["PREFIX", "THERMAL"]
