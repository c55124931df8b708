"""Degenerate levels on the Lanczos path: ARPACK alone returns a degenerate level once.

A Krylov space grown from one start vector holds one direction of each degenerate eigenspace;
``edkit.engine.solver`` adds the missed partners (shift-and-recheck). The truth is a dense diagonalization
of the same matrix (LAPACK, a different algorithm) and, for the API, a dense eigvalsh of the QuSpin matrix.
"""

import numpy as np
import pytest
import scipy.sparse.linalg as sla

from edkit.api import spectrum
from edkit.engine.backend_quspin import make_space, operator_matrix
from edkit.engine.solver import lowest
from edkit.models import build_model

CASES = [  # ring momenta +-K make degenerate pairs
    ("hubbard", 6, 4, {"U": 4.0}),
    ("hubbard", 4, 2, {"U": 1.0}),
    ("kbp", 3, 4, {"U": 3.0, "t_perp": 0.6}),
]


def matrix(name, L, N, vals):
    m = build_model(name, L, "periodic")
    return operator_matrix(make_space(m, m.sector(N, 0)), m.numeric_terms(vals))


def test_plain_arpack_misses_a_partner():
    """The failure the solver guards against (if ARPACK changes, this documents it)."""
    H = matrix("hubbard", 6, 4, {"U": 4.0})
    ref = np.linalg.eigvalsh(H.toarray())[:4]
    v0 = np.random.default_rng(0).standard_normal(H.shape[0])
    w = np.sort(sla.eigsh(H, k=4, which="SA", v0=v0, ncv=40, tol=1e-12, return_eigenvectors=False))
    assert not np.allclose(w, ref, atol=1e-8)


@pytest.mark.parametrize("name,L,N,vals", CASES)
@pytest.mark.parametrize("nev", [2, 4, 6])
def test_lanczos_finds_every_partner(name, L, N, vals, nev):
    H = matrix(name, L, N, vals)
    ref = np.linalg.eigvalsh(H.toarray())[:nev]
    eig = lowest(H, nev, vectors=True, dense_limit=0)
    assert eig.method == "lanczos"
    np.testing.assert_allclose(eig.energies, ref, atol=1e-9)
    v = eig.vectors
    np.testing.assert_allclose(v.conj().T @ v, np.eye(nev), atol=1e-8)  # independent vectors
    np.testing.assert_allclose(H @ v, v * eig.energies, atol=1e-7)


def test_spectrum_on_the_lanczos_path_against_dense():
    m = build_model("hubbard", 8, "periodic")
    out = spectrum(m, {"U": 4.0}, N=6, Sz=0, nev=5, labels=False)
    assert out["dimension"] > 2000 and out["method"] == "lanczos"
    ref = np.linalg.eigvalsh(matrix("hubbard", 8, 6, {"U": 4.0}).toarray())[:5]
    np.testing.assert_allclose(out["energies"], ref, atol=1e-9)
    counts = np.unique(np.round(ref, 8), return_counts=True)[1]
    assert [k for _, k in out["degeneracies"]] == list(counts)  # the +-K pairs (dense: [1, 2, 2])


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_constructed_spectrum_with_multiplets(dtype):
    """A Hermitian matrix built from a known spectrum with 2- and 3-fold levels (the truth)."""
    rng = np.random.default_rng(7)
    n = 300
    spectrum_ = np.sort(np.concatenate([[-3.0, -2.5, -2.5, -2.0, -2.0, -2.0], rng.uniform(0, 5, n - 6)]))
    a = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if dtype is np.complex128 else 0)
    q, _ = np.linalg.qr(a)
    H = (q * spectrum_) @ q.conj().T
    H = (H + H.conj().T) / 2
    eig = lowest(H.astype(dtype), 6, vectors=True, dense_limit=0)
    np.testing.assert_allclose(eig.energies, spectrum_[:6], atol=1e-9)
    assert [k for _, k in eig.degeneracies] == [1, 2, 3]
