r"""The thermal quantities: names, definitions, and the operators behind them.

Scalar quantities (every point has each, with ``<name>_error``):

- ``energy``: :math:`\langle H\rangle` (without :math:`-\mu N` in the grand-canonical ensemble);
- ``specific_heat``: :math:`\beta^2(\langle H^2\rangle - \langle H\rangle^2)` (also in the
  grand-canonical ensemble, as issue 15 defines it; it is the canonical specific heat there only
  when ``N`` is fixed);
- ``N``: :math:`\langle N\rangle` (the model's count, e.g. conduction electrons of the Kondo lattice);
- ``double_occupancy``: :math:`\sum_o \langle n_{o\uparrow} n_{o\downarrow}\rangle`, **summed over
  every orbital** of the model (divide by ``model.n_orbitals`` for a per-site value); ``None`` for
  spinless models;
- ``spin_susceptibility``: :math:`\beta(\langle S_z^2\rangle - \langle S_z\rangle^2)` of the total
  :math:`S_z` (the **total**, not per site; zero when ``Sz`` is fixed);
- ``charge_susceptibility``: :math:`\beta(\langle N^2\rangle - \langle N\rangle^2)` (total; zero in the
  canonical ensemble).

``N``, ``Sz`` and their squares are conserved: they come from the sector weights, with no operator.

Correlators (asked by name): ``KEY:layer:i:j`` with ``KEY`` in ``C, N, S, SzSz, SxSx, SySy`` exactly as
the T = 0 columns of :mod:`edkit.observables.correlations` (the operators of
:func:`edkit.engine.product_expectation.correlator_terms`: one definition for both). ``"correlations"``
asks for every correlator from reference site 0 to every site of every layer; ``*`` matches any
layer, site or key (``C:p:0:*``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from edkit.core.errors import InputError
from edkit.core.model import Model

#: Scalar quantities of every point, in output order.
SCALARS = ("energy", "specific_heat", "N", "double_occupancy", "spin_susceptibility",
           "charge_susceptibility")
#: The correlator keys (as :data:`edkit.observables.correlations.CORRELATOR_KEYS`).
CORRELATOR_KEYS = ("C", "N", "S", "SzSz", "SxSx", "SySy")
#: ``observables=["correlations"]``: every correlator from this reference site.
DEFAULT_REFERENCE = 0


@dataclass(frozen=True)
class OperatorQuantity:
    """A quantity that is the thermal average of an operator: ``factor * <terms>``."""

    name: str
    factor: float
    terms: tuple


def correlator_columns(model: Model, references: Sequence[int] | None = None) -> list[str]:
    """Every ``KEY:layer:i:j`` column of ``model`` (``references`` default: every site)."""
    L = model.lattice.L
    refs = range(L) if references is None else references
    return [f"{key}:{layer}:{i}:{j}" for i in refs for layer in model.lattice.layers
            for key in CORRELATOR_KEYS for j in range(L)]


def resolve_observables(model: Model, observables: Sequence[str] | str | None) -> list[str]:
    """The correlator columns asked for (scalars are always computed).

    Raises
    ------
    InputError
        For a name that is neither a scalar, ``"correlations"``, nor a (pattern of) correlator
        column of this model, or correlators of a spinless model.
    """
    if observables is None:
        return []
    items = [observables] if isinstance(observables, str) else list(observables)
    out: list[str] = []
    every: list[str] | None = None
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InputError(f"an observable name is a non-empty string, got {item!r}")
        name = item.strip()
        if name in SCALARS:
            continue
        if not model.spinful:
            raise InputError(f"model {model.name!r} is spinless: pair and spin correlators need spin")
        if name == "correlations":
            found = correlator_columns(model, [DEFAULT_REFERENCE])
        else:
            if every is None:
                every = correlator_columns(model)
            found = fnmatch.filter(every, name) if any(c in name for c in "*?[") else (
                [name] if name in every else [])
            if not found:
                raise InputError(
                    f"unknown thermal observable {name!r} for {model.name} L={model.lattice.L}: give "
                    f"{', '.join(SCALARS)}, 'correlations' or KEY:layer:i:j with KEY in "
                    f"{', '.join(CORRELATOR_KEYS)}, layer in {', '.join(model.lattice.layers)}, sites "
                    f"0..{model.lattice.L - 1} ('*' matches any)")
        out += [f for f in found if f not in out]
    return out


def _conserving(model: Model, terms) -> tuple:
    """The terms whose words conserve ``N_up`` and ``N_dn`` (the others vanish in every sector)."""
    from edkit.core.modes import DN

    out = []
    for c, word in terms:
        up = sum((1 if d else -1) for m, d in word if m.spin != DN)
        dn = sum((1 if d else -1) for m, d in word if m.spin == DN)
        if up == 0 and dn == 0:
            out.append((complex(c), tuple(word)))
    return tuple(out)


def operator_quantities(model: Model, columns: Sequence[str]) -> list[OperatorQuantity]:
    """The operators to average: the double occupancy (spinful models) and the asked correlators."""
    from edkit.core.modes import DN, UP, Mode
    from edkit.engine.product_expectation import correlator_terms

    out = []
    if model.spinful:
        terms = [(1.0, ((Mode(layer, i, UP), True), (Mode(layer, i, UP), False),
                        (Mode(layer, i, DN), True), (Mode(layer, i, DN), False)))
                 for layer, i in model.orbitals]
        out.append(OperatorQuantity("double_occupancy", 1.0, _conserving(model, terms)))
    for col in columns:
        key, layer, i, j = col.split(":")
        factor, terms = correlator_terms(key, (layer, int(i)), (layer, int(j)))
        out.append(OperatorQuantity(col, float(factor), _conserving(model, terms)))
    return out


__all__ = ["CORRELATOR_KEYS", "DEFAULT_REFERENCE", "SCALARS", "OperatorQuantity", "correlator_columns",
           "operator_quantities", "resolve_observables"]
