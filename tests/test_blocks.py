"""Ground state across symmetry blocks, planning estimates and the CLI (edkit.engine.blocks, planning).

The truth for every block computation is the unsymmetrized spectrum of the same sector (the
no-symmetry path of the backend): the blocks' levels, put together, must be exactly that spectrum,
for every model that has the symmetry. Planning estimates are checked against the built matrices
and closed-form binomials.
"""

import json
import math

import numpy as np
import pytest

from edkit.api import gaps, spectrum
from edkit.cli import main
from edkit.core.model import Sector
from edkit.engine.backend_quspin import blas_threads, make_space, operator_matrix
from edkit.engine.blocks import block_spectrum
from edkit.engine.planning import TooLargeError, check_fits, plan
from edkit.engine.solver import lowest
from edkit.engine.symmetry import SymmetryError, resolve
from edkit.models import build_model


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with blas_threads(1):
        yield


def full_spectrum(model, values, sector):
    H = operator_matrix(make_space(model, sector), model.numeric_terms(values))
    return np.linalg.eigvalsh(H.toarray())


RNG = np.random.default_rng(8)
KBP = {"U": 2.7, "t_perp": 0.8, "t_m": 1.1, "mu_p": -1.2, "mu_m": 0.15}  # no particle-hole symmetry
AL = {"U": 3.1, "t_perp": 0.6, "t_m": 0.9}

# model, L, bc, values, (N_up, N_dn), symmetries
FULL_CASES = [
    ("hubbard", 4, "periodic", {"U": 3.0}, (2, 2), "kPZ"),
    ("hubbard", 4, "periodic", {"U": 3.0}, (3, 1), "kP"),
    ("hubbard", 4, "open", {"U": 3.0}, (2, 2), "PZ"),
    ("hubbard", 5, "periodic", {"U": 2.0, "mu": 0.4}, (3, 2), "kP"),
    ("hubbard", 5, "periodic", {"U": 2.0}, (2, 2), "kPZ"),
    ("hubbard", 6, "periodic", {"U": 3.0}, (3, 3), "kPZ"),
    ("hubbard", 6, "periodic", {"U": 3.0, "mu": 1.5}, (3, 3), "kPZC"),
    ("hubbard", 6, "periodic", {"U": 3.0}, (4, 2), "kP"),
    ("kbp", 4, "periodic", KBP, (2, 2), "kPZ"),
    ("kbp", 4, "periodic", KBP, (3, 1), "kP"),
    ("kbp", 3, "open", {"U": 2.7, "t_perp": 0.8}, (3, 3), "PZC"),
    ("anderson", 4, "periodic", AL, (2, 2), "kPZ"),
    ("anderson", 4, "periodic", {**AL, "h_p": 0.3}, (2, 1), "kP"),
    ("kbp-eff", 4, "periodic", {"J": 1.3, "mu_m": 0.2}, (4, 4), "kPZ"),
    ("kondo", 4, "periodic", {"J": 1.3}, (4, 4), "kPZ"),
]


@pytest.mark.parametrize("name,L,bc,vals,sector,labels", FULL_CASES)
def test_blocks_recombine_to_the_unsymmetrized_spectrum(name, L, bc, vals, sector, labels):
    m = build_model(name, L, bc)
    sec = Sector(*sector)
    ref = full_spectrum(m, vals, sec)
    out = block_spectrum(m, vals, sec, list(labels), nev=len(ref))
    assert out["dimension"] == len(ref)
    assert len(out["energies"]) == len(ref)
    np.testing.assert_allclose(np.sort(out["energies"]), ref, atol=1e-10)
    assert out["levels"][0]["block"] == out["ground_block"]
    assert out["symmetries"] == list(labels)


@pytest.mark.parametrize("name,vals", [("kbp", KBP), ("anderson", AL)])
def test_lowest_levels_at_half_filling_of_the_four_rung_ring(name, vals):
    """The 4900-state half-filled sector: merged lowest levels equal Lanczos on the full sector."""
    m = build_model(name, 4, "periodic")
    sec = Sector(4, 4)
    H = operator_matrix(make_space(m, sec), m.numeric_terms(vals))
    ref = lowest(H, 16).energies[:8]
    out = block_spectrum(m, vals, sec, "all", nev=8)
    assert out["dimension"] == math.comb(8, 4) ** 2
    np.testing.assert_allclose(out["energies"], ref, atol=1e-9)


def test_conjugate_pairs_are_an_identity():
    """Solving k and -k once (real H) gives the same levels as solving every block."""
    m = build_model("hubbard", 6, "periodic")
    sec = Sector(3, 3)
    a = block_spectrum(m, {"U": 3.0}, sec, ["k", "Z"], nev=400)
    b = block_spectrum(m, {"U": 3.0}, sec, ["k", "Z"], nev=400, conjugate_pairs=False)
    np.testing.assert_allclose(a["energies"], b["energies"], atol=1e-12)
    mirrored = [r for r in a["blocks"] if r["mirror_of"] is not None]
    assert {r["labels"]["k"] for r in mirrored} == {4, 5}
    assert all(r["mirror_of"] is None for r in b["blocks"])


def test_the_ground_state_can_sit_outside_k0_and_is_found():
    """Half-filled 4-site Hubbard ring: k=0 alone misses the ground state; every block finds it."""
    full = spectrum("hubbard", {"U": 4}, N=4, Sz=0, L=4, bc="periodic", nev=1)["energies"][0]
    only_k0 = spectrum("hubbard", {"U": 4}, N=4, Sz=0, L=4, bc="periodic", symmetries={"k": 0})
    every = spectrum("hubbard", {"U": 4}, N=4, Sz=0, L=4, bc="periodic", nev=3, symmetries="all")
    assert only_k0["energies"][0] > full + 0.1
    assert every["energies"][0] == pytest.approx(full, abs=1e-10)
    assert every["ground_block"]["k"] == 2 and every["ground_block"]["K_over_pi"] == 1.0
    assert every["dimension"] == 36 and every["method"] == "blocks"


@pytest.mark.parametrize("name,L,vals", [
    ("hubbard", 6, {"U": 3.0}),
    ("kbp", 4, {"U": 2.5, "t_perp": 0.7}),
    ("kondo", 4, {"J": 1.5}),
])
def test_gaps_with_symmetries_equal_gaps_without(name, L, vals):
    N = L if name in ("hubbard", "kondo") else 2 * L
    a = gaps(name, vals, N=N, L=L, bc="periodic")
    b = gaps(name, vals, N=N, L=L, bc="periodic", symmetries="all")
    for key in ("energy", "charge_gap", "spin_gap", "pair_binding", "neutral_gap"):
        assert b[key] == pytest.approx(a[key], abs=1e-9), key


def test_symmetries_that_do_not_hold_are_refused_before_building():
    with pytest.raises(SymmetryError, match=r"spin_inversion does not hold.*h_p=0\.3"):
        gaps("anderson", {"h_p": 0.3}, N=8, L=4, bc="periodic", symmetries=["Z"])
    with pytest.raises(SymmetryError, match="translation does not hold"):
        spectrum("kbp", {}, N=6, Sz=0, L=3, bc="open", symmetries=["k"])
    with pytest.raises(ValueError, match="without quantum numbers"):
        gaps("hubbard", {}, N=4, L=4, bc="periodic", symmetries={"k": 0})


def test_progress_lines_one_per_block():
    lines: list[str] = []
    m = build_model("hubbard", 4, "periodic")
    block_spectrum(m, {}, Sector(2, 2), ["k"], progress=lines.append)
    assert len(lines) == 4 and all(line.startswith("block {'k': ") for line in lines)


# --------------------------------------------------------------------------------- planning
@pytest.mark.parametrize("name,L,bc,N,Sz", [
    ("hubbard", 6, "periodic", 6, 0), ("hubbard", 7, "open", 5, 0.5), ("kbp", 3, "periodic", 6, 0),
    ("anderson", 3, "open", 5, 0.5), ("kbp-eff", 4, "periodic", 8, 0), ("kondo", 4, "periodic", 4, 0),
])
def test_plan_counts_match_the_built_matrix(name, L, bc, N, Sz):
    m = build_model(name, L, bc)
    sec = m.sector(N, Sz)
    p = plan(m, sec)
    H = operator_matrix(make_space(m, sec), m.numeric_terms({}))
    assert p.dimension == H.shape[0]
    assert H.nnz <= p.nonzeros <= 1.1 * H.nnz


def test_plan_of_the_eight_rung_bilayer_with_and_without_symmetries(monkeypatch):
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", str(20 * 2**30))
    m = build_model("kbp", 8, "periodic")
    sec = m.sector(16, 0)
    bare = plan(m, sec)
    assert bare.dimension == math.comb(16, 8) ** 2 == 165_636_900
    assert bare.bytes > 100 * 2**30
    assert bare.path == "matrix-free" and bare.matrix_free_bytes == 4 * 8 * 165_636_900 + 2**20
    syms = resolve(m, {}, sec, ["k", "P", "Z"])
    blocked = plan(m, sec, symmetries=syms)
    assert blocked.symmetry_reduction == 16  # largest blocks: K != 0, pi (no parity), Z = +-1
    assert blocked.dimension == -(-165_636_900 // 16)
    assert blocked.nonzeros == -(-bare.nonzeros // 16)
    assert blocked.complex_values and blocked.path == "sparse" and blocked.bytes < 16 * 2**30
    with pytest.raises(TooLargeError, match=r"dimension 165,636,900 .*GiB needed.*see `edkit plan`"
                                            r".*matrix-free ground energy fits \(~4\.94 GiB\)"):
        check_fits(m, sec)


def test_blocks_refuse_with_numbers_when_the_largest_block_does_not_fit(monkeypatch):
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", "100000")  # bytes
    m = build_model("hubbard", 10, "periodic")
    with pytest.raises(TooLargeError, match=r"dimension 3,176 per block of kPZ \(sector 63,504\)"):
        block_spectrum(m, {}, m.sector(10, 0), ["k", "P", "Z"])


# ---------------------------------------------------------------------------------- CLI
def test_cli_plan_json(capsys):
    assert main(["plan", "hubbard", "--L", "6", "--bc", "periodic", "--blocks", "all", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["plan"]["sector_dimension"] == 400
    assert data["plan"]["symmetry_reduction"] == 12  # k (6) x Z; P only at K = 0, pi; C needs mu = U/2
    assert data["plan"]["path"] == "dense"
    rows = {r["label"]: r for r in data["symmetries"]}
    assert rows["C"]["holds"] is False and "particle_hole does not hold" in rows["C"]["reason"]
    assert main(["plan", "kbp", "--L", "4", "--bc", "periodic"]) == 0
    text = capsys.readouterr().out
    assert "sector dimension  4,900" in text and "path              sparse" in text


def test_cli_spectrum_blocks_and_refusals(capsys):
    assert main(["spectrum", "hubbard", "--L", "4", "--bc", "periodic", "--blocks", "all",
                 "--nev", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["levels"][0]["block"]["k"] == 2 and len(data["energies"]) == 2
    assert main(["gaps", "anderson", "--L", "4", "--bc", "periodic", "--param", "h_p=0.3",
                 "--symmetry", "Z"]) == 2
    assert "spin_inversion does not hold" in capsys.readouterr().err
    assert main(["spectrum", "hubbard", "--L", "4", "--bc", "periodic", "--symmetry", "k=7"]) == 2
    assert "k=7 does not exist: use 0..3" in capsys.readouterr().err
    assert main(["spectrum", "hubbard", "--L", "4", "--bc", "periodic", "--symmetry", "k=1",
                 "--symmetry", "Z"]) == 0
    assert "block k=1 Z=" in capsys.readouterr().out
