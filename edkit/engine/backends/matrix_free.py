"""The compiled matrix-free kernel: the ground energy by three-vector Lanczos, no stored matrix.

:mod:`edkit.engine.matfree` applies ``H x`` from the model's canonical terms (numba), and
:func:`edkit.engine.matfree.lanczos_ground_energy` keeps three vectors. Its limits live here:

- models without occupation constraints (model or sector), plain sectors (no symmetry blocks);
- at most :data:`MAX_ORBITALS` orbitals (per-spin tables of ``2^n`` entries);
- the ground energy only (``nev = 1``, no eigenvectors): the three-term recurrence loses
  orthogonality, which leaves the lowest Ritz value right but not the others or the multiplicity.

Cost model: four vectors plus tables of ``2^(n+4)`` bytes; :data:`MATRIX_FREE_STEPS` Lanczos steps of
:data:`SECONDS_PER_STATE_STEP` per state (8-rung bilayer: 290 steps of 1.2 s at 165.6M states on
2 numba threads; Hubbard-like words; other words take a slower path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from edkit.core.model import Model, Sector
from edkit.core.units import format_count
from edkit.engine.backends.base import Estimate, Request
from edkit.engine.backends.registry import register
from edkit.engine.progress import PROGRESS_DIMENSION, stderr_progress
from edkit.engine.sizes import as_float, sector_size

#: Most orbitals the kernel handles (its per-spin tables have ``2^n`` entries).
MAX_ORBITALS = 24
#: Lanczos steps assumed by the rough time (measured: 90-290 steps from 0.85M to 166M states).
MATRIX_FREE_STEPS = 300
#: Seconds per state and Lanczos step (2 numba threads, one-body and density words).
SECONDS_PER_STATE_STEP = 7e-9


@dataclass(frozen=True)
class MatrixFreeSpace:
    """Stand-in for the sector space on the matrix-free path (no basis is built).

    ``plan`` is the planner's estimate of the run (:class:`edkit.engine.backends.base.Estimate`).
    """

    dimension: int
    plan: object = None


def matrix_free_bytes(dimension: int, n_orbitals: int, value: int) -> int:
    """Four vectors of the sector and the kernel's tables (``2^(n+4)`` bytes)."""
    return 4 * dimension * value + (2 ** (n_orbitals + 4) if n_orbitals <= MAX_ORBITALS else 0)


def matrix_free_seconds(dimension: int) -> float:
    """Rough time of the ground energy: :data:`MATRIX_FREE_STEPS` steps of the measured rate."""
    return MATRIX_FREE_STEPS * as_float(dimension) * SECONDS_PER_STATE_STEP


class MatrixFreeBackend:
    """Ground energy without a stored matrix (:mod:`edkit.engine.matfree`)."""

    name = "matrix-free"
    space = None

    def supports(self, model: Model, sector: Sector, request: Request) -> str | None:
        """No constraints, no blocks, at most :data:`MAX_ORBITALS` orbitals, the ground energy only."""
        if request.symmetries:
            return "the matrix-free kernel works on the plain sector, not in symmetry blocks"
        constraints = tuple(model.constraints) + tuple(sector.constraints)
        if constraints:
            return (f"the matrix-free kernel needs a model without occupation constraints ({model.name} "
                    f"has {len(constraints)}, e.g. '{constraints[0].label or constraints[0].modes}')")
        if model.n_orbitals > MAX_ORBITALS:
            return (f"the matrix-free kernel handles at most {MAX_ORBITALS} orbitals ({model.name} has "
                    f"{model.n_orbitals})")
        if not request.ground_only:
            return ("the matrix-free kernel gives the ground energy only: ask for nev=1 without "
                    f"eigenvectors (asked nev={request.nev:,}, vectors={request.vectors})")
        return None

    def estimate(self, model: Model, sector: Sector, request: Request) -> Estimate:
        """Four vectors and small tables; ~300 Lanczos steps."""
        size = sector_size(model, sector)
        dim = size.dimension
        return Estimate(matrix_free_bytes(dim, model.n_orbitals, size.value_bytes), matrix_free_seconds(dim),
                        dim, f"matrix-free Lanczos on {format_count(dim)} states",
                        {"steps": MATRIX_FREE_STEPS, "vectors": 4})

    def solve(self, model: Model, values: Mapping[str, float], sector: Sector,
              request: Request) -> tuple:
        """Three-vector Lanczos on :class:`edkit.engine.matfree.MatrixFreeHamiltonian`."""
        from edkit.engine.matfree import MatrixFreeHamiltonian, lanczos_ground_energy
        from edkit.engine.solver import ConvergenceError, Eigen

        op = MatrixFreeHamiltonian(model, values, sector)
        dim = op.shape[0]
        progress = request.options.get("progress")
        if progress is None and dim >= PROGRESS_DIMENSION:
            progress = stderr_progress
        res = lanczos_ground_energy(op, progress=progress, check_every=10 if progress else 5,
                                    seed=request.seed)
        if not res["converged"]:
            raise ConvergenceError(f"matrix-free Lanczos did not converge in {res['iterations']} steps "
                                   f"(residual {res['residual']:.1e}, last energy change "
                                   f"{res['energy_change']:.1e})")
        return (Eigen(np.array([res["energy"]]), None, "matrix-free", []),
                MatrixFreeSpace(dim, request.options.get("estimate")))


BACKEND = register(MatrixFreeBackend())

__all__ = ["BACKEND", "MATRIX_FREE_STEPS", "MAX_ORBITALS", "MatrixFreeBackend", "MatrixFreeSpace",
           "matrix_free_bytes", "matrix_free_seconds"]
