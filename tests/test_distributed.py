"""Sweeps on a Dask cluster of 2 worker processes on loopback: the same records as the serial run,
bit for bit; the client is the only writer; a worker that dies mid-point is replaced and its point
is computed again on a live worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from edkit.workflows.distributed import execute_on_client, local_cluster  # noqa: E402
from edkit.workflows.store import ResultStore  # noqa: E402
from edkit.workflows.sweep import compute_point, plan_sweep, run_sweep  # noqa: E402

GRID = ["U=0:6:3", "t=1,2"]


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(n_workers=2, threads=1) as c:
        yield c


def test_dask_sweep_matches_the_serial_sweep_exactly(cluster, tmp_path):
    serial = run_sweep("hubbard", "2,4", GRID, observables="gaps", out=tmp_path / "serial.db", workers=1,
                       progress=False)
    dask_db = tmp_path / "dask.db"
    on_dask = run_sweep("hubbard", "2,4", GRID, observables="gaps", out=dask_db,
                        scheduler=cluster.scheduler_address, progress=False)
    assert on_dask.computed == 12 and not on_dask.failures
    assert [r["key"] for r in on_dask.records] == [r["key"] for r in serial.records]
    assert [r["result"] for r in on_dask.records] == [r["result"] for r in serial.records]  # exact
    pids = {r["worker"].split(":")[1] for r in on_dask.records}
    assert str(os.getpid()) not in pids  # computed on the workers ...
    with ResultStore(dask_db) as store:  # ... written once each by this process
        assert len(store) == 12 and store.keys() == {r["key"] for r in serial.records}
    again = run_sweep("hubbard", "2,4", GRID, observables="gaps", out=dask_db,
                      scheduler=cluster.scheduler_address, progress=False)
    assert again.computed == 0 and again.skipped == 12


def _die_once(task: dict) -> dict:
    """Kill the worker process the first time the marked point runs; compute normally after."""
    marker = Path(task["marker"])
    if task.get("victim") and not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return compute_point(task)


def test_a_worker_that_dies_is_replaced_and_its_point_retried(cluster, tmp_path):
    tasks = plan_sweep("hubbard", 2, ["U=0:3:4"], observables="energy").tasks
    marker = tmp_path / "killed"
    for k, t in enumerate(tasks):
        t["marker"] = str(marker)
        t["victim"] = k == 1
    got: list[dict] = []
    failures: list = []
    with distributed.Client(cluster) as client:
        execute_on_client(client, tasks, got.append, fn=_die_once,
                          on_failure=lambda t, m: failures.append(m))
    assert marker.exists()  # a worker really died in the middle of a point
    assert not failures
    assert sorted(r["key"] for r in got) == sorted(t["key"] for t in tasks)  # each once, none lost
    victim = next(r for r in got if r["key"] == tasks[1]["key"])
    assert victim["worker"].split(":")[1] != marker.read_text()  # finished by a live worker
    assert victim["result"] == compute_point(tasks[1])["result"]


def test_a_point_that_raises_is_retried_then_reported(cluster):
    task = plan_sweep("hubbard", 2, ["U=1"], observables="energy").tasks[0]
    task = dict(task, observable="nonsense")  # evaluate() raises for it on every attempt
    failures: list = []
    with distributed.Client(cluster) as client:
        execute_on_client(client, [task], lambda r: pytest.fail("no record expected"), retries=1,
                          on_failure=lambda t, m: failures.append(m))
    assert len(failures) == 1 and "nonsense" in failures[0]
