"""The Hamo two-site polarizer model, Little's polarizer chain, and the charge stability diagram.

Independent truths used here (written in this file, not taken from the code under test):

- atomic limit ``t = 0`` of ``hamo``: every level by hand; each charge state ``(n_L, n_R)`` has
  the polarizer levels ``delta/2`` (T) and ``-delta/2 + U (n_L + n_R)`` (B), plus gates and ``W``;
- at any ``t`` each charge state is a 2x2 block: ``mean -+ sqrt(((E_T - E_B)/2)^2 + t^2)``;
- the ``t^2`` law of the corrections (log-log slope), the attraction boundary
  ``U* = (W + delta)/2`` and the vertex geometry (vertical of length ``W_eff`` in ``V``,
  horizontal of length ``|W_eff|`` in ``dV``) derived by hand in the module docs;
- Little's chain at ``t = 0``: chain configurations times independent two-level polarizers.
"""

from __future__ import annotations

import json
import math
import time
from itertools import product

import numpy as np
import pytest
from scipy.optimize import brentq

from edkit.api import gaps, spectrum
from edkit.cli import main
from edkit.core.lattice import LatticeError
from edkit.core.model import Sector, SectorError
from edkit.core.params import ParameterError
from edkit.engine.backend_quspin import make_space
from edkit.engine.planning import TooLargeError
from edkit.models import build_model
from edkit.models.polarizer import little_chain, polarizer_pair
from edkit.studies.stability import charge_states, grid_axis, interaction_vertex, stability_diagram
from edkit.testing import sector_spectrum
from tests.helpers.fock import fock_spectrum

HAMO = polarizer_pair()


def f_atomic(x: float, delta: float) -> float:
    """Polarizer ground level with a field ``x`` on B, at t = 0 (by hand)."""
    return min(delta / 2, x - delta / 2)


def w_eff_atomic(U: float, W: float, delta: float) -> float:
    return W + f_atomic(0, delta) + f_atomic(2 * U, delta) - 2 * f_atomic(U, delta)


def block_levels(nl: int, nr: int, p: dict) -> tuple[float, float]:
    """Exact levels of the charge state (n_L, n_R) at any t (2x2 block, by hand)."""
    n = nl + nr
    e_t = p["delta"] / 2
    e_b = -p["delta"] / 2 + p["U"] * n
    shift = p.get("eps_L", 0) * nl + p.get("eps_R", 0) * nr + p["W"] * nl * nr
    mean, half = (e_t + e_b) / 2, math.hypot((e_t - e_b) / 2, p["t"])
    return shift + mean - half, shift + mean + half


def hand_spectrum(N: int, p: dict) -> np.ndarray:
    levels = [e for nl, nr in product((0, 1), repeat=2) if nl + nr == N for e in block_levels(nl, nr, p)]
    return np.sort(levels)


def random_hamo(rng, t=0.0) -> dict:
    return {"U": rng.uniform(-1, 3), "W": rng.uniform(-0.5, 2), "delta": rng.uniform(-2, 2), "t": t,
            "eps_L": rng.uniform(-1, 1), "eps_R": rng.uniform(-1, 1)}


# ------------------------------------------------------------------------- hamo: spectra
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hamo_atomic_limit_every_level_by_hand(seed):
    p = random_hamo(np.random.default_rng(seed))
    d, U, W, eL, eR = p["delta"], p["U"], p["W"], p["eps_L"], p["eps_R"]
    by_hand = {
        0: [d / 2, -d / 2],
        1: [eL + d / 2, eL + U - d / 2, eR + d / 2, eR + U - d / 2],
        2: [eL + eR + W + d / 2, eL + eR + W + 2 * U - d / 2],
    }
    for N, levels in by_hand.items():
        ours = spectrum(HAMO, p, N=N, nev=8)
        assert ours["dimension"] == len(levels)
        np.testing.assert_allclose(ours["energies"], np.sort(levels), atol=1e-12)


@pytest.mark.parametrize("seed", [4, 5])
def test_hamo_two_level_blocks_at_finite_t(seed):
    rng = np.random.default_rng(seed)
    p = random_hamo(rng, t=rng.uniform(-1, 1))
    for N in range(3):
        np.testing.assert_allclose(spectrum(HAMO, p, N=N, nev=8)["energies"], hand_spectrum(N, p), atol=1e-12)


def test_hamo_quspin_compilation_matches_brute_force_fock():
    p = random_hamo(np.random.default_rng(6), t=0.37)
    idx = {m: k for k, m in enumerate(HAMO.modes)}
    terms = [(c, [(idx[m], d) for m, d in w]) for c, w in HAMO.numeric_terms(p)]
    system, pol = [0, 1], [2, 3]
    for N in range(3):
        brute = fock_spectrum(4, terms, [(system, N), (pol, 1)])
        np.testing.assert_allclose(sector_spectrum(HAMO, p, N + 1, 0), brute, atol=1e-12)


def test_hamo_pair_binding_is_w_eff_in_atomic_limit():
    rng = np.random.default_rng(7)
    for _ in range(6):
        p = {"U": rng.uniform(0, 2), "W": rng.uniform(0, 1.5), "delta": rng.uniform(-2, 2), "t": 0.0}
        assert gaps(HAMO, p, N=0)["pair_binding"] == pytest.approx(
            w_eff_atomic(p["U"], p["W"], p["delta"]), abs=1e-12)


@pytest.mark.parametrize("point", [
    {"U": 0.3, "W": 0.5, "delta": 1.0},   # U < delta/2
    {"U": 0.7, "W": 0.5, "delta": 1.0},   # delta/2 < U < delta
    {"U": 1.6, "W": 0.5, "delta": 1.0},   # U > delta
])
def test_second_order_corrections_scale_as_t_squared(point):
    ts = np.geomspace(1e-3, 1e-2, 5)
    w0 = w_eff_atomic(point["U"], point["W"], point["delta"])
    corr = np.array([gaps(HAMO, {**point, "t": t}, N=0)["pair_binding"] - w0 for t in ts])
    slope = np.polyfit(np.log(ts), np.log(np.abs(corr)), 1)[0]
    assert abs(slope - 2) < 0.1
    # coefficient: each charge state moves by -t^2/|E_T - E_B| (second-order perturbation theory)
    d, U = point["delta"], point["U"]
    coef = -(1 / abs(d) + 1 / abs(d - 2 * U) - 2 / abs(d - U))
    assert corr[0] / ts[0] ** 2 == pytest.approx(coef, rel=1e-3)
    # the symbolic layer's second-order formula agrees
    from mappings.polarizer import hamo_interaction_numeric

    assert hamo_interaction_numeric(U, point["W"], d, ts[0]) - w0 == pytest.approx(corr[0], rel=1e-3)


def test_attraction_boundary_where_strong_coupling_puts_it():
    W, delta = 0.5, 1.0
    u_star = (W + delta) / 2  # derived by hand: W + delta - 2U = 0 in delta/2 < U < delta

    def w_ed(U, t):
        return gaps(HAMO, {"U": U, "W": W, "delta": delta, "t": t}, N=0)["pair_binding"]

    root0 = brentq(lambda U: w_ed(U, 0.0), 0.55, 0.95, xtol=1e-12)
    assert root0 == pytest.approx(u_star, abs=1e-9)
    assert w_ed(u_star - 0.05, 0.0) > 0 > w_ed(u_star + 0.05, 0.0)
    t = 2e-3  # the boundary moves by O(t^2)
    root_t = brentq(lambda U: w_ed(U, t), 0.55, 0.95, xtol=1e-12)
    assert abs(root_t - u_star) < 50 * t**2
    # and the symbolic layer puts it in the same place
    from mappings.polarizer import attraction_boundary

    s = HAMO.symbols
    roots = [b["U"] for b in attraction_boundary() if b["U"] is not None]
    assert [float(r.xreplace({s["W"]: W, s["delta"]: delta})) for r in roots] == [pytest.approx(u_star)]
    # no attraction at all when W > delta (W_eff >= W - delta > 0 for every U > 0)
    assert min(gaps(HAMO, {"U": U, "W": 1.2, "delta": delta, "t": 0}, N=0)["pair_binding"]
               for U in np.linspace(0.05, 3, 12)) == pytest.approx(0.2)


# -------------------------------------------------------------------- stability diagram
@pytest.mark.parametrize("point", [
    {"U": 0.0, "W": 0.6, "delta": 1.0},   # no polarizer coupling: bare repulsion
    {"U": 0.6, "W": 0.4, "delta": 1.0},   # W_eff = +0.2
    {"U": 0.9, "W": 0.4, "delta": 1.0},   # W_eff = -0.4
    {"U": 1.5, "W": 0.3, "delta": 1.0},   # W_eff = -0.7
])
def test_stability_vertex_orientation_flips_with_w_eff(point):
    w = w_eff_atomic(point["U"], point["W"], point["delta"])
    V, dV = grid_axis(-1.5, 2.5, 161), grid_axis(-1.2, 1.2, 97)
    d = stability_diagram("hamo", {**point, "t": 0.0}, V=V, dV=dV)
    vx = interaction_vertex(d)
    assert vx["orientation"] == (1 if w > 0 else -1)
    assert vx["kind"] == ("vertical" if w > 0 else "horizontal")
    step = (V[1] - V[0]) if w > 0 else (dV[1] - dV[0])
    assert abs(vx["length"] - abs(w)) <= 2 * step
    labels = {lab for row in d["labels"] for lab in row}
    assert labels == {"(0,0)", "(1,0)", "(0,1)", "(1,1)"}


def test_vertex_below_grid_resolution_is_unresolved():
    # W_eff = 0.83 + 1.01 - 2*0.915 = +0.01: far below a grid step of 0.05
    d = stability_diagram("hamo", {"U": 0.915, "W": 0.83, "delta": 1.01, "t": 0.0},
                          V=grid_axis(-1.5, 2.5, 81), dV=grid_axis(-1.5, 1.5, 61))
    vx = interaction_vertex(d)
    assert vx["orientation"] == 0 and vx["kind"] == "unresolved"


def test_stability_diagram_points_against_hand_energies():
    p = {"U": 0.9, "W": 0.4, "delta": 1.0, "t": 0.05}
    V, dV = grid_axis(-1, 2, 13), grid_axis(-1, 1, 9)
    d = stability_diagram("hamo", p, V=V, dV=dV)
    for i, v in enumerate(V):
        for j, dv in enumerate(dV):
            q = {**p, "eps_L": -(v + dv), "eps_R": -(v - dv)}
            energies = {(nl, nr): block_levels(nl, nr, q)[0] for nl, nr in product((0, 1), repeat=2)}
            best = min(energies, key=energies.get)
            assert d["energy"][i][j] == pytest.approx(energies[best], abs=1e-12)
            if sorted(energies.values())[1] - energies[best] > 1e-6:
                assert d["labels"][i][j] == f"({best[0]},{best[1]})"
                assert d["N"][i][j] == sum(best)
    # polarization: the polarizer electron leaves B (sigma_z -> +1) once the system is charged
    sz = np.array(d["observables"]["sigma_z"])
    labels = np.array(d["labels"])
    assert np.all(sz[labels == "(0,0)"] < -0.9) and np.all(sz[labels == "(1,1)"] > 0.9)


def test_charge_states_polarization():
    p = {"U": 1.5, "W": 0.5, "delta": 1.0, "t": 0.1}
    cs = charge_states(p)
    for key, (nl, nr) in {"(0,0)": (0, 0), "(1,0)": (1, 0), "(0,1)": (0, 1), "(1,1)": (1, 1)}.items():
        lo, _ = block_levels(nl, nr, p)
        assert cs[key]["energy"] == pytest.approx(lo, abs=1e-12)
        x = p["delta"] / 2 - (-p["delta"] / 2 + p["U"] * (nl + nr))  # E_T - E_B
        # ground state of [[E_T, t], [t, E_B]]: <sigma_z> = -(E_T - E_B)/sqrt((E_T - E_B)^2 + 4t^2)
        assert cs[key]["sigma_z"] == pytest.approx(-x / math.hypot(x, 2 * p["t"]), abs=1e-12)


def test_gate_grid_too_large_is_refused_before_any_work(monkeypatch):
    import edkit.engine.backend_quspin as backend

    def boom(*a, **k):
        raise AssertionError("a sector was built before the size check")

    monkeypatch.setattr(backend, "make_space", boom)
    t0 = time.perf_counter()
    with pytest.raises(TooLargeError, match="exceeds the limit"):
        stability_diagram("hamo", {}, V=np.linspace(-1, 1, 1001), dV=np.linspace(-1, 1, 1001))
    with pytest.raises(TooLargeError, match="flops"):
        stability_diagram("hamo", {}, V=grid_axis(-1, 1, 50), dV=grid_axis(-1, 1, 50), max_flops=1e3)
    assert time.perf_counter() - t0 < 2


def test_stability_bad_input():
    V = grid_axis(-1, 1, 5)
    with pytest.raises(ParameterError, match="set by the grid"):
        stability_diagram("hamo", {"eps_L": 0.1}, V=V, dV=V)
    with pytest.raises(ValueError, match="non-finite"):
        stability_diagram("hamo", {}, V=[0.0, float("nan")], dV=V)
    with pytest.raises(ValueError, match="increasing"):
        stability_diagram("hamo", {}, V=[1.0, 0.0], dV=V)
    with pytest.raises(ValueError):
        grid_axis(1, 0, 5)
    with pytest.raises(ParameterError):
        stability_diagram("hamo", {"U": float("inf")}, V=V, dV=V)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("N", [-1, 3, 4, 1.5])
def test_hamo_refuses_n_outside_0_to_2(N):
    with pytest.raises(SectorError, match=r"outside 0\.\.2|integer") as err:
        HAMO.sector(N)
    if N in (-1, 3, 4):
        assert "polarizer" in str(err.value)


def test_hamo_other_bad_input():
    with pytest.raises(SectorError, match="spinless"):
        HAMO.sector(1, 0.5)
    with pytest.raises(LatticeError, match="omit L"):
        polarizer_pair(3)
    with pytest.raises(LatticeError, match="periodic"):
        polarizer_pair(None, "periodic")
    assert build_model("hamo", 2).n_orbitals == 4
    # a polarizer that is not singly occupied has no states
    for n_fermions in (0, 4):
        with pytest.raises(SectorError, match="polarizer singly occupied"):
            make_space(HAMO, Sector(n_fermions, 0))
    with pytest.raises(ParameterError):
        gaps(HAMO, {"delta": float("nan")}, N=0)


def test_little_bad_sectors():
    m = little_chain(2)
    with pytest.raises(SectorError, match="outside 0..4"):
        m.sector(5, 0.5)
    with pytest.raises(SectorError, match="parity"):
        m.sector(2, 0.5)
    with pytest.raises(SectorError, match="needs both"):
        m.sector(2, None)


# ------------------------------------------------------------------------------ little
def polarizer_levels(phi: float, E: float, t_pol: float) -> tuple[float, float]:
    """[[E/2, t_pol], [t_pol, -E/2 + phi]] (far, near) by hand."""
    mean, half = phi / 2, math.hypot((E - phi) / 2, t_pol)
    return mean - half, mean + half


def test_little_static_limit_full_spectrum_by_hand():
    p = {"t": 0.0, "U_s": 0.7, "W": 0.3, "E": 0.8, "t_pol": 0.4, "V": 0.9, "V_nn": 0.25}
    L = 2
    m = little_chain(L)
    for n_up, n_dn in [(1, 1), (2, 1), (1, 0)]:
        levels = []
        for ups in product((0, 1), repeat=L):
            for dns in product((0, 1), repeat=L):
                if sum(ups) != n_up or sum(dns) != n_dn:
                    continue
                n = [u + d for u, d in zip(ups, dns)]
                chain = p["U_s"] * sum(u * d for u, d in zip(ups, dns)) + p["W"] * n[0] * n[1]
                pols = [polarizer_levels(p["V"] * n[i] + p["V_nn"] * n[1 - i], p["E"], p["t_pol"])
                        for i in range(L)]
                levels += [chain + pols[0][a] + pols[1][b] for a in (0, 1) for b in (0, 1)]
        np.testing.assert_allclose(sector_spectrum(m, p, n_up + L, n_dn), np.sort(levels), atol=1e-12)


def test_little_onsite_attraction_second_order():
    """One site: E(2)+E(0)-2E(1) -> -2 V^2 t_pol^2/Omega^3 with a V^3 remainder."""
    m = little_chain(1)
    E, t_pol = 0.6, 0.5
    omega = math.hypot(E, 2 * t_pol)
    resid = []
    for V in (0.02, 0.01):
        pb = gaps(m, {"t": 0.0, "U_s": 0.0, "E": E, "t_pol": t_pol, "V": V}, N=0)["pair_binding"]
        predicted = -2 * V**2 * t_pol**2 / omega**3
        assert pb < 0
        resid.append(abs(pb - predicted))
        assert pb == pytest.approx(predicted, rel=0.05)
    assert 2.7 < math.log2(resid[0] / resid[1]) < 3.3


def test_little_neighbour_attraction_second_order():
    """Two sites, large U_s: the pair on neighbouring sites binds by -4 chi V V_nn."""
    m = little_chain(2)
    E, t_pol, U_s = 0.4, 0.5, 50.0
    chi = t_pol**2 / math.hypot(E, 2 * t_pol) ** 3
    ratios = []
    for scale in (0.1, 0.05):
        V, V_nn = 0.8 * scale, 0.5 * scale
        pb = gaps(m, {"t": 0.0, "U_s": U_s, "W": 0.0, "E": E, "t_pol": t_pol, "V": V, "V_nn": V_nn},
                  N=0)["pair_binding"]
        ratios.append(pb / (-4 * chi * V * V_nn))
    assert all(abs(r - 1) < 0.1 for r in ratios)
    assert abs(ratios[1] - 1) < abs(ratios[0] - 1)  # converges as the couplings shrink


def test_little_sharing_argument_atomic_limit():
    """t = t_pol = 0, V > E > 0: two electrons sharing one polarizer bind by E - U_s."""
    m = little_chain(3)
    for U_s in (0.0, 0.3):
        p = {"t": 0.0, "t_pol": 0.0, "E": 1.0, "V": 1.6, "U_s": U_s, "W": 0.2, "V_nn": 0.0}
        assert gaps(m, p, N=0)["pair_binding"] == pytest.approx(U_s - 1.0, abs=1e-12)


# --------------------------------------------------------------------------------- CLI
def test_cli_done_when_command(capsys):
    argv = ["spectrum", "hamo", "--param", "U=0.925", "--param", "W=0.83", "--param", "delta=1.01",
            "--param", "t=0.05", "--sector", "N=2", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    p = {"U": 0.925, "W": 0.83, "delta": 1.01, "t": 0.05}
    assert data["model"] == "hamo" and data["sector"] == {"N": 2} and data["dimension"] == 2
    assert data["energies"][0] == pytest.approx(hand_spectrum(2, p)[0], abs=1e-12)


def test_cli_gaps_prints_w_eff_as_pair_binding(capsys):
    assert main(["gaps", "hamo", "--param", "t=0", "--sector", "N=0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pair_binding"] == pytest.approx(w_eff_atomic(0.925, 0.83, 1.01), abs=1e-12)
    assert main(["gaps", "hamo", "--param", "t=0", "--sector", "N=0"]) == 0
    assert "pair_binding" in capsys.readouterr().out


def test_cli_length_rules(capsys):
    assert main(["spectrum", "hubbard", "--sector", "N=2"]) == 2
    assert "--L is required" in capsys.readouterr().err
    assert main(["spectrum", "hamo", "--L", "5"]) == 2
    assert "omit L" in capsys.readouterr().err
    assert main(["spectrum", "hamo", "--sector", "N=3"]) == 2
    assert "outside 0..2" in capsys.readouterr().err


def test_cli_models_lists_the_polarizer_models(capsys):
    assert main(["models", "--json"]) == 0
    names = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert names["hamo"]["sectors"] == ["N"] and names["little"]["sectors"] == ["N", "Sz"]


# ------------------------------------------------------------------------ verifications
@pytest.mark.slow  # needs the whole catalogue (computed once per session)
def test_polarizer_verifications_pass(catalogue):
    for name in ("hamo-strong-coupling", "little-polarizer-attraction"):
        result = catalogue[name]  # CATALOGUE[name](), computed once per session (tests/conftest.py)
        assert result.passed, "\n".join(result.details)
        assert result.printed and result.coefficients
