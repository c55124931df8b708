"""A resumable results store: one SQLite file, one committed transaction per finished point.

Layout (schema version :data:`SCHEMA_VERSION`)
----------------------------------------------
- ``PRAGMA application_id`` = :data:`APPLICATION_ID` marks the file as an edkit store.
- ``meta(key, value)``: ``schema``, ``model`` (one model per store), ``edkit_version`` (of the
  edkit that wrote it; updated only by an explicit migration), ``created``, ``history`` (JSON
  list of migrations).
- ``points``: one row per finished point, primary key ``key`` (hash of model, L, bc, all
  parameter values, sector, observable and options, see :func:`edkit.workflows.grid.point_key`), with
  those fields as columns (JSON for mappings), the ``result`` (JSON), the ``edkit_version``
  that computed it, and timings (``seconds``, ``started``, ``finished``), ``worker``,
  ``threads``.
- ``claims`` (schema 2): the points that running sweeps are computing now, and ``computed``:
  a log of every finished computation (see :mod:`edkit.workflows.claims`). Runs that share a
  store split its points through these.

Guarantees
----------
- Each point is inserted in its own transaction (rollback journal, ``synchronous=FULL``): a
  process killed at any moment leaves every earlier point intact and no partial row; SQLite
  rolls back an interrupted transaction when the file is next opened.
- The primary key makes a point unique: committing a point twice keeps the first copy.
- A store written for another model is refused; one written by another edkit version is
  refused unless ``migrate=True`` (its points are kept, each still labelled with the version
  that computed it, and the migration is recorded in ``history``). A store with a newer schema
  is refused.

Exports: :meth:`ResultStore.export_csv` and :meth:`ResultStore.export_hdf5` (``h5py``) write
the tidy table (:func:`edkit.workflows.points.tidy_row`); :func:`read_csv` and :func:`read_hdf5` read it
back. Missing values (an undefined gap) are empty cells in CSV and NaN (numbers) or empty
strings (text) in HDF5.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from edkit.core.errors import EdkitError
from edkit.workflows import claims as _claims
from edkit.workflows.paths import OutputError, check_output
from edkit.workflows.points import tidy_row

SCHEMA_VERSION = 2
APPLICATION_ID = 0x65646B31  # "edk1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    L INTEGER NOT NULL,
    bc TEXT NOT NULL,
    params TEXT NOT NULL,
    sector TEXT NOT NULL,
    observable TEXT NOT NULL,
    options TEXT NOT NULL,
    swept TEXT NOT NULL,
    result TEXT NOT NULL,
    edkit_version TEXT NOT NULL,
    seconds REAL,
    started REAL,
    finished REAL,
    worker TEXT,
    threads TEXT
);
"""
_JSON_FIELDS = ("params", "sector", "options", "swept", "result")
_FIELDS = ("key", "model", "L", "bc", "params", "sector", "observable", "options", "swept", "result",
           "edkit_version", "seconds", "started", "finished", "worker", "threads")

# schema migrations: from version n to n + 1
_MIGRATIONS: dict[int, str] = {
    1: _claims.CLAIMS_SCHEMA + """;
INSERT INTO computed (key, run, worker, finished, stored) SELECT key, NULL, worker, finished, 1 FROM points
""",
}
# migrations that only add tables: applied without --migrate when a sweep writes the store
_ADDITIVE = {1}


class StoreError(EdkitError, ValueError):
    """A file that is not an edkit results store, or one that cannot be used as asked."""


class StoreMismatchError(StoreError):
    """A store written for another model, or by another edkit version or schema."""


def _dumps(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


class ResultStore:
    """The SQLite results store of one model.

    Parameters
    ----------
    path
        The file; created if missing.
    model
        Model the caller will write. A new store is labelled with it; an existing store
        labelled with another model is refused. ``None`` opens any store read-mostly.
    version
        edkit version of the caller (default: the installed one).
    migrate
        Accept a store written by another edkit version (and an older schema): relabel it
        with ``version`` and record the migration.

    Raises
    ------
    StoreError
        The file exists but is not an edkit store (or is unreadable).
    StoreMismatchError
        Model, version or schema mismatch (the message says what to do).
    """

    def __init__(self, path: str | os.PathLike, model: str | None = None, version: str | None = None,
                 migrate: bool = False) -> None:
        from edkit import __version__

        self.path = Path(path)
        self.version = version or __version__
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a directory, not a results file")
        existed = self.path.is_file() and self.path.stat().st_size > 0
        if not existed:
            if model is None:
                raise StoreError(f"{self.path} does not exist (a new store needs a model)")
            try:
                check_output(self.path, "a results store", journal=True)
            except OutputError as err:
                raise StoreError(str(err)) from None
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self._conn.execute("PRAGMA synchronous=FULL")
            app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
        except sqlite3.OperationalError as err:  # cannot open, locked, I/O error
            raise StoreError(f"cannot open the results store at {self.path}: {err}") from None
        except sqlite3.DatabaseError as err:  # "file is not a database"
            raise StoreError(f"{self.path} is not an edkit results store ({err})") from None
        if existed and app_id != APPLICATION_ID:
            self._conn.close()
            raise StoreError(f"{self.path} is a file but not an edkit results store; "
                             "choose another --out file")
        if not existed:
            self._create(model)
        self.meta = self._read_meta()
        try:
            self._check(model, migrate)
        except StoreError:
            self._conn.close()
            raise

    # ------------------------------------------------------------------------ setup
    def _create(self, model: str | None) -> None:
        if model is None:
            self._conn.close()
            raise StoreError(f"{self.path} does not exist (a new store needs a model)")
        with self._transaction():  # idempotent: two runs may create one new store together
            self._conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            for statement in (_SCHEMA + _claims.CLAIMS_SCHEMA).split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            rows = {"schema": str(SCHEMA_VERSION), "model": model, "edkit_version": self.version,
                    "created": now, "history": "[]"}
            self._conn.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", rows.items())

    def _transaction(self):
        conn = self._conn

        class _Tx:
            def __enter__(self_inner):
                if conn.in_transaction:  # left open by an interrupt between BEGIN and the block
                    conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, exc_type, exc, tb):
                conn.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()

    def _read_meta(self) -> dict[str, str]:
        try:
            return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreError(f"{self.path}: unreadable store metadata ({err})") from None

    def _check(self, model: str | None, migrate: bool) -> None:
        meta = self.meta
        schema = int(meta.get("schema", "0"))
        if schema > SCHEMA_VERSION:
            raise StoreMismatchError(
                f"{self.path} has store schema {schema}, written by a newer edkit "
                f"({meta.get('edkit_version')}); this edkit {self.version} reads schema "
                f"{SCHEMA_VERSION}: upgrade edkit")
        if model is not None and meta.get("model") != model:
            raise StoreMismatchError(
                f"{self.path} holds results of model {meta.get('model')!r}, not {model!r}; "
                "a store holds one model: choose another --out file")
        stored_version = meta.get("edkit_version")
        other_version = model is not None and stored_version != self.version
        additive = all(v in _ADDITIVE for v in range(schema, SCHEMA_VERSION))
        if other_version or (schema < SCHEMA_VERSION and not additive):
            if not migrate:
                raise StoreMismatchError(
                    f"{self.path} was written by edkit {stored_version} (store schema {schema}); "
                    f"this is edkit {self.version} (schema {SCHEMA_VERSION}). Its points may differ "
                    "from what this version computes. Use another --out file, or pass --migrate "
                    "(migrate=True) to adopt it: its points are kept, each labelled with the "
                    "version that computed it, and are not recomputed")
            self._migrate(stored_version)
        elif schema < SCHEMA_VERSION and model is not None:  # new tables only: no --migrate needed
            self._migrate(stored_version)

    def _migrate(self, stored_version: str | None) -> None:
        with self._transaction():
            self._apply_migrations(stored_version)
        self.meta = self._read_meta()

    def _apply_migrations(self, stored_version: str | None) -> None:
        # re-read inside the transaction: another run may have migrated the store meanwhile
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        schema = int(meta.get("schema", "0"))
        if schema == SCHEMA_VERSION and meta.get("edkit_version") == self.version:
            return
        for v in range(schema, SCHEMA_VERSION):
            if v not in _MIGRATIONS:
                raise StoreMismatchError(f"{self.path}: no migration from store schema {v}")
            for statement in _MIGRATIONS[v].split(";"):
                if statement.strip():
                    self._conn.execute(statement)
        history = json.loads(meta.get("history") or "[]")
        history.append({"from_version": stored_version, "to_version": self.version,
                        "from_schema": schema, "to_schema": SCHEMA_VERSION,
                        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        for k, v in (("schema", str(SCHEMA_VERSION)), ("edkit_version", self.version),
                     ("history", _dumps(history))):
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, v))

    # ---------------------------------------------------------------------- writing
    def commit(self, record: Mapping[str, Any], run: _claims.Run | None = None) -> bool:
        """Insert one finished point in its own transaction; ``False`` if it was already there.

        The same transaction drops the point's claim and logs the computation (``computed``,
        with ``run``, the :class:`~edkit.workflows.claims.Run` that computed it).
        """
        values = []
        for f in _FIELDS:
            v = record.get(f)
            if f in _JSON_FIELDS:
                v = _dumps(v if v is not None else {})
            elif f == "threads" and v is not None:
                v = str(v)
            values.append(v)
        if record.get("model") != self.meta.get("model"):
            raise StoreMismatchError(f"record of model {record.get('model')!r} does not belong in a "
                                     f"store of {self.meta.get('model')!r}")
        with self._transaction():
            cur = self._conn.execute(
                f"INSERT INTO points ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))}) "
                "ON CONFLICT(key) DO NOTHING", values)
            stored = cur.rowcount == 1
            if self._has_claims:
                self._conn.execute("DELETE FROM claims WHERE key=?", (record["key"],))
                self._conn.execute("INSERT INTO computed VALUES (?, ?, ?, ?, ?)",
                                   (record["key"], run.id if run else None, record.get("worker"),
                                    record.get("finished"), int(stored)))
        return stored

    @property
    def _has_claims(self) -> bool:
        return int(self.meta.get("schema", "0")) >= 2

    def claim(self, run: _claims.Run, keys: Iterable[str], n: int, *,
              lease: float = _claims.LEASE) -> _claims.ClaimResult:
        """Claim up to ``n`` of ``keys`` for ``run`` in one transaction.

        See :func:`edkit.workflows.claims.claim`.
        """
        with self._transaction():
            return _claims.claim(self._conn, run, keys, n, lease=lease)

    def release(self, run: _claims.Run, keys: Iterable[str] | None = None) -> None:
        """Drop ``run``'s claims (all, or those of ``keys``) in one transaction."""
        with self._transaction():
            _claims.release(self._conn, run, keys)

    def computations(self) -> list[dict[str, Any]]:
        """The log of finished computations: ``key, run, worker, finished, stored`` per row."""
        cur = self._conn.execute("SELECT key, run, worker, finished, stored FROM computed ORDER BY rowid")
        return [dict(zip(("key", "run", "worker", "finished", "stored"), row)) for row in cur.fetchall()]

    def close(self) -> None:
        """Close the connection (every point is already committed)."""
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------------- reading
    def records(self) -> list[dict[str, Any]]:
        """Every stored point as a record (the dict :func:`edkit.workflows.points.compute_point` returns)."""
        cur = self._conn.execute(f"SELECT {', '.join(_FIELDS)} FROM points ORDER BY rowid")
        out = []
        for row in cur.fetchall():
            rec = dict(zip(_FIELDS, row))
            for f in _JSON_FIELDS:
                rec[f] = json.loads(rec[f])
            out.append(rec)
        return out

    def records_by_key(self) -> dict[str, dict[str, Any]]:
        """Stored records by point key."""
        return {r["key"]: r for r in self.records()}

    def keys(self) -> set[str]:
        """Keys of the finished points."""
        return {k for (k,) in self._conn.execute("SELECT key FROM points")}

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM points").fetchone()[0])

    def rows(self) -> list[dict[str, Any]]:
        """The tidy table (one flat dict per point, in commit order)."""
        return [tidy_row(r) for r in self.records()]

    def to_dataframe(self):
        """The tidy table as a ``pandas.DataFrame``."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover
            raise ImportError("to_dataframe needs pandas: pip install pandas") from None
        return pd.DataFrame(self.rows())

    # ---------------------------------------------------------------------- exports
    def export_csv(self, path: str | os.PathLike) -> Path:
        """Write the tidy table as CSV (exact float repr, empty cell for a missing value)."""
        return write_csv(self.rows(), path)

    def export_hdf5(self, path: str | os.PathLike) -> Path:
        """Write the tidy table to HDF5 (group ``points``, one dataset per column; needs h5py)."""
        attrs = {"model": self.meta.get("model", ""), "edkit_version": self.meta.get("edkit_version", ""),
                 "store_schema": self.meta.get("schema", "")}
        return write_hdf5(self.rows(), path, attrs)


_TRAILING = ("edkit_version", "seconds", "finished", "worker", "threads", "key")


def _columns(rows: list[Mapping[str, Any]]) -> list[str]:
    """Union of the rows' keys in first-seen order, bookkeeping columns last."""
    cols: list[str] = []
    seen = set()
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    return [c for c in cols if c not in _TRAILING] + [c for c in cols if c in _TRAILING]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def write_csv(rows: list[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write rows (dicts) as CSV; the header is the union of their keys in first-seen order."""
    path = Path(path)
    cols = _columns(rows)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in cols])
    return path


_INT = re.compile(r"^[+-]?\d+$")


def parse_cell(text: str) -> Any:
    """A CSV cell back to a value: ``""`` -> None, integers, floats (``nan``/``inf`` kept as text)."""
    s = text.strip()
    if s == "":
        return None
    if _INT.match(s):
        return int(s)
    try:
        v = float(s)
    except ValueError:
        return s
    return v if math.isfinite(v) else s


def read_csv(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a CSV written by :func:`write_csv` (cells parsed by :func:`parse_cell`)."""
    with open(path, newline="") as fh:
        return [{k: parse_cell(v) for k, v in r.items()} for r in csv.DictReader(fh)]


def _column_kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int" if len(present) == len(values) else "int_missing"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float"
    return "str"


def write_hdf5(rows: list[Mapping[str, Any]], path: str | os.PathLike,
               attrs: Mapping[str, str] | None = None) -> Path:
    """Write rows to HDF5: group ``points``, one dataset per column, attrs ``columns`` and ``kind``.

    Integer columns are int64; float columns float64 (NaN for missing); an integer column with
    missing values is float64 with ``kind="int_missing"``; other columns UTF-8 strings.
    """
    try:
        import h5py
        import numpy as np
    except ImportError:  # pragma: no cover
        raise ImportError("HDF5 export needs h5py: pip install 'edkit[sweep]'") from None
    path = Path(path)
    cols = _columns(rows)
    with h5py.File(path, "w") as f:
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
        g = f.create_group("points")
        g.attrs["columns"] = json.dumps(cols)
        for c in cols:
            values = [r.get(c) for r in rows]
            kind = _column_kind(values)
            if kind == "int":
                data = np.array(values, dtype=np.int64)
            elif kind in ("float", "int_missing"):
                data = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
            else:
                data = np.array(["" if v is None else str(v) for v in values], dtype=h5py.string_dtype())
            ds = g.create_dataset(c.replace("/", "|"), data=data)
            ds.attrs["kind"] = kind
            ds.attrs["name"] = c
    return path


def read_hdf5(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of an HDF5 file written by :func:`write_hdf5` (missing values back to ``None``)."""
    import h5py

    with h5py.File(path, "r") as f:
        g = f["points"]
        cols = json.loads(g.attrs["columns"])
        data: dict[str, list[Any]] = {}
        n = 0
        for c in cols:
            ds = g[c.replace("/", "|")]
            kind = ds.attrs["kind"]
            raw = ds[()]
            if kind == "int":
                vals: list[Any] = [int(x) for x in raw]
            elif kind == "float":
                vals = [None if math.isnan(x) else float(x) for x in raw]
            elif kind == "int_missing":
                vals = [None if math.isnan(x) else int(x) for x in raw]
            else:
                vals = [x.decode() if isinstance(x, bytes) else str(x) for x in raw]
                vals = [v if v != "" else None for v in vals]
            data[c] = vals
            n = len(vals)
    return [{c: data[c][i] for c in cols} for i in range(n)]


__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "ResultStore", "StoreError", "StoreMismatchError",
           "parse_cell", "read_csv", "read_hdf5", "write_csv", "write_hdf5"]
