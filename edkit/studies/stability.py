"""Charge stability diagrams: the ground-state charge configuration over a grid of gate voltages.

For a model whose Hamiltonian is affine in two gate parameters (``eps_L``, ``eps_R`` of the
``hamo`` model), every sector's Hamiltonian is :math:`H = H_0 + \\epsilon_L A_L + \\epsilon_R A_R`
with :math:`A = \\partial H / \\partial\\epsilon` the occupation conjugate to each gate. The matrices
are built once per sector (QuSpin, through :mod:`edkit.engine.backend_quspin`), and every grid point is
diagonalized densely in batches. The ground state is the lowest level over the given sectors; its
charge configuration is :math:`(\\langle A_L\\rangle, \\langle A_R\\rangle)` (Hellmann-Feynman).

Coordinates (those of Hamo et al., Fig. 2)
------------------------------------------
Gate voltages in energy units (lever arm folded in): ``V = (V_L + V_R)/2`` (mean) and
``dV = (V_L - V_R)/2`` (detuning). A positive gate voltage lowers the site energy:
``eps_L = -V_L = -(V + dV)``, ``eps_R = -V_R = -(V - dV)``. Arrays are indexed ``[iV, idV]``; plots
put ``dV`` on the horizontal axis and ``V`` on the vertical one.

Interaction vertex
------------------
Between the two triple points the boundary is either between ``(1,0)`` and ``(0,1)`` — a
**vertical** segment along ``V`` at ``dV = 0`` (repulsion, :math:`W_{eff} > 0`), of length
:math:`W_{eff}` in ``V`` — or between ``(0,0)`` and ``(1,1)`` — a **horizontal** segment along
``dV`` (attraction, :math:`W_{eff} < 0`), of length :math:`|W_{eff}|` in ``dV``, with
:math:`W_{eff} = E(1,1) + E(0,0) - E(1,0) - E(0,1)` (gate independent). :func:`interaction_vertex`
reads the orientation (``+1`` vertical, ``-1`` horizontal) and the length off the grid.

Per point (sweeps)
------------------
A stability diagram is a grid over two gate axes, not a value per parameter point, so it is not
an observable itself. Its per-point content is: the observable ``stability`` registered here
(models that offer it in their capabilities: the ``hamo`` pair) gives, at the point's gate values,
the ground energy ``E_<nL><nR>`` and polarization ``sigma_z_<nL><nR>`` of each of the four charge
states, the interaction vertex ``W_eff = E_11 + E_00 - E_10 - E_01`` and the ground charge
configuration ``n_L``, ``n_R``: a sweep over ``eps_L``, ``eps_R`` with it holds the diagram's
labels point by point (one diagonalization per point instead of one batch per grid).

Matplotlib is imported only inside :func:`plot_stability`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from edkit.core.model import Constraint, Model, Sector
from edkit.core.params import ParameterError
from edkit.engine.planning import TooLargeError, plan
from edkit.observables.registry import Observable, offered, register

#: refuse grids with more points than this (a 500 x 500 grid)
DEFAULT_MAX_POINTS = 250_000
#: refuse grids whose estimated dense work exceeds this many floating-point operations
DEFAULT_MAX_FLOPS = 2e10
#: grid points diagonalized per batch (bounds the memory of the batched matrices)
CHUNK = 8192


@dataclass
class GridPlan:
    """Estimated cost of a stability diagram, made before anything is built.

    Attributes
    ----------
    n_points
        Grid points ``len(V) * len(dV)``.
    dimensions
        Upper bounds of the sector dimensions (unconstrained sector sizes).
    flops
        Estimated floating-point operations of the batched dense diagonalizations.
    bytes
        Estimated peak memory of one batch plus the stored result grids.
    """

    n_points: int
    dimensions: list[int]
    flops: float
    bytes: int

    def describe(self) -> str:
        """One line with the numbers."""
        return (f"{self.n_points:,} grid points x sectors of dimension <= {self.dimensions}: "
                f"~{self.flops:.2g} flops, ~{self.bytes / 2**20:.0f} MiB")


def _axis(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of gate values")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    if arr.size > 1 and not np.all(np.diff(arr) > 0):
        raise ValueError(f"{name} must be strictly increasing")
    return arr


def _get_model(model: str | Model) -> Model:
    if isinstance(model, Model):
        return model
    from edkit.core.lattice import LatticeError
    from edkit.models import build_model

    try:
        return build_model(model, None)
    except (LatticeError, TypeError):
        raise ValueError(f"model {model!r} needs a size: pass a built Model") from None


#: Name of the per-point observable; a model offering it (``capabilities.observables``) is a Hamo
#: pair (sites ``L``, ``R`` and the polarizer ``T``, ``B`` of :func:`~edkit.models.polarizer.polarizer_pair`),
#: which also gives the default sectors and the ``sigma_z`` observable of :func:`stability_diagram`.
STABILITY = "stability"


def _is_hamo_pair(model: Model) -> bool:
    return STABILITY in model.capabilities.observables


def _default_sectors(model: Model) -> list[dict]:
    if _is_hamo_pair(model):
        return [{"N": n} for n in range(3)]
    raise ValueError(f"give the sectors to compare for model {model.name!r} "
                     "(e.g. sectors=[{'N': 0}, {'N': 1}, ...])")


def _sector_of(model: Model, s: Mapping) -> Sector:
    extra = {k: v for k, v in s.items() if k not in ("N", "Sz")}
    return model.sector(s.get("N"), s.get("Sz"), **extra)


def plan_grid(model: Model, n_points: int, sectors: Sequence[Sector]) -> GridPlan:
    """Estimate the cost of a grid from the unconstrained sector sizes (an upper bound)."""
    dims = [plan(model, s).built_dimension for s in sectors]
    batch = min(n_points, CHUNK)
    flops = float(n_points) * sum(10.0 * d**3 for d in dims)
    nbytes = int(batch * sum(3 * d * d for d in dims) * 8 + n_points * 8 * 8)
    return GridPlan(n_points, dims, flops, nbytes)


def _check_affine(model: Model, gates: Sequence[str]) -> None:
    symbols = [model.parameters[g].symbol for g in gates]
    for coef in model.canonical_terms().values():
        for g in symbols:
            d = sympy.diff(coef, g)
            if any(sympy.simplify(sympy.diff(d, h)) != 0 for h in symbols):
                raise ValueError(f"model {model.name!r}: the coefficient {coef} is not affine in the "
                                 f"gates {list(gates)}; a stability diagram needs H = H0 + sum eps*A")


def stability_diagram(model: str | Model = "hamo", values: Mapping[str, object] | None = None, *,
                      V: Sequence[float], dV: Sequence[float],
                      sectors: Sequence[Mapping] | None = None,
                      gates: tuple[str, str] = ("eps_L", "eps_R"),
                      observables: Mapping[str, list] | None = None,
                      max_points: int = DEFAULT_MAX_POINTS,
                      max_flops: float = DEFAULT_MAX_FLOPS) -> dict:
    """Ground-state charge configuration over a grid of gate voltages (see module docs).

    Parameters
    ----------
    model
        A model (or registry name) affine in the two ``gates`` parameters; default ``"hamo"``.
    values
        Parameter values; the gate parameters are set by the grid and may not be given.
    V, dV
        Mean gate voltage and detuning axes (energy units), strictly increasing.
    sectors
        Sectors compared at every point (default for a model offering the ``stability``
        observable, ``hamo``: ``N = 0, 1, 2``).
    gates
        The two gate parameters (``eps_L``, ``eps_R``).
    observables
        Extra ground-state expectation values, ``{name: [(coef, word), ...]}``; for a model
        offering the ``stability`` observable (``hamo``) the polarization ``sigma_z`` is added.
    max_points, max_flops
        Refuse larger grids (estimated before anything is built).

    Returns
    -------
    dict
        ``{"model", "params", "gates", "V", "dV", "convention", "N", "n_L", "n_R", "labels",
        "energy", "observables": {name: grid}}``; grids are nested lists ``[iV][idV]``,
        ``labels`` are ``"(n_L,n_R)"`` strings of the rounded occupations.

    Raises
    ------
    TooLargeError
        If the grid exceeds ``max_points`` or the estimated work exceeds ``max_flops``.
    ParameterError, SectorError, ValueError
        For bad values, sectors, axes, or a model that is not affine in the gates.
    """
    from edkit.engine.backend_quspin import make_space, operator_matrix

    m = _get_model(model)
    Vs, dVs = _axis(V, "V"), _axis(dV, "dV")
    n_points = Vs.size * dVs.size
    if not isinstance(max_points, int) or max_points < 1:
        raise ValueError(f"max_points must be a positive integer, got {max_points!r}")
    if n_points > max_points:
        raise TooLargeError(
            f"gate grid of {Vs.size} x {dVs.size} = {n_points:,} points exceeds the limit of "
            f"{max_points:,} points; use a coarser grid or raise max_points")
    missing = [g for g in gates if g not in m.parameters]
    if len(gates) != 2 or missing:
        raise ValueError(f"model {m.name!r} has no gate parameter(s) {missing or list(gates)}; "
                         f"its parameters are {list(m.parameters)}")
    given = dict(values or {})
    if any(g in given for g in gates):
        raise ParameterError(f"the gates {list(gates)} are set by the grid (V, dV); do not give them")
    base = m.resolve({**given, gates[0]: 0.0, gates[1]: 0.0})
    sector_specs = list(sectors) if sectors is not None else _default_sectors(m)
    if not sector_specs:
        raise ValueError("at least one sector is needed")
    secs = [_sector_of(m, s) for s in sector_specs]
    estimate = plan_grid(m, n_points, secs)
    if estimate.flops > max_flops:
        raise TooLargeError(f"stability diagram too large: {estimate.describe()}; "
                            f"limit {max_flops:.2g} flops (use a coarser grid or fewer sectors)")
    _check_affine(m, gates)

    obs = dict(observables or {})
    if _is_hamo_pair(m) and "sigma_z" not in obs:
        from edkit.models.polarizer import sigma_z_terms

        obs["sigma_z"] = sigma_z_terms()

    h0_terms = m.numeric_terms(base)
    blocks = []
    for sec in secs:
        space = make_space(m, sec)
        H0 = operator_matrix(space, h0_terms).toarray()
        A = [operator_matrix(space, m.numeric_terms({**base, g: 1.0})).toarray() - H0 for g in gates]
        O = {k: operator_matrix(space, [(complex(c), w) for c, w in terms]).toarray()
             for k, terms in obs.items()}
        blocks.append((H0, A, O))

    eps_L = -(Vs[:, None] + dVs[None, :]).ravel()
    eps_R = -(Vs[:, None] - dVs[None, :]).ravel()
    fields = ("energy", "N", "n_L", "n_R", *obs)
    out = {k: np.empty(n_points) for k in fields}
    for start in range(0, n_points, CHUNK):
        sl = slice(start, min(start + CHUNK, n_points))
        eL, eR = eps_L[sl], eps_R[sl]
        best = {k: np.full(eL.size, np.inf if k == "energy" else np.nan) for k in fields}
        for spec, (H0, A, O) in zip(sector_specs, blocks):
            H = H0[None] + eL[:, None, None] * A[0][None] + eR[:, None, None] * A[1][None]
            w, v = np.linalg.eigh(H)
            e0, g = w[:, 0], v[:, :, 0]
            lower = e0 < best["energy"] - 1e-12
            vals = {"energy": e0, "N": np.full(eL.size, float(spec.get("N", np.nan))),
                    "n_L": np.einsum("pi,ij,pj->p", g.conj(), A[0], g).real,
                    "n_R": np.einsum("pi,ij,pj->p", g.conj(), A[1], g).real}
            for k, mat in O.items():
                vals[k] = np.einsum("pi,ij,pj->p", g.conj(), mat, g).real
            for k in fields:
                best[k] = np.where(lower, vals[k], best[k])
        for k in fields:
            out[k][sl] = best[k]
    shape = (Vs.size, dVs.size)
    grids = {k: out[k].reshape(shape) for k in fields}
    labels = [[f"({int(round(a))},{int(round(b))})" for a, b in zip(ra, rb)]
              for ra, rb in zip(grids["n_L"], grids["n_R"])]
    return {
        "model": m.name, "params": {k: v for k, v in base.items() if k not in gates},
        "gates": list(gates), "V": Vs.tolist(), "dV": dVs.tolist(),
        "convention": "eps_L = -(V + dV), eps_R = -(V - dV); grids indexed [iV][idV]",
        "sectors": [dict(s) for s in sector_specs],
        "energy": grids["energy"].tolist(), "N": grids["N"].astype(int).tolist(),
        "n_L": grids["n_L"].tolist(), "n_R": grids["n_R"].tolist(), "labels": labels,
        "observables": {k: grids[k].tolist() for k in obs},
    }


def interaction_vertex(diagram: Mapping) -> dict:
    """Orientation and length of the interaction vertex read off a stability diagram.

    Counts neighbouring grid cells whose charge labels are ``(1,0)|(0,1)`` (the vertical,
    repulsive vertex) and ``(0,0)|(1,1)`` (the horizontal, attractive vertex).

    Returns
    -------
    dict
        ``{"orientation": +1 | -1 | 0, "kind": "vertical" | "horizontal" | "unresolved" |
        "none", "length": float, "odd_pairs": int, "even_pairs": int}``; the length is the
        extent of the vertex along ``V`` (vertical) or ``dV`` (horizontal), accurate to about one
        grid step. A vertex shorter than two grid steps is ``"unresolved"`` (orientation 0):
        refine the grid near the triple points.
    """
    labels = np.asarray(diagram["labels"], dtype=object)
    Vs, dVs = np.asarray(diagram["V"]), np.asarray(diagram["dV"])
    odd, even = {"(1,0)", "(0,1)"}, {"(0,0)", "(1,1)"}
    odd_rows, even_cols = set(), set()
    n_odd = n_even = 0
    for axis in (0, 1):
        a = labels[:-1, :] if axis == 0 else labels[:, :-1]
        b = labels[1:, :] if axis == 0 else labels[:, 1:]
        for idx in zip(*np.nonzero(a != b)):
            pair = {a[idx], b[idx]}
            if pair == odd:
                n_odd += 1
                odd_rows.add(idx[0])
            elif pair == even:
                n_even += 1
                even_cols.add(idx[1])
    step_V = float(np.mean(np.diff(Vs))) if Vs.size > 1 else 0.0
    step_dV = float(np.mean(np.diff(dVs))) if dVs.size > 1 else 0.0
    counts = {"odd_pairs": n_odd, "even_pairs": n_even}
    # a vertex shorter than two grid steps cannot be told from the staircase of the grid
    if len(odd_rows) >= 2 and len(odd_rows) > len(even_cols):
        return {"orientation": 1, "kind": "vertical", "length": len(odd_rows) * step_V, **counts}
    if len(even_cols) >= 2 and len(even_cols) > len(odd_rows):
        return {"orientation": -1, "kind": "horizontal", "length": len(even_cols) * step_dV, **counts}
    kind = "none" if n_odd == n_even == 0 else "unresolved"
    return {"orientation": 0, "kind": kind, "length": 0.0, **counts}


def charge_states(values: Mapping[str, object] | None = None, model: Model | None = None) -> dict:
    """Ground energy and polarizer polarization of each charge state ``(n_L, n_R)`` of ``hamo``.

    Each charge state is its own sector (``n_L``, ``n_R`` are conserved): the sector ``N`` with
    the extra constraints ``n_L``, ``n_R`` fixed.

    Returns
    -------
    dict
        ``{"(n_L,n_R)": {"energy": float, "sigma_z": float}}`` for the four charge states.
    """
    from edkit.engine.backend_quspin import make_space, operator_matrix
    from edkit.engine.solver import lowest
    from edkit.models.polarizer import SITE_L, SITE_R, polarizer_pair, sigma_z_terms

    m = model or polarizer_pair()
    vals = m.resolve(values)
    terms = m.numeric_terms(vals)
    sz = [(complex(c), w) for c, w in sigma_z_terms()]
    out = {}
    for nl in (0, 1):
        for nr in (0, 1):
            base = m.sector(nl + nr)
            sec = Sector(base.n_up, base.n_dn, (Constraint((SITE_L,), (nl,), f"n_L = {nl}"),
                                                Constraint((SITE_R,), (nr,), f"n_R = {nr}")))
            space = make_space(m, sec)
            eig = lowest(operator_matrix(space, terms), 1, vectors=True)
            g = eig.vectors[:, 0]
            S = operator_matrix(space, sz)
            out[f"({nl},{nr})"] = {"energy": float(eig.energies[0]),
                                   "sigma_z": float(np.real(np.vdot(g, S @ g)))}
    return out


_COLOURS = {"(0,0)": "#f7f7f7", "(1,0)": "#a6dba0", "(0,1)": "#c2a5cf", "(1,1)": "#008837"}


def plot_stability(diagram: Mapping, ax=None, *, quantity: str = "labels", annotate: bool = True,
                   title: str | None = None):
    """Plot a stability diagram (``dV`` horizontal, ``V`` vertical); returns the axes.

    Parameters
    ----------
    diagram
        The output of :func:`stability_diagram`.
    ax
        Matplotlib axes (a new figure if ``None``).
    quantity
        ``"labels"`` (charge configurations, one colour each), ``"N"``, ``"energy"`` or an
        observable name such as ``"sigma_z"`` (colour scale).
    annotate
        Write the charge labels at the centre of each region, and the vertex kind.
    """
    import matplotlib.pyplot as plt  # lazy: only plotting needs matplotlib
    from matplotlib.colors import ListedColormap

    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 4.0))
    Vs, dVs = np.asarray(diagram["V"]), np.asarray(diagram["dV"])
    labels = np.asarray(diagram["labels"], dtype=object)
    if quantity == "labels":
        keys = list(_COLOURS)
        codes = np.vectorize(lambda s: keys.index(s) if s in keys else -1)(labels).astype(float)
        codes[codes < 0] = np.nan
        ax.pcolormesh(dVs, Vs, codes, cmap=ListedColormap(list(_COLOURS.values())), vmin=-0.5,
                      vmax=len(keys) - 0.5, shading="nearest")
    else:
        grid = diagram["observables"][quantity] if quantity in diagram["observables"] else diagram[quantity]
        mesh = ax.pcolormesh(dVs, Vs, np.asarray(grid, dtype=float), shading="nearest", cmap="coolwarm")
        ax.figure.colorbar(mesh, ax=ax, label=quantity)
    if annotate:
        for lab in sorted(set(labels.ravel())):
            iv, jd = np.nonzero(labels == lab)
            if iv.size:
                ax.text(float(np.mean(dVs[jd])), float(np.mean(Vs[iv])), lab, ha="center",
                        va="center", fontsize=9)
        vx = interaction_vertex(diagram)
        ax.text(0.02, 0.98, f"vertex: {vx['kind']}, length {vx['length']:.3g}",
                transform=ax.transAxes, ha="left", va="top", fontsize=8)
    ax.set_xlabel(r"$\delta V = (V_L - V_R)/2$")
    ax.set_ylabel(r"$V = (V_L + V_R)/2$")
    if title:
        ax.set_title(title)
    return ax


def grid_axis(start: float, stop: float, num: int) -> list[float]:
    """``num`` equally spaced gate values from ``start`` to ``stop`` (inclusive), validated."""
    if not (math.isfinite(start) and math.isfinite(stop)) or stop <= start:
        raise ValueError(f"gate axis needs finite start < stop, got {start}, {stop}")
    if isinstance(num, bool) or not isinstance(num, int) or num < 2:
        raise ValueError(f"gate axis needs an integer number of points >= 2, got {num!r}")
    return np.linspace(start, stop, num).tolist()


# ------------------------------------------------------------------------- observable
#: The four charge states ``(n_L, n_R)`` of the Hamo pair, in output order.
CHARGE_STATES = ((0, 0), (1, 0), (0, 1), (1, 1))
#: Columns of the ``stability`` observable.
CHARGE_COLUMNS = (*(f"E_{a}{b}" for a, b in CHARGE_STATES), *(f"sigma_z_{a}{b}" for a, b in CHARGE_STATES),
                  "W_eff", "n_L", "n_R")


def _stability(model: Model, values: Mapping, sector: Mapping, options: Mapping) -> dict:
    """Charge states at the point's gates; the sector is not used (each charge state is its own)."""
    cs = charge_states(values, model)
    out: dict = {}
    for a, b in CHARGE_STATES:
        out[f"E_{a}{b}"] = cs[f"({a},{b})"]["energy"]
    for a, b in CHARGE_STATES:
        out[f"sigma_z_{a}{b}"] = cs[f"({a},{b})"]["sigma_z"]
    out["W_eff"] = out["E_11"] + out["E_00"] - out["E_10"] - out["E_01"]
    n_l, n_r = min(CHARGE_STATES, key=lambda s: out[f"E_{s[0]}{s[1]}"])
    out["n_L"], out["n_R"] = n_l, n_r
    return out


STABILITY_OBSERVABLE = register(Observable(
    name=STABILITY,
    summary="polarizer pair: energy E_ab and sigma_z_ab of each charge state (n_L, n_R) = (a, b) at the "
            "point's gates, W_eff = E_11 + E_00 - E_10 - E_01 and the ground configuration n_L, n_R",
    compute_fn=_stability,
    column_names=CHARGE_COLUMNS,
    applies_fn=offered(STABILITY),
    match_fn=lambda column: {} if column in CHARGE_COLUMNS[:-2] else None,
))


__all__ = ["CHARGE_COLUMNS", "DEFAULT_MAX_FLOPS", "DEFAULT_MAX_POINTS", "STABILITY", "STABILITY_OBSERVABLE",
           "GridPlan", "charge_states", "grid_axis", "interaction_vertex", "plan_grid",
           "plot_stability", "stability_diagram"]
