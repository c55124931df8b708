"""One per-element matrix-free kernel body, compiled for the CPU (numba) and for CUDA (numba.cuda).

The body computes ``y[i] = (H x)[i]`` for one basis state ``i`` of an ``(N_up, N_dn)`` sector, from
the tables of :class:`edkit.engine.matfree.MatrixFreeHamiltonian` (the term split is not re-derived
here: :func:`kernel_tables` takes them from ``H._tables``). The order is the matrix-free product
order ``i = iu * D_dn + id`` (spin-up rank ``iu``, spin-down rank ``id``), with 64-bit index
arithmetic throughout (the 9-rung bilayer has 2.36e9 states).

Parts of the body
-----------------
- :func:`part_a` (``i, x, *A``): the diagonal words (constant, pure-up, pure-down, on-site
  ``n_up n_dn`` by popcount, mixed density words), the spin-up one-body words (gathers
  ``x[col * D_dn + id]``, a column of the ``D_up x D_dn`` array) and the general words (pair
  hopping, spin flips: applied factor by factor, as in :mod:`edkit.engine.matfree`); returns the sum.
- :func:`part_b` (``i, acc, x, *B``): adds the spin-down one-body words (gathers within row ``iu``).
- :func:`element`: ``part_b(i, part_a(i, ...), ...)``.
- :func:`part_a_at`, :func:`part_b_at`, :func:`element_at`: the same with the row ``iu`` and the
  column ``id`` given (launchers that loop over rows and columns avoid the 64-bit division, which
  the GPU does in software); the functions above compute them once and call these.

The arguments ``A`` and ``B`` are the tuples of :func:`kernel_tables` (order: :data:`A_NAMES`,
:data:`B_NAMES`). Loop counts of the small word lists are passed explicitly (``n_pair``, ``n_mix``,
``n_gen``) and every table has at least one entry (zero-size arrays are avoided on the device).

One source, two targets
-----------------------
The functions of this module are plain Python. :func:`build` compiles them for a target from the
same code objects (:class:`types.FunctionType` with the target's globals): ``jit`` is the target's
decorator (``numba.njit`` or ``numba.cuda.jit(device=True)``) and ``popcount`` its population count
of an int64 (the LLVM ``ctpop`` intrinsic of :mod:`edkit.engine.matfree` on the CPU, ``cuda.popc``
on the device). The CPU launcher :func:`cpu_matvec` (numba ``prange`` over blocks of states) runs
the very body the GPU kernels of :mod:`edkit.engine.gpu_device` run, so CI (no GPU) checks the
indexing and the fermion signs of the device kernel; the CUDA kernels themselves are also run
under the numba CUDA simulator in the tests.

Coefficients may be real or complex (fluxes); the tables are cast to the vector's dtype.
"""

from __future__ import annotations

import types as pytypes

import numba
import numpy as np

#: Names of the ``A`` tables (arguments of :func:`part_a` after ``i, x``).
A_NAMES = ("d_dn", "ups", "dns", "rank_up", "rank_dn", "n", "const", "diag_up", "diag_dn", "pair_mask",
           "pair_coef", "n_pair", "mix_up", "mix_dn", "mix_coef", "n_mix", "t_up_ptr", "t_up_col",
           "t_up_val", "gen_mode", "gen_dag", "gen_len", "gen_coef", "n_gen")
#: Names of the ``B`` tables (arguments of :func:`part_b` after ``i, acc, x``).
B_NAMES = ("d_dn", "t_dn_ptr", "t_dn_col", "t_dn_val")
#: States per task of the CPU launcher.
CPU_BLOCK = 4096


def popcount(x):  # pragma: no cover  (replaced by the target's primitive in build())
    """Placeholder: :func:`build` injects the target's population count."""
    raise NotImplementedError


def part_a_at(i, iu, k, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask,
              pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val, gen_mode,
              gen_dag, gen_len, gen_coef, n_gen):
    """Diagonal, spin-up one-body and general words of ``(H x)[i]``, ``i = iu * d_dn + k``."""
    u = ups[iu]
    d = dns[k]
    xi = x[i]
    acc = (const + diag_up[iu] + diag_dn[k]) * xi
    ud = u & d
    for g in range(n_pair):  # on-site n_up n_dn words with one coefficient: one popcount
        acc += pair_coef[g] * popcount(ud & pair_mask[g]) * xi
    for w in range(n_mix):
        if (u & mix_up[w]) == mix_up[w] and (d & mix_dn[w]) == mix_dn[w]:
            acc += mix_coef[w] * xi
    acc = hops(acc, x, k, d_dn, t_up_ptr, t_up_col, t_up_val, iu)  # column gathers x[col, k]
    if n_gen > 0:  # general words, factor by factor (the slow path of edkit.engine.matfree)
        one = ups[iu] * 0 + 1
        low = (one << n) - 1
        s0 = u | (d << n)
        for w in range(n_gen):
            t = s0
            sign = 1
            ok = True
            for f in range(gen_len[w]):
                bit = one << gen_mode[w, f]
                if gen_dag[w, f] == ((t & bit) != 0):  # c+ on occupied / c on empty
                    ok = False
                    break
                if popcount(t & (bit - 1)) & 1:
                    sign = -sign
                t ^= bit
            if ok:
                acc += sign * gen_coef[w] * x[rank_up[t & low] * d_dn + rank_dn[t >> n]]
    return acc


def hops(acc, x, base, stride, ptr, col, val, r):
    """``acc + sum_p val[p] x[base + col[p] * stride]`` over the entries ``p`` of row ``r`` of a
    one-body table (CSR): the spin-up words of state ``(iu, k)`` are row ``iu`` of ``T_up`` with
    ``base = k, stride = D_dn`` (a column of ``X``); the spin-down words are row ``k`` of ``T_dn``
    with ``base = iu * D_dn, stride = 1`` (a row of ``X``), or ``base = iu, stride = D_up`` on the
    transposed array (a column of ``X^T``, the ``transpose`` kernel order)."""
    for p in range(ptr[r], ptr[r + 1]):
        acc += val[p] * x[base + col[p] * stride]
    return acc


def part_b_at(iu, k, acc, x, d_dn, t_dn_ptr, t_dn_col, t_dn_val):
    """``acc`` plus the spin-down one-body words of ``(H x)[iu * d_dn + k]`` (gathers within row ``iu``)."""
    return hops(acc, x, iu * d_dn, 1, t_dn_ptr, t_dn_col, t_dn_val, k)


def element_at(i, iu, k, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask,
               pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val, gen_mode,
               gen_dag, gen_len, gen_coef, n_gen, t_dn_ptr, t_dn_col, t_dn_val):
    """``(H x)[i]`` for ``i = iu * d_dn + k`` (no integer division: row-wise launchers)."""
    acc = part_a_at(i, iu, k, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask,
                    pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val,
                    gen_mode, gen_dag, gen_len, gen_coef, n_gen)
    return part_b_at(iu, k, acc, x, d_dn, t_dn_ptr, t_dn_col, t_dn_val)


def part_a(i, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask, pair_coef,
           n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val, gen_mode, gen_dag,
           gen_len, gen_coef, n_gen):
    """:func:`part_a_at` of state ``i``."""
    iu = i // d_dn
    return part_a_at(i, iu, i - iu * d_dn, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn,
                     pair_mask, pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col,
                     t_up_val, gen_mode, gen_dag, gen_len, gen_coef, n_gen)


def part_b(i, acc, x, d_dn, t_dn_ptr, t_dn_col, t_dn_val):
    """:func:`part_b_at` of state ``i``."""
    iu = i // d_dn
    return part_b_at(iu, i - iu * d_dn, acc, x, d_dn, t_dn_ptr, t_dn_col, t_dn_val)


def element(i, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask, pair_coef,
            n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val, gen_mode, gen_dag,
            gen_len, gen_coef, n_gen, t_dn_ptr, t_dn_col, t_dn_val):
    """``(H x)[i]``: :func:`part_a` then :func:`part_b` (one division for the row and column)."""
    iu = i // d_dn
    return element_at(i, iu, i - iu * d_dn, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn,
                      pair_mask, pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col,
                      t_up_val, gen_mode, gen_dag, gen_len, gen_coef, n_gen, t_dn_ptr, t_dn_col, t_dn_val)


def build(jit, popcount_impl, extra: dict | None = None) -> dict:
    """The body compiled for one target: ``{"part_a", "part_b", "element"}`` of a state index and their
    ``*_at`` forms that take the row and column too (no division).

    Parameters
    ----------
    jit
        The target's decorator for device/inner functions (``numba.njit``,
        ``numba.cuda.jit(device=True)``).
    popcount_impl
        The target's population count of an int64, callable from ``jit``-compiled code.
    extra
        More globals for the compiled functions (e.g. a kernel's helpers).
    """
    g = {"np": np, "popcount": popcount_impl, **(extra or {})}
    out = {}
    for fn in (hops, part_a_at, part_b_at, element_at, part_a, part_b, element):
        name = fn.__name__
        copy = pytypes.FunctionType(fn.__code__, g, name, fn.__defaults__, fn.__closure__)
        copy.__qualname__ = f"{name}_{id(g):x}"
        copy.__module__ = fn.__module__
        out[name] = g[name] = jit(copy)
    return out


def _pad(a: np.ndarray) -> np.ndarray:
    """``a`` with at least one entry along axis 0 (zeros appended), C-contiguous."""
    a = np.ascontiguousarray(a)
    if a.shape[0] == 0:
        a = np.zeros((1, *a.shape[1:]), dtype=a.dtype)
    return a


def kernel_tables(op, dtype) -> tuple[tuple, tuple]:
    """``(A, B)`` arguments of the body for ``op`` (a :class:`MatrixFreeHamiltonian`) and ``dtype``.

    The tables are ``op``'s, in the vector dtype (the operator's or a wider one).
    """
    dtype = np.dtype(dtype)
    (ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask, pair_coef, mix_up, mix_dn, mix_coef,
     t_up_ptr, t_up_col, t_up_val, t_dn_ptr, t_dn_col, t_dn_val, gen_mode, gen_dag, gen_len,
     gen_coef) = op._tables(dtype)
    d_dn = np.int64(len(dns))
    A = (d_dn, ups, dns, rank_up, rank_dn, np.int64(n), dtype.type(const), diag_up, diag_dn,
         _pad(pair_mask), _pad(pair_coef), np.int64(len(pair_coef)), _pad(mix_up), _pad(mix_dn),
         _pad(mix_coef), np.int64(len(mix_coef)), t_up_ptr, _pad(t_up_col), _pad(t_up_val),
         _pad(gen_mode), _pad(gen_dag), _pad(gen_len), _pad(gen_coef), np.int64(len(gen_len)))
    B = (d_dn, t_dn_ptr, _pad(t_dn_col), _pad(t_dn_val))
    return A, B


_CPU = None


def _cpu_body() -> dict:
    global _CPU
    if _CPU is None:
        from edkit.engine.matfree import _popcount

        _CPU = build(numba.njit(inline="never"), _popcount)
        _CPU["launcher"] = numba.njit(parallel=True)(
            pytypes.FunctionType(_cpu_launch.__code__, {"numba": numba, "np": np, "element": _CPU["element"],
                                                        "CPU_BLOCK": CPU_BLOCK}, "cpu_launch"))
    return _CPU


def _cpu_launch(x, y, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask, pair_coef,
                n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val, gen_mode, gen_dag,
                gen_len, gen_coef, n_gen, t_dn_ptr, t_dn_col, t_dn_val):
    """``y = H x`` over blocks of :data:`CPU_BLOCK` states in parallel; returns ``Re <x, y>``."""
    dim = x.shape[0]
    nblocks = (dim + CPU_BLOCK - 1) // CPU_BLOCK
    total = 0.0
    for b in numba.prange(nblocks):
        start = np.int64(b) * CPU_BLOCK
        stop = min(start + CPU_BLOCK, dim)
        s = 0.0
        for i in range(start, stop):
            v = element(i, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask,
                        pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val,
                        gen_mode, gen_dag, gen_len, gen_coef, n_gen, t_dn_ptr, t_dn_col, t_dn_val)
            y[i] = v
            xi = x[i]
            s += xi.real * v.real + xi.imag * v.imag
        total += s
    return total


def cpu_matvec(op, x: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """``y = H x`` by the shared body's CPU launcher, and ``Re <x, y>``.

    ``op`` is a :class:`edkit.engine.matfree.MatrixFreeHamiltonian`; ``x`` a vector of its size in
    the product order (any dtype that ``op.dtype`` casts to).
    """
    dtype = np.result_type(op.dtype, np.asarray(x).dtype)
    x = np.ascontiguousarray(np.ravel(x), dtype=dtype)
    if x.shape[0] != op.shape[0]:
        raise ValueError(f"x has {x.shape[0]} entries, the operator {op.shape[0]}")
    if out is None:
        out = np.empty_like(x)
    A, B = kernel_tables(op, dtype)
    dot = _cpu_body()["launcher"](x, out, *A, *B[1:])
    return out, float(dot)


__all__ = ["A_NAMES", "B_NAMES", "CPU_BLOCK", "build", "cpu_matvec", "element", "element_at", "kernel_tables",
           "hops", "part_a", "part_a_at", "part_b", "part_b_at"]
