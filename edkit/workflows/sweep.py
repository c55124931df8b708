"""Parameter sweeps: a grid of points, computed in parallel, each committed as it finishes.

A sweep is the Cartesian product of parameter values (and of sizes ``L``) for one model, one
sector rule and one or more observables. Every finished point is committed atomically to a
results store (:mod:`edkit.workflows.store`, one SQLite file), so a sweep that dies keeps every point it
finished and a re-run computes only the points that are missing.

Grid syntax (command line ``--param NAME=SPEC`` and the Python API)
---------------------------------------------------------------------
- ``start:stop:count``: ``count`` values from ``start`` to ``stop`` **inclusive**, equally
  spaced (``0.1:1.0:10`` is 0.1, 0.2, ..., 1.0). ``count`` is a positive integer; ``start``
  must be below ``stop`` (a reversed range is refused); ``count = 1`` needs ``start == stop``.
  The values are computed in exact rational arithmetic and rounded once, so ``0.1:1.0:10``
  gives the floats nearest to 0.1, 0.2, ... (not ``0.30000000000000004``).
- ``a,b,c``: a list of values (no duplicates).
- ``a``: a single value.
Values are numbers only (``4``, ``-0.5``, ``1e-3``, ``1/3``); nothing is evaluated.

Observables
-----------
- ``energy``: ground-state energy of the sector.
- ``spectrum``: the lowest ``nev`` levels ``E0, E1, ...`` and the sector dimension.
- ``gaps``: ``energy``, ``charge_gap``, ``spin_gap``, ``pair_binding``, ``neutral_gap``
  (definitions in :mod:`edkit.api`).
- ``correlations``: ground-state correlators from site ``reference`` as columns
  ``KEY:layer:reference:j`` (``KEY`` in ``C, N, S, SzSz, SxSx, SySy``), plus ``energy`` and
  ``ground_state_degeneracy``. The same column names are read by ``edkit compare``.

Parallelism
-----------
By default points run in worker processes (``spawn``), as many as usable cores but no more
than pending points, and each worker gets ``cores // workers`` BLAS/OpenMP threads (the
``OMP_NUM_THREADS``-style variables are set before NumPy loads), so the machine is not
oversubscribed. ``workers=1`` computes in the calling process. Results are written by the
calling process only (one writer). For Dask clusters see :mod:`edkit.workflows.distributed`.

This module imports no NumPy/QuSpin at import time (workers must set thread variables first).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

from edkit.core.errors import EdkitError

OBSERVABLES = ("energy", "spectrum", "gaps", "correlations")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")
CORRELATOR_KEYS = ("C", "N", "S", "SzSz", "SxSx", "SySy")

_COUNT = re.compile(r"^\+?\d+$")
MAX_POINTS = 1_000_000


class GridError(EdkitError, ValueError):
    """A malformed value, range or grid."""


# ---------------------------------------------------------------------------------- grid
def _exact(text: str, where: str) -> Fraction:
    """A user number as an exact fraction, after the same strict check as every parameter."""
    from edkit.core.params import ParameterError, parse_number

    try:
        parse_number(text)  # the one gate for user numbers: refuses anything but a number
    except ParameterError as err:
        raise GridError(f"{where}: {err}") from None
    s = text.strip()
    if "/" in s:
        num, den = s.split("/")
        return Fraction(num.strip()) / Fraction(den.strip())
    return Fraction(s)


def parse_values(spec: str | int | float | Sequence[int | float], name: str = "value") -> list[float]:
    """Values of one grid axis from ``start:stop:count``, ``a,b,c`` or a single value.

    Parameters
    ----------
    spec
        The text (see the module docs), a number, or a sequence of numbers.
    name
        Used in error messages.

    Returns
    -------
    list of float
        In ascending order for a range; as given for a list.

    Raises
    ------
    GridError
        Non-numeric text, a count that is not a positive integer, a reversed or empty range,
        ``count = 1`` with ``start != stop``, or duplicate values.
    """
    if isinstance(spec, bool):
        raise GridError(f"{name}: {spec!r} is not a number")
    if isinstance(spec, (int, float)):
        values = [float(spec)]
    elif isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise GridError(f"{name}: empty value")
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise GridError(f"{name}: a range is start:stop:count, got {spec!r}")
            start, stop = (_exact(p, f"{name} range {spec!r}") for p in parts[:2])
            count_text = parts[2].strip()
            if not _COUNT.match(count_text) or int(count_text) < 1:
                raise GridError(f"{name}: the count of {spec!r} must be a positive integer "
                                f"(number of points, start and stop included), got {count_text!r}")
            count = int(count_text)
            if count > 1_000_000:
                raise GridError(f"{name}: {count} points in one axis is more than a sweep should hold")
            if start > stop:
                raise GridError(f"{name}: range {spec!r} is reversed (start > stop); "
                                "write it ascending")
            if count == 1 and start != stop:
                raise GridError(f"{name}: range {spec!r} has one point but start != stop; "
                                "give count >= 2 or a single value")
            if count > 1 and start == stop:
                raise GridError(f"{name}: range {spec!r} repeats one value {count} times")
            if count == 1:
                return [float(start)]
            step = (stop - start) / (count - 1)
            return [float(start + k * step) for k in range(count)]
        values = [float(_exact(p, f"{name} list {spec!r}")) for p in text.split(",")]
    else:
        values = []
        for v in spec:
            if isinstance(v, bool):
                raise GridError(f"{name}: {v!r} is not a number")
            try:
                values.append(float(v))
            except (TypeError, ValueError):
                raise GridError(f"{name}: {v!r} is not a number") from None
    if not values:
        raise GridError(f"{name}: no values")
    if any(not math.isfinite(v) for v in values):
        raise GridError(f"{name}: values must be finite, got {values}")
    if len(set(values)) != len(values):
        raise GridError(f"{name}: duplicate values in {spec!r}")
    return values


def parse_sizes(spec: str | int | Sequence[int]) -> list[int]:
    """Sizes ``L`` from ``4``, ``2,3,4`` or ``2:8:4``; every value a positive integer."""
    values = parse_values(spec if not isinstance(spec, int) or isinstance(spec, bool) else [spec], "L")
    if any(v != int(v) or v < 1 for v in values):
        raise GridError(f"L: sizes must be positive integers, got {spec!r}")
    return [int(v) for v in values]


def parse_grid(items: Mapping[str, object] | Iterable[str] | None) -> dict[str, list[float]]:
    """A grid ``{name: values}`` from ``NAME=SPEC`` strings or a mapping ``{name: spec}``.

    Raises
    ------
    GridError
        Malformed items, a name given twice, or a malformed axis (see :func:`parse_values`).
    """
    grid: dict[str, list[float]] = {}
    if items is None:
        return grid
    if isinstance(items, Mapping):
        pairs = [(str(k), v) for k, v in items.items()]
    else:
        pairs = []
        for item in items:
            name, sep, value = str(item).partition("=")
            if not sep or not name.strip() or not value.strip():
                raise GridError(f"--param expects NAME=SPEC (start:stop:count, a,b,c or a value), "
                                f"got {item!r}")
            pairs.append((name.strip(), value.strip()))
    for name, spec in pairs:
        if name in grid:
            raise GridError(f"parameter {name} is given twice")
        grid[name] = parse_values(spec, name)  # type: ignore[arg-type]
    return grid


# ------------------------------------------------------------------------------- points
def canonical_json(obj: object) -> str:
    """Deterministic JSON (sorted keys, exact float repr) used for keys and storage."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def point_key(task: Mapping[str, object]) -> str:
    """Identity of a point: hash of model, L, bc, all parameters, sector, observable, options."""
    ident = {k: task[k] for k in ("model", "L", "bc", "params", "sector", "observable", "options")}
    return "p" + hashlib.sha256(canonical_json(ident).encode()).hexdigest()[:32]


def default_sector(model) -> dict[str, float]:
    """The model's default sector (half filling at the lowest ``|Sz|`` unless the model says)."""
    return model.resolve_sector()


def _sector_values(model, sector: Mapping[str, object] | None) -> dict[str, float]:
    return model.resolve_sector(sector)


def _split_sector(sector: Mapping[str, float]) -> tuple[int, float | None, dict[str, float]]:
    extra = {k: v for k, v in sector.items() if k not in ("N", "Sz")}
    return int(sector["N"]), sector.get("Sz"), extra


@dataclass
class Sweep:
    """A validated sweep: the list of point tasks, in grid order.

    Attributes
    ----------
    model
        Model name.
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


def plan_sweep(model: str, L: str | int | Sequence[int], params: Mapping[str, object] | Iterable[str] | None
               = None, *, bc: str = "open", observables: str | Sequence[str] = "gaps",
               sector: Mapping[str, object] | None = None, nev: int = 4, reference: int = 0) -> Sweep:
    """Validate a sweep and list its points; nothing is diagonalized.

    Every point is checked (parameter names and values, sector) before anything runs, so bad
    input fails in milliseconds.

    Raises
    ------
    GridError, ParameterError, SectorError, LatticeError, UnknownModelError
        With a message naming the bad piece.
    """
    from edkit.engine.planning import check_fits
    from edkit.models import build_model

    sizes = parse_sizes(L)
    grid = parse_grid(params)
    obs = [observables] if isinstance(observables, str) else list(observables)
    obs = [o.strip() for item in obs for o in item.split(",") if o.strip()]
    if not obs:
        raise GridError("no observable given")
    bad = [o for o in obs if o not in OBSERVABLES]
    if bad:
        raise GridError(f"unknown observable(s) {bad}; choose from {list(OBSERVABLES)}")
    if len(set(obs)) != len(obs):
        raise GridError(f"observable given twice: {obs}")
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
        sec = _sector_values(m, sector)
        N, Sz, extra = _split_sector(sec)
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


# ------------------------------------------------------------------------- computation
def set_thread_limits(threads: int) -> None:
    """Set the BLAS/OpenMP thread variables (effective only before NumPy is imported)."""
    for var in THREAD_VARIABLES:
        os.environ[var] = str(int(threads))


def _init_worker(threads: int) -> None:
    set_thread_limits(threads)


@lru_cache(maxsize=32)
def _cached_model(name: str, L: int, bc: str):
    from edkit.models import build_model

    return build_model(name, L, bc)


def evaluate(task: Mapping[str, Any]) -> dict[str, Any]:
    """The observable of one point as a flat dict of numbers (``None`` where undefined)."""
    from edkit import api

    m = _cached_model(task["model"], int(task["L"]), task["bc"])
    N, Sz, extra = _split_sector(task["sector"])
    Sz = Sz if m.spinful else None
    values = task["params"]
    obs = task["observable"]
    if obs == "energy":
        eig, _ = api.solve_sector(m, values, N, Sz, 1, extra=extra)
        return {"energy": float(eig.energies[0])}
    if obs == "spectrum":
        data = api.spectrum(m, values, N=N, Sz=Sz, nev=int(task["options"]["nev"]), extra=extra,
                            labels=False)  # energies only: no block labels per point
        out: dict[str, Any] = {f"E{k}": e for k, e in enumerate(data["energies"])}
        out["dimension"] = int(data["dimension"])
        return out
    if obs == "gaps":
        data = api.gaps(m, values, N=N, Sz=Sz, extra=extra)
        return {k: data[k] for k in ("energy", "charge_gap", "spin_gap", "pair_binding", "neutral_gap")}
    if obs == "correlations":
        ref = int(task["options"]["reference"])
        data = api.correlations(m, values, N=N, Sz=Sz, reference=ref, extra=extra)
        out = {"energy": data["energy"], "ground_state_degeneracy": data["ground_state_degeneracy"]}
        for layer, rows in data["layers"].items():
            for key in CORRELATOR_KEYS:
                for j, v in enumerate(rows[key]):
                    out[f"{key}:{layer}:{ref}:{j}"] = v
        return out
    raise GridError(f"unknown observable {obs!r}")


def compute_point(task: Mapping[str, Any]) -> dict[str, Any]:
    """Compute one point; returns the record the store commits (result, timings, worker).

    Picklable and import-light, so it runs in a process pool or on a Dask worker.
    """
    from edkit import __version__, api  # noqa: F401 - import cost is not the point's time

    started = time.time()
    t0 = time.perf_counter()
    result = evaluate(task)
    seconds = time.perf_counter() - t0
    record = {k: task[k] for k in ("key", "model", "L", "bc", "params", "sector", "observable",
                                   "options", "swept")}
    record.update({
        "result": result, "edkit_version": __version__, "seconds": seconds, "started": started,
        "finished": time.time(), "worker": f"{socket.gethostname()}:{os.getpid()}",
        "threads": os.environ.get("OMP_NUM_THREADS"),
    })
    return record


# ------------------------------------------------------------------------------ results
def tidy_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """One flat row: ``model, L, bc``, every parameter, sector, ``observable``, values, metadata.

    A value whose name collides with a parameter or sector name is prefixed with ``value.``.
    """
    row: dict[str, Any] = {"model": record["model"], "L": int(record["L"]), "bc": record["bc"]}
    row.update(record["params"])
    for k, v in record["sector"].items():
        row[k if k not in row else f"sector.{k}"] = v
    row["observable"] = record["observable"]
    for k, v in record["result"].items():
        row[k if k not in row else f"value.{k}"] = v
    threads = record.get("threads")
    row.update({"edkit_version": record["edkit_version"], "seconds": record["seconds"],
                "finished": record["finished"], "worker": record.get("worker"),
                "threads": int(threads) if threads not in (None, "") else None, "key": record["key"]})
    return row


@dataclass
class SweepResult:
    """Outcome of a sweep.

    Attributes
    ----------
    records
        The stored record of every grid point that is finished, in grid order.
    computed, skipped
        How many points this run computed, and how many were already in the store.
    failures
        ``[(task, message)]`` for points that raised (not stored; a re-run retries them).
    """

    records: list[dict]
    computed: int = 0
    skipped: int = 0
    failures: list[tuple[dict, str]] = field(default_factory=list)

    @property
    def rows(self) -> list[dict]:
        """The tidy table: one flat dict per point (see :func:`tidy_row`)."""
        return [tidy_row(r) for r in self.records]

    def to_dataframe(self):
        """The tidy table as a ``pandas.DataFrame`` (``pandas`` must be installed)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - exercised only without pandas
            raise ImportError("to_dataframe needs pandas: pip install pandas") from None
        return pd.DataFrame(self.rows)


def usable_cores() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _progress(total: int, skipped: int, enabled: bool, desc: str):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the sweep extra
        return None
    bar = tqdm(total=total, desc=desc, unit="pt", dynamic_ncols=True)
    if skipped:
        bar.set_postfix_str(f"{skipped} already stored")
    return bar


def execute_local(tasks: Sequence[dict], on_record: Callable[[dict], None], *, workers: int | None = None,
                  threads: int | None = None, fn: Callable[[dict], dict] = compute_point,
                  on_failure: Callable[[dict, str], None] | None = None, retries: int = 2) -> None:
    """Run ``fn`` over ``tasks``; ``on_record`` is called in this process as each finishes.

    ``workers=1`` runs in this process; otherwise a ``spawn`` process pool whose workers get
    ``threads`` BLAS threads each (default ``cores // workers``). If a worker process dies
    (killed, out of memory), the pool is lost: the points it had not finished are run again in
    a fresh pool, at most ``retries`` times, then reported to ``on_failure``. A point that
    raises is reported at once (its error is deterministic).
    """
    if not tasks:
        return
    n_workers = min(len(tasks), workers or usable_cores())
    if n_workers <= 1:
        for task in tasks:
            try:
                record = fn(task)
            except Exception as err:  # reported per point; the sweep goes on
                if on_failure is None:
                    raise
                on_failure(task, f"{type(err).__name__}: {err}")
                continue
            on_record(record)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    per = threads or max(1, usable_cores() // n_workers)
    ctx = multiprocessing.get_context("spawn")
    pending = list(tasks)
    for _attempt in range(retries + 1):
        lost: list[dict] = []
        with ProcessPoolExecutor(max_workers=min(n_workers, len(pending)), mp_context=ctx,
                                 initializer=_init_worker, initargs=(per,)) as pool:
            futures = {pool.submit(fn, task): task for task in pending}
            try:
                for fut in as_completed(futures):
                    try:
                        record = fut.result()
                    except BrokenProcessPool:
                        lost.append(futures[fut])
                        continue
                    except Exception as err:
                        if on_failure is None:
                            raise
                        on_failure(futures[fut], f"{type(err).__name__}: {err}")
                        continue
                    on_record(record)
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
        if not lost:
            return
        pending = lost
    message = f"BrokenProcessPool: a worker process died on each of {retries + 1} attempts"
    for task in pending:
        if on_failure is None:
            raise BrokenProcessPool(message)
        on_failure(task, message)


def run_sweep(model: str, L: str | int | Sequence[int], params: Mapping[str, object] | Iterable[str] | None
              = None, *, bc: str = "open", observables: str | Sequence[str] = "gaps",
              sector: Mapping[str, object] | None = None, nev: int = 4, reference: int = 0,
              out: str | os.PathLike | None = None, migrate: bool = False, workers: int | None = None,
              threads: int | None = None, scheduler: str | None = None, local_cluster: bool = False,
              cluster_workers: int = 2, retries: int = 2, progress: bool = True) -> SweepResult:
    """Run a parameter sweep and return its tidy table.

    Parameters
    ----------
    model
        Model name (see ``edkit models``).
    L
        Size(s): ``4``, ``"2,3,4"``, ``"2:8:4"`` or a list.
    params
        Grid ``{name: spec}`` or ``["name=spec", ...]`` (see the module docs); parameters not
        in the grid keep their defaults.
    bc
        ``"open"`` or ``"periodic"``.
    observables
        One or more of ``energy, spectrum, gaps, correlations``.
    sector
        Fixed sector values (``{"N": 6, "Sz": 0}``); default half filling at each ``L``.
    nev, reference
        Levels for ``spectrum``; reference site for ``correlations``.
    out
        Results store (SQLite file). Finished points there are skipped; every new point is
        committed as soon as it finishes. ``None`` keeps results in memory only.
    migrate
        Adopt a store written by another edkit version (see :class:`edkit.workflows.store.ResultStore`).
    workers, threads
        Local worker processes (default: usable cores, capped by the pending points; ``1`` runs
        in this process) and BLAS threads per worker (default ``cores // workers``).
    scheduler, local_cluster, cluster_workers
        Run on the Dask scheduler at ``scheduler``, or on a new ``LocalCluster`` of
        ``cluster_workers`` processes (a dead worker's points are rescheduled by Dask).
    retries
        On Dask, retries of a point that raises; locally, how many fresh process pools re-run
        the points lost when a worker process dies.
    progress
        Show a tqdm progress bar with ETA.

    Returns
    -------
    SweepResult
        ``.rows`` (list of dicts), ``.to_dataframe()``, counts and failures.

    Raises
    ------
    GridError, ParameterError, SectorError, LatticeError, UnknownModelError, StoreError
        Before any point is computed.
    """
    from edkit import __version__

    if scheduler and local_cluster:
        raise GridError("give either a scheduler address or local_cluster, not both")
    for name, value, low in (("workers", workers, 1), ("threads", threads, 1),
                             ("cluster_workers", cluster_workers, 1), ("retries", retries, 0)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise GridError(f"{name} must be an integer >= {low}, got {value!r}")
    sweep = plan_sweep(model, L, params, bc=bc, observables=observables, sector=sector, nev=nev,
                       reference=reference)
    store = None
    done: dict[str, dict] = {}
    if out is not None:
        from edkit.workflows.store import ResultStore

        store = ResultStore(out, model=model, version=__version__, migrate=migrate)
        wanted = {t["key"] for t in sweep.tasks}
        done = {k: r for k, r in store.records_by_key().items() if k in wanted}
    pending = [t for t in sweep.tasks if t["key"] not in done]
    fresh: dict[str, dict] = {}
    failures: list[tuple[dict, str]] = []
    bar = _progress(len(pending), len(done), progress and bool(pending), f"{model} sweep")

    def on_record(record: dict) -> None:
        if store is not None:
            store.commit(record)
        fresh[record["key"]] = record
        if bar is not None:
            bar.update(1)

    def on_failure(task: dict, message: str) -> None:
        failures.append((task, message))
        if bar is not None:
            bar.update(1)

    try:
        if scheduler or local_cluster:
            from edkit.workflows.distributed import run_on_dask

            run_on_dask(pending, on_record, scheduler=scheduler, n_workers=cluster_workers,
                        threads=threads, retries=retries, on_failure=on_failure)
        else:
            execute_local(pending, on_record, workers=workers, threads=threads, on_failure=on_failure,
                          retries=retries)
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            store.close()
    records = [done.get(t["key"]) or fresh.get(t["key"]) for t in sweep.tasks]
    return SweepResult([r for r in records if r is not None], computed=len(fresh), skipped=len(done),
                       failures=failures)


__all__ = ["OBSERVABLES", "GridError", "Sweep", "SweepResult", "compute_point", "default_sector",
           "evaluate", "execute_local", "parse_grid", "parse_sizes", "parse_values", "plan_sweep",
           "point_key", "run_sweep", "tidy_row"]
