"""High-level numeric API: spectra, gaps and correlators of a model in a sector.

All functions take either a model name (with ``L`` and ``bc``) or a built
:class:`~edkit.core.model.Model` and a mapping of parameter values. :func:`spectrum`, :func:`gaps`
and :func:`correlations` return typed results (:class:`~edkit.observables.results.SpectrumResult`,
:class:`~edkit.observables.results.GapsResult`, :class:`~edkit.observables.results.CorrelationsResult`):
dataclasses with typed attributes that are also read-only mappings with the JSON keys;
``result.to_dict()`` is the plain data that serializes to JSON.

This module is the public face; the computations live with their observables in
:mod:`edkit.observables` (registry, spectrum, gaps, correlations) and the solver entry points in
:mod:`edkit.engine.solve`.

Definitions
-----------
- ``charge_gap``: :math:`E(N+2) + E(N-2) - 2E(N)` (Eq. (12)), each at the lowest ``|Sz|``
  (``Sz = 0`` for even N).
- ``spin_gap``: :math:`E(N, S_z=1) - E(N, S_z=0)` (even N).
- ``pair_binding``: :math:`E(N+2) + E(N) - 2E(N+1)`, ``E(N+1)`` at ``Sz = 1/2``.
- ``neutral_gap``: :math:`E_1 - E_0` in the sector ``(N, Sz)`` (zero if degenerate).

A gap is ``None`` where a sector it needs has no states (the table
:data:`edkit.observables.gaps.GAPS` holds these formulas).

- Correlators are ground-state expectation values; a degenerate ground state is averaged over
  its degenerate levels in the sector (found among the lowest ``nev`` levels).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from edkit.core.model import Sector
from edkit.engine.solve import (
    MATRIX_FREE_DIMENSION,
    METHODS,
    MatrixFreeSpace,
    get_model,
    ground_energy,
    solve_sector,
)
from edkit.observables.correlations import correlations as _correlations
from edkit.observables.correlations import expectation, ground_states
from edkit.observables.gaps import GAP_NAMES
from edkit.observables.gaps import gaps as _gaps
from edkit.observables.results import CorrelationsResult, GapsResult, SpectrumResult, typed
from edkit.observables.spectrum import spectrum as _spectrum


def _typed(cls: type, compute: Callable) -> Callable:
    """``compute`` (same signature and docstring) returning ``cls`` instead of a plain dict."""

    @functools.wraps(compute)
    def wrapper(*args, **kwargs):
        return typed(cls, compute(*args, **kwargs))

    wrapper.__annotations__ = {**compute.__annotations__, "return": cls.__name__}
    return wrapper


spectrum = _typed(SpectrumResult, _spectrum)
gaps = _typed(GapsResult, _gaps)
correlations = _typed(CorrelationsResult, _correlations)

__all__ = ["GAP_NAMES", "MATRIX_FREE_DIMENSION", "METHODS", "CorrelationsResult", "GapsResult",
           "MatrixFreeSpace", "Sector", "SpectrumResult", "correlations", "expectation", "gaps", "get_model",
           "ground_energy", "ground_states", "solve_sector", "spectrum"]
