r"""Exact thermal data of one sector: full diagonalization of its dense Hamiltonian.

Every level :math:`E_n` and eigenvector :math:`|n\rangle` of the sector (``numpy.linalg.eigh`` on the
dense stored matrix, QuSpin basis; sectors of at least :data:`~edkit.engine.dense_blocks.BLOCK_DIMENSION`
states block by block in the symmetry blocks that hold on them, :mod:`edkit.engine.dense_blocks`, with
the eigenvectors mapped back to the plain basis), and :math:`\langle n|A_k|n\rangle` for each operator,
so that :math:`\mathrm{Tr}\, e^{-\beta H} A = \sum_n e^{-\beta E_n}\langle n|A|n\rangle` exactly, at every
``beta`` at once. Without operators only the eigenvalues are computed (``eigvalsh``).

Cost (planned before anything is built, :func:`sector_cost`): a sector solved whole needs three dense
``D x D`` matrices (``8`` or ``16`` bytes each element) and :data:`DENSE_RATE` x ``D^3`` seconds
(:func:`exact_cost`); a sector solved in ``|G|`` blocks about ``|G|^2`` times less time (the 4-rung periodic
bilayer at half filling: ~22 s whole, ~2 s in blocks) and, with the eigenvectors mapped back
:data:`~edkit.engine.dense_blocks.CHUNK` at a time, two dense blocks plus a few ``D x CHUNK`` arrays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from edkit.core.model import Model, Sector
from edkit.thermodynamics.ftlm import Sample

#: Seconds per ``D^3`` of ``eigh`` (as :data:`edkit.engine.backends.stored.DENSE_RATE`; eigenvectors).
DENSE_RATE = 2e-10
#: Most seconds an ``exact`` run may be estimated to take before it is refused.
EXACT_SECONDS = 1800.0


#: An estimated block is taken this much larger than ``D / |G|`` (blocks are not all equal; the largest
#: of the 4-rung bilayer's eight is 637 states against 612.5).
BLOCK_MARGIN = 1.25
#: Cost of a complex ``eigh`` relative to a real one of the same size (measured 3-4x).
COMPLEX_FACTOR = 3


def exact_cost(dimensions: Sequence[int], complex_values: bool = False) -> tuple[int, float]:
    """``(peak bytes, rough seconds)`` of diagonalizing sectors of these dimensions whole, one at a time."""
    value = 16 if complex_values else 8
    largest = max(dimensions)
    return 3 * largest * largest * value, float(sum(DENSE_RATE * float(d) ** 3 for d in dimensions))


def sector_cost(model: Model, values: Mapping[str, object] | None, sector: Sector, dimension: int,
                complex_values: bool = False) -> tuple[int, float, int]:
    """``(peak bytes, rough seconds, blocks)`` of :func:`exact_sample` on one sector, before building.

    Sectors of at least :data:`~edkit.engine.dense_blocks.BLOCK_DIMENSION` states with symmetries
    (:func:`~edkit.engine.dense_blocks.planned_symmetries`) are costed as their blocks: ``n`` solved blocks
    (``k`` and ``-k`` once for a real ``H``) of :data:`BLOCK_MARGIN` ``x`` the counted largest block ``d``,
    :data:`DENSE_RATE` ``d^3`` each (:data:`COMPLEX_FACTOR` times more for complex blocks); memory: two
    dense ``d x d`` arrays, the stored matrix, the block bases and three ``D x CHUNK`` arrays of mapped
    eigenvectors. Otherwise :func:`exact_cost` of the whole sector.
    """
    from edkit.engine.dense_blocks import BLOCK_DIMENSION, CHUNK, planned_symmetries
    from edkit.engine.sizes import sector_size

    syms = planned_symmetries(model, values, sector) if dimension >= BLOCK_DIMENSION else []
    if not syms:
        peak, seconds = exact_cost([dimension], complex_values)
        return peak, seconds, 1
    size = sector_size(model, sector, syms)
    d = min(dimension, math.ceil(BLOCK_MARGIN * size.dimension))
    value = 16 if size.complex_values else 8
    solved = size.n_blocks if complex_values else size.n_blocks_solved
    seconds = solved * DENSE_RATE * float(d) ** 3 * (COMPLEX_FACTOR if size.complex_values else 1)
    matrix = 12 * size.nonzeros * size.symmetry_reduction
    bases = 20 * dimension * size.symmetry_reduction
    peak = 2 * d * d * value + matrix + bases + 3 * dimension * min(CHUNK, d) * 16
    return int(peak), float(seconds), size.n_blocks


def exact_sample(model: Model, values: Mapping[str, float], sector: Sector, quantities: Sequence) -> Sample:
    """All levels of the sector (as a :class:`~edkit.thermodynamics.ftlm.Sample` with unit weights) and
    :math:`\\langle n|A_k|n\\rangle` of each operator quantity."""
    from edkit.engine.backends import get
    from edkit.engine.backends.base import Request
    from edkit.engine.dense_blocks import CHUNK, eigen_blocks
    from edkit.engine.threads import blas_threads
    from edkit.thermodynamics.sector import SectorOperators

    op, space = get("stored").operator(model, values, sector, Request(method="stored"))
    operators = SectorOperators(space, quantities) if quantities else None
    # a mirrored block (conjugate character) of a real H repeats its partner's <n|A|n> when the operators
    # are real too (its eigenvectors are the complex conjugates)
    copy = not np.iscomplexobj(op.matrix.data) and operators is not None and operators.real
    energies, parts = [], []
    with blas_threads():
        symmetries, blocks = eigen_blocks(model, values, sector, space, op.matrix, operators is not None)
        for Q, e, v, mirror in blocks:
            energies.append(e)
            if operators is None:
                continue
            if copy and mirror is not None:
                parts.append(parts[mirror])
            else:  # eigenvectors mapped back CHUNK at a time
                parts.append(np.concatenate([operators.diagonal_elements(np.asarray(Q @ v[:, c:c + CHUNK]))
                                             for c in range(0, v.shape[1], CHUNK)], axis=1)
                             if v.shape[1] else np.zeros((len(operators), 0)))
    n_blocks = len(energies)
    energies = np.concatenate(energies)
    order = np.argsort(energies, kind="stable")  # ascending, as without blocks
    energies = energies[order]
    vals = np.concatenate(parts, axis=1)[:, order] if parts else np.zeros((0, len(energies)))
    return Sample(np.asarray(energies, dtype=float), np.ones(len(energies)), vals, len(energies),
                  symmetries, n_blocks)


__all__ = ["BLOCK_MARGIN", "COMPLEX_FACTOR", "DENSE_RATE", "EXACT_SECONDS", "exact_cost", "exact_sample",
           "sector_cost"]
