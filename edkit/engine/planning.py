"""Size and memory estimates made before anything large is built."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np
import sympy

from edkit.core.errors import EdkitError
from edkit.core.model import Model, Sector
from edkit.core.modes import UP

BYTES_PER_NONZERO = 8 + 4  # float64 value + int32 column index
BUILD_OVERHEAD = 3.0  # COO triplets and the CSR copy coexist while QuSpin builds


class TooLargeError(EdkitError, MemoryError):
    """The requested sector would not fit in memory."""


@dataclass
class Plan:
    """Estimated sizes of one sector's (or symmetry block's) sparse Hamiltonian.

    ``dimension`` is the number of states diagonalized (after constraints; per block when
    symmetries are given), ``built_dimension`` the basis QuSpin builds before constraints,
    ``nonzeros`` the stored matrix elements, ``bytes`` the estimated peak memory of the path.
    ``matrix_free_possible``: :mod:`edkit.engine.matfree` applies here (no constraints, no symmetry
    blocks, at most 24 orbitals) and its vectors fit in memory.
    """

    dimension: int
    built_dimension: int
    nonzeros: int
    bytes: int
    available: int
    sector_dimension: int = 0
    symmetry_reduction: int = 1
    complex_values: bool = False
    matrix_bytes: int = 0
    vector_bytes: int = 0
    build_bytes: int = 0
    basis_bytes: int = 0
    matrix_free_bytes: int = 0
    path: str = "sparse"
    build_seconds: float = 0.0
    symmetries: tuple[str, ...] = ()
    solve_seconds: float = 0.0
    n_blocks: int = 1
    n_blocks_solved: int = 1
    matrix_free_seconds: float = 0.0
    matrix_free_possible: bool = False

    def describe(self) -> str:
        """One line with the numbers."""
        block = (f" per block of {''.join(self.symmetries)} (sector {self.sector_dimension:,})"
                 if self.symmetry_reduction > 1 else "")
        return (f"dimension {self.dimension:,}{block} (built {self.built_dimension:,}), "
                f"~{self.nonzeros:,} non-zeros, ~{self.bytes / 2**30:.2f} GiB needed, "
                f"{self.available / 2**30:.1f} GiB available")

    def as_dict(self) -> dict:
        """Plain data for ``edkit plan --json``."""
        return {
            "dimension": self.dimension, "sector_dimension": self.sector_dimension,
            "built_dimension": self.built_dimension, "symmetries": list(self.symmetries),
            "symmetry_reduction": self.symmetry_reduction, "nonzeros": self.nonzeros,
            "complex": self.complex_values, "bytes_peak": self.bytes,
            "bytes_matrix": self.matrix_bytes, "bytes_vectors": self.vector_bytes,
            "bytes_build": self.build_bytes, "bytes_basis": self.basis_bytes,
            "bytes_matrix_free": self.matrix_free_bytes, "bytes_available": self.available,
            "path": self.path, "build_seconds_rough": round(self.build_seconds, 1),
            "lanczos_seconds_rough": round(self.solve_seconds, 1), "blocks": self.n_blocks,
            "blocks_solved": self.n_blocks_solved,
            "matrix_free_seconds_rough": round(self.matrix_free_seconds, 1),
            "all_blocks_seconds_rough": round(self.n_blocks_solved * (self.build_seconds
                                                                      + self.solve_seconds), 1),
        }


#: Lanczos steps assumed by the rough matrix-free time (measured: 90-290 steps from 0.85M to 166M states).
MATRIX_FREE_STEPS = 300

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


def _local_poly(n_up: int, n_dn: int, allowed: Sequence[int] | None, fixed_up: Sequence[int] = (),
                fixed_dn: Sequence[int] = ()) -> np.ndarray:
    """Count of local configurations by (up, dn) occupation, fixed modes' occupations imposed.

    ``n_up``/``n_dn`` free modes of each spin plus fixed ones (0/1 each); ``allowed`` restricts the
    total occupation of the group (``None``: no restriction).
    """
    fu, fd = int(sum(fixed_up)), int(sum(fixed_dn))
    tu, td = n_up + len(fixed_up), n_dn + len(fixed_dn)
    out = np.zeros((tu + 1, td + 1), dtype=object)
    for a in range(n_up + 1):
        for b in range(n_dn + 1):
            if allowed is None or (a + fu + b + fd) in allowed:
                out[a + fu, b + fd] = comb(n_up, a) * comb(n_dn, b)
    return out


def _poly_mul(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.zeros((x.shape[0] + y.shape[0] - 1, x.shape[1] + y.shape[1] - 1), dtype=object)
    for (i, j), c in np.ndenumerate(y):
        if c:
            out[i:i + x.shape[0], j:j + x.shape[1]] += c * x
    return out


def count_states(model: Model, sector: Sector, fixed: dict | None = None,
                 constrained: bool = True) -> int | None:
    """Exact number of sector states satisfying the constraints and the ``fixed`` occupations.

    ``fixed`` maps modes to 0/1. Returns ``None`` when constraint groups overlap (then the caller
    falls back to an estimate).
    """
    fixed = fixed or {}
    cons = (tuple(model.constraints) + tuple(sector.constraints)) if constrained else ()
    seen: set = set()
    for c in cons:
        if seen & set(c.modes):
            return None
        seen |= set(c.modes)
    spin_up = (lambda m: m.spin == UP) if model.spinful else (lambda m: True)
    if not cons:  # product of binomials: free modes of each spin hold the remaining particles
        n_up = sum(1 for m in model.modes if spin_up(m))
        n_dn = len(model.modes) - n_up
        fu = [v for m, v in fixed.items() if spin_up(m)]
        fd = [v for m, v in fixed.items() if not spin_up(m)]
        a, b = sector.n_up - sum(fu), sector.n_dn - sum(fd)
        if min(a, b) < 0 or a > n_up - len(fu) or b > n_dn - len(fd):
            return 0
        return comb(n_up - len(fu), a) * comb(n_dn - len(fd), b)
    poly = np.ones((1, 1), dtype=object)
    for c in cons:
        ups = [m for m in c.modes if spin_up(m)]
        dns = [m for m in c.modes if not spin_up(m)]
        fu = [fixed[m] for m in ups if m in fixed]
        fd = [fixed[m] for m in dns if m in fixed]
        poly = _poly_mul(poly, _local_poly(len(ups) - len(fu), len(dns) - len(fd), c.allowed, fu, fd))
    rest = [m for m in model.modes if m not in seen]
    ups = [m for m in rest if spin_up(m)]
    dns = [m for m in rest if not spin_up(m)]
    fu = [fixed[m] for m in ups if m in fixed]
    fd = [fixed[m] for m in dns if m in fixed]
    poly = _poly_mul(poly, _local_poly(len(ups) - len(fu), len(dns) - len(fd), None, fu, fd))
    a, b = sector.n_up, sector.n_dn
    if a >= poly.shape[0] or b >= poly.shape[1] or a < 0 or b < 0:
        return 0
    return int(poly[a, b])


def _flip_patterns(model: Model, terms) -> tuple[set, bool]:
    """Distinct off-diagonal actions ``(before, after)`` of the Hamiltonian's words."""
    patterns = set()
    diagonal = False
    for t in terms:
        word = t.word if hasattr(t, "word") else t[1]
        created = {m for m, d in word if d}
        annihilated = {m for m, d in word if not d}
        if created == annihilated:
            diagonal = diagonal or bool(word)
            continue
        # the word needs annihilated-only modes occupied and created-only modes empty
        before = tuple(sorted(((m, 1) for m in annihilated - created), key=str)) + tuple(
            sorted(((m, 0) for m in created - annihilated), key=str))
        patterns.add(before)
    return patterns, diagonal


def plan(model: Model, sector: Sector, n_vectors: int = 40, symmetries: Sequence = (),
         dense_limit: int = 2000) -> Plan:
    """Estimate dimension, non-zeros, memory and the path before building anything.

    Counting (exact up to accidental cancellations, when constraint groups are disjoint): the
    dimension is the number of sector states that satisfy the constraints (generating functions);
    every distinct off-diagonal action of the Hamiltonian's words (the modes it empties and fills)
    contributes the number of states on which it can act, and the diagonal one entry per state. With
    lattice ``symmetries`` (checked :class:`edkit.engine.symmetry.Symmetry` objects) dimension and non-zeros
    are divided by the order of the largest block's group (blocks of one group are about equal in
    size; momentum blocks at K != 0, pi carry no parity, so with ``k`` and ``P`` the largest blocks
    are twice the K = 0 ones).

    Memory: CSR values (8 or 16 bytes) with int32 indices (int64 above 2^31 entries); QuSpin's build
    holds about :data:`BUILD_OVERHEAD` times the final matrix (measured 2.4-2.6x); Lanczos keeps
    ``n_vectors`` vectors; peak = basis + max(build, matrix + vectors).

    Paths: ``dense`` up to ``dense_limit`` states, ``sparse`` (stored matrix, Lanczos) when the peak
    fits in the available memory; otherwise ``matrix-free`` when :mod:`edkit.engine.matfree` applies (no
    constraints, no blocks, <= 24 orbitals) and its four vectors fit (``bytes_matrix_free``; measured
    0.3-0.6x the stored matvec time, ground energy by three-vector Lanczos), else ``too-large``.
    The high-level API (:mod:`edkit.api`) takes the matrix-free path by itself for ground energies
    (``nev=1``, no eigenvectors) on the ``matrix-free`` path, and by default also on ``sparse``
    sectors of at least ``edkit.api.MATRIX_FREE_DIMENSION`` states; it refuses other requests on
    the ``matrix-free`` path with these numbers.
    """
    n = model.n_orbitals
    if model.spinful:
        built = comb(n, sector.n_up) * comb(n, sector.n_dn)
    else:
        built = comb(n, sector.n_up)
    exact = count_states(model, sector)
    dim = exact if exact is not None else _rough_constrained(model, built)
    canon = [(c, w) for w, c in model.canonical_terms().items()]
    patterns, diagonal = _flip_patterns(model, canon)
    offdiag = 0
    for before in patterns:
        c = count_states(model, sector, dict(before))
        if c is None:
            c = count_states(model, sector, dict(before), constrained=False) * dim // max(built, 1)
        offdiag += c
    nnz = offdiag + (dim if diagonal else 0)
    order = 1
    labels: list[str] = []
    for s in symmetries:
        order *= int(s.order)
        labels.append(s.label)
    if "k" in labels and "P" in labels and next(s.order for s in symmetries if s.label == "k") > 2:
        order //= 2  # the largest blocks (K != 0, pi) carry no parity label
    block_dim = -(-dim // order)
    block_nnz = -(-nnz // order)
    is_complex = any(getattr(s, "label", "") == "k" for s in symmetries) or any(
        _is_complex(c) for c, _ in canon)
    value = 16 if is_complex else 8
    index = 8 if max(block_nnz, block_dim) >= 2**31 else 4
    matrix = block_nnz * (value + index) + (block_dim + 1) * index
    vectors = n_vectors * block_dim * value
    basis = -(-built // order) * 12
    build = int(matrix * BUILD_OVERHEAD)
    peak = basis + max(build, matrix + vectors)
    avail = available_memory()
    if block_dim <= dense_limit:
        path = "dense"
        peak = max(peak, block_dim * block_dim * value * 3)
    elif peak <= memory_limit(avail):
        path = "sparse"
    else:
        path = "too-large"
    # edkit.engine.matfree: four vectors, small tables; unconstrained models, no symmetry blocks
    free = 4 * dim * value + (2 ** (n + 4) if n <= 24 else 0)
    free_ok = (not symmetries and not (model.constraints or sector.constraints) and n <= 24
               and free <= memory_limit(avail))
    if path == "too-large" and free_ok:
        path = "matrix-free"
    # measured here (2 cores, loaded): QuSpin builds ~0.5 us per non-zero without symmetries and
    # 0.2-0.5 us x group order per non-zero in a symmetry block; Lanczos 1.2-1.6 us per non-zero
    seconds = block_nnz * 3e-7 * max(5 / 3, order)
    solve = 0.0 if block_dim <= dense_limit else block_nnz * 1.3e-6
    n_blocks, n_solved = _count_blocks(symmetries)
    # matrix-free ground energy (2 numba threads): ~300 Lanczos steps of ~7 ns per state for the
    # Hubbard-like words (8-rung bilayer: 290 steps of 1.2 s at 165.6M states); words outside the
    # one-body/density classes take a slower path
    free_seconds = MATRIX_FREE_STEPS * dim * 7e-9
    return Plan(block_dim, built, block_nnz, int(peak), avail, sector_dimension=dim,
                symmetry_reduction=order, complex_values=is_complex, matrix_bytes=int(matrix),
                vector_bytes=int(vectors), build_bytes=build, basis_bytes=basis,
                matrix_free_bytes=int(free), path=path, build_seconds=seconds,
                solve_seconds=solve, n_blocks=n_blocks, n_blocks_solved=n_solved,
                matrix_free_seconds=free_seconds, matrix_free_possible=free_ok,
                symmetries=tuple(labels))


def _count_blocks(symmetries: Sequence) -> tuple[int, int]:
    """Blocks of the symmetries, and how many are solved when k and -k are paired (real H)."""
    if not symmetries:
        return 1, 1
    from edkit.engine.symmetry import enumerate_blocks

    blocks = enumerate_blocks(list(symmetries))
    solved = 0
    for b in blocks:
        lab = b.label_dict
        if "k" in lab:
            L = next(s.order for s in symmetries if s.label == "k")
            if lab["k"] > L // 2:
                continue
        solved += 1
    return len(blocks), solved


def _is_complex(c) -> bool:
    try:
        return bool(sympy.im(c) != 0)
    except TypeError:
        return True


def _rough_constrained(model: Model, built: int) -> int:
    dim = built
    for con in model.constraints:  # rough: fraction of the 4 local states allowed
        weights = {0: 1, 1: 2, 2: 1}
        dim = int(dim * sum(weights.get(k, 0) for k in con.allowed) / 4) or 1
    return dim


def memory_limit(available: int, fraction: float = 0.8) -> int:
    """Bytes edkit allows itself: ``EDKIT_MEMORY_LIMIT`` if set, else ``fraction`` of available."""
    return int(os.environ.get("EDKIT_MEMORY_LIMIT", 0)) or int(available * fraction)


def check_fits(model: Model, sector: Sector, fraction: float = 0.8, symmetries: Sequence = (),
               allow_matrix_free: bool = False) -> Plan:
    """Raise :class:`TooLargeError` if the estimate exceeds ``fraction`` of available memory.

    With ``symmetries`` the estimate is per block (blocks are built one at a time). With
    ``allow_matrix_free`` a sector whose stored matrix does not fit but whose matrix-free Lanczos
    does is accepted: the returned plan then has ``path == "matrix-free"``.
    """
    p = plan(model, sector, symmetries=symmetries)
    limit = memory_limit(p.available, fraction)
    if p.bytes > limit and not (allow_matrix_free and p.path == "matrix-free"):
        hint = ""
        if not symmetries:
            hint = ("; lattice symmetries (translation, reflection, spin inversion) divide the "
                    "dimension by their group order: see `edkit plan`")
        if p.path == "matrix-free":
            hint += (f"; the matrix-free ground energy fits (~{p.matrix_free_bytes / 2**30:.1f} GiB): "
                     "edkit.engine.matfree.lanczos_ground_energy(MatrixFreeHamiltonian(...))")
        raise TooLargeError(
            f"{model.name} L={model.lattice.L} sector (N_up={sector.n_up}, N_dn={sector.n_dn}) "
            f"is too large: {p.describe()}; refusing to build (limit {limit / 2**30:.1f} GiB){hint}")
    return p
