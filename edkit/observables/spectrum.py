"""Energies: the ground-state ``energy`` and the lowest levels (``spectrum``) of a sector.

:func:`spectrum` is the public function (also :func:`edkit.api.spectrum`); the observables
``energy`` and ``spectrum`` registered here give its numbers as flat columns for sweeps and
``edkit compare``: ``energy``; ``E0, E1, ...`` and ``dimension``.
Heavy modules (NumPy, QuSpin) are imported inside the functions.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from edkit.core.errors import InputError
from edkit.observables.registry import Observable, register, split_sector

if TYPE_CHECKING:
    from edkit.core.model import Model


def sector_dict(m: Model, N: int, Sz: float | None, extra: Mapping[str, float] | None) -> dict:
    """The ``"sector"`` entry of a result: ``{"N", "Sz"}`` (``{"N"}`` if spinless) and ``extra``."""
    out = {"N": N, "Sz": Sz} if m.spinful else {"N": N}
    out.update(dict(extra or {}))
    return out


def check_nev(nev: object) -> int:
    """``nev`` as a positive integer (levels to compute); anything else is refused.

    Raises
    ------
    InputError
        For ``nev`` below 1 (``0`` gave no level, ``-1`` all but one), a boolean or a non-integer.
    """
    if isinstance(nev, bool) or not isinstance(nev, numbers.Integral) or nev < 1:
        raise InputError(f"nev must be a positive integer (the number of levels), got {nev!r}")
    return int(nev)


def _label_plan(m: Model, values: Mapping[str, object] | None, N: int, Sz: float | None,
                extra: Mapping[str, float] | None, nev: int) -> tuple[list, int, str | None]:
    """Symmetries to label the default spectrum with, levels to compute, or why there are no labels.

    Returns ``(symmetries, levels to compute, note)``; ``note`` is ``None`` when labelling goes ahead.
    Dense sectors compute every level (``eigh`` returns them all anyway), Lanczos sectors
    :data:`edkit.engine.labels.EXTRA_LEVELS` beyond ``nev`` (never switching the solver's method). Sectors
    whose stored matrix does not fit (matrix-free or too large) are not labelled.
    """
    from edkit.engine.labels import EXTRA_LEVELS, LABEL_DIMENSION, labelling_symmetries
    from edkit.engine.planning import plan as plan_sector
    from edkit.engine.solver import DENSE_LIMIT

    vals = m.resolve(values)  # bad values fail first, as in solve_sector
    sector = m.sector(N, Sz, **dict(extra or {}))
    p = plan_sector(m, sector)
    dim = p.dimension
    if dim > LABEL_DIMENSION:
        return [], nev, (f"levels not labelled: sector dimension {dim:,} is above "
                         f"edkit.engine.labels.LABEL_DIMENSION = {LABEL_DIMENSION:,}; use symmetries='all' "
                         "(--blocks all) for block labels")
    if p.path not in ("dense", "sparse"):
        return [], nev, f"levels not labelled: the sector matrix does not fit in memory ({p.path} path)"
    syms = labelling_symmetries(m, vals, sector)
    if not syms:
        return [], nev, "levels not labelled: no lattice symmetry holds for these values and this sector"
    if dim <= DENSE_LIMIT or nev >= dim - 1:
        return syms, max(nev, dim), None
    return syms, min(nev + EXTRA_LEVELS, dim - 2), None


#: ``"labels_note"`` of a spectrum solved matrix-free.
MATRIX_FREE_LABELS_NOTE = ("levels not labelled: block labels are read from eigenvectors in the stored "
                           "(QuSpin) basis, which the matrix-free path does not build; use symmetries='all' "
                           "(--blocks all) for block labels")


def _goes_matrix_free(m: Model, N: int, Sz: float | None, extra: Mapping[str, float] | None,
                      nev: int) -> bool:
    """Whether the planner would take the matrix-free path for ``nev`` levels with vectors."""
    from edkit.engine.backends.base import Request
    from edkit.engine.planning import choose

    sector = m.sector(N, Sz, **dict(extra or {}))
    return choose(m, sector, Request(nev=nev, vectors=True)).name == "matrix-free"


def spectrum(model: str | Model, values: Mapping[str, object] | None = None, *, N: int,
             Sz: float | None = None, nev: int = 1, L: int | None = None, bc: str = "open",
             vectors: bool = False, extra: Mapping[str, float] | None = None,
             symmetries: object = None, labels: bool = True, method: str = "auto") -> dict:
    """Lowest levels as ``{"model", "L", "bc", "params", "sector", "dimension", "energies", ...}``.

    ``extra`` holds values of sector quantities beyond ``N`` and ``Sz`` (e.g. ``N_s``).
    ``symmetries`` (default ``None``: no lattice symmetry): ``"all"``, a list of labels
    (``"k"``, ``"P"``, ``"Z"``, ``"C"``) or a mapping ``{label: quantum number or None}``; the
    levels are then searched in every block (or the fixed ones) and labelled with their block
    (``"levels"``, ``"blocks"``, ``"ground_block"``; see :func:`edkit.engine.blocks.block_spectrum`).

    By default (``symmetries=None``) the plain ``(N, Sz)`` sector is solved (it holds every block),
    and with ``labels=True`` each level is also labelled with the block that holds it, found from its
    eigenvector (:func:`edkit.engine.labels.label_levels`, same conventions as the block path):
    ``"symmetries"`` (every symmetry that holds here), ``"levels": [{"energy", "block"}]`` and
    ``"ground_block"``. ``"block"`` is ``None`` for a level whose degenerate multiplet was not complete
    among the computed levels (never a guessed label); to make that rare, a Lanczos run computes
    :data:`edkit.engine.labels.EXTRA_LEVELS` levels beyond ``nev`` and a dense run all of them, and the
    ``nev`` lowest are reported. Above :data:`edkit.engine.labels.LABEL_DIMENSION` states, or when no
    symmetry holds, there are no labels and ``"labels_note"`` says why. ``vectors=True`` adds the
    ``nev`` eigenvectors (columns) in the plain sector basis.

    ``method`` (``"auto"``, ``"stored"``, ``"matrix-free"``): see :func:`edkit.engine.solve.solve_sector`.
    On a sector of at least :data:`edkit.engine.solve.MATRIX_FREE_DIMENSION` states (above the
    labelling limit), or one whose stored matrix does not fit, ``"auto"`` goes matrix-free for up to
    :data:`edkit.engine.backends.matrix_free.MAX_MATRIX_FREE_LEVELS` levels. The matrix-free path
    adds ``"residuals"`` (:math:`\\|Hx - Ex\\|` per level, when measured); its ``"degeneracies"``
    are complete (the partners of the highest level are computed too: a twofold ``E[nev-1]`` is
    counted twice, and ``"degeneracies_note"`` says that a partner lies beyond ``nev``), empty for
    ``nev=1`` (the multiplicity is not determined); its ``"vectors"`` are in the ``(up, down)``
    product basis (:class:`edkit.engine.solve.MatrixFreeSpace`); its levels are not labelled with
    blocks (that needs the stored QuSpin basis; ``"labels_note"`` says so).
    """
    from edkit.engine.solve import get_model, solve_sector
    from edkit.engine.solver import group_degenerate

    check_nev(nev)
    m = get_model(model, L, bc)
    if symmetries is not None:
        return _spectrum_blocks(m, values, N, Sz, nev, vectors, extra, symmetries)
    labelled = labels and method != "matrix-free"
    syms, n_solve, note = _label_plan(m, values, N, Sz, extra, nev) if labelled else ([], nev, None)
    if labels and method == "matrix-free":
        note = MATRIX_FREE_LABELS_NOTE
    solve_method = method
    if syms and method == "auto" and _goes_matrix_free(m, N, Sz, extra, n_solve):
        solve_method = "stored"  # labels need the QuSpin basis; the stored matrix fits (_label_plan)
    eig, space = solve_sector(m, values, N, Sz, n_solve, vectors or bool(syms), extra=extra,
                              method=solve_method)
    energies = eig.energies[:nev]
    partners = eig.method == "matrix-free" and len(eig.energies) > len(energies)
    if len(eig.energies) == len(energies) or partners:  # matrix-free: the top multiplet is complete
        degeneracies = eig.degeneracies
    else:
        degeneracies = group_degenerate(energies)
    out = {
        "model": m.name, "L": m.lattice.L, "bc": m.lattice.bc, "params": m.resolve(values),
        "sector": sector_dict(m, N, Sz, extra),
        "dimension": space.dimension, "energies": [float(e) for e in energies],
        "degeneracies": [[e, k] for e, k in degeneracies], "method": eig.method,
    }
    if partners:
        top, mult = degeneracies[-1]
        beyond = len(eig.energies) - len(energies)
        out["degeneracies_note"] = (f"E[{nev - 1}] = {top:.12f} is {mult}-fold: {beyond} partner level(s) "
                                    f"beyond nev={nev} were computed (counted in degeneracies, not listed "
                                    "in energies)")
    residuals = getattr(eig, "residuals", None)
    if residuals is not None:
        out["residuals"] = [float(r) for r in residuals[:nev]]
    if syms:
        from edkit.engine.labels import label_levels

        levels = label_levels(m, values, space.sector, space, eig.energies, eig.vectors, syms, count=nev,
                              complete=len(eig.energies) == space.dimension)
        out.update({"symmetries": [s.label for s in syms], "levels": levels,
                    "ground_block": levels[0]["block"] if levels else None})
    elif note is not None:
        out["labels_note"] = note
    if vectors:
        out["vectors"] = eig.vectors[:, :nev]
    return out


def _spectrum_blocks(m: Model, values, N, Sz, nev, vectors, extra, symmetries) -> dict:
    from edkit.engine.blocks import block_spectrum, select_symmetries

    if vectors:
        raise ValueError("eigenvectors are not returned with symmetries (they live in block bases)")
    vals = m.resolve(values)
    sector = m.sector(N, Sz, **dict(extra or {}))
    res = block_spectrum(m, vals, sector, select_symmetries(m, vals, sector, symmetries), nev=nev)
    return {
        "model": m.name, "L": m.lattice.L, "bc": m.lattice.bc, "params": vals,
        "sector": sector_dict(m, N, Sz, extra), "dimension": res["dimension"],
        "energies": res["energies"], "degeneracies": res["degeneracies"], "method": "blocks",
        "symmetries": res["symmetries"], "levels": res["levels"], "ground_block": res["ground_block"],
        "blocks": res["blocks"],
    }


# ------------------------------------------------------------------------ observables
def _energy(model: Model, values: Mapping[str, Any], sector: Mapping[str, Any],
            options: Mapping[str, Any]) -> dict[str, Any]:
    from edkit.engine.solve import solve_sector

    N, Sz, extra = split_sector(model, sector)
    eig, _ = solve_sector(model, values, N, Sz, 1, extra=extra, method=options["method"])
    return {"energy": float(eig.energies[0])}


def _nev(options: Mapping[str, Any]) -> int:
    return check_nev(options["nev"])


def _spectrum_columns(model: Model, options: Mapping[str, Any]) -> list[str]:
    return [f"E{k}" for k in range(_nev(options))] + ["dimension"]


def _spectrum(model: Model, values: Mapping[str, Any], sector: Mapping[str, Any],
              options: Mapping[str, Any]) -> dict[str, Any]:
    N, Sz, extra = split_sector(model, sector)
    nev = _nev(options)
    data = spectrum(model, values, N=N, Sz=Sz, nev=nev, extra=extra, labels=False,  # energies only
                    method=options["method"])
    levels = data["energies"]
    out: dict[str, Any] = {f"E{k}": (levels[k] if k < len(levels) else None) for k in range(nev)}
    out["dimension"] = int(data["dimension"])
    return out


_LEVEL = re.compile(r"^E(\d+)$")


def _spectrum_match(column: str) -> dict | None:
    """``E<k>`` needs ``nev = k + 1``; ``dimension`` is not claimed (a results file's bond dimension)."""
    found = _LEVEL.match(column)
    return {"nev": int(found.group(1)) + 1} if found else None


ENERGY = register(Observable(
    name="energy",
    summary="ground-state energy of the sector",
    compute_fn=_energy,
    options={"method": "auto"},
    column_names=("energy",),
))

SPECTRUM = register(Observable(
    name="spectrum",
    summary="lowest nev levels E0, E1, ... of the sector (None beyond its dimension) and its dimension",
    compute_fn=_spectrum,
    options={"nev": 1, "method": "auto"},
    columns_fn=_spectrum_columns,
    match_fn=_spectrum_match,
))

__all__ = ["ENERGY", "SPECTRUM", "check_nev", "sector_dict", "spectrum"]
