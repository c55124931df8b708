"""DMRG cross-checks: the TeNPy export of edkit models (same operator, checked through TeNPy's own
full diagonalization of the exported MPO and through DMRG on the bilayer), and ``edkit compare`` on
a results file made from closed forms.

The TeNPy tests skip when physics-tenpy is not installed; the compare tests do not need it.

Independent truth for ``compare``: the Hubbard dimer (L=2, open, t=1, mu=0). In the sector
N=2, Sz=0 the ground state lies in the 2x2 block of the covalent singlet and the symmetric ionic
state, [[0, -2t], [-2t, U]], so E0 = U/2 - sqrt(U^2/4 + 4t^2) and the covalent weight is
a^2 = 1/(1 + E0^2/(4t^2)); <Sz_0 Sz_1> = -a^2/4 (covalent singlet -1/4, ionic 0) and
<(n_0 - 1)(n_1 - 1)> = -(1 - a^2). Other sectors: E(N=1) = -t, E(N=3) = U - t, E(N=4) = 2U,
E(N=0) = 0, triplet E(N=2, Sz=1) = 0.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from edkit.api import correlations, spectrum
from edkit.cli import main
from edkit.core import operators as ops
from edkit.models import build_model
from edkit.workflows.compare import CompareError, compare_file


def dimer(U: float, t: float = 1.0) -> dict:
    e0 = U / 2 - math.sqrt(U * U / 4 + 4 * t * t)
    a2 = 1 / (1 + e0 * e0 / (4 * t * t))
    return {"E0": e0, "SzSz": -a2 / 4, "NN": -(1 - a2), "E1": -t, "E3": U - t, "E4": 2 * U}


# ----------------------------------------------------------------------------- compare
def _dimer_csv(path, wrong: bool):
    rows = []
    for U in (0.5, 2.0, 4.0):
        d = dimer(U)
        rows.append({"model": "hubbard", "L": 2, "U": U, "N": 2, "Sz": 0, "energy": d["E0"],
                     "SzSz:c:0:1": d["SzSz"], "N:c:0:1": d["NN"], "charge_gap": d["E4"] - 2 * d["E0"],
                     "spin_gap": -d["E0"], "pair_binding": d["E0"] + 2.0, "chi": 64})
        rows.append({"model": "hubbard", "L": 2, "U": U, "N": 3, "Sz": 0.5, "energy": d["E3"], "chi": 64})
    if wrong:
        rows[2]["energy"] += 1e-3  # U=2, N=2: a wrong DMRG energy
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        w.writerows(rows)
    return path


def test_compare_closed_forms_report_zero_deviation(tmp_path):
    report = compare_file(_dimer_csv(tmp_path / "dimer.csv", wrong=False))
    assert report.ok and report.n_values == 3 * 6 + 3
    assert max(abs(d.deviation) for p in report.points for d in p.values) < 1e-12
    assert report.ignored_columns == ["chi"]


def test_compare_flags_exactly_the_wrong_row(tmp_path, capsys):
    path = _dimer_csv(tmp_path / "dimer.csv", wrong=True)
    report = compare_file(path)
    flagged = report.flagged
    assert [(d.row, d.quantity) for d in flagged] == [(3, "energy")]
    assert flagged[0].deviation == pytest.approx(1e-3, abs=1e-12)
    assert main(["compare", str(path)]) == 1  # exit 1: a value disagrees
    out = capsys.readouterr().out
    assert "FLAGGED" in out and "flagged: row 3 energy" in out
    assert main(["compare", str(path), "--atol", "2e-3"]) == 0  # within a looser tolerance


def test_compare_lists_columns_it_does_not_know(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(f"model,L,W,trunc_err,energy\nhubbard,2,1,1e-9,{dimer(4.0)['E0']}\n")
    report = compare_file(path)
    assert report.ok and report.ignored_columns == ["W", "trunc_err"]
    assert "ignored columns: W, trunc_err" in report.text()


def test_compare_json_with_nested_points_and_error_bars(tmp_path):
    d = dimer(3.0)
    data = {"model": "hubbard", "L": 2, "points": [
        {"params": {"U": 3.0}, "sector": {"N": 2, "Sz": 0}, "energy": d["E0"] + 0.01, "energy_err": 0.005,
         "correlators": {"SzSz:c:0:1": d["SzSz"]}},
        {"params": {"U": 3.0}, "sector": {"N": 2, "Sz": 0}, "energy": d["E0"] + 0.02, "energy_err": 0.005},
    ]}
    path = tmp_path / "qmc.json"
    path.write_text(json.dumps(data))
    report = compare_file(path)
    assert [d.ok for p in report.points for d in p.values] == [True, True, False]  # 2 sigma ok, 4 not


@pytest.mark.parametrize("text, words", [
    ("model,L,U,energy\nhubbard,2,abc,1\n", "not a number"),
    ("L,U,energy\n2,1,1\n", "no model"),
    ("model,L,energy,N\nhubbard,2,1,9\n", "N=9"),
    ("model,L,U\nhubbard,2,1\n", "nothing to compare"),
    ("model,L,SzSz:q:0:1\nhubbard,2,0.1\n", "layer 'q'"),
    ("model,L,energy\nhubbard,2.5,1\n", "positive integer"),
])
def test_compare_refuses_bad_files(tmp_path, text, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CompareError, match=words):
        compare_file(path)
    assert main(["compare", str(path)]) == 2


# ----------------------------------------------------------------------------- TeNPy
def _sector_levels(export, model, N, Sz):
    """All levels of the exported MPO in the charge sector (N, 2Sz), by TeNPy's own ED."""
    from tenpy.algorithms.exact_diag import ExactDiag

    ed = ExactDiag(export.tenpy_model)
    ed.build_full_H_from_mpo()
    ed.full_diagonalization()
    sec = model.sector(N, Sz)
    charges = [tuple(q) for q in ed.V.legs[1].to_qflat()]
    return np.sort([e for e, q in zip(ed.E, charges) if q == (sec.n_up + sec.n_dn, sec.n_up - sec.n_dn)])


@pytest.mark.parametrize("name, L, bc, N, Sz, values", [
    ("hubbard", 3, "periodic", 2, 0.0, {"U": 2.7, "mu": 0.3}),  # even N on a ring
    ("hubbard", 3, "periodic", 3, 0.5, {"U": 2.7, "mu": 0.3}),  # odd N on a ring
    ("kbp", 2, "open", 4, 0.0, {"U": 3.1, "t_perp": 0.7, "t_m": 1.3, "mu_p": -1.2, "mu_m": 0.4}),
    ("kbp", 2, "open", 3, 0.5, {"U": 3.1, "t_perp": 0.7, "t_m": 1.3, "mu_p": -1.2, "mu_m": 0.4}),
    ("anderson", 2, "open", 4, 0.0, {}),
])
def test_exported_operator_has_the_full_quspin_spectrum(name, L, bc, N, Sz, values):
    pytest.importorskip("tenpy")
    from edkit.engine.tenpy_export import to_tenpy

    m = build_model(name, L, bc)
    levels = _sector_levels(to_tenpy(m, values), m, N, Sz)
    ed = spectrum(m, values, N=N, Sz=Sz, nev=10_000)["energies"]
    assert len(levels) == len(ed)
    np.testing.assert_allclose(levels, ed, atol=1e-11)


@pytest.mark.parametrize("name, N, Sz", [("kbp-eff", 4, 0.0), ("kondo", 2, 0.0), ("kondo", 1, 0.5)])
def test_constraints_become_a_penalty_above_every_allowed_level(name, N, Sz):
    pytest.importorskip("tenpy")
    from edkit.engine.tenpy_export import product_state, to_tenpy

    m = build_model(name, 2, "open")
    export = to_tenpy(m, {})
    levels = _sector_levels(export, m, N, Sz)
    ed = spectrum(m, {}, N=N, Sz=Sz, nev=10_000)["energies"]
    np.testing.assert_allclose(levels[: len(ed)], ed, atol=1e-11)  # allowed levels unchanged
    assert levels[len(ed)] > max(ed) + 1  # every forbidden state lies above
    init = product_state(export, N, Sz)
    for (layer, _), label in zip(export.order, init):
        if layer == "p":
            assert label in (("empty", "full") if name == "kbp-eff" else ("up", "down"))


def test_dmrg_on_the_bilayer_agrees_with_ed():
    pytest.importorskip("tenpy")
    from edkit.engine.tenpy_export import dmrg_ground_state, mps_order

    m = build_model("kbp", 3, "open")
    values = {"U": 4.0, "t_perp": 0.5, "t_m": 1.0}
    assert mps_order(m)[:3] == [("p", 0), ("m", 0), ("p", 1)]
    res = dmrg_ground_state(m, values, N=6, Sz=0.0, chi_max=64, mixer=False)  # chi 64 = 4^3: exact
    ed_levels = spectrum(m, values, N=6, Sz=0.0, nev=2)["energies"]
    assert ed_levels[1] - ed_levels[0] > 1e-3  # non-degenerate ground state: correlators well defined
    assert abs(res["energy"] - ed_levels[0]) < 1e-9
    ed = correlations(m, values, N=6, Sz=0.0)
    export, psi = res["export"], res["psi"]
    for layer in ("p", "m"):
        for j in range(3):
            a, b = (layer, 0), (layer, j)
            assert export.expectation(psi, ops.pair_pair(a, b)) == pytest.approx(
                ed["layers"][layer]["C"][j], abs=1e-5)
            assert export.expectation(psi, ops.density_density(a, b)) == pytest.approx(
                ed["layers"][layer]["N"][j], abs=1e-5)
            assert export.expectation(psi, ops.spin_spin(a, b, "z")) == pytest.approx(
                ed["layers"][layer]["SzSz"][j], abs=1e-5)
