"""Issue 14 end to end: matrix-free levels, vectors and correlators through the public API and the CLI.

The planner's threshold (``MATRIX_FREE_DIMENSION``) or the memory limit (``EDKIT_MEMORY_LIMIT``) is
lowered so that small sectors take the path the 7- and 8-rung bilayers take. Independent truths: the
stored QuSpin path of the same API (another basis, order and code), and the Anderson-lattice identity
:math:`2C(i,j) = (-1)^{i-j} N(i,j)` of the half-filled KBP ladder at ``mu_p = -U/2, mu_m = 0``
(particle-hole map and SU(2); ``mappings/verifications/correlators.py``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import edkit.engine.planning as planning
from edkit.api import correlations, expectation, gaps, ground_states, spectrum
from edkit.cli import main
from edkit.core import operators as ops
from edkit.engine.solve import MatrixFreeSpace
from edkit.models import build_model

#: Keys only the stored path gives (block labels from QuSpin's basis) and only the matrix-free one.
LABEL_KEYS = {"symmetries", "levels", "ground_block"}
MATRIX_FREE_KEYS = {"labels_note", "residuals", "degeneracies_note"}


@pytest.fixture
def large(monkeypatch):
    """Every sector of more than 100 states counts as large (the fastest backend is taken)."""
    monkeypatch.setattr(planning, "MATRIX_FREE_DIMENSION", 100)


def _layers_close(got: dict, want: dict, atol: float) -> None:
    assert got.keys() == want.keys()
    for layer in want:
        assert list(got[layer]) == list(want[layer])
        for key in want[layer]:
            np.testing.assert_allclose(got[layer][key], want[layer][key], atol=atol, rtol=0,
                                       err_msg=f"{layer} {key}")


# ----------------------------------------------------------------------------------------- levels
def test_four_levels_with_a_twofold_level_equal_the_stored_path(large):
    kw = dict(N=4, Sz=0, L=8, bc="periodic", nev=4)  # 784 states: Lanczos with deflation, not dense
    free = spectrum("hubbard", {"U": 4.0}, labels=False, **kw)
    stored = spectrum("hubbard", {"U": 4.0}, method="stored", **kw)
    assert free["method"] == "matrix-free" and stored["method"] in ("dense", "lanczos")
    np.testing.assert_allclose(free["energies"], stored["energies"], atol=1e-9, rtol=0)
    assert [k for _, k in free["degeneracies"]] == [k for _, k in stored["degeneracies"]] == [1, 2, 1]
    assert len(free["residuals"]) == 4 and max(free["residuals"]) < 1e-8
    # nev=2 cuts the twofold E1: its partner is computed and the multiplicity said, never "x1"
    two = spectrum("hubbard", {"U": 4.0}, labels=False, **{**kw, "nev": 2})
    assert two["method"] == "matrix-free" and len(two["energies"]) == 2
    assert two["degeneracies"][-1][1] == 2 and "2-fold" in two["degeneracies_note"]
    np.testing.assert_allclose(two["energies"], stored["energies"][:2], atol=1e-9, rtol=0)


def test_labelled_spectra_keep_the_stored_basis(large):
    out = spectrum("hubbard", {"U": 4.0}, N=4, Sz=0, L=6, bc="periodic", nev=3)
    assert out["method"] in ("dense", "lanczos") and "levels" in out  # labels need QuSpin's basis
    free = spectrum("hubbard", {"U": 4.0}, N=4, Sz=0, L=6, bc="periodic", nev=3, method="matrix-free")
    assert "levels" not in free and "stored (QuSpin) basis" in free["labels_note"]
    np.testing.assert_allclose(free["energies"], out["energies"], atol=1e-9, rtol=0)


def test_ground_state_vector_and_expectation_on_the_matrix_free_space(large):
    m = build_model("hubbard", 6, "periodic")
    states, e0, space = ground_states(m, {"U": 4.0}, 6, 0)
    ref_states, ref_e0, ref_space = ground_states(m, {"U": 4.0}, 6, 0, method="stored")
    assert isinstance(space, MatrixFreeSpace) and space.basis is not None
    assert e0 == pytest.approx(ref_e0, abs=1e-9) and states.shape[1] == ref_states.shape[1]
    for word in (ops.density_density(("c", 0), ("c", 2)), ops.pair_pair(("c", 0), ("c", 3))):
        assert expectation(space, word, states) == pytest.approx(
            expectation(ref_space, word, ref_states), abs=1e-8)


# ----------------------------------------------------------------------------------- correlators
def test_kbp_correlations_equal_the_stored_path_and_the_anderson_identity(large):
    U = 3.0
    params = {"U": U, "t_perp": 0.7, "t_m": 1.2, "mu_p": -U / 2, "mu_m": 0.0}
    for L in (3, 4):
        free = correlations("kbp", params, N=2 * L, Sz=0, L=L, bc="periodic", reference=1)
        stored = correlations("kbp", params, N=2 * L, Sz=0, L=L, bc="periodic", reference=1, method="stored")
        assert free["method"] == "matrix-free" and stored["method"] in ("dense", "lanczos")
        assert free.keys() == stored.keys()
        assert free["ground_state_degeneracy"] == stored["ground_state_degeneracy"]
        assert free["energy"] == pytest.approx(stored["energy"], abs=1e-9)
        _layers_close(free["layers"], stored["layers"], 1e-8)
        if L % 2:
            continue  # the particle-hole map needs a bipartite ring
        sign = (-1.0) ** (1 - np.arange(L))
        for layer in ("p", "m"):
            C, Nc = np.asarray(free["layers"][layer]["C"]), np.asarray(free["layers"][layer]["N"])
            np.testing.assert_allclose(2 * C, sign * Nc, atol=1e-8, rtol=0)
            assert np.max(np.abs(Nc)) > 1e-2


def test_degenerate_ground_manifold_is_averaged_like_the_stored_path():
    kw = dict(N=5, Sz=0.5, L=7, bc="periodic", reference=0)  # a twofold ground state
    free = correlations("hubbard", {"U": 4.0}, method="matrix-free", **kw)
    stored = correlations("hubbard", {"U": 4.0}, method="stored", **kw)
    assert free["ground_state_degeneracy"] == stored["ground_state_degeneracy"] == 2
    _layers_close(free["layers"], stored["layers"], 1e-8)


# ------------------------------------------------------------------------------------------ gaps
def test_neutral_gap_on_a_matrix_free_base_sector_equals_the_stored_one(monkeypatch):
    stored = gaps("kbp", {"U": 4.0}, N=8, L=4, bc="periodic", only="neutral_gap")
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", "600000")  # bytes: the stored 4,900-state matrix does not fit
    assert planning.plan(build_model("kbp", 4, "periodic"), build_model("kbp", 4, "periodic").sector(8, 0)
                         ).path == "matrix-free"
    free = gaps("kbp", {"U": 4.0}, N=8, L=4, bc="periodic", only="neutral_gap")
    assert "notes" not in free and stored["neutral_gap"] > 1e-3
    assert free["neutral_gap"] == pytest.approx(stored["neutral_gap"], abs=1e-9)
    # a twofold ground state: zero on both paths
    kw = dict(N=5, Sz=0.5, L=7, bc="periodic", only="neutral_gap")
    zero = gaps("hubbard", {"U": 4.0}, method="matrix-free", **kw)
    assert zero["neutral_gap"] == pytest.approx(0.0, abs=1e-9)
    monkeypatch.delenv("EDKIT_MEMORY_LIMIT")
    assert gaps("hubbard", {"U": 4.0}, method="stored", **kw)["neutral_gap"] == pytest.approx(0.0, abs=1e-9)


# ------------------------------------------------------------------------------------------- CLI
def _json(capsys, *argv: str) -> dict:
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_cli_spectrum_and_correlations_matrix_free_give_the_stored_keys(capsys):
    base = ("--L", "8", "--bc", "periodic", "--param", "U=4", "--sector", "N=4", "--sector", "Sz=0")
    free = _json(capsys, "spectrum", "hubbard", *base, "--nev", "3", "--method", "matrix-free")
    stored = _json(capsys, "spectrum", "hubbard", *base, "--nev", "3", "--method", "stored")
    assert free["method"] == "matrix-free"
    assert set(stored) - LABEL_KEYS <= set(free) and set(free) - set(stored) <= MATRIX_FREE_KEYS
    np.testing.assert_allclose(free["energies"], stored["energies"], atol=1e-9, rtol=0)
    np.testing.assert_allclose(free["degeneracies"], stored["degeneracies"], atol=1e-9, rtol=0)
    corr = ("correlations", "kbp", "--L", "3", "--bc", "periodic", "--reference", "1")
    free = _json(capsys, *corr, "--method", "matrix-free")
    stored = _json(capsys, *corr, "--method", "stored")
    assert free.keys() == stored.keys() and free["method"] == "matrix-free"
    _layers_close(free["layers"], stored["layers"], 1e-8)
    code = main(["spectrum", "hubbard", *base, "--nev", "2", "--method", "matrix-free"])
    text = capsys.readouterr().out
    assert code == 0 and "x2" in text and "2-fold" in text and "residuals |Hx - Ex|" in text


def test_cli_plan_four_levels_of_seven_rungs_goes_matrix_free(capsys, monkeypatch):
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", str(16 * 2**30))
    data = _json(capsys, "plan", "kbp", "--L", "7", "--bc", "periodic", "--nev", "4")["plan"]
    assert data["sector_dimension"] == 11_778_624 and data["backend"] == "matrix-free"
    options = {b["backend"]: b for b in data["backends"]}
    free, stored = options["matrix-free"]["estimate"], options["stored"]["estimate"]
    assert free["vectors"] == 7 and free["bytes"] < stored["bytes"] and free["seconds_rough"] < stored[
        "seconds_rough"]
    reason = data["reason"]
    assert reason.startswith("4 levels by Lanczos with deflation on 7 vectors of 11,778,624 states, +1 per "
                             "partner of a degenerate highest level (~")
    assert "the stored matrix (~" in reason and "to build" in reason and "in all for nev=4" in reason
    text_code = main(["plan", "kbp", "--L", "7", "--bc", "periodic", "--nev", "4"])
    assert text_code == 0 and "matrix-free: 4 levels" in capsys.readouterr().out
