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
  * any other column a registered observable claims (:func:`edkit.observables.owners`), e.g. a
    model family's ``D_11`` or ``trion_binding`` (``edkit observables --model NAME`` lists them);

- optional error bars ``<quantity>_err`` (e.g. QMC statistical errors, one standard deviation).

Long format, one quantity per row, is read too: columns ``observable`` (the quantity's name),
``value`` and ``error`` (optional) besides the model, parameter and sector columns; an unknown
observable is refused. Rows with a ``beta`` column are finite-temperature points, compared with
thermal ED (:mod:`edkit.workflows.compare_thermal`: quantities, ensembles, ``mu``).

Other columns (bond dimension, truncation error, labels ...) are ignored and listed in the
report. JSON is either a list of such flat objects or ``{"model": ..., "L": ..., "bc": ...,
"points": [...]}``; a point may nest ``params``, ``sector`` and ``correlators`` objects.

A value is flagged when ``|file - ED| > max(atol, rtol * |ED|, nsigma * err)`` with ``err`` the
combined error ``sqrt(err_file^2 + err_ED^2)`` (``err_ED`` is 0 for exact ED and the sample error
of finite-temperature Lanczos). Values with an error bar also get their deviation in sigmas
``z = (file - ED) / err`` and enter a chi^2 per degree of freedom, overall and per quantity, with
its p-value (:mod:`edkit.workflows.statistics`); with error bars far above ``atol`` (QMC) the
verdict is ``|z| <= nsigma``, and ``atol`` only keeps error bars below ED's own precision from
flagging rounding. Values without error bars (DMRG) are judged by ``atol``/``rtol`` alone. Every
row is validated before any diagonalization. Numbers are parsed as numbers only (nothing evaluated).
"""

from __future__ import annotations

import csv
import json
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edkit.core.errors import EdkitError
from edkit.observables.correlations import COLUMN as _CORR  # KEY:layer:i:j (names from the registry)

MAX_ROWS = 10_000
#: Largest results file read (bytes): far above MAX_ROWS points of a few hundred columns.
MAX_FILE_BYTES = 64 * 2**20


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
    error: float | None = None
    ed_error: float | None = None
    z: float | None = None


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
    beta: float | None = None
    mu: float | None = None
    method: str | None = None


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

    def chi_square(self):
        """chi^2 of all values with an error bar (:class:`~edkit.workflows.statistics.ChiSquare`)."""
        from edkit.workflows.statistics import chi_square

        return chi_square(d.z for p in self.points for d in p.values)

    def by_quantity(self) -> dict[str, dict]:
        """chi^2 per quantity (those with error bars), with its count of flagged values."""
        from edkit.workflows.statistics import chi_square

        zs: dict[str, list[float]] = {}
        bad: dict[str, int] = {}
        for p in self.points:
            for d in p.values:
                if d.z is not None:
                    zs.setdefault(d.quantity, []).append(d.z)
                    bad[d.quantity] = bad.get(d.quantity, 0) + (not d.ok)
        return {q: {**chi_square(v).to_dict(), "n_flagged": bad[q]} for q, v in zs.items()}

    def to_dict(self) -> dict:
        """Plain data for JSON."""
        return {"ok": self.ok, "n_values": self.n_values, "n_flagged": len(self.flagged),
                "atol": self.atol, "rtol": self.rtol, "nsigma": self.nsigma,
                "ignored_columns": self.ignored_columns,
                "points": [asdict(p) for p in self.points],
                **self.chi_square().to_dict(), "by_quantity": self.by_quantity()}

    def text(self) -> str:
        """A readable report, one line per compared value."""
        lines = []
        for p in self.points:
            params = " ".join(f"{k}={v:g}" for k, v in p.params.items())
            sector = " ".join(f"{k}={v:g}" for k, v in p.sector.items()) or (
                "grand-canonical" if p.mu is not None else "")
            thermal = "" if p.beta is None else (
                f" | beta={p.beta:g}" + ("" if p.mu is None else f" mu={p.mu:g}")
                + ("" if p.method is None else f" [{p.method}]"))
            lines.append(f"row {p.row}: {p.model} L={p.L} {p.bc} {params} | {sector}{thermal}")
            for d in p.values:
                ed = "undefined" if d.ed is None else f"{d.ed:.12f}"
                dev = "" if d.deviation is None else f"{d.deviation:+.3e}"
                flag = "ok" if d.ok else "FLAGGED"
                note = f" ({d.note})" if d.note else ""
                file_err = "" if d.error is None else f" ± {d.error:.2e}"
                ed_err = "" if not d.ed_error else f" ± {d.ed_error:.2e}"
                z = "" if d.z is None else f"  z {d.z:+.2f}"
                lines.append(f"    {d.quantity:16s} file {d.value:.12f}{file_err}  ED {ed}{ed_err}  "
                             f"dev {dev:>10s}{z}  tol {d.tolerance:.1e}  {flag}{note}")
        if self.ignored_columns:
            lines.append(f"ignored columns: {', '.join(self.ignored_columns)}")
        bad = self.flagged
        chi = self.chi_square()
        if chi.dof:
            per = ", ".join(f"{q} {c['chi2_per_dof']:.3g} ({c['dof']})"
                            for q, c in self.by_quantity().items())
            p_val = "" if chi.p_value is None else f", p = {chi.p_value:.3g}"
            lines.append(f"chi^2/dof = {chi.chi2:.4g}/{chi.dof} = {chi.chi2_per_dof:.3g}{p_val} over the "
                         f"values with error bars; per quantity: {per}")
        lines.append(f"{self.n_values - len(bad)}/{self.n_values} values agree with ED within tolerance"
                     + (f" (|z| <= {self.nsigma:g} sigma with error bars)" if chi.dof else "")
                     + ("; flagged: " + ", ".join(f"row {d.row} {d.quantity}" for d in bad) if bad else ""))
        return "\n".join(lines)


# ---------------------------------------------------------------------------- reading
def load_points(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a CSV or JSON results file as flat dicts (values still raw).

    The path must name a regular file of at most :data:`MAX_FILE_BYTES` bytes of UTF-8 text;
    directories, devices (``/dev/zero``), pipes and oversized files are refused before reading,
    and no more than the limit is ever read.

    Raises
    ------
    CompareError
        For a missing path, a directory, a file that is not regular, unreadable, too large, not
        UTF-8, not valid CSV/JSON, or without data rows; the message names the reason.
    """
    path = Path(path)
    text = _read_text(path)
    suffix = path.suffix.lower()
    if not text.strip():
        raise CompareError(f"{path}: the file is empty (a CSV needs a header and one row per point)")
    if suffix == ".json" or (suffix != ".csv" and text.lstrip()[:1] in ("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise CompareError(f"{path}: not valid JSON ({err})") from None
        except (ValueError, RecursionError) as err:  # over-long integers, absurd nesting
            raise CompareError(f"{path}: not valid JSON ({type(err).__name__}: {err})") from None
        return _flatten_json(data, path)
    return _csv_rows(text, path)


def _read_text(path: Path) -> str:
    """The text of a regular, readable, not oversized UTF-8 file (the type is checked first)."""
    try:
        info = path.stat()  # follows links; never opens (a FIFO would block, /dev/zero never ends)
    except FileNotFoundError:
        raise CompareError(f"{path}: no such file") from None
    except NotADirectoryError:
        raise CompareError(f"{path}: no such file (a part of the path is not a directory)") from None
    except OSError as err:
        raise CompareError(f"{path}: cannot be read ({err.strerror or err})") from None
    if stat.S_ISDIR(info.st_mode):
        raise CompareError(f"{path}: is a directory, not a results file")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a character device" if stat.S_ISCHR(info.st_mode) else "a block device"
                if stat.S_ISBLK(info.st_mode) else "a pipe" if stat.S_ISFIFO(info.st_mode)
                else "a socket" if stat.S_ISSOCK(info.st_mode) else "special")
        raise CompareError(f"{path}: not a regular file ({kind}); give a CSV or JSON results file")
    if info.st_size > MAX_FILE_BYTES:
        raise CompareError(f"{path}: {_size(info.st_size)} is more than a results file of "
                           f"{MAX_ROWS:,} points needs (limit {_size(MAX_FILE_BYTES)})")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)  # never more, even if the file grows meanwhile
    except OSError as err:
        raise CompareError(f"{path}: cannot be read ({err.strerror or err})") from None
    if len(data) > MAX_FILE_BYTES:
        raise CompareError(f"{path}: more than {_size(MAX_FILE_BYTES)}, the limit of a results file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CompareError(f"{path}: not UTF-8 text (byte {err.start}); give a CSV or JSON results "
                           "file") from None


def _size(n: int) -> str:
    from edkit.core.units import format_bytes

    return format_bytes(n)


def _csv_rows(text: str, path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV text (header first) as dicts with stripped keys and values."""
    try:
        reader = csv.reader(text.splitlines())
        header = next(reader, None)
        if header is None:
            raise CompareError(f"{path}: no header row")
        names = [h.strip() for h in header]
        for k, name in enumerate(names):
            if name and name in names[:k]:
                raise CompareError(f"{path}: column {name!r} appears twice in the header")
        out = []
        for k, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue  # blank line
            if len(cells) > len(names):
                raise CompareError(f"{path}: row {k} has more cells than the header")
            if k > MAX_ROWS:
                raise CompareError(f"{path}: more than {MAX_ROWS:,} rows (points to diagonalize)")
            out.append({n: c.strip() for n, c in zip(names, cells)})
    except csv.Error as err:
        raise CompareError(f"{path}: not valid CSV ({err})") from None
    if not out:
        raise CompareError(f"{path}: no data rows (a CSV needs a header and one row per point)")
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
    if len(points) > MAX_ROWS:
        raise CompareError(f"{path}: {len(points):,} points: more than {MAX_ROWS:,} to diagonalize")
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
    """A cell as a finite float: numbers, or text read by :func:`~edkit.core.params.parse_number`."""
    from edkit.core.params import ParameterError, as_number

    try:
        return as_number(v, where, CompareError)
    except ParameterError as err:  # pragma: no cover  (as_number raises CompareError)
        raise CompareError(f"{where}: {err}") from None


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
          ) -> tuple[list[Any], list[str]]:
    """Checked rows: :class:`_Plan` (T = 0) or :class:`~edkit.workflows.compare_thermal.ThermalPlan`."""
    from edkit.core.model import SectorError
    from edkit.core.params import ParameterError
    from edkit.engine.planning import check_fits
    from edkit.models import build_model
    from edkit.observables import get as get_observable
    from edkit.observables import owners
    from edkit.workflows import compare_thermal as thermal

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
        if thermal.is_long(raw):
            known = thermal.known_thermal if thermal.is_thermal(raw) else _is_quantity
            raw = thermal.widen(raw, where, known)
        if thermal.is_thermal(raw):
            plans.append(thermal.plan_row(raw, n, m, _is_quantity, _check_correlator, ignored))
            continue
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
        for obs_name in owners(list(quantities)):  # a family column on a model without the family
            why = get_observable(obs_name).applies(m)
            if why is not None:
                raise CompareError(f"{where}: {obs_name!r} does not apply: {why}")
        for q in quantities:
            _check_correlator(q, m, where)
        plans.append(_Plan(n, m, resolved, params, sector, quantities, errors))
    return plans, ignored


def _check_correlator(q: str, m: Any, where: str) -> None:
    """A ``KEY:layer:i:j`` column must name a layer and sites of a spinful model (others pass)."""
    c = _CORR.match(q)
    if c:
        if not m.spinful:
            raise CompareError(f"{where}: {q}: correlators need a spinful model")
        layer, i, j = c.group(2), int(c.group(3)), int(c.group(4))
        if layer not in m.lattice.layers:
            raise CompareError(f"{where}: {q}: layer {layer!r} not in {list(m.lattice.layers)}")
        if not (i < m.lattice.L and j < m.lattice.L):
            raise CompareError(f"{where}: {q}: sites must be in 0..{m.lattice.L - 1}")


def _is_quantity(col: str) -> bool:
    """Whether a registered observable gives this column (:func:`edkit.observables.owner`)."""
    from edkit.observables import owner

    return owner(col) is not None


# ---------------------------------------------------------------------------- computing
def _ed_values(p: _Plan) -> dict[str, float | None]:
    """ED values of a row's quantities: each observable that gives them, evaluated once."""
    from edkit.observables import ObservableError, evaluate, owners

    out: dict[str, float | None] = {}
    for name, options in owners(list(p.quantities)).items():
        try:
            out.update(evaluate(name, p.model, p.params, p.sector, options))
        except ObservableError as err:
            raise CompareError(f"row {p.row}: {err}") from None
    return out


def compare_points(rows: list[dict[str, Any]], *, model: str | None = None, L: int | None = None,
                   bc: str | None = None, atol: float = 1e-6, rtol: float = 0.0,
                   nsigma: float = 3.0, method: str = "auto", samples: int = 20,
                   seed: int = 0) -> CompareReport:
    """Compare rows (flat dicts, see the module docs) with ED.

    ``method``, ``samples`` and ``seed`` choose the ED side of finite-temperature rows
    (:func:`edkit.thermodynamics.thermal_averages`: ``auto`` is exact where full diagonalization fits).

    Raises
    ------
    CompareError, UnknownModelError, LatticeError, TooLargeError
        For a row that cannot be compared, before any diagonalization.
    """
    from edkit.workflows import compare_thermal as thermal
    from edkit.workflows.statistics import combined_error, z_score

    for name, v in (("atol", atol), ("rtol", rtol), ("nsigma", nsigma)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise CompareError(f"{name} must be a finite number >= 0, got {v!r}")
    thermal.check_options(method, samples, seed)
    plans, ignored = _plan(rows, model, L, bc)
    warm = [p for p in plans if isinstance(p, thermal.ThermalPlan)]
    methods: dict[int, str] = {}
    if warm:
        methods = thermal.compute(warm, method=method, samples=samples, seed=seed)
    points = []
    for p in plans:
        if isinstance(p, thermal.ThermalPlan):
            ed = p.ed
            report = PointReport(p.row, p.model.name, p.model.lattice.L, p.model.lattice.bc,
                                 p.shown_params, p.sector, beta=p.beta, mu=p.mu, method=methods[p.row])
        else:
            ed = {q: (v, 0.0, "") for q, v in _ed_values(p).items()}
            report = PointReport(p.row, p.model.name, p.model.lattice.L, p.model.lattice.bc,
                                 p.shown_params, p.sector)
        for q, value in p.quantities.items():
            ref, ref_err, note = ed.get(q, (None, 0.0, ""))
            err = p.errors.get(q)
            sigma = combined_error(err, ref_err)
            if ref is None:
                tol = max(atol, nsigma * sigma)
                report.values.append(Deviation(p.row, q, value, None, None, tol, False,
                                               note or "ED value undefined for this sector", err))
                continue
            tol = max(atol, rtol * abs(ref), nsigma * sigma)
            dev = value - ref
            report.values.append(Deviation(p.row, q, value, float(ref), float(dev), tol, abs(dev) <= tol,
                                           note, err, float(ref_err) if ref_err else None,
                                           z_score(value, float(ref), err, ref_err)))
        points.append(report)
    return CompareReport(points, ignored, float(atol), float(rtol), float(nsigma))


def compare_file(path: str | os.PathLike, **kwargs: Any) -> CompareReport:
    """Read a CSV/JSON results file and compare every row with ED (see :func:`compare_points`)."""
    return compare_points(load_points(path), **kwargs)


__all__ = ["CompareError", "CompareReport", "Deviation", "PointReport", "compare_file", "compare_points",
           "load_points"]
