"""Polarizer models: the two-site system of Hamo et al. (2016) and Little's polarizer chain.

A *polarizer* is a two-site orbital holding exactly one electron (an isolated charge dipole);
it is written with ordinary fermion orbitals and a hard occupation constraint, so the numeric
layer diagonalizes exactly what the symbolic layer (:mod:`mappings.polarizer`) reads.
"""

from __future__ import annotations

import sympy

from edkit.core.lattice import Lattice, LatticeError
from edkit.core.model import (
    Capabilities,
    Constraint,
    Model,
    Sector,
    SectorError,
    Term,
    density,
    density_density,
    hopping,
    particle_count,
    split_spin,
)
from edkit.core.modes import DN, SPINLESS, SPINS, UP, Mode
from edkit.core.params import Parameter

SYSTEM, POLARIZER = "sys", "pol"
#: the two system sites and the two polarizer sites of :func:`polarizer_pair`
SITE_L, SITE_R = Mode(SYSTEM, 0, SPINLESS), Mode(SYSTEM, 1, SPINLESS)
SITE_T, SITE_B = Mode(POLARIZER, 0, SPINLESS), Mode(POLARIZER, 1, SPINLESS)
LEAD = "lead"
#: the lead levels of ``polarizer_pair(leads=True)``, coupled to ``SITE_L`` and ``SITE_R``
LEAD_L, LEAD_R = Mode(LEAD, 0, SPINLESS), Mode(LEAD, 1, SPINLESS)

CHAIN, NEAR, FAR = "c", "pn", "pf"

#: The polarizer family (hamo, hamo-leads, little); hamo also offers its charge stability diagram.
FAMILY = "polarizer"
CAPABILITIES = Capabilities(family=FAMILY)
HAMO_CAPABILITIES = Capabilities(family=FAMILY, observables=("stability",))


def _n(mode: Mode) -> tuple:
    return ((mode, True), (mode, False))


# --------------------------------------------------------------------------- Hamo et al.
def polarizer_pair(L: int | None = None, bc: str = "open", *, leads: bool = False) -> Model:
    r"""Hamo two-site system with one polarizer (Eqs. (1)-(3) of Hamo et al., Nature 2016).

    .. math::
        H = \frac{\delta}{2}\hat\sigma_z + t\,\hat\sigma_x
            + \frac{U}{2}(n_L + n_R)(\hat I - \hat\sigma_z) + W n_L n_R
            + \epsilon_L n_L + \epsilon_R n_R

    with :math:`\hat\sigma_z = n_T - n_B`, :math:`\hat\sigma_x = \psi^\dagger_T\psi_B +
    \psi^\dagger_B\psi_T`, :math:`\hat I = n_T + n_B` (so the coupling is :math:`U (n_L + n_R)
    n_B`: a system electron repels the polarizer electron on the bottom site ``B``).
    No tunnelling between ``L`` and ``R``: ``n_L`` and ``n_R`` are separately conserved.

    Parameters (energies, meV in the paper's units): ``U`` (0.925, system-polarizer repulsion),
    ``W`` (0.83, repulsion between the system sites), ``delta`` (1.01, detuning
    :math:`\epsilon_T - \epsilon_B`), ``t`` (0.05, polarizer tunnelling; not quoted in the
    paper, an illustrative strong-coupling value), ``eps_L``, ``eps_R`` (0, gate energies of the
    system sites). ``U``, ``W``, ``delta`` defaults are the scales quoted by the paper (W = 830
    ueV, U ~ 925 ueV, delta = 1.01 meV of Fig. 3b).

    Conventions
    -----------
    - Spinless. Orbitals (layer-major): ``sys0 = L``, ``sys1 = R``, ``pol0 = T`` (top, far from
      the system), ``pol1 = B`` (bottom, next to the system); backend sites ``0..3``.
      The module constants ``SITE_L, SITE_R, SITE_T, SITE_B`` are these modes.
    - The polarizer holds exactly one electron (constraint ``n_T + n_B = 1``); ``N`` counts the
      **system** electrons only, ``N`` in ``0..2`` (``extra_electrons = 1``). ``N`` outside
      ``0..2`` is refused.
    - Sign of ``t`` as printed (``+t sigma_x``); it is a gauge choice (``psi_T -> -psi_T``).
    - The model has no length: ``L`` may be omitted (``None``) or ``2`` (two sites per layer,
      the layout above); ``bc`` must be ``"open"``.
    - Effective interaction (pair binding at ``N = 0``):
      :math:`W_{eff} = E(2) + E(0) - 2E(1)` at equal gates, printed as ``pair_binding`` by
      ``edkit gaps hamo --sector N=0``; see :mod:`mappings.polarizer` for its strong-coupling
      form and :mod:`edkit.studies.stability` for the charge stability diagram over ``eps_L, eps_R``.
    - Every parameter may take any finite real value (the derivations hold for all signs);
      non-finite values are refused.

    Leads (``leads=True``, model ``hamo-leads``; the default ``leads=False`` is ``hamo`` above,
    unchanged): each system site is tunnel-coupled to its own spinless lead level,

    .. math::
        H_{leads} = H + \epsilon_{lead}(n_{\ell L} + n_{\ell R})
            - \gamma\,(c^\dagger_L \ell_L + c^\dagger_R \ell_R + \mathrm{h.c.})

    with extra parameters ``gamma`` (0, tunnelling amplitude; hopping sign convention
    :math:`-\gamma`) and ``eps_lead`` (0, lead level). Orbitals: ``lead0 = l_L``,
    ``lead1 = l_R`` after the four above (backend sites ``4, 5``; constants ``LEAD_L, LEAD_R``).
    ``N`` then counts system **plus lead** electrons (``0..4``; the polarizer's electron is
    still added, not counted), the conserved number once ``gamma != 0``; default ``N = 2``.
    :math:`n_L + n_{\ell L}` and :math:`n_R + n_{\ell R}` are separately conserved: the
    co-tunnelling block (one electron per site-and-lead pair, holding the even states (0,0) and
    (1,1) and the odd ones) lies in ``N = 2``, together with the two states per side where
    both electrons sit on one site and its lead (odd charge states (1,0), (0,1)).
    """
    if L is not None and (isinstance(L, bool) or L != 2):
        raise LatticeError(
            f"hamo is a fixed four-orbital cluster (system sites L, R; polarizer sites T, B): "
            f"omit L or give L=2, got L={L!r}")
    if bc != "open":
        raise LatticeError(f"hamo has no periodic version (no bonds); bc must be 'open', got {bc!r}")
    if not isinstance(leads, bool):
        raise TypeError(f"leads must be True or False, got {leads!r}")
    lat = Lattice(L=2, bc="open", layers=(SYSTEM, POLARIZER) + ((LEAD,) if leads else ()),
                  chain_layers=())
    U, W, delta, t, eps_L, eps_R = (
        sympy.Symbol(n, real=True) for n in ("U", "W", "delta", "t", "eps_L", "eps_R"))
    half = sympy.Rational(1, 2)
    nL, nR, nT, nB = (_n(m) for m in (SITE_L, SITE_R, SITE_T, SITE_B))
    terms = [
        # Eq. (1): (delta/2) sigma_z + t sigma_x
        Term(delta * half, nT, "delta"), Term(-delta * half, nB, "delta"),
        Term(t, ((SITE_T, True), (SITE_B, False)), "t"),
        Term(t, ((SITE_B, True), (SITE_T, False)), "t"),
        # Eq. (3)
        Term(W, nL + nR, "W"),
        density(SITE_L, eps_L, "eps_L"), density(SITE_R, eps_R, "eps_R"),
    ]
    # Eq. (2): (U/2)(n_L + n_R)(I - sigma_z), I - sigma_z = 2 n_B written out term by term
    for n_sys in (nL, nR):
        terms += [Term(U * half, n_sys + nT, "U"), Term(U * half, n_sys + nB, "U"),
                  Term(-U * half, n_sys + nT, "U"), Term(U * half, n_sys + nB, "U")]
    params = {
        "U": Parameter("U", 0.925, "system-polarizer repulsion (system site - B)"),
        "W": Parameter("W", 0.83, "repulsion between the system sites L, R"),
        "delta": Parameter("delta", 1.01, "polarizer detuning eps_T - eps_B"),
        "t": Parameter("t", 0.05, "polarizer tunnelling T-B"),
        "eps_L": Parameter("eps_L", 0, "gate energy of site L"),
        "eps_R": Parameter("eps_R", 0, "gate energy of site R"),
    }
    single = Constraint((SITE_T, SITE_B), (1,), "polarizer singly occupied (n_T + n_B = 1)")
    if leads:
        gamma, eps_lead = sympy.Symbol("gamma", real=True), sympy.Symbol("eps_lead", real=True)
        for site, lead in ((SITE_L, LEAD_L), (SITE_R, LEAD_R)):
            terms += hopping(site, lead, gamma, "gamma")
            terms.append(density(lead, eps_lead, "eps_lead"))
        params["gamma"] = Parameter("gamma", 0, "tunnelling system site - its lead level (L-l_L, R-l_R)")
        params["eps_lead"] = Parameter("eps_lead", 0, "energy of the two lead levels")
        return Model("hamo-leads", lat, False, terms, params, constraints=(single,), extra_electrons=1,
                     doc=polarizer_pair.__doc__ or "", sector_fn=_hamo_leads_sector,
                     default_sector={"N": 2}, capabilities=CAPABILITIES).check()
    return Model("hamo", lat, False, terms, params, constraints=(single,), extra_electrons=1,
                 doc=polarizer_pair.__doc__ or "", sector_fn=_hamo_sector,
                 default_sector={"N": 0}, capabilities=HAMO_CAPABILITIES).check()


def _spinless_sector(name: str, maximum: int, why: str):
    """Sector function of a spinless polarizer model: ``N`` in ``0..maximum``, polarizer added."""

    def sector(model: Model, N: int | None, Sz: float | None = None) -> Sector:
        if Sz not in (None, 0):
            raise SectorError(f"{name} is spinless: it has no Sz sector")
        return Sector(particle_count("N", N, maximum, why) + 1, 0)

    sector.__doc__ = f"Sector of ``N`` electrons of {name} (0..{maximum}; the polarizer's is added)."
    return sector


_hamo_sector = _spinless_sector(
    "hamo", 2, "N counts the electrons on the two system sites L, R (the polarizer always holds "
    "exactly one electron, which N does not count)")
_hamo_leads_sector = _spinless_sector(
    "hamo-leads", 4, "N counts the electrons on the system sites L, R and their lead levels (the "
    "polarizer always holds exactly one electron, which N does not count)")


def sigma_z_terms() -> list[tuple[sympy.Expr, tuple]]:
    r"""Polarization :math:`\hat\sigma_z = n_T - n_B` of :func:`polarizer_pair` as ``(coef, word)``."""
    return [(sympy.Integer(1), _n(SITE_T)), (sympy.Integer(-1), _n(SITE_B))]


# ------------------------------------------------------------------------- Little's chain
def little_chain(L: int, bc: str = "open") -> Model:
    r"""Little's chain: a spinful chain with one two-level polarizer (one electron) per site.

    .. math::
        H = -t \sum_{\langle ij\rangle\sigma} (c^\dagger_{i\sigma} c_{j\sigma} + \mathrm{h.c.})
            + U_s \sum_i n_{i\uparrow} n_{i\downarrow} + W \sum_{\langle ij\rangle} n_i n_j
            + \sum_i \Big[\frac{E}{2}\tau^z_i + t_{pol}\tau^x_i
            + \Big(V n_i + V_{nn} \sum_{j\in\langle i\rangle} n_j\Big)\, n^{near}_i\Big]

    with :math:`n_i = n_{i\uparrow} + n_{i\downarrow}`, :math:`\tau^z_i = n^{far}_i - n^{near}_i`,
    :math:`\tau^x_i = a^\dagger_{i,far} a_{i,near} + \mathrm{h.c.}` and
    :math:`n^{near}_i = (1 - \tau^z_i)/2` on the one-electron polarizer: the Hamo coupling
    (:func:`polarizer_pair`) on every site. A chain electron repels the polarizer electron on
    the near site of its own polarizer (``V``) and of the neighbouring polarizers (``V_nn``).

    Parameters: ``t`` (1), ``U_s`` (2, on-site repulsion), ``W`` (0, nearest-neighbour
    repulsion), ``E`` (1, polarizer detuning :math:`\epsilon_{far} - \epsilon_{near}`; the
    excitation energy of a free polarizer is :math:`\Omega = \sqrt{E^2 + 4t_{pol}^2}`),
    ``t_pol`` (0.5), ``V`` (1), ``V_nn`` (0).

    Conventions
    -----------
    - Orbitals (layer-major): chain ``c0..c(L-1)``, near polarizer sites ``pn0..pn(L-1)``, far
      sites ``pf0..pf(L-1)`` (backend sites ``0..3L-1``); Jordan-Wigner order spin-up orbitals
      then spin-down orbitals.
    - The polarizer electrons are spinless: they are the spin-up modes of the ``pn``, ``pf``
      orbitals. Constraints hold ``n_{pn,i,up} + n_{pf,i,up} = 1`` and the ``pn``/``pf``
      spin-down modes empty (no term touches them).
    - Sectors: ``N`` = chain electrons (``0..2L``), ``Sz`` = chain spin; the sector function
      adds the ``L`` polarizer electrons to the spin-up count. ``extra_electrons`` stays 0 so
      that "lowest ``|Sz|``" follows the parity of ``N`` (the polarizers carry no spin).
    - Hopping sign ``-t``; polarizer tunnelling ``+t_pol tau^x`` as in Hamo's Eq. (1) (a gauge
      choice). Periodic: the bond ``(L-1, 0)`` with plain fermion operators, ``L >= 3``; the
      ``V_nn`` neighbours are the chain-bond neighbours.
    - Second-order (``V`` small) polarizer-mediated interaction and the atomic-limit pair
      binding: :mod:`mappings.polarizer`.
    """
    lat = Lattice(L=L, bc=bc, layers=(CHAIN, NEAR, FAR), chain_layers=(CHAIN,))
    names = ("t", "U_s", "W", "E", "t_pol", "V", "V_nn")
    t, U_s, W, E, t_pol, V, V_nn = (sympy.Symbol(n, real=True) for n in names)
    half = sympy.Rational(1, 2)
    terms: list[Term] = []
    bonds = [(i, j) for (_, i), (_, j) in lat.chain_bonds(CHAIN)]
    for i, j in bonds:
        for s in SPINS:
            terms += hopping(Mode(CHAIN, i, s), Mode(CHAIN, j, s), t, "t")
        for s1 in SPINS:
            for s2 in SPINS:
                terms.append(density_density(Mode(CHAIN, i, s1), Mode(CHAIN, j, s2), W, "W"))
    neighbours: dict[int, list[int]] = {i: [] for i in range(L)}
    for i, j in bonds:
        neighbours[i].append(j)
        neighbours[j].append(i)
    constraints = []
    for i in range(L):
        terms.append(density_density(Mode(CHAIN, i, UP), Mode(CHAIN, i, DN), U_s, "U_s"))
        near, far = Mode(NEAR, i, UP), Mode(FAR, i, UP)
        terms += [density(far, E * half, "E"), density(near, -E * half, "E"),
                  Term(t_pol, ((far, True), (near, False)), "t_pol"),
                  Term(t_pol, ((near, True), (far, False)), "t_pol")]
        for s in SPINS:
            terms.append(density_density(Mode(CHAIN, i, s), near, V, "V"))
            for j in neighbours[i]:
                terms.append(density_density(Mode(CHAIN, j, s), near, V_nn, "V_nn"))
        constraints.append(Constraint((near, far), (1,), f"polarizer {i} holds one electron"))
        constraints.append(Constraint((Mode(NEAR, i, DN), Mode(FAR, i, DN)), (0,),
                                      f"polarizer {i} is spinless (spin-down modes empty)"))
    params = {
        "t": Parameter("t", 1, "chain hopping"),
        "U_s": Parameter("U_s", 2, "on-site repulsion of the chain"),
        "W": Parameter("W", 0, "nearest-neighbour repulsion of the chain"),
        "E": Parameter("E", 1, "polarizer detuning eps_far - eps_near"),
        "t_pol": Parameter("t_pol", 0.5, "polarizer tunnelling near-far"),
        "V": Parameter("V", 1, "repulsion chain site i - near site of polarizer i"),
        "V_nn": Parameter("V_nn", 0, "repulsion chain site j - near site of neighbouring polarizer i"),
    }
    return Model("little", lat, True, terms, params, constraints=tuple(constraints),
                 doc=little_chain.__doc__ or "", sector_fn=_little_sector,
                 default_sector={"N": L}, capabilities=CAPABILITIES).check()


def _little_sector(model: Model, N: int | None, Sz: float | None) -> Sector:
    """Sector of ``N`` chain electrons with chain spin ``Sz`` (the ``L`` polarizer electrons added).

    Raises
    ------
    SectorError
        If a number is missing, not an integer (half-integer for ``Sz``), or out of range.
    """
    L = model.lattice.L
    if N is None or Sz is None:
        raise SectorError("little needs both N (chain electrons) and Sz (chain spin)")
    N = particle_count("N", N, 2 * L,
                       f"the chain has {L} sites (N does not count the polarizer electrons)")
    n_up, n_dn = split_spin(N, Sz, L, f"N={N}", f"{L} chain sites")
    return Sector(n_up + L, n_dn)


__all__ = ["little_chain", "polarizer_pair", "sigma_z_terms"]
