"""Two capacitively coupled wires: a spinful primary wire and a spinless secondary wire.

The lattice version of the primary/secondary setup of Shavit and Oreg (2020) (pairing in a
spinful wire from its density-density coupling to a strongly correlated spinless wire), and of
the two-wire Coulomb-drag geometry (Dmitriev, Gornyi and Polyakov). Each wire can be threaded
by its own flux (``phi_1``, ``phi_2``), so the ground-state energy curvature gives the Drude
weights and the mixed (drag) weight (see :mod:`edkit.studies.drag`).
"""

from __future__ import annotations

import sympy

from edkit.core.lattice import Lattice
from edkit.core.model import (
    Capabilities,
    Constraint,
    Model,
    Sector,
    SectorError,
    Term,
    density,
    density_density,
    particle_count,
    split_spin,
)
from edkit.core.modes import DN, SPINS, UP, Mode
from edkit.core.params import Parameter

PRIMARY = "pri"
SECONDARY = "sec"

#: The two wires exchange no particles: sectors are solved in their product space (the engine's
#: ``two-wire-product`` backend); family observables: binding energies and Drude/drag weights.
CAPABILITIES = Capabilities(family="two-wire", space="two-wire-product",
                            observables=("binding", "drude"))


def _twisted_hopping(a: Mode, b: Mode, amplitude: sympy.Expr, phase: sympy.Expr,
                     label: str) -> list[Term]:
    """``-amplitude (e^{i phase} c†_b c_a + e^{-i phase} c†_a c_b)`` (hop from ``a`` to ``b``)."""
    return [Term(-amplitude * sympy.exp(sympy.I * phase), ((b, True), (a, False)), label),
            Term(-amplitude * sympy.exp(-sympy.I * phase), ((a, True), (b, False)), label)]


def two_wire(L: int, bc: str = "open") -> Model:
    r"""Two wires: spinful primary (``t``, ``U``, ``V_p``) and spinless secondary, density coupled.

    .. math::
        H = -t \sum_{j\sigma} (e^{i\phi_1 \delta_{j,L-1}} c^\dagger_{j+1\,\sigma} c_{j\sigma}
              + \mathrm{h.c.})
            + U \sum_j n_{j\uparrow} n_{j\downarrow} + V_p \sum_j n_j n_{j+1}
            - t_s \sum_j (e^{i\phi_2 \delta_{j,L-1}} f^\dagger_{j+1} f_j + \mathrm{h.c.})
            + V_s \sum_j m_j m_{j+1} - \mu_s \sum_j m_j
            + V \sum_j n_j m_j + V_d \sum_{j} (n_j m_{j+1} + n_{j+1} m_j)

    with :math:`c` the primary electrons (:math:`n_j = n_{j\uparrow} + n_{j\downarrow}`),
    :math:`f` the spinless secondary fermions (:math:`m_j = f^\dagger_j f_j`), sums over the
    bonds ``(j, j+1)`` of the chain (with ``(L-1, 0)`` on a ring, indices mod ``L``). No
    tunnelling between the wires.

    Parameters: ``t`` (1), ``U`` (4), ``V_p`` (0), ``t_s`` (1), ``V_s`` (0), ``mu_s`` (0),
    ``V`` (1, inter-wire coupling on a rung), ``V_d`` (0, inter-wire coupling on the diagonals
    ``(j, j+1)`` of the ladder, i.e. next rung), ``phi_1`` (0), ``phi_2`` (0): the total flux
    through the primary and the secondary ring.

    Conventions
    -----------
    - Orbitals ``pri0..pri(L-1)`` then ``sec0..sec(L-1)`` (backend sites ``0..2L-1``). The
      secondary wire is spinless: its fermions are the spin-up modes ``Mode("sec", j, "up")``;
      the spin-down modes of ``sec`` orbitals exist in the basis but are held empty by a model
      constraint (no term touches them).
    - Flux gauge: the whole flux sits on the ring bond, as the phase :math:`e^{i\phi}` of the
      hop ``L-1 -> 0`` (boundary gauge; a gauge transformation takes it to the uniform gauge
      :math:`e^{i\phi/L}` on every bond, with the same spectrum; the tests check both). The
      spectrum is periodic in each flux with period :math:`2\pi`. At :math:`\phi = 0` the
      coefficients are real and at :math:`\phi = \pi` (antiperiodic boundary conditions) real
      up to round-off, so closed-shell boundary conditions keep real arithmetic. An open chain
      has no ring bond: the fluxes do not enter.
    - Hopping sign ``-t`` / ``-t_s``; the ring bond ``(L-1, 0)`` is written with plain fermion
      operators (true periodic fermions for every particle number); ``L >= 3`` for a ring.
    - Sectors: ``N`` = electrons in the **primary** wire, ``Sz`` = spin of the **primary** wire,
      ``N_s`` = particles in the secondary wire (default ``L // 2``). Example:
      ``model.sector(4, 0, N_s=2)``; on the command line ``--sector N=4 --sector N_s=2``.
      Default sector when none is given: ``N = L`` (half-filled primary), ``N_s = L // 2``.
    - ``mu_s`` only shifts the energy of a fixed-``N_s`` sector by :math:`-\mu_s N_s`; it
      matters when sectors of different ``N_s`` are compared (grand canonical secondary wire,
      :func:`edkit.studies.two_wire.secondary_filling`).
    - ``V > 0`` is repulsive. Paper conventions: the primary wire of Shavit and Oreg is this
      ``t, U, V_p`` wire, their secondary wire is ``t_s, V_s, mu_s``, their capacitive
      coupling :math:`V \rho_{sec}(\rho_\uparrow + \rho_\downarrow)` is the on-rung ``V``
      (``V_d`` widens its range).
    """
    lat = Lattice(L=L, bc=bc, layers=(PRIMARY, SECONDARY), chain_layers=(PRIMARY, SECONDARY),
                  rungs=((PRIMARY, SECONDARY),))
    names = ("t", "U", "V_p", "t_s", "V_s", "mu_s", "V", "V_d", "phi_1", "phi_2")
    t, U, V_p, t_s, V_s, mu_s, V, V_d, phi_1, phi_2 = (sympy.Symbol(n, real=True) for n in names)
    terms: list[Term] = []
    pri_bonds = [(i, j) for (_, i), (_, j) in lat.chain_bonds(PRIMARY)]
    sec_bonds = [(i, j) for (_, i), (_, j) in lat.chain_bonds(SECONDARY)]
    # primary wire
    for i, j in pri_bonds:
        phase = phi_1 if (i, j) == (L - 1, 0) else sympy.Integer(0)
        for s in SPINS:
            terms += _twisted_hopping(Mode(PRIMARY, i, s), Mode(PRIMARY, j, s), t, phase, "t")
        for s1 in SPINS:
            for s2 in SPINS:
                terms.append(density_density(Mode(PRIMARY, i, s1), Mode(PRIMARY, j, s2), V_p, "V_p"))
    for i in range(L):
        terms.append(density_density(Mode(PRIMARY, i, UP), Mode(PRIMARY, i, DN), U, "U"))
    # secondary wire (spin-up modes of the sec orbitals)
    for i, j in sec_bonds:
        phase = phi_2 if (i, j) == (L - 1, 0) else sympy.Integer(0)
        terms += _twisted_hopping(Mode(SECONDARY, i, UP), Mode(SECONDARY, j, UP), t_s, phase, "t_s")
        terms.append(density_density(Mode(SECONDARY, i, UP), Mode(SECONDARY, j, UP), V_s, "V_s"))
    for i in range(L):
        terms.append(density(Mode(SECONDARY, i, UP), -mu_s, "mu_s"))
    # inter-wire density-density coupling: rungs, then the two diagonals of each plaquette
    for i in range(L):
        for s in SPINS:
            terms.append(density_density(Mode(PRIMARY, i, s), Mode(SECONDARY, i, UP), V, "V"))
    for i, j in pri_bonds:
        for s in SPINS:
            terms.append(density_density(Mode(PRIMARY, i, s), Mode(SECONDARY, j, UP), V_d, "V_d"))
            terms.append(density_density(Mode(PRIMARY, j, s), Mode(SECONDARY, i, UP), V_d, "V_d"))
    params = {
        "t": Parameter("t", 1, "primary hopping"),
        "U": Parameter("U", 4, "primary on-site repulsion (U > 0 repulsive)"),
        "V_p": Parameter("V_p", 0, "primary nearest-neighbour repulsion"),
        "t_s": Parameter("t_s", 1, "secondary hopping"),
        "V_s": Parameter("V_s", 0, "secondary nearest-neighbour repulsion"),
        "mu_s": Parameter("mu_s", 0, "secondary chemical potential (-mu_s N_s)"),
        "V": Parameter("V", 1, "inter-wire density-density coupling on a rung (V > 0 repulsive)"),
        "V_d": Parameter("V_d", 0, "inter-wire coupling to the next rung (ladder diagonals)"),
        "phi_1": Parameter("phi_1", 0, "flux through the primary ring (phase on the ring bond)"),
        "phi_2": Parameter("phi_2", 0, "flux through the secondary ring (phase on the ring bond)"),
    }
    empty_dn = Constraint(tuple(Mode(SECONDARY, i, DN) for i in range(L)), (0,),
                          "secondary wire is spinless (its spin-down modes stay empty)")
    return Model("two-wire", lat, True, terms, params, constraints=(empty_dn,),
                 doc=two_wire.__doc__ or "", sector_names=("N", "Sz", "N_s"),
                 sector_fn=_two_wire_sector, default_sector={"N": L, "N_s": L // 2},
                 capabilities=CAPABILITIES).check()


def _two_wire_sector(model: Model, N: int | None, Sz: float | None, N_s: float | None = None) -> Sector:
    """Sector of ``N`` primary electrons with primary spin ``Sz`` and ``N_s`` secondary particles.

    Raises
    ------
    SectorError
        If a number is missing, not an integer (half-integer for ``Sz``), or out of range.
    """
    L = model.lattice.L
    if N is None or Sz is None:
        raise SectorError("two-wire needs both N (primary electrons) and Sz (primary spin)")
    if N_s is None:
        N_s = L // 2
    N = particle_count("N", N, 2 * L, f"the primary wire has {L} sites")
    N_s = particle_count("N_s", N_s, L, f"the secondary wire has {L} sites")
    n_up, n_dn = split_spin(N, Sz, L, f"N={N}", f"{L} primary sites")
    fixed = Constraint(tuple(Mode(SECONDARY, i, UP) for i in range(L)), (N_s,),
                       f"N_s = {N_s} secondary particles")
    return Sector(n_up + N_s, n_dn, (fixed,))
