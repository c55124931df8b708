"""The Schrieffer-Wolff engine (mappings.schrieffer_wolff) and the KBP reduction (issue 4).

Evidence, cheapest first:

- the canonical form on the subspace against brute-force projected Fock matrices
  (tests.helpers.fock shares no code with the package);
- the engine against Pymablock (an independent implementation), orders 0-3, degenerate and
  non-degenerate low manifolds (skipped when pymablock is not installed);
- closed forms derived by hand (below) for the KBP coefficients;
- perturbative scaling laws: ED of the microscopic KBP against the SW output model, errors
  falling as t_perp^4/U^3; the printed coupling 4 t_perp^2/U does not converge (slope 2);
- the pair-hopping amplitude against the ED splitting of the isolated rung.

Hand derivation of the KBP coefficients (mu_p = -U/2, mu_m = 0): the p-site energies are
E(0) = E(2) = -U/2 and E(1) = 0, so every virtual state costs U/2. From p empty, an electron of
spin s hops in and back: -(2/U) t^2 n_ms; from p doubled a hole does: -(2/U) t^2 (1 - n_ms);
together -(2t^2/U)[1 - (n_p-1)(n_m-1)] on the subspace. Two electrons entering one after the
other in either order give -(2/U) t^2 * 2 Δ†_p Δ_m. Hence (n_p-1)(n_m-1) has 2t^2/U = J/4 and
the pair hopping -4t^2/U = -J/2, i.e. J = 8 t^2/U, and the constant per rung is
-U/2 (P H0 P) - 2t^2/U.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy

from edkit.api import solve_sector
from edkit.core.model import Constraint
from edkit.core.modes import DN, UP, Mode
from edkit.models import kbp_bilayer, kbp_effective
from mappings.algebra import FermionOperator, c, cdag, from_model, identity, number
from mappings.fitting import FitError
from mappings.schrieffer_wolff import (
    LowEnergySubspace,
    SchriefferWolffError,
    p_site_constraints,
    schrieffer_wolff,
    schrieffer_wolff_model,
    split_model,
)
from mappings.spin import density, pair_creation
from mappings.verifications.schrieffer_wolff import kbp_basis, kbp_schrieffer_wolff, kbp_sw
from tests.helpers.fock import fock_matrix, number_operator_diagonal

U, T, TM, MU = (sympy.Symbol(n, real=True) for n in ("U", "t_perp", "t_m", "mu_p"))
HALF = {"mu_p": -U / 2, "mu_m": 0}


# ------------------------------------------------------------------ helpers
def _fock(op: FermionOperator, modes: list[Mode], values: dict | None = None) -> np.ndarray:
    idx = {m: k for k, m in enumerate(modes)}
    subs = {sympy.Symbol(k, real=True): v for k, v in (values or {}).items()}
    terms = [(complex(sympy.sympify(coef).xreplace(subs)), [(idx[m], d) for m, d in w]) for w, coef in op]
    return fock_matrix(len(modes), terms).toarray()


def _allowed_mask(modes: list[Mode], constraints) -> np.ndarray:
    idx = {m: k for k, m in enumerate(modes)}
    mask = np.ones(1 << len(modes), dtype=bool)
    for con in constraints:
        occ = number_operator_diagonal(len(modes), [idx[m] for m in con.modes])
        mask &= np.isin(occ, con.allowed)
    return mask


def _rung_modes(L: int) -> list[Mode]:
    return [Mode(layer, i, s) for layer in ("p", "m") for i in range(L) for s in (UP, DN)]


def _random_operator(modes: list[Mode], rng, n_terms: int = 25, max_len: int = 4) -> FermionOperator:
    op = FermionOperator()
    for _ in range(n_terms):
        k = int(rng.integers(1, max_len + 1))
        word = tuple((modes[int(rng.integers(len(modes)))], bool(rng.integers(2))) for _ in range(k))
        op = op + FermionOperator({word: int(rng.integers(-3, 4))})
    return op


# --------------------------------------------------- canonical form on P
def _odd_constraints():
    # overlapping constraints merged into one cluster of three modes, plus a spinless one
    pu, pd, mu = Mode("p", 0, UP), Mode("p", 0, DN), Mode("m", 0, UP)
    return (Constraint((pu, pd, mu), (1, 2), "three modes"), Constraint((pu, mu), (0, 1), "overlap"),
            Constraint((Mode("p", 1, UP), Mode("m", 1, DN)), (1,), "two orbitals"))


@pytest.mark.parametrize("allowed", [(0, 2), (1,), (0, 1), "odd"])
def test_restriction_equals_brute_force_projection(allowed):
    L = 2
    modes = _rung_modes(L)
    cons = _odd_constraints() if allowed == "odd" else p_site_constraints(L, allowed=allowed)
    sub = LowEnergySubspace(cons)
    mask = _allowed_mask(modes, cons)
    rng = np.random.default_rng(len(allowed) + 7)
    for _ in range(3):
        op = _random_operator(modes, rng)
        full, restricted = _fock(op, modes), _fock(sub.restrict(op), modes)
        np.testing.assert_allclose(restricted[np.ix_(mask, mask)], full[np.ix_(mask, mask)], atol=1e-12)


def test_canonical_form_is_unique_on_the_subspace():
    sub = LowEnergySubspace(p_site_constraints(2))
    pu, pd = Mode("p", 0, UP), Mode("p", 0, DN)
    n_p = number(pu) + number(pd)
    assert sub.restrict(sub.projector()).equals(identity())
    assert sub.restrict(identity()).equals(identity())
    assert sub.restrict(n_p).equals(number(pu) * number(pd) * 2)  # n_up = n_dn = n_up n_dn on {0, 2}
    assert sub.restrict(number(pu)).equals(sub.restrict(number(pd)))
    assert sub.restrict(cdag(pu) * c(Mode("m", 0, UP))).is_zero()  # leaves the subspace
    # fermion signs across two constrained clusters and the metal
    op = pair_creation(("p", 0)) * pair_creation(("p", 1)).adjoint() * number(Mode("m", 1, DN))
    assert sub.restrict(op).equals(op)


def test_fit_on_the_subspace_reports_what_is_missing():
    sub = LowEnergySubspace(p_site_constraints(1))
    target = (density(("p", 0)) - 1) * (density(("m", 0)) - 1) * 3 + pair_creation(("p", 0)) * \
        pair_creation(("m", 0)).adjoint()
    fit = sub.fit(target, {"dd": (density(("p", 0)) - 1) * (density(("m", 0)) - 1)})
    assert fit.coefficients["dd"] == 3 and not fit.exact  # the pair term (not Hermitian here) is left
    with pytest.raises(SchriefferWolffError, match="vanishes on the subspace"):
        sub.fit(target, {"spin flip": cdag(Mode("p", 0, UP)) * c(Mode("p", 0, DN))})
    n_m = number(Mode("m", 0, UP))
    with pytest.raises(FitError):  # 1 + n_m is not a multiple of 1 + 2 n_m
        sub.fit(identity() + n_m, {"a": identity() + n_m * 2})


# ------------------------------------------------------------ bad input
def test_bad_input_is_refused_clearly():
    kbp = kbp_bilayer(1)
    H0, V = split_model(kbp, ("U", "mu_p"), HALF)
    with pytest.raises(SchriefferWolffError, match="diagonal"):
        schrieffer_wolff(H0 + V, V, p_site_constraints(1))
    with pytest.raises(SchriefferWolffError, match="order"):
        schrieffer_wolff(H0, V, p_site_constraints(1), order=4)
    with pytest.raises(SchriefferWolffError, match="Hermitian"):
        schrieffer_wolff(H0, cdag(Mode("p", 0, UP)) * c(Mode("m", 0, UP)), p_site_constraints(1))
    with pytest.raises(SchriefferWolffError, match="within 0..2"):
        LowEnergySubspace([Constraint((Mode("p", 0, UP), Mode("p", 0, DN)), (3,))])
    with pytest.raises(SchriefferWolffError, match="unknown term label"):
        split_model(kbp, ("U", "nope"))
    with pytest.raises(SchriefferWolffError, match="strings are not parsed"):
        split_model(kbp, ("U",), {"mu_p": "-U/2"})
    # p empty only, with mu_p = 0: the singly occupied p state is degenerate with it
    with pytest.raises(SchriefferWolffError, match="resonance"):
        schrieffer_wolff(*split_model(kbp, ("U", "mu_p"), {"mu_p": 0, "mu_m": 0}),
                         p_site_constraints(1, allowed=(0,)))


# ------------------------------------------------- independent engine
@pytest.mark.slow  # third order through pymablock, ~3 s
def test_engine_agrees_with_pymablock_to_third_order():
    pymablock = pytest.importorskip("pymablock")
    L = 2
    kbp = kbp_bilayer(L)
    modes = list(kbp.modes)
    labels = np.zeros(1 << len(modes), dtype=int)
    labels[~_allowed_mask(modes, p_site_constraints(L))] = 1
    P = np.flatnonzero(labels == 0)
    for subs, values in ((HALF, {"U": 7.0, "t_perp": 0.3, "t_m": 0.8}),
                         ({"mu_m": 0}, {"U": 7.0, "t_perp": 0.3, "t_m": 0.8, "mu_p": -2.1})):
        H0, V = split_model(kbp, ("U", "mu_p"), subs)
        eff = schrieffer_wolff(H0, V, p_site_constraints(L), order=3)
        Ht, _, _ = pymablock.block_diagonalize([_fock(H0, modes, values), _fock(V, modes, values)],
                                               subspace_indices=labels)
        for k in range(4):
            ref = Ht[0, 0, k]
            ref = ref.toarray() if hasattr(ref, "toarray") else np.asarray(ref)
            ours = _fock(eff.orders[k], modes, values)[np.ix_(P, P)]
            np.testing.assert_allclose(ours, ref, atol=1e-12, err_msg=f"order {k}, {subs}")


# --------------------------------------------------------- KBP symbolic
def test_kbp_second_order_is_the_effective_form_with_j_8_t2_over_u():
    for L, bc in ((1, "open"), (3, "open"), (4, "periodic")):
        eff = kbp_sw(L, bc)
        fit = eff.fit(kbp_basis(L, bc))
        assert fit.exact
        co = fit.coefficients
        assert sympy.simplify(co["(n_p-1)(n_m-1)"] - 2 * T ** 2 / U) == 0  # J/4 (hand derivation)
        assert sympy.simplify(co["pair hopping"] + 4 * T ** 2 / U) == 0   # -J/2
        assert sympy.simplify(co["constant"] - L * (-U / 2 - 2 * T ** 2 / U)) == 0
        if L > 1:
            assert sympy.simplify(co["H_m/t_m"] - TM) == 0
        # and the SW output is kbp-eff with J = 8 t^2/U, plus the constant, as operators on P
        keff = kbp_effective(L, bc)
        expected = from_model(keff).subs({keff.symbols["J"]: 8 * T ** 2 / U, keff.symbols["mu_m"]: 0}) \
            + identity() * (L * (-U / 2 - 2 * T ** 2 / U))
        assert eff.subspace.restrict(expected - eff.operator).is_zero()
        assert eff.model is not None and eff.model.constraints == p_site_constraints(L)


def test_kbp_third_order_renormalizes_the_metal_hopping():
    # hand derivation: with R = -(2/U) Q, H3 = (2/U^2) P [V, [H_m, V]] P = -(4 t^2/U^2) H_m
    eff = kbp_sw(2, "open", order=3)
    metal = kbp_basis(2, "open")["H_m/t_m"] * TM
    assert eff.subspace.restrict(eff.orders[3] + metal * (4 * T ** 2 / U ** 2)).is_zero()


def test_catalogue_entry_reports_the_disagreement_with_eq5():
    res = kbp_schrieffer_wolff(cases=(("open", 1), ("open", 2)), third_order_L=0)
    assert res.passed, res.details
    J = sympy.sympify(res.coefficients["J"], locals={"U": U, "t_perp": T})
    const = sympy.sympify(res.coefficients["constant"], locals={"U": U, "t_perp": T})
    assert sympy.simplify(J - 8 * T ** 2 / U) == 0
    assert sympy.simplify(const + U / 2 + 2 * T ** 2 / U) == 0
    assert any("DISAGREES" in line and "4 t_perp^2/U" in line for line in res.printed)
    names = {"U": U, "t_perp": T, "t_m": TM, "J": sympy.Symbol("J", real=True)}
    for key, text in res.coefficients.items():  # sympy strings in U, t_perp, t_m, J only
        assert sympy.sympify(text, locals=names).free_symbols <= set(names.values()), key


# -------------------------------------------------------- KBP numerics
U_NUM = 10.0
T_VALUES = np.array([0.2, 0.1, 0.05])


def _low_energy_data(model, values, L):
    """Lowest levels at half filling, ground energies around it, charge and spin gaps.

    One rung has no low-energy state with S_z = 1 (p empty or doubled, one metal site), so the
    spin gap is taken from L = 2 on.
    """
    N = 2 * L
    e0 = solve_sector(model, values, N, 0, nev=4)[0].energies
    ep = solve_sector(model, values, N + 2, 0, nev=1)[0].energies[0]
    em = solve_sector(model, values, N - 2, 0, nev=1)[0].energies[0]
    energies, gaps = [ep, em], [ep + em - 2 * e0[0]]
    if L > 1:
        es1 = solve_sector(model, values, N, 1, nev=1)[0].energies[0]
        energies.append(es1)
        gaps.append(es1 - e0[0])
    return np.concatenate([energies, e0[:4]]), np.array(gaps)


def _errors(L, t_m_of, effective, shift=lambda t: 0.0):
    micro = kbp_bilayer(L)
    out = []
    for t in T_VALUES:
        values = {"U": U_NUM, "t_perp": t, "t_m": t_m_of(t)}
        e_a, g_a = _low_energy_data(micro, values, L)
        model, vals = effective(t, values)
        e_b, g_b = _low_energy_data(model, vals, L)
        e_b = e_b + shift(t)
        n = min(len(e_a), len(e_b))
        out.append((np.max(np.abs(e_a[:n] - e_b[:n])), np.max(np.abs(g_a - g_b))))
    return np.array(out)


def _slope(errors):
    return np.polyfit(np.log(T_VALUES), np.log(errors), 1)[0]


@pytest.fixture(scope="module")
def sw_models():
    return {L: kbp_sw(L).model for L in (1, 2, 3)}


REGIMES = {"t_m=0": lambda t: 0.0, "t_m=J": lambda t: 8 * t * t / U_NUM}


@pytest.mark.parametrize("L,regime", [(1, "t_m=0"), (2, "t_m=0"), (2, "t_m=J"), (3, "t_m=J")])
def test_sw_model_spectra_converge_as_t4_over_u3(sw_models, L, regime):
    # t_m = 0: decoupled rungs; t_m = J = 8 t^2/U: metal and Kondo coupling of the same size, so
    # the metal's third-order renormalization (t^2 t_m/U^2) is itself of order t^4/U^3
    model = sw_models[L]

    def effective(t, values):
        return model, {k: v for k, v in values.items() if k in model.parameters}

    errs = _errors(L, REGIMES[regime], effective)
    for col, what in ((0, "energies"), (1, "gaps")):
        assert 3.7 <= _slope(errs[:, col]) <= 4.3, (what, errs[:, col])


@pytest.mark.parametrize("L", [2])
def test_printed_coupling_does_not_converge(L):
    keff = kbp_effective(L)

    def printed(t, values):  # Eq. (5): J = 4 t^2/U, with the derived constant added by hand
        return keff, {"J": 4 * t * t / U_NUM, "t_m": values["t_m"]}

    errs = _errors(L, lambda t: 0.0, printed, shift=lambda t: -(U_NUM / 2 + 2 * t * t / U_NUM) * L)
    for col in (0, 1):  # energies (with the derived constant added) and gaps
        assert 1.7 <= _slope(errs[:, col]) <= 2.3, errs[:, col]
        assert np.all(errs[:, col] / T_VALUES ** 2 > 0.05)  # error / t^2 does not go to zero


def test_isolated_rung_error_is_the_exact_fourth_order():
    # exact rung ground state (bonding doublon coupled by 2 t_perp to the p-m singlet at energy 0):
    # E = -U/4 - sqrt(U^2/16 + 4 t^2) = -U/2 - 8 t^2/U + 128 t^4/U^3 + O(t^6); SW keeps two terms
    model = kbp_sw(1).model
    for t in (0.1, 0.03):
        values = {"U": U_NUM, "t_perp": t}
        e_ed = solve_sector(kbp_bilayer(1), values, 2, 0, nev=1)[0].energies[0]
        e_sw = solve_sector(model, values, 2, 0, nev=1)[0].energies[0]
        assert abs(e_ed - (-U_NUM / 4 - np.sqrt(U_NUM ** 2 / 16 + 4 * t * t))) < 1e-12
        assert (e_ed - e_sw) / (128 * t ** 4 / U_NUM ** 3) == pytest.approx(1, abs=0.01)


def test_fixed_metal_hopping_leaves_the_third_order_error():
    # at fixed t_m the second-order model is off by the third-order -(4 t^2/U^2) H_m:
    # error ~ t^2 t_m / U^2 (slope 2, proportional to t_m); with the third order included the
    # leftover is fourth order, ~ t^2 t_m^2 / U^3 (quarter when t_m halves)
    L, t = 2, 0.02
    sw2, sw3 = kbp_sw(L).model, kbp_sw(L, order=3).model
    micro = kbp_bilayer(L)
    err = {}
    for t_m in (0.5, 0.25):
        values = {"U": U_NUM, "t_perp": t, "t_m": t_m}
        e_a = solve_sector(micro, values, 2 * L, 0, nev=2)[0].energies
        for name, model in (("2", sw2), ("3", sw3)):
            e_b = solve_sector(model, values, 2 * L, 0, nev=2)[0].energies
            err[name, t_m] = abs(e_a[0] - e_b[0])
    assert 1.7 < err["2", 0.5] / err["2", 0.25] < 2.3
    assert 3.4 < err["3", 0.5] / err["3", 0.25] < 4.6
    assert err["3", 0.5] < 0.5 * err["2", 0.5]
    pred = 4 * t * t / U_NUM ** 2  # relative size of the third-order term next to t_m
    assert 0.2 < err["2", 0.25] / (pred * 0.25) < 5


def test_pair_hopping_amplitude_matches_the_rung_splitting():
    eff = kbp_sw(1)
    amplitude = eff.fit(kbp_basis(1, "open")).coefficients["pair hopping"]
    micro = kbp_bilayer(1)
    deviations = []
    for ratio in (0.1, 0.03, 0.01):
        values = {"U": U_NUM, "t_perp": ratio * U_NUM}
        levels = solve_sector(micro, values, 2, 0, nev=4)[0].energies
        splitting = levels[1] - levels[0]  # bonding / antibonding doublon states
        sw = 2 * abs(float(amplitude.subs({U: values["U"], T: values["t_perp"]})))
        deviations.append(abs(splitting / sw - 1))
    assert deviations[0] > deviations[1] > deviations[2]
    assert deviations[2] < 2e-3


def test_nondegenerate_manifold_uses_the_symmetric_form():
    # mu_p away from -U/2 splits p empty and doubled already in H0; the symmetric denominators
    # keep H_eff Hermitian and the error fourth order
    kbp = kbp_bilayer(1)
    eff = schrieffer_wolff_model(kbp, ("U", "mu_p"), p_site_constraints(1), substitutions={"mu_m": 0})
    errs = []
    for t in T_VALUES:
        values = {"U": U_NUM, "t_perp": t, "mu_p": -0.35 * U_NUM}
        worst = 0.0
        for N, Sz in ((1, 0.5), (2, 0), (3, 0.5)):
            e_a = solve_sector(kbp, values, N, Sz, nev=4)[0].energies
            e_b = solve_sector(eff.model, values, N, Sz, nev=4)[0].energies
            worst = max(worst, np.max(np.abs(e_a[:len(e_b)] - e_b)))
        errs.append(worst)
    assert 3.7 <= _slope(np.array(errs)) <= 4.3


def test_every_pair_of_p_configurations_is_reached():
    # the pair hopping acts inside the degenerate manifold (p0 m2 <-> p2 m0): naive
    # non-degenerate perturbation theory (diagonal terms only) would miss it
    eff = kbp_sw(1)
    pu, pd, mu, md = Mode("p", 0, UP), Mode("p", 0, DN), Mode("m", 0, UP), Mode("m", 0, DN)
    states = [(pu, pd), (mu, md)]
    kets = [cdag(a) * cdag(b) for a, b in states]
    for (i, a), (j, b) in itertools.product(enumerate(kets), repeat=2):
        element = (a.adjoint() * eff.orders[2] * b).constant()
        assert element != 0, (i, j)
