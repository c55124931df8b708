"""Property-based tests: random text never makes edkit fail with anything but a clean refusal.

Random strings (any unicode, and number-like text with exponents, fractions, signs and non-ASCII
digits) go to ``--param``, ``--sector``, the sweep's range parser and ``edkit compare`` cells. The
command line must answer with exit code 0 (or 1 for compared values outside tolerance) or 2 with
one ``edkit: error:`` line, never a traceback or an internal error; the API must return or raise
an :class:`~edkit.core.errors.EdkitError`. Examples are derandomized (the same on every run) and
bounded, and each runs on the smallest models (``edkit plan hubbard --L 2``, one two-site ED).
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from edkit.cli import main  # noqa: E402
from edkit.core.errors import EdkitError  # noqa: E402
from edkit.core.params import ParameterError, parse_number  # noqa: E402

FUZZ = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

#: Digits of several scripts (ASCII, full width, Arabic-Indic, Devanagari, superscripts) and the
#: characters of number syntax.
NUMBERISH = ("0123456789" "\uff10\uff14\uff19" "\u0660\u0664" "\u0966\u096a" "\u00b2\u00b3\u2074"
             "eE+-./ _:,jx")

texts = st.one_of(
    st.text(max_size=30),  # any unicode (no surrogates)
    st.text(alphabet=NUMBERISH, max_size=14),
    st.builds(lambda m, e: f"{m}e{e}", st.floats(allow_nan=False, allow_infinity=False).map(repr),
              st.integers(-2000, 2000)),
    st.builds(lambda a, b: f"{a}/{b}", st.integers(-10**6, 10**6), st.integers(-10, 10**6)),
    st.floats().map(repr),
    st.integers().map(str),
)


def _parses(text: str) -> float | None:
    try:
        return parse_number(text)
    except ParameterError:
        return None


def _cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _clean(code: int, out: str, err: str, allowed: tuple[int, ...] = (0, 2)) -> None:
    assert code in allowed, (code, err[-2000:])
    assert "Traceback" not in err and "Traceback" not in out, err
    assert "internal error" not in err, err
    if code == 2:
        lines = err.strip().splitlines()
        assert lines and ("error:" in lines[-1]), err
        if not lines[0].startswith("usage:"):
            assert len(lines) == 1 and err.startswith("edkit: error: "), err


# ------------------------------------------------------------------------- parse_number
@FUZZ
@given(texts)
def test_parse_number_gives_a_finite_float_from_ascii_or_refuses(text):
    try:
        value = parse_number(text)
    except ParameterError as err:
        assert str(err)
        return
    assert isinstance(value, float) and math.isfinite(value)
    assert text.strip().isascii()
    assert value == 0 or abs(value) >= 2.2250738585072014e-308  # nothing silently flushed to 0


# ------------------------------------------------------------------------- --param, --sector
@FUZZ
@given(texts)
def test_param_value(capsys, text):
    code, out, err = _cli(capsys, ["plan", "hubbard", "--L", "2", "--param", f"U={text}", "--json"])
    _clean(code, out, err)
    value = _parses(text) if text.strip() else None
    assert (code == 0) == (value is not None), (text, err)
    if code == 0:
        assert json.loads(out)["params"]["U"] == value


@settings(FUZZ, max_examples=80)
@given(st.text(max_size=20), texts)
def test_param_item(capsys, name, text):
    code, out, err = _cli(capsys, ["plan", "hubbard", "--L", "2", "--param", f"{name}={text}"])
    _clean(code, out, err)


@FUZZ
@given(st.sampled_from(["N", "Sz"]), texts)
def test_sector_value(capsys, name, text):
    code, out, err = _cli(capsys, ["plan", "hubbard", "--L", "2", "--sector", f"{name}={text}", "--json"])
    _clean(code, out, err)
    if code == 0:
        assert _parses(text) is not None


@settings(FUZZ, max_examples=40)
@given(texts)
def test_spectrum_with_a_random_parameter(capsys, text):
    code, out, err = _cli(capsys, ["spectrum", "hubbard", "--L", "2", "--param", f"t={text}", "--json"])
    _clean(code, out, err)


# --------------------------------------------------------------------------- sweep ranges
@FUZZ
@given(st.one_of(texts, st.builds(lambda a, b, c: f"{a}:{b}:{c}", texts, texts, texts),
                 st.builds(lambda a, b: f"{a},{b}", texts, texts)))
def test_sweep_values(text):
    from edkit.workflows.sweep import GridError, parse_grid, parse_values

    try:
        values = parse_values(text, "U")
    except GridError as err:
        assert str(err)
    else:
        assert values and all(isinstance(v, float) and math.isfinite(v) for v in values)
        assert len(set(values)) == len(values)
        if ":" in text:
            assert values == sorted(values)
    try:
        grid = parse_grid([f"U={text}"])
    except EdkitError:
        pass
    else:
        assert set(grid) == {"U"}


@settings(FUZZ, max_examples=60)
@given(texts)
def test_sweep_cli_refuses_bad_ranges(capsys, text):
    import edkit.workflows.sweep as sweep

    try:
        sweep.parse_values(text, "U")
    except EdkitError:
        code, out, err = _cli(capsys, ["sweep", "hubbard", "--L", "2", "--param", f"U={text}",
                                       "--workers", "1", "--no-progress"])
        assert code == 2
        _clean(code, out, err)


# ------------------------------------------------------------------------------ compare
json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children,
                                                                        max_size=3),
    max_leaves=6)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@settings(FUZZ, max_examples=80)
@given(texts, texts)
def test_compare_csv_cells(capsys, scratch, u, energy):
    from edkit.workflows.store import parse_cell

    path = scratch / "cells.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["model", "L", "U", "energy"], ["hubbard", "2", u, energy]])
    code, out, err = _cli(capsys, ["compare", str(path)])
    _clean(code, out, err, allowed=(0, 1, 2))  # 1: the file's energy disagrees with ED
    if code == 1:
        assert err == "" and "FLAGGED" in out
    for cell in (u, energy):
        value = parse_cell(cell)  # the store's CSV reader: never raises
        assert value is None or isinstance(value, (int, float, str))


@settings(FUZZ, max_examples=80)
@given(st.dictionaries(st.sampled_from(["model", "U", "N", "Sz", "energy", "E1", "bond_dim", "bc"]),
                       json_values, max_size=6))
def test_compare_json_points(capsys, scratch, point):
    from edkit.workflows.compare import compare_points

    row = {"model": "hubbard", "L": 2, "energy": -1.0, **point}
    try:
        compare_points([row])
    except EdkitError as err:
        assert str(err)
    path = scratch / "point.json"
    path.write_text(json.dumps([row]))
    code, out, err = _cli(capsys, ["compare", str(path)])
    _clean(code, out, err, allowed=(0, 1, 2))
