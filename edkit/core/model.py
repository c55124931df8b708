"""The neutral model: modes, terms with sympy coefficients, parameters, constraints, sectors.

A :class:`Model` is the single definition that both the symbolic layer (``mappings``) and the
numeric layer (``edkit.engine.backend_quspin``) read. Nothing here imports QuSpin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import sympy

from edkit.core.errors import EdkitError
from edkit.core.lattice import Lattice
from edkit.core.modes import DN, SPINLESS, UP, Mode
from edkit.core.params import Parameter, ParameterError, as_number, resolve_parameters
from edkit.core.words import Word, adjoint_word, normal_order


class ModelError(EdkitError, ValueError):
    """A model that is inconsistent (not Hermitian, unknown modes, bad sector)."""


class SectorError(EdkitError, ValueError):
    """A symmetry sector with no states, or sector names the model does not have."""


@dataclass(frozen=True)
class Term:
    """``coefficient * word``, with a label saying which part of the Hamiltonian it is."""

    coefficient: sympy.Expr
    word: Word
    label: str = ""


@dataclass(frozen=True)
class Constraint:
    """The total occupation of ``modes`` is restricted to ``allowed`` (e.g. a site 0 or 2)."""

    modes: tuple[Mode, ...]
    allowed: tuple[int, ...]
    label: str = ""


@dataclass(frozen=True)
class Sector:
    """Fixed fermion numbers per spin species (all modes, constrained ones included).

    ``constraints`` are extra occupation constraints that define the sector (e.g. a fixed
    number of particles on one wire); the backend imposes them like the model's own.
    For spinless models ``n_up`` is the particle number and ``n_dn`` is 0.
    """

    n_up: int
    n_dn: int
    constraints: tuple[Constraint, ...] = ()


@dataclass(frozen=True)
class Capabilities:
    """What a model family declares about itself; the engine, observables and CLI read it.

    Nothing outside a model's factory may dispatch on ``model.name``: family-specific code asks the
    capabilities instead.

    Attributes
    ----------
    family
        Family name for family-specific code (``"hubbard"``, ``"bilayer"``, ``"polarizer"``,
        ``"two-wire"``, ...); ``""`` for a model built by hand.
    symmetries
        ``{label: condition}`` for the lattice symmetries the family has (``"k"``, ``"P"``, ``"Z"``,
        ``"C"``), in words for users (``edkit plan``). Documentation only: the check on the terms
        (:mod:`edkit.engine.symmetry`) decides whether a symmetry holds for given values.
    space
        A special numeric space the family needs (e.g. ``"two-wire-product"``), or ``None`` for
        the plain Fock sector.
    observables
        Names of family observables (registered in :mod:`edkit.observables`) this model offers.
    """

    family: str = ""
    symmetries: Mapping[str, str] = field(default_factory=dict)
    space: str | None = None
    observables: tuple[str, ...] = ()


@dataclass
class Model:
    """A lattice Hamiltonian written once.

    Attributes
    ----------
    name
        Registry name (``"kbp"``, ``"anderson"``, ...).
    lattice
        The lattice (gives the orbital order).
    spinful
        Whether modes carry a spin label.
    terms
        The Hamiltonian as a list of :class:`Term`.
    parameters
        Parameters by name (order kept for display).
    constraints
        Occupation constraints that the Hamiltonian conserves (e.g. p sites empty or doubly
        occupied); the numeric layer restricts to them.
    extra_electrons
        Fermions that the sector's ``N`` does not count (the localized spins of the Kondo lattice
        are one fermion per site with ``N`` counting conduction electrons only).
    doc
        Hamiltonian and conventions (shown by ``edkit models``).
    capabilities
        What the family declares about itself (:class:`Capabilities`).
    """

    name: str
    lattice: Lattice
    spinful: bool
    terms: list[Term]
    parameters: dict[str, Parameter]
    constraints: tuple[Constraint, ...] = ()
    extra_electrons: int = 0
    doc: str = ""
    sector_names: tuple[str, ...] = ()
    sector_fn: Callable[..., Sector] | None = field(default=None, repr=False)
    default_sector: dict[str, float] = field(default_factory=dict)
    capabilities: Capabilities = field(default_factory=Capabilities)
    _checked: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if not self.sector_names:
            self.sector_names = ("N", "Sz") if self.spinful else ("N",)

    # ----------------------------------------------------------------- modes
    @property
    def orbitals(self) -> tuple[tuple[str, int], ...]:
        """Orbitals in the documented order; orbital ``k`` is backend site ``k``."""
        return self.lattice.orbitals

    @property
    def n_orbitals(self) -> int:
        return len(self.orbitals)

    @property
    def modes(self) -> tuple[Mode, ...]:
        """All modes in the Jordan-Wigner order: spin-up orbitals, then spin-down orbitals."""
        if not self.spinful:
            return tuple(Mode(layer, i, SPINLESS) for layer, i in self.orbitals)
        return tuple(Mode(layer, i, s) for s in (UP, DN) for layer, i in self.orbitals)

    def orbital_index(self) -> dict[tuple[str, int], int]:
        """Map ``(layer, site)`` to the backend site index."""
        return {o: k for k, o in enumerate(self.orbitals)}

    @property
    def symbols(self) -> dict[str, sympy.Symbol]:
        """Parameter symbols by name."""
        return {name: p.symbol for name, p in self.parameters.items()}

    # ---------------------------------------------------------------- checks
    def check(self) -> Model:
        """Validate modes, parameters in coefficients, and hermiticity; return ``self``.

        Raises
        ------
        ModelError
            Listing terms on modes the model does not have, coefficients in unknown symbols, or
            terms whose Hermitian conjugates are missing.
        """
        if self._checked:
            return self
        modes = set(self.modes)
        bad = [t for t in self.terms for m, _ in t.word if m not in modes]
        if bad:
            raise ModelError(
                f"terms act on modes not in the model: {sorted({str(m) for t in bad for m, _ in t.word if m not in modes})}"  # noqa: E501
            )
        known = set(self.symbols.values())
        stray = {s for t in self.terms for s in sympy.sympify(t.coefficient).free_symbols} - known
        if stray:
            raise ModelError(f"coefficients use symbols that are not parameters: {sorted(map(str, stray))}")
        missing = self.non_hermitian_terms()
        if missing:
            lines = "; ".join(f"{t.label or '?'}: {t.coefficient}*{_word_str(t.word)}" for t in missing[:8])
            raise ModelError(
                f"model {self.name!r} is not Hermitian: {len(missing)} term(s) lack their conjugate, "
                f"e.g. {lines}"
            )
        self._checked = True
        return self

    def canonical_terms(self, coefficients: Iterable[tuple[object, Word]] | None = None
                        ) -> dict[Word, sympy.Expr]:
        """Terms in canonical normal order with summed coefficients (zeros dropped)."""
        acc: dict[Word, list] = {}
        items = coefficients if coefficients is not None else ((t.coefficient, t.word) for t in self.terms)
        for coef, word in items:
            for sign, w in normal_order(tuple(word)):
                acc.setdefault(w, []).append(sign * coef)
        out = {}
        for w, parts in acc.items():
            c = sympy.expand(sympy.Add(*parts))
            if c != 0:
                out[w] = c
        return out

    def non_hermitian_terms(self) -> list[Term]:
        """Terms whose canonical words have no matching conjugate (H - H† != 0)."""
        canon = self.canonical_terms()
        bad_words = set()
        for w, c in canon.items():
            cw = canon.get(adjoint_word(w), 0)
            if sympy.expand(c - sympy.conjugate(cw)) != 0:
                bad_words.add(w)
        if not bad_words:
            return []
        out = []
        for t in self.terms:
            if any(w in bad_words for _, w in normal_order(tuple(t.word))):
                out.append(t)
        return out

    # ------------------------------------------------------------ parameters
    def resolve(self, values: Mapping[str, object] | None = None) -> dict[str, float]:
        """All parameter values (user values, then defaults); see :func:`resolve_parameters`."""
        return resolve_parameters(self.parameters, values)

    def numeric_terms(self, values: Mapping[str, object] | None = None) -> list[tuple[complex, Word]]:
        """Canonical words with numeric coefficients at the given parameter values."""
        self.check()
        vals = self.resolve(values)
        subs = {self.parameters[k].symbol: v for k, v in vals.items()}
        out = []
        for w, c in self.canonical_terms().items():
            z = complex(sympy.sympify(c).xreplace(subs))
            if not (math.isfinite(z.real) and math.isfinite(z.imag)):
                raise ParameterError(f"coefficient {c} is not finite at {vals}")
            if abs(z.imag) <= 1e-14 * max(1.0, abs(z.real)):  # exp(i*pi): keep matrices real
                z = complex(z.real, 0.0)
            if z != 0:
                out.append((z, w))
        return out

    # --------------------------------------------------------------- sectors
    def default_N(self) -> int:
        """``N`` used when the user gives none: the model's ``default_sector`` or half filling."""
        if "N" in self.default_sector:
            return int(self.default_sector["N"])
        return (self.n_orbitals if self.spinful else self.n_orbitals // 2) - self.extra_electrons

    def resolve_sector(self, values: Mapping[str, object] | None = None) -> dict[str, float]:
        """Sector values with the defaults filled in (the command line's and sweeps' rule).

        Names are checked against ``sector_names``, strings are parsed as numbers only, ``N``
        defaults to :meth:`default_N`, ``Sz`` to the lowest ``|Sz|`` (0 or 1/2), other names to
        ``default_sector``.

        Raises
        ------
        SectorError
            Unknown sector names or a non-integer ``N``.
        """
        values = dict(values or {})
        unknown = sorted(set(values) - set(self.sector_names))
        if unknown:
            raise SectorError(f"unknown sector name(s) {unknown}; "
                              f"{self.name} has {sorted(self.sector_names)}")
        out = {k: as_number(v, k, SectorError) for k, v in values.items()}
        N = out.get("N", float(self.default_N()))
        if N != int(N):
            raise SectorError(f"N must be an integer, got {N}")
        out["N"] = int(N)
        if self.spinful and "Sz" not in out:
            out["Sz"] = 0.0 if (out["N"] + self.extra_electrons) % 2 == 0 else 0.5
        for key, value in self.default_sector.items():
            out.setdefault(key, value)
        return out

    def electron_bounds(self) -> tuple[int, int]:
        """Smallest and largest total fermion number the constraints allow."""
        constrained = {m for c in self.constraints for m in c.modes}
        free = len([m for m in self.modes if m not in constrained])
        lo = sum(min(c.allowed) for c in self.constraints)
        hi = free + sum(max(c.allowed) for c in self.constraints)
        return lo, hi

    def sector(self, N: int | None = None, Sz: float | None = None, **extra: float) -> Sector:
        """Spin-resolved fermion numbers for ``N`` electrons (as the model counts them), ``Sz``.

        Models with other conserved numbers (``sector_names`` beyond N, Sz) provide
        ``sector_fn(model, N, Sz, **extra)``.

        Raises
        ------
        SectorError
            If the sector has no states (with the reason), or names an unknown quantity.
        """
        unknown = set(extra) - set(self.sector_names)
        if unknown:
            raise SectorError(f"unknown sector name(s) {sorted(unknown)}; "
                              f"{self.name} has {list(self.sector_names)}")
        N, Sz = _sector_value(N, "N"), _sector_value(Sz, "Sz")
        extra = {k: _sector_value(v, k) for k, v in extra.items()}
        if self.sector_fn is not None:
            return self.sector_fn(self, N, Sz, **extra)
        n_orb = self.n_orbitals
        if not self.spinful:
            if Sz not in (None, 0):
                raise SectorError(f"model {self.name!r} is spinless: it has no Sz sector")
            if N is None or int(N) != N or not 0 <= int(N) + self.extra_electrons <= n_orb:
                raise SectorError(f"N={N} is outside 0..{n_orb - self.extra_electrons}")
            return Sector(int(N) + self.extra_electrons, 0)
        if N is None or Sz is None:
            raise SectorError("both N and Sz are needed for a spinful model")
        if int(N) != N:
            raise SectorError(f"N must be an integer, got {N}")
        N = int(N)
        nf = N + self.extra_electrons
        lo, hi = self.electron_bounds()
        if N < 0 or nf > hi or nf < lo:
            lo_n, hi_n = max(0, lo - self.extra_electrons), hi - self.extra_electrons
            why = f"{n_orb} orbitals hold at most {2 * n_orb} electrons"
            if self.constraints:
                why += f" and the constraints ({self.constraints[0].label}, ...) fix {hi - hi_n} of them"
            raise SectorError(f"N={N} is outside {lo_n}..{hi_n}: {why}")
        held = f" ({N} + {self.extra_electrons} localized)" if self.extra_electrons else ""
        n_up, n_dn = split_spin(nf, Sz, n_orb, f"{nf} electrons{held}", f"{n_orb} orbitals")
        return Sector(n_up, n_dn)


def _sector_value(value: object, name: str) -> float | None:
    """A sector number as a float (``None`` stays ``None``); booleans and text that is not a number
    are refused with :class:`SectorError`."""
    return None if value is None else as_number(value, name, SectorError)


def particle_count(name: str, value: object, maximum: int, why: str) -> int:
    """A particle number ``value`` checked to be an integer in ``0..maximum``.

    Raises
    ------
    SectorError
        If it is missing, not an integer, or out of range (the message ends with ``why``).
    """
    if value is None or isinstance(value, bool) or int(value) != value:
        raise SectorError(f"{name} must be an integer, got {value!r}")
    if not 0 <= int(value) <= maximum:
        raise SectorError(f"{name}={value} is outside 0..{maximum}: {why}")
    return int(value)


def split_spin(N: int, Sz: float, n_orbitals: int, what: str = "", where: str = "") -> tuple[int, int]:
    """``(N_up, N_dn)`` of ``N`` spin-1/2 fermions with ``Sz`` on ``n_orbitals`` orbitals.

    Raises
    ------
    SectorError
        If ``Sz`` is not a multiple of 1/2, has the wrong parity, or does not fit.
    """
    what = what or f"N={N}"
    where = where or f"{n_orbitals} orbitals"
    if not abs(Sz) <= max(N, 0) / 2:  # also inf and nan; |Sz| <= N/2 for N spins 1/2
        raise SectorError(f"Sz={Sz} is impossible with {what} on {where}: |Sz| is at most N/2")
    two_sz = 2 * Sz
    if not math.isfinite(two_sz):
        raise SectorError(f"Sz={Sz} is impossible with {what} on {where}: |Sz| is at most N/2")
    if abs(two_sz - round(two_sz)) > 1e-12:
        raise SectorError(f"Sz must be a multiple of 1/2, got {Sz}")
    two_sz = int(round(two_sz))
    if (N + two_sz) % 2:
        raise SectorError(f"Sz={Sz} is impossible with {what}: 2*Sz must have the parity of N")
    n_up, n_dn = (N + two_sz) // 2, (N - two_sz) // 2
    if not (0 <= n_up <= n_orbitals and 0 <= n_dn <= n_orbitals):
        raise SectorError(f"Sz={Sz} is impossible with {what} on {where}")
    return n_up, n_dn


def _word_str(word: Word) -> str:
    return " ".join(f"c{'†' if d else ''}_{m}" for m, d in word)


def hopping(a: Mode, b: Mode, amplitude: sympy.Expr, label: str) -> list[Term]:
    """``-amplitude (c†_a c_b + c†_b c_a)`` for a real amplitude."""
    return [Term(-amplitude, ((a, True), (b, False)), label),
            Term(-amplitude, ((b, True), (a, False)), label)]


def density(a: Mode, coefficient: sympy.Expr, label: str) -> Term:
    """``coefficient * n_a``."""
    return Term(coefficient, ((a, True), (a, False)), label)


def density_density(a: Mode, b: Mode, coefficient: sympy.Expr, label: str) -> Term:
    """``coefficient * n_a n_b``."""
    return Term(coefficient, ((a, True), (a, False), (b, True), (b, False)), label)


def constant(value: sympy.Expr, label: str = "constant") -> Term:
    """A constant energy (empty word)."""
    return Term(value, (), label)
