"""Observables: one registry that the API, sweeps, ``edkit compare``, the CLI and the docs read.

Each observable is one :class:`Observable` (name, summary, options, kind, columns, whether it
applies to a model, how it is computed), registered in the file that computes it:

- :mod:`edkit.observables.spectrum`: ``energy`` and ``spectrum`` (and :func:`spectrum`);
- :mod:`edkit.observables.gaps`: ``gaps``, each gap a formula over sector energies (:data:`GAPS`);
- :mod:`edkit.observables.correlations`: ``correlations``;
- model families register theirs in :mod:`edkit.studies` (``binding`` for two wires, ``drude``,
  ``stability`` for the polarizer pair), loaded on first look-up.

Importing this package loads neither NumPy nor QuSpin; the computations import them when they run.
"""

from __future__ import annotations

from edkit.observables.registry import (
    NAMES,
    REGISTRY,
    Observable,
    ObservableError,
    UnknownObservableError,
    evaluate,
    get,
    load_families,
    names,
    offered,
    owner,
    owners,
    register,
    split_sector,
    unregister,
)

# the built-in observables register in this order: energy, spectrum, gaps, correlations
# isort: off
from edkit.observables.spectrum import spectrum
from edkit.observables.gaps import GAP_NAMES, GAPS, Energy, Gap, SectorEnergies, gaps
from edkit.observables.correlations import CORRELATOR_KEYS, correlations
# isort: on

__all__ = ["CORRELATOR_KEYS", "GAPS", "GAP_NAMES", "NAMES", "REGISTRY", "Energy", "Gap", "Observable",
           "ObservableError", "SectorEnergies", "UnknownObservableError", "correlations", "evaluate", "gaps",
           "get", "load_families", "names", "offered", "owner", "owners", "register", "spectrum",
           "split_sector", "unregister"]
