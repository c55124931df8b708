"""Every registered model, checked the same way (in the manner of TeNPy's ``check_general_model``
and NetKet's operator tests). Parametrized over ``edkit.models.MODELS``: a model is tested the
moment it is registered, with no test of its own.

For each model at small sizes (``L = 2`` open, ``L = 3`` periodic, where the factory accepts them
and the Fock space has at most ``2**MAX_MODES`` states) and seeded random parameter values:

- the Hamiltonian is Hermitian (every term has its conjugate; the Fock matrix is Hermitian);
- its symbolic terms, turned into a matrix by the independent brute-force Fock builder
  (``tests/helpers/fock.py``), have the spectrum of the backend's matrix in every
  ``(N_up, N_dn)`` sector;
- the symmetry survey (``edkit.engine.symmetry.survey``) says a symmetry holds exactly where its map
  commutes with the Fock matrix (checked independently, ``tests/helpers/model_fock.py``); every
  symmetry the model declares in ``model.capabilities.symmetries`` is one of ``k, P, Z, C``, holds
  at random values where its condition is ``always`` (``k``: on a ring), and the block spectrum of
  every declared symmetry that holds equals the brute-force one;
- the model's docstring names every parameter;
- every backend that supports the default sector gives the brute-force low spectrum:
  ``spectrum(method="stored")``, ``method="matrix-free"`` (ground energy; skipped where refused)
  and ``symmetries="all"`` (blocks; skipped where no symmetry holds).
"""

from __future__ import annotations

import re
import zlib
from functools import cache

import numpy as np
import pytest

from edkit.api import spectrum
from edkit.core.errors import EdkitError
from edkit.core.model import Model, Sector
from edkit.engine.backend_quspin import make_space, operator_matrix
from edkit.engine.symmetry import survey
from edkit.models import MODELS
from tests.helpers import model_fock as mf
from tests.helpers.fock import restrict

SIZES = ((2, "open"), (3, "periodic"))
MAX_MODES = 12  # brute force on 2**12 states at most: the whole file runs in seconds
NEV = 4
ATOL = 1e-9
FULL_SPECTRUM = 64  # blocks up to this size are also compared level by level
LABELS = {"k", "P", "Z", "C"}


def _build(name: str, L: int, bc: str) -> Model | None:
    try:
        model = MODELS[name](L, bc)
    except EdkitError:  # e.g. a fixed cluster that takes no L, or a ring that needs L >= 3
        return None
    return model if len(model.modes) <= MAX_MODES else None


def _cases() -> list:
    out = []
    for name in MODELS:
        for L, bc in SIZES:
            out.append(pytest.param(name, L, bc, id=f"{name}-{L}-{bc}"))
    return out


CASES = _cases()


@cache
def model_at(name: str, L: int, bc: str) -> Model:
    model = _build(name, L, bc)
    if model is None:
        pytest.skip(f"{name} has no L={L} {bc} cluster of at most {MAX_MODES} modes")
    return model


def random_values(model: Model, L: int, bc: str) -> dict[str, float]:
    """Seeded random values of every parameter (seed from the model name and size)."""
    rng = np.random.default_rng(zlib.crc32(f"{model.name}-{L}-{bc}".encode()))
    return model.resolve({k: float(rng.uniform(0.3, 1.7) * rng.choice([-1.0, 1.0]))
                          for k in model.parameters})


def default_sector(model: Model) -> tuple[dict, Sector]:
    """The model's default sector (as the CLI resolves it) and its :class:`Sector`."""
    sec = model.resolve_sector({})
    extra = {k: v for k, v in sec.items() if k not in ("N", "Sz")}
    return sec, model.sector(sec["N"], sec.get("Sz"), **extra)


def api_kwargs(model: Model, sec: dict) -> dict:
    extra = {k: v for k, v in sec.items() if k not in ("N", "Sz")}
    return {"N": sec["N"], "Sz": sec.get("Sz") if model.spinful else None, "extra": extra or None}


@cache
def brute_low(name: str, L: int, bc: str, which: str) -> np.ndarray:
    """Brute-force levels of the default sector at ``which`` = "random" or "default" values."""
    model = model_at(name, L, bc)
    values = random_values(model, L, bc) if which == "random" else model.resolve({})
    _, sector = default_sector(model)
    return mf.sector_spectrum(model, values, sector)


def test_every_registered_model_is_covered():
    """Each model builds at one of the sizes at least (else this file would not test it)."""
    missing = [name for name in MODELS if all(_build(name, L, bc) is None for L, bc in SIZES)]
    assert not missing, f"no small cluster of {missing}: add a size to SIZES"


# --------------------------------------------------------------------------- hermiticity
@pytest.mark.parametrize("name, L, bc", CASES)
def test_hermitian_at_random_values(name, L, bc):
    model = model_at(name, L, bc)
    assert model.non_hermitian_terms() == []
    H = mf.full_matrix(model, random_values(model, L, bc))
    assert H.nnz > 0
    assert abs(H - H.conj().T).max() < 1e-12


# ---------------------------------------------------------- symbolic terms = Fock builder
def _moments(matrix, count: int = 4) -> np.ndarray:
    """``Tr H^k`` for ``k = 1..count`` (basis-independent invariants of a block)."""
    out, power = [], matrix
    for k in range(count):
        if k:
            power = power @ matrix
        out.append(power.diagonal().sum())
    return np.array(out)


@pytest.mark.parametrize("name, L, bc", CASES)
def test_terms_match_the_fock_builder_in_every_sector(name, L, bc):
    """The backend's matrix of ``numeric_terms`` and the oracle's matrix of the terms as written
    agree in every ``(N_up, N_dn)`` sector that has states: same dimension, same ``Tr H^k`` for
    ``k <= 4``, and the same spectrum where the block has at most ``FULL_SPECTRUM`` states (the
    default sector's spectrum is compared in full by the backend tests below)."""
    model = model_at(name, L, bc)
    values = random_values(model, L, bc)
    H = mf.full_matrix(model, values)
    terms = model.numeric_terms(values)
    n_up_max = sum(1 for m in model.modes if m.spin != "dn")
    n_dn_max = len(model.modes) - n_up_max
    compared = 0
    for n_up in range(n_up_max + 1):
        for n_dn in range(n_dn_max + 1):
            sector = Sector(n_up, n_dn)
            want = restrict(H, mf.sector_states(model, sector))
            if want.shape[0] == 0:
                continue
            got = operator_matrix(make_space(model, sector), terms)
            where = f"sector ({n_up}, {n_dn})"
            assert got.shape == want.shape, where
            scale = max(1.0, abs(want).max())
            np.testing.assert_allclose(_moments(got), _moments(want), rtol=1e-10,
                                       atol=1e-9 * scale ** 4 * want.shape[0], err_msg=where)
            if want.shape[0] <= FULL_SPECTRUM:
                np.testing.assert_allclose(np.linalg.eigvalsh(got.toarray()),
                                           np.linalg.eigvalsh(want.toarray()), atol=ATOL, err_msg=where)
            compared += 1
    assert compared >= 2


# ----------------------------------------------------------------------------- symmetries
@pytest.mark.parametrize("which", ["default", "random"])
@pytest.mark.parametrize("name, L, bc", CASES)
def test_symmetry_survey_agrees_with_the_fock_operator_identity(name, L, bc, which):
    model = model_at(name, L, bc)
    values = random_values(model, L, bc) if which == "random" else model.resolve({})
    H = mf.full_matrix(model, values)
    for row in survey(model, values):
        fock = mf.symmetry_holds(model, values, row["label"], H)
        assert fock is row["holds"], (row["label"], row["reason"])


@pytest.mark.parametrize("name, L, bc", CASES)
def test_declared_symmetries(name, L, bc):
    model = model_at(name, L, bc)
    declared = dict(model.capabilities.symmetries)
    if not declared:
        pytest.skip(f"{name} declares no symmetry (model.capabilities.symmetries is empty)")
    assert set(declared) <= LABELS, declared
    values = random_values(model, L, bc)
    H = mf.full_matrix(model, values)
    for label, condition in declared.items():
        if label == "k" and bc != "periodic":
            continue
        if condition.strip().lower().startswith(("always", "periodic")):
            assert mf.symmetry_holds(model, values, label, H), (
                f"{name} declares {label} {condition!r} but it fails at random values")
    # every declared symmetry that holds here (default or random values) reproduces the spectrum
    _, sector = default_sector(model)
    for which in ("default", "random"):
        vals = random_values(model, L, bc) if which == "random" else model.resolve({})
        holding = {r["label"] for r in survey(model, vals, sector) if r["blocks_available"]}
        want = brute_low(name, L, bc, which)[:NEV]
        sec, _ = default_sector(model)
        for label in sorted(holding & set(declared)):
            got = spectrum(model, vals, nev=NEV, symmetries=[label], **api_kwargs(model, sec))
            np.testing.assert_allclose(got["energies"], want[:len(got["energies"])], atol=ATOL,
                                       err_msg=f"{label} blocks, {which} values")
            assert len(got["energies"]) == min(NEV, want.size)


# ------------------------------------------------------------------------------- docstring
@pytest.mark.parametrize("name", list(MODELS))
def test_docstring_names_every_parameter(name):
    model = next(m for m in (_build(name, L, bc) for L, bc in SIZES) if m is not None)
    doc = model.doc
    assert doc.strip(), f"{name} has no docstring"
    missing = [p for p in model.parameters
               if not re.search(rf"(?<![A-Za-z0-9_]){re.escape(p)}(?![A-Za-z0-9_])", doc)]
    assert not missing, f"{name}: the docstring does not name {missing}"


# ------------------------------------------------------------------ backends agree
@pytest.mark.parametrize("name, L, bc", CASES)
def test_stored_spectrum_equals_brute_force(name, L, bc):
    model = model_at(name, L, bc)
    sec, _ = default_sector(model)
    values = random_values(model, L, bc)
    want = brute_low(name, L, bc, "random")
    got = spectrum(model, values, nev=NEV, method="stored", **api_kwargs(model, sec))
    n = min(NEV, want.size)
    assert got["dimension"] == want.size
    np.testing.assert_allclose(got["energies"][:n], want[:n], atol=ATOL)


@pytest.mark.parametrize("name, L, bc", CASES)
def test_matrix_free_ground_energy_equals_brute_force(name, L, bc):
    model = model_at(name, L, bc)
    sec, _ = default_sector(model)
    values = random_values(model, L, bc)
    try:
        got = spectrum(model, values, nev=1, method="matrix-free", **api_kwargs(model, sec))
    except (EdkitError, ValueError) as err:  # the planner refuses (constraints, a special space ...)
        pytest.skip(f"matrix-free refused for {name}: {err}")
    assert got["method"] == "matrix-free"
    assert got["energies"][0] == pytest.approx(brute_low(name, L, bc, "random")[0], abs=1e-8)


@pytest.mark.parametrize("which", ["default", "random"])
@pytest.mark.parametrize("name, L, bc", CASES)
def test_symmetry_blocks_equal_brute_force(name, L, bc, which):
    model = model_at(name, L, bc)
    sec, sector = default_sector(model)
    values = random_values(model, L, bc) if which == "random" else model.resolve({})
    if not any(r["blocks_available"] for r in survey(model, values, sector)):
        pytest.skip(f"no symmetry block is available for {name} in its default sector")
    got = spectrum(model, values, nev=NEV, symmetries="all", **api_kwargs(model, sec))
    want = brute_low(name, L, bc, which)
    n = min(NEV, want.size)
    assert got["dimension"] == want.size
    np.testing.assert_allclose(got["energies"][:n], want[:n], atol=ATOL)
