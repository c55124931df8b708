"""The structured result of a verification (the catalogue's entries and symbolic derivations).

It lives in the symbolic layer (it needs only :mod:`mappings.algebra`) so that a derivation such as
:func:`mappings.two_wire.verify_second_order` can return one without importing the catalogue;
:mod:`mappings.verifications.result` re-exports it.

A verification records each comparison with :meth:`VerificationResult.check`, which stores the
check *and* folds its verdict into ``passed`` in one call: there is no separate ``passed &= ...``
line that could be forgotten. Lines that prove nothing (context, derived values) go through
:meth:`VerificationResult.note`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mappings.algebra import FermionOperator, sorted_terms, word_str


@dataclass(frozen=True)
class Check:
    """One comparison of a verification.

    Attributes
    ----------
    name
        Short name of what was compared (``"map is canonical"``, ``"open L=2"``, ...).
    passed
        Its verdict.
    detail
        The human-readable line (also in :attr:`VerificationResult.details`), possibly empty.
    """

    name: str
    passed: bool
    detail: str = ""


@dataclass
class VerificationResult:
    """What was compared, the term-by-term difference, and the verdict.

    Attributes
    ----------
    name
        Catalogue name (``kbp-to-anderson`` ...).
    passed
        True when every recorded check passed (kept up to date by :meth:`check`; a result built
        with ``passed=False`` stays failed).
    summary
        One line saying what was proven.
    inputs
        Models, sizes, boundary conditions, maps used.
    details
        Human-readable lines, one per comparison (with the residual when nonzero) or note.
    difference
        The nonzero residual terms (word -> coefficient, as strings) of failed comparisons.
    coefficients
        Derived coefficients as sympy strings (fields, constants, couplings).
    printed
        Disagreements with (or confirmations of) the printed equations.
    checks
        Every recorded :class:`Check`, in order.
    """

    name: str
    passed: bool
    summary: str
    inputs: dict = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    difference: dict[str, str] = field(default_factory=dict)
    coefficients: dict[str, str] = field(default_factory=dict)
    printed: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def check(self, name: str, passed: object, detail: str = "") -> bool:
        """Record one comparison and fold its verdict into :attr:`passed`.

        Parameters
        ----------
        name
            Short name of the comparison.
        passed
            Its outcome (anything with a truth value, e.g. a numpy bool).
        detail
            Line for people (appended to :attr:`details` when not empty).

        Returns
        -------
        bool
            The outcome as a plain ``bool``.
        """
        ok = bool(passed)
        self.checks.append(Check(name, ok, detail))
        if detail:
            self.details.append(detail)
        self.passed = bool(self.passed) and ok
        return ok

    def note(self, detail: str) -> None:
        """Add a line that is context, not a comparison (no verdict)."""
        self.details.append(detail)

    @property
    def failed_checks(self) -> list[Check]:
        """The recorded checks that failed."""
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict:
        """Plain-data form for JSON."""
        return asdict(self)


def residual_table(op: FermionOperator, limit: int = 20) -> dict[str, str]:
    """The first ``limit`` terms of a residual as ``{word: coefficient}`` strings."""
    return {word_str(w): str(c) for w, c in sorted_terms(op.terms)[:limit]}
