"""Canonical transformations: mode maps, the spin-selective particle-hole map, and checks.

A *mode map* sends every annihilator :math:`c_m` to an operator (usually one fermion operator with
a sign); creators go to the adjoint image. :func:`apply_map` transforms any operator;
:func:`check_canonical` verifies that the images obey the canonical anticommutation relations,
:func:`check_involution` that applying the map twice is the identity.

Spin-selective particle-hole map (Eq. (6) of Ebot et al., derived)
------------------------------------------------------------------
.. math::
    c_{i\\lambda\\uparrow} \\to d_{i\\lambda\\uparrow}, \\qquad
    c_{i\\lambda\\downarrow} \\to \\epsilon_{i\\lambda}\\, d^\\dagger_{i\\lambda\\downarrow}

with :math:`\\epsilon = \\pm 1` opposite on the two ends of every hopping bond, so that every
hopping term :math:`-t\\,c^\\dagger_{a\\downarrow} c_{b\\downarrow}` keeps its sign
(:math:`\\epsilon_a \\epsilon_b\\, d_a d^\\dagger_b = -\\epsilon_a\\epsilon_b d^\\dagger_b d_a`). On
the Kivelson bilayer (metal chain plus rungs) this gives
:math:`\\epsilon_{ip} = (-1)^i, \\epsilon_{im} = (-1)^{i+1}`: the sign alternates along the chain and
between the two ends of a rung. The printed Eq. (6) uses an undefined index ``j`` and, read
with ``j = i``, gives this form; the signs are derived here from the bond graph (two-colouring),
so a lattice that is not bipartite (an odd ring) is refused, naming a frustrated bond.
The images keep the same mode labels (:math:`d` modes are labelled like the :math:`c` modes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sympy

from edkit.core.lattice import bipartite_signs
from edkit.core.model import Model
from edkit.core.modes import DN, Mode
from mappings.algebra import FermionOperator, anticommutator, c, cdag

ModeMap = Mapping[Mode, FermionOperator]


def apply_map(op: FermionOperator, mode_map: ModeMap) -> FermionOperator:
    """Transform an operator by a mode map."""
    return op.substitute(mode_map)


def particle_hole_map(model: Model, spins: Iterable[str] = (DN,),
                      signs: Mapping[tuple[str, int], int] | None = None) -> dict[Mode, FermionOperator]:
    """Spin-selective particle-hole map on the model's modes.

    Parameters
    ----------
    model
        Gives the modes and the bond graph (all hopping bonds of its lattice).
    spins
        Spin species that are particle-hole transformed (default: down only).
    signs
        Optional explicit sign per orbital; by default the two-colouring of the bond graph with
        ``+1`` on the first orbital (``(p, 0)`` for the bilayer).

    Raises
    ------
    edkit.core.lattice.LatticeError
        If the bond graph is not bipartite (the message names a frustrated bond).
    """
    if signs is None:
        signs = bipartite_signs(model.orbitals, model.lattice.bonds())
    spins = tuple(spins)
    images: dict[Mode, FermionOperator] = {}
    for mode in model.modes:
        if mode.spin in spins:
            images[mode] = cdag(mode) * signs[mode.orbital]
        else:
            images[mode] = c(mode)
    return images


@dataclass
class MapCheck:
    """Result of a canonicity or involution check."""

    passed: bool
    failures: list[str]


def check_canonical(mode_map: ModeMap) -> MapCheck:
    """Check :math:`\\{A_a, A_b^\\dagger\\} = \\delta_{ab}` and :math:`\\{A_a, A_b\\} = 0`."""
    modes = list(mode_map)
    failures = []
    for i, a in enumerate(modes):
        for b in modes[i:]:
            ab = anticommutator(mode_map[a], mode_map[b].adjoint())
            expect = sympy.Integer(1 if a == b else 0)
            if not ab.equals(expect):
                failures.append(f"{{A_{a}, A_{b}†}} = {ab}, expected {expect}")
            aa = anticommutator(mode_map[a], mode_map[b])
            if not aa.is_zero():
                failures.append(f"{{A_{a}, A_{b}}} = {aa}, expected 0")
    return MapCheck(not failures, failures)


def check_involution(mode_map: ModeMap) -> MapCheck:
    """Check that applying the map twice returns every annihilator unchanged."""
    failures = []
    for m, img in mode_map.items():
        twice = apply_map(img, mode_map)
        if not twice.equals(c(m)):
            failures.append(f"c_{m} -> {img} -> {twice}")
    return MapCheck(not failures, failures)
