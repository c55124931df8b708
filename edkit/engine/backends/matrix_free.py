"""The compiled matrix-free kernel: ground energy, ground state and a few lowest levels, no stored matrix.

:mod:`edkit.engine.matfree` applies ``H x`` from the model's canonical terms (numba). On top of it:

- the ground energy alone (``nev=1``, no vectors): :func:`edkit.engine.matfree.lanczos_ground_energy`,
  three vectors;
- the ground state (``nev=1`` with vectors): :func:`edkit.engine.lanczos.ground_state`, two-pass
  Lanczos on four vectors, its residual :math:`\\|Hx - Ex\\|` measured;
- the ground manifold (``manifold=True``, ground-state correlators):
  :func:`edkit.engine.lanczos.ground_manifold`, four vectors plus one per degenerate state;
- up to :data:`MAX_MATRIX_FREE_LEVELS` levels: :func:`edkit.engine.levels.lowest_levels`
  (deflation, ``nev + 3`` vectors) with the partners of the highest level completed, so a
  degenerate multiplet is never reported once (more than ``nev`` levels may come back).

The degeneracies are not known in advance, so the plan counts the vectors of a nondegenerate
ground state (four) and of ``nev`` levels (``nev + 3``); each further vector is checked against
the memory limit just before it is allocated (:func:`edkit.engine.lanczos.growth_check`,
:func:`edkit.engine.memory.check_growth`) and refused with the numbers and the levels found so far.

The vectors are in the ``(up, down)`` product basis; :class:`MatrixFreeSpace` carries its
:class:`~edkit.engine.product_expectation.ProductBasis`, on which observables evaluate them. The
solves run in the RCM order of the configurations (``MatrixFreeHamiltonian(order="rcm")``, about 10 %
faster per Lanczos step at 8 rungs); returned eigenvectors are rewritten in the ascending order
(one vector of scratch, within the planned memory), so the product basis is the ascending one.

Limits: models without occupation constraints (model or sector), plain sectors (no symmetry
blocks), at most :data:`MAX_ORBITALS` orbitals (per-spin tables of ``2^n`` entries).

Cost model: the vectors of :func:`edkit.engine.lanczos.memory_bytes` plus tables of ``2^(n+4)``
bytes; the time of one Lanczos pass is :data:`MATRIX_FREE_STEPS` steps of
:data:`SECONDS_PER_STATE_STEP` per state (8-rung bilayer: 290 steps of 1.2 s at 165.6M states on
2 numba threads; Hubbard-like words; other words take a slower path), times the passes of
:func:`matrix_free_passes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edkit.core.model import Model, Sector
from edkit.core.units import format_count
from edkit.engine.backends.base import Estimate, Request
from edkit.engine.backends.registry import register
from edkit.engine.progress import PROGRESS_DIMENSION, stderr_progress
from edkit.engine.sizes import as_float, sector_size
from edkit.engine.solver import Eigen

#: Most orbitals the kernel handles (its per-spin tables have ``2^n`` entries).
MAX_ORBITALS = 24
#: Most levels the matrix-free path computes (``nev``); more go to the stored matrix.
MAX_MATRIX_FREE_LEVELS = 10
#: Lanczos steps of one pass assumed by the rough time (measured: 90-290 steps from 0.85M to 166M states).
MATRIX_FREE_STEPS = 300
#: Seconds per state and Lanczos step (2 numba threads, one-body and density words).
SECONDS_PER_STATE_STEP = 7e-9
#: Residual target of the ground state and ground manifold (correlators):
#: :math:`\|Hx - Ex\| \le` ``tol (1 + |E|)``. Measured on the 6-rung ring: ``1e-12`` gives correlators
#: to ~3e-14 (``1e-10``: ~5e-8) for ~20 % more Lanczos steps (:func:`edkit.engine.lanczos.ground_state`).
VECTOR_TOL = 1e-12
#: Residual target of the levels (:func:`edkit.engine.levels.lowest_levels`): energy errors are
#: about ``residual^2 / gap``.
LEVELS_TOL = 1e-10


@dataclass(frozen=True)
class MatrixFreeSpace:
    """The sector space on the matrix-free path (no QuSpin basis is built).

    Attributes
    ----------
    dimension
        Number of states.
    plan
        The planner's estimate of the run (:class:`edkit.engine.backends.base.Estimate`).
    basis
        The sector's :class:`~edkit.engine.product_expectation.ProductBasis`: the returned vectors
        are in its ``(up, down)`` order, and :func:`edkit.engine.product_expectation.expectation`
        evaluates fermion words on them.
    sector
        The sector solved.
    """

    dimension: int
    plan: object = None
    basis: Any = None
    sector: Sector | None = None


@dataclass
class MatrixFreeEigen(Eigen):
    """:class:`edkit.engine.solver.Eigen` with the matrix-free extras.

    Attributes
    ----------
    residuals
        :math:`\\|Hx - Ex\\|` per returned level (``None`` for the energy-only Lanczos, which stops on
        the energy change).
    next_energy
        The ground manifold's solve (``manifold=True``): the lowest energy above the manifold
        (``None`` if not computed).
    """

    residuals: list[float] | None = None
    next_energy: float | None = None
    extra: dict = field(default_factory=dict)


def matrix_free_bytes(dimension: int, n_orbitals: int, value: int) -> int:
    """Four vectors of the sector and the kernel's tables (``2^(n+4)`` bytes): the ground energy."""
    return 4 * dimension * value + _table_bytes(n_orbitals)


def _table_bytes(n_orbitals: int) -> int:
    return 2 ** (n_orbitals + 4) if n_orbitals <= MAX_ORBITALS else 0


def matrix_free_seconds(dimension: int) -> float:
    """Rough time of one Lanczos pass (the ground energy): :data:`MATRIX_FREE_STEPS` steps."""
    return MATRIX_FREE_STEPS * as_float(dimension) * SECONDS_PER_STATE_STEP


def matrix_free_passes(request: Request) -> int:
    """Lanczos passes of a request: 1 for the ground energy, 2 for the ground state, 3 for the
    ground manifold (the ground state and the next level's first pass), ``2 nev + 1`` for
    ``nev`` levels (two passes per level, one more for the partners of the highest level)."""
    if request.ground_only:
        return 1
    if request.manifold and request.vectors:
        return 3
    if request.nev == 1:
        return 2
    return 2 * request.nev + 1


def matrix_free_vectors(request: Request) -> tuple[str, int]:
    """``(what, vectors)`` of :func:`edkit.engine.lanczos.memory_bytes` for a request."""
    if request.ground_only:
        return "energy", 3
    if request.nev == 1 or (request.manifold and request.vectors):
        return "ground-state", 4
    return "levels", request.nev + 3


def product_kernel_refusal(model: Model, sector: Sector, request: Request, kernel: str) -> str | None:
    """Why the ``(up, down)`` product kernel (CPU or GPU: one term split, :mod:`edkit.engine.matfree`)
    cannot take ``request`` on ``sector``, or ``None``: symmetry blocks, occupation constraints, more than
    :data:`MAX_ORBITALS` orbitals. ``kernel`` names it in the reason."""
    if request.symmetries:
        return f"{kernel} works on the plain sector, not in symmetry blocks"
    constraints = tuple(model.constraints) + tuple(sector.constraints)
    if constraints:
        return (f"{kernel} needs a model without occupation constraints ({model.name} has "
                f"{len(constraints)}, e.g. '{constraints[0].label or constraints[0].modes}')")
    if model.n_orbitals > MAX_ORBITALS:
        return f"{kernel} handles at most {MAX_ORBITALS} orbitals ({model.name} has {model.n_orbitals})"
    return None


class MatrixFreeBackend:
    """Ground energy, ground state and a few lowest levels without a stored matrix."""

    name = "matrix-free"
    space = None

    def supports(self, model: Model, sector: Sector, request: Request) -> str | None:
        """No constraints, no blocks, at most :data:`MAX_ORBITALS` orbitals and
        :data:`MAX_MATRIX_FREE_LEVELS` levels."""
        why = product_kernel_refusal(model, sector, request, "the matrix-free kernel")
        if why:
            return why
        if request.nev > MAX_MATRIX_FREE_LEVELS and not (request.manifold and request.vectors):
            return (f"the matrix-free path computes at most {MAX_MATRIX_FREE_LEVELS} levels "
                    f"(asked nev={request.nev:,})")
        return None

    def estimate(self, model: Model, sector: Sector, request: Request) -> Estimate:
        """Vectors of :func:`edkit.engine.lanczos.memory_bytes` plus tables; passes x one Lanczos run."""
        from edkit.engine.lanczos import memory_bytes
        from edkit.engine.levels import DENSE_DIMENSION

        size = sector_size(model, sector)
        dim = size.dimension
        dtype = np.complex128 if size.value_bytes == 16 else np.float64
        what, n = matrix_free_vectors(request)
        nev = min(request.nev, dim)
        vectors = memory_bytes(dim, dtype, what, nev=nev) + _table_bytes(model.n_orbitals)
        passes = matrix_free_passes(request)
        dense = what == "levels" and (dim <= DENSE_DIMENSION or nev >= dim - 1)
        if dense:  # lowest_levels applies the operator to the identity and calls eigh
            vectors = max(vectors, 4 * dim * dim * size.value_bytes)
        seconds = passes * matrix_free_seconds(dim)
        states = format_count(dim)
        if what == "energy":
            words = f"matrix-free Lanczos on {states} states"
        elif dense:
            words = f"{nev:,} levels by dense diagonalization of {states} states"
        elif request.manifold and request.vectors:
            words = f"ground manifold on {n} vectors of {states} states, +1 per degenerate state"
        elif what == "ground-state":
            words = f"ground state by two-pass Lanczos on {n} vectors of {states} states"
        else:
            words = (f"{nev:,} levels by Lanczos with deflation on {n} vectors of {states} states, +1 per "
                     "partner of a degenerate highest level")
        return Estimate(vectors, seconds, dim, words,
                        {"steps": MATRIX_FREE_STEPS * passes, "passes": passes, "vectors": n})

    def solve(self, model: Model, values: Mapping[str, float], sector: Sector,
              request: Request) -> tuple:
        """The solve the request names (module docs); returns ``(MatrixFreeEigen, MatrixFreeSpace)``."""
        from edkit.engine.matfree import MatrixFreeHamiltonian
        from edkit.engine.product_expectation import ProductBasis

        # the bandwidth-reducing order (~10 % faster per Lanczos step); vectors go back to the ascending
        # order of the product basis below
        op = MatrixFreeHamiltonian(model, values, sector, order="rcm")
        dim = op.shape[0]
        progress = request.options.get("progress")
        if progress is None and dim >= PROGRESS_DIMENSION:
            progress = stderr_progress
        if request.ground_only:
            eig = _ground_energy(op, request, progress)
        elif request.manifold and request.vectors:
            eig = _manifold(op, request, progress)
        elif request.nev == 1:
            eig = _ground_state(op, request, progress)
        else:
            eig = _levels(op, request, progress)
        if eig.vectors is not None:
            op.to_ascending(eig.vectors)
        space = MatrixFreeSpace(dim, request.options.get("estimate"), ProductBasis(model, sector), sector)
        return eig, space

    def operator(self, model: Model, values: Mapping[str, float], sector: Sector,
                 request: Request) -> tuple:
        """``(op, space)``: the compiled :class:`~edkit.engine.matfree.MatrixFreeHamiltonian` (a SciPy
        ``LinearOperator``; ``op.apply(x, out)`` also returns ``<x, Hx>``) and a
        :class:`MatrixFreeSpace` with its product basis, for callers that run their own Krylov
        recursion (finite-temperature Lanczos, :mod:`edkit.thermodynamics`)."""
        from edkit.engine.matfree import MatrixFreeHamiltonian
        from edkit.engine.product_expectation import ProductBasis

        op = MatrixFreeHamiltonian(model, values, sector, threads=request.options.get("threads"))
        return op, MatrixFreeSpace(op.shape[0], None, ProductBasis(model, sector, op), sector)


def _floor_notice(states, tol: float) -> None:
    """Say on stderr when a vector is returned with a residual slightly above the target.

    Within :data:`edkit.engine.lanczos.RESTART_FACTOR` of the target a restart is not trusted to
    lower it, so the state is returned with its measured residual (in the results) rather than refused.
    """
    from edkit.engine.lanczos import RESTART_FACTOR

    for s in states:
        if s.floor:
            stderr_progress(f"ground state: residual |Hx - Ex| = {s.residual:.1e}, above the target "
                            f"{tol:.0e} (1 + |E|) but within {RESTART_FACTOR:g}x of it, where a restart "
                            "cannot be trusted to lower it; eigenvector errors are about residual / gap")


def _tol(request: Request, default: float = VECTOR_TOL) -> float:
    return float(request.options.get("tol", default))


def _ground_energy(op, request: Request, progress) -> MatrixFreeEigen:
    from edkit.engine.matfree import lanczos_ground_energy
    from edkit.engine.solver import ConvergenceError

    res = lanczos_ground_energy(op, progress=progress, check_every=10 if progress else 5, seed=request.seed)
    if not res["converged"]:
        raise ConvergenceError(f"matrix-free Lanczos did not converge in {res['iterations']} steps "
                               f"(residual {res['residual']:.1e}, last energy change "
                               f"{res['energy_change']:.1e})")
    return MatrixFreeEigen(np.array([res["energy"]]), None, "matrix-free", [])


def _columns(vectors: list[np.ndarray]) -> np.ndarray:
    """The vectors as columns; one vector is reshaped (no copy), several are copied one by one."""
    if len(vectors) == 1:
        return vectors[0].reshape(-1, 1)
    out = np.empty((vectors[0].shape[0], len(vectors)), dtype=vectors[0].dtype, order="F")
    for k in range(len(vectors)):
        out[:, k] = vectors[k]
        vectors[k] = None
    return out


def _ground_state(op, request: Request, progress) -> MatrixFreeEigen:
    from edkit.engine.lanczos import ground_state
    from edkit.engine.solver import ConvergenceError

    tol = _tol(request)
    res = ground_state(op, tol=tol, seed=request.seed, progress=progress)
    _floor_notice([res], tol)
    if not (res.converged or res.floor):
        raise ConvergenceError(f"matrix-free ground state did not converge in {res.iterations} Lanczos steps "
                               f"({res.rounds} rounds): residual |Hx - Ex| = {res.residual:.1e}, target "
                               f"{tol:.0e} (1 + |E|)")
    return MatrixFreeEigen(np.array([res.energy]), _columns([res.vector]), "matrix-free", [],
                           residuals=[res.residual])


def _manifold(op, request: Request, progress) -> MatrixFreeEigen:
    from edkit.engine.lanczos import ground_manifold
    from edkit.engine.solver import ConvergenceError, group_degenerate

    tol = _tol(request)
    states, nxt = ground_manifold(op, tol=tol, max_states=request.nev, seed=request.seed, progress=progress)
    _floor_notice(states, tol)
    bad = [s for s in states if not (s.converged or s.floor)]
    if bad:
        raise ConvergenceError(f"matrix-free ground state did not converge: residual |Hx - Ex| = "
                               f"{max(s.residual for s in bad):.1e}, target {tol:.0e} (1 + |E|)")
    energies = np.array([s.energy for s in states])
    residuals = [float(s.residual) for s in states]
    vectors = _columns([s.vector for s in states])
    del states
    return MatrixFreeEigen(energies, vectors, "matrix-free", group_degenerate(energies),
                           residuals=residuals, next_energy=nxt)


def _levels(op, request: Request, progress) -> MatrixFreeEigen:
    from edkit.engine.levels import lowest_levels

    stats: dict = {}
    eig = lowest_levels(op, request.nev, vectors=request.vectors, seed=request.seed,
                        tol=_tol(request, LEVELS_TOL),
                        progress=progress, stats=stats, complete_top=True)
    return MatrixFreeEigen(eig.energies, eig.vectors, "matrix-free", eig.degeneracies,
                           residuals=stats.get("residuals"), extra={"matvecs": stats.get("matvecs")})


BACKEND = register(MatrixFreeBackend())

__all__ = ["BACKEND", "MATRIX_FREE_STEPS", "MAX_MATRIX_FREE_LEVELS", "MAX_ORBITALS", "MatrixFreeBackend",
           "MatrixFreeEigen", "MatrixFreeSpace", "matrix_free_bytes", "matrix_free_passes",
           "matrix_free_seconds", "matrix_free_vectors", "product_kernel_refusal"]
