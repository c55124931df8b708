"""Verifications of the polarizer models: Hamo's strong-coupling interaction, Little's attraction.

Both derive their formulas symbolically from the model definitions (:mod:`mappings.polarizer`)
and then check them against exact diagonalization of the same models (imported lazily: the
numeric path needs QuSpin).
"""

from __future__ import annotations

import math

import numpy as np
import sympy

from edkit.core.modes import DN, UP, Mode
from edkit.models.polarizer import CHAIN, little_chain, polarizer_pair
from mappings.algebra import FermionOperator, identity, number
from mappings.fitting import fit_operator
from mappings.polarizer import (
    attraction_boundary,
    chain_configurations,
    chain_density,
    gate_independence,
    hamo_conservation,
    little_atomic_pair_binding,
    little_couplings,
    little_static_energies,
    mediated_interaction,
    polarizer_response,
    second_order_interaction,
    series_check,
    static_chain_energy,
    strong_coupling_interaction,
    strong_coupling_regimes,
)
from mappings.verifications.result import VerificationResult, residual_table

SEED = 20160526


def _num(expr: sympy.Expr, model, values: dict) -> float:
    s = model.symbols
    return float(expr.xreplace({s[k]: v for k, v in values.items() if k in s}))


def hamo_strong_coupling() -> VerificationResult:
    """Strong-coupling effective interaction of ``hamo``, its ``t^2`` corrections, against ED.

    Checks: ``n_L``, ``n_R``, ``n_T + n_B`` conserved (so 2x2 blocks are exact); gates cancel
    in ``W_eff``; the second-order term equals the ``t^2`` term of the exact block energies; ED
    pair binding at ``t = 0`` equals ``W_eff^(0)`` at random points; at small ``t`` the ED
    minus ``W_eff^(0) + W_eff^(2)`` scales as ``t^4``; the regimes and the attraction boundary.
    """
    from edkit.api import gaps

    model = polarizer_pair()
    res = VerificationResult(
        "hamo-strong-coupling", True,
        "W_eff = E(2)+E(0)-2E(1) of hamo: atomic piecewise form W + f(0) + f(2U) - 2f(U), "
        "f(x) = min(delta/2, x - delta/2), plus -t^2(1/|delta| + 1/|delta-2U| - 2/|delta-U|); ED agrees",
        inputs={"model": "hamo", "seed": SEED})
    cons = hamo_conservation(model)
    gates = gate_independence(model)
    res.check("n_L, n_R, n_T + n_B conserved; gates enter per block", all(cons.values()) and gates,
              f"conserved by H: {cons}; gates enter as (eps_L n_L + eps_R n_R) 1 per block: {gates}")
    w0 = strong_coupling_interaction(model)
    w2 = second_order_interaction(model)
    series = series_check(model)
    ok_series = all(v == 0 for v in series.values())
    res.check("second order is the t^2 term of the exact block energies", ok_series,
              "exact block energy - (atomic + second order) = O(t^3) for every charge state: "
              f"{ok_series}")

    regimes = strong_coupling_regimes(model)
    s = model.symbols
    U, W, delta = s["U"], s["W"], s["delta"]
    expected_regimes = [W, W + delta - 2 * U, W - delta]  # read back below, not used to build
    regime_text = "; ".join(f"U/delta in {r}: W_eff = {e}" for r, e in regimes)
    res.check("regimes W, W + delta - 2U, W - delta",
              [sympy.expand(e) for _, e in regimes] == [sympy.expand(e) for e in expected_regimes],
              f"regimes (delta, U > 0): {regime_text}")
    bound = [b for b in attraction_boundary(model, regimes) if b["U"] is not None]
    res.note("attraction boundary W_eff = 0: " + "; ".join(
        f"U* = {b['U']} for {b['condition']}" for b in bound))

    rng = np.random.default_rng(SEED)
    worst0 = 0.0
    for _ in range(12):
        vals = {"U": rng.uniform(-1, 3), "W": rng.uniform(0, 2), "delta": rng.uniform(-2, 2), "t": 0.0}
        ed = gaps(model, vals, N=0)["pair_binding"]
        worst0 = max(worst0, abs(ed - _num(w0, model, vals)))
    res.check("ED pair binding at t = 0 equals W_eff^(0)", worst0 < 1e-10,
              f"ED pair binding at t = 0 vs W_eff^(0), 12 random points: max |diff| = {worst0:.2e}")

    slopes = []
    for _ in range(6):
        while True:  # keep away from the level crossings delta = 0, U, 2U
            vals = {"U": rng.uniform(0.2, 2), "W": rng.uniform(0, 2), "delta": rng.uniform(0.2, 2)}
            if min(abs(vals["delta"] - n * vals["U"]) for n in range(3)) > 0.2:
                break
        resid = []
        for t in (0.02, 0.01):
            v = {**vals, "t": t}
            ed = gaps(model, v, N=0)["pair_binding"]
            resid.append(abs(ed - _num(w0 + w2, model, v)))
        slopes.append(math.log(resid[0] / resid[1]) / math.log(2))
    res.check("ED - (W_eff^(0) + W_eff^(2)) ~ t^4", all(3.7 < x < 4.3 for x in slopes),
              "ED - (W_eff^(0) + W_eff^(2)) ~ t^p between t = 0.02 and 0.01: p = "
              + ", ".join(f"{x:.3f}" for x in slopes) + " (expected 4)")

    # printed claims
    counter = {"U": 1.0, "W": 0.5, "delta": 0.3, "t": 0.0}
    w_counter = gaps(model, counter, N=0)["pair_binding"]
    paper = {"U": 0.925, "W": 0.83, "delta": 1.01}
    res.coefficients = {
        "W_eff^(0)": str(w0), "W_eff^(2)": str(w2),
        "W_eff^(0) piecewise (delta, U > 0)": str(sympy.Piecewise(
            *[(e, U <= r.sup * delta) for r, e in regimes[:-1]], (regimes[-1][1], True))),
        "attraction boundary": "; ".join(f"U* = {b['U']} if {b['condition']}" for b in bound),
    }
    res.printed = [
        "Hamo et al.: 'pair binding energy ... exactly equal to delta' (Fig. 3d-e, two-site case): "
        "derived W - W_eff = delta for U >= delta > 0 (agrees); for delta/2 <= U < delta it is "
        "2U - delta < delta",
        "Hamo et al.: attraction when U > W (text after Eq. (3)): derived attraction needs delta > W "
        f"and U > (W + delta)/2, so U > W is necessary, not sufficient: ED at U=1, W=0.5, delta=0.3, "
        f"t=0 gives W_eff = {w_counter:+.6f} (repulsive)",
        "Hamo et al.: attraction grows linearly with delta (Fig. 3a-c): derived slope dW_eff/ddelta = -1 "
        "for U >= delta, but +1 for delta/2 <= U < delta",
        f"At the quoted scales U=0.925, W=0.83, delta=1.01 (meV), t -> 0: W_eff^(0) = "
        f"{_num(w0, model, paper):+.4f} meV (the measured pairing gap 790 ueV is not reproduced by "
        "the ideal model; the paper's normalization of 2*Delta is in its SI, not in our copy)",
    ]
    res.check("counterexample to 'U > W suffices' is repulsive in ED", w_counter > 0)
    return res


def little_polarizer_attraction(ed_size: int = 3) -> VerificationResult:
    """Second-order polarizer-mediated attraction of ``little`` and the sharing argument, against ED.

    Checks: the model couples polarizer ``i`` to chain densities only (couplings read off);
    :math:`-\\chi\\sum_i\\Phi_i^2` fits exactly onto on-site, nearest- and next-nearest-neighbour
    interactions on a ring (coefficients derived); at ``t = 0`` the full ED spectrum equals the
    sum of exact polarizer levels; the second-order energies deviate from ED as ``V^3``; in the
    atomic limit the pair binding is ``U_s - E`` for ``V > E > 0``, ``U_s < E`` (sharing).
    """
    from edkit.api import gaps
    from edkit.testing import sector_spectrum

    res = VerificationResult(
        "little-polarizer-attraction", True,
        "little: polarizer-mediated interaction -chi sum_i Phi_i^2, chi = t_pol^2/Omega^3 (on-site "
        "-2 chi V^2, neighbours -4 chi V V_nn; ~V^2/Omega); atomic pair binding U_s - E (sharing)",
        inputs={"ring": "L=5 periodic (symbolic)", "ED": f"L={ed_size} open"})
    ring = little_chain(5, "periodic")
    s = ring.symbols
    V, V_nn = s["V"], s["V_nn"]
    couplings = little_couplings(ring)
    expected = {(i, j): (V if i == j else V_nn) for i in range(5) for j in range(5)
                if (i - j) % 5 in (0, 1, 4)}
    ok_c = couplings == expected
    res.check("couplings V (own site) and V_nn (neighbours) only", ok_c,
              f"chain-polarizer couplings are V (own site) and V_nn (ring neighbours) only: {ok_c}")

    resp = polarizer_response()
    chi, omega = resp["chi"], resp["Omega"]
    L = 5
    basis = {
        "on-site n_up n_dn": sum((number(Mode(CHAIN, i, UP)) * number(Mode(CHAIN, i, DN))
                                  for i in range(L)), FermionOperator()),
        "nearest n_i n_i+1": sum((chain_density(i) * chain_density((i + 1) % L) for i in range(L)),
                                 FermionOperator()),
        "next-nearest n_i n_i+2": sum((chain_density(i) * chain_density((i + 2) % L) for i in range(L)),
                                      FermionOperator()),
        "n": sum((chain_density(i) for i in range(L)), FermionOperator()),
        "constant": identity(),
    }
    coeffs, rest = fit_operator(mediated_interaction(ring), basis)
    if not rest.is_zero():
        res.difference.update(residual_table(rest))
    onsite = sympy.simplify(coeffs["on-site n_up n_dn"] / chi)
    nearest = sympy.simplify(coeffs["nearest n_i n_i+1"] / chi)
    ok_fit = (rest.is_zero() and sympy.expand(onsite + 2 * (V**2 + 2 * V_nn**2)) == 0
              and sympy.expand(nearest + 4 * V * V_nn) == 0)
    res.check("-chi sum Phi_i^2 = -2 chi (V^2 + 2 V_nn^2) on-site - 4 chi V V_nn neighbours", ok_fit,
              "-chi sum_i Phi_i^2 on the L=5 ring = "
              + " + ".join(f"({sympy.simplify(c / chi)}) chi [{k}]" for k, c in coeffs.items()
                           if c != 0)
              + ("; remainder 0" if rest.is_zero() else f"; remainder {len(rest)} terms"))
    E = s["E"]
    res.coefficients = {
        "chi": str(chi), "Omega": str(omega),
        "U_induced (on-site)": str(sympy.simplify(coeffs["on-site n_up n_dn"])),
        "W_induced (nearest neighbours)": str(sympy.simplify(coeffs["nearest n_i n_i+1"])),
        "next-nearest": str(sympy.simplify(coeffs["next-nearest n_i n_i+2"])),
        "U_induced at E = 0": str(sympy.simplify(coeffs["on-site n_up n_dn"].subs({E: 0, V_nn: 0}))),
    }

    # ED at t = 0: full spectrum = chain energies + sum of polarizer levels
    model = little_chain(ed_size, "open")
    ms = model.symbols
    vals = {"t": 0.0, "U_s": 0.3, "W": 0.1, "E": 1.0, "t_pol": 0.5, "V": 0.2, "V_nn": 0.07}
    sector = (1, 1)  # chain electrons (n_up, n_dn)
    n_up, n_dn = sector
    g, ge, phi = resp["g"], resp["g_excited"], resp["Phi"]
    Vc = little_couplings(model)

    def exact_spectrum(values):
        sub = {ms[k]: v for k, v in values.items()}
        levels = []
        for occ in chain_configurations(ed_size, n_up, n_dn):
            n = {j: occ[Mode(CHAIN, j, UP)] + occ[Mode(CHAIN, j, DN)] for j in range(ed_size)}
            base = float(static_chain_energy(model, occ).xreplace(sub))
            pol = []
            for i in range(ed_size):
                f = float(sum(c.xreplace(sub) * n[j] for (p, j), c in Vc.items() if p == i))
                pol.append((float(g.xreplace(sub).subs(phi, f)), float(ge.xreplace(sub).subs(phi, f))))
            for choice in np.ndindex(*(2,) * ed_size):
                levels.append(base + sum(pol[i][k] for i, k in enumerate(choice)))
        return np.sort(levels)

    def ed_levels(values):
        return sector_spectrum(model, values, n_up + ed_size, n_dn)

    full = ed_levels(vals)
    diff_full = float(np.max(np.abs(full - exact_spectrum(vals))))
    res.check("t = 0: full ED spectrum = chain + exact polarizer levels", diff_full < 1e-9,
              f"t=0, L={ed_size} open, sector N=2 Sz=0: full ED spectrum ({full.size} levels) vs "
              f"chain + exact polarizer levels: max |diff| = {diff_full:.2e}")

    second = little_static_energies(model, n_up, n_dn, order=2)
    resid = []
    for scale in (1.0, 0.5):
        v = {**vals, "V": vals["V"] * scale, "V_nn": vals["V_nn"] * scale}
        sub = {ms[k]: x for k, x in v.items()}
        pred = np.sort([float(e.xreplace(sub)) for e in second])
        resid.append(float(np.max(np.abs(ed_levels(v)[: pred.size] - pred))))
    p = math.log(resid[0] / resid[1]) / math.log(2)
    res.check("ED - second order ~ V^3", 2.7 < p < 3.3,
              f"lowest {len(second)} ED levels vs second order: residual {resid[0]:.2e} at V=0.2, "
              f"{resid[1]:.2e} at V=0.1: ~V^{p:.2f} (expected 3)")

    # sharing argument: atomic limit
    pb = little_atomic_pair_binding(model)
    e_, v_, u_ = (sympy.Symbol(n, positive=True) for n in ("e", "v", "u"))
    w_ = sympy.Symbol("w", nonnegative=True)
    regime = sympy.simplify(pb.subs({ms["E"]: e_, ms["V"]: e_ + v_, ms["U_s"]: e_ - u_, ms["W"]: w_,
                                     ms["V_nn"]: 0}))
    ok_sym = sympy.expand(regime + u_) == 0
    rng = np.random.default_rng(SEED)
    worst = 0.0
    for _ in range(4):
        E0 = rng.uniform(0.5, 1.5)
        point = {"t": 0.0, "t_pol": 0.0, "E": E0, "V": E0 + rng.uniform(0.1, 1),
                 "U_s": rng.uniform(-0.5, E0 - 0.1), "W": rng.uniform(0, 1), "V_nn": 0.0}
        worst = max(worst, abs(gaps(model, point, N=0)["pair_binding"] - (point["U_s"] - point["E"])))
    res.check("atomic pair binding U_s - E (symbolic and ED)", ok_sym and worst < 1e-10,
              f"atomic limit (t = t_pol = 0), V > E > 0, U_s < E, W >= 0, V_nn = 0: symbolic pair "
              f"binding = U_s - E: {ok_sym}; ED at 4 random points: max |diff| = {worst:.2e}")
    res.coefficients["atomic pair binding (V > E > 0, U_s < E, W >= 0)"] = "U_s - E"
    res.printed = [
        "Shavit & Oreg Sec. III A: polarizer-mediated attraction ~ V^2/E~: derived on-site "
        "-2 V^2 t_pol^2/Omega^3 with Omega = sqrt(E^2 + 4 t_pol^2) the polarizer excitation energy "
        "(E~ = Omega; at E = 0 it is -V^2/(2 Omega)); nearest neighbours attract only through V_nn "
        "(-4 chi V V_nn)",
        "Hamo et al. Fig. 3d-e sharing argument: derived atomic pair binding U_s - E (= -E, the "
        "stored polarizer energy, at U_s = 0) for V > E > 0: agrees",
    ]
    return res


__all__ = ["hamo_strong_coupling", "little_polarizer_attraction"]
