"""Sizes of a sector before anything is built: states, stored non-zeros, symmetry reduction.

Counting (exact up to accidental cancellations, when constraint groups are disjoint): the
dimension is the number of sector states that satisfy the constraints (generating functions);
every distinct off-diagonal action of the Hamiltonian's words (the modes it empties and fills)
contributes the number of states on which it can act, and the diagonal one entry per state. With
lattice symmetries (checked :class:`edkit.engine.symmetry.Symmetry` objects) dimension and non-zeros
are divided by the order of the largest block's group (blocks of one group are about equal in
size; momentum blocks at K != 0, pi carry no parity, so with ``k`` and ``P`` the largest blocks
are twice the K = 0 ones). Nothing here imports QuSpin.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np
import sympy

from edkit.core.model import Model, Sector
from edkit.core.modes import UP


@dataclass(frozen=True)
class SectorSize:
    """Counted sizes of one sector (or its largest symmetry block).

    Attributes
    ----------
    dimension
        States diagonalized (after constraints; per largest block with symmetries).
    sector_dimension
        States of the whole sector (after constraints).
    built_dimension
        Basis QuSpin builds for the whole sector before constraints.
    nonzeros
        Stored matrix elements (per largest block).
    symmetry_reduction
        Group order dividing the sector (1 without symmetries).
    complex_values
        Whether matrix elements are complex (complex couplings or a momentum block).
    symmetries
        Labels of the symmetries (``"k"``, ``"P"``, ...).
    n_blocks, n_blocks_solved
        Blocks of the symmetries, and how many are solved (``k`` and ``-k`` paired).
    n_orbitals
        Orbitals of the model.
    """

    dimension: int
    sector_dimension: int
    built_dimension: int
    nonzeros: int
    symmetry_reduction: int = 1
    complex_values: bool = False
    symmetries: tuple[str, ...] = ()
    n_blocks: int = 1
    n_blocks_solved: int = 1
    n_orbitals: int = 0

    @property
    def built_per_block(self) -> int:
        """Basis states QuSpin builds for the largest block (before constraints)."""
        return -(-self.built_dimension // self.symmetry_reduction)

    @property
    def value_bytes(self) -> int:
        """Bytes of one matrix element or vector entry (16 complex, 8 real)."""
        return 16 if self.complex_values else 8


def _local_poly(n_up: int, n_dn: int, allowed: Sequence[int] | None, fixed_up: Sequence[int] = (),
                fixed_dn: Sequence[int] = ()) -> np.ndarray:
    """Count of local configurations by (up, dn) occupation, fixed modes' occupations imposed.

    ``n_up``/``n_dn`` free modes of each spin plus fixed ones (0/1 each); ``allowed`` restricts the
    total occupation of the group (``None``: no restriction).
    """
    fu, fd = int(sum(fixed_up)), int(sum(fixed_dn))
    tu, td = n_up + len(fixed_up), n_dn + len(fixed_dn)
    out = np.zeros((tu + 1, td + 1), dtype=object)
    for a in range(n_up + 1):
        for b in range(n_dn + 1):
            if allowed is None or (a + fu + b + fd) in allowed:
                out[a + fu, b + fd] = comb(n_up, a) * comb(n_dn, b)
    return out


def _poly_mul(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.zeros((x.shape[0] + y.shape[0] - 1, x.shape[1] + y.shape[1] - 1), dtype=object)
    for (i, j), c in np.ndenumerate(y):
        if c:
            out[i:i + x.shape[0], j:j + x.shape[1]] += c * x
    return out


def count_states(model: Model, sector: Sector, fixed: dict | None = None,
                 constrained: bool = True) -> int | None:
    """Exact number of sector states satisfying the constraints and the ``fixed`` occupations.

    ``fixed`` maps modes to 0/1. Returns ``None`` when constraint groups overlap (then the caller
    falls back to an estimate).
    """
    fixed = fixed or {}
    cons = (tuple(model.constraints) + tuple(sector.constraints)) if constrained else ()
    seen: set = set()
    for c in cons:
        if seen & set(c.modes):
            return None
        seen |= set(c.modes)
    spin_up = (lambda m: m.spin == UP) if model.spinful else (lambda m: True)
    if not cons:  # product of binomials: free modes of each spin hold the remaining particles
        n_up = sum(1 for m in model.modes if spin_up(m))
        n_dn = len(model.modes) - n_up
        fu = [v for m, v in fixed.items() if spin_up(m)]
        fd = [v for m, v in fixed.items() if not spin_up(m)]
        a, b = sector.n_up - sum(fu), sector.n_dn - sum(fd)
        if min(a, b) < 0 or a > n_up - len(fu) or b > n_dn - len(fd):
            return 0
        return comb(n_up - len(fu), a) * comb(n_dn - len(fd), b)
    poly = np.ones((1, 1), dtype=object)
    for c in cons:
        ups = [m for m in c.modes if spin_up(m)]
        dns = [m for m in c.modes if not spin_up(m)]
        fu = [fixed[m] for m in ups if m in fixed]
        fd = [fixed[m] for m in dns if m in fixed]
        poly = _poly_mul(poly, _local_poly(len(ups) - len(fu), len(dns) - len(fd), c.allowed, fu, fd))
    rest = [m for m in model.modes if m not in seen]
    ups = [m for m in rest if spin_up(m)]
    dns = [m for m in rest if not spin_up(m)]
    fu = [fixed[m] for m in ups if m in fixed]
    fd = [fixed[m] for m in dns if m in fixed]
    poly = _poly_mul(poly, _local_poly(len(ups) - len(fu), len(dns) - len(fd), None, fu, fd))
    a, b = sector.n_up, sector.n_dn
    if a >= poly.shape[0] or b >= poly.shape[1] or a < 0 or b < 0:
        return 0
    return int(poly[a, b])


def _flip_patterns(terms) -> tuple[set, bool]:
    """Distinct off-diagonal actions ``(before, after)`` of the Hamiltonian's words."""
    patterns = set()
    diagonal = False
    for t in terms:
        word = t.word if hasattr(t, "word") else t[1]
        created = {m for m, d in word if d}
        annihilated = {m for m, d in word if not d}
        if created == annihilated:
            diagonal = diagonal or bool(word)
            continue
        # the word needs annihilated-only modes occupied and created-only modes empty
        before = tuple(sorted(((m, 1) for m in annihilated - created), key=str)) + tuple(
            sorted(((m, 0) for m in created - annihilated), key=str))
        patterns.add(before)
    return patterns, diagonal


def _is_complex(c) -> bool:
    try:
        return bool(sympy.im(c) != 0)
    except TypeError:
        return True


def has_complex_terms(model: Model) -> bool:
    """Whether some coefficient of the model can be complex (symbolically, e.g. ``exp(i phi)``)."""
    return any(_is_complex(c) for c in model.canonical_terms().values())


def _rough_constrained(model: Model, built: int) -> int:
    dim = built
    for con in model.constraints:  # rough: fraction of the 4 local states allowed
        weights = {0: 1, 1: 2, 2: 1}
        dim = int(dim * sum(weights.get(k, 0) for k in con.allowed) / 4) or 1
    return dim


def _count_blocks(symmetries: Sequence) -> tuple[int, int]:
    """Blocks of the symmetries, and how many are solved when k and -k are paired (real H)."""
    if not symmetries:
        return 1, 1
    from edkit.engine.symmetry import enumerate_blocks

    blocks = enumerate_blocks(list(symmetries))
    solved = 0
    for b in blocks:
        lab = b.label_dict
        if "k" in lab:
            L = next(s.order for s in symmetries if s.label == "k")
            if lab["k"] > L // 2:
                continue
        solved += 1
    return len(blocks), solved


#: Recent counts by ``(id(model), sector, symmetries)``, each with a weak reference to its model
#: (the planner asks several backends about one request; counting a 40-rung sector takes ~50 ms).
_RECENT: dict[tuple, tuple[weakref.ref, SectorSize]] = {}
_RECENT_MAX = 64


def sector_size(model: Model, sector: Sector, symmetries: Sequence = ()) -> SectorSize:
    """Count states and non-zeros of a sector (or its largest block) without building anything."""
    key = (id(model), sector, tuple(symmetries))
    hit = _RECENT.get(key)
    if hit is not None and hit[0]() is model:
        return hit[1]
    size = _count(model, sector, symmetries)
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.pop(next(iter(_RECENT)))
    _RECENT[key] = (weakref.ref(model), size)
    return size


def _count(model: Model, sector: Sector, symmetries: Sequence) -> SectorSize:
    n = model.n_orbitals
    if model.spinful:
        built = comb(n, sector.n_up) * comb(n, sector.n_dn)
    else:
        built = comb(n, sector.n_up)
    exact = count_states(model, sector)
    dim = exact if exact is not None else _rough_constrained(model, built)
    canon = [(c, w) for w, c in model.canonical_terms().items()]
    patterns, diagonal = _flip_patterns(canon)
    offdiag = 0
    if not (model.constraints or sector.constraints):  # binomials directly (fast for long chains)
        n_up = sum(1 for m in model.modes if m.spin == UP) if model.spinful else len(model.modes)
        n_dn = len(model.modes) - n_up
        shapes: dict[tuple[int, int, int, int], int] = {}  # (fixed up, occupied, fixed dn, occupied)
        for before in patterns:
            fu = [v for m, v in before if not model.spinful or m.spin == UP]
            fd = [v for m, v in before if model.spinful and m.spin != UP]
            key = (len(fu), sum(fu), len(fd), sum(fd))
            shapes[key] = shapes.get(key, 0) + 1
        for (lu, su, ld, sd), count in shapes.items():
            a, b = sector.n_up - su, sector.n_dn - sd
            if min(a, b) >= 0 and a <= n_up - lu and b <= n_dn - ld:
                offdiag += count * comb(n_up - lu, a) * comb(n_dn - ld, b)
    for before in patterns if (model.constraints or sector.constraints) else ():
        c = count_states(model, sector, dict(before))
        if c is None:
            c = count_states(model, sector, dict(before), constrained=False) * dim // max(built, 1)
        offdiag += c
    nnz = offdiag + (dim if diagonal else 0)
    order = 1
    labels: list[str] = []
    for s in symmetries:
        order *= int(s.order)
        labels.append(s.label)
    if "k" in labels and "P" in labels and next(s.order for s in symmetries if s.label == "k") > 2:
        order //= 2  # the largest blocks (K != 0, pi) carry no parity label
    is_complex = any(getattr(s, "label", "") == "k" for s in symmetries) or any(
        _is_complex(c) for c, _ in canon)
    n_blocks, n_solved = _count_blocks(symmetries)
    return SectorSize(-(-dim // order), dim, built, -(-nnz // order), order, is_complex,
                      tuple(labels), n_blocks, n_solved, n)


def as_float(count: int | float) -> float:
    """``float(count)``, or infinity for counts beyond a double (a 1000-site sector has ~1e600 states)."""
    try:
        return float(count)
    except OverflowError:
        return float("inf")


__all__ = ["SectorSize", "as_float", "count_states", "has_complex_terms", "sector_size"]
