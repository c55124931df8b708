"""Numeric physics of the ED layer against independent truths (issue 3, "Tests must show").

Everything goes through the public numeric API (:mod:`edkit.api`) and the model registry; the
reference values come from outside the code under test:

1. Hubbard rings against the Lieb-Wu Bethe ansatz (``tests/helpers/bethe.py``).
2. ``U = 0`` against free fermions: periodic rings for both parities of the particle number per
   spin (no hand-made boundary sign), open chains against ``-2t cos(pi k/(L+1))``; full spectra.
3. The Hubbard dimer in closed form (derived below) in every sector.
4. The isolated KBP rung in closed form in every ``(N, Sz)`` sector (derived below).
5. KBP correlators at half filling: ``2 C(i,j) = (-1)^(i-j) N(i,j)`` (particle-hole map + SU(2));
   fails away from the symmetric point.
6. KBP <-> Anderson lattice spectra through ``api.spectrum`` in particle-hole-mapped sectors.
7. Kondo lattice: closed form of one rung, SU(2) multiplets, a brute-force Fock build written here
   (``tests/helpers/fock.py``), and ``kbp-eff`` <-> ``kondo`` under the particle-hole map.
"""

from __future__ import annotations

from functools import cache
from itertools import combinations
from math import comb

import numpy as np
import pytest

from edkit import api
from edkit.core.model import Model, SectorError
from edkit.models import build_model
from tests.helpers.bethe import free_fermion_ring_energy, lieb_wu_ground_state
from tests.helpers.fock import fock_spectrum

ATOL = 1e-10


# ----------------------------------------------------------------------------- helpers
@cache
def model(name: str, L: int, bc: str = "open") -> Model:
    """A registry model, built (and its symbolic checks run) once per module."""
    return build_model(name, L, bc)


def full_spectrum(name: str, params: dict | None, N: int, Sz: float, L: int,
                  bc: str = "open") -> np.ndarray:
    """All levels of a sector through ``api.spectrum`` (``nev`` above the dimension -> dense)."""
    r = api.spectrum(model(name, L, bc), params, N=N, Sz=Sz, nev=10**6)
    e = np.asarray(r["energies"])
    assert len(e) == r["dimension"]
    return e


def ground_energy(name: str, params: dict | None, N: int, Sz: float, L: int, bc: str) -> float:
    """Lowest level of a sector through ``api.spectrum``."""
    return float(api.spectrum(model(name, L, bc), params, N=N, Sz=Sz, nev=1)["energies"][0])


def free_many_body(levels: np.ndarray, n_up: int, n_dn: int) -> np.ndarray:
    """Sorted many-body spectrum of free fermions: all sums over ``n_up`` and ``n_dn`` levels."""
    up = [sum(c) for c in combinations(levels, n_up)]
    dn = [sum(c) for c in combinations(levels, n_dn)]
    return np.sort(np.add.outer(up, dn).ravel())


def ring_levels(L: int, t: float) -> np.ndarray:
    """Single-particle levels of the periodic ring, momenta 2 pi m / L."""
    return -2 * t * np.cos(2 * np.pi * np.arange(L) / L)


def chain_levels(L: int, t: float) -> np.ndarray:
    """Single-particle levels of the open chain, standing waves k = pi m / (L+1), m = 1..L."""
    return -2 * t * np.cos(np.pi * np.arange(1, L + 1) / (L + 1))


def assert_levels(actual, expected, atol: float = ATOL, what: str = "") -> None:
    actual, expected = np.sort(np.asarray(actual, float)), np.sort(np.asarray(expected, float))
    assert actual.shape == expected.shape, f"{what}: {len(actual)} levels, expected {len(expected)}"
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=0, err_msg=what)


def ns(n_up: int, n_dn: int) -> tuple[int, float]:
    """``(N, Sz)`` of a sector given by its spin-resolved fermion numbers."""
    return n_up + n_dn, (n_up - n_dn) / 2


# ------------------------------------------------------------ 1. Hubbard ring vs Bethe
# Sectors: half filling (closed shell for L = 6: N + M odd), the doped L = 6, N = 4 sector whose
# ground state is a triplet (the oracle takes the min over spin sectors), a spin-polarized sector
# and N > L (the oracle's particle-hole mapping). All validated by tests/test_helpers_bethe.py.
L6_CASES = [(3, 3, 1.0), (3, 3, 4.0), (3, 3, 8.0), (2, 2, 4.0), (2, 1, 2.0), (3, 2, 8.0),
            (4, 4, 4.0)]


@pytest.mark.parametrize("n_up,n_dn,U", L6_CASES)
def test_hubbard_ring_L6_against_lieb_wu(n_up, n_dn, U):
    N, Sz = ns(n_up, n_dn)
    e = ground_energy("hubbard", {"U": U}, N, Sz, 6, "periodic")
    assert e == pytest.approx(lieb_wu_ground_state(6, n_up, n_dn, U), abs=1e-8)


@pytest.mark.parametrize("n_up,n_dn,U", [(4, 4, 4.0), (3, 3, 8.0)])
def test_hubbard_ring_L8_against_lieb_wu(n_up, n_dn, U):
    N, Sz = ns(n_up, n_dn)
    e = ground_energy("hubbard", {"U": U}, N, Sz, 8, "periodic")  # dimension 4900 / 3136: Lanczos
    assert e == pytest.approx(lieb_wu_ground_state(8, n_up, n_dn, U), abs=1e-8)


def test_hubbard_ring_hopping_scale_and_chemical_potential():
    # E(t, U, mu) = t E(1, U/t, 0) - mu N: checks that t and mu enter as documented.
    t, U, mu = 1.7, 6.8, 0.3
    e = ground_energy("hubbard", {"t": t, "U": U, "mu": mu}, 6, 0, 6, "periodic")
    assert e == pytest.approx(t * lieb_wu_ground_state(6, 3, 3, U / t) - 6 * mu, abs=1e-8)


# ------------------------------------------------------------ 2. U = 0: free fermions
# Periodic ring: the bond (L-1, 0) is written with plain fermion operators, so the levels are
# -2t cos(2 pi m/L) whatever the particle number. (A Jordan-Wigner ring without the string
# would be antiperiodic for an even number of particles per spin.) Full spectra are compared.
@pytest.mark.parametrize("L,n_up,n_dn", [(6, 2, 3), (6, 3, 3), (6, 2, 2), (5, 2, 1), (5, 2, 2),
                                         (4, 1, 2)])
def test_free_ring_full_spectrum_both_parities(L, n_up, n_dn):
    t = 1.3
    N, Sz = ns(n_up, n_dn)
    e = full_spectrum("hubbard", {"U": 0, "t": t}, N, Sz, L, "periodic")
    assert_levels(e, free_many_body(ring_levels(L, t), n_up, n_dn), what=f"ring L={L} {n_up, n_dn}")
    assert e[0] == pytest.approx(free_fermion_ring_energy(L, n_up, n_dn, t), abs=ATOL)


def test_free_ring_even_count_is_not_antiperiodic():
    # The test above can tell the two boundary conditions apart: for 2 particles per spin on
    # 6 sites the antiperiodic ground state would be lower by 2(2 sqrt(3) - 3) t.
    e = ground_energy("hubbard", {"U": 0}, 4, 0, 6, "periodic")
    anti = -2 * np.cos(2 * np.pi * (np.arange(6) + 0.5) / 6)
    e_anti = 2 * np.sort(anti)[:2].sum()
    assert e == pytest.approx(-6.0, abs=ATOL)
    assert e - e_anti == pytest.approx(2 * (2 * np.sqrt(3) - 3), abs=ATOL)


@pytest.mark.parametrize("L,n_up,n_dn", [(5, 2, 3), (6, 3, 3), (6, 1, 4), (3, 1, 1)])
def test_free_open_chain_full_spectrum(L, n_up, n_dn):
    t, mu = 0.8, 0.25
    N, Sz = ns(n_up, n_dn)
    e = full_spectrum("hubbard", {"U": 0, "t": t, "mu": mu}, N, Sz, L, "open")
    expected = free_many_body(chain_levels(L, t), n_up, n_dn) - mu * N
    assert_levels(e, expected, what=f"open L={L} {n_up, n_dn}")


# ------------------------------------------------------------ 3. Hubbard dimer
# H = -t sum_s (c+_0s c_1s + h.c.) + U sum_i n_iu n_id - mu N on two sites (open).
# N = 2, Sz = 0, basis |a> = c+_0u c+_0d|0>, |b> = c+_1u c+_1d|0>, |c> = c+_0u c+_1d|0>,
# |d> = c+_1u c+_0d|0>. Only the terms that move one electron act:
#   H_t|c> = -t (c+_1u c_0u + c+_0d c_1d) c+_0u c+_1d|0> = -t (|b> + |a>)
#     (c+_0d c_1d c+_0u c+_1d = -c+_0d c+_0u = +c+_0u c+_0d),
#   H_t|d> = -t (c+_0u c_1u + c+_1d c_0d) c+_1u c+_0d|0> = -t (|a> + |b>).
# So |c> - |d> (the Sz = 0 triplet) has E = 0, |a> - |b> has E = U, and on
# {(|a>+|b>)/sqrt2, (|c>+|d>)/sqrt2} H = [[U, -2t], [-2t, 0]]: E = (U +- sqrt(U^2 + 16 t^2))/2.
# Sz = +-1 (N = 2): the two parallel spins cannot hop: E = 0.
# N = 1: bonding/antibonding -t, +t. N = 3 (one hole, e.g. Sz = 1/2: |ud, u>, |u, ud>): both
# states have one double occupancy (U) and the down electron hops between them: U -+ t.
# N = 0: 0; N = 4: 2U. The chemical potential adds -mu N everywhere.
def dimer_levels(N: int, Sz: float, t: float, U: float, mu: float) -> list[float]:
    root = np.sqrt(U * U + 16 * t * t)
    table = {
        (0, 0.0): [0.0], (1, 0.5): [-t, t], (1, -0.5): [-t, t],
        (2, 1.0): [0.0], (2, -1.0): [0.0], (2, 0.0): [0.0, U, (U - root) / 2, (U + root) / 2],
        (3, 0.5): [U - t, U + t], (3, -0.5): [U - t, U + t], (4, 0.0): [2 * U],
    }
    return [e - mu * N for e in table[(N, Sz)]]


DIMER_SECTORS = [(0, 0.0), (1, 0.5), (1, -0.5), (2, 1.0), (2, -1.0), (2, 0.0), (3, 0.5),
                 (3, -0.5), (4, 0.0)]


@pytest.mark.parametrize("t,U,mu", [(1.0, 4.0, 0.0), (0.7, 2.3, 0.4), (1.2, -3.0, -0.5),
                                    (1.0, 0.0, 0.0)])
def test_hubbard_dimer_closed_form(t, U, mu):
    p = {"t": t, "U": U, "mu": mu}
    for N, Sz in DIMER_SECTORS:
        e = full_spectrum("hubbard", p, N, Sz, 2, "open")
        assert_levels(e, dimer_levels(N, Sz, t, U, mu), what=f"dimer N={N} Sz={Sz} {p}")


# ------------------------------------------------------------ 4. the isolated KBP rung
# H = -U n_pu n_pd - mu_p (n_p - 1) - mu_m (n_m - 1) - t_perp sum_s (p+_s m_s + h.c.).
# Site energies: p empty +mu_p, single 0, double -U - mu_p; m empty +mu_m, single 0, double -mu_m.
# N = 0: mu_p + mu_m.  N = 4: -U - mu_p - mu_m.
# N = 1 (either spin): {|p>, |m>} with diagonal (mu_m, mu_p) and coupling -t_perp:
#   E = (mu_p + mu_m)/2 -+ sqrt(((mu_p - mu_m)/2)^2 + t_perp^2).
# N = 2, Sz = +-1: parallel spins, hopping blocked: E = 0.
# N = 2, Sz = 0: {|D,0>, |0,D>, |u,d>, |d,u>}; exactly as in the dimer (p = site 0, m = site 1)
#   the triplet combination of the covalent states decouples at E = 0 and the covalent singlet
#   couples to |D,0> and to |0,D> with amplitude -sqrt(2) t_perp each. With
#   A = -U - mu_p + mu_m (|D,0>), B = mu_p - mu_m (|0,D>) and c^2 = 2 t_perp^2 the remaining 3x3
#   block is tridiagonal (D,0)-(singlet)-(0,D), so its characteristic polynomial is
#   (x - A)(x - B) x - c^2 (x - A) - c^2 (x - B)
#   = x^3 - (A + B) x^2 + (AB - 2c^2) x + c^2 (A + B).
#   At the symmetric point mu_p = -U/2, mu_m = 0: A = B = -U/2, and the roots are -U/2
#   (|D,0> - |0,D>) and (-U/2 -+ sqrt(U^2/4 + 16 t_perp^2))/2.
# N = 3, Sz = +-1/2: {|D,s>, |s,D>} with diagonal (-U - mu_p, -mu_m), coupling t_perp:
#   E = (A' + B')/2 -+ sqrt(((A' - B')/2)^2 + t_perp^2), A' = -U - mu_p, B' = -mu_m.
def two_level(a: float, b: float, t: float) -> list[float]:
    r = np.sqrt(((a - b) / 2) ** 2 + t * t)
    return [(a + b) / 2 - r, (a + b) / 2 + r]


def rung_levels(N: int, Sz: float, U: float, t: float, mu_p: float, mu_m: float) -> list[float]:
    if N == 0:
        return [mu_p + mu_m]
    if N == 4:
        return [-U - mu_p - mu_m]
    if N == 1:
        return two_level(mu_m, mu_p, t)
    if N == 3:
        return two_level(-U - mu_p, -mu_m, t)
    if abs(Sz) == 1:
        return [0.0]
    A, B, c2 = -U - mu_p + mu_m, mu_p - mu_m, 2 * t * t
    cubic = np.roots([1.0, -(A + B), A * B - 2 * c2, c2 * (A + B)])
    assert np.max(np.abs(cubic.imag)) < 1e-8  # real symmetric block
    return [0.0, *np.real(cubic)]


RUNG_SECTORS = [(0, 0.0), (1, 0.5), (1, -0.5), (2, 1.0), (2, 0.0), (2, -1.0), (3, 0.5),
                (3, -0.5), (4, 0.0)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kbp_rung_closed_form_every_sector(seed):
    rng = np.random.default_rng(100 + seed)
    U, t, mu_p, mu_m = rng.uniform(0.5, 6), rng.uniform(0.2, 1.5), rng.uniform(-4, 1), rng.uniform(-1, 1)
    p = {"U": U, "t_perp": t, "mu_p": mu_p, "mu_m": mu_m}
    for N, Sz in RUNG_SECTORS:
        e = full_spectrum("kbp", p, N, Sz, 1)
        assert_levels(e, rung_levels(N, Sz, U, t, mu_p, mu_m), what=f"rung N={N} Sz={Sz} {p}")


def test_kbp_rung_half_filling_symmetric_point():
    U, t = 4.0, 0.5  # defaults: mu_p = -U/2, mu_m = 0
    e = full_spectrum("kbp", None, 2, 0, 1)
    r = np.sqrt(U * U / 4 + 16 * t * t)
    assert_levels(e, [0.0, -U / 2, (-U / 2 - r) / 2, (-U / 2 + r) / 2])


# ------------------------------------------------------------ 5. KBP pair vs density correlators
# Particle-hole map c_u -> d_u, c_d(i) -> eps_i d+_d(i), eps_i = (-1)^i on p, (-1)^(i+1) on m:
#   Delta_i = c_id c_iu -> eps_i d+_id d_iu = eps_i S^-_i,  n_i - 1 -> 2 S^z_i,
# so C(i,j) = <Delta+_i Delta_j> = eps_i eps_j <S^+_i S^-_j> and N(i,j) = 4 <S^z_i S^z_j> in the
# Anderson lattice (fields h_p = U/2 + mu_p, h_m = mu_m). At mu_p = -U/2, mu_m = 0 the fields vanish
# and its ground state (sector N_up = N_dn = L) is an SU(2) singlet: <S^+_i S^-_j> = 2 <S^z_i S^z_j>.
# Hence 2 C(i,j) = eps_i eps_j N(i,j) = (-1)^(i-j) N(i,j) within either layer.
@pytest.mark.parametrize("L,bc", [(3, "open"), (4, "open"), (4, "periodic")])
def test_kbp_half_filling_pair_equals_density_correlator(L, bc):
    rng = np.random.default_rng(7 + L)
    U = rng.uniform(1, 6)
    cases = [None, {"U": U, "t_perp": rng.uniform(0.2, 1.5), "t_m": rng.uniform(0.5, 2),
                    "mu_p": -U / 2, "mu_m": 0}]
    for params in cases:
        for ref in (0, 1):
            r = api.correlations(model("kbp", L, bc), params, N=2 * L, Sz=0, reference=ref)
            assert r["ground_state_degeneracy"] == 1
            for layer in ("p", "m"):
                C = np.asarray(r["layers"][layer]["C"])
                Nc = np.asarray(r["layers"][layer]["N"])
                sign = (-1.0) ** (ref - np.arange(L))
                np.testing.assert_allclose(2 * C, np.abs(Nc), atol=ATOL, rtol=0)
                np.testing.assert_allclose(2 * C, sign * Nc, atol=ATOL, rtol=0)
                assert np.max(np.abs(Nc)) > 1e-2  # not trivially zero


@pytest.mark.parametrize("L,bc", [(3, "open"), (4, "periodic")])
def test_kbp_pair_density_identity_fails_away_from_symmetric_point(L, bc):
    # doped (N = 2L + 2) at the symmetric point, and half filling with mu_p shifted
    for params, N in ((None, 2 * L + 2), ({"U": 4.0, "mu_p": -1.2}, 2 * L)):
        r = api.correlations(model("kbp", L, bc), params, N=N, Sz=0)
        dev = max(np.max(np.abs(2 * np.asarray(r["layers"][lay]["C"]) - np.abs(r["layers"][lay]["N"])))
                  for lay in ("p", "m"))
        assert dev > 1e-3, (params, N, dev)


# ------------------------------------------------------------ 6. KBP <-> Anderson via the API
# c_d -> eps d+_d sends the KBP sector (N_up, N_dn) to the Anderson sector (N_up, 2L - N_dn) and
# E_KBP(U, t_perp, t_m, mu_p, mu_m) = E_AL(U, t_perp, t_m, h_p = U/2 + mu_p, h_m = mu_m) - U L/4.
def al_params(p: dict) -> dict:
    return {"U": p["U"], "t_perp": p["t_perp"], "t_m": p["t_m"], "h_p": p["U"] / 2 + p["mu_p"],
            "h_m": p["mu_m"]}


@pytest.mark.parametrize("L,bc,seed", [(2, "open", 0), (3, "open", 1), (3, "open", 2)])
def test_kbp_anderson_full_spectra_via_api(L, bc, seed):
    rng = np.random.default_rng(seed)
    p = {"U": rng.uniform(1, 6), "t_perp": rng.uniform(0.2, 1.5), "t_m": rng.uniform(0.5, 2),
         "mu_p": rng.uniform(-3, 1), "mu_m": rng.uniform(-1, 1)}
    sectors = [(L, L), (L + 1, L), (L - 1, L - 1), (L + 1, L + 1), (2, 1), (L + 2, L - 1)]
    for n_up, n_dn in sectors:
        e_kbp = full_spectrum("kbp", p, *ns(n_up, n_dn), L, bc)
        e_al = full_spectrum("anderson", al_params(p), *ns(n_up, 2 * L - n_dn), L, bc)
        assert_levels(e_kbp, e_al - p["U"] * L / 4, what=f"L={L} {(n_up, n_dn)}")


def test_kbp_anderson_lowest_levels_periodic_L4():
    p = {"U": 3.1, "t_perp": 0.7, "t_m": 1.2, "mu_p": -0.9, "mu_m": 0.3}
    L, nev = 4, 6
    for n_up, n_dn in [(4, 4), (5, 3)]:
        a = api.spectrum(model("kbp", L, "periodic"), p, N=n_up + n_dn, Sz=(n_up - n_dn) / 2, nev=nev)
        b = api.spectrum(model("anderson", L, "periodic"), al_params(p), N=n_up + 2 * L - n_dn,
                         Sz=(n_up - 2 * L + n_dn) / 2, nev=nev)
        assert a["dimension"] == b["dimension"]
        np.testing.assert_allclose(a["energies"], np.asarray(b["energies"]) - p["U"] * L / 4,
                                   atol=1e-9, rtol=0)


# ------------------------------------------------------------ 7. Kondo lattice
# One rung, one conduction electron: S_p . s_m = (S_tot^2 - 3/2)/2 -> singlet -3J/4, triplet J/4.
# No conduction electron or two (a closed shell on one site): only the free spin, E = 0.
@pytest.mark.parametrize("J", [1.3, -0.7])
def test_kondo_single_rung_closed_form(J):
    p = {"J": J}
    assert_levels(full_spectrum("kondo", p, 1, 0, 1), [-3 * J / 4, J / 4])
    assert_levels(full_spectrum("kondo", p, 1, 1, 1), [J / 4])
    assert_levels(full_spectrum("kondo", p, 1, -1, 1), [J / 4])
    for N in (0, 2):
        for Sz in (0.5, -0.5):
            assert_levels(full_spectrum("kondo", p, N, Sz, 1), [0.0])


def cluster_levels(spectra: dict[float, np.ndarray], tol: float = 1e-8) -> list[dict[float, int]]:
    """Group all levels of all Sz sectors into clusters; count each sector's members per cluster."""
    allv = np.sort(np.concatenate(list(spectra.values())))
    edges = [allv[0]]
    for x in allv[1:]:
        if x - edges[-1] > tol:
            edges.append(x)
    out = []
    for k, lo in enumerate(edges):
        hi = edges[k + 1] if k + 1 < len(edges) else np.inf
        out.append({sz: int(np.sum((e >= lo - tol / 2) & (e < hi - tol / 2))) for sz, e in spectra.items()})
    return out


@pytest.mark.parametrize("L,N", [(2, 2), (2, 1), (3, 3), (3, 2)])
def test_kondo_su2_multiplets(L, N):
    # A level of total spin S appears once in each Sz = -S..S. So the count of a level in Sz is
    # even in Sz and non-increasing in |Sz|; n(Sz) - n(Sz + 1) multiplets have S = Sz.
    p = {"J": 1.1, "t_m": 0.9}
    total = N + L  # fermions (local spins included) -> Sz steps of 1 from the lowest |Sz|
    szs = [s / 2 for s in range(-total, total + 1, 2)]
    spectra = {}
    for sz in szs:
        try:
            spectra[sz] = full_spectrum("kondo", p, N, sz, L)
        except SectorError:
            spectra[sz] = np.zeros(0)
    dims = {sz: len(e) for sz, e in spectra.items()}
    assert sum(dims.values()) == 2**L * comb(2 * L, N)  # spins (x) conduction electrons
    for counts in cluster_levels(spectra):
        for sz in szs:
            assert counts[sz] == counts[-sz], counts
            if sz >= 0 and sz + 1 in counts:
                assert counts[sz] >= counts[sz + 1], counts
    # in particular the Sz = 1 (or 3/2) spectrum lies inside the lowest-|Sz| one
    low = min(abs(s) for s in szs)
    hi = spectra[low + 1]
    assert all(np.min(np.abs(spectra[low] - x)) < 1e-9 for x in hi)


def kondo_fock_spectrum(L: int, N: int, Sz: float, J: float, t: float) -> np.ndarray:
    """Kondo chain (open) written from scratch for the brute-force Fock builder.

    Mode index: f_iu = i, f_id = L + i, c_iu = 2L + i, c_id = 3L + i (any order gives the same
    spectrum). J S.s = J [S^z s^z + (S^+ s^- + S^- s^+)/2] with S^+ = f+_u f_d.
    """
    fu, fd, cu, cd = (lambda i: i), (lambda i: L + i), (lambda i: 2 * L + i), (lambda i: 3 * L + i)
    terms = []
    for i in range(L - 1):
        for c in (cu, cd):
            terms += [(-t, [(c(i), True), (c(i + 1), False)]), (-t, [(c(i + 1), True), (c(i), False)])]
    for i in range(L):
        for a, sa in ((fu, 1), (fd, -1)):
            for b, sb in ((cu, 1), (cd, -1)):
                terms.append((J * sa * sb / 4, [(a(i), True), (a(i), False), (b(i), True), (b(i), False)]))
        terms.append((J / 2, [(fu(i), True), (fd(i), False), (cd(i), True), (cu(i), False)]))
        terms.append((J / 2, [(fd(i), True), (fu(i), False), (cu(i), True), (cd(i), False)]))
    nf = N + L
    n_up, n_dn = (nf + int(2 * Sz)) // 2, (nf - int(2 * Sz)) // 2
    cons = [([fu(i), fd(i)], 1) for i in range(L)]
    cons += [([fu(i) for i in range(L)] + [cu(i) for i in range(L)], n_up),
             ([fd(i) for i in range(L)] + [cd(i) for i in range(L)], n_dn)]
    return fock_spectrum(4 * L, terms, cons)


@pytest.mark.parametrize("L,N,Sz", [(2, 2, 0), (2, 1, 0.5), (2, 3, 1.5), (3, 3, 0.0), (3, 2, 0.5)])
def test_kondo_against_brute_force_fock(L, N, Sz):
    J, t = 1.7, 0.6
    assert_levels(full_spectrum("kondo", {"J": J, "t_m": t}, N, Sz, L),
                  kondo_fock_spectrum(L, N, Sz, J, t), what=f"kondo L={L} N={N} Sz={Sz}")


# kbp-eff -> kondo under c_u -> d_u, c_d(i) -> eps_i d+_d(i) (eps_p eps_m = -1 on a rung, -1 on a
# metal bond of an open chain or an even ring):
#   p empty -> one down spin, p doubled -> one up spin (constraint 0/2 -> exactly 1);
#   (n_p - 1)(n_m - 1)/4 -> S^z_p s^z_m;  Delta+_p Delta_m -> eps_p eps_m S^+_p s^-_m = -S^+_p s^-_m,
#   so J[(n_p-1)(n_m-1)/4 - (Delta+_p Delta_m + h.c.)/2] -> J S_p . s_m; the metal hopping is kept
#   (down spins: -t eps_i eps_j d_i d+_j = -t d+_j d_i); -mu_m (n_m - 1) -> -2 mu_m s^z (set mu_m=0).
# Fermion numbers: (N_up, N_dn) -> (N_up, 2L - N_dn). Kondo's N counts conduction electrons only:
#   N_K = N_up + 2L - N_dn - L = N_up - N_dn + L,  Sz_K = (N_up - 2L + N_dn)/2.  No constant.
@pytest.mark.parametrize("L,bc", [(2, "open"), (3, "open"), (4, "periodic")])
def test_kbp_effective_vs_kondo_particle_hole(L, bc):
    rng = np.random.default_rng(31 + L)
    J, t = rng.uniform(0.3, 2.0), rng.uniform(0.5, 1.5)
    if L == 4:  # one sector of the even ring (dimension 1120, dense)
        sectors = [(4, 4), (5, 4)]
    else:
        sectors = [(u, d) for u in range(2 * L + 1) for d in range(2 * L + 1)]
    n_nonempty = 0
    for n_up, n_dn in sectors:
        try:
            e_eff = full_spectrum("kbp-eff", {"J": J, "t_m": t}, *ns(n_up, n_dn), L, bc)
        except SectorError:
            e_eff = np.zeros(0)
        try:
            e_k = full_spectrum("kondo", {"J": J, "t_m": t}, n_up - n_dn + L, (n_up + n_dn - 2 * L) / 2,
                                L, bc)
        except SectorError:
            e_k = np.zeros(0)
        n_nonempty += len(e_eff) > 0
        assert_levels(e_eff, e_k, what=f"kbp-eff {(n_up, n_dn)} L={L} {bc}")
    assert n_nonempty >= len(sectors) // 2
