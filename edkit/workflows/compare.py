"""Compare a user's DMRG/QMC results with ED, point by point (``edkit compare FILE``).

Input
-----
CSV (header row) or JSON. Each row (point) holds:

- ``model``, ``L``, ``bc`` (optional when given on the command line; ``bc`` defaults to open);
- parameter values, one column per model parameter (missing ones take their defaults);
- sector values ``N``, ``Sz`` (and any other sector name of the model); default half filling
  at the lowest ``|Sz|``;
- quantities to check, any of:

  * ``energy``: ground-state energy of the sector;
  * ``E0``, ``E1``, ...: the lowest levels of the sector;
  * ``charge_gap``, ``spin_gap``, ``pair_binding``, ``neutral_gap`` (see :mod:`edkit.api`);
  * correlators ``KEY:layer:i:j`` with ``KEY`` in ``C, N, S, SzSz, SxSx, SySy`` (the
    definitions of :func:`edkit.api.correlations`; a degenerate ground state is averaged
    over its levels), e.g. ``SzSz:c:0:1``;

- optional error bars ``<quantity>_err`` (e.g. QMC statistical errors).

Other columns (bond dimension, truncation error, labels ...) are ignored and listed in the
report. JSON is either a list of such flat objects or ``{"model": ..., "L": ..., "bc": ...,
"points": [...]}``; a point may nest ``params``, ``sector`` and ``correlators`` objects.

A value is flagged when ``|file - ED| > max(atol, rtol * |ED|, nsigma * err)``. Every row is
validated before any diagonalization. Numbers are parsed as numbers only (nothing evaluated).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edkit.core.errors import EdkitError

GAP_KEYS = ("charge_gap", "spin_gap", "pair_binding", "neutral_gap")
CORRELATOR_KEYS = ("C", "N", "S", "SzSz", "SxSx", "SySy")
_LEVEL = re.compile(r"^E(\d+)$")
_CORR = re.compile(r"^(C|N|S|SzSz|SxSx|SySy):([A-Za-z_][A-Za-z0-9_]*):(\d+):(\d+)$")
MAX_ROWS = 10_000


class CompareError(EdkitError, ValueError):
    """A results file that cannot be read or a row that cannot be compared."""


@dataclass
class Deviation:
    """One compared value."""

    row: int
    quantity: str
    value: float
    ed: float | None
    deviation: float | None
    tolerance: float
    ok: bool
    note: str = ""


@dataclass
class PointReport:
    """All compared values of one row."""

    row: int
    model: str
    L: int
    bc: str
    params: dict[str, float]
    sector: dict[str, float]
    values: list[Deviation] = field(default_factory=list)


@dataclass
class CompareReport:
    """The whole comparison."""

    points: list[PointReport]
    ignored_columns: list[str]
    atol: float
    rtol: float
    nsigma: float

    @property
    def n_values(self) -> int:
        return sum(len(p.values) for p in self.points)

    @property
    def flagged(self) -> list[Deviation]:
        """Values outside tolerance."""
        return [d for p in self.points for d in p.values if not d.ok]

    @property
    def ok(self) -> bool:
        return not self.flagged

    def to_dict(self) -> dict:
        """Plain data for JSON."""
        return {"ok": self.ok, "n_values": self.n_values, "n_flagged": len(self.flagged),
                "atol": self.atol, "rtol": self.rtol, "nsigma": self.nsigma,
                "ignored_columns": self.ignored_columns,
                "points": [asdict(p) for p in self.points]}

    def text(self) -> str:
        """A readable report, one line per compared value."""
        lines = []
        for p in self.points:
            params = " ".join(f"{k}={v:g}" for k, v in p.params.items())
            sector = " ".join(f"{k}={v:g}" for k, v in p.sector.items())
            lines.append(f"row {p.row}: {p.model} L={p.L} {p.bc} {params} | {sector}")
            for d in p.values:
                ed = "undefined" if d.ed is None else f"{d.ed:.12f}"
                dev = "" if d.deviation is None else f"{d.deviation:+.3e}"
                flag = "ok" if d.ok else "FLAGGED"
                note = f" ({d.note})" if d.note else ""
                lines.append(f"    {d.quantity:16s} file {d.value:.12f}  ED {ed}  dev {dev:>10s}  "
                             f"tol {d.tolerance:.1e}  {flag}{note}")
        if self.ignored_columns:
            lines.append(f"ignored columns: {', '.join(self.ignored_columns)}")
        bad = self.flagged
        lines.append(f"{self.n_values - len(bad)}/{self.n_values} values agree with ED within tolerance"
                     + ("; flagged: " + ", ".join(f"row {d.row} {d.quantity}" for d in bad) if bad else ""))
        return "\n".join(lines)


# ---------------------------------------------------------------------------- reading
def load_points(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a CSV or JSON results file as flat dicts (values still raw)."""
    path = Path(path)
    if not path.is_file():
        raise CompareError(f"{path}: no such file")
    text = path.read_text()
    suffix = path.suffix.lower()
    if suffix == ".json" or (suffix != ".csv" and text.lstrip()[:1] in "[{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise CompareError(f"{path}: not valid JSON ({err})") from None
        return _flatten_json(data, path)
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise CompareError(f"{path}: no data rows (a CSV needs a header and one row per point)")
    out = []
    for k, r in enumerate(rows, start=1):
        if None in r:
            raise CompareError(f"{path}: row {k} has more cells than the header")
        out.append({(key or "").strip(): (v.strip() if isinstance(v, str) else v) for key, v in r.items()})
    return out


def _flatten_json(data: Any, path: Path) -> list[dict[str, Any]]:
    defaults: dict[str, Any] = {}
    if isinstance(data, Mapping):
        points = data.get("points")
        if not isinstance(points, list):
            raise CompareError(f"{path}: a JSON object needs a list 'points'")
        defaults = {k: v for k, v in data.items() if k in ("model", "L", "bc")}
    elif isinstance(data, list):
        points = data
    else:
        raise CompareError(f"{path}: JSON must be a list of points or an object with 'points'")
    out = []
    for k, p in enumerate(points, start=1):
        if not isinstance(p, Mapping):
            raise CompareError(f"{path}: point {k} is not an object")
        flat = dict(defaults)
        for key, v in p.items():
            if key in ("params", "sector", "correlators", "quantities") and isinstance(v, Mapping):
                flat.update(v)
            else:
                flat[key] = v
        out.append(flat)
    return out


def _number(v: Any, where: str) -> float:
    from edkit.core.params import ParameterError, parse_number

    if isinstance(v, bool):
        raise CompareError(f"{where}: {v!r} is not a number")
    if isinstance(v, (int, float)):
        if not math.isfinite(v):
            raise CompareError(f"{where}: {v!r} is not a finite number")
        return float(v)
    if isinstance(v, str):
        try:
            return parse_number(v)
        except ParameterError as err:
            raise CompareError(f"{where}: {err}") from None
    raise CompareError(f"{where}: {v!r} is not a number")


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, str) and v.strip() == "")


# ---------------------------------------------------------------------------- planning
@dataclass
class _Plan:
    row: int
    model: Any
    params: dict[str, float]
    shown_params: dict[str, float]
    sector: dict[str, Any]
    quantities: dict[str, float]
    errors: dict[str, float]


def _plan(rows: list[dict[str, Any]], model: str | None, L: int | None, bc: str | None
          ) -> tuple[list[_Plan], list[str]]:
    from edkit.core.model import SectorError
    from edkit.core.params import ParameterError
    from edkit.engine.planning import check_fits
    from edkit.models import build_model

    if len(rows) > MAX_ROWS:
        raise CompareError(f"{len(rows)} rows: more than {MAX_ROWS} points to diagonalize")
    models: dict[tuple, Any] = {}
    plans: list[_Plan] = []
    ignored: list[str] = []
    for n, raw in enumerate(rows, start=1):
        where = f"row {n}"
        name = raw.get("model") if _present(raw.get("model")) else model
        if not name:
            raise CompareError(f"{where}: no model (add a 'model' column or pass --model)")
        size = raw.get("L") if _present(raw.get("L")) else L
        if size is None:
            raise CompareError(f"{where}: no L (add an 'L' column or pass --L)")
        size_f = _number(size, f"{where} L")
        if size_f != int(size_f) or size_f < 1:
            raise CompareError(f"{where}: L must be a positive integer, got {size!r}")
        boundary = raw.get("bc") if _present(raw.get("bc")) else (bc or "open")
        key = (str(name), int(size_f), str(boundary))
        if key not in models:
            models[key] = build_model(*key)
        m = models[key]
        params: dict[str, float] = {}
        sector: dict[str, Any] = {}
        quantities: dict[str, float] = {}
        errors: dict[str, float] = {}
        for col, v in raw.items():
            if col in ("model", "L", "bc") or not _present(v):
                continue
            if col in m.parameters:
                params[col] = _number(v, f"{where} {col}")
            elif col in m.sector_names:
                sector[col] = _number(v, f"{where} {col}")
            elif _is_quantity(col):
                quantities[col] = _number(v, f"{where} {col}")
            elif col.endswith("_err") and _is_quantity(col[:-4]):
                e = _number(v, f"{where} {col}")
                if e < 0:
                    raise CompareError(f"{where}: error bar {col} is negative")
                errors[col[:-4]] = e
            elif col not in ignored:
                ignored.append(col)
        try:
            resolved = m.resolve(params)
        except ParameterError as err:
            raise CompareError(f"{where}: {err}") from None
        try:
            sector = m.resolve_sector(sector)
        except SectorError as err:
            raise CompareError(f"{where}: {err}") from None
        if not quantities:
            raise CompareError(f"{where}: nothing to compare (columns such as energy, E0, charge_gap, "
                               "SzSz:c:0:1)")
        extra = {k: v for k, v in sector.items() if k not in ("N", "Sz")}
        try:
            sec = m.sector(sector["N"], sector.get("Sz") if m.spinful else None, **extra)
            check_fits(m, sec)
        except SectorError as err:
            raise CompareError(f"{where}: {err}") from None
        for q in quantities:
            c = _CORR.match(q)
            if c:
                if not m.spinful:
                    raise CompareError(f"{where}: {q}: correlators need a spinful model")
                layer, i, j = c.group(2), int(c.group(3)), int(c.group(4))
                if layer not in m.lattice.layers:
                    raise CompareError(f"{where}: {q}: layer {layer!r} not in {list(m.lattice.layers)}")
                if not (i < m.lattice.L and j < m.lattice.L):
                    raise CompareError(f"{where}: {q}: sites must be in 0..{m.lattice.L - 1}")
        plans.append(_Plan(n, m, resolved, params, sector, quantities, errors))
    return plans, ignored


def _is_quantity(col: str) -> bool:
    return col == "energy" or col in GAP_KEYS or bool(_LEVEL.match(col)) or bool(_CORR.match(col))


# ---------------------------------------------------------------------------- computing
def _ed_values(p: _Plan) -> dict[str, float | None]:
    from edkit import api

    m, vals = p.model, p.params
    N = p.sector["N"]
    Sz = p.sector.get("Sz") if m.spinful else None
    extra = {k: v for k, v in p.sector.items() if k not in ("N", "Sz")}
    out: dict[str, float | None] = {}
    qs = p.quantities
    levels = [int(_LEVEL.match(q).group(1)) for q in qs if _LEVEL.match(q)]
    nev = max(levels) + 1 if levels else 1
    if levels or "energy" in qs:
        sp = api.spectrum(m, vals, N=N, Sz=Sz, nev=nev, extra=extra, labels=False)
        out["energy"] = sp["energies"][0]
        for k in levels:
            out[f"E{k}"] = sp["energies"][k] if k < len(sp["energies"]) else None
    if any(q in GAP_KEYS for q in qs):
        wanted = [k for k in GAP_KEYS if k in qs]
        g = api.gaps(m, vals, N=N, Sz=Sz, extra=extra, only=wanted)  # only the sectors they need
        out.update({k: g[k] for k in wanted})
    refs: dict[int, set[str]] = {}
    for q in qs:
        c = _CORR.match(q)
        if c:
            refs.setdefault(int(c.group(3)), set()).add(c.group(2))
    for ref, layers in refs.items():
        data = api.correlations(m, vals, N=N, Sz=Sz, reference=ref, layers=tuple(sorted(layers)),
                                extra=extra)
        for layer, rows in data["layers"].items():
            for key in CORRELATOR_KEYS:
                for j, v in enumerate(rows[key]):
                    out[f"{key}:{layer}:{ref}:{j}"] = v
    return out


def compare_points(rows: list[dict[str, Any]], *, model: str | None = None, L: int | None = None,
                   bc: str | None = None, atol: float = 1e-6, rtol: float = 0.0,
                   nsigma: float = 3.0) -> CompareReport:
    """Compare rows (flat dicts, see the module docs) with ED.

    Raises
    ------
    CompareError, UnknownModelError, LatticeError, TooLargeError
        For a row that cannot be compared, before any diagonalization.
    """
    for name, v in (("atol", atol), ("rtol", rtol), ("nsigma", nsigma)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise CompareError(f"{name} must be a finite number >= 0, got {v!r}")
    plans, ignored = _plan(rows, model, L, bc)
    points = []
    for p in plans:
        ed = _ed_values(p)
        report = PointReport(p.row, p.model.name, p.model.lattice.L, p.model.lattice.bc,
                             p.shown_params, p.sector)
        for q, value in p.quantities.items():
            ref = ed.get(q)
            err = p.errors.get(q, 0.0)
            if ref is None:
                tol = max(atol, nsigma * err)
                report.values.append(Deviation(p.row, q, value, None, None, tol, False,
                                               "ED value undefined for this sector"))
                continue
            tol = max(atol, rtol * abs(ref), nsigma * err)
            dev = value - ref
            report.values.append(Deviation(p.row, q, value, float(ref), float(dev), tol, abs(dev) <= tol))
        points.append(report)
    return CompareReport(points, ignored, float(atol), float(rtol), float(nsigma))


def compare_file(path: str | os.PathLike, **kwargs: Any) -> CompareReport:
    """Read a CSV/JSON results file and compare every row with ED (see :func:`compare_points`)."""
    return compare_points(load_points(path), **kwargs)


__all__ = ["CompareError", "CompareReport", "Deviation", "PointReport", "compare_file", "compare_points",
           "load_points"]
