"""The compiled matrix-free Hamiltonian (edkit.engine.matfree) against a brute-force Fock construction.

The oracle is tests/helpers/fock.py (no code shared with the package): the full matrix of every
model restricted to the sector; the matrix-free operator must have the same spectrum and be
Hermitian. Words of every kind are covered: densities, one-body hoppings within each spin (with
periodic-bond signs), complex hoppings (flux), and general four-fermion words (pair hopping,
spin exchange) that take the slow path.
"""

import numpy as np
import pytest
import sympy
from scipy.sparse.linalg import eigsh

from edkit.core.lattice import chain
from edkit.core.model import Model, ModelError, Sector, Term, density, density_density
from edkit.core.modes import DN, SPINS, UP, Mode
from edkit.core.params import Parameter
from edkit.engine.backend_quspin import blas_threads, make_space, operator_matrix
from edkit.engine.matfree import MatrixFreeHamiltonian, lanczos_ground_energy
from edkit.models import build_model
from tests.helpers.fock import fock_spectrum


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with blas_threads(1):
        yield


def oracle(model, values, sector):
    idx = {m: k for k, m in enumerate(model.modes)}
    terms = [(c, [(idx[m], d) for m, d in w]) for c, w in model.numeric_terms(values)]
    ups = [idx[m] for m in model.modes if m.spin in (UP, "")]
    dns = [idx[m] for m in model.modes if m.spin == DN]
    cons = [(ups, sector.n_up)] + ([(dns, sector.n_dn)] if model.spinful else [])
    return fock_spectrum(len(model.modes), terms, cons)


def dense(op):
    return np.column_stack([op @ e for e in np.eye(op.shape[0], dtype=op.dtype)])


def exotic_ring(L: int) -> Model:
    """Flux hopping, on-site U, a field, pair hopping and spin exchange between neighbours."""
    lat = chain(L, "periodic", "c")
    t, phi, U, h, P, J = (sympy.Symbol(s, real=True) for s in ("t", "phi", "U", "h", "P", "J"))
    terms = []
    for (_, i), (_, j) in lat.chain_bonds("c"):
        for s in SPINS:
            fwd = ((Mode("c", j, s), True), (Mode("c", i, s), False))
            terms.append(Term(-t * sympy.exp(sympy.I * phi), fwd))
            terms.append(Term(-t * sympy.exp(-sympy.I * phi), tuple((m, not d) for m, d in reversed(fwd))))
        iu, idn, ju, jdn = (Mode("c", i, UP), Mode("c", i, DN), Mode("c", j, UP), Mode("c", j, DN))
        pair = ((iu, True), (idn, True), (jdn, False), (ju, False))
        terms.append(Term(P, pair))
        terms.append(Term(P, tuple((m, not d) for m, d in reversed(pair))))
        flip = ((iu, True), (idn, False), (jdn, True), (ju, False))  # S+_i S-_j
        terms.append(Term(J / 2, flip))
        terms.append(Term(J / 2, tuple((m, not d) for m, d in reversed(flip))))
    for i in range(L):
        terms.append(density_density(Mode("c", i, UP), Mode("c", i, DN), U, "U"))
        terms.append(density(Mode("c", i, UP), -h, "h"))
        terms.append(density(Mode("c", i, DN), h, "h"))
    params = {k: Parameter(k, v) for k, v in (("t", 1), ("phi", 0), ("U", 0), ("h", 0), ("P", 0), ("J", 0))}
    return Model("exotic", lat, True, terms, params).check()


CASES = [
    ("hubbard", 4, "periodic", {"U": 3.0, "mu": 0.4}, (2, 2)),
    ("hubbard", 5, "periodic", {"U": 2.0}, (3, 1)),
    ("hubbard", 6, "open", {"U": 5.0}, (3, 3)),
    ("kbp", 3, "periodic", {"U": 2.5, "t_perp": 0.7, "mu_m": 0.2}, (3, 2)),
    ("anderson", 3, "open", {"U": 3.0, "h_p": 0.3, "h_m": -0.2}, (3, 3)),
]


@pytest.mark.parametrize("name,L,bc,vals,sector", CASES)
def test_matrix_free_spectrum_equals_the_fock_oracle(name, L, bc, vals, sector):
    m = build_model(name, L, bc)
    sec = Sector(*sector)
    op = MatrixFreeHamiltonian(m, vals, sec, threads=1)
    H = dense(op)
    np.testing.assert_allclose(H, H.conj().T, atol=1e-13)
    np.testing.assert_allclose(np.linalg.eigvalsh(H), oracle(m, vals, sec), atol=1e-10)


@pytest.mark.parametrize("sector", [(2, 2), (3, 1), (2, 1)])
def test_complex_and_four_fermion_words(sector):
    m = exotic_ring(5)
    vals = {"t": 1.0, "phi": 0.3, "U": 2.0, "h": 0.25, "P": 0.4, "J": 0.7}
    sec = Sector(*sector)
    op = MatrixFreeHamiltonian(m, vals, sec, threads=2)
    assert op.dtype == np.complex128 and op.gen_len.shape[0] > 0  # the slow path is exercised
    H = dense(op)
    np.testing.assert_allclose(H, H.conj().T, atol=1e-13)
    np.testing.assert_allclose(np.linalg.eigvalsh(H), oracle(m, vals, sec), atol=1e-10)


def test_plain_lanczos_energy():
    m = build_model("kbp", 4, "periodic")
    sec = Sector(4, 4)
    vals = {"U": 3.0, "t_perp": 0.6}
    op = MatrixFreeHamiltonian(m, vals, sec)
    out = lanczos_ground_energy(op)
    assert out["converged"]
    H = operator_matrix(make_space(m, sec), m.numeric_terms(vals))  # QuSpin's stored matrix
    assert out["energy"] == pytest.approx(eigsh(H, k=1, which="SA")[0][0], abs=1e-10)


def test_constrained_models_are_refused():
    m = build_model("kbp-eff", 3, "open")
    with pytest.raises(ModelError, match="does not support occupation constraints"):
        MatrixFreeHamiltonian(m, {}, m.sector(6, 0))


def _ascending_index(op_asc, op):
    """Index in ``op_asc``'s (ascending) basis of each basis state of ``op``."""
    rows = op_asc.rank_up[op.ups]
    cols = op_asc.rank_dn[op.dns]
    return (rows[:, None] * len(op_asc.dns) + cols[None, :]).ravel()


RCM_CASES = [(build_model(n, L, bc), v, Sector(*s)) for n, L, bc, v, s in CASES] + [
    (exotic_ring(5), {"t": 1.0, "phi": 0.3, "U": 2.0, "h": 0.25, "P": 0.4, "J": 0.7}, Sector(2, 2))]


@pytest.mark.parametrize("model,vals,sec", RCM_CASES,
                         ids=[f"{m.name}-{s.n_up}-{s.n_dn}" for m, _, s in RCM_CASES])
def test_rcm_order_is_the_same_operator_with_permuted_indices(model, vals, sec):
    asc = MatrixFreeHamiltonian(model, vals, sec, threads=1)
    rcm = MatrixFreeHamiltonian(model, vals, sec, threads=1, order="rcm")
    assert rcm.order == "rcm" and sorted(rcm.ups) == list(asc.ups) and sorted(rcm.dns) == list(asc.dns)
    idx = _ascending_index(asc, rcm)
    assert sorted(idx) == list(range(asc.shape[0]))
    H = dense(rcm)
    np.testing.assert_allclose(H, dense(asc)[np.ix_(idx, idx)], atol=1e-13)
    np.testing.assert_allclose(np.linalg.eigvalsh(H), oracle(model, vals, sec), atol=1e-10)


def test_rcm_order_reorders_and_keeps_lanczos_and_expectations():
    from edkit.engine.product_expectation import ProductBasis, expectation

    m = build_model("kbp", 4, "periodic")
    sec = Sector(4, 4)
    vals = {"U": 3.0, "t_perp": 0.6}
    asc = MatrixFreeHamiltonian(m, vals, sec)
    rcm = MatrixFreeHamiltonian(m, vals, sec, order="rcm")
    assert list(rcm.ups) != sorted(rcm.ups) and list(rcm.dns) != sorted(rcm.dns)  # a real reordering
    # the hops of the reordered one-body matrices lie closer to the diagonal
    for a, b in ((asc.t_up, rcm.t_up), (asc.t_dn, rcm.t_dn)):
        assert np.abs(np.diff(b.nonzero(), axis=0)).max() < np.abs(np.diff(a.nonzero(), axis=0)).max()
    H = operator_matrix(make_space(m, sec), m.numeric_terms(vals))
    e0 = eigsh(H, k=1, which="SA")[0][0]
    assert lanczos_ground_energy(rcm)["energy"] == pytest.approx(e0, abs=1e-10)
    x = np.random.default_rng(3).standard_normal(asc.shape[0])
    x_rcm = x[_ascending_index(asc, rcm)]
    mode = m.modes
    terms = [(1.0, ((mode[0], True), (mode[1], False))), (0.5, ((mode[2], True), (mode[2], False),
                                                                (mode[len(mode) // 2 + 2], True),
                                                                (mode[len(mode) // 2 + 2], False)))]
    want = expectation(ProductBasis(m, sec, asc), x, terms)
    assert expectation(ProductBasis(m, sec, rcm), x_rcm, terms) == pytest.approx(want, abs=1e-12)


def test_unknown_order_is_refused():
    m = build_model("hubbard", 4, "periodic")
    with pytest.raises(ValueError, match="order must be one of ascending, rcm, got 'random'"):
        MatrixFreeHamiltonian(m, {}, m.sector(4, 0), order="random")


def test_to_ascending_rewrites_vectors_of_the_rcm_order():
    m = build_model("kbp", 3, "periodic")
    sec = Sector(3, 2)
    asc = MatrixFreeHamiltonian(m, {"U": 2.0}, sec)
    rcm = MatrixFreeHamiltonian(m, {"U": 2.0}, sec, order="rcm")
    idx = _ascending_index(asc, rcm)
    rng = np.random.default_rng(11)
    block = rng.standard_normal((asc.shape[0], 3))
    columns = np.asfortranarray(block[idx])  # three vectors written in the RCM order, as columns
    assert rcm.to_ascending(columns) is columns
    np.testing.assert_array_equal(columns, block)
    one = block[idx, 0].copy()  # a single vector
    np.testing.assert_array_equal(rcm.to_ascending(one), block[:, 0])
    assert asc.to_ascending(one) is one  # nothing to do in the ascending order
    # H in the RCM order, its product moved back, equals H applied in the ascending order
    y_rcm, _ = rcm.apply(block[idx, 1].copy())
    np.testing.assert_allclose(rcm.to_ascending(y_rcm), asc.apply(block[:, 1].copy())[0], atol=1e-13)
