r"""``edkit compare`` with error bars (issue 15, item 3): deviations in sigmas, chi^2, verdicts,
finite-temperature rows.

Independent truth: the Hubbard dimer (L=2, open, t=1, mu=0, U n_up n_dn), in closed form.

- T = 0, sector N=2, Sz=0: E0 = U/2 - sqrt(U^2/4 + 4t^2) (as in tests/test_tenpy.py).
- Finite temperature: the 16 levels (E, N) are N=0: 0; N=1: -t, -t, +t, +t; N=2: the triplet
  0, 0, 0, the antisymmetric ionic state U and U/2 -+ sqrt(U^2/4 + 4t^2); N=3: U - t, U - t,
  U + t, U + t (particle-hole images of N=1); N=4: 2U. Canonical at N=2: Boltzmann weights of the
  six N=2 levels; grand-canonical: all sixteen with exp(-beta (E - mu N)), energy <H> (no -mu N),
  specific heat beta^2 Var(H) (canonical) as the issue defines it.

The statistics (z, chi^2, p-value) are recomputed here by hand: z = (x - r)/sqrt(s_x^2 + s_r^2),
chi^2 = sum z^2, and for an even number of degrees of freedom 2k the closed form
p = exp(-chi^2/2) sum_{j<k} (chi^2/2)^j / j!.
"""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest

from edkit.cli import main
from edkit.workflows import compare_thermal
from edkit.workflows.compare import compare_file, compare_points


def e0(U: float, t: float = 1.0) -> float:
    return U / 2 - math.sqrt(U * U / 4 + 4 * t * t)


def levels(U: float, t: float = 1.0) -> list[tuple[float, int]]:
    """All 16 (energy, N) levels of the open Hubbard dimer."""
    r = math.sqrt(U * U / 4 + 4 * t * t)
    return ([(0.0, 0)] + [(-t, 1), (-t, 1), (t, 1), (t, 1)]
            + [(0.0, 2)] * 3 + [(U, 2), (U / 2 - r, 2), (U / 2 + r, 2)]
            + [(U - t, 3), (U - t, 3), (U + t, 3), (U + t, 3)] + [(2 * U, 4)])


def thermal_dimer(U: float, beta: float, mu: float | None = None) -> dict[str, float]:
    """Closed-form thermal energy, specific heat (and <N> grand-canonically) of the dimer."""
    lv = [(E, n) for E, n in levels(U) if mu is not None or n == 2]
    E = np.array([x[0] for x in lv])
    N = np.array([x[1] for x in lv], dtype=float)
    w = np.exp(-beta * ((E - (mu or 0.0) * N) - min(E - (mu or 0.0) * N)))
    w /= w.sum()
    energy = float(w @ E)
    out = {"energy": energy, "specific_heat": float(beta**2 * (w @ E**2 - energy**2))}
    if mu is not None:
        out["N"] = float(w @ N)
    return out


def p_even(chi2: float, dof: int) -> float:
    assert dof % 2 == 0
    x = chi2 / 2
    return math.exp(-x) * sum(x**j / math.factorial(j) for j in range(dof // 2))


def write_csv(path, rows):
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        w.writerows(rows)
    return path


# ------------------------------------------------------------------------- T = 0 statistics
OFFSETS = [(0.5, 0.01, 0.012), (2.0, 0.02, -0.03), (4.0, 0.005, 0.004), (6.0, 0.1, 0.25)]


def test_z_and_chi2_at_zero_temperature_match_the_hand_computation():
    rows = [{"model": "hubbard", "L": 2, "U": U, "N": 2, "Sz": 0, "energy": e0(U) + off, "energy_err": err}
            for U, err, off in OFFSETS]
    report = compare_points(rows)
    zs = [off / err for _, err, off in OFFSETS]
    got = [p.values[0] for p in report.points]
    assert [d.z for d in got] == pytest.approx(zs, rel=1e-9)
    assert all(d.ed_error is None and d.error == err for d, (_, err, _o) in zip(got, OFFSETS))
    assert [d.ok for d in got] == [abs(z) <= 3 for z in zs] == [True, True, True, True]
    chi2 = sum(z * z for z in zs)
    data = report.to_dict()
    assert data["chi2"] == pytest.approx(chi2, rel=1e-9) and data["dof"] == 4
    assert data["chi2_per_dof"] == pytest.approx(chi2 / 4, rel=1e-9)
    assert data["p_value"] == pytest.approx(p_even(chi2, 4), rel=1e-9)
    assert data["by_quantity"]["energy"]["dof"] == 4 and data["by_quantity"]["energy"]["n_flagged"] == 0
    # a verdict at a chosen number of sigmas: at 2 sigma, z = 2.5 (U=6) fails, the others pass
    tight = compare_points(rows, nsigma=2.0)
    assert [d.ok for p in tight.points for d in p.values] == [True, True, True, False]
    assert tight.to_dict()["chi2"] == pytest.approx(chi2, rel=1e-9)


def test_rows_without_error_bars_keep_the_tolerance_and_enter_no_chi2():
    rows = [{"model": "hubbard", "L": 2, "U": 2.0, "N": 2, "Sz": 0, "energy": e0(2.0) + 5e-7},
            {"model": "hubbard", "L": 2, "U": 4.0, "N": 2, "Sz": 0, "energy": e0(4.0) + 2e-6},
            {"model": "hubbard", "L": 2, "U": 1.0, "N": 2, "Sz": 0, "energy": e0(1.0) + 0.02,
             "energy_err": 0.01}]
    report = compare_points(rows)
    d = [p.values[0] for p in report.points]
    assert [x.ok for x in d] == [True, False, True] and d[0].z is None and d[1].z is None
    assert d[2].z == pytest.approx(2.0, rel=1e-9)
    data = report.to_dict()
    assert data["dof"] == 1 and data["chi2"] == pytest.approx(4.0, rel=1e-9)
    assert data["p_value"] == pytest.approx(math.erfc(2.0 / math.sqrt(2)), rel=1e-9)  # chi^2_1 tail
    assert {"ok", "n_values", "n_flagged", "atol", "rtol", "nsigma", "ignored_columns", "points"} <= set(data)


def test_long_format_rows_at_zero_temperature_and_the_text_report(tmp_path, capsys):
    rows = [{"model": "hubbard", "L": 2, "U": 4.0, "N": 2, "Sz": 0, "observable": "energy",
             "value": e0(4.0) - 0.025, "error": 0.01}]
    path = write_csv(tmp_path / "long.csv", rows)
    report = compare_file(path)
    (d,) = report.points[0].values
    assert d.quantity == "energy" and d.z == pytest.approx(-2.5, rel=1e-9) and d.ok
    assert main(["compare", str(path), "--nsigma", "2"]) == 1
    out = capsys.readouterr().out
    assert "± 1.00e-02" in out and "z -2.50" in out and "chi^2/dof = 6.25/1" in out
    assert "flagged: row 1 energy" in out and "|z| <= 2 sigma" in out


# ------------------------------------------------------------------------- finite temperature
BETAS = (0.5, 1.0, 2.0, 4.0)
SIGMA = 0.01


def qmc_rows(U: float = 4.0, mu: float | None = None, seed: int = 11, long: bool = False) -> list[dict]:
    """QMC-like rows: closed-form thermal values plus Gaussian noise of standard deviation SIGMA."""
    rng = np.random.default_rng(seed)
    rows = []
    for beta in BETAS:
        exact = thermal_dimer(U, beta, mu)
        base = {"model": "hubbard", "L": 2, "bc": "open", "U": U, "beta": beta}
        base.update({"N": 2} if mu is None else {"mu": mu})
        names = ["energy"] if mu is None else ["energy", "N"]
        for q in names:
            noisy = exact[q] + SIGMA * rng.standard_normal()
            if long:
                rows.append({**{k: v for k, v in base.items() if not (k == "N" and mu is not None)},
                             "observable": q, "value": noisy, "error": SIGMA})
            else:
                base[q] = noisy
                base[f"{q}_err"] = SIGMA
        if not long:
            rows.append(base)
    return rows


def _stub(ed_error: float = 0.0):
    calls = []

    def fake(model, values, *, betas, sector, mu, observables, method, samples, seed):
        calls.append((tuple(betas), mu, dict(sector or {})))
        pts = [{q: (thermal_dimer(values["U"], b, mu)[q], ed_error, "") for q in observables} for b in betas]
        return pts, "stub"

    return fake, calls


def test_thermal_rows_are_grouped_into_one_call_and_errors_add_in_quadrature(monkeypatch):
    fake, calls = _stub(ed_error=0.004)
    monkeypatch.setattr(compare_thermal, "thermal_values", fake)
    rows = qmc_rows()
    report = compare_points(rows)
    assert calls == [(BETAS, None, {"N": 2})]  # one call for all betas of the group
    for row, p in zip(rows, report.points):
        assert p.beta == row["beta"] and p.method == "stub"
        (d,) = p.values
        exact = thermal_dimer(4.0, row["beta"])["energy"]
        assert d.z == pytest.approx((row["energy"] - exact) / math.hypot(SIGMA, 0.004), rel=1e-9)
        assert d.ed_error == 0.004


def test_bad_rows_exit_2_naming_the_row_before_any_calculation(tmp_path, capsys, monkeypatch):
    def never(*a, **k):  # pragma: no cover
        raise AssertionError("computed before every row was checked")

    monkeypatch.setattr(compare_thermal, "thermal_values", never)
    good = {"model": "hubbard", "L": 2, "U": 4.0, "N": 2, "beta": 1.0, "energy": -1.0, "energy_err": 0.1}
    cases = [({"beta": 0}, r"row 2: beta must be > 0"),
             ({"beta": -1.5}, r"row 2: beta must be > 0"),
             ({"beta": "hot"}, r"row 2 beta: 'hot' is not a number"),
             ({"energy_err": 0}, r"row 2: error bar energy_err must be > 0"),
             ({"energy_err": -0.1}, r"row 2: error bar energy_err must be > 0"),
             ({"mu": 0.5, "N": "", "Sz": 0}, r"row 2: Sz: a grand-canonical row"),
             ({"charge_gap": 1.0}, r"row 2: 'charge_gap' is a T = 0 quantity"),
             ({"energy": "", "energy_err": ""}, r"row 2: nothing to compare")]
    for change, pattern in cases:
        path = write_csv(tmp_path / "bad.csv", [good, {**good, **change}])
        assert main(["compare", str(path)]) == 2, change
        assert re.search(pattern, capsys.readouterr().err), change
    long_bad = {k: v for k, v in good.items() if k not in ("energy", "energy_err")}
    for change, pattern in [({"observable": "entropy", "value": 1.0}, r"row 2: unknown observable 'entropy'"),
                            ({"observable": "energy", "value": 1.0, "error": 0},
                             r"row 2: error bar energy_err must be > 0"),
                            ({"observable": "energy"}, r"row 2: observable 'energy' without a value")]:
        path = write_csv(tmp_path / "bad.csv", [good, {**long_bad, **change}])
        assert main(["compare", str(path)]) == 2, change
        assert re.search(pattern, capsys.readouterr().err), change
    path = write_csv(tmp_path / "ok.csv", [good])
    assert main(["compare", str(path), "--samples", "0"]) == 2
    assert "samples must be an integer >= 1" in capsys.readouterr().err


def _thermal_engine():
    mod = pytest.importorskip("edkit.thermodynamics", reason="no thermal engine")
    if not hasattr(mod, "thermal_averages"):
        pytest.skip("the thermal engine (edkit.thermodynamics.thermal_averages) is not there yet")
    return mod


@pytest.mark.parametrize("long", [False, True])
def test_qmc_like_canonical_energies_pass_at_three_sigma_and_a_shifted_row_fails(tmp_path, capsys, long):
    _thermal_engine()
    rows = qmc_rows(long=long)
    path = write_csv(tmp_path / "qmc.csv", rows)
    assert main(["compare", str(path), "--json", "--method", "exact"]) == 0
    data = json.loads(capsys.readouterr().out)
    zs = []
    for row, p in zip(rows, data["points"]):
        (v,) = p["values"]
        value = row["energy"] if not long else row["value"]
        z = (value - thermal_dimer(4.0, row["beta"])["energy"]) / SIGMA
        assert v["z"] == pytest.approx(z, abs=1e-6) and v["ok"] and abs(z) <= 3
        assert not v["ed_error"]  # exact ED: no error of its own
        zs.append(z)
    assert data["ok"] and data["dof"] == len(BETAS)
    assert data["chi2"] == pytest.approx(sum(z * z for z in zs), abs=1e-6)
    assert data["p_value"] == pytest.approx(p_even(data["chi2"], len(BETAS)), rel=1e-6)
    key = "energy" if not long else "value"
    rows[2][key] += 6 * SIGMA  # a row 6 sigma off
    path = write_csv(tmp_path / "shifted.csv", rows)
    assert main(["compare", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FLAGGED" in out and "flagged: row 3 energy" in out and "chi^2/dof" in out


def test_qmc_like_grand_canonical_energy_and_density(tmp_path, capsys):
    _thermal_engine()
    rows = qmc_rows(mu=0.7)
    path = write_csv(tmp_path / "gc.csv", rows)
    assert main(["compare", str(path), "--json", "--method", "exact"]) == 0
    data = json.loads(capsys.readouterr().out)
    for row, p in zip(rows, data["points"]):
        exact = thermal_dimer(4.0, row["beta"], mu=0.7)
        got = {v["quantity"]: v for v in p["values"]}
        assert set(got) == {"energy", "N"} and p["mu"] == 0.7
        for q in ("energy", "N"):
            assert got[q]["ed"] == pytest.approx(exact[q], abs=1e-9)
    assert data["by_quantity"]["N"]["dof"] == len(BETAS) == data["by_quantity"]["energy"]["dof"]


def test_ftlm_on_the_ed_side_adds_its_error_in_quadrature(tmp_path, capsys):
    """Hubbard ring L=6, N=6 (924 states over all Sz; the Sz sectors above 100 states are sampled by
    FTLM): the truth is the Fock oracle's N=6 block, fully diagonalized here."""
    _thermal_engine()
    from edkit.models import build_model
    from tests.helpers.fock import number_operator_diagonal, restrict
    from tests.helpers.model_fock import full_matrix

    model = build_model("hubbard", 6, "periodic")
    H = full_matrix(model, model.resolve({"U": 4.0}))
    states = np.flatnonzero(number_operator_diagonal(len(model.modes), range(len(model.modes))) == 6)
    E = np.linalg.eigvalsh(restrict(H, states).toarray())
    rng = np.random.default_rng(5)
    rows = []
    for beta in (0.5, 1.0, 2.0):
        w = np.exp(-beta * (E - E[0]))
        exact = float(w @ E / w.sum())
        rows.append({"model": "hubbard", "L": 6, "bc": "periodic", "U": 4.0, "N": 6, "beta": beta,
                     "energy": exact + SIGMA * rng.standard_normal(), "energy_err": SIGMA})
    path = write_csv(tmp_path / "ring.csv", rows)
    assert main(["compare", str(path), "--json", "--method", "ftlm", "--samples", "20"]) == 0
    data = json.loads(capsys.readouterr().out)
    for row, p in zip(rows, data["points"]):
        (v,) = p["values"]
        assert p["method"] == "ftlm" and v["ed_error"] > 0
        assert v["z"] == pytest.approx((row["energy"] - v["ed"]) / math.hypot(SIGMA, v["ed_error"]), rel=1e-9)
        assert v["tolerance"] == pytest.approx(3 * math.hypot(SIGMA, v["ed_error"]), rel=1e-9)
        w = np.exp(-row["beta"] * (E - E[0]))
        assert abs(v["ed"] - float(w @ E / w.sum())) < 3 * v["ed_error"]  # FTLM within its error bar
