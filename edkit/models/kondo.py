"""The Kondo lattice (localized spins-1/2 on rungs of a conduction chain)."""

from __future__ import annotations

import sympy

from edkit.core.lattice import bilayer
from edkit.core.model import Capabilities, Constraint, Model, Term, hopping
from edkit.core.modes import DN, SPINS, UP, Mode
from edkit.core.operators import spin_spin
from edkit.core.params import Parameter
from edkit.models.kbp import BILAYER

#: Bilayer family; symmetry conditions are documentation (the check on the terms decides).
CAPABILITIES = Capabilities(
    family=BILAYER,
    symmetries={"k": "periodic", "P": "always", "Z": "always (Sz = 0 sector)",
                "C": "half filling of the conduction band (checked)"})


def spin_dot_terms(a: tuple[str, int], b: tuple[str, int], J: sympy.Expr, label: str) -> list[Term]:
    r"""Fermion words of :math:`J\,\mathbf S_a\cdot\mathbf S_b` with spin-1/2 operators
    :math:`\mathbf S = \tfrac12 c^\dagger \boldsymbol\sigma c` on orbitals ``a`` and ``b``."""
    return [Term(J * coef, word, label) for comp in "xyz" for coef, word in spin_spin(a, b, comp)]


def kondo_lattice(L: int, bc: str = "open") -> Model:
    r"""Kondo lattice: conduction chain ``m`` and one localized spin-1/2 per rung on ``p``.

    .. math::
        H = -t_m \sum_{\langle ij\rangle\sigma} (c^\dagger_{im\sigma} c_{jm\sigma} + \mathrm{h.c.})
            + J \sum_i \mathbf S_{ip}\cdot\mathbf s_{im}

    with spin-1/2 operators :math:`\mathbf S = \tfrac12 f^\dagger\boldsymbol\sigma f`,
    :math:`\mathbf s = \tfrac12 c^\dagger\boldsymbol\sigma c`; ``J > 0`` is antiferromagnetic.
    Parameters: ``J`` (default 1), ``t_m`` (default 1).

    Conventions
    -----------
    - Each localized spin is a fermion orbital ``p_i`` held at exactly one electron (a hard
      constraint conserved by H), so the Hilbert space is spins (x) conduction electrons.
    - Orbitals, mode order, hopping sign and periodic treatment as
      :func:`edkit.models.kbp.kbp_bilayer`.
    - Sector: ``N`` = conduction electrons only; ``Sz`` = total, localized spins included.
    """
    lat = bilayer(L, bc)
    J, t_m = sympy.Symbol("J", real=True), sympy.Symbol("t_m", real=True)
    terms: list[Term] = []
    for (_, i), (_, j) in lat.chain_bonds("m"):
        for s in SPINS:
            terms += hopping(Mode("m", i, s), Mode("m", j, s), t_m, "t_m")
    constraints = []
    for i in range(L):
        terms += spin_dot_terms(("p", i), ("m", i), J, "J")
        constraints.append(Constraint((Mode("p", i, UP), Mode("p", i, DN)), (1,),
                                      f"p{i} singly occupied (a spin-1/2)"))
    params = {
        "J": Parameter("J", 1, "Kondo coupling J S_p.s_m (J > 0 antiferromagnetic)"),
        "t_m": Parameter("t_m", 1, "conduction hopping"),
    }
    return Model("kondo", lat, True, terms, params, constraints=tuple(constraints),
                 extra_electrons=L, doc=kondo_lattice.__doc__ or "", capabilities=CAPABILITIES).check()
