r"""One spectral function: validate, find the ground state, and sum its Lehmann series.

:func:`dynamics` checks everything first (operator against the model, momentum, grids, ``eta``,
method, sector, parameter names), before any basis is built. Then:

- ``method="exact"``: the ground sector and every target sector are diagonalized fully (dense,
  up to :data:`~edkit.response.lehmann.EXACT_MAX_DIMENSION` states, in the symmetry blocks that hold on
  each sector, :func:`edkit.engine.dense_blocks.eigen_blocks`: amplitudes block by block, and at finite
  ``beta`` the matrix elements block pair by block pair); Lehmann sums
  (:mod:`edkit.response.lehmann`); finite ``beta`` possible.
- ``method="lanczos"``: the ground manifold from the planner
  (:func:`edkit.observables.correlations.ground_states`: QuSpin's stored sparse matrix below
  :data:`edkit.engine.solve.MATRIX_FREE_DIMENSION` states, the compiled matrix-free kernel
  above, or as ``backend`` asks), then for each ground state and part the continued fraction
  from :math:`B|0\rangle` (:mod:`edkit.response.continued_fraction`) with the target sector's
  Hamiltonian on the same path (stored: the QuSpin CSR matrix; matrix-free:
  :class:`~edkit.engine.matfree.MatrixFreeHamiltonian`, models without occupation constraints).
- ``method="auto"``: exact when every sector involved has at most
  :data:`~edkit.response.lehmann.EXACT_AUTO_DIMENSION` states, else lanczos.

Degenerate ground state: the spectrum, moments and :math:`G(\tau)` are averaged with equal
weights over an orthonormal basis of the levels degenerate with the lowest one (relative
tolerance ``1e-8``) *within the chosen sector* ``(N, Sz)``: the trace over the ground manifold
divided by its dimension, independent of the basis chosen in it (on the Lanczos path the manifold
is searched among the lowest four levels). Other ``Sz`` members of a spin multiplet are not
included; choose the sector to pick one.

Energies: :math:`\omega` is measured from :math:`E_0`, the ground energy of the chosen sector,
with the Hamiltonian as the model defines it (its chemical potential included, no shift): the
addition part of ``c_up`` sits at :math:`E_n(N+1) - E_0(N)`, the removal part at
:math:`E_0(N) - E_n(N-1)`, so the free band :math:`\epsilon_k = -2t\cos k` appears at
:math:`\omega = \epsilon_k` for the ``U = 0`` Hubbard ring.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edkit.core.errors import InputError
from edkit.core.model import Model, Sector
from edkit.core.params import ParameterError, parse_number
from edkit.response.continued_fraction import lanczos, poles, spectrum
from edkit.response.imaginary_time import correlator, thermal_correlator
from edkit.response.lehmann import (
    EXACT_AUTO_DIMENSION,
    Poles,
    check_exact,
    ground_manifold,
    lehmann_poles,
)
from edkit.response.operators import (
    Part,
    SectorStates,
    apply_terms,
    layers_of,
    operator_parts,
    parse_q,
    terms_matrix,
)
from edkit.response.result import DynamicsResult
from edkit.response.sum_rules import sum_rules

#: Spectral methods of ``edkit dynamics --method``.
METHODS = ("auto", "exact", "lanczos")
#: Default number of Lanczos steps per continued fraction.
DEFAULT_STEPS = 200
#: Most points of an ``omega`` or ``tau`` grid.
MAX_GRID = 1_000_000


def parse_grid(spec: str | Sequence[float] | np.ndarray, name: str, *, minimum: float | None = None
               ) -> np.ndarray:
    """A grid from ``"START:STOP:COUNT"`` (inclusive, ``numpy.linspace``) or a sequence of numbers.

    Raises
    ------
    InputError
        Not three fields, a non-number, a count that is not an integer of at least 1 (a grid of
        zero points), ``STOP < START``, ``START == STOP`` with more than one point, values below
        ``minimum``, or non-finite values.
    """
    if isinstance(spec, str):
        fields = spec.split(":")
        if len(fields) != 3:
            raise InputError(f"--{name} expects START:STOP:COUNT (e.g. -2:8:201), got {spec!r}")
        try:
            start, stop = parse_number(fields[0]), parse_number(fields[1])
            count = parse_number(fields[2])
        except ParameterError as err:
            raise InputError(f"--{name} {spec!r}: {err}") from None
        if count != int(count):
            raise InputError(f"--{name} {spec!r}: COUNT must be an integer, got {fields[2].strip()!r}")
        count = int(count)
        if count < 1:
            raise InputError(f"--{name} {spec!r}: the grid has {count} points; COUNT must be at least 1")
        if count > MAX_GRID:
            raise InputError(f"--{name} {spec!r}: at most {MAX_GRID:,} points")
        if stop < start or (stop == start and count > 1):
            raise InputError(f"--{name} {spec!r}: STOP must be larger than START")
        grid = np.linspace(start, stop, count)
    else:
        try:
            grid = np.asarray(spec, dtype=float).ravel()
        except (TypeError, ValueError):
            raise InputError(f"{name} must be START:STOP:COUNT or a list of numbers, got {spec!r}") from None
        if grid.size == 0:
            raise InputError(f"{name}: the grid has no points")
        if grid.size > MAX_GRID:
            raise InputError(f"{name}: at most {MAX_GRID:,} points")
    if not np.all(np.isfinite(grid)):
        raise InputError(f"{name}: every point must be finite")
    if minimum is not None and grid.min() < minimum:
        raise InputError(f"{name}: points must be at least {minimum:g}, got {grid.min():g}")
    return grid


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise InputError(f"{name} must be a positive number, got {value!r}")
    try:
        x = parse_number(value) if isinstance(value, str) else float(value)
    except (ParameterError, TypeError, ValueError):
        raise InputError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(x) and x > 0):
        raise InputError(f"{name} must be positive and finite, got {value!r}")
    return x


def _count(model: Model, sector: Sector | None) -> int:
    """States of ``sector`` (0 for ``None``; -1 where overlapping constraints leave it uncounted)."""
    from edkit.engine.sizes import count_states

    if sector is None:
        return 0
    n = count_states(model, sector)
    return int(n) if n is not None else -1


def dynamics(model: str | Model, values: Mapping[str, object] | None = None, *, operator: str,
             q: float | str, omega: str | Sequence[float] | np.ndarray, eta: float,
             N: int | None = None, Sz: float | None = None, extra: Mapping[str, float] | None = None,
             L: int | None = None, bc: str = "open", layer: str | None = None, method: str = "auto",
             steps: int = DEFAULT_STEPS, tau: str | Sequence[float] | np.ndarray | None = None,
             beta: float | None = None, backend: str = "auto", device: str = "cpu") -> DynamicsResult:
    r"""Spectral function :math:`S(\omega)` of ``operator`` at momentum ``q`` (and :math:`G(\tau)`).

    Parameters
    ----------
    model, values, L, bc
        A model name (built at ``L``, ``bc``) or a model; parameter values.
    operator
        ``"sz"``, ``"n"``, ``"c_up"`` (single-particle :math:`A(k, \omega)`: addition and
        removal) or ``"pair"`` (eta channel: pair addition and removal); see
        :mod:`edkit.response.operators`.
    q
        Momentum in radians (a number, or text such as ``"pi"``, ``"2*pi/3"``).
    omega
        ``"START:STOP:COUNT"`` or the grid itself.
    eta
        Lorentzian half width, ``> 0``.
    N, Sz, extra
        The ground state's sector (defaults: the model's, half filling and lowest ``|Sz|``).
    layer
        The layer summed in :math:`O_q` (``None`` or ``"all"``: every layer).
    method
        ``"auto"``, ``"exact"`` (Lehmann) or ``"lanczos"`` (continued fraction).
    steps
        Lanczos steps per continued fraction (stops earlier when the Krylov space is exhausted).
    tau, beta
        Optional imaginary-time grid (``tau >= 0``); ``beta`` for the finite-temperature
        correlator (``method="exact"`` only; ``tau <= beta``).
    backend
        Where the Lanczos path finds its ground state: ``"auto"``, ``"stored"``, ``"matrix-free"``.
    device
        ``"cpu"`` (the only device of this path).

    Returns
    -------
    DynamicsResult

    Raises
    ------
    InputError
        Any bad input, before any work (see :func:`parse_grid`, :func:`~edkit.response.operators.parse_q`,
        :func:`~edkit.response.operators.operator_parts`).
    """
    from edkit.engine.solve import get_model

    # ---------------------------------------------------------------- validation (no work)
    m = get_model(model, L, bc)
    vals = m.resolve(values)
    q_value = parse_q(q)
    parts = operator_parts(m, operator, q_value, layer)
    layer_name = "all" if len(layers_of(m, layer)) > 1 or layer in (None, "all") else str(layer)
    grid = parse_grid(omega, "omega")
    eta = _positive(eta, "--eta")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise InputError(f"--steps must be a positive integer, got {steps!r}")
    if backend not in ("auto", "stored", "matrix-free"):
        raise InputError(f"unknown backend {backend!r}; choose from auto, stored, matrix-free")
    if device not in ("cpu", "auto"):
        raise InputError(f"dynamics runs on the CPU only (device {device!r})")
    if beta is not None:
        beta = _positive(beta, "--beta")
        if tau is None:
            raise InputError("--beta needs a --tau grid (it sets the temperature of G(tau))")
    tau_grid = None if tau is None else parse_grid(tau, "tau", minimum=0.0)
    if beta is not None and tau_grid is not None and tau_grid.max() > beta:
        raise InputError(f"tau must lie in 0..beta={beta:g}, got {tau_grid.max():g}")
    given = {k: v for k, v in {"N": N, "Sz": Sz, **dict(extra or {})}.items() if v is not None}
    sec_values = m.resolve_sector(given)
    sec_extra = {k: v for k, v in sec_values.items() if k not in ("N", "Sz")}
    sector = m.sector(sec_values["N"], sec_values.get("Sz"), **sec_extra)
    targets = [p.target(sector, m.n_orbitals) for p in parts]
    targets = [None if _count(m, t) == 0 else t for t in targets]  # nothing to add or remove
    dims = [_count(m, sector)] + [_count(m, t) for t in targets]
    if method == "auto":
        method = "exact" if beta is not None or max(dims) <= EXACT_AUTO_DIMENSION else "lanczos"
    if method == "exact":
        check_exact(dims[0], "the ground state's sector")
        for part, d in zip(parts, dims[1:]):
            check_exact(d, f"the {part.name} sector")
    elif beta is not None:
        raise InputError("a finite --beta needs --method exact (full spectra of every sector)")

    # ---------------------------------------------------------------- work
    if method == "exact":
        e0, g, pole_set, m0, m1, info, path = _exact(m, vals, sector, parts, targets)
    else:
        e0, g, pole_set, m0, m1, info, path = _lanczos(m, values, sec_values, sec_extra, parts, targets,
                                                       steps, backend)
    spec = pole_set.lorentzian(grid, eta) if method == "exact" else info.pop("_spectrum")(grid, eta)
    rules = sum_rules(m0, m1, pole_set, grid, spec, eta)
    out: dict[str, Any] = {}
    if tau_grid is not None:
        out["tau"] = tau_grid.tolist()
        if beta is None:
            per = {name: correlator(p, tau_grid) for name, p in info.pop("_part_poles").items()}
            out["G_parts"] = {k: v.tolist() for k, v in per.items()}
            out["G"] = sum(per.values()).tolist()
        else:
            per = _thermal(m, vals, sec_values, sec_extra, parts, tau_grid, beta)
            out["G_parts"] = {k: v.tolist() for k, v in per.items()}
            out["G"] = sum(per.values()).tolist()
        out["beta"] = beta
    info.pop("_part_poles", None)
    info.pop("_spectrum", None)
    for part in info.values():
        part["seconds"] = round(part.get("seconds", 0.0), 3)
    from edkit.observables.spectrum import sector_dict

    return DynamicsResult(
        omega=grid.tolist(), spectrum=spec.tolist(), sum_rules=rules, model=m.name, L=m.lattice.L,
        bc=m.lattice.bc, params=vals, sector=sector_dict(m, sec_values["N"], sec_values.get("Sz"), sec_extra),
        operator=operator, q=q_value, layer=layer_name, eta=eta, method=method, path=path,
        ground_energy=float(e0), degeneracy=int(g), parts=info, poles=pole_set, **out)


def _sector_info(sector: Sector) -> dict[str, int]:
    return {"N_up": sector.n_up, "N_dn": sector.n_dn}


def _solve_blocks(m: Model, vals, sector: Sector):
    """``(H, states, blocks)``: the sector's matrix and states, and its symmetry blocks
    ``[(Q, levels, eigenvectors in block coordinates, _)]``
    (:func:`edkit.engine.dense_blocks.eigen_blocks`)."""
    from edkit.engine.backend_quspin import hamiltonian_matrix
    from edkit.engine.dense_blocks import eigen_blocks
    from edkit.engine.threads import blas_threads

    H, space = hamiltonian_matrix(m, vals, sector)
    with blas_threads():
        _, blocks = eigen_blocks(m, vals, sector, space, H)
    return H, SectorStates.from_quspin(m, space), blocks


def _exact(m: Model, vals, sector: Sector, parts: Sequence[Part], targets):
    """Full diagonalization of the ground sector and every target (in symmetry blocks); Lehmann poles."""
    H, src, blocks = _solve_blocks(m, vals, sector)
    energies = np.concatenate([b[1] for b in blocks])
    where = [(i, j) for i, b in enumerate(blocks) for j in range(len(b[1]))]
    order = np.argsort(energies, kind="stable")
    e0 = float(energies[order[0]])
    g = ground_manifold(energies[order])
    vectors = np.column_stack([np.asarray(blocks[i][0] @ blocks[i][2][:, j]) for i, j in
                               (where[k] for k in order[:g])])  # the ground manifold, plain basis
    pole_set = Poles()
    part_poles: dict[str, Poles] = {}
    info: dict[str, Any] = {}
    m0 = m1 = 0.0
    for part, target in zip(parts, targets):
        t0 = time.perf_counter()
        mine = Poles()
        part_poles[part.name] = mine
        if target is None:
            info[part.name] = {"sector": None, "dimension": 0}
            continue
        if part.shift == (0, 0):
            Ht, dst, tblocks = H, src, blocks
        else:
            Ht, dst, tblocks = _solve_blocks(m, vals, target)
        for a in range(g):
            phi = apply_terms(m, part.terms, src, dst, vectors[:, a])
            norm2 = float(np.real(np.vdot(phi, phi)))
            m0 += norm2 / g
            m1 += part.sign * (float(np.real(np.vdot(phi, Ht @ phi))) - e0 * norm2) / g
            for Q, et, vt, _ in tblocks:  # <n|phi> block by block
                mine.extend(*lehmann_poles(np.asarray(Q.conj().T @ phi), et, vt, e0, part.sign, 1.0 / g))
        pole_set.extend(mine.omega, mine.weight, mine.excitation)
        info[part.name] = {"sector": _sector_info(target), "dimension": dst.dimension,
                           "seconds": time.perf_counter() - t0}
    info["_part_poles"] = part_poles
    return e0, g, pole_set, m0, m1, info, "dense"


def _lanczos(m: Model, values, sec_values, sec_extra, parts: Sequence[Part], targets, steps: int,
             backend: str):
    """Ground manifold through the planner, then one continued fraction per ground state and part."""
    import scipy.sparse.linalg as sla

    from edkit.engine.solve import MatrixFreeSpace
    from edkit.observables.correlations import ground_states

    vals = m.resolve(values)
    states, e0, space = ground_states(m, values, sec_values["N"], sec_values.get("Sz"), extra=sec_extra,
                                      method=backend)
    g = states.shape[1]
    matrix_free = isinstance(space, MatrixFreeSpace)
    if matrix_free:
        from edkit.engine.matfree import MatrixFreeHamiltonian
        from edkit.engine.product_expectation import ProductBasis

        src = SectorStates.from_product(space.basis)

        def target_op(sector: Sector):
            op = MatrixFreeHamiltonian(m, vals, sector)
            return op, SectorStates.from_product(ProductBasis(m, sector, op))
    else:
        from edkit.engine.backend_quspin import hamiltonian_matrix

        src = SectorStates.from_quspin(m, space)

        def target_op(sector: Sector):
            H, tspace = hamiltonian_matrix(m, vals, sector)
            return sla.aslinearoperator(H), SectorStates.from_quspin(m, tspace)

    pole_set = Poles()
    part_poles: dict[str, Poles] = {}
    runs: list[tuple[int, Any]] = []
    info: dict[str, Any] = {}
    m0 = m1 = 0.0
    for part, target in zip(parts, targets):
        t0 = time.perf_counter()
        mine = Poles()
        part_poles[part.name] = mine
        if target is None:
            info[part.name] = {"sector": None, "dimension": 0}
            continue
        op, dst = target_op(target)
        used, exhausted, reorth = [], [], []
        for a in range(g):
            x = np.ascontiguousarray(states[:, a])
            x = x / np.sqrt(np.real(np.vdot(x, x)))
            phi = apply_terms(m, part.terms, src, dst, x)
            norm2 = float(np.real(np.vdot(phi, phi)))
            m0 += norm2 / g
            if norm2 > 0:
                m1 += part.sign * (float(np.real(np.vdot(phi, op.matvec(phi)))) - e0 * norm2) / g
            tri = lanczos(op, phi, steps)
            tri.norm2 /= g  # the average over the ground manifold
            theta, weight = poles(tri)
            mine.extend(part.sign * (theta - e0), weight, theta - e0)
            runs.append((part.sign, tri))
            used.append(tri.steps)
            exhausted.append(tri.exhausted)
            reorth.append(tri.reorthogonalized)
        pole_set.extend(mine.omega, mine.weight, mine.excitation)
        info[part.name] = {"sector": _sector_info(target), "dimension": dst.dimension, "steps": max(used),
                           "exhausted": all(exhausted), "reorthogonalized": all(reorth),
                           "seconds": time.perf_counter() - t0}

    def broadened(grid: np.ndarray, eta: float) -> np.ndarray:
        return sum((spectrum(grid, tri, e0, eta, sign) for sign, tri in runs), np.zeros(len(grid)))

    info["_part_poles"] = part_poles
    info["_spectrum"] = broadened
    return e0, g, pole_set, m0, m1, info, "matrix-free" if matrix_free else "stored"


def _thermal(m: Model, vals, sec_values, sec_extra, parts: Sequence[Part], tau: np.ndarray,
             beta: float) -> dict[str, np.ndarray]:
    """:math:`G_\\beta(\\tau)` per part, canonical at fixed ``N`` over every ``Sz`` sector."""
    from edkit.core.model import SectorError

    sectors = []
    if m.spinful:
        nf = m.sector(sec_values["N"], sec_values.get("Sz"), **sec_extra)
        total = nf.n_up + nf.n_dn
        for n_up in range(total + 1):
            sz = (n_up - (total - n_up)) / 2
            try:
                sectors.append(m.sector(sec_values["N"], sz, **sec_extra))
            except SectorError:
                continue
    else:
        sectors.append(m.sector(sec_values["N"], None, **sec_extra))
    for s in sectors:
        check_exact(_count(m, s), "every Sz sector of the canonical ensemble")
        for part in parts:
            t = part.target(s, m.n_orbitals)
            check_exact(_count(m, t), f"the {part.name} sector of every Sz sector")
    from edkit.engine.threads import blas_threads

    cache: dict[tuple[int, int], tuple] = {}

    def solved(sector: Sector):
        """The sector's symmetry blocks ``[(Q, levels, eigenvectors in block coordinates, _)]`` and states."""
        key = (sector.n_up, sector.n_dn)
        if key not in cache:
            _, states, blocks = _solve_blocks(m, vals, sector)
            cache[key] = (blocks, states)
        return cache[key]

    sources = [np.concatenate([b[1] for b in solved(s)[0]]) for s in sectors]
    out = {}
    for part in parts:
        terms = []
        for s in sectors:
            t = part.target(s, m.n_orbitals)
            if t is None or _count(m, t) == 0:
                continue
            (src_blocks, src), (dst_blocks, dst) = solved(s), solved(t)
            B = terms_matrix(m, part.terms, src, dst).tocsr()
            floor = 1e-12 * (float(abs(B).max()) if B.nnz else 1.0)
            with blas_threads():
                for Qm, e_m, v_m, _ in src_blocks:  # <n|B|m> block by block: B connects few block pairs
                    BQ = (B @ Qm).tocsc()
                    for Qn, e_n, v_n, _ in dst_blocks:
                        M = (Qn.conj().T @ BQ).tocsr()
                        if not M.nnz or float(abs(M).max()) <= floor:
                            continue  # a pair the symmetries forbid
                        terms.append((e_m, e_n, np.abs(v_n.conj().T @ (M @ v_m)) ** 2))
        out[part.name] = thermal_correlator(terms, sources, tau, beta)
    return out


__all__ = ["DEFAULT_STEPS", "METHODS", "dynamics", "parse_grid"]
