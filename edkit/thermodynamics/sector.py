r"""One sector's Hamiltonian operator and the observables' operators on its vectors.

:func:`sector_operator` asks a backend for the sector's Hamiltonian as an operator object
(``backend.operator(model, values, sector, request) -> (op, space)``): the ``stored`` backend gives
the QuSpin sparse matrix wrapped as a SciPy ``LinearOperator`` (the matrix as ``op.matrix``) with its
:class:`~edkit.engine.backend_quspin.SectorSpace`; ``matrix-free`` the compiled
:class:`~edkit.engine.matfree.MatrixFreeHamiltonian` with a
:class:`~edkit.engine.backends.matrix_free.MatrixFreeSpace` (the ``(up, down)`` product basis); a GPU
backend a device operator (``op.array_module`` is CuPy) with the space of its basis.

:class:`SectorOperators` applies the thermal observables' operators (:mod:`edkit.thermodynamics.quantities`)
to vectors of that space: on a QuSpin space as sparse matrices built once per sector; on the product
basis word by word, a density word as a broadcast product of two masks (one per spin) and any other
word as a signed gather of rows and columns (:meth:`edkit.engine.product_expectation.ProductBasis.
monomial`), with no matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edkit.core.errors import InputError
from edkit.core.model import Model, Sector
from edkit.engine.backends.base import Request
from edkit.engine.product_expectation import density_mask


def backend_name(model: Model, sector: Sector, device: str = "cpu") -> str:
    """The backend that gives the operator: ``"gpu"`` for ``device="gpu"``, else ``"matrix-free"``
    where the kernel supports the model (no build, fastest matvec), else ``"stored"``."""
    from edkit.engine.backends import get

    if device not in ("cpu", "gpu", "auto"):
        raise InputError(f"device must be cpu, gpu or auto, got {device!r}")
    if device != "cpu":
        try:
            from edkit.engine.devices import resolve  # the GPU helper's resolver (when present)

            dim = _dimension(model, sector)
            if resolve(device, dim) == "gpu":
                return "gpu"
        except ImportError:
            if device == "gpu":
                raise InputError("device='gpu' asked for, but this edkit has no GPU backend") from None
    if get("matrix-free").supports(model, sector, Request()) is None:
        return "matrix-free"
    return "stored"


def _dimension(model: Model, sector: Sector) -> int:
    from edkit.engine.sizes import sector_size

    return int(sector_size(model, sector).dimension)


def sector_operator(model: Model, values: Mapping[str, float], sector: Sector, name: str) -> tuple:
    """``(op, space)`` of the sector's Hamiltonian from backend ``name`` (its ``operator`` method)."""
    from edkit.engine.backends import get

    backend = get(name)
    if not hasattr(backend, "operator"):
        raise InputError(f"backend {name!r} gives no Hamiltonian operator for thermal averages")
    got = backend.operator(model, values, sector, Request(method=name))
    if isinstance(got, tuple):
        return got
    space = getattr(got, "space", None)
    host = getattr(got, "host", None)  # a device operator over the matrix-free kernel's product basis
    if space is None and host is not None and hasattr(host, "ups"):
        from edkit.engine.backends.matrix_free import MatrixFreeSpace
        from edkit.engine.product_expectation import ProductBasis

        space = MatrixFreeSpace(got.shape[0], None, ProductBasis(model, sector, host), sector)
    return got, space


class _ProductApplier:
    """``y = A x`` in the ``(up, down)`` product basis for a list of ``(coefficient, word)``."""

    def __init__(self, basis, terms):
        self.shape = basis.shape
        merged = basis.merge(terms)
        self.constant = 0j
        diagonal: list = []
        self.moves: list = []
        for (up, dn), c in merged.items():
            if c == 0:
                continue
            if not up and not dn:
                self.constant += c
                continue
            mu, md = density_mask(up), density_mask(dn)
            if mu is not None and md is not None:
                u = ((basis.ups & mu) == mu).astype(np.float64)
                d = ((basis.dns & md) == md).astype(np.float64)
                diagonal.append((c, u, d))
                continue
            self.moves.append((c, self._gather(basis.monomial(up, 0), self.shape[0]),
                               self._gather(basis.monomial(dn, 1), self.shape[1])))
        # the diagonal words as a rank-k product: diag(u, d) = sum_w c_w [u has w's up modes][d has ...]
        dtype = np.complex128 if any(c.imag for c, _, _ in diagonal) else np.float64
        self.diag_up = np.array([(c if dtype is np.complex128 else c.real) * u for c, u, _ in diagonal],
                                dtype=dtype).T.reshape(self.shape[0], -1)
        self.diag_dn = np.array([d for _, _, d in diagonal], dtype=np.float64).T.reshape(self.shape[1], -1)

    @staticmethod
    def _gather(mono, n: int) -> tuple:
        if mono is None:
            idx = np.arange(n)
            return idx, idx, None
        target, sign = mono
        src = np.flatnonzero(target >= 0)
        return src, target[src], sign[src]

    def apply(self, x: np.ndarray) -> np.ndarray:
        X = x.reshape(self.shape)
        real = (not np.iscomplexobj(X) and not np.iscomplexobj(self.diag_up)
                and all(c.imag == 0 for c, *_ in self.moves) and self.constant.imag == 0)
        dtype = np.float64 if real else np.complex128

        def cast(c: complex):
            return c.real if real else c

        Y = np.zeros(self.shape, dtype=dtype)
        if self.constant != 0:
            Y += cast(self.constant) * X
        if self.diag_up.shape[1]:
            Y += (self.diag_up @ self.diag_dn.T) * X
        for c, (us, ut, usg), (ds, dt, dsg) in self.moves:
            block = X[np.ix_(us, ds)]
            if usg is not None:
                block = block * usg[:, None]
            if dsg is not None:
                block = block * dsg[None, :]
            Y[np.ix_(ut, dt)] += cast(c) * block
        return Y.reshape(-1)


class SectorOperators:
    """The quantities' operators on one sector's space (built once, applied to many vectors).

    Parameters
    ----------
    space
        A QuSpin :class:`~edkit.engine.backend_quspin.SectorSpace` or a space with a product
        ``basis`` (:class:`~edkit.engine.backends.matrix_free.MatrixFreeSpace`).
    quantities
        :class:`~edkit.thermodynamics.quantities.OperatorQuantity` objects.
    """

    def __init__(self, space, quantities: Sequence):
        self.quantities = list(quantities)
        basis = getattr(space, "basis", None)
        self.product = basis is not None and hasattr(basis, "monomial")
        if self.product:
            self.appliers = [_ProductApplier(basis, q.terms) for q in self.quantities]
            self.matrices = None
        else:
            from edkit.engine.backend_quspin import operator_matrix

            self.matrices = [operator_matrix(space, list(q.terms)) for q in self.quantities]
            self.appliers = None

    def __len__(self) -> int:
        return len(self.quantities)

    @property
    def real(self) -> bool:
        """Whether every operator is a real matrix (stored path; ``False`` on a product basis)."""
        if self.matrices is None:
            return False
        return all(not np.iscomplexobj(m.data) or not np.any(np.asarray(m.data).imag) for m in self.matrices)

    def apply(self, k: int, x: np.ndarray) -> np.ndarray:
        """``A_k x`` (``x`` a flat NumPy vector of the space)."""
        if self.product:
            return self.appliers[k].apply(x)
        return np.asarray(self.matrices[k] @ x)

    def diagonal_elements(self, vectors: np.ndarray) -> np.ndarray:
        """``<v_i|A_k|v_i>`` for every column ``v_i`` (exact path): shape ``(n_ops, n_vectors)``."""
        out = np.empty((len(self.quantities), vectors.shape[1]))
        for k in range(len(self.quantities)):
            if self.product:
                AV = np.column_stack([self.appliers[k].apply(vectors[:, i]) for i in range(vectors.shape[1])])
            else:
                AV = np.asarray(self.matrices[k] @ vectors)
            out[k] = np.real(np.einsum("ij,ij->j", vectors.conj(), AV))
        return out


__all__ = ["SectorOperators", "backend_name", "sector_operator"]
