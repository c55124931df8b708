"""Finite-temperature averages: exact (full diagonalization) and finite-temperature Lanczos (FTLM).

- :mod:`edkit.thermodynamics.ensemble`: the sectors of the canonical and grand-canonical ensembles;
- :mod:`edkit.thermodynamics.quantities`: the quantities and their operators;
- :mod:`edkit.thermodynamics.sector`: a sector's Hamiltonian operator (from a backend) and the quantities'
  operators on its vectors;
- :mod:`edkit.thermodynamics.exact`, :mod:`edkit.thermodynamics.ftlm`: one sector's data, exact or sampled;
- :mod:`edkit.thermodynamics.run`: :func:`thermal_averages`, the sums, error bars and low-temperature flags;
- :mod:`edkit.thermodynamics.result`: :class:`ThermalResult`;
- :mod:`edkit.thermodynamics.observable`: the ``thermal`` observable of the registry (sweeps, compare).

This package sits at the observables level: it imports the core, the models and the engine.
"""

from __future__ import annotations

from edkit.thermodynamics.result import ThermalResult
from edkit.thermodynamics.run import (
                                      AUTO_EXACT_DIMENSION,
                                      AUTO_EXACT_SECONDS,
                                      LOW_T_RELATIVE_ERROR,
                                      METHODS,
                                      thermal_averages,
)

__all__ = ["AUTO_EXACT_DIMENSION", "AUTO_EXACT_SECONDS", "LOW_T_RELATIVE_ERROR", "METHODS", "ThermalResult",
           "thermal_averages"]
