r"""Momentum-resolved operators :math:`O_q` and their action between sectors.

Definitions
-----------
On the sites ``j = 0 .. L-1`` of the chosen layer(s) (a chain's sites; a bilayer's rung index in
each layer: ``j`` is the ``site`` of :class:`~edkit.core.modes.Mode`),

.. math::  O_q = \frac{1}{\sqrt{L_\Sigma}} \sum_{\ell} \sum_{j} e^{-i q j}\, O_{\ell, j},

with :math:`L_\Sigma` the number of sites summed (``L`` for one layer, ``2L`` for both layers of a
bilayer), so that :math:`\{c_q, c_q^\dagger\} = 1`. ``layer=None`` sums every layer of the lattice.
The operators:

- ``sz``: :math:`O_j = S^z_j = (n_{j\uparrow} - n_{j\downarrow})/2` (one part, same sector);
- ``n``: :math:`O_j = n_j = n_{j\uparrow} + n_{j\downarrow}` (spinless: :math:`n_j`; one part);
- ``c_up``: the single-particle spectral function needs two parts, electron **addition**
  :math:`c^\dagger_{q\uparrow} = L_\Sigma^{-1/2}\sum_j e^{+iqj} c^\dagger_{j\uparrow}` (sector
  ``N_up + 1``) and **removal** :math:`c_{q\uparrow} = L_\Sigma^{-1/2}\sum_j e^{-iqj} c_{j\uparrow}`
  (sector ``N_up - 1``);
- ``pair``: the eta channel, :math:`\Delta_j = c_{j\downarrow} c_{j\uparrow}`, with the parts pair
  addition :math:`\Delta^\dagger_q` (``N + 2``) and pair removal :math:`\Delta_q` (``N - 2``).

No expectation value is subtracted: at ``q = 0`` the density :math:`n_{q=0}|0\rangle =
(N/\sqrt{L_\Sigma})|0\rangle` gives an elastic peak at :math:`\omega = 0`.

A spinless model has no ``sz``, ``c_up`` or ``pair``; an operator that takes a constrained set of
modes out of its allowed occupations (``c_up`` on the Kondo lattice's localized spins or on the
effective bilayer's p sites) is refused. Both raise :class:`~edkit.core.errors.InputError` before
any work.

Vectors and signs
-----------------
A sector's vectors are indexed by :class:`SectorStates`: the occupation integer of every basis
state, bit ``k`` set when mode ``k`` of ``model.modes`` is occupied (spin-up orbitals, then
spin-down: the Jordan-Wigner order of :mod:`edkit.core.modes`). :math:`c_k` and
:math:`c_k^\dagger` carry :math:`(-1)^{\#\{\text{occupied } k' < k\}}`, the convention of the
matrix-free kernel (:mod:`edkit.engine.matfree`) and, with QuSpin's state bits mapped (spin-up
orbital ``k`` is QuSpin bit ``2n-1-k``, spin-down ``n-1-k``), of QuSpin's stored matrices
(checked against the independent Fock builder in the tests). :func:`apply_terms` applies a sum of
words to a vector of one sector and returns the vector of the target sector; each word is applied
to every basis state at once (numpy, no matrix is stored), so memory is a few vectors.
"""

from __future__ import annotations

import cmath
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edkit.core.errors import InputError
from edkit.core.model import Model, Sector
from edkit.core.modes import DN, SPINLESS, UP, Mode
from edkit.core.params import ParameterError, parse_number

#: Operators of ``edkit dynamics --operator``.
OPERATORS = ("sz", "n", "c_up", "pair")

Word = tuple[tuple[Mode, bool], ...]


@dataclass(frozen=True)
class Part:
    """One operator :math:`B` whose spectrum enters, and where its poles sit.

    Attributes
    ----------
    name
        ``"operator"`` (single-part operators), ``"addition"`` or ``"removal"``.
    sign
        ``+1``: poles at :math:`\\omega = E_n - E_0`; ``-1`` (removal): at
        :math:`\\omega = -(E_n - E_0)`.
    terms
        ``(coefficient, word)`` pairs of :math:`B` (words in the model's modes).
    shift
        ``(dN_up, dN_dn)``: the target sector is ``(N_up + dN_up, N_dn + dN_dn)``.
    """

    name: str
    sign: int
    terms: tuple[tuple[complex, Word], ...]
    shift: tuple[int, int]

    def target(self, sector: Sector, n_orbitals: int) -> Sector | None:
        """The sector :math:`B` maps ``sector`` to (``None`` if ``n_orbitals`` cannot hold it)."""
        n_up, n_dn = sector.n_up + self.shift[0], sector.n_dn + self.shift[1]
        if not (0 <= n_up <= n_orbitals and 0 <= n_dn <= n_orbitals):
            return None
        return Sector(n_up, n_dn, sector.constraints)


def parse_q(text: str | float) -> float:
    """A momentum in radians: a plain number, or ``pi`` with an optional factor and divisor.

    Accepted: ``3.14159``, ``1/3``, ``pi``, ``-pi``, ``pi/2``, ``2*pi/3``, ``2pi/3``, ``0.5*pi``.
    Nothing is evaluated (a fixed pattern is read).

    Raises
    ------
    InputError
        Anything else, or a value that is not finite.
    """
    if isinstance(text, bool):
        raise InputError(f"--q must be a number in radians, got {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        s = str(text).strip().lower()
        found = re.fullmatch(r"([+-])?\s*(?:(\d+(?:\.\d*)?|\.\d+)\s*\*?\s*)?pi\s*(?:/\s*(\d+(?:\.\d*)?))?", s,
                             flags=re.ASCII)
        if found:
            sign = -1.0 if found.group(1) == "-" else 1.0
            factor = float(found.group(2)) if found.group(2) else 1.0
            div = float(found.group(3)) if found.group(3) else 1.0
            if div == 0:
                raise InputError(f"--q {text!r}: division by zero")
            value = sign * factor * math.pi / div
        else:
            try:
                value = parse_number(s)
            except ParameterError:
                raise InputError(f"--q must be a number in radians (e.g. 3.141592653589793, pi, pi/2, "
                                 f"2*pi/3), got {text!r}") from None
    if not math.isfinite(value):
        raise InputError(f"--q must be finite, got {text!r}")
    return value


def layers_of(model: Model, layer: str | None) -> tuple[str, ...]:
    """The layers summed in :math:`O_q` (``None``: all of the lattice's).

    Raises
    ------
    InputError
        For a layer the lattice does not have.
    """
    if layer is None or layer == "all":
        return tuple(model.lattice.layers)
    if layer not in model.lattice.layers:
        raise InputError(f"model {model.name!r} has no layer {layer!r}; its layers are "
                         f"{', '.join(model.lattice.layers)} (or all)")
    return (layer,)


def check_operator(model: Model, operator: str) -> None:
    """Refuse an operator the model has no meaning for (before any work).

    Raises
    ------
    InputError
        Unknown operator; ``sz``, ``c_up`` or ``pair`` on a spinless model; a model whose family
        declares a special numeric space (two wires).
    """
    if operator not in OPERATORS:
        raise InputError(f"unknown operator {operator!r}; choose from {', '.join(OPERATORS)}")
    if model.capabilities.space is not None:
        raise InputError(f"model {model.name!r} lives in the {model.capabilities.space!r} space: "
                         "dynamics works on the plain Fock sectors only")
    if not model.spinful and operator != "n":
        raise InputError(f"model {model.name!r} is spinless: operator {operator!r} needs spin "
                         "(use --operator n)")


def operator_parts(model: Model, operator: str, q: float, layer: str | None = None) -> list[Part]:
    """The parts of :math:`O_q` (module docstring) for ``model``.

    Raises
    ------
    InputError
        As :func:`check_operator` and :func:`layers_of`, and for an operator that breaks an
        occupation constraint of the model.
    """
    check_operator(model, operator)
    layers = layers_of(model, layer)
    sites = [(lay, j) for lay in layers for j in range(model.lattice.L)]
    norm = 1.0 / math.sqrt(len(sites))

    def phase(j: int, s: int) -> complex:
        z = norm * cmath.exp(-1j * s * q * j)
        return complex(round(z.real, 15), round(z.imag, 15))  # exact zeros at q = 0, pi

    def n(mode: Mode) -> Word:
        return ((mode, True), (mode, False))

    if operator == "sz":
        terms = [(0.5 * phase(j, 1), n(Mode(lay, j, UP))) for lay, j in sites]
        terms += [(-0.5 * phase(j, 1), n(Mode(lay, j, DN))) for lay, j in sites]
        parts = [Part("operator", 1, tuple(terms), (0, 0))]
    elif operator == "n":
        spins = (UP, DN) if model.spinful else (SPINLESS,)
        parts = [Part("operator", 1, tuple((phase(j, 1), n(Mode(lay, j, s))) for lay, j in sites
                                           for s in spins), (0, 0))]
    elif operator == "c_up":
        parts = [Part("addition", 1, tuple((phase(j, -1), ((Mode(lay, j, UP), True),)) for lay, j in sites),
                      (1, 0)),
                 Part("removal", -1, tuple((phase(j, 1), ((Mode(lay, j, UP), False),)) for lay, j in sites),
                      (-1, 0))]
    else:  # pair: Delta_j = c_{j dn} c_{j up}, Delta_j^dag = c^dag_{j up} c^dag_{j dn}
        create = [((Mode(lay, j, UP), True), (Mode(lay, j, DN), True)) for lay, j in sites]
        destroy = [((Mode(lay, j, DN), False), (Mode(lay, j, UP), False)) for lay, j in sites]
        parts = [Part("addition", 1, tuple((phase(j, -1), w) for (_, j), w in zip(sites, create)), (1, 1)),
                 Part("removal", -1, tuple((phase(j, 1), w) for (_, j), w in zip(sites, destroy)), (-1, -1))]
    _check_constraints(model, operator, parts)
    return parts


def _check_constraints(model: Model, operator: str, parts: Sequence[Part]) -> None:
    for con in model.constraints:
        modes = set(con.modes)
        for part in parts:
            for _, word in part.terms:
                delta = sum(1 if d else -1 for m, d in word if m in modes)
                if delta and not any(a + delta in con.allowed for a in con.allowed):
                    raise InputError(
                        f"operator {operator!r} ({part.name}) breaks the constraint of model "
                        f"{model.name!r} ({con.label}): choose a layer without it (--layer)")


class SectorStates:
    """The basis states of one sector, in the order of its vectors, as occupation integers.

    Parameters
    ----------
    fock
        Occupation integer of each basis state (bit ``k`` = mode ``k`` of ``model.modes``), in
        vector order.
    """

    def __init__(self, fock: np.ndarray):
        self.fock = np.ascontiguousarray(fock, dtype=np.int64)
        self._order = np.argsort(self.fock, kind="stable")
        self._sorted = self.fock[self._order]

    @property
    def dimension(self) -> int:
        return len(self.fock)

    def index(self, fock: np.ndarray) -> np.ndarray:
        """Vector index of each occupation integer, ``-1`` where the state is not in the sector."""
        pos = np.searchsorted(self._sorted, fock)
        pos = np.minimum(pos, max(len(self._sorted) - 1, 0))
        found = self._sorted[pos] == fock if len(self._sorted) else np.zeros(len(fock), dtype=bool)
        return np.where(found, self._order[pos], -1)

    @classmethod
    def from_quspin(cls, model: Model, space) -> SectorStates:
        """States of a :class:`edkit.engine.backend_quspin.SectorSpace` (no symmetry block)."""
        if getattr(space, "block", None) is not None:
            raise InputError("dynamics does not work in symmetry blocks")
        states = np.asarray(space.basis.states).astype(np.int64)
        if space.keep is not None:
            states = states[space.keep]
        n = model.n_orbitals
        if not model.spinful:
            fock = np.zeros_like(states)
            for k in range(n):
                fock |= ((states >> (n - 1 - k)) & 1) << k
            return cls(fock)
        fock = np.zeros_like(states)
        for k in range(n):
            fock |= ((states >> (2 * n - 1 - k)) & 1) << k
            fock |= ((states >> (n - 1 - k)) & 1) << (n + k)
        return cls(fock)

    @classmethod
    def from_product(cls, basis) -> SectorStates:
        """States of an :class:`edkit.engine.product_expectation.ProductBasis` (up-major order)."""
        ups = np.asarray(basis.ups, dtype=np.int64)
        dns = np.asarray(basis.dns, dtype=np.int64)
        return cls((ups[:, None] | (dns[None, :] << basis.n)).ravel())


def word_action(word: Word, index: dict[Mode, int], fock: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``word |s> = sign |t>`` on every state ``s`` of ``fock``: ``(ok, t, sign)``.

    The rightmost factor acts first; ``ok`` is false where the word gives zero.
    """
    t = fock.copy()
    sign = np.ones(len(fock), dtype=np.int64)
    ok = np.ones(len(fock), dtype=bool)
    for mode, dagger in reversed(word):
        k = index[mode]
        occ = ((t >> k) & 1).astype(bool)
        ok &= ~occ if dagger else occ
        sign *= 1 - 2 * (np.bitwise_count(t & ((1 << k) - 1)).astype(np.int64) & 1)
        t ^= 1 << k
    return ok, t, sign


def apply_terms(model: Model, terms: Sequence[tuple[complex, Word]], source: SectorStates,
                target: SectorStates, x: np.ndarray) -> np.ndarray:
    """:math:`\\sum_t c_t w_t\\, x` as a vector of ``target`` (``x`` a vector of ``source``).

    Raises
    ------
    InputError
        If a word leads out of the target's states (an occupation constraint broken).
    """
    index = {m: k for k, m in enumerate(model.modes)}
    dtype = np.complex128 if (np.iscomplexobj(x) or any(complex(c).imag for c, _ in terms)) else np.float64
    y = np.zeros(target.dimension, dtype=dtype)
    for c, word in terms:
        ok, t, sign = word_action(word, index, source.fock)
        idx = target.index(t[ok])
        amp = x[ok] * sign[ok]
        lost = idx < 0
        if np.any(lost) and np.any(np.abs(amp[lost]) > 1e-12):
            raise InputError("the operator leads out of the model's allowed states (an occupation "
                             "constraint is broken)")
        keep = ~lost
        coef = complex(c) if dtype == np.complex128 else complex(c).real
        y[idx[keep]] += coef * amp[keep]  # a word maps states one to one: no repeated index
    return y


def terms_matrix(model: Model, terms: Sequence[tuple[complex, Word]], source: SectorStates,
                 target: SectorStates):
    """The sparse ``target x source`` matrix of :math:`\\sum_t c_t w_t` (for full Lehmann sums)."""
    import scipy.sparse as sp

    index = {m: k for k, m in enumerate(model.modes)}
    rows, cols, vals = [], [], []
    for c, word in terms:
        ok, t, sign = word_action(word, index, source.fock)
        idx = target.index(t[ok])
        keep = idx >= 0
        rows.append(idx[keep])
        cols.append(np.flatnonzero(ok)[keep])
        vals.append(complex(c) * sign[ok][keep])
    if not rows:
        return sp.csr_matrix((target.dimension, source.dimension), dtype=np.complex128)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(target.dimension, source.dimension), dtype=np.complex128)


__all__ = ["OPERATORS", "Part", "SectorStates", "apply_terms", "check_operator", "layers_of",
           "operator_parts", "parse_q", "terms_matrix", "word_action"]
