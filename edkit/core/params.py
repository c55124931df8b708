"""Model parameters: names, defaults, and restrictive parsing of user values.

User values are parsed as numbers only (``float``/``complex`` literals). Nothing from the user is
ever passed to ``eval`` or ``sympy.sympify``.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import sympy

from edkit.core.errors import EdkitError

#: A decimal literal in ASCII digits only (``re.ASCII``: ``\d`` would also match ``４``, ``٤``).
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
#: Longest text read as one number (a double needs at most ~25 characters).
MAX_NUMBER_LENGTH = 100
#: Largest decimal exponent written in a number (doubles end near 1e308 and 1e-324).
MAX_EXPONENT_DIGITS = 4


class ParameterError(EdkitError, ValueError):
    """Unknown parameter name or a value that is not a finite number."""


@dataclass(frozen=True)
class Parameter:
    """A named model parameter.

    Attributes
    ----------
    name
        The symbol name used in coefficients (``U``, ``t_perp`` ...).
    default
        A number, a sympy expression in other parameters (``-U/2``), or ``None`` if required.
    doc
        One line saying what it is.
    """

    name: str
    default: object = None
    doc: str = ""

    @property
    def symbol(self) -> sympy.Symbol:
        """The real sympy symbol of the parameter."""
        return sympy.Symbol(self.name, real=True)


def parse_number(text: str) -> float:
    """Parse a user string as a finite real number, nothing else.

    Accepts decimal literals in ASCII digits (``4``, ``-0.5``, ``1e-3``) and simple fractions
    ``a/b`` of two decimal literals (``1/3``). Nothing is evaluated.

    Raises
    ------
    ParameterError
        If the text is not a number, is not finite (``1e999``), or is a non-zero number too small
        for a double (``1e-400`` would silently become 0).
    """
    if not isinstance(text, str):
        raise ParameterError(f"{_short(text)} is not a number (accepted: 4, -0.5, 1e-3, 1/3)")
    s = text.strip()
    if len(s) > MAX_NUMBER_LENGTH:
        raise ParameterError(f"{_short(text)} is not a number: more than {MAX_NUMBER_LENGTH} characters")
    if not s.isascii():
        raise ParameterError(f"{_short(text)} is not a number (digits must be ASCII 0-9; "
                             "accepted: 4, -0.5, 1e-3, 1/3)")
    parts = s.split("/")
    if len(parts) == 2 and _NUMBER.match(parts[0].strip()) and _NUMBER.match(parts[1].strip()):
        num, den = (_literal(p.strip(), text) for p in parts)
        if den == 0:
            raise ParameterError(f"{_short(text)}: division by zero")
        value, nonzero = num / den, num != 0
    elif _NUMBER.match(s):
        value, nonzero = _literal(s, text), _nonzero_mantissa(s)
    else:
        raise ParameterError(f"{_short(text)} is not a number (accepted: 4, -0.5, 1e-3, 1/3)")
    if not math.isfinite(value):
        raise ParameterError(f"{_short(text)} is not a finite number")
    if nonzero and abs(value) < sys.float_info.min:  # 0 or subnormal: the digits are lost
        lost = "read as 0" if value == 0 else f"read as {value:.3g} with lost digits"
        raise ParameterError(f"{_short(text)} is too small for a double (non-zero numbers need "
                             f"|x| >= {sys.float_info.min:.4g}); it would be {lost}")
    return value


def _short(text: str, limit: int = 60) -> str:
    """``repr`` of a user string, cut to about ``limit`` characters (for messages)."""
    r = repr(text)
    return r if len(r) <= limit else f"{r[:limit]}... ({len(text):,} characters)"


def shown_name(name: object) -> str:
    """A user-given name for a message: as is when it is a plain identifier, else its ``repr``.

    Keeps control characters, line breaks and terminal escapes out of one-line messages.
    """
    text = str(name)
    return text if text.isidentifier() and text.isascii() else _short(text)


def _show(value: object) -> str:
    """A short printable form of any value (for messages; never raises)."""
    if isinstance(value, str):
        return _short(value)
    try:
        text = str(value)
    except Exception:  # noqa: BLE001  (e.g. str() of an int with more than 4300 digits)
        return f"<a {type(value).__name__}>"
    return text if len(text) <= 60 else f"{text[:60]}..."


def _literal(s: str, text: str) -> float:
    """A decimal literal (already matched by ``_NUMBER``) as a float.

    Exponents of more than :data:`MAX_EXPONENT_DIGITS` digits are refused outright, so that no
    exact conversion downstream (``fractions.Fraction``) meets ``10**99999999``.
    """
    mantissa, _, exponent = s.lower().partition("e")
    if len(exponent.lstrip("+-").lstrip("0")) > MAX_EXPONENT_DIGITS:
        if not _nonzero_mantissa(mantissa):
            raise ParameterError(f"{_short(text)}: exponent out of range")
        if exponent.startswith("-"):
            raise ParameterError(f"{_short(text)} is too small for a double (it would be read as 0)")
        raise ParameterError(f"{_short(text)} is not a finite number")
    return float(s)


def _nonzero_mantissa(s: str) -> bool:
    """Whether a decimal literal has a non-zero digit before its exponent."""
    return any(c in "123456789" for c in s.lower().partition("e")[0])


def as_number(value: object, name: str, error: type[Exception] = ParameterError) -> float:
    """A user value (string or number) as a finite float; booleans are not numbers.

    Strings go through :func:`parse_number`; ints, floats and numpy/sympy real scalars are
    accepted when finite.

    Parameters
    ----------
    value
        The user's value.
    name
        Its name, for the message (``U``, ``N`` ...).
    error
        The exception class to raise (a subclass of :class:`~edkit.core.errors.EdkitError`).

    Raises
    ------
    error
        For a boolean, a non-number, a complex number with an imaginary part, or a value that is
        not finite.
    """
    if isinstance(value, str):
        try:
            return parse_number(value)
        except ParameterError as err:
            raise error(f"{name}: {err}") from None
    if isinstance(value, bool) or type(value).__name__ in ("bool_", "bool"):
        raise error(f"{name}={value!r} is a boolean, not a number (write 1 or 0 if you mean it)")
    try:
        imaginary = isinstance(value, complex) or bool(getattr(value, "imag", 0) != 0)
    except (TypeError, ValueError):  # an array: float() below refuses it
        imaginary = False
    if imaginary:
        raise error(f"{name}={_show(value)} is not a real number")
    try:
        number = float(value)  # int, float, numpy and sympy real scalars
    except OverflowError:
        raise error(f"{name}={_show(value)} is not a finite number (too large for a double)") from None
    except (TypeError, ValueError):
        raise error(f"{name}={_show(value)} is not a number") from None
    if not math.isfinite(number):
        raise error(f"{name}={_show(value)} is not a finite number")
    return number


def resolve_parameters(params: Mapping[str, Parameter],
                       values: Mapping[str, object] | None) -> dict[str, float]:
    """Numeric values of every parameter, user values first, then defaults.

    Defaults may be expressions in other parameters (``mu_p = -U/2``); they are evaluated after
    the user's values are in.

    Raises
    ------
    ParameterError
        For unknown names, non-finite or non-numeric values, missing required parameters.
    """
    values = dict(values or {})
    unknown = sorted(set(values) - set(params))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(map(shown_name, unknown))}; this model has: {', '.join(params)}"
        )
    out: dict[str, float] = {}
    for name, value in values.items():
        out[name] = as_number(value, name)
    pending = [p for p in params.values() if p.name not in out]
    for _ in range(len(pending) + 1):
        still = []
        for p in pending:
            if p.default is None:
                raise ParameterError(f"parameter {p.name} is required (no default)")
            expr = sympy.sympify(p.default)  # defaults are written by us, never by users
            subs = {sympy.Symbol(k, real=True): v for k, v in out.items()}
            val = expr.xreplace(subs)
            if val.free_symbols:
                still.append(p)
            else:
                out[p.name] = float(val)
        pending = still
        if not pending:
            break
    if pending:
        raise ParameterError(f"defaults of {[p.name for p in pending]} depend on each other")
    return out
