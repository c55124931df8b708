"""The three-vector Lanczos recursion for a ground energy, written once for every backend.

The CPU matrix-free path (:func:`edkit.engine.matfree.lanczos_ground_energy`, numba kernels on host
arrays) and the GPU backend (:func:`edkit.engine.gpu_device.lanczos_ground_energy`, CUDA kernels on
device arrays) differ only in how they apply ``H`` and update a vector; the recursion, its scale
bookkeeping and its stopping rule live here.

The recursion keeps three vectors and no re-orthogonalization. Loss of orthogonality creates
spurious copies of converged Ritz values but does not move the lowest one, so the *energy* is
reliable (no eigenvector, no multiplicity). The Lanczos vector is kept as ``v = s W`` with a scale
factor ``s``, so that a step is one pass of the matvec (which also returns ``<W, H W>``) and one fused
pass ``W_prev <- s H W - alpha s W - beta s_prev W_prev`` that returns its squared norm: no temporaries.

Stopping rule (checked every ``check_every`` steps), whichever comes first:

- the residual norm of the lowest Ritz pair, ``beta_k |s_k|``, is below ``residual * (1 + |E|)``
  (the energy error is then about ``residual^2 / gap``);
- the lowest Ritz value moved by less than ``energy_tol * (1 + |E|)`` over each of the last two check
  intervals (``energy_tol=None`` disables this). Ritz values decrease monotonically and converge
  geometrically, so this bounds the energy error; the residual rule alone asks for far more steps
  than the energy needs (at 7 rungs: 225 steps for ``residual=1e-8`` against 170 for an energy
  converged to 1e-11).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg import eigh_tridiagonal

#: A ``beta`` below this ends the recursion: the Krylov space is invariant (exhausted).
INVARIANT_BETA = 1e-14


def three_vector_lanczos(matvec: Callable[[], float], update: Callable[[float, float, float], float],
                         swap: Callable[[], None], scale: float, *, residual: float = 1e-8,
                         energy_tol: float | None = 1e-12, maxiter: int = 2000, check_every: int = 5,
                         progress: Callable[[str], None] | None = None, label: str = "Lanczos") -> dict:
    """Lowest eigenvalue by the three-vector recursion (module docstring), on the caller's vectors.

    Parameters
    ----------
    matvec
        ``Y = H W`` for the current ``W``; returns ``Re <W, H W>``.
    update
        ``update(a, b, c)``: ``W_prev <- a Y - b W - c W_prev`` in place; returns ``||W_prev||^2``.
    swap
        Exchange the roles of ``W`` and ``W_prev`` (the new vector becomes ``W``).
    scale
        ``1 / ||W||`` of the start vector (``v = scale * W`` is the first Lanczos vector).
    residual, energy_tol, maxiter, check_every
        The stopping rule (module docstring) and the step limit.
    progress
        Called with one line per check (``None``: silent), starting with ``label``.

    Returns
    -------
    dict
        ``{"energy", "iterations", "converged", "criterion", "residual", "energy_change"}``
        (``criterion``: ``"residual"``, ``"energy"`` or ``None`` when not converged in ``maxiter`` steps).
    """
    s, sp = scale, 0.0  # v = s W, v_prev = sp W_prev
    alphas: list[float] = []
    betas: list[float] = []
    beta = 0.0
    energy, res, change = np.inf, np.inf, np.inf
    history: list[float] = []
    for it in range(1, maxiter + 1):
        alpha = s * s * matvec()  # <v, H v>
        alphas.append(alpha)
        beta = float(np.sqrt(update(s, alpha * s, beta * sp)))  # w = H v - alpha v - beta v_prev
        if it % check_every == 0 or beta < INVARIANT_BETA or it == maxiter:
            vals, vecs = eigh_tridiagonal(np.array(alphas), np.array(betas), select="i", select_range=(0, 0))
            energy, res = float(vals[0]), beta * abs(float(vecs[-1, 0]))
            history.append(energy)
            change = history[-3] - energy if len(history) >= 3 else np.inf
            if progress is not None:
                progress(f"{label} step {it}: E = {energy:.12f}, residual {res:.2e}")
            criterion = None
            if res <= residual * (1 + abs(energy)) or beta < INVARIANT_BETA:
                criterion = "residual"
            elif (energy_tol is not None and len(history) >= 3
                  and max(history[-3] - history[-2], history[-2] - energy) <= energy_tol * (1 + abs(energy))):
                criterion = "energy"
            if criterion:
                return {"energy": energy, "iterations": it, "converged": True, "criterion": criterion,
                        "residual": res, "energy_change": float(change)}
        betas.append(beta)
        swap()
        sp, s = s, 1.0 / beta
    return {"energy": energy, "iterations": maxiter, "converged": False, "criterion": None,
            "residual": res, "energy_change": float(change)}


__all__ = ["INVARIANT_BETA", "three_vector_lanczos"]
