"""Full diagonalization in symmetry blocks (:mod:`edkit.engine.dense_blocks`): exact thermal and dynamics.

- thermal averages computed in blocks against the brute-force Fock-space diagonalization of
  ``tests/test_thermal.py`` (real bilayer with complex momentum blocks; a complex flux ring, where
  conjugate blocks must not be copied);
- the blocks themselves: orthonormal, complete, ``H`` block-diagonal, each symmetry acting on a block
  as its character, a mirrored block the complex conjugate of its partner;
- a symmetry that does not hold is dropped by the matrix check, whatever the term check said;
- ``eigen_blocks`` is a full eigendecomposition (levels of ``eigvalsh``, ``H V = V E``, orthonormal; a
  mirrored block the conjugate of its partner), and exact dynamics (Lehmann, finite beta) equals its
  unblocked run;
- the planner's block estimate (before building) bounds the blocks built, admits the 10-site ring that the
  whole-sector estimate refused and still refuses 7 rungs; mapping eigenvectors back in chunks changes
  nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import edkit.engine.dense_blocks as blocks
from edkit.core.model import Sector
from edkit.engine.backends import get
from edkit.engine.backends.base import Request
from edkit.models import build_model, kbp_bilayer
from edkit.thermodynamics import thermal_averages
from tests.test_matfree_vectors import flux_hubbard
from tests.test_thermal import SCALARS, brute_thermal


@pytest.fixture
def solved_blocks(monkeypatch):
    """Records ``(sector dimension, block dimension)`` of every block diagonalized."""
    seen: list[tuple[int, int]] = []
    original = blocks.block_eigh

    def spy(H, Q, want):
        seen.append(Q.shape)
        return original(H, Q, want)

    monkeypatch.setattr(blocks, "block_eigh", spy)
    return seen


def _check_against_brute_force(model, values, N, cols, terms, seen):
    betas = [0.2, 1.0, 5.0]
    ref, _ = brute_thermal(model, values, betas, N=N, ops_terms=terms)
    res = thermal_averages(model, values, betas=betas, method="exact", observables=cols)
    for point, truth in zip(res.points, ref):
        for q in SCALARS:
            assert point[q] == pytest.approx(truth[q], abs=1e-9), q
        for col, value in zip(cols, truth["ops"]):
            assert point[col] == pytest.approx(value.real, abs=1e-9), col
    return res


def test_blocked_bilayer_averages_equal_brute_force(solved_blocks):
    from edkit.core import operators as ops

    model = kbp_bilayer(3, "periodic")
    values = {"U": 3.0, "t_perp": 0.7, "t_m": 1.1, "mu_p": -0.4, "mu_m": 0.2}
    a, b = ("p", 0), ("p", 1)
    cols = ["C:p:0:1", "SzSz:p:0:1", "N:m:0:2"]
    terms = [ops.pair_pair(a, b), ops.spin_spin(a, b, "z"), ops.density_density(("m", 0), ("m", 2))]
    res = _check_against_brute_force(model, values, 6, cols, terms, solved_blocks)
    reported = {(x["N"], x["Sz"]): (x["symmetries"], x["blocks"]) for x in res.to_dict()["sectors"]}
    assert reported[(6, 0.0)] == (["k", "Z"], 6) and reported[(6, 1.0)] == ([], 1)  # 225 states: whole
    # the (3, 3) sector (400 states) was split into k = 0, 1, 2 and Z = +-1 blocks, those of k = 2 copied
    # from k = 1 (real H); the smaller sectors (below BLOCK_DIMENSION) were diagonalized whole
    split = [d for n, d in solved_blocks if n == 400]
    assert len(split) == 4 and max(split) < 100 and 250 < sum(split) < 300
    assert all(n == d for n, d in solved_blocks if n < blocks.BLOCK_DIMENSION)


def test_blocked_complex_flux_ring_equals_brute_force(solved_blocks):
    from edkit.core import operators as ops

    model = flux_hubbard(6)
    values = {"t": 1.0, "phi": 0.3, "U": 2.5}
    cols = ["SzSz:c:0:1", "C:c:0:2"]
    terms = [ops.spin_spin(("c", 0), ("c", 1), "z"), ops.pair_pair(("c", 0), ("c", 2))]
    _check_against_brute_force(model, values, 6, cols, terms, solved_blocks)
    # complex H: no block is copied from its conjugate, every k is solved (6 momenta x Z for (3, 3))
    split = [d for n, d in solved_blocks if n == 400]
    assert len(split) == 12 and sum(split) == 400


@pytest.mark.parametrize("name,L,bc,sector,expected", [
    ("hubbard", 6, "periodic", Sector(3, 3), ["k", "Z"]),
    ("kbp", 3, "periodic", Sector(3, 3), ["k", "Z"]),
    ("hubbard", 6, "periodic", Sector(4, 2), ["k"]),
    ("kbp", 3, "open", Sector(3, 3), ["P", "Z", "C"]),  # without translation, reflection is kept
])
def test_blocks_are_orthonormal_complete_and_reduce_h(name, L, bc, sector, expected):
    model = build_model(name, L, bc)
    values = model.resolve({"U": 4.0})
    op, space = get("stored").operator(model, values, sector, Request(method="stored"))
    H = sp.csr_matrix(op.matrix)
    dim = H.shape[0]
    gens = blocks.generators(model, values, sector, space, H)
    assert [g[0] for g in gens] == expected
    bases = blocks.adapted_bases(gens, dim)
    Q = sp.hstack([q for q, _ in bases]).toarray()
    assert Q.shape == (dim, dim)
    assert np.allclose(Q.conj().T @ Q, np.eye(dim), atol=1e-12)  # orthonormal and complete
    Hq = Q.conj().T @ H.toarray() @ Q
    edges = np.cumsum([0] + [q.shape[1] for q, _ in bases])
    inside = np.zeros_like(Hq, dtype=bool)
    for lo, hi in zip(edges, edges[1:]):
        inside[lo:hi, lo:hi] = True
    assert np.abs(Hq[~inside]).max() < 1e-12  # H does not connect blocks
    for q, mirror in bases:
        block = q.toarray()
        for _, U, n in gens:  # each generator acts on the block as one n-th root of unity
            image = U @ block
            lam = np.vdot(block[:, 0], image[:, 0])
            assert abs(abs(lam) - 1) < 1e-12 and abs(lam ** n - 1) < 1e-9
            assert np.allclose(image, lam * block, atol=1e-12)
        if mirror is not None:
            assert np.allclose(block, bases[mirror][0].toarray().conj(), atol=1e-14)
    assert np.allclose(np.sort(np.linalg.eigvalsh(Hq)), np.linalg.eigvalsh(H.toarray()), atol=1e-10)


def test_a_symmetry_that_does_not_hold_is_dropped(monkeypatch):
    from edkit.engine.symmetry import translation

    model = build_model("hubbard", 6, "open")  # no translation symmetry on an open chain
    sector = Sector(3, 3)
    values = model.resolve({"U": 4.0})
    op, space = get("stored").operator(model, values, sector, Request(method="stored"))
    monkeypatch.setattr("edkit.engine.labels.labelling_symmetries", lambda *a: [translation(model)])
    assert blocks.generators(model, values, sector, space, op.matrix) == []
    assert len(blocks.adapted_bases([], op.shape[0])) == 1


def _assembled(model, values, sector, space, H):
    """Levels and plain-basis eigenvectors of every block of :func:`eigen_blocks`, side by side."""
    _, parts = blocks.eigen_blocks(model, values, sector, space, H)
    e = np.concatenate([b[1] for b in parts])
    V = np.column_stack([np.asarray(Q @ v, dtype=complex) for Q, _, v, _ in parts])
    order = np.argsort(e)
    return e[order], V[:, order], parts


@pytest.mark.parametrize("case", ["kbp", "flux"])
def test_eigen_blocks_are_a_full_eigendecomposition(case):
    if case == "kbp":
        model, sector = kbp_bilayer(3, "periodic"), Sector(3, 3)
        values = model.resolve({"U": 3.0, "t_perp": 0.7})
    else:
        model, sector = flux_hubbard(6), Sector(3, 3)
        values = model.resolve({"t": 1.0, "phi": 0.3, "U": 2.5})
    op, space = get("stored").operator(model, values, sector, Request(method="stored"))
    H = op.matrix.toarray()
    e, V, parts = _assembled(model, values, sector, space, op.matrix)
    assert np.allclose(e, np.linalg.eigvalsh(H), atol=1e-10)
    assert np.allclose(V.conj().T @ V, np.eye(len(e)), atol=1e-12)
    assert np.abs(H @ V - V * e).max() < 1e-10
    mirrors = [(i, b[3]) for i, b in enumerate(parts) if b[3] is not None]
    assert mirrors  # k and -k
    for i, j in mirrors:
        copied = np.array_equal(parts[i][1], parts[j][1]) and np.array_equal(parts[i][2], parts[j][2].conj())
        assert copied == (case == "kbp")  # real H: -k not diagonalized again; the flux splits k and -k


@pytest.mark.parametrize("operator,q", [("sz", "pi"), ("c_up", np.pi / 3), ("sz", 0.0)])
def test_exact_dynamics_in_blocks_equals_the_unblocked_lehmann_sum(operator, q, monkeypatch):
    """T = 0 (every eigenvector) and finite beta (<n|B|m> block pair by block pair, pairs the symmetries
    forbid skipped) against the same sums over whole sectors."""
    import edkit

    omega = np.linspace(-1, 6, 141)

    def run():
        return edkit.dynamics("hubbard", {"U": 4}, L=6, bc="periodic", operator=operator, q=q, omega=omega,
                              eta=0.1, method="exact", tau=np.linspace(0, 2, 5), beta=3.0)

    blocked = run()
    monkeypatch.setattr(blocks, "BLOCK_DIMENSION", 10**9)
    plain = run()
    assert np.max(np.abs(np.array(blocked.spectrum) - plain.spectrum)) < 1e-10
    assert np.max(np.abs(np.array(blocked.G) - plain.G)) < 1e-10
    assert blocked.ground_energy == pytest.approx(plain.ground_energy, abs=1e-12)


@pytest.mark.parametrize("name,L,bc", [(n, L, bc) for n in sorted(__import__("edkit.models").models.MODELS)
                                       for L, bc in ((2, "open"), (3, "periodic"))])
def test_every_model_decomposes_exactly_at_default_values(name, L, bc, monkeypatch):
    """Registry-driven: blocks forced on every sector size; the decomposition of the default sector is exact
    (constrained models included: their symmetries act on the kept states only)."""
    from edkit.core.errors import EdkitError
    from edkit.models import MODELS

    try:
        model = MODELS[name](L, bc)
    except EdkitError:
        pytest.skip(f"{name} has no L={L} {bc} cluster")
    if len(model.modes) > 12:
        pytest.skip(f"{name} L={L} {bc} has {len(model.modes)} modes")
    values = model.resolve({})
    sec = model.resolve_sector({})
    extra = {k: v for k, v in sec.items() if k not in ("N", "Sz")}
    sector = model.sector(sec["N"], sec.get("Sz"), **extra)
    op, space = get("stored").operator(model, values, sector, Request(method="stored"))
    monkeypatch.setattr(blocks, "BLOCK_DIMENSION", 1)
    H = op.matrix.toarray()
    e, V, _ = _assembled(model, values, sector, space, op.matrix)
    assert np.allclose(e, np.linalg.eigvalsh(H), atol=1e-10)
    assert np.allclose(V.conj().T @ V, np.eye(len(e)), atol=1e-10)
    assert np.abs(H @ V - V * e).max() < 1e-10


def test_planned_cost_bounds_the_real_blocks():
    """The planner's block estimate, before building, against the blocks actually built."""
    from edkit.thermodynamics.exact import BLOCK_MARGIN, exact_cost, sector_cost

    model, sector = build_model("kbp", 4, "periodic"), Sector(4, 4)
    values = model.resolve({"U": 4.0})
    peak, seconds, n_blocks = sector_cost(model, values, sector, 4900)
    op, space = get("stored").operator(model, values, sector, Request(method="stored"))
    bases = blocks.adapted_bases(blocks.generators(model, values, sector, space, op.matrix), 4900)
    assert n_blocks == len(bases) == 8
    largest = max(q.shape[1] for q, _ in bases)
    assert BLOCK_MARGIN * 4900 / 8 >= largest  # the estimated block is at least the largest real one
    whole_peak, whole_seconds = exact_cost([4900])
    assert seconds < whole_seconds / 10 and peak < whole_peak


def test_the_planner_admits_what_blocks_make_feasible_and_still_refuses_the_rest(monkeypatch):
    from edkit.engine.memory import TooLargeError

    reached = []

    def stop(*args, **kwargs):
        reached.append(args[2])
        raise RuntimeError("planned")

    monkeypatch.setattr("edkit.thermodynamics.exact.exact_sample", stop)
    # 10-site ring, N = 10: 63,504 states in (5, 5); whole ~14 h by the dense estimate, ~20 blocks of ~3,200
    with pytest.raises(RuntimeError, match="planned"):
        thermal_averages(build_model("hubbard", 10, "periodic"), {"U": 4}, betas=[1.0], method="exact")
    assert reached
    with pytest.raises(TooLargeError, match="symmetry blocks.*ftlm"):  # 7 rungs: 11.8M states
        thermal_averages(build_model("kbp", 7, "periodic"), {"U": 4}, betas=[1.0], method="exact")


def test_chunked_eigenvectors_give_the_same_averages(monkeypatch):
    model = kbp_bilayer(3, "periodic")
    kwargs = {"betas": [0.5, 3.0], "method": "exact", "observables": ["C:p:0:*", "SzSz:m:0:1"]}
    whole = thermal_averages(model, {"U": 3.0}, **kwargs)
    monkeypatch.setattr(blocks, "CHUNK", 7)
    chunked = thermal_averages(model, {"U": 3.0}, **kwargs)
    for a, b in zip(whole.points, chunked.points):
        for key, value in a.items():
            if isinstance(value, float):
                assert b[key] == pytest.approx(value, abs=1e-12), key


def test_auto_is_exact_when_the_blocks_make_it_cheap(monkeypatch):
    """``method="auto"``: the 4-rung ring (4,900 states, over AUTO_EXACT_DIMENSION) is planned at a few
    seconds in blocks and solved exactly; the 5-rung ring (63,504 states) goes to FTLM."""
    import edkit.thermodynamics.run as run_module

    chosen = []

    def record(kind):
        def stop(*args, **kwargs):
            chosen.append(kind)
            raise RuntimeError("chosen")
        return stop

    monkeypatch.setattr("edkit.thermodynamics.exact.exact_sample", record("exact"))
    monkeypatch.setattr(run_module, "_ftlm_sector", record("ftlm"))
    for L in (4, 5):
        with pytest.raises(RuntimeError, match="chosen"):
            thermal_averages(build_model("kbp", L, "periodic"), {"U": 4}, betas=[1.0])
    assert chosen == ["exact", "ftlm"]
    assert 4900 > run_module.AUTO_EXACT_DIMENSION
