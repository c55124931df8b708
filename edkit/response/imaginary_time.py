r"""Imaginary-time correlators :math:`G(\tau)`.

Zero temperature (the convention of ``edkit dynamics --tau``):

.. math::  G(\tau) = \langle 0|B^\dagger(\tau)\, B|0\rangle = \sum_n |\langle n|B|0\rangle|^2
           e^{-\tau (E_n - E_0)},\qquad B^\dagger(\tau) = e^{\tau H} B^\dagger e^{-\tau H},
           \ \tau \ge 0,

summed over the operator's parts (for ``c_up``: :math:`\langle c_q(\tau) c_q^\dagger\rangle +
\langle c_q^\dagger(\tau) c_q\rangle`, each also given alone) and averaged over a degenerate
ground manifold like the spectrum. So :math:`G(0) = m_0` and, for single-part operators,
:math:`-G'(0) = m_1`. From the exact poles (Lehmann) or the Lanczos poles (the continued
fraction's), whose first :math:`2M` moments are exact, so :math:`G(\tau)` is accurate where
:math:`\tau` is not so large that unconverged high poles matter (they decay fastest).

Finite temperature (exact sizes only): the canonical ensemble at fixed ``N``, every ``Sz``
sector (spinful models), with :math:`Z = \sum_m e^{-\beta E_m}`,

.. math::  G_\beta(\tau) = \frac{1}{Z}\sum_{m,n} e^{-\beta E_m} |\langle n|B|m\rangle|^2
           e^{-\tau (E_n - E_m)}, \qquad 0 \le \tau \le \beta,

by Lehmann sums over the full spectra of every sector that enters.
"""

from __future__ import annotations

import numpy as np

from edkit.response.lehmann import Poles


def correlator(poles: Poles, tau: np.ndarray) -> np.ndarray:
    """:math:`G(\\tau) = \\sum_k w_k e^{-\\tau \\epsilon_k}` at zero temperature."""
    tau = np.asarray(tau, dtype=float)
    if len(poles.weight) == 0:
        return np.zeros_like(tau)
    return (poles.weight[None, :] * np.exp(-tau[:, None] * poles.excitation[None, :])).sum(1)


def thermal_correlator(terms, sources, tau: np.ndarray, beta: float) -> np.ndarray:
    """:math:`G_\\beta(\\tau)` (module docstring).

    ``terms``: ``(E_m, E_n, W)`` triples, source and target energies of one source sector and one
    part with ``W[n, m]`` :math:`= |\\langle n|B|m\\rangle|^2`; ``sources``: the energies of every
    sector of the ensemble (for :math:`Z`).
    """
    tau = np.asarray(tau, dtype=float)
    e_min = min(float(e.min()) for e in sources)
    z = sum(float(np.exp(-beta * (e - e_min)).sum()) for e in sources)
    out = np.zeros_like(tau)
    for e_m, e_n, W in terms:
        for i, t in enumerate(tau):
            a = np.exp(-(beta - t) * (e_m - e_min))
            b = np.exp(-t * (e_n - e_min))
            out[i] += float(b @ W @ a)
    return out / z


__all__ = ["correlator", "thermal_correlator"]
