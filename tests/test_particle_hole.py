"""The spin-selective particle-hole map and the catalogue of verifications."""

import pytest
import sympy

from edkit.core.lattice import LatticeError
from edkit.models import anderson_lattice, kbp_bilayer
from mappings.algebra import from_model, identity
from mappings.testing import assert_operators_equal
from mappings.transforms import apply_map, check_canonical, check_involution, particle_hole_map
from mappings.verifications import CATALOGUE, run_catalogue


@pytest.mark.parametrize("L,bc", [(2, "open"), (3, "open"), (4, "periodic"), (8, "periodic")])
def test_map_is_canonical_and_an_involution(L, bc):
    ph = particle_hole_map(kbp_bilayer(L, bc))
    assert check_canonical(ph).passed
    assert check_involution(ph).passed


def test_kbp_maps_onto_anderson_with_fields_operator_by_operator():
    # independent statement: fields h_p = U/2 + mu_p, h_m = mu_m, constant -U/4 per rung,
    # derived by hand from n_dn -> 1 - n_dn (see CHANGELOG / transforms docstring)
    L = 4
    kbp, al = kbp_bilayer(L, "periodic"), anderson_lattice(L, "periodic")
    s = al.symbols
    U, mu_p, mu_m = (sympy.Symbol(n, real=True) for n in ("U", "mu_p", "mu_m"))
    expected = from_model(al).subs({s["h_p"]: U / 2 + mu_p, s["h_m"]: mu_m}) + identity() * (-U * L / 4)
    assert_operators_equal(apply_map(from_model(kbp), particle_hole_map(kbp)), expected)


def test_wrong_sign_convention_is_caught():
    kbp = kbp_bilayer(3, "open")
    signs = {(layer, i): (-1) ** i for layer, i in kbp.orbitals}  # same sign on both legs: wrong
    mapped = apply_map(from_model(kbp), particle_hole_map(kbp, signs=signs))
    al = anderson_lattice(3, "open")
    U, mu_p = sympy.Symbol("U", real=True), sympy.Symbol("mu_p", real=True)
    expected = from_model(al).subs({al.symbols["h_p"]: U / 2 + mu_p,
                                    al.symbols["h_m"]: sympy.Symbol("mu_m", real=True)}) - U * 3 / 4
    with pytest.raises(AssertionError, match="t_perp"):
        assert_operators_equal(mapped, expected)


def test_odd_ring_is_refused_naming_the_bond():
    with pytest.raises(LatticeError, match="m4-m0"):
        particle_hole_map(kbp_bilayer(5, "periodic"))


@pytest.mark.slow  # needs the whole catalogue (computed once per session)
def test_catalogue_passes_and_reports_derivations(catalogue):
    results = catalogue  # run_catalogue(), computed once per session (tests/conftest.py)
    assert {"kbp-to-anderson", "correlators-to-spin"} <= set(results)
    assert all(r.passed for r in results.values()), [r.details for r in results.values() if not r.passed]
    kta = results["kbp-to-anderson"]
    U, mu_p = sympy.symbols("U mu_p", real=True)
    assert sympy.simplify(sympy.sympify(kta.coefficients["h_p"], locals={"U": U, "mu_p": mu_p})
                          - (U / 2 + mu_p)) == 0
    assert sympy.simplify(sympy.sympify(kta.coefficients["constant_per_rung"], locals={"U": U}) + U / 4) == 0
    assert any("A9" in p for p in results["correlators-to-spin"].printed)


def test_catalogue_names_are_unique_and_callable():
    assert len(CATALOGUE) == len(set(CATALOGUE))
    with pytest.raises(KeyError, match="unknown verification"):
        run_catalogue(["no-such-check"])


# -------------------------------------------------------- verdicts recorded with their checks
@pytest.mark.slow  # needs the whole catalogue (computed once per session)
def test_every_verification_records_its_checks(catalogue):
    for name, result in catalogue.items():
        assert result.checks, f"{name} records no check"
        assert result.passed is all(c.passed for c in result.checks), name
        assert isinstance(result.passed, bool)


def test_a_failed_check_fails_the_verification_in_the_same_call():
    import numpy as np

    from mappings.result import VerificationResult

    res = VerificationResult("probe", True, "a probe")
    assert res.check("first", np.True_, "first line") is True and res.passed is True
    assert res.check("second", np.False_) is False
    res.check("third", True, "third line")
    res.note("a note")
    assert res.passed is False  # a later passing check does not restore the verdict
    assert [c.name for c in res.failed_checks] == ["second"]
    assert res.details == ["first line", "third line", "a note"]
    assert res.to_dict()["checks"][1] == {"name": "second", "passed": False, "detail": ""}


def test_no_verdict_is_kept_by_hand():
    """Verdicts change only through ``VerificationResult.check`` (no ``passed &= ...`` to forget)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "mappings"
    pattern = re.compile(r"\.passed\s*(&=|\|=|=(?!=))")
    offenders = [f"{p.relative_to(root)}:{k}" for p in sorted(root.rglob("*.py")) if p.name != "result.py"
                 for k, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, offenders
