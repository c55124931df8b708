"""The periodic Anderson lattice (the particle-hole image of the Kivelson bilayer)."""

from __future__ import annotations

import sympy

from edkit.core.lattice import bilayer
from edkit.core.model import Capabilities, Model, Term, constant, density, density_density, hopping
from edkit.core.modes import DN, SPINS, UP, Mode
from edkit.core.params import Parameter
from edkit.models.kbp import BILAYER

#: Bilayer family; symmetry conditions are documentation (the check on the terms decides).
CAPABILITIES = Capabilities(
    family=BILAYER,
    symmetries={"k": "periodic", "P": "always", "Z": "h_p = h_m = 0 (Sz = 0 sector)",
                "C": "h_p = h_m = 0 (half filling, Sz = 0)"})


def anderson_lattice(L: int, bc: str = "open") -> Model:
    r"""Periodic Anderson lattice with layer magnetic fields (Eq. (7) and App. A, Eq. (A3)).

    .. math::
        H = -t_m \sum_{\langle ij\rangle\sigma} (d^\dagger_{im\sigma} d_{jm\sigma} + \mathrm{h.c.})
            - t_\perp \sum_{i\sigma} (d^\dagger_{ip\sigma} d_{im\sigma} + \mathrm{h.c.})
            + U \sum_i (n_{ip\uparrow} - \tfrac12)(n_{ip\downarrow} - \tfrac12)
            - h_p \sum_i (n_{ip\uparrow} - n_{ip\downarrow})
            - h_m \sum_i (n_{im\uparrow} - n_{im\downarrow})

    Parameters: ``U`` (default 4, repulsive), ``t_perp`` (default 0.5), ``t_m`` (default 1),
    ``h_p``, ``h_m`` (default 0). The field term is :math:`-2h\sum_i S^z_i` (Zeeman energy
    lowered for spin up when ``h > 0``).

    Conventions
    -----------
    Same lattice, orbital and mode order as :func:`edkit.models.kbp.kbp_bilayer` (``p`` =
    localized f orbitals, ``m`` = conduction chain). No constant is added: the constant that the
    particle-hole map of the KBP produces is derived by the verification ``kbp-to-anderson``.
    Sector: ``N`` = all electrons, ``Sz`` = total.
    """
    lat = bilayer(L, bc)
    U, t_perp, t_m, h_p, h_m = (
        sympy.Symbol(n, real=True) for n in ("U", "t_perp", "t_m", "h_p", "h_m"))
    half = sympy.Rational(1, 2)
    terms: list[Term] = []
    for (_, i), (_, j) in lat.chain_bonds("m"):
        for s in SPINS:
            terms += hopping(Mode("m", i, s), Mode("m", j, s), t_m, "t_m")
    for i in range(L):
        for s in SPINS:
            terms += hopping(Mode("p", i, s), Mode("m", i, s), t_perp, "t_perp")
        up, dn = Mode("p", i, UP), Mode("p", i, DN)
        # U (n_up - 1/2)(n_dn - 1/2) = U n_up n_dn - U/2 n_up - U/2 n_dn + U/4
        terms += [density_density(up, dn, U, "U"), density(up, -U * half, "U"),
                  density(dn, -U * half, "U"), constant(U / 4, "U")]
        for layer, h in (("p", h_p), ("m", h_m)):
            terms.append(density(Mode(layer, i, UP), -h, f"h_{layer}"))
            terms.append(density(Mode(layer, i, DN), h, f"h_{layer}"))
    params = {
        "U": Parameter("U", 4, "on-site repulsion of the f (p) orbitals"),
        "t_perp": Parameter("t_perp", sympy.Rational(1, 2), "hybridization p-m"),
        "t_m": Parameter("t_m", 1, "conduction hopping"),
        "h_p": Parameter("h_p", 0, "magnetic field on p: -h_p (n_up - n_dn)"),
        "h_m": Parameter("h_m", 0, "magnetic field on m: -h_m (n_up - n_dn)"),
    }
    return Model("anderson", lat, True, terms, params, doc=anderson_lattice.__doc__ or "",
                 capabilities=CAPABILITIES).check()
