"""Faults of real ``edkit sweep`` processes: SIGKILL, Ctrl-C and SIGTERM, two runs sharing one
store, and output paths that cannot be written (issue 13, items 2-5).

Each sweep here is a subprocess running ``python -m edkit.cli sweep`` on small Hubbard chains
(milliseconds per point), so a test takes a few seconds, most of it starting worker processes.
The truths checked are the operating system's (``/proc``: which processes are alive) and the
store's own (``PRAGMA integrity_check``, its ``points`` and ``computed`` tables), never what the
run under test says about itself alone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edkit.cli import main
from edkit.workflows import sweep as sweep_module
from edkit.workflows.claims import Run, claim, pid_alive
from edkit.workflows.paths import OutputError, check_output
from edkit.workflows.store import ResultStore, StoreError
from edkit.workflows.sweep import SweepInterrupted, plan_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


# ------------------------------------------------------------------------------ helpers
def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def live_in_group(pgid: int) -> list[int]:
    """Processes of process group ``pgid`` that are alive (zombies waiting for a reaper are not)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st and int(st[2]) == pgid and st[0] not in ("Z", "X"):
                out.append(int(entry))
    return out


def children(pid: int) -> list[int]:
    found = [(int(e), _stat(int(e))) for e in os.listdir("/proc") if e.isdigit()]
    return [p for p, st in found if st and int(st[1]) == pid]


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    except sqlite3.DatabaseError:  # not created yet, or locked
        return 0


def sweep_cmd(db: Path, n_points: int, L: int = 4, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edkit.cli", "sweep", "hubbard", "--L", str(L), "--param",
            f"U=0:6:{n_points}", "--observable", "energy", "--out", str(db), "--workers", "2",
            "--no-progress", *extra]


def start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for_points(proc: subprocess.Popen, db: Path, at_least: int, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        n = stored(db)
        if n >= at_least:
            return n
        time.sleep(0.05)
    raise AssertionError(f"the sweep ended or stalled before {at_least} points: {proc.communicate()}")


def reap(proc: subprocess.Popen) -> None:
    """Leave nothing behind, whatever the test did."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    for pid in live_in_group(proc.pid):
        os.kill(pid, signal.SIGKILL)


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as con:
        return con.execute("PRAGMA integrity_check").fetchone()[0]


def computations(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT key, run, worker, stored FROM computed").fetchall()


# ---------------------------------------------------------------------------- SIGKILL
def test_sigkill_leaves_no_process_and_the_resumed_run_computes_only_the_missing_points(tmp_path):
    db = tmp_path / "r.db"
    n_points = 200
    proc = start(sweep_cmd(db, n_points))
    try:
        wait_for_points(proc, db, 5)
        workers = children(proc.pid)
        group = live_in_group(proc.pid)
        assert len(group) >= 3, group  # the sweep, its resource tracker and worker processes
        os.kill(proc.pid, signal.SIGKILL)  # the parent alone, as `kill -9 PID` does
        proc.wait(timeout=30)
        killed = time.monotonic()
        while live_in_group(proc.pid) and time.monotonic() - killed < 5:
            time.sleep(0.1)
        assert live_in_group(proc.pid) == [], "processes of the killed sweep outlived it by 5 s"
        assert not any(pid_alive(p) for p in workers)
    finally:
        reap(proc)
    assert integrity(db) == "ok"
    with sqlite3.connect(db) as con:
        before = {k: f for k, f in con.execute("SELECT key, finished FROM points")}
        claims = con.execute("SELECT run FROM claims").fetchall()
    assert 5 <= len(before) < n_points
    assert all(run.split(":")[1] == str(proc.pid) for (run,) in claims)  # left by the killed run

    again = run_sweep("hubbard", 4, [f"U=0:6:{n_points}"], observables="energy", out=db, workers=1,
                      progress=False)  # the same sweep, resumed (in this process: faster)
    assert again.skipped == len(before) and again.computed == n_points - len(before)
    assert integrity(db) == "ok"
    with sqlite3.connect(db) as con:
        after = {k: f for k, f in con.execute("SELECT key, finished FROM points")}
        assert con.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0  # dead run's claims taken over
    assert set(after) == {t["key"] for t in plan_sweep("hubbard", 4, [f"U=0:6:{n_points}"],
                                                       observables="energy").tasks}
    assert all(after[k] == f for k, f in before.items())  # earlier points kept as they were
    logged = [k for k, *_ in computations(db)]
    assert len(logged) == len(set(logged)) == n_points  # each point computed exactly once


# ------------------------------------------------------------------------ SIGINT / SIGTERM
@pytest.mark.parametrize("signum, code, word",
                         [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_interrupt_says_what_is_saved_and_the_same_command_resumes(tmp_path, signum, code, word):
    db = tmp_path / "r.db"
    n_points = 200
    proc = start(sweep_cmd(db, n_points))
    try:
        wait_for_points(proc, db, 3)
        os.killpg(proc.pid, signum)  # the whole group, as a terminal's Ctrl-C does
        out, err = proc.communicate(timeout=30)
        done = time.monotonic()
        while live_in_group(proc.pid) and time.monotonic() - done < 5:
            time.sleep(0.1)
        assert live_in_group(proc.pid) == []
    finally:
        reap(proc)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "leaked" not in err, err
    saved = stored(db)
    assert f"interrupted ({word}): {saved} of {n_points} point(s)" in err
    assert "run the same command again" in err and str(db) in err
    assert integrity(db) == "ok"
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0  # released on the way out
    again = run_sweep("hubbard", 4, [f"U=0:6:{n_points}"], observables="energy", out=db, workers=1,
                      progress=False)
    assert (again.skipped, again.computed) == (saved, n_points - saved)


def test_api_interrupt_is_a_keyboard_interrupt_with_the_count(tmp_path, monkeypatch):
    """In Python the interrupt is a KeyboardInterrupt subclass that says how many points are saved."""
    db = tmp_path / "r.db"
    calls = {"n": 0}
    real = sweep_module.execute_local

    def interrupted_after_two(feed, on_record, **kw):
        def record_then_stop(record):
            on_record(record)
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt

        real(feed, record_then_stop, **kw)

    monkeypatch.setattr(sweep_module, "execute_local", interrupted_after_two)
    with pytest.raises(SweepInterrupted, match=r"2 of 5 point\(s\).*other 3") as info:
        run_sweep("hubbard", 2, ["U=0:4:5"], observables="energy", out=db, workers=1, progress=False)
    assert isinstance(info.value, KeyboardInterrupt) and info.value.saved == 2
    assert info.value.signal == signal.SIGINT


# ---------------------------------------------------------------------- shared store
def test_two_sweeps_into_one_store_split_the_points(tmp_path):
    db = tmp_path / "r.db"
    n_points = 120
    cmd = sweep_cmd(db, n_points, 4, "--json")
    procs = [start(cmd) for _ in range(2)]
    try:
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            reap(p)
    reports = []
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "Traceback" not in err
        reports.append(json.loads(out))
    assert [len(r["rows"]) for r in reports] == [n_points, n_points]  # each returns the whole table
    assert sum(r["computed"] for r in reports) == n_points  # none computed twice ...
    assert all(r["computed"] > 0 for r in reports)  # ... and both did work
    for r in reports:
        assert r["computed"] + r["skipped"] + r["elsewhere"] == n_points
    assert integrity(db) == "ok"
    logged = computations(db)
    keys = [k for k, *_ in logged]
    assert len(keys) == len(set(keys)) == n_points and all(s == 1 for *_, s in logged)
    assert len({run for _, run, _, _ in logged}) == 2
    workers = {k: w for k, _, w, _ in logged}  # one worker (host:pid) per key, pids of two runs' pools
    assert len(set(workers.values())) >= 3
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM points").fetchone()[0] == n_points
        assert con.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


def _hold_all(db: Path, keys: list[str], holder: Run) -> None:
    with sqlite3.connect(db, isolation_level=None) as con:
        con.execute("BEGIN IMMEDIATE")
        now = time.time()
        con.executemany("INSERT INTO claims VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(k, holder.id, holder.host, holder.pid, None, now, now) for k in keys])
        con.execute("COMMIT")


def test_a_run_waits_for_points_a_live_run_holds_names_it_and_takes_them_over_when_it_dies(tmp_path, capsys):
    db = tmp_path / "r.db"
    grid = ["U=0:3:4"]
    ResultStore(db, model="hubbard").close()
    keys = [t["key"] for t in plan_sweep("hubbard", 2, grid, observables="energy").tasks]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2.5)"])
    try:
        _hold_all(db, keys, Run(socket.gethostname(), other.pid, None, "other"))
        t0 = time.monotonic()
        res = run_sweep("hubbard", 2, grid, observables="energy", out=db, workers=1, progress=False)
        waited = time.monotonic() - t0
    finally:
        other.kill()
        other.wait()
    err = capsys.readouterr().err
    assert f"pid {other.pid}" in err and "waiting" in err  # says which run holds the points
    assert waited > 1.5  # it did wait for the live holder ...
    assert res.computed == 4 and not res.failures  # ... then took its points over
    assert [k for k, *_ in computations(db)] == keys


def test_claims_of_other_hosts_go_stale_by_their_heartbeat(tmp_path):
    db = tmp_path / "r.db"
    me = Run.here()
    with ResultStore(db, model="hubbard") as store:
        conn = store._conn
        fresh = Run("another-host", 1, None, "a")
        stale = Run("another-host", 2, None, "b")
        _hold_all(db, ["k1"], fresh)
        with sqlite3.connect(db, isolation_level=None) as con:
            con.execute("INSERT INTO claims VALUES ('k2', ?, 'another-host', 2, NULL, 0, 0)", (stale.id,))
        res = claim(conn, me, ["k1", "k2", "k3"], 5, lease=60)
        assert res.claimed == ["k2", "k3"] and res.taken_over == 1
        assert [h.run for h in res.held] == [fresh.id]
        assert claim(conn, me, ["k1"], 1, lease=60, now=time.time() + 61).claimed == ["k1"]


# ------------------------------------------------------------------------ output paths
@pytest.fixture
def no_planning(monkeypatch):
    """Any planning (and so any computation) fails the test: outputs are checked before it."""
    def refuse(*args, **kwargs):
        raise AssertionError("planned a sweep with an unwritable output")

    monkeypatch.setattr(sweep_module, "plan_sweep", refuse)


def _bad_outputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    a_dir = tmp_path / "a_dir"
    a_dir.mkdir()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    return [
        (["--out", "/proc/r.db"], "cannot create a results store at /proc/r.db: /proc does not accept"),
        (["--out", str(tmp_path / "missing" / "r.db")], "does not exist"),
        (["--out", str(a_dir)], "is a directory"),
        (["--out", str(fifo)], "not a regular file"),
        (["--csv", "/nonexistent/dir/r.csv"], "cannot create the CSV file at /nonexistent/dir/r.csv"),
        (["--csv", str(a_dir)], "is a directory"),
        (["--csv", "/proc/r.csv"], "/proc does not accept new files"),
        (["--hdf5", str(a_dir)], "cannot create the HDF5 file"),
        (["--hdf5", str(tmp_path / "missing" / "r.h5")], "does not exist"),
        (["--hdf5", "/sys/r.h5"], "cannot create the HDF5 file at /sys/r.h5"),
        (["--out", str(tmp_path / "r.db"), "--csv", str(tmp_path / "r.db")], "same file"),
    ]


def test_every_bad_output_is_refused_before_any_work(tmp_path, capsys, no_planning):
    for extra, words in _bad_outputs(tmp_path):
        t0 = time.perf_counter()
        code = main(["sweep", "hubbard", "--L", "2", "--param", "U=0:4:3", "--workers", "1",
                     "--no-progress", *extra])
        seconds = time.perf_counter() - t0
        err = capsys.readouterr().err
        assert code == 2, (extra, err)
        assert words in err and "Traceback" not in err, (extra, err)
        assert seconds < 2, (extra, seconds)
    assert not (tmp_path / "r.db").exists()  # nothing created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_dir", "fifo"]  # no probe left behind


def test_the_api_refuses_bad_outputs_too(tmp_path, no_planning):
    with pytest.raises(OutputError, match="does not exist"):
        run_sweep("hubbard", 2, ["U=1"], csv=tmp_path / "no" / "r.csv", progress=False)
    with pytest.raises(OutputError, match="is a directory"):
        run_sweep("hubbard", 2, ["U=1"], out=tmp_path, progress=False)
    with pytest.raises(StoreError, match="/proc does not accept"):
        ResultStore("/proc/r.db", model="hubbard")
    assert check_output(tmp_path / "new.csv", "the CSV file") == tmp_path / "new.csv"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert check_output(fifo, "the CSV file", stream_ok=True) == fifo  # e.g. a named pipe to a reader


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_directory_is_refused(tmp_path, no_planning):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="no permission"):
            run_sweep("hubbard", 2, ["U=1"], out=ro / "r.db", progress=False)
    finally:
        ro.chmod(0o755)


def test_the_command_line_refuses_proc_in_a_fresh_process(tmp_path):
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "edkit.cli", "sweep", "hubbard", "--L", "2", "--param",
                           "U=0:4:3", "--out", "/proc/r.db", "--no-progress"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot create a results store at /proc/r.db" in done.stderr
    assert "not an edkit results store" not in done.stderr
    assert time.monotonic() - t0 < 10  # interpreter start and imports included, on a loaded machine


def test_heartbeat_keeps_claims_fresh(tmp_path):
    from edkit.workflows.claims import Heartbeat

    db = tmp_path / "r.db"
    ResultStore(db, model="hubbard").close()
    me = Run.here()
    _hold_all(db, ["k"], me)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE claims SET heartbeat = 0")
    beat = Heartbeat(db, me, every=0.1)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with sqlite3.connect(db) as con:
                if con.execute("SELECT heartbeat FROM claims").fetchone()[0] > 0:
                    break
            time.sleep(0.05)
    finally:
        beat.stop()
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT heartbeat FROM claims").fetchone()[0] > time.time() - 5
    assert not any(t.name == "edkit-heartbeat" and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("platform", ["linux", "darwin"])  # prctl(PR_SET_PDEATHSIG), or the watchdog
def test_a_worker_ends_when_its_parent_is_killed(platform):
    worker = ("import os, sys, time; sys.platform = {!r}; from edkit.workflows.pool import die_with_parent; "
              "how = die_with_parent(os.getppid()); print(os.getpid(), how, flush=True); time.sleep(60)")
    middle = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', sys.argv[1]]); "
              "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", middle, worker.format(platform)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        pid, how = proc.stdout.readline().split()
        assert how == ("pdeathsig" if platform == "linux" else "watchdog")
        assert pid_alive(int(pid))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while pid_alive(int(pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(int(pid)), "the worker outlived its parent by 5 s"
    finally:
        reap(proc)
        proc.stdout.close()
