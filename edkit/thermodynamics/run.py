r"""Thermal averages of a model: plan, solve every sector, sum with Boltzmann weights, error bars.

:func:`thermal_averages` is the entry point (also :func:`edkit.thermal` and ``edkit thermal``).

Method
------
- ``"exact"``: every sector of the ensemble (:mod:`edkit.thermodynamics.ensemble`) is diagonalized in full
  (:mod:`edkit.thermodynamics.exact`), in the symmetry blocks that hold on it
  (:mod:`edkit.engine.dense_blocks`); refused before anything is built, with the estimate, when the dense
  matrices do not fit in memory (:func:`edkit.engine.memory.memory_limit`) or would take longer than
  :data:`~edkit.thermodynamics.exact.EXACT_SECONDS`.
- ``"ftlm"``: finite-temperature Lanczos (:mod:`edkit.thermodynamics.ftlm`), ``samples`` random vectors of
  ``steps`` Lanczos steps per sector, on the backend operator of each sector (the matrix-free kernel
  where it applies, else the stored matrix; the GPU one with ``device="gpu"``). Sectors of at most
  ``exact_dimension`` states (default ``steps``: a Krylov space that large is the whole sector) are
  diagonalized exactly instead.
- ``"auto"``: ``exact`` when the largest sector has at most :data:`AUTO_EXACT_DIMENSION` states, or when
  the exact run is planned at no more than :data:`AUTO_EXACT_SECONDS` and fits in memory (sectors in
  symmetry blocks: the 4-rung periodic bilayer at half filling, 4,900 states, takes ~2 s exactly); else
  ``ftlm``.

Sums and overflow
-----------------
With levels (or Ritz values) :math:`E` of a sector of ``N`` particles, the weights are
:math:`e^{-\beta(E - \mu N - E_0)}` with :math:`E_0` the lowest :math:`E - \mu N` found in the run (the
lowest Ritz value: no extra eigensolve), so no weight exceeds one. Moments of ``H`` use
:math:`E - E_{\min}` (no cancellation in the variance).

Error bars (FTLM)
-----------------
Sample ``r`` of every sector together is one estimate of every trace (:math:`D/R` times the sample's
sum in each FTLM sector, plus the exact sectors' sums); a ratio such as
:math:`\langle H\rangle = \mathrm{Tr}(He^{-\beta H})/Z` is formed from the averaged traces and its error
is the jackknife error over the ``R`` samples (leave one sample out), reported per point as
``<quantity>_error``. One sample gives no error bar (``None``, with a warning). Exact results have
error 0.

Low temperature (FTLM)
----------------------
When the ground state dominates, every sample's weight of it, :math:`|\langle r|\psi_0\rangle|^2`, is a
single random number and the sampled ``Z`` fluctuates like it. A point is flagged
``low_temperature`` when the relative error of ``Z`` exceeds :data:`LOW_T_RELATIVE_ERROR` (for ``R = 20``
this happens below about ten thermally populated states). There the asymmetric FTLM averages of
operators that do not commute with ``H`` (double occupancy, correlators) are noise with an error bar
that cannot be trusted, so they are reported as ``None``; the energy, specific heat, ``N`` and the
susceptibilities (functions of the Ritz values and the sector weights) are kept with their jackknife
errors. The result's ``warnings`` say so and name the ground-state limit: ``ground_energy`` (the lowest
Ritz value) and ``edkit correlations`` for T = 0 correlators, or ``method="exact"`` for small systems.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from edkit.core.errors import InputError
from edkit.core.model import Model
from edkit.core.units import approx_seconds, format_bytes, format_count
from edkit.thermodynamics.ensemble import GRAND_CANONICAL, Ensemble, build_ensemble, parse_betas
from edkit.thermodynamics.ftlm import BLOCK, Sample, lanczos_sample, random_vector
from edkit.thermodynamics.quantities import SCALARS, operator_quantities, resolve_observables
from edkit.thermodynamics.result import ThermalResult

#: ``method`` values.
METHODS = ("auto", "exact", "ftlm")
#: ``auto`` diagonalizes exactly when the largest sector has at most this many states ...
AUTO_EXACT_DIMENSION = 2000
#: ... or when the exact run is planned (:func:`edkit.thermodynamics.exact.sector_cost`) at most this long.
AUTO_EXACT_SECONDS = 20.0
#: A point is flagged ``low_temperature`` when the relative error of ``Z`` exceeds this (FTLM).
LOW_T_RELATIVE_ERROR = 0.1
#: Sectors of at least this many states report their progress on stderr.
PROGRESS_STATES = 200_000


def _positive_int(value: object, name: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if value < least:
        raise InputError(f"{name} must be at least {least}, got {value}")
    return int(value)


def _check_method(method: object) -> str:
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return str(method)


def _value_bytes(model: Model) -> int:
    from edkit.engine.sizes import has_complex_terms

    return 16 if has_complex_terms(model) else 8


def _plan_exact(model: Model, values: Mapping[str, object], terms: Sequence) -> None:
    """Refuse an exact run whose largest sector would not fit or whose sectors would take too long
    (:func:`edkit.thermodynamics.exact.sector_cost`: per symmetry block where blocks apply)."""
    from edkit.engine.memory import TooLargeError, memory_limit
    from edkit.thermodynamics.exact import EXACT_SECONDS

    if not terms:
        return
    peak, seconds, costs = _exact_costs(model, values, terms)
    limit = memory_limit()
    if peak > limit or seconds > EXACT_SECONDS:
        largest = max(t.dimension for t in terms)
        blocks = max(c[2] for c, t in zip(costs, terms) if t.dimension == largest)
        why = (f"~{format_bytes(peak)} for the largest sector's dense matrices (limit {format_bytes(limit)})"
               if peak > limit else f"{approx_seconds(seconds)} (limit {approx_seconds(EXACT_SECONDS)})")
        split = f", in {blocks} symmetry blocks" if blocks > 1 else ""
        raise TooLargeError(
            f"exact thermal averages of {model.name} L={model.lattice.L} need the full diagonalization of "
            f"{len(terms)} sector(s) of up to {format_count(largest)} states{split}: {why}; use method "
            f"'ftlm' (--method ftlm) for sectors this large")


def _exact_costs(model: Model, values: Mapping[str, object], terms: Sequence) -> tuple[int, float, list]:
    """``(peak bytes, rough seconds, per-sector costs)`` of solving these sectors exactly, one at a time
    (:func:`edkit.thermodynamics.exact.sector_cost`: per symmetry block where blocks apply)."""
    from edkit.thermodynamics.exact import sector_cost

    complex_values = _value_bytes(model) == 16
    costs = [sector_cost(model, values, t.sector, t.dimension, complex_values) for t in terms]
    return max(c[0] for c in costs), sum(c[1] for c in costs), costs


def _exact_affordable(model: Model, values: Mapping[str, object], ens: Ensemble) -> bool:
    """Whether the exact run is planned at most :data:`AUTO_EXACT_SECONDS` and within the memory limit."""
    from edkit.engine.memory import memory_limit

    peak, seconds, _ = _exact_costs(model, values, ens.terms)
    return seconds <= AUTO_EXACT_SECONDS and peak <= memory_limit()


def _plan_ftlm(model: Model, ens: Ensemble, dims: Sequence[int], n_ops: int, backends: Sequence[str]) -> None:
    from edkit.engine.memory import TooLargeError, memory_limit
    from edkit.engine.sizes import sector_size

    value = _value_bytes(model)
    peak = 0
    for t, name in zip(ens.terms, backends):
        if t.dimension not in dims:
            continue
        vectors = (4 + (BLOCK + n_ops if n_ops else 0)) * t.dimension * value
        matrix = sector_size(model, t.sector).nonzeros * 12 * 3 if name == "stored" else 0
        peak = max(peak, vectors + matrix)
    limit = memory_limit()
    if peak > limit:
        raise TooLargeError(
            f"FTLM of {model.name} L={model.lattice.L} needs ~{format_bytes(peak)} for its largest sector "
            f"({format_count(max(dims))} states: the Lanczos vectors"
            + (f", {n_ops} operator vectors A|r> and a block of {BLOCK}" if n_ops else "")
            + f"; limit {format_bytes(limit)}): ask fewer correlators or a smaller system")


def _stderr(message: str) -> None:
    print(f"edkit: {message}", file=sys.stderr, flush=True)


def _ftlm_sector(model: Model, values: Mapping[str, float], term, quantities, samples: int, steps: int,
                 seed: int, backend: str, progress: Callable[[str], None] | None) -> list[Sample]:
    from edkit.engine.lanczos import numba_threads
    from edkit.thermodynamics.sector import SectorOperators, sector_operator

    start = time.perf_counter()
    op, space = sector_operator(model, values, term.sector, backend)
    xp = getattr(op, "array_module", np)
    operators = SectorOperators(space, quantities) if quantities else None
    complex_values = np.dtype(op.dtype).kind == "c"
    out = []
    with numba_threads(term.dimension):
        for r in range(samples):
            v = random_vector(term.dimension, complex_values, seed, (term.sector.n_up, term.sector.n_dn), r)
            rows = None
            if operators is not None:
                rows = xp.asarray(np.stack([operators.apply(k, v) for k in range(len(operators))]))
            out.append(lanczos_sample(op, xp.asarray(v), steps, rows))
            if progress is not None:
                progress(f"sector N={term.N}, Sz={term.Sz:g} ({format_count(term.dimension)} states): sample "
                         f"{r + 1}/{samples} done, {time.perf_counter() - start:.1f} s")
    return out


def _sums(ens: Ensemble, data: Sequence[tuple], betas: np.ndarray, R: int, n_ops: int,
          mu: float) -> tuple[np.ndarray, float]:
    """Traces per sample: ``S[q, b, r]`` with ``q`` = Z, H-E_min, (H-E_min)^2, N, N^2, Sz, Sz^2, ops."""
    e_min = min(float(np.min(s.energies)) for _, _, ss in data for s in ss)
    shift = min(float(np.min(s.energies)) - mu * t.N for t, _, ss in data for s in ss)
    S = np.zeros((7 + n_ops, len(betas), R))
    for term, kind, samples in data:
        mult = len(term.images)
        n_sum = sum(N for N, _ in term.images)
        n2_sum = sum(N * N for N, _ in term.images)
        sz_sum = sum(sz for _, sz in term.images)
        sz2_sum = sum(sz * sz for _, sz in term.images)
        for r, s in enumerate(samples):
            boltz = np.exp(-np.outer(betas, s.energies - mu * term.N - shift))  # (nb, m) <= 1
            x = s.energies - e_min
            z = boltz @ s.weights
            part = np.empty((7 + n_ops, len(betas)))
            part[0] = mult * z
            part[1] = mult * (boltz @ (s.weights * x))
            part[2] = mult * (boltz @ (s.weights * x * x))
            part[3], part[4] = n_sum * z, n2_sum * z
            part[5], part[6] = sz_sum * z, sz2_sum * z
            if n_ops:
                part[7:] = mult * (s.values @ boltz.T)
            if kind == "exact":
                S += part[:, :, None]
            else:
                S[:, :, r] += term.dimension * part
    return S, e_min


def _quantities(S: np.ndarray, betas: np.ndarray, e_min: float, factors: np.ndarray) -> np.ndarray:
    """``[energy, specific_heat, N, spin_susceptibility, charge_susceptibility, ops...]`` of traces
    ``S[q, b, ...]`` (any trailing axes)."""
    b = betas.reshape((-1,) + (1,) * (S.ndim - 2))
    Z = S[0]
    e1, e2 = S[1] / Z, S[2] / Z
    n1, n2 = S[3] / Z, S[4] / Z
    s1, s2 = S[5] / Z, S[6] / Z
    out = [e1 + e_min, b * b * (e2 - e1 * e1), n1, b * (s2 - s1 * s1), b * (n2 - n1 * n1)]
    out += [f * S[7 + k] / Z for k, f in enumerate(factors)]
    return np.array(out)


def thermal_averages(model: Model, values: Mapping[str, object] | None = None, *, betas: Sequence[float],
                     sector: Mapping[str, object] | None = None, mu: float | None = None,
                     method: str = "auto", samples: int = 20, steps: int = 100, seed: int = 0,
                     observables: Sequence[str] | None = None, device: str = "cpu",
                     exact_dimension: int | None = None, progress: Callable[[str], None] | None = None
                     ) -> ThermalResult:
    r"""Thermal averages of ``model`` at each inverse temperature ``beta``.

    Parameters
    ----------
    model
        A built model (:func:`edkit.build_model`).
    values
        Parameter values (defaults for the rest).
    betas
        Inverse temperatures (positive numbers, or a ``"0.5,1,2"`` string).
    sector
        Canonical ensemble: ``{"N": n}`` (default half filling), every ``Sz`` summed; with ``"Sz"``
        only that sector. Not with ``mu``.
    mu
        Chemical potential: the grand-canonical ensemble (every ``N`` and ``Sz``).
    method
        ``"auto"``, ``"exact"`` or ``"ftlm"`` (module docs).
    samples, steps, seed
        FTLM: random vectors per sector, Lanczos steps per vector, seed of the vectors.
    observables
        ``None``: the scalar quantities only (:data:`~edkit.thermodynamics.quantities.SCALARS`); also
        correlator columns ``KEY:layer:i:j`` (``*`` patterns) or ``"correlations"`` (every
        correlator from site 0).
    device
        ``"cpu"`` (default), ``"gpu"`` or ``"auto"``: where the FTLM matvecs run.
    exact_dimension
        FTLM: sectors of at most this many states are diagonalized exactly (default ``steps``).
    progress
        Called with a line per finished sample of a large sector (default: stderr from
        :data:`PROGRESS_STATES` states on).

    Returns
    -------
    ThermalResult
        ``to_dict()`` is the JSON of ``edkit thermal --json``; quantities are defined in
        :mod:`edkit.thermodynamics.quantities`.

    Raises
    ------
    InputError
        For ``beta <= 0`` or not a number, ``samples`` or ``steps`` below 1, an unknown method or
        observable, a sector together with ``mu``, or a model with a special numeric space; all
        before any work.
    TooLargeError
        When the exact diagonalization or the FTLM vectors would not fit (with the estimate).
    """
    beta_list = parse_betas(betas)
    method = _check_method(method)
    samples = _positive_int(samples, "samples")
    steps = _positive_int(steps, "steps")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if exact_dimension is not None:
        exact_dimension = _positive_int(exact_dimension, "exact_dimension", 0)
    if model.capabilities.space is not None:
        raise InputError(f"thermal averages work on the plain Fock sectors; model {model.name!r} needs the "
                         f"{model.capabilities.space!r} space")
    vals = model.resolve(values)
    columns = resolve_observables(model, observables)
    ens = build_ensemble(model, vals, sector, mu)
    quantities = operator_quantities(model, columns)
    n_ops = len(quantities)
    if method == "auto":
        affordable = ens.largest <= AUTO_EXACT_DIMENSION or _exact_affordable(model, vals, ens)
        method = "exact" if affordable else "ftlm"
    limit = steps if exact_dimension is None else exact_dimension
    kinds = ["exact" if method == "exact" or t.dimension <= limit else "ftlm" for t in ens.terms]
    from edkit.thermodynamics.sector import backend_name

    backends = [backend_name(model, t.sector, device) if k == "ftlm" else "stored"
                for t, k in zip(ens.terms, kinds)]
    _plan_exact(model, vals, [t for t, k in zip(ens.terms, kinds) if k == "exact"])
    _plan_ftlm(model, ens, [t.dimension for t, k in zip(ens.terms, kinds) if k == "ftlm"], n_ops, backends)

    from edkit.thermodynamics.exact import exact_sample

    any_ftlm = "ftlm" in kinds
    R = samples if any_ftlm else 1
    data = []
    for term, kind, name in zip(ens.terms, kinds, backends):
        if kind == "exact":
            data.append((term, kind, [exact_sample(model, vals, term.sector, quantities)]))
        else:
            report = progress
            if report is None and term.dimension >= PROGRESS_STATES:
                report = _stderr
            data.append((term, kind, _ftlm_sector(model, vals, term, quantities, samples, steps, seed, name,
                                                  report)))
    b = np.array(beta_list)
    mu_value = ens.mu if ens.mu is not None else 0.0
    S, e_min = _sums(ens, data, b, R, n_ops, mu_value)
    factors = np.array([q.factor for q in quantities])
    values_ = _quantities(S.mean(axis=2), b, e_min, factors)
    warnings: list[str] = []
    if any_ftlm and R >= 2:
        total = S.sum(axis=2, keepdims=True)
        loo = _quantities((total - S) / (R - 1), b, e_min, factors)  # (nq, nb, R)
        errors = np.sqrt((R - 1) / R * np.sum((loo - loo.mean(axis=2, keepdims=True)) ** 2, axis=2))
        z_rel = S[0].std(axis=1, ddof=1) / math.sqrt(R) / S[0].mean(axis=1)
    elif any_ftlm:
        errors = np.full_like(values_, np.nan)
        z_rel = np.zeros(len(b))
        warnings.append("one FTLM sample gives no error bar (errors are null); use samples >= 2")
    else:
        errors = np.zeros_like(values_)
        z_rel = np.zeros(len(b))
    low = z_rel > LOW_T_RELATIVE_ERROR if any_ftlm else np.zeros(len(b), dtype=bool)
    op_names = [q.name for q in quantities]
    names = ["energy", "specific_heat", "N", "spin_susceptibility", "charge_susceptibility", *op_names]
    points = []
    for k, beta in enumerate(beta_list):
        row = {name: float(values_[i, k]) for i, name in enumerate(names)}
        err = {name: (None if np.isnan(errors[i, k]) else float(errors[i, k]))
               for i, name in enumerate(names)}
        if low[k]:
            for name in op_names:
                row[name], err[name] = None, None
        point: dict = {"beta": beta}
        for name in SCALARS:
            if name == "double_occupancy" and name not in row:
                point[name], point[f"{name}_error"] = None, None
                continue
            point[name], point[f"{name}_error"] = row[name], err[name]
        for name in op_names:
            if name != "double_occupancy":
                point[name], point[f"{name}_error"] = row[name], err[name]
        if any_ftlm:
            point["low_temperature"] = bool(low[k])
        points.append(point)
    if low.any():
        flagged = ", ".join(f"{beta_list[k]:g}" for k in np.flatnonzero(low))
        warnings.append(
            f"low temperature at beta = {flagged}: the sampled partition function has a relative error above "
            f"{LOW_T_RELATIVE_ERROR:.0%} (few thermally populated states), so FTLM averages of operators "
            f"(double occupancy, correlators) are not resolved and are reported as null; energy, specific "
            f"heat and susceptibilities keep their jackknife errors. The ground-state limit: ground_energy = "
            f"{e_min:.10f} (lowest Ritz value); T = 0 correlators from `edkit correlations`; or --method "
            f"exact for small systems")
    extras: dict = {}
    if ens.kind == GRAND_CANONICAL:
        extras["mu"] = ens.mu
    else:
        extras["sector"] = dict(ens.sector)
    if any_ftlm:
        extras.update({"samples": samples, "steps": steps, "seed": int(seed)})
    solved = {id(t): samples_[0] for t, k, samples_ in data if k == "exact"}
    extras["sectors"] = [{"N": t.N, "Sz": t.Sz, "dimension": t.dimension, "method": k,
                          **({"backend": n} if k == "ftlm" else {}),
                          **({"symmetries": list(solved[id(t)].symmetries), "blocks": solved[id(t)].blocks}
                             if k == "exact" else {}),
                          "images": [list(i) for i in t.images]}
                         for t, k, n in zip(ens.terms, kinds, backends)]
    extras["spin_flip"] = ens.spin_flip
    extras["ground_energy"] = e_min
    extras["warnings"] = warnings
    return ThermalResult(model.name, model.lattice.L, model.lattice.bc, vals, ens.kind,
                         "ftlm" if any_ftlm else "exact", points, extras)


__all__ = ["AUTO_EXACT_DIMENSION", "AUTO_EXACT_SECONDS", "LOW_T_RELATIVE_ERROR", "METHODS",
           "thermal_averages"]
