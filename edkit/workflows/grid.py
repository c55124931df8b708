"""Sweep grids: the ``--param NAME=SPEC`` syntax and the identity (key) of one point.

Grid syntax (command line ``--param NAME=SPEC`` and the Python API)
---------------------------------------------------------------------
- ``start:stop:count``: ``count`` values from ``start`` to ``stop`` **inclusive**, equally
  spaced (``0.1:1.0:10`` is 0.1, 0.2, ..., 1.0). ``count`` is a positive integer; ``start``
  must be below ``stop`` (a reversed range is refused); ``count = 1`` needs ``start == stop``.
  The values are computed in exact rational arithmetic and rounded once, so ``0.1:1.0:10``
  gives the floats nearest to 0.1, 0.2, ... (not ``0.30000000000000004``).
- ``a,b,c``: a list of values (no duplicates).
- ``a``: a single value.

Values are numbers only (``4``, ``-0.5``, ``1e-3``, ``1/3``); nothing is evaluated.

A point's key (:func:`point_key`) is the hash of everything that determines its result; the
results store uses it as primary key, so a point is never stored twice.

Imports nothing from the rest of :mod:`edkit.workflows` (the lowest layer of sweeps).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

from edkit.core.errors import EdkitError

_COUNT = re.compile(r"^\+?\d+$")
MAX_AXIS = 1_000_000


class GridError(EdkitError, ValueError):
    """A malformed value, range or grid."""


def _exact(text: str, where: str) -> Fraction:
    """A user number as an exact fraction, after the same strict check as every parameter."""
    from edkit.core.params import ParameterError, parse_number

    try:
        parse_number(text)  # the one gate for user numbers: refuses anything but a number
    except ParameterError as err:
        raise GridError(f"{where}: {err}") from None
    s = text.strip()
    if "/" in s:
        num, den = s.split("/")
        return Fraction(num.strip()) / Fraction(den.strip())
    return Fraction(s)


def parse_values(spec: str | int | float | Sequence[int | float], name: str = "value") -> list[float]:
    """Values of one grid axis from ``start:stop:count``, ``a,b,c`` or a single value.

    Parameters
    ----------
    spec
        The text (see the module docs), a number, or a sequence of numbers.
    name
        Used in error messages.

    Returns
    -------
    list of float
        In ascending order for a range; as given for a list.

    Raises
    ------
    GridError
        Non-numeric text, a count that is not a positive integer, a reversed or empty range,
        ``count = 1`` with ``start != stop``, or duplicate values.
    """
    if isinstance(spec, bool):
        raise GridError(f"{name}: {spec!r} is not a number")
    if isinstance(spec, (int, float)):
        values = [float(spec)]
    elif isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise GridError(f"{name}: empty value")
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise GridError(f"{name}: a range is start:stop:count, got {spec!r}")
            start, stop = (_exact(p, f"{name} range {spec!r}") for p in parts[:2])
            count_text = parts[2].strip()
            if not _COUNT.match(count_text) or int(count_text) < 1:
                raise GridError(f"{name}: the count of {spec!r} must be a positive integer "
                                f"(number of points, start and stop included), got {count_text!r}")
            count = int(count_text)
            if count > MAX_AXIS:
                raise GridError(f"{name}: {count} points in one axis is more than a sweep should hold")
            if start > stop:
                raise GridError(f"{name}: range {spec!r} is reversed (start > stop); "
                                "write it ascending")
            if count == 1 and start != stop:
                raise GridError(f"{name}: range {spec!r} has one point but start != stop; "
                                "give count >= 2 or a single value")
            if count > 1 and start == stop:
                raise GridError(f"{name}: range {spec!r} repeats one value {count} times")
            if count == 1:
                return [float(start)]
            step = (stop - start) / (count - 1)
            return [float(start + k * step) for k in range(count)]
        values = [float(_exact(p, f"{name} list {spec!r}")) for p in text.split(",")]
    else:
        values = []
        for v in spec:
            if isinstance(v, bool):
                raise GridError(f"{name}: {v!r} is not a number")
            try:
                values.append(float(v))
            except (TypeError, ValueError):
                raise GridError(f"{name}: {v!r} is not a number") from None
    if not values:
        raise GridError(f"{name}: no values")
    if any(not math.isfinite(v) for v in values):
        raise GridError(f"{name}: values must be finite, got {values}")
    if len(set(values)) != len(values):
        raise GridError(f"{name}: duplicate values in {spec!r}")
    return values


def parse_sizes(spec: str | int | Sequence[int]) -> list[int]:
    """Sizes ``L`` from ``4``, ``2,3,4`` or ``2:8:4``; every value a positive integer."""
    values = parse_values(spec if not isinstance(spec, int) or isinstance(spec, bool) else [spec], "L")
    if any(v != int(v) or v < 1 for v in values):
        raise GridError(f"L: sizes must be positive integers, got {spec!r}")
    return [int(v) for v in values]


def parse_grid(items: Mapping[str, object] | Iterable[str] | None) -> dict[str, list[float]]:
    """A grid ``{name: values}`` from ``NAME=SPEC`` strings or a mapping ``{name: spec}``.

    Raises
    ------
    GridError
        Malformed items, a name given twice, or a malformed axis (see :func:`parse_values`).
    """
    grid: dict[str, list[float]] = {}
    if items is None:
        return grid
    if isinstance(items, Mapping):
        pairs = [(str(k), v) for k, v in items.items()]
    else:
        pairs = []
        for item in items:
            name, sep, value = str(item).partition("=")
            if not sep or not name.strip() or not value.strip():
                raise GridError(f"--param expects NAME=SPEC (start:stop:count, a,b,c or a value), "
                                f"got {item!r}")
            pairs.append((name.strip(), value.strip()))
    for name, spec in pairs:
        if name in grid:
            raise GridError(f"parameter {name} is given twice")
        grid[name] = parse_values(spec, name)  # type: ignore[arg-type]
    return grid


def canonical_json(obj: object) -> str:
    """Deterministic JSON (sorted keys, exact float repr) used for keys and storage."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def point_key(task: Mapping[str, object]) -> str:
    """Identity of a point: hash of model, L, bc, all parameters, sector, observable, options."""
    ident = {k: task[k] for k in ("model", "L", "bc", "params", "sector", "observable", "options")}
    return "p" + hashlib.sha256(canonical_json(ident).encode()).hexdigest()[:32]


__all__ = ["GridError", "canonical_json", "parse_grid", "parse_sizes", "parse_values", "point_key"]
