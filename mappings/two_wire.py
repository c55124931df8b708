r"""Second-order perturbation theory in the inter-wire coupling ``V`` of the two-wire model.

The configuration: one primary electron (spin up) and one secondary particle on two rings of
``L`` sites (:func:`edkit.models.two_wire.two_wire`, ``bc="periodic"``, zero flux, ``V_d = 0``,
``t, t_s > 0``). ``U``, ``V_p`` and ``V_s`` cannot act on one particle per wire and drop out.

Derivation (done by :func:`two_particle_perturbation`, from the model's own symbolic operator)
----------------------------------------------------------------------------------------------
1. Two-particle block. With :math:`|i, j\rangle = c^\dagger_{i\uparrow} f^\dagger_j|0\rangle`,
   the matrix elements of :math:`H` are read off by normal ordering
   :math:`H\,c^\dagger_{i\uparrow} f^\dagger_j` (words with annihilators kill the vacuum) and
   split as :math:`H = H_0 + V\,W` with :math:`W = \partial H/\partial V`.
2. Plane waves :math:`|k, q\rangle = L^{-1}\sum_{ij} e^{i(ki + qj)}|i, j\rangle`,
   :math:`k, q \in 2\pi\mathbb Z/L`, with exact sympy trigonometric values. The code checks
   that :math:`H_0` is diagonal in this basis with :math:`E_{kq} = -2t\cos k - 2t_s\cos q
   - \mu_s`, so the unperturbed ground state is :math:`|0, 0\rangle` (non-degenerate for
   :math:`t, t_s > 0`).
3. Rayleigh-Schrodinger theory: :math:`E_1 = \langle 00|W|00\rangle`,
   :math:`E_2 = \sum_{(k,q)\neq 0} |\langle kq|W|00\rangle|^2/(E_{00} - E_{kq})`.
   Only :math:`q = -k` couples (momentum conservation comes out of the matrix elements), each
   with :math:`\langle k,-k|W|00\rangle = 1/L`.

Result, for every ``L``:

.. math::
    E(V) = -2t - 2t_s - \mu_s + \frac{V}{L}
           - \frac{V^2}{L^2} \sum_{m=1}^{L-1} \frac{1}{2(t+t_s)(1-\cos(2\pi m/L))} + O(V^3)
         = -2t - 2t_s - \mu_s + \frac{V}{L} - \frac{(L^2-1)\,V^2}{12\,L^2\,(t+t_s)} + O(V^3),

using :math:`\sum_{m=1}^{L-1} 1/\sin^2(\pi m/L) = (L^2-1)/3`.
:func:`closed_form` returns this expression; :func:`verify_second_order` checks that the
derivation from the model reproduces it exactly at each ``L`` asked for.
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy

from edkit.core.modes import UP, Mode
from edkit.models.two_wire import PRIMARY, SECONDARY, two_wire
from mappings.algebra import cdag, from_model
from mappings.result import VerificationResult

t, t_s, mu_s, V = (sympy.Symbol(n, real=True) for n in ("t", "t_s", "mu_s", "V"))


def two_particle_block(L: int) -> tuple[list[tuple[int, int]], sympy.Matrix, sympy.Matrix]:
    r"""Basis ``(i, j)``, :math:`H_0` and :math:`W = \partial H/\partial V` on one electron + one
    secondary particle (ring of ``L`` sites, zero flux, ``V_d = 0``)."""
    model = two_wire(L, "periodic")
    syms = model.symbols
    zero = {syms["phi_1"]: 0, syms["phi_2"]: 0, syms["V_d"]: 0}
    H = from_model(model).subs(zero)
    basis = [(i, j) for i in range(L) for j in range(L)]
    index = {b: k for k, b in enumerate(basis)}
    full = sympy.zeros(len(basis), len(basis))
    for col, (i, j) in enumerate(basis):
        ket = cdag(Mode(PRIMARY, i, UP)) * cdag(Mode(SECONDARY, j, UP))
        image = H * ket
        for word, coef in image:
            if any(not dag for _, dag in word):
                continue  # an annihilator on the right kills the vacuum
            row = _basis_index(word, index)
            full[row, col] += coef
    W = full.diff(V)
    H0 = full.subs(V, 0)
    return basis, H0.applyfunc(sympy.expand), W.applyfunc(sympy.expand)


def _basis_index(word, index) -> int:
    """Row of a pure-creator word ``c†_{pri,i,up} c†_{sec,j,up}`` (canonical order)."""
    if len(word) != 2:
        raise AssertionError(f"unexpected word {word} in the two-particle block")
    (m1, _), (m2, _) = word
    if not (m1.layer == PRIMARY and m1.spin == UP and m2.layer == SECONDARY and m2.spin == UP):
        raise AssertionError(f"word {word} leaves the one-electron + one-particle block")
    return index[(m1.site, m2.site)]


def _plane_waves(L: int, basis: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], sympy.Matrix]:
    """Momentum labels ``(m_k, m_q)`` and the unitary whose columns are :math:`|k, q\\rangle`."""
    labels = [(a, b) for a in range(L) for b in range(L)]
    F = sympy.zeros(len(basis), len(labels))
    for col, (a, b) in enumerate(labels):
        for row, (i, j) in enumerate(basis):
            angle = 2 * sympy.pi * (a * i + b * j) / L
            F[row, col] = (sympy.cos(angle) + sympy.I * sympy.sin(angle)) / L
    return labels, F


def two_particle_perturbation(L: int) -> dict[str, sympy.Expr]:
    """``E0``, ``E1``, ``E2`` of the lowest two-particle level, derived from the model (see module).

    Raises
    ------
    AssertionError
        If :math:`H_0` is not diagonal in the plane-wave basis with the stated energies (the
        derivation would not apply).
    """
    if L < 3:
        raise ValueError("a ring needs L >= 3")
    basis, H0, W = two_particle_block(L)
    labels, F = _plane_waves(L, basis)
    Fd = F.H
    H0k = (Fd * H0 * F).applyfunc(lambda x: sympy.nsimplify(sympy.expand(x)))
    energies = []
    for n, (a, b) in enumerate(labels):
        expected = (-2 * t * sympy.cos(2 * sympy.pi * a / L) - 2 * t_s * sympy.cos(2 * sympy.pi * b / L)
                    - mu_s)
        if sympy.simplify(H0k[n, n] - expected) != 0:
            raise AssertionError(f"H0 is not {expected} on |{a},{b}>: got {H0k[n, n]}")
        energies.append(expected)
    offdiag = [H0k[r, c] for r in range(len(labels)) for c in range(len(labels))
               if r != c and sympy.simplify(H0k[r, c]) != 0]
    if offdiag:
        raise AssertionError(f"H0 is not diagonal in the plane-wave basis: {offdiag[:3]}")
    g = labels.index((0, 0))
    Wk0 = (Fd * W * F[:, g]).applyfunc(lambda x: sympy.simplify(sympy.expand(x)))
    E1 = sympy.simplify(Wk0[g])
    E2 = sympy.Integer(0)
    couplings = {}
    for n, lab in enumerate(labels):
        if n == g or Wk0[n] == 0:
            continue
        couplings[lab] = Wk0[n]
        E2 += sympy.Abs(Wk0[n]) ** 2 / (energies[g] - energies[n])
    return {"E0": energies[g], "E1": E1, "E2": sympy.simplify(E2), "couplings": couplings}


def closed_form(L: int | sympy.Symbol) -> sympy.Expr:
    r""":math:`E_0 + V E_1 + V^2 E_2` for general ``L`` (module docstring)."""
    return (-2 * t - 2 * t_s - mu_s + V / L
            - (L**2 - 1) * V**2 / (12 * L**2 * (t + t_s)))


def verify_second_order(sizes: Iterable[int] = (3, 4, 5, 6)) -> VerificationResult:
    """The derivation from the model reproduces :func:`closed_form` at each ring size."""
    sizes = tuple(sizes)
    res = VerificationResult(
        "two-wire-second-order", True,
        "E(V) of one primary electron + one secondary particle to O(V^2) = closed form",
        inputs={"sizes": list(sizes), "model": "two-wire periodic, phi=0, V_d=0, t,t_s>0"})
    for L in sizes:
        pt = two_particle_perturbation(L)
        derived = pt["E0"] + V * pt["E1"] + V**2 * pt["E2"]
        diff = sympy.simplify(derived - closed_form(L))
        momenta = sorted({(a + b) % L for a, b in pt["couplings"]})
        res.check(f"L={L}: derived E(V) = closed form, only total momentum 0 couples",
                  diff == 0 and momenta == [0],
                  f"L={L}: E1 = {pt['E1']}, E2 = {pt['E2']}; coupled states have total "
                  f"momentum {momenta}; residual {diff}")
        res.coefficients[f"E2(L={L})"] = str(pt["E2"])
    return res


__all__ = ["closed_form", "two_particle_block", "two_particle_perturbation", "verify_second_order"]
