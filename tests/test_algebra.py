"""Algebraic identities of the symbolic fermion layer, and agreement with a brute-force Fock builder."""

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from edkit.core.modes import DN, UP, Mode
from mappings.algebra import FermionOperator, anticommutator, c, cdag, commutator, identity, number
from mappings.testing import assert_operators_equal
from tests.helpers.fock import fock_matrix

MODES = [Mode("p", 0, UP), Mode("p", 0, DN), Mode("m", 0, UP), Mode("m", 1, DN)]
INDEX = {m: k for k, m in enumerate(MODES)}
x, y = sympy.symbols("x y", real=True)

factor = st.tuples(st.sampled_from(MODES), st.booleans())
word = st.lists(factor, min_size=0, max_size=4).map(tuple)
coef = st.sampled_from([1, -1, 2, sympy.Rational(1, 2), x, y, x * y, sympy.I, 1 + sympy.I * x])
operator = st.lists(st.tuples(word, coef), min_size=1, max_size=4).map(FermionOperator)


def to_matrix(op: FermionOperator, values=None) -> np.ndarray:
    """Evaluate an operator with the independent Fock builder (tests/helpers/fock.py)."""
    values = values or {x: 0.7, y: -1.3}
    terms = [(complex(sympy.sympify(cf).subs(values)), [(INDEX[m], d) for m, d in w])
             for w, cf in op.terms.items()]
    return fock_matrix(len(MODES), terms).toarray()


def raw_matrix(pairs, values=None) -> np.ndarray:
    values = values or {x: 0.7, y: -1.3}
    terms = [(complex(sympy.sympify(cf).subs(values)), [(INDEX[m], d) for m, d in w]) for w, cf in pairs]
    return fock_matrix(len(MODES), terms).toarray()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(word, coef), min_size=1, max_size=4))
def test_normal_ordering_agrees_with_fock_matrices(pairs):
    op = FermionOperator(pairs)
    np.testing.assert_allclose(to_matrix(op), raw_matrix(pairs), atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(operator, operator)
def test_product_agrees_with_matrix_product(a, b):
    np.testing.assert_allclose(to_matrix(a * b), to_matrix(a) @ to_matrix(b), atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(operator)
def test_normal_ordering_idempotent_and_adjoint_involution(a):
    again = FermionOperator(a.terms)
    assert again.terms == a.terms
    assert_operators_equal(a.adjoint().adjoint(), a)
    np.testing.assert_allclose(to_matrix(a.adjoint()), to_matrix(a).conj().T, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(operator, operator, operator)
def test_jacobi_identity(a, b, d):
    total = (commutator(a, commutator(b, d)) + commutator(b, commutator(d, a))
             + commutator(d, commutator(a, b)))
    assert total.is_zero()


def test_canonical_anticommutators():
    for a in MODES:
        for b in MODES:
            assert_operators_equal(anticommutator(c(a), cdag(b)), identity() * int(a == b))
            assert anticommutator(c(a), c(b)).is_zero()
            assert anticommutator(cdag(a), cdag(b)).is_zero()


def test_pauli_and_idempotent_density():
    a = MODES[0]
    assert (c(a) * c(a)).is_zero() and (cdag(a) * cdag(a)).is_zero()
    assert_operators_equal(number(a) * number(a), number(a))
    assert_operators_equal(c(a) * cdag(a), identity() - number(a))


def test_symbolic_coefficients_flow_through():
    a, b = MODES[0], MODES[2]
    hop = x * (cdag(a) * c(b) + cdag(b) * c(a))
    assert hop.is_hermitian()
    assert not (sympy.I * x * cdag(a) * c(b)).is_hermitian()
    comm = commutator(hop, number(a))
    assert_operators_equal(comm, x * (cdag(b) * c(a) - cdag(a) * c(b)))


def test_assertion_helper_prints_terms():
    a = MODES[0]
    with pytest.raises(AssertionError, match=r"c†_p0↑ c_p0↑\s+1"):
        assert_operators_equal(number(a), FermionOperator())


def test_latex_display():
    s = (x * cdag(MODES[0]) * c(MODES[2]))._repr_latex_()
    assert s.startswith("$") and r"c^{\dagger}_{p,0,\uparrow}" in s and "c_{m,0,\\uparrow}" in s


def test_edkit_testing_reexports_the_operator_assertion():
    """``edkit.testing.assert_operators_equal`` is the one in :mod:`mappings.testing` (loaded on call)."""
    import edkit.testing

    a, b = MODES[0], MODES[1]
    edkit.testing.assert_operators_equal(number(a) + number(b), number(b) + number(a))
    with pytest.raises(AssertionError, match="operators differ \\(probe\\)"):
        edkit.testing.assert_operators_equal(number(a), number(b), label="probe")
