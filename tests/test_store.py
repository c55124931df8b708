"""The SQLite results store: one transaction per point, skip on re-run, refusal of foreign
stores, CSV/HDF5 exports that read back to the same table, and plots from a store."""

from __future__ import annotations

import math
import sqlite3

import pytest

from edkit.workflows.store import (
    ResultStore,
    StoreError,
    StoreMismatchError,
    read_csv,
    read_hdf5,
    write_csv,
)
from edkit.workflows.sweep import run_sweep


def _record(key: str = "pabc", energy: float = -1.0, model: str = "hubbard") -> dict:
    return {"key": key, "model": model, "L": 2, "bc": "open", "params": {"U": 1.0}, "sector": {"N": 2},
            "observable": "energy", "options": {}, "swept": {"U": 1.0}, "result": {"energy": energy},
            "edkit_version": "0.1.0", "seconds": 0.1, "started": 1.0, "finished": 2.0, "worker": "h:1",
            "threads": "1"}


def test_commit_is_unique_per_point(tmp_path):
    with ResultStore(tmp_path / "r.db", model="hubbard") as store:
        assert store.commit(_record()) is True
        assert store.commit(_record(energy=5.0)) is False  # same point: first copy kept
        assert len(store) == 1
        assert store.records()[0]["result"] == {"energy": -1.0}


def test_a_failing_commit_leaves_nothing_behind(tmp_path):
    with ResultStore(tmp_path / "r.db", model="hubbard") as store:
        store.commit(_record("p1"))
        with pytest.raises(ValueError):
            store.commit(_record("p2", energy=math.nan))  # NaN is not valid JSON: refused
        assert store.keys() == {"p1"}
        store.commit(_record("p3"))  # the connection is usable afterwards
        assert store.keys() == {"p1", "p3"}


def test_store_of_another_model_is_refused(tmp_path):
    db = tmp_path / "r.db"
    run_sweep("hubbard", 2, ["U=1"], observables="energy", out=db, workers=1, progress=False)
    with pytest.raises(StoreMismatchError, match="'hubbard', not 'kbp'"):
        run_sweep("kbp", 2, ["U=1"], observables="energy", out=db, workers=1, progress=False)
    with pytest.raises(StoreMismatchError, match="another --out"):
        ResultStore(db, model="kbp", migrate=True)  # no migration across models


def test_store_of_another_version_is_refused_then_migrated(tmp_path):
    db = tmp_path / "r.db"
    first = run_sweep("hubbard", 2, ["U=0,1"], observables="energy", out=db, workers=1, progress=False)
    with sqlite3.connect(db) as con:  # as if an older edkit had written it
        con.execute("UPDATE meta SET value='0.0.1' WHERE key='edkit_version'")
        con.execute("UPDATE points SET edkit_version='0.0.1'")
    with pytest.raises(StoreMismatchError, match=r"edkit 0\.0\.1.*--migrate"):
        run_sweep("hubbard", 2, ["U=0,1,2"], observables="energy", out=db, workers=1, progress=False)
    res = run_sweep("hubbard", 2, ["U=0,1,2"], observables="energy", out=db, migrate=True, workers=1,
                    progress=False)
    assert res.skipped == 2 and res.computed == 1  # old points kept, not recomputed
    with ResultStore(db) as store:
        assert store.meta["edkit_version"] == first.records[0]["edkit_version"]
        assert '"from_version":"0.0.1"' in store.meta["history"]
        versions = sorted(r["edkit_version"] for r in store.records())
        assert versions == sorted(["0.0.1", "0.0.1", first.records[0]["edkit_version"]])


def test_newer_schema_and_foreign_files_are_refused(tmp_path):
    db = tmp_path / "r.db"
    ResultStore(db, model="hubbard").close()
    with sqlite3.connect(db) as con:
        con.execute("UPDATE meta SET value='99' WHERE key='schema'")
    with pytest.raises(StoreMismatchError, match="newer edkit"):
        ResultStore(db, model="hubbard", migrate=True)
    text = tmp_path / "notes.db"
    text.write_text("not a database, just text " * 100)
    with pytest.raises(StoreError, match="not an edkit results store"):
        ResultStore(text, model="hubbard")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not an edkit results store"):
        ResultStore(other, model="hubbard")
    with pytest.raises(StoreError, match="needs a model"):
        ResultStore(tmp_path / "missing.db")


def test_rerun_skips_finished_points_and_extends_the_grid(tmp_path):
    db = tmp_path / "r.db"
    a = run_sweep("hubbard", 2, ["U=0:2:3"], observables="energy", out=db, workers=1, progress=False)
    b = run_sweep("hubbard", 2, ["U=0:4:5"], observables="energy", out=db, workers=1, progress=False)
    assert (a.computed, b.computed, b.skipped) == (3, 2, 3)
    assert [r["U"] for r in b.rows] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert [r["finished"] for r in b.rows[:3]] == [r["finished"] for r in a.rows]  # not recomputed
    with ResultStore(db) as store:
        assert len(store) == 5


def test_csv_and_hdf5_round_trip(tmp_path):
    db = tmp_path / "r.db"
    # N=4 on the dimer: the charge gap needs N=6, which does not exist -> a missing value
    run_sweep("hubbard", 2, ["U=0:3:4"], observables=["gaps", "correlations"], sector={"N": 4, "Sz": 0},
              out=db, workers=1, progress=False)
    run_sweep("hubbard", 2, ["U=1/3"], observables="gaps", out=db, workers=1, progress=False)
    with ResultStore(db) as store:
        rows = store.rows()
        assert any(r.get("charge_gap", 0) is None for r in rows)
        assert any("SzSz:c:0:1" in r for r in rows)
        csv_rows = read_csv(store.export_csv(tmp_path / "r.csv"))
        pytest.importorskip("h5py")
        h5_rows = read_hdf5(store.export_hdf5(tmp_path / "r.h5"))
    cols = list(dict.fromkeys(k for r in rows for k in r))
    full = [{c: r.get(c) for c in cols} for r in rows]
    assert csv_rows == full  # exact: floats written with repr
    assert h5_rows == full
    assert [type(r["L"]) for r in h5_rows] == [int] * len(rows)
    assert list(csv_rows[0])[-1] == "key"  # bookkeeping columns last


def test_write_csv_of_plain_rows(tmp_path):
    rows = [{"a": 1, "b": 0.1, "c": "x"}, {"a": 2, "b": None, "d": 1e-300}]
    back = read_csv(write_csv(rows, tmp_path / "t.csv"))
    assert back == [{"a": 1, "b": 0.1, "c": "x", "d": None}, {"a": 2, "b": None, "c": None, "d": 1e-300}]


# -------------------------------------------------------------------------------- plots
def test_inverse_L_extrapolation_recovers_a_known_intercept():
    from edkit.plots import extrapolate_inverse_L

    rows = [{"L": L, "U": 1.0, "observable": "gaps", "gap": 0.5 + 2.0 / L - 3.0 / L**2} for L in (2, 3, 4, 6)]
    rows += [{"L": L, "U": 2.0, "observable": "gaps", "gap": 9.0} for L in (2, 3)]
    fit = extrapolate_inverse_L(rows, "gap", where={"U": 1.0}, order=2)
    assert fit["intercept"] == pytest.approx(0.5, abs=1e-12)
    assert fit["coefficients"] == pytest.approx([0.5, 2.0, -3.0], abs=1e-10)
    with pytest.raises(ValueError, match="several rows per L"):
        extrapolate_inverse_L(rows, "gap")
    with pytest.raises(ValueError, match="at least 3 sizes"):
        extrapolate_inverse_L(rows, "gap", where={"U": 2.0}, order=2)


def test_free_chain_extrapolates_to_the_bulk_bandwidth_gap(tmp_path):
    """U=0 open chain at half filling: the charge gap E(N+2)+E(N-2)-2E(N) is twice the level
    spacing at the Fermi level (free levels -2t cos(k pi/(L+1))), which closes as L -> infinity;
    a fit in 1/L of the ED data over L=2,4,6 extrapolates close to 0."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from edkit.plots import plot_extrapolation, plot_vs_parameter

    db = tmp_path / "r.db"
    run_sweep("hubbard", "2,4,6", ["U=0,1"], observables="gaps", out=db, workers=1, progress=False)
    for r in ResultStore(db).rows():
        if r["U"] == 0.0:  # independent: free levels -2cos(k pi/(L+1)), gap = 2(e_{L/2+1} - e_{L/2})
            L = r["L"]
            e = sorted(-2 * math.cos(k * math.pi / (L + 1)) for k in range(1, L + 1))
            assert r["charge_gap"] == pytest.approx(2 * (e[L // 2] - e[L // 2 - 1]), abs=1e-10)
    ax, fit = plot_extrapolation(db, "charge_gap", where={"U": 0.0}, order=2)
    assert abs(fit["intercept"]) < 0.15 and len(ax.lines) == 2
    ax = plot_vs_parameter(db, "U", "charge_gap")
    assert len(ax.lines) == 3  # one line per L
    assert ax.get_xlabel() == "U"


def test_a_schema_1_store_is_upgraded_by_a_sweep_and_read_as_it_is(tmp_path):
    """Stores written before claims existed (schema 1: meta and points only) keep working: a reader
    reads them unchanged, a sweep adds the claims and computation log (no --migrate needed: only
    tables are added), records the upgrade, and does not recompute their points."""
    db = tmp_path / "r.db"
    first = run_sweep("hubbard", 2, ["U=0,1"], observables="energy", out=db, workers=1, progress=False)
    with sqlite3.connect(db) as con:  # as the previous edkit wrote it
        con.execute("DROP TABLE claims")
        con.execute("DROP TABLE computed")
        con.execute("UPDATE meta SET value='1' WHERE key='schema'")
    with ResultStore(db) as reader:
        assert reader.meta["schema"] == "1" and len(reader.rows()) == 2
    with sqlite3.connect(db) as con:
        assert {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")} == {
            "meta", "points"}
    res = run_sweep("hubbard", 2, ["U=0,1,2"], observables="energy", out=db, workers=1, progress=False)
    assert (res.skipped, res.computed) == (2, 1)
    with ResultStore(db) as store:
        assert store.meta["schema"] == "2"
        assert '"from_schema":1' in store.meta["history"]
        log = store.computations()
        assert [r["key"] for r in log] == [r["key"] for r in first.records] + [res.records[2]["key"]]
        assert all(r["stored"] == 1 for r in log)
