"""Round trips through the ``edkit`` command line.

The CLI runs in-process through :func:`edkit.cli.main` (fast); one test runs the installed console
script in a subprocess to check the entry point. Numbers are checked against closed forms written
here (two-site Hubbard, free fermions on a ring) and symmetry identities, never against edkit output.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

from edkit.cli import main

MODEL_NAMES = {"hubbard", "kbp", "kbp-eff", "anderson", "kondo"}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``edkit argv`` in-process; return (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def hubbard_dimer_levels(U: float, t: float = 1.0) -> list[float]:
    """Exact N=2, Sz=0 levels of ``-t sum(c+c + h.c.) + U sum n_up n_dn`` on two sites.

    Basis {|ud,0>, |0,ud>, singlet, triplet_0}: the triplet (0) decouples; the antisymmetric ionic
    state has U; the singlet and the symmetric ionic state mix with 2t: U/2 -+ sqrt(U^2/4 + 4t^2).
    """
    r = math.sqrt(U * U / 4 + 4 * t * t)
    return sorted([U / 2 - r, 0.0, U, U / 2 + r])


# ----------------------------------------------------------------------------- models
def test_models_json_lists_parameters_defaults_and_sectors(capsys):
    data = run_json(capsys, "models")
    by_name = {m["name"]: m for m in data["models"]}
    assert MODEL_NAMES <= set(by_name)
    for m in data["models"]:
        assert set(m) >= {"name", "parameters", "sectors", "summary"}
        assert isinstance(m["parameters"], dict) and m["parameters"]
        assert m["sectors"][0] == "N"
        assert all(isinstance(v, str) or v is None for v in m["parameters"].values())
    kbp = by_name["kbp"]
    assert list(kbp["parameters"]) == ["U", "t_perp", "t_m", "mu_p", "mu_m"]
    # documented defaults (model docstring / README): U=4, t_perp=1/2, t_m=1, mu_p=-U/2, mu_m=0
    U = sympy.Symbol("U", real=True)
    documented = {"U": 4, "t_perp": sympy.Rational(1, 2), "t_m": 1, "mu_p": -U / 2, "mu_m": 0}
    for name, value in documented.items():
        parsed = sympy.sympify(kbp["parameters"][name], locals={"U": U})  # our own output, not user input
        assert sympy.simplify(parsed - value) == 0, name
    assert kbp["sectors"] == ["N", "Sz"]


def test_models_text_mentions_every_model(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0
    for name in MODEL_NAMES:
        assert re.search(rf"^{re.escape(name)}\s", out, re.M), name
    assert "parameters:" in out and "sectors:" in out


# --------------------------------------------------------------------------- spectrum
SPECTRUM_KEYS = {"model", "L", "bc", "params", "sector", "dimension", "energies"}


@pytest.mark.parametrize("U", [0.0, 4.0, -3.0])
def test_spectrum_json_matches_hubbard_dimer(capsys, U):
    data = run_json(capsys, "spectrum", "hubbard", "--L", "2", "--bc", "open", "--param", f"U={U}",
                    "--sector", "N=2", "--sector", "Sz=0", "--nev", "4")
    assert SPECTRUM_KEYS <= set(data)
    assert data["model"] == "hubbard" and data["L"] == 2 and data["bc"] == "open"
    assert data["params"] == {"t": 1.0, "U": U, "mu": 0.0}
    assert data["sector"] == {"N": 2, "Sz": 0.0}
    assert data["dimension"] == math.comb(2, 1) ** 2
    assert all(isinstance(e, float) for e in data["energies"])
    np.testing.assert_allclose(data["energies"], hubbard_dimer_levels(U), atol=1e-10)


def test_spectrum_free_fermions_on_a_ring(capsys):
    """U=0 on a periodic ring of 5 sites: fill the lowest of -2t cos(2 pi m / L) with 3 up, 3 down."""
    L = 5
    data = run_json(capsys, "spectrum", "hubbard", "--L", str(L), "--bc", "periodic", "--param", "U=0",
                    "--param", "t=1/2", "--sector", "N=6", "--sector", "Sz=0", "--nev", "3")
    eps = np.sort(-2 * 0.5 * np.cos(2 * np.pi * np.arange(L) / L))
    e0 = 2 * eps[:3].sum()
    assert data["bc"] == "periodic" and data["params"]["t"] == 0.5
    assert data["dimension"] == math.comb(L, 3) ** 2
    assert data["energies"][0] == pytest.approx(e0, abs=1e-10)
    # lowest excitation: one particle from the k=+-2pi/5 shell to the k=+-4pi/5 shell
    assert data["energies"][1] == pytest.approx(e0 + eps[3] - eps[2], abs=1e-10)


def test_spectrum_energies_ascending_and_lanczos_path(capsys):
    # kbp L=4 at half filling: C(8,4)^2 = 4900 states, above the dense limit -> Lanczos
    data = run_json(capsys, "spectrum", "kbp", "--L", "4", "--nev", "5")
    assert data["dimension"] == math.comb(8, 4) ** 2
    assert data["method"] == "lanczos"
    assert data["sector"] == {"N": 8, "Sz": 0.0}  # default: half filling, lowest |Sz|
    e = data["energies"]
    assert len(e) == 5 and all(a <= b for a, b in zip(e, e[1:]))


def test_spectrum_default_sector_odd_filling_is_lowest_abs_sz(capsys):
    data = run_json(capsys, "spectrum", "hubbard", "--L", "3", "--sector", "N=3")
    assert data["sector"] == {"N": 3, "Sz": 0.5}
    assert data["dimension"] == math.comb(3, 2) * math.comb(3, 1)


def test_spectrum_text_output(capsys):
    code, out, err = run(capsys, "spectrum", "hubbard", "--L", "2", "--nev", "2")
    assert code == 0 and not err
    assert "dimension 4" in out and "E[0]" in out and "E[1]" in out
    e0 = float(re.search(r"E\[0\] = (\S+)", out).group(1))
    assert e0 == pytest.approx(hubbard_dimer_levels(4.0)[0], abs=1e-10)


def test_fraction_and_exponent_values_are_numbers(capsys):
    a = run_json(capsys, "spectrum", "hubbard", "--L", "2", "--param", "U=1/4", "--param", "t=5e-1")
    assert a["params"]["U"] == 0.25 and a["params"]["t"] == 0.5
    assert a["energies"][0] == pytest.approx(hubbard_dimer_levels(0.25, 0.5)[0], abs=1e-12)


# ------------------------------------------------------------------------------- gaps
def test_gaps_json_hubbard_dimer_closed_forms(capsys):
    U = 4.0
    r = math.sqrt(U * U / 4 + 4)
    data = run_json(capsys, "gaps", "hubbard", "--L", "2", "--param", f"U={U}")
    assert {"model", "L", "bc", "params", "sector", "charge_gap", "spin_gap", "pair_binding",
            "neutral_gap"} <= set(data)
    e2 = U / 2 - r  # N=2 singlet
    e4 = 2 * U  # both sites doubly occupied
    e0 = 0.0
    e3 = U - 1.0  # one hole hopping on a doubly occupied background: U -+ t
    assert data["energy"] == pytest.approx(e2, abs=1e-10)
    assert data["charge_gap"] == pytest.approx(e4 + e0 - 2 * e2, abs=1e-10)
    assert data["spin_gap"] == pytest.approx(0.0 - e2, abs=1e-10)  # triplet at 0
    assert data["pair_binding"] == pytest.approx(e4 + e2 - 2 * e3, abs=1e-10)
    assert data["neutral_gap"] == pytest.approx(0.0 - e2, abs=1e-10)


def test_gaps_null_where_undefined(capsys):
    """A single Hubbard site at N=1: no N+-2 sectors, odd N (no spin gap), one state per sector."""
    code, out, _ = run(capsys, "gaps", "hubbard", "--L", "1", "--json")
    assert code == 0
    assert '"charge_gap": null' in out
    data = json.loads(out)
    for key in ("charge_gap", "spin_gap", "pair_binding", "neutral_gap"):
        assert data[key] is None, key
    assert data["energy"] == 0.0


def test_gaps_text_says_undefined(capsys):
    code, out, _ = run(capsys, "gaps", "hubbard", "--L", "1")
    assert code == 0 and "undefined" in out


def test_gaps_kbp_charge_gap_is_twice_neutral_gap_at_half_filling(capsys):
    """Charge excitations N=2L+-2 of the KBP are the Sz=+-1 members of the Anderson-lattice spin
    triplet whose Sz=0 member lies in the N=2L sector (spin-selective particle-hole map)."""
    data = run_json(capsys, "gaps", "kbp", "--L", "3", "--param", "t_perp=1")
    assert data["charge_gap"] > 0 and data["spin_gap"] > 0
    assert data["charge_gap"] == pytest.approx(2 * data["neutral_gap"], abs=1e-9)


# ----------------------------------------------------------------------- correlations
def test_correlations_hubbard_ring_sum_rules(capsys):
    L = 4
    data = run_json(capsys, "correlations", "hubbard", "--L", str(L), "--bc", "periodic")
    assert data["L"] == L and data["reference"] == 0
    rows = data["layers"]["c"]
    assert set(rows) >= {"C", "N", "S", "SzSz", "SxSx", "SySy"}
    assert all(len(v) == L for v in rows.values())
    # Sz_total = 0 and N_total = L in the sector: sum_j <Sz_0 Sz_j> = 0, sum_j <(n_0-1)(n_j-1)> = 0
    assert sum(rows["SzSz"]) == pytest.approx(0.0, abs=1e-10)
    assert sum(rows["N"]) == pytest.approx(0.0, abs=1e-10)
    # non-degenerate singlet: spin correlations are isotropic
    assert data["ground_state_degeneracy"] == 1
    np.testing.assert_allclose(rows["SxSx"], rows["SzSz"], atol=1e-10)
    np.testing.assert_allclose(rows["SySy"], rows["SzSz"], atol=1e-10)
    # reflection j -> L - j of the ring
    np.testing.assert_allclose(rows["N"][1], rows["N"][3], atol=1e-10)
    # half filling: <n_0> = 1, so S(0,0) = <n_0>/2 = 1/2 and N(0,0) = 2 <n_up n_dn> = 2 C(0,0)
    assert rows["S"][0] == pytest.approx(0.5, abs=1e-10)
    assert rows["N"][0] == pytest.approx(2 * rows["C"][0], abs=1e-10)


def test_correlations_kbp_pair_density_degeneracy(capsys):
    """App. A: 2 C(0, j) = (-1)^j N(0, j) in each layer at half filling."""
    data = run_json(capsys, "correlations", "kbp", "--L", "3", "--reference", "0")
    for layer in ("p", "m"):
        C = np.array(data["layers"][layer]["C"])
        N = np.array(data["layers"][layer]["N"])
        signs = (-1.0) ** np.arange(3)
        np.testing.assert_allclose(2 * C, signs * N, atol=1e-10)


def test_correlations_text(capsys):
    code, out, _ = run(capsys, "correlations", "hubbard", "--L", "2", "--reference", "1")
    assert code == 0
    assert "reference site 1" in out and "layer c" in out


# ----------------------------------------------------------------------------- verify
@pytest.fixture(scope="module")
def verify_json(catalogue_run) -> tuple[int, dict]:
    from tests.helpers.catalogue import serving  # the catalogue is computed once per session

    buf = io.StringIO()
    with serving(*catalogue_run), contextlib.redirect_stdout(buf):
        code = main(["verify", "--json"])
    return code, json.loads(buf.getvalue())


def test_verify_json_schema_and_required_checks(verify_json):
    code, data = verify_json
    assert code == 0
    assert set(data) == {"checks"}
    names = {}
    for chk in data["checks"]:
        assert {"name", "passed", "details"} <= set(chk) <= {"name", "passed", "details", "coefficients"}
        assert isinstance(chk["passed"], bool)
        assert isinstance(chk["details"], dict)
        if "coefficients" in chk:
            assert isinstance(chk["coefficients"], dict)
        names[chk["name"]] = chk
    for required in ("kbp-to-anderson", "correlators-to-spin"):
        assert names[required]["passed"] is True


def test_verify_kbp_to_anderson_coefficients_match_hand_derivation(verify_json):
    """By hand: n_dn -> 1 - n_dn turns -U n_up n_dn - mu_p (n - 1) into
    U (n_up - 1/2)(n_dn - 1/2) - (U/2 + mu_p)(n_up - n_dn) - U/4 on each p site, and
    -mu_m (n - 1) into -mu_m (n_up - n_dn) on each m site."""
    _, data = verify_json
    chk = {c["name"]: c for c in data["checks"]}["kbp-to-anderson"]
    U, mu_p, mu_m = (sympy.Symbol(n, real=True) for n in ("U", "mu_p", "mu_m"))
    loc = {"U": U, "mu_p": mu_p, "mu_m": mu_m}
    expected = {"h_p": U / 2 + mu_p, "h_m": mu_m, "constant_per_rung": -U / 4}
    for key, value in expected.items():
        assert sympy.simplify(sympy.sympify(chk["coefficients"][key], locals=loc) - value) == 0, key


def test_verify_selected_names_text(capsys):
    code, out, _ = run(capsys, "verify", "particle-hole-odd-ring-refused")
    assert code == 0
    assert "[PASS] particle-hole-odd-ring-refused" in out
    assert "1/1 verifications passed" in out


def test_verify_exit_code_1_when_a_check_fails(capsys, monkeypatch):
    from mappings.verifications import CATALOGUE, VerificationResult

    monkeypatch.setitem(CATALOGUE, "always-fails",
                        lambda: VerificationResult("always-fails", False, "a deliberately false claim"))
    code, out, _ = run(capsys, "verify", "always-fails", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["checks"][0]["name"] == "always-fails" and data["checks"][0]["passed"] is False
    code, out, _ = run(capsys, "verify", "always-fails")
    assert code == 1 and "[FAIL] always-fails" in out and "0/1 verifications passed" in out


def test_verify_unknown_name_exit_2(capsys):
    code, out, err = run(capsys, "verify", "no-such-check")
    assert code == 2 and "no-such-check" in err and "kbp-to-anderson" in err


# ------------------------------------------------------------------------------- demo
@pytest.mark.slow  # the verification report (catalogue computed once per session), then small ED solves
def test_demo_runs(capsys, serve_catalogue, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = run(capsys, "demo")
    assert code == 0
    m = re.search(r"(\d+)/(\d+) verifications passed", out)
    assert m and m.group(1) == m.group(2)
    assert "Kivelson bilayer" in out and "gaps:" in out and "2C(0,j)" in out
    # issue 13.10: no multi-thousand-character expression on one line; derived coefficients fit
    assert max(len(line) for line in out.splitlines()) < 1000
    for block in re.findall(r"^    derived:\n((?:      .*\n)+)", out, re.M):
        assert all(len(line) <= 100 for line in block.splitlines()), block


# ------------------------------------------------------------------ the console script
def test_console_script_entry_point():
    script = Path(sys.executable).with_name("edkit")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "edkit.cli"]
    ok = subprocess.run(cmd + ["spectrum", "hubbard", "--L", "2", "--nev", "4", "--json"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    np.testing.assert_allclose(data["energies"], hubbard_dimer_levels(4.0), atol=1e-10)
    bad = subprocess.run(cmd + ["spectrum", "nomodel", "--L", "2"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2
    assert "unknown model 'nomodel'" in bad.stderr and "Traceback" not in bad.stderr


# ------------------------------------------------------------- long derived expressions
def test_shorten_expression_keeps_whole_terms_and_says_how_long():
    from edkit.cli import shorten_expression

    short = "U/2 - sqrt(U**2 + 4*t**2)"
    assert shorten_expression(short, 100) == short
    terms = [f"{k}*x_{k}*(a + b)" for k in range(1, 400)]
    expr = " + ".join(terms)
    out = shorten_expression(expr, 120)
    assert len(out) <= 120
    assert out.startswith("1*x_1*(a + b) + 2*x_2*(a + b)")  # whole terms, parentheses not split
    assert f"[399 terms, {len(expr):,} characters]" in out
    one = "-2*g*(" + " + ".join(terms) + ")"  # one product: a single top-level term, cut inside
    out = shorten_expression(one, 120)
    assert len(out) <= 120 and out.startswith("-2*g*(1*x_1") and "[1 term, " in out


def test_verify_text_wraps_long_coefficients_and_json_keeps_them(capsys, monkeypatch):
    """Issue 13.10: a 5,000-character derived expression is shortened to the terminal width."""
    from mappings.verifications import CATALOGUE, VerificationResult

    long_expr = " + ".join(f"{k}*gamma**2*o{k}/D_{k}" for k in range(300))
    assert len(long_expr) > 5000
    result = VerificationResult("long-one", True, "a check with a long coefficient",
                                coefficients={"A": "2*Abs(x)", "A_closed": long_expr})
    monkeypatch.setitem(CATALOGUE, "long-one", lambda: result)
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(capsys, "verify", "long-one")
    assert code == 0
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "      A = 2*Abs(x)" in out
    flat = " ".join(out.split())
    assert f"[300 terms, {len(long_expr):,} characters]" in flat
    assert "`edkit verify long-one --json` prints them whole" in flat
    code, out, _ = run(capsys, "verify", "long-one", "--json")
    assert json.loads(out)["checks"][0]["coefficients"]["A_closed"] == long_expr


# ------------------------------------------------------------------ errors and --debug
def _raise(exc: BaseException):
    def command(args):
        raise exc

    return command


def test_a_bug_is_an_internal_error_with_exit_code_1(capsys, monkeypatch):
    import edkit.cli

    monkeypatch.setattr(edkit.cli, "cmd_models", _raise(RuntimeError("boom")))
    code, out, err = run(capsys, "models")
    assert code == 1 and out == ""
    assert err.strip() == ("edkit: internal error: RuntimeError: boom (this is a bug in edkit; run again "
                           "with --debug for the traceback)")
    assert "Traceback" not in err


@pytest.mark.parametrize("exc", [KeyError("x"), ValueError("bad"), MemoryError(), TypeError("t")])
def test_no_bare_exception_is_reported_as_bad_input(capsys, monkeypatch, exc):
    """Issue 12.5: only EdkitError means "your input"; a KeyError from a bug is not exit code 2."""
    import edkit.cli

    monkeypatch.setattr(edkit.cli, "cmd_models", _raise(exc))
    code, _, err = run(capsys, "models")
    assert code == 1
    assert err.startswith(f"edkit: internal error: {type(exc).__name__}")
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["--debug", "models"], ["models", "--debug"]])
def test_debug_prints_the_traceback(capsys, monkeypatch, argv):
    import edkit.cli

    monkeypatch.setattr(edkit.cli, "cmd_models", _raise(RuntimeError("boom")))
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert "Traceback (most recent call last)" in err and "RuntimeError: boom" in err
    assert err.rstrip().endswith("(this is a bug in edkit; the traceback is above)")


def test_edkit_errors_exit_2_and_convergence_exit_1(capsys, monkeypatch):
    import edkit.cli
    from edkit.core.errors import EdkitError
    from edkit.engine.solver import ConvergenceError

    class CustomError(EdkitError):
        pass

    monkeypatch.setattr(edkit.cli, "cmd_models", _raise(CustomError("cannot do that")))
    code, out, err = run(capsys, "models")
    assert (code, out, err) == (2, "", "edkit: error: cannot do that\n")
    code, _, err = run(capsys, "--debug", "models")
    assert code == 2 and "Traceback" in err and err.endswith("edkit: error: cannot do that\n")
    monkeypatch.setattr(edkit.cli, "cmd_models", _raise(ConvergenceError("no luck")))
    code, _, err = run(capsys, "models")
    assert (code, err) == (1, "edkit: error: no luck\n")


def test_interrupt_is_one_line_and_exit_130(capsys, monkeypatch):
    import edkit.cli

    monkeypatch.setattr(edkit.cli, "cmd_models", _raise(KeyboardInterrupt()))
    code, _, err = run(capsys, "models")
    assert (code, err) == (130, "edkit: interrupted\n")


def test_unknown_verification_is_an_edkit_error_and_a_key_error():
    from edkit.core.errors import EdkitError
    from mappings.verifications import UnknownVerificationError, run_catalogue

    with pytest.raises(UnknownVerificationError) as exc:
        run_catalogue(["no-such-check"])
    assert isinstance(exc.value, EdkitError) and isinstance(exc.value, KeyError)
    assert str(exc.value).startswith("unknown verification(s) ['no-such-check']")  # no KeyError quotes


# -------------------------------------------------------------------- repeated options
def test_distinct_names_in_repeated_options_still_work(capsys):
    data = run_json(capsys, "gaps", "hubbard", "--L", "2", "--param", "U=4", "--param", "t=1",
                    "--sector", "N=2", "--sector", "Sz=0", "--only", "spin_gap", "--only", "charge_gap")
    assert data["params"]["U"] == 4.0 and data["sector"] == {"N": 2, "Sz": 0.0}
    assert data["spin_gap"] is not None and data["charge_gap"] is not None
