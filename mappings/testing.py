"""Assertions on symbolic operators for test suites (edkit's and users' own).

:func:`assert_operators_equal` is also reachable as ``edkit.testing.assert_operators_equal``.
"""

from __future__ import annotations

from mappings.algebra import FermionOperator, sorted_terms, word_str


def assert_operators_equal(left: object, right: object, *, limit: int = 25, label: str = "") -> None:
    """Assert ``left == right`` as fermion operators (difference normal-orders to zero).

    Parameters
    ----------
    left, right
        :class:`mappings.algebra.FermionOperator` (or scalars).
    limit
        How many residual terms to print on failure.
    label
        Words added to the failure message (which comparison failed).

    Raises
    ------
    AssertionError
        With the nonzero terms of ``left - right``.
    """
    diff = (left if isinstance(left, FermionOperator) else FermionOperator() + left) - right
    if diff.is_zero():
        return
    rows = sorted_terms(diff.terms)
    lines = [f"  {word_str(w):40s} {c}" for w, c in rows[:limit]]
    more = f"\n  ... and {len(rows) - limit} more" if len(rows) > limit else ""
    raise AssertionError(f"operators differ{' (' + label + ')' if label else ''}: "
                         f"{len(rows)} terms of left - right are nonzero:\n" + "\n".join(lines) + more)


__all__ = ["assert_operators_equal"]
