"""Block labels of plain-sector levels (edkit.engine.labels, the default path of edkit.api.spectrum).

Independent truths:
- the symmetry-block spectra of QuSpin's block bases (:func:`edkit.engine.blocks.block_spectrum`), a second
  code path that never looks at plain-sector eigenvectors: every block label must hold exactly the
  energies that block holds;
- free fermions on a ring: the ground-state momenta follow in closed form from filling the
  single-particle levels :math:`-2t\\cos(2\\pi q/L)` (total momentum :math:`\\sum q` mod ``L``);
- the Hamiltonian matrix of the backend, which every symmetry operator must commute with.
"""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import combinations

import numpy as np
import pytest

from edkit.api import spectrum
from edkit.cli import main
from edkit.core.model import Sector
from edkit.engine.backend_quspin import blas_threads, make_space, operator_matrix
from edkit.engine.blocks import block_spectrum
from edkit.engine.labels import label_levels, labelling_symmetries, symmetry_matrix
from edkit.models import build_model
from tests.helpers.models import flux_ring


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with blas_threads(1):
        yield


KBP = {"U": 2.7, "t_perp": 0.8, "t_m": 1.1, "mu_p": -1.2, "mu_m": 0.15}  # no particle-hole symmetry
AL = {"U": 3.1, "t_perp": 0.6, "t_m": 0.9}

# model, L, bc, values, (N_up, N_dn) including localized electrons, symmetries expected to hold
CASES = [
    ("hubbard", 4, "periodic", {"U": 3.0}, (2, 2), "kPZ"),
    ("hubbard", 4, "periodic", {"U": 3.0}, (3, 1), "kP"),
    ("hubbard", 4, "periodic", {"U": 3.0, "mu": 1.5}, (2, 2), "kPZC"),
    ("hubbard", 5, "periodic", {"U": 2.0, "mu": 0.4}, (3, 2), "kP"),
    ("hubbard", 5, "periodic", {"U": 2.0}, (2, 2), "kPZ"),
    ("hubbard", 6, "periodic", {"U": 3.0}, (3, 3), "kPZ"),
    ("hubbard", 6, "periodic", {"U": 3.0, "mu": 1.5}, (3, 3), "kPZC"),
    ("hubbard", 6, "periodic", {"U": 3.0}, (2, 1), "kP"),
    ("hubbard", 4, "open", {"U": 3.0, "mu": 1.5}, (2, 2), "PZC"),
    ("hubbard", 5, "open", {"U": 2.5}, (3, 2), "P"),
    ("kbp", 3, "periodic", KBP, (3, 3), "kPZ"),
    ("kbp", 4, "periodic", KBP, (2, 2), "kPZ"),
    ("kbp", 3, "open", {"U": 2.7, "t_perp": 0.8}, (3, 3), "PZC"),
    ("anderson", 3, "open", AL, (3, 3), "PZC"),
    ("anderson", 4, "periodic", {**AL, "h_p": 0.3}, (2, 1), "kP"),
    ("kondo", 4, "periodic", {"J": 1.3}, (4, 4), "kPZ"),
    ("kondo", 4, "open", {"J": 1.3}, (4, 4), "PZ"),
]


def _api_sector(model, sector):
    """``N`` (as the model counts electrons) and ``Sz`` of ``(N_up, N_dn)``."""
    n_up, n_dn = sector
    return n_up + n_dn - model.extra_electrons, (n_up - n_dn) / 2


def _by_block(levels) -> dict[tuple, list[float]]:
    out: dict[tuple, list[float]] = defaultdict(list)
    for lv in levels:
        out[tuple(sorted(lv["block"].items()))].append(lv["energy"])
    return {k: sorted(v) for k, v in out.items()}


@pytest.mark.parametrize("name,L,bc,vals,sector,labels", CASES)
def test_labelled_levels_equal_the_block_spectra(name, L, bc, vals, sector, labels):
    """Every level of the sector, labelled from its eigenvector, sits in the block that holds it."""
    m = build_model(name, L, bc)
    N, Sz = _api_sector(m, sector)
    sec = Sector(*sector)
    ref = block_spectrum(m, vals, sec, "all", nev=10**6)
    out = spectrum(m, vals, N=N, Sz=Sz, nev=ref["dimension"])
    assert out["symmetries"] == ref["symmetries"] == list(labels)
    assert len(out["levels"]) == out["dimension"] == ref["dimension"]
    assert all(lv["block"] is not None for lv in out["levels"])
    got, expected = _by_block(out["levels"]), _by_block(ref["levels"])
    assert set(got) == set(expected)  # the same label dictionaries (format included)
    for key, energies in expected.items():
        np.testing.assert_allclose(got[key], energies, atol=1e-9, err_msg=str(key))
    assert out["ground_block"] == out["levels"][0]["block"]
    np.testing.assert_allclose(out["energies"], ref["energies"], atol=1e-9)


@pytest.mark.parametrize("name,L,bc,vals,sector", [
    ("hubbard", 4, "periodic", {"U": 3.0, "mu": 1.5}, (2, 2)),
    ("kbp", 3, "open", {"U": 2.7, "t_perp": 0.8}, (3, 3)),
    ("kondo", 4, "periodic", {"J": 1.3}, (4, 4)),
])
def test_symmetry_operators_commute_with_the_hamiltonian(name, L, bc, vals, sector):
    """Each signed permutation is orthogonal, of its order, and commutes with the backend's H."""
    m = build_model(name, L, bc)
    sec = Sector(*sector)
    space = make_space(m, sec)
    H = operator_matrix(space, m.numeric_terms(vals)).toarray()
    eye = np.eye(space.dimension)
    for sym in labelling_symmetries(m, vals, sec):
        U = symmetry_matrix(m, space, sym).toarray()
        np.testing.assert_allclose(U @ U.T, eye, atol=0, err_msg=sym.label)
        np.testing.assert_allclose(np.linalg.matrix_power(U, sym.order), eye, atol=0, err_msg=sym.label)
        np.testing.assert_allclose(U @ H @ U.T, H, atol=1e-12, err_msg=sym.label)


# ---------------------------------------------------------------------- free fermions on a ring
def free_ground_momenta(L: int, t: float, n_up: int, n_dn: int) -> tuple[float, list[int]]:
    """Ground energy and the momenta ``m`` (``K = 2 pi m/L``) of all degenerate ground states of
    free fermions with single-particle levels ``-2 t cos(2 pi q/L)``, by filling the levels."""
    eps = [-2 * t * np.cos(2 * np.pi * q / L) for q in range(L)]
    states = [(sum(eps[q] for q in ups + dns), (sum(ups) + sum(dns)) % L)
              for ups in combinations(range(L), n_up) for dns in combinations(range(L), n_dn)]
    e0 = min(e for e, _ in states)
    return e0, sorted(k for e, k in states if e < e0 + 1e-9)


@pytest.mark.parametrize("L,t,n_up,n_dn,expected", [
    (6, 1.0, 3, 3, [0]),           # closed shells: k = 0
    (4, 1.0, 4, 1, [2]),           # full spin-up band carries K = pi: ground state at k = 2, not 0
    (4, -1.0, 1, 0, [2]),          # one electron, t < 0: band minimum at K = pi
    (5, 1.0, 2, 1, [1, 4]),        # open shell of an odd ring: the K, -K pair
    (5, 1.0, 3, 2, [1, 4]),
    (6, 1.0, 2, 2, [0, 0, 2, 4]),  # two half-filled shells: K_up + K_dn
])
def test_free_fermion_ground_momenta_follow_from_filling_the_band(L, t, n_up, n_dn, expected):
    e0, momenta = free_ground_momenta(L, t, n_up, n_dn)
    assert momenta == expected  # the closed form, spelled out
    out = spectrum("hubbard", {"U": 0, "t": t}, N=n_up + n_dn, Sz=(n_up - n_dn) / 2, L=L, bc="periodic",
                   nev=len(momenta))
    np.testing.assert_allclose(out["energies"], e0, atol=1e-10)
    got = sorted(lv["block"]["k"] for lv in out["levels"])
    assert got == momenta
    for lv in out["levels"]:
        assert lv["block"]["K_over_pi"] == pytest.approx(2 * lv["block"]["k"] / L)
        assert ("P" in lv["block"]) == ((2 * lv["block"]["k"]) % L == 0)  # parity only at K = 0, pi
    assert out["ground_block"] == out["levels"][0]["block"] and out["ground_block"]["k"] in momenta


@pytest.mark.parametrize("L,n_up,n_dn", [(5, 2, 1), (5, 2, 2), (4, 1, 2)])
def test_flux_ring_momentum_sign(L, n_up, n_dn):
    """With flux, -2t cos(K - phi) picks one sign of K: the closed form and the blocks agree."""
    t, phi = 1.0, 0.37
    m = flux_ring(L)
    vals = {"t": t, "phi": phi}
    eps = [-2 * t * np.cos(2 * np.pi * q / L - phi) for q in range(L)]
    states = sorted((sum(eps[q] for q in ups + dns), (sum(ups) + sum(dns)) % L)
                    for ups in combinations(range(L), n_up) for dns in combinations(range(L), n_dn))
    out = spectrum(m, vals, N=n_up + n_dn, Sz=(n_up - n_dn) / 2, nev=len(states))
    assert out["symmetries"][0] == "k" and "P" not in out["symmetries"]  # the flux breaks reflection
    assert states[0][0] < states[1][0] - 1e-6  # a unique ground state
    assert out["ground_block"]["k"] == states[0][1]
    predicted: dict[int, list[float]] = defaultdict(list)
    for e, k in states:
        predicted[k].append(e)
    got: dict[int, list[float]] = defaultdict(list)
    for lv in out["levels"]:
        got[lv["block"]["k"]].append(lv["energy"])
    assert set(got) == set(predicted)
    for k, energies in predicted.items():
        np.testing.assert_allclose(sorted(got[k]), sorted(energies), atol=1e-10, err_msg=f"k={k}")
    ref = block_spectrum(m, vals, Sector(n_up, n_dn), "all", nev=10**6)
    assert _by_block(out["levels"]).keys() == _by_block(ref["levels"]).keys()
    for key, energies in _by_block(ref["levels"]).items():
        np.testing.assert_allclose(_by_block(out["levels"])[key], energies, atol=1e-9, err_msg=str(key))


def test_interacting_k_minus_k_pair_gets_two_labels():
    """Half-filled 4-site Hubbard ring: levels 3 and 4 are a degenerate K = +-pi/2 pair."""
    out = spectrum("hubbard", {"U": 4}, N=4, Sz=0, L=4, bc="periodic", nev=5)
    ref = block_spectrum(build_model("hubbard", 4, "periodic"), {"U": 4}, Sector(2, 2), "all", nev=5)
    pair = out["levels"][3:5]
    assert pair[0]["energy"] == pytest.approx(pair[1]["energy"], abs=1e-10)
    assert sorted(lv["block"]["k"] for lv in pair) == [1, 3]
    assert _by_block(out["levels"]).keys() == _by_block(ref["levels"]).keys()
    assert out["ground_block"] == ref["ground_block"]


def test_lanczos_sector_labels_a_k_minus_k_pair():
    """The 4900-state KBP ring (Lanczos): the degenerate levels 2, 3 are k = 1 and k = 3."""
    m = build_model("kbp", 4, "periodic")
    out = spectrum(m, {}, N=8, Sz=0, nev=4)
    ref = block_spectrum(m, {}, Sector(4, 4), "all", nev=4)
    assert out["method"] == "lanczos"
    np.testing.assert_allclose(out["energies"], ref["energies"], atol=1e-9)
    assert [lv["block"] for lv in out["levels"][:2]] == [lv["block"] for lv in ref["levels"][:2]]
    assert sorted(lv["block"]["k"] for lv in out["levels"][2:]) == [1, 3]
    assert _by_block(out["levels"]).keys() == _by_block(ref["levels"]).keys()


# ------------------------------------------------------------------------- incomplete multiplets
def _plain(name, L, bc, vals, sector):
    m = build_model(name, L, bc)
    sec = Sector(*sector)
    space = make_space(m, sec)
    w, v = np.linalg.eigh(operator_matrix(space, m.numeric_terms(vals)).toarray())
    return m, sec, space, w, v


def test_a_multiplet_cut_by_the_computed_levels_is_unresolved_not_guessed():
    vals = {"U": 4}
    m, sec, space, w, v = _plain("hubbard", 4, "periodic", vals, (2, 2))
    assert w[4] - w[3] < 1e-10 < w[3] - w[2]  # levels 3, 4: the K = +-pi/2 pair
    cut = label_levels(m, vals, sec, space, w[:4], v[:, :4])
    assert cut[3]["block"] is None
    full = label_levels(m, vals, sec, space, w, v, complete=True, count=4)
    assert [lv["block"] for lv in cut[:3]] == [lv["block"] for lv in full[:3]]
    assert full[3]["block"] is not None


def test_a_missing_partner_is_unresolved():
    """One vector of a degenerate pair (what Lanczos can return) cannot be given a momentum."""
    vals = {"U": 4}
    m, sec, space, w, v = _plain("hubbard", 4, "periodic", vals, (2, 2))
    mixed = (v[:, 3] + v[:, 4]) / np.sqrt(2)
    energies = np.r_[w[:4], w[5:8]]
    vectors = np.column_stack([v[:, :3], mixed, v[:, 5:8]])
    out = label_levels(m, vals, sec, space, energies, vectors)
    assert out[3]["block"] is None
    assert all(lv["block"] is not None for lv in out[:3] + out[4:6])


# ---------------------------------------------------------------------- API and CLI behaviour
def test_default_spectrum_keeps_its_keys_and_values():
    kw = dict(N=4, Sz=0, L=4, bc="periodic", nev=3)
    bare = spectrum("hubbard", {"U": 4}, labels=False, **kw)
    out = spectrum("hubbard", {"U": 4}, **kw)
    assert set(bare) < set(out) and set(out) - set(bare) == {"symmetries", "levels", "ground_block"}
    for key in ("model", "L", "bc", "params", "sector", "dimension", "method"):
        assert out[key] == bare[key], key
    np.testing.assert_allclose(out["energies"], bare["energies"], atol=1e-12)
    assert [k for _, k in out["degeneracies"]] == [k for _, k in bare["degeneracies"]]
    assert [lv["energy"] for lv in out["levels"]] == out["energies"]
    assert "vectors" not in out
    vec = spectrum("hubbard", {"U": 4}, vectors=True, **kw)["vectors"]
    assert vec.shape == (36, 3)


def test_labels_are_skipped_above_the_dimension_limit_and_without_symmetries(monkeypatch):
    monkeypatch.setattr("edkit.engine.labels.LABEL_DIMENSION", 30)
    big = spectrum("hubbard", {}, N=4, Sz=0, L=4, bc="periodic", nev=2)
    assert "levels" not in big and "dimension 36 is above" in big["labels_note"]
    none = spectrum("hubbard", {}, N=1, Sz=0.5, L=1, nev=1)  # one site, Sz != 0: no symmetry
    assert "levels" not in none and "no lattice symmetry" in none["labels_note"]


def test_cli_spectrum_json_and_text_carry_labels_by_default(capsys):
    argv = ["spectrum", "hubbard", "--L", "4", "--bc", "periodic", "--nev", "3"]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main([*argv, "--blocks", "all", "--json"]) == 0
    blocks = json.loads(capsys.readouterr().out)
    assert data["method"] == "dense" and data["ground_block"] == blocks["ground_block"]
    assert [lv["block"] for lv in data["levels"]] == [lv["block"] for lv in blocks["levels"]]
    np.testing.assert_allclose([lv["energy"] for lv in data["levels"]], blocks["energies"], atol=1e-10)
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "block labels from the eigenvectors (symmetries kPZ)" in text
    assert f"block {' '.join(_text(blocks['ground_block']))}" in text


def _text(block: dict) -> list[str]:
    return [f"{k}={v:+d}" if k in "PZC" else f"{k}={v}" for k, v in block.items() if k != "K_over_pi"]


def test_no_labels_when_only_the_matrix_free_ground_energy_fits(monkeypatch):
    """A sector whose stored matrix does not fit keeps the plain ground-energy path, unlabelled."""
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", "1000000")  # bytes: the 4,900-state matrix does not fit
    out = spectrum("hubbard", {}, N=8, Sz=0, L=8, bc="periodic")
    ref = spectrum("hubbard", {}, N=8, Sz=0, L=8, bc="periodic", labels=False)
    assert "levels" not in out and "does not fit" in out["labels_note"]
    assert out["method"] == ref["method"] and out["degeneracies"] == ref["degeneracies"]
    assert out["energies"] == pytest.approx(ref["energies"], abs=1e-12)
