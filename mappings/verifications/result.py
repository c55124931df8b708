"""The structured result every catalogue verification returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mappings.algebra import FermionOperator, sorted_terms, word_str


@dataclass
class VerificationResult:
    """What was compared, the term-by-term difference, and the verdict.

    Attributes
    ----------
    name
        Catalogue name (``kbp-to-anderson`` ...).
    passed
        True when every compared difference vanishes identically.
    summary
        One line saying what was proven.
    inputs
        Models, sizes, boundary conditions, maps used.
    details
        Human-readable lines, one per comparison (with the residual when nonzero).
    difference
        The nonzero residual terms (word -> coefficient, as strings) of failed comparisons.
    coefficients
        Derived coefficients as sympy strings (fields, constants, couplings).
    printed
        Disagreements with (or confirmations of) the printed equations.
    """

    name: str
    passed: bool
    summary: str
    inputs: dict = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    difference: dict[str, str] = field(default_factory=dict)
    coefficients: dict[str, str] = field(default_factory=dict)
    printed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain-data form for JSON."""
        return asdict(self)


def residual_table(op: FermionOperator, limit: int = 20) -> dict[str, str]:
    """The first ``limit`` terms of a residual as ``{word: coefficient}`` strings."""
    return {word_str(w): str(c) for w, c in sorted_terms(op.terms)[:limit]}
