"""The Kivelson bilayer (KBP) and its second-order effective model."""

from __future__ import annotations

import sympy

from edkit.core.lattice import bilayer
from edkit.core.model import (
    Capabilities,
    Constraint,
    Model,
    Term,
    constant,
    density,
    density_density,
    hopping,
)
from edkit.core.modes import DN, SPINS, UP, Mode
from edkit.core.params import Parameter

#: The bilayer family (KBP, its effective model, the Anderson and Kondo lattices): a metal chain
#: ``m`` with one ``p`` orbital per rung. Symmetry conditions are documentation; the check decides.
BILAYER = "bilayer"
CAPABILITIES = Capabilities(
    family=BILAYER,
    symmetries={"k": "periodic", "P": "always", "Z": "always (Sz = 0 sector)",
                "C": "mu_p = -U/2, mu_m = 0 (half filling, Sz = 0)"})
EFFECTIVE_CAPABILITIES = Capabilities(
    family=BILAYER,
    symmetries={"k": "periodic", "P": "always", "Z": "always (Sz = 0 sector)",
                "C": "mu_m = 0 (half filling, Sz = 0)"})


def _metal(lat, t_m) -> list[Term]:
    terms: list[Term] = []
    for (_, i), (_, j) in lat.chain_bonds("m"):
        for s in SPINS:
            terms += hopping(Mode("m", i, s), Mode("m", j, s), t_m, "t_m")
    return terms


def _shifted_density(layer: str, i: int, mu: sympy.Expr, label: str) -> list[Term]:
    """``-mu sum_sigma (n_sigma - 1/2)``."""
    out = [density(Mode(layer, i, s), -mu, label) for s in SPINS]
    out.append(constant(mu, label))
    return out


def kbp_bilayer(L: int, bc: str = "open") -> Model:
    r"""Kivelson bilayer: isolated attractive pairing sites ``p`` on rungs of a metal chain ``m``.

    Eqs. (1)-(4) of Ebot et al. (2026):

    .. math::
        H = -t_m \sum_{\langle ij\rangle\sigma} (c^\dagger_{i m\sigma} c_{j m\sigma} + \mathrm{h.c.})
            - \mu_m \sum_{i\sigma} (n_{i m\sigma} - \tfrac12)
            - U \sum_i n_{ip\uparrow} n_{ip\downarrow} - \mu_p \sum_{i\sigma} (n_{ip\sigma} - \tfrac12)
            - t_\perp \sum_{i\sigma} (c^\dagger_{ip\sigma} c_{im\sigma} + \mathrm{h.c.})

    Parameters: ``U`` (default 4, attraction strength, ``U > 0`` attractive), ``t_perp``
    (default 0.5), ``t_m`` (default 1), ``mu_p`` (default ``-U/2``), ``mu_m`` (default 0).
    At ``mu_p = -U/2, mu_m = 0`` the model is particle-hole symmetric (half filling, ``N = 2L``).

    Conventions
    -----------
    - ``L`` counts rungs. Orbitals: ``p0..p(L-1)`` then ``m0..m(L-1)`` (backend sites
      ``0..2L-1``); modes ``Mode(layer, i, spin)``; Jordan-Wigner order spin-up orbitals then
      spin-down orbitals.
    - Hopping signs ``-t_m`` along the metal, ``-t_perp`` on rungs; no hopping between p sites.
    - Periodic: metal bond ``(L-1, 0)`` written with plain fermion operators; ``L >= 3``.
    - Sector: ``N`` = all electrons (p and m), ``Sz`` = total.
    - The constants ``+mu/2`` per mode are kept, so energies are those of Eqs. (2)-(3) exactly.
    """
    lat = bilayer(L, bc)
    U, t_perp, t_m, mu_p, mu_m = (
        sympy.Symbol(n, real=True) for n in ("U", "t_perp", "t_m", "mu_p", "mu_m"))
    terms = _metal(lat, t_m)
    for i in range(L):
        terms += _shifted_density("m", i, mu_m, "mu_m")
        terms.append(density_density(Mode("p", i, UP), Mode("p", i, DN), -U, "U"))
        terms += _shifted_density("p", i, mu_p, "mu_p")
        for s in SPINS:
            terms += hopping(Mode("p", i, s), Mode("m", i, s), t_perp, "t_perp")
    params = {
        "U": Parameter("U", 4, "on-site attraction on p sites (U > 0 attractive)"),
        "t_perp": Parameter("t_perp", sympy.Rational(1, 2), "rung hopping p-m"),
        "t_m": Parameter("t_m", 1, "metal hopping"),
        "mu_p": Parameter("mu_p", -U / 2, "chemical potential of p sites"),
        "mu_m": Parameter("mu_m", 0, "chemical potential of the metal"),
    }
    return Model("kbp", lat, True, terms, params, doc=kbp_bilayer.__doc__ or "",
                 capabilities=CAPABILITIES).check()


def kbp_effective(L: int, bc: str = "open") -> Model:
    r"""Effective KBP model for ``t_perp << U`` (the form of Eq. (5), p sites empty or doubled).

    .. math::
        H = H_m + J \sum_i \Big[ \tfrac14 (n_{ip} - 1)(n_{im} - 1)
            - \tfrac12 \big( c^\dagger_{ip\uparrow} c^\dagger_{ip\downarrow}
              c_{im\downarrow} c_{im\uparrow} + \mathrm{h.c.} \big) \Big]

    with :math:`H_m` the metal of :func:`kbp_bilayer` (``t_m``, ``mu_m``) and every p site
    restricted to occupation 0 or 2 (a hard constraint, conserved by H).

    Parameters: ``J`` (default 1), ``t_m`` (default 1), ``mu_m`` (default 0).

    Notes
    -----
    The printed Eq. (5) writes the second term as
    :math:`c^\dagger_{p\uparrow} c^\dagger_{m\downarrow} c_{m\uparrow} c_{p\downarrow}`, a spin
    flip that annihilates every allowed p state; the term that the Schrieffer-Wolff reduction of
    Eq. (1) produces (and that Eq. (6) maps onto :math:`S^+_p S^-_m`) is the pair hopping written
    here. Its sign is fixed so that the particle-hole map gives :math:`+J\,\mathbf S_p\cdot
    \mathbf S_m` (checked by the verification ``kbp-effective-to-kondo``). The value of ``J`` in
    terms of ``t_perp, U`` is derived by the Schrieffer-Wolff layer, not assumed here.

    Conventions
    -----------
    Orbitals, mode order, hopping sign and periodic treatment as :func:`kbp_bilayer`. Sector:
    ``N`` = all electrons, ``Sz`` = total.
    """
    lat = bilayer(L, bc)
    J, t_m, mu_m = (sympy.Symbol(n, real=True) for n in ("J", "t_m", "mu_m"))
    terms = _metal(lat, t_m)
    quarter, half = sympy.Rational(1, 4), sympy.Rational(1, 2)
    constraints = []
    for i in range(L):
        terms += _shifted_density("m", i, mu_m, "mu_m")
        p = [Mode("p", i, s) for s in SPINS]
        m = [Mode("m", i, s) for s in SPINS]
        # (n_p - 1)(n_m - 1) = n_p n_m - n_p - n_m + 1
        for a in p:
            for b in m:
                terms.append(density_density(a, b, J * quarter, "J_z"))
        for a in p + m:
            terms.append(density(a, -J * quarter, "J_z"))
        terms.append(constant(J * quarter, "J_z"))
        pair = ((p[0], True), (p[1], True), (m[1], False), (m[0], False))
        pair_dag = ((m[0], True), (m[1], True), (p[1], False), (p[0], False))
        terms.append(Term(-J * half, pair, "J_xy"))
        terms.append(Term(-J * half, pair_dag, "J_xy"))
        constraints.append(Constraint(tuple(p), (0, 2), f"p{i} empty or doubly occupied"))
    params = {
        "J": Parameter("J", 1, "effective coupling (J S_p.S_m after the particle-hole map)"),
        "t_m": Parameter("t_m", 1, "metal hopping"),
        "mu_m": Parameter("mu_m", 0, "chemical potential of the metal"),
    }
    return Model("kbp-eff", lat, True, terms, params, constraints=tuple(constraints),
                 doc=kbp_effective.__doc__ or "", capabilities=EFFECTIVE_CAPABILITIES).check()
