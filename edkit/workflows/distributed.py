"""Sweeps on a Dask cluster: workers compute points, the client process alone writes results.

Use :func:`run_on_dask` (or ``edkit sweep ... --scheduler ADDRESS`` / ``--local-cluster``).
Each point is one Dask task running :func:`edkit.workflows.points.compute_point`; as tasks finish,
the client (the process that called the sweep) commits their records to the results store, so
the store has exactly one writer per run whatever the number of workers. With a results store
shared by other runs, points are claimed in the store (:mod:`edkit.workflows.claims`) and only
as many are submitted as the cluster has threads.

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

import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

from edkit.workflows.dispatch import Feed, ListFeed, drive
from edkit.workflows.points import compute_point
from edkit.workflows.pool import THREAD_VARIABLES, usable_cores

REFRESH = 5.0


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


class DaskRunner:
    """A ``distributed.Client`` as a runner for :func:`edkit.workflows.dispatch.drive`."""

    broken = False

    def __init__(self, client, fn: Callable[[dict], dict], retries: int) -> None:
        self.distributed = _import_distributed()
        self.client, self.fn, self.retries = client, fn, retries
        self.batch = uuid.uuid4().hex[:8]
        self._threads, self._counted = 1, -float("inf")

    def capacity(self, shared: bool) -> int:
        """Tasks in flight: the cluster's threads for a shared feed (claims), twice that otherwise
        (workers that join later are counted within :data:`REFRESH` seconds)."""
        now = time.monotonic()
        if now - self._counted > REFRESH:
            self._threads = max(1, sum(self.client.nthreads().values()))
            self._counted = now
        return self._threads if shared else 2 * self._threads

    def submit(self, task: dict):
        """One Dask task per point (``retries`` for a point that raises)."""
        return self.client.submit(self.fn, task, key=f"edkit-{task['key']}-{self.batch}",
                                  retries=self.retries, pure=False)

    def wait(self, futures: list, timeout: float) -> set:
        """The futures finished within ``timeout`` seconds."""
        try:
            done, _ = self.distributed.wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
        except (TimeoutError, FuturesTimeout):
            return set()
        return set(done)

    def outcome(self, fut) -> dict:
        """The record, or the point's exception after its retries."""
        try:
            if fut.status != "finished":
                raise fut.exception()
            record: dict[str, Any] = fut.result()
        finally:
            fut.release()
        return record

    def restart(self) -> None:
        """Dask replaces dead workers itself."""


def execute_on_client(client, tasks: Sequence[dict] | Feed, on_record: Callable[[dict], None], *,
                      retries: int = 2, fn: Callable[[dict], dict] = compute_point,
                      on_failure: Callable[[dict, str], None] | None = None,
                      notify: Callable[[str], None] | None = None) -> None:
    """Submit one task per point to ``client``; call ``on_record`` here as each one finishes.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    tasks
        Point tasks (see :func:`edkit.workflows.plan.plan_sweep`), or a feed
        (:mod:`edkit.workflows.dispatch`; the claims feed of a shared store).
    on_record
        Called in this process, once per finished point (the single writer).
    retries
        Retries of a point that raises.
    fn
        The function computed per point (default :func:`edkit.workflows.points.compute_point`).
    on_failure
        Called with ``(task, message)`` for a point that failed for good; ``None`` re-raises.
    notify
        Called with the reason while waiting for points another run holds.
    """
    feed = ListFeed(tasks) if not hasattr(tasks, "take") else tasks
    if feed.exhausted():
        return
    drive(feed, DaskRunner(client, fn, retries), on_record, on_failure=on_failure, retries=0,
          notify=notify)


def run_on_dask(tasks: Sequence[dict] | Feed, on_record: Callable[[dict], None], *,
                scheduler: str | None = None, client=None, n_workers: int = 2, threads: int | None = None,
                retries: int = 2, fn: Callable[[dict], dict] = compute_point,
                on_failure: Callable[[dict, str], None] | None = None,
                notify: Callable[[str], None] | None = None, connect_timeout: float = 20.0) -> None:
    """Run points on the scheduler at ``scheduler``, on ``client``, or on a new local cluster.

    A local cluster created here is closed at the end; a given ``client`` is left open.

    Raises
    ------
    ConnectionError
        If the scheduler cannot be reached within ``connect_timeout`` seconds.
    """
    distributed = _import_distributed()
    feed = ListFeed(tasks) if not hasattr(tasks, "take") else tasks
    run = dict(retries=retries, fn=fn, on_failure=on_failure, notify=notify)
    if client is not None:
        execute_on_client(client, feed, on_record, **run)
        return
    if feed.exhausted():
        return
    if scheduler:
        try:
            c = distributed.Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError) as err:
            raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler!r}: {err}") from None
        with c:
            execute_on_client(c, feed, on_record, **run)
        return
    with local_cluster(n_workers, threads) as cluster, distributed.Client(cluster) as c:
        execute_on_client(c, feed, on_record, **run)


__all__ = ["DaskRunner", "execute_on_client", "local_cluster", "run_on_dask"]
