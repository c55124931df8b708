"""The Hubbard chain or ring."""

from __future__ import annotations

import sympy

from edkit.core.lattice import chain
from edkit.core.model import Capabilities, Model, Term, density, density_density, hopping
from edkit.core.modes import DN, SPINS, UP, Mode
from edkit.core.params import Parameter

#: What the Hubbard family declares: its lattice symmetries and the conditions under which they hold
#: (documentation for ``edkit plan``; the check on the terms decides).
CAPABILITIES = Capabilities(
    family="hubbard",
    symmetries={"k": "periodic ring", "P": "always", "Z": "always (Sz = 0 sector)",
                "C": "mu = U/2 on a bipartite lattice (open, or even ring); half filling, Sz = 0"})


def hubbard_chain(L: int, bc: str = "open") -> Model:
    r"""Hubbard chain (``bc="open"``) or ring (``bc="periodic"``).

    .. math::
        H = -t \sum_{\langle i j\rangle, \sigma} (c^\dagger_{i\sigma} c_{j\sigma} + \mathrm{h.c.})
            + U \sum_i n_{i\uparrow} n_{i\downarrow} - \mu \sum_{i\sigma} n_{i\sigma}

    Parameters: ``t`` (default 1), ``U`` (default 4), ``mu`` (default 0).

    Conventions
    -----------
    - Modes ``Mode("c", i, spin)``, ``i = 0..L-1``; Jordan-Wigner order: all spin-up sites
      ``0..L-1``, then all spin-down sites.
    - Hopping sign: ``-t`` for every bond; ``t > 0`` puts the single-particle minimum at k = 0.
    - Periodic: the bond ``(L-1, 0)`` is the plain fermion bond :math:`c^\dagger_{L-1} c_0`
      (true periodic fermions for every particle number; momenta :math:`2\pi m/L`). ``L >= 3``.
    - Sector: ``N`` = number of electrons, ``Sz = (N_up - N_dn)/2``.
    """
    lat = chain(L, bc, "c")
    t, U, mu = (sympy.Symbol(n, real=True) for n in ("t", "U", "mu"))
    terms: list[Term] = []
    for (_, i), (_, j) in lat.chain_bonds("c"):
        for s in SPINS:
            terms += hopping(Mode("c", i, s), Mode("c", j, s), t, "hopping")
    for i in range(L):
        terms.append(density_density(Mode("c", i, UP), Mode("c", i, DN), U, "U"))
        for s in SPINS:
            terms.append(density(Mode("c", i, s), -mu, "mu"))
    params = {
        "t": Parameter("t", 1, "hopping amplitude"),
        "U": Parameter("U", 4, "on-site repulsion (U > 0 repulsive)"),
        "mu": Parameter("mu", 0, "chemical potential"),
    }
    return Model("hubbard", lat, True, terms, params, doc=hubbard_chain.__doc__ or "",
                 capabilities=CAPABILITIES).check()
