"""Strong-coupling and second-order effective interactions of the polarizer models.

Everything here is *derived* from the model definitions of :mod:`edkit.models.polarizer` (matrix
elements of the very operator the ED diagonalizes), never typed in from the papers.

Hamo two-site system (``hamo``)
-------------------------------
``n_L``, ``n_R`` and the polarizer occupation are conserved, so for each charge state
:math:`(n_L, n_R)` the Hamiltonian is a 2x2 block in the polarizer basis ``(T, B)``. Its diagonal
at ``t = 0`` gives the atomic levels; the ground level of each block is
:math:`\\min(a, b) = (a + b)/2 - |a - b|/2`. The effective interaction

.. math::
    W_{eff} = E(1,1) + E(0,0) - E(1,0) - E(0,1)

does not depend on the gates (they add :math:`\\epsilon_L n_L + \\epsilon_R n_R` to a whole block);
at equal gates it is the pair binding :math:`E(2) + E(0) - 2E(1)`. Derived (the code below):
:math:`W^{(0)}_{eff} = W + f(0) + f(2U) - 2f(U)` with :math:`f(x) = \\min(\\delta/2, x - \\delta/2)`;
for :math:`\\delta, U > 0`: ``W`` for :math:`U < \\delta/2`, :math:`W + \\delta - 2U` for
:math:`\\delta/2 \\le U < \\delta`, :math:`W - \\delta` for :math:`U \\ge \\delta`. The second-order
correction of each block is :math:`-|t|^2/|a - b|`, i.e.
:math:`W^{(2)}_{eff} = -t^2 (1/|\\delta| + 1/|\\delta - 2U| - 2/|\\delta - U|)` (valid away from the
level crossings :math:`\\delta = nU`).

Little's chain (``little``)
---------------------------
At ``t = 0`` the chain occupations are conserved and each polarizer ``i`` sees the field
:math:`\\Phi_i = \\sum_j V_{ij} n_j` on its near site (the couplings :math:`V_{ij}` are read off the
model). Its ground energy :math:`g(\\Phi)` is the lower eigenvalue of a 2x2 block, and to second
order :math:`g(\\Phi) = g_0 + g_1\\Phi - \\chi\\Phi^2` with :math:`\\chi = t_{pol}^2/\\Omega^3`,
:math:`\\Omega = \\sqrt{E^2 + 4t_{pol}^2}`. The polarizer-mediated interaction is
:math:`-\\chi\\sum_i \\Phi_i^2`: an on-site attraction :math:`-2\\chi(V^2 + z V_{nn}^2)` (``z``
neighbours) between the two electrons sharing a polarizer and a nearest-neighbour attraction
:math:`-4\\chi V V_{nn}` — the :math:`\\sim V^2/\\tilde E` of Shavit and Oreg, Sec. III A, with
:math:`\\tilde E = \\Omega` (at :math:`E = 0`: :math:`-V^2/(2\\Omega)` on site). In the atomic limit
(:math:`t = t_{pol} = 0`, :math:`V > E > 0`) two electrons on one site share one polarizer: the
pair binding is :math:`U_s - E` (the sharing argument of Hamo et al. Fig. 3d-e).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import product

import sympy

from edkit.core.model import Model
from edkit.core.modes import DN, SPINS, UP, Mode
from edkit.models.polarizer import (
    CHAIN,
    FAR,
    NEAR,
    SITE_B,
    SITE_L,
    SITE_R,
    SITE_T,
    little_chain,
    polarizer_pair,
)
from mappings.algebra import FermionOperator, commutator, from_model, number

Config = tuple[int, int]
CONFIGS: tuple[Config, ...] = ((0, 0), (1, 0), (0, 1), (1, 1))


# ----------------------------------------------------------------------------- Fock tools
def apply_word(word, occupation: Mapping[Mode, int], order: Sequence[Mode]) -> tuple[int, dict] | None:
    """Apply a fermion word to an occupation-number state (rightmost factor first).

    Jordan-Wigner signs follow ``order``: :math:`c_k` and :math:`c^\\dagger_k` pick up
    :math:`(-1)^{\\#\\{\\text{occupied modes before } k\\}}`.

    Returns
    -------
    (sign, new occupation) or ``None`` if the word annihilates the state.
    """
    occ = dict(occupation)
    pos = {m: k for k, m in enumerate(order)}
    sign = 1
    for mode, dagger in reversed(tuple(word)):
        if occ.get(mode, 0) == int(dagger):
            return None
        before = sum(occ.get(m, 0) for m in order[: pos[mode]])
        sign *= -1 if before % 2 else 1
        occ[mode] = int(dagger)
    return sign, occ


def fock_matrix(op: FermionOperator, order: Sequence[Mode],
                states: Sequence[Mapping[Mode, int]]) -> sympy.Matrix:
    """Symbolic matrix :math:`\\langle a|op|b\\rangle` between occupation states (``order`` fixes signs).

    Modes missing from a state's mapping are empty.
    """
    keys = [tuple(s.get(m, 0) for m in order) for s in states]
    index = {k: i for i, k in enumerate(keys)}
    M = sympy.zeros(len(states), len(states))
    for b, state in enumerate(states):
        for word, coef in op:
            hit = apply_word(word, state, order)
            if hit is None:
                continue
            sign, occ = hit
            key = tuple(occ.get(m, 0) for m in order)
            if key in index:
                M[index[key], b] += sign * coef
    return M.applyfunc(sympy.expand)


def diagonal_value(op: FermionOperator, occupation: Mapping[Mode, int]) -> sympy.Expr:
    """Value of a diagonal operator (products of number operators) on an occupation state.

    Raises
    ------
    ValueError
        If the operator has an off-diagonal word.
    """
    total = sympy.Integer(0)
    for word, coef in op:
        creators = sorted(m for m, d in word if d)
        annihilators = sorted(m for m, d in word if not d)
        if creators != annihilators:
            raise ValueError(f"operator is not diagonal in occupations (word {word})")
        value = 1
        for m in creators:
            value *= occupation.get(m, 0)
        total += coef * value
    return sympy.expand(total)


def _min(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    """:math:`\\min(a, b)` for real ``a, b`` as ``(a + b)/2 - |a - b|/2``."""
    return sympy.expand((a + b) / 2) - sympy.Abs(sympy.expand(a - b)) / 2


# ------------------------------------------------------------------------------- Hamo
def hamo_conservation(model: Model | None = None) -> dict[str, bool]:
    """Whether ``H`` commutes with ``n_L``, ``n_R`` and ``n_T + n_B`` (symbolically)."""
    H = from_model(model or polarizer_pair())
    return {"n_L": commutator(H, number(SITE_L)).is_zero(),
            "n_R": commutator(H, number(SITE_R)).is_zero(),
            "n_T + n_B": commutator(H, number(SITE_T) + number(SITE_B)).is_zero()}


def hamo_blocks(model: Model | None = None) -> dict[Config, sympy.Matrix]:
    """The 2x2 block of ``H`` in the polarizer basis ``(T, B)`` for each charge state ``(n_L, n_R)``."""
    m = model or polarizer_pair()
    H = from_model(m)
    out = {}
    for nl, nr in CONFIGS:
        states = [{SITE_L: nl, SITE_R: nr, SITE_T: 1, SITE_B: 0},
                  {SITE_L: nl, SITE_R: nr, SITE_T: 0, SITE_B: 1}]
        out[(nl, nr)] = fock_matrix(H, m.modes, states)
    return out


def _split_t(blocks: Mapping[Config, sympy.Matrix], t: sympy.Symbol
             ) -> dict[Config, tuple[sympy.Matrix, sympy.Matrix]]:
    """``block = H0 + t H1`` (each block is affine in ``t``; checked)."""
    out = {}
    for cfg, B in blocks.items():
        H0 = B.subs(t, 0)
        H1 = B.diff(t)
        if H1.diff(t) != sympy.zeros(2, 2):
            raise ValueError("the block is not affine in t")
        out[cfg] = (H0, H1)
    return out


def atomic_levels(model: Model | None = None) -> dict[Config, tuple[sympy.Expr, sympy.Expr]]:
    """Atomic (``t = 0``) levels ``(E_T, E_B)`` of each charge state; the block must be diagonal."""
    m = model or polarizer_pair()
    t = m.symbols["t"]
    out = {}
    for cfg, (H0, _) in _split_t(hamo_blocks(m), t).items():
        if H0[0, 1] != 0 or H0[1, 0] != 0:
            raise ValueError(f"the t = 0 block of {cfg} is not diagonal: {H0}")
        out[cfg] = (H0[0, 0], H0[1, 1])
    return out


def strong_coupling_interaction(model: Model | None = None, *, gates: bool = False) -> sympy.Expr:
    """:math:`W^{(0)}_{eff}` (``t -> 0``) derived from the atomic levels, as a piecewise function.

    With ``gates=False`` the gates are set to zero (they cancel; see :func:`gate_independence`).
    The result uses ``Abs``; ``.rewrite(sympy.Piecewise)`` gives the explicit piecewise form and
    :func:`strong_coupling_regimes` the regimes for :math:`\\delta, U > 0`.
    """
    m = model or polarizer_pair()
    s = m.symbols
    levels = atomic_levels(m)
    zero = {} if gates else {s["eps_L"]: 0, s["eps_R"]: 0}
    E = {cfg: _min(a.subs(zero), b.subs(zero)) for cfg, (a, b) in levels.items()}
    return sympy.expand(E[(1, 1)] + E[(0, 0)] - E[(1, 0)] - E[(0, 1)])


def gate_independence(model: Model | None = None) -> bool:
    """Each block minus its zero-gate value is ``(eps_L n_L + eps_R n_R)`` times the identity."""
    m = model or polarizer_pair()
    s = m.symbols
    for (nl, nr), B in hamo_blocks(m).items():
        diff = B - B.subs({s["eps_L"]: 0, s["eps_R"]: 0})
        rest = (diff - (s["eps_L"] * nl + s["eps_R"] * nr) * sympy.eye(2)).applyfunc(sympy.expand)
        if rest != sympy.zeros(2, 2):
            return False
    return True


def second_order_interaction(model: Model | None = None) -> sympy.Expr:
    """:math:`W^{(2)}_{eff}`: Rayleigh-Schrodinger second order in ``t`` of each block.

    For a 2x2 block :math:`H_0 + tH_1` with diagonal :math:`H_0 = \\mathrm{diag}(a, b)`, the
    ground level moves by :math:`-t^2 |(H_1)_{TB}|^2 / |a - b|` (valid for :math:`a \\ne b`).
    """
    m = model or polarizer_pair()
    s = m.symbols
    t = s["t"]
    zero = {s["eps_L"]: 0, s["eps_R"]: 0}
    E2 = {}
    for cfg, (H0, H1) in _split_t(hamo_blocks(m), t).items():
        a, b = H0[0, 0].subs(zero), H0[1, 1].subs(zero)
        E2[cfg] = -t**2 * H1[0, 1] * H1[1, 0] / sympy.Abs(sympy.expand(a - b))
    return sympy.expand(E2[(1, 1)] + E2[(0, 0)] - E2[(1, 0)] - E2[(0, 1)])


def exact_block_energies(model: Model | None = None) -> dict[Config, sympy.Expr]:
    """Exact ground level of each charge-state block (lower eigenvalue of a real 2x2 block)."""
    m = model or polarizer_pair()
    out = {}
    for cfg, B in hamo_blocks(m).items():
        a, b, c = B[0, 0], B[1, 1], B[0, 1]
        if sympy.expand(B[1, 0] - sympy.conjugate(c)) != 0:
            raise ValueError(f"block {cfg} is not Hermitian")
        out[cfg] = (a + b) / 2 - sympy.sqrt((a - b) ** 2 / 4 + c * sympy.conjugate(c))
    return out


def series_check(model: Model | None = None) -> dict[Config, sympy.Expr]:
    """Exact block energy minus (atomic + second order), expanded to :math:`O(t^3)`: zero if right."""
    m = model or polarizer_pair()
    s = m.symbols
    t = s["t"]
    levels = atomic_levels(m)
    d = sympy.Dummy("d", real=True)  # the level splitting a - b, kept whole through the series
    out = {}
    for cfg, B in hamo_blocks(m).items():
        a, b = levels[cfg]
        H1 = B.diff(t)
        c = B[0, 1]
        exact = (a + b) / 2 - sympy.sqrt(d**2 / 4 + c * sympy.conjugate(c))
        ser = sympy.series(exact, t, 0, 3).removeO().subs(d, sympy.expand(a - b))
        predicted = _min(a, b) - t**2 * H1[0, 1] * H1[1, 0] / sympy.Abs(sympy.expand(a - b))
        out[cfg] = sympy.simplify(sympy.expand(ser - predicted))
    return out


def _linear_half_line(expr: sympy.Expr, u: sympy.Symbol) -> sympy.Set:
    """The set of real ``u`` with ``expr(u) >= 0`` for ``expr`` linear in ``u`` with number coefficients.

    Raises
    ------
    ValueError
        If ``expr`` is not of that form.
    """
    slope, offset = sympy.expand(expr).diff(u), sympy.expand(expr).subs(u, 0)
    if not (slope.is_number and offset.is_number) or sympy.expand(expr - slope * u - offset) != 0:
        raise ValueError(f"{expr} is not linear in {u} with numeric coefficients")
    if slope == 0:
        return sympy.Reals if offset >= 0 else sympy.EmptySet
    root = -offset / slope
    return sympy.Interval(root, sympy.oo) if slope > 0 else sympy.Interval(-sympy.oo, root)


def strong_coupling_regimes(model: Model | None = None) -> list[tuple[sympy.Interval, sympy.Expr]]:
    """Regimes of :math:`W^{(0)}_{eff}` for :math:`\\delta > 0, U > 0`, as intervals of :math:`U/\\delta`.

    Enumerates which polarizer level (T or B) is the ground level of each charge state, keeps
    the assignments whose conditions hold on an interval of positive length, and returns
    ``[(interval of U/delta, W_eff expression), ...]`` in increasing order.
    """
    m = model or polarizer_pair()
    s = m.symbols
    U, delta = s["U"], s["delta"]
    u = sympy.Symbol("u", real=True)
    zero = {s["eps_L"]: 0, s["eps_R"]: 0}
    levels = {cfg: (a.subs(zero), b.subs(zero)) for cfg, (a, b) in atomic_levels(m).items()}
    out = []
    for choice in product((0, 1), repeat=len(CONFIGS)):
        region = sympy.Interval.open(0, sympy.oo)
        energy = {}
        for cfg, k in zip(CONFIGS, choice):
            a, b = levels[cfg]
            low, high = (a, b) if k == 0 else (b, a)
            # low <= high, scaled by delta > 0, as a condition on u = U / delta
            cond = sympy.expand((high - low).subs(U, u * delta) / delta)
            region = region.intersect(_linear_half_line(cond, u))
            energy[cfg] = low
        if region.is_empty or region.measure == 0:
            continue
        w = sympy.expand(energy[(1, 1)] + energy[(0, 0)] - energy[(1, 0)] - energy[(0, 1)])
        if not any(r == region and sympy.expand(e - w) == 0 for r, e in out):
            out.append((region, w))
    out.sort(key=lambda item: item[0].inf)
    return out


def attraction_boundary(model: Model | None = None,
                        regimes: list[tuple[sympy.Interval, sympy.Expr]] | None = None) -> list[dict]:
    """Where :math:`W^{(0)}_{eff} = 0` as a function of ``U`` (``delta, U > 0``), per regime.

    Returns ``[{"U": root, "regime": interval of U/delta, "condition": on W, delta}]`` for the
    regimes where ``W_eff`` depends on ``U``; the regimes where it does not give a boundary in
    the other parameters (``W_eff`` itself, listed with ``"U": None``). ``regimes`` reuses the
    output of :func:`strong_coupling_regimes`.
    """
    m = model or polarizer_pair()
    s = m.symbols
    U, delta = s["U"], s["delta"]
    out = []
    for region, w in (strong_coupling_regimes(m) if regimes is None else regimes):
        if U not in w.free_symbols:
            out.append({"U": None, "regime": region, "condition": sympy.Eq(w, 0)})
            continue
        for root in sympy.solve(sympy.Eq(w, 0), U):
            # region is an interval of U/delta with delta > 0: multiply through by delta
            lo = sympy.expand(root - region.inf * delta)
            hi = sympy.expand(region.sup * delta - root) if region.sup != sympy.oo else sympy.Integer(1)
            cond = sympy.And(lo >= 0, hi >= 0)
            out.append({"U": root, "regime": region, "condition": cond})
    return out


def hamo_interaction_numeric(U: float, W: float, delta: float, t: float = 0.0) -> float:
    """``W_eff`` to second order in ``t`` at numbers (evaluates the derived expressions)."""
    s = polarizer_pair().symbols
    subs = {s["U"]: U, s["W"]: W, s["delta"]: delta, s["t"]: t}
    val = strong_coupling_interaction().xreplace(subs)
    if t:
        val += second_order_interaction().xreplace(subs)
    return float(val)


# ------------------------------------------------------------------------------ Little
def little_couplings(model: Model) -> dict[tuple[int, int], sympy.Expr]:
    """``V_ij``: coefficient of :math:`n_{j\\sigma} n^{near}_i` in the model (spin independent; checked).

    Raises
    ------
    ValueError
        If the coupling depends on spin, or the polarizer couples through anything but density.
    """
    out: dict[tuple[int, int], dict[str, sympy.Expr]] = {}
    for word, coef in model.canonical_terms().items():
        modes = {m for m, _ in word}
        if not any(m.layer in (NEAR, FAR) for m in modes) or not any(m.layer == CHAIN for m in modes):
            continue
        ok = (len(word) == 4 and [d for _, d in word] == [True, True, False, False]
              and word[0][0] == word[3][0] and word[1][0] == word[2][0])
        chain = [m for m in modes if m.layer == CHAIN]
        pol = [m for m in modes if m.layer != CHAIN]
        if not ok or len(chain) != 1 or len(pol) != 1 or pol[0].layer != NEAR:
            raise ValueError(f"unexpected chain-polarizer term {coef} * {word}")
        out.setdefault((pol[0].site, chain[0].site), {})[chain[0].spin] = coef
    couplings = {}
    for key, by_spin in out.items():
        if set(by_spin) != set(SPINS) or sympy.expand(by_spin[UP] - by_spin[DN]) != 0:
            raise ValueError(f"coupling {key} depends on spin: {by_spin}")
        couplings[key] = by_spin[UP]
    return couplings


def polarizer_block(model: Model | None = None) -> sympy.Matrix:
    """The 2x2 block of one polarizer (basis ``far, near``) with its chain site empty (``L = 1``)."""
    m = model or little_chain(1)
    H = from_model(m)
    far, near = Mode(FAR, 0, UP), Mode(NEAR, 0, UP)
    return fock_matrix(H, m.modes, [{far: 1, near: 0}, {far: 0, near: 1}])


def polarizer_response(model: Model | None = None) -> dict[str, sympy.Expr]:
    """Ground energy :math:`g(\\Phi)` of one polarizer in a field :math:`\\Phi` on its near site.

    The block of :func:`polarizer_block` plus :math:`\\Phi |near\\rangle\\langle near|`; returns the
    exact ``g`` (and the excited level ``g_excited``), its Taylor coefficients ``g0, g1`` and
    ``chi = -g''(0)/2``, and ``Omega``, the excitation energy of the free polarizer, all derived.
    """
    B = polarizer_block(model)
    phi = sympy.Symbol("Phi", real=True)
    a, b, c = B[0, 0], B[1, 1] + phi, B[0, 1]
    root = sympy.sqrt((a - b) ** 2 / 4 + c * sympy.conjugate(c))
    g = (a + b) / 2 - root
    omega = sympy.sqrt(sympy.expand((B[0, 0] - B[1, 1]) ** 2 + 4 * c * sympy.conjugate(c)))
    g0 = sympy.simplify(g.subs(phi, 0))
    g1 = sympy.simplify(g.diff(phi).subs(phi, 0))
    chi = sympy.simplify(-g.diff(phi, 2).subs(phi, 0) / 2)
    return {"g": g, "g_excited": (a + b) / 2 + root, "Phi": phi, "g0": g0, "g1": g1, "chi": chi,
            "Omega": omega}


def chain_density(site: int) -> FermionOperator:
    """:math:`n_j = n_{j\\uparrow} + n_{j\\downarrow}` on chain site ``j``."""
    return number(Mode(CHAIN, site, UP)) + number(Mode(CHAIN, site, DN))


def mediated_interaction(model: Model) -> FermionOperator:
    """Second-order polarizer-mediated interaction :math:`-\\chi\\sum_i \\Phi_i^2` (a chain operator)."""
    chi = polarizer_response()["chi"]
    V = little_couplings(model)
    out = FermionOperator()
    for i in range(model.lattice.L):
        phi = FermionOperator()
        for (p, j), coef in V.items():
            if p == i:
                phi = phi + chain_density(j) * coef
        out = out - phi * phi * chi
    return out


def static_chain_energy(model: Model, occupation: Mapping[Mode, int]) -> sympy.Expr:
    """Chain-only energy of a chain configuration at ``t = 0`` (``U_s`` and ``W`` terms)."""
    s = model.symbols
    H = from_model(model).subs({s[k]: 0 for k in ("t", "E", "t_pol", "V", "V_nn")})
    return diagonal_value(H, occupation)


def chain_configurations(L: int, n_up: int, n_dn: int) -> Iterable[dict[Mode, int]]:
    """All chain occupation states with ``n_up`` spin-up and ``n_dn`` spin-down electrons."""
    for ups in product((0, 1), repeat=L):
        if sum(ups) != n_up:
            continue
        for dns in product((0, 1), repeat=L):
            if sum(dns) != n_dn:
                continue
            occ = {Mode(CHAIN, i, UP): ups[i] for i in range(L)}
            occ.update({Mode(CHAIN, i, DN): dns[i] for i in range(L)})
            yield occ


def little_static_energies(model: Model, n_up: int, n_dn: int, *, order: int | None = None
                           ) -> list[sympy.Expr]:
    """Energies of every chain configuration with all polarizers in their ground state (``t = 0``).

    ``order=None``: exact, :math:`E_{chain} + \\sum_i g(\\Phi_i)`; ``order=2``: with ``g`` expanded
    to second order in the field (:math:`g_0 + g_1\\Phi - \\chi\\Phi^2`).
    """
    resp = polarizer_response()
    V = little_couplings(model)
    L = model.lattice.L
    out = []
    for occ in chain_configurations(L, n_up, n_dn):
        n = {j: occ[Mode(CHAIN, j, UP)] + occ[Mode(CHAIN, j, DN)] for j in range(L)}
        energy = static_chain_energy(model, occ)
        for i in range(L):
            phi = sum((coef * n[j] for (p, j), coef in V.items() if p == i), sympy.Integer(0))
            if order is None:
                energy += resp["g"].subs(resp["Phi"], phi)
            else:
                energy += resp["g0"] + resp["g1"] * phi - resp["chi"] * phi**2
        out.append(energy)
    return out


def little_atomic_pair_binding(model: Model) -> sympy.Expr:
    """Atomic-limit (``t = t_pol = 0``) pair binding :math:`E(2) + E(0) - 2E(1)` of the chain.

    Each :math:`E(N)` is the minimum over chain configurations (lowest ``|Sz|``) of the static
    energy with :math:`g(\\Phi) = \\min(E/2, \\Phi - E/2)`, derived from the block at ``t_pol = 0``.
    """
    s = model.symbols

    def energy(n_up: int, n_dn: int) -> sympy.Expr:
        exprs = little_static_energies(model, n_up, n_dn, order=None)
        values = [sympy.expand(e.subs({s["t_pol"]: 0})) for e in exprs]
        return sympy.Min(*values)

    return energy(1, 1) + energy(0, 0) - 2 * energy(1, 0)


__all__ = [
    "CONFIGS", "apply_word", "atomic_levels", "attraction_boundary", "chain_configurations",
    "chain_density",
    "diagonal_value", "exact_block_energies", "fock_matrix", "gate_independence", "hamo_blocks",
    "hamo_conservation", "hamo_interaction_numeric", "little_atomic_pair_binding",
    "little_couplings", "little_static_energies", "mediated_interaction", "polarizer_block",
    "polarizer_response", "second_order_interaction", "series_check", "static_chain_energy",
    "strong_coupling_interaction", "strong_coupling_regimes",
]
