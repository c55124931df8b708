"""Symmetry declarations, validity checks and block labels (edkit.engine.symmetry).

Independent truths used here:
- a brute-force Fock-space construction of each symmetry operator (written in this file from its
  definition ``U c+_a U^-1 = c+_pi(a)``, ``U|0> = |0>``), to check that the term-level validity check
  agrees with ``[U, H] = 0`` and that each block holds the spectrum of H on the matching eigenspace;
- plane waves: a free-fermion ring with flux, whose single-particle energies are read off by applying
  the hopping matrix to ``e^{iKj}``, so the many-body levels of each total momentum are known.
"""

from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp

from edkit.core.model import Sector
from edkit.core.modes import DN, UP, Mode
from edkit.engine.backend_quspin import make_space, operator_matrix
from edkit.engine.symmetry import (
    SymmetryError,
    check_symmetry,
    enumerate_blocks,
    holds,
    make_symmetry,
    particle_hole,
    resolve,
    spin_inversion,
    survey,
    translation,
)
from edkit.models import build_model
from tests.helpers.fock import fock_matrix, sector_indices
from tests.helpers.models import flux_ring


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Dense eigh of the oracle runs single-threaded (threaded OpenBLAS is 7-37x slower under load)."""
    from edkit.engine.backend_quspin import blas_threads

    with blas_threads(1):
        yield


# ------------------------------------------------------------------------------ Fock oracle


def _fock_terms(model, values):
    idx = {m: k for k, m in enumerate(model.modes)}
    return [(c, [(idx[m], d) for m, d in w]) for c, w in model.numeric_terms(values)], idx


def _mode_image(model, sym, mode):
    """Where a permutation symmetry sends a mode (from its definition, not from edkit)."""
    L = model.lattice.L
    if sym == "k":
        return Mode(mode.layer, (mode.site + 1) % L, mode.spin)
    if sym == "P":
        return Mode(mode.layer, L - 1 - mode.site, mode.spin)
    if sym == "Z":
        return Mode(mode.layer, mode.site, {UP: DN, DN: UP}[mode.spin])
    raise ValueError(sym)


def fock_permutation(model, sym):
    """Matrix of U with U c+_a U^-1 = c+_{pi(a)}, U|0> = |0>, on the full Fock space."""
    modes = model.modes
    idx = {m: k for k, m in enumerate(modes)}
    pi = [idx[_mode_image(model, sym, m)] for m in modes]
    n = len(modes)
    dim = 1 << n
    rows = np.empty(dim, dtype=np.int64)
    vals = np.empty(dim)
    for s in range(dim):
        occ = [k for k in range(n) if (s >> k) & 1]  # |s> = c+_{a1} ... c+_{an}|0>, a1 < a2 < ...
        img = [pi[k] for k in occ]
        inversions = sum(1 for i in range(len(img)) for j in range(i + 1, len(img)) if img[i] > img[j])
        rows[s] = sum(1 << k for k in img)
        vals[s] = -1.0 if inversions % 2 else 1.0
    return sp.csr_matrix((vals, (rows, np.arange(dim))), shape=(dim, dim))


def fock_particle_hole(model, eps):
    """Matrix of U with U c+_a U^-1 = eps_a c_a (fixing U|0> = |full>), on the full Fock space."""
    n = len(model.modes)
    idx = {m: k for k, m in enumerate(model.modes)}
    sign = np.ones(n)
    for m, k in idx.items():
        sign[k] = eps[m.orbital]
    dim = 1 << n
    rows, vals = np.empty(dim, dtype=np.int64), np.empty(dim)
    full = dim - 1
    for s in range(dim):
        # U|s> = prod_{a in s, ascending} (eps_a c_a) |full>; apply right to left
        occ = [k for k in range(n) if (s >> k) & 1]
        state, amp = full, 1.0
        for k in reversed(occ):
            amp *= sign[k] * (-1) ** bin(state & ((1 << k) - 1)).count("1")
            state ^= 1 << k
        rows[s], vals[s] = state, amp
    return sp.csr_matrix((vals, (rows, np.arange(dim))), shape=(dim, dim))


# ----------------------------------------------------------------------- validity of the check
CHECK_CASES = [
    ("hubbard", 4, "periodic", {"U": 3.0}, "k", True),
    ("hubbard", 4, "periodic", {"U": 3.0}, "P", True),
    ("hubbard", 4, "periodic", {"U": 3.0}, "Z", True),
    ("hubbard", 4, "open", {"U": 3.0}, "k", False),       # open chain: no translation
    ("anderson", 2, "open", {"h_p": 0.3}, "Z", False),     # a field breaks spin inversion
    ("anderson", 2, "open", {"h_m": 0.0}, "Z", True),
    ("kbp", 3, "open", {"U": 2.5, "t_perp": 0.7}, "P", True),
    ("kbp", 3, "periodic", {"U": 2.5, "t_perp": 0.7}, "k", True),
]


@pytest.mark.parametrize("name,L,bc,vals,label,expected", CHECK_CASES)
def test_term_check_agrees_with_fock_commutator(name, L, bc, vals, label, expected):
    """holds() on the canonical terms <=> [U, H] = 0 for the brute-force Fock operators."""
    m = build_model(name, L, bc)
    terms, _ = _fock_terms(m, vals)
    H = fock_matrix(len(m.modes), terms)
    U = fock_permutation(m, label)
    commutes = abs(U @ H @ U.T - H).max() < 1e-12
    ok, reason = holds(m, vals, make_symmetry(m, label))
    assert commutes == expected
    assert ok == expected, reason


@pytest.mark.parametrize("name,L,vals,expected", [
    ("hubbard", 4, {"U": 3.0, "mu": 1.5}, True),
    ("hubbard", 4, {"U": 3.0, "mu": 1.0}, False),
    ("kbp", 2, {"U": 2.0, "t_perp": 0.6}, True),            # mu_p = -U/2 by default
    ("kbp", 2, {"U": 2.0, "t_perp": 0.6, "mu_m": 0.2}, False),
    ("anderson", 2, {"U": 2.0}, True),
])
def test_particle_hole_check_agrees_with_fock_commutator(name, L, vals, expected):
    m = build_model(name, L, "open")
    sym = particle_hole(m)
    eps = dict(zip(m.orbitals, sym.ph_signs))
    terms, _ = _fock_terms(m, vals)
    H = fock_matrix(len(m.modes), terms)
    U = fock_particle_hole(m, eps)
    assert abs(U @ U.T - sp.identity(U.shape[0])).max() < 1e-14
    assert (abs(U @ H @ U.T - H).max() < 1e-12) == expected
    assert holds(m, vals, sym)[0] == expected


def test_refusals_give_the_reason_with_numbers():
    al = build_model("anderson", 4, "periodic")
    with pytest.raises(SymmetryError, match=r"spin_inversion does not hold.*h_p=0\.3.*-2\.3 in H vs -1\.7"):
        check_symmetry(al, {"h_p": 0.3}, spin_inversion(al))
    hub = build_model("hubbard", 4, "open")
    with pytest.raises(SymmetryError, match=r"translation does not hold.*open.*bc='periodic'.*-1 in H vs 0"):
        resolve(hub, {}, hub.sector(4, 0), ["k"])
    ring = build_model("hubbard", 4, "periodic")
    with pytest.raises(SymmetryError, match=r"only at Sz = 0, not \(N_up=3, N_dn=1\)"):
        resolve(ring, {}, ring.sector(4, 1), ["Z"])
    with pytest.raises(SymmetryError, match=r"N_up = N_dn = 2, not \(N_up=3, N_dn=3\)"):
        resolve(ring, {"mu": 2}, ring.sector(6, 0), ["C"])
    with pytest.raises(SymmetryError, match="not bipartite"):
        particle_hole(build_model("hubbard", 5, "periodic"))
    with pytest.raises(SymmetryError, match="unknown symmetry"):
        resolve(ring, {}, ring.sector(4, 0), ["rotation"])
    # particle-hole holds for the 4-rung KBP ring but QuSpin's sign convention cannot build it
    kbp = build_model("kbp", 4, "periodic")
    with pytest.raises(SymmetryError, match=r"QuSpin's particle-hole sign is \(-1\)\^j"):
        resolve(kbp, {}, kbp.sector(8, 0), ["C"])
    row = {r["label"]: r for r in survey(kbp, {}, kbp.sector(8, 0))}
    assert row["C"]["holds"] and not row["C"]["blocks_available"]
    assert all(row[x]["blocks_available"] for x in "kPZ")


def test_constraints_must_map_onto_constraints():
    """A sector constraint on one wire site is not translation invariant: refused."""
    from edkit.core.model import Constraint

    m = build_model("kbp-eff", 3, "periodic")
    check_symmetry(m, {}, translation(m), m.sector(6, 0))  # model's own constraints: invariant
    one = Constraint((Mode("m", 0, UP), Mode("m", 0, DN)), (2,), "m0 doubly occupied")
    sec = Sector(3, 3, (one,))
    with pytest.raises(SymmetryError, match="does not map the constraint 'm0 doubly occupied'"):
        check_symmetry(m, {}, translation(m), sec)


def test_fixed_quantum_numbers_are_validated():
    m = build_model("hubbard", 4, "periodic")
    syms = resolve(m, {}, m.sector(4, 0), ["k", "P", "Z"])
    with pytest.raises(SymmetryError, match="k=5 does not exist: use 0..3"):
        enumerate_blocks(syms, {"k": 5})
    with pytest.raises(SymmetryError, match=r"P=0 does not exist: use \+1 or -1"):
        enumerate_blocks(syms, {"P": 0})
    with pytest.raises(SymmetryError, match="not a quantum number at k=1"):
        enumerate_blocks(syms, {"k": 1, "P": 1})
    blocks = enumerate_blocks(syms)
    # k=0 and k=2 (K = 0, pi) carry P and Z; k=1, 3 only Z
    assert len(blocks) == 2 * 4 + 2 * 2


# ------------------------------------------------------------------------ block labels (brute force)
def _projector(U, order, value):
    """Projector onto U = exp(-2 pi i value/order) (translation) or U = value (Z2)."""
    if order == 2 and value in (1, -1):
        return 0.5 * (np.eye(len(U)) + value * U)
    K = 2 * np.pi * value / order
    P = np.zeros(U.shape, dtype=complex)
    Un = np.eye(len(U))
    for n in range(order):
        P += np.exp(1j * K * n) * Un
        Un = U @ Un
    return P / order


@pytest.mark.parametrize("name,L,bc,vals,sector,labels", [
    ("hubbard", 4, "periodic", {"U": 3.0}, (2, 2), "kPZ"),
    ("hubbard", 5, "periodic", {"U": 2.0, "mu": 0.3}, (2, 2), "kPZ"),
    ("kbp", 3, "periodic", {"U": 2.5, "t_perp": 0.7, "mu_m": 0.2}, (2, 2), "kPZ"),
])
def test_each_block_is_the_matching_eigenspace_of_the_fock_operators(name, L, bc, vals, sector, labels):
    """Block (k=m, P=p, Z=z) holds the spectrum of H on {T = e^{-2 pi i m/L}, P = p, Z = z}."""
    m = build_model(name, L, bc)
    terms, idx = _fock_terms(m, vals)
    n = len(m.modes)
    ups = [idx[x] for x in m.modes if x.spin == UP]
    dns = [idx[x] for x in m.modes if x.spin == DN]
    sel = sector_indices(n, [(ups, sector[0]), (dns, sector[1])])
    H = fock_matrix(n, terms)[sel][:, sel].toarray()
    ops = {lab: fock_permutation(m, lab)[sel][:, sel].toarray() for lab in labels}
    sec = Sector(*sector)
    syms = resolve(m, vals, sec, list(labels))
    count = 0
    for block in enumerate_blocks(syms):
        P = np.eye(len(sel), dtype=complex)
        for lab, v in block.labels:
            P = P @ _projector(ops[lab], L if lab == "k" else 2, v)
        w, V = np.linalg.eigh(0.5 * (P + P.conj().T))
        Q = V[:, w > 0.5]
        expected = np.linalg.eigvalsh(Q.conj().T @ H @ Q) if Q.shape[1] else np.zeros(0)
        try:
            space = make_space(m, sec, block)
        except Exception:  # an empty block
            assert Q.shape[1] == 0, block.labels
            continue
        got = np.linalg.eigvalsh(operator_matrix(space, m.numeric_terms(vals)).toarray())
        assert len(got) == len(expected), block.labels
        np.testing.assert_allclose(got, expected, atol=1e-10, err_msg=str(block.labels))
        count += len(got)
    assert count == len(sel)


# ------------------------------------------------------------------------ momentum labels
@pytest.mark.parametrize("L,n_up,n_dn", [(5, 2, 1), (6, 2, 2), (4, 1, 2)])
def test_free_fermion_levels_sit_in_the_predicted_momentum_blocks(L, n_up, n_dn):
    t, phi = 1.0, 0.37
    m = flux_ring(L)
    vals = {"t": t, "phi": phi}
    # single-particle energies of plane waves e^{iKj}, read off from the hopping matrix itself
    h = np.zeros((L, L), dtype=complex)
    for j in range(L):
        h[(j + 1) % L, j] += -t * np.exp(1j * phi)
        h[j, (j + 1) % L] += -t * np.exp(-1j * phi)
    eps = {}
    for q in range(L):
        v = np.exp(2j * np.pi * q * np.arange(L) / L)
        hv = h @ v
        eps[q] = (hv[0] / v[0]).real
        np.testing.assert_allclose(hv, eps[q] * v, atol=1e-12)  # it is an eigenvector
    predicted: dict[int, list[float]] = {q: [] for q in range(L)}
    for ups in combinations(range(L), n_up):
        for dns in combinations(range(L), n_dn):
            predicted[(sum(ups) + sum(dns)) % L].append(sum(eps[q] for q in ups + dns))
    sec = Sector(n_up, n_dn)
    (T,) = resolve(m, vals, sec, ["k"])
    for block in enumerate_blocks([T]):
        q = block.label_dict["k"]
        space = make_space(m, sec, block)
        got = np.linalg.eigvalsh(operator_matrix(space, m.numeric_terms(vals)).toarray())
        np.testing.assert_allclose(got, np.sort(predicted[q]), atol=1e-10, err_msg=f"k={q}")
