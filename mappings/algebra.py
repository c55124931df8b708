"""Fermion operator algebra with symbolic (sympy) coefficients.

An :class:`FermionOperator` is a finite sum ``sum_w coefficient_w * w`` over canonical words
(see :mod:`edkit.core.words` for the order: creators ascending, then annihilators descending).
Every operation returns a normal-ordered result, so two operators are equal exactly when their
difference has no terms left after :func:`sympy.expand` of each coefficient.

Conventions
-----------
- ``c(mode)`` is the annihilator :math:`c`, ``cdag(mode)`` the creator :math:`c^\\dagger`,
  ``number(mode)`` :math:`n = c^\\dagger c`.
- Products are operator products in the written order: ``a * b`` is :math:`ab`.
- Coefficients are sympy expressions; parameters should be real symbols so that
  :meth:`FermionOperator.adjoint` conjugates only what is complex.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import sympy

from edkit.core.model import Model
from edkit.core.modes import Mode
from edkit.core.words import Word, adjoint_word, normal_order

Scalar = sympy.Expr | int | float | complex


class FermionOperator:
    """A sum of normal-ordered fermion words with sympy coefficients.

    Parameters
    ----------
    terms
        Mapping or iterable of ``(word, coefficient)``; words need not be canonical.
    """

    __slots__ = ("_terms",)

    def __init__(self, terms: Mapping[Word, Scalar] | Iterable[tuple[Word, Scalar]] = ()) -> None:
        items = terms.items() if isinstance(terms, Mapping) else terms
        self._terms = _collect((sign * sympy.sympify(c), w)
                               for word, c in items for sign, w in normal_order(tuple(word)))

    @classmethod
    def _raw(cls, terms: dict[Word, sympy.Expr]) -> FermionOperator:
        op = cls.__new__(cls)
        op._terms = terms
        return op

    # -------------------------------------------------------------- access
    @property
    def terms(self) -> dict[Word, sympy.Expr]:
        """Canonical words and their (nonzero) coefficients."""
        return dict(self._terms)

    def __len__(self) -> int:
        return len(self._terms)

    def __iter__(self):
        return iter(self._terms.items())

    def modes(self) -> set[Mode]:
        """Modes the operator acts on."""
        return {m for w in self._terms for m, _ in w}

    def constant(self) -> sympy.Expr:
        """Coefficient of the identity."""
        return self._terms.get((), sympy.Integer(0))

    def is_zero(self) -> bool:
        """Whether the operator vanishes identically."""
        return not self._terms

    def is_scalar(self) -> bool:
        """Whether the operator is a multiple of the identity."""
        return all(w == () for w in self._terms)

    # ---------------------------------------------------------- arithmetic
    def __add__(self, other: FermionOperator | Scalar) -> FermionOperator:
        other = _as_operator(other)
        return FermionOperator._raw(_collect(
            [(c, w) for w, c in self._terms.items()] + [(c, w) for w, c in other._terms.items()]))

    __radd__ = __add__

    def __neg__(self) -> FermionOperator:
        return FermionOperator._raw({w: -c for w, c in self._terms.items()})

    def __sub__(self, other: FermionOperator | Scalar) -> FermionOperator:
        return self + (-_as_operator(other))

    def __rsub__(self, other: Scalar) -> FermionOperator:
        return _as_operator(other) - self

    def __mul__(self, other: FermionOperator | Scalar) -> FermionOperator:
        if not isinstance(other, FermionOperator):
            k = sympy.sympify(other)
            return FermionOperator._raw(_collect((k * c, w) for w, c in self._terms.items()))
        pieces = []
        for w1, c1 in self._terms.items():
            for w2, c2 in other._terms.items():
                coef = c1 * c2
                for sign, w in normal_order(w1 + w2):
                    pieces.append((sign * coef, w))
        return FermionOperator._raw(_collect(pieces))

    def __rmul__(self, other: Scalar) -> FermionOperator:
        return self * other

    def __truediv__(self, other: Scalar) -> FermionOperator:
        return self * (sympy.Integer(1) / sympy.sympify(other))

    def __pow__(self, n: int) -> FermionOperator:
        out = identity()
        for _ in range(n):
            out = out * self
        return out

    def adjoint(self) -> FermionOperator:
        """Hermitian conjugate (coefficients conjugated, words reversed and daggers flipped)."""
        return FermionOperator._raw({adjoint_word(w): sympy.conjugate(c) for w, c in self._terms.items()})

    dagger = adjoint

    def simplify(self, fn: Callable[[sympy.Expr], sympy.Expr] = sympy.simplify) -> FermionOperator:
        """Apply ``fn`` to each coefficient and drop the zeros."""
        return FermionOperator._raw({w: v for w, c in self._terms.items() if (v := fn(c)) != 0})

    def subs(self, values: Mapping) -> FermionOperator:
        """Substitute values for symbols in the coefficients."""
        return FermionOperator._raw(_collect((sympy.sympify(c).subs(values), w)
                                             for w, c in self._terms.items()))

    def equals(self, other: FermionOperator | Scalar) -> bool:
        """Operator equality: the difference normal-orders to zero."""
        return (self - _as_operator(other)).is_zero()

    def is_hermitian(self) -> bool:
        """Whether the operator equals its adjoint."""
        return self.equals(self.adjoint())

    def substitute(self, images: Mapping[Mode, FermionOperator]) -> FermionOperator:
        """Replace every annihilator ``c_m`` by ``images[m]`` (creators by the adjoint image).

        Modes missing from ``images`` are left unchanged.
        """
        cache: dict[tuple[Mode, bool], FermionOperator] = {}

        def image(f: tuple[Mode, bool]) -> FermionOperator:
            if f not in cache:
                m, dag = f
                base = images.get(m)
                if base is None:
                    cache[f] = FermionOperator._raw({(f,): sympy.Integer(1)})
                else:
                    cache[f] = base.adjoint() if dag else base
            return cache[f]

        pieces: list[tuple[sympy.Expr, Word]] = []
        for w, c in self._terms.items():
            prod = FermionOperator._raw({(): c})
            for f in w:
                prod = prod * image(f)
            pieces.extend((cc, ww) for ww, cc in prod._terms.items())
        return FermionOperator._raw(_collect(pieces))

    # -------------------------------------------------------------- display
    def __repr__(self) -> str:
        if not self._terms:
            return "0"
        return " + ".join(f"({c})*{word_str(w)}" for w, c in sorted_terms(self._terms))

    def latex(self) -> str:
        """LaTeX of the operator."""
        if not self._terms:
            return "0"
        out = ""
        for k, (w, c) in enumerate(sorted_terms(self._terms)):
            sign = " + "
            if c.could_extract_minus_sign():
                sign, c = " - ", -c
            coef = sympy.latex(c)
            if isinstance(c, sympy.Add):
                coef = rf"\left({coef}\right)"
            body = " ".join(rf"c^{{\dagger}}_{{{m.latex()}}}" if d else rf"c_{{{m.latex()}}}"
                            for m, d in w)
            if body and coef == "1":
                term = body
            else:
                term = f"{coef}\\, {body}" if body else coef
            out += (sign.strip() + " " if k == 0 and sign == " - " else "" if k == 0 else sign) + term
        return out

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


def _collect(pairs: Iterable[tuple[sympy.Expr, Word]]) -> dict[Word, sympy.Expr]:
    acc: dict[Word, list] = {}
    for c, w in pairs:
        acc.setdefault(w, []).append(c)
    out = {}
    for w, cs in acc.items():
        total = sympy.expand(sympy.Add(*cs)) if len(cs) > 1 else sympy.expand(cs[0])
        if total != 0 and _has_symbolic_denominator(total):
            total = sympy.cancel(total)  # U/(U+t) + t/(U+t) - 1 must vanish
        if total != 0:
            out[w] = total
    return out


def _has_symbolic_denominator(expr: sympy.Expr) -> bool:
    return any(p.exp.is_negative and p.base.free_symbols for p in expr.atoms(sympy.Pow))


def _as_operator(x: FermionOperator | Scalar) -> FermionOperator:
    if isinstance(x, FermionOperator):
        return x
    return FermionOperator._raw(_collect([(sympy.sympify(x), ())]))


def word_str(word: Word) -> str:
    """Readable text of a word, e.g. ``c†_p0↑ c_m0↑``."""
    if not word:
        return "1"
    return " ".join(f"c{'†' if d else ''}_{m}" for m, d in word)


def sorted_terms(terms: Mapping[Word, sympy.Expr]) -> list[tuple[Word, sympy.Expr]]:
    """Terms sorted by word length, then word (stable, readable order)."""
    return sorted(terms.items(),
                  key=lambda kv: (len(kv[0]), [(m.layer, m.site, m.spin, d) for m, d in kv[0]]))


# ----------------------------------------------------------------- builders
def identity() -> FermionOperator:
    """The identity operator."""
    return FermionOperator._raw({(): sympy.Integer(1)})


def c(mode: Mode) -> FermionOperator:
    """Annihilation operator :math:`c_{mode}`."""
    return FermionOperator._raw({((mode, False),): sympy.Integer(1)})


def cdag(mode: Mode) -> FermionOperator:
    """Creation operator :math:`c^\\dagger_{mode}`."""
    return FermionOperator._raw({((mode, True),): sympy.Integer(1)})


def number(mode: Mode) -> FermionOperator:
    """Number operator :math:`n = c^\\dagger c`."""
    return FermionOperator._raw({((mode, True), (mode, False)): sympy.Integer(1)})


def operator_sum(operators: Iterable[FermionOperator]) -> FermionOperator:
    """Sum of many operators, collecting each word's coefficient once (linear, not quadratic)."""
    return FermionOperator._raw(_collect((c, w) for op in operators for w, c in op._terms.items()))


def commutator(a: FermionOperator, b: FermionOperator) -> FermionOperator:
    """:math:`[a, b] = ab - ba`."""
    return a * b - b * a


def anticommutator(a: FermionOperator, b: FermionOperator) -> FermionOperator:
    """:math:`\\{a, b\\} = ab + ba`."""
    return a * b + b * a


def from_model(model: Model) -> FermionOperator:
    """The Hamiltonian of a model as a symbolic operator (exactly the terms it diagonalizes)."""
    return FermionOperator([(t.word, t.coefficient) for t in model.terms])
