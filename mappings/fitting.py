"""Fit an operator onto a named operator basis, with symbolic coefficients."""

from __future__ import annotations

from collections.abc import Mapping

import sympy

from edkit.core.errors import EdkitError
from mappings.algebra import FermionOperator


class FitError(EdkitError, ValueError):
    """The target is not a combination of the basis operators."""


def fit_operator(target: FermionOperator, basis: Mapping[str, FermionOperator]
                 ) -> tuple[dict[str, sympy.Expr], FermionOperator]:
    """Coefficients ``a_k`` with ``target = sum_k a_k basis[k] + remainder``.

    The coefficients solve the linear equations word by word (least-squares is never used:
    the fit is exact or the remainder shows what is missing). Words that no basis operator
    contains go to the remainder.

    Returns
    -------
    coefficients, remainder
        Sympy coefficients by name, and ``target - sum a_k basis[k]`` (zero for an exact fit).

    Raises
    ------
    FitError
        If the equations on the basis' words are inconsistent.
    """
    names = list(basis)
    unknowns = sympy.symbols(f"a0:{len(names)}")
    words = set()
    for op in basis.values():
        words |= set(op.terms)
    tterms = target.terms
    eqs = []
    for w in words:
        lhs = sum((unknowns[k] * basis[n].terms.get(w, 0) for k, n in enumerate(names)), sympy.Integer(0))
        eqs.append(sympy.expand(lhs - tterms.get(w, 0)))
    sol = sympy.linsolve(eqs, unknowns) if eqs else sympy.FiniteSet(tuple(0 for _ in names))
    if not sol:
        raise FitError("the target is not a linear combination of the basis on the basis' words")
    values = next(iter(sol))
    free = set().union(*(sympy.sympify(v).free_symbols for v in values)) & set(unknowns)
    coeffs = {n: sympy.factor(sympy.sympify(v).subs({u: 0 for u in free})) for n, v in zip(names, values)}
    fitted = FermionOperator()
    for n, a in coeffs.items():
        fitted = fitted + basis[n] * a
    return coeffs, target - fitted
