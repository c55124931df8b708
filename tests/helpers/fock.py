"""Brute-force Fock-space oracle for fermionic operators (numpy/scipy only).

This module deliberately shares no code with the package under test.  It builds
full Fock-space matrices of polynomials in fermionic creation/annihilation
operators by applying every operator word factor by factor to every basis state.

Conventions
-----------
* Basis: all ``2**n_modes`` occupation bit strings.  Basis state integer ``s``
  has mode ``k`` occupied iff bit ``k`` of ``s`` is set, i.e. ``(s >> k) & 1``.
  The basis index of a state equals its integer ``s``.
* Jordan-Wigner sign: ``c_k`` (and ``c_k^dagger``) acting on ``|s>`` produces
  the sign ``(-1) ** (number of occupied modes j < k in s)``.  Explicitly,
  ``c_k^dagger |s> = (-1)**N_{<k}(s) |s + 2**k>`` if mode ``k`` is empty (else 0),
  ``c_k |s> = (-1)**N_{<k}(s) |s - 2**k>`` if mode ``k`` is occupied (else 0).
* A term is ``(coefficient, word)`` with ``word`` a sequence of
  ``(mode_index, dagger)`` pairs; ``dagger=True`` means ``c^dagger``.  The word is
  the operator product in written order, so the rightmost factor acts first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

Word = Sequence[tuple[int, bool]]
Term = tuple[complex, Word]


def _popcount_below(states: np.ndarray, k: int) -> np.ndarray:
    """Number of occupied modes j < k for each state in ``states``."""
    count = np.zeros(states.shape, dtype=np.int64)
    for j in range(k):
        count += (states >> j) & 1
    return count


def _apply_word(n_modes: int, word: Word) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``word`` to every basis state.

    Returns ``(final_states, initial_states, amplitudes)`` for the basis states
    that are not annihilated, so that ``word |initial> = amp |final>``.
    """
    dim = 1 << n_modes
    initial = np.arange(dim, dtype=np.int64)
    states = initial.copy()
    amps = np.ones(dim, dtype=np.int64)
    for mode, dagger in reversed(list(word)):
        mode = int(mode)
        if not 0 <= mode < n_modes:
            raise ValueError(f"mode index {mode} out of range for {n_modes} modes")
        occupied = (states >> mode) & 1
        allowed = occupied == (0 if dagger else 1)
        sign = 1 - 2 * (_popcount_below(states, mode) & 1)
        amps = amps * sign * allowed
        states = states ^ (1 << mode)
    keep = amps != 0
    return states[keep], initial[keep], amps[keep]


def fock_matrix(n_modes: int, terms: Iterable[Term]) -> sp.csr_matrix:
    """Full ``2**n_modes`` square matrix (complex128, CSR) of ``sum coeff * word``."""
    n_modes = int(n_modes)
    dim = 1 << n_modes
    rows, cols, data = [], [], []
    for coeff, word in terms:
        final, initial, amps = _apply_word(n_modes, word)
        rows.append(final)
        cols.append(initial)
        data.append(complex(coeff) * amps.astype(np.complex128))
    if rows:
        r = np.concatenate(rows)
        c = np.concatenate(cols)
        d = np.concatenate(data)
    else:
        r = c = np.zeros(0, dtype=np.int64)
        d = np.zeros(0, dtype=np.complex128)
    mat = sp.coo_matrix((d, (r, c)), shape=(dim, dim), dtype=np.complex128).tocsr()
    mat.sum_duplicates()
    mat.eliminate_zeros()
    return mat


def number_operator_diagonal(n_modes: int, modes: Iterable[int]) -> np.ndarray:
    """For each basis state, the number of occupied modes among ``modes``."""
    states = np.arange(1 << int(n_modes), dtype=np.int64)
    count = np.zeros(states.shape, dtype=np.int64)
    for mode in modes:
        count += (states >> int(mode)) & 1
    return count


def sector_indices(n_modes: int, constraints: Iterable[tuple[Iterable[int], int]]) -> np.ndarray:
    """Basis indices whose occupation of ``modes`` equals ``count`` for every constraint."""
    mask = np.ones(1 << int(n_modes), dtype=bool)
    for modes, count in constraints:
        mask &= number_operator_diagonal(n_modes, modes) == int(count)
    return np.flatnonzero(mask)


def restrict(matrix, indices) -> sp.csr_matrix:
    """Submatrix ``matrix[indices][:, indices]`` (CSR)."""
    idx = np.asarray(indices, dtype=np.int64)
    return sp.csr_matrix(matrix)[idx][:, idx]


def fock_spectrum(
    n_modes: int,
    terms: Iterable[Term],
    constraints: Iterable[tuple[Iterable[int], int]] = (),
) -> np.ndarray:
    """Sorted eigenvalues of the (Hermitian) Hamiltonian restricted to a sector."""
    mat = fock_matrix(n_modes, terms)
    idx = sector_indices(n_modes, list(constraints))
    dense = restrict(mat, idx).toarray()
    if dense.size == 0:
        return np.zeros(0)
    if not np.allclose(dense, dense.conj().T, atol=1e-10):
        raise ValueError("restricted matrix is not Hermitian")
    return np.sort(np.linalg.eigvalsh(dense))


def allowed_indices(n_modes: int, constraints: Iterable[tuple[Iterable[int], Iterable[int]]]) -> np.ndarray:
    """Basis indices whose occupation of ``modes`` is in ``allowed`` for every ``(modes, allowed)``."""
    mask = np.ones(1 << int(n_modes), dtype=bool)
    for modes, allowed in constraints:
        mask &= np.isin(number_operator_diagonal(n_modes, modes), list(allowed))
    return np.flatnonzero(mask)


def map_word(word: Word, target: Sequence[int], ph_signs: Sequence[int] | None = None
             ) -> tuple[int, list[tuple[int, bool]]]:
    """Image of a word under a mode map: ``c_k -> c_target[k]`` (a permutation of modes), or, with
    ``ph_signs``, the particle-hole map ``c_k -> ph_signs[k] c_k^dagger`` (``target`` ignored).

    Returns ``(sign, mapped word)``; the map is applied factor by factor (an algebra automorphism),
    so the Fock matrix of the mapped terms is ``U H U^dagger`` for the unitary ``U`` of the map.
    """
    sign, out = 1, []
    for mode, dagger in word:
        if ph_signs is not None:
            sign *= int(ph_signs[mode])
            out.append((int(mode), not dagger))
        else:
            out.append((int(target[mode]), dagger))
    return sign, out


def map_terms(terms: Iterable[Term], target: Sequence[int], ph_signs: Sequence[int] | None = None
              ) -> list[Term]:
    """:func:`map_word` applied to every term (coefficients multiplied by the map's signs)."""
    out = []
    for coeff, word in terms:
        sign, mapped = map_word(word, target, ph_signs)
        out.append((sign * coeff, mapped))
    return out
