r"""Ground-state eigenvectors by two-pass Lanczos on few vectors (matrix-free sectors).

ARPACK keeps ``ncv`` vectors; at 8 rungs a vector is 1.3 GB, so only a handful fit. The three-term
recurrence :math:`\beta_{k+1} v_{k+1} = H v_k - \alpha_k v_k - \beta_k v_{k-1}` needs three
vectors to find the ground energy; the ground-state *vector* :math:`x = \sum_k y_k v_k` (``y`` the
lowest eigenvector of the tridiagonal matrix) needs the :math:`v_k` again. Storing them is what does
not fit, so :func:`ground_state` runs the recurrence twice:

1. **Pass 1** from a seeded random start vector (or a given one) stores only the coefficients
   :math:`\alpha_k, \beta_k`; it stops when the Ritz residual estimate :math:`\beta_{m+1}|y_m|` is
   below the tolerance.
2. **Pass 2** regenerates the same :math:`v_k` from the same start vector *with the stored
   coefficients* (so the vectors are bitwise those of pass 1: every element of a matvec is computed
   by one task in a fixed order) and accumulates :math:`x`.
3. One more matvec into the reused buffer gives :math:`E = \langle x|H|x\rangle` and the true
   residual :math:`\|Hx - Ex\|` (``x`` normalized). If the true residual is far above the
   tolerance (pass 1 ran out of steps), the run restarts from ``x`` (a few rounds); within
   :data:`RESTART_FACTOR` of it, the result says so (``floor=True``) instead of restarting. Every
   norm and inner product is summed blockwise (:func:`_norm_sq`): at 1e8 elements a sequential sum
   per thread is wrong in the 11th digit, which is enough to spoil a residual target of 1e-12.
   Measured (periodic KBP, two cores): 7 rungs, ``tol=1e-12``, 300 steps per pass, residual
   1.2e-11 = the Ritz estimate.

Pass 2 of a :class:`~edkit.engine.matfree.MatrixFreeHamiltonian` of at least
:data:`FUSED_MIN_DIMENSION` states does not store ``H W``: the
operator's :meth:`~edkit.engine.matfree.MatrixFreeHamiltonian.lanczos_update` computes it row group by
row group into per-thread scratch rows and applies the update there (two fewer vector passes per
step), bit for bit as the unfused step (the partial sums use the operator's row groups in both
passes).

:math:`\alpha_k` is computed in Paige's stable form :math:`\langle v_k, Hv_k - \beta_k
v_{k-1}\rangle`: the matvec returns :math:`\langle v_k, Hv_k\rangle` and the previous fused update
returns :math:`\langle v_{k-1}, v_k\rangle`, so it costs no extra pass.

Memory: **four vectors** (``W``, ``W_prev``, ``Y = H W`` and the start vector / accumulator ``x``),
plus one per vector given in ``deflate``; the random start vector is regenerated from the seed, in
chunks, directly into its buffer. :func:`memory_bytes` is the planner's estimate for this and the
other matrix-free solves (:mod:`edkit.engine.levels`).

**Deflation** (``deflate=[x_0, ...]``) applies :math:`H + \sigma \sum_i |x_i\rangle\langle x_i|`
with :math:`\sigma` about the spectrum's width (:func:`spread_estimate`): its lowest level is the
next level of ``H`` (the partner of a degenerate level included, since the start vector has a
component along it). The shift is fused into the Lanczos update (:func:`_step`): the overlaps
:math:`\langle x_i, v\rangle` of the next vector are summed while it is written, in the same
element loop (:mod:`edkit.engine.update_kernels`), so a deflated vector costs one read per step
(measured at 7 rungs, 11.8M states, with pass 2's accumulation: 17.9 ms per update with none,
34.2 ms with three).

**The next level from the same run** (``second=True``): pass 1 continues until the next distinct
Ritz pair has converged too, and pass 2 accumulates its vector as well (one more vector), which
costs the extra steps only instead of a deflated solve of its own; see :class:`NextLevel`.
:func:`ground_manifold` uses it to find a degenerate ground manifold, and
:func:`edkit.engine.levels.lowest_levels` (``strategy="deflation"``) the few lowest levels on
``nev + 3`` vectors.

Every vector is a flat array in the operator's basis (for :class:`~edkit.engine.matfree.
MatrixFreeHamiltonian` the ``(up, down)`` product basis, ``X = x.reshape(D_up, D_dn)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse.linalg as sla
from scipy.linalg import eigh_tridiagonal

from edkit.engine.matfree import SUM_BLOCK, MatrixFreeHamiltonian
from edkit.engine.update_kernels import FUSED_DEFLATE, SUB_BLOCK, fused_operands, span_fused, span_general

#: Vectors held by :func:`ground_state` (``W``, ``W_prev``, ``Y``, start vector / accumulator).
GROUND_STATE_VECTORS = 4
#: Vectors held by the energy-only three-vector Lanczos (:func:`edkit.engine.matfree.lanczos_ground_energy`).
ENERGY_VECTORS = 3
#: Relative energy change over two checks that ends an energy-only solve (``only_below=-inf``): its
#: vector is never built, and the energy converges long before the residual (7 rungs: to 1e-12 by
#: ~225 steps, while the residual needs ~265 for ``tol=1e-10``).
ENERGY_TOL = 1e-12
#: A round restarts from its vector only when the measured residual exceeds the target by more
#: than this factor (pass 1 ran out of steps, or its estimate was far off). Closer to the target a
#: restart cannot be trusted to help: its first beta is about the residual, so the second Lanczos
#: vector is computed from a difference of nearly equal vectors and carries a relative rounding error
#: of about ``eps ||H|| / residual``; the vector is then returned with ``floor=True``.
#: (The residuals of 3.3e-11 at 7 rungs and 1.1e-9 at 8 rungs that first looked like such a floor
#: were the error of a sequentially summed norm, now summed blockwise: see :func:`_norm_sq`.)
RESTART_FACTOR = 100.0
#: ``ground_state(second=True)``: the run waits for the next level at most this many times the steps
#: the lowest level needed (then returns without it).
SECOND_STEPS = 2.0
#: Relative tolerance of "degenerate" (as :func:`edkit.engine.solver.group_degenerate`): the default of
#: :func:`ground_manifold`, of :mod:`edkit.engine.levels`, and, with ``ground_state(second=True)``, the
#: distance below which a Ritz value is a copy of the lowest (plain Lanczos repeats a converged level
#: once orthogonality is lost), not the next level.
DEGENERACY_TOL = 1e-8
#: Ritz values examined for the next distinct level.
_SECOND_WINDOW = 8
#: Elements generated per call when the seeded start vector is written into its buffer.
_CHUNK = 1 << 20
#: Below this dimension the compiled kernels run on one thread: waking numba's threads costs more
#: than the work (measured: 1.6 ms per 500-element inner product on the loaded 2-core machine).
SERIAL_DIMENSION = 20_000


@contextmanager
def numba_threads(dim: int, threads: int | None = None) -> Iterator[None]:
    """Run a block with ``threads`` numba threads (default: 1 below :data:`SERIAL_DIMENSION`
    states, else numba's default), then restore the previous setting."""
    previous = numba.get_num_threads()
    if threads is None and dim < SERIAL_DIMENSION:
        threads = 1
    if threads is not None:
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


@dataclass
class GroundState:
    """Lowest eigenpair of an operator found by :func:`ground_state`.

    Attributes
    ----------
    energy
        Rayleigh quotient :math:`\\langle x|H|x\\rangle` of the normalized vector.
    vector
        Normalized eigenvector (flat, the operator's basis order).
    residual
        :math:`\\|H x - E x\\|` measured with one extra matvec (not the Lanczos estimate).
    iterations
        Lanczos steps of pass 1 over all rounds.
    matvecs
        Matrix-vector products over all passes and rounds.
    converged
        ``residual <= tol * (1 + |E|)``.
    rounds
        Lanczos rounds (1 + restarts from the previous vector).
    floor
        Not converged, but the measured residual is within :data:`RESTART_FACTOR` of the target,
        where a restart from the vector is not trusted to lower it (a larger ``tol`` is the remedy).
    second
        With ``ground_state(second=True)``: the next distinct level of the same run, or ``None`` when
        it did not converge within :data:`SECOND_STEPS` times the steps of the lowest one.
    """

    energy: float
    vector: np.ndarray
    residual: float
    iterations: int
    matvecs: int
    converged: bool
    rounds: int = 1
    floor: bool = False
    second: NextLevel | None = None


@dataclass
class NextLevel:
    """The next distinct level from the same Lanczos run (``ground_state(second=True)``).

    Attributes
    ----------
    energy, vector, residual
        As in :class:`GroundState` (residual measured; at most :data:`RESTART_FACTOR` times the
        target, ``floor`` when above the target). A degenerate partner of the lowest level is never
        this level (one Krylov space holds one direction of each eigenspace): levels between the two
        can be missing, and :func:`edkit.engine.levels.lowest_levels` finds them by deflation.
    """

    energy: float
    vector: np.ndarray
    residual: float
    floor: bool = False


def memory_bytes(dim: int, dtype: np.dtype | type, what: str, *, nev: int = 1, ncv: int | None = None,
                 deflate: int = 0) -> int:
    """Bytes of the vectors a matrix-free solve holds (the operator's tables excluded).

    Parameters
    ----------
    dim, dtype
        Sector dimension and vector dtype (``float64``, or ``complex128`` for complex Hamiltonians).
    what
        ``"energy"`` (three-vector Lanczos: 3 vectors), ``"ground-state"`` (:func:`ground_state`:
        4 vectors, plus ``deflate``), ``"manifold"`` (:func:`ground_manifold` of up to ``nev``
        states: ``nev + 3`` vectors), ``"levels"`` (:func:`edkit.engine.levels.lowest_levels`,
        default strategy ``"deflation"``: ``nev + 3`` vectors) or ``"levels-arpack"`` (ARPACK:
        ``2 ncv + nev + 6`` vectors, ``ncv`` defaulting to
        :func:`edkit.engine.levels.default_ncv`; SciPy's ``eigsh`` holds its ``ncv`` Lanczos
        vectors and, while extracting, ``ncv`` Ritz vectors, plus ``resid``, three work vectors,
        ``v0`` and the ``nev`` results; measured with ``tracemalloc``).
    nev, ncv, deflate
        Levels (or manifold states), ARPACK's Krylov dimension, deflated vectors.

    Returns
    -------
    int
        Vectors times vector bytes, plus one chunk of the random start vector (at most 8 MiB).
    """
    vec = int(dim) * np.dtype(dtype).itemsize
    chunk = min(int(dim), _CHUNK) * 8  # the seeded start vector is generated in chunks
    if what == "energy":
        n = ENERGY_VECTORS
    elif what == "ground-state":
        n = GROUND_STATE_VECTORS + deflate
    elif what in ("manifold", "levels"):
        n = max(1, nev) + 3
    elif what == "levels-arpack":
        from edkit.engine.levels import default_ncv

        k = max(1, nev)
        n = 2 * (ncv or default_ncv(k, dim)) + k + 6
    else:
        raise ValueError("what must be energy, ground-state, manifold, levels or levels-arpack, "
                         f"got {what!r}")
    return n * vec + chunk


# ----------------------------------------------------------------------------- kernels
@numba.njit(cache=True, parallel=True)
def _axpy(y, x, c):
    """``y += c * x`` in place (parallel)."""
    for i in numba.prange(y.shape[0]):
        y[i] += c * x[i]


@numba.njit(cache=True, parallel=True)
def _scale(x, c):
    """``x *= c`` in place (parallel)."""
    for i in numba.prange(x.shape[0]):
        x[i] *= c


@numba.njit(cache=True, parallel=True)
def _norm_sq_parts(x, parts):
    """``parts[p] = ||x||^2`` over block ``p`` of :data:`SUM_BLOCK` elements."""
    n = x.shape[0]
    for p in numba.prange(parts.shape[0]):
        acc = 0.0
        for i in range(p * SUM_BLOCK, min(n, (p + 1) * SUM_BLOCK)):
            acc += (np.conj(x[i]) * x[i]).real
        parts[p] = acc


@numba.njit(cache=True, parallel=True)
def _residual_sq_parts(y, x, e, parts):
    """``parts[p] = ||y - e x||^2`` over block ``p`` (no temporary)."""
    n = y.shape[0]
    for p in numba.prange(parts.shape[0]):
        acc = 0.0
        for i in range(p * SUM_BLOCK, min(n, (p + 1) * SUM_BLOCK)):
            r = y[i] - e * x[i]
            acc += (np.conj(r) * r).real
        parts[p] = acc


@numba.njit(cache=True, parallel=True)
def _vdot_parts(a, b, parts):
    """``parts[p] = sum conj(a) b`` over block ``p`` (summed by the caller: works for complex)."""
    n = a.shape[0]
    for p in numba.prange(parts.shape[0]):
        acc = 0.0 * parts[p]
        for i in range(p * SUM_BLOCK, min(n, (p + 1) * SUM_BLOCK)):
            acc += np.conj(a[i]) * b[i]
        parts[p] = acc


def _blocks(n: int) -> int:
    return max(1, -(-int(n) // SUM_BLOCK))


def _norm_sq(x: np.ndarray) -> float:
    """``||x||^2`` in parallel, accurate for any length.

    Partial sums over blocks of :data:`SUM_BLOCK` elements, added pairwise by NumPy: the rounding
    error stays near ``eps log n``. (A sequential sum per thread, ``n / threads`` terms, put a
    relative error of 4e-11 into the norm of an 8-rung vector, 165.6M states; normalized with it,
    the ground state showed a Rayleigh quotient 1.1e-9 *below* the ground energy and a residual of
    1.1e-9 = 2 * 2e-11 * |E|: the error was the norm's, not the vector's.)
    """
    parts = np.empty(_blocks(x.shape[0]))
    _norm_sq_parts(x, parts)
    return float(parts.sum())


def _residual_sq(y: np.ndarray, x: np.ndarray, e) -> float:
    """``||y - e x||^2`` in parallel without a temporary (blockwise partial sums, as :func:`_norm_sq`)."""
    parts = np.empty(_blocks(y.shape[0]))
    _residual_sq_parts(y, x, e, parts)
    return float(parts.sum())


def _vdot(a: np.ndarray, b: np.ndarray) -> complex:
    """``<a, b>`` in parallel (blockwise partial sums, as :func:`_norm_sq`; numba prange reductions
    do not take complex scalars)."""
    parts = np.zeros(_blocks(a.shape[0]), dtype=np.result_type(a.dtype, b.dtype))
    _vdot_parts(a, b, parts)
    return complex(parts.sum())


def fill_start(buffer: np.ndarray, seed: int) -> None:
    """Write the seeded random start vector into ``buffer`` in chunks (no full-size temporary).

    Real standard-normal entries (also for complex buffers: the Krylov space of a complex ``H``
    from a real vector is complex), the same for every call with the same seed and size.
    """
    rng = np.random.default_rng(seed)
    n = buffer.shape[0]
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        buffer[lo:hi] = rng.standard_normal(hi - lo)


#: Pass 2 of a :class:`MatrixFreeHamiltonian` uses its fused update
#: (:meth:`~edkit.engine.matfree.MatrixFreeHamiltonian.lanczos_update`: ``H W`` is not stored) ...
FUSED_PASS2 = True
#: ... from this dimension on: it saves two passes over vectors that do not fit in cache, and costs
#: ~5 s of compilation per dtype, which smaller sectors never earn back.
FUSED_MIN_DIMENSION = 1_000_000
#: Elements per task of the Lanczos step when the operator has no row groups.
_BLOCK = 4096


@numba.njit(cache=True, parallel=True)
def _step_fused(Y, W, Wp, a, b, c, D, coef, x, g, x2, g2, parts, block):
    """:func:`_step` for at most :data:`~edkit.engine.update_kernels.FUSED_DEFLATE` deflated vectors."""
    n = Y.shape[0]
    k = len(D)
    acc_x = x.shape[0] == n
    acc_x2 = x2.shape[0] == n
    Ds, cs = fused_operands(D, coef, W)
    for p in numba.prange(parts.shape[0]):
        lo = p * block
        hi = min(n, lo + block)
        sums = np.zeros(FUSED_DEFLATE + 1, dtype=parts.dtype)
        parts[p, 0] = span_fused(Y, 0, W, Wp, x, acc_x, x2, acc_x2, lo, hi, a, b, c, k, Ds, cs, g, g2, sums,
                                 0.0, True)
        for i in range(k):
            parts[p, 1 + i] = sums[i]
        parts[p, 1 + k] = sums[FUSED_DEFLATE]


@numba.njit(cache=True, parallel=True)
def _step_general(Y, W, Wp, a, b, c, D, coef, x, g, x2, g2, parts, block):
    """:func:`_step` for any number of deflated vectors (compiled only when used)."""
    n = Y.shape[0]
    k = len(D)
    acc_x = x.shape[0] == n
    acc_x2 = x2.shape[0] == n
    for p in numba.prange(parts.shape[0]):
        lo = p * block
        hi = min(n, lo + block)
        sums = np.zeros(k + 1, dtype=parts.dtype)
        tmp = np.empty(SUB_BLOCK, dtype=Y.dtype)
        parts[p, 0] = span_general(Y, 0, W, Wp, x, acc_x, x2, acc_x2, lo, hi, a, b, c, D, coef, g, g2, sums,
                                   0.0, tmp)
        for i in range(k + 1):
            parts[p, 1 + i] = sums[i]


def _step(Y, W, Wp, a, b, c, D, coef, x, g, x2, g2, parts, block) -> None:
    """One fused Lanczos update, block by block (in parallel).

    ``Wp <- a (Y + sum_i coef[i] D[i]) - b W - c Wp``; ``x += g W`` when ``x`` has the vectors'
    length (pass 2), and ``x2 += g2 W`` likewise (a second Ritz vector); ``parts[p, 0]`` = block
    ``p`` of ``||Wp||^2``,
    ``parts[p, 1 + i]`` = block ``p`` of ``<D[i], Wp>`` (the deflation overlaps of the next step) and
    ``parts[p, 1 + k]`` = block ``p`` of ``<W, Wp>`` (for Paige's alpha). ``D`` is a typed list of
    the deflated vectors; each is read once per step. Each block (``block`` elements: the operator's
    row group) is one span of :mod:`edkit.engine.update_kernels`, the element loop that
    :func:`edkit.engine.matfree._lanczos_rows` runs row by row on the same groups, so that both give
    the same vectors and sums bit for bit.
    """
    kernel = _step_fused if len(D) <= FUSED_DEFLATE else _step_general
    kernel(Y, W, Wp, a, b, c, D, coef, x, g, x2, g2, parts, block)


def _typed_list(vectors: Sequence[np.ndarray], dtype: np.dtype) -> numba.typed.List:
    """The deflated vectors as a numba typed list (references, no copies)."""
    item = numba.from_dtype(dtype)[::1]
    out = numba.typed.List.empty_list(item)
    for v in vectors:
        if v.dtype != dtype or not v.flags.c_contiguous or v.ndim != 1:
            raise ValueError("deflated vectors must be flat contiguous arrays of the operator's dtype")
        out.append(v)
    return out


class _Recurrence:
    """The Lanczos recurrence of ``H' = H + sigma sum_i |d_i><d_i|`` on three work vectors.

    ``v_k = s_k W`` (``W`` kept unnormalized, with its scale); one step is one matvec
    (``Y = H W`` and ``<W, H W>`` in one pass for a :class:`MatrixFreeHamiltonian`) and one fused
    pass :func:`_step`, which also yields the overlaps ``<d_i, W>`` of the next vector, so that
    :math:`H'W = Y + \\sigma\\sum_i d_i \\langle d_i, W\\rangle` costs no extra pass.
    """

    def __init__(self, op: sla.LinearOperator, deflate: Sequence[np.ndarray], sigma: float | None):
        self.op = op
        self.dtype = np.dtype(op.dtype)
        self.n = op.shape[0]
        self.D = _typed_list(deflate, self.dtype)
        self.k = len(deflate)
        self.sigma = 0.0 if sigma is None else float(sigma)
        self.matvecs = 0
        self.W, self.Wp, self.Y = (np.empty(self.n, dtype=self.dtype) for _ in range(3))
        # the fused pass-2 update of the matrix-free operator sums over its row groups; pass 1 must
        # use the same blocks so that both passes compute the same overlaps, bit for bit
        self.fused = isinstance(op, MatrixFreeHamiltonian) and FUSED_PASS2 and self.n >= FUSED_MIN_DIMENSION
        self.block = op.block if isinstance(op, MatrixFreeHamiltonian) else _BLOCK
        self.parts = np.zeros(((self.n + self.block - 1) // self.block, self.k + 2), dtype=self.dtype)
        self.none = np.zeros(0, dtype=self.dtype)

    def apply(self, X: np.ndarray, Y: np.ndarray) -> float:
        """``Y = H X`` (no deflation); returns ``Re <X, H X>``."""
        self.matvecs += 1
        if isinstance(self.op, MatrixFreeHamiltonian):
            return float(self.op.apply(X, Y)[1].real)
        Y[:] = self.op @ X
        return float(_vdot(X, Y).real)

    def overlaps(self, X: np.ndarray) -> np.ndarray:
        return np.array([_vdot(d, X) for d in self.D], dtype=complex)

    def _coef(self, c: np.ndarray) -> np.ndarray:
        coef = self.sigma * c
        return (coef if self.dtype.kind == "c" else coef.real).astype(self.dtype)

    def run(self, start: np.ndarray | None, seed: int, steps: int, *, alphas: list[float] | None = None,
            betas: list[float] | None = None, y: np.ndarray | None = None, x: np.ndarray | None = None,
            y2: np.ndarray | None = None, x2: np.ndarray | None = None,
            check: Callable[[int, list[float], list[float], float], bool] | None = None
            ) -> tuple[list[float], list[float], float]:
        """Run the recurrence from ``start`` (or the seeded random vector).

        Pass 1 (``alphas is None``): computes and returns the coefficients, calling
        ``check(step, alphas, betas, beta_next)`` every step (``True`` stops). Pass 2: uses the
        given coefficients for ``steps`` vectors and accumulates ``x += y_k v_k`` (``x`` zeroed here),
        and ``x2 += y2_k v_k`` when ``x2`` is given (a second Ritz vector, same pass).
        """
        W, Wp, Y = self.W, self.Wp, self.Y
        dt = self.dtype.type
        if start is None:
            fill_start(W, seed)
        else:
            W[:] = start
        s = 1.0 / np.sqrt(_norm_sq(W))
        Wp[:] = 0
        c = self.overlaps(W)
        first = alphas is None
        if first:
            alphas, betas = [], []
        else:
            x[:] = 0
            if x2 is not None:
                x2[:] = 0
        x2_or_none = self.none if x2 is None else x2
        sp, beta, beta_next, local = 0.0, 0.0, 0.0, 0.0
        for k in range(steps):
            if not first and k == steps - 1:
                _axpy(x, W, dt(y[k] * s))  # the last vector; no further step needed
                if x2 is not None:
                    _axpy(x2, W, dt(y2[k] * s))
                break
            if first or not self.fused:
                dot = self.apply(W, Y)
            if first:
                # Paige's stable variant: alpha = <v, H v - beta v_prev> keeps <v_k, v_k+1> at rounding
                alpha = s * s * (dot + self.sigma * float(np.sum(np.abs(c) ** 2))) - beta * local
                alphas.append(alpha)
            else:
                alpha = alphas[k]
            args = (dt(s), dt(alpha * s), dt(beta * sp), self.D, self._coef(c))
            g2 = dt(0.0 if x2 is None else y2[k] * s)
            if first or not self.fused:
                g = dt(0.0 if first else y[k] * s)
                _step(Y, W, Wp, *args, self.none if first else x, g, x2_or_none, g2, self.parts, self.block)
            else:  # pass 2 of a matrix-free operator: H W is never stored
                self.matvecs += 1
                self.op.lanczos_update(W, Wp, x, *args, dt(y[k] * s), x2_or_none, g2, self.parts)
            sums = self.parts.sum(axis=0)
            if first:
                beta_next = float(np.sqrt(sums[0].real))
                if check is not None and check(k + 1, alphas, betas, beta_next):
                    return alphas, betas, beta_next
                betas.append(beta_next)
            else:
                beta_next = betas[k]
            c = np.asarray(sums[1:1 + self.k], dtype=complex)
            local = float((s * sums[1 + self.k]).real / beta_next) if beta_next > 0 else 0.0
            W, Wp = Wp, W
            sp, s = s, 1.0 / beta_next
            beta = beta_next
        self.W, self.Wp = W, Wp
        return alphas, betas, beta_next

    def residual(self, x: np.ndarray) -> tuple[float, float]:
        """Normalize ``x`` in place; ``(E, ||H'x - E x||)`` with one matvec into ``Y``."""
        _scale(x, self.dtype.type(1.0 / np.sqrt(_norm_sq(x))))
        c = self.overlaps(x)
        energy = self.apply(x, self.Y) + self.sigma * float(np.sum(np.abs(c) ** 2))
        for d, ci in zip(self.D, self._coef(c)):
            _axpy(self.Y, d, ci)
        return energy, float(np.sqrt(_residual_sq(self.Y, x, self.dtype.type(energy))))


def spread_estimate(op: sla.LinearOperator, *, seed: int = 0, steps: int = 20) -> float:
    """Width of the spectrum estimated by a short Lanczos run (``theta_max - theta_min``), plus 1.

    Used for the deflation shift :math:`\\sigma`: a deflated vector moves from :math:`E_i` to
    :math:`E_i + \\sigma`, which must be above the level sought; that level is near the bottom, so
    any :math:`\\sigma` above its distance to :math:`E_0` works, and one spectral width (the extreme
    Ritz values of ``steps`` steps are close to the extreme eigenvalues) keeps the shifted vectors
    inside the spectrum's range, where they do not slow Lanczos down. :func:`ground_state` checks
    the result is orthogonal to the deflated vectors and doubles :math:`\\sigma` if not.
    Three vectors, ``steps`` matvecs.
    """
    rec = _Recurrence(op, [], None)
    steps = min(steps, op.shape[0])

    def stop(k, alphas, betas, beta_next) -> bool:
        return k == steps or beta_next <= 1e-13 * (1 + abs(alphas[-1]))

    alphas, betas, _ = rec.run(None, seed, steps, check=stop)
    if len(alphas) == 1:
        return 1.0
    vals = eigh_tridiagonal(np.array(alphas), np.array(betas), eigvals_only=True)
    return float(vals[-1] - vals[0]) + 1.0


def _pass1(rec: _Recurrence, start, seed: int, tol: float, maxiter: int, check_every: int, progress,
           above: float | None = None, decide: float | None = None,
           energy_tol: float | None = None, second: bool = False) -> dict:
    """Pass 1: the coefficients until the lowest Ritz pair converges (see :func:`ground_state`).

    Stops when the residual estimate ``beta |y_last|`` is at most ``tol * (1 + |theta|)``, on
    breakdown, or after ``maxiter`` steps; with ``above`` and ``decide`` also as soon as
    ``theta - estimate > above`` with an estimate at most ``decide * (1 + |theta|)``; with
    ``energy_tol`` (energy-only solves) also when the lowest Ritz value moved by at most
    ``energy_tol * (1 + |theta|)`` over each of the last two checks (the rule of
    :func:`edkit.engine.matfree.lanczos_ground_energy`). With ``second``, a converged lowest pair
    also waits for the next distinct Ritz value (more than :data:`DEGENERACY_TOL` above) to reach
    the same residual target, for at most :data:`SECOND_STEPS` times the steps so far; ``"second"``
    in the result is then its index among the Ritz values (else ``None``).
    """
    state = {"theta": np.inf, "estimate": np.inf, "converged": False, "scale": 1.0, "second": None,
             "first_done": None}
    history: list[float] = []

    def check(k, alphas, betas, beta_next) -> bool:
        state["scale"] = max(state["scale"], abs(alphas[-1]), beta_next)
        breakdown = beta_next <= 1e-13 * state["scale"]
        if not (k % check_every == 0 or breakdown or k == maxiter):
            return False
        window = min(_SECOND_WINDOW, k) if second else 1
        vals, vecs = eigh_tridiagonal(np.array(alphas), np.array(betas), select="i",
                                      select_range=(0, window - 1))
        theta, estimate = float(vals[0]), beta_next * abs(float(vecs[-1, 0]))
        state.update(theta=theta, estimate=estimate)
        if progress is not None:
            progress(f"Lanczos step {k}: E = {theta:.12f}, residual estimate {estimate:.2e}")
        early = (above is not None and decide is not None and theta - estimate > above
                 and estimate <= decide * (1 + abs(theta)))
        history.append(theta)
        if energy_tol is not None and len(history) >= 3:
            moved = max(history[-3] - history[-2], history[-2] - theta)
            early = early or moved <= energy_tol * (1 + abs(theta))
        state["converged"] = bool(breakdown or early or estimate <= tol * (1 + abs(theta)))
        if not (second and state["converged"]) or breakdown or early:
            return state["converged"] or k == maxiter
        if state["first_done"] is None:
            state["first_done"] = k
        above_first = np.flatnonzero(vals - theta > DEGENERACY_TOL * (1 + abs(theta)))
        if len(above_first):
            i = int(above_first[0])
            est2 = beta_next * abs(float(vecs[-1, i]))
            if progress is not None:
                progress(f"  next level: E = {float(vals[i]):.12f}, residual estimate {est2:.2e}")
            if est2 <= tol * (1 + abs(float(vals[i]))):
                state["second"] = i
                return True
        return k >= SECOND_STEPS * state["first_done"] or k == maxiter

    alphas, betas, _ = rec.run(start, seed, maxiter, check=check)
    return {"alphas": alphas, "betas": betas[:len(alphas) - 1], "theta": state["theta"],
            "estimate": state["estimate"], "steps": len(alphas), "converged": state["converged"],
            "second": state["second"]}


def _pass2(rec: _Recurrence, start, seed: int, x: np.ndarray, alphas: list[float],
           betas: list[float], second: int | None = None, x2: np.ndarray | None = None) -> None:
    """Pass 2: regenerate ``v_k`` with the stored coefficients and accumulate the lowest Ritz vector
    (and, with ``second``, the Ritz vector of that index into ``x2``).

    ``start`` may be ``x`` itself (a restart): it is copied into ``W`` before ``x`` is zeroed, so no
    fifth vector is needed.
    """
    m = len(alphas)
    top = 0 if second is None else second
    if m == 1:
        vecs = np.ones((1, 1))
    else:
        _, vecs = eigh_tridiagonal(np.array(alphas), np.array(betas[:m - 1]), select="i",
                                   select_range=(0, top))
    rec.run(start, seed, m, alphas=alphas, betas=betas, y=vecs[:, 0], x=x,
            y2=None if second is None else vecs[:, top], x2=x2)


def ground_state(op: sla.LinearOperator, *, tol: float = 1e-10, seed: int = 0,
                 start: np.ndarray | None = None, maxiter: int = 2000, rounds: int = 4, check_every: int = 5,
                 deflate: Sequence[np.ndarray] = (), sigma: float | None = None,
                 only_below: float | None = None, decide: float | None = None,
                 overwrite_start: bool = False, second: bool = False, threads: int | None = None,
                 progress: Callable[[str], None] | None = None,
                 reserve: Callable[[int, int], None] | None = None) -> GroundState:
    """Lowest eigenpair of a Hermitian operator by two-pass Lanczos on four vectors.

    Parameters
    ----------
    op
        A :class:`~edkit.engine.matfree.MatrixFreeHamiltonian` (its fused ``apply`` is used) or any
        Hermitian ``LinearOperator``.
    tol
        Target of the residual: converged when :math:`\\|Hx - Ex\\| \\le` ``tol * (1 + |E|)`` for the
        normalized ``x``. Eigenvector errors are about ``residual / gap``, energy errors
        ``residual^2 / gap``. Measured on the 6-rung KBP ring (``|E| = 20.5``): ``tol=1e-10`` gives
        correlators to about 5e-8 (195 steps), ``tol=1e-12`` to 3e-14 (230 steps).
    seed
        Seed of the random start vector (ignored when ``start`` is given).
    start
        Start vector (copied and not modified, unless ``overwrite_start``: then its buffer becomes
        the result's vector, which saves a vector).
    maxiter
        Lanczos steps per round.
    rounds
        Lanczos rounds at most: each after the first restarts from the previous ``x``.
    deflate, sigma
        Orthonormal vectors shifted up by ``sigma`` (default: :func:`spread_estimate`): the result
        is then the lowest level of ``H`` orthogonal to them. One extra vector each. If the result
        is not orthogonal to them (``sigma`` too small), ``sigma`` is doubled and the solve repeated.
    only_below
        If pass 1's lowest Ritz value is above this, stop there and return ``vector=None`` (energy:
        the Ritz value, residual: its estimate): the fourth vector is never allocated. Used to
        decide whether a level joins a degenerate manifold. ``-inf``: an energy-only solve, which
        also stops once the Ritz value has converged to :data:`ENERGY_TOL` (its residual estimate is
        then larger than ``tol``).
    decide
        With ``only_below``: stop pass 1 early, once the Ritz value minus its residual estimate is
        above ``only_below`` and the estimate is at most ``decide * (1 + |E|)`` (the level is
        clearly above; its energy is then less accurate). ``None``: converge to ``tol``.
    second
        Also return the next distinct level of the same run (:attr:`GroundState.second`): pass 1
        continues until its Ritz pair reaches ``tol`` too (at most :data:`SECOND_STEPS` times the
        steps of the lowest), and pass 2 accumulates both vectors (one more vector). The next level
        costs the extra steps only, instead of a deflated solve of its own (at 7 rungs 345 steps
        for both against 255 + 330). It is ``None`` when it did not converge in time, when its
        measured residual is above :data:`RESTART_FACTOR` times the target, or when it overlaps a
        deflated vector; the lowest level is unaffected.
    threads
        numba threads (default: see :func:`numba_threads`).
    progress
        Called with one line per check (``None``: silent).
    reserve
        Called as ``reserve(total, new)`` before the solve allocates vectors: ``new`` more, ``total``
        of its own then (deflated vectors not counted): ``(3, 3)`` before pass 1, ``(4, 1)`` (or
        ``(5, 2)`` with a next level) before pass 2 builds the vector. It may raise to refuse
        (:func:`edkit.engine.memory.check_growth`): a degenerate manifold grows by one vector per state.

    Returns
    -------
    GroundState
        With ``converged=False`` when the residual is still above ``tol`` after ``rounds`` rounds
        (the caller decides whether that is an error).

    Notes
    -----
    Memory: :data:`GROUND_STATE_VECTORS` (4) vectors of ``op.shape[0]`` elements plus one per
    deflated vector (3 plus those with ``only_below`` when the level is above; one more with
    ``second``); see :func:`memory_bytes`.
    """
    with numba_threads(op.shape[0], threads):
        if deflate and sigma is None:
            sigma = spread_estimate(op, seed=seed)
        for _ in range(8):
            if start is not None and not overwrite_start:
                start = np.array(start, dtype=op.dtype, copy=True).ravel()
            out = _ground_state(op, tol, seed, start, maxiter, rounds, check_every, deflate, sigma,
                                only_below, decide, second, progress, reserve)
            if deflate and out.second is not None and max(abs(_vdot(d, out.second.vector))
                                                          for d in deflate) > 1e-6:
                out.second = None  # not orthogonal to the deflated vectors: not trusted
            if not deflate or out.vector is None:
                return out
            overlap = max(abs(_vdot(d, out.vector)) for d in deflate)
            if overlap <= 1e-6:
                return out
            sigma = 2 * sigma  # a deflated vector was not pushed above the level sought
        raise RuntimeError("deflation failed: the result keeps overlapping the deflated vectors")


def _ground_state(op, tol, seed, start, maxiter, rounds, check_every, deflate, sigma, only_below,
                  decide, second, progress, reserve=None) -> GroundState:
    if reserve is not None:
        reserve(3, 3)
    rec = _Recurrence(op, deflate, sigma)
    x = start  # owned here (copied by the caller unless overwrite_start)
    steps = 0
    energy, residual = np.nan, np.inf
    nxt = None
    for r in range(1, rounds + 1):
        energy_only = only_below == -np.inf and r == 1  # no vector: stop once the energy has converged
        res = _pass1(rec, x, seed, tol, maxiter, check_every, progress,
                     only_below if r == 1 else None, decide, ENERGY_TOL if energy_only else None,
                     second and r == 1)
        steps += res["steps"]
        if only_below is not None and r == 1 and res["theta"] > only_below:
            return GroundState(res["theta"], None, res["estimate"], steps, rec.matvecs, res["converged"], r)
        if reserve is not None and r == 1:
            extra = (x is None) + (res["second"] is not None)
            if extra:
                reserve(3 + extra, extra)
        x2 = None if res["second"] is None else np.empty(rec.n, dtype=rec.dtype)
        if x is None:
            x = np.empty(rec.n, dtype=rec.dtype)
            _pass2(rec, None, seed, x, res["alphas"], res["betas"], res["second"], x2)
        else:
            _pass2(rec, x, seed, x, res["alphas"], res["betas"], res["second"], x2)
        if x2 is not None:
            nxt = _next_level(rec, x2, x, tol, progress)
        energy, residual = rec.residual(x)
        if progress is not None:
            progress(f"Lanczos round {r}: E = {energy:.12f}, residual |Hx - Ex| = {residual:.2e} "
                     f"({res['steps']} steps)")
        if residual <= tol * (1 + abs(energy)):
            return GroundState(energy, x, residual, steps, rec.matvecs, True, r, second=nxt)
        if residual <= RESTART_FACTOR * tol * (1 + abs(energy)):
            # pass 1 converged but the measured residual is at plain Lanczos's rounding floor; a
            # restart from x (first beta ~ residual, so v_2 is mostly rounding) makes it worse
            return GroundState(energy, x, residual, steps, rec.matvecs, False, r, floor=True, second=nxt)
    return GroundState(energy, x, residual, steps, rec.matvecs, False, rounds, second=nxt)


def _next_level(rec: _Recurrence, x2: np.ndarray, x: np.ndarray, tol: float, progress) -> NextLevel | None:
    """The second Ritz vector of a run, made orthogonal to the first (``x``, not yet normalized) and
    measured (one matvec); ``None`` when its residual is above :data:`RESTART_FACTOR` times the target."""
    c = _vdot(x, x2) / _norm_sq(x)  # the two Ritz vectors are orthogonal up to the lost orthogonality
    _axpy(x2, x, rec.dtype.type(-(c if rec.dtype.kind == "c" else c.real)))
    energy, residual = rec.residual(x2)
    target = tol * (1 + abs(energy))
    if progress is not None:
        progress(f"next level: E = {energy:.12f}, residual |Hx - Ex| = {residual:.2e}")
    if residual > RESTART_FACTOR * target:
        return None
    return NextLevel(energy, x2, residual, floor=residual > target)


def growth_check(vector_bytes: int, held: int, planned: int, what: str, hint: str = ""
                 ) -> Callable[[int, int], None]:
    """A ``reserve`` callback for :func:`ground_state`: refuses (:func:`edkit.engine.memory.check_growth`)
    when ``held`` deflated vectors plus the solve's own exceed the ``planned`` vectors that the planner
    admitted; within the plan it does nothing."""
    from edkit.engine.memory import check_growth

    def reserve(total: int, new: int) -> None:
        if held + total > planned:
            check_growth(vector_bytes, held + total, new, what, hint)
    return reserve


def ground_manifold(op: sla.LinearOperator, *, tol: float = 1e-10, degeneracy_tol: float = DEGENERACY_TOL,
                    max_states: int = 4, next_level: bool = True, seed: int = 0, threads: int | None = None,
                    progress: Callable[[str], None] | None = None, stats: dict | None = None
                    ) -> tuple[list[GroundState], float | None]:
    """The (possibly degenerate) ground manifold: ground state, then deflated solves while degenerate.

    After ``x_0`` (:func:`ground_state`), the lowest level of :math:`H + \\sigma\\sum_i |x_i\\rangle
    \\langle x_i|` is the next level ``E_k``; it joins the manifold when
    ``|E_k - E_0| <= degeneracy_tol * (1 + |E_0|)``, decided after pass 1 (its vector is built only
    then). Stops at the first level above (its energy is returned: the neutral gap comes for
    free) or after ``max_states`` states; with ``next_level=False`` it does not look beyond
    ``max_states`` (``max_states=1, next_level=False``: the ground state alone, no degeneracy check).

    Memory: ``m + 3`` vectors for a manifold of ``m`` states (``memory_bytes(..., "manifold",
    nev=m)``); a nondegenerate ground state: 4.

    ``stats``, if given, receives ``matvecs`` and ``steps`` (Lanczos pass-1 steps) of all solves.

    Returns
    -------
    (states, next_energy)
        The manifold (each with its residual) and the lowest energy above it (``None`` if all
        ``max_states`` states were degenerate or the space is exhausted). ``next_energy`` is a
        Ritz value converged to the residual ``tol``: its error is about ``tol^2 / gap``.
    """
    first = ground_state(op, tol=tol, seed=seed, threads=threads, progress=progress)
    states = [first]
    counts = {"matvecs": first.matvecs, "steps": first.iterations}
    if stats is not None:
        stats.update(counts)
    bound = first.energy + degeneracy_tol * (1 + abs(first.energy))
    sigma = None
    while len(states) < op.shape[0]:
        last = len(states) == max_states
        if last and not next_level:
            return states, None
        if sigma is None:
            sigma = spread_estimate(op, seed=seed)
            counts["matvecs"] += min(20, op.shape[0])
        held = len(states)
        reserve = growth_check(first.vector.nbytes, held, GROUND_STATE_VECTORS,
                               f"ground manifold (E0 = {first.energy:.12g}, {held} degenerate state(s) held, "
                               "the next deflated solve looks for more)",
                               "; allow more memory (EDKIT_MEMORY_LIMIT), or ask for fewer states")
        nxt = ground_state(op, tol=tol, seed=seed + len(states), deflate=[s.vector for s in states],
                           sigma=sigma, only_below=-np.inf if last else bound, threads=threads,
                           progress=progress, reserve=reserve)
        counts["matvecs"] += nxt.matvecs
        counts["steps"] += nxt.iterations
        if stats is not None:
            stats.update(counts)
        if nxt.energy > bound:
            return states, nxt.energy
        if last:
            return states, None
        states.append(nxt)
    return states, None


__all__ = ["DEGENERACY_TOL", "ENERGY_TOL", "ENERGY_VECTORS", "GROUND_STATE_VECTORS", "RESTART_FACTOR",
           "SECOND_STEPS", "SERIAL_DIMENSION", "GroundState", "NextLevel", "fill_start", "ground_manifold",
           "ground_state", "growth_check", "memory_bytes", "numba_threads", "spread_estimate"]
