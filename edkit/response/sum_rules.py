r"""Sum rules reported next to every spectrum.

For the parts :math:`B_p` (signs :math:`s_p`, see :mod:`edkit.response.operators`) and the ground
state :math:`|0\rangle` (averaged over a degenerate manifold),

.. math::  m_0 = \sum_p \langle 0|B_p^\dagger B_p|0\rangle, \qquad
           m_1 = \sum_p s_p\,\langle 0|B_p^\dagger [H, B_p]|0\rangle
               = \sum_p s_p\,(\langle\phi_p|H|\phi_p\rangle - E_0\langle\phi_p|\phi_p\rangle),

with :math:`|\phi_p\rangle = B_p|0\rangle` and :math:`H|0\rangle = E_0|0\rangle`, computed directly
from the vectors (one extra :math:`H` application). They equal :math:`\int S\,d\omega` and
:math:`\int \omega S\,d\omega` of the unbroadened spectrum. Reported as

- ``m0``, ``m1``: the direct expectation values;
- ``m0_poles``, ``m1_poles``: the same moments from the spectrum's poles (exact Lehmann, or the
  Lanczos poles, whose low moments are exact);
- ``m0_spectrum``, ``m1_spectrum``: the trapezoid integrals of the printed broadened spectrum over
  the ``omega`` grid (they miss the Lorentzian tails outside the grid);
- ``m0_window``: the exact weight of the broadened spectrum inside the grid (what ``m0_spectrum``
  should approach on a fine grid).

For ``c_up``, :math:`m_0 = \langle c_q c_q^\dagger + c_q^\dagger c_q\rangle = 1`.
"""

from __future__ import annotations

import numpy as np

from edkit.response.lehmann import Poles


def sum_rules(m0: float, m1: float, poles: Poles, omega: np.ndarray, spectrum: np.ndarray,
              eta: float) -> dict[str, float]:
    """The ``sum_rules`` mapping (module docstring)."""
    omega = np.asarray(omega, dtype=float)
    if len(omega) > 1:
        m0_s = float(np.trapezoid(spectrum, omega))
        m1_s = float(np.trapezoid(omega * spectrum, omega))
    else:
        m0_s = m1_s = 0.0
    return {"m0": float(m0), "m0_poles": float(poles.weight.sum()), "m0_spectrum": m0_s,
            "m0_window": poles.window_weight(float(omega[0]), float(omega[-1]), eta),
            "m1": float(m1), "m1_poles": float((poles.weight * poles.omega).sum()), "m1_spectrum": m1_s}


__all__ = ["sum_rules"]
