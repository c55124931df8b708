"""Claims: runs that share one results store split its points; none is computed twice or lost.

Before a run computes a point it *claims* it in the store: in one write transaction it checks
that the point is neither stored nor held by a live run, and records ``(key, run, host, pid,
heartbeat)`` in the ``claims`` table. A run claims only as many points as it computes at once,
so two runs started together take turns along the grid. Committing the point deletes its
claim in the same transaction; a run that stops (an error, Ctrl-C, SIGTERM) releases its claims.

A claim is *stale*, and another run takes the point over, when

- its run is on this host and its process is gone (``kill -9``; a re-used pid is told apart by
  the process start time), or
- its heartbeat is older than the lease (:data:`LEASE` seconds; each run refreshes its claims
  every :data:`HEARTBEAT` seconds from a background thread), e.g. a run on another host that
  died.

Every finished computation is also logged in ``computed`` (key, run, worker, time, and whether
its record was stored or one was already there), so a point computed twice would show.

A run that finds every remaining point held by live runs waits for them (they appear in the
store, or their claims go stale and it takes them over) and says which run holds them. Imports
nothing else from :mod:`edkit.workflows`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEASE = 120.0
HEARTBEAT = 10.0

CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    run TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_start INTEGER,
    claimed REAL NOT NULL,
    heartbeat REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_run ON claims (run);
CREATE TABLE IF NOT EXISTS computed (
    key TEXT NOT NULL,
    run TEXT,
    worker TEXT,
    finished REAL,
    stored INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS computed_key ON computed (key);
"""


def process_start(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux), ``None`` if unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        return int(text.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: int, start: int | None = None) -> bool:
    """Whether process ``pid`` on this host runs (not a zombie; same start time if given)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:  # pragma: no cover - e.g. pid out of range
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: trust kill(0)
    if state in ("Z", "X"):
        return False
    return start is None or process_start(pid) in (None, start)


@dataclass(frozen=True)
class Run:
    """Identity of one sweep run: host, pid, the process start time and a random token."""

    host: str
    pid: int
    pid_start: int | None
    token: str

    @classmethod
    def here(cls) -> Run:
        """The run of this process (a new token on each call)."""
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start(pid), uuid.uuid4().hex[:12])

    @property
    def id(self) -> str:
        """``host:pid:token``, stored with each claim."""
        return f"{self.host}:{self.pid}:{self.token}"


@dataclass(frozen=True)
class Holder:
    """A live run that holds a claim."""

    run: str
    host: str
    pid: int
    heartbeat: float


@dataclass
class ClaimResult:
    """What one :func:`claim` call found: points claimed, points already stored, live holders."""

    examined: int = 0
    claimed: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    held: list[Holder] = field(default_factory=list)
    taken_over: int = 0


def _alive(row: tuple, me: Run, now: float, lease: float) -> bool:
    run, host, pid, pid_start, heartbeat = row
    if now - heartbeat > lease:
        return False
    if host == me.host:
        return pid_alive(int(pid), pid_start)
    return True


def claim(conn: sqlite3.Connection, me: Run, keys: Iterable[str], n: int, *, lease: float = LEASE,
          now: float | None = None) -> ClaimResult:
    """Claim up to ``n`` of ``keys`` (in order) for ``me``; call inside a write transaction.

    Keys already stored are reported in ``done``; keys held by a live run are skipped and their
    holders reported; stale claims are taken over. Stops after the ``n``-th claim.
    """
    now = time.time() if now is None else now
    out = ClaimResult()
    if n <= 0:
        return out
    for key in keys:
        out.examined += 1
        if conn.execute("SELECT 1 FROM points WHERE key=?", (key,)).fetchone():
            out.done.append(key)
            continue
        row = conn.execute("SELECT run, host, pid, pid_start, heartbeat FROM claims WHERE key=?",
                           (key,)).fetchone()
        if row is not None and row[0] != me.id:
            if _alive(row, me, now, lease):
                out.held.append(Holder(row[0], row[1], int(row[2]), float(row[4])))
                continue
            out.taken_over += 1
        conn.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (key, me.id, me.host, me.pid, me.pid_start, now, now))
        out.claimed.append(key)
        if len(out.claimed) >= n:
            break
    return out


def release(conn: sqlite3.Connection, me: Run, keys: Iterable[str] | None = None) -> None:
    """Drop ``me``'s claims (all of them, or those of ``keys``); call inside a write transaction."""
    if keys is None:
        conn.execute("DELETE FROM claims WHERE run=?", (me.id,))
    else:
        conn.executemany("DELETE FROM claims WHERE key=? AND run=?", [(k, me.id) for k in keys])


class Heartbeat:
    """A daemon thread that refreshes a run's claims every ``every`` seconds (own connection)."""

    def __init__(self, path: str | os.PathLike, me: Run, every: float = HEARTBEAT) -> None:
        self.path, self.me, self.every = str(path), me, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="edkit-heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        conn = sqlite3.connect(self.path, timeout=self.every, isolation_level=None)
        try:
            while not self._stop.wait(self.every):
                with contextlib.suppress(sqlite3.Error):  # busy store: try again next beat
                    conn.execute("UPDATE claims SET heartbeat=? WHERE run=?", (time.time(), self.me.id))
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the thread (returns within a beat)."""
        self._stop.set()
        self._thread.join(timeout=self.every + 1)


def describe(held: list[Holder]) -> str:
    """One sentence naming the runs that hold the remaining points (stable while they do)."""
    runs = sorted({(h.pid, h.host) for h in held})
    who = ", ".join(f"pid {pid} on {host}" for pid, host in runs)
    return (f"waiting: the remaining points of this sweep are being computed by another run sharing "
            f"the store ({who}); that run stores them, or this one takes them over if it stops "
            "(Ctrl-C stops waiting; the same command resumes)")


class ClaimFeed:
    """A feed (:mod:`edkit.workflows.dispatch`) that claims each point in the store before it runs.

    Parameters
    ----------
    store
        An open :class:`edkit.workflows.store.ResultStore` (its ``claim`` and ``release``
        methods run :func:`claim` and :func:`release` in a transaction).
    tasks
        The points still missing from the store, in grid order.
    lease, heartbeat
        Seconds (see the module docs).
    """

    shared = True

    def __init__(self, store: Any, tasks: Iterable[dict], *, lease: float = LEASE,
                 heartbeat: float = HEARTBEAT) -> None:
        self.store = store
        self.run = Run.here()
        self.lease = lease
        self._remaining: deque[dict] = deque(tasks)
        self._held: list[Holder] = []
        self.taken_over = 0
        self._heartbeat = Heartbeat(store.path, self.run, heartbeat)

    def __len__(self) -> int:
        return len(self._remaining)

    def _keys(self) -> Iterator[str]:
        return (t["key"] for t in self._remaining)

    def take(self, n: int) -> list[dict]:
        """Claim and return up to ``n`` points (none if live runs hold all that remain)."""
        if n <= 0 or not self._remaining:
            return []
        res = self.store.claim(self.run, self._keys(), n, lease=self.lease)
        gone = set(res.claimed) | set(res.done)
        prefix = [self._remaining.popleft() for _ in range(res.examined)]
        kept = [t for t in prefix if t["key"] not in gone]
        self._remaining.extendleft(reversed(kept))
        self.taken_over += res.taken_over
        self._held = res.held
        claimed = set(res.claimed)
        return [t for t in prefix if t["key"] in claimed]

    def settle(self, task: dict, stored: bool) -> None:
        """A stored point's claim went with its commit; a failed point's claim is released."""
        if not stored:
            self.store.release(self.run, [task["key"]])

    def exhausted(self) -> bool:
        """Every point is stored, or claimed by this run."""
        return not self._remaining

    def waiting(self) -> str | None:
        """Which runs hold the remaining points, when this run can take none."""
        if not self._remaining or not self._held:
            return None
        return describe(self._held)

    def close(self) -> None:
        """Stop the heartbeat and release this run's claims (points it did not store)."""
        self._heartbeat.stop()
        with contextlib.suppress(sqlite3.Error):
            self.store.release(self.run)


__all__ = ["CLAIMS_SCHEMA", "HEARTBEAT", "LEASE", "ClaimFeed", "ClaimResult", "Heartbeat", "Holder", "Run",
           "claim", "describe", "pid_alive", "process_start", "release"]
