"""Parameter sweeps: a grid of points, computed in parallel, each committed as it finishes.

A sweep is the Cartesian product of parameter values (and of sizes ``L``) for one model, one
sector rule and one or more observables. Every finished point is committed atomically to a
results store (:mod:`edkit.workflows.store`, one SQLite file), so a sweep that dies keeps every
point it finished and a re-run computes only the points that are missing. Runs that share a
store split its points (:mod:`edkit.workflows.claims`): none is computed twice.

:func:`run_sweep` puts the pieces together; each lives in its own module, and each module
imports only those listed before it:

- :mod:`~edkit.workflows.grid`: the grid syntax (``start:stop:count``, ``a,b,c``, a value)
  and the key of a point;
- :mod:`~edkit.workflows.points`: computing one point (observables), its record and tidy row;
- :mod:`~edkit.workflows.plan`: validating a sweep and listing its points, before any work;
- :mod:`~edkit.workflows.dispatch`: handing points to an executor as its slots free up;
- :mod:`~edkit.workflows.pool`: the local process pool (threads per worker, workers that end
  with the sweep); :mod:`~edkit.workflows.distributed`: Dask;
- :mod:`~edkit.workflows.paths`, :mod:`~edkit.workflows.claims`, :mod:`~edkit.workflows.store`:
  output checks, claims of points, and the store.

Faults
------
- Every output (store, CSV, HDF5) is checked before any point is computed.
- Ctrl-C (SIGINT) or SIGTERM stops the workers and raises :class:`SweepInterrupted` (a
  ``KeyboardInterrupt``) saying how many points are saved; the same call resumes.
- SIGKILL of the calling process: its workers end within a second, the store keeps every
  committed point, and the next run takes over the points the killed run had claimed.

Parallelism
-----------
By default points run in worker processes (``spawn``), as many as usable cores but no more
than pending points, and each worker gets ``cores // workers`` BLAS/OpenMP threads, so the
machine is not oversubscribed. ``workers=1`` computes in the calling process. Results are
written by the calling process only (one writer per run).

This module imports no NumPy/QuSpin at import time (workers must set thread variables first).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edkit.workflows.dispatch import ListFeed
from edkit.workflows.grid import GridError, canonical_json, parse_grid, parse_sizes, parse_values, point_key
from edkit.workflows.paths import OutputError, check_outputs
from edkit.workflows.plan import MAX_POINTS, Sweep, plan_sweep
from edkit.workflows.points import CORRELATOR_KEYS, OBSERVABLES, compute_point, evaluate, tidy_row
from edkit.workflows.pool import THREAD_VARIABLES, execute_local, set_thread_limits, usable_cores


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C (SIGINT) or SIGTERM; every finished point is in the store.

    Attributes
    ----------
    signal
        ``signal.SIGINT`` or ``signal.SIGTERM`` (the command line exits with ``128 + signal``).
    saved, total
        Points of this sweep in the store, and in the sweep.
    computed
        Points this run computed.
    out
        The store, or ``None``.
    """

    def __init__(self, message: str, *, signum: int, saved: int, total: int, computed: int,
                 out: str | None) -> None:
        super().__init__(message)
        self.signal, self.saved, self.total, self.computed, self.out = signum, saved, total, computed, out

    def __str__(self) -> str:
        return str(self.args[0])


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that the same clean-up runs."""


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While the sweep computes, SIGTERM raises :class:`_Terminated` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated()

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


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
    elsewhere
        Points computed meanwhile by another run sharing the store.
    """

    records: list[dict]
    computed: int = 0
    skipped: int = 0
    failures: list[tuple[dict, str]] = field(default_factory=list)
    elsewhere: int = 0

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


def _check_options(scheduler: str | None, local_cluster: bool, **counts: int | None) -> None:
    if scheduler and local_cluster:
        raise GridError("give either a scheduler address or local_cluster, not both")
    low = {"retries": 0}
    for name, value in counts.items():
        least = low.get(name, 1)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise GridError(f"{name} must be an integer >= {least}, got {value!r}")


def _interrupted(signum: int, out: Any, saved: int, total: int, computed: int) -> SweepInterrupted:
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    if out is not None:
        rest = total - saved
        text = (f"interrupted ({name}): {saved} of {total} point(s) of this sweep are saved in {out}; "
                f"run the same command again to compute the other {rest}" if rest else
                f"interrupted ({name}): all {total} point(s) of this sweep are saved in {out}")
    else:
        text = (f"interrupted ({name}): {computed} point(s) were computed but not saved (no results "
                "store); give --out FILE (out=...) to keep finished points and resume")
    return SweepInterrupted(text, signum=signum, saved=saved, total=total, computed=computed,
                            out=None if out is None else str(out))


def run_sweep(model: str, L: str | int | Sequence[int], params: Mapping[str, object] | Iterable[str] | None
              = None, *, bc: str = "open", observables: str | Sequence[str] = "gaps",
              sector: Mapping[str, object] | None = None, nev: int = 4, reference: int = 0,
              out: str | os.PathLike | None = None, migrate: bool = False, workers: int | None = None,
              threads: int | None = None, scheduler: str | None = None, local_cluster: bool = False,
              cluster_workers: int = 2, retries: int = 2, progress: bool = True,
              csv: str | os.PathLike | None = None, hdf5: str | os.PathLike | None = None) -> SweepResult:
    """Run a parameter sweep and return its tidy table.

    Parameters
    ----------
    model
        Model name (see ``edkit models``).
    L
        Size(s): ``4``, ``"2,3,4"``, ``"2:8:4"`` or a list.
    params
        Grid ``{name: spec}`` or ``["name=spec", ...]`` (see :mod:`edkit.workflows.grid`);
        parameters not in the grid keep their defaults.
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
        committed as soon as it finishes; other runs may share it (they split the points).
        ``None`` keeps results in memory only.
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
    csv, hdf5
        Also write this sweep's tidy table to these files at the end (HDF5 needs ``h5py``).

    Returns
    -------
    SweepResult
        ``.rows`` (list of dicts), ``.to_dataframe()``, counts and failures.

    Raises
    ------
    GridError, ParameterError, SectorError, LatticeError, UnknownModelError, StoreError, OutputError
        Before any point is computed (every output path is checked first).
    ImportError
        ``hdf5`` without ``h5py``; Dask options without ``distributed``.
    SweepInterrupted
        On Ctrl-C or SIGTERM, after the workers are stopped; it says how many points are saved.
    """
    from edkit import __version__

    _check_options(scheduler, local_cluster, workers=workers, threads=threads,
                   cluster_workers=cluster_workers, retries=retries)
    check_outputs([("a results store", out, False), ("the CSV file", csv, True),
                   ("the HDF5 file", hdf5, False)])
    if hdf5 is not None:
        try:
            import h5py  # noqa: F401
        except ImportError:
            raise ImportError("HDF5 export needs h5py: pip install 'edkit[sweep]'") from None
    sweep = plan_sweep(model, L, params, bc=bc, observables=observables, sector=sector, nev=nev,
                       reference=reference)
    wanted = [t["key"] for t in sweep.tasks]
    store = None
    done: dict[str, dict] = {}
    if out is not None:
        from edkit.workflows.store import ResultStore

        store = ResultStore(out, model=model, version=__version__, migrate=migrate)
        stored = store.records_by_key()
        done = {k: stored[k] for k in wanted if k in stored}
    try:
        return _run(sweep, store, done, out=out, workers=workers, threads=threads, scheduler=scheduler,
                    local_cluster=local_cluster, cluster_workers=cluster_workers, retries=retries,
                    progress=progress, csv=csv, hdf5=hdf5)
    finally:
        if store is not None:
            store.close()


def _run(sweep: Sweep, store: Any, done: dict[str, dict], *, out: Any, workers: int | None,
         threads: int | None, scheduler: str | None, local_cluster: bool, cluster_workers: int,
         retries: int, progress: bool, csv: Any, hdf5: Any) -> SweepResult:
    pending = [t for t in sweep.tasks if t["key"] not in done]
    if store is not None:
        from edkit.workflows.claims import ClaimFeed

        feed: Any = ClaimFeed(store, pending)
    else:
        feed = ListFeed(pending)
    fresh: dict[str, dict] = {}
    failures: list[tuple[dict, str]] = []
    bar = _progress(len(pending), len(done), progress and bool(pending), f"{sweep.model} sweep")

    def on_record(record: dict) -> None:
        if store is not None:
            store.commit(record, run=feed.run)
        fresh[record["key"]] = record
        if bar is not None:
            bar.update(1)

    def on_failure(task: dict, message: str) -> None:
        failures.append((task, message))
        if bar is not None:
            bar.update(1)

    def notify(message: str) -> None:
        if bar is not None:
            bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    signum = None
    try:
        with _terminate_as_interrupt():
            if scheduler or local_cluster:
                from edkit.workflows.distributed import run_on_dask

                run_on_dask(feed, on_record, scheduler=scheduler, n_workers=cluster_workers,
                            threads=threads, retries=retries, on_failure=on_failure, notify=notify)
            else:
                execute_local(feed, on_record, workers=workers, threads=threads, on_failure=on_failure,
                              retries=retries, notify=notify)
    except KeyboardInterrupt as err:
        signum = signal.SIGTERM if isinstance(err, _Terminated) else signal.SIGINT
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            feed.close()
    wanted = [t["key"] for t in sweep.tasks]
    if store is not None:
        stored = store.records_by_key()
        records = [stored.get(k) for k in wanted]
    else:
        records = [fresh.get(k) for k in wanted]
    if signum is not None:
        saved = sum(r is not None for r in records) if store is not None else 0
        raise _interrupted(signum, out, saved, len(wanted), len(fresh)) from None
    elsewhere = sum(1 for k, r in zip(wanted, records) if r is not None and k not in done and k not in fresh)
    result = SweepResult([r for r in records if r is not None], computed=len(fresh), skipped=len(done),
                         failures=failures, elsewhere=elsewhere)
    if csv is not None or hdf5 is not None:
        from edkit.workflows.store import write_csv, write_hdf5

        rows = result.rows
        if csv is not None:
            write_csv(rows, csv)
        if hdf5 is not None:
            write_hdf5(rows, hdf5, {"model": sweep.model})
    return result


__all__ = ["CORRELATOR_KEYS", "MAX_POINTS", "OBSERVABLES", "THREAD_VARIABLES", "GridError", "OutputError",
           "Sweep", "SweepInterrupted", "SweepResult", "canonical_json", "compute_point", "evaluate",
           "execute_local", "parse_grid", "parse_sizes", "parse_values", "plan_sweep", "point_key",
           "run_sweep", "set_thread_limits", "tidy_row", "usable_cores"]
