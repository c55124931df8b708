r"""Statistics of a comparison with error bars: deviations in sigmas, :math:`\chi^2`, verdicts.

Conventions
-----------
- A value ``x`` with error bar ``s_x`` (one standard deviation, e.g. a QMC statistical error) is
  compared with a reference ``r`` that may carry its own error ``s_r`` (0 for exact ED; the sample
  error of finite-temperature Lanczos). The errors are taken as independent and Gaussian, so the
  deviation in units of the combined error is

  .. math:: z = \frac{x - r}{\sqrt{s_x^2 + s_r^2}}.

  Without any error (``s_x = s_r = 0``) there is no ``z`` (``None``): such values are judged by
  an absolute/relative tolerance (DMRG rows) and enter no :math:`\chi^2`.
- :math:`\chi^2 = \sum z^2` over the values that have a ``z``; the number of degrees of freedom
  is their count (the reference is not fitted to the data), ``chi2_per_dof = chi2 / dof``.
- ``p_value`` is the probability of a :math:`\chi^2` at least this large for ``dof`` degrees of
  freedom, :math:`Q(\mathrm{dof}/2, \chi^2/2)` (the regularized upper incomplete gamma function,
  from ``scipy.special`` when SciPy is importable; ``None`` otherwise).
- A value passes at ``K`` sigmas when ``|z| <= K``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


def combined_error(error: float | None, ref_error: float | None = None) -> float:
    """The combined standard deviation :math:`\\sqrt{s_x^2 + s_r^2}` (missing errors count as 0)."""
    return math.hypot(error or 0.0, ref_error or 0.0)


def z_score(value: float, reference: float, error: float | None, ref_error: float | None = None
            ) -> float | None:
    """Deviation ``(value - reference)`` in units of the combined error; ``None`` without errors."""
    sigma = combined_error(error, ref_error)
    if sigma == 0.0:
        return None
    return (value - reference) / sigma


def p_value(chi2: float, dof: int) -> float | None:
    """Upper tail probability of the :math:`\\chi^2` distribution; ``None`` without SciPy or dof."""
    if dof <= 0:
        return None
    try:
        from scipy.special import gammaincc
    except ImportError:  # pragma: no cover  (SciPy comes with QuSpin)
        return None
    return float(gammaincc(dof / 2.0, chi2 / 2.0))


@dataclass(frozen=True)
class ChiSquare:
    """:math:`\\chi^2` of a set of deviations ``z``."""

    chi2: float
    dof: int
    chi2_per_dof: float | None
    p_value: float | None

    def to_dict(self) -> dict:
        return {"chi2": self.chi2, "dof": self.dof, "chi2_per_dof": self.chi2_per_dof,
                "p_value": self.p_value}


def chi_square(zs: Iterable[float | None]) -> ChiSquare:
    """:math:`\\chi^2 = \\sum z^2` over the given deviations (``None`` entries are skipped)."""
    vals = [float(z) for z in zs if z is not None]
    chi2 = math.fsum(z * z for z in vals)
    dof = len(vals)
    return ChiSquare(chi2, dof, chi2 / dof if dof else None, p_value(chi2, dof))


def passes(z: float | None, sigmas: float) -> bool | None:
    """Whether ``|z| <= sigmas`` (``None`` when there is no ``z``)."""
    return None if z is None else abs(z) <= sigmas


__all__ = ["ChiSquare", "chi_square", "combined_error", "p_value", "passes", "z_score"]
