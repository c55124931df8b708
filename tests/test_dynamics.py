"""Spectral functions and imaginary-time correlators (issue 15, item 2) against independent truths.

Truths: the brute-force Fock builder (``tests/helpers/fock.py``: every matrix built here from
words written in this file, with its own Jordan-Wigner signs), numpy full diagonalization in the
test, closed forms (free fermions, the Hubbard atom, eta pairing: :math:`[H, \\eta^\\dagger_\\pi] =
(U - 2\\mu)\\eta^\\dagger_\\pi` on a bipartite ring), the anticommutator sum rule
:math:`\\{c_q, c_q^\\dagger\\} = 1`, and the two methods of the package against each other only
where one is already checked against a truth (continued fraction at exhaustion vs Lehmann).
"""

from __future__ import annotations

import cmath
import math
from functools import cache

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.sparse.linalg import aslinearoperator

from edkit.core.modes import DN, UP, Mode
from edkit.engine.backend_quspin import hamiltonian_matrix
from edkit.models import build_model
from edkit.response import dynamics
from edkit.response.continued_fraction import continued_fraction, lanczos, poles
from edkit.response.operators import SectorStates, apply_terms, operator_parts
from tests.helpers.fock import fock_matrix
from tests.helpers.model_fock import full_matrix, sector_states

OMEGA = np.linspace(-8, 10, 721)


# ------------------------------------------------------------------------------ independent truth
def oracle_operator(model, operator: str, q: float, layers=None) -> dict[str, tuple]:
    """``{part: (matrix on the whole Fock space, sign)}`` written from the definitions."""
    index = {m: k for k, m in enumerate(model.modes)}
    layers = layers or model.lattice.layers
    sites = [(lay, j) for lay in layers for j in range(model.lattice.L)]
    norm = 1 / math.sqrt(len(sites))
    n_modes = len(model.modes)

    def up(lay, j):
        return index[Mode(lay, j, UP)]

    def dn(lay, j):
        return index[Mode(lay, j, DN)]

    def ph(j, s):
        return norm * cmath.exp(-1j * s * q * j)

    if operator == "sz":
        terms = [(0.5 * ph(j, 1), [(up(a, j), True), (up(a, j), False)]) for a, j in sites]
        terms += [(-0.5 * ph(j, 1), [(dn(a, j), True), (dn(a, j), False)]) for a, j in sites]
        return {"operator": (fock_matrix(n_modes, terms), 1)}
    if operator == "n":
        terms = [(ph(j, 1), [(f(a, j), True), (f(a, j), False)]) for a, j in sites for f in (up, dn)]
        return {"operator": (fock_matrix(n_modes, terms), 1)}
    if operator == "c_up":
        remove = fock_matrix(n_modes, [(ph(j, 1), [(up(a, j), False)]) for a, j in sites])
        return {"addition": (remove.conj().T.tocsr(), 1), "removal": (remove, -1)}
    remove = fock_matrix(n_modes, [(ph(j, 1), [(dn(a, j), False), (up(a, j), False)]) for a, j in sites])
    return {"addition": (remove.conj().T.tocsr(), 1), "removal": (remove, -1)}


@cache
def oracle_sectors(name: str, L: int, bc: str, params: tuple) -> tuple:
    """Full Fock Hamiltonian and the full diagonalization of every (N_up, N_dn) sector."""
    model = build_model(name, L, bc)
    vals = model.resolve(dict(params))
    H = full_matrix(model, vals)
    return model, vals, H


def oracle_eig(name, L, bc, params, n_up, n_dn):
    from edkit.core.model import Sector

    model, vals, H = oracle_sectors(name, L, bc, params)
    idx = sector_states(model, Sector(n_up, n_dn))
    e, v = np.linalg.eigh(H[idx][:, idx].toarray())
    return idx, e, v


def oracle_spectrum(name, L, bc, params, n_up, n_dn, operator, q, omega, eta, layers=None):
    """``(S(omega), m0, m1, E0)`` by Lehmann sums written here (ground manifold averaged)."""
    model, vals, H = oracle_sectors(name, L, bc, params)
    idx, e, v = oracle_eig(name, L, bc, params, n_up, n_dn)
    g = int(np.sum(np.abs(e - e[0]) <= 1e-8 * (1 + abs(e[0]))))
    dim = H.shape[0]
    S = np.zeros_like(omega)
    m0 = m1 = 0.0
    shifts = {"operator": (0, 0), "addition": (1, 0), "removal": (-1, 0)}
    if operator == "pair":
        shifts = {"addition": (1, 1), "removal": (-1, -1)}
    for part, (O, sign) in oracle_operator(model, operator, q, layers).items():
        du, dd = shifts[part]
        if not (0 <= n_up + du <= model.n_orbitals and 0 <= n_dn + dd <= model.n_orbitals):
            continue
        tidx, et, vt = oracle_eig(name, L, bc, params, n_up + du, n_dn + dd)
        for a in range(g):
            ground = np.zeros(dim, dtype=complex)
            ground[idx] = v[:, a]
            phi = O @ ground
            m0 += np.vdot(phi, phi).real / g
            commutator = H @ (O @ ground) - O @ (H @ ground)  # [H, O]|0>
            m1 += sign * np.vdot(phi, commutator).real / g
            w = np.abs(vt.conj().T @ phi[tidx]) ** 2 / g
            for wk, ek in zip(w, et - e[0]):
                S += wk * eta / np.pi / ((omega - sign * ek) ** 2 + eta ** 2)
    return S, m0, m1, e[0]


# ------------------------------------------------------------------------------ conventions
@pytest.mark.parametrize("name,L,bc,N,Sz", [("hubbard", 4, "periodic", 3, 0.5), ("kbp-eff", 2, "open", 4, 0),
                                             ("kondo", 3, "open", 3, 0)])
def test_stored_basis_states_follow_the_fock_convention(name, L, bc, N, Sz):
    """QuSpin's states mapped to occupation integers carry no extra sign: H agrees with the oracle."""
    model = build_model(name, L, bc)
    vals = model.resolve({})
    H, space = hamiltonian_matrix(model, vals, model.sector(N, Sz))
    states = SectorStates.from_quspin(model, space)
    F = full_matrix(model, vals)
    assert np.abs(F[states.fock][:, states.fock].toarray() - H.toarray()).max() < 1e-12


@pytest.mark.parametrize("operator", ["sz", "n", "c_up", "pair"])
@pytest.mark.parametrize("q", [0.0, math.pi, 2 * math.pi / 3])
def test_operator_vectors_against_the_fock_builder(operator, q):
    model = build_model("hubbard", 3, "periodic")
    vals = model.resolve({})
    sector = model.sector(3, 0.5)
    _, space = hamiltonian_matrix(model, vals, sector)
    src = SectorStates.from_quspin(model, space)
    rng = np.random.default_rng(1)
    x = rng.normal(size=src.dimension) + 1j * rng.normal(size=src.dimension)
    full = np.zeros(1 << len(model.modes), dtype=complex)
    full[src.fock] = x
    oracle = oracle_operator(model, operator, q)
    for part in operator_parts(model, operator, q):
        target = part.target(sector, model.n_orbitals)
        _, tspace = hamiltonian_matrix(model, vals, target)
        dst = SectorStates.from_quspin(model, tspace)
        y = apply_terms(model, part.terms, src, dst, x)
        expected = (oracle[part.name][0] @ full)
        assert np.abs(y - expected[dst.fock]).max() < 1e-12
        assert np.abs(expected).sum() - np.abs(expected[dst.fock]).sum() < 1e-9  # nothing outside


# ------------------------------------------------------------------------------ Lehmann sums
CASES = [
    ("hubbard", 4, "periodic", (("U", 3.0),), 2, 2, "sz", math.pi / 2, None),
    ("hubbard", 4, "periodic", (("U", 3.0),), 2, 2, "n", math.pi, None),
    ("hubbard", 4, "periodic", (("U", 3.0), ("mu", 0.4)), 2, 1, "c_up", math.pi / 2, None),
    ("hubbard", 4, "open", (("U", 5.0),), 1, 1, "pair", 1.0, None),
    ("kbp", 2, "open", (("U", 4.0), ("t_perp", 0.7)), 2, 2, "c_up", math.pi, ("m",)),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[6]}" for c in CASES])
def test_exact_lehmann_against_independent_diagonalization(case):
    name, L, bc, params, n_up, n_dn, operator, q, layers = case
    S, m0, m1, e0 = oracle_spectrum(name, L, bc, params, n_up, n_dn, operator, q, OMEGA, 0.15, layers)
    res = dynamics(name, dict(params), L=L, bc=bc, N=n_up + n_dn, Sz=(n_up - n_dn) / 2, operator=operator,
                   q=q, omega=OMEGA, eta=0.15, method="exact", layer=layers[0] if layers else None)
    assert res.ground_energy == pytest.approx(e0, abs=1e-10)
    assert np.abs(np.array(res.spectrum) - S).max() < 1e-9
    assert res.sum_rules["m0"] == pytest.approx(m0, abs=1e-10)
    assert res.sum_rules["m1"] == pytest.approx(m1, abs=1e-10)
    assert res.sum_rules["m0_poles"] == pytest.approx(m0, abs=1e-10)
    assert res.sum_rules["m1_poles"] == pytest.approx(m1, abs=1e-10)
    if operator == "c_up":  # {c_q, c_q^dag} = 1
        assert res.sum_rules["m0"] == pytest.approx(1.0, abs=1e-12)


def test_degenerate_ground_state_is_averaged():
    """3-site ring, N=3, Sz=1/2: a momentum doublet; the average against the oracle's."""
    S, m0, m1, _ = oracle_spectrum("hubbard", 3, "periodic", (("U", 2.0),), 2, 1, "sz", 2 * math.pi / 3,
                                   OMEGA, 0.2)
    res = dynamics("hubbard", {"U": 2}, L=3, bc="periodic", N=3, Sz=0.5, operator="sz", q=2 * math.pi / 3,
                   omega=OMEGA, eta=0.2, method="exact")
    assert res.degeneracy == 2  # momentum +-2pi/3 doublet of the 3-site ring
    assert np.abs(np.array(res.spectrum) - S).max() < 1e-9
    lan = dynamics("hubbard", {"U": 2}, L=3, bc="periodic", N=3, Sz=0.5, operator="sz", q=2 * math.pi / 3,
                   omega=OMEGA, eta=0.2, method="lanczos")
    assert lan.degeneracy == 2
    assert np.abs(np.array(lan.spectrum) - S).max() < 1e-8


# ------------------------------------------------------------------------------ continued fraction
@pytest.mark.parametrize("backend", ["stored", "matrix-free"])
@pytest.mark.parametrize("operator,q,N", [("sz", math.pi, 6), ("c_up", math.pi / 3, 6), ("pair", math.pi, 4)])
def test_continued_fraction_at_exhaustion_equals_lehmann(backend, operator, q, N):
    kw = dict(L=6, bc="periodic", N=N, operator=operator, q=q, omega=OMEGA, eta=0.1, tau=[0.0, 0.5, 2.0])
    exact = dynamics("hubbard", {"U": 4}, method="exact", **kw)
    lan = dynamics("hubbard", {"U": 4}, method="lanczos", steps=600, backend=backend, **kw)
    assert lan.path == backend and lan.method == "lanczos"
    assert all(p["exhausted"] for p in lan.parts.values() if p.get("sector"))
    assert np.abs(np.array(lan.spectrum) - exact.spectrum).max() < 1e-8
    assert np.allclose(lan.G, exact.G, atol=1e-9)
    for key in ("m0", "m1", "m0_poles", "m1_poles"):
        assert lan.sum_rules[key] == pytest.approx(exact.sum_rules[key], abs=1e-9)


def test_continued_fraction_is_the_pole_sum():
    """The bottom-up continued fraction equals the resolvent of the tridiagonal matrix itself."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(40, 40))
    A = A + A.T
    phi = rng.normal(size=40)
    tri = lanczos(aslinearoperator(A), phi, 40)
    z = np.linspace(-10, 10, 50) + 0.3j
    direct = np.array([phi @ np.linalg.solve(zz * np.eye(40) - A, phi) for zz in z])
    assert np.abs(continued_fraction(z, tri) - direct).max() < 1e-9
    theta, w = poles(tri)
    assert np.allclose(np.sort(theta), np.linalg.eigvalsh(A), atol=1e-9)
    assert w.sum() == pytest.approx(phi @ phi)


def test_short_lanczos_keeps_the_low_moments():
    """M steps reproduce the first 2M moments: the two sum rules hold already with 2 steps."""
    res = dynamics("hubbard", {"U": 4}, L=8, bc="periodic", operator="sz", q=math.pi, omega=OMEGA, eta=0.1,
                   method="lanczos", steps=2)
    assert res.sum_rules["m0_poles"] == pytest.approx(res.sum_rules["m0"], rel=1e-10)
    assert res.sum_rules["m1_poles"] == pytest.approx(res.sum_rules["m1"], rel=1e-10)


# ------------------------------------------------------------------------------ closed forms
def test_free_fermions_single_particle_spectral_function():
    """U = 0 ring, closed shell (L=6, 3+3): A(k, w) is one delta at -2t cos k, weight 1."""
    t = 1.3
    occupied = {0.0, 2 * math.pi / 6, -2 * math.pi / 6}
    for m in range(6):
        k = 2 * math.pi * m / 6
        res = dynamics("hubbard", {"U": 0, "t": t}, L=6, bc="periodic", N=6, operator="c_up", q=k,
                       omega=OMEGA, eta=0.05, method="lanczos", steps=50, tau=[0.0])
        eps = -2 * t * math.cos(k)
        p = res.poles
        big = p.weight > 1e-10
        assert np.allclose(p.omega[big], eps, atol=1e-8)
        filled = any(abs(cmath.exp(1j * k) - cmath.exp(1j * o)) < 1e-9 for o in occupied)
        # removal weight <c+_k c_k> = n_k, addition weight <c_k c+_k> = 1 - n_k
        assert res.G_parts["removal"][0] == pytest.approx(1.0 if filled else 0.0, abs=1e-12)
        assert res.G_parts["addition"][0] == pytest.approx(0.0 if filled else 1.0, abs=1e-12)
        assert res.sum_rules["m0"] == pytest.approx(1.0, abs=1e-12)
        assert res.sum_rules["m1"] == pytest.approx(eps, abs=1e-10)  # <{[c_k, H], c_k^dag}> = eps_k
        lorentz = 0.05 / np.pi / ((OMEGA - eps) ** 2 + 0.05 ** 2)
        assert np.abs(np.array(res.spectrum) - lorentz).max() < 1e-8


def test_hubbard_atom():
    """One site, one down electron: adding an up electron costs U - mu; nothing to remove."""
    U, mu = 3.0, 0.7
    res = dynamics("hubbard", {"U": U, "mu": mu}, L=1, N=1, Sz=-0.5, operator="c_up", q=0, omega=OMEGA,
                   eta=0.1, method="exact")
    big = res.poles.weight > 1e-12
    assert np.allclose(res.poles.omega[big], [U - mu])
    assert res.poles.weight[big].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("bc", ["periodic", "open"])
def test_eta_pairing_is_one_pole(bc):
    """eta^dag_pi = sum_j (-1)^j c+_ju c+_jd raises the energy by exactly U - 2 mu (bipartite)."""
    U, mu = 3.0, 0.4
    res = dynamics("hubbard", {"U": U, "mu": mu}, L=4, bc=bc, N=2, operator="pair", q=math.pi, omega=OMEGA,
                   eta=0.1, method="lanczos", tau=[0.0, 0.3, 1.0])
    add = res.G_parts["addition"]
    assert add[0] > 0.1
    assert np.allclose(add, add[0] * np.exp(-(U - 2 * mu) * np.array([0.0, 0.3, 1.0])), rtol=1e-9)


# ------------------------------------------------------------------------------ imaginary time
def test_imaginary_time_zero_limit_gives_the_moments():
    h = 1e-6
    res = dynamics("hubbard", {"U": 4}, L=6, bc="periodic", operator="sz", q=math.pi, omega=OMEGA, eta=0.1,
                   method="lanczos", tau=[0.0, h])
    assert res.G[0] == pytest.approx(res.sum_rules["m0"], rel=1e-12)
    assert -(res.G[1] - res.G[0]) / h == pytest.approx(res.sum_rules["m1"], rel=1e-4)


def test_finite_temperature_correlator_against_thermal_trace():
    """G_beta(tau) = Tr[e^{-(beta-tau)H} O+ e^{-tau H} O]/Tr e^{-beta H} over the whole N sector."""
    model, vals, H = oracle_sectors("hubbard", 4, "periodic", (("U", 4.0),))
    from tests.helpers.fock import allowed_indices

    up = [k for k, m in enumerate(model.modes) if m.spin == UP]
    dn = [k for k, m in enumerate(model.modes) if m.spin == DN]
    idx = allowed_indices(len(model.modes), [(up + dn, (4,))])
    Hn = H[idx][:, idx].toarray()
    O = oracle_operator(model, "sz", math.pi)["operator"][0][idx][:, idx].toarray()
    beta, taus = 1.5, [0.0, 0.4, 1.5]
    e0 = np.linalg.eigvalsh(Hn)[0]
    Hs = Hn - e0 * np.eye(len(idx))
    Z = np.trace(sla.expm(-beta * Hs)).real
    expected = [np.trace(sla.expm(-(beta - t) * Hs) @ O.conj().T @ sla.expm(-t * Hs) @ O).real / Z
                for t in taus]
    res = dynamics("hubbard", {"U": 4}, L=4, bc="periodic", N=4, operator="sz", q=math.pi, omega=OMEGA,
                   eta=0.1, method="exact", tau=taus, beta=beta)
    assert np.allclose(res.G, expected, atol=1e-10)
    cold = dynamics("hubbard", {"U": 4}, L=4, bc="periodic", N=4, operator="sz", q=math.pi, omega=OMEGA,
                    eta=0.1, method="exact", tau=taus, beta=80.0)
    zero = dynamics("hubbard", {"U": 4}, L=4, bc="periodic", N=4, operator="sz", q=math.pi, omega=OMEGA,
                    eta=0.1, method="exact", tau=taus)
    assert np.allclose(cold.G, zero.G, atol=1e-8)


def test_spectrum_integral_matches_the_window_weight():
    grid = np.linspace(-30, 30, 24001)
    res = dynamics("hubbard", {"U": 4}, L=4, bc="periodic", operator="n", q=math.pi / 2, omega=grid, eta=0.2,
                   method="exact")
    r = res.sum_rules
    assert r["m0_spectrum"] == pytest.approx(r["m0_window"], rel=1e-5)
    assert r["m0_window"] == pytest.approx(r["m0"], rel=0.01)  # tails beyond +-30: ~ eta/(pi*30)


def test_json_keys_come_first():
    res = dynamics("hubbard", None, L=3, bc="periodic", operator="sz", q="pi", omega="0:1:3", eta=0.1)
    assert list(res.to_dict())[:3] == ["omega", "spectrum", "sum_rules"]
    assert {"m0", "m0_spectrum", "m1", "m1_spectrum"} <= set(res["sum_rules"])
