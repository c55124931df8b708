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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import comb

import numpy as np
import scipy.sparse as sp

from edkit.core.lattice import Lattice
from edkit.core.model import Model, Sector, SectorError
from edkit.core.modes import DN, SPINLESS, Mode
from edkit.core.words import Word
from edkit.engine.backend_quspin import SectorSpace, make_space, occupation, operator_matrix
from edkit.engine.planning import TooLargeError
from edkit.engine.solver import Eigen, lowest
from edkit.models.two_wire import PRIMARY, SECONDARY

NumericTerms = Sequence[tuple[complex, Word]]

#: Largest tensor-space dimension built unless ``max_dimension`` is raised. Measured: the
#: ``L = 8, N = 8, N_s = 4`` sector (343,000 states) stores ~15 non-zeros per state (62 MB), so
#: the limit is ~0.55 GB stored, two to three times that while the pieces are summed.
MAX_DIMENSION = 3_000_000
#: Dimension up to which :func:`solve` diagonalizes densely (Lanczos above). Kept small: one
#: ground-state energy of a 720-state sector took 0.3 s densely with a single-threaded BLAS,
#: 3 s with a multi-threaded BLAS on a loaded 2-core machine, and ~0.02 s by Lanczos.
DENSE_LIMIT = 200


def _require_two_wire(model: Model) -> None:
    if model.name != "two-wire":
        raise ValueError(f"this function needs the two-wire model, got {model.name!r}")


@dataclass
class TensorSpace:
    """A two-wire sector as (primary sector) (x) (secondary sector).

    Attributes
    ----------
    model
        The two-wire model whose canonical terms are compiled.
    primary, secondary
        Backend sector spaces of the primary wire (spinful, ``L`` orbitals) and the secondary
        wire (spinless, ``L`` orbitals).

    Notes
    -----
    Basis states are ordered primary-major: index ``a * dim_s + b`` for primary state ``a`` and
    secondary state ``b``. With the primary modes before the secondary modes in the
    Jordan-Wigner order, an operator even in the secondary modes is ``A (x) B`` with ``A`` and
    ``B`` the matrices of its primary and secondary factors; a word odd in the secondary modes
    (inter-wire tunnelling) is refused.
    """

    model: Model
    primary: SectorSpace
    secondary: SectorSpace
    _occ: dict = field(default_factory=dict, repr=False)

    @property
    def dimension(self) -> int:
        """Dimension of the product space."""
        return self.primary.dimension * self.secondary.dimension

    def matrix(self, terms: NumericTerms) -> sp.csr_matrix:
        r"""Sparse matrix of ``sum(coef * word)`` (canonical words of the two-wire model).

        Imaginary parts below ``1e-14`` of a coefficient's modulus (the round-off of
        :math:`e^{i\pi}` at a flux of pi) are dropped, so that such matrices stay real.

        Raises
        ------
        ValueError
            For a word on the spin-down modes of the secondary wire (held empty) or a word odd
            in the secondary modes.
        """
        terms = [(_clean(c), w) for c, w in terms]
        pri_only: list[tuple[complex, Word]] = []
        sec_only: list[tuple[complex, Word]] = []
        mixed: dict[Word, list[tuple[complex, Word]]] = {}
        const = 0j
        for coef, word in terms:
            pri, sec, sign = _split(word)
            if not sec and not pri:
                const += coef
            elif not sec:
                pri_only.append((coef, pri))
            elif not pri:
                sec_only.append((coef, sec))
            else:
                mixed.setdefault(sec, []).append((sign * coef, pri))
        d_p, d_s = self.primary.dimension, self.secondary.dimension
        dtype = np.complex128 if any(abs(complex(c).imag) > 0 for c, _ in terms) else np.float64
        eye_p = sp.identity(d_p, dtype=dtype, format="csr")
        eye_s = sp.identity(d_s, dtype=dtype, format="csr")
        out = sp.csr_matrix((d_p * d_s, d_p * d_s), dtype=dtype)
        if pri_only:
            out = out + sp.kron(operator_matrix(self.primary, pri_only), eye_s, format="csr")
        if sec_only:
            out = out + sp.kron(eye_p, operator_matrix(self.secondary, sec_only), format="csr")
        diagonal = np.zeros(d_p * d_s, dtype=dtype)
        for sec, parts in mixed.items():
            if _is_density(sec) and all(_is_density(w) for _, w in parts):
                # density-density coupling: diagonal, from occupation numbers (no matrix build)
                a_diag = np.zeros(d_p, dtype=dtype)
                for c, w in parts:
                    a_diag += (c if dtype == np.complex128 else c.real) * self._occupation("p", w[0][0])
                diagonal += np.kron(a_diag, self._occupation("s", sec[0][0]))
                continue
            b = operator_matrix(self.secondary, [(1.0, sec)])
            a = operator_matrix(self.primary, parts)
            out = out + sp.kron(a, b, format="csr")
        if diagonal.any():
            out = out + sp.diags(diagonal, format="csr")
        if const != 0:
            value = const if dtype == np.complex128 else const.real
            out = out + value * sp.identity(d_p * d_s, dtype=dtype, format="csr")
        return sp.csr_matrix(out)

    def _occupation(self, which: str, mode: Mode) -> np.ndarray:
        """Occupation (0/1) of ``mode`` in each state kept in the primary or secondary space."""
        key = (which, mode)
        if key not in self._occ:
            space = self.primary if which == "p" else self.secondary
            occ = occupation(space.model, space.basis, mode).astype(np.float64)
            self._occ[key] = occ if space.keep is None else occ[space.keep]
        return self._occ[key]


def _clean(c: complex) -> complex | float:
    """Drop an imaginary part at round-off level (``e^{i pi}``), so real cases stay real."""
    c = complex(c)
    return c.real if abs(c.imag) <= 1e-14 * abs(c) else c


def _is_density(word: Word) -> bool:
    """Whether a word is a number operator ``c†_m c_m``."""
    return len(word) == 2 and word[0][0] == word[1][0] and word[0][1] and not word[1][1]


def _split(word: Word) -> tuple[Word, Word, int]:
    """Primary factors, secondary factors (as spinless modes) and the sign of the reordering."""
    pri, sec = [], []
    swaps = 0
    for mode, dag in word:
        if mode.layer == PRIMARY:
            pri.append((mode, dag))
            swaps += len(sec)
        elif mode.layer == SECONDARY:
            if mode.spin == DN:
                raise ValueError(f"word {word} acts on a spin-down secondary mode (held empty)")
            sec.append((Mode(SECONDARY, mode.site, SPINLESS), dag))
        else:
            raise ValueError(f"unknown layer {mode.layer!r}")
    if len(sec) % 2:
        raise ValueError(f"word {word} is odd in the secondary modes (inter-wire tunnelling): "
                         "no tensor-product form")
    return tuple(pri), tuple(sec), -1 if swaps % 2 else 1


def tensor_space(model: Model, N: int, Sz: float, N_s: int | None = None,
                 max_dimension: int = MAX_DIMENSION) -> TensorSpace:
    """The product space of a two-wire sector ``(N, Sz, N_s)``.

    Raises
    ------
    SectorError
        For an impossible sector (checked by the model's own sector function).
    TooLargeError
        If the product dimension exceeds ``max_dimension`` (before anything is built).
    """
    _require_two_wire(model)
    sector = model.sector(N, Sz, N_s=N_s)
    n_s = sector.constraints[0].allowed[0]
    n_up, n_dn = sector.n_up - n_s, sector.n_dn
    L, bc = model.lattice.L, model.lattice.bc
    dim = comb(L, n_up) * comb(L, n_dn) * comb(L, n_s)
    if dim > max_dimension:
        raise TooLargeError(f"two-wire L={L} sector (N={N}, Sz={Sz}, N_s={n_s}) has dimension "
                            f"{dim:,} > max_dimension {max_dimension:,}")
    pri_model = Model("two-wire:primary", Lattice(L, bc, (PRIMARY,), (PRIMARY,)), True, [], {})
    sec_model = Model("two-wire:secondary", Lattice(L, bc, (SECONDARY,), (SECONDARY,)), False, [], {})
    return TensorSpace(model, make_space(pri_model, Sector(n_up, n_dn)),
                       make_space(sec_model, Sector(n_s, 0)))


def _lowest_sz(N: int) -> float:
    return 0.0 if N % 2 == 0 else 0.5


def solve(model: Model, values: Mapping[str, object] | None, N: int, Sz: float | None = None,
          N_s: int | None = None, nev: int = 1, vectors: bool = False) -> tuple[Eigen, TensorSpace]:
    """Lowest ``nev`` levels of a two-wire sector on the tensor-product path.

    ``Sz`` defaults to the lowest ``|Sz|`` of ``N`` primary electrons, ``N_s`` to ``L // 2``.
    """
    _require_two_wire(model)
    vals = model.resolve(values)
    Sz = _lowest_sz(int(N)) if Sz is None else Sz
    space = tensor_space(model, N, Sz, N_s)
    H = space.matrix(model.numeric_terms(vals))
    return lowest(H, nev, vectors=vectors, dense_limit=DENSE_LIMIT), space


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


__all__ = ["TensorSpace", "binding_energies", "density_mismatch", "ground_energy",
           "secondary_filling", "solve", "tensor_space"]
