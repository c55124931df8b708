"""Pair co-tunnelling into the Hamo two-site system (issue 4, Hamo et al. 2016 Fig. 4).

Independent truths used here (written in this file, not taken from the code under test):

- ED of the microscopic ``hamo-leads`` model (QuSpin path), cross-checked by a brute-force Fock
  matrix (tests.helpers.fock) on the block with one electron per site-and-lead pair;
- the atomic limit ``gamma = 0`` by hand (2x2 polarizer blocks, lead levels);
- the second-order formula evaluated with numpy eigenvectors: with ``|k_n>`` the eigenvectors of
  the polarizer block ``[[delta/2, t], [t, n U - delta/2]]`` and the gates at the degeneracy
  ``eps0 = eps_lead + (g_0 - g_2 - W)/2``, each odd state ``k`` lies ``D_k = e_k(1) - (g_0 + g_2 +
  W)/2`` above, and the two orders (L first, R first) add: ``|A| = 2 gamma^2 |sum_k <g_2|k_1>
  <k_1|g_0> / D_k|``;
- by hand at ``t = 0``: for ``U < delta/2`` the polarizer stays on B, ``D = -W/2`` and
  ``|A| = 4 gamma^2/|W|``; for ``U > delta`` first-order perturbed polarizer states give
  ``A = -2 gamma^2 t [2 (1/(delta-U) - 1/delta)/(delta - W) + 2 (1/(U-delta) + 1/(delta-2U))/(2U -
  delta - W)] + O(t^3)``;
- the perturbative law: the even-doublet splitting grows as ``gamma^2`` (log-log slope 2) and
  its ratio to ``2|A|`` tends to 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from edkit.api import spectrum
from edkit.core.model import SectorError
from edkit.models.polarizer import polarizer_pair
from mappings.verifications.cotunnelling import cotunnelling_numbers, hamo_pair_cotunnelling
from tests.helpers.fock import fock_spectrum

# over-screening point (U > delta): W_eff < 0, the even doublet is the ground doublet at the degeneracy
POINT = {"U": 1.0, "W": 0.2, "delta": 0.6, "t": 0.2, "eps_lead": 0.1}
LEADS = polarizer_pair(leads=True)


def polarizer_eigen(n: int, p: dict) -> tuple[np.ndarray, np.ndarray]:
    block = np.array([[p["delta"] / 2, p["t"]], [p["t"], n * p["U"] - p["delta"] / 2]])
    return np.linalg.eigh(block)


def hand_amplitude(p: dict, gamma: float) -> tuple[float, float]:
    """(|A|, eps0) from the second-order formula with numpy eigenvectors."""
    (e0, v0), (e1, v1), (e2, v2) = (polarizer_eigen(n, p) for n in range(3))
    g0, g2 = v0[:, 0], v2[:, 0]
    mid = (e0[0] + e2[0] + p["W"]) / 2
    amp = -2 * gamma**2 * sum((g2 @ v1[:, k]) * (v1[:, k] @ g0) / (e1[k] - mid) for k in range(2))
    eps0 = p.get("eps_lead", 0.0) + (e0[0] - e2[0] - p["W"]) / 2
    return abs(amp), eps0


def ed_levels(p: dict, gamma: float, eps: float, nev: int = 3) -> list[float]:
    values = {**p, "gamma": gamma, "eps_L": eps, "eps_R": eps}
    return spectrum(LEADS, values, N=2, nev=nev)["energies"]


def doublet_splitting(p: dict, gamma: float, eps: float) -> float:
    levels = ed_levels(p, gamma, eps)
    assert levels[2] - levels[1] > 20 * (levels[1] - levels[0])  # an isolated doublet
    return levels[1] - levels[0]


# ------------------------------------------------------------------------- the model
def test_leads_keyword_leaves_hamo_unchanged():
    plain, explicit = polarizer_pair(), polarizer_pair(leads=False)
    assert plain.name == explicit.name == "hamo"
    assert plain.terms == explicit.terms and plain.modes == explicit.modes
    assert list(plain.parameters) == ["U", "W", "delta", "t", "eps_L", "eps_R"]
    assert plain.sector(0) == explicit.sector(0)
    assert LEADS.name == "hamo-leads"
    assert list(LEADS.parameters)[-2:] == ["gamma", "eps_lead"]
    assert LEADS.parameters["gamma"].default == 0 and LEADS.parameters["eps_lead"].default == 0
    assert LEADS.modes[:4] == plain.modes and [str(m) for m in LEADS.modes[4:]] == ["lead0", "lead1"]
    assert set(plain.terms) < set(LEADS.terms)


@pytest.mark.parametrize("N", [0, 1, 2, 3, 4])
def test_leads_atomic_limit_by_hand(N):
    p = {"U": 0.9, "W": 0.4, "delta": 0.7, "t": 0.3, "eps_L": -0.2, "eps_R": 0.15, "eps_lead": 0.05}
    levels = []
    for nl in (0, 1):
        for nr in (0, 1):
            n_lead = N - nl - nr
            if not 0 <= n_lead <= 2:
                continue
            pol = polarizer_eigen(nl + nr, p)[0]
            base = p["eps_L"] * nl + p["eps_R"] * nr + p["W"] * nl * nr + p["eps_lead"] * n_lead
            levels += [base + e for e in pol for _ in range(math.comb(2, n_lead))]
    ours = spectrum(LEADS, {**p, "gamma": 0.0}, N=N, nev=len(levels))
    assert ours["dimension"] == len(levels)
    np.testing.assert_allclose(ours["energies"], np.sort(levels), atol=1e-12)


def test_leads_sector_and_bad_input():
    assert LEADS.default_N() == 2
    assert LEADS.sector(4).n_up == 5  # the polarizer's electron is added
    for bad in (5, -1, 1.5, None):
        with pytest.raises(SectorError, match="N"):
            LEADS.sector(bad)
    with pytest.raises(SectorError, match="spinless"):
        LEADS.sector(2, 0.5)
    with pytest.raises(TypeError, match="leads"):
        polarizer_pair(leads="yes")
    with pytest.raises(ValueError, match="missing"):
        cotunnelling_numbers({"U": 1.0})
    with pytest.raises(ValueError, match="finite"):
        cotunnelling_numbers({**POINT, "gamma": float("nan")})
    # U > delta at t = 0: the odd state (1,0) with the polarizer on T lies D_g = (delta - W)/2 above
    with pytest.raises(ValueError, match="resonance"):
        cotunnelling_numbers({"U": 1.0, "W": 0.6, "delta": 0.6, "t": 0.0, "gamma": 0.01})
    with pytest.raises(ValueError, match="degenerate"):  # t = 0, delta = U: the n = 1 block
        cotunnelling_numbers({"U": 1.0, "W": 0.2, "delta": 1.0, "t": 0.0, "gamma": 0.01})


def test_ed_block_equals_brute_force_fock():
    p = {**POINT, "gamma": 0.05, "eps_L": -0.3, "eps_R": -0.3}
    idx = {m: k for k, m in enumerate(LEADS.modes)}
    terms = [(cf, [(idx[m], d) for m, d in w]) for cf, w in LEADS.numeric_terms(p)]
    block = fock_spectrum(6, terms, [([0, 4], 1), ([1, 5], 1), ([2, 3], 1)])  # L+lL, R+lR, T+B
    sector = np.array(spectrum(LEADS, p, N=2, nev=12)["energies"])
    assert len(block) == 8
    # the block's levels are among the N = 2 levels (the rest: both electrons on one side)
    assert all(np.min(np.abs(sector - e)) < 1e-10 for e in block)
    np.testing.assert_allclose(block[:2], sector[:2], atol=1e-12)


# ---------------------------------------------------------------- SW against truths
def test_closed_forms_equal_the_numpy_second_order_formula():
    for p in (POINT, {**POINT, "t": -0.35, "U": 0.8}, {"U": 0.4, "W": 0.9, "delta": 1.1, "t": 0.15}):
        ours = cotunnelling_numbers({**p, "gamma": 0.01})
        amp, eps0 = hand_amplitude(p, 0.01)
        assert ours["splitting"] == pytest.approx(2 * amp, rel=1e-12)
        assert ours["eps0"] == pytest.approx(eps0, abs=1e-12)


def test_t_zero_limits_by_hand():
    g = 0.01
    # U < delta/2: the polarizer stays on B, the odd states cost -W/2: |A| = 4 gamma^2/|W|
    low = {"U": 0.2, "W": 0.5, "delta": 0.8, "t": 0.0, "gamma": g}
    assert abs(cotunnelling_numbers(low)["A"]) == pytest.approx(4 * g**2 / 0.5, rel=1e-12)
    # over-screening at t = 0: no path, A = 0; at small t, linear in t with the hand coefficient
    U, W, d = 1.0, 0.2, 0.6
    at_zero = cotunnelling_numbers({"U": U, "W": W, "delta": d, "t": 0.0, "gamma": g})
    assert at_zero["A"] == pytest.approx(0, abs=1e-15)
    t = 1e-4
    hand = -2 * g**2 * t * (2 * (1 / (d - U) - 1 / d) / (d - W)
                            + 2 * (1 / (U - d) + 1 / (d - 2 * U)) / (2 * U - d - W))
    ours = cotunnelling_numbers({"U": U, "W": W, "delta": d, "t": t, "gamma": g})["A"]
    assert abs(ours) == pytest.approx(abs(hand), rel=1e-6)


def test_splitting_scales_as_gamma_squared_and_matches_sw():
    gammas = np.geomspace(0.0025, 0.02, 4)
    split, sw = [], []
    for g in gammas:
        nums = cotunnelling_numbers({**POINT, "gamma": g})
        split.append(doublet_splitting(POINT, g, nums["eps_star"]))
        sw.append(nums["splitting"])
    slope = np.polyfit(np.log(gammas), np.log(split), 1)[0]
    ratio = np.array(split) / np.array(sw)
    assert slope == pytest.approx(2, abs=0.1)
    assert abs(ratio[0] - 1) < 0.02
    assert np.all(np.diff(np.abs(ratio - 1)) > 0)  # the ratio approaches 1 as gamma -> 0
    # the deviation is the next order: |ratio - 1| ~ gamma^2
    dev_slope = np.polyfit(np.log(gammas), np.log(np.abs(ratio - 1)), 1)[0]
    assert dev_slope == pytest.approx(2, abs=0.3)


def test_gates_tuned_to_the_degeneracy_of_the_low_energy_model():
    """The ED splitting is smallest at eps* = eps0 + gamma^2 eps2, not at the bare eps0."""
    g = 0.004
    nums = cotunnelling_numbers({**POINT, "gamma": g})
    shift = nums["eps_star"] - nums["eps0"]
    best = minimize_scalar(lambda e: doublet_splitting(POINT, g, e), bracket=(nums["eps_star"] - abs(shift),
                           nums["eps_star"] + abs(shift)), tol=1e-10)
    assert abs(best.x - nums["eps_star"]) < 0.05 * abs(shift)
    # at the bare eps0 the doublet is detuned by 2 (eps0 - eps*) (both gates move), as SW predicts
    predicted = math.hypot(2 * shift, nums["splitting"])
    assert doublet_splitting(POINT, g, nums["eps0"]) == pytest.approx(predicted, rel=0.003)
    assert predicted > 1.05 * nums["splitting"]


def test_no_pair_entry_without_the_polarizer_flip():
    """Over-screening at t = 0: (0,0) keeps the polarizer on B, (1,1) on T, and n_T is conserved,
    so the even levels cross instead of splitting."""
    p = {**POINT, "t": 0.0}
    g = 0.01
    eps_star = cotunnelling_numbers({**p, "gamma": g})["eps_star"]

    def gap(e: float) -> float:
        levels = ed_levels(p, g, e, nev=2)
        return levels[1] - levels[0]

    best = minimize_scalar(gap, bracket=(eps_star - 1e-4, eps_star + 1e-4), tol=1e-12)
    assert best.fun < 1e-7 and abs(best.x - eps_star) < 1e-6


@pytest.mark.slow  # needs the whole catalogue (computed once per session)
def test_catalogue_entry_passes_with_coefficients(catalogue):
    from mappings.verifications import CATALOGUE

    assert CATALOGUE["hamo-pair-cotunnelling"] is hamo_pair_cotunnelling
    res = catalogue["hamo-pair-cotunnelling"]  # hamo_pair_cotunnelling(), once per session (conftest)
    assert res.passed, res.details
    assert res.name == "hamo-pair-cotunnelling"
    assert {"A", "eps0", "eps2", "D_g", "D_e", "A_closed"} <= set(res.coefficients)
    assert any("exact: lowest order gamma^4" in d and "agree" in d for d in res.details)
    assert any("O(t)" in p for p in res.printed)
