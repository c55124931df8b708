"""Compile a :class:`~edkit.core.model.Model` into QuSpin bases and sparse matrices.

This is the only module of edkit that imports QuSpin, and it does so lazily, through
:func:`quspin`, the first time a basis is built: importing edkit changes nothing in the process
environment. :func:`quspin` sets the thread settings measured to matter on small machines
(``OMP_WAIT_POLICY=passive``, ``OMP_NUM_THREADS=1``; see the project notes) only where the user
has not set them, imports QuSpin (its OpenMP runtime reads them once, when it is loaded) and
restores ``os.environ``.

Mapping of conventions
----------------------
- Spinful models use ``spinful_fermion_basis_general(n_orbitals, Nf=(N_up, N_dn))``; model
  orbital ``k`` is QuSpin site ``k``. QuSpin orders all spin-up modes before all spin-down modes,
  the order documented in :mod:`edkit.core.modes`.
- A canonical word is split into its spin-up and spin-down factors (keeping their relative order)
  with the fermionic sign of that reordering, and passed as ``"<up ops>|<down ops>"``.
- Spinless models use ``spinless_fermion_basis_general(n_orbitals, Nf=N)``.
- Occupation constraints (p sites empty/doubled, localized spins) are imposed by restricting the
  sector basis to the allowed states; the Hamiltonian conserves them (checked).
- Symmetry blocks (``make_space(model, sector, block)``, block from :mod:`edkit.engine.symmetry`) use
  QuSpin's ``(map, q)`` blocks (:func:`quspin_blocks`: momentum sign, particle-hole signs;
  :func:`block_support` says where QuSpin can build a symmetry's blocks). Constraints are imposed
  on the block's representative states, read from QuSpin's state integers (spin-up orbital ``k``
  is bit ``2n-1-k``, spin-down bit ``n-1-k``).
- :func:`blas_threads` pins OpenBLAS threads around eigensolves (measured 7-37x faster here).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp

from edkit.core.model import Model, ModelError, Sector, SectorError
from edkit.core.modes import DN, UP
from edkit.core.words import Word
from edkit.engine.symmetry import Block, Symmetry, SymmetryError
from edkit.engine.threads import blas_threads  # noqa: F401  (re-exported)

#: Thread settings QuSpin's OpenMP runtime reads when it is loaded, used where the user set none:
#: busy-waiting threads made a 2-thread matvec 40x slower on a loaded 2-core machine.
QUSPIN_THREAD_ENV = {"OMP_WAIT_POLICY": "passive", "OMP_NUM_THREADS": "1"}

_QUSPIN: SimpleNamespace | None = None


def quspin() -> SimpleNamespace:
    """QuSpin's basis and operator classes, imported on first use with edkit's thread settings.

    Sets each variable of :data:`QUSPIN_THREAD_ENV` only if the user has not set it, imports
    QuSpin (OpenMP reads them when its library loads), then restores ``os.environ`` exactly as it
    was, undoing what the import itself set (joblib, imported by QuSpin, sets ``KMP_INIT_AT_FORK``).

    Returns
    -------
    types.SimpleNamespace
        ``spinful_fermion_basis_general``, ``spinless_fermion_basis_general``, ``hamiltonian``.
    """
    global _QUSPIN
    if _QUSPIN is None:
        saved = dict(os.environ)
        try:
            for key, value in QUSPIN_THREAD_ENV.items():
                os.environ.setdefault(key, value)
            from quspin.basis import spinful_fermion_basis_general, spinless_fermion_basis_general
            from quspin.operators import hamiltonian
        finally:
            for key in set(os.environ) - set(saved):
                del os.environ[key]
            for key, value in saved.items():
                if os.environ.get(key) != value:
                    os.environ[key] = value
        _QUSPIN = SimpleNamespace(spinful_fermion_basis_general=spinful_fermion_basis_general,
                                  spinless_fermion_basis_general=spinless_fermion_basis_general,
                                  hamiltonian=hamiltonian)
    return _QUSPIN


@dataclass
class SectorSpace:
    """A QuSpin basis of one sector, possibly restricted by occupation constraints.

    Attributes
    ----------
    basis
        The QuSpin basis of the (N_up, N_dn) sector.
    keep
        Indices of the basis states that satisfy the model's constraints (``None``: all).
    """

    model: Model
    sector: Sector
    basis: object
    keep: np.ndarray | None
    block: object | None = None  # an edkit.engine.symmetry.Block, or None (no lattice symmetry)
    simple: bool = True  # QuSpin "simple" operator strings ("up|dn"); False with particle-hole

    @property
    def is_complex(self) -> bool:
        """Whether the symmetry block needs complex matrix elements (momentum not 0 or pi)."""
        return self.block is not None and not self.block.is_real

    @property
    def dimension(self) -> int:
        """Number of states actually diagonalized."""
        return int(self.basis.Ns if self.keep is None else len(self.keep))

    def restrict(self, matrix: sp.spmatrix) -> sp.csr_matrix:
        """Cut a full-sector matrix down to the constrained states."""
        m = sp.csr_matrix(matrix)
        return m if self.keep is None else m[self.keep][:, self.keep]

    def embed(self, vector: np.ndarray) -> np.ndarray:
        """A constrained-space vector as a vector of the full sector basis."""
        if self.block is not None:
            raise NotImplementedError("vectors of a symmetry block are not embedded in the sector basis")
        if self.keep is None:
            return vector
        out = np.zeros(self.basis.Ns, dtype=vector.dtype)
        out[self.keep] = vector
        return out


def make_space(model: Model, sector: Sector, block=None) -> SectorSpace:
    """The QuSpin basis of a sector, restricted by the model's constraints.

    Parameters
    ----------
    block
        Optional :class:`edkit.engine.symmetry.Block` (symmetries already checked on the model with
        :func:`edkit.engine.symmetry.resolve`): the basis is then QuSpin's symmetry-reduced basis of that
        block, and constraints are imposed on its representative states (the checked symmetries map
        the constraints onto themselves, so a whole orbit is kept or dropped).

    Raises
    ------
    SectorError
        If the sector, after constraints, holds no states.
    """
    if block is not None:
        return _make_block_space(model, sector, block)
    n = model.n_orbitals
    if model.spinful:
        basis = quspin().spinful_fermion_basis_general(n, Nf=(sector.n_up, sector.n_dn))
    else:
        basis = quspin().spinless_fermion_basis_general(n, Nf=sector.n_up)
    keep = None
    constraints = tuple(model.constraints) + tuple(sector.constraints)
    if constraints:
        mask = np.ones(basis.Ns, dtype=bool)
        for con in constraints:
            occ = np.zeros(basis.Ns, dtype=np.int64)
            for mode in con.modes:
                occ += occupation(model, basis, mode)
            mask &= np.isin(occ, con.allowed)
        keep = np.flatnonzero(mask)
    space = SectorSpace(model, sector, basis, keep)
    if space.dimension == 0:
        cons = "; ".join(c.label for c in constraints)
        raise SectorError(
            f"sector (N_up={sector.n_up}, N_dn={sector.n_dn}) of {model.name!r} has no states"
            + (f" with the constraints ({cons})" if cons else "")
        )
    return space


def _make_block_space(model: Model, sector: Sector, block) -> SectorSpace:
    n = model.n_orbitals
    blocks, simple = quspin_blocks(model, block)
    with warnings.catch_warnings():
        # reflection and translation do not commute; edkit combines them only at K = 0, pi,
        # where the quantum numbers are invariant (what QuSpin's warning asks for)
        warnings.filterwarnings("ignore", message=".*non-commuting symmetries.*")
        if model.spinful:
            basis = quspin().spinful_fermion_basis_general(n, Nf=(sector.n_up, sector.n_dn),
                                                           simple_symm=simple, **blocks)
        else:
            basis = quspin().spinless_fermion_basis_general(n, Nf=sector.n_up, **blocks)
    keep = None
    constraints = tuple(model.constraints) + tuple(sector.constraints)
    if constraints and basis.Ns:
        states = np.asarray(basis.states)
        mask = np.ones(basis.Ns, dtype=bool)
        index = model.orbital_index()
        for con in constraints:
            occ = np.zeros(basis.Ns, dtype=np.int64)
            for mode in con.modes:
                k = index[mode.orbital]
                bit = (2 * n - 1 - k) if (model.spinful and mode.spin == UP) else (n - 1 - k)
                occ += ((states >> bit) & 1).astype(np.int64)
            mask &= np.isin(occ, con.allowed)
        keep = np.flatnonzero(mask)
    space = SectorSpace(model, sector, basis, keep, block, simple)
    if space.dimension == 0:
        raise SectorError(
            f"block {block.describe(model.lattice.L)} of sector (N_up={sector.n_up}, "
            f"N_dn={sector.n_dn}) of {model.name!r} has no states")
    return space


def _advanced(static: list, n: int) -> list:
    """Simple spinful operator strings (``"+-|n"``) in QuSpin's advanced notation (sites 0..2n-1)."""
    out = []
    for opstr, entries in static:
        up, _, dn = opstr.partition("|")
        moved = [[e[0], *e[1:1 + len(up)], *[j + n for j in e[1 + len(up):]]] for e in entries]
        out.append([up + dn, moved])
    return out


def occupation(model: Model, basis: object, mode) -> np.ndarray:
    """Occupation (0/1) of one mode in every state of the basis."""
    idx = model.orbital_index()[mode.orbital]
    opstr = ("n|" if mode.spin == UP else "|n") if model.spinful else "n"
    me, row, _ = basis.Op(opstr, [idx], 1.0, np.float64)
    out = np.zeros(basis.Ns, dtype=np.int64)
    out[row[np.abs(me) > 0.5]] = 1
    return out


def _quspin_term(model: Model, word: Word, index: Mapping) -> tuple[str, list[int], int]:
    """Operator string, site indices and sign for a word (spin-up factors first)."""
    sym = {True: "+", False: "-"}
    if not model.spinful:
        return "".join(sym[d] for _, d in word), [index[m.orbital] for m, _ in word], 1
    ups = [(m, d) for m, d in word if m.spin == UP]
    dns = [(m, d) for m, d in word if m.spin == DN]
    # sign of moving every up factor left past the down factors that precede it
    swaps, seen_dn = 0, 0
    for m, _ in word:
        if m.spin == DN:
            seen_dn += 1
        else:
            swaps += seen_dn
    opstr = "".join(sym[d] for _, d in ups) + "|" + "".join(sym[d] for _, d in dns)
    return opstr, [index[m.orbital] for m, _ in ups + dns], -1 if swaps % 2 else 1


def static_list(model: Model, terms: Sequence[tuple[complex, Word]]) -> tuple[list, bool]:
    """QuSpin ``static`` list for numeric canonical terms; also whether it is complex."""
    index = model.orbital_index()
    groups: dict[str, list] = {}
    is_complex = False
    for coef, word in terms:
        opstr, sites, sign = _quspin_term(model, word, index)
        c = sign * complex(coef)
        if abs(c.imag) > 0:
            is_complex = True
        groups.setdefault(opstr, []).append([c, *sites])
    static = []
    for opstr, entries in groups.items():
        if not is_complex:
            entries = [[e[0].real, *e[1:]] for e in entries]
        static.append([opstr, entries])
    return static, is_complex


def operator_matrix(space: SectorSpace, terms: Sequence[tuple[complex, Word]],
                    conserving: bool = True) -> sp.csr_matrix:
    """Sparse matrix of ``sum(coef * word)`` on a sector space.

    Parameters
    ----------
    space
        The sector space.
    terms
        Numeric canonical terms (see :meth:`Model.numeric_terms`).
    conserving
        The operator must conserve N_up, N_dn (true for Hamiltonians and correlators used here).
    """
    model = space.model
    static, is_complex = static_list(model, terms)
    dtype = np.complex128 if (is_complex or space.is_complex) else np.float64
    if not static:
        return sp.csr_matrix((space.dimension, space.dimension), dtype=dtype)
    constants = [e for op in static if op[0] in ("|", "") for e in op[1]]
    static = [op for op in static if op[0] not in ("|", "")]
    if not space.simple:
        static = _advanced(static, model.n_orbitals)
    if static:
        with warnings.catch_warnings():
            if space.block is not None:
                # real blocks (K = 0, pi): QuSpin's characters exp(-i pi q) carry ~1e-16 imaginary
                # rounding, dropped with a ComplexWarning; the blocks are checked by recombination
                warnings.filterwarnings("ignore", message=".*real type for complex matrix elements.*")
            H = quspin().hamiltonian(static, [], basis=space.basis, dtype=dtype, check_herm=False,
                            check_pcon=False, check_symm=False)
        mat = sp.csr_matrix(H.tocsr())
    else:
        mat = sp.csr_matrix((space.basis.Ns, space.basis.Ns), dtype=dtype)
    if constants:
        mat = mat + sum(e[0] for e in constants) * sp.identity(space.basis.Ns, dtype=dtype, format="csr")
    if space.keep is not None:
        full = mat
        mat = space.restrict(full)
        leak = abs(full[space.keep]).sum() - abs(mat).sum()
        if leak > 1e-9 * max(1.0, abs(mat).sum()):
            raise ModelError(f"model {model.name!r}: the operator does not conserve its constraints")
    return sp.csr_matrix(mat)


def hamiltonian_matrix(model: Model, values: Mapping[str, object] | None,
                       sector: Sector) -> tuple[sp.csr_matrix, SectorSpace]:
    """The Hamiltonian of ``model`` at ``values`` in ``sector`` as a CSR matrix."""
    terms = model.numeric_terms(values)
    space = make_space(model, sector)
    return operator_matrix(space, terms), space


# ------------------------------------------------------------------ QuSpin symmetry blocks
def quspin_blocks(model: Model, block: Block) -> tuple[dict[str, tuple[list[int], int]], bool]:
    """The block as QuSpin ``spinful_fermion_basis_general`` keyword arguments.

    Returns ``(blocks, simple)``: ``blocks`` maps a name to ``(map, q)``; ``simple`` says whether the
    maps are in QuSpin's *simple* notation (length ``n_orbitals``, ``-(j+1)`` = spin inversion onto
    ``j``) or, when particle-hole is present, the *advanced* notation (length ``2 n_orbitals``,
    up sites then down sites, ``-(j+1)`` = particle-hole onto ``j``).

    QuSpin's eigenvalue convention is :math:`Q|\\psi\\rangle = e^{-2\\pi i q/m_Q}|\\psi\\rangle`,
    and its translation ``i -> i+1`` block ``q`` holds momentum :math:`K = -2\\pi q/L` (measured),
    so ``k = m`` is passed as ``q = -m mod L``. QuSpin's particle-hole sign is ``(-1)^j`` with ``j``
    the backend (Jordan-Wigner) index, which equals the lattice two-colouring only on some lattices.

    Raises
    ------
    SymmetryError
        If particle-hole is requested where QuSpin's sign convention differs from the lattice's.
    """
    n = model.n_orbitals
    labels = block.label_dict
    has_ph = "C" in labels
    out: dict[str, tuple[list[int], int]] = {}
    for sym in block.symmetries:
        if sym.label not in labels:
            continue
        v = labels[sym.label]
        q = (-v) % sym.order if sym.label == "k" else (0 if v == 1 else 1)
        if sym.label == "C":
            reason = block_support(model, sym)
            if reason is not None:
                raise SymmetryError(reason)
            out["C"] = ([-(j + 1) for j in range(2 * n)], q)
            continue
        if sym.spin_flip:
            simple = [-(k + 1) for k in sym.perm]
        else:
            simple = list(sym.perm)
        if has_ph:
            adv = [p if p >= 0 else -(p + 1) + n for p in simple]
            adv = adv + [(a + n) % (2 * n) for a in adv]
            out[sym.label] = (adv, q)
        else:
            out[sym.label] = (simple, q)
    return out, not has_ph


def block_support(model: Model, sym: Symmetry) -> str | None:
    """``None`` if QuSpin can build blocks of ``sym`` for this model, else why not.

    Permutations and spin inversion always can. QuSpin's particle-hole map carries the sign
    ``(-1)^j`` of the backend (Jordan-Wigner) index ``j``; it is the lattice's two-colouring (up to
    a global sign) on even chains and on bilayers with odd ``L``, not on bilayers with even ``L``
    (there the m sites have index ``L + i``).
    """
    if sym.label != "C":
        return None
    n = model.n_orbitals
    native = [1 if j % 2 == 0 else -1 for j in range(2 * n)]
    wanted = list(sym.ph_signs or ()) * 2
    if wanted == native or wanted == [-x for x in native]:
        return None
    return ("particle-hole blocks are not available for this lattice with the QuSpin backend: "
                   "QuSpin's particle-hole sign is (-1)^j over the Jordan-Wigner index j, which differs "
                   f"from the bond two-colouring of {model.name} (L={model.lattice.L}); it matches on "
                   "even chains and on bilayers with odd L")
