"""Bridge from an edkit :class:`~edkit.core.model.Model` to the brute-force oracle in ``fock.py``.

Only data are read from the model (its terms with sympy coefficients, its modes in order, its
occupation constraints, its lattice's orbitals and bonds); normal ordering, Jordan-Wigner signs,
sectors and the lattice symmetry maps are computed here, independently of edkit's numeric layer.

Mode ``k`` of the oracle is ``model.modes[k]``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy

from edkit.core.model import Model, Sector
from edkit.core.modes import DN
from tests.helpers.fock import Term, allowed_indices, fock_matrix, map_terms, restrict


def mode_index(model: Model) -> dict:
    """Oracle mode index of each of the model's modes."""
    return {m: k for k, m in enumerate(model.modes)}


def raw_terms(model: Model, values: Mapping[str, float]) -> list[Term]:
    """The model's terms as written (not normal-ordered, not summed), with numeric coefficients.

    ``values`` must give every parameter (e.g. ``model.resolve(...)``).
    """
    subs = {model.parameters[k].symbol: v for k, v in values.items()}
    index = mode_index(model)
    out = []
    for term in model.terms:
        coeff = complex(sympy.sympify(term.coefficient).xreplace(subs))
        out.append((coeff, [(index[m], bool(d)) for m, d in term.word]))
    return out


def full_matrix(model: Model, values: Mapping[str, float]):
    """Fock-space matrix (``2**n_modes``, CSR) of the Hamiltonian at ``values``."""
    return fock_matrix(len(model.modes), raw_terms(model, values))


def constraint_list(model: Model, sector: Sector | None = None) -> list[tuple[list[int], tuple[int, ...]]]:
    """``(mode indices, allowed occupations)`` of the model's (and the sector's) constraints."""
    index = mode_index(model)
    cons = tuple(model.constraints) + (tuple(sector.constraints) if sector is not None else ())
    return [([index[m] for m in c.modes], tuple(c.allowed)) for c in cons]


def sector_states(model: Model, sector: Sector) -> np.ndarray:
    """Oracle basis indices of a sector: ``n_up`` fermions in the spin-up (or spinless) modes,
    ``n_dn`` in the spin-down modes, and every constraint satisfied."""
    up = [k for k, m in enumerate(model.modes) if m.spin != DN]
    dn = [k for k, m in enumerate(model.modes) if m.spin == DN]
    cons = [(up, (sector.n_up,)), (dn, (sector.n_dn,)), *constraint_list(model, sector)]
    return allowed_indices(len(model.modes), cons)


def sector_spectrum(model: Model, values: Mapping[str, float], sector: Sector, matrix=None) -> np.ndarray:
    """All levels of the sector (dense), from the oracle's matrix (``matrix`` to reuse one)."""
    H = full_matrix(model, values) if matrix is None else matrix
    block = restrict(H, sector_states(model, sector)).toarray()
    if not np.allclose(block, block.conj().T, atol=1e-10):
        raise AssertionError("the sector block of the Fock matrix is not Hermitian")
    return np.linalg.eigvalsh(block)


# ------------------------------------------------------------------ lattice symmetry maps
def _two_colouring(model: Model) -> dict | None:
    """A sign per orbital, opposite across every lattice bond; ``None`` if not bipartite."""
    neighbours: dict = {o: [] for o in model.orbitals}
    for a, b in model.lattice.bonds():
        neighbours[a].append(b)
        neighbours[b].append(a)
    sign: dict = {}
    for start in model.orbitals:
        if start in sign:
            continue
        sign[start] = 1
        queue = [start]
        while queue:
            o = queue.pop()
            for n in neighbours[o]:
                if n not in sign:
                    sign[n] = -sign[o]
                    queue.append(n)
                elif sign[n] == sign[o]:
                    return None
    return sign


def symmetry_map(model: Model, label: str) -> tuple[list[int], list[int] | None] | None:
    """The documented map of a symmetry label as ``(target mode of each mode, particle-hole signs)``.

    ``k``: ``(layer, i) -> (layer, i+1 mod L)``; ``P``: ``(layer, i) -> (layer, L-1-i)``; ``Z``: spin
    up <-> down; ``C``: ``c_o -> eps_o c_o^dagger`` with ``eps`` the two-colouring of the lattice's
    bond graph. ``None`` where the map does not exist for this model (spinless ``Z``, odd ``C``).
    """
    modes = model.modes
    index = mode_index(model)
    L = model.lattice.L
    if label in ("k", "P"):
        def image(m):
            site = (m.site + 1) % L if label == "k" else L - 1 - m.site
            return index[type(m)(m.layer, site, m.spin)]
        return [image(m) for m in modes], None
    if label == "Z":
        if not model.spinful:
            return None
        flip = {"up": "dn", "dn": "up"}
        return [index[type(m)(m.layer, m.site, flip[m.spin])] for m in modes], None
    if label == "C":
        colour = _two_colouring(model)
        if colour is None:
            return None
        return list(range(len(modes))), [colour[m.orbital] for m in modes]
    raise ValueError(f"unknown symmetry label {label!r}")


def _mapped_constraints(cons, target, ph_signs) -> set:
    out = set()
    for modes, allowed in cons:
        if ph_signs is not None:
            out.add((frozenset(modes), frozenset(len(modes) - a for a in allowed)))
        else:
            out.add((frozenset(target[k] for k in modes), frozenset(allowed)))
    return out


def symmetry_holds(model: Model, values: Mapping[str, float], label: str, matrix=None) -> bool | None:
    """Whether the map of ``label`` commutes with ``H`` on the constrained Fock space.

    Checks that the constraints are mapped onto constraints, then compares the Fock matrices of
    ``H`` and of its image ``U H U^dagger`` (the mapped terms) on the constrained states.
    ``None`` where the map does not exist.
    """
    mp = symmetry_map(model, label)
    if mp is None:
        return None
    target, ph_signs = mp
    cons = constraint_list(model)
    mine = {(frozenset(m), frozenset(a)) for m, a in cons}
    if _mapped_constraints(cons, target, ph_signs) != mine:
        return False
    n = len(model.modes)
    terms = raw_terms(model, values)
    H = fock_matrix(n, terms) if matrix is None else matrix
    image = fock_matrix(n, map_terms(terms, target, ph_signs))
    keep = allowed_indices(n, cons)
    diff = restrict(H - image, keep)
    return bool(diff.nnz == 0 or np.max(np.abs(diff.data)) < 1e-10)


def sector_is_invariant(model: Model, sector: Sector, label: str) -> bool:
    """Whether the symmetry maps the sector onto itself (``Z``: ``n_up = n_dn``; ``C``: half filling
    of each spin; ``k``, ``P``: always, for constraints that are mapped onto constraints)."""
    n = model.n_orbitals
    if label == "Z":
        return sector.n_up == sector.n_dn
    if label == "C":
        return 2 * sector.n_up == n and 2 * sector.n_dn == n
    return True


__all__ = ["constraint_list", "full_matrix", "mode_index", "raw_terms", "sector_is_invariant",
           "sector_spectrum", "sector_states", "symmetry_holds", "symmetry_map"]
