r"""Observables of the two-wire model: a fast tensor-product path, pair and trion binding.

The two wires of :func:`edkit.models.two_wire.two_wire` exchange no particles, so a sector
``(N, Sz, N_s)`` is the tensor product of a primary-wire sector ``(N_up, N_dn)`` and a
secondary-wire sector ``N_s``. :class:`TensorSpace` compiles the model's own canonical terms
on that product (each wire through :mod:`edkit.engine.backend_quspin`), with dimension
``C(L, N_up) C(L, N_dn) C(L, N_s)`` instead of the generic path's basis of all ``2L`` orbitals
(which is then cut down by the constraints): the generic path builds ``1,093,092`` states for
``L = 7, N = 6, N_s = 3`` to keep ``42,875``. Both paths diagonalize the same terms; the tests
check that their spectra agree.

Definitions
-----------
Energies are ground-state energies :math:`E(N, S_z, N_s)` of the sector, with ``Sz`` the lowest
``|Sz|`` of the primary wire unless stated. With ``s = -1`` (a secondary *hole*, the trion of
Shavit and Oreg with a hole-like secondary wire) or ``s = +1`` (a secondary particle), write the
excitation energies relative to the reference sector

.. math:: \varepsilon(a, b) = E(N + a, N_s + s\,b) - E(N, N_s).

- ``pair_binding`` :math:`= \varepsilon(2,0) - 2\varepsilon(1,0) = E(N+2) + E(N) - 2E(N+1)`
  at fixed ``N_s`` (negative: two added electrons bind).
- ``spin_gap`` :math:`= E(N, S_z=1) - E(N, S_z=0)` at fixed ``N_s`` (even ``N``).
- ``pair_carrier_binding`` :math:`= \varepsilon(2,1) - \varepsilon(2,0) - \varepsilon(0,1)`:
  the energy gained when the added pair and the added secondary carrier are in the system
  together rather than separately (negative: the carrier attracts the pair).
- ``trion_binding`` :math:`= \varepsilon(2,1) - \min\{\varepsilon(2,0) + \varepsilon(0,1),\;
  \varepsilon(1,1) + \varepsilon(1,0),\; 2\varepsilon(1,0) + \varepsilon(0,1)\}`: the energy
  of the three-body composite (two primary electrons and one secondary carrier) relative to
  its cheapest break-up into a pair and a carrier, an electron-carrier composite and an
  electron, or all three apart. Negative: the trion is stable against every break-up.

On a finite cluster these are *indicators*: free-fermion shell effects alone give binding
energies of order of the level spacing; trends with ``L`` at fixed densities decide.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edkit.core.model import Model, SectorError

# The product space and its sector solve live in the engine (the "two-wire-product" backend);
# imported here under their old names for the functions below and for existing callers.
from edkit.engine.backends.product import (  # noqa: F401  (re-exported)
    DENSE_LIMIT,
    MAX_DIMENSION,
    TensorSpace,
    solve,
    tensor_space,
)
from edkit.engine.backends.product import require_product_space as _require_two_wire
from edkit.observables.registry import Observable, offered, register


def _lowest_sz(N: int) -> float:
    return 0.0 if N % 2 == 0 else 0.5


def ground_energy(model: Model, values: Mapping[str, object] | None, N: int,
                  Sz: float | None = None, N_s: int | None = None) -> float | None:
    """Ground-state energy of a sector, or ``None`` if the sector has no states."""
    try:
        eig, _ = solve(model, values, N, Sz, N_s)
    except SectorError:
        return None
    return float(eig.energies[0])


def binding_energies(model: Model, values: Mapping[str, object] | None = None, *, N: int,
                     N_s: int, carrier: int = -1) -> dict:
    """Pair binding, spin gap, pair-carrier and trion binding around ``(N, N_s)`` (module docs).

    Parameters
    ----------
    model
        A two-wire model (periodic or open).
    values
        Parameter values.
    N, N_s
        Reference sector: primary electrons and secondary particles.
    carrier
        ``-1``: the trion binds a secondary hole (``N_s - 1`` in the trion sector; the hole-like
        case of Shavit and Oreg); ``+1``: a secondary particle.

    Returns
    -------
    dict
        ``energy``, ``pair_binding``, ``spin_gap``, ``pair_carrier_binding``, ``trion_binding``,
        ``trion_breakup`` (name of the cheapest break-up channel), and ``excitations``
        (the :math:`\\varepsilon(a, b)` used). A quantity is ``None`` when a sector it needs
        does not exist.
    """
    _require_two_wire(model)
    if carrier not in (-1, 1):
        raise ValueError(f"carrier must be -1 (secondary hole) or +1 (secondary particle), got {carrier}")
    model.resolve(values)
    model.sector(N, _lowest_sz(N), N_s=N_s)  # a bad reference sector fails here
    e00 = ground_energy(model, values, N, None, N_s)

    def eps(a: int, b: int) -> float | None:
        try:
            model.sector(N + a, _lowest_sz(N + a), N_s=N_s + carrier * b)
        except SectorError:
            return None
        e = ground_energy(model, values, N + a, None, N_s + carrier * b)
        return None if e is None else e - e00

    ex = {(a, b): eps(a, b) for a, b in ((1, 0), (2, 0), (0, 1), (1, 1), (2, 1))}

    def combo(*keys_and_weights):
        vals_ = [(ex[k], w) for k, w in keys_and_weights]
        return None if any(v is None for v, _ in vals_) else float(sum(v * w for v, w in vals_))

    pair = combo(((2, 0), 1), ((1, 0), -2))
    pair_carrier = combo(((2, 1), 1), ((2, 0), -1), ((0, 1), -1))
    channels = {
        "pair + carrier": combo(((2, 0), 1), ((0, 1), 1)),
        "(electron+carrier) + electron": combo(((1, 1), 1), ((1, 0), 1)),
        "electron + electron + carrier": combo(((1, 0), 2), ((0, 1), 1)),
    }
    trion, breakup = None, None
    if ex[(2, 1)] is not None and all(v is not None for v in channels.values()):
        breakup = min(channels, key=channels.__getitem__)
        trion = float(ex[(2, 1)] - channels[breakup])
    spin_gap = None
    if N % 2 == 0:
        try:
            e1 = ground_energy(model, values, N, 1.0, N_s)
        except SectorError:
            e1 = None
        spin_gap = None if e1 is None else float(e1 - e00)
    return {
        "model": model.name, "L": model.lattice.L, "bc": model.lattice.bc,
        "params": model.resolve(values), "sector": {"N": N, "N_s": N_s}, "carrier": carrier,
        "energy": e00, "pair_binding": pair, "spin_gap": spin_gap,
        "pair_carrier_binding": pair_carrier, "trion_binding": trion, "trion_breakup": breakup,
        "excitations": {f"{a},{b}": v for (a, b), v in ex.items()},
    }


def secondary_filling(model: Model, values: Mapping[str, object] | None = None, *, N: int,
                      Sz: float | None = None) -> dict:
    """The secondary particle number that minimizes the energy at the given ``mu_s``.

    The secondary wire as a grand-canonical reservoir at chemical potential ``mu_s`` (which is
    in the Hamiltonian as :math:`-\\mu_s N_s`): every ``N_s = 0..L`` is solved at fixed primary
    ``(N, Sz)``. Returns ``{"N_s": best, "energies": [E(N_s) for N_s = 0..L]}``.
    """
    _require_two_wire(model)
    energies = [ground_energy(model, values, N, Sz, n) for n in range(model.lattice.L + 1)]
    best = int(np.argmin([np.inf if e is None else e for e in energies]))
    return {"N_s": best, "energies": energies}


def density_mismatch(L: int, N: int, N_s: int) -> float:
    r"""Secondary density minus primary density per spin, :math:`N_s/L - N/(2L)`.

    Zero when the Fermi momenta of the two wires coincide (:math:`k_s = k_F`, the particle-like
    resonance; the hole-like one of Shavit and Oreg is at :math:`N_s/L = 1 - N/(2L)`).
    """
    return N_s / L - N / (2 * L)


# ------------------------------------------------------------------------- observable
#: Excitations :math:`\varepsilon(a, b)` of :func:`binding_energies` as columns ``eps_ab``.
EXCITATIONS = ((1, 0), (2, 0), (0, 1), (1, 1), (2, 1))
#: Columns of the ``binding`` observable (the numbers of :func:`binding_energies`).
BINDING_COLUMNS = ("energy", "pair_binding", "spin_gap", "pair_carrier_binding", "trion_binding",
                   *(f"eps_{a}{b}" for a, b in EXCITATIONS))


def _binding(model: Model, values: Mapping, sector: Mapping, options: Mapping) -> dict:
    """The ``binding`` observable: the sector's ``N`` and ``N_s`` (``Sz`` is the lowest ``|Sz|``)."""
    out = binding_energies(model, values, N=int(sector["N"]), N_s=int(sector["N_s"]),
                           carrier=options["carrier"])
    flat = {k: out[k] for k in BINDING_COLUMNS[:5]}
    flat.update({f"eps_{a}{b}": out["excitations"][f"{a},{b}"] for a, b in EXCITATIONS})
    return flat


BINDING = register(Observable(
    name="binding",
    summary="two-wire pair binding, spin gap, pair-carrier and trion binding around (N, N_s) "
            "(at the lowest |Sz|), and the excitation energies eps_ab",
    compute_fn=_binding,
    options={"carrier": -1},
    column_names=BINDING_COLUMNS,
    applies_fn=offered("binding"),
    match_fn=lambda column: {} if column in BINDING_COLUMNS[3:] else None,
))


__all__ = ["BINDING", "BINDING_COLUMNS", "TensorSpace", "binding_energies", "density_mismatch",
           "ground_energy", "secondary_filling", "solve", "tensor_space"]
