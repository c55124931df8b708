"""QuSpin stored matrix: the sector's sparse Hamiltonian, then dense ``eigh`` or ARPACK Lanczos.

The general backend: any model, any plain ``(N, Sz, ...)`` sector, occupation constraints
included (:mod:`edkit.engine.backend_quspin` builds the basis and the matrix). Its cost model:

- memory: CSR values (8 or 16 bytes) with int32 indices (int64 above 2^31 entries); QuSpin's build
  holds about :data:`BUILD_OVERHEAD` times the final matrix (measured 2.4-2.6x); ARPACK keeps
  ``ncv = max(2 nev + 1, 40)`` vectors (twice, with the returned vectors, when ``nev > 1``: the
  multiplet check runs a second ARPACK); the basis 12 bytes per built state; a dense
  diagonalization (``nev`` close to the dimension, or a small sector) three dense matrices;
- time (measured on the project's 2-core machines, rough): build ~0.5 us per non-zero
  (:data:`BUILD_RATE` x the group order in a symmetry block), Lanczos for one level
  :data:`LANCZOS_RATE` per non-zero, ``nev > 1`` levels :data:`ORTHO_RATE` x dimension x nev x ncv
  more (restarts and re-orthogonalization: Hubbard L=10, 63,504 states, nev=20 took 9.9 s,
  nev=100 385 s), dense :data:`DENSE_RATE` x dimension^3.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from edkit.core.model import Model, Sector
from edkit.core.units import format_bytes, format_count, format_seconds
from edkit.engine import backend_quspin
from edkit.engine.backends.base import Estimate, Request, where
from edkit.engine.backends.registry import register
from edkit.engine.memory import memory_limit
from edkit.engine.progress import PROGRESS_DIMENSION, stderr_progress
from edkit.engine.sizes import SectorSize, as_float, sector_size
from edkit.engine.solver import DENSE_LIMIT, lowest

BYTES_PER_NONZERO = 8 + 4  # float64 value + int32 column index
#: QuSpin's build holds about this many times the final matrix (COO triplets and the CSR copy).
BUILD_OVERHEAD = 3
#: Seconds per stored non-zero to build (x max(5/3, group order) in a symmetry block).
BUILD_RATE = 3e-7
#: Seconds per non-zero for ARPACK's lowest level (~300 matvecs).
LANCZOS_RATE = 1.3e-6
#: Seconds per (dimension x nev x ncv) for more than one level (restarts, re-orthogonalization,
#: the multiplet check).
ORTHO_RATE = 3e-7
#: Seconds per dimension^3 of a dense diagonalization (``eigvalsh`` 0.8e-10, ``eigh`` 1.5e-10 measured).
DENSE_RATE = {False: 1e-10, True: 2e-10}
#: ARPACK's smallest ``ncv`` (:func:`edkit.engine.solver.lowest`).
MIN_VECTORS = 40


def eigen_cost(dim: int, nnz: int, nev: int, vectors: bool, value: int,
               dense_limit: int = DENSE_LIMIT, n_vectors: int = MIN_VECTORS) -> dict:
    """Cost of the lowest ``nev`` levels of a stored ``dim x dim`` matrix with ``nnz`` non-zeros.

    Dense when :func:`edkit.engine.solver.lowest` would be (``dim <= dense_limit`` or
    ``nev >= dim - 1``), or when ``nev > 1`` and a dense diagonalization is estimated faster than
    ARPACK and fits in memory. Returns ``{"dense", "bytes", "seconds", "ncv", "what"}``; ``bytes``
    is what the eigensolver adds to the stored matrix.
    """
    nev = max(1, min(int(nev), dim))
    dense_bytes = dim * dim * value * 3
    dense_seconds = as_float(dim ** 3) * DENSE_RATE[bool(vectors)]
    ncv = min(dim, max(2 * nev + 1, n_vectors))
    arpack_bytes = ncv * dim * value if nev == 1 else (2 * ncv + 2 * nev) * dim * value
    arpack_seconds = as_float(nnz) * LANCZOS_RATE * (1 if nev == 1 else 2)
    if nev > 1:
        arpack_seconds += ORTHO_RATE * as_float(dim * nev * ncv)
    forced = dim <= dense_limit or nev >= dim - 1
    dense = forced or (nev > 1 and dense_seconds < arpack_seconds and dense_bytes <= memory_limit())
    if dense:
        levels = f"all {format_count(dim)} levels" if nev >= dim - 1 else f"{format_count(nev)} of " \
            f"{format_count(dim)} levels"
        return {"dense": True, "bytes": dense_bytes, "seconds": dense_seconds, "ncv": 0,
                "what": f"dense diagonalization ({levels})"}
    return {"dense": False, "bytes": arpack_bytes, "seconds": arpack_seconds, "ncv": ncv,
            "what": f"ARPACK with {format_count(ncv)} vectors for {format_count(nev)} level(s)"}


def stored_estimate(size: SectorSize, request: Request, dense_limit: int = DENSE_LIMIT,
                    n_vectors: int = MIN_VECTORS) -> Estimate:
    """Peak memory and rough time of the stored path for a counted sector (or its largest block).

    Peak = basis + max(build, matrix + eigensolver); the numbers are in ``numbers`` under the keys
    of ``edkit plan --json`` (``bytes_matrix``, ``bytes_vectors``, ``bytes_build``, ``bytes_basis``,
    ``build_seconds``, ``solve_seconds``).
    """
    dim, nnz, value = size.dimension, size.nonzeros, size.value_bytes
    index = 8 if max(nnz, dim) >= 2**31 else 4
    matrix = nnz * (value + index) + (dim + 1) * index
    basis = size.built_per_block * 12
    build = matrix * BUILD_OVERHEAD
    nev = request.nev
    cost = eigen_cost(dim, nnz, nev, request.vectors, value, dense_limit, n_vectors)
    vectors = n_vectors * dim * value if cost["dense"] else cost["bytes"]
    peak = basis + max(build, matrix + vectors)
    if cost["dense"]:
        peak = max(peak, cost["bytes"])
    build_seconds = as_float(nnz) * BUILD_RATE * max(5 / 3, size.symmetry_reduction)
    what = cost["what"] if cost["dense"] else f"stored matrix ({format_bytes(matrix)}), {cost['what']}"
    return Estimate(peak, build_seconds + cost["seconds"], dim, what, {
        "nonzeros": nnz, "bytes_matrix": int(matrix), "bytes_vectors": int(vectors),
        "bytes_build": build, "bytes_basis": basis, "build_seconds": build_seconds,
        "solve_seconds": cost["seconds"], "dense": cost["dense"], "ncv": cost["ncv"]})


class StoredBackend:
    """QuSpin basis and stored sparse matrix of the plain sector; dense or ARPACK eigensolver."""

    name = "stored"
    space = None

    def supports(self, model: Model, sector: Sector, request: Request) -> str | None:
        """Every model and plain sector; symmetry blocks belong to the ``blocks`` backend."""
        if request.symmetries:
            return "it solves the plain sector; symmetry blocks are built by the 'blocks' backend"
        return None

    def estimate(self, model: Model, sector: Sector, request: Request) -> Estimate:
        """:func:`stored_estimate` of the counted sector."""
        return stored_estimate(sector_size(model, sector), request)

    def solve(self, model: Model, values: Mapping[str, float], sector: Sector,
              request: Request) -> tuple:
        """Build the basis and the matrix, then :func:`edkit.engine.solver.lowest`."""
        size = sector_size(model, sector)
        progress = stderr_progress if size.dimension >= PROGRESS_DIMENSION else None
        start = time.perf_counter()
        if progress is not None:
            est = stored_estimate(size, request)
            progress(f"{where(model, sector)}: building the stored matrix, {format_count(size.dimension)} "
                     f"states, ~{format_count(size.nonzeros)} non-zeros, ~{format_bytes(est.bytes)} "
                     f"(rough: build {format_seconds(est.numbers['build_seconds'])}, "
                     f"solve {format_seconds(est.numbers['solve_seconds'])})")
        terms = model.numeric_terms(values)
        space = backend_quspin.make_space(model, sector)
        H = backend_quspin.operator_matrix(space, terms)
        if progress is not None:
            progress(f"built in {format_seconds(time.perf_counter() - start)}; "
                     f"{request.nev:,} level(s)")
        value = 16 if H.dtype.kind == "c" else 8
        dense = eigen_cost(H.shape[0], H.nnz, request.nev, request.vectors, value)["dense"]
        eig = lowest(H, request.nev, vectors=request.vectors, seed=request.seed,
                     dense_limit=max(H.shape[0], DENSE_LIMIT) if dense else DENSE_LIMIT)
        if progress is not None:
            progress(f"done in {format_seconds(time.perf_counter() - start)}: E0 = {eig.energies[0]:.12f}")
        return eig, space

    def operator(self, model: Model, values: Mapping[str, float], sector: Sector,
                 request: Request) -> tuple:
        """``(op, space)``: the sector's stored sparse Hamiltonian as a SciPy ``LinearOperator``
        (``op.matrix`` is the CSR matrix; no transposed copy is kept) and its QuSpin space, for
        callers that run their own Krylov recursion (finite-temperature Lanczos,
        :mod:`edkit.thermodynamics`)."""
        import scipy.sparse.linalg as sla

        terms = model.numeric_terms(values)
        space = backend_quspin.make_space(model, sector)
        H = backend_quspin.operator_matrix(space, terms)
        op = sla.LinearOperator(H.shape, matvec=H.dot, matmat=H.dot, dtype=H.dtype)
        op.matrix = H
        return op, space


BACKEND = register(StoredBackend())

__all__ = ["BACKEND", "BUILD_OVERHEAD", "BYTES_PER_NONZERO", "StoredBackend", "eigen_cost",
           "stored_estimate"]
