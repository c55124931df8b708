"""Parameter sweeps: grid parsing, validation before work, physics of the swept values, local
process parallelism, and a sweep killed with SIGKILL that resumes with nothing lost or doubled.

Independent truth: the Hubbard dimer (L=2, open, t, U, mu) at half filling has the ground-state
energy ``U/2 - sqrt(U^2/4 + 4 t^2) - 2 mu`` (2x2 block of the covalent singlet and the symmetric
ionic state); the free open chain has levels ``-2 t cos(k pi/(L+1))``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edkit.cli import main
from edkit.core.params import ParameterError
from edkit.models import UnknownModelError
from edkit.workflows.sweep import (
    GridError,
    compute_point,
    execute_local,
    parse_grid,
    parse_sizes,
    parse_values,
    plan_sweep,
    run_sweep,
)

ROOT = Path(__file__).resolve().parents[1]


def dimer_energy(U: float, t: float = 1.0, mu: float = 0.0) -> float:
    return U / 2 - math.sqrt(U * U / 4 + 4 * t * t) - 2 * mu


# ----------------------------------------------------------------------------- parsing
def test_inclusive_range_gives_the_floats_nearest_the_decimals():
    assert parse_values("0.1:1.0:10") == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert parse_values("-1:1:5") == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert parse_values("0:1/3:2") == [0.0, 1 / 3]
    assert parse_values("2:2:1") == [2.0]


def test_lists_and_single_values():
    assert parse_values("1,2,3") == [1.0, 2.0, 3.0]
    assert parse_values("3, -0.5 ,1e-3") == [3.0, -0.5, 0.001]
    assert parse_values("4") == [4.0]
    assert parse_values(0.25) == [0.25]
    assert parse_values([1, 2.5]) == [1.0, 2.5]
    assert parse_grid(["t_perp=0.1:1.0:10", "t_m=1,2,3"]) == {
        "t_perp": parse_values("0.1:1.0:10"), "t_m": [1.0, 2.0, 3.0]}
    assert parse_sizes("2:8:4") == [2, 4, 6, 8]
    assert parse_sizes(4) == [4]


@pytest.mark.parametrize("spec, words", [
    ("0.1:1.0:0", "positive integer"),
    ("0:1:-2", "positive integer"),
    ("0:1:2.5", "positive integer"),
    ("0:1:x", "positive integer"),
    ("1.0:0.1:10", "reversed"),
    ("0:1:1", "one point"),
    ("1:1:3", "repeats"),
    ("a:1:3", "not a number"),
    ("0:b:3", "not a number"),
    ("0:1", "start:stop:count"),
    ("0:1:2:3", "start:stop:count"),
    ("1,1", "duplicate"),
    ("1,,2", "not a number"),
    ("__import__('os')", "not a number"),
    ("1e400", "finite"),
    ("nan", "not a number"),
    ("", "empty"),
])
def test_malformed_axes_are_refused(spec, words):
    with pytest.raises(GridError, match=words):
        parse_values(spec, "U")


@pytest.mark.parametrize("items, words", [
    (["U"], "NAME=SPEC"), (["=1"], "NAME=SPEC"), (["U=1", "U=2"], "twice")])
def test_malformed_grids_are_refused(items, words):
    with pytest.raises(GridError, match=words):
        parse_grid(items)


@pytest.mark.parametrize("spec", ["2.5", "0", "1:4:3", "-2"])
def test_sizes_must_be_positive_integers(spec):
    with pytest.raises(GridError):
        parse_sizes(spec)


def test_bad_sweeps_fail_before_any_diagonalization():
    t0 = time.perf_counter()
    with pytest.raises(ParameterError, match="W"):
        plan_sweep("hubbard", 4, ["W=0:1:3"])
    with pytest.raises(GridError, match="observable"):
        plan_sweep("hubbard", 4, ["U=1"], observables="charge")
    with pytest.raises(ValueError, match="N=99"):
        plan_sweep("hubbard", 4, ["U=1"], sector={"N": 99})
    with pytest.raises(UnknownModelError):
        plan_sweep("nosuchmodel", 4, ["U=1"])
    with pytest.raises(GridError, match="reference"):
        plan_sweep("hubbard", 2, ["U=1"], observables="correlations", reference=5)
    assert time.perf_counter() - t0 < 5


def test_plan_lists_every_point_once_with_defaults_resolved():
    sweep = plan_sweep("kbp", "2,3", ["t_perp=0.1:1.0:10", "t_m=1,2,3"], observables=["gaps", "energy"])
    assert len(sweep.tasks) == 2 * 10 * 3 * 2
    assert len({t["key"] for t in sweep.tasks}) == len(sweep.tasks)
    t = sweep.tasks[0]
    assert t["params"]["mu_p"] == -t["params"]["U"] / 2  # default expression resolved per point
    assert {tt["sector"]["N"] for tt in sweep.tasks} == {4, 6}  # half filling at each L


# ----------------------------------------------------------------------------- physics
def test_dimer_sweep_matches_the_closed_form_and_is_tidy():
    res = run_sweep("hubbard", 2, ["U=0:8:5", "mu=0,0.5"], observables="energy", workers=1, progress=False)
    assert res.computed == 10 and res.skipped == 0 and not res.failures
    rows = res.rows
    assert [(r["U"], r["mu"]) for r in rows[:3]] == [(0.0, 0.0), (0.0, 0.5), (2.0, 0.0)]
    for r in rows:
        assert r["model"] == "hubbard" and r["L"] == 2 and r["N"] == 2 and r["Sz"] == 0.0
        assert r["energy"] == pytest.approx(dimer_energy(r["U"], 1.0, r["mu"]), abs=1e-12)
        assert r["seconds"] >= 0 and r["edkit_version"]
    pd = pytest.importorskip("pandas")
    df = res.to_dataframe()
    assert isinstance(df, pd.DataFrame) and len(df) == 10
    assert df.pivot(index="U", columns="mu", values="energy").shape == (5, 2)


def test_spectrum_observable_gives_free_chain_levels():
    res = run_sweep("hubbard", 3, ["U=0"], observables="spectrum", sector={"N": 1, "Sz": 0.5}, nev=3,
                    workers=1, progress=False)
    (row,) = res.rows
    levels = sorted(-2 * math.cos(k * math.pi / 4) for k in (1, 2, 3))
    assert [row["E0"], row["E1"], row["E2"]] == pytest.approx(levels, abs=1e-12)
    assert row["dimension"] == 3


# ---------------------------------------------------------------------------- kill/resume
def test_sigkill_mid_sweep_resumes_with_no_duplicate_and_no_lost_point(tmp_path):
    """The CLI sweeps with 2 worker processes; the process group is SIGKILLed once a few points
    are committed; an in-process re-run completes it. Also: pool workers limit their BLAS threads
    and compute exactly what the calling process computes."""
    db = tmp_path / "results.db"
    n_points = 200
    cmd = [sys.executable, "-m", "edkit.cli", "sweep", "hubbard", "--L", "4", "--param",
           f"U=0:6:{n_points}", "--observable", "energy", "--out", str(db), "--workers", "2",
           "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        count = 0
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
            if db.exists():
                try:
                    with sqlite3.connect(db, timeout=1) as con:
                        count = con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
                except sqlite3.DatabaseError:  # file or table not created yet, or locked
                    continue
                if count >= 5:
                    break
        assert proc.poll() is None, f"the sweep ended before it could be killed: {proc.stderr.read()!r}"
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI process and its worker processes
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(db) as con:
        before = {k: (f, r) for k, f, r in con.execute("SELECT key, finished, result FROM points")}
    assert 5 <= len(before) < n_points, "kill did not land mid-sweep"
    with sqlite3.connect(db) as con:
        pooled = con.execute("SELECT key, params, sector, result, threads, worker FROM points "
                             "LIMIT 3").fetchall()
    cores = len(os.sched_getaffinity(0))
    for key, params, sector, result, threads, worker in pooled:
        assert threads == str(max(1, cores // 2))  # OMP_NUM_THREADS set in the pool workers
        assert worker.split(":")[1] != str(os.getpid())
        task = {"key": key, "model": "hubbard", "L": 4, "bc": "open", "params": json.loads(params),
                "sector": json.loads(sector), "observable": "energy", "options": {}, "swept": {}}
        assert compute_point(task)["result"] == json.loads(result)  # bit for bit

    res = run_sweep("hubbard", 4, [f"U=0:6:{n_points}"], observables="energy", out=db, workers=1,
                    progress=False)
    assert res.skipped == len(before) and res.computed == n_points - len(before)
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT key, finished, result FROM points").fetchall()
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    keys = [k for k, _, _ in rows]
    assert len(keys) == len(set(keys)) == n_points  # no duplicate, nothing missing
    after = {k: (f, r) for k, f, r in rows}
    for k, v in before.items():  # every point finished before the kill is kept as it was
        assert after[k] == v
    plan = plan_sweep("hubbard", 4, [f"U=0:6:{n_points}"], observables="energy")
    plan_keys = {t["key"] for t in plan.tasks}
    assert set(keys) == plan_keys
    # a third run has nothing left to do
    again = run_sweep("hubbard", 4, [f"U=0:6:{n_points}"], observables="energy", out=db, workers=1,
                      progress=False)
    assert again.computed == 0 and again.skipped == n_points
    free = 2 * (-2 * math.cos(math.pi / 5) - 2 * math.cos(2 * math.pi / 5))  # U = 0: free fermions
    assert again.rows[0]["U"] == 0.0 and again.rows[0]["energy"] == pytest.approx(free, abs=1e-12)


def _die_once(task: dict) -> dict:
    """Kill the worker process the first time the marked point runs; otherwise return a light
    record (no diagonalization: this test is about the pool, and workers start faster)."""
    marker = Path(task["marker"])
    if task.get("victim") and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return {"key": task["key"], "U": task["params"]["U"], "pid": os.getpid()}


def test_points_of_a_dead_pool_worker_are_rerun_in_a_fresh_pool(tmp_path):
    tasks = plan_sweep("hubbard", 2, ["U=0:3:4"], observables="energy").tasks
    marker = tmp_path / "killed"
    for k, t in enumerate(tasks):
        t.update(marker=str(marker), victim=k == 2)
    got: list[dict] = []
    failures: list = []
    execute_local(tasks, got.append, workers=2, fn=_die_once, on_failure=lambda t, m: failures.append(m))
    assert marker.exists() and not failures
    assert sorted(r["key"] for r in got) == sorted(t["key"] for t in tasks)  # each once, none lost
    victim = next(r for r in got if r["key"] == tasks[2]["key"])
    assert str(victim["pid"]) != marker.read_text()  # finished by a worker of the fresh pool


# ------------------------------------------------------------------------------------ CLI
def test_cli_sweep_writes_store_and_exports(tmp_path, capsys):
    db, csv_path = tmp_path / "r.db", tmp_path / "r.csv"
    argv = ["sweep", "hubbard", "--L", "2", "--param", "U=0:4:3", "--observable", "energy",
            "--out", str(db), "--workers", "1", "--no-progress", "--csv", str(csv_path), "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["computed"] == 3 and data["skipped"] == 0
    assert [r["energy"] for r in data["rows"]] == pytest.approx([dimer_energy(u) for u in (0, 2, 4)])
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 3
    assert csv_path.read_text().splitlines()[0].startswith("model,L,bc,")


@pytest.mark.parametrize("param", ["U=0.1:1.0:0", "U=1.0:0.1:10", "U=a:1:3", "W=1"])
def test_cli_sweep_refuses_bad_input_with_exit_2(param, tmp_path, capsys):
    db = tmp_path / "r.db"
    assert main(["sweep", "hubbard", "--L", "2", "--param", param, "--out", str(db), "--no-progress"]) == 2
    assert "error" in capsys.readouterr().err
    assert not db.exists()  # refused before a store was created


# ------------------------------------------------------------------------------ layers
def test_sweep_modules_import_one_way():
    """grid < points < plan; dispatch < pool < distributed; paths, claims < store < sweep: each
    module imports (at any depth in its code) only modules listed before it, so there is no cycle."""
    import ast

    order = ["grid", "points", "plan", "dispatch", "pool", "distributed", "paths", "claims", "store", "sweep"]
    folder = ROOT / "edkit" / "workflows"
    for k, name in enumerate(order):
        tree = ast.parse((folder / f"{name}.py").read_text())
        used = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("edkit.workflows"):
                parts = node.module.split(".")
                used |= {parts[2]} if len(parts) > 2 else {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                used |= {a.name.split(".")[2] for a in node.names if a.name.startswith("edkit.workflows.")}
        assert used <= set(order[:k]), f"{name} imports {sorted(used - set(order[:k]))}"
