"""The two-wire model (Shavit-Oreg primary/secondary wires), its fluxes and Drude weights.

Independent truths used here: a brute-force Fock-space Hamiltonian written in this file from
the docstring formula (tests/helpers/fock.py), free-fermion closed forms with the flux, the
Lieb-Wu Bethe ansatz for the decoupled primary wire (tests/helpers/bethe.py), identities of the
definitions (decoupling, gauge periodicity, D_12 = D_21), and second-order perturbation theory
derived symbolically in mappings/two_wire.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy

from edkit.api import gaps, solve_sector
from edkit.cli import main as cli_main
from edkit.core.model import SectorError
from edkit.core.params import ParameterError
from edkit.models import MODELS, build_model
from edkit.models.two_wire import two_wire
from edkit.studies import drag
from edkit.studies.drag import DegenerateGroundStateError, drude_weights
from edkit.studies.two_wire import (
    binding_energies,
    density_mismatch,
    secondary_filling,
    solve,
    tensor_space,
)
from mappings import two_wire as pt
from tests.helpers.bethe import lieb_wu_ground_state
from tests.helpers.fock import fock_spectrum

PARAMS = ("t", "U", "V_p", "t_s", "V_s", "mu_s", "V", "V_d")


# ------------------------------------------------------------------ brute-force oracle
def fock_terms(L: int, bc: str, p: dict) -> list:
    """The docstring Hamiltonian on modes: pri up i -> i, pri dn i -> L+i, sec j -> 2L+j."""
    up, dn, sec = (lambda i: i), (lambda i: L + i), (lambda j: 2 * L + j)
    bonds = [(i, i + 1) for i in range(L - 1)] + ([(L - 1, 0)] if bc == "periodic" else [])
    terms = []

    def hop(a, b, amp, phase):  # -amp (e^{i phase} c†_b c_a + h.c.)
        terms.append((-amp * np.exp(1j * phase), [(b, True), (a, False)]))
        terms.append((-amp * np.exp(-1j * phase), [(a, True), (b, False)]))

    def nn(a, b, g):
        terms.append((g, [(a, True), (a, False), (b, True), (b, False)]))

    for i, j in bonds:
        for s in (up, dn):
            hop(s(i), s(j), p["t"], p["phi_1"] / L)
        hop(sec(i), sec(j), p["t_s"], p["phi_2"] / L)
        for s1 in (up, dn):
            for s2 in (up, dn):
                nn(s1(i), s2(j), p["V_p"])
            nn(s1(i), sec(j), p["V_d"])
            nn(s1(j), sec(i), p["V_d"])
        nn(sec(i), sec(j), p["V_s"])
    for i in range(L):
        nn(up(i), dn(i), p["U"])
        terms.append((-p["mu_s"], [(sec(i), True), (sec(i), False)]))
        for s in (up, dn):
            nn(s(i), sec(i), p["V"])
    return terms


def fock_levels(L, bc, p, n_up, n_dn, n_s):
    cons = [(range(L), n_up), (range(L, 2 * L), n_dn), (range(2 * L, 3 * L), n_s)]
    return fock_spectrum(3 * L, fock_terms(L, bc, p), cons)


def random_params(rng, fluxes=True) -> dict:
    p = {k: float(rng.uniform(-1.5, 1.5)) for k in PARAMS}
    p["phi_1"] = float(rng.uniform(0, 2 * np.pi)) if fluxes else 0.0
    p["phi_2"] = float(rng.uniform(0, 2 * np.pi)) if fluxes else 0.0
    return p


# ------------------------------------------------------------------ model and sectors
def test_registered_listed_and_sectors():
    assert MODELS["two-wire"] is two_wire
    m = build_model("two-wire", 2, "open")  # what `edkit models` builds
    assert m.sector_names == ("N", "Sz", "N_s")
    assert set(m.parameters) == set(PARAMS) | {"phi_1", "phi_2"}
    m4 = two_wire(4, "periodic")
    s = m4.sector(3, 0.5, N_s=2)
    assert (s.n_up, s.n_dn) == (2 + 2, 1)
    assert m4.sector(2, 0).constraints[0].allowed == (2,)  # default N_s = L // 2
    assert m4.default_N() == 4  # command line without --sector N: half-filled primary wire
    for bad in ({"N_s": 5}, {"N_s": -1}, {"N_s": 1.5}):
        with pytest.raises(SectorError, match="N_s"):
            m4.sector(2, 0, **bad)
    with pytest.raises(SectorError, match="parity"):
        m4.sector(3, 0, N_s=1)
    with pytest.raises(SectorError, match="unknown sector"):
        m4.sector(2, 0, M=1)


@pytest.mark.parametrize("L,bc,sectors", [
    (3, "periodic", [(1, 1, 1), (2, 1, 2), (2, 2, 1), (3, 1, 0)]),
    (4, "open", [(2, 1, 2), (1, 1, 3)]),
])
def test_spectrum_equals_brute_force_fock_hamiltonian(L, bc, sectors):
    """Random parameters and fluxes: generic and tensor paths against the oracle, all levels."""
    rng = np.random.default_rng(7 + L)
    m = two_wire(L, bc)
    for n_up, n_dn, n_s in sectors:
        p = random_params(rng)
        ref = fock_levels(L, bc, p, n_up, n_dn, n_s)
        N, Sz = n_up + n_dn, (n_up - n_dn) / 2
        generic, _ = solve_sector(m, p, N, Sz, nev=len(ref), extra={"N_s": n_s}, method="stored")
        tensor, _ = solve(m, p, N, Sz, n_s, nev=len(ref))
        np.testing.assert_allclose(generic.energies, ref, atol=1e-10)
        np.testing.assert_allclose(tensor.energies, ref, atol=1e-10)


# ------------------------------------------------------------------ decoupling at V = 0
def _secondary_alone(L, t_s, V_s, mu_s, n_s):
    """Spinless ring by brute force (L modes): the secondary wire on its own."""
    p = dict.fromkeys(PARAMS, 0.0) | {"t": 0.0, "t_s": t_s, "V_s": V_s, "mu_s": mu_s,
                                       "phi_1": 0.0, "phi_2": 0.0}
    terms = [(c, w) for c, w in fock_terms(L, "periodic", p) if all(k >= 2 * L for k, _ in w)]
    terms = [(c, [(k - 2 * L, d) for k, d in w]) for c, w in terms]
    return fock_spectrum(L, terms, [(range(L), n_s)])[0]


@pytest.mark.parametrize("n_up,n_dn,n_s", [(1, 1, 2), (2, 1, 1), (2, 2, 3)])
def test_V0_energies_add_and_D12_vanishes(n_up, n_dn, n_s):
    L, U, t_s, V_s, mu_s = 5, 3.0, 0.7, 1.9, 0.4
    vals = {"U": U, "t_s": t_s, "V_s": V_s, "mu_s": mu_s, "V": 0.0, "V_d": 0.0}
    m = two_wire(L, "periodic")
    e = solve(m, vals, n_up + n_dn, (n_up - n_dn) / 2, n_s)[0].energies[0]
    expected = lieb_wu_ground_state(L, n_up, n_dn, U) + _secondary_alone(L, t_s, V_s, mu_s, n_s)
    assert e == pytest.approx(expected, abs=1e-9)


def test_V0_mixed_drude_weight_is_zero_and_diagonal_ones_are_the_single_wires():
    L = 4
    m = two_wire(L, "periodic")
    vals = {"U": 2.5, "V_p": 0.6, "V_s": 1.5, "V": 0.0, "V_d": 0.0}
    for method in ("analytic", "fd"):
        d = drude_weights(m, vals, N=2, extra={"N_s": 3}, method=method)
        assert abs(d["D_12"]) < 1e-9 and abs(d["D_21"]) < 1e-9
    # the same diagonal weights with the other wire emptied (V = 0: nothing couples them)
    d0 = drude_weights(m, vals, N=2, extra={"N_s": 3})
    d_pri = drude_weights(m, vals, N=2, extra={"N_s": 0}, fluxes=("phi_1",))
    d_sec = drude_weights(m, vals, N=0, extra={"N_s": 3}, fluxes=("phi_2",))
    assert d0["D_11"] == pytest.approx(d_pri["D_11"], rel=1e-9)
    assert d0["D_22"] == pytest.approx(d_sec["D_11"], rel=1e-9)


# ------------------------------------------------------------------ free fermions with flux
def _free_ring(L, t, n, phi):
    """Sum of the n lowest -2t cos(2 pi m/L - phi/L) (the hop j -> j+1 carries e^{i phi/L})."""
    eps = np.sort(-2 * t * np.cos(2 * np.pi * np.arange(L) / L - phi / L))
    return float(eps[:n].sum())


@pytest.mark.parametrize("phi", [0.0, 0.9, np.pi, 4.0])
def test_free_fermion_energies_with_flux(phi):
    L, t, t_s, mu_s = 4, 1.0, 0.6, 0.25
    m = two_wire(L, "periodic")
    base = {"U": 0.0, "V_p": 0.0, "V_s": 0.0, "V": 0.0, "V_d": 0.0, "t": t, "t_s": t_s, "mu_s": mu_s}
    for (n_up, n_dn, n_s) in [(2, 1, 2), (1, 1, 3)]:
        vals = base | {"phi_1": phi, "phi_2": 0.5 * phi}
        e = solve(m, vals, n_up + n_dn, (n_up - n_dn) / 2, n_s)[0].energies[0]
        expected = (_free_ring(L, t, n_up, phi) + _free_ring(L, t, n_dn, phi)
                    + _free_ring(L, t_s, n_s, 0.5 * phi) - mu_s * n_s)
        assert e == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("L,n_sigma,n_s", [(6, 3, 1), (5, 1, 3), (7, 1, 5)])
def test_free_fermion_drude_weights_closed_form(L, n_sigma, n_s):
    """Closed shells: D = (1/L) sum_{occupied k} t cos k per species (Shastry-Sutherland)."""
    t, t_s = 1.0, 0.7
    m = two_wire(L, "periodic")
    vals = {"U": 0.0, "V": 0.0, "t": t, "t_s": t_s}
    ks = lambda n: 2 * np.pi * np.arange(-(n // 2), n // 2 + 1) / L  # noqa: E731
    d11 = 2 * t * np.cos(ks(n_sigma)).sum() / L
    d22 = t_s * np.cos(ks(n_s)).sum() / L
    d = drude_weights(m, vals, N=2 * n_sigma, extra={"N_s": n_s})
    assert d["D_11"] == pytest.approx(d11, rel=1e-9)
    assert d["D_22"] == pytest.approx(d22, rel=1e-9)
    assert abs(d["D_12"]) < 1e-10


# ------------------------------------------------------------------ gauge invariance
def test_flux_of_two_pi_leaves_the_spectrum_unchanged():
    """(The uniform-gauge oracle above already checks the boundary gauge at arbitrary flux.)"""
    rng = np.random.default_rng(3)
    m = two_wire(4, "periodic")
    p = random_params(rng, fluxes=False) | {"V": 1.3}
    for shift in ({"phi_1": 2 * np.pi}, {"phi_2": 2 * np.pi}, {"phi_1": 2 * np.pi, "phi_2": -2 * np.pi}):
        for base in ({"phi_1": 0.0, "phi_2": 0.0}, {"phi_1": 0.37, "phi_2": 1.1}):
            a = solve(m, p | base, 3, 0.5, 2, nev=12)[0].energies
            shifted = {k: base[k] + shift.get(k, 0.0) for k in base}
            b = solve(m, p | shifted, 3, 0.5, 2, nev=12)[0].energies
            np.testing.assert_allclose(a, b, atol=1e-10)
    c = solve(m, p | {"phi_1": np.pi, "phi_2": 0.0}, 3, 0.5, 2, nev=12)[0].energies
    assert np.max(np.abs(c - a)) > 1e-3  # a flux of pi is physical on a ring
    space = tensor_space(m, 3, 0.5, 2)  # and antiperiodic boundaries keep real arithmetic
    assert space.matrix(m.numeric_terms(p | {"phi_1": np.pi, "phi_2": np.pi})).dtype == np.float64


def test_flux_is_a_pure_gauge_on_open_chains():
    rng = np.random.default_rng(4)
    m = two_wire(4, "open")
    p = random_params(rng, fluxes=False)
    a = solve(m, p, 3, 0.5, 2, nev=10)[0].energies
    b = solve(m, p | {"phi_1": 1.234, "phi_2": 2.5}, 3, 0.5, 2, nev=10)[0].energies
    np.testing.assert_allclose(a, b, atol=1e-10)


# ------------------------------------------------------------------ Drude weights
def test_mixed_drude_weight_is_symmetric_and_methods_agree(monkeypatch):
    m = two_wire(5, "periodic")
    vals = {"U": 2.0, "V": 1.5, "V_d": 0.4, "V_s": 1.0, "t_s": 0.8}
    a = drude_weights(m, vals, N=2, extra={"N_s": 3})  # 250 states: conjugate gradients
    f = drude_weights(m, vals, N=2, extra={"N_s": 3}, method="fd")
    assert abs(a["D_12"]) > 1e-5  # coupled wires: a genuine mixed weight
    assert a["D_12"] == pytest.approx(a["D_21"], rel=1e-8)  # from separate resolvent solves
    for key in ("D_11", "D_22", "D_12"):
        assert a[key] == pytest.approx(f[key], rel=1e-4, abs=1e-8)
    monkeypatch.setattr(drag, "RESOLVENT_DENSE_LIMIT", 1000)  # the same through a full eigendecomposition
    dense = drude_weights(m, vals, N=2, extra={"N_s": 3})
    np.testing.assert_allclose(dense["D"], a["D"], rtol=1e-8, atol=1e-12)


def test_drude_weight_on_a_larger_sector_against_finite_differences():
    """540 states (conjugate gradients) at a flux pi through the secondary ring."""
    m = two_wire(6, "periodic")
    vals = {"U": 2.0, "V": 1.0, "V_s": 0.5}
    vals = vals | {"phi_2": np.pi}  # N_s = 2 on a ring: antiperiodic boundaries close the shell
    big = drude_weights(m, vals, N=2, Sz=0, extra={"N_s": 2}, method="analytic")
    assert big["D_12"] == pytest.approx(big["D_21"], rel=1e-6)
    fd = drude_weights(m, vals, N=2, Sz=0, extra={"N_s": 2}, method="fd")
    assert big["D_11"] == pytest.approx(fd["D_11"], rel=1e-4)
    assert big["D_12"] == pytest.approx(fd["D_12"], rel=1e-3, abs=1e-8)


def test_drude_weight_refusals():
    m = two_wire(4, "periodic")
    with pytest.raises(ValueError, match="periodic"):
        drude_weights(two_wire(4, "open"), N=2, extra={"N_s": 1})
    with pytest.raises(ParameterError, match="phi_3"):
        drude_weights(m, N=2, extra={"N_s": 1}, fluxes=("phi_1", "phi_3"))
    with pytest.raises(ValueError, match="method"):
        drude_weights(m, N=2, extra={"N_s": 1}, method="spline")
    # N_s = 2 free spinless fermions on a ring at zero flux: k = +-pi/2 degenerate
    with pytest.raises(DegenerateGroundStateError, match="phi = pi"):
        drude_weights(m, {"V": 0.0}, N=2, extra={"N_s": 2})
    d = drude_weights(m, {"V": 0.0, "phi_2": np.pi}, N=2, extra={"N_s": 2})  # shell closed
    assert d["D_22"] == pytest.approx(2 * np.cos(np.pi / 4) / 4, rel=1e-9)


# ------------------------------------------------------------------ perturbation theory in V
def test_symbolic_second_order_derivation_matches_closed_form():
    res = pt.verify_second_order((3, 4))
    assert res.passed, res.details
    L = sympy.Symbol("L", positive=True)
    # the general-L closed form at L=5 equals the finite momentum sum
    ts = pt.t + pt.t_s
    direct = -sum(1 / (2 * ts * (1 - sympy.cos(2 * sympy.pi * k / 5))) for k in range(1, 5)) / 25
    assert sympy.simplify(pt.closed_form(L).diff(pt.V, 2).subs(L, 5) / 2 - direct) == 0


def test_ed_minus_second_order_scales_as_V_cubed():
    L = 5
    m = two_wire(L, "periodic")
    base = {"t": 1.0, "t_s": 0.7, "mu_s": 0.3, "U": 3.0, "V_p": 0.5, "V_s": 1.3, "V_d": 0.0}
    Vs = np.array([0.02, 0.04, 0.08, 0.16])
    resid = []
    for v in Vs:
        e = solve(m, base | {"V": v}, 1, 0.5, 1)[0].energies[0]
        e_pt = float(pt.closed_form(L).subs({pt.t: 1.0, pt.t_s: 0.7, pt.mu_s: 0.3, pt.V: v}))
        resid.append(e - e_pt)
    slope = np.polyfit(np.log(Vs), np.log(np.abs(resid)), 1)[0]
    assert slope == pytest.approx(3.0, abs=0.2)
    # and the V^2 term is really there: ED minus first order is -(L^2-1) V^2/(12 L^2 (t+t_s))
    e1 = float(pt.closed_form(L).subs({pt.t: 1.0, pt.t_s: 0.7, pt.mu_s: 0.3, pt.V: 0.0}) + 0.02 / L)
    e = solve(m, base | {"V": 0.02}, 1, 0.5, 1)[0].energies[0]
    assert (e - e1) / 0.02**2 == pytest.approx(-(L**2 - 1) / (12 * L**2 * 1.7), rel=0.05)


# ------------------------------------------------------------------ binding energies, CLI
def test_binding_definitions_at_decoupling_and_against_generic_gaps():
    m = two_wire(4, "periodic")
    vals = {"U": 1.0, "V": 0.0, "V_s": 1.0}
    b = binding_energies(m, vals, N=2, N_s=3, carrier=-1)
    # V = 0: the carrier does not see the pair, so the trion is only as bound as the pair is
    assert b["pair_carrier_binding"] == pytest.approx(0.0, abs=1e-10)
    assert b["trion_binding"] == pytest.approx(max(0.0, b["pair_binding"]), abs=1e-10)
    coupled = {"U": 1.0, "V": 2.0, "V_s": 1.0}
    b = binding_energies(m, coupled, N=2, N_s=3, carrier=-1)
    g = gaps(m, coupled, N=2, extra={"N_s": 3})  # generic path, shared definitions
    assert b["pair_binding"] == pytest.approx(g["pair_binding"], abs=1e-10)
    assert b["spin_gap"] == pytest.approx(g["spin_gap"], abs=1e-10)
    ex = b["excitations"]
    channels = [ex["2,0"] + ex["0,1"], ex["1,1"] + ex["1,0"], 2 * ex["1,0"] + ex["0,1"]]
    assert b["trion_binding"] == pytest.approx(ex["2,1"] - min(channels), abs=1e-12)
    assert b["trion_binding"] < 0  # strong V binds a secondary hole to two electrons here
    with pytest.raises(ValueError, match="carrier"):
        binding_energies(m, vals, N=2, N_s=3, carrier=0)
    with pytest.raises(ValueError, match="two-wire"):
        binding_energies(build_model("hubbard", 4), N=2, N_s=1)
    assert density_mismatch(8, 4, 2) == pytest.approx(0.0)


def test_secondary_filling_follows_mu_s():
    m = two_wire(4, "periodic")
    low = secondary_filling(m, {"mu_s": -5.0, "V": 1.0}, N=2)
    high = secondary_filling(m, {"mu_s": 5.0, "V": 1.0}, N=2)
    assert low["N_s"] == 0 and high["N_s"] == 4
    assert len(low["energies"]) == 5


def test_cli_gaps_two_wire(capsys):
    code = cli_main(["gaps", "two-wire", "--L", "4", "--bc", "periodic", "--param", "V=2",
                     "--param", "V_s=1", "--param", "U=1", "--sector", "N=2", "--sector", "N_s=3",
                     "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    b = binding_energies(two_wire(4, "periodic"), {"U": 1, "V": 2, "V_s": 1}, N=2, N_s=3)
    assert data["pair_binding"] == pytest.approx(b["pair_binding"], abs=1e-10)
    assert data["sector"]["N_s"] == 3
    assert cli_main(["gaps", "two-wire", "--L", "4", "--sector", "N=2", "--sector", "N_s=9"]) == 2
