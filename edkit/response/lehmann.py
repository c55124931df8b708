r"""Lehmann sums by full diagonalization (small sectors: the exact reference).

For a ground state :math:`|0\rangle` and a part :math:`B` of the operator (see
:mod:`edkit.response.operators`), with :math:`H|n\rangle = E_n|n\rangle` in the target sector,

.. math::  S_B(\omega) = \sum_n |\langle n|B|0\rangle|^2\,
           \frac{\eta/\pi}{(\omega - s(E_n - E_0))^2 + \eta^2},

``s = +1`` for single-part operators and additions, ``-1`` for removals. Poles are kept as
``(omega, weight, excitation)`` with ``excitation`` :math:`E_n - E_0`
(:class:`Poles`); the spectrum, the moments and :math:`G(\tau)` all read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edkit.core.errors import InputError

#: Largest sector that ``method="exact"`` diagonalizes fully (dense, ``8 dim^2`` bytes).
EXACT_MAX_DIMENSION = 6000
#: Largest sector that ``method="auto"`` sends to the exact Lehmann sum.
EXACT_AUTO_DIMENSION = 1500


@dataclass
class Poles:
    """Spectral poles: positions :math:`\\omega_k`, weights :math:`w_k`, excitations :math:`\\epsilon_k`."""

    omega: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0))
    excitation: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def extend(self, omega, weight, excitation) -> None:
        self.omega = np.concatenate([self.omega, np.asarray(omega, dtype=float)])
        self.weight = np.concatenate([self.weight, np.asarray(weight, dtype=float)])
        self.excitation = np.concatenate([self.excitation, np.asarray(excitation, dtype=float)])

    def lorentzian(self, omega: np.ndarray, eta: float, chunk: int = 2048) -> np.ndarray:
        """:math:`\\sum_k w_k\\,(\\eta/\\pi)/((\\omega - \\omega_k)^2 + \\eta^2)` on a grid."""
        omega = np.asarray(omega, dtype=float)
        out = np.zeros_like(omega)
        for s in range(0, len(self.omega), chunk):
            p, w = self.omega[s:s + chunk], self.weight[s:s + chunk]
            out += (w[:, None] * (eta / np.pi) / ((omega[None, :] - p[:, None]) ** 2 + eta ** 2)).sum(0)
        return out

    def window_weight(self, lo: float, hi: float, eta: float) -> float:
        """Weight of the broadened spectrum inside ``[lo, hi]`` (exact integral of the Lorentzians)."""
        return float(np.sum(self.weight * (np.arctan((hi - self.omega) / eta)
                                           - np.arctan((lo - self.omega) / eta))) / np.pi)


def check_exact(dimension: int, what: str) -> None:
    """Refuse a full diagonalization above :data:`EXACT_MAX_DIMENSION` (before any work)."""
    if dimension > EXACT_MAX_DIMENSION:
        raise InputError(f"method exact diagonalizes {what} fully, but it has {dimension:,} states "
                         f"(at most {EXACT_MAX_DIMENSION:,}); use --method lanczos")


def diagonalize(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Every eigenvalue and eigenvector of a (sparse or dense) Hermitian matrix."""
    from edkit.engine.threads import blas_threads

    dense = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    with blas_threads():
        return np.linalg.eigh(dense)


def ground_manifold(energies: np.ndarray, tol: float = 1e-8) -> int:
    """Number of levels degenerate with the lowest (relative ``tol``)."""
    e0 = energies[0]
    return int(np.sum(np.abs(energies - e0) <= tol * (1 + abs(e0))))


def lehmann_poles(phi: np.ndarray, energies: np.ndarray, vectors: np.ndarray, e0: float, sign: int,
                  scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(omega, weight, excitation)`` of :math:`|\\phi\\rangle = B|0\\rangle` on a diagonalized sector."""
    amplitude = vectors.conj().T @ phi
    weight = scale * np.abs(amplitude) ** 2
    excitation = energies - e0
    return sign * excitation, weight, excitation


__all__ = ["EXACT_AUTO_DIMENSION", "EXACT_MAX_DIMENSION", "Poles", "check_exact", "diagonalize",
           "ground_manifold", "lehmann_poles"]
