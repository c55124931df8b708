"""Planning a sweep: validate everything and list its points before anything is diagonalized.

A sweep is the Cartesian product of parameter values (and of sizes ``L``) for one model, one
sector rule and one or more observables (:data:`edkit.workflows.points.OBSERVABLES`). Every
point is checked here (parameter names and values, sector, size of the sector), so bad input
fails in milliseconds. Imports :mod:`~edkit.workflows.grid` and :mod:`~edkit.workflows.points`
only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from edkit.workflows.grid import GridError, parse_grid, parse_sizes, point_key
from edkit.workflows.points import OBSERVABLES, split_sector

MAX_POINTS = 1_000_000


@dataclass
class Sweep:
    """A validated sweep: the list of point tasks, in grid order.

    Attributes
    ----------
    model
        Model name.
    bc
        Boundary conditions.
    tasks
        One dict per (L, parameter combination, observable): ``model, L, bc, params`` (all
        parameters, resolved), ``sector``, ``observable``, ``options``, ``swept`` (the grid
        values of this point) and ``key``.
    axes
        The grid, ``{"L": [...], name: [...]}``.
    """

    model: str
    bc: str
    tasks: list[dict]
    axes: dict[str, list]


def _observables(observables: str | Sequence[str]) -> list[str]:
    obs = [observables] if isinstance(observables, str) else list(observables)
    obs = [o.strip() for item in obs for o in item.split(",") if o.strip()]
    if not obs:
        raise GridError("no observable given")
    bad = [o for o in obs if o not in OBSERVABLES]
    if bad:
        raise GridError(f"unknown observable(s) {bad}; choose from {list(OBSERVABLES)}")
    if len(set(obs)) != len(obs):
        raise GridError(f"observable given twice: {obs}")
    return obs


def plan_sweep(model: str, L: str | int | Sequence[int], params: Mapping[str, object] | Iterable[str] | None
               = None, *, bc: str = "open", observables: str | Sequence[str] = "gaps",
               sector: Mapping[str, object] | None = None, nev: int = 4, reference: int = 0) -> Sweep:
    """Validate a sweep and list its points; nothing is diagonalized.

    Every point is checked (parameter names and values, sector) before anything runs, so bad
    input fails in milliseconds.

    Parameters
    ----------
    model, L, params, bc, observables, sector, nev, reference
        As for :func:`edkit.workflows.sweep.run_sweep`.

    Returns
    -------
    Sweep
        The point tasks in grid order (sizes outermost, observables innermost).

    Raises
    ------
    GridError, ParameterError, SectorError, LatticeError, UnknownModelError
        With a message naming the bad piece.
    """
    from edkit.engine.planning import check_fits
    from edkit.models import build_model
    from edkit.observables import get as get_observable

    sizes = parse_sizes(L)
    grid = parse_grid(params)
    obs = _observables(observables)
    if isinstance(nev, bool) or not isinstance(nev, int) or nev < 1:
        raise GridError(f"nev must be a positive integer, got {nev!r}")
    n_points = len(sizes) * len(obs) * math.prod(len(v) for v in grid.values())
    if n_points > MAX_POINTS:
        raise GridError(f"the grid has {n_points:,} points; one sweep holds at most {MAX_POINTS:,}")
    tasks: list[dict] = []
    names = list(grid)
    for size in sizes:
        m = build_model(model, size, bc)
        if "correlations" in obs:
            if not m.spinful:
                raise GridError(f"model {model!r} is spinless: correlations need spin")
            if isinstance(reference, bool) or not isinstance(reference, int) or not 0 <= reference < size:
                raise GridError(f"reference site must be in 0..{size - 1} for L={size}, got {reference!r}")
        for o in obs:  # a family observable on a model that does not offer it: refused now
            why = get_observable(o).applies(m)
            if why is not None:
                raise GridError(f"observable {o!r} does not apply to {model} (L={size}): {why}")
        sec = m.resolve_sector(sector)
        N, Sz, extra = split_sector(sec)
        check_fits(m, m.sector(N, Sz if m.spinful else None, **extra))  # refuse an empty/huge sector now
        for combo in itertools.product(*(grid[n] for n in names)):
            values = dict(zip(names, combo))
            resolved = m.resolve(values)
            for o in obs:
                options: dict[str, object] = {}
                if o == "spectrum":
                    options["nev"] = nev
                if o == "correlations":
                    options["reference"] = reference
                task = {"model": model, "L": size, "bc": bc, "params": resolved, "sector": sec,
                        "observable": o, "options": options, "swept": values}
                task["key"] = point_key(task)
                tasks.append(task)
    keys = [t["key"] for t in tasks]
    if len(set(keys)) != len(keys):  # e.g. a swept value equal to another's default: cannot happen
        raise GridError("the grid contains the same point twice")
    return Sweep(model, bc, tasks, {"L": sizes, **grid})


__all__ = ["MAX_POINTS", "Sweep", "plan_sweep"]
