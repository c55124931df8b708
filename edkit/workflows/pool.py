"""Local execution of sweep points: a ``spawn`` process pool whose workers never outlive the sweep.

Workers
-------
- get ``threads`` BLAS/OpenMP threads each (:data:`THREAD_VARIABLES`, set before NumPy loads),
  so ``workers x threads`` does not oversubscribe the machine;
- ignore Ctrl-C (SIGINT is blocked while they start and ignored after): the calling process
  alone decides, and stops them, so an interrupt prints no worker traceback;
- end when the calling process dies, even by SIGKILL: on Linux the kernel sends them SIGKILL
  (``prctl(PR_SET_PDEATHSIG)``); elsewhere a watchdog thread in each worker sees the parent
  change and exits. Once the workers are gone, multiprocessing's resource tracker (which they
  hold open) ends too.

When a worker dies (killed, out of memory), the pool is lost: the points it had in flight are
run again in a fresh pool (:func:`edkit.workflows.dispatch.drive`). On an interrupt the pool is
stopped at once (its points in flight are lost; they were not stored).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from edkit.workflows.dispatch import Feed, InlineRunner, ListFeed, PointLost, drive
from edkit.workflows.points import compute_point

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")
_PR_SET_PDEATHSIG = 1
WATCHDOG_SECONDS = 0.5


def usable_cores() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def set_thread_limits(threads: int) -> None:
    """Set the BLAS/OpenMP thread variables (effective only before NumPy is imported)."""
    for var in THREAD_VARIABLES:
        os.environ[var] = str(int(threads))


def _watchdog(parent: int) -> None:
    while True:
        time.sleep(WATCHDOG_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def die_with_parent(parent: int) -> str:
    """Make this process end when ``parent`` (its parent process) ends; returns the mechanism.

    On Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``; elsewhere (or if that fails) a daemon
    thread that polls ``os.getppid()``. If the parent is already gone, exits at once.
    """
    how = "watchdog"
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                how = "pdeathsig"
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    if how == "watchdog":
        threading.Thread(target=_watchdog, args=(parent,), name="edkit-watchdog", daemon=True).start()
    return how


def _init_worker(threads: int, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    die_with_parent(parent)
    set_thread_limits(threads)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread; processes started meanwhile inherit the block (then ignore it)."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class PoolRunner:
    """A ``spawn`` process pool as a runner for :func:`edkit.workflows.dispatch.drive`."""

    def __init__(self, fn: Callable[[dict], dict], workers: int, threads: int) -> None:
        import multiprocessing

        self.fn = fn
        self.workers = workers
        self.threads = threads
        self._ctx = multiprocessing.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=self._ctx,
                                        initializer=_init_worker, initargs=(self.threads, os.getpid()))
        self.broken = False

    def capacity(self, shared: bool) -> int:
        """Tasks in flight: one per worker for a shared feed (no hoarding of claimed points),
        two per worker otherwise (none idles between a finish and the next submission)."""
        return self.workers if shared else 2 * self.workers

    def submit(self, task: dict) -> Future:
        """Queue ``task``; a broken pool gives a future that failed with ``BrokenProcessPool``."""
        try:
            with _sigint_blocked():
                return self.pool.submit(self.fn, task)
        except BrokenProcessPool as err:
            self.broken = True
            fut: Future = Future()
            fut.set_exception(err)
            return fut

    def wait(self, futures: list[Future], timeout: float) -> set[Future]:
        """The futures finished within ``timeout`` seconds (at least one unless it timed out)."""
        done, _ = wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)
        return done

    def outcome(self, future: Future) -> dict:
        """The record; :class:`PointLost` if the worker process died."""
        try:
            return future.result()
        except BrokenProcessPool as err:
            self.broken = True
            raise PointLost(f"a worker process died: {err}") from None

    def restart(self) -> None:
        """Replace a broken pool by a fresh one."""
        self.pool.shutdown(wait=True)
        self._start()

    def close(self, abort: bool = False) -> None:
        """Shut the pool down; ``abort`` stops the workers at once (an interrupt)."""
        if not abort:
            self.pool.shutdown(wait=True)
            return
        processes = list((self.pool._processes or {}).values())  # no public handle
        self.pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            with contextlib.suppress(Exception):
                p.terminate()
        for p in processes:
            p.join(timeout=5)
            if p.is_alive():  # pragma: no cover - SIGTERM ignored
                p.kill()
                p.join(timeout=5)
        self.pool.shutdown(wait=True)


def execute_local(tasks: Sequence[dict] | Feed, on_record: Callable[[dict], None], *,
                  workers: int | None = None, threads: int | None = None,
                  fn: Callable[[dict], dict] = compute_point,
                  on_failure: Callable[[dict, str], None] | None = None, retries: int = 2,
                  notify: Callable[[str], None] | None = None) -> None:
    """Run ``fn`` over ``tasks``; ``on_record`` is called in this process as each finishes.

    Parameters
    ----------
    tasks
        Point tasks, or a feed (:class:`~edkit.workflows.dispatch.ListFeed`, or the claims feed
        of a shared store).
    on_record
        Called here with each finished record.
    workers
        Worker processes (default: usable cores, capped by the tasks); ``1`` computes in this
        process.
    threads
        BLAS threads per worker (default ``cores // workers``).
    fn
        The function computed per task (default :func:`edkit.workflows.points.compute_point`).
    on_failure
        Called with ``(task, message)`` for a point that raised (at once: its error is
        deterministic) or whose worker died on ``retries + 1`` pools; ``None`` re-raises.
    retries
        Fresh pools a point whose worker died is given.
    notify
        Called with the reason while waiting for points another run holds.
    """
    feed = ListFeed(tasks) if not hasattr(tasks, "take") else tasks
    if feed.exhausted():
        return
    n_workers = min(len(feed), workers or usable_cores())
    if n_workers <= 1:
        drive(feed, InlineRunner(fn), on_record, on_failure=on_failure, retries=retries, notify=notify)
        return
    per = threads or max(1, usable_cores() // n_workers)
    runner = PoolRunner(fn, n_workers, per)
    try:
        drive(feed, runner, on_record, on_failure=on_failure, retries=retries, notify=notify)
    except BaseException:
        runner.close(abort=True)
        raise
    runner.close()


__all__ = ["THREAD_VARIABLES", "PoolRunner", "die_with_parent", "execute_local", "set_thread_limits",
           "usable_cores"]
