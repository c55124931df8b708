"""Point 6 of the foundation: KBP and Anderson spectra agree in particle-hole-mapped sectors.

KBP sector (N_up, N_dn) <-> AL sector (N_up, 2L - N_dn); E_KBP = E_AL(h_p = U/2 + mu_p,
h_m = mu_m) - U L / 4. Random seeded parameters, half filling and doped. The brute-force Fock
builder of the tests checks the QuSpin compilation on the same sectors.
"""

import numpy as np
import pytest

from edkit.models import anderson_lattice, kbp_bilayer
from edkit.testing import assert_spectra_equal, sector_spectrum
from tests.helpers.fock import fock_spectrum

CASES = [(2, "open"), (3, "open"), pytest.param(4, "open", marks=pytest.mark.slow),
         pytest.param(4, "periodic", marks=pytest.mark.slow)]  # L = 4: 4900-state sectors, ~1-2 s each


def random_params(seed):
    rng = np.random.default_rng(seed)
    return {"U": rng.uniform(1, 6), "t_perp": rng.uniform(0.2, 1.5), "t_m": rng.uniform(0.5, 2),
            "mu_p": rng.uniform(-3, 1), "mu_m": rng.uniform(-1, 1)}


def sectors(L):
    n = 2 * L
    half = [(L, L)]
    doped = [(L + 1, L), (L - 1, L - 1), (L + 1, L + 1), (2, 1)]
    return half + doped if n <= 6 else half + doped[:2]


@pytest.mark.parametrize("L,bc", CASES)
@pytest.mark.parametrize("seed", [1, 2])
def test_kbp_and_anderson_spectra_in_mapped_sectors(L, bc, seed):
    p = random_params(seed + 10 * L)
    kbp, al = kbp_bilayer(L, bc), anderson_lattice(L, bc)
    al_params = {"U": p["U"], "t_perp": p["t_perp"], "t_m": p["t_m"],
                 "h_p": p["U"] / 2 + p["mu_p"], "h_m": p["mu_m"]}
    for n_up, n_dn in sectors(L):
        assert_spectra_equal(kbp, p, (n_up, n_dn), al, al_params, (n_up, 2 * L - n_dn),
                             shift=-p["U"] * L / 4, atol=1e-10)


@pytest.mark.parametrize("L,bc", [(2, "open"), (3, "open")])
def test_quspin_compilation_matches_brute_force(L, bc):
    p = random_params(7)
    for model in (kbp_bilayer(L, bc), anderson_lattice(L, bc)):
        idx = {m: k for k, m in enumerate(model.modes)}
        terms = [(c, [(idx[m], d) for m, d in w]) for c, w in model.numeric_terms(
            {k: v for k, v in p.items() if k in model.parameters})]
        ups = [idx[m] for m in model.modes if m.spin == "up"]
        dns = [idx[m] for m in model.modes if m.spin == "dn"]
        for n_up, n_dn in [(L, L), (L + 1, L - 1), (1, 2)]:
            ours = sector_spectrum(model, {k: v for k, v in p.items() if k in model.parameters}, n_up, n_dn)
            brute = fock_spectrum(len(model.modes), terms, [(ups, n_up), (dns, n_dn)])
            np.testing.assert_allclose(ours, brute, atol=1e-10)
