"""Assertions for users' own test suites (also used by edkit's tests).

- :func:`assert_operators_equal`: two symbolic operators are equal; on failure the message lists
  the difference term by term (defined in :mod:`mappings.testing`, re-exported here).
- :func:`assert_spectra_equal`: two models have the same spectrum in mapped sectors (with an
  energy shift), computed through the numeric path.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edkit.core.model import Model


def assert_operators_equal(left: object, right: object, *, limit: int = 25, label: str = "") -> None:
    """Assert ``left == right`` as fermion operators; see :func:`mappings.testing.assert_operators_equal`.

    Defined in the symbolic layer (:mod:`mappings.testing`) and re-exported here, imported only
    when called, so that ``import edkit.testing`` does not load sympy's operator algebra.

    Raises
    ------
    AssertionError
        With the nonzero terms of ``left - right``.
    """
    from mappings.testing import assert_operators_equal as _assert_operators_equal

    _assert_operators_equal(left, right, limit=limit, label=label)


def sector_spectrum(model: Model, values: Mapping[str, object] | None, n_up: int, n_dn: int,
                    nev: int | None = None) -> np.ndarray:
    """Spectrum of a model in the sector with ``n_up``, ``n_dn`` fermions (all modes).

    All levels when ``nev`` is ``None`` or the sector is small (dense); otherwise the lowest
    ``nev`` levels by Lanczos.
    """
    from edkit.core.model import Sector
    from edkit.engine.backend_quspin import make_space, operator_matrix
    from edkit.engine.solver import DENSE_LIMIT, lowest

    space = make_space(model, Sector(n_up, n_dn))
    H = operator_matrix(space, model.numeric_terms(values))
    if nev is None or space.dimension <= DENSE_LIMIT:
        return np.linalg.eigvalsh(H.toarray())
    return lowest(H, nev).energies


def assert_spectra_equal(model_a: Model, values_a: Mapping[str, object] | None,
                         sector_a: tuple[int, int], model_b: Model,
                         values_b: Mapping[str, object] | None, sector_b: tuple[int, int],
                         *, shift: float = 0.0, atol: float = 1e-10, nev: int = 12) -> None:
    """Assert spec(A in sector_a) == spec(B in sector_b) + shift, level by level.

    Sectors are ``(n_up, n_dn)`` fermion numbers over all modes. Small sectors are compared in
    full (dimensions included); sectors above the dense limit by their lowest ``nev`` levels
    (``nev + 8`` are computed, so that a degenerate partner at the window's edge is not missed).
    """
    ea = sector_spectrum(model_a, values_a, *sector_a, nev=nev + 8)
    eb = sector_spectrum(model_b, values_b, *sector_b, nev=nev + 8) + shift
    if len(ea) == nev + 8 or len(eb) == nev + 8:  # Lanczos windows: compare the lowest nev
        ea, eb = ea[:nev], eb[:nev]
    if ea.shape != eb.shape:
        raise AssertionError(f"sector dimensions differ: {model_a.name}{sector_a} has {len(ea)} "
                             f"states, {model_b.name}{sector_b} has {len(eb)}")
    err = np.max(np.abs(ea - eb)) if len(ea) else 0.0
    if err > atol:
        k = int(np.argmax(np.abs(ea - eb)))
        raise AssertionError(f"spectra differ by up to {err:.3g} (level {k}: {ea[k]!r} vs {eb[k]!r}) "
                             f"between {model_a.name}{sector_a} and {model_b.name}{sector_b} + {shift}")
