"""One point of a sweep: compute its observable, and the record and tidy row it becomes.

A *task* is the dict :func:`edkit.workflows.plan.plan_sweep` lists per point (``key, model, L,
bc, params, sector, observable, options, swept``). :func:`compute_point` turns a task into a
*record* (the task's fields plus ``result``, timings and the worker that computed it), which
the results store commits; :func:`tidy_row` flattens a record into one table row.

Observables
-----------
Any name of the observable registry (:mod:`edkit.observables`; ``edkit observables`` lists them,
model families' included). The built-in ones:

- ``energy``: ground-state energy of the sector.
- ``spectrum``: the lowest ``nev`` levels ``E0, E1, ...`` and the sector dimension.
- ``gaps``: ``energy``, ``charge_gap``, ``spin_gap``, ``pair_binding``, ``neutral_gap``
  (definitions in :mod:`edkit.observables.gaps`).
- ``correlations``: ground-state correlators from site ``reference`` as columns
  ``KEY:layer:reference:j`` (``KEY`` in ``C, N, S, SzSz, SxSx, SySy``), plus ``energy`` and
  ``ground_state_degeneracy``. The same column names are read by ``edkit compare``.

Picklable and import-light (NumPy and QuSpin load on the first computed point), so worker
processes can set their thread variables first. Imports only :mod:`edkit.observables` (which
loads neither NumPy nor QuSpin at import).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from edkit.observables import NAMES
from edkit.observables.correlations import CORRELATOR_KEYS

#: Every registered observable name (a live view of :data:`edkit.observables.REGISTRY`).
OBSERVABLES = NAMES


def split_sector(sector: Mapping[str, float]) -> tuple[int, float | None, dict[str, float]]:
    """A resolved sector mapping as ``(N, Sz, other sector quantities)``."""
    extra = {k: v for k, v in sector.items() if k not in ("N", "Sz")}
    return int(sector["N"]), sector.get("Sz"), extra


@lru_cache(maxsize=32)
def _cached_model(name: str, L: int, bc: str):
    from edkit.models import build_model

    return build_model(name, L, bc)


def evaluate(task: Mapping[str, Any]) -> dict[str, Any]:
    """The observable of one point as a flat dict of numbers (``None`` where undefined).

    Computed by the observable registry (:func:`edkit.observables.evaluate`), so every registered
    observable, a model family's included, can be swept.
    """
    from edkit.observables import evaluate as evaluate_observable

    m = _cached_model(task["model"], int(task["L"]), task["bc"])
    return evaluate_observable(task["observable"], m, task["params"], task["sector"], task["options"])


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


__all__ = ["CORRELATOR_KEYS", "OBSERVABLES", "compute_point", "evaluate", "split_sector", "tidy_row"]
