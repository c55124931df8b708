r"""Gaps: each one a formula over sector energies, evaluated through one cache of solved sectors.

Definitions (the table :data:`GAPS`; adding a gap is one entry there)
----------------------------------------------------------------------
- ``charge_gap``: :math:`E(N+2) + E(N-2) - 2E(N)` (Eq. (12)), ``E(N\pm2)`` at the lowest ``|Sz|``
  (``Sz = 0`` for even N), ``E(N)`` in the requested sector.
- ``spin_gap``: :math:`E(N, S_z=1) - E(N, S_z=0)` (spinful models, even N).
- ``pair_binding``: :math:`E(N+2) + E(N) - 2E(N+1)`, ``E(N+1)`` at ``Sz = 1/2``.
- ``neutral_gap``: :math:`E_1 - E_0` in the sector ``(N, Sz)`` (zero if degenerate).

A gap is ``None`` where a sector it needs has no states (or a level it needs was not computed,
see ``"notes"``). Fermion numbers count as the model counts ``N`` (``extra_electrons`` are added
for the parity of the lowest ``|Sz|``). Sector quantities beyond ``N`` and ``Sz`` stay fixed.

:class:`SectorEnergies` solves each sector once, reuses the energy of a sector that is the image
of one already solved under a symmetry of the Hamiltonian (spin inversion, particle-hole; checked
on the terms), and keeps the ``"sector_energies"`` table and the notes of :func:`gaps`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edkit.core.errors import InputError
from edkit.observables.registry import Observable, register, split_sector
from edkit.observables.spectrum import sector_dict

if TYPE_CHECKING:
    from edkit.core.model import Model, Sector

#: ``Energy.Sz`` rule: the lowest ``|Sz|`` of that fermion number (0 or 1/2).
LOWEST = "lowest"
#: ``Energy.Sz`` rule: the ``Sz`` of the requested (base) sector.
BASE = "base"


@dataclass(frozen=True)
class Energy:
    """One energy a gap formula reads: level ``level`` of the sector ``(N + dN, Sz)``.

    ``Sz`` is a number, :data:`LOWEST` (lowest ``|Sz|`` of ``N + dN``) or :data:`BASE` (the ``Sz``
    of the requested sector); it is ignored for spinless models.
    """

    dN: int = 0
    Sz: float | str = LOWEST
    level: int = 0


@dataclass(frozen=True)
class Gap:
    """A gap as data: ``sum(weight * energy)`` over its ``formula``.

    Attributes
    ----------
    name
        Output key (``"charge_gap"``); also a column of the ``gaps`` observable.
    summary
        The formula in words (CLI and docs).
    formula
        ``((weight, Energy), ...)``.
    defined
        ``(model, N) -> bool``: whether the gap is defined around ``N`` (else it is ``None``).
    """

    name: str
    summary: str
    formula: tuple[tuple[float, Energy], ...]
    defined: Callable[[Model, int], bool] | None = None


def _even_spinful(model: Model, N: int) -> bool:
    return model.spinful and (N + model.extra_electrons) % 2 == 0


#: Every gap :func:`gaps` computes, in output order. The one place gap names are spelled.
GAPS: tuple[Gap, ...] = (
    Gap("charge_gap", "E(N+2) + E(N-2) - 2E(N)",
        ((1, Energy(+2)), (1, Energy(-2)), (-2, Energy(0, BASE)))),
    Gap("spin_gap", "E(N, Sz=1) - E(N, Sz=0) (spinful, even N)",
        ((1, Energy(0, 1.0)), (-1, Energy(0, 0.0))), defined=_even_spinful),
    Gap("pair_binding", "E(N+2) + E(N) - 2E(N+1)",
        ((1, Energy(+2)), (1, Energy(0, BASE)), (-2, Energy(+1)))),
    Gap("neutral_gap", "E1 - E0 in the sector (N, Sz)",
        ((1, Energy(0, BASE, 1)), (-1, Energy(0, BASE, 0)))),
)
#: The quantities :func:`gaps` computes (``only=`` selects among them).
GAP_NAMES: tuple[str, ...] = tuple(g.name for g in GAPS)


def lowest_sz(n: int) -> float:
    """Lowest ``|Sz|`` of ``n`` fermions: 0 or 1/2."""
    return 0.0 if n % 2 == 0 else 0.5


def sector_key(sector: Sector) -> tuple:
    """``(N_up, N_dn, constraints)`` of a sector, hashable; constraints as in the symmetry check."""
    cons = frozenset((frozenset(c.modes), tuple(sorted(c.allowed))) for c in sector.constraints)
    return sector.n_up, sector.n_dn, cons


def sector_images(model: Model, values: Mapping[str, object]) -> list:
    """``[(name, key -> key)]`` maps of sectors with identical spectra, from symmetries of ``H``.

    Spin inversion (``Z``) maps ``(N_up, N_dn)`` to ``(N_dn, N_up)``; particle-hole (``C``) to
    ``(n_orb - N_up, n_orb - N_dn)``. Each is used only if :func:`edkit.engine.symmetry.holds` confirms
    ``U H U^-1 = H`` (constants included) and maps the model's constraints onto themselves; sector
    constraints are mapped with the same rule as in the check.
    """
    from edkit.core.model import Constraint
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


class SectorEnergies:
    """Energies of sectors around a base sector ``(N, Sz, extra)``, each solved at most once.

    Parameters
    ----------
    model, values
        The model and its resolved parameter values.
    N, Sz, extra
        The base sector (``Sz`` already resolved; ignored for spinless models). A base sector
        without states raises :class:`~edkit.core.model.SectorError` here.
    symmetries
        ``None`` (plain sectors; symmetry images reused) or labels: every energy is then the
        minimum over the blocks of the symmetries that hold in its sector.
    method
        Solver method of :func:`edkit.engine.solve.solve_sector`.

    Attributes
    ----------
    table
        One row per sector energy found: ``{"N", "Sz", "energy", "source", "seconds"}`` (``source``
        is ``"solved"`` or ``"<symmetry> image of N=.., Sz=.."``).
    notes
        Why a level could not be computed (e.g. a sector solved matrix-free).
    levels
        The block-labelled low levels of the base sector when they were computed with labels.
    """

    def __init__(self, model: Model, values: Mapping[str, float], N: int, Sz: float | None,
                 extra: Mapping[str, float], symmetries: object = None, method: str = "auto") -> None:
        self.model, self.values, self.N, self.Sz = model, values, N, Sz
        self.extra, self.symmetries, self.method = dict(extra), symmetries, method
        self.base_key = sector_key(model.sector(N, Sz if model.spinful else None, **self.extra))
        self.images = sector_images(model, values) if symmetries is None else []
        self.cache: dict[tuple, tuple[float | None, str]] = {}  # sector key -> (energy, "N=.., Sz=..")
        self.low: dict[tuple, list[float]] = {}  # sector key -> its lowest levels
        self.table: list[dict] = []
        self.notes: list[str] = []
        self.levels: list | None = None

    # ------------------------------------------------------------------ bookkeeping
    def _where(self, n: int, s: float) -> str:
        return f"N={n}" + (f", Sz={s}" if self.model.spinful else "")

    def _record(self, n: int, s: float, key: tuple, energy: float | None, source: str,
                seconds: float = 0.0) -> float | None:
        self.cache[key] = (energy, self._where(n, s))
        row = {"N": n, "energy": energy, "source": source, "seconds": round(seconds, 3)}
        if self.model.spinful:
            row["Sz"] = s
        self.table.append(row)
        return energy

    def sector(self, n: int, s: float) -> Sector | None:
        """The sector ``(n, s, extra)``, or ``None`` if it has no states."""
        from edkit.core.model import SectorError

        try:
            return self.model.sector(n, s if self.model.spinful else None, **self.extra)
        except SectorError:
            return None

    def sz(self, e: Energy) -> float:
        """The ``Sz`` an :class:`Energy` rule means around the base sector."""
        if e.Sz == LOWEST:
            return lowest_sz(self.N + e.dN + self.model.extra_electrons)
        if e.Sz == BASE:
            return self.Sz if self.Sz is not None else 0.0
        return float(e.Sz)

    # ---------------------------------------------------------------------- energies
    def ground(self, n: int, s: float) -> float | None:
        """Ground energy of sector ``(n, s)``: cached, a symmetry image's, or solved now."""
        from edkit.engine.solve import ground_energy

        sector = self.sector(n, s)
        if sector is None:
            return None
        key = sector_key(sector)
        if key in self.cache:
            return self.cache[key][0]
        for name, image in self.images:
            if image(key) in self.cache:
                energy, where = self.cache[image(key)]
                return self._record(n, s, key, energy, f"{name} image of {where}")
        start = time.perf_counter()
        e = ground_energy(self.model, self.values, n, s if self.model.spinful else None, self.extra,
                          symmetries=self.symmetries, method=self.method)
        return self._record(n, s, key, e, "solved", time.perf_counter() - start)

    def lowest_levels(self, n: int, s: float, count: int, why: str) -> list[float] | None:
        """The ``count`` lowest levels of sector ``(n, s)`` (fewer where the path gives fewer).

        Matrix-free sectors give up to
        :data:`edkit.engine.backends.matrix_free.MAX_MATRIX_FREE_LEVELS` levels (degenerate
        multiplets complete); where even those do not fit, only the ground energy is known and
        ``notes`` says so, naming ``why`` (the gap that asked). The base sector's levels are
        labelled with their blocks where :func:`edkit.observables.spectrum.spectrum` labels them
        (:attr:`levels`).
        """
        from edkit.engine.planning import plan

        sector = self.sector(n, s)
        if sector is None:
            return None
        key = sector_key(sector)
        if key in self.low and len(self.low[key]) >= count:
            return self.low[key]
        base = key == self.base_key
        sz = s if self.model.spinful else None
        start = time.perf_counter()
        if self.symmetries is not None:
            from edkit.engine.blocks import block_spectrum, select_symmetries

            sel = select_symmetries(self.model, self.values, sector, self.symmetries, per_sector=True)
            low = list(block_spectrum(self.model, self.values, sector, sel, nev=count)["energies"])
        else:  # the lowest levels, labelled with their blocks where spectrum() labels them
            from edkit.engine.planning import TooLargeError, UnsupportedRequestError
            from edkit.observables.spectrum import spectrum

            free = plan(self.model, sector).path == "matrix-free" or self.method == "matrix-free"
            try:
                out = spectrum(self.model, self.values, N=n, Sz=sz, nev=count, extra=self.extra,
                               method=self.method, labels=base)
            except (TooLargeError, UnsupportedRequestError) as err:
                if not free:
                    raise
                low = [self.ground(n, s)]  # the matrix-free ground energy still fits
                what = "the base sector" if base else f"the sector {self._where(n, s)}"
                self.notes.append(f"{why}: {what} is solved matrix-free and {count} levels do not fit "
                                  f"there (ground energy only): {err}")
            else:
                low = list(out["energies"])
                if base and "levels" in out:
                    self.levels = out["levels"]
        if low and key not in self.cache:
            self._record(n, s, key, float(low[0]), "solved", time.perf_counter() - start)
        self.low[key] = low
        return low

    def energy(self, e: Energy, why: str = "") -> float | None:
        """The energy an :class:`Energy` term names, or ``None`` (no states, level not computed)."""
        n, s = self.N + e.dN, self.sz(e)
        if e.level == 0:
            return self.ground(n, s)
        low = self.lowest_levels(n, s, e.level + 1, why)
        return float(low[e.level]) if low is not None and len(low) > e.level else None

    def evaluate(self, gap: Gap) -> float | None:
        """The value of ``gap`` (``None`` where undefined or a sector it needs has no states)."""
        if gap.defined is not None and not gap.defined(self.model, self.N):
            return None
        parts = [(w, self.energy(e, gap.name)) for w, e in gap.formula]
        if any(v is None for _, v in parts):
            return None
        return float(sum(w * v for w, v in parts))


def _wanted(only: Iterable[str] | str | None) -> list[str]:
    if only is None:
        return list(GAP_NAMES)
    asked = [only] if isinstance(only, str) else list(only)
    unknown = sorted(set(asked) - set(GAP_NAMES))
    if unknown or not asked:
        raise InputError(f"unknown gap name(s) {unknown}; choose from {', '.join(GAP_NAMES)}")
    return [g for g in GAP_NAMES if g in asked]


def gaps(model: str | Model, values: Mapping[str, object] | None = None, *, N: int,
         Sz: float | None = None, L: int | None = None, bc: str = "open",
         extra: Mapping[str, float] | None = None, symmetries: object = None,
         only: Iterable[str] | str | None = None, method: str = "auto") -> dict:
    """Charge gap, spin gap, pair binding and neutral gap around ``N`` (definitions: :data:`GAPS`).

    Sector quantities in ``extra`` (e.g. ``N_s``) are held fixed. With ``symmetries`` (``"all"``
    or labels), every energy is the minimum over all blocks of the symmetries that hold in its
    sector (spin inversion only at ``Sz = 0``, particle-hole only at half filling); a symmetry
    that does not hold for the Hamiltonian is refused.

    Cost control for large clusters (each sector can take minutes):

    - ``only``: compute just these of :data:`GAP_NAMES` (the others are ``None``); e.g.
      ``only=["charge_gap"]`` (or ``only="charge_gap"``) needs the three sectors ``N - 2, N, N + 2``
      and nothing else.
    - Each sector is solved once. A sector that is the image of one already solved under a
      symmetry of the Hamiltonian (spin inversion, particle-hole; checked on the terms, constants
      included) reuses its energy: at half filling with particle-hole symmetry
      ``E(N + 2) = E(N - 2)``. ``"sector_energies"`` lists every energy, where it came from and
      the seconds it took.
    - Sectors too large for a stored matrix take the matrix-free path; the neutral gap's two
      levels then come from the matrix-free levels (deflation, degenerate partners found, so a
      degenerate ground state gives 0). Where even those do not fit the neutral gap is ``None``
      (see ``"notes"``). Sectors of at least :data:`edkit.engine.solve.MATRIX_FREE_DIMENSION`
      states go to the fastest backend by default too (``method``: see
      :func:`edkit.engine.solve.solve_sector`).

    Blocks: the neutral gap's two levels come from :func:`edkit.observables.spectrum.spectrum`, so
    where it labels levels (symmetries hold, at most ``edkit.engine.labels.LABEL_DIMENSION`` states)
    the result also has ``"levels"`` (``{"energy", "block"}``) and ``"ground_block"``: a neutral
    gap between two momentum or parity blocks is visible as such.

    Raises
    ------
    InputError
        For a gap name not in :data:`GAP_NAMES`, or symmetry quantum numbers (gaps search every block).
    """
    from edkit.engine.solve import get_model

    if symmetries is not None:
        if isinstance(symmetries, Mapping) and any(v not in (None, "all") for v in symmetries.values()):
            raise InputError("gaps search every block: give symmetry labels without quantum numbers")
    wanted = _wanted(only)
    m = get_model(model, L, bc)
    sz = lowest_sz(N + m.extra_electrons) if Sz is None else Sz
    extra = dict(extra or {})
    vals = m.resolve(values)
    energies = SectorEnergies(m, vals, N, sz, extra, symmetries, method)  # refuses a bad base sector
    chosen = [g for g in GAPS if g.name in wanted]
    for gap in chosen:  # excited levels first: their solve also gives the ground energy
        for _, e in gap.formula:
            if e.level > 0 and (gap.defined is None or gap.defined(m, N)):
                energies.energy(e, gap.name)
    e0 = energies.ground(N, sz)
    values_out: dict[str, Any] = {name: None for name in GAP_NAMES}
    for gap in chosen:
        values_out[gap.name] = energies.evaluate(gap)
    result = {
        "model": m.name, "L": m.lattice.L, "bc": m.lattice.bc, "params": vals,
        "sector": sector_dict(m, N, sz, extra),
        "energy": e0,
        **values_out,
        "sector_energies": energies.table,
    }
    if energies.levels is not None:
        result["levels"] = energies.levels
        result["ground_block"] = energies.levels[0]["block"] if energies.levels else None
    if energies.notes:
        result["notes"] = energies.notes
    return result


# ------------------------------------------------------------------------- observable
def _gaps(model: Model, values: Mapping[str, Any], sector: Mapping[str, Any],
          options: Mapping[str, Any]) -> dict[str, Any]:
    N, Sz, extra = split_sector(model, sector)
    data = gaps(model, values, N=N, Sz=Sz, extra=extra, symmetries=options["symmetries"],
                only=options["only"], method=options["method"])
    return {k: data[k] for k in ("energy", *GAP_NAMES)}


def _gaps_match(column: str) -> dict | None:
    if column in GAP_NAMES:
        return {"only": [column]}
    return {} if column == "energy" else None


GAPS_OBSERVABLE = register(Observable(
    name="gaps",
    summary="ground energy and " + ", ".join(f"{g.name} = {g.summary}" for g in GAPS),
    compute_fn=_gaps,
    options={"only": None, "symmetries": None, "method": "auto"},
    column_names=("energy", *GAP_NAMES),
    match_fn=_gaps_match,
))

__all__ = ["BASE", "GAPS", "GAPS_OBSERVABLE", "GAP_NAMES", "LOWEST", "Energy", "Gap", "SectorEnergies",
           "gaps", "lowest_sz", "sector_images", "sector_key"]
