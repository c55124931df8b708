"""Matrix-free eigenvectors, lowest levels and correlators (issue 14) against independent truths.

Truths: the brute-force Fock builder (``tests/helpers/fock.py``, no code shared with the package),
dense LAPACK on constructed spectra with known degeneracies, the stored QuSpin path (another basis,
order and code), and the Anderson-lattice identity :math:`2C(i,j) = (-1)^{i-j} N(i,j)` at half
filling (particle-hole map + SU(2); ``mappings/verifications/correlators.py``). Product-basis vectors
differ from QuSpin's basis order, so they are compared through basis-independent quantities
(energies, residuals, expectation values); the one explicit basis map (product basis -> Fock
integers) is written here from the documented convention (bit ``j`` = mode ``j`` of ``model.modes``).
"""

from __future__ import annotations

import tracemalloc
from functools import cache

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla
import sympy

from edkit import api
from edkit.core import operators as ops
from edkit.core.lattice import chain
from edkit.core.model import Model, Sector, Term, density_density
from edkit.core.modes import DN, SPINS, UP, Mode
from edkit.core.params import Parameter
from edkit.engine.lanczos import ground_manifold, ground_state, memory_bytes
from edkit.engine.levels import complete_multiplets, default_ncv, lowest_levels
from edkit.engine.matfree import MatrixFreeHamiltonian
from edkit.engine.product_expectation import (
    CORRELATOR_KEYS,
    ProductBasis,
    correlations_from_levels,
    correlations_matrix_free,
    expectation,
)
from edkit.engine.threads import blas_threads
from edkit.models import build_model
from tests.helpers.fock import fock_matrix, fock_spectrum


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with blas_threads(1):
        yield


@cache
def model(name: str, L: int, bc: str = "periodic") -> Model:
    return build_model(name, L, bc)


@cache
def flux_hubbard(L: int) -> Model:
    """Complex ring: ``-t e^{i phi} c+_{j+1} c_j + h.c.`` per spin plus ``U n_up n_dn``."""
    lat = chain(L, "periodic", "c")
    t, phi, U = (sympy.Symbol(s, real=True) for s in ("t", "phi", "U"))
    terms = []
    for (_, i), (_, j) in lat.chain_bonds("c"):
        for s in SPINS:
            fwd = ((Mode("c", j, s), True), (Mode("c", i, s), False))
            terms.append(Term(-t * sympy.exp(sympy.I * phi), fwd))
            terms.append(Term(-t * sympy.exp(-sympy.I * phi), tuple((m, not d) for m, d in reversed(fwd))))
    for i in range(L):
        terms.append(density_density(Mode("c", i, UP), Mode("c", i, DN), U, "U"))
    params = {"t": Parameter("t", 1), "phi": Parameter("phi", 0), "U": Parameter("U", 0)}
    return Model("flux-hubbard", lat, True, terms, params).check()


FLUX = {"t": 1.0, "phi": 0.3, "U": 2.0}


def fock_terms(m: Model, terms) -> list:
    idx = {mode: k for k, mode in enumerate(m.modes)}
    return [(complex(c), [(idx[mode], d) for mode, d in w]) for c, w in terms]


def sector_constraints(m: Model, sec: Sector) -> list:
    ups = [k for k, mode in enumerate(m.modes) if mode.spin == UP]
    dns = [k for k, mode in enumerate(m.modes) if mode.spin == DN]
    return [(ups, sec.n_up), (dns, sec.n_dn)]


def to_fock(op: MatrixFreeHamiltonian, x: np.ndarray) -> np.ndarray:
    """Product-basis vector -> full Fock vector: ``X[u, d]`` sits at integer ``ups[u] | dns[d] << n``."""
    ints = (op.ups[:, None] | (op.dns[None, :] << op.n)).ravel()
    out = np.zeros(1 << (2 * op.n), dtype=np.complex128)
    out[ints] = x
    return out


def fock_expect(m: Model, terms, psi: np.ndarray) -> complex:
    O = fock_matrix(len(m.modes), fock_terms(m, terms))
    return complex(np.vdot(psi, O @ psi))


# ------------------------------------------------------------------------ 1. ground-state vectors
@pytest.mark.parametrize("name,L,vals,N,Sz", [
    ("hubbard", 8, {"U": 4.0}, 6, 0),
    ("kbp", 4, {"U": 3.0, "t_perp": 0.6}, 8, 0),
    ("flux", 6, FLUX, 5, 0.5),
])
def test_ground_state_energy_residual_and_orthonormality(name, L, vals, N, Sz):
    m = flux_hubbard(L) if name == "flux" else model(name, L)
    sec = m.sector(N, Sz)
    op = MatrixFreeHamiltonian(m, vals, sec)
    g = ground_state(op, tol=1e-10)
    assert g.converged and g.vector is not None
    x = g.vector
    assert np.linalg.norm(x) == pytest.approx(1.0, abs=1e-12)
    assert np.linalg.norm(op @ x - g.energy * x) == pytest.approx(g.residual, rel=1e-6, abs=1e-13)
    assert g.residual <= 1e-10 * (1 + abs(g.energy))
    stored = api.spectrum(m, vals, N=N, Sz=Sz, nev=1, method="stored", labels=False)["energies"][0]
    assert g.energy == pytest.approx(stored, abs=1e-10)


@pytest.mark.parametrize("case", ["hubbard", "kbp", "flux"])
def test_ground_state_is_an_eigenvector_of_the_fock_hamiltonian(case):
    """The product-basis vector mapped onto Fock integers solves the brute-force H (signs included)."""
    m, vals, N, Sz = {"hubbard": (model("hubbard", 6), {"U": 4.0}, 5, 0.5),
                      "kbp": (model("kbp", 3), {"U": 2.5, "t_perp": 0.7, "mu_m": 0.2}, 6, 0),
                      "flux": (flux_hubbard(5), FLUX, 4, 0)}[case]
    sec = m.sector(N, Sz)
    op = MatrixFreeHamiltonian(m, vals, sec)
    g = ground_state(op, tol=1e-11)
    psi = to_fock(op, g.vector)
    H = fock_matrix(len(m.modes), fock_terms(m, m.numeric_terms(vals)))
    assert np.linalg.norm(H @ psi - g.energy * psi) < 1e-9
    truth = fock_spectrum(len(m.modes), fock_terms(m, m.numeric_terms(vals)), sector_constraints(m, sec))
    assert g.energy == pytest.approx(truth[0], abs=1e-10)


def test_ground_state_on_a_tiny_sector_and_a_restart():
    m = model("kbp", 2, "open")
    op = MatrixFreeHamiltonian(m, None, m.sector(4, 0))  # 36 states: the recurrence breaks down
    g = ground_state(op, tol=1e-12)
    truth = np.linalg.eigvalsh(np.column_stack([op @ e for e in np.eye(op.shape[0])]))[0]
    assert g.converged and g.energy == pytest.approx(truth, abs=1e-12)
    big = MatrixFreeHamiltonian(model("hubbard", 8), {"U": 4.0}, Sector(3, 3))
    rough = ground_state(big, tol=1e-3, rounds=1)
    again = ground_state(big, tol=1e-11, start=rough.vector)  # restart from a given vector
    assert again.converged and again.iterations < ground_state(big, tol=1e-11).iterations


@pytest.mark.parametrize("excess,rounds", [(5.0, 1), (1e3, 2)])
def test_restart_only_far_above_the_target(monkeypatch, excess, rounds):
    """A round whose measured residual is within RESTART_FACTOR of the target is at plain Lanczos's
    rounding floor: it is returned (``floor=True``) instead of restarted, since a restart from a nearly
    converged vector only adds rounding; far above the target the run restarts and converges."""
    from edkit.engine import lanczos

    assert 5.0 < lanczos.RESTART_FACTOR < 1e3
    op = MatrixFreeHamiltonian(model("hubbard", 8), {"U": 4.0}, Sector(3, 3))
    measure = lanczos._Recurrence.residual
    calls: list[float] = []

    def first_round_above_target(self, x):
        energy, r = measure(self, x)
        calls.append(r)
        return energy, (excess * 1e-10 * (1 + abs(energy)) if len(calls) == 1 else r)

    monkeypatch.setattr(lanczos._Recurrence, "residual", first_round_above_target)
    g = ground_state(op, tol=1e-10)
    assert len(calls) == rounds and g.rounds == rounds
    assert (g.floor, g.converged) == ((True, False) if rounds == 1 else (False, True))
    measured = np.linalg.norm(op @ g.vector - g.energy * g.vector)
    assert measured == pytest.approx(calls[-1], rel=1e-6, abs=1e-13)


def test_fused_second_pass_reproduces_the_first_bit_for_bit(monkeypatch):
    """Pass 2 of a matrix-free operator updates without storing H W (``lanczos_update``); its vectors,
    hence the ground state and a deflated level, are bitwise those of the unfused step (complex, with
    pair hopping and exchange words: every branch of the kernel), over several row groups and two
    threads. (One dtype only: the kernel's source is the same for both, and each costs ~5 s to compile.)"""
    from edkit.engine import lanczos
    from tests.test_matfree import exotic_ring

    monkeypatch.setattr(lanczos, "FUSED_MIN_DIMENSION", 0)
    vals = {"t": 1.0, "phi": 0.3, "U": 2.0, "h": 0.25, "P": 0.4, "J": 0.7}
    op = MatrixFreeHamiltonian(exotic_ring(6), vals, Sector(3, 2), threads=2)
    assert op.dtype == np.complex128 and op.gen_len.shape[0] > 0
    assert op.shape[0] // op.block >= 2

    def solve():
        g = ground_state(op, tol=1e-11, threads=2)
        nxt = ground_state(op, tol=1e-11, seed=1, deflate=[g.vector], threads=2)
        return g, nxt

    calls = []
    update = MatrixFreeHamiltonian.lanczos_update
    monkeypatch.setattr(MatrixFreeHamiltonian, "lanczos_update",
                        lambda self, *a: (calls.append(1), update(self, *a))[1])
    fused = solve()
    used = len(calls)
    assert used > 20  # pass 2 went through the fused update
    monkeypatch.setattr(lanczos, "FUSED_PASS2", False)
    plain = solve()
    assert len(calls) == used  # and the reference run did not
    for f, p in zip(fused, plain):
        assert np.array_equal(f.vector, p.vector) and f.energy == p.energy and f.matvecs == p.matvecs
    assert fused[1].energy > fused[0].energy - 1e-12


@pytest.mark.parametrize("k", [0, 1, 3, 4, 5])
def test_lanczos_update_kernels_agree_with_numpy_and_bit_for_bit(k):
    """The Lanczos update with ``k`` deflated vectors and two accumulated Ritz vectors: the
    single-loop version (``k <= 4``) and the general one (``k = 5``), in the unfused step and in the
    fused pass (which computes ``H W`` itself), against NumPy, and the two kernels against each other
    bit for bit (complex operator, several row groups, two threads)."""
    from edkit.engine import update_kernels
    from edkit.engine.lanczos import _step, _typed_list
    from tests.test_matfree import exotic_ring

    assert update_kernels.FUSED_DEFLATE == 4  # k = 5 takes the general path
    vals = {"t": 1.0, "phi": 0.3, "U": 2.0, "h": 0.25, "P": 0.4, "J": 0.7}
    op = MatrixFreeHamiltonian(exotic_ring(6), vals, Sector(3, 2), threads=2)
    n, dt = op.shape[0], op.dtype
    rng = np.random.default_rng(k)

    def vec():
        return rng.standard_normal(n) + 1j * rng.standard_normal(n)

    W, Wp0, x0, x20 = vec(), vec(), vec(), vec()
    D = [vec() for _ in range(k)]
    coef = (rng.standard_normal(k) + 1j * rng.standard_normal(k)).astype(dt)
    a, b, c, g, g2 = dt.type(0.7 - 0.1j), dt.type(0.3), dt.type(-0.2 + 0.05j), dt.type(1.5j), dt.type(-0.4)
    Y = op.apply(W)[0]
    want = a * (Y + sum((ci * d for ci, d in zip(coef, D)), np.zeros(n, dtype=dt))) - b * W - c * Wp0
    groups = -(-n // op.block)
    assert groups >= 2
    results = []
    for fused in (False, True):
        Wp, x, x2 = Wp0.copy(), x0.copy(), x20.copy()
        parts = np.zeros((groups, k + 2), dtype=dt)
        if fused:
            op.lanczos_update(W, Wp, x, a, b, c, _typed_list(D, dt), coef, g, x2, g2, parts)
        else:
            _step(Y, W, Wp, a, b, c, _typed_list(D, dt), coef, x, g, x2, g2, parts, op.block)
        results.append((Wp, x, x2, parts))
        sums = parts.sum(axis=0)
        assert np.allclose(Wp, want, atol=1e-12)
        assert np.allclose(x, x0 + g * W, atol=1e-12) and np.allclose(x2, x20 + g2 * W, atol=1e-12)
        assert sums[0].real == pytest.approx(np.vdot(want, want).real, rel=1e-12)
        assert np.allclose(sums[1:1 + k], [np.vdot(d, want) for d in D], rtol=1e-12, atol=1e-9)
        if not fused:  # <W, Wp> for Paige's alpha (pass 1 only)
            assert sums[1 + k] == pytest.approx(np.vdot(W, want), rel=1e-12)
    (w1, x1, y1, p1), (w2, x2, y2, p2) = results
    assert np.array_equal(w1, w2) and np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert np.array_equal(p1[:, :1 + k], p2[:, :1 + k])


def test_norms_and_inner_products_are_accurate_at_large_length():
    """Blockwise partial sums added pairwise: a sequential sum per thread drops the small terms after
    a large one (here 1 + 2^20 terms of 9e-18: each below half an ulp of 1). Truth: math.fsum."""
    import math

    from edkit.engine import lanczos
    from edkit.engine.matfree import _combine

    n = 1 << 20
    x = np.full(n + 1, 3e-9)
    x[0] = 1.0
    exact = math.fsum(x * x)
    assert exact - 1.0 > 9e-12
    assert lanczos._norm_sq(x) == pytest.approx(exact, abs=1e-13)
    assert lanczos._vdot(x, x).real == pytest.approx(exact, abs=1e-13)
    assert lanczos._residual_sq(2 * x, x, 1.0) == pytest.approx(exact, abs=1e-13)
    zero = np.zeros_like(x)
    wp = zero.copy()
    assert _combine(x, zero, wp, 1.0, 0.0, 0.0) == pytest.approx(exact, abs=1e-13)


# ----------------------------------------------------------------- 2. products of words: the signs
def _words(m: Model) -> list:
    a, b, c = ("c", 0), ("c", 1), ("c", 3)
    au, ad, bu, bd, cu, cd = (Mode(*o, s) for o in (a, b, c) for s in (UP, DN))
    out = (ops.pair_pair(a, c) + ops.density_density(a, b) + ops.hopping(c, a, DN)
           + ops.spin_spin(a, c, "x") + ops.spin_spin(b, c, "y") + ops.spin_spin(a, a, "z"))
    out += [(1, ((bd, True), (au, True), (ad, False), (bu, False))),    # a down factor first
            (1, ((au, False), (au, True))),                             # anti-normal order: 1 - n
            (1, ((cd, True), (au, True), (bu, False), (ad, False))),    # mixed order, both spins move
            (1, ((au, True), (au, False), (bd, True), (bd, False), (cu, True), (cu, False))),
            (1, ((au, True), (bd, False))),                             # changes N_up and N_dn: zero
            (1, ((au, True), (cu, True), (bu, False), (au, False)))]    # up-only, non-diagonal
    return out


@pytest.mark.parametrize("sector", [(2, 2), (3, 2), (2, 1)])
def test_expectation_of_every_word_kind_against_the_fock_oracle(sector):
    m = flux_hubbard(5)
    sec = Sector(*sector)
    op = MatrixFreeHamiltonian(m, FLUX, sec)
    basis = ProductBasis(m, sec, op)
    rng = np.random.default_rng(sum(sector))
    x = rng.standard_normal(op.shape[0]) + 1j * rng.standard_normal(op.shape[0])
    psi = to_fock(op, x)
    for term in _words(m):
        got = expectation(basis, x, [term])
        assert got == pytest.approx(fock_expect(m, [term], psi), abs=1e-10), term
    real = x.real.copy()  # real vectors take the float kernel
    assert expectation(basis, real, _words(m)) == pytest.approx(
        fock_expect(m, _words(m), to_fock(op, real)), abs=1e-10)


# --------------------------------------------------------------------------- 3. lowest levels
def constructed(w: np.ndarray, seed: int = 0, complex_: bool = False) -> sla.LinearOperator:
    """``Q diag(w) Q^+`` with a random unitary ``Q``: a spectrum with known degeneracies."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((len(w), len(w)))
    if complex_:
        a = a + 1j * rng.standard_normal((len(w), len(w)))
    q, _ = np.linalg.qr(a)
    h = (q * w) @ q.conj().T
    h = (h + h.conj().T) / 2
    return sla.aslinearoperator(h)


SPEC = np.concatenate([[-3.0, -2.0, -2.0, -2.0, -1.5, -1.5, -1.0], np.linspace(-0.5, 4.0, 493)])


@pytest.mark.parametrize("strategy", ["arpack", "deflation"])
@pytest.mark.parametrize("complex_", [False, True])
def test_constructed_spectrum_multiplets_complete(strategy, complex_):
    op = constructed(SPEC, seed=3, complex_=complex_)
    for nev in (2, 4, 6):
        eig = lowest_levels(op, nev, strategy=strategy, vectors=True)
        np.testing.assert_allclose(eig.energies, SPEC[:nev], atol=1e-9)
        v = eig.vectors
        np.testing.assert_allclose(v.conj().T @ v, np.eye(nev), atol=1e-8)
    assert [k for _, k in eig.degeneracies] == [1, 3, 2]
    top = lowest_levels(op, 3, strategy=strategy, complete_top=True)  # the threefold level whole
    np.testing.assert_allclose(top.energies, SPEC[:4], atol=1e-9)


def test_next_level_from_the_same_run():
    """``ground_state(second=True)``: the next distinct level and its vector from the same two passes
    (orthogonal to the lowest, residual at the target); ``None`` when it is too slow to converge (a
    level 1e-6 from its neighbour), the lowest level unaffected."""
    op = constructed(SPEC[3:], seed=6)  # -2, -1.5 (twofold), -1, ...
    g = ground_state(op, tol=1e-10, second=True)
    assert g.energy == pytest.approx(-2.0, abs=1e-12) and g.second.energy == pytest.approx(-1.5, abs=1e-12)
    x2 = g.second.vector
    assert abs(np.vdot(g.vector, x2)) < 1e-12 and np.linalg.norm(x2) == pytest.approx(1.0)
    assert np.linalg.norm(op @ x2 + 1.5 * x2) == pytest.approx(g.second.residual, rel=1e-6, abs=1e-14)
    assert g.second.residual <= 1e-10 * 2.5 and not g.second.floor
    plain = ground_state(op, tol=1e-10)
    assert g.iterations > plain.iterations  # waited for the next level
    close = np.concatenate([[-3.0, -2.0], np.linspace(-2.0 + 1e-4, 4.0, 20_000)])
    op = sla.aslinearoperator(sp.diags(close))  # the basis does not matter to Lanczos
    plain = ground_state(op, tol=1e-10)
    g = ground_state(op, tol=1e-10, second=True)
    assert g.second is None and g.energy == pytest.approx(-3.0, abs=1e-12)
    assert g.iterations <= 2 * plain.iterations + 5  # gave up after SECOND_STEPS times the steps


@pytest.mark.parametrize("vectors", [False, True])
def test_levels_taken_as_next_levels_are_certified_by_deflation(monkeypatch, vectors):
    """A level taken as the next level of a run skips the partners of a degenerate level below it;
    the later deflated solves insert them. Threefold lowest level: the first run gives -2 and -1.5,
    the next two the partners of -2; a run that gives a next level is counted."""
    from edkit.engine import levels as levels_mod

    calls: list = []
    solve = levels_mod.ground_state

    def spy(*a, **k):
        out = solve(*a, **k)
        calls.append((k.get("second"), out.second is not None))
        return out

    monkeypatch.setattr(levels_mod, "ground_state", spy)
    op = constructed(SPEC[1:], seed=8)  # -2 (threefold), -1.5 (twofold), -1, ...
    eig = lowest_levels(op, 3, vectors=vectors)
    np.testing.assert_allclose(eig.energies, [-2.0, -2.0, -2.0], atol=1e-10)
    assert calls[0] == (True, True)
    if vectors:
        v = eig.vectors
        np.testing.assert_allclose(v.conj().T @ v, np.eye(3), atol=1e-9)
    calls.clear()
    eig = lowest_levels(op, 6, vectors=vectors)
    np.testing.assert_allclose(eig.energies, SPEC[1:7], atol=1e-10)
    assert [k for _, k in eig.degeneracies] == [3, 2, 1]


def test_completion_adds_missed_partners():
    """Given one direction of a threefold level, the shift-and-recheck finds the two others."""
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((500, 500)))
    op = sla.aslinearoperator((q * SPEC) @ q.T)
    energies, found = [-3.0, -2.0], [q[:, 0].copy(), q[:, 1].copy()]
    complete_multiplets(op, energies, found, 4, tol=1e-11)
    np.testing.assert_allclose(energies, [-3, -2, -2, -2], atol=1e-9)
    P = q[:, 1:4] @ q[:, 1:4].T  # the three new vectors span the threefold eigenspace
    for f in found[1:]:
        assert np.linalg.norm(P @ f - f) < 1e-8


def test_ground_manifold_of_a_threefold_level():
    op = constructed(SPEC[1:], seed=4)
    states, nxt = ground_manifold(op, tol=1e-10)
    assert len(states) == 3 and nxt == pytest.approx(-1.5, abs=1e-9)
    assert all(s.energy == pytest.approx(-2.0, abs=1e-10) for s in states)


@pytest.mark.parametrize("strategy", ["arpack", "deflation"])
def test_hubbard_ring_twofold_levels_reported_twice(strategy):
    m = model("hubbard", 6)
    sec = m.sector(4, 0)  # E_1 is twofold (momenta +-K): plain ARPACK reported it once
    op = MatrixFreeHamiltonian(m, {"U": 4.0}, sec)
    terms = fock_terms(m, m.numeric_terms({"U": 4.0}))
    truth = fock_spectrum(len(m.modes), terms, sector_constraints(m, sec))
    assert truth[2] - truth[1] < 1e-10 < truth[1] - truth[0]
    eig = lowest_levels(op, 4, strategy=strategy, dense_limit=0)  # force the iterative path
    np.testing.assert_allclose(eig.energies, truth[:4], atol=1e-10)
    assert eig.degeneracies[1][1] == 2
    cut = lowest_levels(op, 2, strategy=strategy, dense_limit=0, complete_top=True)  # E_1 not cut
    np.testing.assert_allclose(cut.energies, truth[:3], atol=1e-10)
    whole = lowest_levels(op, 2, complete_top=True)  # dense path (225 states)
    np.testing.assert_allclose(whole.energies, truth[:3], atol=1e-10)


def test_levels_against_the_stored_path():
    m = model("hubbard", 8)
    op = MatrixFreeHamiltonian(m, {"U": 4.0}, m.sector(6, 0))
    stored = api.spectrum(m, {"U": 4.0}, N=6, Sz=0, nev=5, method="stored", labels=False)["energies"]
    for strategy in ("deflation", "arpack"):
        stats: dict = {}
        eig = lowest_levels(op, 5, vectors=True, stats=stats, strategy=strategy)
        np.testing.assert_allclose(eig.energies, stored, atol=1e-10)
        assert [k for _, k in eig.degeneracies] == [1, 2, 2]
        assert eig.method == "matrix-free" and stats["matvecs"] > 0
        assert stats["ncv"] == (default_ncv(5) if strategy == "arpack" else None)
        v = eig.vectors
        np.testing.assert_allclose(v.conj().T @ v, np.eye(5), atol=1e-9)
        for k in range(5):
            assert np.linalg.norm(op @ v[:, k] - eig.energies[k] * v[:, k]) < 1e-8


# ------------------------------------------------------------------------------ 4. correlators
def _assert_layers_equal(got: dict, want: dict, atol: float) -> None:
    assert got.keys() == want.keys()
    for layer in want:
        assert tuple(got[layer]) == CORRELATOR_KEYS
        for key in CORRELATOR_KEYS:
            np.testing.assert_allclose(got[layer][key], want[layer][key], atol=atol, rtol=0,
                                       err_msg=f"{layer} {key}")


@pytest.mark.parametrize("L,bc,params,ref", [
    (2, "open", None, 0),
    (3, "open", {"U": 2.5, "t_perp": 0.7, "mu_m": 0.2}, 1),
    (4, "periodic", {"U": 4.0, "t_perp": 0.5, "t_m": 1.0}, 0),
])
def test_kbp_correlators_against_the_stored_path(L, bc, params, ref):
    m = model("kbp", L, bc)
    want = api.correlations(m, params, N=2 * L, Sz=0, reference=ref)
    got = correlations_from_levels(m, params, m.sector(2 * L, 0), reference=ref)
    assert got["ground_state_degeneracy"] == want["ground_state_degeneracy"]
    assert got["energy"] == pytest.approx(want["energy"], abs=1e-10)
    _assert_layers_equal(got["layers"], want["layers"], 1e-8)


def test_complex_ring_correlators_against_the_stored_path():
    m = flux_hubbard(6)
    want = api.correlations(m, FLUX, N=4, Sz=0, reference=2)
    got = correlations_from_levels(m, FLUX, m.sector(4, 0), reference=2)
    _assert_layers_equal(got["layers"], want["layers"], 1e-8)


def test_degenerate_ground_manifold_is_averaged_like_the_stored_path():
    m = model("hubbard", 7)
    want = api.correlations(m, {"U": 4.0}, N=5, Sz=0.5, reference=0)
    got = correlations_from_levels(m, {"U": 4.0}, m.sector(5, 0.5), reference=0)
    assert want["ground_state_degeneracy"] == got["ground_state_degeneracy"] == 2
    _assert_layers_equal(got["layers"], want["layers"], 1e-8)


@pytest.mark.parametrize("L,bc", [(3, "open"), (4, "periodic")])
def test_anderson_lattice_identity_at_half_filling(L, bc):
    """2 C(i,j) = (-1)^(i-j) N(i,j), hence 2C = |N|, in both layers at mu_p = -U/2, mu_m = 0."""
    rng = np.random.default_rng(11 + L)
    U = rng.uniform(1, 6)
    params = {"U": U, "t_perp": rng.uniform(0.2, 1.5), "t_m": rng.uniform(0.5, 2), "mu_p": -U / 2, "mu_m": 0}
    m = model("kbp", L, bc)
    op = MatrixFreeHamiltonian(m, params, m.sector(2 * L, 0))
    g = ground_state(op, tol=1e-11)
    for ref in (0, 1):
        rows = correlations_matrix_free(m, m.sector(2 * L, 0), g.vector, reference=ref)
        for layer in ("p", "m"):
            C, Nc = np.asarray(rows[layer]["C"]), np.asarray(rows[layer]["N"])
            sign = (-1.0) ** (ref - np.arange(L))
            np.testing.assert_allclose(2 * C, sign * Nc, atol=1e-9, rtol=0)
            np.testing.assert_allclose(2 * C, np.abs(Nc), atol=1e-9, rtol=0)
            assert np.max(np.abs(Nc)) > 1e-2


# ------------------------------------------------------------------------------------ 5. memory
def test_memory_estimates_bound_the_traced_peak():
    op = MatrixFreeHamiltonian(model("hubbard", 10), {"U": 4.0}, Sector(3, 3))  # 14,400 states
    dim, vec = op.shape[0], op.shape[0] * 8
    assert memory_bytes(dim, np.float64, "ground-state") == 5 * vec  # 4 vectors + one start chunk
    assert memory_bytes(165_636_900, np.float64, "ground-state") == 4 * 165_636_900 * 8 + 2**23
    assert memory_bytes(dim, np.complex128, "energy") == 3 * 2 * vec + vec
    ground_state(op, tol=1e-8)  # compiled outside the trace
    tracemalloc.start()
    ground_state(op, tol=1e-9)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    small = 65536  # tridiagonal coefficients, per-block partial sums, numba's typed list
    assert peak <= memory_bytes(dim, np.float64, "ground-state") + small
    for strategy, what in (("deflation", "levels"), ("arpack", "levels-arpack")):
        tracemalloc.start()
        lowest_levels(op, 3, strategy=strategy, vectors=True)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= memory_bytes(dim, np.float64, what, nev=3) + small, strategy
