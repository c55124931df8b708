r"""Expectation values of fermion words on vectors of the ``(up, down)`` product basis.

A vector of an ``(N_up, N_dn)`` sector is a ``D_up x D_dn`` array ``X[u, d]`` (the basis of
:class:`~edkit.engine.matfree.MatrixFreeHamiltonian`: spin-up configurations ascending are rows,
spin-down configurations ascending are columns; Jordan-Wigner order: all spin-up modes, then all
spin-down modes). Nothing of size ``dim`` besides the vector is built.

Factorizing a word
------------------
A word :math:`o_1 o_2 \cdots o_k` (each :math:`o_i` a :math:`c` or :math:`c^\dagger`) that conserves
``N_up`` and ``N_dn`` is reordered stably so that its spin-up factors come first. Factors of
different modes anticommute, so each exchange of a spin-down factor with a spin-up factor to its
right gives :math:`-1`:

.. math::  o_1\cdots o_k = (-1)^{P}\, A_\uparrow B_\downarrow, \qquad
           P = \#\{(i < j) : o_i \text{ spin down}, o_j \text{ spin up}\},

with :math:`A_\uparrow` (:math:`B_\downarrow`) the product of the spin-up (spin-down) factors in
their original order. On :math:`|u, d\rangle = (\text{up creators})(\text{down creators})|0\rangle`,
a spin-down factor :math:`c_j` carries the string :math:`(-1)^{N_\uparrow}(-1)^{\#\{\text{occupied
down modes below } j\}}`; :math:`B_\downarrow` has as many creators as annihilators (an even number
of factors) and leaves :math:`N_\uparrow` unchanged, so the :math:`(-1)^{N_\uparrow}` factors cancel
and :math:`B_\downarrow` acts on the spin-down configuration alone, with the signs of the spin-down
modes below. :math:`A_\uparrow` acts on the spin-up configuration with the signs of the spin-up
modes below (no down mode precedes an up mode). Hence, with :math:`A[u', u] = \langle u'|A|u\rangle`
and :math:`B[d', d]` likewise,

.. math::  \langle X|\,o_1\cdots o_k\,|X\rangle = (-1)^P \sum_{u,d} \overline{X[u', d']}\,
           A[u', u]\, B[d', d]\, X[u, d] = (-1)^P \sum \overline{X} \odot (A X B^T).

A word within one spin maps each configuration to at most one configuration (a signed partial
permutation), so :math:`A` is stored as a target index and a sign per configuration, and the sum is
evaluated row by row in a compiled kernel without any temporary: memory is the vector itself plus
``O(D_up + D_dn)``. A word that changes ``N_up`` or ``N_dn`` (e.g. :math:`S^+_a S^+_b`) maps the
sector to another one and has expectation value zero there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numba
import numpy as np

from edkit.core.model import Model, Sector
from edkit.engine.matfree import _configs, check_product_basis

if TYPE_CHECKING:
    from edkit.engine.matfree import MatrixFreeHamiltonian

#: The correlators of :func:`correlations_matrix_free`, in output order (as ``edkit correlations``).
CORRELATOR_KEYS = ("C", "N", "S", "SzSz", "SxSx", "SySy")


class ProductBasis:
    """Configuration tables of an ``(N_up, N_dn)`` sector in the product basis.

    Parameters
    ----------
    model, sector
        The model (its ``modes`` fix the bit of each mode: spin up ``0..n-1``, spin down
        ``n..2n-1``) and the sector. Occupation constraints are refused (as by the matrix-free
        Hamiltonian).
    op
        Optional :class:`~edkit.engine.matfree.MatrixFreeHamiltonian` of the same sector whose
        tables are reused.
    """

    def __init__(self, model: Model, sector: Sector, op: MatrixFreeHamiltonian | None = None):
        n = check_product_basis(model, sector, "the product basis")
        self.n = n
        self.spinful = model.spinful
        self.index = {m: j for j, m in enumerate(model.modes)}
        if op is not None:
            self.ups, self.rank_up, self.dns, self.rank_dn = op.ups, op.rank_up, op.dns, op.rank_dn
        else:
            self.ups, self.rank_up = _configs(n, sector.n_up)
            if model.spinful:
                self.dns, self.rank_dn = _configs(n, sector.n_dn)
            else:
                self.dns, self.rank_dn = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
        self._cache: dict = {}

    @property
    def shape(self) -> tuple[int, int]:
        """``(D_up, D_dn)``."""
        return (len(self.ups), len(self.dns))

    def split(self, word: Sequence) -> tuple[int, tuple, tuple] | None:
        """``(sign, up factors, down factors)`` of a word, or ``None`` if it changes ``N_up``/``N_dn``.

        Factors are ``(bit within the spin, dagger)`` in the word's order; the sign is
        :math:`(-1)^P` of the module docstring.
        """
        n = self.n
        up, dn = [], []
        swaps = 0
        for mode, dagger in word:
            j = self.index[mode]
            if j < n:
                up.append((j, bool(dagger)))
                swaps += len(dn)  # this up factor moves left past every down factor before it
            else:
                dn.append((j - n, bool(dagger)))
        for part in (up, dn):
            if sum(1 if d else -1 for _, d in part):
                return None
        return (-1 if swaps % 2 else 1), tuple(up), tuple(dn)

    def merge(self, terms: Iterable[tuple[object, Sequence]]) -> dict:
        """``{(up factors, down factors): coefficient}`` of ``terms`` (:meth:`split` of each word, its sign
        folded into the coefficient, equal splits added); words that change ``N_up``/``N_dn`` are dropped
        (zero within the sector)."""
        merged: dict = {}
        for c, word in terms:
            split = self.split(word)
            if split is None:
                continue
            key = split[1:]
            merged[key] = merged.get(key, 0) + split[0] * complex(c)
        return merged

    def monomial(self, factors: tuple, spin: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(target, sign)`` of a word within one spin (``0`` up, ``1`` down) on its configurations.

        ``factors |configs[i]> = sign[i] |configs[target[i]]>``, ``target[i] = -1`` where the word
        gives zero; ``None`` for the empty word (the identity). Cached per word.
        """
        if not factors:
            return None
        key = (spin, factors)
        if key not in self._cache:
            configs, rank = (self.ups, self.rank_up) if spin == 0 else (self.dns, self.rank_dn)
            t = configs.copy()
            sign = np.ones(len(configs), dtype=np.int64)
            ok = np.ones(len(configs), dtype=bool)
            for bit, dagger in reversed(factors):  # the rightmost factor acts first
                occ = ((t >> bit) & 1).astype(bool)
                ok &= ~occ if dagger else occ
                sign *= 1 - 2 * (np.bitwise_count(t & ((1 << bit) - 1)).astype(np.int64) & 1)
                t ^= 1 << bit
            target = np.where(ok, rank[t], -1).astype(np.int64)
            self._cache[key] = (target, np.where(ok, sign, 0).astype(np.float64))
        return self._cache[key]


@numba.njit(cache=True, parallel=True)
def _word_rows(X, tu, su, td, sd, up_identity, dn_identity, rows):
    """``rows[u] = s_u sum_d s_d conj(X[t_u, t_d]) X[u, d]`` (one word, no temporaries).

    ``tu`` is ``arange(D_up)`` when ``up_identity`` (``su`` unused); ``td, sd`` are unused when
    ``dn_identity``. ``rows`` must be zero on entry.
    """
    d_up, d_dn = X.shape
    for u in numba.prange(d_up):
        u2 = tu[u]
        acc = rows[u]  # zero on entry (typed like rows)
        if u2 >= 0:
            xr = X[u]
            yr = X[u2]
            if dn_identity:
                for d in range(d_dn):
                    acc += np.conj(yr[d]) * xr[d]
            else:
                for d in range(d_dn):
                    d2 = td[d]
                    if d2 >= 0:
                        acc += sd[d] * np.conj(yr[d2]) * xr[d]
            if not up_identity:
                acc *= su[u]
        rows[u] = acc


def _word_value(basis: ProductBasis, X: np.ndarray, split: tuple, rows: np.ndarray) -> complex:
    sign, up, dn = split
    a = basis.monomial(up, 0)
    b = basis.monomial(dn, 1)
    none = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.float64)
    tu, su = (np.arange(X.shape[0], dtype=np.int64), none[1]) if a is None else a
    td, sd = none if b is None else b
    rows[:] = 0
    _word_rows(X, tu, su, td, sd, a is None, b is None, rows)
    return sign * complex(rows.sum())


def expectation(basis: ProductBasis, X: np.ndarray, terms: Iterable[tuple[object, Sequence]]) -> complex:
    """:math:`\\langle X|\\sum_t c_t w_t|X\\rangle` for ``(coefficient, word)`` terms (``X`` not normalized).

    Parameters
    ----------
    basis
        The sector's :class:`ProductBasis`.
    X
        A vector of the sector, flat (``D_up * D_dn``) or ``D_up x D_dn``; not copied when
        contiguous.
    terms
        ``(coefficient, word)`` pairs, words tuples of ``(Mode, dagger)`` (as
        :mod:`edkit.core.operators` returns them, sympy coefficients allowed). Words that change
        ``N_up`` or ``N_dn`` contribute zero; equal words are merged.

    Returns
    -------
    complex
        The expectation value (divide by :math:`\\langle X|X\\rangle` for an unnormalized ``X``).
    """
    X = np.ascontiguousarray(X).reshape(basis.shape)
    merged = basis.merge(terms)
    rows = np.empty(basis.shape[0], dtype=np.complex128 if np.iscomplexobj(X) else np.float64)
    total = 0j
    for (up, dn), c in merged.items():
        if c != 0:
            total += c * _word_value(basis, X, (1, up, dn), rows)
    return total


@numba.njit(cache=True, parallel=True)
def _density_moments(X, dbits, r, Q):
    """``r[u] = sum_d |X[u, d]|^2`` and ``Q[u, j] = sum_d n_j(d) |X[u, d]|^2`` (one pass)."""
    d_up, d_dn = X.shape
    for u in numba.prange(d_up):
        xr = X[u]
        acc = 0.0
        for j in range(Q.shape[1]):
            Q[u, j] = 0.0
        for d in range(d_dn):
            p = (np.conj(xr[d]) * xr[d]).real
            acc += p
            for k in range(dbits.shape[1]):
                Q[u, dbits[d, k]] += p
        r[u] = acc


def density_mask(factors: tuple) -> int | None:
    """Orbital mask if the factors are a product of densities ``c+_x c_x c+_y c_y ...``, else ``None``."""
    if len(factors) % 2:
        return None
    mask = 0
    for k in range(0, len(factors), 2):
        (a, da), (b, db) = factors[k], factors[k + 1]
        if a != b or not da or db:
            return None
        mask |= 1 << a
    return mask


class _Evaluator:
    """Word values on one vector, each distinct word computed once.

    Diagonal words whose spin-down part has at most one density (every word of ``N`` and
    ``SzSz``) come from one pass that computes the row sums of :math:`|X|^2` with and without each
    spin-down density (:func:`_density_moments`); the others take one pass each
    (:func:`_word_rows`).
    """

    def __init__(self, basis: ProductBasis, x: np.ndarray):
        self.basis = basis
        self.X = np.ascontiguousarray(x).reshape(basis.shape)
        self.rows = np.empty(basis.shape[0], dtype=np.complex128 if np.iscomplexobj(x) else np.float64)
        self.values: dict = {}
        self.moments: tuple[np.ndarray, np.ndarray] | None = None
        self.passes = 0

    def _diagonal(self, mu: int, md: int) -> complex:
        if self.moments is None:
            b = self.basis
            n_dn = int(np.bitwise_count(b.dns[0])) if len(b.dns) else 0
            dbits = np.zeros((len(b.dns), n_dn), dtype=np.int64)
            for k, d in enumerate(b.dns):
                dbits[k] = [j for j in range(b.n) if (int(d) >> j) & 1]
            r = np.empty(b.shape[0])
            Q = np.empty((b.shape[0], max(b.n, 1)))
            _density_moments(self.X, dbits, r, Q)
            self.moments = (r, Q)
            self.passes += 1
        r, Q = self.moments
        sel = (self.basis.ups & mu) == mu
        return complex(r[sel].sum() if not md else Q[sel, md.bit_length() - 1].sum())

    def word(self, up: tuple, dn: tuple) -> complex:
        key = (up, dn)
        if key not in self.values:
            mu, md = density_mask(up), density_mask(dn)
            if mu is not None and md is not None and md.bit_count() <= 1:
                self.values[key] = self._diagonal(mu, md)
            else:
                self.values[key] = _word_value(self.basis, self.X, (1, up, dn), self.rows)
                self.passes += 1
        return self.values[key]

    def __call__(self, terms) -> complex:
        total = 0j
        for c, word in terms:
            split = self.basis.split(word)
            if split is not None:
                total += split[0] * complex(c) * self.word(split[1], split[2])
        return total


def _as_columns(states) -> list[np.ndarray]:
    if isinstance(states, np.ndarray):
        return [states] if states.ndim == 1 else [states[:, k] for k in range(states.shape[1])]
    return list(states)


def correlations_matrix_free(model: Model, sector: Sector, states, *, reference: int = 0,
                             layers: Sequence[str] | None = None, basis: ProductBasis | None = None,
                             threads: int | None = None, keys: Sequence[str] = CORRELATOR_KEYS
                             ) -> dict[str, dict[str, list[float]]]:
    """Correlators from ``reference`` to every site of each layer, averaged over ``states``.

    The ``"layers"`` part of :func:`edkit.observables.correlations.correlations` (same keys,
    operators from :mod:`edkit.core.operators`, same definitions): ``{layer: {"C": [...],
    "N": [...], "S": [...], "SzSz": [...], "SxSx": [...], "SySy": [...]}}`` indexed by ``j``.

    Parameters
    ----------
    model, sector
        Spinful model and its ``(N_up, N_dn)`` sector.
    states
        Product-basis vectors of the sector: one flat vector, a ``dim x k`` array of columns, or a
        list of flat vectors (a degenerate ground manifold: the average over them, each
        normalized here).
    reference
        Site of the reference orbital in each layer.
    layers
        Layers (default: all of the lattice's).
    basis
        A :class:`ProductBasis` to reuse (its word tables are cached).
    threads
        numba threads (default: :func:`edkit.engine.lanczos.numba_threads`).
    keys
        The correlators to compute (default: all of :data:`CORRELATOR_KEYS`, in that order).

    Notes
    -----
    Memory: the vectors and ``O(D_up + D_dn)`` per distinct word. Time: one pass over each vector
    for all density words (``N``, ``SzSz``), and one per other distinct word (``C``, two for ``S``,
    two for ``SxSx`` and ``SySy`` together: five per distance and layer).
    """
    from edkit.core.errors import InputError
    from edkit.engine.lanczos import numba_threads

    if not model.spinful:
        raise InputError(f"model {model.name!r} is spinless: pair and spin correlators need spin")
    Lx = model.lattice.L
    if not 0 <= reference < Lx:
        raise InputError(f"reference site must be in 0..{Lx - 1}, got {reference}")
    unknown = [k for k in keys if k not in CORRELATOR_KEYS]
    if unknown:
        raise InputError(f"unknown correlators {unknown}; choose from {', '.join(CORRELATOR_KEYS)}")
    basis = basis or ProductBasis(model, sector)
    vecs = _as_columns(states)
    norms = [float(np.real(np.vdot(v, v))) for v in vecs]
    evaluators = [_Evaluator(basis, v) for v in vecs]

    def mean(terms) -> float:
        return float(np.mean([ev(terms).real / nrm for ev, nrm in zip(evaluators, norms)]))

    out: dict[str, dict[str, list[float]]] = {}
    with numba_threads(basis.shape[0] * basis.shape[1], threads):
        for layer in layers or model.lattice.layers:
            out[layer] = _layer_rows(model, layer, reference, mean, keys)
    return out


def correlator_terms(key: str, a: tuple[str, int], b: tuple[str, int]) -> tuple[float, list]:
    """``(factor, terms)`` of correlator ``key`` between orbitals ``a`` and ``b``: the value is
    ``factor * <terms>`` (definitions of :func:`edkit.observables.correlations.correlations`)."""
    from edkit.core import operators as ops
    from edkit.core.modes import DN, UP

    if key == "C":
        return 1.0, ops.pair_pair(a, b)
    if key == "N":
        return 1.0, ops.density_density(a, b)
    if key == "S":
        return 0.5, ops.hopping(a, b, UP) + ops.hopping(a, b, DN)
    return 1.0, ops.spin_spin(a, b, key[1])  # "SzSz", "SxSx", "SySy"


def _layer_rows(model: Model, layer: str, reference: int, mean, keys: Sequence[str]
                ) -> dict[str, list[float]]:
    a = (layer, reference)
    rows: dict[str, list[float]] = {k: [] for k in CORRELATOR_KEYS if k in keys}
    for j in range(model.lattice.L):
        for key in rows:
            factor, terms = correlator_terms(key, a, (layer, j))
            rows[key].append(factor * mean(terms))
    return rows


def correlations_from_levels(model: Model, values: Mapping[str, object] | None, sector: Sector, *,
                             reference: int = 0, layers: Sequence[str] | None = None,
                             max_states: int = 4, next_level: bool = True, tol: float = 1e-10, seed: int = 0,
                             threads: int | None = None, progress=None,
                             keys: Sequence[str] = CORRELATOR_KEYS) -> dict:
    """Ground manifold (:func:`edkit.engine.lanczos.ground_manifold`) and its correlators.

    Returns ``{"energy", "ground_state_degeneracy", "residual", "layers", "next_energy"}``;
    ``"layers"`` as :func:`correlations_matrix_free`. Memory: ``m + 3`` vectors for an
    ``m``-fold ground state (4 for a nondegenerate one: 5.3 GB at 8 rungs). ``max_states``,
    ``next_level``: see :func:`~edkit.engine.lanczos.ground_manifold` (``max_states=1,
    next_level=False`` skips the degeneracy check, about half the time).
    """
    from edkit.engine.lanczos import ground_manifold
    from edkit.engine.matfree import MatrixFreeHamiltonian

    # the vectors stay here: the bandwidth-reducing order, with the product basis of the same order
    op = MatrixFreeHamiltonian(model, model.resolve(values), sector, threads=threads, order="rcm")
    states, nxt = ground_manifold(op, tol=tol, max_states=max_states, next_level=next_level, seed=seed,
                                  threads=threads, progress=progress)
    basis = ProductBasis(model, sector, op)
    layers_out = correlations_matrix_free(model, sector, [s.vector for s in states], reference=reference,
                                          layers=layers, basis=basis, threads=threads, keys=keys)
    return {"energy": states[0].energy, "ground_state_degeneracy": len(states),
            "residual": max(s.residual for s in states), "layers": layers_out, "next_energy": nxt}


__all__ = ["CORRELATOR_KEYS", "ProductBasis", "correlations_from_levels", "correlations_matrix_free",
           "correlator_terms", "expectation"]
