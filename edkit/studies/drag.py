r"""Drude weights and the mixed (drag) weight from the flux curvature of the ground-state energy.

Definition
----------
For a model on rings of ``L`` sites threaded by fluxes :math:`\phi_a` (model parameters; for
:func:`edkit.models.two_wire.two_wire` ``phi_1`` through the primary and ``phi_2`` through the
secondary ring, each the *total* flux around its ring; the curvature does not depend on how the
flux is distributed over the bonds):

.. math:: D_{ab} = \frac{L}{2}\, \frac{\partial^2 E_0}{\partial\phi_a\,\partial\phi_b}

at the flux values given in ``values`` (default 0), with :math:`E_0` the ground-state energy of
the sector (units :math:`e = \hbar = 1`, lattice constant 1). For free spinless fermions with
:math:`\varepsilon_k = -2t\cos(k - \phi/L)` this is :math:`D = \frac{1}{L}\sum_{k\,\rm occ}
t\cos k = -E_{\rm kin}/(2L)`, the Shastry-Sutherland normalization. ``D_11``, ``D_22`` are
the Drude weights of the two wires; ``D_12 = D_21`` is the mixed weight: the current response
of one wire to a flux through the other (zero for decoupled wires).

Methods
-------
- ``"analytic"`` (default): second-order perturbation theory in the flux, exact at the point,

  .. math:: \partial_a\partial_b E_0 = \langle 0|\partial_a\partial_b H|0\rangle
            + 2\,\mathrm{Re}\,\langle 0|\partial_a H\, R\, \partial_b H|0\rangle,
            \qquad R = Q\,(E_0 - H)^{-1} Q,

  with :math:`Q = 1 - |0\rangle\langle 0|` and the derivative operators obtained by
  differentiating the model's symbolic coefficients. ``R`` is applied by full
  diagonalization up to dimension :data:`RESOLVENT_DENSE_LIMIT`, by conjugate gradients on the
  projected :math:`(H - E_0)` above. ``D_12`` and ``D_21`` are computed from separate solves (their
  agreement is a check). Needs a non-degenerate ground state in the sector.
- ``"fd"``: central finite differences of :math:`E_0(\phi)`, :math:`[E(+h) - 2E(0) + E(-h)]/h^2`
  and :math:`[E(+,+) - E(+,-) - E(-,+) + E(-,-)]/(4h^2)`, at steps ``h`` (``step``, default
  :data:`FD_STEP` = 0.01 of total flux) and ``2h``, combined by Richardson extrapolation
  :math:`(4 D_h - D_{2h})/3`, which cancels the :math:`h^2` error (17 ground energies for two
  fluxes). The remaining error grows like :math:`(h/\Delta)^4` with the gap :math:`\Delta` to the
  first excited level. Measured against ``"analytic"`` on interacting two-wire rings (``L = 4``,
  ``U`` up to 8, ``V`` up to 4, both flux sectors, gaps :math:`\Delta \ge 0.1`): relative error
  at most :math:`2\times10^{-7}` on ``D_11``, ``D_22`` and :math:`7\times10^{-7}` on ``D_12``
  (:math:`2\times10^{-5}` at :math:`\Delta = 0.06`, ``L = 5``). The plain central difference
  at the same step (used before) was off by up to :math:`1.8\times10^{-4}` (``D_11``) and
  :math:`3.6\times10^{-4}` (``D_12``) on the same rings. Round-off is :math:`\sim 10^{-12}/h^2`.

The ground state must be non-degenerate at the evaluation point (a level crossing at
:math:`\phi = 0`, common for open-shell free fermions on rings, makes the curvature
undefined); :class:`DegenerateGroundStateError` says so and suggests a shifted flux such as
:math:`\phi = \pi` (antiperiodic boundary conditions), which closes the shell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
import sympy

from edkit.core.errors import EdkitError
from edkit.core.model import Model
from edkit.core.params import ParameterError
from edkit.engine.backend_quspin import make_space, operator_matrix
from edkit.engine.solver import DENSE_LIMIT, lowest
from edkit.observables.registry import Observable, offered, register, split_sector

FD_STEP = 1e-2
DEFAULT_FLUXES = ("phi_1", "phi_2")
#: Dimension up to which the resolvent is applied through a full eigendecomposition with
#: eigenvectors (conjugate gradients above). Not the solver's :data:`edkit.engine.solver.DENSE_LIMIT`
#: (energies only, used here for the ground energies): a full ``eigh`` of 2,000 states takes ~2 s
#: on one core where conjugate gradients take milliseconds; at 250 states ``eigh`` takes ~20 ms.
RESOLVENT_DENSE_LIMIT = 200
#: Relative residual of the conjugate-gradient solve for the resolvent (the Drude weights inherit
#: a relative error of this order).
CG_RTOL = 1e-10


class DegenerateGroundStateError(EdkitError, ValueError):
    """The ground state is degenerate at the evaluation flux: the curvature is undefined."""


MatrixBuilder = Callable[[Sequence[tuple[complex, object]]], sp.spmatrix]


def matrix_builder(model: Model, N: int, Sz: float | None,
                   extra: Mapping[str, float] | None = None) -> tuple[MatrixBuilder, int]:
    """A function compiling numeric canonical terms into the sector's matrix, and its dimension.

    A model whose capabilities declare the ``"two-wire-product"`` space uses the tensor-product path
    of :mod:`edkit.studies.two_wire`; other models the generic backend path.
    """
    extra = dict(extra or {})
    sector = model.sector(N, Sz, **extra)  # validates every sector name and value first
    if model.capabilities.space == "two-wire-product":
        from edkit.studies.two_wire import tensor_space

        space = tensor_space(model, N, Sz, extra.get("N_s"))
        return space.matrix, space.dimension
    from edkit.engine.planning import check_fits

    check_fits(model, sector)
    gspace = make_space(model, sector)
    return (lambda terms: operator_matrix(gspace, terms)), gspace.dimension


def _derivative_terms(model: Model, values: Mapping[str, float],
                      wrt: Sequence[str]) -> list[tuple[complex, object]]:
    """Numeric canonical terms of :math:`\\partial^k H / \\partial p_1 \\cdots \\partial p_k`."""
    symbols = [model.parameters[name].symbol for name in wrt]
    subs = {model.parameters[k].symbol: v for k, v in values.items()}
    out = []
    for word, coef in model.canonical_terms().items():
        d = sympy.diff(coef, *symbols) if symbols else coef
        if d == 0:
            continue
        z = complex(sympy.sympify(d).xreplace(subs))
        if z != 0:
            out.append((z, word))
    return out


def _check(model: Model, fluxes: Sequence[str], method: str, step: float) -> None:
    missing = [f for f in fluxes if f not in model.parameters]
    if missing:
        raise ParameterError(f"{model.name} has no flux parameter(s) {missing}; "
                             f"its parameters: {', '.join(model.parameters)}")
    if model.lattice.bc != "periodic":
        raise ValueError("Drude weights need rings (bc='periodic'): on an open chain the flux "
                         "is a pure gauge and the curvature vanishes")
    if method not in ("analytic", "fd"):
        raise ValueError(f"method must be 'analytic' or 'fd', got {method!r}")
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive number, got {step}")


def drude_weights(model: Model, values: Mapping[str, object] | None = None, *, N: int,
                  Sz: float | None = None, extra: Mapping[str, float] | None = None,
                  fluxes: Sequence[str] = DEFAULT_FLUXES, method: str = "analytic",
                  step: float = FD_STEP, degeneracy_tol: float = 1e-8) -> dict:
    """The matrix :math:`D_{ab} = (L/2)\\,\\partial^2 E_0/\\partial\\phi_a\\partial\\phi_b`.

    Parameters
    ----------
    model
        A model on rings with flux parameters (``two-wire``: ``phi_1``, ``phi_2``).
    values
        Parameter values; the fluxes given here are the evaluation point (default 0).
    N, Sz, extra
        The sector (``extra`` e.g. ``{"N_s": 2}``). ``Sz`` defaults to the lowest ``|Sz|``.
    fluxes
        Names of the flux parameters, in the order of the matrix rows.
    method
        ``"analytic"`` (second-order perturbation theory at the point) or ``"fd"``.
    step
        Finite-difference step in total flux (``"fd"`` only).
    degeneracy_tol
        Relative tolerance below which the ground state counts as degenerate.

    Returns
    -------
    dict
        ``{"D": [[D_11, D_12], [D_21, D_22]], "D_11", "D_12", "D_21", "D_22" (for two fluxes),
        "energy", "gap", "method", "step", "sector", "params"}``.

    Raises
    ------
    DegenerateGroundStateError
        If the gap to the first excited level of the sector is below
        ``degeneracy_tol * (1 + |E_0|)``.
    ValueError, ParameterError, SectorError
        For open chains, unknown flux names, bad methods or sectors (before building).
    """
    _check(model, fluxes, method, step)
    vals = model.resolve(values)
    if model.spinful and Sz is None:
        Sz = 0.0 if (N + model.extra_electrons) % 2 == 0 else 0.5
    build, _ = matrix_builder(model, N, Sz, extra)
    H = build(model.numeric_terms(vals))
    need_vectors = method == "analytic"
    eig = lowest(H, 2, vectors=need_vectors, dense_limit=DENSE_LIMIT)
    e0 = float(eig.energies[0])
    gap = float(eig.energies[1] - e0) if len(eig.energies) > 1 else float("inf")
    if gap <= degeneracy_tol * (1 + abs(e0)):
        raise DegenerateGroundStateError(
            f"the ground state of {model.name} in sector N={N}, Sz={Sz}, {dict(extra or {})} is "
            f"degenerate (gap {gap:.3g}) at fluxes {[vals[f] for f in fluxes]}: the curvature is "
            "undefined there; evaluate at a flux that closes the shell (e.g. phi = pi) or change N")
    n = len(fluxes)
    L = model.lattice.L
    if method == "analytic":
        curv = _analytic_curvature(model, vals, fluxes, build, H, eig.vectors[:, 0], e0)
    else:
        curv = _fd_curvature(model, vals, fluxes, build, step)
    D = (L / 2) * curv
    out = {
        "model": model.name, "L": L, "params": vals,
        "sector": {"N": N, "Sz": Sz, **dict(extra or {})},
        "fluxes": list(fluxes), "D": D.tolist(), "energy": e0, "gap": gap, "method": method,
        "step": step if method == "fd" else None,
    }
    for a in range(n):
        for b in range(n):
            out[f"D_{a + 1}{b + 1}"] = float(D[a, b])
    return out


def _apply_resolvent(H: sp.spmatrix, psi0: np.ndarray, e0: float, rhs: np.ndarray,
                     dense: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """:math:`y = Q (E_0 - H)^{-1} Q\\, rhs`."""
    rhs = rhs - psi0 * np.vdot(psi0, rhs)
    if dense is not None:
        w, v = dense
        coeff = v.conj().T @ rhs
        denom = e0 - w
        mask = np.abs(denom) > 1e-12 * (1 + abs(e0))
        coeff = np.where(mask, coeff / np.where(mask, denom, 1.0), 0.0)
        y = v @ coeff
    else:
        # imported here, after edkit.engine.backend_quspin has set the thread variables: importing
        # scipy.sparse.linalg loads scipy's OpenBLAS, which reads them once
        import scipy.sparse.linalg as sla

        A = sla.LinearOperator(H.shape, matvec=lambda x: H @ x - e0 * x,
                               dtype=np.result_type(H.dtype, rhs.dtype))
        x, info = sla.cg(A, rhs, rtol=CG_RTOL, atol=0.0, maxiter=20 * H.shape[0])
        if info != 0:
            raise RuntimeError(f"conjugate gradients did not converge (info={info}) applying the "
                               "resolvent for the Drude weight; try method='fd'")
        y = -x
    return y - psi0 * np.vdot(psi0, y)


def _analytic_curvature(model: Model, vals: Mapping[str, float], fluxes: Sequence[str],
                        build: MatrixBuilder, H: sp.spmatrix, psi0: np.ndarray,
                        e0: float) -> np.ndarray:
    n = len(fluxes)
    first = [build(_derivative_terms(model, vals, [f])) for f in fluxes]
    dense = None
    if H.shape[0] <= RESOLVENT_DENSE_LIMIT:
        w, v = np.linalg.eigh(H.toarray())
        dense = (w, v)
    psi0 = psi0.astype(np.complex128)
    vecs = [J @ psi0 for J in first]
    resolved = [_apply_resolvent(H, psi0, e0, v, dense) for v in vecs]
    curv = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            second_terms = _derivative_terms(model, vals, [fluxes[a], fluxes[b]])
            diag = 0.0
            if second_terms:
                Hab = build(second_terms)
                diag = float(np.real(np.vdot(psi0, Hab @ psi0)))
            curv[a, b] = diag + 2.0 * float(np.real(np.vdot(vecs[a], resolved[b])))
    return curv


def _fd_curvature(model: Model, vals: Mapping[str, float], fluxes: Sequence[str],
                  build: MatrixBuilder, h: float) -> np.ndarray:
    """Central differences at steps ``h`` and ``2h``, Richardson-extrapolated: error ``O(h^4)``."""
    cache: dict[tuple[int, ...], float] = {}

    def E(shift: tuple[int, ...]) -> float:
        if shift not in cache:
            v = dict(vals)
            for f, s in zip(fluxes, shift):
                v[f] = vals[f] + s * h
            H = build(model.numeric_terms(v))
            cache[shift] = float(lowest(H, 1, dense_limit=DENSE_LIMIT).energies[0])
        return cache[shift]

    n = len(fluxes)
    zero = (0,) * n

    def unit(*pairs: tuple[int, int]) -> tuple[int, ...]:
        s = [0] * n
        for i, k in pairs:
            s[i] += k
        return tuple(s)

    def central(k: int) -> np.ndarray:  # second differences with step k * h
        curv = np.zeros((n, n))
        for a in range(n):
            curv[a, a] = (E(unit((a, k))) - 2 * E(zero) + E(unit((a, -k)))) / (k * h) ** 2
            for b in range(n):
                if b != a:
                    curv[a, b] = (E(unit((a, k), (b, k))) - E(unit((a, k), (b, -k)))
                                  - E(unit((a, -k), (b, k))) + E(unit((a, -k), (b, -k)))) / (4 * (k * h) ** 2)
        return curv

    return (4 * central(1) - central(2)) / 3


# ------------------------------------------------------------------------- observable
def _fluxes(options: Mapping) -> tuple[str, ...]:
    fluxes = options["fluxes"]
    return (fluxes,) if isinstance(fluxes, str) else tuple(fluxes)


def _drude_columns(model: Model, options: Mapping) -> list[str]:
    n = len(_fluxes(options))
    return [f"D_{a + 1}{b + 1}" for a in range(n) for b in range(n)] + ["energy", "gap"]


def _drude(model: Model, values: Mapping, sector: Mapping, options: Mapping) -> dict:
    N, Sz, extra = split_sector(model, sector)
    out = drude_weights(model, values, N=N, Sz=Sz, extra=extra, fluxes=_fluxes(options),
                        method=options["method"], step=options["step"])
    return {k: out[k] for k in _drude_columns(model, options)}


def _drude_applies(model: Model) -> str | None:
    why = offered("drude")(model)
    if why is None and model.lattice.bc != "periodic":
        return "Drude weights need rings (bc='periodic'): on an open chain the flux is a pure gauge"
    return why


def _drude_match(column: str) -> dict | None:
    if len(column) == 4 and column.startswith("D_") and column[2] in "12" and column[3] in "12":
        return {}
    return None


DRUDE = register(Observable(
    name="drude",
    summary="Drude and drag weights D_ab = (L/2) d2E0/dphi_a dphi_b of the flux-threaded rings",
    compute_fn=_drude,
    options={"fluxes": DEFAULT_FLUXES, "method": "analytic", "step": FD_STEP},
    columns_fn=_drude_columns,
    applies_fn=_drude_applies,
    match_fn=_drude_match,
))


__all__ = ["DEFAULT_FLUXES", "DRUDE", "FD_STEP", "RESOLVENT_DENSE_LIMIT", "DegenerateGroundStateError",
           "drude_weights", "matrix_builder"]
