"""Dispatch: hand point tasks to an executor as its slots free up; results come back to one writer.

Two small protocols meet here:

- a :class:`Feed` says which tasks to compute next. :class:`ListFeed` is a plain list; the
  results store's claims feed (:class:`edkit.workflows.claims.ClaimFeed`) claims points in the
  store so that two runs sharing it split the work;
- a *runner* computes tasks: an in-process loop (:class:`InlineRunner`), a local process pool
  (:mod:`edkit.workflows.pool`) or a Dask client (:mod:`edkit.workflows.distributed`). It has
  ``broken`` (no submission until ``restart()``), ``capacity(shared)`` (tasks in flight at
  once; for a shared feed no more than it computes at once, so a run does not hoard points),
  ``submit(task) -> future``, ``wait(futures, timeout) -> finished futures``,
  ``outcome(future) -> record`` (raises :class:`PointLost` when the process computing it died,
  or the point's own exception) and ``restart()``.

:func:`drive` runs a feed on a runner. It imports nothing else from :mod:`edkit.workflows`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol


class PointLost(BrokenProcessPool):
    """The process computing a point died (killed, out of memory); the point may be run again."""


class Feed(Protocol):
    """Where the tasks come from (see the module docs)."""

    shared: bool

    def __len__(self) -> int:
        """Tasks not yet taken (an upper bound of what this run will compute)."""

    def take(self, n: int) -> list[dict]:
        """Up to ``n`` tasks to compute now (claimed for this run where the feed is shared)."""

    def settle(self, task: dict, stored: bool) -> None:
        """The task is finished: stored (``stored=True``), or failed for good."""

    def exhausted(self) -> bool:
        """Nothing is left to take, now or later."""

    def waiting(self) -> str | None:
        """Why nothing can be taken now although points remain (another run holds them)."""


class ListFeed:
    """The tasks of a list, in order (nobody else computes them)."""

    shared = False

    def __init__(self, tasks: Iterable[dict]) -> None:
        self._tasks = deque(tasks)

    def __len__(self) -> int:
        return len(self._tasks)

    def take(self, n: int) -> list[dict]:
        """The next ``n`` tasks (fewer at the end)."""
        return [self._tasks.popleft() for _ in range(min(n, len(self._tasks)))]

    def settle(self, task: dict, stored: bool) -> None:
        """Nothing to record."""

    def exhausted(self) -> bool:
        """``True`` once every task was taken."""
        return not self._tasks

    def waiting(self) -> str | None:
        """Never waits."""
        return None


class InlineRunner:
    """Computes each task in this process when it is submitted."""

    broken = False

    def __init__(self, fn: Callable[[dict], dict]) -> None:
        self.fn = fn

    def capacity(self, shared: bool) -> int:
        """One task at a time."""
        return 1

    def submit(self, task: dict) -> Future:
        """Compute ``task`` now; the returned future holds its record or its exception."""
        fut: Future = Future()
        try:
            fut.set_result(self.fn(task))
        except Exception as err:  # the point's own error, reported by drive()
            fut.set_exception(err)
        return fut

    def wait(self, futures: list[Future], timeout: float) -> list[Future]:
        """Every future is already finished."""
        return list(futures)

    def outcome(self, future: Future) -> dict:
        """The record (or the point's exception)."""
        return future.result()

    def restart(self) -> None:
        """Never broken."""


def drive(feed: Feed, runner: Any, on_record: Callable[[dict], None], *,
          on_failure: Callable[[dict, str], None] | None = None, retries: int = 2, poll: float = 0.5,
          notify: Callable[[str], None] | None = None) -> None:
    """Compute every task of ``feed`` on ``runner``; ``on_record`` is called here as each finishes.

    Parameters
    ----------
    feed
        The tasks (:class:`ListFeed` or a claims feed).
    runner
        See the module docs.
    on_record
        Called in this process with each finished record (the single writer).
    on_failure
        Called with ``(task, message)`` for a point that raised, or whose process died more
        than ``retries`` times; ``None`` re-raises instead.
    retries
        How often a point whose process died is run again (in a fresh pool for a local pool).
    poll
        Seconds between looks at the feed while waiting for another run's points.
    notify
        Called with the feed's reason to wait, each time it changes.
    """
    in_flight: dict[Any, dict] = {}
    again: deque[dict] = deque()
    lost: dict[str, int] = {}
    said: str | None = None

    def fail(task: dict, message: str, err: BaseException) -> None:
        feed.settle(task, stored=False)
        if on_failure is None:
            raise err
        on_failure(task, message)

    while True:
        if not runner.broken:
            slots = runner.capacity(feed.shared) - len(in_flight)
            batch = [again.popleft() for _ in range(min(slots, len(again)))]
            if len(batch) < slots:
                batch += feed.take(slots - len(batch))
            for task in batch:
                in_flight[runner.submit(task)] = task
        if not in_flight:
            if runner.broken:
                runner.restart()
                continue
            if again:
                continue
            if feed.exhausted():
                return
            reason = feed.waiting()
            if reason and reason != said and notify is not None:
                notify(reason)
            said = reason
            time.sleep(poll)
            continue
        for fut in runner.wait(list(in_flight), poll):
            task = in_flight.pop(fut)
            try:
                record = runner.outcome(fut)
            except PointLost as err:
                n = lost[task["key"]] = lost.get(task["key"], 0) + 1
                if n <= retries:
                    again.append(task)
                else:
                    fail(task, f"BrokenProcessPool: a worker process died on each of {n} attempts", err)
                continue
            except Exception as err:
                fail(task, f"{type(err).__name__}: {err}", err)
                continue
            on_record(record)
            feed.settle(task, stored=True)


__all__ = ["Feed", "InlineRunner", "ListFeed", "PointLost", "drive"]
