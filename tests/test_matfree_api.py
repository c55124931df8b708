"""The high-level API switches to the matrix-free path when the stored matrix does not fit.

The memory limit is forced down with ``EDKIT_MEMORY_LIMIT`` so that small sectors take the path
the 8-rung bilayer takes. Independent truths: the Lieb-Wu Bethe-ansatz energy of the Hubbard ring,
the stored-matrix path of the same API (a different operator construction: QuSpin), and a brute-force
Fock-space spectrum for the kernel's special cases.
"""

import numpy as np
import pytest
import sympy

from edkit.api import GAP_NAMES, gaps, ground_energy, solve_sector, spectrum
from edkit.cli import GAP_CHOICES, main
from edkit.core.lattice import chain
from edkit.core.model import Model, Sector, density_density
from edkit.core.modes import DN, UP, Mode
from edkit.core.params import Parameter
from edkit.engine.matfree import MatrixFreeHamiltonian, lanczos_ground_energy
from edkit.engine.planning import TooLargeError, plan
from edkit.models import build_model
from tests.helpers.bethe import lieb_wu_ground_state
from tests.helpers.fock import fock_spectrum

#: Bytes: below the stored path of a 4900-state sector (~2.2 MB), above its matrix-free one (~0.16 MB).
SMALL_LIMIT = "600000"


@pytest.fixture
def small_memory(monkeypatch):
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", SMALL_LIMIT)


def test_forced_limit_selects_the_matrix_free_path(small_memory):
    m = build_model("hubbard", 8, "periodic")
    assert plan(m, m.sector(8, 0)).path == "matrix-free"


def test_spectrum_matrix_free_matches_bethe_ansatz(small_memory):
    out = spectrum("hubbard", {"U": 4.0}, N=8, Sz=0, L=8, bc="periodic")
    assert out["method"] == "matrix-free"
    assert out["dimension"] == 4900
    assert out["degeneracies"] == []  # multiplicity is not determined on this path
    assert out["energies"][0] == pytest.approx(lieb_wu_ground_state(8, 4, 4, 4.0), abs=1e-8)


def test_gaps_matrix_free_equal_the_stored_path(monkeypatch):
    kw = dict(N=8, L=8, bc="periodic")
    stored = gaps("hubbard", {"U": 4.0, "mu": 0.3}, **kw)
    assert all(r["source"] == "solved" for r in stored["sector_energies"])
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", SMALL_LIMIT)
    free = gaps("hubbard", {"U": 4.0, "mu": 0.3}, **kw)
    for key in ("energy", "charge_gap", "spin_gap", "pair_binding"):
        assert free[key] == pytest.approx(stored[key], abs=1e-9), key
    # the second level comes matrix-free too (issue 14): the neutral gap equals the stored one
    assert stored["neutral_gap"] is not None and "notes" not in free
    assert free["neutral_gap"] == pytest.approx(stored["neutral_gap"], abs=1e-9)


def test_more_than_the_matrix_free_levels_is_refused_with_numbers(small_memory, monkeypatch):
    m = build_model("hubbard", 8, "periodic")
    with pytest.raises(TooLargeError, match=r"at most 10 levels.*nev=11"):
        solve_sector(m, {"U": 4.0}, 8, 0, nev=11)
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", "180000")  # bytes: the ground energy fits, the vector not
    with pytest.raises(TooLargeError, match=r"4,900.*ground state by two-pass Lanczos on 4 vectors"):
        solve_sector(m, {"U": 4.0}, 8, 0, vectors=True)


def test_constrained_model_is_still_refused(monkeypatch):
    m = build_model("kbp-eff", 6, "open")
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", "100000")
    assert plan(m, m.sector(12, 0)).path == "too-large"
    with pytest.raises(TooLargeError, match="too large"):
        ground_energy(m, {}, 12, 0)


def test_particle_hole_image_is_reused_only_when_the_symmetry_holds():
    # half-filled KBP ring with mu_p = -U/2, mu_m = 0: particle-hole symmetric (checked on the terms)
    sym = gaps("kbp", {"U": 3.0, "t_perp": 0.6}, N=8, L=4, bc="periodic", only=["charge_gap"])
    rows = {r["N"]: r for r in sym["sector_energies"]}
    assert set(rows) == {6, 8, 10}
    image = [n for n in (6, 10) if rows[n]["source"] != "solved"]
    assert len(image) == 1
    assert rows[image[0]]["source"].startswith(f"particle_hole image of N={16 - image[0]}")
    m = build_model("kbp", 4, "periodic")
    direct = ground_energy(m, {"U": 3.0, "t_perp": 0.6}, image[0], 0.0)  # solved, not reused
    assert rows[image[0]]["energy"] == pytest.approx(direct, abs=1e-10)
    # an odd ring is not bipartite: no particle-hole map, every sector solved
    odd = gaps("kbp", {"U": 3.0, "t_perp": 0.6}, N=6, L=3, bc="periodic", only=["charge_gap"])
    assert all(r["source"] == "solved" for r in odd["sector_energies"])
    # a chemical potential on the metal breaks it: every sector is solved
    broken = gaps("kbp", {"U": 3.0, "t_perp": 0.6, "mu_m": 0.3}, N=8, L=4, bc="periodic",
                  only=["charge_gap"])
    assert all(r["source"] == "solved" for r in broken["sector_energies"])


def test_spin_inversion_image_and_each_sector_solved_once():
    out = gaps("hubbard", {"U": 2.0}, N=5, L=5, bc="periodic")
    keys = [(r["N"], r["Sz"]) for r in out["sector_energies"]]
    assert len(keys) == len(set(keys))  # no sector twice
    m = build_model("hubbard", 5, "periodic")
    for r in out["sector_energies"]:
        assert r["energy"] == pytest.approx(ground_energy(m, {"U": 2.0}, r["N"], r["Sz"]), abs=1e-10)


def test_only_selects_gaps_and_rejects_unknown_names():
    out = gaps("hubbard", {"U": 4.0}, N=4, L=4, bc="periodic", only=["spin_gap"])
    assert out["spin_gap"] is not None and out["charge_gap"] is None and out["neutral_gap"] is None
    assert {(r["N"], r["Sz"]) for r in out["sector_energies"]} == {(4, 0.0), (4, 1.0)}
    with pytest.raises(ValueError, match="unknown gap name"):
        gaps("hubbard", {"U": 4.0}, N=4, L=4, bc="periodic", only=["charge"])
    assert GAP_CHOICES == GAP_NAMES


def test_cli_gaps_only_matrix_free(small_memory, capsys):
    import json

    code = main(["gaps", "hubbard", "--L", "8", "--bc", "periodic", "--param", "U=4",
                 "--only", "charge_gap", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["spin_gap"] is None and data["charge_gap"] == pytest.approx(
        lieb_wu_ground_state(8, 5, 5, 4.0) + lieb_wu_ground_state(8, 3, 3, 4.0)
        - 2 * lieb_wu_ground_state(8, 4, 4, 4.0), abs=1e-7)


def _onsite_twice(L: int) -> Model:
    """The same on-site U word twice (same coefficient) plus one with another coefficient."""
    lat = chain(L, "periodic", "c")
    U, V = sympy.Symbol("U", real=True), sympy.Symbol("V", real=True)
    terms = [density_density(Mode("c", i, UP), Mode("c", i, DN), U, "U") for i in range(L)]
    terms.append(density_density(Mode("c", 0, UP), Mode("c", 0, DN), U, "U again"))
    terms.append(density_density(Mode("c", 1, UP), Mode("c", 1, DN), V, "V"))
    terms.append(density_density(Mode("c", 0, UP), Mode("c", 1, DN), V, "V cross"))
    from edkit.core.model import Term

    for i in range(L):
        j = (i + 1) % L
        for s in (UP, DN):
            terms.append(Term(sympy.Integer(-1), ((Mode("c", j, s), True), (Mode("c", i, s), False))))
            terms.append(Term(sympy.Integer(-1), ((Mode("c", i, s), True), (Mode("c", j, s), False))))
    params = {"U": Parameter("U", 0), "V": Parameter("V", 0)}
    return Model("onsite-twice", lat, True, terms, params).check()


def test_on_site_words_grouped_by_coefficient_match_fock_oracle():
    m = _onsite_twice(4)
    vals = {"U": 2.0, "V": -0.7}
    sec = Sector(2, 2)
    op = MatrixFreeHamiltonian(m, vals, sec, threads=1)
    H = np.column_stack([op @ e for e in np.eye(op.shape[0])])
    idx = {mo: k for k, mo in enumerate(m.modes)}
    terms = [(c, [(idx[mo], d) for mo, d in w]) for c, w in m.numeric_terms(vals)]
    ups = [idx[mo] for mo in m.modes if mo.spin == UP]
    dns = [idx[mo] for mo in m.modes if mo.spin == DN]
    ref = fock_spectrum(len(m.modes), terms, [(ups, 2), (dns, 2)])
    np.testing.assert_allclose(np.linalg.eigvalsh(H), ref, atol=1e-10)


def test_energy_stopping_rule_is_accurate():
    m = build_model("hubbard", 8, "periodic")
    op = MatrixFreeHamiltonian(m, {"U": 4.0}, m.sector(8, 0))
    out = lanczos_ground_energy(op, residual=1e-14)  # only the energy rule can stop it
    assert out["converged"] and out["criterion"] == "energy"
    assert out["energy"] == pytest.approx(lieb_wu_ground_state(8, 4, 4, 4.0), abs=1e-9)
    strict = lanczos_ground_energy(op, energy_tol=None, residual=1e-10)
    assert strict["criterion"] == "residual" and strict["iterations"] >= out["iterations"]


def test_auto_prefers_matrix_free_ground_energy_for_large_sectors(monkeypatch):
    import edkit.engine.planning as planning  # the planner owns the threshold

    monkeypatch.setattr(planning, "MATRIX_FREE_DIMENSION", 4000)  # 4900 states: "large" for this test
    auto = spectrum("hubbard", {"U": 4.0}, N=8, Sz=0, L=8, bc="periodic", labels=False)
    stored = spectrum("hubbard", {"U": 4.0}, N=8, Sz=0, L=8, bc="periodic", labels=False, method="stored")
    assert auto["method"] == "matrix-free" and stored["method"] == "lanczos"
    exact = lieb_wu_ground_state(8, 4, 4, 4.0)
    assert auto["energies"][0] == pytest.approx(exact, abs=1e-8)
    assert stored["energies"][0] == pytest.approx(exact, abs=1e-8)
    # more than the ground energy: matrix-free levels too (issue 14), not a refusal
    two = spectrum("hubbard", {"U": 4.0}, N=8, Sz=0, nev=2, L=8, bc="periodic", labels=False)
    assert two["method"] == "matrix-free" and len(two["energies"]) == 2
    # constrained models cannot go matrix-free: the stored path, silently
    m = build_model("kbp-eff", 5, "periodic")
    assert plan(m, m.sector(10, 0)).dimension > 2000
    monkeypatch.setattr(planning, "MATRIX_FREE_DIMENSION", 2000)
    assert spectrum(m, {}, N=10, Sz=0, labels=False)["method"] == "lanczos"


def test_method_argument_is_validated_and_matrix_free_refusals_are_clear():
    m = build_model("kbp-eff", 2, "open")
    with pytest.raises(ValueError, match="method must be one of"):
        solve_sector(m, {}, 4, 0, method="fast")
    with pytest.raises(ValueError, match="without occupation constraints"):
        solve_sector(m, {}, 4, 0, method="matrix-free")
    h = build_model("hubbard", 4, "periodic")
    with pytest.raises(TooLargeError, match="at most 10 levels"):
        solve_sector(h, {}, 4, 0, nev=11, method="matrix-free")
    eig, space = solve_sector(h, {"U": 2.0}, 4, 0, method="matrix-free")
    assert eig.method == "matrix-free" and space.dimension == 36


def test_cli_method_flag(capsys):
    import json

    code = main(["spectrum", "hubbard", "--L", "6", "--bc", "periodic", "--param", "U=4",
                 "--method", "matrix-free", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["method"] == "matrix-free"
    assert data["energies"][0] == pytest.approx(lieb_wu_ground_state(6, 3, 3, 4.0), abs=1e-8)


def test_gaps_report_the_blocks_of_the_two_lowest_levels(capsys):
    from edkit.engine.blocks import block_spectrum

    out = gaps("hubbard", {"U": 4.0}, N=6, L=6, bc="periodic")
    m = build_model("hubbard", 6, "periodic")
    ref = block_spectrum(m, {"U": 4.0}, m.sector(6, 0), "all", nev=2)  # QuSpin block bases
    assert out["ground_block"] == ref["ground_block"]
    assert [lv["block"] for lv in out["levels"]] == [lv["block"] for lv in ref["levels"][:2]]
    assert out["neutral_gap"] == pytest.approx(ref["energies"][1] - ref["energies"][0], abs=1e-10)
    code = main(["gaps", "hubbard", "--L", "6", "--bc", "periodic", "--param", "U=4"])
    text = capsys.readouterr().out
    assert code == 0 and "level 0 of the base sector" in text and "block" in text


def test_complex_hamiltonian_matrix_free_against_free_fermions():
    """A ring with flux phi: single-particle energies -2t cos(K - phi), K = 2 pi m / L."""
    from tests.helpers.models import flux_ring

    L, phi = 6, 0.3
    m = flux_ring(L)
    eps = np.sort(-2 * np.cos(2 * np.pi * np.arange(L) / L - phi))
    for n_up, n_dn in ((3, 3), (2, 1)):
        N, Sz = n_up + n_dn, (n_up - n_dn) / 2
        eig, _ = solve_sector(m, {"phi": phi}, N, Sz, method="matrix-free")
        assert eig.method == "matrix-free"
        assert eig.energies[0] == pytest.approx(eps[:n_up].sum() + eps[:n_dn].sum(), abs=1e-9)


def test_cli_text_says_multiplicity_is_not_determined(capsys):
    code = main(["spectrum", "hubbard", "--L", "4", "--bc", "periodic", "--method", "matrix-free"])
    text = capsys.readouterr().out
    assert code == 0 and "(matrix-free)" in text and "degeneracies: not determined" in text


def test_matrix_free_refusal_through_cli_exits_2(small_memory, capsys):
    code = main(["spectrum", "hubbard", "--L", "8", "--bc", "periodic", "--nev", "3", "--method", "stored"])
    err = capsys.readouterr().err
    assert code == 2 and "too large" in err and "Traceback" not in err
