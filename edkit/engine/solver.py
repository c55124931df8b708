"""Lowest eigenpairs of a sparse Hermitian matrix: dense below a size, Lanczos above.

- Dense (``numpy.linalg.eigh``) when the dimension is at most :data:`DENSE_LIMIT` (2000).
- Otherwise ARPACK Lanczos (``scipy.sparse.linalg.eigsh``, ``which="SA"``) with a seeded random
  start vector (reproducible), ``ncv = max(2*nev + 1, 40)``, ``tol`` 1e-12. Non-convergence
  raises :class:`ConvergenceError` with the residual and a suggestion.
- Degenerate levels are grouped with a relative tolerance (default 1e-8).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from edkit.core.errors import EdkitError
from edkit.engine.threads import blas_threads

DENSE_LIMIT = 2000


class ConvergenceError(EdkitError, RuntimeError):
    """Lanczos did not converge; carries the largest residual norm."""


@dataclass
class Eigen:
    """Lowest levels of one sector.

    Attributes
    ----------
    energies
        Ascending eigenvalues.
    vectors
        Columns are eigenvectors (``None`` unless requested).
    method
        ``"dense"`` or ``"lanczos"``.
    degeneracies
        ``[(energy, multiplicity), ...]`` among the returned levels.
    """

    energies: np.ndarray
    vectors: np.ndarray | None
    method: str
    degeneracies: list[tuple[float, int]] = field(default_factory=list)


def group_degenerate(energies: np.ndarray, tol: float = 1e-8) -> list[tuple[float, int]]:
    """Group ascending energies into ``(energy, multiplicity)`` with tolerance ``tol*(1+|E|)``."""
    out: list[tuple[float, int]] = []
    for e in energies:
        if out and abs(e - out[-1][0]) <= tol * (1 + abs(e)):
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((float(e), 1))
    return out


def _complete_multiplets(matrix, w: np.ndarray, v: np.ndarray, nev: int, start, tol: float,
                         maxiter: int | None, rounds: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Add levels that ARPACK missed below the highest one returned (degenerate partners).

    A Krylov space grown from one vector holds one direction of each degenerate eigenspace; the
    partners only enter through rounding errors, and ARPACK at ``tol=1e-12`` often converges first
    (measured: Hubbard L=6, N=4 returned ``E_1`` once instead of twice). Check: shift the found
    eigenvectors up, ``H' = H + sigma V V^dagger`` with ``sigma`` above the spread of the found
    levels, and compute the lowest levels of ``H'``. Any level of ``H'`` at or below the highest
    found level is a missed one; add it (Rayleigh-Ritz on all vectors) and repeat. When the lowest
    level of ``H'`` lies above, no level below the highest found one is missing.
    """
    order = np.argsort(w)
    w, v = w[order], v[:, order]
    dim = matrix.shape[0]
    for _ in range(rounds):
        top = float(w[nev - 1])
        k = min(nev, dim - v.shape[1] - 1)
        if k < 1:
            break
        sigma = top - float(w[0]) + 1.0 + abs(top)
        basis = v

        def shifted(x, basis=basis, sigma=sigma):
            return matrix @ x + sigma * (basis @ (basis.conj().T @ x))

        op = sla.LinearOperator(matrix.shape, matvec=shifted, dtype=np.result_type(matrix.dtype, v.dtype))
        w2, v2 = sla.eigsh(op, k=k, which="SA", v0=start(), ncv=min(dim, max(2 * k + 1, 40)), tol=tol,
                           maxiter=maxiter)
        missed = w2 <= top + 1e-9 * (1 + abs(top))
        if not missed.any():
            break
        q, _ = np.linalg.qr(np.hstack([v, v2[:, missed]]))
        hq = matrix @ q
        small = q.conj().T @ hq
        w, y = np.linalg.eigh((small + small.conj().T) / 2)
        v = q @ y
    return w[:nev], v[:, :nev]


def lowest(matrix: sp.spmatrix, nev: int = 1, *, vectors: bool = False, seed: int = 0,
           dense_limit: int = DENSE_LIMIT, tol: float = 1e-12, maxiter: int | None = None) -> Eigen:
    """The ``nev`` lowest levels; see :func:`_lowest` (run with single-threaded OpenBLAS)."""
    with blas_threads():
        return _lowest(matrix, nev, vectors=vectors, seed=seed, dense_limit=dense_limit, tol=tol,
                       maxiter=maxiter)


def _lowest(matrix: sp.spmatrix, nev: int = 1, *, vectors: bool = False, seed: int = 0,
            dense_limit: int = DENSE_LIMIT, tol: float = 1e-12, maxiter: int | None = None) -> Eigen:
    """The ``nev`` lowest eigenvalues (and optionally eigenvectors) of a Hermitian matrix.

    Parameters
    ----------
    matrix
        Sparse (or dense) Hermitian matrix.
    nev
        Number of levels; capped at the dimension.
    vectors
        Return eigenvectors.
    seed
        Seed of the Lanczos start vector.

    Raises
    ------
    ConvergenceError
        If ARPACK does not converge (message gives the residual and what to try).
    """
    dim = matrix.shape[0]
    if dim == 0:
        raise ValueError("empty matrix: the sector has no states")
    nev = max(1, min(int(nev), dim))
    if dim <= dense_limit or nev >= dim - 1:
        dense = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
        if vectors:
            w, v = np.linalg.eigh(dense)
            w, v = w[:nev], v[:, :nev]
        else:
            w, v = np.linalg.eigvalsh(dense)[:nev], None
        return Eigen(w, v, "dense", group_degenerate(w))
    rng = np.random.default_rng(seed)
    is_complex = np.iscomplexobj(matrix.data if sp.issparse(matrix) else matrix)

    def start() -> np.ndarray:
        v0 = rng.standard_normal(dim)
        return v0 + 1j * rng.standard_normal(dim) if is_complex else v0

    v0 = start()
    ncv = min(dim, max(2 * nev + 1, 40))
    try:
        w, v = sla.eigsh(matrix, k=nev, which="SA", v0=v0, ncv=ncv, tol=tol, maxiter=maxiter)
        if nev > 1:
            w, v = _complete_multiplets(matrix, w, v, nev, start, tol, maxiter)
    except sla.ArpackNoConvergence as err:
        done = 0 if err.eigenvalues is None else len(err.eigenvalues)
        # residual of the best unconverged Ritz pair: one more short run from the last guess
        x = v0 if not done else err.eigenvectors[:, 0]
        x = x / np.linalg.norm(x)
        lam = np.vdot(x, matrix @ x).real
        res = float(np.linalg.norm(matrix @ x - lam * x))
        raise ConvergenceError(
            f"Lanczos did not converge: {done} of {nev} levels of a {dim}-dimensional sector "
            f"converged (residual |H x - E x| = {res:.3g} for the current estimate E = {lam:.10g}); "
            "try more iterations (maxiter), fewer levels, or a larger ncv") from None
    order = np.argsort(w)
    w = w[order]
    v = v[:, order] if vectors else None
    return Eigen(w, v, "lanczos", group_degenerate(w))
