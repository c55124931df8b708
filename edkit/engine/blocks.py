"""Lowest levels of a sector searched across all of its symmetry blocks.

A ground state or gap computed in one momentum or parity block is wrong when the true ground state
sits in another block. :func:`block_spectrum` therefore enumerates **every** block of the requested
symmetries (:func:`edkit.engine.symmetry.enumerate_blocks`), diagonalizes each, and merges the levels,
labelling each level with the block that holds it.

- Every symmetry is checked on the model's terms first (:func:`edkit.engine.symmetry.resolve`); a symmetry
  that does not hold is refused with the reason, before anything is built.
- The request is planned before anything is built (:mod:`edkit.engine.planning`, backend ``"blocks"``,
  :mod:`edkit.engine.backends.blocks`): a largest block that will not fit is refused with numbers.
- For a real Hamiltonian, complex conjugation maps momentum ``K`` onto ``-K`` with the same
  spectrum, so blocks ``k = m`` and ``k = L - m`` are solved once (``conjugate_pairs=True``,
  reported as ``"mirror_of"``). This is an exact identity; the tests check it by recombination.
- Blocks with no states (possible for small clusters) are listed with dimension 0.
- OpenBLAS runs single-threaded while blocks are solved (:func:`edkit.engine.backend_quspin.blas_threads`;
  ``EDKIT_BLAS_THREADS`` overrides): on the shared 2-core machines a threaded dense ``eigh`` was
  up to 37x slower under load, ARPACK 12x.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from edkit.core.model import Model, Sector, SectorError
from edkit.engine.progress import PROGRESS_DIMENSION, stderr_progress  # noqa: F401  (re-exported)
from edkit.engine.solver import group_degenerate, lowest
from edkit.engine.symmetry import Block, Symmetry, SymmetryError, enumerate_blocks, resolve


def _real_hamiltonian(model: Model, values: Mapping[str, object] | None) -> bool:
    return all(abs(complex(c).imag) == 0 for c, _ in model.numeric_terms(values))


def _mirror_key(block: Block, L: int) -> tuple:
    labels = dict(block.labels)
    labels["k"] = (-labels["k"]) % L
    return tuple(sorted(labels.items()))


def block_spectrum(model: Model, values: Mapping[str, object] | None, sector: Sector,
                   symmetries: Iterable[str] | Mapping[str, object], *, nev: int = 1,
                   fixed: Mapping[str, int] | None = None, conjugate_pairs: bool = True,
                   seed: int = 0, progress: Callable[[str], None] | None = None) -> dict:
    """The ``nev`` lowest levels of a sector, searched in every block of ``symmetries``.

    Parameters
    ----------
    model, values, sector
        The model, its parameter values and the ``(N_up, N_dn)`` sector.
    symmetries
        Labels ``"k"``, ``"P"``, ``"Z"``, ``"C"`` (or aliases); a mapping's keys are used and its
        integer values are taken as fixed quantum numbers (``{"k": 0, "Z": None}``: only ``k = 0``,
        both ``Z``); ``"all"``: every symmetry that holds here.
    nev
        Levels wanted in total; each block is asked for ``nev`` levels (or all of its states).
    fixed
        Quantum numbers to hold fixed (only those blocks are solved).
    conjugate_pairs
        Solve ``k = m`` and ``k = -m`` once when the Hamiltonian is real.
    progress
        Called with one line per block; default: a printer to stderr when blocks are estimated at
        :data:`PROGRESS_DIMENSION` states or more (silent for small runs).

    Returns
    -------
    dict
        ``{"symmetries", "blocks": [{"labels", "dimension", "energies", "method", "seconds",
        "mirror_of"}], "levels": [{"energy", "block"}], "energies", "degeneracies",
        "ground_block", "dimension"}``; ``dimension`` sums the block dimensions (equal to the sector
        dimension when no quantum number is fixed).

    Raises
    ------
    SymmetryError
        A symmetry does not hold (with the reason) or a fixed quantum number does not exist.
    TooLargeError
        The largest block would not fit in memory, or would take too long (with the estimate):
        the request is planned like any other (:mod:`edkit.engine.planning`, backend ``"blocks"``).
    """
    from edkit.engine.backends.base import Request
    from edkit.engine.solve import run

    vals = model.resolve(values)
    if isinstance(symmetries, str):
        symmetries = select_symmetries(model, vals, sector, symmetries)
    fixed_all = dict(fixed or {})
    if isinstance(symmetries, Mapping):
        fixed_all.update({k: v for k, v in symmetries.items() if v is not None and v != "all"})
    syms: list[Symmetry] = resolve(model, vals, sector, symmetries)
    enumerate_blocks(syms, fixed_all)  # a fixed quantum number that does not exist fails here
    request = Request(nev=nev, method="blocks", symmetries=tuple(syms), fixed=fixed_all, seed=seed,
                      options={"conjugate_pairs": conjugate_pairs, "progress": progress})
    _, space = run(model, vals, sector, request)
    return space.result


def solve_blocks(model: Model, values: Mapping[str, float], sector: Sector, syms: list[Symmetry],
                 fixed: Mapping[str, int], nev: int, seed: int = 0, conjugate_pairs: bool = True,
                 progress: Callable[[str], None] | None = None, largest: int = 0) -> dict:
    """Solve every block of checked symmetries and merge (no planning: see :func:`block_spectrum`).

    ``largest`` is the estimated dimension of the largest block (progress lines from
    :data:`PROGRESS_DIMENSION` on).
    """
    from edkit.engine.backend_quspin import blas_threads

    blocks = enumerate_blocks(list(syms), dict(fixed))
    if progress is None and largest >= PROGRESS_DIMENSION:
        progress = stderr_progress
    terms = model.numeric_terms(values)
    mirror = conjugate_pairs and any(s.label == "k" for s in syms) and _real_hamiltonian(model, values)
    with blas_threads():
        rows = _solve_blocks(model, sector, blocks, terms, nev, seed, mirror, progress)
    return merge(rows, nev, syms)


def _solve_blocks(model: Model, sector: Sector, blocks: list[Block], terms, nev: int, seed: int,
                  mirror: bool, progress) -> list[dict]:
    from edkit.engine import backend_quspin

    L = model.lattice.L
    solved: dict[tuple, dict] = {}
    rows = []
    for block in blocks:
        key = tuple(sorted(block.labels))
        row = {"labels": block.describe(L), "mirror_of": None}
        if mirror and _mirror_key(block, L) in solved and _mirror_key(block, L) != key:
            src = solved[_mirror_key(block, L)]
            row.update({k: src[k] for k in ("dimension", "energies", "method")})
            row.update({"seconds": 0.0, "mirror_of": src["labels"]})
            rows.append(row)
            if progress is not None:
                progress(f"block {row['labels']}: same levels as {src['labels']} (complex conjugate)")
            continue
        start = time.perf_counter()
        try:
            space = backend_quspin.make_space(model, sector, block)
        except SectorError:
            row.update({"dimension": 0, "energies": [], "method": None, "seconds": 0.0})
        else:
            H = backend_quspin.operator_matrix(space, terms)
            eig = lowest(H, min(nev, space.dimension), seed=seed)
            row.update({"dimension": space.dimension, "energies": [float(e) for e in eig.energies],
                        "method": eig.method})
            row["seconds"] = round(time.perf_counter() - start, 3)
            del H, space
        row.setdefault("seconds", round(time.perf_counter() - start, 3))
        solved[key] = row
        rows.append(row)
        if progress is not None:
            e0 = f"{row['energies'][0]:.10f}" if row["energies"] else "-"
            progress(f"block {row['labels']}: dimension {row['dimension']:,}, E0 = {e0}, "
                     f"{row['seconds']:.1f} s")
    return rows


def merge(rows: list[dict], nev: int, symmetries: Iterable[Symmetry] = ()) -> dict:
    """Merge per-block levels into the ``nev`` lowest, each labelled with its block."""
    levels = sorted(((e, r["labels"]) for r in rows for e in r["energies"]), key=lambda x: x[0])[:nev]
    energies = np.array([e for e, _ in levels])
    return {
        "symmetries": [s.label for s in symmetries],
        "blocks": rows,
        "levels": [{"energy": float(e), "block": lab} for e, lab in levels],
        "energies": [float(e) for e in energies],
        "degeneracies": [[e, k] for e, k in group_degenerate(energies)],
        "ground_block": levels[0][1] if levels else None,
        "dimension": int(sum(r["dimension"] for r in rows)),
    }


def ground_energy_across_blocks(model: Model, values: Mapping[str, object] | None, sector: Sector,
                                symmetries: Iterable[str] | Mapping[str, object]) -> tuple[float, dict]:
    """Lowest energy over all blocks, and the block that holds it."""
    out = block_spectrum(model, values, sector, symmetries, nev=1)
    if not out["levels"]:
        raise SectorError("no block of the sector has states")
    return out["levels"][0]["energy"], out["levels"][0]["block"]


__all__ = ["block_spectrum", "ground_energy_across_blocks", "merge", "select_symmetries", "solve_blocks",
           "stderr_progress"]


def select_symmetries(model: Model, values: Mapping[str, object] | None, sector: Sector,
                      request: object, *, per_sector: bool = False) -> dict[str, int | None]:
    """Normalize a symmetry request into ``{label: fixed quantum number or None}``.

    Parameters
    ----------
    request
        ``"all"`` (every symmetry that holds for this model, values and sector), a mapping
        ``{label: value | None | "all"}``, or an iterable of labels.
    per_sector
        Drop requested symmetries that hold for the Hamiltonian but not for this sector (spin
        inversion away from ``Sz = 0``, particle-hole away from half filling) instead of refusing
        them; used when one request serves several sectors (gaps). A symmetry that does not hold
        for the Hamiltonian is always refused.

    Raises
    ------
    SymmetryError
        Unknown label, or a symmetry that does not hold (with the reason).
    """
    from edkit.engine.backend_quspin import block_support
    from edkit.engine.symmetry import (
        candidates,
        check_symmetry,
        holds,
        make_symmetry,
        normalize_label,
    )

    if isinstance(request, str):
        if request.strip().lower() != "all":
            raise SymmetryError(f"symmetries must be 'all', a mapping or a list of labels, got {request!r}")
        out: dict[str, int | None] = {}
        for sym in candidates(model):
            if holds(model, values, sym, sector)[0] and block_support(model, sym) is None:
                out[sym.label] = None
        return out
    items = dict(request) if isinstance(request, Mapping) else {k: None for k in request}
    out = {}
    for key, v in items.items():
        lab = normalize_label(key)
        value = None if v is None or (isinstance(v, str) and v.lower() == "all") else v
        if per_sector:
            sym = make_symmetry(model, lab)
            check_symmetry(model, values, sym, None)  # the Hamiltonian itself: refuse
            if not holds(model, values, sym, sector)[0]:
                continue
        out[lab] = value
    return out
