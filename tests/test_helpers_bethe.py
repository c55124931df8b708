"""Validate the Lieb-Wu oracle (tests/helpers/bethe.py) against a self-contained brute-force ED.

The ED below is deliberately independent of the package: full Fock space of 2L fermionic
modes built from Jordan-Wigner matrices (c_m = Z x ... x Z x a x 1 x ... x 1), the periodic
bond written as c+_{L-1,s} c_{0,s} + h.c. with true fermion operators (so the boundary sign
is automatic), then restricted to a fixed (n_up, n_dn) sector.
"""

from __future__ import annotations

from functools import cache
from math import comb

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

from tests.helpers.bethe import (
    free_fermion_ring_energy,
    lieb_wu_ground_state,
    lieb_wu_highest_weight_energy,
    lieb_wu_solution,
    quantum_number_candidates,
    quantum_numbers,
)


@cache
def _fock_operators(L: int):
    """Annihilators c_{j,s} (mode m = j + s*L), as CSR matrices on the 4^L Fock space."""
    nm = 2 * L
    a = sp.csr_matrix(np.array([[0.0, 1.0], [0.0, 0.0]]))  # a|1> = |0>
    z = sp.csr_matrix(np.diag([1.0, -1.0]))
    eye = sp.identity(2, format="csr")
    ops = []
    for m in range(nm):
        mat = sp.identity(1, format="csr")
        for q in range(nm):
            fac = z if q < m else (a if q == m else eye)
            mat = sp.kron(mat, fac, format="csr")
        ops.append(mat)
    return ops


@cache
def _hamiltonian_parts(L: int):
    ops = _fock_operators(L)
    dim = 4**L
    kin = sp.csr_matrix((dim, dim))
    for s in range(2):
        for j in range(L):
            ci = ops[j + s * L]
            cj = ops[(j + 1) % L + s * L]
            hop = ci.T @ cj
            kin = kin - (hop + hop.T)
    dbl = sp.csr_matrix((dim, dim))
    for j in range(L):
        nu = ops[j].T @ ops[j]
        nd = ops[j + L].T @ ops[j + L]
        dbl = dbl + nu @ nd
    # occupation of each mode in each basis state (mode 0 = most significant bit)
    idx = np.arange(dim)
    occ = (idx[:, None] >> (2 * L - 1 - np.arange(2 * L))[None, :]) & 1
    return kin.tocsr(), dbl.tocsr(), occ[:, :L].sum(axis=1), occ[:, L:].sum(axis=1)


def brute_force_ground_state(L, n_up, n_dn, U, t=1.0):
    kin, dbl, nup, ndn = _hamiltonian_parts(L)
    sel = np.flatnonzero((nup == n_up) & (ndn == n_dn))
    assert len(sel) == comb(L, n_up) * comb(L, n_dn)
    h = (t * kin + U * dbl)[sel][:, sel]
    if h.shape[0] <= 600:
        return float(np.linalg.eigvalsh(h.toarray())[0])
    vals = eigsh(h, k=2, which="SA", tol=1e-13, return_eigenvectors=False)
    return float(np.min(vals))


def test_brute_force_sanity():
    # U = 0 must reproduce free fermions with the fermionic periodic boundary condition.
    for L, nu, nd in [(4, 1, 1), (4, 2, 2), (4, 2, 1), (6, 3, 3), (6, 2, 2), (6, 3, 2)]:
        assert brute_force_ground_state(L, nu, nd, 0.0) == pytest.approx(
            free_fermion_ring_energy(L, nu, nd), abs=1e-10
        )
    # Known value: 4-site half-filled ring at U = 4t, E0 = -2.1027484...
    assert brute_force_ground_state(4, 2, 2, 4.0) == pytest.approx(-2.102748, abs=1e-6)


def test_free_fermion_energy_closed_form():
    assert free_fermion_ring_energy(6, 3, 3) == pytest.approx(-8.0)
    assert free_fermion_ring_energy(4, 2, 2) == pytest.approx(-4.0)
    assert free_fermion_ring_energy(8, 4, 4) == pytest.approx(-4 - 4 * np.sqrt(2))
    assert free_fermion_ring_energy(6, 1, 0, t=2.0) == pytest.approx(-4.0)


def test_quantum_numbers():
    i, j = quantum_numbers(6, 3, 3)
    assert np.allclose(i, [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]) and np.allclose(j, [-1, 0, 1])
    # N = L = 8, M = 4: integer I (all 8 momenta mod 8, two equivalent windows), half-odd J
    cands = quantum_number_candidates(8, 4, 4)
    assert len(cands) == 2
    assert np.allclose(cands[0][0], np.arange(-4, 4)) and np.allclose(cands[1][0], np.arange(-3, 5))
    assert all(np.allclose(j, [-1.5, -0.5, 0.5, 1.5]) for _, j in cands)
    # N, M odd: both windows asymmetric -> four candidates
    assert len(quantum_number_candidates(6, 2, 1)) == 4
    i, j = quantum_numbers(8, 3, 3)
    assert np.allclose(i, np.arange(-2.5, 3)) and np.allclose(j, [-1, 0, 1])


CASES_SMALL = [
    (4, 1, 1),
    (4, 2, 1),
    (4, 2, 2),
    (4, 3, 1),
    (6, 1, 1),
    (6, 2, 1),
    (6, 2, 2),
    (6, 3, 1),
    (6, 3, 2),
    (6, 3, 3),
    (6, 4, 2),
    (6, 5, 1),
    (6, 4, 1),
    (6, 4, 3),  # N > L: particle-hole mapping
    (6, 4, 4),
    (6, 5, 3),
    (4, 3, 2),
]


@pytest.mark.parametrize("L,n_up,n_dn", CASES_SMALL)
@pytest.mark.parametrize("U", [0.5, 1.0, 2.0, 4.0, 8.0])
def test_bethe_vs_brute_force_small(L, n_up, n_dn, U):
    e_ba = lieb_wu_ground_state(L, n_up, n_dn, U)
    e_ed = brute_force_ground_state(L, n_up, n_dn, U)
    assert e_ba == pytest.approx(e_ed, abs=1e-8)


def test_bethe_hopping_scale():
    # E(U, t) = t * E(U/t, 1)
    assert lieb_wu_ground_state(6, 3, 3, 8.0, t=2.0) == pytest.approx(
        2.0 * lieb_wu_ground_state(6, 3, 3, 4.0), abs=1e-10
    )
    assert lieb_wu_ground_state(6, 3, 3, 8.0, t=2.0) == pytest.approx(
        brute_force_ground_state(6, 3, 3, 8.0, t=2.0), abs=1e-8
    )


@pytest.mark.parametrize("L,n_up,n_dn", [(6, 3, 3), (8, 4, 4), (8, 3, 3), (10, 5, 5), (6, 2, 2)])
def test_small_u_limit(L, n_up, n_dn):
    e0 = free_fermion_ring_energy(L, n_up, n_dn)
    assert lieb_wu_ground_state(L, n_up, n_dn, 0.0) == e0
    prev = None
    for U in [0.1, 0.01, 0.001]:
        diff = lieb_wu_ground_state(L, n_up, n_dn, U) - e0
        assert diff > 0
        # first-order perturbation theory: diff = O(U), bounded by U * n_up * n_dn / L
        assert diff <= U * n_up * n_dn / L + 1e-12
        if prev is not None:
            assert diff < prev
        prev = diff


@pytest.mark.parametrize("L,n_up,n_dn", [(8, 4, 4), (8, 3, 3), (10, 5, 5), (12, 6, 6)])
@pytest.mark.parametrize("U", [1.0, 2.0, 4.0, 8.0])
def test_solver_converges(L, n_up, n_dn, U):
    k, lam, resid = lieb_wu_solution(L, n_up, n_dn, U)
    assert resid < 1e-12
    assert len(k) == n_up + n_dn and len(lam) == n_dn
    # ground state: real rapidities, parity-symmetric distribution -> zero total momentum
    assert np.all(np.isfinite(k)) and np.all(np.isfinite(lam))


def test_half_filling_energy_per_site_near_thermodynamic_limit():
    # Lieb-Wu, L -> infinity, U = 4t: e = -0.573729 t; finite rings are within a few 1e-3.
    for L in (8, 10, 12):
        e = lieb_wu_ground_state(L, L // 2, L // 2, 4.0) / L
        assert abs(e - (-0.573729)) < 1.5e-2


@pytest.mark.parametrize("n_up,n_dn,U", [(4, 4, 4.0), (4, 4, 1.0), (3, 3, 4.0), (3, 3, 8.0)])
def test_bethe_vs_brute_force_L8(n_up, n_dn, U):
    e_ba = lieb_wu_ground_state(8, n_up, n_dn, U)
    e_ed = brute_force_ground_state(8, n_up, n_dn, U)
    assert e_ba == pytest.approx(e_ed, abs=1e-8)


def test_highest_weight_vs_sector_ground_state():
    # L=6, n_up=n_dn=2: open shell, the Sz=0 ground state is an S=1 triplet component,
    # i.e. the sector minimum is the M=1 highest-weight energy, not the singlet M=2 one.
    for U in (1.0, 4.0):
        e_singlet = lieb_wu_highest_weight_energy(6, 2, 2, U)
        e_triplet = lieb_wu_highest_weight_energy(6, 3, 1, U)
        assert e_triplet < e_singlet
        assert lieb_wu_ground_state(6, 2, 2, U) == pytest.approx(e_triplet, abs=1e-12)
        assert e_triplet == pytest.approx(brute_force_ground_state(6, 3, 1, U), abs=1e-8)
    # closed shells / half filling: the singlet is the sector ground state
    for L, nu in ((6, 3), (8, 4), (8, 3), (10, 5)):
        assert lieb_wu_ground_state(L, nu, nu, 4.0) == pytest.approx(
            lieb_wu_highest_weight_energy(L, nu, nu, 4.0), abs=1e-12
        )


def test_spin_symmetry_of_arguments():
    assert lieb_wu_ground_state(6, 2, 4, 3.0) == pytest.approx(
        lieb_wu_ground_state(6, 4, 2, 3.0), abs=1e-12
    )
