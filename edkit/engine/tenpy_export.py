r"""Export an edkit model to TeNPy (optional extra ``dmrg``: ``physics-tenpy``) and run DMRG.

The exported model has exactly the terms of :meth:`edkit.core.model.Model.numeric_terms`
(canonical words with numeric coefficients at the given parameter values), so ED and DMRG
diagonalize the same operator.

Conventions of the export
-------------------------
- One TeNPy site per orbital ``(layer, site)``: ``SpinHalfFermionSite`` for spinful models
  (conserving ``N`` and ``2 Sz``), ``FermionSite`` for spinless ones (conserving ``N``).
- MPS order: rung-major, ``(layer_0, 0), (layer_1, 0), ..., (layer_0, 1), ...`` (short-range
  bonds stay short; :attr:`TenpyExport.order` lists it). The lattice is a TeNPy ``Chain`` of
  ``n_orbitals`` sites with a finite MPS; a periodic bond of the edkit model is simply a long
  coupling in the MPO.
- Mode ``Mode(layer, i, "up")`` is TeNPy ``Cu``/``Cdu`` on that orbital's site, ``"dn"`` is
  ``Cd``/``Cdd``, spinless is ``C``/``Cd``. A word (product of fermion operators, written
  left to right) becomes one ``add_local_term`` call with the operators in the same order;
  TeNPy sorts them by site with the fermionic sign and inserts the Jordan-Wigner strings
  (``JW``, and ``JWu`` inside a site). TeNPy's Jordan-Wigner order (site-major, up before down
  inside a site) differs from edkit's (spin-major, see :mod:`edkit.core.modes`), but both
  represent the same canonical fermions, so the operator, its spectrum and every correlator
  agree; the tests check the full spectrum against QuSpin, including periodic rings at odd
  and even particle number.
- The constant term (empty word) is ``constant * Id`` on the first site.
- Occupation constraints (``kbp-eff``: p sites empty or doubly occupied; ``kondo``: p sites
  singly occupied) cannot be imposed on a TeNPy site, so the export adds a penalty
  :math:`\lambda \sum P_{\mathrm{forbidden}}` with projectors on the forbidden occupations of
  the constrained orbital. The constraints are conserved by H, so every eigenstate lies in one
  constraint sector and the allowed energies are unchanged; with the default
  :math:`\lambda = 2\sum|c| + 1` (``c`` the coefficients) every forbidden state lies above
  every allowed one. Constraints over several orbitals are refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edkit.core.errors import EdkitError
from edkit.core.model import Model, Sector
from edkit.core.modes import DN, UP, Mode
from edkit.core.words import Word


class TenpyExportError(EdkitError, ValueError):
    """A model or request that cannot be exported to TeNPy."""


def _tenpy():
    try:
        import tenpy  # noqa: F401
    except ImportError:
        raise ImportError("the TeNPy export needs physics-tenpy: pip install 'edkit[dmrg]'") from None
    import tenpy.models.lattice as lattice
    import tenpy.models.model as model
    import tenpy.networks.site as site

    return lattice, model, site


def mps_order(model: Model) -> list[tuple[str, int]]:
    """Orbitals in MPS order: rung-major (site index first, then layer in lattice order)."""
    layers = list(model.lattice.layers)
    return sorted(model.orbitals, key=lambda o: (o[1], layers.index(o[0])))


def _op_name(mode: Mode, dagger: bool, spinful: bool) -> str:
    if not spinful:
        return "Cd" if dagger else "C"
    if mode.spin == UP:
        return "Cdu" if dagger else "Cu"
    if mode.spin == DN:
        return "Cdd" if dagger else "Cd"
    raise TenpyExportError(f"mode {mode} has no spin in a spinful model")


def _penalty_terms(model: Model) -> list[tuple[float, list[str], int]]:
    """Projectors on forbidden occupations: ``[(sign, [op names multiplied], orbital index)]``."""
    order = {o: k for k, o in enumerate(mps_order(model))}
    out: list[tuple[float, list[str], int]] = []
    for con in model.constraints:
        orbitals = {m.orbital for m in con.modes}
        if len(orbitals) != 1:
            raise TenpyExportError(f"constraint {con.label or con} spans several orbitals; "
                                   "only single-orbital constraints are exported (as a penalty)")
        (orb,) = orbitals
        n_modes = 2 if model.spinful else 1
        if len(set(con.modes)) != n_modes:
            raise TenpyExportError(f"constraint {con.label or con} does not cover all modes of {orb}")
        forbidden = [n for n in range(n_modes + 1) if n not in con.allowed]
        k = order[orb]
        for n in forbidden:
            if not model.spinful:  # P0 = 1 - n, P1 = n
                out += [(1.0, ["Id"], k), (-1.0, ["N"], k)] if n == 0 else [(1.0, ["N"], k)]
            elif n == 0:  # (1 - n_u)(1 - n_d)
                out += [(1.0, ["Id"], k), (-1.0, ["Nu"], k), (-1.0, ["Nd"], k), (1.0, ["NuNd"], k)]
            elif n == 1:  # n_u + n_d - 2 n_u n_d
                out += [(1.0, ["Nu"], k), (1.0, ["Nd"], k), (-2.0, ["NuNd"], k)]
            else:  # n_u n_d
                out += [(1.0, ["NuNd"], k)]
    return out


@dataclass
class TenpyExport:
    """A TeNPy model built from an edkit model, with the maps needed to read it.

    Attributes
    ----------
    tenpy_model
        The TeNPy ``CouplingMPOModel`` (``.H_MPO``, ``.lat``; use with DMRG or ``ExactDiag``).
    model
        The edkit model.
    values
        Resolved parameter values.
    order
        Orbitals in MPS order; ``index[orbital]`` is the MPS site.
    penalty
        The constraint penalty strength (0 without constraints).
    """

    tenpy_model: Any
    model: Model
    values: dict[str, float]
    order: list[tuple[str, int]]
    index: dict[tuple[str, int], int]
    penalty: float

    def term(self, word: Word) -> list[tuple[str, int]]:
        """A word as a TeNPy term ``[(op, mps_index), ...]`` in the same operator order."""
        return [(_op_name(m, d, self.model.spinful), self.index[m.orbital]) for m, d in word]

    def expectation(self, psi, terms: Sequence[tuple[object, Word]]) -> float:
        """Real part of ``<psi| sum c * word |psi>`` (e.g. a correlator from :mod:`edkit.core.operators`)."""
        total = 0j
        for c, word in terms:
            z = complex(c)
            if z == 0:
                continue
            total += z * (psi.expectation_value_term(self.term(word)) if word else 1.0)
        return float(total.real)


def _model_class():
    lattice, tmodel, tsite = _tenpy()

    class EdkitTenpyModel(tmodel.CouplingMPOModel):
        """TeNPy model carrying the terms of an edkit model (see :mod:`edkit.engine.tenpy_export`)."""

        def init_sites(self, model_params):
            spinful = model_params.get("spinful", True)
            conserve = model_params.get("conserve", True)
            if spinful:
                return tsite.SpinHalfFermionSite(cons_N="N" if conserve else None,
                                                 cons_Sz="Sz" if conserve else None)
            return tsite.FermionSite(conserve="N" if conserve else None)

        def init_lattice(self, model_params):
            site = self.init_sites(model_params)
            n = model_params.get("n_sites", 2)
            return lattice.Chain(n, site, bc="open", bc_MPS="finite")

        def init_terms(self, model_params):
            for strength, term in model_params.get("edkit_terms", []):
                if len(term) == 1 and term[0][0] == "Id":
                    self.add_onsite_term(strength, term[0][1], "Id", category="constant")
                else:
                    self.add_local_term(strength, [(op, [i, 0]) for op, i in term])
            for strength, ops, i in model_params.get("edkit_penalty", []):
                self.add_onsite_term(strength, i, " ".join(ops), category="constraint penalty")

    return EdkitTenpyModel


def to_tenpy(model: Model, values: Mapping[str, object] | None = None, *, conserve: bool = True,
             constraint_penalty: float | None = None) -> TenpyExport:
    """Export ``model`` at parameter ``values`` to a TeNPy ``CouplingMPOModel``.

    Parameters
    ----------
    model
        Any edkit model.
    values
        Parameter values (defaults for the rest).
    conserve
        Conserve ``N`` (and ``2 Sz`` for spinful models) in TeNPy's charges.
    constraint_penalty
        Penalty on forbidden occupations of constrained orbitals (see the module docs);
        default ``2 * sum|c| + 1``.

    Raises
    ------
    ImportError
        Without physics-tenpy.
    TenpyExportError
        A constraint over several orbitals, or a non-positive penalty.

    Notes
    -----
    Coefficients are passed to TeNPy as real numbers when their imaginary part vanishes, and
    complex otherwise.
    """
    vals = model.resolve(values)
    numeric = model.numeric_terms(vals)
    order = mps_order(model)
    index = {o: k for k, o in enumerate(order)}
    terms: list[tuple[complex | float, list[tuple[str, int]]]] = []
    scale = 0.0
    for z, word in numeric:
        scale += abs(z)
        coef: complex | float = z.real if abs(z.imag) <= 1e-14 * max(1.0, abs(z)) else z
        if not word:
            terms.append((coef, [("Id", 0)]))
            continue
        terms.append((coef, [(_op_name(m, d, model.spinful), index[m.orbital]) for m, d in word]))
    penalty_ops = _penalty_terms(model)
    lam = 0.0
    if penalty_ops:
        lam = float(constraint_penalty) if constraint_penalty is not None else 2.0 * scale + 1.0
        if not math.isfinite(lam) or lam <= 0:
            raise TenpyExportError(f"constraint_penalty must be positive, got {constraint_penalty!r}")
    cls = _model_class()
    params = {"spinful": model.spinful, "conserve": conserve, "n_sites": len(order),
              "edkit_terms": terms, "edkit_penalty": [(lam * s, ops, i) for s, ops, i in penalty_ops]}
    tm = cls(params)
    return TenpyExport(tm, model, vals, order, index, lam)


def product_state(export: TenpyExport, N: int | None = None, Sz: float | None = None, *,
                  sector: Sector | None = None) -> list[str]:
    """A product state (TeNPy labels per MPS site) in the sector ``(N, Sz)`` (or the given
    :class:`~edkit.core.model.Sector`) that respects the model's constraints, spread as evenly
    as possible."""
    m = export.model
    sec = sector if sector is not None else m.sector(N, Sz if m.spinful else None)
    n_sites = len(export.order)
    allowed: list[set[int]] = [{0, 1, 2} if m.spinful else {0, 1} for _ in range(n_sites)]
    for con in m.constraints:
        (orb,) = {mode.orbital for mode in con.modes}
        allowed[export.index[orb]] &= set(con.allowed)
    labels = {(0, 0): "empty", (1, 0): "up", (0, 1): "down", (1, 1): "full"} if m.spinful \
        else {(0, 0): "empty", (1, 0): "full"}
    target = (sec.n_up, sec.n_dn)

    # dynamic programming over sites: reachable (up, dn) counts, preferring alternating singles
    def options(k: int) -> list[tuple[int, int]]:
        if not m.spinful:
            return [(n, 0) for n in ((1, 0) if k % 2 == 0 else (0, 1)) if n in allowed[k]]
        pref = [(1, 0), (0, 1)] if k % 2 == 0 else [(0, 1), (1, 0)]
        pref += [(1, 1), (0, 0)]
        return [o for o in pref if sum(o) in allowed[k]]

    reach: list[dict[tuple[int, int], tuple[int, int] | None]] = [{(0, 0): None}]
    for k in range(n_sites):
        nxt: dict[tuple[int, int], tuple[int, int] | None] = {}
        for state in reach[-1]:
            for o in options(k):
                s2 = (state[0] + o[0], state[1] + o[1])
                if s2[0] <= target[0] and s2[1] <= target[1] and s2 not in nxt:
                    nxt[s2] = state
        reach.append(nxt)
    if target not in reach[-1]:
        raise TenpyExportError(f"no product state with (N_up, N_dn) = {target} satisfies the constraints")
    occ: list[tuple[int, int]] = []
    state = target
    for k in range(n_sites, 0, -1):
        prev = reach[k][state]
        assert prev is not None
        occ.append((state[0] - prev[0], state[1] - prev[1]))
        state = prev
    occ.reverse()
    return [labels[o] for o in occ]


def dmrg_ground_state(model: Model, values: Mapping[str, object] | None = None, *, N: int | None = None,
                      Sz: float | None = None, sector: Sector | None = None, chi_max: int = 128,
                      max_sweeps: int = 40,
                      max_E_err: float = 1e-12, max_S_err: float = 1e-9, svd_min: float = 1e-12,
                      mixer: bool = True, constraint_penalty: float | None = None) -> dict[str, Any]:
    """Ground state of the sector ``(N, Sz)`` (or ``sector``) by two-site DMRG on the exported model.

    Starts from a product state of the sector (:func:`product_state`); ``mixer`` (default on)
    helps DMRG leave it when charges are conserved. Sweeps stop when the energy changes by
    less than ``max_E_err`` and the entropy by less than ``max_S_err`` (or ``max_sweeps``).

    Returns
    -------
    dict
        ``energy``, ``psi`` (TeNPy MPS), ``export`` (:class:`TenpyExport`), ``max_trunc_err``,
        ``max_chi``, ``sweeps``.
    """
    _tenpy()
    from tenpy.algorithms import dmrg
    from tenpy.networks.mps import MPS

    if isinstance(chi_max, bool) or not isinstance(chi_max, int) or chi_max < 1:
        raise TenpyExportError(f"chi_max must be a positive integer, got {chi_max!r}")
    export = to_tenpy(model, values, constraint_penalty=constraint_penalty)
    init = product_state(export, N, Sz, sector=sector)
    lat = export.tenpy_model.lat
    psi = MPS.from_product_state(lat.mps_sites(), init, bc="finite",
                                 unit_cell_width=getattr(lat, "mps_unit_cell_width", len(init)))
    params = {"mixer": bool(mixer), "max_E_err": max_E_err, "max_S_err": max_S_err, "max_sweeps": max_sweeps,
              "min_sweeps": 4,
              "trunc_params": {"chi_max": chi_max, "svd_min": svd_min}, "combine": True}
    engine = dmrg.TwoSiteDMRGEngine(psi, export.tenpy_model, params)
    energy, psi = engine.run()
    stats = engine.sweep_stats
    trunc = [float(x) for x in stats.get("max_trunc_err", [])] or [0.0]
    return {"energy": float(energy), "psi": psi, "export": export, "max_trunc_err": trunc[-1],
            "max_chi": int(max(psi.chi)) if len(psi.chi) else 1, "sweeps": len(stats.get("sweep", []))}


__all__ = ["TenpyExport", "TenpyExportError", "dmrg_ground_state", "mps_order", "product_state",
           "to_tenpy"]
