"""Normal ordering of products of fermion operators (the canonical form of a word).

A *word* is a tuple of factors ``(mode, dagger)``: ``dagger=True`` is a creation operator
:math:`c^\\dagger`, ``False`` an annihilation operator :math:`c`; the product is read left to right
as written (the rightmost factor acts first).

Canonical (normal) order: all creation operators to the left, sorted by ascending
:func:`~edkit.core.modes.mode_key`; all annihilation operators to the right, sorted by
**descending** key. With this choice the adjoint of a canonical word is again canonical.
Reordering uses :math:`\\{c_a, c_b^\\dagger\\} = \\delta_{ab}` and :math:`\\{c_a, c_b\\} = 0`, so
:math:`c_a c_a = 0` and :math:`n_a^2 = n_a` come out automatically.

This module is shared by the symbolic layer (sympy coefficients) and the numeric layer, so both
read a model in exactly the same canonical form.
"""

from __future__ import annotations

from functools import lru_cache

from edkit.core.modes import Mode, mode_key

Factor = tuple[Mode, bool]
Word = tuple[Factor, ...]


def adjoint_word(word: Word) -> Word:
    """Hermitian conjugate of a word: reversed, daggers flipped."""
    return tuple((mode, not dagger) for mode, dagger in reversed(word))


def _out_of_order(left: Factor, right: Factor) -> bool:
    (ma, da), (mb, db) = left, right
    if da != db:
        return not da  # annihilator left of a creator
    if da:
        return mode_key(ma) >= mode_key(mb)
    return mode_key(ma) <= mode_key(mb)


@lru_cache(maxsize=200_000)
def normal_order(word: Word) -> tuple[tuple[int, Word], ...]:
    """Expand a word into canonical words with integer coefficients.

    Parameters
    ----------
    word
        The product to order.

    Returns
    -------
    tuple of (int, Word)
        ``sum(coef * canonical_word)`` equals the input word as an operator; words whose
        coefficients cancel are dropped, so an operator that vanishes gives ``()``.
    """
    for pos in range(len(word) - 1):
        left, right = word[pos], word[pos + 1]
        if not _out_of_order(left, right):
            continue
        head, tail = word[:pos], word[pos + 2 :]
        (ma, da), (mb, db) = left, right
        if ma == mb and da == db:  # c c = 0, c† c† = 0
            return ()
        acc: dict[Word, int] = {}
        for coef, w in normal_order(head + (right, left) + tail):
            acc[w] = acc.get(w, 0) - coef
        if ma == mb:  # c_a c_a† = 1 - c_a† c_a
            for coef, w in normal_order(head + tail):
                acc[w] = acc.get(w, 0) + coef
        return tuple((c, w) for w, c in acc.items() if c != 0)
    return ((1, word),)


def is_normal_ordered(word: Word) -> bool:
    """Whether a word is already in canonical order (and nonzero)."""
    return all(not _out_of_order(word[i], word[i + 1]) for i in range(len(word) - 1))
