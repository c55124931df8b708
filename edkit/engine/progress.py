"""Progress lines on stderr for long runs (silent for small ones)."""

from __future__ import annotations

import sys

#: Sectors (or blocks) at least this large report their build and solve on stderr.
PROGRESS_DIMENSION = 200_000


def stderr_progress(line: str) -> None:
    """Progress printer for long runs (to stderr, flushed, prefixed ``[edkit]``)."""
    print(f"[edkit] {line}", file=sys.stderr, flush=True)


__all__ = ["PROGRESS_DIMENSION", "stderr_progress"]
