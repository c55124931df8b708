"""Tests of the brute-force Fock-space oracle against hand-derived closed forms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tests.helpers.fock import (
    fock_matrix,
    fock_spectrum,
    number_operator_diagonal,
    restrict,
    sector_indices,
)


def op(n, mode, dagger):
    return fock_matrix(n, [(1.0, [(mode, dagger)])]).toarray()


def hopping_terms(bonds, t):
    """-t (c_i^dag c_j + c_j^dag c_i) for every bond (i, j)."""
    terms = []
    for i, j in bonds:
        terms.append((-t, [(i, True), (j, False)]))
        terms.append((-t, [(j, True), (i, False)]))
    return terms


def subset_sums(levels, n):
    return np.sort([sum(c) for c in itertools.combinations(levels, n)])


# ---------------------------------------------------------------- conventions


def test_basis_and_jordan_wigner_sign_explicit():
    n = 3
    cdag2 = op(n, 2, True)
    c1 = op(n, 1, False)
    # c_2^dag |011> : two occupied modes below 2 -> sign +1, result |111>
    assert cdag2[0b111, 0b011] == 1
    # c_1 |011> : one occupied mode below 1 -> sign -1, result |001>
    assert c1[0b001, 0b011] == -1
    # c_1 |001> = 0 (mode 1 empty)
    assert np.all(c1[:, 0b001] == 0)
    # word order: rightmost factor acts first
    m01 = fock_matrix(n, [(1.0, [(0, True), (1, True)])]).toarray()
    m10 = fock_matrix(n, [(1.0, [(1, True), (0, True)])]).toarray()
    assert m01[0b011, 0b000] == 1  # c0^dag c1^dag |000> = c0^dag |010> = +|011>
    assert m10[0b011, 0b000] == -1  # c1^dag c0^dag |000> = c1^dag |001> = -|011>


def test_word_is_matrix_product_and_coefficients_add():
    n = 4
    word = [(2, True), (0, False), (3, True), (1, False)]
    expected = np.eye(2**n, dtype=complex)
    for mode, dag in word:
        expected = expected @ op(n, mode, dag)
    coeff = 0.3 - 1.7j
    got = fock_matrix(n, [(coeff, word)]).toarray()
    np.testing.assert_allclose(got, coeff * expected)
    # duplicated terms accumulate
    got2 = fock_matrix(n, [(coeff, word), (2.0, word)]).toarray()
    np.testing.assert_allclose(got2, (coeff + 2.0) * expected)
    # empty word is the identity, empty term list is zero
    np.testing.assert_allclose(fock_matrix(n, [(1.5, [])]).toarray(), 1.5 * np.eye(2**n))
    assert fock_matrix(n, []).nnz == 0
    assert fock_matrix(n, []).shape == (16, 16)
    assert fock_matrix(n, []).dtype == np.complex128


def test_out_of_range_mode_raises():
    with pytest.raises(ValueError):
        fock_matrix(2, [(1.0, [(2, True)])])


# ---------------------------------------------------------------- algebra


def test_canonical_anticommutation_relations_n4():
    n = 4
    eye = np.eye(2**n)
    c = [op(n, k, False) for k in range(n)]
    cd = [op(n, k, True) for k in range(n)]
    for i in range(n):
        np.testing.assert_allclose(cd[i], c[i].conj().T)
        for j in range(n):
            np.testing.assert_allclose(c[i] @ cd[j] + cd[j] @ c[i], (i == j) * eye, atol=0)
            np.testing.assert_allclose(c[i] @ c[j] + c[j] @ c[i], 0 * eye, atol=0)
            np.testing.assert_allclose(cd[i] @ cd[j] + cd[j] @ cd[i], 0 * eye, atol=0)


def test_repeated_mode_words_vanish():
    n = 3
    for k in range(n):
        for dag in (True, False):
            assert fock_matrix(n, [(1.0, [(k, dag), (k, dag)])]).nnz == 0
        # c c^dag c c^dag ... consistent with single-mode algebra
        w = fock_matrix(n, [(1.0, [(k, False), (k, True), (k, False)])]).toarray()
        np.testing.assert_allclose(w, op(n, k, False))


def test_number_operator_idempotent_and_diagonal():
    n = 4
    for k in range(n):
        nk = fock_matrix(n, [(1.0, [(k, True), (k, False)])])
        nk2 = fock_matrix(n, [(1.0, [(k, True), (k, False), (k, True), (k, False)])])
        np.testing.assert_allclose(nk.toarray(), nk2.toarray())
        np.testing.assert_allclose((nk @ nk).toarray(), nk.toarray())
        np.testing.assert_allclose(nk.diagonal(), number_operator_diagonal(n, [k]))
    total = fock_matrix(n, [(1.0, [(k, True), (k, False)]) for k in range(n)])
    np.testing.assert_allclose(total.diagonal(), number_operator_diagonal(n, range(n)))
    np.testing.assert_array_equal(number_operator_diagonal(3, [0, 2]), [0, 1, 0, 1, 1, 2, 1, 2])


def test_hermitian_conjugate_word():
    n = 5
    word = [(4, True), (1, True), (3, False), (0, False)]
    adj = [(m, not d) for m, d in reversed(word)]
    coeff = 0.7 + 0.2j
    a = fock_matrix(n, [(coeff, word)]).toarray()
    b = fock_matrix(n, [(np.conj(coeff), adj)]).toarray()
    np.testing.assert_allclose(b, a.conj().T)
    assert np.abs(a).sum() > 0


def test_sector_indices_and_restrict():
    n = 4
    idx = sector_indices(n, [([0, 1], 1), ([2, 3], 1)])
    np.testing.assert_array_equal(idx, [0b0101, 0b0110, 0b1001, 0b1010])
    assert len(sector_indices(6, [(range(6), 3)])) == math.comb(6, 3)
    np.testing.assert_array_equal(sector_indices(3, []), np.arange(8))
    m = fock_matrix(n, hopping_terms([(0, 1), (2, 3)], 1.0))
    sub = restrict(m, idx).toarray()
    np.testing.assert_allclose(sub, m.toarray()[np.ix_(idx, idx)])


# ---------------------------------------------------------------- closed forms


@pytest.mark.parametrize("t", [1.0, 0.6])
def test_free_open_chain_l5(t):
    L = 5
    terms = hopping_terms([(i, i + 1) for i in range(L - 1)], t)
    levels = np.sort([-2 * t * math.cos(math.pi * k / (L + 1)) for k in range(1, L + 1)])
    np.testing.assert_allclose(fock_spectrum(L, terms, [(range(L), 1)]), levels, atol=1e-12)
    for n_part in range(L + 1):
        spec = fock_spectrum(L, terms, [(range(L), n_part)])
        np.testing.assert_allclose(spec[0], levels[:n_part].sum(), atol=1e-12)
        np.testing.assert_allclose(spec, subset_sums(levels, n_part), atol=1e-12)
    full = fock_spectrum(L, terms)
    all_sums = np.sort(np.concatenate([subset_sums(levels, k) for k in range(L + 1)]))
    np.testing.assert_allclose(full, all_sums, atol=1e-12)


@pytest.mark.parametrize("L", [4, 5])
def test_free_ring(L):
    t = 1.0
    # boundary bond written directly in fermion operators: -t (c_{L-1}^dag c_0 + h.c.)
    terms = hopping_terms([(i, (i + 1) % L) for i in range(L)], t)
    levels = np.sort([-2 * t * math.cos(2 * math.pi * m / L) for m in range(L)])
    for n_part in range(L + 1):
        spec = fock_spectrum(L, terms, [(range(L), n_part)])
        np.testing.assert_allclose(spec[0], levels[:n_part].sum(), atol=1e-12)
        np.testing.assert_allclose(spec, subset_sums(levels, n_part), atol=1e-12)


def test_ring4_ground_energies_explicit():
    terms = hopping_terms([(0, 1), (1, 2), (2, 3), (3, 0)], 1.0)
    # levels -2, 0, 0, 2  ->  E0(N=1..3) = -2, -2, -2; and E0(N=4) = 0
    for n_part, e0 in [(1, -2.0), (2, -2.0), (3, -2.0), (4, 0.0)]:
        spec = fock_spectrum(4, terms, [(range(4), n_part)])
        assert spec[0] == pytest.approx(e0, abs=1e-12)


def hubbard_dimer_terms(t, U):
    # modes: 0 = site0 up, 1 = site1 up, 2 = site0 dn, 3 = site1 dn
    terms = hopping_terms([(0, 1), (2, 3)], t)
    for up, dn in [(0, 2), (1, 3)]:
        terms.append((U, [(up, True), (up, False), (dn, True), (dn, False)]))
    return terms


@pytest.mark.parametrize("t,U", [(1.0, 0.0), (1.0, 4.0), (0.5, 2.0), (1.3, -3.0)])
def test_hubbard_dimer_two_electrons_sz0(t, U):
    spec = fock_spectrum(4, hubbard_dimer_terms(t, U), [([0, 1], 1), ([2, 3], 1)])
    root = math.sqrt(U**2 + 16 * t**2)
    expected = np.sort([0.0, U, (U + root) / 2, (U - root) / 2])
    np.testing.assert_allclose(spec, expected, atol=1e-12)


def test_hubbard_dimer_other_sectors():
    t, U = 1.0, 4.0
    terms = hubbard_dimer_terms(t, U)
    # one up electron: bonding/antibonding -t, +t
    np.testing.assert_allclose(
        fock_spectrum(4, terms, [([0, 1], 1), ([2, 3], 0)]), [-t, t], atol=1e-12
    )
    # two up electrons: triplet, energy 0
    np.testing.assert_allclose(fock_spectrum(4, terms, [([0, 1], 2), ([2, 3], 0)]), [0.0])
    # three electrons (2 up, 1 dn): U -t, U + t
    np.testing.assert_allclose(
        fock_spectrum(4, terms, [([0, 1], 2), ([2, 3], 1)]), [U - t, U + t], atol=1e-12
    )
    # four electrons: 2U
    np.testing.assert_allclose(fock_spectrum(4, terms, [([0, 1], 2), ([2, 3], 2)]), [2 * U])


def test_non_hermitian_spectrum_rejected():
    with pytest.raises(ValueError):
        fock_spectrum(2, [(1.0, [(0, True), (1, False)])])


def test_twelve_modes_many_terms_runs():
    n = 12
    rng = np.random.default_rng(0)
    terms = []
    for _ in range(300):
        i, j, k, l_ = (int(x) for x in rng.integers(0, n, size=4))
        terms.append((float(rng.normal()), [(i, True), (j, True), (k, False), (l_, False)]))
    m = fock_matrix(n, terms)
    assert m.shape == (4096, 4096)
    # particle number is conserved by every term
    num = number_operator_diagonal(n, range(n))
    rows, cols = m.nonzero()
    np.testing.assert_array_equal(num[rows], num[cols])
