"""``edkit dynamics`` refuses bad input with exit code 2 and a message, before any basis is built.

Each row runs in-process through :func:`edkit.cli.main` with the QuSpin build path
(``make_space``, ``operator_matrix``) and the matrix-free Hamiltonian replaced by traps, so a
refusal that came only after building something fails the row.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import edkit.engine.backend_quspin
import edkit.engine.matfree
from edkit.cli import main

BASE = ["dynamics", "hubbard", "--L", "4", "--bc", "periodic"]
GOOD = {"--operator": "sz", "--q": "pi", "--omega": "-1:5:11", "--eta": "0.1"}


def argv(**changes: str | None) -> list[str]:
    opts = dict(GOOD)
    for key, value in changes.items():
        flag = "--" + key
        if value is None:
            opts.pop(flag)
        else:
            opts[flag] = value
    out = list(BASE)
    for k, v in opts.items():
        out += [f"{k}={v}"]
    return out


CASES = [
    (argv(omega="0:4:0"), r"0 points; COUNT must be at least 1"),
    (argv(omega="0:4:-3"), r"COUNT must be at least 1"),
    (argv(omega="0:4:2.5"), r"COUNT must be an integer"),
    (argv(omega="0:4"), r"START:STOP:COUNT"),
    (argv(omega="4:0:5"), r"STOP must be larger than START"),
    (argv(omega="x:1:3"), r"not a number"),
    (argv(eta="0"), r"--eta must be positive"),
    (argv(eta="-0.5"), r"--eta must be positive"),
    (argv(eta="nan"), r"--eta must be a positive number"),
    (argv(q="abc"), r"--q must be a number in radians"),
    (argv(q="__import__('os').system('true')"), r"--q must be a number in radians"),
    (argv(q="pi**2"), r"--q must be a number in radians"),
    (argv(q="inf"), r"--q must be a number in radians"),
    (argv(tau="-1:1:3"), r"tau: points must be at least 0"),
    (argv(tau="0:1:0"), r"COUNT must be at least 1"),
    (argv(beta="2"), r"--beta needs a --tau grid"),
    (argv(beta="0", tau="0:1:3"), r"--beta must be positive"),
    (argv(beta="1", tau="0:2:3"), r"tau must lie in 0..beta"),
    (argv(beta="1", tau="0:1:3", method="lanczos"), r"finite --beta needs --method exact"),
    (argv(layer="p"), r"has no layer 'p'"),
    (argv(steps="0"), r"--steps must be a positive integer"),
    ([*argv(), "--param", "X=1"], r"unknown parameter"),
    ([*argv(), "--param", "U=abc"], r"not a number"),
    ([*argv(), "--sector", "N=99"], r"N=99 is outside"),
    (["dynamics", "hamo", *[f"{k}={v}" for k, v in GOOD.items()]], r"spinless: operator 'sz' needs spin"),
    (["dynamics", "hamo", "--operator=pair", "--q=0", "--omega=0:1:3", "--eta=0.1"], r"spinless"),
    (["dynamics", "kondo", "--L", "3", "--operator=c_up", "--q=0", "--omega=0:1:3", "--eta=0.1"],
     r"breaks the constraint .*--layer"),
    (["dynamics", "two-wire", "--L", "3", "--operator=n", "--q=0", "--omega=0:1:3", "--eta=0.1"],
     r"space"),
    (["dynamics", "hubbard", "--L", "10", "--operator=sz", "--q=0", "--omega=0:1:3", "--eta=0.1",
      "--method=exact"], r"at most 6,000.*--method lanczos"),
]


@pytest.fixture
def traps(monkeypatch):
    def trap(*args, **kwargs):
        raise AssertionError("a basis or Hamiltonian was built before the input was refused")

    monkeypatch.setattr(edkit.engine.backend_quspin, "make_space", trap)
    monkeypatch.setattr(edkit.engine.backend_quspin, "operator_matrix", trap)
    monkeypatch.setattr(edkit.engine.matfree, "MatrixFreeHamiltonian", trap)


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(c[0][1:])[:60] for c in CASES])
def test_refused_before_any_work(args, message, traps, capsys):
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert re.search(message, err), err


def test_unknown_operator_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(argv(operator="sx"))
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_negative_grids_and_momenta_are_values(capsys):
    """``--omega -4:4:3`` is read as a value; ``--q=-pi/2`` as a momentum."""
    code = main([*BASE, "--operator", "sz", "--q=-pi/2", "--omega", "-4:4:3", "--eta", "0.1", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["omega"] == [-4.0, 0.0, 4.0]
    assert data["q"] == pytest.approx(-1.5707963267948966)


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from edkit.core.errors import InputError  # noqa: E402
from edkit.response import parse_grid, parse_q  # noqa: E402

TEXT = st.one_of(st.text(max_size=30), st.text(alphabet="0123456789\u0663pi*/.:+-eE ", max_size=16))


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(TEXT)
def test_momentum_and_grid_parsers_refuse_cleanly(text):
    """Random text: a finite number / grid, or an InputError; never another exception."""
    try:
        assert math.isfinite(parse_q(text))
    except InputError:
        pass
    try:
        grid = parse_grid(text, "omega")
        assert grid.size >= 1 and np.all(np.isfinite(grid))
    except InputError:
        pass
