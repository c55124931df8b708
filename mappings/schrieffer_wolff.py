r"""Schrieffer-Wolff reduction onto a subspace fixed by occupation constraints.

Setting
-------
The Hamiltonian is split as :math:`H = H_0 + V`:

- :math:`H_0` is **diagonal in the occupation numbers** of a set of *fast* modes: every word of
  :math:`H_0` is a product of number operators (e.g. :math:`-U n_{p\uparrow} n_{p\downarrow}
  - \mu_p (n_p - 1)` on the pairing sites of the Kivelson bilayer).
- The low-energy subspace :math:`P` is a product of local occupation constraints
  (:class:`~edkit.core.model.Constraint`, e.g. "p site empty or doubly occupied").
- :math:`V` is everything else, in any form. Parts of :math:`V` that do not change the
  constrained occupations (the metal hopping ``t_m``) commute with :math:`P` and stay in the
  low-energy part at first order.

Fast modes are grouped into *clusters*: the connected components of the supports of the
constraints and of the words of :math:`H_0`. The eigenstates of :math:`H_0` are labelled by the
configuration of every cluster (which modes are occupied) and its energy is a sum of cluster
energies, known symbolically. A word of :math:`V` changes the configuration of the clusters it
touches in a fixed way, so every energy denominator is known symbolically from the local
configurations alone; the slow modes (not in any cluster) stay operators throughout.

Effective Hamiltonian (canonical Schrieffer-Wolff / van Vleck, quasi-degenerate form)
-------------------------------------------------------------------------------------
With :math:`a, b` configurations in :math:`P`, :math:`l, l'` outside it (in :math:`Q = 1 - P`):

.. math::
    H^{(0)} = P H_0 P, \qquad H^{(1)} = P V P,

    H^{(2)}_{ab} = \tfrac12 \sum_{l} V_{al} V_{lb}
        \Big[\frac{1}{E_a - E_l} + \frac{1}{E_b - E_l}\Big],

    H^{(3)}_{ab} = \tfrac12 \sum_{l,l'} V_{al} V_{ll'} V_{l'b}
        \Big[\frac{1}{(E_a - E_l)(E_a - E_{l'})} + \frac{1}{(E_b - E_l)(E_b - E_{l'})}\Big]
      - \tfrac12 \sum_{l, c \in P} \Big[\frac{V_{al} V_{lc} V_{cb}}{(E_b - E_l)(E_c - E_l)}
        + \frac{V_{ac} V_{cl} V_{lb}}{(E_a - E_l)(E_c - E_l)}\Big]

(Winkler, *Spin-orbit coupling effects in two-dimensional electron and hole systems*,
App. B, Eqs. (B.15)). The manifold :math:`P` need not be degenerate: when :math:`E_a \ne E_b`
the symmetric form above is the Schrieffer-Wolff result, and terms that act *inside* a
degenerate manifold (``a != b``, e.g. pair hopping between two degenerate p configurations)
are kept — naive non-degenerate perturbation theory drops them. A vanishing denominator
(an intermediate state degenerate with the low manifold) raises
:class:`SchriefferWolffError`. Here the matrix elements are operator valued: the sum over
intermediate configurations is done exactly, with the slow-mode parts kept as fermion words.
Indices: :math:`H_{ab} = \langle a|H|b\rangle` (``a`` final, ``b`` initial). Slow-mode terms of
:math:`V` that commute with :math:`P` (the metal) enter at first order and, from third order on,
inside nested products such as :math:`P V Q H_m Q V P`; the expansion is in powers of all of
:math:`V`. Orders 0-3 agree with Pymablock (tests).

Output and canonical form on the subspace
-----------------------------------------
An operator restricted to :math:`P` has many representatives (on "p empty or doubled",
:math:`n_{p\uparrow} = n_{p\downarrow} = n_{p\uparrow} n_{p\downarrow}`). :meth:`LowEnergySubspace.restrict`
returns one canonical representative: on each constrained cluster the local operator is written
in a fixed basis of the operators on the allowed configurations, containing the identity as
``1`` (diagonal part: products of number operators; off-diagonal part: the bare transition
word times products of number operators of the spectator modes). Two operators are equal on
the subspace exactly when their canonical forms are equal term by term, which is what
:meth:`LowEnergySubspace.fit` uses to fit onto a user's named basis with zero residual.

KBP caveat (documented, measured in the tests)
----------------------------------------------
For the Kivelson bilayer with the metal hopping in :math:`V`, the third order is not zero:
:math:`H^{(3)} = -(4 t_\perp^2/U^2)\, H_m` at half filling (the metal hopping is renormalized by
the time electrons spend on the p sites). At fixed ``t_m`` the second-order model is therefore
accurate to :math:`O(t_\perp^2 t_m/U^2)`; the :math:`t_\perp^4/U^3` convergence holds for
``t_m = 0`` or with ``t_m`` scaled like :math:`t_\perp^2/U`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce

import sympy

from edkit.core.errors import EdkitError
from edkit.core.lattice import Lattice
from edkit.core.model import Constraint, Model, Term
from edkit.core.modes import Mode, mode_key
from edkit.core.params import Parameter
from edkit.core.words import Word
from mappings.algebra import FermionOperator, cdag, identity, number, operator_sum, word_str
from mappings.fitting import fit_operator

Config = frozenset  # occupied modes of one cluster

#: Largest cluster (number of modes) the engine enumerates (2**8 configurations).
MAX_CLUSTER_MODES = 8


class SchriefferWolffError(EdkitError, ValueError):
    """Bad input to the Schrieffer-Wolff reduction (or a resonant intermediate state)."""


# --------------------------------------------------------------------- helpers
def _sorted_modes(modes: Iterable[Mode]) -> tuple[Mode, ...]:
    return tuple(sorted(set(modes), key=mode_key))


def _clusters(groups: Iterable[Iterable[Mode]]) -> list[tuple[Mode, ...]]:
    """Connected components of the union of mode groups (union-find)."""
    parent: dict[Mode, Mode] = {}

    def find(x: Mode) -> Mode:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for group in groups:
        group = list(group)
        for m in group:
            parent.setdefault(m, m)
        for m in group[1:]:
            ra, rb = find(group[0]), find(m)
            if ra != rb:
                parent[rb] = ra
    comps: dict[Mode, list[Mode]] = {}
    for m in parent:
        comps.setdefault(find(m), []).append(m)
    return sorted((_sorted_modes(c) for c in comps.values()), key=lambda c: mode_key(c[0]))


def _all_configs(modes: tuple[Mode, ...]) -> list[Config]:
    return [frozenset(m for m, bit in zip(modes, bits) if bit)
            for bits in itertools.product((0, 1), repeat=len(modes))]


def _state(config: Config) -> FermionOperator:
    """Creation string of a local configuration (modes in canonical order) acting on vacuum."""
    return reduce(lambda acc, m: acc * cdag(m), _sorted_modes(config), identity())


def _vacuum_element(left: Config, op: FermionOperator, right: Config) -> sympy.Expr:
    """:math:`\\langle left | op | right \\rangle` with :func:`_state` as the basis states."""
    return (_state(left).adjoint() * op * _state(right)).constant()


def _word_operator(cre: Iterable[Mode], ann: Iterable[Mode]) -> FermionOperator:
    """The canonical transition word: creators ascending, annihilators descending."""
    word = tuple((m, True) for m in _sorted_modes(cre)) + tuple(
        (m, False) for m in reversed(_sorted_modes(ann)))
    return FermionOperator({word: 1})


def _projector(config: Config, modes: tuple[Mode, ...]) -> FermionOperator:
    """Projector on one configuration of ``modes``."""
    out = identity()
    for m in modes:
        out = out * (number(m) if m in config else identity() - number(m))
    return out


def tidy(expr: sympy.Expr) -> sympy.Expr:
    """Canonical, readable form of a rational coefficient (``-U/2 - 2*t_perp**2/U``)."""
    expr = sympy.cancel(sympy.sympify(expr))
    den = sympy.fraction(expr)[1]
    try:
        monomial = den.is_number or sympy.Poly(den, *sorted(den.free_symbols, key=str)).is_monomial
    except sympy.PolynomialError:  # not a rational function: leave it as cancel wrote it
        return expr
    return sympy.expand(expr) if monomial else sympy.factor(expr)


def _tidy_operator(op: FermionOperator) -> FermionOperator:
    return op.simplify(tidy)


def _allowed(config: Config, constraints: Sequence[Constraint]) -> bool:
    return all(sum(1 for m in c.modes if m in config) in c.allowed for c in constraints)


# ------------------------------------------------------------------ subspace
@dataclass(frozen=True)
class _Cluster:
    """A group of fast modes with its allowed configurations (``None``: unconstrained)."""

    modes: tuple[Mode, ...]
    allowed: tuple[Config, ...] | None


class _LocalBasis:
    """A fixed basis of the operators on the allowed configurations of one cluster.

    Diagonal part: ``1`` and products of number operators ``n_S`` for the occupied sets ``S`` of
    the allowed configurations (one minimal set dropped when the empty configuration is not
    allowed, so that ``1`` is in the basis). Off-diagonal part, per transition pattern
    (created set, annihilated set): the bare transition word times ``n_S`` of the spectator
    modes, with the same rule. The basis matrices on the allowed configurations are linearly
    independent (unitriangular under inclusion), so every local operator has unique coordinates.
    """

    def __init__(self, cluster: _Cluster) -> None:
        allowed = cluster.allowed
        assert allowed is not None
        groups: dict[tuple[Config, Config], list[Config]] = {}
        for a in allowed:
            for b in allowed:
                groups.setdefault((frozenset(a - b), frozenset(b - a)), []).append(b)
        # per transition pattern: the basis operators, the (bra, ket) pairs, the inverse overlap
        self.blocks: dict[tuple[Config, Config], tuple[list[FermionOperator], list, sympy.Matrix]] = {}
        for (cre, ann), kets in sorted(groups.items(), key=lambda kv: _pattern_key(kv[0])):
            spectators = sorted({frozenset(b - ann) for b in kets}, key=_set_key)
            if frozenset() not in spectators:
                spectators = [frozenset()] + spectators[1:]  # drop a minimal set, keep 1
            word = _word_operator(cre, ann)
            ops = [reduce(lambda acc, m: acc * number(m), _sorted_modes(S), word) for S in spectators]
            pairs = [(frozenset((b - ann) | cre), b) for b in kets]
            G = sympy.Matrix([[_vacuum_element(a, op, b) for op in ops] for a, b in pairs])
            if G.det() == 0:  # pragma: no cover - guaranteed by construction
                raise SchriefferWolffError("internal error: the local operator basis is singular")
            self.blocks[(cre, ann)] = (ops, pairs, G.inv())
        self._cache: dict[Word, FermionOperator] = {}

    def reduce(self, word: Word) -> FermionOperator:
        """Canonical representative of a local word on the allowed configurations."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        cre = frozenset(m for m, d in word if d)
        ann = frozenset(m for m, d in word if not d)
        block = self.blocks.get((cre - ann, ann - cre))
        out = FermionOperator()
        if block is not None:  # otherwise the word leaves the allowed configurations
            ops, pairs, inverse = block
            x = FermionOperator({word: 1})
            coords = inverse * sympy.Matrix([_vacuum_element(a, x, b) for a, b in pairs])
            for op, coef in zip(ops, coords):
                if coef != 0:
                    out = out + op * coef
        self._cache[word] = out
        return out


def _set_key(s: Config) -> tuple:
    return (len(s), [mode_key(m) for m in _sorted_modes(s)])


def _pattern_key(p: tuple[Config, Config]) -> tuple:
    return (_set_key(p[0]), _set_key(p[1]))


class LowEnergySubspace:
    """The subspace where every occupation constraint holds (a product of local projectors).

    Parameters
    ----------
    constraints
        Occupation constraints; constraints sharing modes are merged into one cluster.

    Raises
    ------
    SchriefferWolffError
        For a constraint with repeated modes, impossible occupations, or an empty subspace.
    """

    def __init__(self, constraints: Sequence[Constraint]) -> None:
        constraints = tuple(constraints)
        for con in constraints:
            if not isinstance(con, Constraint):
                raise SchriefferWolffError(f"expected edkit Constraint objects, got {con!r}")
            if len(set(con.modes)) != len(con.modes) or not con.modes:
                raise SchriefferWolffError(f"constraint {con.label or con} must list distinct modes")
            bad = [k for k in con.allowed if not 0 <= k <= len(con.modes)]
            if bad or not con.allowed:
                raise SchriefferWolffError(
                    f"constraint {con.label or con}: allowed occupations {con.allowed} must be "
                    f"non-empty and within 0..{len(con.modes)}")
        self.constraints = constraints
        self.clusters: list[_Cluster] = []
        for modes in _clusters(c.modes for c in constraints):
            if len(modes) > MAX_CLUSTER_MODES:
                raise SchriefferWolffError(
                    f"a constrained cluster has {len(modes)} modes (> {MAX_CLUSTER_MODES}); "
                    "constraints that share modes are merged, keep them local")
            inside = [c for c in constraints if set(c.modes) <= set(modes)]
            allowed = tuple(sorted((cfg for cfg in _all_configs(modes) if _allowed(cfg, inside)),
                                   key=_set_key))
            if not allowed:
                raise SchriefferWolffError(
                    f"the constraints on {[str(m) for m in modes]} allow no configuration")
            self.clusters.append(_Cluster(modes, allowed))
        self._cluster_of = {m: k for k, cl in enumerate(self.clusters) for m in cl.modes}
        self._bases: dict[int, _LocalBasis] = {}

    def __repr__(self) -> str:
        return "LowEnergySubspace(" + "; ".join(c.label or str(c) for c in self.constraints) + ")"

    @property
    def modes(self) -> set[Mode]:
        """Modes that carry a constraint."""
        return set(self._cluster_of)

    def allows(self, cluster: int, config: Config) -> bool:
        """Whether a configuration of constrained cluster ``cluster`` is allowed."""
        return config in self.clusters[cluster].allowed

    def projector(self) -> FermionOperator:
        """The projector :math:`P` as a fermion operator (product over clusters)."""
        out = identity()
        for cl in self.clusters:
            local = FermionOperator()
            for cfg in cl.allowed:
                local = local + _projector(cfg, cl.modes)
            out = out * local
        return out

    def _basis(self, k: int) -> _LocalBasis:
        if k not in self._bases:
            self._bases[k] = _LocalBasis(self.clusters[k])
        return self._bases[k]

    def restrict(self, op: FermionOperator) -> FermionOperator:
        """Canonical representative of :math:`P\\,op\\,P` (see the module docstring).

        ``restrict(x) == restrict(y)`` term by term exactly when ``P x P == P y P``; terms that
        leave the subspace vanish; the identity stays ``1``.
        """
        if not isinstance(op, FermionOperator):
            op = FermionOperator() + op
        pieces: list[FermionOperator] = []
        for word, coef in op:
            sign, parts, rest = self._split(word)
            if not parts:
                pieces.append(FermionOperator._raw({word: coef}))
                continue
            prod = FermionOperator._raw({(): sympy.sympify(coef) * sign})
            for k in sorted(parts):
                prod = prod * self._basis(k).reduce(parts[k])
                if prod.is_zero():
                    break
            if not prod.is_zero():
                pieces.append(prod * FermionOperator._raw({rest: sympy.Integer(1)}))
        total = FermionOperator()
        for p in pieces:
            total = total + p
        return _tidy_operator(total)

    def _split(self, word: Word) -> tuple[int, dict[int, Word], Word]:
        """Reorder a word into (cluster 0 factors)(cluster 1 factors)...(other factors).

        Relative order inside each group is kept; the sign counts the transpositions of
        factors of different groups (distinct modes anticommute).
        """
        rest_rank = len(self.clusters)
        ranks = [self._cluster_of.get(m, rest_rank) for m, _ in word]
        inversions = sum(1 for i in range(len(ranks)) for j in range(i + 1, len(ranks))
                         if ranks[i] > ranks[j])
        parts: dict[int, list] = {}
        rest = []
        for f, r in zip(word, ranks):
            (rest if r == rest_rank else parts.setdefault(r, [])).append(f)
        return (-1) ** inversions, {k: tuple(v) for k, v in parts.items()}, tuple(rest)

    def fit(self, op: FermionOperator, basis: Mapping[str, FermionOperator]) -> SubspaceFit:
        """Fit ``op`` onto named operators, with equality meant on the subspace.

        Both sides are brought to the canonical form of :meth:`restrict` before the
        word-by-word linear solve of :func:`mappings.fitting.fit_operator`.

        Raises
        ------
        SchriefferWolffError
            If the basis is empty or an element vanishes on the subspace.
        mappings.fitting.FitError
            If the equations on the basis' words are inconsistent.
        """
        if not basis:
            raise SchriefferWolffError("the fitting basis is empty")
        restricted = {}
        for name, b in basis.items():
            rb = self.restrict(b)
            if rb.is_zero():
                raise SchriefferWolffError(f"basis operator {name!r} vanishes on the subspace")
            restricted[name] = rb
        coeffs, rest = fit_operator(self.restrict(op), restricted)
        return SubspaceFit({k: tidy(v) for k, v in coeffs.items()}, _tidy_operator(rest))


@dataclass
class SubspaceFit:
    """Coefficients of a fit on the subspace and the residual (canonical form).

    Attributes
    ----------
    coefficients
        Sympy coefficient of each named basis operator.
    residual
        ``restrict(op - sum_k a_k basis_k)``; zero when the fit is exact.
    """

    coefficients: dict[str, sympy.Expr]
    residual: FermionOperator

    @property
    def exact(self) -> bool:
        """Whether the residual vanishes identically."""
        return self.residual.is_zero()


# --------------------------------------------------------------- the engine
@dataclass
class EffectiveHamiltonian:
    """Result of :func:`schrieffer_wolff`: the effective operator on the subspace, order by order.

    Attributes
    ----------
    orders
        ``{0: P H0 P, 1: P V P, 2: H^(2), ...}`` in the canonical form of
        :meth:`LowEnergySubspace.restrict`.
    subspace
        The low-energy subspace.
    model
        The effective model (set by :func:`schrieffer_wolff_model`, or by :meth:`to_model`).
    """

    orders: dict[int, FermionOperator]
    subspace: LowEnergySubspace
    model: Model | None = None
    info: dict = field(default_factory=dict)

    @property
    def operator(self) -> FermionOperator:
        """The effective Hamiltonian, all computed orders summed."""
        return _tidy_operator(operator_sum(self.orders.values()))

    def fit(self, basis: Mapping[str, FermionOperator]) -> SubspaceFit:
        """Fit the effective Hamiltonian onto a named basis (see :meth:`LowEnergySubspace.fit`)."""
        return self.subspace.fit(self.operator, basis)

    def to_model(self, lattice: Lattice, *, name: str = "sw", spinful: bool = True,
                 parameters: Mapping[str, Parameter] | None = None, doc: str = "") -> Model:
        """The effective Hamiltonian as a :class:`~edkit.core.model.Model` with the constraints.

        Parameters
        ----------
        lattice
            Lattice of the modes (gives the orbital order).
        parameters
            Parameters by name; symbols without an entry become required parameters.

        Raises
        ------
        edkit.core.model.ModelError
            If the effective operator is not Hermitian or acts on modes outside the lattice.
        """
        terms: list[Term] = []
        symbols: set[sympy.Symbol] = set()
        for k, op in sorted(self.orders.items()):
            label = {0: "order 0 (P H0 P)", 1: "order 1 (P V P)"}.get(k, f"order {k}")
            for word, coef in op:
                terms.append(Term(coef, word, label))
                symbols |= sympy.sympify(coef).free_symbols
        params = dict(parameters or {})
        for s in sorted(symbols, key=str):
            if s.name not in params:
                params[s.name] = Parameter(s.name, None, "coefficient of the effective model")
            elif params[s.name].symbol != s:
                raise SchriefferWolffError(f"symbol {s!r} differs from parameter {params[s.name]!r} "
                                           "(parameters are real symbols)")
        used = {s.name for s in symbols}
        params = {k: v for k, v in params.items() if k in used}
        model = Model(name, lattice, spinful, terms, params,
                      constraints=tuple(self.subspace.constraints), doc=doc).check()
        self.model = model
        return model


@dataclass(frozen=True)
class _WordAction:
    """How one word of V changes the fast clusters it touches."""

    word: Word
    coefficient: sympy.Expr
    changes: tuple[tuple[int, Config, Config], ...]  # (cluster, annihilated, created)

    def act(self, configs: dict[int, Config]) -> dict[int, Config] | None:
        out = dict(configs)
        for k, ann, cre in self.changes:
            c = out[k]
            if not ann <= c:
                return None
            c = c - ann
            if c & cre:
                return None
            out[k] = c | cre
        return out


def schrieffer_wolff(H0: FermionOperator, V: FermionOperator, constraints: Sequence[Constraint],
                     *, order: int = 2) -> EffectiveHamiltonian:
    """Effective Hamiltonian of ``H0 + V`` on the subspace of ``constraints``, to ``order`` in V.

    Parameters
    ----------
    H0
        Unperturbed part: every word a product of number operators (diagonal in occupations).
    V
        Perturbation (any operator); together with ``H0`` Hermitian.
    constraints
        Occupation constraints defining the low-energy subspace :math:`P`.
    order
        2 (default) or 3.

    Returns
    -------
    EffectiveHamiltonian
        ``orders[k]`` for ``k = 0 .. order``, each in the canonical form on the subspace.

    Raises
    ------
    SchriefferWolffError
        If ``H0`` is not diagonal, ``H0 + V`` is not Hermitian, the order is not supported, the
        constraints are invalid, or an intermediate state is degenerate with a low-energy state.
    """
    if order not in (2, 3):
        raise SchriefferWolffError(f"order must be 2 or 3, got {order!r}")
    if not isinstance(H0, FermionOperator) or not isinstance(V, FermionOperator):
        raise SchriefferWolffError("H0 and V must be FermionOperator objects")
    for word, _ in H0:
        cre = [m for m, d in word if d]
        ann = [m for m, d in word if not d]
        if set(cre) != set(ann) or len(cre) != len(ann):
            raise SchriefferWolffError(
                f"H0 must be diagonal in the occupation numbers; it contains {word_str(word)}")
    if not (H0 + V).is_hermitian():
        raise SchriefferWolffError("H0 + V is not Hermitian")
    subspace = LowEnergySubspace(constraints)
    if not subspace.constraints:
        raise SchriefferWolffError("no constraints: the low-energy subspace is the whole space")
    h0_words = [(w, c) for w, c in H0 if w]
    fast = _clusters([c.modes for c in subspace.constraints] + [[m for m, _ in w] for w, _ in h0_words])
    for modes in fast:
        if len(modes) > MAX_CLUSTER_MODES:
            raise SchriefferWolffError(
                f"a cluster of H0 has {len(modes)} modes (> {MAX_CLUSTER_MODES}): H0 couples too "
                "many modes for configuration enumeration")
    cluster_of = {m: k for k, modes in enumerate(fast) for m in modes}
    cons_in = {k: [c for c in subspace.constraints if cluster_of[c.modes[0]] == k]
               for k in range(len(fast))}
    constrained = {k for k, cs in cons_in.items() if cs}
    energy: dict[int, dict[Config, sympy.Expr]] = {}
    for k, modes in enumerate(fast):
        local = [(frozenset(m for m, _ in w), c) for w, c in h0_words if cluster_of[w[0][0]] == k]
        energy[k] = {cfg: sympy.Add(*[c for ms, c in local if ms <= cfg]) for cfg in _all_configs(modes)}
    allowed_cfgs = {k: [cfg for cfg in _all_configs(fast[k]) if _allowed(cfg, cons_in[k])]
                    for k in range(len(fast))}
    all_cfgs = {k: _all_configs(fast[k]) for k in range(len(fast))}

    actions = []
    for word, coef in V:
        changes: dict[int, tuple[set, set]] = {}
        for m, dag in word:
            if m in cluster_of:
                ann, cre = changes.setdefault(cluster_of[m], (set(), set()))
                (cre if dag else ann).add(m)
        actions.append(_WordAction(word, coef, tuple(
            (k, frozenset(a), frozenset(c)) for k, (a, c) in sorted(changes.items()))))

    def in_p(cfg: dict[int, Config]) -> bool:
        return all(_allowed(cfg[k], cons_in[k]) for k in cfg if k in constrained)

    energy_cache: dict[tuple, sympy.Expr] = {}

    def E(cfg: dict[int, Config]) -> sympy.Expr:
        key = tuple(sorted(cfg.items(), key=lambda kc: kc[0]))
        if key not in energy_cache:
            energy_cache[key] = sympy.expand(sympy.Add(*[energy[k][c] for k, c in key]))
        return energy_cache[key]

    zero_cache: dict[sympy.Expr, bool] = {}

    def nonzero(x: sympy.Expr, where: str) -> sympy.Expr:
        if x not in zero_cache:
            zero_cache[x] = sympy.cancel(sympy.expand(x)) == 0
        if zero_cache[x]:
            raise SchriefferWolffError(
                f"resonance: {where} has the same unperturbed energy as a low-energy state; the "
                "subspace is not separated from the rest by H0 (choose other constraints or H0)")
        return x

    def initial_configs(touched: list[int]) -> Iterable[dict[int, Config]]:
        choices = [allowed_cfgs[k] if k in constrained else all_cfgs[k] for k in touched]
        for combo in itertools.product(*choices):
            yield dict(zip(touched, combo))

    def projector(cfg: dict[int, Config]) -> FermionOperator:
        out = identity()
        for k, c in cfg.items():
            out = out * _projector(c, fast[k])
        return out

    def word(a: _WordAction) -> FermionOperator:
        return FermionOperator._raw({a.word: sympy.Integer(1)})

    moving = [a for a in actions if any(k in constrained for k, _, _ in a.changes)]
    pieces2: list[FermionOperator] = []
    for w1, w2 in itertools.product(moving, repeat=2):  # w2 acts first
        touched = sorted({k for k, _, _ in w1.changes} | {k for k, _, _ in w2.changes})
        for a in initial_configs(touched):
            m = w2.act(a)
            if m is None or in_p(m):
                continue
            b = w1.act(m)
            if b is None or not in_p(b):
                continue
            Ea, Em, Eb = E(a), E(m), E(b)
            f = (1 / nonzero(Ea - Em, f"intermediate {w2.word} from {a}")
                 + 1 / nonzero(Eb - Em, f"intermediate {w2.word} towards {b}")) / 2
            pieces2.append(word(w1) * word(w2) * projector(a) * (w1.coefficient * w2.coefficient * f))
    orders = {0: subspace.restrict(H0), 1: subspace.restrict(V),
              2: subspace.restrict(operator_sum(pieces2))}

    if order >= 3:
        pieces3: list[FermionOperator] = []
        for w1, w2, w3 in itertools.product(actions, repeat=3):  # w3 acts first
            if sum(w in moving for w in (w1, w2, w3)) < 2:  # must leave P and come back
                continue
            touched = sorted({k for w in (w1, w2, w3) for k, _, _ in w.changes})
            for a in initial_configs(touched):
                s1 = w3.act(a)
                if s1 is None:
                    continue
                s2 = w2.act(s1)
                if s2 is None:
                    continue
                b = w1.act(s2)
                if b is None or not in_p(b):
                    continue
                p1, p2 = in_p(s1), in_p(s2)
                Ea, E1, E2, Eb = E(a), E(s1), E(s2), E(b)
                if not p1 and not p2:
                    f = (1 / (nonzero(Ea - E1, "intermediate") * nonzero(Ea - E2, "intermediate"))
                         + 1 / (nonzero(Eb - E1, "intermediate") * nonzero(Eb - E2, "intermediate"))) / 2
                elif p1 and not p2:  # a -> c in P -> l -> b
                    f = -1 / (2 * nonzero(Ea - E2, "intermediate") * nonzero(E1 - E2, "intermediate"))
                elif p2 and not p1:  # a -> l -> c in P -> b
                    f = -1 / (2 * nonzero(Eb - E1, "intermediate") * nonzero(E2 - E1, "intermediate"))
                else:
                    continue
                pieces3.append(word(w1) * word(w2) * word(w3) * projector(a)
                               * (w1.coefficient * w2.coefficient * w3.coefficient * f))
        orders[3] = subspace.restrict(operator_sum(pieces3))
    return EffectiveHamiltonian(orders, subspace, info={"fast_clusters": [tuple(map(str, c)) for c in fast]})


# ---------------------------------------------------------- model interface
def split_model(model: Model, h0_labels: Iterable[str],
                substitutions: Mapping[str, object] | None = None
                ) -> tuple[FermionOperator, FermionOperator]:
    """Split a model's terms into ``H0`` (terms whose label is in ``h0_labels``) and ``V``.

    ``substitutions`` maps parameter names to sympy expressions (e.g. ``{"mu_p": -U/2}``).

    Raises
    ------
    SchriefferWolffError
        For labels or parameter names the model does not have.
    """
    labels = set(h0_labels)
    known = {t.label for t in model.terms}
    unknown = sorted(labels - known)
    if unknown:
        raise SchriefferWolffError(f"unknown term label(s) {unknown}; {model.name} has {sorted(known)}")
    subs = _substitution_map(model, substitutions)
    H0 = FermionOperator([(t.word, t.coefficient) for t in model.terms if t.label in labels])
    V = FermionOperator([(t.word, t.coefficient) for t in model.terms if t.label not in labels])
    return _tidy_operator(H0.subs(subs)), _tidy_operator(V.subs(subs))


def _substitution_map(model: Model, substitutions: Mapping[str, object] | None) -> dict:
    subs = dict(substitutions or {})
    unknown = sorted(set(subs) - set(model.parameters))
    if unknown:
        raise SchriefferWolffError(
            f"unknown parameter(s) {unknown}; {model.name} has {list(model.parameters)}")
    out = {}
    for k, v in subs.items():
        if isinstance(v, str):
            raise SchriefferWolffError(f"substitution {k}={v!r}: give a number or a sympy expression, "
                                       "strings are not parsed")
        out[model.parameters[k].symbol] = sympy.sympify(v)
    return out


def schrieffer_wolff_model(model: Model, h0_labels: Iterable[str], constraints: Sequence[Constraint],
                           *, substitutions: Mapping[str, object] | None = None, order: int = 2,
                           name: str | None = None) -> EffectiveHamiltonian:
    """Schrieffer-Wolff reduction of a model; the result carries the effective :class:`Model`.

    Parameters
    ----------
    model
        The microscopic model.
    h0_labels
        Labels of the terms that form ``H0`` (diagonal in occupations); the others are ``V``.
    constraints
        The low-energy subspace (they become the effective model's constraints).
    substitutions
        Parameter values or expressions applied before the reduction (``{"mu_p": -U/2}``).
    order
        Order in ``V`` (2 or 3); the model holds all orders up to it.
    name
        Name of the effective model (default ``"<model>-sw<order>"``).

    Returns
    -------
    EffectiveHamiltonian
        With ``.model`` set: terms labelled by order, the parameters of ``model`` that remain
        (defaults kept), the constraints.
    """
    H0, V = split_model(model, h0_labels, substitutions)
    eff = schrieffer_wolff(H0, V, constraints, order=order)
    subs = _substitution_map(model, substitutions)
    params = {}
    for k, p in model.parameters.items():
        if p.symbol in subs:
            continue
        default = p.default
        if isinstance(default, sympy.Basic):
            default = default.subs(subs)
        params[k] = Parameter(p.name, default, p.doc)
    shown = ", ".join(f"{k} = {v}" for k, v in (substitutions or {}).items()) or "none"
    doc = (f"Schrieffer-Wolff effective model of {model.name!r} to order {order} in V.\n\n"
           f"H0 = terms {sorted(set(h0_labels))}; V = the other terms; substitutions: {shown}.\n"
           f"Low-energy subspace: {'; '.join(c.label or str(c) for c in eff.subspace.constraints)}.\n"
           "Terms are labelled by order; see mappings.schrieffer_wolff for the formulas.")
    eff.to_model(model.lattice, name=name or f"{model.name}-sw{order}", spinful=model.spinful,
                 parameters=params, doc=doc)
    eff.info.update({"source": model.name, "h0_labels": sorted(set(h0_labels)),
                     "substitutions": {k: str(v) for k, v in (substitutions or {}).items()}})
    return eff


def p_site_constraints(L: int, layer: str = "p", allowed: tuple[int, ...] = (0, 2)) -> tuple[Constraint, ...]:
    """One constraint per site of ``layer``: its total occupation is in ``allowed``."""
    from edkit.core.modes import DN, UP

    return tuple(Constraint((Mode(layer, i, UP), Mode(layer, i, DN)), tuple(allowed),
                            f"{layer}{i} occupation in {set(allowed)}") for i in range(L))


__all__ = [
    "EffectiveHamiltonian", "LowEnergySubspace", "SchriefferWolffError", "SubspaceFit",
    "p_site_constraints", "schrieffer_wolff", "schrieffer_wolff_model", "split_model", "tidy",
]

