"""Sweeps on a Dask cluster: workers compute points, the client process alone writes results.

Use :func:`run_on_dask` (or ``edkit sweep ... --scheduler ADDRESS`` / ``--local-cluster``).
Each point is one Dask task running :func:`edkit.workflows.sweep.compute_point`; as tasks finish, the
client (the process that called the sweep) commits their records to the results store, so the
store has exactly one writer whatever the number of workers.

Faults
------
- A point that raises is retried ``retries`` times (Dask ``retries=``), then reported as a
  failure (not stored; a later re-run retries it).
- A worker process that dies (killed, out of memory) is restarted by its nanny and the
  scheduler reschedules its points on the surviving workers; a point that kills
  ``distributed.scheduler.allowed-failures`` + 1 workers (default 4) is reported as a failure.

Workers need edkit importable (the same version as the client: the store refuses to mix
versions only at the client, so keep the environments equal).

Requires the ``sweep`` extra (``dask[distributed]``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from edkit.workflows.sweep import THREAD_VARIABLES, compute_point, usable_cores


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError("distributed sweeps need dask: pip install 'edkit[sweep]'") from None
    return distributed


def local_cluster(n_workers: int = 2, threads: int | None = None, host: str = "127.0.0.1"):
    """A ``LocalCluster`` of ``n_workers`` single-threaded worker processes on loopback.

    Each worker gets ``threads`` BLAS/OpenMP threads (default ``cores // n_workers``), set
    before the worker process starts; no dashboard.
    """
    import dask

    distributed = _import_distributed()
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
    per = threads or max(1, usable_cores() // n_workers)
    env = {var: str(per) for var in THREAD_VARIABLES}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                        host=host, dashboard_address=None)


def execute_on_client(client, tasks: Sequence[dict], on_record: Callable[[dict], None], *,
                      retries: int = 2, fn: Callable[[dict], dict] = compute_point,
                      on_failure: Callable[[dict, str], None] | None = None) -> None:
    """Submit one task per point to ``client``; call ``on_record`` here as each one finishes.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    tasks
        Point tasks (see :func:`edkit.workflows.sweep.plan_sweep`).
    on_record
        Called in this process, once per finished point (the single writer).
    retries
        Retries of a point that raises.
    fn
        The function computed per point (default :func:`edkit.workflows.sweep.compute_point`).
    on_failure
        Called with ``(task, message)`` for a point that failed for good; ``None`` re-raises.
    """
    distributed = _import_distributed()
    if not tasks:
        return
    batch = uuid.uuid4().hex[:8]
    futures = {}
    for task in tasks:
        fut = client.submit(fn, task, key=f"edkit-{task['key']}-{batch}", retries=retries,
                            pure=False)
        futures[fut] = task
    seen: set[str] = set()
    for fut in distributed.as_completed(list(futures)):
        task = futures[fut]
        if fut.status != "finished":
            err = fut.exception()
            fut.release()
            if on_failure is None:
                raise err
            on_failure(task, f"{type(err).__name__}: {err}")
            continue
        record: dict[str, Any] = fut.result()
        fut.release()
        if record["key"] in seen:  # cannot happen with unique keys; guard the single writer
            continue
        seen.add(record["key"])
        on_record(record)


def run_on_dask(tasks: Sequence[dict], on_record: Callable[[dict], None], *, scheduler: str | None = None,
                client=None, n_workers: int = 2, threads: int | None = None, retries: int = 2,
                fn: Callable[[dict], dict] = compute_point,
                on_failure: Callable[[dict, str], None] | None = None,
                connect_timeout: float = 20.0) -> None:
    """Run points on the scheduler at ``scheduler``, on ``client``, or on a new local cluster.

    A local cluster created here is closed at the end; a given ``client`` is left open.

    Raises
    ------
    ConnectionError
        If the scheduler cannot be reached within ``connect_timeout`` seconds.
    """
    distributed = _import_distributed()
    if client is not None:
        execute_on_client(client, tasks, on_record, retries=retries, fn=fn, on_failure=on_failure)
        return
    if not tasks:
        return
    if scheduler:
        try:
            c = distributed.Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError) as err:
            raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler!r}: {err}") from None
        with c:
            execute_on_client(c, tasks, on_record, retries=retries, fn=fn, on_failure=on_failure)
        return
    with local_cluster(n_workers, threads) as cluster, distributed.Client(cluster) as c:
        execute_on_client(c, tasks, on_record, retries=retries, fn=fn, on_failure=on_failure)


__all__ = ["execute_on_client", "local_cluster", "run_on_dask"]
