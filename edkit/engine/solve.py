"""Solve one sector: the single entry point from a model, values and a sector to its lowest levels.

:func:`solve_sector` reads the plan (:mod:`edkit.engine.planning`) and runs the stored QuSpin path
(dense or ARPACK) or the matrix-free kernel (:mod:`edkit.engine.matfree`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from edkit.core.model import Model, ModelError, Sector, SectorError
from edkit.engine.backend_quspin import make_space, operator_matrix
from edkit.engine.planning import Plan, TooLargeError, check_fits
from edkit.engine.solver import ConvergenceError, Eigen, lowest
from edkit.models import build_model


def get_model(model: str | Model, L: int | None = None, bc: str = "open") -> Model:
    """A model object from a name (built at ``L``, ``bc``) or the model itself."""
    if isinstance(model, Model):
        return model
    return build_model(model, L, bc)  # fixed-size models (hamo) accept L=None


@dataclass(frozen=True)
class MatrixFreeSpace:
    """Stand-in for the sector space on the matrix-free path (no basis is built)."""

    dimension: int
    plan: Plan


def _matrix_free_ground(model: Model, vals: Mapping[str, object], sector: Sector, p: Plan) -> Eigen:
    """Ground energy by three-vector Lanczos on :class:`edkit.engine.matfree.MatrixFreeHamiltonian`."""
    from edkit.engine.blocks import PROGRESS_DIMENSION, stderr_progress
    from edkit.engine.matfree import MatrixFreeHamiltonian, lanczos_ground_energy

    progress = stderr_progress if p.dimension >= PROGRESS_DIMENSION else None
    if progress is not None:
        progress(f"{model.name} L={model.lattice.L} (N_up={sector.n_up}, N_dn={sector.n_dn}): "
                 f"{p.dimension:,} states; the stored matrix needs ~{p.bytes / 2**30:.1f} GiB and does not "
                 f"fit, matrix-free Lanczos needs ~{p.matrix_free_bytes / 2**30:.1f} GiB")
    op = MatrixFreeHamiltonian(model, vals, sector)
    res = lanczos_ground_energy(op, progress=progress, check_every=10 if progress else 5)
    if not res["converged"]:
        raise ConvergenceError(f"matrix-free Lanczos did not converge in {res['iterations']} steps "
                               f"(residual {res['residual']:.1e}, last energy change "
                               f"{res['energy_change']:.1e})")
    return Eigen(np.array([res["energy"]]), None, "matrix-free", [])


#: Ground energies (``nev=1``, no eigenvectors) of sectors at least this large take the matrix-free
#: path by default even when the stored matrix fits: no matrix is built, and on the 2-core machine
#: the whole solve is several times faster (``benchmarks/results/matvec.json``: Hubbard L=12,
#: 853,776 states, 1.5 s against 7.6 s for ARPACK on the stored matrix plus its build).
MATRIX_FREE_DIMENSION = 100_000

#: Accepted values of the ``method`` argument.
METHODS = ("auto", "stored", "matrix-free")


def solve_sector(model: Model, values: Mapping[str, object] | None, N: int,
                 Sz: float | None = None, nev: int = 1, vectors: bool = False,
                 seed: int = 0, extra: Mapping[str, float] | None = None,
                 method: str = "auto") -> tuple[Eigen, object]:
    """Lowest ``nev`` levels of ``model`` in sector ``(N, Sz)``; also returns the sector space.

    Paths (:func:`edkit.engine.planning.plan`): dense up to 2000 states; a stored sparse matrix (QuSpin)
    with ARPACK; or the **matrix-free** ground energy (:mod:`edkit.engine.matfree`, three-vector Lanczos,
    progress on stderr), for ``nev=1`` without eigenvectors on a model without occupation
    constraints. On the matrix-free path ``method`` is ``"matrix-free"``, ``degeneracies`` is empty
    (the multiplicity is not determined) and the returned space is a :class:`MatrixFreeSpace`
    (dimension only).

    ``method``: ``"auto"`` (default) takes the matrix-free path for ground energies of sectors of
    at least :data:`MATRIX_FREE_DIMENSION` states, or when the stored matrix does not fit;
    ``"stored"`` always stores the matrix (refused if it does not fit); ``"matrix-free"`` always
    goes matrix-free (refused where it does not apply).

    Raises
    ------
    SectorError, ParameterError, TooLargeError, ValueError
        Before any large allocation (``TooLargeError`` with the estimate, also when only the
        matrix-free path fits but more than the ground energy was asked for).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    vals = model.resolve(values)  # validates names and numbers first
    sector = model.sector(N, Sz, **dict(extra or {}))
    ground_only = nev == 1 and not vectors
    if method == "stored":
        p = check_fits(model, sector)
    else:
        p = check_fits(model, sector, allow_matrix_free=True)
    possible = p.matrix_free_possible
    if method == "matrix-free" and not possible:
        raise ValueError(f"{model.name}: the matrix-free path needs a model without occupation "
                         "constraints, at most 24 orbitals, and its vectors in memory "
                         f"(~{p.matrix_free_bytes / 2**30:.1f} GiB)")
    forced = p.path == "matrix-free" or method == "matrix-free"  # nothing else fits / asked for
    preferred = method == "auto" and p.path == "sparse" and p.dimension >= MATRIX_FREE_DIMENSION
    if forced and not ground_only:
        why = f"the stored matrix does not fit ({p.describe()}); " if p.path == "matrix-free" else ""
        raise TooLargeError(
            f"{model.name} L={model.lattice.L} sector (N_up={sector.n_up}, N_dn={sector.n_dn}): {why}"
            f"the matrix-free path (~{p.matrix_free_bytes / 2**30:.1f} GiB) gives the ground energy "
            f"only: ask for nev=1 without eigenvectors (asked nev={nev}, vectors={vectors})")
    free = forced or (preferred and possible and ground_only)
    if free:
        try:
            return _matrix_free_ground(model, vals, sector, p), MatrixFreeSpace(p.dimension, p)
        except ModelError:  # a term the kernel cannot apply: the stored path when it fits
            if forced:
                raise
    from edkit.engine.blocks import PROGRESS_DIMENSION, stderr_progress

    progress = stderr_progress if p.dimension >= PROGRESS_DIMENSION else None
    start = time.perf_counter()
    if progress is not None:
        progress(f"{model.name} L={model.lattice.L} (N_up={sector.n_up}, N_dn={sector.n_dn}): building the "
                 f"stored matrix, {p.dimension:,} states, ~{p.nonzeros:,} non-zeros, "
                 f"~{p.bytes / 2**30:.1f} GiB (rough: build {p.build_seconds:.0f} s, "
                 f"Lanczos {p.solve_seconds:.0f} s)")
    terms = model.numeric_terms(vals)
    space = make_space(model, sector)
    H = operator_matrix(space, terms)
    if progress is not None:
        progress(f"built in {time.perf_counter() - start:.1f} s; Lanczos for {nev} level(s)")
    eig = lowest(H, nev, vectors=vectors, seed=seed)
    if progress is not None:
        progress(f"done in {time.perf_counter() - start:.1f} s: E0 = {eig.energies[0]:.12f}")
    return eig, space


def ground_energy(model: Model, values: Mapping[str, object] | None, N: int,
                  Sz: float | None = None, extra: Mapping[str, float] | None = None,
                  symmetries: object = None, method: str = "auto") -> float | None:
    """Ground-state energy in a sector, or ``None`` if the sector has no states.

    With ``symmetries``, the minimum over every block of the symmetries that hold in this sector.
    Without, the plain sector: dense, stored sparse or (when only that fits) matrix-free.
    """
    try:
        if symmetries is not None:
            from edkit.engine.blocks import block_spectrum, select_symmetries

            vals = model.resolve(values)
            sector = model.sector(N, Sz, **dict(extra or {}))
            sel = select_symmetries(model, vals, sector, symmetries, per_sector=True)
            res = block_spectrum(model, vals, sector, sel, nev=1)
            return res["energies"][0] if res["energies"] else None
        eig, _ = solve_sector(model, values, N, Sz, 1, extra=extra, method=method)
    except SectorError:
        return None
    return float(eig.energies[0])
