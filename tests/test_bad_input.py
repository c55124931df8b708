"""Bad input is refused with a clear message, exit code 2, before anything big is built.

Every CLI test here runs with the QuSpin build path (``make_space``, ``operator_matrix``) replaced
by a trap, so a refusal that came only after building a basis would fail the test.
"""

from __future__ import annotations

import functools
import math
import time

import numpy as np
import pytest
import scipy.sparse as sp

import edkit.api
import edkit.engine.backend_quspin
import edkit.engine.solve
import edkit.models  # noqa: F401  (imported up front so timings measure the refusal only)
from edkit.cli import main
from edkit.engine.planning import TooLargeError, check_fits, plan
from edkit.engine.solver import ConvergenceError, lowest


@pytest.fixture
def no_build(monkeypatch):
    """Fail the test if anything tries to build a basis or a matrix."""

    def trap(*args, **kwargs):
        raise AssertionError("a sector was built before the input was refused")

    for name in ("make_space", "operator_matrix"):
        monkeypatch.setattr(edkit.engine.backend_quspin, name, trap)
        monkeypatch.setattr(edkit.engine.solve, name, trap, raising=False)  # names imported there


def refused(capsys, *argv: str) -> str:
    """Run the CLI, assert exit code 2 with no stdout and no traceback; return the message."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert out == ""
    assert err.startswith("edkit: error: ") and "Traceback" not in err
    return err


# --------------------------------------------------------------------- model, parameter
@pytest.mark.parametrize("command", ["spectrum", "gaps", "correlations"])
def test_unknown_model(capsys, no_build, command):
    err = refused(capsys, command, "hubbbard", "--L", "3")
    assert "unknown model 'hubbbard'" in err
    assert "hubbard" in err.split("known models:")[1]


def test_unknown_parameter_lists_the_known_ones(capsys, no_build):
    err = refused(capsys, "spectrum", "kbp", "--L", "3", "--param", "V=1")
    assert "unknown parameter(s) V" in err
    for name in ("U", "t_perp", "t_m", "mu_p", "mu_m"):
        assert name in err


def test_parameter_of_another_model(capsys, no_build):
    err = refused(capsys, "gaps", "hubbard", "--L", "3", "--param", "t_perp=1")
    assert "t_perp" in err and "unknown" in err


@pytest.mark.parametrize("value, reason", [
    ("__import__('sys').exit(7)", "is not a number"),  # if this were evaluated, exit code would be 7
    ("__import__('os')", "is not a number"),
    ("1e999", "not a finite number"),
    ("-1e999", "not a finite number"),
    ("nan", "is not a number"),
    ("inf", "is not a number"),
    ("1/0", "division by zero"),
    ("2*3", "is not a number"),
    ("U", "is not a number"),
    ("4j", "is not a number"),
    ("0x10", "is not a number"),
])
def test_values_are_numbers_only(capsys, no_build, value, reason):
    err = refused(capsys, "spectrum", "kbp", "--L", "3", "--param", f"U={value}")
    assert reason in err


@pytest.mark.parametrize("item", ["U", "U=", "=4", " = "])
def test_malformed_pairs(capsys, no_build, item):
    err = refused(capsys, "spectrum", "kbp", "--L", "3", "--param", item)
    assert "expects NAME=VALUE" in err


def test_malformed_sector_value(capsys, no_build):
    err = refused(capsys, "spectrum", "kbp", "--L", "3", "--sector", "N=six")
    assert "is not a number" in err
    err = refused(capsys, "spectrum", "kbp", "--L", "3", "--sector", "N=1e999")
    assert "not a finite number" in err


# --------------------------------------------------------------------------- sectors
def test_n_beyond_twice_the_sites(capsys, no_build):
    err = refused(capsys, "spectrum", "kbp", "--L", "3", "--sector", "N=13")
    assert "N=13" in err and "6 orbitals hold at most 12 electrons" in err


def test_negative_n(capsys, no_build):
    err = refused(capsys, "spectrum", "hubbard", "--L", "3", "--sector", "N=-1")
    assert "N=-1" in err


def test_non_integer_n(capsys, no_build):
    err = refused(capsys, "spectrum", "hubbard", "--L", "3", "--sector", "N=2.5")
    assert "N must be an integer" in err


@pytest.mark.parametrize("command", ["spectrum", "gaps", "correlations"])
def test_sz_parity(capsys, no_build, command):
    err = refused(capsys, command, "kbp", "--L", "3", "--sector", "N=6", "--sector", "Sz=0.5")
    assert "parity" in err and "Sz=0.5" in err


def test_sz_not_a_half_integer(capsys, no_build):
    err = refused(capsys, "spectrum", "hubbard", "--L", "3", "--sector", "N=2", "--sector", "Sz=0.3")
    assert "multiple of 1/2" in err


def test_sz_too_large(capsys, no_build):
    err = refused(capsys, "spectrum", "hubbard", "--L", "2", "--sector", "N=2", "--sector", "Sz=2")
    assert "impossible with 2 electrons" in err


def test_unknown_sector_name(capsys, no_build):
    err = refused(capsys, "spectrum", "kbp", "--L", "3", "--sector", "Q=1")
    assert "unknown sector name(s) ['Q']" in err


def test_kondo_sector_without_states(capsys):
    """Kondo lattice L=3: 3 conduction sites hold at most 6 conduction electrons.

    (Not under ``no_build``: the occupation constraints are only applied to a built basis.)
    """
    err = refused(capsys, "spectrum", "kondo", "--L", "3", "--sector", "N=7")
    assert "no states" in err or "outside" in err


# ---------------------------------------------------------------------------- lattice
@pytest.mark.parametrize("model", ["hubbard", "kbp", "kbp-eff", "anderson", "kondo"])
def test_periodic_l2_refused(capsys, no_build, model):
    err = refused(capsys, "spectrum", model, "--L", "2", "--bc", "periodic")
    assert "L >= 3" in err and "L=2" in err


@pytest.mark.parametrize("L", ["0", "-3"])
def test_non_positive_l(capsys, no_build, L):
    err = refused(capsys, "spectrum", "hubbard", "--L", L)
    assert "L must be a positive integer" in err


def test_nev_below_one(capsys, no_build):
    err = refused(capsys, "spectrum", "hubbard", "--L", "3", "--nev", "0")
    assert "--nev" in err


@pytest.mark.parametrize("ref", ["3", "-1"])
def test_reference_site_out_of_range(capsys, no_build, ref):
    err = refused(capsys, "correlations", "hubbard", "--L", "3", "--reference", ref)
    assert "--reference" in err and "0..2" in err


@pytest.mark.parametrize("argv", [
    ["spectrum", "hubbard", "--L", "3", "--bc", "twisted"],
    ["spectrum", "hubbard", "--L", "three"],
    ["spectrum", "hubbard", "--L", "3", "--nev", "two"],
    ["nonsense"],
    ["gaps", "hubbard", "--L", "4", "--only", "charge"],
    ["spectrum", "hubbard", "--L", "4", "--method", "fast"],
])
def test_argparse_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error" in err
    if "--only" in argv or "--method" in argv:
        assert "invalid choice" in err


def test_missing_length_exit_2(capsys, no_build):
    """``--L`` is needed by every lattice model (argparse or edkit may refuse it)."""
    try:
        code = main(["spectrum", "hubbard"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert "--L" in capsys.readouterr().err


# ------------------------------------------------------------------------------ memory
def test_hubbard_l40_refused_fast_with_the_estimate(capsys, no_build):
    # CPU time of this process (robust to other jobs on a loaded machine); the budget is 1 s
    t0 = time.process_time()
    err = refused(capsys, "spectrum", "hubbard", "--L", "40")
    elapsed = time.process_time() - t0
    assert elapsed < 1.0, f"refusal took {elapsed:.2f} s of CPU"
    dim = math.comb(40, 20) ** 2  # half filling, Sz = 0: 20 up and 20 down on 40 sites
    assert "too large" in err
    assert f"dimension {dim:,}" in err
    assert "GiB needed" in err and "GiB available" in err


@pytest.mark.parametrize("command", ["gaps", "correlations"])
def test_memory_refusal_in_other_commands(capsys, no_build, command):
    t0 = time.process_time()
    err = refused(capsys, command, "kbp", "--L", "20")
    assert time.process_time() - t0 < 1.0
    assert f"dimension {math.comb(40, 20) ** 2:,}" in err and "GiB available" in err


def test_memory_limit_env_var(capsys, monkeypatch):
    monkeypatch.setenv("EDKIT_MEMORY_LIMIT", "100000")  # bytes
    err = refused(capsys, "spectrum", "kbp", "--L", "3")
    assert f"dimension {math.comb(6, 3) ** 2:,}" in err and "refusing to build" in err
    # a sector well below the limit still runs
    assert main(["spectrum", "hubbard", "--L", "2", "--json"]) == 0
    capsys.readouterr()


def test_plan_is_monotone_and_check_fits_raises():
    """The estimate grows with the sector dimension; check_fits raises TooLargeError."""
    from edkit.models import build_model

    sizes = []
    for L in (2, 3, 4, 5):
        m = build_model("hubbard", L)
        p = plan(m, m.sector(L, 0 if L % 2 == 0 else 0.5))
        assert p.dimension == math.comb(L, (L + 1) // 2) * math.comb(L, L // 2)
        sizes.append(p.bytes)
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    m = build_model("hubbard", 30)
    with pytest.raises(TooLargeError, match="GiB available"):
        check_fits(m, m.sector(30, 0))


# ---------------------------------------------------------------------------- Lanczos
def _hubbard_matrix(L: int = 8):
    from edkit.engine.backend_quspin import make_space, operator_matrix
    from edkit.models import build_model

    m = build_model("hubbard", L)
    return operator_matrix(make_space(m, m.sector(L, 0)), m.numeric_terms({}))


def test_lanczos_non_convergence_raises_with_residual_and_suggestion():
    H = _hubbard_matrix()  # dimension C(8,4)^2 = 4900, above the dense limit
    assert H.shape[0] == 4900
    with pytest.raises(ConvergenceError) as exc:
        lowest(H, 6, maxiter=1)
    msg = str(exc.value)
    assert "did not converge" in msg and "4900-dimensional" in msg
    assert "residual" in msg
    assert "maxiter" in msg  # the suggestion
    # with the default iteration budget the same call converges
    assert len(lowest(H, 6).energies) == 6


def test_cli_reports_non_convergence_with_exit_code_1(capsys, monkeypatch):
    monkeypatch.setattr(edkit.engine.solve, "lowest", functools.partial(lowest, maxiter=1))
    code = main(["spectrum", "hubbard", "--L", "8", "--nev", "3"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "did not converge" in err and "residual" in err and "Traceback" not in err


def test_lowest_refuses_an_empty_matrix():
    with pytest.raises(ValueError, match="no states"):
        lowest(sp.csr_matrix((0, 0)))


def test_lowest_small_matrix_is_exact():
    """Dense path: a diagonal matrix gives its sorted diagonal."""
    d = np.array([3.0, -1.0, 2.0, 0.5])
    np.testing.assert_allclose(lowest(sp.diags(d), 3).energies, np.sort(d)[:3])
