"""High-level numeric API: spectra, gaps and correlators of a model in a sector.

All functions take either a model name (with ``L`` and ``bc``) or a built
:class:`~edkit.core.model.Model`, a mapping of parameter values, and return plain data
(dicts of floats and lists) that serialize to JSON.

Definitions
-----------
- ``charge_gap``: :math:`E(N+2) + E(N-2) - 2E(N)` (Eq. (12)), each at the lowest ``|Sz|``
  (``Sz = 0`` for even N).
- ``spin_gap``: :math:`E(N, S_z=1) - E(N, S_z=0)` (even N).
- ``pair_binding``: :math:`E(N+2) + E(N) - 2E(N+1)`, ``E(N+1)`` at ``Sz = 1/2``.
- ``neutral_gap``: :math:`E_1 - E_0` in the sector ``(N, Sz)`` (zero if degenerate).
A gap is ``None`` where a sector it needs has no states.
- Correlators are ground-state expectation values; a degenerate ground state is averaged over
  its degenerate levels in the sector (found among the lowest ``nev`` levels).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edkit.backend_quspin import make_space, operator_matrix
from edkit.core import operators as ops
from edkit.core.model import Model, Sector, SectorError
from edkit.core.modes import DN, UP
from edkit.models import build_model
from edkit.planning import check_fits
from edkit.solver import Eigen, lowest


def get_model(model: str | Model, L: int | None = None, bc: str = "open") -> Model:
    """A model object from a name (built at ``L``, ``bc``) or the model itself."""
    if isinstance(model, Model):
        return model
    return build_model(model, L, bc)  # fixed-size models (hamo) accept L=None


def solve_sector(model: Model, values: Mapping[str, object] | None, N: int,
                 Sz: float | None = None, nev: int = 1, vectors: bool = False,
                 seed: int = 0, extra: Mapping[str, float] | None = None) -> tuple[Eigen, object]:
    """Lowest ``nev`` levels of ``model`` in sector ``(N, Sz)``; also returns the sector space.

    Raises
    ------
    SectorError, ParameterError, TooLargeError
        Before any large allocation.
    """
    vals = model.resolve(values)  # validates names and numbers first
    sector = model.sector(N, Sz, **dict(extra or {}))
    check_fits(model, sector)
    terms = model.numeric_terms(vals)
    space = make_space(model, sector)
    H = operator_matrix(space, terms)
    return lowest(H, nev, vectors=vectors, seed=seed), space


def _sector_dict(m: Model, N, Sz, extra) -> dict:
    out = {"N": N, "Sz": Sz} if m.spinful else {"N": N}
    out.update(dict(extra or {}))
    return out


def spectrum(model: str | Model, values: Mapping[str, object] | None = None, *, N: int,
             Sz: float | None = None, nev: int = 1, L: int | None = None, bc: str = "open",
             vectors: bool = False, extra: Mapping[str, float] | None = None,
             symmetries: object = None) -> dict:
    """Lowest levels as ``{"model", "L", "bc", "params", "sector", "dimension", "energies", ...}``.

    ``extra`` holds values of sector quantities beyond ``N`` and ``Sz`` (e.g. ``N_s``).
    ``symmetries`` (default ``None``: no lattice symmetry): ``"all"``, a list of labels
    (``"k"``, ``"P"``, ``"Z"``, ``"C"``) or a mapping ``{label: quantum number or None}``; the
    levels are then searched in every block (or the fixed ones) and labelled with their block
    (``"levels"``, ``"blocks"``, ``"ground_block"``; see :func:`edkit.blocks.block_spectrum`).
    """
    m = get_model(model, L, bc)
    if symmetries is not None:
        return _spectrum_blocks(m, values, N, Sz, nev, vectors, extra, symmetries)
    eig, space = solve_sector(m, values, N, Sz, nev, vectors, extra=extra)
    out = {
        "model": m.name, "L": m.lattice.L, "bc": m.lattice.bc, "params": m.resolve(values),
        "sector": _sector_dict(m, N, Sz, extra),
        "dimension": space.dimension, "energies": [float(e) for e in eig.energies],
        "degeneracies": [[e, k] for e, k in eig.degeneracies], "method": eig.method,
    }
    if vectors:
        out["vectors"] = eig.vectors
    return out


def _spectrum_blocks(m: Model, values, N, Sz, nev, vectors, extra, symmetries) -> dict:
    from edkit.blocks import block_spectrum, select_symmetries

    if vectors:
        raise ValueError("eigenvectors are not returned with symmetries (they live in block bases)")
    vals = m.resolve(values)
    sector = m.sector(N, Sz, **dict(extra or {}))
    res = block_spectrum(m, vals, sector, select_symmetries(m, vals, sector, symmetries), nev=nev)
    return {
        "model": m.name, "L": m.lattice.L, "bc": m.lattice.bc, "params": vals,
        "sector": _sector_dict(m, N, Sz, extra), "dimension": res["dimension"],
        "energies": res["energies"], "degeneracies": res["degeneracies"], "method": "blocks",
        "symmetries": res["symmetries"], "levels": res["levels"], "ground_block": res["ground_block"],
        "blocks": res["blocks"],
    }


def ground_energy(model: Model, values: Mapping[str, object] | None, N: int,
                  Sz: float | None = None, extra: Mapping[str, float] | None = None,
                  symmetries: object = None) -> float | None:
    """Ground-state energy in a sector, or ``None`` if the sector has no states.

    With ``symmetries``, the minimum over every block of the symmetries that hold in this sector.
    """
    try:
        if symmetries is not None:
            from edkit.blocks import block_spectrum, select_symmetries

            vals = model.resolve(values)
            sector = model.sector(N, Sz, **dict(extra or {}))
            sel = select_symmetries(model, vals, sector, symmetries, per_sector=True)
            res = block_spectrum(model, vals, sector, sel, nev=1)
            return res["energies"][0] if res["energies"] else None
        eig, _ = solve_sector(model, values, N, Sz, 1, extra=extra)
    except SectorError:
        return None
    return float(eig.energies[0])


def _lowest_sz(N: int) -> float:
    return 0.0 if N % 2 == 0 else 0.5


def gaps(model: str | Model, values: Mapping[str, object] | None = None, *, N: int,
         Sz: float | None = None, L: int | None = None, bc: str = "open",
         extra: Mapping[str, float] | None = None, symmetries: object = None) -> dict:
    """Charge gap, spin gap, pair binding and neutral gap around ``N`` (see module docs).

    Sector quantities in ``extra`` (e.g. ``N_s``) are held fixed. With ``symmetries`` (``"all"``
    or labels), every energy is the minimum over all blocks of the symmetries that hold in its
    sector (spin inversion only at ``Sz = 0``, particle-hole only at half filling); a symmetry
    that does not hold for the Hamiltonian is refused.
    """
    if symmetries is not None:
        if isinstance(symmetries, Mapping) and any(v not in (None, "all") for v in symmetries.values()):
            raise ValueError("gaps search every block: give symmetry labels without quantum numbers")
    m = get_model(model, L, bc)
    sz = _lowest_sz(N + m.extra_electrons) if Sz is None else Sz
    extra = dict(extra or {})
    m.resolve(values)
    m.sector(N, sz if m.spinful else None, **extra)  # refuse a bad base sector early

    def E(n: int, s: float) -> float | None:
        try:
            m.sector(n, s if m.spinful else None, **extra)
        except SectorError:
            return None
        return ground_energy(m, values, n, s if m.spinful else None, extra, symmetries=symmetries)

    def lsz(n: int) -> float:
        return _lowest_sz(n + m.extra_electrons)

    e0 = E(N, sz)
    ep2, em2, ep1 = E(N + 2, lsz(N + 2)), E(N - 2, lsz(N - 2)), E(N + 1, lsz(N + 1))

    def combo(*parts):
        return None if any(p is None for p, _ in parts) else float(sum(k * p for p, k in parts))

    if symmetries is not None:
        from edkit.blocks import block_spectrum, select_symmetries

        vals = m.resolve(values)
        base = m.sector(N, sz if m.spinful else None, **extra)
        low = block_spectrum(m, vals, base, select_symmetries(m, vals, base, symmetries, per_sector=True),
                             nev=2)["energies"]
    else:
        eig, _ = solve_sector(m, values, N, sz if m.spinful else None, 2, extra=extra)
        low = list(eig.energies)
    neutral = float(low[1] - low[0]) if len(low) > 1 else None
    spin_gap = None
    if m.spinful and (N + m.extra_electrons) % 2 == 0:
        e_s1 = E(N, 1.0)
        e_s0 = E(N, 0.0)
        spin_gap = combo((e_s1, 1), (e_s0, -1))
    return {
        "model": m.name, "L": m.lattice.L, "bc": m.lattice.bc, "params": m.resolve(values),
        "sector": _sector_dict(m, N, sz, extra),
        "energy": e0,
        "charge_gap": combo((ep2, 1), (em2, 1), (e0, -2)),
        "spin_gap": spin_gap,
        "pair_binding": combo((ep2, 1), (e0, 1), (ep1, -2)),
        "neutral_gap": neutral,
    }


def expectation(space, terms: ops.Terms, states: np.ndarray) -> float:
    """Average of ``<psi|O|psi>`` over the columns of ``states`` (real part)."""
    numeric = [(complex(c), w) for c, w in terms]
    O = operator_matrix(space, numeric)
    vals = [np.vdot(states[:, k], O @ states[:, k]) for k in range(states.shape[1])]
    return float(np.real(np.mean(vals)))


def ground_states(model: Model, values, N: int, Sz: float | None, nev: int = 4,
                  tol: float = 1e-8, extra: Mapping[str, float] | None = None
                  ) -> tuple[np.ndarray, float, object]:
    """Ground-state manifold (columns) in a sector, its energy, and the sector space."""
    eig, space = solve_sector(model, values, N, Sz, nev, vectors=True, extra=extra)
    e0 = eig.energies[0]
    k = int(np.sum(np.abs(eig.energies - e0) <= tol * (1 + abs(e0))))
    return eig.vectors[:, :k], float(e0), space


def correlations(model: str | Model, values: Mapping[str, object] | None = None, *, N: int,
                 Sz: float | None = None, L: int | None = None, bc: str = "open",
                 reference: int = 0, layers: tuple[str, ...] | None = None,
                 extra: Mapping[str, float] | None = None) -> dict:
    """Ground-state correlators from site ``reference`` to every ``j`` in each layer.

    Returns ``{"layers": {layer: {"C": [...], "N": [...], "S": [...], "SzSz": [...],
    "SxSx": [...], "SySy": [...]}}}`` with lists indexed by ``j``. ``S`` is the spin-averaged
    :math:`\\tfrac12\\sum_\\sigma\\langle c^\\dagger_{r\\sigma} c_{j\\sigma}\\rangle`.
    """
    m = get_model(model, L, bc)
    if not m.spinful:
        raise ValueError(f"model {m.name!r} is spinless: pair and spin correlators need spin")
    Lx = m.lattice.L
    if not 0 <= reference < Lx:
        raise ValueError(f"reference site must be in 0..{Lx - 1}, got {reference}")
    states, e0, space = ground_states(m, values, N, Sz, extra=extra)
    out = {}
    for layer in layers or m.lattice.layers:
        a = (layer, reference)
        rows: dict[str, list[float]] = {k: [] for k in ("C", "N", "S", "SzSz", "SxSx", "SySy")}
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
            "sector": _sector_dict(m, N, Sz, extra), "energy": e0,
            "ground_state_degeneracy": states.shape[1],
            "reference": reference, "layers": out}


__all__ = ["Sector", "correlations", "gaps", "get_model", "ground_energy", "solve_sector",
           "spectrum"]
