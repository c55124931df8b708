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
- diagonal words (products of densities): split into pure-up, pure-down and mixed (e.g.
  :math:`U n_\\uparrow n_\\downarrow`) parts, ``Y += (D_up + D_dn + mixed) * X``;
- any other word (pair hopping, spin flips): applied factor by factor per element (slow path).

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

from edkit.core.model import Model, ModelError, Sector

MAX_ORBITALS = 24


@intrinsic
def _popcount(typingctx, x):
    """LLVM ``ctpop`` on an int64."""
    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])
    return types.int64(types.int64), codegen


@numba.njit(cache=True, parallel=True)
def _matvec(X, Y, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn,
            mix_up, mix_dn, mix_coef, t_up_ptr, t_up_col, t_up_val, t_dn_ptr, t_dn_col, t_dn_val,
            gen_mode, gen_dag, gen_len, gen_coef):
    d_dn = X.shape[1]
    one = np.int64(1)
    low = (one << n) - 1
    for iu in numba.prange(X.shape[0]):
        u = ups[iu]
        xr = X[iu]
        yr = Y[iu]
        du = const + diag_up[iu]
        for k in range(d_dn):
            yr[k] = (du + diag_dn[k]) * xr[k]
        for w in range(mix_coef.shape[0]):  # mixed diagonal words: up part known for this row
            if (u & mix_up[w]) == mix_up[w]:
                c = mix_coef[w]
                m = mix_dn[w]
                for k in range(d_dn):
                    if (dns[k] & m) == m:
                        yr[k] += c * xr[k]
        for p in range(t_up_ptr[iu], t_up_ptr[iu + 1]):  # spin-up one-body: contiguous rows
            v = t_up_val[p]
            xs = X[t_up_col[p]]
            for k in range(d_dn):
                yr[k] += v * xs[k]
        if t_dn_col.shape[0]:
            for k in range(d_dn):  # spin-down one-body: gathers within this row
                acc = yr[k]
                for p in range(t_dn_ptr[k], t_dn_ptr[k + 1]):
                    acc += t_dn_val[p] * xr[t_dn_col[p]]
                yr[k] = acc
        for k in range(d_dn if gen_len.shape[0] else 0):  # anything else, factor by factor
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


class MatrixFreeHamiltonian(sla.LinearOperator):
    """``H`` of ``model`` at ``values`` on a sector, as a SciPy ``LinearOperator`` (no stored matrix).

    Parameters
    ----------
    model, values, sector
        The model, parameter values and ``(N_up, N_dn)`` sector (no occupation constraints).
    threads
        numba threads for the matvec (default: numba's default, the number of cores).

    Raises
    ------
    ModelError
        For constrained models, more than :data:`MAX_ORBITALS` orbitals, or a term that changes
        ``N_up``/``N_dn``.
    """

    def __init__(self, model: Model, values: Mapping[str, object] | None, sector: Sector,
                 threads: int | None = None):
        if model.constraints or sector.constraints:
            raise ModelError(f"model {model.name!r}: the matrix-free path does not support occupation "
                             "constraints")
        n = model.n_orbitals
        if n > MAX_ORBITALS:
            raise ModelError(f"the matrix-free path supports at most {MAX_ORBITALS} orbitals, got {n}")
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
        dim = len(self.ups) * len(self.dns)
        super().__init__(dtype=np.dtype(dtype), shape=(dim, dim))

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        out_dtype = np.result_type(self.dtype, np.asarray(x).dtype)
        X = np.ascontiguousarray(np.ravel(x), dtype=out_dtype).reshape(len(self.ups), len(self.dns))
        Y = np.empty_like(X)
        cast = out_dtype.type
        previous = numba.get_num_threads()
        if self.threads is not None:
            numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        try:
            _matvec(X, Y, self.ups, self.dns, self.rank_up, self.rank_dn, np.int64(self.n),
                    cast(self.const), self.diag_up.astype(out_dtype), self.diag_dn.astype(out_dtype),
                    self.mix_up, self.mix_dn, self.mix_coef.astype(out_dtype),
                    self.t_up.indptr.astype(np.int64), self.t_up.indices.astype(np.int64),
                    self.t_up.data.astype(out_dtype), self.t_dn.indptr.astype(np.int64),
                    self.t_dn.indices.astype(np.int64), self.t_dn.data.astype(out_dtype),
                    self.gen_mode, self.gen_dag, self.gen_len, self.gen_coef.astype(out_dtype))
        finally:
            numba.set_num_threads(previous)
        return Y.ravel()

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


def lanczos_ground_energy(op: sla.LinearOperator, *, residual: float = 1e-8, maxiter: int = 2000,
                          seed: int = 0, check_every: int = 5, progress=None) -> dict:
    """Lowest eigenvalue by plain Lanczos with three vectors (no re-orthogonalization).

    For the 8-rung bilayer a vector is 1.3 GB, so ARPACK's ``ncv`` stored vectors do not fit; the
    three-term recurrence keeps three. Loss of orthogonality creates spurious copies of converged
    Ritz values but does not move the lowest one, so the *energy* is reliable (no eigenvector, no
    multiplicity). Stops when the residual norm of the lowest Ritz pair, ``beta_k |s_k|``, is below
    ``residual * (1 + |E|)``; the energy error is then about ``residual^2 / gap``.

    Returns
    -------
    dict
        ``{"energy", "iterations", "converged", "residual"}``.
    """
    from scipy.linalg import eigh_tridiagonal

    rng = np.random.default_rng(seed)
    n = op.shape[0]
    v = rng.standard_normal(n).astype(op.dtype)
    v /= np.linalg.norm(v)
    v_prev = np.zeros_like(v)
    alphas: list[float] = []
    betas: list[float] = []
    beta = 0.0
    energy, res = np.inf, np.inf
    from scipy.linalg.blas import get_blas_funcs

    axpy = get_blas_funcs("axpy", (v,))  # in place: no 1.3 GB temporaries at 8 rungs
    for it in range(1, maxiter + 1):
        w = op @ v
        alpha = float(np.real(np.vdot(v, w)))
        w = axpy(v, w, a=-alpha)
        if beta:
            w = axpy(v_prev, w, a=-beta)
        alphas.append(alpha)
        beta = float(np.linalg.norm(w))
        if it % check_every == 0 or beta < 1e-14 or it == maxiter:
            vals, vecs = eigh_tridiagonal(np.array(alphas), np.array(betas), select="i",
                                          select_range=(0, 0))
            energy, res = float(vals[0]), beta * abs(float(vecs[-1, 0]))
            if progress is not None:
                progress(f"Lanczos step {it}: E = {energy:.12f}, residual {res:.2e}")
            if res <= residual * (1 + abs(energy)) or beta < 1e-14:
                return {"energy": energy, "iterations": it, "converged": True, "residual": res}
        betas.append(beta)
        v_prev, v = v, w
        v /= beta
    return {"energy": energy, "iterations": maxiter, "converged": False, "residual": res}


__all__ = ["MAX_ORBITALS", "MatrixFreeHamiltonian", "ground_energy_matrix_free", "lanczos_ground_energy"]
