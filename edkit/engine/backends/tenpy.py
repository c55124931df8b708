"""The TeNPy export: a DMRG ground state of the same operator (never chosen automatically).

DMRG gives a variational upper bound that converges to the ground energy, not exact levels; the
planner uses this backend only when it is asked for by name (``method="tenpy"``). The export
(:mod:`edkit.engine.tenpy_export`) needs the optional ``physics-tenpy`` package and imposes
single-orbital occupation constraints as a penalty; constraints over several orbitals (a fixed
particle number on one wire) cannot be exported.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

import numpy as np

from edkit.core.model import Model, Sector
from edkit.engine.backends.base import Estimate, Request
from edkit.engine.backends.registry import register

#: Bond dimension used unless ``options={"chi_max": ...}`` says otherwise.
CHI_MAX = 128


class TenpyBackend:
    """Two-site DMRG on the TeNPy export of the model (ground energy only, by name only)."""

    name = "tenpy"
    space = None

    def supports(self, model: Model, sector: Sector, request: Request) -> str | None:
        """Only when asked by name; ground energy; single-orbital constraints; TeNPy installed."""
        if request.method != self.name:
            return ("the TeNPy export gives a DMRG estimate of the ground state, not exact levels: "
                    f"it is used only when asked for (method={self.name!r})")
        if not request.ground_only:
            return ("DMRG here gives the ground energy only: ask for nev=1 without eigenvectors "
                    f"(asked nev={request.nev:,}, vectors={request.vectors})")
        if request.symmetries:
            return "the TeNPy export conserves N and Sz only, not lattice symmetry blocks"
        for con in tuple(model.constraints) + tuple(sector.constraints):
            if len({m.orbital for m in con.modes}) != 1:
                return (f"the constraint '{con.label or con.modes}' spans several orbitals; the TeNPy "
                        "export imposes single-orbital constraints only")
        if importlib.util.find_spec("tenpy") is None:
            return "physics-tenpy is not installed (pip install 'edkit[dmrg]')"
        return None

    def estimate(self, model: Model, sector: Sector, request: Request) -> Estimate:
        """MPS of ``n_sites`` tensors ``chi x d x chi`` (times ~10 for the DMRG environments)."""
        chi = int(request.options.get("chi_max", CHI_MAX))
        sites = model.n_orbitals
        d = 4 if model.spinful else 2
        mps = sites * chi * chi * d * 16
        seconds = sites * 40 * chi ** 3 * d ** 3 * 1e-9  # ~40 sweeps of chi^3 d^3 per site (rough)
        return Estimate(10 * mps, seconds, 0, f"two-site DMRG, chi <= {chi}, {sites} sites",
                        {"chi_max": chi, "sites": sites})

    def solve(self, model: Model, values: Mapping[str, float], sector: Sector,
              request: Request) -> tuple:
        """:func:`edkit.engine.tenpy_export.dmrg_ground_state`; the space is its result dict."""
        from edkit.engine.solver import Eigen
        from edkit.engine.tenpy_export import dmrg_ground_state

        out = dmrg_ground_state(model, values, sector=sector,
                                chi_max=int(request.options.get("chi_max", CHI_MAX)))
        out["dimension"] = 0
        return Eigen(np.array([out["energy"]]), None, "dmrg", []), _DmrgResult(out)


class _DmrgResult(dict):
    """The DMRG result (``energy``, ``psi``, ``export``, ...) with a ``dimension`` attribute (0: no basis)."""

    @property
    def dimension(self) -> int:
        return 0


BACKEND = register(TenpyBackend())

__all__ = ["BACKEND", "CHI_MAX", "TenpyBackend"]
