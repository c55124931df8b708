"""Checks of output paths (results store, CSV, HDF5) made before any point is computed.

A sweep may run for hours; an output that cannot be written must be refused at once, with the
reason in words, not after the work (issue 13.2). :func:`check_output` tries what the write
will need: the directory exists and accepts a new file (probed with a temporary file next to
the target, removed at once), or the existing file is a regular file open for writing. The
target itself is never created or changed here.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from edkit.core.errors import EdkitError


class OutputError(EdkitError, ValueError):
    """An output path (results store, CSV or HDF5 file) that cannot be written."""


def _reason(err: OSError, parent: Path) -> str:
    code = err.errno
    if code in (errno.EACCES, errno.EPERM):
        return f"no permission to create files in {parent}"
    if code == errno.EROFS:
        return f"{parent} is on a read-only file system"
    if code == errno.ENOSPC:
        return f"no space left on the device of {parent}"
    if code == errno.ENOENT:
        return f"{parent} does not accept new files ({err.strerror})"
    return err.strerror or str(err)


def check_output(path: str | os.PathLike, what: str, *, stream_ok: bool = False,
                 journal: bool = False) -> Path:
    """Refuse an output path that cannot be written, before any work.

    Parameters
    ----------
    path
        The file to be written.
    what
        What will be written there, for messages (``"a results store"``, ``"the CSV file"``).
    stream_ok
        Accept an existing character device or FIFO (``/dev/stdout``) for a streamed format.
    journal
        The writer also creates files next to the target (SQLite's journal): probe the
        directory even when the file exists.

    Returns
    -------
    Path
        The path.

    Raises
    ------
    OutputError
        An empty path, a directory, a missing parent directory, a parent that is not a
        directory, an existing file that is not a regular file or cannot be opened for
        writing, or a directory that does not accept a new file (permissions, read-only or
        special file systems such as ``/proc``).
    """
    text = os.fspath(path)
    if not str(text).strip():
        raise OutputError(f"cannot create {what}: the path is empty")
    p = Path(text)
    parent = p.parent
    head = f"cannot create {what} at {p}"
    if p.is_dir():
        raise OutputError(f"{head}: it is a directory; give a file name inside it")
    if not parent.exists():
        raise OutputError(f"{head}: directory {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"{head}: {parent} is not a directory")
    if p.exists():
        mode = p.stat().st_mode
        if stream_ok and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            return p
        if not stat.S_ISREG(mode):
            raise OutputError(f"{head}: it exists and is not a regular file")
        try:
            with open(p, "ab"):
                pass
        except OSError as err:
            raise OutputError(f"cannot write {what} at {p}: {_reason(err, parent)}") from None
        if not journal:
            return p
    # probe the directory: a new file needs its entry there, the store its journal
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".probe", dir=parent)
    except OSError as err:
        raise OutputError(f"{head}: {_reason(err, parent)}") from None
    os.close(fd)
    os.unlink(probe)
    return p


def check_outputs(outputs: Sequence[tuple[str, str | os.PathLike | None, bool]]) -> list[Path]:
    """Check several outputs ``(what, path, stream_ok)`` (``path=None`` skipped), and that no two
    of them are one file. ``what`` starting with ``"a results store"`` probes for a journal.

    Raises
    ------
    OutputError
        See :func:`check_output`; also for two outputs naming the same file.
    """
    checked: list[Path] = []
    seen: dict[str, str] = {}
    for what, path, stream_ok in outputs:
        if path is None:
            continue
        p = check_output(path, what, stream_ok=stream_ok, journal=what.startswith("a results store"))
        real = os.path.realpath(p)
        if real in seen and not real.startswith("/dev/"):
            raise OutputError(f"{seen[real]} and {what} are the same file {p}; give two files")
        seen[real] = what
        checked.append(p)
    return checked


__all__ = ["OutputError", "check_output", "check_outputs"]
