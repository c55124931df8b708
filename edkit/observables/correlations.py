r"""Ground-state correlators from a reference site to every site of each layer.

Keys (:data:`CORRELATOR_KEYS`): ``C`` pair-pair, ``N`` density-density, ``S`` the spin-averaged
one-body :math:`\tfrac12\sum_\sigma\langle c^\dagger_{r\sigma} c_{j\sigma}\rangle`, and the spin
components ``SzSz``, ``SxSx``, ``SySy``. A degenerate ground state is averaged over its degenerate
levels in the sector (found among the lowest four). On the matrix-free path (sectors too large or
too slow to store, or ``method="matrix-free"``) the ground manifold comes from two-pass Lanczos with
deflation (:func:`edkit.engine.lanczos.ground_manifold`, through the backend protocol) and the
correlators are evaluated word by word in the ``(up, down)`` product basis
(:func:`edkit.engine.product_expectation.correlations_matrix_free`), with no matrix of the
sector's size. As flat columns (sweeps, ``edkit compare``):
``energy``, ``ground_state_degeneracy`` and ``<key>:<layer>:<reference>:<j>`` (e.g. ``SzSz:c:0:3``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from edkit.core.errors import InputError
from edkit.observables.registry import Observable, register, split_sector
from edkit.observables.spectrum import sector_dict

if TYPE_CHECKING:
    import numpy as np

    from edkit.core.model import Model

#: The correlators of :func:`correlations`, in output order.
CORRELATOR_KEYS = ("C", "N", "S", "SzSz", "SxSx", "SySy")
#: A correlator column ``KEY:layer:reference:j``.
COLUMN = re.compile(rf"^({'|'.join(CORRELATOR_KEYS)}):([A-Za-z_][A-Za-z0-9_]*):(\d+):(\d+)$")


def expectation(space, terms, states: np.ndarray) -> float:
    """Average of ``<psi|O|psi>`` over the columns of ``states`` (real part).

    ``space`` is the space :func:`edkit.engine.solve.solve_sector` returned with the vectors: a
    QuSpin space (the operator is built as a sparse matrix) or a
    :class:`edkit.engine.solve.MatrixFreeSpace` (the words are applied in its product basis, no
    matrix is built). A single vector may be given flat.
    """
    import numpy as np

    from edkit.engine.solve import MatrixFreeSpace

    numeric = [(complex(c), w) for c, w in terms]
    states = np.asarray(states)
    if states.ndim == 1:
        states = states.reshape(-1, 1)
    if isinstance(space, MatrixFreeSpace):
        from edkit.engine.product_expectation import expectation as product_expectation

        vals = [product_expectation(space.basis, states[:, k], numeric)
                / float(np.real(np.vdot(states[:, k], states[:, k]))) for k in range(states.shape[1])]
        return float(np.real(np.mean(vals)))
    from edkit.engine.backend_quspin import operator_matrix

    O = operator_matrix(space, numeric)
    vals = [np.vdot(states[:, k], O @ states[:, k]) for k in range(states.shape[1])]
    return float(np.real(np.mean(vals)))


def _ground_manifold(model: Model, values, N: int, Sz: float | None, nev: int, tol: float,
                     extra: Mapping[str, float] | None, method: str
                     ) -> tuple[object, np.ndarray, float, object]:
    """``(Eigen, manifold columns, E0, space)``: a ground-manifold request through the planner."""
    import numpy as np

    from edkit.engine.backends.base import Request
    from edkit.engine.solve import check_method, run

    check_method(method)
    request = Request(nev=nev, vectors=True, method=method, manifold=True)
    vals = model.resolve(values)
    sector = model.sector(N, Sz, **dict(extra or {}))
    eig, space = run(model, vals, sector, request)
    e0 = eig.energies[0]
    k = int(np.sum(np.abs(eig.energies - e0) <= tol * (1 + abs(e0))))
    return eig, eig.vectors[:, :k], float(e0), space


def ground_states(model: Model, values, N: int, Sz: float | None, nev: int = 4,
                  tol: float = 1e-8, extra: Mapping[str, float] | None = None, method: str = "auto"
                  ) -> tuple[np.ndarray, float, object]:
    """Ground-state manifold (columns) in a sector, its energy, and the sector space.

    The manifold is the levels degenerate with the lowest one (relative ``tol``) among the lowest
    ``nev``; on the matrix-free path the vectors are in the product basis of the returned
    :class:`edkit.engine.solve.MatrixFreeSpace`.
    """
    _, states, e0, space = _ground_manifold(model, values, N, Sz, nev, tol, extra, method)
    return states, e0, space


def correlations(model: str | Model, values: Mapping[str, object] | None = None, *, N: int,
                 Sz: float | None = None, L: int | None = None, bc: str = "open",
                 reference: int = 0, layers: tuple[str, ...] | None = None,
                 extra: Mapping[str, float] | None = None, method: str = "auto") -> dict:
    """Ground-state correlators from site ``reference`` to every ``j`` in each layer.

    Returns ``{"layers": {layer: {"C": [...], "N": [...], "S": [...], "SzSz": [...],
    "SxSx": [...], "SySy": [...]}}}`` with lists indexed by ``j``. ``S`` is the spin-averaged
    :math:`\\tfrac12\\sum_\\sigma\\langle c^\\dagger_{r\\sigma} c_{j\\sigma}\\rangle`.
    ``"method"`` is the solver's (``"dense"``, ``"lanczos"``, ``"matrix-free"``); ``method``
    (``"auto"``, ``"stored"``, ``"matrix-free"``) as in :func:`edkit.engine.solve.solve_sector`.
    """
    from edkit.core import operators as ops
    from edkit.core.modes import DN, UP
    from edkit.engine.solve import MatrixFreeSpace, get_model

    m = get_model(model, L, bc)
    if not m.spinful:
        raise InputError(f"model {m.name!r} is spinless: pair and spin correlators need spin")
    Lx = m.lattice.L
    if not 0 <= reference < Lx:
        raise InputError(f"reference site must be in 0..{Lx - 1}, got {reference}")
    eig, states, e0, space = _ground_manifold(m, values, N, Sz, 4, 1e-8, extra, method)
    out = {}
    if isinstance(space, MatrixFreeSpace):
        from edkit.engine.product_expectation import correlations_matrix_free

        out = correlations_matrix_free(m, space.sector, states, reference=reference, layers=layers,
                                       basis=space.basis)
    for layer in () if out else (layers or m.lattice.layers):
        a = (layer, reference)
        rows: dict[str, list[float]] = {k: [] for k in CORRELATOR_KEYS}
        for j in range(Lx):
            b = (layer, j)
            rows["C"].append(expectation(space, ops.pair_pair(a, b), states))
            rows["N"].append(expectation(space, ops.density_density(a, b), states))
            hop = ops.hopping(a, b, UP) + ops.hopping(a, b, DN)
            rows["S"].append(0.5 * expectation(space, hop, states))
            for comp in "zxy":
                rows[f"S{comp}S{comp}"].append(expectation(space, ops.spin_spin(a, b, comp), states))
        out[layer] = rows
    return {"model": m.name, "L": Lx, "bc": m.lattice.bc, "params": m.resolve(values),
            "sector": sector_dict(m, N, Sz, extra), "energy": e0,
            "ground_state_degeneracy": states.shape[1],
            "reference": reference, "layers": out, "method": eig.method}


# ------------------------------------------------------------------------- observable
def _references(options: Mapping[str, Any]) -> list[int]:
    ref = options["reference"]
    refs = [ref] if isinstance(ref, int) and not isinstance(ref, bool) else list(ref)
    if not refs or any(isinstance(r, bool) or not isinstance(r, int) for r in refs):
        raise InputError(f"correlations: reference must be a site index or a list of them, got {ref!r}")
    return refs


def _layers(model: Model, options: Mapping[str, Any]) -> Sequence[str]:
    return tuple(options["layers"]) if options["layers"] else tuple(model.lattice.layers)


def _columns(model: Model, options: Mapping[str, Any]) -> list[str]:
    out = ["energy", "ground_state_degeneracy"]
    for ref in _references(options):
        for layer in _layers(model, options):
            out += [f"{key}:{layer}:{ref}:{j}" for key in CORRELATOR_KEYS for j in range(model.lattice.L)]
    return out


def _compute(model: Model, values: Mapping[str, Any], sector: Mapping[str, Any],
             options: Mapping[str, Any]) -> dict[str, Any]:
    N, Sz, extra = split_sector(model, sector)
    out: dict[str, Any] = {}
    for ref in _references(options):
        data = correlations(model, values, N=N, Sz=Sz, reference=ref, layers=_layers(model, options),
                            extra=extra, method=options.get("method", "auto"))
        out.setdefault("energy", data["energy"])
        out.setdefault("ground_state_degeneracy", data["ground_state_degeneracy"])
        for layer, rows in data["layers"].items():
            for key in CORRELATOR_KEYS:
                for j, v in enumerate(rows[key]):
                    out[f"{key}:{layer}:{ref}:{j}"] = v
    return out


def _match(column: str) -> dict | None:
    found = COLUMN.match(column)
    if found:
        return {"reference": [int(found.group(3))], "layers": [found.group(2)]}
    return {} if column == "energy" else None


def _applies(model: Model) -> str | None:
    return None if model.spinful else f"model {model.name!r} is spinless: pair and spin correlators need spin"


CORRELATIONS = register(Observable(
    name="correlations",
    summary="ground-state correlators " + ", ".join(CORRELATOR_KEYS)
            + " from site `reference` to every site j, as KEY:layer:reference:j",
    compute_fn=_compute,
    options={"reference": 0, "layers": None, "method": "auto"},
    columns_fn=_columns,
    applies_fn=_applies,
    match_fn=_match,
))

__all__ = ["COLUMN", "CORRELATIONS", "CORRELATOR_KEYS", "correlations", "expectation", "ground_states"]
