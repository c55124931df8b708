"""Matrix-free Hamiltonian action on an ``(N_up, N_dn)`` sector, compiled with numba.

When the stored sparse matrix does not fit (the 8-rung bilayer at half filling: ~3e9 non-zeros),
Lanczos only needs ``y = H x``. This module computes it from the model's canonical terms without
storing the matrix: memory is the vectors plus small per-spin tables.

Structure (the tensor-product form of spinful fermion Hamiltonians)
-------------------------------------------------------------------
A vector of the sector is a ``D_up x D_dn`` array ``X[u, d]``. The Hamiltonian's words are split into

- ``T_up``: one-body words within spin up (``c+_a c_b``, both up); they act on the row index only,
  ``Y += T_up X`` (a sparse ``D_up x D_up`` matrix times contiguous rows, vectorized);
- ``T_dn``: one-body words within spin down, ``Y += X T_dn^T`` (gathers inside one row);
- diagonal words (products of densities): split into pure-up, pure-down and mixed parts,
  ``Y += (D_up + D_dn + mixed) * X``; on-site words :math:`U n_{o\\uparrow} n_{o\\downarrow}` with
  equal coefficients share one orbital mask and cost one popcount per element;
- any other word (pair hopping, spin flips): applied factor by factor per element (slow path).

Rows are processed in groups of :data:`ROWS` (8) in parallel (numba ``prange``): the spin-down
gathers of the group's rows share their index loads (at 8 rungs, 2x from one row to four, another
5 % from four to eight: 1.05 s -> 1.00 s per matvec), and every row of ``Y`` is written by one task
only. Measured at 8 rungs (165.6M states, two cores): diagonal words 0.20 s, spin-up words 0.50 s
(each row of ``Y`` reads about 8.5 rows of ``X`` from memory: 11 GB at the machine's ~23 GB/s),
spin-down words 0.30 s. The kernel also returns ``<X, Y>`` row by row, which
:func:`lanczos_ground_energy` uses so that one Lanczos step is one matvec plus one fused update pass
(at 8 rungs, 165.6M states: 1.0 s per matvec on 2 cores, down from 2.0 s; 2.9 s -> ~1.2 s per step).

Both Jordan-Wigner signs of a one-body word within one spin depend only on that spin's
configuration (all spin-up modes precede all spin-down modes), which is what makes the split exact.

Conventions
-----------
- A state is an integer with bit ``j`` set when mode ``j`` is occupied, ``j`` the index in
  ``model.modes`` (spin-up orbitals, then spin-down): spin-up configuration ``s & (2^n - 1)``,
  spin-down ``s >> n``. Signs: :math:`c_j, c_j^\\dagger` carry
  :math:`(-1)^{\\#\\{\\text{occupied } k < j\\}}`.
- Basis order: spin-up configurations ascending (rows), spin-down ascending (columns),
  ``i = rank_up(u) * D_dn + rank_dn(d)``. This is *not* QuSpin's order; spectra are the same.
  With ``order="rcm"`` both spins' configurations are in a bandwidth-reducing order instead (``ups``,
  ``dns`` and the rank tables say which); :meth:`MatrixFreeHamiltonian.to_ascending` rewrites vectors.

Limits: models without occupation constraints, ``n_orbitals <= 24``, Hamiltonians that conserve
``N_up`` and ``N_dn`` (checked).
"""

from __future__ import annotations

from collections.abc import Mapping

import numba
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from numba import types
from numba.extending import intrinsic
from scipy.sparse.csgraph import reverse_cuthill_mckee

from edkit.core.model import Model, ModelError, Sector
from edkit.engine.backends.matrix_free import MAX_ORBITALS  # the kernel's limits live in its backend
from edkit.engine.update_kernels import FUSED_DEFLATE, SUB_BLOCK, fused_operands, span_fused, span_general


@intrinsic
def _popcount(typingctx, x):
    """LLVM ``ctpop`` on an int64."""
    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])
    return types.int64(types.int64), codegen


#: Orders of the configurations (:class:`MatrixFreeHamiltonian` ``order``).
ORDERS = ("ascending", "rcm")
#: Rows of ``X`` handled together by the spin-down gathers (they share the index loads).
ROWS = 8
#: Elements per partial sum of the parallel reductions (:func:`_combine` here, the norms and inner
#: products of :mod:`edkit.engine.lanczos`): the partial sums are added pairwise by NumPy, so the
#: rounding error stays near ``eps log n`` (a sequential sum per thread does not, at 1e8 elements).
SUM_BLOCK = 4096


@numba.njit(cache=True)
def _row_start(iu, X, Y, o, ups, dns, const, diag_up, diag_dn, pair_mask, pair_coef, mix_up, mix_dn,
               mix_coef, t_up_ptr, t_up_col, t_up_val):
    """Row ``iu`` of ``H X`` into ``Y[iu - o]``: diagonal words and the spin-up one-body words."""
    d_dn = X.shape[1]
    u = ups[iu]
    xr = X[iu]
    yr = Y[iu - o]
    du = const + diag_up[iu]
    for k in range(d_dn):
        yr[k] = (du + diag_dn[k]) * xr[k]
    for g in range(pair_coef.shape[0]):  # on-site n_up n_dn words: one popcount per element
        um = u & pair_mask[g]
        if um:
            c = pair_coef[g]
            for k in range(d_dn):
                yr[k] += c * _popcount(um & dns[k]) * xr[k]
    for w in range(mix_coef.shape[0]):  # other mixed diagonal words: up part known for this row
        if (u & mix_up[w]) == mix_up[w]:
            c = mix_coef[w]
            m = mix_dn[w]
            for k in range(d_dn):
                if (dns[k] & m) == m:
                    yr[k] += c * xr[k]
    for p in range(t_up_ptr[iu], t_up_ptr[iu + 1]):
        v = t_up_val[p]
        xs = X[t_up_col[p]]
        for k in range(d_dn):
            yr[k] += v * xs[k]


@numba.njit(cache=True)
def _down(i0, i1, X, Y, o, t_dn_ptr, t_dn_col, t_dn_val):
    """Spin-down one-body words on rows ``i0..i1-1`` (into ``Y[i0 - o..]``): gathers within each row,
    eight rows at a time."""
    d_dn = X.shape[1]
    if i1 - i0 == 8:
        x0, x1, x2, x3 = X[i0], X[i0 + 1], X[i0 + 2], X[i0 + 3]
        x4, x5, x6, x7 = X[i0 + 4], X[i0 + 5], X[i0 + 6], X[i0 + 7]
        y0, y1, y2, y3 = Y[i0 - o], Y[i0 - o + 1], Y[i0 - o + 2], Y[i0 - o + 3]
        y4, y5, y6, y7 = Y[i0 - o + 4], Y[i0 - o + 5], Y[i0 - o + 6], Y[i0 - o + 7]
        for k in range(d_dn):
            a0, a1, a2, a3 = y0[k], y1[k], y2[k], y3[k]
            a4, a5, a6, a7 = y4[k], y5[k], y6[k], y7[k]
            for p in range(t_dn_ptr[k], t_dn_ptr[k + 1]):
                c = t_dn_col[p]
                v = t_dn_val[p]
                a0 += v * x0[c]
                a1 += v * x1[c]
                a2 += v * x2[c]
                a3 += v * x3[c]
                a4 += v * x4[c]
                a5 += v * x5[c]
                a6 += v * x6[c]
                a7 += v * x7[c]
            y0[k], y1[k], y2[k], y3[k] = a0, a1, a2, a3
            y4[k], y5[k], y6[k], y7[k] = a4, a5, a6, a7
        return
    for iu in range(i0, i1):
        xr = X[iu]
        yr = Y[iu - o]
        for k in range(d_dn):
            acc = yr[k]
            for p in range(t_dn_ptr[k], t_dn_ptr[k + 1]):
                acc += t_dn_val[p] * xr[t_dn_col[p]]
            yr[k] = acc


@numba.njit(cache=True)
def _row_end(iu, X, Y, o, dots, ups, dns, rank_up, rank_dn, n, gen_mode, gen_dag, gen_len, gen_coef):
    """Row ``iu`` (in ``Y[iu - o]``): general words factor by factor (slow path), then
    ``dots[iu] = <X_iu, (H X)_iu>``."""
    d_dn = X.shape[1]
    one = np.int64(1)
    low = (one << n) - 1
    u = ups[iu]
    xr = X[iu]
    yr = Y[iu - o]
    for k in range(d_dn if gen_len.shape[0] else 0):
        s0 = u | (dns[k] << n)
        acc = yr[k]
        for w in range(gen_len.shape[0]):
            t = s0
            sign = 1
            ok = True
            for f in range(gen_len[w]):
                bit = one << gen_mode[w, f]
                if gen_dag[w, f] == ((t & bit) != 0):  # c+ on occupied / c on empty
                    ok = False
                    break
                if _popcount(t & (bit - 1)) & 1:
                    sign = -sign
                t ^= bit
            if ok:
                acc += sign * gen_coef[w] * X[rank_up[t & low], rank_dn[t >> n]]
        yr[k] = acc
    acc = 0.0 * yr[0]  # <X, Y> of this row while it is in cache (Lanczos needs it)
    for k in range(d_dn):
        acc += np.conj(xr[k]) * yr[k]
    dots[iu] = acc


@numba.njit(cache=True, parallel=True)
def _matvec(X, Y, dots, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask, pair_coef,
            mix_up, mix_dn, mix_coef, t_up_ptr, t_up_col, t_up_val, t_dn_ptr, t_dn_col, t_dn_val,
            gen_mode, gen_dag, gen_len, gen_coef):
    """``Y = H X``, groups of :data:`ROWS` rows in parallel; ``dots[u] = sum_d conj(X[u, d]) Y[u, d]``.

    Every element of row ``u`` of ``Y`` is written by the task that owns row ``u`` (no races).
    """
    d_up = X.shape[0]
    for b in numba.prange((d_up + ROWS - 1) // ROWS):
        i0 = b * ROWS
        i1 = min(i0 + ROWS, d_up)
        for iu in range(i0, i1):
            _row_start(iu, X, Y, 0, ups, dns, const, diag_up, diag_dn, pair_mask, pair_coef, mix_up,
                       mix_dn, mix_coef, t_up_ptr, t_up_col, t_up_val)
        if t_dn_col.shape[0]:
            _down(i0, i1, X, Y, 0, t_dn_ptr, t_dn_col, t_dn_val)
        for iu in range(i0, i1):
            _row_end(iu, X, Y, 0, dots, ups, dns, rank_up, rank_dn, n, gen_mode, gen_dag, gen_len, gen_coef)


@numba.njit(cache=True, parallel=True)
def _lanczos_rows(X, S, Wp, x, a, b, c, D, coef, g, x2, g2, parts, dots, ups, dns, rank_up, rank_dn, n, const,
                  diag_up, diag_dn, pair_mask, pair_coef, mix_up, mix_dn, mix_coef, t_up_ptr, t_up_col,
                  t_up_val, t_dn_ptr, t_dn_col, t_dn_val, gen_mode, gen_dag, gen_len, gen_coef):
    """One Lanczos update with known coefficients, without storing ``H X`` (pass 2 of the two-pass
    Lanczos, :mod:`edkit.engine.lanczos`).

    Group by group of :data:`ROWS` rows (thread ``t`` takes groups ``t, t + T, ...``), ``H X`` is
    computed into the thread's scratch rows ``S[t]`` by the matvec's own row functions, then
    ``Wp <- a (H X + sum_i coef[i] D[i]) - b X - c Wp``, ``x += g X`` and ``x2 += g2 X`` (each skipped
    when empty) by the element loop of :func:`edkit.engine.lanczos._step` (:mod:`edkit.engine.update_kernels`,
    the group's rows in order), so that the vectors are bitwise those of the unfused step.
    ``parts[q]`` as in ``_step``, over group ``q``; the caller sums over groups. Saves writing and reading
    back ``H X`` (two vector passes of the ~seven per step).
    """
    d_up, d_dn = X.shape
    nt = S.shape[0]
    k = len(D)
    W = X.reshape(-1)
    acc_x = x.shape[0] == X.size
    acc_x2 = x2.shape[0] == X.size
    fused = k <= FUSED_DEFLATE
    Ds, cs = fused_operands(D, coef, W)
    groups = (d_up + ROWS - 1) // ROWS
    for t in numba.prange(nt):
        Y = S[t]
        sums = np.zeros(FUSED_DEFLATE + 1 if fused else k + 1, dtype=parts.dtype)
        tmp = np.empty(0 if fused else SUB_BLOCK, dtype=X.dtype)
        for q in range(t, groups, nt):
            i0 = q * ROWS
            i1 = min(i0 + ROWS, d_up)
            for iu in range(i0, i1):
                _row_start(iu, X, Y, i0, ups, dns, const, diag_up, diag_dn, pair_mask, pair_coef, mix_up,
                           mix_dn, mix_coef, t_up_ptr, t_up_col, t_up_val)
            if t_dn_col.shape[0]:
                _down(i0, i1, X, Y, i0, t_dn_ptr, t_dn_col, t_dn_val)
            for iu in range(i0, i1):
                _row_end(iu, X, Y, i0, dots, ups, dns, rank_up, rank_dn, n, gen_mode, gen_dag, gen_len,
                         gen_coef)
            nrm = 0.0
            sums[:] = 0.0
            for iu in range(i0, i1):  # the group's rows are one span of _step, in order
                lo = iu * d_dn
                if fused:
                    nrm = span_fused(Y[iu - i0], lo, W, Wp, x, acc_x, x2, acc_x2, lo, lo + d_dn, a, b, c, k,
                                     Ds, cs, g, g2, sums, nrm, False)
                else:
                    nrm = span_general(Y[iu - i0], lo, W, Wp, x, acc_x, x2, acc_x2, lo, lo + d_dn, a, b, c,
                                       D, coef, g, g2, sums, nrm, tmp)
            parts[q, 0] = nrm
            for i in range(k):
                parts[q, 1 + i] = sums[i]
            parts[q, 1 + k] = sums[FUSED_DEFLATE if fused else k]


@numba.njit(cache=True, parallel=True)
def _scatter(X, Y, rows, cols):
    """``Y[rows[i], cols[j]] = X[i, j]`` (a vector rewritten in another order of the configurations)."""
    for i in numba.prange(X.shape[0]):
        xr = X[i]
        yr = Y[rows[i]]
        for j in range(X.shape[1]):
            yr[cols[j]] = xr[j]


@numba.njit(cache=True, parallel=True)
def _combine_parts(y, w, wp, a, b, c, parts):
    """``wp <- a*y - b*w - c*wp`` in place (one pass, in parallel); ``parts[p]`` = ``||wp||^2`` over
    block ``p`` of ``SUM_BLOCK`` elements."""
    n = y.shape[0]
    for p in numba.prange(parts.shape[0]):
        total = 0.0
        for i in range(p * SUM_BLOCK, min(n, (p + 1) * SUM_BLOCK)):
            v = a * y[i] - b * w[i] - c * wp[i]
            wp[i] = v
            total += (np.conj(v) * v).real
        parts[p] = total


def _combine(y: np.ndarray, w: np.ndarray, wp: np.ndarray, a, b, c) -> float:
    """``wp <- a*y - b*w - c*wp`` in place (one pass, in parallel); returns ``||wp||^2`` (blockwise
    partial sums added pairwise: a sequential sum per thread loses accuracy at 1e8 elements)."""
    parts = np.empty(max(1, -(-y.shape[0] // SUM_BLOCK)))
    _combine_parts(y, w, wp, a, b, c, parts)
    return float(parts.sum())


def _configs(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All ``n``-bit integers with ``k`` ones (ascending) and the rank table of size ``2^n``."""
    allints = np.arange(1 << n, dtype=np.int64)
    configs = allints[np.bitwise_count(allints) == k]
    rank = np.full(1 << n, -1, dtype=np.int64)
    rank[configs] = np.arange(len(configs), dtype=np.int64)
    return configs, rank


def _one_body(configs: np.ndarray, rank: np.ndarray, words: list, dtype) -> sp.csr_matrix:
    """``T[i, j] = sum_w c_w <i| c+_a c_b |j>`` on one spin's configurations (bits ``a, b``)."""
    rows, cols, vals = [], [], []
    for a, b, c in words:
        ok = ((configs >> a) & 1).astype(bool) & ~((configs >> b) & 1).astype(bool)
        src = configs[ok]
        lo, hi = min(a, b), max(a, b)
        between = ((1 << hi) - 1) & ~((1 << (lo + 1)) - 1)
        sign = 1 - 2 * (np.bitwise_count(src & between).astype(np.int64) & 1)
        rows.append(np.flatnonzero(ok))
        cols.append(rank[src ^ ((1 << a) | (1 << b))])
        vals.append(c * sign)
    d = len(configs)
    if not rows:
        return sp.csr_matrix((d, d), dtype=dtype)
    m = sp.coo_matrix((np.concatenate(vals).astype(dtype), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(d, d)).tocsr()
    m.sum_duplicates()
    return m


def check_product_basis(model: Model, sector: Sector, what: str) -> int:
    """The orbital count of ``model`` if its ``(N_up, N_dn)`` product basis can be used, else raise.

    Raises
    ------
    ModelError
        For occupation constraints (model or sector) or more than :data:`MAX_ORBITALS` orbitals;
        ``what`` names the user in the message.
    """
    if model.constraints or sector.constraints:
        raise ModelError(f"model {model.name!r}: {what} does not support occupation constraints")
    n = model.n_orbitals
    if n > MAX_ORBITALS:
        raise ModelError(f"{what} supports at most {MAX_ORBITALS} orbitals, got {n}")
    return n


class MatrixFreeHamiltonian(sla.LinearOperator):
    """``H`` of ``model`` at ``values`` on a sector, as a SciPy ``LinearOperator`` (no stored matrix).

    Parameters
    ----------
    model, values, sector
        The model, parameter values and ``(N_up, N_dn)`` sector (no occupation constraints).
    threads
        numba threads for the matvec (default: numba's default, the number of cores).
    order
        Order of the configurations (rows: spin up, columns: spin down). ``"ascending"`` (default):
        the module's basis order, which the product basis, the eigenvectors and the GPU tables use.
        ``"rcm"``: each spin's configurations in the reverse Cuthill-McKee order of its one-body
        matrix (:func:`scipy.sparse.csgraph.reverse_cuthill_mckee`), which keeps the rows a spin-up
        hop reads, and the entries a spin-down hop gathers, near each other in memory: at 8 rungs
        (165.6M states, two cores) the matvec takes ~0.89 s instead of ~0.99 s (measured alternately
        in one process). A vector in this order is the same state written with permuted indices:
        ``ups``, ``dns``, the rank tables and every table follow the order, so spectra and
        expectation values on :class:`~edkit.engine.product_expectation.ProductBasis` (built from
        this operator) are unchanged. The matrix-free backend solves in this order and rewrites the
        eigenvectors it returns in the ascending order (:meth:`to_ascending`).

    Raises
    ------
    ModelError
        For constrained models, more than :data:`MAX_ORBITALS` orbitals, or a term that changes
        ``N_up``/``N_dn``.
    ValueError
        For an unknown ``order``.
    """

    def __init__(self, model: Model, values: Mapping[str, object] | None, sector: Sector,
                 threads: int | None = None, order: str = "ascending"):
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
        n = check_product_basis(model, sector, "the matrix-free path")
        self.threads = threads
        self.n = n
        index = {m: j for j, m in enumerate(model.modes)}
        terms = model.numeric_terms(values)
        is_complex = any(abs(complex(c).imag) > 0 for c, _ in terms)
        dtype = np.complex128 if is_complex else np.float64
        self.ups, self.rank_up = _configs(n, sector.n_up)
        if model.spinful:
            self.dns, self.rank_dn = _configs(n, sector.n_dn)
        else:
            self.dns, self.rank_dn = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
        low = (1 << n) - 1
        const = 0.0
        diag_up = np.zeros(len(self.ups), dtype=dtype)
        diag_dn = np.zeros(len(self.dns), dtype=dtype)
        mixed, hop_up, hop_dn, gens = [], [], [], []
        pairs: dict = {}  # coefficient -> orbital mask of on-site n_up n_dn words
        for c, word in terms:
            c = complex(c) if is_complex else complex(c).real
            created = [index[m] for m, d in word if d]
            annihilated = [index[m] for m, d in word if not d]
            if not word:
                const += c
                continue
            if created == annihilated[::-1] and len(set(created)) == len(created):
                mask = sum(1 << j for j in created)  # nested c+..c+ c..c = product of densities
                mu, md = mask & low, mask >> n
                if not md:
                    diag_up += c * ((self.ups & mu) == mu)
                elif not mu:
                    diag_dn += c * ((self.dns & md) == md)
                elif mu.bit_count() == 1 and md == mu and not pairs.get(c, 0) & mu:
                    pairs[c] = pairs.get(c, 0) | mu  # n_{o up} n_{o dn} on one orbital
                else:
                    mixed.append((mu, md, c))
                continue
            ups = sum(1 for j in created if j < n) - sum(1 for j in annihilated if j < n)
            dns = sum(1 for j in created if j >= n) - sum(1 for j in annihilated if j >= n)
            if ups or dns or len(created) != len(annihilated):
                raise ModelError(f"term {word} does not conserve N_up and N_dn")
            if len(word) == 2 and created[0] < n:
                hop_up.append((created[0], annihilated[0], c))
            elif len(word) == 2:
                hop_dn.append((created[0] - n, annihilated[0] - n, c))
            else:
                # <i|w|j> = <j|w^+|i>: apply w^+ to |i>, first factor of w first (amplitudes +-1)
                gens.append(([index[m] for m, _ in word], [not d for _, d in word], c))
        self.const = const
        self.diag_up, self.diag_dn = diag_up, diag_dn
        # words with equal coefficients share one mask (a Hubbard U: one popcount per element)
        self.pair_mask = np.array(list(pairs.values()), dtype=np.int64)
        self.pair_coef = np.array(list(pairs.keys()), dtype=dtype)
        self.mix_up = np.array([m[0] for m in mixed], dtype=np.int64)
        self.mix_dn = np.array([m[1] for m in mixed], dtype=np.int64)
        self.mix_coef = np.array([m[2] for m in mixed], dtype=dtype)
        self.t_up = _one_body(self.ups, self.rank_up, hop_up, dtype)
        self.t_dn = _one_body(self.dns, self.rank_dn, hop_dn, dtype)
        width = max([len(g[0]) for g in gens] + [1])
        self.gen_mode = np.zeros((len(gens), width), dtype=np.int64)
        self.gen_dag = np.zeros((len(gens), width), dtype=np.bool_)
        self.gen_len = np.array([len(g[0]) for g in gens], dtype=np.int64)
        self.gen_coef = np.array([g[2] for g in gens], dtype=dtype)
        for w, (modes, dags, _) in enumerate(gens):
            self.gen_mode[w, :len(modes)] = modes
            self.gen_dag[w, :len(dags)] = dags
        self.n_words = len(terms)
        self.order = order
        if order == "rcm":
            self._reorder(reverse_cuthill_mckee(self.t_up.tocsr(), symmetric_mode=True),
                          reverse_cuthill_mckee(self.t_dn.tocsr(), symmetric_mode=True))
        self._cache: dict = {}
        self._scratch: tuple | None = None  # per-thread rows of H X for lanczos_update
        dim = len(self.ups) * len(self.dns)
        super().__init__(dtype=np.dtype(dtype), shape=(dim, dim))

    def _reorder(self, pu: np.ndarray, pd: np.ndarray) -> None:
        """Rows ``pu`` and columns ``pd`` of the ascending order become rows and columns ``0, 1, ...``."""
        self._ascending = (pu.astype(np.int64), pd.astype(np.int64))  # ascending row/column of each here
        for name, perm in (("up", pu), ("dn", pd)):
            configs = getattr(self, f"{name}s")[perm]
            rank = getattr(self, f"rank_{name}").copy()
            rank[configs] = np.arange(len(perm), dtype=np.int64)
            hops = getattr(self, f"t_{name}")[perm][:, perm].tocsr()
            hops.sort_indices()
            setattr(self, f"{name}s", configs)
            setattr(self, f"rank_{name}", rank)
            setattr(self, f"diag_{name}", getattr(self, f"diag_{name}")[perm])
            setattr(self, f"t_{name}", hops)

    def to_ascending(self, vectors: np.ndarray) -> np.ndarray:
        """``vectors`` (a vector, or vectors as columns, in this operator's order) rewritten in place in
        the ascending order (:data:`ORDERS`); returned. One vector of scratch; a no-op for
        ``order="ascending"``."""
        if self.order == "ascending":
            return vectors
        shape = (len(self.ups), len(self.dns))
        rows, cols = self._ascending
        columns = vectors.reshape(-1, 1) if vectors.ndim == 1 else vectors
        scratch = np.empty(columns.shape[0], dtype=columns.dtype)
        for k in range(columns.shape[1]):
            column = columns[:, k]
            source = column if column.flags.c_contiguous else np.ascontiguousarray(column)
            _scatter(source.reshape(shape), scratch.reshape(shape), rows, cols)
            column[:] = scratch
        return vectors

    def _tables(self, dtype: np.dtype) -> tuple:
        """Kernel arguments after the vectors, converted once per vector dtype."""
        if dtype not in self._cache:
            cast = dtype.type
            self._cache[dtype] = (
                self.ups, self.dns, self.rank_up, self.rank_dn, np.int64(self.n), cast(self.const),
                self.diag_up.astype(dtype), self.diag_dn.astype(dtype), self.pair_mask,
                self.pair_coef.astype(dtype), self.mix_up, self.mix_dn,
                self.mix_coef.astype(dtype), self.t_up.indptr.astype(np.int64),
                self.t_up.indices.astype(np.int64), self.t_up.data.astype(dtype),
                self.t_dn.indptr.astype(np.int64), self.t_dn.indices.astype(np.int64),
                self.t_dn.data.astype(dtype), self.gen_mode, self.gen_dag, self.gen_len,
                self.gen_coef.astype(dtype))
        return self._cache[dtype]

    def apply(self, x: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, complex]:
        """``y = H x`` into ``out`` (allocated if ``None``) and ``<x, y>``, in one pass.

        ``x`` and ``out`` are flat contiguous vectors of the operator's (or a wider) dtype; reusing
        ``out`` avoids allocating (and page-faulting) a new vector per call, which at 8 rungs
        (1.3 GB vectors) cost as much as the matvec itself.
        """
        out_dtype = np.result_type(self.dtype, np.asarray(x).dtype)
        X = np.ascontiguousarray(np.ravel(x), dtype=out_dtype).reshape(len(self.ups), len(self.dns))
        if out is None:
            out = np.empty(X.size, dtype=out_dtype)
        if out.dtype != out_dtype or out.size != X.size or not out.flags.c_contiguous:
            raise ValueError("out must be a contiguous vector of the operator's size and dtype")
        Y = out.reshape(X.shape)
        dots = np.empty(X.shape[0], dtype=out_dtype)
        previous = numba.get_num_threads()
        if self.threads is not None:
            numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        try:
            _matvec(X, Y, dots, *self._tables(out_dtype))
        finally:
            numba.set_num_threads(previous)
        return out, complex(dots.sum())

    @property
    def block(self) -> int:
        """Elements per row group of the kernels (:data:`ROWS` rows): the block of the partial sums
        of :meth:`lanczos_update`, which the unfused Lanczos step must use too (same sums, bit for bit)."""
        return ROWS * len(self.dns)

    def lanczos_update(self, W: np.ndarray, Wp: np.ndarray, x: np.ndarray, a, b, c, D, coef, g,
                       x2: np.ndarray, g2, parts: np.ndarray) -> None:
        """``Wp <- a (H W + sum_i coef[i] D[i]) - b W - c Wp``, ``x += g W`` and ``x2 += g2 W`` (skipped
        when ``x2`` is empty) in one pass, ``H W`` never stored (:func:`_lanczos_rows`); ``parts`` (one
        row per :attr:`block`) as :func:`edkit.engine.lanczos._step`. For pass 2 of the two-pass
        Lanczos, whose coefficients are known.
        """
        dtype = np.dtype(W.dtype)
        X = W.reshape(len(self.ups), len(self.dns))
        nt = numba.get_num_threads()
        key = (dtype, nt)
        if self._scratch is None or self._scratch[0] != key:
            self._scratch = (key, np.empty((nt, ROWS, len(self.dns)), dtype=dtype),
                             np.empty(len(self.ups), dtype=dtype))
        _, S, dots = self._scratch
        _lanczos_rows(X, S, Wp, x, a, b, c, D, coef, g, x2, g2, parts, dots, *self._tables(dtype))

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        return self.apply(x)[0]

    def _adjoint(self) -> MatrixFreeHamiltonian:
        return self  # H is Hermitian (checked when the model is built)

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the operator (tables, one-body matrices), vectors excluded."""
        arrays = [self.ups, self.dns, self.rank_up, self.rank_dn, self.diag_up, self.diag_dn,
                  self.t_up.data, self.t_up.indices, self.t_up.indptr, self.t_dn.data,
                  self.t_dn.indices, self.t_dn.indptr]
        return int(sum(a.nbytes for a in arrays))


def ground_energy_matrix_free(model: Model, values: Mapping[str, object] | None, sector: Sector,
                              *, ncv: int = 20, tol: float = 1e-10, seed: int = 0,
                              threads: int | None = None) -> float:
    """Lowest eigenvalue by ARPACK on the matrix-free operator (``ncv`` vectors of memory)."""
    H = MatrixFreeHamiltonian(model, values, sector, threads=threads)
    rng = np.random.default_rng(seed)
    v0 = rng.standard_normal(H.shape[0])
    w = sla.eigsh(H, k=1, which="SA", v0=v0, ncv=min(ncv, H.shape[0]), tol=tol,
                  return_eigenvectors=False)
    return float(np.min(w))


def lanczos_ground_energy(op: sla.LinearOperator, *, residual: float = 1e-8,
                          energy_tol: float | None = 1e-12, maxiter: int = 2000, seed: int = 0,
                          check_every: int = 5, threads: int | None = None, progress=None) -> dict:
    """Lowest eigenvalue by plain Lanczos with three vectors (no re-orthogonalization).

    For the 8-rung bilayer a vector is 1.3 GB, so ARPACK's ``ncv`` stored vectors do not fit; the
    three-term recurrence keeps three. The recursion and its stopping rule (residual ``beta_k |s_k|
    <= residual (1 + |E|)``, or the lowest Ritz value moved by less than ``energy_tol (1 + |E|)`` over
    each of the last two checks) are :func:`edkit.engine.recurrence.three_vector_lanczos`, shared
    with the GPU backend; the energy is reliable, there is no eigenvector and no multiplicity.

    Here one step is one pass of the matvec (which also returns ``<v, Hv>`` when ``op`` is a
    :class:`MatrixFreeHamiltonian`) and one fused, threaded pass ``w = Hv - alpha v - beta v_prev``
    with its norm (:func:`_combine`); no temporaries.

    Returns
    -------
    dict
        ``{"energy", "iterations", "converged", "criterion", "residual", "energy_change"}``.
    """
    from edkit.engine.recurrence import three_vector_lanczos

    n = op.shape[0]
    dtype = np.dtype(op.dtype)
    if isinstance(op, MatrixFreeHamiltonian):
        apply = op.apply
    else:
        def apply(x, out):
            y = op @ x
            out[:] = y
            return out, complex(np.vdot(x, y))
    vec = {"W": np.random.default_rng(seed).standard_normal(n).astype(dtype, copy=False)}
    vec["Wp"] = np.zeros_like(vec["W"])
    Y = np.empty_like(vec["W"])
    t = dtype.type

    def matvec() -> float:
        return apply(vec["W"], Y)[1].real

    def update(a, b, c) -> float:
        return _combine(Y, vec["W"], vec["Wp"], t(a), t(b), t(c))

    def swap() -> None:
        vec["W"], vec["Wp"] = vec["Wp"], vec["W"]

    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        return three_vector_lanczos(matvec, update, swap, 1.0 / float(np.linalg.norm(vec["W"])),
                                    residual=residual, energy_tol=energy_tol, maxiter=maxiter,
                                    check_every=check_every, progress=progress)
    finally:
        numba.set_num_threads(previous)


__all__ = ["MAX_ORBITALS", "ORDERS", "ROWS", "SUM_BLOCK", "MatrixFreeHamiltonian", "check_product_basis",
           "ground_energy_matrix_free", "lanczos_ground_energy"]
