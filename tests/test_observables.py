"""The observable registry (edkit.observables): columns, closed forms, extension, errors.

Independent truths used here: the two-site Hubbard dimer's levels, derived by hand below; free
fermions on an open chain (single-particle levels -2t cos(k pi/(L+1))); the analytic Drude weight
(second-order perturbation theory) for the finite differences; the batched stability diagram for
the per-point charge states. No number printed by the code under test is used as a reference.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edkit.observables as obs
from edkit.api import GAP_NAMES, gaps
from edkit.cli import GAP_CHOICES
from edkit.cli import main as cli_main
from edkit.core.errors import EdkitError
from edkit.core.model import Capabilities
from edkit.models import build_model
from edkit.observables import (
    Energy,
    Gap,
    Observable,
    ObservableError,
    SectorEnergies,
    UnknownObservableError,
    evaluate,
    get,
    names,
    owners,
    register,
    unregister,
)

ROOT = Path(__file__).resolve().parents[1]

#: What the family factories (edkit.models.*) must declare for their family observables.
FAMILY_CAPABILITIES = {
    "two-wire": Capabilities(family="two-wire", space="two-wire-product", observables=("binding", "drude")),
    "hamo": Capabilities(family="polarizer", observables=("stability",)),
}


def built(name: str, L: int | None, bc: str = "open"):
    return build_model(name, L, bc)


# model, values, sector, options per small case; every registered observable must apply to one
WIRES = {"U": 2.0, "V": 1.5, "V_d": 0.4, "V_s": 1.0, "t_s": 0.8}  # non-degenerate at N=2, N_s=1
CASES = [
    ("hubbard", 4, "periodic", {"U": 4.0}, {"N": 4, "Sz": 0}),
    ("kbp", 2, "open", {"U": 3.0, "t_perp": 0.6}, None),
    ("two-wire", 4, "periodic", WIRES, {"N": 2, "N_s": 1}),
    ("hamo", None, "open", {"eps_L": -0.3, "eps_R": 0.2}, None),
]
OPTIONS = {"spectrum": {"nev": 3}}


def _is_number_or_none(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))


# ----------------------------------------------------------------------------- registry
def test_import_is_light():
    code = ("import sys, edkit.observables as o, edkit.workflows.points\n"
            "assert {'energy', 'spectrum', 'gaps', 'correlations'} <= set(o.REGISTRY)\n"
            "print(sorted(m for m in ('numpy', 'scipy', 'quspin', 'numba', 'edkit.engine.solve') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_observable_gives_the_columns_it_declares():
    covered = set()
    for name, L, bc, values, sector in CASES:
        m = built(name, L, bc)
        for o in names(m):
            options = OPTIONS.get(o, {})
            out = evaluate(o, m, values, sector, options)
            assert list(out) == get(o).columns(m, options), (name, o)
            assert all(_is_number_or_none(v) for v in out.values()), (name, o, out)
            covered.add(o)
    assert covered == set(names()), f"observables without a small test model: {set(names()) - covered}"


def test_applicability_reads_capabilities_not_the_name():
    wires = built("two-wire", 4, "periodic")
    assert {"binding", "drude"} <= set(names(wires))
    assert not {"binding", "drude", "stability"} & set(names(built("hubbard", 4)))
    renamed = built("two-wire", 4, "periodic")
    renamed.name = "my-wires"  # another name, same family: still offered
    out = evaluate("binding", renamed, WIRES, {"N": 2, "N_s": 1})
    assert out["pair_binding"] is not None
    bare = build_model("two-wire", 4, "periodic")
    bare.capabilities = Capabilities()  # the same Hamiltonian without the declaration: not offered
    assert "binding" not in names(bare)
    with pytest.raises(ObservableError, match="does not offer"):
        evaluate("binding", bare, WIRES, {"N": 2, "N_s": 1})
    assert "open chain" in get("drude").applies(built("two-wire", 4, "open"))
    assert "spinless" in get("correlations").applies(built("hamo", None))


def test_family_capabilities_are_declared_by_the_factories():
    for name, caps in FAMILY_CAPABILITIES.items():
        m = build_model(name, None if name == "hamo" else 4, "periodic" if name == "two-wire" else "open")
        assert m.capabilities.family == caps.family
        assert set(caps.observables) <= set(m.capabilities.observables)
        assert m.capabilities.space == caps.space


def test_unknown_names_and_options_are_refused_with_the_choices():
    with pytest.raises(UnknownObservableError) as err:
        get("charge")
    assert isinstance(err.value, EdkitError) and isinstance(err.value, ValueError)
    for name in ("energy", "spectrum", "gaps", "correlations", "binding", "drude", "stability"):
        assert name in str(err.value)
    with pytest.raises(UnknownObservableError, match="nonsense"):
        evaluate("nonsense", built("hubbard", 2), {}, None)
    with pytest.raises(ObservableError, match="has no option.*nev"):
        evaluate("energy", built("hubbard", 2), {}, None, {"nev": 2})
    with pytest.raises(ValueError, match="unknown gap name"):
        gaps("hubbard", {}, N=2, L=2, only="charge")


def test_gap_names_are_spelled_once():
    assert GAP_CHOICES == GAP_NAMES == obs.GAP_NAMES == tuple(g.name for g in obs.GAPS)
    m = built("hubbard", 2)
    assert get("gaps").columns(m) == ["energy", *GAP_NAMES]


def test_owners_pick_one_evaluation_per_observable():
    found = owners(["energy", "E2", "E0", "charge_gap", "neutral_gap", "SzSz:c:0:1", "C:c:2:0", "D_12",
                    "trion_binding", "bond_dimension", "dimension"])
    assert found == {
        "spectrum": {"nev": 3},
        "gaps": {"only": ["charge_gap", "neutral_gap"]},  # and energy: gaps gives it anyway
        "correlations": {"reference": [0, 2], "layers": ["c"]},
        "drude": {},
        "binding": {},
    }
    assert owners(["energy"]) == {"energy": {}}


# ------------------------------------------------------------------ gaps: closed forms
def _dimer(U: float, t: float = 1.0) -> dict[str, float]:
    """Hubbard dimer energies by hand: E(N) at the lowest |Sz|, and E(2, Sz=1)."""
    root = math.sqrt(U * U + 16 * t * t)
    return {"E0": 0.0, "E1": -t, "E2": (U - root) / 2, "E2_triplet": 0.0, "E3": U - t, "E4": 2 * U,
            "neutral": min(0.0, U, (U + root) / 2) - (U - root) / 2}


@pytest.mark.parametrize("U", [0.5, 4.0, 9.0])
def test_dimer_gaps_from_the_registry_equal_the_closed_forms(U):
    e = _dimer(U)
    out = evaluate("gaps", built("hubbard", 2), {"U": U}, {"N": 2, "Sz": 0})
    assert out["energy"] == pytest.approx(e["E2"], abs=1e-12)
    assert out["charge_gap"] == pytest.approx(e["E4"] + e["E0"] - 2 * e["E2"], abs=1e-12)
    assert out["charge_gap"] == pytest.approx(U + math.sqrt(U * U + 16), abs=1e-12)
    assert out["pair_binding"] == pytest.approx(e["E4"] + e["E2"] - 2 * e["E3"], abs=1e-12)
    assert out["spin_gap"] == pytest.approx(e["E2_triplet"] - e["E2"], abs=1e-12)
    assert out["neutral_gap"] == pytest.approx(e["neutral"], abs=1e-12)


def test_free_fermion_gaps_on_an_open_chain():
    L = 4
    eps = sorted(-2 * math.cos(k * math.pi / (L + 1)) for k in range(1, L + 1))
    out = evaluate("gaps", built("hubbard", L), {"U": 0.0}, {"N": 4, "Sz": 0})
    # N=4: levels 1, 2 doubly occupied; N=6 adds level 3 twice; N=5 once; Sz=1 moves one spin up
    assert out["energy"] == pytest.approx(2 * (eps[0] + eps[1]), abs=1e-12)
    assert out["charge_gap"] == pytest.approx(2 * (eps[2] - eps[1]), abs=1e-12)
    assert out["pair_binding"] == pytest.approx(0.0, abs=1e-12)
    assert out["spin_gap"] == pytest.approx(eps[2] - eps[1], abs=1e-12)
    assert out["neutral_gap"] == pytest.approx(eps[2] - eps[1], abs=1e-12)


def test_a_single_gap_name_is_a_list_of_one():
    one = gaps("hubbard", {"U": 4.0}, N=2, L=2, only="charge_gap")
    listed = gaps("hubbard", {"U": 4.0}, N=2, L=2, only=["charge_gap"])
    assert one["charge_gap"] == listed["charge_gap"] == pytest.approx(4 + math.sqrt(32), abs=1e-12)
    assert one["spin_gap"] is one["pair_binding"] is one["neutral_gap"] is None
    assert {r["N"] for r in one["sector_energies"]} == {0, 2, 4}


def test_a_new_gap_is_one_table_entry():
    """hole binding E(N-2) + E(N) - 2E(N-1) on the dimer at N=2: E0 + E2 - 2E1 by hand."""
    hole = Gap("hole_binding", "E(N-2) + E(N) - 2E(N-1)", ((1, Energy(-2)), (1, Energy(0)), (-2, Energy(-1))))
    m = built("hubbard", 2)
    energies = SectorEnergies(m, m.resolve({"U": 4.0}), 2, 0.0, {})
    e = _dimer(4.0)
    assert energies.evaluate(hole) == pytest.approx(e["E0"] + e["E2"] - 2 * e["E1"], abs=1e-12)
    assert [r["N"] for r in energies.table] == [0, 2, 1]  # each sector solved once, in formula order


# ------------------------------------------------------------------ family observables
def test_fd_drude_weights_agree_with_the_analytic_ones():
    """Richardson-extrapolated finite differences on an interacting 4-site ring (64 states)."""
    from edkit.studies.drag import drude_weights

    m = built("two-wire", 4, "periodic")
    a = drude_weights(m, WIRES, N=2, extra={"N_s": 1})
    f = drude_weights(m, WIRES, N=2, extra={"N_s": 1}, method="fd")
    assert abs(a["D_12"]) > 1e-3  # coupled rings: a genuine drag weight
    for key in ("D_11", "D_12", "D_22"):
        assert f[key] == pytest.approx(a[key], rel=1e-6), key


def test_resolvent_by_conjugate_gradients_equals_the_dense_one(monkeypatch):
    from edkit.studies import drag

    m = built("two-wire", 4, "periodic")
    dense = drag.drude_weights(m, WIRES, N=2, extra={"N_s": 1})  # 64 states: full eigendecomposition
    monkeypatch.setattr(drag, "RESOLVENT_DENSE_LIMIT", 0)
    cg = drag.drude_weights(m, WIRES, N=2, extra={"N_s": 1})
    np.testing.assert_allclose(cg["D"], dense["D"], rtol=1e-8, atol=1e-12)


def test_drude_energies_use_the_solver_dense_limit():
    from edkit.engine import solver
    from edkit.studies import drag

    assert drag.DENSE_LIMIT is solver.DENSE_LIMIT  # imported, not a second value


def test_the_stability_observable_gives_the_diagram_label_point_by_point():
    from edkit.studies.stability import stability_diagram

    m = built("hamo", None)
    base = {"U": 0.925, "W": 0.83, "delta": 1.01, "t": 0.05}
    for V, dV in ((-1.0, 0.0), (0.3, 0.4), (0.3, -0.4), (1.6, 0.05)):
        d = stability_diagram(m, base, V=[V], dV=[dV])
        point = evaluate("stability", m, {**base, "eps_L": -(V + dV), "eps_R": -(V - dV)}, None)
        assert d["labels"][0][0] == f"({point['n_L']},{point['n_R']})"
        ground = min(point[f"E_{a}{b}"] for a, b in ((0, 0), (1, 0), (0, 1), (1, 1)))
        assert d["energy"][0][0] == pytest.approx(ground, abs=1e-10)
        assert point["W_eff"] == pytest.approx(point["E_11"] + point["E_00"] - point["E_10"] - point["E_01"])


# ----------------------------------------------------------------- adding an observable
@pytest.fixture
def toy():
    """A toy observable registered from a test: U + N, read from the values and the sector."""

    def compute(model, values, sector, options):
        return {"toy": model.resolve(values)["U"] * options["scale"] + sector["N"]}

    o = register(Observable(name="toy", summary="U * scale + N (a test observable)", compute_fn=compute,
                            options={"scale": 1.0}, column_names=("toy",)))
    yield o
    unregister("toy")


def test_a_registered_observable_reaches_evaluate_sweep_compare_and_the_cli(toy, capsys):
    from edkit.workflows.compare import compare_points
    from edkit.workflows.points import evaluate as evaluate_point
    from edkit.workflows.sweep import run_sweep

    m = built("hubbard", 2)
    assert evaluate("toy", m, {"U": 3.0}, {"N": 2, "Sz": 0}) == {"toy": 5.0}
    assert evaluate("toy", m, {"U": 3.0}, None, {"scale": 2.0}) == {"toy": 8.0}
    task = {"model": "hubbard", "L": 2, "bc": "open", "params": m.resolve({"U": 1.5}),
            "sector": {"N": 2, "Sz": 0.0}, "observable": "toy", "options": {}}
    assert evaluate_point(task) == {"toy": 3.5}
    res = run_sweep("hubbard", 2, ["U=0,1"], observables="toy", workers=1, progress=False)
    assert [(r["U"], r["toy"]) for r in res.rows] == [(0.0, 2.0), (1.0, 3.0)]
    report = compare_points([{"model": "hubbard", "L": 2, "U": 3.0, "toy": 5.0}])
    assert report.ok and [v.quantity for v in report.points[0].values] == ["toy"]
    assert cli_main(["observables", "--json"]) == 0
    listed = {o["name"]: o for o in json.loads(capsys.readouterr().out)["observables"]}
    assert listed["toy"] == {"name": "toy", "summary": "U * scale + N (a test observable)",
                             "options": {"scale": 1.0}, "kind": "ground-state"}
    assert cli_main(["observables", "--model", "hubbard", "--L", "2"]) == 0
    text = capsys.readouterr().out
    assert "toy" in text and "U * scale + N" in text
    with pytest.raises(ValueError, match="already registered"):
        register(Observable(name="toy", summary="again", compute_fn=toy.compute_fn, column_names=("toy",)))


def test_cli_lists_which_observables_apply_to_a_model(capsys):
    assert cli_main(["observables", "--model", "two-wire", "--L", "4", "--bc", "open", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {o["name"]: o for o in data["observables"]}
    assert rows["gaps"]["applies"] and rows["gaps"]["columns"] == ["energy", *GAP_NAMES]
    assert not rows["stability"]["applies"] and rows["stability"]["reason"]
    assert cli_main(["observables", "--model", "nosuchmodel"]) == 2
    assert "unknown model" in capsys.readouterr().err
