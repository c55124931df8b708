"""High-level numeric API: spectra, gaps and correlators of a model in a sector.

All functions take either a model name (with ``L`` and ``bc``) or a built
:class:`~edkit.core.model.Model`, a mapping of parameter values, and return plain data
(dicts of floats and lists) that serialize to JSON.

Definitions
-----------
- ``charge_gap``: :math:`E(N+2) + E(N-2) - 2E(N)` (Eq. (12)), each at the lowest ``|Sz|``
  (``Sz = 0`` for even N).
- ``spin_gap``: :math:`E(N, S_z=1) - E(N, S_z=0)` (even N).
- ``pair_binding``: :math:`E(N+2) + E(N) - 2E(N+1)`, ``E(N+1)`` at ``Sz = 1/2``.
- ``neutral_gap``: :math:`E_1 - E_0` in the sector ``(N, Sz)`` (zero if degenerate).
A gap is ``None`` where a sector it needs has no states.
- Correlators are ground-state expectation values; a degenerate ground state is averaged over
  its degenerate levels in the sector (found among the lowest ``nev`` levels).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import numpy as np

from edkit.core import operators as ops
from edkit.core.model import Constraint, Model, Sector, SectorError
from edkit.core.modes import DN, UP
from edkit.engine.backend_quspin import operator_matrix
from edkit.engine.planning import plan
from edkit.engine.solve import (  # noqa: F401  (re-exported: the public numeric API)
    MATRIX_FREE_DIMENSION,
    METHODS,
    MatrixFreeSpace,
    get_model,
    ground_energy,
    solve_sector,
)
from edkit.engine.solver import group_degenerate


def _sector_dict(m: Model, N, Sz, extra) -> dict:
    out = {"N": N, "Sz": Sz} if m.spinful else {"N": N}
    out.update(dict(extra or {}))
    return out


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

    ``method`` (``"auto"``, ``"stored"``, ``"matrix-free"``): see :func:`solve_sector`. With
    ``nev=1`` on a sector of at least :data:`MATRIX_FREE_DIMENSION` states (above the labelling
    limit) ``"auto"`` gives the matrix-free ground energy.
    """
    m = get_model(model, L, bc)
    if symmetries is not None:
        return _spectrum_blocks(m, values, N, Sz, nev, vectors, extra, symmetries)
    labelled = labels and method != "matrix-free"
    syms, n_solve, note = _label_plan(m, values, N, Sz, extra, nev) if labelled else ([], nev, None)
    eig, space = solve_sector(m, values, N, Sz, n_solve, vectors or bool(syms), extra=extra, method=method)
    energies = eig.energies[:nev]
    out = {
        "model": m.name, "L": m.lattice.L, "bc": m.lattice.bc, "params": m.resolve(values),
        "sector": _sector_dict(m, N, Sz, extra),
        "dimension": space.dimension, "energies": [float(e) for e in energies],
        "degeneracies": [[e, k] for e, k in (eig.degeneracies if len(eig.energies) == len(energies)
                                             else group_degenerate(energies))], "method": eig.method,
    }
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
        "sector": _sector_dict(m, N, Sz, extra), "dimension": res["dimension"],
        "energies": res["energies"], "degeneracies": res["degeneracies"], "method": "blocks",
        "symmetries": res["symmetries"], "levels": res["levels"], "ground_block": res["ground_block"],
        "blocks": res["blocks"],
    }


def _lowest_sz(N: int) -> float:
    return 0.0 if N % 2 == 0 else 0.5


#: The quantities :func:`gaps` computes (``only=`` selects among them).
GAP_NAMES = ("charge_gap", "spin_gap", "pair_binding", "neutral_gap")


def _sector_key(sector: Sector) -> tuple:
    """``(N_up, N_dn, constraints)`` of a sector, hashable; constraints as in the symmetry check."""
    cons = frozenset((frozenset(c.modes), tuple(sorted(c.allowed))) for c in sector.constraints)
    return sector.n_up, sector.n_dn, cons


def _sector_images(model: Model, values: Mapping[str, object]) -> list:
    """Maps ``key -> key`` of sectors with identical spectra, from symmetries of ``H`` (checked).

    Spin inversion (``Z``) maps ``(N_up, N_dn)`` to ``(N_dn, N_up)``; particle-hole (``C``) to
    ``(n_orb - N_up, n_orb - N_dn)``. Each is used only if :func:`edkit.engine.symmetry.holds` confirms
    ``U H U^-1 = H`` (constants included) and maps the model's constraints onto themselves; sector
    constraints are mapped with the same rule as in the check.
    """
    from edkit.engine.symmetry import SymmetryError, _map_constraint, holds, make_symmetry

    out = []
    n = model.n_orbitals
    for label in ("Z", "C") if model.spinful else ("C",):
        try:
            sym = make_symmetry(model, label)
        except SymmetryError:
            continue  # e.g. particle-hole on an odd ring
        if not holds(model, values, sym)[0]:
            continue

        def image(key, sym=sym):
            n_up, n_dn, cons = key
            if sym.label == "Z":
                n_up, n_dn = n_dn, n_up
            else:
                n_up, n_dn = n - n_up, (n - n_dn if model.spinful else 0)
            mapped = frozenset(_map_constraint(model, sym, Constraint(tuple(m), a)) for m, a in cons)
            return n_up, n_dn, mapped

        out.append((sym.name, image))
    return out


def gaps(model: str | Model, values: Mapping[str, object] | None = None, *, N: int,
         Sz: float | None = None, L: int | None = None, bc: str = "open",
         extra: Mapping[str, float] | None = None, symmetries: object = None,
         only: Iterable[str] | None = None, method: str = "auto") -> dict:
    """Charge gap, spin gap, pair binding and neutral gap around ``N`` (see module docs).

    Sector quantities in ``extra`` (e.g. ``N_s``) are held fixed. With ``symmetries`` (``"all"``
    or labels), every energy is the minimum over all blocks of the symmetries that hold in its
    sector (spin inversion only at ``Sz = 0``, particle-hole only at half filling); a symmetry
    that does not hold for the Hamiltonian is refused.

    Cost control for large clusters (each sector can take minutes):

    - ``only``: compute just these of :data:`GAP_NAMES` (the others are ``None``); e.g.
      ``only=["charge_gap"]`` needs the three sectors ``N - 2, N, N + 2`` and nothing else.
    - Each sector is solved once. A sector that is the image of one already solved under a
      symmetry of the Hamiltonian (spin inversion, particle-hole; checked on the terms, constants
      included) reuses its energy: at half filling with particle-hole symmetry
      ``E(N + 2) = E(N - 2)``. ``"sector_energies"`` lists every energy, where it came from and
      the seconds it took.
    - Sectors too large for a stored matrix take the matrix-free path (ground energy only); the
      neutral gap then needs a second level the path does not give and is ``None`` (see
      ``"notes"``). Ground energies of sectors of at least :data:`MATRIX_FREE_DIMENSION` states go
      matrix-free by default too (``method``: see :func:`solve_sector`); the neutral gap's base
      sector then still uses the stored matrix when it fits.

    Blocks: the neutral gap's two levels come from :func:`spectrum`, so where it labels levels
    (symmetries hold, at most ``edkit.engine.labels.LABEL_DIMENSION`` states) the result also has
    ``"levels"`` (``{"energy", "block"}``) and ``"ground_block"``: a neutral gap between two
    momentum or parity blocks is visible as such.
    """
    if symmetries is not None:
        if isinstance(symmetries, Mapping) and any(v not in (None, "all") for v in symmetries.values()):
            raise ValueError("gaps search every block: give symmetry labels without quantum numbers")
    wanted = set(GAP_NAMES) if only is None else set(only)
    unknown = wanted - set(GAP_NAMES)
    if unknown or not wanted:
        raise ValueError(f"unknown gap name(s) {sorted(unknown)}; choose from {', '.join(GAP_NAMES)}")
    m = get_model(model, L, bc)
    sz = _lowest_sz(N + m.extra_electrons) if Sz is None else Sz
    extra = dict(extra or {})
    vals = m.resolve(values)
    m.sector(N, sz if m.spinful else None, **extra)  # refuse a bad base sector early
    images = _sector_images(m, vals) if symmetries is None else []
    cache: dict[tuple, tuple[float | None, str]] = {}  # sector key -> (energy, "N=.., Sz=..")
    table: list[dict] = []
    notes: list[str] = []

    def record(n, s, key, energy, source, seconds=0.0):
        cache[key] = (energy, f"N={n}" + (f", Sz={s}" if m.spinful else ""))
        row = {"N": n, "energy": energy, "source": source, "seconds": round(seconds, 3)}
        if m.spinful:
            row["Sz"] = s
        table.append(row)
        return energy

    def E(n: int, s: float) -> float | None:
        try:
            sector = m.sector(n, s if m.spinful else None, **extra)
        except SectorError:
            return None
        key = _sector_key(sector)
        if key in cache:
            return cache[key][0]
        for name, image in images:
            if image(key) in cache:
                energy, where = cache[image(key)]
                return record(n, s, key, energy, f"{name} image of {where}")
        start = time.perf_counter()
        e = ground_energy(m, vals, n, s if m.spinful else None, extra, symmetries=symmetries, method=method)
        return record(n, s, key, e, "solved", time.perf_counter() - start)

    def lsz(n: int) -> float:
        return _lowest_sz(n + m.extra_electrons)

    def combo(*parts):
        return None if any(p is None for p, _ in parts) else float(sum(k * p for p, k in parts))

    neutral = None
    levels = None
    base = m.sector(N, sz if m.spinful else None, **extra)
    if "neutral_gap" in wanted:
        start = time.perf_counter()
        if symmetries is not None:
            from edkit.engine.blocks import block_spectrum, select_symmetries

            low = block_spectrum(m, vals, base, select_symmetries(m, vals, base, symmetries, per_sector=True),
                                 nev=2)["energies"]
        elif plan(m, base).path == "matrix-free" or method == "matrix-free":
            low = [E(N, sz)]
            notes.append("neutral_gap: the base sector is solved matrix-free (ground energy only)")
        else:  # the two lowest levels, labelled with their blocks where spectrum() labels them
            two = spectrum(m, vals, N=N, Sz=sz if m.spinful else None, nev=2, extra=extra, method=method)
            low = list(two["energies"])
            if "levels" in two:
                levels = two["levels"]
        if low and _sector_key(base) not in cache:
            record(N, sz, _sector_key(base), float(low[0]), "solved", time.perf_counter() - start)
        neutral = float(low[1] - low[0]) if len(low) > 1 else None
    e0 = E(N, sz)
    out = {name: None for name in GAP_NAMES}
    if "charge_gap" in wanted:
        out["charge_gap"] = combo((E(N + 2, lsz(N + 2)), 1), (E(N - 2, lsz(N - 2)), 1), (e0, -2))
    if "pair_binding" in wanted:
        out["pair_binding"] = combo((E(N + 2, lsz(N + 2)), 1), (e0, 1), (E(N + 1, lsz(N + 1)), -2))
    if "spin_gap" in wanted and m.spinful and (N + m.extra_electrons) % 2 == 0:
        out["spin_gap"] = combo((E(N, 1.0), 1), (E(N, 0.0), -1))
    out["neutral_gap"] = neutral
    result = {
        "model": m.name, "L": m.lattice.L, "bc": m.lattice.bc, "params": vals,
        "sector": _sector_dict(m, N, sz, extra),
        "energy": e0,
        **out,
        "sector_energies": table,
    }
    if levels is not None:
        result["levels"] = levels
        result["ground_block"] = levels[0]["block"] if levels else None
    if notes:
        result["notes"] = notes
    return result


def expectation(space, terms: ops.Terms, states: np.ndarray) -> float:
    """Average of ``<psi|O|psi>`` over the columns of ``states`` (real part)."""
    numeric = [(complex(c), w) for c, w in terms]
    O = operator_matrix(space, numeric)
    vals = [np.vdot(states[:, k], O @ states[:, k]) for k in range(states.shape[1])]
    return float(np.real(np.mean(vals)))


def ground_states(model: Model, values, N: int, Sz: float | None, nev: int = 4,
                  tol: float = 1e-8, extra: Mapping[str, float] | None = None
                  ) -> tuple[np.ndarray, float, object]:
    """Ground-state manifold (columns) in a sector, its energy, and the sector space."""
    eig, space = solve_sector(model, values, N, Sz, nev, vectors=True, extra=extra)
    e0 = eig.energies[0]
    k = int(np.sum(np.abs(eig.energies - e0) <= tol * (1 + abs(e0))))
    return eig.vectors[:, :k], float(e0), space


def correlations(model: str | Model, values: Mapping[str, object] | None = None, *, N: int,
                 Sz: float | None = None, L: int | None = None, bc: str = "open",
                 reference: int = 0, layers: tuple[str, ...] | None = None,
                 extra: Mapping[str, float] | None = None) -> dict:
    """Ground-state correlators from site ``reference`` to every ``j`` in each layer.

    Returns ``{"layers": {layer: {"C": [...], "N": [...], "S": [...], "SzSz": [...],
    "SxSx": [...], "SySy": [...]}}}`` with lists indexed by ``j``. ``S`` is the spin-averaged
    :math:`\\tfrac12\\sum_\\sigma\\langle c^\\dagger_{r\\sigma} c_{j\\sigma}\\rangle`.
    """
    m = get_model(model, L, bc)
    if not m.spinful:
        raise ValueError(f"model {m.name!r} is spinless: pair and spin correlators need spin")
    Lx = m.lattice.L
    if not 0 <= reference < Lx:
        raise ValueError(f"reference site must be in 0..{Lx - 1}, got {reference}")
    states, e0, space = ground_states(m, values, N, Sz, extra=extra)
    out = {}
    for layer in layers or m.lattice.layers:
        a = (layer, reference)
        rows: dict[str, list[float]] = {k: [] for k in ("C", "N", "S", "SzSz", "SxSx", "SySy")}
        for j in range(Lx):
            b = (layer, j)
            rows["C"].append(expectation(space, ops.pair_pair(a, b), states))
            rows["N"].append(expectation(space, ops.density_density(a, b), states))
            hop = ops.hopping(a, b, UP) + ops.hopping(a, b, DN)
            rows["S"].append(0.5 * expectation(space, hop, states))
            for comp in "zxy":
                rows[f"S{comp}S{comp}"].append(expectation(space, ops.spin_spin(a, b, comp), states))
        out[layer] = rows
    return {"model": m.name, "L": Lx, "bc": m.lattice.bc, "params": m.resolve(values),
            "sector": _sector_dict(m, N, Sz, extra), "energy": e0,
            "ground_state_degeneracy": states.shape[1],
            "reference": reference, "layers": out}


__all__ = ["GAP_NAMES", "MATRIX_FREE_DIMENSION", "METHODS", "MatrixFreeSpace", "Sector", "correlations",
           "gaps", "get_model", "ground_energy", "solve_sector", "spectrum"]
