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


def check_growth(vector_bytes: int, total: int, new: int, what: str, hint: str = "") -> None:
    """Raise :class:`TooLargeError` before a solve that holds more vectors than the plan admitted.

    A degenerate level makes a matrix-free solve hold one more vector per partner (the ground
    manifold, the partners of the highest of ``nev`` levels); the planner cannot know the
    degeneracy in advance, so each such step checks here first.

    Parameters
    ----------
    vector_bytes
        Bytes of one vector.
    total
        Vectors held during the coming solve (those kept so far plus its working vectors).
    new
        Of these, the ones the solve allocates.
    what
        What the solve is for, with what is known so far (the message starts with it).
    hint
        Appended to the message (what the user can do instead).

    Raises
    ------
    TooLargeError
        When ``EDKIT_MEMORY_LIMIT`` is set and ``total`` vectors exceed it, or else when the ``new``
        vectors exceed :data:`MEMORY_FRACTION` of the memory available now.
    """
    from edkit.core.units import format_bytes

    forced = _env_number("EDKIT_MEMORY_LIMIT")
    size = format_bytes(vector_bytes)
    if forced and total * vector_bytes > forced:
        raise TooLargeError(f"{what}: the next solve would hold {total} vectors of {size} "
                            f"({format_bytes(total * vector_bytes)}), above EDKIT_MEMORY_LIMIT "
                            f"({format_bytes(int(forced))}){hint}")
    if not forced and new * vector_bytes > memory_limit():
        raise TooLargeError(f"{what}: the next solve would allocate {new} more vectors of {size} "
                            f"({format_bytes(new * vector_bytes)}), above {MEMORY_FRACTION:.0%} of the "
                            f"{format_bytes(available_memory())} available now{hint}")


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


__all__ = ["TIME_LIMIT", "TooLargeError", "available_memory", "check_growth", "memory_limit", "time_limit"]
