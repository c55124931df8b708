"""Typed results of the public API: dataclasses whose ``to_dict()`` gives today's JSON keys.

:func:`edkit.api.spectrum`, :func:`edkit.api.gaps` and :func:`edkit.api.correlations` return a
:class:`SpectrumResult`, :class:`GapsResult` and :class:`CorrelationsResult`. Each has typed
attributes for the keys every result carries (``result.energies``, ``result.charge_gap``, ...) and
``extras`` for the keys that only some results carry (block labels, notes, eigenvectors, ...).

They are also read-only mappings with the JSON keys, so code written for the plain dicts these
functions used to return (``result["energies"]``, ``"levels" in result``, ``dict(result)``,
``{**result}``) keeps working. ``json.dumps`` needs ``result.to_dict()``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any


class MappingView(Mapping):
    """Read-only mapping over ``self.to_dict()`` (the JSON keys, in their order): the one mapping view
    of every typed result (these, :class:`edkit.thermodynamics.ThermalResult`,
    :class:`edkit.response.DynamicsResult`)."""

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


class _Result(MappingView):
    """Typed fields and ``extras``, flattened by :meth:`to_dict` into the JSON keys."""

    #: Keys placed after the typed fields and before the extras (subclasses).
    _TAIL: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data with the JSON keys (lists, floats, ``None``; eigenvectors stay arrays)."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            if f.name == "extras":
                continue
            value = getattr(self, f.name)
            if isinstance(value, Mapping) and f.metadata.get("flatten"):
                out.update(value)
            else:
                out[f.metadata.get("key", f.name)] = value
        out.update(self.extras)  # type: ignore[attr-defined]
        return out


    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"


@dataclass(frozen=True, eq=False, repr=False)
class SpectrumResult(_Result):
    """Lowest levels of one sector (:func:`edkit.api.spectrum`).

    Attributes
    ----------
    model, L, bc, params, sector
        What was solved: model name, length, boundary, resolved parameter values, sector.
    dimension
        States in the sector (or in the block, for a block search).
    energies
        The lowest levels, ascending.
    degeneracies
        ``[[energy, multiplicity], ...]`` among the returned levels.
    method
        The path that produced them (``"dense"``, ``"lanczos"``, ``"matrix-free"``, ``"blocks"``, ...).
    extras
        Keys only some spectra carry: ``symmetries``, ``levels``, ``ground_block``, ``labels_note``,
        ``blocks``, ``notes``, ``residuals``, ``vectors``.
    """

    model: str
    L: int | None
    bc: str
    params: dict[str, float]
    sector: dict[str, float]
    dimension: int
    energies: list[float]
    degeneracies: list
    method: str
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False, repr=False)
class GapsResult(_Result):
    """Gaps around a sector (:func:`edkit.api.gaps`).

    Attributes
    ----------
    model, L, bc, params, sector
        As for :class:`SpectrumResult`.
    energy
        Ground energy of the base sector (``None`` if it has no states).
    gaps
        ``{gap name: value or None}`` for every registered gap (``charge_gap``, ``spin_gap``,
        ``pair_binding``, ``neutral_gap``, ...); in the JSON these are top-level keys.
    sector_energies
        Every sector energy used, with where it came from and the seconds it took.
    extras
        ``levels``, ``ground_block``, ``notes`` where present.
    """

    model: str
    L: int | None
    bc: str
    params: dict[str, float]
    sector: dict[str, float]
    energy: float | None
    gaps: dict[str, float | None] = field(metadata={"flatten": True})
    sector_energies: list[dict] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        """``result.charge_gap`` etc. for every gap name."""
        gaps = self.__dict__.get("gaps")
        if gaps is not None and name in gaps:
            return gaps[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")


@dataclass(frozen=True, eq=False, repr=False)
class CorrelationsResult(_Result):
    """Ground-state correlators from a reference site (:func:`edkit.api.correlations`).

    Attributes
    ----------
    model, L, bc, params, sector
        As for :class:`SpectrumResult`.
    energy
        Ground energy.
    ground_state_degeneracy
        Number of degenerate ground states averaged over.
    reference
        The reference site ``i`` of ``C(i, j)``.
    layers
        ``{layer: {"C": [...], "N": [...], "S": [...], "SzSz": [...], "SxSx": [...], "SySy": [...]}}``.
    extras
        ``method``, ``residuals`` and other path-specific keys where present.
    """

    model: str
    L: int | None
    bc: str
    params: dict[str, float]
    sector: dict[str, float]
    energy: float
    ground_state_degeneracy: int
    reference: int
    layers: dict[str, dict[str, list[float]]]
    extras: dict[str, Any] = field(default_factory=dict)


def typed(cls: type, data: Mapping[str, Any]) -> Any:
    """Build ``cls`` from a plain result dict: known keys become fields, the rest ``extras``.

    For :class:`GapsResult` the gap keys (``names`` of :data:`edkit.observables.gaps.GAP_NAMES`)
    become ``gaps``. Key order of the JSON is kept: fields first (in today's order), then extras.
    """
    data = dict(data)
    kwargs: dict[str, Any] = {}
    if cls is GapsResult:
        from edkit.observables.gaps import GAP_NAMES

        kwargs["gaps"] = {name: data.pop(name, None) for name in GAP_NAMES}
    for f in fields(cls):
        if f.name in ("extras", "gaps"):
            continue
        if f.name in data:
            kwargs[f.name] = data.pop(f.name)
    return cls(**kwargs, extras=data)


__all__ = ["CorrelationsResult", "GapsResult", "MappingView", "SpectrumResult", "typed"]
