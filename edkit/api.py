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
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from edkit.response.result import DynamicsResult
    from edkit.thermodynamics.result import ThermalResult


def _typed(cls: type, compute: Callable) -> Callable:
    """``compute`` (same signature and docstring) returning ``cls`` instead of a plain dict."""

    @functools.wraps(compute)
    def wrapper(*args, **kwargs):
        return typed(cls, compute(*args, **kwargs))

    wrapper.__annotations__ = {**compute.__annotations__, "return": cls.__name__}
    return wrapper


def _on_device(compute: Callable) -> Callable:
    """``compute`` with a keyword ``device="auto" | "cpu" | "gpu"``: every sector it solves follows it
    (:mod:`edkit.engine.devices`; ``"gpu"`` without CuPy or a CUDA device raises ``DeviceError``)."""
    import inspect

    from edkit.engine.devices import use

    @functools.wraps(compute)
    def wrapper(*args, device: str = "auto", **kwargs):
        with use(device):
            return compute(*args, **kwargs)

    sig = inspect.signature(compute)
    extra = inspect.Parameter("device", inspect.Parameter.KEYWORD_ONLY, default="auto", annotation="str")
    wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), extra])
    wrapper.__annotations__ = {**compute.__annotations__, "device": "str"}
    # the signature is __signature__'s, not a source's: no __wrapped__ and no source file, so that
    # tools reading defaults from the source (Sphinx autodoc_preserve_defaults) use the signature
    del wrapper.__wrapped__
    wrapper.__code__ = wrapper.__code__.replace(co_filename="<edkit.api device wrapper>")
    return wrapper


spectrum = _on_device(_typed(SpectrumResult, _spectrum))
gaps = _on_device(_typed(GapsResult, _gaps))
correlations = _on_device(_typed(CorrelationsResult, _correlations))


def dynamics(model, values=None, **options) -> DynamicsResult:
    """Spectral function :math:`S(q, \\omega)` (and :math:`G(\\tau)`) of an operator at momentum ``q``.

    Keyword options (``operator``, ``q``, ``omega``, ``eta``, ``N``, ``Sz``, ``L``, ``bc``,
    ``layer``, ``method``, ``steps``, ``tau``, ``beta``, ...) and conventions:
    :func:`edkit.response.run.dynamics`. Returns a :class:`~edkit.response.result.DynamicsResult`.
    """
    from edkit.response import dynamics as _dynamics

    return _dynamics(model, values, **options)


def thermal(model, values=None, *, betas, L: int | None = None, bc: str = "open", sector=None,
            mu: float | None = None, method: str = "auto", samples: int = 20, steps: int = 100, seed: int = 0,
            observables=None, device: str = "cpu") -> ThermalResult:
    """Thermal averages (energy, specific heat, ``N``, double occupancy, susceptibilities, correlators)
    at each inverse temperature in ``betas``, exact or by finite-temperature Lanczos.

    ``model`` is a name (built at ``L``, ``bc``) or a model; the rest as
    :func:`edkit.thermodynamics.run.thermal_averages`. Returns a
    :class:`~edkit.thermodynamics.result.ThermalResult`
    (``to_dict()`` is the JSON of ``edkit thermal --json``).
    """
    from edkit.thermodynamics import thermal_averages

    return thermal_averages(get_model(model, L, bc), values, betas=betas, sector=sector, mu=mu, method=method,
                            samples=samples, steps=steps, seed=seed, observables=observables, device=device)


__all__ = ["GAP_NAMES", "MATRIX_FREE_DIMENSION", "METHODS", "CorrelationsResult", "GapsResult",
           "MatrixFreeSpace", "Sector", "SpectrumResult", "correlations", "dynamics", "expectation", "gaps",
           "get_model", "ground_energy", "ground_states", "solve_sector", "spectrum", "thermal"]
