"""The backend protocol, the planner's choices and words, and backends agreeing with brute force.

Independent truths: the brute-force Fock-space spectrum of tests/helpers/fock.py (every level of
small sectors of the Hubbard ring, a complex flux ring, the KBP bilayer and the two-wire model),
and the counting of states by binomials. Planner checks use ``EDKIT_MEMORY_LIMIT`` so that the
words are tested against a known limit; nothing large is built (``make_space`` is trapped where
only a plan is wanted).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse.linalg

import edkit.engine.backend_quspin
import edkit.engine.planning as planning
from edkit.core.errors import EdkitError, InputError
from edkit.core.modes import UP
from edkit.engine.backends import REGISTRY, Estimate, Request, get, names, register, unregister
from edkit.engine.blocks import block_spectrum
from edkit.engine.planning import TooLargeError, UnsupportedRequestError, choose, plan
from edkit.engine.solve import solve_sector
from edkit.engine.symmetry import resolve
from edkit.models import MODELS, build_model
from tests.helpers.fock import fock_spectrum
from tests.helpers.models import flux_ring

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30


@pytest.fixture
def memory(monkeypatch):
    """Set the memory limit edkit allows itself (bytes)."""

    def set_limit(n: int) -> None:
        monkeypatch.setenv("EDKIT_MEMORY_LIMIT", str(int(n)))

    return set_limit


@pytest.fixture
def no_build(monkeypatch):
    def trap(*args, **kwargs):
        raise AssertionError("a basis or a matrix was built while only planning")

    for name in ("make_space", "operator_matrix"):
        monkeypatch.setattr(edkit.engine.backend_quspin, name, trap)


def brute_force(model, values, sector) -> np.ndarray:
    """Every level of the sector from the Fock-space oracle (model's constraints imposed)."""
    index = {m: k for k, m in enumerate(model.modes)}
    terms = [(c, [(index[m], d) for m, d in w]) for c, w in model.numeric_terms(values)]
    ups = [index[m] for m in model.modes if not model.spinful or m.spin == UP]
    dns = [index[m] for m in model.modes if model.spinful and m.spin != UP]
    cons = [(ups, sector.n_up)] + ([(dns, sector.n_dn)] if model.spinful else [])
    for con in tuple(model.constraints) + tuple(sector.constraints):
        assert len(con.allowed) == 1, "the oracle takes one count per group"
        cons.append(([index[m] for m in con.modes], con.allowed[0]))
    return fock_spectrum(len(model.modes), terms, cons)


# ----------------------------------------------------------------------------- registry
def test_registry_holds_the_built_in_backends_behind_one_protocol():
    assert names()[:5] == ["stored", "blocks", "matrix-free", "two-wire-product", "tenpy"]
    for backend in REGISTRY.values():
        for attr in ("name", "supports", "estimate", "solve"):
            assert hasattr(backend, attr), (backend, attr)
    with pytest.raises(InputError, match="unknown backend 'tpu'"):
        get("tpu")
    with pytest.raises(TypeError, match="not a backend"):
        register(object())


# --------------------------------------------------------------------------- supports()
def test_stored_supports_plain_sectors_and_leaves_blocks_to_the_blocks_backend():
    m = build_model("kbp-eff", 3, "periodic")
    sec = m.sector(6, 0)
    assert get("stored").supports(m, sec, Request(nev=5, vectors=True)) is None
    syms = tuple(resolve(m, {}, sec, ["k"]))
    assert "'blocks' backend" in get("stored").supports(m, sec, Request(symmetries=syms))
    assert get("blocks").supports(m, sec, Request(symmetries=syms)) is None
    assert "no symmetry blocks" in get("blocks").supports(m, sec, Request())
    assert "block bases" in get("blocks").supports(m, sec, Request(vectors=True, symmetries=syms))


def test_blocks_refuse_particle_hole_where_quspin_signs_differ():
    m = build_model("kbp", 4, "periodic")
    sec = m.sector(8, 0)
    from edkit.engine.symmetry import particle_hole

    reason = get("blocks").supports(m, sec, Request(symmetries=(particle_hole(m),)))
    assert reason is not None and "QuSpin's particle-hole sign is (-1)^j" in reason


def test_matrix_free_refuses_constraints_size_blocks_and_more_than_the_ground_energy():
    free = get("matrix-free")
    eff = build_model("kbp-eff", 3, "open")
    reason = free.supports(eff, eff.sector(6, 0), Request())
    assert reason.startswith("the matrix-free kernel needs a model without occupation constraints")
    assert "kbp-eff has 3" in reason and "p0 empty or doubly occupied" in reason
    big = build_model("hubbard", 25, "open")
    assert "at most 24 orbitals (hubbard has 25)" in free.supports(big, big.sector(2, 0), Request())
    h = build_model("hubbard", 6, "periodic")
    sec = h.sector(6, 0)
    assert free.supports(h, sec, Request()) is None
    assert free.supports(h, sec, Request(nev=2)) is None  # issue 14: vectors and up to 10 levels
    assert free.supports(h, sec, Request(vectors=True)) is None
    assert "at most 10 levels" in free.supports(h, sec, Request(nev=11))
    syms = tuple(resolve(h, {}, sec, ["k"]))
    assert "not in symmetry blocks" in free.supports(h, sec, Request(symmetries=syms))


def test_product_space_only_for_the_model_that_declares_it():
    product = get("two-wire-product")
    h = build_model("hubbard", 4, "open")
    reason = product.supports(h, h.sector(4, 0), Request())
    assert "serves models that declare it" in reason and "hubbard uses the plain Fock sector" in reason
    w = build_model("two-wire", 3, "periodic")
    sec = w.sector(3, 0.5, N_s=1)
    assert w.capabilities.space == "two-wire-product"
    assert product.supports(w, sec, Request(nev=3)) is None
    assert "product basis" in product.supports(w, sec, Request(vectors=True))
    assert product.supports(w, sec, Request(vectors=True, method="two-wire-product")) is None
    est = product.estimate(w, sec, Request())
    assert est.dimension == math.comb(3, 2) * math.comb(3, 1) * math.comb(3, 1)


def test_tenpy_is_never_chosen_automatically():
    tenpy = get("tenpy")
    h = build_model("hubbard", 4, "open")
    sec = h.sector(4, 0)
    reason = tenpy.supports(h, sec, Request())
    assert "DMRG" in reason and "not exact levels" in reason and "method='tenpy'" in reason
    for name in MODELS:
        m = build_model(name, None if name == "hamo" else 3)
        v = m.resolve_sector()
        c = choose(m, m.sector(v.pop("N"), v.pop("Sz", None), **v), Request())
        assert c.name not in (None, "tenpy"), (name, c.reason)
    w = build_model("two-wire", 3)
    wide = tenpy.supports(w, w.sector(3, 0.5, N_s=1), Request(method="tenpy"))
    assert "spans several orbitals" in wide


# ------------------------------------------------------------------------------ planner
def test_small_sector_takes_the_stored_dense_path(memory):
    memory(16 * GIB)
    m = build_model("hubbard", 6, "periodic")
    c = choose(m, m.sector(6, 0), Request())
    assert c.name == "stored"
    assert c.reason.startswith("400 states, below the 100,000")
    assert "dense diagonalization" in c.reason and c.notice is None


def test_hubbard_l12_ground_energy_goes_matrix_free_because_it_is_faster(memory, no_build):
    memory(16 * GIB)
    m = build_model("hubbard", 12, "periodic")
    sec = m.sector(12, 0)
    c = choose(m, sec, Request())
    assert c.name == "matrix-free"
    assert c.reason.startswith("faster than building the ") and "stored matrix" in c.reason
    assert "853,776 states" in c.reason and "does not fit" not in c.reason
    assert "0.0 GiB" not in c.reason and "~" in c.reason
    p = plan(m, sec)
    assert p.path == "sparse" and p.backend == "matrix-free" and p.explain().startswith("matrix-free: faster")
    data = p.as_dict()
    assert data["backend"] == "matrix-free" and data["reason"] == c.reason
    assert {b["backend"] for b in data["backends"]} >= {"stored", "matrix-free"}
    json.dumps(data)


def test_a_stored_matrix_that_does_not_fit_is_said_so(memory, no_build):
    memory(600_000)  # bytes: above the matrix-free vectors of 4,900 states, below the stored path
    m = build_model("hubbard", 8, "periodic")
    c = choose(m, m.sector(8, 0), Request())
    assert c.name == "matrix-free"
    assert c.reason.startswith("the stored matrix (") and "does not fit in 586 KiB" in c.reason


def test_second_level_of_a_large_sector_is_announced_with_its_cost(memory, no_build):
    memory(16 * GIB)
    m = build_model("hubbard", 12, "periodic")
    c = choose(m, m.sector(12, 0), Request(nev=11))  # beyond the 10 matrix-free levels (issue 14)
    assert c.name == "stored"
    assert c.notice is not None and c.notice == f"hubbard L=12 sector (N_up=6, N_dn=6): {c.reason}"
    assert c.reason.startswith("nev=11 needs the stored matrix: ~") and "to build" in c.reason
    assert "the ground energy alone would take ~" in c.reason and c.reason.endswith("matrix-free")


def test_the_notice_is_printed_before_the_work_and_the_levels_are_right(monkeypatch, capsys):
    monkeypatch.setattr(planning, "MATRIX_FREE_DIMENSION", 1000)  # 4,900 states count as large here
    m = build_model("hubbard", 8, "periodic")
    eig, _ = solve_sector(m, {"U": 4.0}, 8, 0, nev=11)  # beyond the 10 matrix-free levels (issue 14)
    err = capsys.readouterr().err
    assert "[edkit] hubbard L=8 sector (N_up=4, N_dn=4): nev=11 needs the stored matrix" in err
    sec = m.sector(8, 0)
    H = edkit.engine.backend_quspin.hamiltonian_matrix(m, {"U": 4.0}, sec)[0]
    v0 = np.random.default_rng(7).standard_normal(H.shape[0])  # no symmetry: every block is reached
    ref = np.sort(scipy.sparse.linalg.eigsh(H, k=6, which="SA", tol=1e-12, v0=v0)[0])[:2]
    np.testing.assert_allclose(eig.energies[:2], ref, atol=1e-9)


def test_nev_close_to_the_dimension_is_refused_before_allocation(memory, no_build):
    memory(16 * GIB)
    m = build_model("hubbard", 12, "periodic")
    with pytest.raises(TooLargeError) as exc:
        solve_sector(m, {}, 12, 0, nev=1_000_000)
    msg = str(exc.value)
    assert "too large for nev=1,000,000" in msg and "dense diagonalization (all 853,776 levels)" in msg
    assert "TiB needed" in msg and "refusing to build (limit 16 GiB)" in msg
    assert "at most 10 levels" in msg


def test_thousands_of_levels_are_refused_for_their_time(memory, no_build, monkeypatch):
    memory(16 * GIB)
    monkeypatch.delenv("EDKIT_TIME_LIMIT", raising=False)
    m = build_model("kbp", 5, "open")
    with pytest.raises(TooLargeError, match=r"it would take ~\d.* days \(rough\), more than the time limit"):
        solve_sector(m, {}, 10, 0, nev=5000)
    monkeypatch.setenv("EDKIT_TIME_LIMIT", "0")  # no limit: planned, with its time stated
    c = choose(m, m.sector(10, 0), Request(nev=5000))
    assert c.name == "stored" and c.notice is not None and "days" in c.notice


@pytest.mark.parametrize("nev", [0, -1, True, 1.5])
def test_nev_below_one_or_not_an_integer_is_refused(nev):
    m = build_model("hubbard", 4, "periodic")
    with pytest.raises(InputError, match="nev must be") as exc:
        solve_sector(m, {}, 4, 0, nev=nev)
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, EdkitError)


def test_explicit_methods_are_refused_with_the_backend_reason():
    eff = build_model("kbp-eff", 2, "open")
    with pytest.raises(UnsupportedRequestError, match="method='matrix-free': .*occupation constraints"):
        solve_sector(eff, {}, 4, 0, method="matrix-free")
    with pytest.raises(ValueError, match="method must be one of auto, stored, blocks, matrix-free"):
        solve_sector(eff, {}, 4, 0, method="tpu")
    h = build_model("hubbard", 4, "open")
    with pytest.raises(UnsupportedRequestError, match="serves models that declare it"):
        solve_sector(h, {}, 4, 0, nev=1, method="two-wire-product")


def test_large_sizes_and_times_are_in_engineering_units(no_build):
    m = build_model("kbp", 40, "open")
    p = plan(m, m.sector(80, 0))
    text = "\n".join(p.text_lines()) + p.describe()
    assert "dimension 1.16e46" in text and "years" in text and "2^" in text
    for word in text.split():
        digits = sum(ch.isdigit() for ch in word)
        assert digits <= 12, word  # no 40-digit numbers
    json.dumps(p.as_dict())


# ---------------------------------------------------------------------- agreement
def _levels(model, values, N, Sz, extra=None, **kw):
    return solve_sector(model, values, N, Sz, extra=extra, **kw)[0].energies


@pytest.mark.parametrize("name, L, values, N, Sz", [
    ("hubbard", 4, {"U": 3.0, "mu": 0.2}, 4, 0),
    ("hubbard", 5, {"U": 2.5}, 5, 0.5),
    ("kbp", 2, {"U": 3.0, "t_perp": 0.7}, 4, 0),
    ("kbp", 3, {"U": 2.0, "t_perp": 0.4, "mu_m": 0.1}, 5, 0.5),
])
def test_stored_matrix_free_and_blocks_agree_with_brute_force(name, L, values, N, Sz):
    m = build_model(name, L, "periodic" if L > 2 else "open")
    sec = m.sector(N, Sz)
    ref = brute_force(m, values, sec)
    stored = _levels(m, values, N, Sz, nev=len(ref), method="stored")
    np.testing.assert_allclose(stored, ref, atol=1e-9)
    free = _levels(m, values, N, Sz, method="matrix-free")
    assert free[0] == pytest.approx(ref[0], abs=1e-8)
    blocks = block_spectrum(m, values, sec, "all", nev=len(ref))
    assert blocks["symmetries"]  # at least one lattice symmetry holds here
    np.testing.assert_allclose(blocks["energies"], ref, atol=1e-9)


def test_complex_flux_ring_on_every_backend():
    m = flux_ring(4)
    vals = {"phi": 0.37}
    sec = m.sector(3, 0.5)
    ref = brute_force(m, vals, sec)
    np.testing.assert_allclose(_levels(m, vals, 3, 0.5, nev=len(ref), method="stored"), ref, atol=1e-9)
    assert _levels(m, vals, 3, 0.5, method="matrix-free")[0] == pytest.approx(ref[0], abs=1e-8)
    blocks = block_spectrum(m, vals, sec, ["k"], nev=len(ref))
    np.testing.assert_allclose(blocks["energies"], ref, atol=1e-9)


@pytest.mark.parametrize("bc, N, Sz, N_s", [("periodic", 3, 0.5, 1), ("open", 4, 0, 2)])
def test_two_wire_product_space_and_stored_path_agree_with_brute_force(bc, N, Sz, N_s):
    m = build_model("two-wire", 3, bc)
    vals = {"U": 2.0, "V": 0.8, "V_d": 0.3, "t_s": 0.6, "phi_1": 0.4, "phi_2": -0.9}
    sec = m.sector(N, Sz, N_s=N_s)
    ref = brute_force(m, vals, sec)
    eig, space = solve_sector(m, vals, N, Sz, nev=len(ref), extra={"N_s": N_s})
    assert type(space).__name__ == "TensorSpace"  # the planner chose the declared space
    np.testing.assert_allclose(eig.energies, ref, atol=1e-9)
    stored = _levels(m, vals, N, Sz, extra={"N_s": N_s}, nev=len(ref), method="stored")
    np.testing.assert_allclose(stored, ref, atol=1e-9)


def test_tenpy_backend_by_name_gives_the_ground_energy():
    pytest.importorskip("tenpy")
    m = build_model("hubbard", 4, "open")
    vals = {"U": 3.0}
    ref = brute_force(m, vals, m.sector(4, 0))
    eig, _ = solve_sector(m, vals, 4, 0, method="tenpy")
    assert eig.method == "dmrg" and eig.energies[0] == pytest.approx(ref[0], abs=1e-8)


# ------------------------------------------------------------------ adding a backend
class DenseNumpy:
    """The README's example: a backend in one class (here: dense numpy on the QuSpin matrix)."""

    name = "dense-numpy"
    space = None

    def supports(self, model, sector, request):
        if request.method != self.name:
            return "an example: used only when asked for"
        return None

    def estimate(self, model, sector, request):
        from edkit.engine.sizes import sector_size

        dim = sector_size(model, sector).dimension
        return Estimate(3 * 8 * dim * dim, 1e-10 * dim**3, dim, f"numpy eigh of {dim} states")

    def solve(self, model, values, sector, request):
        from edkit.engine.backend_quspin import hamiltonian_matrix
        from edkit.engine.solver import Eigen, group_degenerate

        H, space = hamiltonian_matrix(model, values, sector)
        w = np.linalg.eigvalsh(H.toarray())[:request.nev]
        return Eigen(w, None, self.name, group_degenerate(w)), space


def test_a_new_backend_is_one_class_and_one_register_call():
    register(DenseNumpy())
    try:
        m = build_model("hubbard", 4, "periodic")
        eig, _ = solve_sector(m, {"U": 2.0}, 4, 0, nev=3, method="dense-numpy")
        ref = brute_force(m, {"U": 2.0}, m.sector(4, 0))
        np.testing.assert_allclose(eig.energies, ref[:3], atol=1e-10)
        assert eig.method == "dense-numpy"
        c = choose(m, m.sector(4, 0), Request())
        assert c.name == "stored" and any(o.name == "dense-numpy" for o in c.options)
    finally:
        unregister("dense-numpy")


# ---------------------------------------------------------- capabilities, environment
def test_factories_declare_their_capabilities():
    families = {name: build_model(name, None if name == "hamo" else 3).capabilities for name in MODELS}
    assert families["hubbard"].family == "hubbard"
    assert {families[n].family for n in ("kbp", "kbp-eff", "anderson", "kondo")} == {"bilayer"}
    assert families["two-wire"].space == "two-wire-product"
    assert families["two-wire"].observables == ("binding", "drude")
    assert families["hamo"].family == families["little"].family == "polarizer"
    assert families["hamo"].observables == ("stability",)
    assert families["kbp"].symmetries["C"] == "mu_p = -U/2, mu_m = 0 (half filling, Sz = 0)"
    from edkit.engine.symmetry import survey

    m = build_model("anderson", 4, "periodic")
    rows = {r["label"]: r for r in survey(m, {"h_p": 0.2}, m.sector(8, 0))}
    assert rows["Z"]["declared"] == "h_p = h_m = 0 (Sz = 0 sector)" and not rows["Z"]["holds"]


def test_no_dispatch_on_model_names_in_engine_and_models():
    import re

    pattern = re.compile(r"\b(model|m|self\.model)\.name\s*(==|!=|\bin\b)")
    for folder in ("edkit/engine", "edkit/models"):
        for path in (ROOT / folder).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                assert not pattern.search(line), f"{path}:{n}: {line.strip()}"


def test_importing_edkit_changes_no_environment_variable():
    code = """
import importlib, json, os, pkgutil
before = dict(os.environ)
import edkit, edkit.api, edkit.cli, edkit.engine
for mod in pkgutil.walk_packages(edkit.engine.__path__, "edkit.engine."):
    importlib.import_module(mod.name)
imported = dict(os.environ)
from edkit.engine.backend_quspin import quspin
quspin()  # sets the OpenMP variables for QuSpin's import only, then restores
print(json.dumps([before == imported, before == dict(os.environ)]))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "KMP_"))}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [True, True]
