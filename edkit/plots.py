"""Plots from a results store: an observable against a parameter, and finite-size extrapolation.

Every function takes a *source*: a results-store path, a :class:`~edkit.workflows.store.ResultStore`, a
:class:`~edkit.workflows.sweep.SweepResult`, or a list of tidy rows. Matplotlib is imported only when a
plot is drawn; the fit itself needs only NumPy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

_META = {"model", "bc", "observable", "edkit_version", "seconds", "finished", "worker", "threads", "key"}


def load_rows(source: Any) -> list[dict[str, Any]]:
    """Tidy rows from a store path, a ``ResultStore``, a ``SweepResult`` or a list of rows."""
    if isinstance(source, (str, os.PathLike)):
        from edkit.workflows.store import ResultStore

        with ResultStore(source) as store:
            return store.rows()
    if hasattr(source, "rows"):
        rows = source.rows
        return list(rows() if callable(rows) else rows)
    return [dict(r) for r in source]


def select(rows: Sequence[Mapping[str, Any]], where: Mapping[str, Any] | None = None) -> list[dict]:
    """Rows whose columns equal every value in ``where`` (floats compared with tolerance 1e-12)."""
    out = []
    for r in rows:
        ok = True
        for k, v in (where or {}).items():
            rv = r.get(k)
            if isinstance(v, (int, float)) and isinstance(rv, (int, float)):
                ok = abs(rv - v) <= 1e-12 * (1 + abs(v))
            else:
                ok = rv == v
            if not ok:
                break
        if ok:
            out.append(dict(r))
    return out


def _varying(rows: Sequence[Mapping[str, Any]], exclude: set[str]) -> list[str]:
    cols: dict[str, set] = {}
    for r in rows:
        for k, v in r.items():
            if k in _META or k in exclude:
                continue
            cols.setdefault(k, set()).add(v if not isinstance(v, list) else tuple(v))
    return [k for k, vs in cols.items() if len(vs) > 1]


def _param_columns(rows: Sequence[Mapping[str, Any]], y: str) -> list[str]:
    """Input columns (L, parameters, sector) that vary: everything but values and metadata."""
    # inputs (L, parameters, sector values) precede 'observable' in a tidy row; values follow it
    inputs: list[str] = []
    for r in rows:
        for k in r:
            if k == "observable":
                break
            if k not in _META and k not in inputs:
                inputs.append(k)
    return [k for k in _varying(rows, {y}) if k in inputs]


def plot_vs_parameter(source: Any, x: str, y: str, *, by: str | Sequence[str] | None = None,
                      where: Mapping[str, Any] | None = None, ax=None, marker: str = "o"):
    """Plot column ``y`` (e.g. ``charge_gap``) against parameter ``x``, one line per series.

    Parameters
    ----------
    source
        Store path, store, sweep result or rows.
    x, y
        Column names.
    by
        Column(s) that label the series (default: every other varying input, e.g. ``L``).
    where
        Fixed values selecting the rows (e.g. ``{"t_m": 1.0}``).
    ax
        Matplotlib axes (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
    """
    rows = [r for r in select(load_rows(source), where) if r.get(y) is not None and x in r]
    if not rows:
        raise ValueError(f"no rows with both {x!r} and a value of {y!r}"
                         + (f" where {dict(where)}" if where else ""))
    if by is None:
        series_cols = [c for c in _param_columns(rows, y) if c != x]
    else:
        series_cols = [by] if isinstance(by, str) else list(by)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r.get(c) for c in series_cols), []).append(r)
    for label, rs in sorted(groups.items(), key=lambda kv: tuple(str(v) for v in kv[0])):
        rs.sort(key=lambda r: r[x])
        name = ", ".join(f"{c}={v:g}" if isinstance(v, (int, float)) else f"{c}={v}"
                         for c, v in zip(series_cols, label))
        ax.plot([r[x] for r in rs], [r[y] for r in rs], marker=marker, label=name or None)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if series_cols:
        ax.legend()
    return ax


def extrapolate_inverse_L(source: Any, y: str, *, where: Mapping[str, Any] | None = None, order: int = 1,
                          min_L: int | None = None) -> dict[str, Any]:
    """Fit ``y(L) = a_0 + a_1/L + ... + a_order/L^order`` and return the ``L -> infinity`` value.

    Exactly one row per ``L`` must remain after ``where`` (the message lists the columns that
    still vary otherwise).

    Returns
    -------
    dict
        ``intercept`` (``a_0``), ``coefficients`` (``[a_0, a_1, ...]``), ``L``, ``values``,
        ``residuals`` (fit minus data).
    """
    import numpy as np

    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    rows = [r for r in select(load_rows(source), where) if r.get(y) is not None]
    if min_L is not None:
        rows = [r for r in rows if r["L"] >= min_L]
    by_L: dict[int, list[dict]] = {}
    for r in rows:
        by_L.setdefault(int(r["L"]), []).append(r)
    multi = {L: rs for L, rs in by_L.items() if len(rs) > 1}
    if multi:
        vary = _param_columns([r for rs in multi.values() for r in rs], y)
        raise ValueError(f"several rows per L for {y!r}; fix {vary or 'the observable'} with where=...")
    sizes = sorted(by_L)
    if len(sizes) < order + 1:
        raise ValueError(f"an order-{order} fit in 1/L needs at least {order + 1} sizes, have {sizes}")
    inv = np.array([1.0 / L for L in sizes])
    vals = np.array([float(by_L[L][0][y]) for L in sizes])
    V = np.vander(inv, order + 1, increasing=True)
    coef, *_ = np.linalg.lstsq(V, vals, rcond=None)
    return {"intercept": float(coef[0]), "coefficients": [float(c) for c in coef], "L": sizes,
            "values": [float(v) for v in vals], "residuals": [float(r) for r in V @ coef - vals],
            "order": order}


def plot_extrapolation(source: Any, y: str, *, where: Mapping[str, Any] | None = None, order: int = 1,
                       min_L: int | None = None, ax=None):
    """Plot ``y`` against ``1/L`` with the fit of :func:`extrapolate_inverse_L` down to ``1/L = 0``.

    Returns
    -------
    (matplotlib.axes.Axes, dict)
        The axes and the fit.
    """
    import numpy as np

    fit = extrapolate_inverse_L(source, y, where=where, order=order, min_L=min_L)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    inv = [1.0 / L for L in fit["L"]]
    ax.plot(inv, fit["values"], "o", label="ED")
    grid = np.linspace(0.0, max(inv), 100)
    ax.plot(grid, np.polyval(fit["coefficients"][::-1], grid), "-",
            label=f"order-{order} fit, L->inf: {fit['intercept']:.6g}")
    ax.set_xlabel("1/L")
    ax.set_ylabel(y)
    ax.set_xlim(left=0.0)
    ax.legend()
    return ax, fit


__all__ = ["extrapolate_inverse_L", "load_rows", "plot_extrapolation", "plot_vs_parameter", "select"]
