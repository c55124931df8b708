r"""Which sectors enter a thermal average, and with which weights.

Ensembles
---------
- **canonical** (no ``mu``): the particle number ``N`` is fixed (``sector={"N": n}``, default the
  model's half filling, :meth:`~edkit.core.model.Model.default_N`) and every ``Sz`` sector of that
  ``N`` is summed, each with its Boltzmann weights :math:`e^{-\beta E}`. Giving ``Sz`` too
  (``sector={"N": n, "Sz": s}``) restricts the sum to that one sector (fixed ``N`` and ``Sz``).
  Other sector quantities a model declares (``sector_names``) are held at their given or default
  values.
- **grand-canonical** (``mu`` given): every ``N`` the model allows and every ``Sz`` of it, weighted
  by :math:`e^{-\beta(E - \mu N)}` (what auxiliary-field QMC simulates). A sector is not given
  with ``mu`` (refused: the ensemble sums over every ``N``).

Every symmetry block is included (plain sectors are not split into blocks). Sectors without
states (constraints) are skipped.

Spin inversion
--------------
When :func:`edkit.engine.symmetry.holds` says the model at these parameter values is invariant
under the exchange of spin up and down, the sectors ``Sz`` and ``-Sz`` have the same spectrum and
every quantity computed here (energy, densities, ``Sz^2``, the correlators C, N, S and spin-spin)
has the same value in both; only ``Sz > 0`` is solved and it stands for both (``images``). Without
the symmetry every sector is solved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edkit.core.errors import InputError
from edkit.core.model import Model, Sector, SectorError
from edkit.core.params import as_number

#: Ensemble names in the output.
CANONICAL, GRAND_CANONICAL = "canonical", "grand-canonical"


@dataclass(frozen=True)
class SectorTerm:
    """One solved sector and the ``(N, Sz)`` sectors it stands for.

    Attributes
    ----------
    sector
        The ``(N_up, N_dn)`` sector to solve.
    N, Sz
        Its particle number (as the model counts it) and ``Sz`` (0 for spinless models).
    images
        ``((N, Sz), ...)``: the sectors with this spectrum and these values (itself, and ``-Sz``
        when spin inversion is used).
    dimension
        Number of states.
    """

    sector: Sector
    N: int
    Sz: float
    images: tuple[tuple[int, float], ...]
    dimension: int


@dataclass(frozen=True)
class Ensemble:
    """The sectors of a thermal average.

    Attributes
    ----------
    kind
        :data:`CANONICAL` or :data:`GRAND_CANONICAL`.
    terms
        The sectors to solve (:class:`SectorTerm`).
    mu
        Chemical potential (``None`` for the canonical ensemble).
    spin_flip
        Whether spin inversion was used (``Sz`` and ``-Sz`` solved once).
    sector
        The fixed sector values (canonical), for the output.
    """

    kind: str
    terms: tuple[SectorTerm, ...]
    mu: float | None
    spin_flip: bool
    sector: Mapping[str, float]

    @property
    def dimension(self) -> int:
        """States of every sector that enters (mirrored ones included)."""
        return sum(t.dimension * len(t.images) for t in self.terms)

    @property
    def largest(self) -> int:
        """Dimension of the largest solved sector."""
        return max(t.dimension for t in self.terms)


def parse_betas(betas: object) -> list[float]:
    """Inverse temperatures as floats: a sequence of numbers or a ``"0.5,1,2"`` string.

    Raises
    ------
    InputError
        For an empty list, a value that is not a number, or ``beta <= 0`` (or infinite).
    """
    if isinstance(betas, str):
        items: Sequence[object] = [b for b in betas.split(",")]
    elif isinstance(betas, (int, float)) and not isinstance(betas, bool):
        items = [betas]
    else:
        try:
            items = list(betas)  # type: ignore[arg-type]
        except TypeError:
            raise InputError(f"beta must be a number or a list of numbers, got {betas!r}") from None
    if not items:
        raise InputError("give at least one inverse temperature beta")
    out = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            raise InputError(f"beta list {betas!r} has an empty entry")
        value = as_number(item.strip() if isinstance(item, str) else item, "beta", InputError)
        if not math.isfinite(value) or value <= 0:
            hint = " (beta = 0 is infinite temperature: use a small beta)" if value == 0 else ""
            raise InputError(f"beta must be a positive finite inverse temperature, got {item!r}{hint}")
        out.append(float(value))
    return out


def _sz_values(model: Model, nf: int) -> list[float]:
    """Every ``Sz`` of ``nf`` spin-1/2 fermions on the model's orbitals, ascending."""
    n = model.n_orbitals
    lo, hi = max(0, nf - n), min(nf, n)
    return [(n_up - (nf - n_up)) / 2 for n_up in range(lo, hi + 1)]


def _spin_flip_holds(model: Model, values: Mapping[str, float]) -> bool:
    if not model.spinful:
        return False
    from edkit.engine.symmetry import SymmetryError, holds, spin_inversion

    try:
        ok, _ = holds(model, values, spin_inversion(model))
    except SymmetryError:
        return False
    return bool(ok)


def _count(model: Model, sector: Sector) -> int:
    from edkit.engine.sizes import sector_size

    return int(sector_size(model, sector).dimension)


def _term(model: Model, N: int, Sz: float | None, extra: Mapping[str, float], mirrored: bool
          ) -> SectorTerm | None:
    try:
        sector = model.sector(N, Sz, **dict(extra))
    except SectorError:
        return None
    dim = _count(model, sector)
    if dim == 0:
        return None
    sz = float(Sz or 0.0)
    images = ((N, sz), (N, -sz)) if mirrored and sz != 0 else ((N, sz),)
    return SectorTerm(sector, int(N), sz, images, dim)


def build_ensemble(model: Model, values: Mapping[str, float], sector: Mapping[str, object] | None,
                   mu: float | None) -> Ensemble:
    """The sectors of the canonical (``mu is None``) or grand-canonical ensemble.

    Parameters
    ----------
    model, values
        The model and resolved parameter values (spin inversion is checked at these values).
    sector
        Canonical: ``{"N": n}`` (default half filling), optionally ``"Sz"`` (then only that sector)
        and the model's other sector names. Must be empty or ``None`` with ``mu``.
    mu
        Chemical potential of the grand-canonical ensemble.

    Raises
    ------
    InputError
        For a sector given together with ``mu``, or a non-finite ``mu``.
    SectorError
        For sector names the model does not have, or a sector without states.
    """
    given = dict(sector or {})
    flip = _spin_flip_holds(model, values)
    if mu is not None:
        mu = as_number(mu, "mu", InputError)
        if not math.isfinite(mu):
            raise InputError(f"mu must be finite, got {mu}")
        if given:
            raise InputError("a sector (--sector) and a chemical potential (--mu) were both given: the "
                             "grand-canonical ensemble sums over every N and Sz; drop one of them")
        fixed = {k: v for k, v in model.resolve_sector({}).items() if k not in ("N", "Sz")}
        lo, hi = model.electron_bounds()
        terms = []
        for nf in range(max(lo, 0), hi + 1):
            N = nf - model.extra_electrons
            if N < 0:
                continue
            szs = _sz_values(model, nf) if model.spinful else [None]
            for sz in szs:
                if flip and sz is not None and sz < 0:
                    continue
                t = _term(model, N, sz, fixed, flip)
                if t is not None:
                    terms.append(t)
        if not terms:
            raise SectorError(f"model {model.name!r} has no states")
        return Ensemble(GRAND_CANONICAL, tuple(terms), float(mu), flip, {})
    resolved = model.resolve_sector(given)
    N = int(resolved["N"])
    extra = {k: v for k, v in resolved.items() if k not in ("N", "Sz")}
    if not model.spinful or "Sz" in given:
        sz = resolved.get("Sz") if model.spinful else None
        t = _term(model, N, sz, extra, False)
        if t is None:
            model.sector(N, sz, **extra)  # raises with the reason
            raise SectorError(f"sector N={N}, Sz={sz} of {model.name!r} has no states")
        out = {"N": N, **({"Sz": float(sz)} if sz is not None else {}), **extra}
        return Ensemble(CANONICAL, (t,), None, False, out)
    terms = []
    for sz in _sz_values(model, N + model.extra_electrons):
        if flip and sz < 0:
            continue
        t = _term(model, N, sz, extra, flip)
        if t is not None:
            terms.append(t)
    if not terms:
        model.sector(N, resolved.get("Sz"), **extra)  # raises with the reason
        raise SectorError(f"N={N} of {model.name!r} has no states")
    return Ensemble(CANONICAL, tuple(terms), None, flip, {"N": N, **extra})


__all__ = ["CANONICAL", "GRAND_CANONICAL", "Ensemble", "SectorTerm", "build_ensemble", "parse_betas"]
