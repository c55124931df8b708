"""Size and memory estimates made before anything large is built."""

from __future__ import annotations

import os
from dataclasses import dataclass
from math import comb

from edkit.core.model import Model, Sector

BYTES_PER_NONZERO = 8 + 4  # float64 value + int32 column index
BUILD_OVERHEAD = 3.0  # COO triplets and the CSR copy coexist while QuSpin builds


class TooLargeError(MemoryError):
    """The requested sector would not fit in memory."""


@dataclass
class Plan:
    """Estimated sizes of one sector's sparse Hamiltonian."""

    dimension: int
    built_dimension: int
    nonzeros: int
    bytes: int
    available: int

    def describe(self) -> str:
        """One line with the numbers."""
        return (f"dimension {self.dimension:,} (built {self.built_dimension:,}), "
                f"~{self.nonzeros:,} non-zeros, ~{self.bytes / 2**30:.2f} GiB needed, "
                f"{self.available / 2**30:.1f} GiB available")


def available_memory() -> int:
    """Available memory in bytes (``MemAvailable``; 8 GiB if unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


def plan(model: Model, sector: Sector, n_vectors: int = 40) -> Plan:
    """Estimate dimension, non-zeros and memory of a sector before building it.

    The non-zero count assumes each off-diagonal word acts on a quarter of the states (two-
    fermion words) or a sixteenth (four-fermion words), plus the diagonal.
    """
    n = model.n_orbitals
    if model.spinful:
        built = comb(n, sector.n_up) * comb(n, sector.n_dn)
    else:
        built = comb(n, sector.n_up)
    dim = built
    for con in model.constraints:  # rough: fraction of the 4 local states allowed
        weights = {0: 1, 1: 2, 2: 1}
        dim = int(dim * sum(weights.get(k, 0) for k in con.allowed) / 4) or 1
    offdiag = 0.0
    for t in model.terms:
        word = t.word
        creators = sorted(m for m, d in word if d)
        annihilators = sorted(m for m, d in word if not d)
        if creators != annihilators:
            offdiag += 0.5 ** len(word)
    nnz = int(built * (1 + offdiag))
    size = int(nnz * BYTES_PER_NONZERO * BUILD_OVERHEAD + n_vectors * dim * 8)
    return Plan(dim, built, nnz, size, available_memory())


def check_fits(model: Model, sector: Sector, fraction: float = 0.8) -> Plan:
    """Raise :class:`TooLargeError` if the estimate exceeds ``fraction`` of available memory."""
    p = plan(model, sector)
    limit = int(os.environ.get("EDKIT_MEMORY_LIMIT", 0)) or int(p.available * fraction)
    if p.bytes > limit:
        raise TooLargeError(
            f"{model.name} L={model.lattice.L} sector (N_up={sector.n_up}, N_dn={sector.n_dn}) "
            f"is too large: {p.describe()}; refusing to build (limit {limit / 2**30:.1f} GiB)")
    return p
