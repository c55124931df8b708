"""The device side of the GPU backend: numba.cuda kernels on CuPy vectors, and a three-vector Lanczos.

Imported lazily (only when the GPU is used): importing it does not import CuPy or numba.cuda;
:func:`kernels` compiles on first use.

Why numba.cuda (and CuPy for the vectors)
-----------------------------------------
The kernel body is :mod:`edkit.engine.gpu_kernel`'s plain-Python per-state function, compiled
with ``numba.cuda.jit(device=True)`` here and with ``numba.njit`` for the CPU launcher; CI has no
GPU, so sharing one source with a CPU launcher (and running these very kernels under the numba
CUDA simulator, ``NUMBA_ENABLE_CUDASIM=1``) is what makes the indexing and the fermion signs
testable. A CuPy ``RawKernel`` would be a second source in CUDA C that CI could not run. CuPy
holds the vectors (memory pool, ``memGetInfo``, events, device copies); numba kernels take CuPy
arrays through the CUDA array interface (converted once to numba views: per-launch conversion
costs tens of microseconds per argument).

Kernels (one thread per basis state, grid-stride loops with 64-bit indices)
---------------------------------------------------------------------------
``EDKIT_GPU_CACHE=1`` compiles the kernels with ``cuda.jit(cache=True)`` (numba's on-disk cache,
keyed by a hash of the kernel sources): later processes skip the compilation.

- ``fused`` (:data:`VARIANTS`): thread ``t`` computes ``y[t]`` in row order
  (``i = iu * D_dn + id``); the spin-up gathers ``x[col * D_dn + id]`` of one warp hit 32
  consecutive entries of a row ``col`` that is generally not in L2.
- ``stripe``: the same body in column-stripe order: ``t -> (stripe s, row iu, column id in a stripe
  of width W)``, so that the threads resident at once cover a stripe of ``D_up * W * 8`` bytes
  (3.3 MB at 8 rungs for W = 32) and the spin-up gathers hit L2. The spin-down gathers then read
  whole rows for a few of their columns.
- ``split``: part A (diagonal, spin-up and general words) in stripe order writes ``y``; part B
  (spin-down words, gathers within one row, which stays in L1/L2) in row order adds to it and
  forms ``<x, y>``; costs one more pass over ``y`` (16 B per state).
- ``rows``: row order without integer division (rows over blocks, columns over a block's threads:
  the GPU divides 64-bit integers in software, and the flat orders above divide once or more per
  state).
- ``transpose``: the spin-down words on the transposed arrays: ``x -> x^T`` (tiled transpose in
  shared memory), part A tile by tile on ``x``, the spin-down words tile by tile on ``x^T`` (their
  gathers, scattered within a row of ``x``, are coalesced on ``x^T``), then ``y += (y^T)^T`` with
  ``<x, y>``. About 72 B per state instead of gathers that read a 32-byte sector per 8-byte value;
  two more vectors (used only when they fit: ``variant="auto"`` checks the free memory).
- ``tsplit``: ``split`` with part A tile by tile: the whole grid sweeps one stripe of ``W``
  columns at a time, ``BLOCK / W`` rows per block (``W`` a power of two), no division.

``W`` is the stripe width (``stripe:64``). ``variant="auto"`` times the candidates
(:data:`AUTO_CANDIDATES`) on the first matvec of a large sector (two matvecs each) and keeps the
fastest (:attr:`DeviceOperator.tuning`).

Every matvec also accumulates ``Re <x, y>`` (block reduction in shared memory, one float64 atomic
per block), so a Lanczos step is one matvec plus one fused update pass
``w' = a y - b w - c w'`` that returns ``||w'||^2`` the same way: the reductions are done by
these kernels with 64-bit indices (safe past 2^31 elements), and nothing of size ``dim`` is
allocated per step (three vectors, allocated once).

Memory: ``3 * dim * itemsize`` bytes of vectors (8 B real, 16 B complex) plus the tables
(:meth:`DeviceOperator.table_bytes`: two rank tables of ``2^n`` int64 and the spin-up/down
one-body tables); :func:`check_memory` refuses, with the numbers, what does not fit in the free
device memory (``cudaMemGetInfo``).
"""

from __future__ import annotations

import os
import time
import types as pytypes
from collections.abc import Callable, Mapping

import numpy as np

from edkit.engine.gpu_kernel import build, kernel_tables

#: Threads per block on a device (the simulator uses :data:`SIM_BLOCK`).
BLOCK = 256
#: Threads per block under the numba CUDA simulator (each thread is a Python thread).
SIM_BLOCK = 8
#: Tile edge of the transposes (``BLOCK`` must be a multiple; the simulator uses :data:`SIM_TILE`).
TILE = 32
SIM_TILE = 4
#: Resident blocks per multiprocessor aimed at (grid = SMs x this, grid-stride loops beyond).
BLOCKS_PER_SM = 8
#: Kernel orders (see the module docs); ``stripe`` and ``split`` take a width ``":W"``.
VARIANTS = ("fused", "rows", "stripe", "split", "tsplit", "transpose")
#: Default stripe width (columns of the ``D_up x D_dn`` array per stripe).
STRIPE_WIDTH = 64
#: What ``variant="auto"`` times on a large sector.
AUTO_CANDIDATES = ("fused", "rows", "split:128", "tsplit:32", "transpose:32", "transpose:64")
#: Sectors from which ``variant="auto"`` tunes (below, ``fused``).
AUTO_TUNE_DIMENSION = 2_000_000
#: Bytes kept free on the device beyond the plan (CUDA context, CuPy pool slack, cuBLAS).
DEVICE_RESERVE = 1 << 30


def import_cuda():
    """``numba.cuda``, importable with NumPy >= 2.5 too.

    numba-cuda 0.30 (measured on the H200 machine, NumPy 2.5.2) still refers to ``numpy.row_stack``,
    which NumPy 2.5 removed (deprecated alias of ``numpy.vstack``); the alias is restored before the
    import when it is missing (nothing else is changed).
    """
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack
    from numba import cuda

    return cuda


def simulated() -> bool:
    """Whether numba.cuda runs in its simulator (``NUMBA_ENABLE_CUDASIM=1``): NumPy vectors then."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def array_module():
    """CuPy, or NumPy under the simulator."""
    if simulated():
        return np
    import cupy

    return cupy


# ----------------------------------------------------------------------------- kernel sources
# Plain functions compiled by kernels() with numba.cuda (globals injected: cuda, np, float64,
# BLOCK, part_a, part_b, element, stripe_index, block_sum, popcount).

def _popc(x):
    return cuda.popc(x)  # noqa: F821  (injected)


def _block_sum(s, acc):
    """Sum ``s`` over the block (shared memory tree), one atomic add of the block's sum to ``acc[0]``."""
    sm = cuda.shared.array(BLOCK, float64)  # noqa: F821
    tid = cuda.threadIdx.x  # noqa: F821
    sm[tid] = s
    cuda.syncthreads()  # noqa: F821
    h = BLOCK // 2  # noqa: F821
    while h > 0:
        if tid < h:
            sm[tid] += sm[tid + h]
        cuda.syncthreads()  # noqa: F821
        h //= 2
    if tid == 0:
        cuda.atomic.add(acc, 0, sm[0])  # noqa: F821


def _stripe_index(t, d_up, d_dn, width):
    """State index of thread ``t`` in column-stripe order (stripes of ``width`` columns, last narrower)."""
    full = d_dn // width
    span = d_up * width
    s = t // span
    if s < full:
        r = t - s * span
        iu = r // width
        return iu * d_dn + s * width + (r - iu * width)
    r = t - full * span
    rest = d_dn - full * width
    iu = r // rest
    return iu * d_dn + full * width + (r - iu * rest)


def _k_fused(x, y, acc, dim, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask,
             pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val, gen_mode,
             gen_dag, gen_len, gen_coef, n_gen, t_dn_ptr, t_dn_col, t_dn_val):
    i = np.int64(cuda.blockIdx.x) * cuda.blockDim.x + cuda.threadIdx.x  # noqa: F821
    stride = np.int64(cuda.gridDim.x) * cuda.blockDim.x  # noqa: F821
    s = 0.0
    while i < dim:
        v = element(i, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn,  # noqa: F821
                    pair_mask, pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col,
                    t_up_val, gen_mode, gen_dag, gen_len, gen_coef, n_gen, t_dn_ptr, t_dn_col, t_dn_val)
        y[i] = v
        xi = x[i]
        s += xi.real * v.real + xi.imag * v.imag
        i += stride
    block_sum(s, acc)  # noqa: F821


def _k_stripe(x, y, acc, dim, d_up, width, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn,
              pair_mask, pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val,
              gen_mode, gen_dag, gen_len, gen_coef, n_gen, t_dn_ptr, t_dn_col, t_dn_val):
    t = np.int64(cuda.blockIdx.x) * cuda.blockDim.x + cuda.threadIdx.x  # noqa: F821
    stride = np.int64(cuda.gridDim.x) * cuda.blockDim.x  # noqa: F821
    s = 0.0
    while t < dim:
        i = stripe_index(t, d_up, d_dn, width)  # noqa: F821
        v = element(i, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn,  # noqa: F821
                    pair_mask, pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col,
                    t_up_val, gen_mode, gen_dag, gen_len, gen_coef, n_gen, t_dn_ptr, t_dn_col, t_dn_val)
        y[i] = v
        xi = x[i]
        s += xi.real * v.real + xi.imag * v.imag
        t += stride
    block_sum(s, acc)  # noqa: F821


def _k_split_a(x, y, dim, d_up, width, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn,
               pair_mask, pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val,
               gen_mode, gen_dag, gen_len, gen_coef, n_gen):
    t = np.int64(cuda.blockIdx.x) * cuda.blockDim.x + cuda.threadIdx.x  # noqa: F821
    stride = np.int64(cuda.gridDim.x) * cuda.blockDim.x  # noqa: F821
    while t < dim:
        i = stripe_index(t, d_up, d_dn, width)  # noqa: F821
        y[i] = part_a(i, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn,  # noqa: F821
                      pair_mask, pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col,
                      t_up_val, gen_mode, gen_dag, gen_len, gen_coef, n_gen)
        t += stride


def _k_split_b(x, y, acc, d_up, d_dn, t_dn_ptr, t_dn_col, t_dn_val):
    """Rows over blocks, columns over the threads of a block (no division)."""
    s = 0.0
    iu = np.int64(cuda.blockIdx.x)  # noqa: F821
    while iu < d_up:
        base = iu * d_dn
        k = np.int64(cuda.threadIdx.x)  # noqa: F821
        while k < d_dn:
            i = base + k
            v = part_b_at(iu, k, y[i], x, d_dn, t_dn_ptr, t_dn_col, t_dn_val)  # noqa: F821
            y[i] = v
            xi = x[i]
            s += xi.real * v.real + xi.imag * v.imag
            k += cuda.blockDim.x  # noqa: F821
        iu += cuda.gridDim.x  # noqa: F821
    block_sum(s, acc)  # noqa: F821


def _k_rows(x, y, acc, d_up, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask,
            pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val, gen_mode,
            gen_dag, gen_len, gen_coef, n_gen, t_dn_ptr, t_dn_col, t_dn_val):
    """Row order without division: rows over blocks, columns over the threads of a block."""
    s = 0.0
    iu = np.int64(cuda.blockIdx.x)  # noqa: F821
    while iu < d_up:
        base = iu * d_dn
        k = np.int64(cuda.threadIdx.x)  # noqa: F821
        while k < d_dn:
            i = base + k
            v = element_at(i, iu, k, x, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up,  # noqa: F821
                           diag_dn, pair_mask, pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr,
                           t_up_col, t_up_val, gen_mode, gen_dag, gen_len, gen_coef, n_gen, t_dn_ptr,
                           t_dn_col, t_dn_val)
            y[i] = v
            xi = x[i]
            s += xi.real * v.real + xi.imag * v.imag
            k += cuda.blockDim.x  # noqa: F821
        iu += cuda.gridDim.x  # noqa: F821
    block_sum(s, acc)  # noqa: F821


def _k_tiles_a(x, y, d_up, width, d_dn, ups, dns, rank_up, rank_dn, n, const, diag_up, diag_dn, pair_mask,
               pair_coef, n_pair, mix_up, mix_dn, mix_coef, n_mix, t_up_ptr, t_up_col, t_up_val, gen_mode,
               gen_dag, gen_len, gen_coef, n_gen):
    """Part A stripe by stripe, the whole grid on one stripe of ``width`` columns at a time (tiles of
    ``BLOCK / width`` rows per block; no division in the loop)."""
    tid = np.int64(cuda.threadIdx.x)  # noqa: F821
    rows = np.int64(cuda.blockDim.x) // width  # noqa: F821
    lr = tid // width
    lc = tid - lr * width
    c0 = np.int64(0)
    while c0 < d_dn:
        k = c0 + lc
        iu = np.int64(cuda.blockIdx.x) * rows + lr  # noqa: F821
        while iu < d_up:
            if k < d_dn and lr < rows:
                i = iu * d_dn + k
                y[i] = part_a_at(i, iu, k, x, d_dn, ups, dns, rank_up, rank_dn, n, const,  # noqa: F821
                                 diag_up, diag_dn, pair_mask, pair_coef, n_pair, mix_up, mix_dn, mix_coef,
                                 n_mix, t_up_ptr, t_up_col, t_up_val, gen_mode, gen_dag, gen_len, gen_coef,
                                 n_gen)
            iu += np.int64(cuda.gridDim.x) * rows  # noqa: F821
        c0 += width


def _k_tiles_bt(xT, yT, d_dn, width, d_up, t_dn_ptr, t_dn_col, t_dn_val):
    """Spin-down words on the transposed arrays (``xT[k * D_up + iu] = x[iu * D_dn + k]``): the gathers
    ``xT[col * D_up + iu]`` are coalesced over ``iu``; tiles swept stripe by stripe as in ``tiles_a``."""
    tid = np.int64(cuda.threadIdx.x)  # noqa: F821
    rows = np.int64(cuda.blockDim.x) // width  # noqa: F821
    lr = tid // width
    lc = tid - lr * width
    c0 = np.int64(0)
    while c0 < d_up:
        iu = c0 + lc
        k = np.int64(cuda.blockIdx.x) * rows + lr  # noqa: F821
        while k < d_dn:
            if iu < d_up and lr < rows:
                i = k * d_up + iu
                yT[i] = hops(xT[i] * 0, xT, iu, d_up, t_dn_ptr, t_dn_col, t_dn_val, k)  # noqa: F821
            k += np.int64(cuda.gridDim.x) * rows  # noqa: F821
        c0 += width


def _k_transpose(src, dst, rows, cols, tiles_c, n_tiles):
    """``dst`` (``cols x rows``) = ``src`` (``rows x cols``) transposed, by tiles in shared memory."""
    tile = cuda.shared.array((TILE, TILE_PAD), TILE_T)  # noqa: F821
    tid = cuda.threadIdx.x  # noqa: F821
    tx = tid % TILE  # noqa: F821
    ty = tid // TILE  # noqa: F821
    step = BLOCK // TILE  # noqa: F821
    j = np.int64(cuda.blockIdx.x)  # noqa: F821
    while j < n_tiles:
        tr = j // tiles_c
        r0 = tr * TILE  # noqa: F821
        c0 = (j - tr * tiles_c) * TILE  # noqa: F821
        yy = ty
        while yy < TILE:  # noqa: F821
            r = r0 + yy
            c = c0 + tx
            if r < rows and c < cols:
                tile[yy, tx] = src[r * cols + c]
            yy += step
        cuda.syncthreads()  # noqa: F821
        yy = ty
        while yy < TILE:  # noqa: F821
            c = c0 + yy
            r = r0 + tx
            if r < rows and c < cols:
                dst[c * rows + r] = tile[tx, yy]
            yy += step
        cuda.syncthreads()  # noqa: F821
        j += cuda.gridDim.x  # noqa: F821


def _k_transpose_add(srcT, y, x, acc, rows, cols, tiles_c, n_tiles):
    """``y += srcT^T`` (``srcT``: ``cols x rows``; ``y``, ``x``: ``rows x cols``); ``acc += Re <x, y>``."""
    tile = cuda.shared.array((TILE, TILE_PAD), TILE_T)  # noqa: F821
    tid = cuda.threadIdx.x  # noqa: F821
    tx = tid % TILE  # noqa: F821
    ty = tid // TILE  # noqa: F821
    step = BLOCK // TILE  # noqa: F821
    s = 0.0
    j = np.int64(cuda.blockIdx.x)  # noqa: F821
    while j < n_tiles:
        tr = j // tiles_c
        r0 = tr * TILE  # noqa: F821
        c0 = (j - tr * tiles_c) * TILE  # noqa: F821
        yy = ty
        while yy < TILE:  # noqa: F821
            c = c0 + yy
            r = r0 + tx
            if r < rows and c < cols:
                tile[tx, yy] = srcT[c * rows + r]
            yy += step
        cuda.syncthreads()  # noqa: F821
        yy = ty
        while yy < TILE:  # noqa: F821
            r = r0 + yy
            c = c0 + tx
            if r < rows and c < cols:
                i = r * cols + c
                v = y[i] + tile[yy, tx]
                y[i] = v
                xi = x[i]
                s += xi.real * v.real + xi.imag * v.imag
            yy += step
        cuda.syncthreads()  # noqa: F821
        j += cuda.gridDim.x  # noqa: F821
    block_sum(s, acc)  # noqa: F821


def _k_combine(y, w, wp, acc, dim, a, b, c):
    """``wp <- a y - b w - c wp``; ``acc[0] += ||wp||^2``."""
    i = np.int64(cuda.blockIdx.x) * cuda.blockDim.x + cuda.threadIdx.x  # noqa: F821
    stride = np.int64(cuda.gridDim.x) * cuda.blockDim.x  # noqa: F821
    s = 0.0
    while i < dim:
        v = a * y[i] - b * w[i] - c * wp[i]
        wp[i] = v
        s += v.real * v.real + v.imag * v.imag
        i += stride
    block_sum(s, acc)  # noqa: F821


def _k_norm2(x, acc, dim):
    i = np.int64(cuda.blockIdx.x) * cuda.blockDim.x + cuda.threadIdx.x  # noqa: F821
    stride = np.int64(cuda.gridDim.x) * cuda.blockDim.x  # noqa: F821
    s = 0.0
    while i < dim:
        v = x[i]
        s += v.real * v.real + v.imag * v.imag
        i += stride
    block_sum(s, acc)  # noqa: F821


def _k_random(x, dim, seed):
    """``x[i]`` uniform in [-1, 1) from a SplitMix64 hash of ``(seed, i)`` (reproducible, any grid)."""
    i = np.int64(cuda.blockIdx.x) * cuda.blockDim.x + cuda.threadIdx.x  # noqa: F821
    stride = np.int64(cuda.gridDim.x) * cuda.blockDim.x  # noqa: F821
    while i < dim:
        z = np.uint64(i) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        x[i] = np.float64(z >> np.uint64(11)) * (2.0 / 9007199254740992.0) - 1.0
        i += stride


_KERNELS: dict = {}


def _source_tag() -> str:
    """Eight hex digits of a hash of this module's and :mod:`edkit.engine.gpu_kernel`'s sources."""
    import hashlib

    from edkit.engine import gpu_kernel

    h = hashlib.sha1()
    for path in (__file__, gpu_kernel.__file__):
        with open(path, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:8]


def kernels(block: int | None = None) -> dict:
    """The CUDA kernels and device functions (compiled lazily, once per block size).

    Raises
    ------
    ImportError, numba.cuda errors
        When numba.cuda cannot be imported (the message says why).
    """
    block = block or (SIM_BLOCK if simulated() else BLOCK)
    if block in _KERNELS:
        return _KERNELS[block]
    import numba

    cuda = import_cuda()

    tile = SIM_TILE if simulated() else TILE
    g = {"cuda": cuda, "np": np, "float64": numba.float64, "BLOCK": block, "TILE": tile,
         "TILE_PAD": tile + 1}  # shared-array shapes must be literal globals (no arithmetic in the kernel)
    device = cuda.jit(device=True)
    kernel = cuda.jit(cache=True) if os.environ.get("EDKIT_GPU_CACHE", "0") == "1" else cuda.jit
    tag = _source_tag()

    def compile_(fn, jit, name):
        copy = pytypes.FunctionType(fn.__code__, g, name, fn.__defaults__, fn.__closure__)
        copy.__qualname__ = f"{name}_{block}_{tag}"  # the on-disk cache key changes with the sources
        g[name] = jit(copy)
        return g[name]

    compile_(_popc, device, "popcount")
    g.update(build(device, g["popcount"], extra=g))
    compile_(_block_sum, device, "block_sum")
    compile_(_stripe_index, device, "stripe_index")
    out = {"block": block}
    for fn, name in ((_k_fused, "fused"), (_k_rows, "rows"), (_k_stripe, "stripe"), (_k_split_a, "split_a"),
                     (_k_tiles_a, "tiles_a"), (_k_split_b, "split_b"), (_k_combine, "combine"),
                     (_k_norm2, "norm2"), (_k_random, "random")):
        out[name] = compile_(fn, kernel, f"k_{name}")
    out["tiles_bt"] = compile_(_k_tiles_bt, kernel, "k_tiles_bt")
    base = dict(g)
    for suffix, tile_type in (("f", numba.float64), ("c", numba.complex128)):  # the tile's type is static
        g = {**base, "TILE_T": tile_type}
        compile_(_block_sum, device, "block_sum")  # in this dict too (the simulator swaps `cuda` per dict)
        out[f"transpose_{suffix}"] = compile_(_k_transpose, kernel, f"k_transpose_{suffix}")
        out[f"transpose_add_{suffix}"] = compile_(_k_transpose_add, kernel, f"k_transpose_add_{suffix}")
    out["tile"] = tile
    _KERNELS[block] = out
    return out


def parse_variant(variant: str) -> tuple[str, int]:
    """``"split:32"`` -> ``("split", 32)``; ``"fused"`` -> ``("fused", 0)``.

    Raises
    ------
    ValueError
        For an unknown variant or a width below 1.
    """
    name, _, width = str(variant).partition(":")
    if name not in VARIANTS and name != "auto":
        raise ValueError(f"unknown GPU kernel variant {variant!r}; choose from {', '.join(VARIANTS)}, auto")
    striped = name in ("stripe", "split", "tsplit", "transpose")
    w = int(width) if width else (STRIPE_WIDTH if striped else 0)
    if striped and w < 1:
        raise ValueError(f"stripe width must be at least 1, got {variant!r}")
    if name in ("tsplit", "transpose") and w & (w - 1):
        raise ValueError(f"{name} needs a power-of-two width, got {variant!r}")
    return name, w


def device_info() -> dict:
    """Name, free and total memory (bytes) and multiprocessors of the current device."""
    if simulated():
        return {"name": "numba CUDA simulator", "free": 1 << 34, "total": 1 << 34, "sms": 1}
    import cupy

    dev = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(dev.id)
    free, total = cupy.cuda.runtime.memGetInfo()
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return {"name": name, "free": int(free), "total": int(total), "sms": int(props["multiProcessorCount"]),
            "id": int(dev.id)}


def plan_bytes(dim: int, itemsize: int, table_bytes: int, vectors: int = 3) -> int:
    """Device bytes of a run: ``vectors`` vectors of ``dim`` entries plus the tables."""
    return int(vectors) * int(dim) * int(itemsize) + int(table_bytes)


def check_memory(need: int, what: str, free: int | None = None) -> None:
    """Raise :class:`edkit.engine.memory.TooLargeError` if ``need`` bytes (+ a reserve) exceed the
    device's free memory; the message has the numbers."""
    from edkit.core.units import format_bytes
    from edkit.engine.memory import TooLargeError

    if free is None:
        free = device_info()["free"]
    if need + DEVICE_RESERVE > free:
        raise TooLargeError(f"{what} needs ~{format_bytes(need)} of device memory "
                            f"(+{format_bytes(DEVICE_RESERVE)} reserve), more than the {format_bytes(free)} "
                            f"free on the GPU")


class DeviceOperator:
    """``H`` of a sector on the device: ``.shape``, ``.dtype``, ``.matvec(x)``, ``array_module``.

    Parameters
    ----------
    host
        The :class:`edkit.engine.matfree.MatrixFreeHamiltonian` whose tables are used (built on the
        host, copied once).
    variant
        Kernel order: ``"fused"``, ``"stripe[:W]"``, ``"split[:W]"`` or ``"auto"`` (module docs).
    dtype
        Vector dtype (default the operator's; a complex operator needs complex vectors).
    """

    def __init__(self, host, variant: str = "auto", dtype=None):
        self.host = host
        self.xp = array_module()
        self.array_module = self.xp
        self.dtype = np.dtype(dtype or host.dtype)
        if np.result_type(host.dtype, self.dtype) != self.dtype:
            raise ValueError(f"vectors of dtype {self.dtype} cannot hold H x for a {host.dtype} operator")
        self.shape = host.shape
        self.dim = int(host.shape[0])
        self.d_up, self.d_dn = len(host.ups), len(host.dns)
        self.k = kernels()
        self.block = self.k["block"]
        info = device_info()
        self.grid_max = 2 if simulated() else max(1, info["sms"] * BLOCKS_PER_SM)
        A, B = kernel_tables(host, self.dtype)
        self._A = tuple(self._to_device(a) for a in A)
        self._B = tuple(self._to_device(b) for b in B)
        self._other: dict = {}
        self._work: dict = {}
        self.table_bytes = int(sum(a.nbytes for a in (*A, *B) if isinstance(a, np.ndarray)))
        self._acc = self.xp.zeros(1, dtype=np.float64)
        self._acc_k = self._view(self._acc)
        self.variant, self.width = parse_variant(variant)
        self.tuning: dict | None = None
        if self.variant == "auto" and self.dim < AUTO_TUNE_DIMENSION:
            self.variant, self.width = "fused", 0

    # -- arrays
    def _view(self, a):
        """The array as the kernels take it (a numba view of a CuPy array; NumPy as is)."""
        if simulated():
            return a
        return import_cuda().as_cuda_array(a)

    def _to_device(self, a):
        if not isinstance(a, np.ndarray):
            return a
        return self._view(self.xp.asarray(a))

    def grid(self, n: int) -> int:
        """Blocks for ``n`` threads: enough to fill the device once (grid-stride loops do the rest)."""
        return int(max(1, min(self.grid_max, -(-int(n) // self.block))))

    def empty(self):
        """An uninitialized vector of the sector on the device."""
        return self.xp.empty(self.dim, dtype=self.dtype)

    # -- kernels
    def _reduce_start(self):
        self._acc.fill(0)

    def _reduced(self) -> float:
        return float(self._acc[0])

    def _tables(self, dtype) -> tuple[tuple, tuple]:
        """Device tables for vectors of ``dtype`` (the operator's, or complex vectors of a real one)."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self._A, self._B
        if dtype not in self._other:
            A, B = kernel_tables(self.host, dtype)
            self._other[dtype] = (tuple(self._to_device(a) for a in A), tuple(self._to_device(b) for b in B))
        return self._other[dtype]

    def _launch(self, x, y, variant: str, width: int) -> None:
        k, g, b, dim = self.k, self.grid(self.dim), self.block, np.int64(self.dim)
        A, B = self._tables(x.dtype)
        d_up = np.int64(self.d_up)
        rows = int(max(1, min(self.grid_max, self.d_up)))  # row kernels: a block per row at a time
        if variant == "fused":
            k["fused"][g, b](x, y, self._acc_k, dim, *A, *B[1:])
        elif variant == "rows":
            k["rows"][rows, b](x, y, self._acc_k, d_up, *A, *B[1:])
        elif variant == "stripe":
            w = np.int64(min(width, self.d_dn))
            k["stripe"][g, b](x, y, self._acc_k, dim, d_up, w, *A, *B[1:])
        elif variant == "split":
            w = np.int64(min(width, self.d_dn))
            k["split_a"][g, b](x, y, dim, d_up, w, *A)
            k["split_b"][rows, b](x, y, self._acc_k, d_up, *B)
        elif variant == "tsplit":  # part A tile by tile (width divides the block), part B by rows
            k["tiles_a"][g, b](x, y, d_up, np.int64(min(width, b)), *A)
            k["split_b"][rows, b](x, y, self._acc_k, d_up, *B)
        else:  # transpose: x -> xT; A tile by tile on x; spin-down words tile by tile on xT; y += yT^T
            xT, yT = self._transposed(x.dtype)
            w = np.int64(min(width, b))
            d_dn = np.int64(self.d_dn)
            kind = "c" if np.dtype(x.dtype).kind == "c" else "f"
            t = k["tile"]
            tiles_c = -(-self.d_dn // t)
            n_tiles = -(-self.d_up // t) * tiles_c
            tg = int(max(1, min(self.grid_max, n_tiles)))
            k[f"transpose_{kind}"][tg, b](x, xT, d_up, d_dn, np.int64(tiles_c), np.int64(n_tiles))
            k["tiles_a"][g, b](x, y, d_up, w, *A)
            k["tiles_bt"][g, b](xT, yT, d_dn, w, d_up, *B[1:])
            k[f"transpose_add_{kind}"][tg, b](yT, y, x, self._acc_k, d_up, d_dn, np.int64(tiles_c),
                                               np.int64(n_tiles))

    def _transposed(self, dtype) -> tuple:
        """Kernel views of the two work vectors of the ``transpose`` order (allocated on first use)."""
        dtype = np.dtype(dtype)
        if dtype not in self._work:
            self._work[dtype] = (self._view(self.xp.empty(self.dim, dtype=dtype)),
                                 self._view(self.xp.empty(self.dim, dtype=dtype)))
        return self._work[dtype]

    def release_work(self) -> None:
        """Free the work vectors of the ``transpose`` order."""
        self._work.clear()

    def apply_views(self, x, y, xv=None, yv=None) -> float:
        """``y = H x`` (device arrays of the sector, ``xv``/``yv`` their kernel views if known);
        returns ``Re <x, y>``."""
        if self.variant == "auto":
            self.tune(x, y)
        xv = self._view(x) if xv is None else xv
        yv = self._view(y) if yv is None else yv
        self._reduce_start()
        self._launch(xv, yv, self.variant, self.width)
        return self._reduced()

    def apply(self, x, out=None) -> tuple[object, float]:
        """``y = H x`` into ``out`` (allocated if ``None``) and ``Re <x, y>``; complex ``x`` with a
        real operator gives a complex ``y``."""
        x = self.xp.asarray(x)
        dtype = np.result_type(self.dtype, x.dtype)
        x = self.xp.ascontiguousarray(x.astype(dtype, copy=False).ravel())
        if x.shape[0] != self.dim:
            raise ValueError(f"x has {x.shape[0]} entries, the operator {self.dim}")
        if out is None:
            out = self.xp.empty(self.dim, dtype=dtype)
        if out.dtype != dtype or out.shape != (self.dim,):
            raise ValueError(f"out must be a vector of {self.dim} entries of dtype {dtype}")
        return out, self.apply_views(x, out)

    def matvec(self, x):
        """``H x`` as a new device vector (``x`` a device vector, or host data copied over)."""
        return self.apply(x)[0]

    def __matmul__(self, x):
        return self.matvec(x)

    def timed(self, x, y, variant: str, repeats: int = 10, warmup: int = 2) -> list[float]:
        """Seconds per matvec of ``variant`` (events on the device), ``repeats`` times after ``warmup``."""
        name, width = parse_variant(variant)
        xv, yv = self._view(x), self._view(y)
        out = []
        for r in range(warmup + repeats):
            if simulated():
                t0 = time.perf_counter()
                self._launch(xv, yv, name, width)
                dt = time.perf_counter() - t0
            else:
                import cupy

                start, stop = cupy.cuda.Event(), cupy.cuda.Event()
                start.record()
                self._launch(xv, yv, name, width)
                stop.record()
                stop.synchronize()
                dt = cupy.cuda.get_elapsed_time(start, stop) / 1e3
            if r >= warmup:
                out.append(dt)
        return out

    def tune(self, x, y) -> dict:
        """Time :data:`AUTO_CANDIDATES` (two matvecs each after one warm-up) and keep the fastest.

        A candidate that fails to compile or run, or whose ``<x, Hx>`` differs from the first one's by
        more than ``1e-10 (1 + |<x, Hx>|)``, is skipped (``tuning["failed"]`` says why)."""
        times, failed = {}, {}
        ref = None
        extra = 2 * self.dim * np.dtype(x.dtype).itemsize
        for cand in AUTO_CANDIDATES:
            fits = bool(self._work) or extra + DEVICE_RESERVE <= device_info()["free"]
            if cand.startswith("transpose") and not fits:
                failed[cand] = "two more vectors do not fit in the free device memory"
                continue
            try:
                name, width = parse_variant(cand)
                self._reduce_start()
                self._launch(self._view(x), self._view(y), name, width)
                dot = self._reduced()  # <x, Hx>: every order must give the same number
                if ref is None:
                    ref = dot
                elif abs(dot - ref) > 1e-10 * (1 + abs(ref)):
                    failed[cand] = f"<x, Hx> = {dot!r} differs from {ref!r} ({AUTO_CANDIDATES[0]})"
                    continue
                times[cand] = min(self.timed(x, y, cand, repeats=2, warmup=0))
            except Exception as err:  # noqa: BLE001  (a variant that does not compile here is skipped)
                failed[cand] = f"{type(err).__name__}: {err}"
        if not times:
            raise RuntimeError(f"no GPU kernel variant ran: {failed}")
        best = min(times, key=times.get)
        self.variant, self.width = parse_variant(best)
        if self.variant != "transpose":
            self.release_work()
        self.tuning = {"chosen": best, "seconds": times, "failed": failed}
        return self.tuning

    def random(self, x, seed: int = 0) -> None:
        """Fill ``x`` with reproducible uniform numbers in [-1, 1) (real part)."""
        self.k["random"][self.grid(self.dim), self.block](self._view(x), np.int64(self.dim), np.uint64(seed))

    def norm2(self, x) -> float:
        """``||x||^2`` (device reduction)."""
        self._reduce_start()
        self.k["norm2"][self.grid(self.dim), self.block](self._view(x), self._acc_k, np.int64(self.dim))
        return self._reduced()

    def combine(self, y, w, wp, a, b, c, views=None) -> float:
        """``wp <- a y - b w - c wp`` in place; returns ``||wp||^2``."""
        yv, wv, wpv = views or (self._view(y), self._view(w), self._view(wp))
        t = self.dtype.type
        self._reduce_start()
        self.k["combine"][self.grid(self.dim), self.block](yv, wv, wpv, self._acc_k, np.int64(self.dim),
                                                           t(a), t(b), t(c))
        return self._reduced()

    @property
    def memory_bytes(self) -> int:
        """Device bytes of the tables (vectors excluded)."""
        return self.table_bytes


def lanczos_ground_energy(op: DeviceOperator, *, residual: float = 1e-8, energy_tol: float | None = 1e-12,
                          maxiter: int = 2000, seed: int = 0, check_every: int = 5,
                          progress: Callable[[str], None] | None = None) -> dict:
    """Lowest eigenvalue by three-vector Lanczos on the device.

    The recursion and the stopping rule are :func:`edkit.engine.recurrence.three_vector_lanczos`, the
    one the CPU path (:func:`edkit.engine.matfree.lanczos_ground_energy`) runs too (residual ``beta_k
    |s_k| <= residual (1 + |E|)``, or the lowest Ritz value moved by less than ``energy_tol (1 + |E|)``
    over each of the last two check intervals), with the vector kept as ``v = s W`` so that a step is
    one matvec (which returns ``<W, H W>``) and one fused update pass, both device kernels.
    The start vector is uniform in [-1, 1) from a hash of ``(seed, i)`` (:meth:`DeviceOperator.random`).

    Returns
    -------
    dict
        ``{"energy", "iterations", "converged", "criterion", "residual", "energy_change", "seconds"}``.
    """
    from edkit.engine.recurrence import three_vector_lanczos

    xp = op.xp
    t0 = time.perf_counter()
    W = op.empty()
    op.random(W, seed)
    vec = {"W": W, "Wp": xp.zeros_like(W), "Y": op.empty()}
    views = {name: op._view(a) for name, a in vec.items()}
    del W

    def matvec() -> float:
        return op.apply_views(vec["W"], vec["Y"], views["W"], views["Y"])

    def update(a, b, c) -> float:
        return op.combine(vec["Y"], vec["W"], vec["Wp"], a, b, c, views=(views["Y"], views["W"], views["Wp"]))

    def swap() -> None:
        for d in (vec, views):
            d["W"], d["Wp"] = d["Wp"], d["W"]

    result = three_vector_lanczos(matvec, update, swap, 1.0 / float(np.sqrt(op.norm2(vec["W"]))),
                                  residual=residual, energy_tol=energy_tol, maxiter=maxiter,
                                  check_every=check_every, progress=progress, label="GPU Lanczos")
    vec.clear()
    views.clear()
    result["seconds"] = time.perf_counter() - t0
    return result


def device_operator(model, values: Mapping[str, object] | None, sector, variant: str = "auto"
                    ) -> DeviceOperator:
    """A :class:`DeviceOperator` for ``model`` at ``values`` on ``sector`` (tables built on the host)."""
    from edkit.engine.matfree import MatrixFreeHamiltonian

    return DeviceOperator(MatrixFreeHamiltonian(model, values, sector), variant=variant)


__all__ = ["AUTO_CANDIDATES", "BLOCK", "DEVICE_RESERVE", "STRIPE_WIDTH", "VARIANTS", "DeviceOperator",
           "array_module", "check_memory", "device_info", "device_operator", "import_cuda", "kernels",
           "lanczos_ground_energy", "parse_variant", "plan_bytes", "simulated"]
