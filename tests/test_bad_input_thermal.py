"""Bad input to ``edkit thermal`` and :func:`edkit.thermodynamics.thermal_averages`: exit 2 (an EdkitError)
with a one-line message, before any sector is solved."""

from __future__ import annotations

import pytest

import edkit.thermodynamics.run as run_module
from edkit.cli import main
from edkit.core.errors import EdkitError
from edkit.models import build_model
from edkit.thermodynamics import thermal_averages

BASE = ["thermal", "hubbard", "--L", "4"]

CASES = [
    ("beta-zero", [*BASE, "--beta", "0"], "positive"),
    ("beta-negative", [*BASE, "--beta", "1,-2"], "positive"),
    ("beta-text", [*BASE, "--beta", "hot"], "beta"),
    ("beta-empty-entry", [*BASE, "--beta", "1,,2"], "empty entry"),
    ("beta-infinite", [*BASE, "--beta", "inf"], "beta"),
    ("samples-zero", [*BASE, "--beta", "1", "--samples", "0"], "--samples must be at least 1"),
    ("steps-zero", [*BASE, "--beta", "1", "--steps", "0"], "--steps must be at least 1"),
    ("seed-negative", [*BASE, "--beta", "1", "--seed", "-1"], "--seed"),
    ("sector-with-mu", [*BASE, "--beta", "1", "--mu", "0", "--sector", "N=4"], "--sector and --mu"),
    ("mu-text", [*BASE, "--beta", "1", "--mu", "lots"], "--mu must be a number"),
    ("unknown-parameter", [*BASE, "--beta", "1", "--param", "V=1"], "unknown parameter"),
    ("unknown-observable", [*BASE, "--beta", "1", "--observables", "X:c:0:1"], "unknown thermal observable"),
    ("site-out-of-range", [*BASE, "--beta", "1", "--observables", "C:c:0:9"], "unknown thermal observable"),
    ("impossible-sector", [*BASE, "--beta", "1", "--sector", "N=99"], "N=99"),
    ("exact-too-large", ["thermal", "kbp", "--L", "7", "--beta", "1", "--method", "exact"],
     "full diagonalization.*ftlm"),
]


@pytest.fixture
def no_work(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a sector was solved before the input was checked")

    monkeypatch.setattr(run_module, "_ftlm_sector", refuse)
    monkeypatch.setattr("edkit.thermodynamics.exact.exact_sample", refuse)


@pytest.mark.parametrize("argv, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cli_refuses_before_any_work(argv, pattern, capsys, no_work):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == "" and err.startswith("edkit: error: ") and len(err.strip().splitlines()) == 1, err
    import re

    assert re.search(pattern, err), err


API = [
    ({"betas": []}, "at least one"),
    ({"betas": [1], "samples": 0}, "samples"),
    ({"betas": [1], "steps": 0}, "steps"),
    ({"betas": [1], "method": "lanczos"}, "method"),
    ({"betas": [1], "samples": 2.5}, "samples"),
    ({"betas": [1], "sector": {"N": 4}, "mu": 0.0}, "sector"),
    ({"betas": [1], "mu": float("nan")}, "mu"),
    ({"betas": [True]}, "beta"),
    ({"betas": [1], "observables": ["correlations", "nonsense"]}, "unknown thermal observable"),
]


@pytest.mark.parametrize("kwargs, pattern", API, ids=[a[1] + str(i) for i, a in enumerate(API)])
def test_api_refuses_with_an_edkit_error(kwargs, pattern, no_work):
    with pytest.raises(EdkitError, match=pattern):
        thermal_averages(build_model("hubbard", 4, "open"), {"U": 4}, **kwargs)


def test_cli_json_has_the_issue_keys(capsys):
    import json

    assert main([*BASE, "--param", "U=4", "--beta", "0.5,2", "--mu", "0.5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data)[:7] == ["model", "L", "bc", "params", "ensemble", "method", "points"]
    assert data["ensemble"] == "grand-canonical" and data["method"] == "exact" and data["mu"] == 0.5
    point = data["points"][0]
    assert list(point)[:3] == ["beta", "energy", "energy_error"]
    for q in ("specific_heat", "N", "double_occupancy", "spin_susceptibility", "charge_susceptibility"):
        assert q in point and f"{q}_error" in point


def test_cli_text_table(capsys):
    assert main([*BASE, "--beta", "1", "--method", "ftlm", "--samples", "4", "--steps", "20",
                 "--observables", "N:c:0:1"]) == 0
    out = capsys.readouterr().out
    assert "canonical ensemble, sector N=4" in out and "+-" in out and "N:c:0:1" in out
