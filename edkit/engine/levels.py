r"""A few lowest levels of a matrix-free operator, degenerate multiplets complete.

Two strategies (both return :class:`edkit.engine.solver.Eigen` with ``method="matrix-free"``):

- ``"deflation"`` (default): level after level, each the ground state of
  :math:`H' = H + \sigma\sum_i|x_i\rangle\langle x_i|` with the levels found so far shifted up
  (:func:`edkit.engine.lanczos.ground_state` with ``deflate``: two-pass Lanczos, the deflation
  fused into the Lanczos update, so it costs about one vector read per deflated vector and step).
  A degenerate partner is the lowest level of :math:`H'` once its sibling is deflated, and the
  random start vector has a component along it, so it is found like any other level. Memory:
  ``nev + 3`` vectors; the last level's vector is not built unless ``vectors=True``.

  **Two levels from one run** (``nev >= 3``): the first solve also takes the next distinct level
  of its own run (``ground_state(second=True)``: pass 1 continues until that Ritz pair converges
  too, pass 2 accumulates both vectors), which saves a whole two-pass solve. Such a level is an
  eigenpair but may skip a degenerate partner of the level below it (one Krylov space holds one
  direction of each eigenspace), so a level is *certified* only once a later deflated solve's
  lowest level lies at or above it; partners found later are inserted below it. The loop ends when
  ``nev`` levels are certified. Measured at 7 rungs (11.8M states, four levels, a twofold second
  level): the first run converged the next level at 325 steps instead of 255 for the lowest alone,
  1,626 matvecs in all instead of 2,200, 138 s instead of 188 s on the same machine in the same
  hour, the same energies to 2e-12; 128 s in the RCM order of the configurations, which the backend
  now takes (``benchmarks/results/matfree_levels_7rungs.json``).
- ``"arpack"``: ARPACK (``scipy.sparse.linalg.eigsh``, ``which="SA"``) with a bounded ``ncv``
  (:func:`default_ncv`: ``max(2 nev + 1, 20)``), then **multiplet completion**
  (:func:`complete_multiplets`): a Krylov space grown from one vector holds one direction of each
  degenerate eigenspace, so a partner of a found level can be missing. The found vectors are
  shifted up and the lowest level of :math:`H'` is computed by the two-pass Lanczos (energy only
  unless a level is missing); a level at or below the highest found one is a missed one: it is
  added and the check repeats. This is :func:`edkit.engine.solver._complete_multiplets` with a
  memory bound (that one calls ``eigsh`` with ``ncv >= 40`` and a Rayleigh-Ritz on ``2 nev`` more
  vectors). Memory: ``2 ncv + nev + 6`` vectors (SciPy's ``eigsh`` holds ``ncv`` Lanczos and, while
  extracting, ``ncv`` Ritz vectors).

Why deflation is the default (``benchmarks/results/matfree_levels_6rungs_*.json``; 6-rung periodic
KBP, N=12, Sz=0, 853,776 states, four levels, shared 2-core machine): deflation 1,515 matvecs in
17 s and 0.06 GiB, ARPACK + completion 1,486 matvecs in 48 s and 0.21 GiB, the stored path 177 s.
All found the same levels to 2e-12 (a twofold third level; at 5 rungs ARPACK alone missed two
partners, which the completion added). ARPACK's reorthogonalization reads its ``ncv`` vectors
on one BLAS thread at every step, which costs several matvecs; the plain recurrence reads four or
five vectors per step. Warm starts from the previous level's second Ritz vector were tried and
dropped: mixed with an equal-norm random vector they saved under 5 % of the matvecs, and with a
small random part they missed degenerate partners (measured at 5 and 6 rungs).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse.linalg as sla

from edkit.engine.lanczos import (
    DEGENERACY_TOL,
    _axpy,
    _norm_sq,
    _scale,
    _vdot,
    ground_state,
    growth_check,
    numba_threads,
    spread_estimate,
)
from edkit.engine.matfree import MatrixFreeHamiltonian
from edkit.engine.solver import ConvergenceError, Eigen, group_degenerate
from edkit.engine.threads import blas_threads

#: Dimensions up to this are solved densely (``op`` applied to the identity): ARPACK needs ``ncv < dim``.
DENSE_DIMENSION = 400
#: A run that only decides whether a level lies above a bound stops once its Ritz value minus the
#: residual estimate is above, with an estimate of at most this (relative; its energy is then not reported).
DECIDE = 1e-5
#: Strategies of :func:`lowest_levels`.
STRATEGIES = ("arpack", "deflation")


def default_ncv(nev: int, dim: int | None = None) -> int:
    """ARPACK's Krylov dimension for ``nev`` levels: ``max(2 nev + 1, 20)``, at most ``dim``."""
    ncv = max(2 * int(nev) + 1, 20)
    return ncv if dim is None else min(ncv, int(dim))


class _Buffered(sla.LinearOperator):
    """``op`` whose matvec writes into one reused buffer (ARPACK copies the result at once)."""

    def __init__(self, op: MatrixFreeHamiltonian):
        self.op = op
        self.buffer: np.ndarray | None = None
        self.matvecs = 0
        super().__init__(dtype=op.dtype, shape=op.shape)

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        self.matvecs += 1
        dtype = np.result_type(self.op.dtype, x.dtype)
        if self.buffer is None or self.buffer.dtype != dtype:
            self.buffer = np.empty(self.shape[0], dtype=dtype)
        return self.op.apply(np.ravel(x), self.buffer)[0]

    def _adjoint(self) -> _Buffered:
        return self


def _dense(op: sla.LinearOperator, nev: int, vectors: bool, complete_top: bool = False,
           residuals: list | None = None) -> Eigen:
    eye = np.eye(op.shape[0], dtype=op.dtype)
    h = np.column_stack([op @ eye[:, k] for k in range(op.shape[0])])
    w, v = np.linalg.eigh((h + h.conj().T) / 2)
    if complete_top:
        nev = _top_cut(w, nev)
    w = w[:nev]
    if residuals is not None:  # |H x - E x| of each returned level, with H as applied
        residuals.extend(float(np.linalg.norm(h @ v[:, k] - w[k] * v[:, k])) for k in range(len(w)))
    return Eigen(w, v[:, :nev] if vectors else None, "matrix-free", group_degenerate(w))


def _orthonormalize(x: np.ndarray, found: list[np.ndarray]) -> None:
    """Gram-Schmidt of ``x`` against ``found`` (twice), in place, then normalize."""
    for _ in range(2):
        for f in found:
            c = _vdot(f, x)
            _axpy(x, f, x.dtype.type(-(c if np.iscomplexobj(x) else c.real)))
    _scale(x, x.dtype.type(1.0 / np.sqrt(_norm_sq(x))))


def complete_multiplets(op: sla.LinearOperator, energies: list[float], found: list[np.ndarray], nev: int,
                        *, tol: float = 1e-10, degeneracy_tol: float = 1e-9, seed: int = 0,
                        decide: float = DECIDE, rounds: int = 8, complete_top: bool = False,
                        progress: Callable[[str], None] | None = None) -> int:
    """Add the levels missing at or below the highest found one (in place); returns matvecs used.

    ``energies`` and ``found`` (normalized eigenvectors) are extended and kept ascending; levels
    beyond ``nev`` are dropped at the end (partners of the highest level found meanwhile stay
    deflated until then, so that they are not found again). See the module docstring.

    ``decide``: a level of :math:`H'` whose Ritz value minus residual estimate is above the highest
    found level, with an estimate at most ``decide * (1 + |E|)``, ends the check (Ritz values
    decrease monotonically to the lowest level; waiting for ``tol`` would cost as many steps as a
    ground state).

    ``complete_top``: keep the partners of the ``nev``-th level found beyond ``nev`` (degenerate
    within :data:`DEGENERACY_TOL`), so that the highest multiplet is reported whole.
    """
    sigma = spread_estimate(op, seed=seed)
    matvecs = min(20, op.shape[0])  # spread_estimate's steps
    for r in range(rounds):
        top = energies[min(nev, len(energies)) - 1]
        if len(found) >= op.shape[0]:
            break
        res = ground_state(op, tol=tol, seed=seed + 1 + r, deflate=found, sigma=sigma,
                           only_below=top + degeneracy_tol * (1 + abs(top)), decide=decide)
        matvecs += res.matvecs
        if res.vector is None:  # the lowest level of H' is above: nothing missing
            break
        if not (res.converged or res.floor):  # at the rounding floor: kept, residual reported
            raise ConvergenceError(f"multiplet completion: the missing level near {res.energy:.10g} did "
                                   f"not converge (residual {res.residual:.1e})")
        if progress is not None:
            progress(f"multiplet completion: level {res.energy:.12f} was missing")
        x = res.vector
        _orthonormalize(x, found)
        k = int(np.searchsorted(energies, res.energy))
        energies.insert(k, res.energy)
        found.insert(k, x)
    cut = _top_cut(energies, nev) if complete_top else nev
    del energies[cut:], found[cut:]
    return matvecs


def _top_cut(energies: list[float] | np.ndarray, nev: int) -> int:
    """Index after the last level degenerate with level ``nev - 1`` (:data:`DEGENERACY_TOL`)."""
    top = energies[nev - 1]
    cut = nev
    while cut < len(energies) and abs(energies[cut] - top) <= DEGENERACY_TOL * (1 + abs(top)):
        cut += 1
    return cut


def _arpack(op: sla.LinearOperator, nev: int, seed: int, ncv: int | None, tol: float,
            maxiter: int | None, progress) -> tuple[list[float], list[np.ndarray], int]:
    dim = op.shape[0]
    lin = _Buffered(op) if isinstance(op, MatrixFreeHamiltonian) else op
    v0 = np.random.default_rng(seed).standard_normal(dim)
    ncv = min(dim, ncv or default_ncv(nev, dim))
    try:
        w, z = sla.eigsh(lin, k=nev, which="SA", v0=v0, ncv=ncv, tol=tol, maxiter=maxiter)
    except sla.ArpackNoConvergence as err:
        done = 0 if err.eigenvalues is None else len(err.eigenvalues)
        raise ConvergenceError(
            f"matrix-free Lanczos (ARPACK) did not converge: {done} of {nev} levels of a "
            f"{dim}-dimensional sector converged; try more iterations (maxiter), fewer levels, a "
            "larger ncv, or strategy='deflation'") from None
    del v0
    order = np.argsort(w)
    energies = [float(w[k]) for k in order]
    found: list[np.ndarray] = []
    for k in order:  # complex ARPACK (znaupd) does not orthogonalize within a degenerate level
        x = np.array(z[:, k], order="C")
        _orthonormalize(x, found)
        found.append(x)
    del z
    if progress is not None:
        progress(f"ARPACK: {nev} levels, E0 = {energies[0]:.12f}")
    return energies, found, getattr(lin, "matvecs", 0)


def _deflation(op: sla.LinearOperator, nev: int, seed: int, tol: float, vectors: bool, complete_top: bool,
               progress, residuals: list | None = None) -> tuple[list[float], list[np.ndarray], int]:
    """Levels by deflated Lanczos solves; see the module docstring.

    ``levels`` holds (energy, vector, residual) ascending; its first ``certified`` entries are the
    lowest levels of ``H``: each solve returns the lowest level of ``H`` orthogonal to every vector
    found so far, so every level at or below it is then known (a next level taken from the same run,
    :attr:`edkit.engine.lanczos.GroundState.second`, is an eigenpair but may skip a degenerate
    partner; it is certified once a later solve's lowest level lies at or above it).
    """
    residuals = [] if residuals is None else residuals  # |H x - E x| per level (a Ritz estimate
    # for a level whose vector is not built)
    levels: list[tuple[float, np.ndarray | None, float]] = []
    vector_bytes = op.shape[0] * np.dtype(op.dtype).itemsize
    certified = 0
    matvecs = 0
    sigma = None
    seconds = True  # take the next level from the same run while it pays (not after one failed)
    run = 0
    top_checked = False  # the last run showed that nothing is missing at or below the top level
    while certified < nev:
        # uncertified levels beyond the nev-th (the (nev-1)-th when the last level needs no vector)
        # are not needed: that many eigenpairs lie below them; they come back if they are needed
        keep = nev if vectors or complete_top else nev - 1
        del levels[max(certified, keep):]
        found = [v for _, v, _ in levels]
        if found and sigma is None:
            sigma = spread_estimate(op, seed=seed)
            matvecs += min(20, op.shape[0])
        only_below, decide = None, None
        if len(levels) == nev:  # all there, some uncertified: is a level missing at or below the top?
            top = levels[-1][0]
            only_below, decide = top + DEGENERACY_TOL * (1 + abs(top)), DECIDE
        elif len(levels) == nev - 1 and not (vectors or complete_top):
            # the nev-th level needs no vector: pass 1 only when all found levels are certified, else a
            # vector only if it lies at or below the last found level (then more levels are needed)
            top = levels[-1][0] if levels else 0.0
            only_below = -np.inf if certified == len(levels) else top + DEGENERACY_TOL * (1 + abs(top))
        # a next level from the same run pays when it needs a vector: it lands at most at index nev - 2
        # (nev - 1 when every level needs a vector), so the cut above keeps it
        missing = nev - len(levels)
        second = seconds and (missing >= 3 or (missing >= 2 and (vectors or complete_top)))
        res = ground_state(op, tol=tol, seed=seed + run, deflate=found, sigma=sigma, only_below=only_below,
                           decide=decide, second=second, progress=progress)
        run += 1
        matvecs += res.matvecs
        if not (res.converged or res.floor):  # at the rounding floor: kept, residual reported
            raise ConvergenceError(f"matrix-free Lanczos did not converge for level {len(levels)} "
                                   f"(residual {res.residual:.1e})")
        top_checked = decide is not None and res.vector is None
        new = [(res.energy, res.vector, float(res.residual))]
        if second and res.second is None:
            seconds = False
        elif res.second is not None:
            new.append((res.second.energy, res.second.vector, float(res.second.residual)))
        for energy, x, r in new:
            if x is not None:
                _orthonormalize(x, found)
                found.append(x)
            at = int(np.searchsorted([e for e, _, _ in levels], energy, side="right"))
            levels.insert(at, (energy, x, r))
        edge = res.energy + DEGENERACY_TOL * (1 + abs(res.energy))
        certified = sum(1 for e, _, _ in levels if e <= edge)
    del levels[_top_cut([e for e, _, _ in levels], nev) if complete_top else nev:]
    top = levels[-1][0]
    while complete_top and not top_checked and len(levels) < op.shape[0]:  # partners of the top level
        found = [v for _, v, _ in levels]
        multiplet = sum(1 for e, _, _ in levels if e >= top - DEGENERACY_TOL * (1 + abs(top)))
        listed = ", ".join(f"{e:.12g}" for e, _, _ in levels)
        reserve = growth_check(vector_bytes, len(found), nev + 3,
                               f"completing the multiplet of the highest of {nev} levels (E = {top:.12g}, "
                               f"{multiplet} state(s) of it held; levels found: {listed})",
                               "; ask for fewer levels (below this multiplet) or allow more memory "
                               "(EDKIT_MEMORY_LIMIT)")
        res = ground_state(op, tol=tol, seed=seed + run, deflate=found, sigma=sigma,
                           only_below=top + DEGENERACY_TOL * (1 + abs(top)), decide=DECIDE, progress=progress,
                           reserve=reserve)
        run += 1
        matvecs += res.matvecs
        if res.vector is None:
            break
        _orthonormalize(res.vector, found)
        levels.append((res.energy, res.vector, float(res.residual)))
    residuals.extend(r for _, _, r in levels)
    return [e for e, _, _ in levels], [v for _, v, _ in levels if v is not None], matvecs


def lowest_levels(op: sla.LinearOperator, nev: int, *, vectors: bool = False, seed: int = 0,
                  ncv: int | None = None, strategy: str = "deflation", tol: float = 1e-10,
                  maxiter: int | None = None, progress: Callable[[str], None] | None = None,
                  stats: dict | None = None, dense_limit: int = DENSE_DIMENSION,
                  threads: int | None = None, complete_top: bool = False) -> Eigen:
    """The ``nev`` lowest levels of a Hermitian (matrix-free) operator, multiplets complete.

    Parameters
    ----------
    op
        :class:`~edkit.engine.matfree.MatrixFreeHamiltonian` or any Hermitian ``LinearOperator``.
    nev
        Number of levels (small: up to about 10); capped at the dimension.
    vectors
        Return the eigenvectors (columns, the operator's basis order).
    seed
        Seed of the start vectors.
    ncv
        ARPACK's Krylov dimension (``strategy="arpack"``; default :func:`default_ncv`).
    strategy
        ``"deflation"`` (``nev + 3`` vectors) or ``"arpack"`` (``2 ncv + nev + 6``); see the module
        docstring and :func:`edkit.engine.lanczos.memory_bytes` (``"levels"``, ``"levels-arpack"``).
    tol
        ARPACK's relative tolerance; the residual target of the Lanczos solves
        (``|Hx - Ex| <= tol (1 + |E|)``).
    stats
        If given, filled with ``matvecs`` (all), ``completion_matvecs``, ``ncv`` and ``residuals``
        (:math:`\\|Hx - Ex\\|` per returned level: measured for the dense path and for every level
        whose vector is built, the Ritz estimate for a last level computed without its vector;
        ``None`` for ARPACK).
    dense_limit
        Dimensions up to this are diagonalized densely (the operator applied to the identity).
    threads
        numba threads (default: :func:`edkit.engine.lanczos.numba_threads`); BLAS (ARPACK's
        orthogonalizations) runs on one thread, as in :func:`edkit.engine.solver.lowest`.
    complete_top
        Also return the partners of the ``nev``-th level (degenerate within
        :data:`DEGENERACY_TOL`), so that no multiplet is cut: more than ``nev`` levels may come
        back (one more Lanczos pass). Without it, exactly ``nev`` levels, like
        :func:`edkit.engine.solver.lowest`.

    Raises
    ------
    ConvergenceError
        When a solve does not converge.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    with blas_threads(), numba_threads(op.shape[0], threads):
        return _lowest_levels(op, nev, vectors, seed, ncv, strategy, tol, maxiter, progress, stats,
                              dense_limit, complete_top)


def _lowest_levels(op, nev, vectors, seed, ncv, strategy, tol, maxiter, progress, stats,
                   dense_limit, complete_top) -> Eigen:
    dim = op.shape[0]
    if dim == 0:
        raise ValueError("empty operator: the sector has no states")
    nev = max(1, min(int(nev), dim))
    residuals: list[float] = []
    if dim <= dense_limit or nev >= dim - 1:
        eig = _dense(op, nev, vectors, complete_top, residuals)
        if stats is not None:
            stats.update(matvecs=dim, completion_matvecs=0, ncv=None, residuals=residuals)
        return eig
    if strategy == "arpack":
        energies, found, matvecs = _arpack(op, nev, seed, ncv, tol, maxiter, progress)
        extra = complete_multiplets(op, energies, found, nev, tol=max(tol, 1e-12), seed=seed,
                                    complete_top=complete_top, progress=progress)
    else:
        energies, found, matvecs = _deflation(op, nev, seed, max(tol, 1e-12), vectors, complete_top,
                                              progress, residuals)
        extra = 0
    if stats is not None:
        stats.update(matvecs=matvecs + extra, completion_matvecs=extra,
                     residuals=residuals if strategy != "arpack" else None,
                     ncv=min(dim, ncv or default_ncv(nev, dim)) if strategy == "arpack" else None)
    w = np.array(energies)
    v = None
    if vectors:  # columns filled one by one, each found vector released once copied
        v = np.empty((dim, len(found)), dtype=found[0].dtype, order="F")
        for k in range(len(found)):
            v[:, k] = found[k]
            found[k] = None
    return Eigen(w, v, "matrix-free", group_degenerate(w))


__all__ = ["DECIDE", "DEGENERACY_TOL", "DENSE_DIMENSION", "STRATEGIES", "complete_multiplets", "default_ncv",
           "lowest_levels"]
