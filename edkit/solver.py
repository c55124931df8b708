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

from edkit.threads import blas_threads

DENSE_LIMIT = 2000


class ConvergenceError(RuntimeError):
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
    v0 = rng.standard_normal(dim)
    if np.iscomplexobj(matrix.data if sp.issparse(matrix) else matrix):
        v0 = v0 + 1j * rng.standard_normal(dim)
    ncv = min(dim, max(2 * nev + 1, 40))
    try:
        w, v = sla.eigsh(matrix, k=nev, which="SA", v0=v0, ncv=ncv, tol=tol, maxiter=maxiter)
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
