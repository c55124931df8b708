r"""Exact thermal data of one sector: full diagonalization of its dense Hamiltonian.

Every level :math:`E_n` and eigenvector :math:`|n\rangle` of the sector (``numpy.linalg.eigh`` on the
dense stored matrix, QuSpin basis; sectors of at least :data:`~edkit.engine.dense_blocks.BLOCK_DIMENSION`
states block by block in the symmetry blocks that hold on them, :mod:`edkit.engine.dense_blocks`, with
the eigenvectors mapped back to the plain basis), and :math:`\langle n|A_k|n\rangle` for each operator,
so that :math:`\mathrm{Tr}\, e^{-\beta H} A = \sum_n e^{-\beta E_n}\langle n|A|n\rangle` exactly, at every
``beta`` at once. Without operators only the eigenvalues are computed (``eigvalsh``).

Cost (planned before anything is built, :func:`exact_cost`): three dense ``D x D`` matrices per
sector (``8`` or ``16`` bytes each element) and :data:`DENSE_RATE` x ``D^3`` seconds. This is the cost
without blocks, an upper bound: with ``|G|`` blocks the time is about ``|G|^2`` times less (the 4-rung
periodic bilayer at half filling: ~22 s without blocks, ~2 s with them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edkit.core.model import Model, Sector
from edkit.thermodynamics.ftlm import Sample

#: Seconds per ``D^3`` of ``eigh`` (as :data:`edkit.engine.backends.stored.DENSE_RATE`; eigenvectors).
DENSE_RATE = 2e-10
#: Most seconds an ``exact`` run may be estimated to take before it is refused.
EXACT_SECONDS = 1800.0


def exact_cost(dimensions: Sequence[int], complex_values: bool = False) -> tuple[int, float]:
    """``(peak bytes, rough seconds)`` of diagonalizing sectors of these dimensions, one at a time."""
    value = 16 if complex_values else 8
    largest = max(dimensions)
    return 3 * largest * largest * value, float(sum(DENSE_RATE * float(d) ** 3 for d in dimensions))


def exact_sample(model: Model, values: Mapping[str, float], sector: Sector, quantities: Sequence) -> Sample:
    """All levels of the sector (as a :class:`~edkit.thermodynamics.ftlm.Sample` with unit weights) and
    :math:`\\langle n|A_k|n\\rangle` of each operator quantity."""
    from edkit.engine.backends import get
    from edkit.engine.backends.base import Request
    from edkit.engine.dense_blocks import BLOCK_DIMENSION, adapted_bases, block_eigh, generators
    from edkit.engine.threads import blas_threads
    from edkit.thermodynamics.sector import SectorOperators

    op, space = get("stored").operator(model, values, sector, Request(method="stored"))
    dim = op.shape[0]
    gens = generators(model, values, sector, space, op.matrix) if dim >= BLOCK_DIMENSION else []
    operators = SectorOperators(space, quantities) if quantities else None
    # a mirrored block (conjugate character) repeats an earlier one's levels and, for real H and real
    # operators, its <n|A|n> (the eigenvectors are complex conjugates)
    real = not np.iscomplexobj(op.matrix.data) and (operators is None or operators.real)
    energies, parts = [], []
    with blas_threads():
        for Q, mirror in adapted_bases(gens, dim):
            if mirror is not None and real:
                energies.append(energies[mirror])
                if operators is not None:
                    parts.append(parts[mirror])
                continue
            e, vectors = block_eigh(op.matrix, Q, operators is not None)
            energies.append(e)
            if operators is not None:
                parts.append(operators.diagonal_elements(vectors))
    energies = np.concatenate(energies)
    order = np.argsort(energies, kind="stable")  # ascending, as without blocks
    energies = energies[order]
    vals = np.concatenate(parts, axis=1)[:, order] if parts else np.zeros((0, len(energies)))
    return Sample(np.asarray(energies, dtype=float), np.ones(len(energies)), vals, len(energies))


__all__ = ["DENSE_RATE", "EXACT_SECONDS", "exact_cost", "exact_sample"]
