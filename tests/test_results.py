"""Typed results of the public API (edkit.observables.results): attributes, JSON keys, mapping view.

Numbers are checked against the two-site Hubbard closed form (singlet ground state
``U/2 - sqrt(U^2/4 + 4t^2)``), never against earlier output of the code.
"""

from __future__ import annotations

import json
import math

import pytest

import edkit
from edkit.api import CorrelationsResult, GapsResult, SpectrumResult
from edkit.cli import main

U = 4.0
E_DIMER = U / 2 - math.sqrt(U * U / 4 + 4)


def test_spectrum_result_is_typed_and_keeps_the_json_keys(capsys):
    r = edkit.spectrum("hubbard", {"U": U}, N=2, Sz=0, L=2, nev=2)
    assert isinstance(r, SpectrumResult)
    assert r.energies[0] == pytest.approx(E_DIMER, abs=1e-12)
    assert r["energies"] == r.energies and r.dimension == 4 and "levels" in r
    main(["spectrum", "hubbard", "--L", "2", "--param", f"U={U}", "--nev", "2", "--json"])
    cli = json.loads(capsys.readouterr().out)
    assert list(cli) == list(r.to_dict())  # same keys, same order as the command line's JSON
    assert json.loads(json.dumps(r.to_dict()))["energies"] == pytest.approx(r.energies)
    assert dict(r) == r.to_dict() and r == r.to_dict()


def test_gaps_result_has_one_attribute_per_registered_gap():
    g = edkit.gaps("hubbard", {"U": U}, N=2, L=2)
    assert isinstance(g, GapsResult)
    from edkit.observables.gaps import GAP_NAMES

    assert set(GAP_NAMES) <= set(g) and all(getattr(g, name) == g[name] for name in GAP_NAMES)
    assert g.energy == pytest.approx(E_DIMER, abs=1e-12)
    # spin gap of the dimer: triplet (E = 0) minus singlet
    assert g.spin_gap == pytest.approx(-E_DIMER, abs=1e-12)
    with pytest.raises(AttributeError):
        g.no_such_gap  # noqa: B018


def test_correlations_result_and_its_mapping_view():
    c = edkit.correlations("hubbard", {"U": U}, N=2, Sz=0, L=2)
    assert isinstance(c, CorrelationsResult)
    assert c.energy == pytest.approx(E_DIMER, abs=1e-12)
    rows = c.layers["c"]
    # N(0, j) = <(n_0 - 1)(n_j - 1)>: summed over j it is <(n_0 - 1)(N - L)> = 0 at N = L = 2
    assert rows["N"][0] + rows["N"][1] == pytest.approx(0.0, abs=1e-12)
    assert {**c}["reference"] == 0 and c.ground_state_degeneracy == 1
