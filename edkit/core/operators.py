"""Fermion words of the standard local and two-point operators (correlators, spins).

Each function returns a list of ``(coefficient, word)`` pairs (sympy coefficients) for orbitals
``(layer, site)``. Definitions:

- ``pair_pair(a, b)``: :math:`\\Delta^\\dagger_a \\Delta_b = c^\\dagger_{a\\uparrow}
  c^\\dagger_{a\\downarrow} c_{b\\downarrow} c_{b\\uparrow}` (Eq. (9), corrected);
- ``density_density(a, b)``: :math:`(n_a - 1)(n_b - 1)` (Eq. (11));
- ``hopping(a, b, spin)``: :math:`c^\\dagger_{a\\sigma} c_{b\\sigma}` (Eq. (10));
- ``spin_spin(a, b, comp)``: :math:`S^{comp}_a S^{comp}_b` for comp in x, y, z with
  :math:`\\mathbf S = \\tfrac12 c^\\dagger\\boldsymbol\\sigma c`.
"""

from __future__ import annotations

import sympy

from edkit.core.modes import DN, SPINS, UP, Mode
from edkit.core.words import Word

Orbital = tuple[str, int]
Terms = list[tuple[sympy.Expr, Word]]


def _n(m: Mode) -> Word:
    return ((m, True), (m, False))


def _product(x: Terms, y: Terms) -> Terms:
    return [(a * b, wa + wb) for a, wa in x for b, wb in y]


def shifted_density(a: Orbital) -> Terms:
    """:math:`n_a - 1`."""
    return [(sympy.Integer(1), _n(Mode(*a, s))) for s in SPINS] + [(sympy.Integer(-1), ())]


def density_density(a: Orbital, b: Orbital) -> Terms:
    """:math:`(n_a - 1)(n_b - 1)`."""
    return _product(shifted_density(a), shifted_density(b))


def pair_pair(a: Orbital, b: Orbital) -> Terms:
    """:math:`c^\\dagger_{a\\uparrow} c^\\dagger_{a\\downarrow} c_{b\\downarrow} c_{b\\uparrow}`."""
    return [(sympy.Integer(1), ((Mode(*a, UP), True), (Mode(*a, DN), True),
                                (Mode(*b, DN), False), (Mode(*b, UP), False)))]


def hopping(a: Orbital, b: Orbital, spin: str) -> Terms:
    """:math:`c^\\dagger_{a\\sigma} c_{b\\sigma}`."""
    return [(sympy.Integer(1), ((Mode(*a, spin), True), (Mode(*b, spin), False)))]


def spin_component(a: Orbital, comp: str) -> Terms:
    """:math:`S^{comp}_a` for comp in ``x``, ``y``, ``z``, ``+``, ``-``."""
    up, dn = Mode(*a, UP), Mode(*a, DN)
    plus = ((up, True), (dn, False))
    minus = ((dn, True), (up, False))
    half = sympy.Rational(1, 2)
    table = {
        "z": [(half, _n(up)), (-half, _n(dn))],
        "+": [(sympy.Integer(1), plus)],
        "-": [(sympy.Integer(1), minus)],
        "x": [(half, plus), (half, minus)],
        "y": [(-sympy.I * half, plus), (sympy.I * half, minus)],
    }
    if comp not in table:
        raise ValueError(f"spin component must be one of {list(table)}, got {comp!r}")
    return table[comp]


def spin_spin(a: Orbital, b: Orbital, comp: str) -> Terms:
    """:math:`S^{comp}_a S^{comp}_b`."""
    return _product(spin_component(a, comp), spin_component(b, comp))
