"""A degenerate level makes a matrix-free solve grow by one vector per state beyond the plan: the growth
is checked before the vector is allocated and refused with the numbers (never an out-of-memory kill)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as sla

from edkit.engine import memory
from edkit.engine.lanczos import ground_manifold
from edkit.engine.levels import lowest_levels
from edkit.engine.memory import TooLargeError, check_growth

DIM = 600
VEC = DIM * 8


def _operator(levels: list[float]) -> sla.LinearOperator:
    """A real symmetric operator with ``levels`` at the bottom of its spectrum (the rest from 2 to 10),
    in a random basis, so that nothing is aligned with the start vectors."""
    rng = np.random.default_rng(7)
    spectrum = np.concatenate([levels, np.linspace(2.0, 10.0, DIM - len(levels))])
    q, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
    return sla.aslinearoperator((q * spectrum) @ q.T)


def test_check_growth_against_a_forced_limit(monkeypatch):
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", str(5 * VEC))
    check_growth(VEC, 5, 1, "five vectors")  # exactly at the limit: allowed
    with pytest.raises(TooLargeError, match=r"six vectors: the next solve would hold 6 vectors .* "
                                            r"above EDKIT_MEMORY_LIMIT.*; try less"):
        check_growth(VEC, 6, 1, "six vectors", "; try less")


def test_check_growth_against_the_memory_available_now(monkeypatch):
    monkeypatch.delenv("EDKIT_MEMORY_LIMIT", raising=False)
    monkeypatch.setattr(memory, "available_memory", lambda: 10 * VEC)
    check_growth(VEC, 100, 8, "eight new")  # 8 <= 80 % of 10: only the new vectors count
    with pytest.raises(TooLargeError, match=r"would allocate 9 more vectors .* above 80% of the .* "
                                            r"available now"):
        check_growth(VEC, 100, 9, "nine new")


def test_a_threefold_ground_manifold_is_refused_before_its_third_vector(monkeypatch):
    op = _operator([0.0, 0.0, 0.0, 1.0])
    # the plan admits 4 vectors (the ground state); the second state needs 5, the third 6
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", str(int(5.5 * VEC)))
    with pytest.raises(TooLargeError, match=r"ground manifold \(E0 = .*, 2 degenerate state\(s\) held.*"
                                            r"hold 6 vectors"):
        ground_manifold(op, tol=1e-10)
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", str(6 * VEC))
    states, nxt = ground_manifold(op, tol=1e-10)
    assert len(states) == 3
    np.testing.assert_allclose([s.energy for s in states], 0.0, atol=1e-9)
    assert nxt == pytest.approx(1.0, abs=1e-8)


def test_the_partners_of_a_degenerate_top_level_are_refused_beyond_the_memory(monkeypatch):
    op = _operator([-1.0, 0.0, 0.0, 0.0])  # nev=2: the second level is threefold
    # the plan admits nev + 3 = 5 vectors; each partner of the top level needs one more
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", str(int(6.5 * VEC)))
    with pytest.raises(TooLargeError, match=r"completing the multiplet of the highest of 2 levels \(E = .*"
                                            r"2 state\(s\) of it held; levels found: -1.*hold 7 vectors.*"
                                            r"ask for fewer levels"):
        lowest_levels(op, 2, complete_top=True, dense_limit=0)
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", str(7 * VEC))
    eig = lowest_levels(op, 2, complete_top=True, dense_limit=0)
    np.testing.assert_allclose(eig.energies, [-1.0, 0.0, 0.0, 0.0], atol=1e-9)
