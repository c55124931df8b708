"""Numbers for people: bytes, counts and seconds in engineering units (one place for every message)."""

from __future__ import annotations

import math

_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def format_bytes(n: float) -> str:
    """``1536 -> "1.5 KiB"``; three significant digits, binary prefixes, never ``"0.0 GiB"``.

    Sizes beyond the largest prefix are written as a power of two (``"2^95 B"``).
    """
    if isinstance(n, int) and n >= 1024**len(_BINARY):  # beyond a double's range too
        return f"2^{math.log2(n):.0f} B"
    n = float(n)
    if not math.isfinite(n):
        return f"{n} B"
    if n < 1024:
        return f"{n:.0f} B"
    k = min(int(math.log(n, 1024)), len(_BINARY) - 1)
    value = n / 1024**k
    if value >= 1024:  # beyond YiB
        return f"2^{math.log2(n):.0f} B"
    return f"{value:.3g} {_BINARY[k]}"


#: Integers below this are written exactly with thousands separators; larger ones as ``1.16e46``.
EXACT_COUNT = 10**12


def format_count(n: float) -> str:
    """``853776 -> "853,776"``, ``165636900 -> "165,636,900"`` (integers below :data:`EXACT_COUNT`
    stay exact), ``comb(80, 40)**2 -> "1.16e46"``; other numbers from a million on in the same
    three-digit engineering form (``1.2e7``), below it rounded with separators."""
    if isinstance(n, int) and not isinstance(n, bool):
        if abs(n) < EXACT_COUNT:
            return f"{n:,}"
        digits = str(abs(n))
        mantissa = f"{round(int(digits[:4]) / 1000, 2):.3g}"  # three significant digits, exact int
        if mantissa == "10":
            mantissa, digits = "1", digits + "0"
        return f"{'-' if n < 0 else ''}{mantissa}e{len(digits) - 1}"
    n = float(n)
    if not math.isfinite(n):
        return str(n)
    if abs(n) < 10**6:
        return f"{n:,.0f}"
    return f"{n:.3g}".replace("e+0", "e").replace("e+", "e")


def format_seconds(s: float) -> str:
    """``0.0004 -> "< 1 ms"``, ``0.02 -> "20 ms"``, ``0.4 -> "0.4 s"``, ``95 -> "1.6 min"``,
    ``7200 -> "2 h"``, ``3e9 -> "95 years"``, ``2.4e40 -> "7.7e32 years"``."""
    s = float(s)
    if not math.isfinite(s):
        return str(s)
    if s < 1e-3:
        return "< 1 ms"
    if s < 0.1:
        return f"{s * 1e3:.2g} ms"
    if s < 60:
        return f"{s:.2g} s" if s < 10 else f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.2g} min"
    if s < 86400 * 2:
        return f"{s / 3600:.2g} h"
    if s < 86400 * 365 * 2:
        return f"{s / 86400:.3g} days"
    return f"{format_count(s / (86400 * 365))} years"


def approx_seconds(s: float) -> str:
    """:func:`format_seconds` of an estimate: ``"~12 ms"``, ``"~3.5 min"``, ``"< 1 ms"``."""
    text = format_seconds(s)
    return text if text.startswith("<") else f"~{text}"


__all__ = ["EXACT_COUNT", "approx_seconds", "format_bytes", "format_count", "format_seconds"]
