"""Schrieffer-Wolff derivation time on the KBP rung: edkit's engine vs Pymablock, same process.

Usage::

    python benchmarks/bench_schrieffer_wolff.py [--repeat 5] [--out benchmarks/results/sw_rung.json]

The problem (both sides symbolic in ``U``, ``t_perp``, ``mu_m``): the Kivelson-bilayer rung at
``mu_p = -U/2``,

    H0 = -U n_p↑ n_p↓ - mu_p (n_p - 1) - mu_m (n_m - 1),   V = -t_perp sum_s (c†_ps c_ms + h.c.),

to second order in ``t_perp``. edkit: :func:`mappings.schrieffer_wolff.schrieffer_wolff_model` on
``kbp_bilayer(1)`` with ``H0`` = the terms ``U, mu_p, mu_m`` and the subspace "p empty or doubly
occupied" (model build, split, engine, canonical form and effective model included). Pymablock
(second-quantized route): ``block_diagonalize([H0, V], symbols=[t_perp], fully_diagonalize=mask)``
on ``sympy.physics.quantum`` fermion operators, the mask eliminating every term that moves one
electron between p and m; the timed part builds the operators, calls ``block_diagonalize`` and
evaluates ``H_tilde[0, 0, 2]`` (``raw``), then ``.simplify()`` on it (``simplified``, closer to
edkit's output, which is already in a simplified canonical form).

``mu_m`` is kept symbolic because Pymablock reads its list of operators from ``H0``: with
``mu_m = 0`` the metal operators would be missing from ``H0``. edkit's time for the catalogue case
(``mu_m = 0``, ``kbp_sw(1)``) is reported as well.

Every repetition starts from cleared SymPy caches; one untimed warm-up run of each side comes
first. Before timing, the two results are checked to agree: ``P H_eff P`` on the low-energy
subspace, entry by entry, at random parameter points (Fock matrices built here, Jordan-Wigner).
The figure of merit is the ratio of median times (Pymablock / edkit): the absolute times depend
on the (shared) machine.
"""

from __future__ import annotations

from common import emit, machine  # isort: skip  (sets threads before numpy)

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from functools import reduce  # noqa: E402
from importlib import metadata  # noqa: E402

import numpy as np  # noqa: E402
import sympy  # noqa: E402
from sympy.core.cache import clear_cache  # noqa: E402

from edkit.core.modes import DN, UP, Mode  # noqa: E402
from edkit.models import kbp_bilayer  # noqa: E402
from mappings.schrieffer_wolff import p_site_constraints, schrieffer_wolff_model  # noqa: E402
from mappings.verifications.schrieffer_wolff import kbp_sw  # noqa: E402

U, T, MU_M = (sympy.Symbol(n, real=True) for n in ("U", "t_perp", "mu_m"))
NAMES = ("p_up", "p_dn", "m_up", "m_dn")  # Fock order of the comparison (mode k = bit k)
MODES = (Mode("p", 0, UP), Mode("p", 0, DN), Mode("m", 0, UP), Mode("m", 0, DN))


# ------------------------------------------------------------------------ the two routes
def edkit_rung():
    """edkit: the effective operator of the rung (``EffectiveHamiltonian``)."""
    return schrieffer_wolff_model(kbp_bilayer(1), ("U", "mu_p", "mu_m"), p_site_constraints(1),
                                  substitutions={"mu_p": -U / 2})


def pymablock_rung(simplify: bool):
    """Pymablock: ``(H_tilde[0,0,0] + H_tilde[0,0,1], H_tilde[0,0,2])`` as sympy expressions."""
    from pymablock import block_diagonalize
    from pymablock.number_ordered_form import NumberOperator
    from sympy.physics.quantum import Dagger
    from sympy.physics.quantum.fermion import FermionOp

    pu, pd, mu, md = (FermionOp(n) for n in NAMES)
    npu, npd, nmu, nmd = (NumberOperator(x) for x in (pu, pd, mu, md))
    H0 = sympy.Matrix([[-U * npu * npd + U / 2 * (npu + npd - 1) - MU_M * (nmu + nmd - 1)]])
    V = sympy.Matrix([[-T * (Dagger(pu) * mu + Dagger(mu) * pu + Dagger(pd) * md + Dagger(md) * pd)]])
    one_electron = sum((Dagger(p) * m + Dagger(m) * p for p in (pu, pd) for m in (mu, md)), sympy.S.Zero)
    Ht, _, _ = block_diagonalize([H0, V], symbols=[T], fully_diagonalize={0: sympy.Matrix([[one_electron]])})
    second = Ht[0, 0, 2][0, 0]
    if simplify:
        second = second.simplify()
    low = [Ht[0, 0, k] for k in (0, 1)]
    low = [x[0, 0] if isinstance(x, sympy.MatrixBase) else x for x in low]
    return low, second


# --------------------------------------------------------------- agreement (Fock matrices)
def _jordan_wigner(n: int) -> list[np.ndarray]:
    """Annihilators ``c_k`` on ``2**n`` states (bit k = mode k; string over the modes below k)."""
    dim = 1 << n
    out = []
    for k in range(n):
        c = np.zeros((dim, dim))
        for s in range(dim):
            if s >> k & 1:
                c[s ^ (1 << k), s] = (-1) ** bin(s & ((1 << k) - 1)).count("1")
        out.append(c)
    return out


ANN = _jordan_wigner(4)


def edkit_matrix(op, values: dict) -> np.ndarray:
    idx = {m: k for k, m in enumerate(MODES)}
    out = np.zeros((16, 16))
    for word, coef in op:
        mats = [ANN[idx[m]].T if dag else ANN[idx[m]] for m, dag in word]
        out += float(sympy.sympify(coef).xreplace(values)) * reduce(np.matmul, mats, np.eye(16))
    return out


def pymablock_matrix(expr, values: dict) -> np.ndarray:
    from pymablock.number_ordered_form import NumberOperator, NumberOrderedForm
    from sympy.physics.quantum import Dagger
    from sympy.physics.quantum.fermion import FermionOp

    index = {n: k for k, n in enumerate(NAMES)}

    def conv(e) -> np.ndarray:
        if isinstance(e, NumberOrderedForm):
            e = e.as_expr()
        if not isinstance(e, sympy.Basic):  # pymablock's ``zero`` placeholder
            return np.zeros((16, 16))
        if isinstance(e, sympy.Add):
            return sum((conv(a) for a in e.args), np.zeros((16, 16)))
        if isinstance(e, sympy.Mul):
            scal = [a for a in e.args if a.is_commutative]
            ops = [a for a in e.args if not a.is_commutative]
            factor = float(sympy.Mul(*scal).xreplace(values))
            return factor * reduce(np.matmul, [conv(a) for a in ops], np.eye(16))
        if isinstance(e, sympy.Pow) and not e.is_commutative:
            return np.linalg.matrix_power(conv(e.base), int(e.exp))
        if isinstance(e, Dagger):
            return conv(e.args[0]).T
        if isinstance(e, FermionOp):  # Dagger(c) evaluates to a FermionOp with annihilation False
            c = ANN[index[str(e.name)]]
            return c if e.is_annihilation else c.T
        if isinstance(e, NumberOperator):
            c = ANN[index[str(e.name)]]
            return c.T @ c
        if e.is_commutative:
            return float(e.xreplace(values)) * np.eye(16)
        raise TypeError(f"cannot convert {e!r}")

    return conv(expr)


def p_subspace() -> np.ndarray:
    """Basis states with the p site empty or doubly occupied (bits 0, 1 equal)."""
    return np.array([s for s in range(16) if (s & 1) == (s >> 1 & 1)])


def agreement(n_points: int = 3, seed: int = 4) -> float:
    """Largest entry of ``P (H_edkit - H_pymablock) P`` (same Fock basis and signs) at random points."""
    eff = edkit_rung()
    low, second = pymablock_rung(simplify=False)
    rng = np.random.default_rng(seed)
    keep = p_subspace()
    worst = 0.0
    for _ in range(n_points):
        values = {U: rng.uniform(2, 5), T: rng.uniform(0.1, 0.6), MU_M: rng.uniform(-0.5, 0.5)}
        ours = edkit_matrix(eff.operator, values)[np.ix_(keep, keep)]
        theirs = sum(pymablock_matrix(x, values) for x in [*low, second])[np.ix_(keep, keep)]
        worst = max(worst, float(np.max(np.abs(ours - theirs))))
    return worst


# ----------------------------------------------------------------------------- timing
def timed_runs(fn, repeat: int) -> list[float]:
    fn()  # warm-up (imports, first-call costs), not timed
    out = []
    for _ in range(repeat):
        clear_cache()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def summary(times: list[float]) -> dict:
    return {"median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
            "runs_s": [round(x, 4) for x in times]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed repetitions per side (default 5)")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")

    diff = agreement()
    if diff > 1e-10:
        raise SystemExit(f"edkit and Pymablock disagree on the rung (P H_eff P differs by {diff:.3g})")
    ours = timed_runs(edkit_rung, args.repeat)
    raw = timed_runs(lambda: pymablock_rung(simplify=False), args.repeat)
    simplified = timed_runs(lambda: pymablock_rung(simplify=True), args.repeat)
    catalogue = timed_runs(lambda: kbp_sw(1), args.repeat)
    med = statistics.median(ours)
    info = machine()
    for pkg in ("pymablock",):
        try:
            info["versions"][pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info["versions"][pkg] = None
    emit({
        "benchmark": "Schrieffer-Wolff, KBP rung to second order: edkit engine vs Pymablock (same process)",
        "machine": info,
        "problem": "rung H0 = -U n_pu n_pd - mu_p (n_p - 1) - mu_m (n_m - 1) at mu_p = -U/2, "
                   "V = -t_perp (c†_p c_m + h.c.), second order, symbolic in U, t_perp, mu_m",
        "repeat": args.repeat,
        "caches": "sympy caches cleared before every timed run; one untimed warm-up per side",
        "agreement_max_abs_P_Heff_P_difference": diff,
        "edkit": summary(ours),
        "pymablock_raw": summary(raw),
        "pymablock_simplified": summary(simplified),
        "edkit_catalogue_case_mu_m_0": summary(catalogue),
        "ratio_pymablock_raw_over_edkit": round(statistics.median(raw) / med, 2),
        "ratio_pymablock_simplified_over_edkit": round(statistics.median(simplified) / med, 2),
        "goal": "edkit faster (ratio > 1)",
    }, args.out)


if __name__ == "__main__":
    main()
