"""Dynamics: spectral functions by Lehmann sums and continued fractions, imaginary-time correlators.

Issue 15, item 2 (dynamical response). :func:`dynamics` is the entry point (``edkit dynamics`` and the
public :func:`edkit.dynamics`):

- :mod:`edkit.response.operators`: the momentum-resolved operators :math:`O_q` (``sz``, ``n``,
  ``c_up``, ``pair``), their parts (addition/removal) and their action between sectors;
- :mod:`edkit.response.lehmann`: exact Lehmann sums (full diagonalization);
- :mod:`edkit.response.continued_fraction`: the Lanczos continued fraction;
- :mod:`edkit.response.imaginary_time`: :math:`G(\\tau)` at zero and finite temperature;
- :mod:`edkit.response.sum_rules`: the moments reported next to the spectrum;
- :mod:`edkit.response.result`: :class:`DynamicsResult`;
- :mod:`edkit.response.run`: validation and orchestration.

Layer: observables (imports core, models, engine, observables).
"""

from __future__ import annotations

from edkit.response.operators import OPERATORS, parse_q
from edkit.response.result import DynamicsResult
from edkit.response.run import METHODS, dynamics, parse_grid

__all__ = ["METHODS", "OPERATORS", "DynamicsResult", "dynamics", "parse_grid", "parse_q"]
