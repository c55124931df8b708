"""Lattice symmetries of a model, checked on its terms before any block is built.

A symmetry here is a unitary :math:`U` that maps fermion modes onto modes:

.. math::
    U c^\\dagger_{o\\sigma} U^{-1} = c^\\dagger_{\\pi(o), f(\\sigma)}
    \\quad\\text{or (particle-hole)}\\quad
    U c^\\dagger_{o\\sigma} U^{-1} = \\epsilon_o\\, c_{o\\sigma},

with :math:`\\pi` a permutation of the orbitals ``(layer, site)``, :math:`f` the identity or the
spin flip, :math:`\\epsilon_o = \\pm 1` the two-colouring of the bond graph, and
:math:`U|0\\rangle = |0\\rangle` for the permutations. The symmetries offered:

========== ================ ======================================== ==============================
label      name             map                                      quantum number
========== ================ ======================================== ==============================
``k``      translation      ``(layer, i) -> (layer, i+1 mod L)``     ``m = 0..L-1``, K = 2 pi m / L
``P``      reflection       ``(layer, i) -> (layer, L-1-i)``         ``+1`` or ``-1``
``Z``      spin_inversion   ``up <-> dn`` on every orbital           ``+1`` or ``-1``
``C``      particle_hole    ``c_o -> eps_o c_o^dagger`` (both spins) ``+1`` or ``-1``
========== ================ ======================================== ==============================

Conventions
-----------
- Momentum: a state in block ``k = m`` has crystal momentum :math:`K = 2\\pi m/L`, with plane waves
  :math:`c^\\dagger_K = L^{-1/2}\\sum_j e^{iKj} c^\\dagger_j`; equivalently
  :math:`T|\\psi\\rangle = e^{-iK}|\\psi\\rangle` for :math:`T c^\\dagger_j T^{-1} = c^\\dagger_{j+1}`.
  A free-fermion ring with hopping :math:`-t e^{i\\phi} c^\\dagger_{j+1} c_j + \\mathrm{h.c.}` has
  single-particle energies :math:`-2t\\cos(K - \\phi)` (tested).
- Reflection is leg-preserving (each layer is reflected in place); on a ring it is the bond-centred
  reflection ``i -> L-1-i``. It commutes with translation only in the blocks ``K = 0`` and ``K = pi``;
  elsewhere the parity label is not a good quantum number and is not offered.
- ``Z``, ``P``, ``C`` eigenvalues are those of the operators defined above (Fock vacuum even under
  ``P`` and ``Z``), checked against a brute-force Fock-space construction in the tests.

Validity
--------
A symmetry is never assumed. :func:`check_symmetry` maps every canonical word of the model's
Hamiltonian at the given parameter values, normal-orders the image, and compares the coefficient
dictionaries; it also checks that the model's occupation constraints are mapped onto constraints and
that the sector is mapped onto itself. A failure raises :class:`SymmetryError` with the reason and
the mismatching terms (e.g. spin inversion with a field ``h_p != 0``, translation on an open chain).
Nothing here imports QuSpin.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from edkit.core.errors import EdkitError
from edkit.core.lattice import LatticeError, bipartite_signs
from edkit.core.model import Constraint, Model, Sector
from edkit.core.modes import Mode, flip_spin
from edkit.core.words import Word, normal_order

#: Quantum-number labels and the symmetry each stands for.
LABELS: dict[str, str] = {
    "k": "translation",
    "P": "reflection",
    "Z": "spin_inversion",
    "C": "particle_hole",
}
#: Accepted spellings of each label (lower case) for user input.
ALIASES: dict[str, str] = {
    "k": "k", "momentum": "k", "translation": "k", "t": "k",
    "p": "P", "parity": "P", "reflection": "P",
    "z": "Z", "spin_inversion": "Z", "spin-inversion": "Z", "spinflip": "Z",
    "c": "C", "particle_hole": "C", "particle-hole": "C", "ph": "C",
}
TOL = 1e-10


class SymmetryError(EdkitError, ValueError):
    """A requested symmetry that does not hold, or a block label that does not exist."""


@dataclass(frozen=True)
class Symmetry:
    """One symmetry generator of a model.

    Attributes
    ----------
    label
        ``"k"``, ``"P"``, ``"Z"`` or ``"C"`` (see :data:`LABELS`).
    perm
        Image backend orbital index of each orbital (identity for ``Z`` and ``C``).
    spin_flip
        Whether spins are exchanged.
    ph_signs
        For particle-hole: the sign :math:`\\epsilon_o` of each orbital; ``None`` otherwise.
    order
        Smallest ``n > 0`` with :math:`U^n = 1` on the modes (``L`` for translation, else 2).
    """

    label: str
    perm: tuple[int, ...]
    spin_flip: bool = False
    ph_signs: tuple[int, ...] | None = None
    order: int = 2

    @property
    def name(self) -> str:
        """The long name (``translation``, ``reflection``, ...)."""
        return LABELS[self.label]

    def values(self) -> tuple[int, ...]:
        """All quantum numbers: ``0..L-1`` for ``k``, ``(1, -1)`` for the Z2 symmetries."""
        return tuple(range(self.order)) if self.label == "k" else (1, -1)

    def map_factor(self, model: Model, mode: Mode, dagger: bool) -> tuple[int, Mode, bool]:
        """Image ``(sign, mode, dagger)`` of one factor ``c^(dagger)_mode`` under the symmetry."""
        index = model.orbital_index()
        k = index[mode.orbital]
        if self.ph_signs is not None:
            return self.ph_signs[k], mode, not dagger
        layer, site = model.orbitals[self.perm[k]]
        spin = flip_spin(mode.spin) if self.spin_flip else mode.spin
        return 1, Mode(layer, site, spin), dagger

    def map_word(self, model: Model, word: Word) -> tuple[int, Word]:
        """Image of a word (sign and mapped word, not normal-ordered)."""
        sign, out = 1, []
        for mode, dagger in word:
            s, m, d = self.map_factor(model, mode, dagger)
            sign *= s
            out.append((m, d))
        return sign, tuple(out)


# ------------------------------------------------------------------ construction from the lattice
def translation(model: Model) -> Symmetry:
    """Translation by one site along the chain (all layers together): ``i -> i+1 mod L``."""
    L = model.lattice.L
    index = model.orbital_index()
    perm = tuple(index[(layer, (i + 1) % L)] for layer, i in model.orbitals)
    return Symmetry("k", perm, order=L)


def reflection(model: Model) -> Symmetry:
    """Leg-preserving reflection ``i -> L-1-i`` in every layer."""
    L = model.lattice.L
    index = model.orbital_index()
    perm = tuple(index[(layer, L - 1 - i)] for layer, i in model.orbitals)
    return Symmetry("P", perm, order=2)


def spin_inversion(model: Model) -> Symmetry:
    """Exchange of spin up and spin down on every orbital."""
    if not model.spinful:
        raise SymmetryError(f"model {model.name!r} is spinless: it has no spin inversion")
    return Symmetry("Z", tuple(range(model.n_orbitals)), spin_flip=True, order=2)


def particle_hole(model: Model) -> Symmetry:
    """Particle-hole map ``c_o -> eps_o c_o^dagger`` on both spins, ``eps`` the bond two-colouring.

    Raises
    ------
    SymmetryError
        If the lattice is not bipartite (an odd ring), with the frustrated bond.
    """
    try:
        signs = bipartite_signs(model.orbitals, model.lattice.bonds())
    except LatticeError as err:
        raise SymmetryError(f"particle-hole symmetry needs a bipartite lattice: {err}") from None
    return Symmetry("C", tuple(range(model.n_orbitals)),
                    ph_signs=tuple(signs[o] for o in model.orbitals), order=2)


BUILDERS = {"k": translation, "P": reflection, "Z": spin_inversion, "C": particle_hole}


def make_symmetry(model: Model, label: str) -> Symmetry:
    """The symmetry of ``model`` named by ``label`` (any alias in :data:`ALIASES`)."""
    return BUILDERS[normalize_label(label)](model)


def normalize_label(label: str) -> str:
    """Canonical label (``k``, ``P``, ``Z``, ``C``) of a user spelling.

    Raises
    ------
    SymmetryError
        For unknown names (the message lists the known ones).
    """
    key = ALIASES.get(str(label).strip().lower())
    if key is None:
        raise SymmetryError(f"unknown symmetry {label!r}; known: k (translation), P (reflection), "
                            "Z (spin inversion), C (particle-hole)")
    return key


# ------------------------------------------------------------------------------ validity checks
def _numeric_dict(model: Model, values: Mapping[str, object] | None) -> dict[Word, complex]:
    return {w: complex(c) for c, w in model.numeric_terms(values)}


def _word_text(word: Word) -> str:
    return " ".join(f"c{'†' if d else ''}_{m}" for m, d in word) or "1"


def image_terms(model: Model, values: Mapping[str, object] | None, sym: Symmetry
                ) -> dict[Word, complex]:
    """Canonical numeric terms of :math:`U H U^{-1}` (constants included)."""
    out: dict[Word, complex] = {}
    for coef, word in model.numeric_terms(values):
        sign, mapped = sym.map_word(model, word)
        for k, w in normal_order(mapped):
            out[w] = out.get(w, 0) + sign * k * complex(coef)
    return {w: c for w, c in out.items() if abs(c) > 0}


def _map_constraint(model: Model, sym: Symmetry, con: Constraint) -> tuple[frozenset, tuple[int, ...]]:
    modes = frozenset(sym.map_factor(model, m, True)[1] for m in con.modes)
    allowed = con.allowed
    if sym.ph_signs is not None:
        allowed = tuple(sorted(len(con.modes) - a for a in con.allowed))
    return modes, tuple(sorted(allowed))


def mismatches(model: Model, values: Mapping[str, object] | None, sym: Symmetry,
               tol: float = TOL) -> list[tuple[Word, complex, complex]]:
    """Words whose coefficients differ between ``H`` and :math:`U H U^{-1}`: ``(word, in H, in image)``."""
    h = _numeric_dict(model, values)
    img = image_terms(model, values, sym)
    scale = max([1.0] + [abs(c) for c in h.values()])
    out = []
    for w in set(h) | set(img):
        a, b = h.get(w, 0), img.get(w, 0)
        if abs(a - b) > tol * scale:
            out.append((w, a, b))
    out.sort(key=lambda x: (-abs(x[1] - x[2]), _word_text(x[0])))
    return out


def check_symmetry(model: Model, values: Mapping[str, object] | None, sym: Symmetry,
                   sector: Sector | None = None) -> None:
    """Raise :class:`SymmetryError` unless ``sym`` maps ``H(values)``, the constraints and the sector
    onto themselves.

    The reason names the symmetry, the parameter values and up to three mismatching terms (or the
    sector/constraint that is not preserved).
    """
    vals = model.resolve(values)
    shown = ", ".join(f"{k}={v:g}" for k, v in vals.items())
    where = f"{model.name} (L={model.lattice.L}, {model.lattice.bc}; {shown})"
    if sector is not None:
        _check_sector(model, sym, sector, where)
    cons = tuple(model.constraints) + (tuple(sector.constraints) if sector is not None else ())
    targets = {(frozenset(c.modes), tuple(sorted(c.allowed))) for c in cons}
    for con in cons:
        if _map_constraint(model, sym, con) not in targets:
            raise SymmetryError(f"{sym.name} does not hold for {where}: it does not map the "
                                f"constraint '{con.label or con.modes}' onto a constraint")
    bad = mismatches(model, vals, sym)
    if bad:
        rows = "; ".join(f"{_word_text(w)}: {_fmt(a)} in H vs {_fmt(b)} in the image" for w, a, b in bad[:3])
        hint = ""
        if sym.label == "k" and model.lattice.bc == "open":
            hint = " (the lattice is open: translation needs bc='periodic')"
        raise SymmetryError(f"{sym.name} does not hold for {where}{hint}: {len(bad)} term(s) of "
                            f"U H U^-1 differ from H, e.g. {rows}")


def _fmt(z: complex) -> str:
    return f"{z.real:.6g}" if abs(z.imag) < 1e-14 else f"{z:.6g}"


def _check_sector(model: Model, sym: Symmetry, sector: Sector, where: str) -> None:
    n = model.n_orbitals
    if sym.label == "Z" and sector.n_up != sector.n_dn:
        raise SymmetryError(f"spin inversion maps Sz onto -Sz: it is a symmetry of the sector only at "
                            f"Sz = 0, not (N_up={sector.n_up}, N_dn={sector.n_dn}) of {where}")
    if sym.label == "C" and not (2 * sector.n_up == n and 2 * sector.n_dn == n):
        raise SymmetryError(f"particle-hole maps N_sigma onto {n} - N_sigma: it is a symmetry of the "
                            f"sector only at N_up = N_dn = {n / 2:g}, not (N_up={sector.n_up}, "
                            f"N_dn={sector.n_dn}) of {where}")


def holds(model: Model, values: Mapping[str, object] | None, sym: Symmetry,
          sector: Sector | None = None) -> tuple[bool, str]:
    """``(True, "")`` if the symmetry holds, else ``(False, reason)``."""
    try:
        check_symmetry(model, values, sym, sector)
    except SymmetryError as err:
        return False, str(err)
    return True, ""


def candidates(model: Model) -> list[Symmetry]:
    """Symmetries the lattice suggests (not yet checked on the terms)."""
    out = []
    if model.lattice.bc == "periodic" and model.lattice.L >= 3:
        out.append(translation(model))
    if model.lattice.L >= 2:
        out.append(reflection(model))
    if model.spinful:
        out.append(spin_inversion(model))
        try:
            out.append(particle_hole(model))
        except SymmetryError:
            pass
    return out


def survey(model: Model, values: Mapping[str, object] | None, sector: Sector | None = None
           ) -> list[dict]:
    """Every candidate symmetry: whether it holds here (and why not), whether the backend can build
    its blocks on this lattice (``blocks_available``), and the condition the model's factory
    declares for it (``model.capabilities.symmetries``; documentation, the check decides)."""
    from edkit.engine.backend_quspin import block_support

    declared = model.capabilities.symmetries
    out = []
    for sym in candidates(model):
        ok, reason = holds(model, values, sym, sector)
        why = block_support(model, sym)
        out.append({"label": sym.label, "name": sym.name, "holds": ok, "reason": reason,
                    "blocks_available": ok and why is None, "backend_reason": why or "",
                    "declared": declared.get(sym.label, "")})
    return out


# ------------------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class Block:
    """One symmetry block: symmetries with their quantum numbers.

    ``labels`` maps ``"k"`` to ``m`` (momentum :math:`2\\pi m/L`) and ``"P"``, ``"Z"``, ``"C"`` to
    ``+1``/``-1``.
    """

    symmetries: tuple[Symmetry, ...]
    labels: tuple[tuple[str, int], ...]

    @property
    def label_dict(self) -> dict[str, int]:
        """Quantum numbers by label."""
        return dict(self.labels)

    def describe(self, L: int | None = None) -> dict:
        """Quantum numbers as plain data (momentum also as ``K`` in units of pi)."""
        out: dict = dict(self.labels)
        if "k" in out and L:
            out["K_over_pi"] = 2 * out["k"] / L
        return out

    def character(self, label: str) -> complex:
        """Eigenvalue of the symmetry ``label`` in this block."""
        q = self.label_dict[label]
        if label == "k":
            sym = next(s for s in self.symmetries if s.label == "k")
            return cmath.exp(-2j * math.pi * q / sym.order)
        return complex(q)

    @property
    def is_real(self) -> bool:
        """Whether all characters are real (then a real Hamiltonian gives a real block)."""
        return all(abs(self.character(lab).imag) < 1e-12 for lab, _ in self.labels)


def resolve(model: Model, values: Mapping[str, object] | None, sector: Sector,
            request: Mapping[str, object] | Iterable[str]) -> list[Symmetry]:
    """Check every requested symmetry on the model and sector; return them in ``k, P, Z, C`` order.

    Parameters
    ----------
    request
        Labels (any alias), as an iterable or the keys of a mapping.

    Raises
    ------
    SymmetryError
        For an unknown label or a symmetry that does not hold (with the reason).
    """
    from edkit.engine.backend_quspin import block_support

    labels = [normalize_label(x) for x in (request.keys() if isinstance(request, Mapping) else request)]
    if len(set(labels)) != len(labels):
        raise SymmetryError(f"symmetry requested twice: {labels}")
    out = []
    for lab in "kPZC":
        if lab in labels:
            sym = make_symmetry(model, lab)
            check_symmetry(model, values, sym, sector)
            reason = block_support(model, sym)  # blocks are built by QuSpin
            if reason is not None:
                raise SymmetryError(reason)
            out.append(sym)
    return out


def enumerate_blocks(symmetries: Sequence[Symmetry],
                     fixed: Mapping[str, int] | None = None) -> list[Block]:
    """All blocks of the given (checked) symmetries, optionally with some quantum numbers fixed.

    Parity ``P`` is combined with translation only at ``K = 0`` and ``K = pi`` (where they commute);
    at other momenta the block carries no parity label. ``fixed`` values are validated.

    Raises
    ------
    SymmetryError
        If a fixed value does not exist (e.g. ``k=5`` on a 4-site ring, ``P=0``) or names a
        symmetry that was not requested.
    """
    fixed = {normalize_label(k): v for k, v in dict(fixed or {}).items()}
    by_label = {s.label: s for s in symmetries}
    unknown = set(fixed) - set(by_label)
    if unknown:
        raise SymmetryError(f"quantum number(s) {sorted(unknown)} given for symmetries not requested")
    for lab, v in fixed.items():
        allowed = by_label[lab].values()
        if isinstance(v, bool) or not isinstance(v, int) or v not in allowed:
            shown = f"0..{by_label[lab].order - 1}" if lab == "k" else "+1 or -1"
            raise SymmetryError(f"{LABELS[lab]} quantum number {lab}={v!r} does not exist: use {shown}")
    combos: list[list[tuple[str, int]]] = [[]]
    for sym in symmetries:
        new = []
        for combo in combos:
            vals = [fixed[sym.label]] if sym.label in fixed else list(sym.values())
            if sym.label == "P" and "k" in by_label:
                m = dict(combo)["k"]
                L = by_label["k"].order
                if (2 * m) % L != 0:  # K not 0 or pi: parity does not commute with T here
                    if "P" in fixed:
                        raise SymmetryError(
                            f"reflection parity is not a quantum number at k={m} (K = 2 pi {m}/{L}); "
                            "it commutes with translation only at K = 0 and K = pi")
                    new.append(combo)
                    continue
            new.extend(combo + [(sym.label, v)] for v in vals)
        combos = new
    return [Block(tuple(symmetries), tuple(c)) for c in combos]


def group_order(model: Model, symmetries: Sequence[Symmetry]) -> int:
    """Number of group elements generated (product of orders): the block-size reduction factor."""
    return math.prod(s.order for s in symmetries) if symmetries else 1


__all__ = ["Block", "LABELS", "Symmetry", "SymmetryError", "candidates",
           "check_symmetry", "enumerate_blocks", "group_order", "holds", "make_symmetry", "mismatches",
           "normalize_label", "particle_hole", "reflection", "resolve", "spin_inversion",
           "survey", "translation"]
