"""Labelled fermion modes and the one documented mode order.

A mode is ``Mode(layer, site, spin)``:

- ``layer`` names a layer or subsystem (``"c"`` for a single chain, ``"p"`` pairing sites and
  ``"m"`` metal of the Kivelson bilayer, ``"sys"``/``"pol"`` for polarizer models, ...);
- ``site`` is the integer position inside the layer (the rung index of a bilayer);
- ``spin`` is ``"up"``, ``"dn"`` or ``""`` for spinless fermions.

Mode order (fixes the Jordan-Wigner string)
-------------------------------------------
Every model lists its *orbitals* ``(layer, site)`` in layer-major order (all sites of the first
layer, then all sites of the second, ...); orbital ``k`` is QuSpin site ``k``. The fermion modes are
ordered **spin-major**: all spin-up modes (orbital 0, 1, ...) and then all spin-down modes, the same
order QuSpin's ``spinful_fermion_basis_general`` uses. A product written in any order is brought to
this order with the usual fermionic signs, so physical results do not depend on it; it matters for
reading basis states and for anyone comparing raw matrices with another code.

Inside the symbolic algebra, words are sorted with :func:`mode_key` (layer, site, spin), which is a
canonical form for comparing operators and independent of the Jordan-Wigner order.
"""

from __future__ import annotations

from typing import NamedTuple

UP = "up"
DN = "dn"
SPINLESS = ""
SPINS = (UP, DN)


class Mode(NamedTuple):
    """One fermion mode: ``(layer, site, spin)``."""

    layer: str
    site: int
    spin: str = SPINLESS

    @property
    def orbital(self) -> tuple[str, int]:
        """The spatial orbital ``(layer, site)`` of the mode."""
        return (self.layer, self.site)

    def __str__(self) -> str:
        spin = {UP: "↑", DN: "↓", SPINLESS: ""}.get(self.spin, self.spin)
        return f"{self.layer}{self.site}{spin}"

    def latex(self) -> str:
        """LaTeX subscript of the mode, e.g. ``p,0,\\uparrow``."""
        spin = {UP: r",\uparrow", DN: r",\downarrow", SPINLESS: ""}[self.spin]
        return f"{self.layer},{self.site}{spin}"


def mode_key(mode: Mode) -> tuple[str, int, str]:
    """Sort key of the symbolic canonical order (layer, site, spin)."""
    return (mode.layer, mode.site, mode.spin)


def flip_spin(spin: str) -> str:
    """The opposite spin label (spinless stays spinless)."""
    return {UP: DN, DN: UP, SPINLESS: SPINLESS}[spin]
