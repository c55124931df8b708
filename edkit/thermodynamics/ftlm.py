r"""Finite-temperature Lanczos (FTLM) of one sector: random vectors, one Lanczos run each.

For a sector of dimension :math:`D`, ``R`` normalized random vectors :math:`|r\rangle` and ``M``
Lanczos steps from each (Ritz values :math:`\epsilon^r_i`, Ritz vectors :math:`|\psi^r_i\rangle`),
the standard FTLM estimate (Jaklič and Prelovšek, Phys. Rev. B 49, 5065 (1994)) of a trace is

.. math::  \mathrm{Tr}\, e^{-\beta H} A \approx \frac{D}{R} \sum_r \sum_i e^{-\beta\epsilon^r_i}
           \langle r|\psi^r_i\rangle\langle\psi^r_i|A|r\rangle ,

exact in expectation for any ``A`` and any ``M`` when :math:`A` commutes with ``H`` up to Krylov
order, and accurate for :math:`M \gtrsim 50-100` otherwise. This module gives, per sample, the
Ritz values, the weights :math:`|\langle r|\psi_i\rangle|^2` (squared first components of the
tridiagonal eigenvectors: ``H`` and its powers need no vector) and, for each operator ``A``, the
products :math:`\langle r|\psi_i\rangle\langle\psi_i|A|r\rangle`. The asymmetric form (one ``A|r>``
per operator and sample, not :math:`\langle r|e^{-\beta H/2} A e^{-\beta H/2}|r\rangle`) is what
makes correlators cheap: with :math:`g_j = \langle v_j|A|r\rangle` over the Lanczos vectors,
:math:`\langle\psi_i|A|r\rangle = \sum_j s_{ji} g_j`, and the :math:`g_j` of every operator come
from one matrix product per block of :data:`BLOCK` Lanczos vectors (``B V^T``, ``B`` the stacked
:math:`A_k|r\rangle`) instead of one pass per operator and step. Its price is more noise at low
temperature than the symmetric (LTLM) form; :mod:`edkit.thermodynamics.run` flags those points.

Why an own recursion and not ``quspin.tools.lanczos``
-----------------------------------------------------
QuSpin's ``lanczos_iter``/``FTLM_static_iteration`` apply ``A`` to every Ritz vector (``M``
more matvecs per sample for ``A = H``), store or regenerate the ``M`` Lanczos vectors, and run on
NumPy arrays only. Here the recursion is three vectors (plus the optional block), uses the
matrix-free kernel's fused matvec-and-dot and update (:meth:`~edkit.engine.matfree.
MatrixFreeHamiltonian.apply`, one pass each), and works on any operator with ``shape``, ``dtype``
and ``matvec`` whose vectors live in ``op.array_module`` (NumPy by default, CuPy for the GPU
backend): the vector work is written with ``xp = getattr(op, "array_module", numpy)``. No
re-orthogonalization: ghost copies of converged Ritz values carry the weight their original
lost, which the FTLM sums tolerate (the standard practice). The recursion stops early when the
Krylov space is exhausted (:math:`\beta_j \approx 0`).

Random vectors: Gaussian (complex Gaussian for complex ``H``), normalized, drawn with NumPy from
``numpy.random.default_rng([seed, N_up, N_dn, r])``: reproducible, the same on CPU and GPU, and
independent of the order in which sectors are run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

#: Lanczos vectors collected before the overlaps with every ``A|r>`` are taken (one matrix product):
#: :data:`SMALL_BLOCK` for at most :data:`FEW_OPERATORS` operators, else :data:`BLOCK`. Measured at 6 rungs
#: (853,776 states, 100 steps): the double occupancy alone costs nothing extra with a ring of 2-4
#: vectors and 20 % with 16 (a ring of 16 vectors no longer stays in cache); 7 operators cost 15 % with
#: 4 or 16, 30 % with 2; with ~70 operators the rows are read once per block, so 16 is better.
BLOCK = 16
SMALL_BLOCK = 4
FEW_OPERATORS = 8


@dataclass
class Sample:
    """One random vector's Lanczos data (NumPy, on the host).

    Attributes
    ----------
    energies
        Ritz values (``m <= steps``).
    weights
        :math:`|\\langle r|\\psi_i\\rangle|^2`.
    values
        ``(n_ops, m)``: :math:`\\mathrm{Re}\\,\\langle r|\\psi_i\\rangle\\langle\\psi_i|A_k|r\\rangle`.
    steps
        Lanczos steps taken.
    symmetries, blocks
        Exact samples: the symmetries whose blocks the sector was solved in (``"k"``, ``"Z"``, ...) and
        the number of blocks (``()`` and ``1``: solved whole).
    """

    energies: np.ndarray
    weights: np.ndarray
    values: np.ndarray
    steps: int
    symmetries: tuple[str, ...] = ()
    blocks: int = 1


def random_vector(dim: int, complex_values: bool, seed: int, sector: tuple[int, int], r: int) -> np.ndarray:
    """The normalized random start vector of sample ``r`` of ``sector = (N_up, N_dn)``."""
    rng = np.random.default_rng([int(seed), int(sector[0]), int(sector[1]), int(r)])
    v = rng.standard_normal(dim)
    if complex_values:
        v = v + 1j * rng.standard_normal(dim)
    return v / np.linalg.norm(v)


@numba.njit(cache=True, parallel=True)
def _update(y, w, wp, out, a, b, c):
    """``out <- a*y - b*w - c*wp`` in one parallel pass (``out`` may be ``wp``); returns ``||out||^2``."""
    total = 0.0
    for i in numba.prange(y.shape[0]):
        v = a * y[i] - b * w[i] - c * wp[i]
        out[i] = v
        total += (np.conj(v) * v).real
    return total


def _update_xp(xp, y, w, wp, out, a: float, b: float, c: float) -> float:
    """:func:`_update` with array-module operations (CuPy vectors)."""
    if out is wp:
        out *= -c
    else:
        xp.multiply(wp, -c, out=out)
    out += a * y
    out -= b * w
    return float(xp.real(xp.vdot(out, out)))


def _is_matrix_free(op) -> bool:
    from edkit.engine.matfree import MatrixFreeHamiltonian

    return isinstance(op, MatrixFreeHamiltonian)


def lanczos_sample(op, start, steps: int, rows=None, block: int | None = None) -> Sample:
    """``steps`` Lanczos steps of ``op`` from ``start`` (normalized), and the FTLM sums' data.

    Parameters
    ----------
    op
        ``shape``, ``dtype``, ``matvec(x)``; optional ``array_module`` (default NumPy). For the
        matrix-free kernel's operator the fused ``apply(x, out) -> (out, <x, out>)`` is used.
    start
        The start vector (in ``op``'s array module; not modified).
    steps
        Most Lanczos steps ``M``.
    rows
        ``None`` or an ``(n_ops, dim)`` array of :math:`A_k|r\\rangle` (same array module).
    block
        Lanczos vectors per overlap product (default :data:`SMALL_BLOCK` or :data:`BLOCK`).

    Notes
    -----
    The Lanczos vectors live in a ring of ``K`` slots (``K = 2`` without ``rows``, else ``block``),
    each as ``v_j = s_j W_j``: one step is the matvec (fused with ``<W, HW>`` on the matrix-free
    kernel) and one pass writing the next vector into the next slot. With ``rows``, the overlaps
    :math:`\\langle v_j|A_k r\\rangle` of the ring's vectors are taken by one matrix product just before a
    slot is reused, so no vector is copied.
    """
    from scipy.linalg import eigh_tridiagonal

    xp = getattr(op, "array_module", np)
    dim = op.shape[0]
    dtype = np.dtype(np.result_type(op.dtype, start.dtype))
    on_host = xp is np
    fused = on_host and _is_matrix_free(op)
    is_complex = dtype.kind == "c"
    n_ops = 0 if rows is None else rows.shape[0]
    if block is None:
        block = SMALL_BLOCK if n_ops <= FEW_OPERATORS else BLOCK
    K = max(2, min(block, steps)) if n_ops else 2
    ring = xp.empty((K, dim), dtype=dtype)
    ring[0] = start
    Y = xp.empty(dim, dtype=dtype)
    scales = [1.0]
    alphas: list[float] = []
    betas: list[float] = []
    G = np.zeros((n_ops, steps), dtype=np.complex128 if is_complex else np.float64)
    flushed = 0
    beta, scale = 0.0, 1.0

    def flush(j0: int, j1: int) -> None:
        j = j0
        while j < j1:
            a = j % K
            b = min(K, a + (j1 - j))
            block_ = ring[a:b]
            part = rows @ (block_.conj().T if is_complex else block_.T)
            part = part.get() if hasattr(part, "get") else np.asarray(part)
            G[:, j:j + b - a] = part * np.asarray(scales[j:j + b - a])[None, :]
            j += b - a

    for j in range(steps):
        W = ring[j % K]
        s = scales[j]
        if fused:
            _, dot = op.apply(W, Y)
        else:
            Y[...] = op.matvec(W).reshape(-1)
            dot = complex(xp.vdot(W, Y))
        alpha = s * s * float(np.real(dot))
        alphas.append(alpha)
        if j == steps - 1:
            break
        if n_ops and j + 1 - K >= flushed:  # slot (j+1) % K holds a vector not yet used
            flush(flushed, j + 1)
            flushed = j + 1
        Wp, sp = (ring[(j - 1) % K], scales[j - 1]) if j else (W, 0.0)
        out = ring[(j + 1) % K]
        a, b, c = s, alpha * s, beta * sp
        if on_host:
            norm2 = _update(Y, W, Wp, out, dtype.type(a), dtype.type(b), dtype.type(c))
        else:
            norm2 = _update_xp(xp, Y, W, Wp, out, a, b, c)
        beta = float(np.sqrt(norm2))
        scale = max(scale, abs(alpha) + beta)
        if beta <= 1e-12 * scale:  # the Krylov space is exhausted
            break
        betas.append(beta)
        scales.append(1.0 / beta)
    m = len(alphas)
    if n_ops and flushed < m:
        flush(flushed, m)
    energies, vecs = eigh_tridiagonal(np.array(alphas), np.array(betas[:m - 1]))
    first_row = vecs[0]
    weights = first_row ** 2
    values = np.real(first_row[None, :] * (G[:, :m] @ vecs)) if n_ops else np.zeros((0, m))
    return Sample(energies, weights, values, m)


__all__ = ["BLOCK", "FEW_OPERATORS", "SMALL_BLOCK", "Sample", "lanczos_sample", "random_vector"]
