"""Memory available to edkit, and the error for a request that would not fit (or not finish)."""

from __future__ import annotations

import os

from edkit.core.errors import EdkitError, InputError

#: Fraction of the available memory edkit allows itself unless ``EDKIT_MEMORY_LIMIT`` says otherwise.
MEMORY_FRACTION = 0.8


class TooLargeError(EdkitError, MemoryError):
    """The request would not fit in memory (or not finish in the time allowed); says so with numbers."""


def available_memory() -> int:
    """Available memory in bytes (``MemAvailable`` of ``/proc/meminfo``; 8 GiB if unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


def _env_number(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name} must be a number, got {raw!r}") from None
    if value < 0 or value != value:
        raise InputError(f"{name} must be a non-negative number, got {raw!r}")
    return value


def memory_limit(available: int | None = None, fraction: float = MEMORY_FRACTION) -> int:
    """Bytes edkit allows itself: ``EDKIT_MEMORY_LIMIT`` (bytes) if set, else ``fraction`` of available."""
    forced = _env_number("EDKIT_MEMORY_LIMIT")
    if forced:
        return int(forced)
    return int((available_memory() if available is None else available) * fraction)


#: Default of :func:`time_limit`: a request estimated to run longer than this is refused before it
#: starts (one day; the longest computations here, 8-rung bilayers, take minutes to an hour).
TIME_LIMIT = 86400.0


def time_limit() -> float:
    """Seconds a single solve may be estimated to take: ``EDKIT_TIME_LIMIT`` if set (``0``: no limit),
    else :data:`TIME_LIMIT`. Estimates are rough (+-3x), so only requests far beyond it are refused."""
    forced = _env_number("EDKIT_TIME_LIMIT")
    if forced is None:
        return TIME_LIMIT
    return float("inf") if forced == 0 else forced


__all__ = ["TIME_LIMIT", "TooLargeError", "available_memory", "memory_limit", "time_limit"]
