"""Thermal averages (issue 15, item 1) against independent truth.

- exact averages against a brute-force full diagonalization of the Fock space written here (the
  test helpers' Fock builder; sectors picked by counting bits, not by edkit);
- free fermions (U = 0) in the grand-canonical ensemble against the Fermi-Dirac closed form;
- the Hubbard atom and the two-site Hubbard model in closed form;
- beta -> infinity gives the ground energy, beta -> 0 the mean level Tr H / D;
- grand-canonical <N> = 2L at mu = 0 for the particle-hole symmetric bilayer;
- the KBP <-> Anderson mapping at finite temperature (C -> (-1)^(i-j) <S+ S->, N -> 4 <Sz Sz>).
FTLM against exact and its error bars: tests/test_thermal_ftlm.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from edkit.core import operators as ops
from edkit.core.modes import DN, UP, Mode
from edkit.models import anderson_lattice, build_model, kbp_bilayer
from edkit.thermodynamics import thermal_averages
from tests.helpers.fock import fock_matrix
from tests.helpers.model_fock import full_matrix, mode_index


# ----------------------------------------------------------------------------- brute force
def _fock(model, terms):
    idx = mode_index(model)
    return fock_matrix(len(model.modes), [(complex(c), [(idx[m], d) for m, d in w]) for c, w in terms])


def _counts(model):
    n = len(model.modes)
    states = np.arange(1 << n)
    up = sum(((states >> k) & 1) for k, m in enumerate(model.modes) if m.spin == UP)
    dn = sum(((states >> k) & 1) for k, m in enumerate(model.modes) if m.spin == DN)
    return up, dn


def brute_thermal(model, values, betas, N=None, mu=None, ops_terms=()):
    """Thermal averages by full diagonalization of each (N_up, N_dn) block of the Fock matrix."""
    H = full_matrix(model, model.resolve(values)).toarray()
    up, dn = _counts(model)
    mats = [_fock(model, t).toarray() for t in ops_terms]
    levels = []  # (E, N, Sz, [<n|A|n>])
    for nu in range(up.max() + 1):
        for nd in range(dn.max() + 1):
            if N is not None and nu + nd != N:
                continue
            idx = np.flatnonzero((up == nu) & (dn == nd))
            if not len(idx):
                continue
            e, v = np.linalg.eigh(H[np.ix_(idx, idx)])
            diag = [np.real(np.einsum("ij,ij->j", v.conj(), A[np.ix_(idx, idx)] @ v)) for A in mats]
            for k in range(len(e)):
                levels.append((e[k], nu + nd, (nu - nd) / 2, [d[k] for d in diag]))
    E = np.array([x[0] for x in levels])
    Nn = np.array([x[1] for x in levels], dtype=float)
    Sz = np.array([x[2] for x in levels])
    A = np.array([x[3] for x in levels]).reshape(len(levels), -1)
    out = []
    m = 0.0 if mu is None else mu
    for b in betas:
        w = np.exp(-b * (E - m * Nn - np.min(E - m * Nn)))
        Z = w.sum()

        def avg(x, w=w, Z=Z):
            return (w * x).sum() / Z
        out.append({"energy": avg(E), "specific_heat": b * b * (avg(E * E) - avg(E) ** 2), "N": avg(Nn),
                    "spin_susceptibility": b * (avg(Sz * Sz) - avg(Sz) ** 2),
                    "charge_susceptibility": b * (avg(Nn * Nn) - avg(Nn) ** 2),
                    "ops": [avg(A[:, k]) for k in range(A.shape[1])]})
    return out, E.min()


def _double(model):
    return [(1.0, ((Mode(la, i, UP), True), (Mode(la, i, UP), False), (Mode(la, i, DN), True),
                   (Mode(la, i, DN), False))) for la, i in model.orbitals]


SCALARS = ("energy", "specific_heat", "N", "spin_susceptibility", "charge_susceptibility")


@pytest.mark.parametrize("mu", [None, 0.3])
def test_exact_averages_equal_brute_force_full_diagonalization(mu):
    model = kbp_bilayer(2, "open")
    values = {"U": 3.0, "t_perp": 0.7, "t_m": 1.1, "mu_p": -1.0, "mu_m": 0.2}
    betas = [0.3, 1.0, 4.0]
    cols = ["C:p:0:1", "N:m:0:1", "S:p:0:1", "SzSz:p:0:1", "SxSx:m:0:0", "SySy:p:0:1"]
    a, b = ("p", 0), ("p", 1)
    terms = [_double(model), ops.pair_pair(a, b), ops.density_density(("m", 0), ("m", 1)),
             [(0.5 * c, w) for c, w in ops.hopping(a, b, UP) + ops.hopping(a, b, DN)],
             ops.spin_spin(a, b, "z"), ops.spin_spin(("m", 0), ("m", 0), "x"), ops.spin_spin(a, b, "y")]
    ref, _ = brute_thermal(model, values, betas, N=None if mu is not None else 4, mu=mu, ops_terms=terms)
    res = thermal_averages(model, values, betas=betas, mu=mu, method="exact", observables=cols)
    assert res.method == "exact" and res.ensemble == ("canonical" if mu is None else "grand-canonical")
    for point, truth in zip(res.points, ref):
        for q in SCALARS:
            assert point[q] == pytest.approx(truth[q], abs=1e-9), q
            assert point[f"{q}_error"] == 0
        assert point["double_occupancy"] == pytest.approx(truth["ops"][0], abs=1e-9)
        for col, value in zip(cols, truth["ops"][1:]):
            assert point[col] == pytest.approx(value.real, abs=1e-9), col


def test_free_fermions_grand_canonical_fermi_dirac():
    L, mu = 4, 0.4
    model = build_model("hubbard", L, "open")
    hop = -(np.eye(L, k=1) + np.eye(L, k=-1))  # open chain, t = 1
    eps, phi = np.linalg.eigh(hop)
    np.testing.assert_allclose(eps, np.sort(-2 * np.cos(np.pi * np.arange(1, L + 1) / (L + 1))), atol=1e-12)
    betas = [0.5, 2.0, 6.0]
    res = thermal_averages(model, {"U": 0.0, "t": 1.0}, betas=betas, mu=mu, method="exact")
    for point, b in zip(res.points, betas):
        f = 1 / (np.exp(b * (eps - mu)) + 1)
        assert point["N"] == pytest.approx(2 * f.sum(), abs=1e-9)
        assert point["energy"] == pytest.approx(2 * (eps * f).sum(), abs=1e-9)
        assert point["specific_heat"] == pytest.approx(b * b * 2 * (eps ** 2 * f * (1 - f)).sum(), abs=1e-9)
        assert point["charge_susceptibility"] == pytest.approx(b * 2 * (f * (1 - f)).sum(), abs=1e-9)
        density = (phi ** 2) @ f  # <n_i sigma> per site; <n_up n_dn> = <n_up><n_dn> (Wick)
        assert point["double_occupancy"] == pytest.approx((density ** 2).sum(), abs=1e-9)


def test_hubbard_atom_closed_form():
    U, mu = 2.5, 0.7
    betas = [0.2, 1.0, 3.0]
    res = thermal_averages(build_model("hubbard", 1, "open"), {"U": U}, betas=betas, mu=mu, method="exact")
    for point, b in zip(res.points, betas):
        z1, z2 = np.exp(b * mu), np.exp(-b * (U - 2 * mu))
        Z = 1 + 2 * z1 + z2
        assert point["energy"] == pytest.approx(U * z2 / Z, abs=1e-12)
        assert point["N"] == pytest.approx((2 * z1 + 2 * z2) / Z, abs=1e-12)
        assert point["double_occupancy"] == pytest.approx(z2 / Z, abs=1e-12)
        assert point["spin_susceptibility"] == pytest.approx(b * 0.5 * z1 / Z, abs=1e-12)  # <Sz^2> = 2 z1/4Z


def test_two_site_hubbard_closed_form_canonical():
    U, t = 3.0, 1.0
    root = np.sqrt(U * U + 16 * t * t)
    levels = np.array([0, 0, 0, U, (U + root) / 2, (U - root) / 2])  # triplet, then the singlets
    betas = [0.5, 2.0]
    res = thermal_averages(build_model("hubbard", 2, "open"), {"U": U, "t": t}, betas=betas, method="exact")
    assert res["sector"] == {"N": 2} and res["spin_flip"]
    for point, b in zip(res.points, betas):
        w = np.exp(-b * levels)
        Z = w.sum()
        e = (w * levels).sum() / Z
        assert point["energy"] == pytest.approx(e, abs=1e-12)
        var = (w * levels ** 2).sum() / Z - e * e
        assert point["specific_heat"] == pytest.approx(b * b * var, abs=1e-12)
        assert point["spin_susceptibility"] == pytest.approx(b * 2 * w[0] / Z, abs=1e-12)  # Sz = +-1 triplets


def test_low_and_high_temperature_limits():
    model = build_model("hubbard", 4, "open")
    values = {"U": 4.0}
    res = thermal_averages(model, values, betas=[1e-5, 60.0], method="exact")
    ref, e0 = brute_thermal(model, values, [1e-5], N=4)
    # beta -> infinity: the ground energy of N = 4 (brute force, over every Sz)
    assert res.points[1]["energy"] == pytest.approx(e0, abs=1e-8)
    assert res["ground_energy"] == pytest.approx(e0, abs=1e-10)
    # beta -> 0: Tr H / D over the N = 4 states (first order in beta)
    H = full_matrix(model, model.resolve(values)).toarray()
    up, dn = _counts(model)
    idx = np.flatnonzero(up + dn == 4)
    block = np.diag(H)[idx]
    Hs = H[np.ix_(idx, idx)]
    mean, var = block.mean(), (Hs @ Hs).trace() / len(idx) - block.mean() ** 2
    assert res.points[0]["energy"] == pytest.approx(mean - 1e-5 * var, abs=1e-8)


def test_grand_canonical_half_filling_of_the_particle_hole_symmetric_bilayer():
    L = 2
    res = thermal_averages(kbp_bilayer(L, "open"), {}, betas=[0.5, 3.0], mu=0.0, method="exact")
    for point in res.points:
        assert point["N"] == pytest.approx(2 * L, abs=1e-10)
        assert point["charge_susceptibility"] > 0


def test_kbp_anderson_mapping_at_finite_temperature():
    L = 2
    rng = np.random.default_rng(3)
    p = {"U": rng.uniform(1, 5), "t_perp": rng.uniform(0.3, 1.2), "t_m": rng.uniform(0.6, 1.5),
         "mu_p": rng.uniform(-2, 0), "mu_m": rng.uniform(-0.5, 0.5)}
    al = {"U": p["U"], "t_perp": p["t_perp"], "t_m": p["t_m"], "h_p": p["U"] / 2 + p["mu_p"],
          "h_m": p["mu_m"]}
    betas = [0.4, 2.0]
    kb = thermal_averages(kbp_bilayer(L, "open"), p, betas=betas, mu=0.0, method="exact",
                          observables=["C:*:0:1", "N:*:0:1"])
    an = thermal_averages(anderson_lattice(L, "open"), al, betas=betas, mu=0.0, method="exact",
                          observables=["SxSx:*:0:1", "SySy:*:0:1", "SzSz:*:0:1"])
    for k, q in zip(kb.points, an.points):
        assert k["energy"] == pytest.approx(q["energy"] - p["U"] * L / 4, abs=1e-9)
        for layer in ("p", "m"):
            spm = q[f"SxSx:{layer}:0:1"] + q[f"SySy:{layer}:0:1"]  # <S+_i S-_j> for i != j
            assert k[f"C:{layer}:0:1"] == pytest.approx(-spm, abs=1e-9)  # (-1)^(i-j) = -1
            assert k[f"N:{layer}:0:1"] == pytest.approx(4 * q[f"SzSz:{layer}:0:1"], abs=1e-9)
    assert abs(kb.points[1]["C:m:0:1"]) > 0.05 and abs(kb.points[1]["N:p:0:1"]) > 0.01  # not trivially zero
