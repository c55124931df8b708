r"""The two-wire product space: a sector as (primary wire sector) (x) (secondary wire sector).

The two wires of :func:`edkit.models.two_wire.two_wire` exchange no particles, so a sector
``(N, Sz, N_s)`` is the tensor product of a primary-wire sector ``(N_up, N_dn)`` and a
secondary-wire sector ``N_s``. :class:`TensorSpace` compiles the model's own canonical terms
on that product (each wire through :mod:`edkit.engine.backend_quspin`), with dimension
``C(L, N_up) C(L, N_dn) C(L, N_s)`` instead of the generic path's basis of all ``2L`` orbitals
(which is then cut down by the constraints): the generic path builds ``1,093,092`` states for
``L = 7, N = 6, N_s = 3`` to keep ``42,875``. Both paths diagonalize the same terms; the tests
check that their spectra agree.

The backend (:data:`BACKEND`, name ``"two-wire-product"``) serves models whose factory declares
``capabilities.space == "two-wire-product"``; the planner prefers it for them. Its eigenvectors
are in the product basis (primary-major), so a request for vectors in the sector basis goes to the
stored backend unless this one is asked for by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import comb

import numpy as np
import scipy.sparse as sp

from edkit.core.lattice import Lattice
from edkit.core.model import Model, Sector, SectorError
from edkit.core.modes import DN, SPINLESS, UP, Mode
from edkit.core.units import format_count
from edkit.core.words import Word
from edkit.engine import backend_quspin
from edkit.engine.backends.base import Estimate, Request
from edkit.engine.backends.registry import register
from edkit.engine.memory import TooLargeError
from edkit.models.two_wire import PRIMARY, SECONDARY

NumericTerms = Sequence[tuple[complex, Word]]

#: The capability (``Model.capabilities.space``) this backend implements.
SPACE = "two-wire-product"
#: Largest tensor-space dimension built unless ``max_dimension`` is raised. Measured: the
#: ``L = 8, N = 8, N_s = 4`` sector (343,000 states) stores ~15 non-zeros per state (62 MB), so
#: the limit is ~0.55 GB stored, two to three times that while the pieces are summed.
MAX_DIMENSION = 3_000_000
#: Dimension up to which :func:`solve` diagonalizes densely (Lanczos above). Kept small: one
#: ground-state energy of a 720-state sector took 0.3 s densely with a single-threaded BLAS,
#: 3 s with a multi-threaded BLAS on a loaded 2-core machine, and ~0.02 s by Lanczos.
DENSE_LIMIT = 200


def require_product_space(model: Model) -> None:
    """Raise ``ValueError`` unless the model declares the two-wire product space."""
    if model.capabilities.space != SPACE:
        raise ValueError(f"this function needs a model with the two-wire product space "
                         f"(capabilities.space = {SPACE!r}), got {model.name!r}")


@dataclass
class TensorSpace:
    """A two-wire sector as (primary sector) (x) (secondary sector).

    Attributes
    ----------
    model
        The two-wire model whose canonical terms are compiled.
    primary, secondary
        Backend sector spaces of the primary wire (spinful, ``L`` orbitals) and the secondary
        wire (spinless, ``L`` orbitals).

    Notes
    -----
    Basis states are ordered primary-major: index ``a * dim_s + b`` for primary state ``a`` and
    secondary state ``b``. With the primary modes before the secondary modes in the
    Jordan-Wigner order, an operator even in the secondary modes is ``A (x) B`` with ``A`` and
    ``B`` the matrices of its primary and secondary factors; a word odd in the secondary modes
    (inter-wire tunnelling) is refused.
    """

    model: Model
    primary: backend_quspin.SectorSpace
    secondary: backend_quspin.SectorSpace
    _occ: dict = field(default_factory=dict, repr=False)

    @property
    def dimension(self) -> int:
        """Dimension of the product space."""
        return self.primary.dimension * self.secondary.dimension

    def matrix(self, terms: NumericTerms) -> sp.csr_matrix:
        r"""Sparse matrix of ``sum(coef * word)`` (canonical words of the two-wire model).

        Imaginary parts below ``1e-14`` of a coefficient's modulus (the round-off of
        :math:`e^{i\pi}` at a flux of pi) are dropped, so that such matrices stay real.

        Raises
        ------
        ValueError
            For a word on the spin-down modes of the secondary wire (held empty) or a word odd
            in the secondary modes.
        """
        terms = [(_clean(c), w) for c, w in terms]
        pri_only: list[tuple[complex, Word]] = []
        sec_only: list[tuple[complex, Word]] = []
        mixed: dict[Word, list[tuple[complex, Word]]] = {}
        const = 0j
        for coef, word in terms:
            pri, sec, sign = _split(word)
            if not sec and not pri:
                const += coef
            elif not sec:
                pri_only.append((coef, pri))
            elif not pri:
                sec_only.append((coef, sec))
            else:
                mixed.setdefault(sec, []).append((sign * coef, pri))
        d_p, d_s = self.primary.dimension, self.secondary.dimension
        dtype = np.complex128 if any(abs(complex(c).imag) > 0 for c, _ in terms) else np.float64
        eye_p = sp.identity(d_p, dtype=dtype, format="csr")
        eye_s = sp.identity(d_s, dtype=dtype, format="csr")
        out = sp.csr_matrix((d_p * d_s, d_p * d_s), dtype=dtype)
        op = backend_quspin.operator_matrix
        if pri_only:
            out = out + sp.kron(op(self.primary, pri_only), eye_s, format="csr")
        if sec_only:
            out = out + sp.kron(eye_p, op(self.secondary, sec_only), format="csr")
        diagonal = np.zeros(d_p * d_s, dtype=dtype)
        for sec, parts in mixed.items():
            if _is_density(sec) and all(_is_density(w) for _, w in parts):
                # density-density coupling: diagonal, from occupation numbers (no matrix build)
                a_diag = np.zeros(d_p, dtype=dtype)
                for c, w in parts:
                    a_diag += (c if dtype == np.complex128 else c.real) * self._occupation("p", w[0][0])
                diagonal += np.kron(a_diag, self._occupation("s", sec[0][0]))
                continue
            b = op(self.secondary, [(1.0, sec)])
            a = op(self.primary, parts)
            out = out + sp.kron(a, b, format="csr")
        if diagonal.any():
            out = out + sp.diags(diagonal, format="csr")
        if const != 0:
            value = const if dtype == np.complex128 else const.real
            out = out + value * sp.identity(d_p * d_s, dtype=dtype, format="csr")
        return sp.csr_matrix(out)

    def _occupation(self, which: str, mode: Mode) -> np.ndarray:
        """Occupation (0/1) of ``mode`` in each state kept in the primary or secondary space."""
        key = (which, mode)
        if key not in self._occ:
            space = self.primary if which == "p" else self.secondary
            occ = backend_quspin.occupation(space.model, space.basis, mode).astype(np.float64)
            self._occ[key] = occ if space.keep is None else occ[space.keep]
        return self._occ[key]


def _clean(c: complex) -> complex | float:
    """Drop an imaginary part at round-off level (``e^{i pi}``), so real cases stay real."""
    c = complex(c)
    return c.real if abs(c.imag) <= 1e-14 * abs(c) else c


def _is_density(word: Word) -> bool:
    """Whether a word is a number operator ``c†_m c_m``."""
    return len(word) == 2 and word[0][0] == word[1][0] and word[0][1] and not word[1][1]


def _split(word: Word) -> tuple[Word, Word, int]:
    """Primary factors, secondary factors (as spinless modes) and the sign of the reordering."""
    pri, sec = [], []
    swaps = 0
    for mode, dag in word:
        if mode.layer == PRIMARY:
            pri.append((mode, dag))
            swaps += len(sec)
        elif mode.layer == SECONDARY:
            if mode.spin == DN:
                raise ValueError(f"word {word} acts on a spin-down secondary mode (held empty)")
            sec.append((Mode(SECONDARY, mode.site, SPINLESS), dag))
        else:
            raise ValueError(f"unknown layer {mode.layer!r}")
    if len(sec) % 2:
        raise ValueError(f"word {word} is odd in the secondary modes (inter-wire tunnelling): "
                         "no tensor-product form")
    return tuple(pri), tuple(sec), -1 if swaps % 2 else 1


def wire_numbers(model: Model, sector: Sector) -> tuple[int, int, int]:
    """``(N_up, N_dn, N_s)`` of the primary and secondary wires in a two-wire sector."""
    for con in sector.constraints:
        if con.modes and all(m.layer == SECONDARY and m.spin == UP for m in con.modes) \
                and len(con.allowed) == 1:
            n_s = int(con.allowed[0])
            return sector.n_up - n_s, sector.n_dn, n_s
    raise SectorError(f"sector {sector} of {model.name!r} does not fix the secondary particle number")


def product_dimension(model: Model, sector: Sector) -> int:
    """Dimension ``C(L, N_up) C(L, N_dn) C(L, N_s)`` of the product space (nothing built)."""
    n_up, n_dn, n_s = wire_numbers(model, sector)
    L = model.lattice.L
    return comb(L, n_up) * comb(L, n_dn) * comb(L, n_s)


def product_space(model: Model, sector: Sector, max_dimension: int = MAX_DIMENSION) -> TensorSpace:
    """The product space of a two-wire sector given as a :class:`Sector`.

    Raises
    ------
    TooLargeError
        If the product dimension exceeds ``max_dimension`` (before anything is built).
    """
    require_product_space(model)
    n_up, n_dn, n_s = wire_numbers(model, sector)
    L, bc = model.lattice.L, model.lattice.bc
    dim = product_dimension(model, sector)
    if dim > max_dimension:
        raise TooLargeError(f"two-wire L={L} sector (N={n_up + n_dn}, Sz={(n_up - n_dn) / 2:g}, "
                            f"N_s={n_s}) has dimension {format_count(dim)} > max_dimension "
                            f"{format_count(max_dimension)}")
    pri_model = Model("two-wire:primary", Lattice(L, bc, (PRIMARY,), (PRIMARY,)), True, [], {})
    sec_model = Model("two-wire:secondary", Lattice(L, bc, (SECONDARY,), (SECONDARY,)), False, [], {})
    return TensorSpace(model, backend_quspin.make_space(pri_model, Sector(n_up, n_dn)),
                       backend_quspin.make_space(sec_model, Sector(n_s, 0)))


def tensor_space(model: Model, N: int, Sz: float, N_s: int | None = None,
                 max_dimension: int = MAX_DIMENSION) -> TensorSpace:
    """The product space of a two-wire sector ``(N, Sz, N_s)``.

    Raises
    ------
    SectorError
        For an impossible sector (checked by the model's own sector function).
    TooLargeError
        If the product dimension exceeds ``max_dimension`` (before anything is built).
    """
    require_product_space(model)
    return product_space(model, model.sector(N, Sz, N_s=N_s), max_dimension)


def _lowest_sz(N: int) -> float:
    return 0.0 if N % 2 == 0 else 0.5


def solve(model: Model, values: Mapping[str, object] | None, N: int, Sz: float | None = None,
          N_s: int | None = None, nev: int = 1, vectors: bool = False) -> tuple:
    """Lowest ``nev`` levels of a two-wire sector on the tensor-product path: ``(Eigen, TensorSpace)``.

    ``Sz`` defaults to the lowest ``|Sz|`` of ``N`` primary electrons, ``N_s`` to ``L // 2``.
    """
    require_product_space(model)
    vals = model.resolve(values)
    Sz = _lowest_sz(int(N)) if Sz is None else Sz
    sector = model.sector(N, Sz, N_s=N_s)
    return BACKEND.solve(model, vals, sector, Request(nev=nev, vectors=vectors, method=BACKEND.name))


def _nonzeros(model: Model, sector: Sector, dim: int) -> int:
    """Non-zeros of the product matrix: the diagonal plus, per hopping word, the states it acts on.

    A hop ``c+_a c_b`` within one wire and spin with ``n`` particles on ``L`` sites acts on
    ``C(L-2, n-1)`` of the ``C(L, n)`` configurations; other off-diagonal words count as acting on
    every state (an upper bound).
    """
    n_up, n_dn, n_s = wire_numbers(model, sector)
    L = model.lattice.L
    total = 1.0
    for word in model.canonical_terms():
        created = {m for m, d in word if d}
        annihilated = {m for m, d in word if not d}
        if created == annihilated:
            continue
        if len(word) == 2:
            mode = word[0][0]
            n = n_s if mode.layer == SECONDARY else (n_up if mode.spin == UP else n_dn)
            total += comb(L - 2, n - 1) / comb(L, n) if 1 <= n <= L - 1 else 0.0
        else:
            total += 1.0
    return int(dim * total)


class ProductBackend:
    """The two-wire product space (exact; stored sparse matrix of the product, dense or ARPACK)."""

    name = "two-wire-product"
    space = SPACE

    def supports(self, model: Model, sector: Sector, request: Request) -> str | None:
        """Only for models that declare the two-wire product space; no blocks; vectors by name only."""
        if model.capabilities.space != SPACE:
            declared = model.capabilities.space or "the plain Fock sector"
            return (f"the two-wire product space serves models that declare it "
                    f"(capabilities.space = {SPACE!r}); {model.name} uses {declared}")
        if request.symmetries:
            return "the two-wire product space has no symmetry blocks"
        if request.vectors and request.method != self.name:
            return ("its eigenvectors are in the product basis (primary x secondary), not the sector "
                    f"basis: ask method={self.name!r} for them")
        try:
            dim = product_dimension(model, sector)
        except SectorError as err:
            return str(err)
        limit = int(request.options.get("max_dimension", MAX_DIMENSION))
        if dim > limit:
            return (f"the product space has {format_count(dim)} states, above its max_dimension "
                    f"{format_count(limit)}")
        return None

    def estimate(self, model: Model, sector: Sector, request: Request) -> Estimate:
        """Stored product matrix (sum of Kronecker products: ~3x while summed) plus the eigensolver."""
        from edkit.engine.backends.stored import eigen_cost
        from edkit.engine.sizes import has_complex_terms

        dim = product_dimension(model, sector)
        nnz = _nonzeros(model, sector, dim)
        value = 16 if has_complex_terms(model) else 8
        matrix = nnz * (value + 4) + (dim + 1) * 4
        cost = eigen_cost(dim, nnz, request.nev, request.vectors, value, DENSE_LIMIT)
        build = 3 * matrix
        peak = max(build, matrix + cost["bytes"])
        seconds = nnz * 5e-7 + cost["seconds"]  # product dimensions stay below MAX_DIMENSION
        return Estimate(int(peak), seconds, dim,
                        f"two-wire product space of {format_count(dim)} states, {cost['what']}",
                        {"nonzeros": nnz, "bytes_matrix": matrix, "bytes_build": build,
                         "bytes_vectors": cost["bytes"], "dense": cost["dense"]})

    def solve(self, model: Model, values: Mapping[str, float], sector: Sector,
              request: Request) -> tuple:
        """Build the product space and its matrix; lowest levels (dense up to :data:`DENSE_LIMIT`)."""
        from edkit.engine.solver import lowest

        space = product_space(model, sector, int(request.options.get("max_dimension", MAX_DIMENSION)))
        H = space.matrix(model.numeric_terms(values))
        return lowest(H, request.nev, vectors=request.vectors, seed=request.seed,
                      dense_limit=DENSE_LIMIT), space


BACKEND = register(ProductBackend())

__all__ = ["BACKEND", "DENSE_LIMIT", "MAX_DIMENSION", "SPACE", "ProductBackend", "TensorSpace",
           "product_dimension", "product_space", "require_product_space", "solve", "tensor_space",
           "wire_numbers"]
