"""QuSpin symmetry blocks: every block of the requested lattice symmetries, solved and merged.

The work is :func:`edkit.engine.blocks.solve_blocks` (QuSpin's ``(map, q)`` block bases from
:func:`edkit.engine.backend_quspin.quspin_blocks`, one stored matrix per block, ``k`` and ``-k``
solved once for a real Hamiltonian). This backend serves requests with ``symmetries`` (checked
:class:`edkit.engine.symmetry.Symmetry` objects); its estimate is the stored estimate of the largest
block (:func:`edkit.engine.backends.stored.stored_estimate`) and the time of every solved block.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from edkit.core.model import Model, Sector
from edkit.core.units import format_count
from edkit.engine.backends.base import Estimate, Request
from edkit.engine.backends.registry import register
from edkit.engine.sizes import sector_size


@dataclass
class BlockSpace:
    """What the blocks backend returns as its "space": the total dimension and the full result.

    ``result`` is the dictionary of :func:`edkit.engine.blocks.block_spectrum` (blocks, levels with
    their labels, ground block).
    """

    dimension: int
    result: dict = field(default_factory=dict)


class BlocksBackend:
    """Symmetry blocks built by QuSpin, each stored and solved (dense or ARPACK)."""

    name = "blocks"
    space = None

    def supports(self, model: Model, sector: Sector, request: Request) -> str | None:
        """Requests with symmetries that QuSpin can build here, without eigenvectors."""
        from edkit.engine.backend_quspin import block_support

        if not request.symmetries:
            return "no symmetry blocks were asked for (symmetries)"
        if request.vectors:
            return "eigenvectors of symmetry blocks live in block bases and are not returned"
        for sym in request.symmetries:
            reason = block_support(model, sym)
            if reason is not None:
                return reason
        return None

    def estimate(self, model: Model, sector: Sector, request: Request) -> Estimate:
        """Stored estimate of the largest block; time of all solved blocks (``k``, ``-k`` paired)."""
        from edkit.engine.backends.stored import stored_estimate

        size = sector_size(model, sector, request.symmetries)
        block = stored_estimate(size, request.replace(nev=min(request.nev, size.dimension)))
        solved = _solved_blocks(request) if request.fixed else size.n_blocks_solved
        labels = "".join(size.symmetries)
        return Estimate(block.bytes, block.seconds * solved, size.dimension,
                        f"{solved} block(s) of {labels}, the largest ~{format_count(size.dimension)} "
                        f"states: {block.what}",
                        {**dict(block.numbers), "blocks": size.n_blocks, "blocks_solved": solved})

    def solve(self, model: Model, values: Mapping[str, float], sector: Sector,
              request: Request) -> tuple:
        """:func:`edkit.engine.blocks.solve_blocks`; returns ``(Eigen, BlockSpace)``."""
        from edkit.engine.blocks import solve_blocks
        from edkit.engine.solver import Eigen

        size = sector_size(model, sector, request.symmetries)
        res = solve_blocks(model, values, sector, list(request.symmetries), request.fixed, request.nev,
                           request.seed, bool(request.options.get("conjugate_pairs", True)),
                           request.options.get("progress"), size.dimension)
        eig = Eigen(np.array(res["energies"]), None, "blocks", [tuple(d) for d in res["degeneracies"]])
        return eig, BlockSpace(res["dimension"], res)


def _solved_blocks(request: Request) -> int:
    from edkit.engine.symmetry import enumerate_blocks

    return max(1, len(enumerate_blocks(list(request.symmetries), dict(request.fixed))))


BACKEND = register(BlocksBackend())

__all__ = ["BACKEND", "BlockSpace", "BlocksBackend"]
