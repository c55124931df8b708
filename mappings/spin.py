"""Spin, eta-pseudospin and occupancy-projector operators of one orbital.

Conventions
-----------
Spin-1/2 operators of orbital ``(layer, site)``:
:math:`S^+ = c^\\dagger_\\uparrow c_\\downarrow`, :math:`S^- = (S^+)^\\dagger`,
:math:`S^z = (n_\\uparrow - n_\\downarrow)/2`, :math:`S^x = (S^+ + S^-)/2`,
:math:`S^y = (S^+ - S^-)/(2i)`.

Eta pseudospin (charge SU(2)) with the staggering phase :math:`(-1)^j` of the orbital's
sublattice (``phase`` argument, default :math:`(-1)^{site}`):
:math:`\\eta^+ = (-1)^j c^\\dagger_\\uparrow c^\\dagger_\\downarrow`, :math:`\\eta^- = (\\eta^+)^\\dagger`,
:math:`\\eta^z = (n_\\uparrow + n_\\downarrow - 1)/2`.
"""

from __future__ import annotations

import sympy

from edkit.core import operators as core_ops
from edkit.core.modes import DN, UP, Mode
from mappings.algebra import FermionOperator, cdag, identity, number

Orbital = tuple[str, int]


def _modes(orbital: Orbital) -> tuple[Mode, Mode]:
    layer, site = orbital
    return Mode(layer, site, UP), Mode(layer, site, DN)


def _from_core(terms) -> FermionOperator:
    """Wrap the core's word definitions (one definition for both layers)."""
    return FermionOperator([(w, c) for c, w in terms])


def spin_plus(orbital: Orbital) -> FermionOperator:
    """:math:`S^+`."""
    return _from_core(core_ops.spin_component(orbital, "+"))


def spin_minus(orbital: Orbital) -> FermionOperator:
    """:math:`S^-`."""
    return _from_core(core_ops.spin_component(orbital, "-"))


def spin_z(orbital: Orbital) -> FermionOperator:
    """:math:`S^z`."""
    return _from_core(core_ops.spin_component(orbital, "z"))


def spin_x(orbital: Orbital) -> FermionOperator:
    """:math:`S^x`."""
    return _from_core(core_ops.spin_component(orbital, "x"))


def spin_y(orbital: Orbital) -> FermionOperator:
    """:math:`S^y`."""
    return _from_core(core_ops.spin_component(orbital, "y"))


def spin(orbital: Orbital, component: str) -> FermionOperator:
    """Spin component ``"x"``, ``"y"``, ``"z"``, ``"+"`` or ``"-"``."""
    return _from_core(core_ops.spin_component(orbital, component))


def spin_dot(a: Orbital, b: Orbital) -> FermionOperator:
    """:math:`\\mathbf S_a\\cdot\\mathbf S_b = S^z_a S^z_b + (S^+_a S^-_b + S^-_a S^+_b)/2`."""
    return spin_z(a) * spin_z(b) + (spin_plus(a) * spin_minus(b)
                                    + spin_minus(a) * spin_plus(b)) * sympy.Rational(1, 2)


def density(orbital: Orbital) -> FermionOperator:
    """:math:`n = n_\\uparrow + n_\\downarrow`."""
    u, d = _modes(orbital)
    return number(u) + number(d)


def pair_creation(orbital: Orbital) -> FermionOperator:
    """:math:`\\Delta^\\dagger = c^\\dagger_\\uparrow c^\\dagger_\\downarrow`."""
    u, d = _modes(orbital)
    return cdag(u) * cdag(d)


def eta_plus(orbital: Orbital, phase: int | None = None) -> FermionOperator:
    """:math:`\\eta^+ = (-1)^j c^\\dagger_\\uparrow c^\\dagger_\\downarrow`."""
    sign = phase if phase is not None else (-1) ** orbital[1]
    return pair_creation(orbital) * sign


def eta_minus(orbital: Orbital, phase: int | None = None) -> FermionOperator:
    """:math:`\\eta^- = (\\eta^+)^\\dagger`."""
    return eta_plus(orbital, phase).adjoint()


def eta_z(orbital: Orbital) -> FermionOperator:
    """:math:`\\eta^z = (n - 1)/2`."""
    return (density(orbital) - 1) * sympy.Rational(1, 2)


def occupancy_projector(orbital: Orbital, allowed: tuple[int, ...]) -> FermionOperator:
    """Projector on total occupation of the orbital in ``allowed`` (subset of 0, 1, 2)."""
    u, d = _modes(orbital)
    nu, nd = number(u), number(d)
    one = identity()
    pieces = {0: (one - nu) * (one - nd), 1: nu * (one - nd) + nd * (one - nu), 2: nu * nd}
    out = FermionOperator()
    for k in allowed:
        if k not in pieces:
            raise ValueError(f"occupation of a spinful orbital is 0, 1 or 2, got {k}")
        out = out + pieces[k]
    return out
