"""FTLM (issue 15, item 1): within its error bars of the exact averages, error bars ~ 1/sqrt(R),
the same on the stored and the matrix-free operator, reproducible, and honest at low temperature.

The exact reference is itself checked against brute force in tests/test_thermal.py; here the FTLM
estimates are checked statistically (a deviation beyond 4.5 error bars fails; a seeded run, so
the outcome is fixed).
"""

from __future__ import annotations

import numpy as np
import pytest

import edkit.thermodynamics.sector as sector_module
from edkit.models import build_model
from edkit.thermodynamics import thermal_averages

MODEL = build_model("hubbard", 6, "open")
VALUES = {"U": 4.0}
SECTOR = {"N": 6, "Sz": 0}  # 400 states
BETAS = [0.3, 1.0]
COLS = ["N:c:0:1", "C:c:0:2", "S:c:0:1", "SzSz:c:1:3", "SxSx:c:0:1"]
QUANTITIES = ["energy", "specific_heat", "double_occupancy", *COLS]


@pytest.fixture(scope="module")
def exact():
    return thermal_averages(MODEL, VALUES, betas=BETAS, sector=SECTOR, method="exact", observables=COLS)


def _within(ftlm, exact, nsigma=4.5):
    for p, q in zip(ftlm.points, exact.points):
        for name in QUANTITIES:
            err = p[f"{name}_error"]
            assert err > 0, name
            assert abs(p[name] - q[name]) <= nsigma * err + 1e-12, (name, p["beta"], p[name], q[name], err)


def test_ftlm_within_error_bars_of_exact(exact):
    res = thermal_averages(MODEL, VALUES, betas=BETAS, sector=SECTOR, method="ftlm", samples=30, steps=40,
                           observables=COLS)
    assert res.method == "ftlm" and res["sectors"][0]["backend"] == "matrix-free"
    assert res["samples"] == 30 and not any(p["low_temperature"] for p in res.points)
    _within(res, exact)


def test_ftlm_on_the_stored_operator(exact, monkeypatch):
    monkeypatch.setattr(sector_module, "backend_name", lambda *a, **k: "stored")
    res = thermal_averages(MODEL, VALUES, betas=BETAS, sector=SECTOR, method="ftlm", samples=30, steps=40,
                           observables=COLS)
    assert res["sectors"][0]["backend"] == "stored"
    _within(res, exact)


def test_error_bars_shrink_as_one_over_sqrt_samples():
    few = thermal_averages(MODEL, VALUES, betas=[0.5], sector=SECTOR, method="ftlm", samples=10, steps=30)
    many = thermal_averages(MODEL, VALUES, betas=[0.5], sector=SECTOR, method="ftlm", samples=160, steps=30)
    for name in ("energy", "double_occupancy"):
        ratio = few.points[0][f"{name}_error"] / many.points[0][f"{name}_error"]
        assert 2.0 < ratio < 8.0, (name, ratio)  # sqrt(160 / 10) = 4


def test_canonical_and_grand_canonical_ftlm_with_exact_small_sectors():
    model = build_model("hubbard", 4, "open")
    exact = thermal_averages(model, VALUES, betas=[0.5], mu=0.5, method="exact")
    res = thermal_averages(model, VALUES, betas=[0.5], mu=0.5, method="ftlm", samples=40, steps=20)
    kinds = {s["method"] for s in res["sectors"]}
    assert kinds == {"exact", "ftlm"}  # sectors of at most `steps` states are diagonalized
    for name in ("energy", "N", "specific_heat", "charge_susceptibility", "spin_susceptibility"):
        p, q = res.points[0], exact.points[0]
        assert abs(p[name] - q[name]) <= 4.5 * p[f"{name}_error"] + 1e-12, name


def test_reproducible_with_the_seed():
    kw = dict(betas=[1.0], sector=SECTOR, method="ftlm", samples=3, steps=15, observables=["N:c:0:1"])
    a = thermal_averages(MODEL, VALUES, seed=5, **kw)
    b = thermal_averages(MODEL, VALUES, seed=5, **kw)
    c = thermal_averages(MODEL, VALUES, seed=6, **kw)
    assert a.points == b.points and a.points[0]["energy"] != c.points[0]["energy"]


def test_low_temperature_is_flagged_and_operators_are_withheld(exact):
    res = thermal_averages(MODEL, VALUES, betas=[0.3, 30.0], sector=SECTOR, method="ftlm", samples=8,
                           steps=60, observables=["N:c:0:1"])
    cold = res.points[1]
    assert cold["low_temperature"] and not res.points[0]["low_temperature"]
    assert cold["N:c:0:1"] is None and cold["double_occupancy"] is None
    assert cold["energy"] == pytest.approx(res["ground_energy"], abs=1e-3)
    assert any("low temperature" in w and "ground_energy" in w for w in res.warnings)


def test_one_sample_has_no_error_bar():
    res = thermal_averages(MODEL, VALUES, betas=[0.5], sector=SECTOR, method="ftlm", samples=1, steps=20)
    assert res.points[0]["energy_error"] is None and np.isfinite(res.points[0]["energy"])
    assert any("one FTLM sample" in w for w in res.warnings)
