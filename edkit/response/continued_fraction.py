r"""Spectra by the continued-fraction (Lanczos) method.

From :math:`|\phi\rangle = B|0\rangle` (norm :math:`\|\phi\|`), Lanczos builds the tridiagonal
:math:`T` of :math:`H` in the Krylov space of :math:`|\phi\rangle` (diagonal :math:`a_k`,
off-diagonal :math:`b_{k+1}`), and

.. math::  \langle\phi|\frac{1}{z - H}|\phi\rangle = \cfrac{\|\phi\|^2}{z - a_0 -
           \cfrac{b_1^2}{z - a_1 - \cfrac{b_2^2}{z - a_2 - \cdots}}},
           \qquad S(\omega) = -\frac{1}{\pi}\,\mathrm{Im}\,
           \langle\phi|\frac{1}{\omega + E_0 + i\eta - H}|\phi\rangle

(addition and single-part operators; removal parts at :math:`-\omega`). The same rational
function written as poles: with :math:`T = Q\,\mathrm{diag}(\theta)\,Q^T`, poles :math:`\theta_k`
and weights :math:`\|\phi\|^2 Q_{0k}^2` (what :func:`poles` returns, used for :math:`G(\tau)` and
the moments). The first :math:`2M` moments of the spectrum of an :math:`M`-step run are exact;
when the Krylov space is exhausted (:math:`b_k \to 0`) the spectrum is exact.

Reorthogonalization: full (against every Lanczos vector) when the vectors fit in
:data:`REORTH_BYTES`; otherwise none, the standard practice for continued fractions (lost
orthogonality adds ghost copies of converged poles but keeps the moments).

The recursion is written on an operator exposing ``.shape``, ``.dtype``, ``.matvec`` (a scipy
``LinearOperator``, the matrix-free Hamiltonian) and an optional ``array_module`` (numpy by
default), so that a device operator can run it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Largest memory for the stored Lanczos vectors of full reorthogonalization (bytes).
REORTH_BYTES = 32 * 2**20
#: Relative size of ``b_k`` below which the Krylov space counts as exhausted.
EXHAUSTED = 1e-10


@dataclass
class Tridiagonal:
    """One Lanczos run from :math:`|\\phi\\rangle`.

    Attributes
    ----------
    alphas, betas
        :math:`a_0..a_{M-1}` and :math:`b_1..b_{M-1}`.
    norm2
        :math:`\\langle\\phi|\\phi\\rangle`.
    exhausted
        Whether the run stopped because the Krylov space was exhausted.
    reorthogonalized
        Whether full reorthogonalization was used.
    """

    alphas: np.ndarray
    betas: np.ndarray
    norm2: float
    exhausted: bool
    reorthogonalized: bool

    @property
    def steps(self) -> int:
        return len(self.alphas)


def lanczos(op, phi, steps: int, *, reorthogonalize: bool | None = None) -> Tridiagonal:
    """Run at most ``steps`` Lanczos steps of ``op`` from ``phi`` (not modified).

    ``reorthogonalize=None`` decides by memory (:data:`REORTH_BYTES`). A zero ``phi`` gives an
    empty run (``norm2 = 0``).
    """
    xp = getattr(op, "array_module", np)
    norm2 = float(xp.real(xp.vdot(phi, phi)))
    if norm2 == 0.0 or steps < 1:
        return Tridiagonal(np.zeros(0), np.zeros(0), norm2, True, False)
    dim = phi.shape[0]
    steps = min(int(steps), dim)
    if reorthogonalize is None:
        reorthogonalize = dim * steps * phi.dtype.itemsize <= REORTH_BYTES
    v = phi / np.sqrt(norm2)
    v_prev = None
    beta = 0.0
    alphas: list[float] = []
    betas: list[float] = []
    basis = xp.empty((steps, dim), dtype=phi.dtype) if reorthogonalize else None
    if basis is not None:
        basis[0] = v
    exhausted = False
    for k in range(steps):
        w = op.matvec(v)
        if w.dtype != v.dtype:
            w = w.astype(np.result_type(w.dtype, v.dtype))
        a = float(xp.real(xp.vdot(v, w)))
        alphas.append(a)
        w = w - a * v
        if v_prev is not None:
            w = w - beta * v_prev
        if basis is not None:  # classical Gram-Schmidt, twice
            done = basis[:k + 1]
            for _ in range(2):
                w = w - done.T @ (done.conj() @ w)
        b = float(xp.sqrt(xp.real(xp.vdot(w, w))))
        scale = max(1.0, abs(a), beta)
        if b <= EXHAUSTED * scale:
            exhausted = True
            break
        if k == steps - 1:
            break
        betas.append(b)
        v_prev, v, beta = v, w / b, b
        if basis is not None:
            basis[k + 1] = v
    return Tridiagonal(np.asarray(alphas), np.asarray(betas), norm2, exhausted, bool(reorthogonalize))


def continued_fraction(z: np.ndarray, tri: Tridiagonal) -> np.ndarray:
    """:math:`\\langle\\phi|(z - H)^{-1}|\\phi\\rangle` by the continued fraction, bottom up."""
    z = np.asarray(z, dtype=np.complex128)
    if tri.steps == 0:
        return np.zeros_like(z)
    t = z - tri.alphas[-1]
    for k in range(tri.steps - 2, -1, -1):
        t = z - tri.alphas[k] - tri.betas[k] ** 2 / t
    return tri.norm2 / t


def spectrum(omega: np.ndarray, tri: Tridiagonal, e0: float, eta: float, sign: int = 1) -> np.ndarray:
    """:math:`S(\\omega)` of one part: ``sign=+1`` poles at :math:`E_n - E_0`, ``-1`` at its negative."""
    z = sign * np.asarray(omega, dtype=float) + e0 + 1j * eta
    return -continued_fraction(z, tri).imag / np.pi


def poles(tri: Tridiagonal) -> tuple[np.ndarray, np.ndarray]:
    """``(energies, weights)``: the eigenvalues of :math:`T` and :math:`\\|\\phi\\|^2 Q_{0k}^2`."""
    if tri.steps == 0:
        return np.zeros(0), np.zeros(0)
    from scipy.linalg import eigh_tridiagonal

    theta, Q = eigh_tridiagonal(tri.alphas, tri.betas)
    return theta, tri.norm2 * Q[0] ** 2


__all__ = ["EXHAUSTED", "REORTH_BYTES", "Tridiagonal", "continued_fraction", "lanczos", "poles", "spectrum"]
