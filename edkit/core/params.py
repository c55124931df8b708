"""Model parameters: names, defaults, and restrictive parsing of user values.

User values are parsed as numbers only (``float``/``complex`` literals). Nothing from the user is
ever passed to ``eval`` or ``sympy.sympify``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import sympy

from edkit.core.errors import EdkitError

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


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

    Accepts decimal literals (``4``, ``-0.5``, ``1e-3``) and simple fractions ``a/b`` of two
    decimal literals (``1/3``).

    Raises
    ------
    ParameterError
        If the text is not a finite number.
    """
    s = text.strip()
    parts = s.split("/")
    if len(parts) == 2 and _NUMBER.match(parts[0].strip()) and _NUMBER.match(parts[1].strip()):
        den = float(parts[1])
        if den == 0:
            raise ParameterError(f"{text!r}: division by zero")
        value = float(parts[0]) / den
    elif _NUMBER.match(s):
        value = float(s)
    else:
        raise ParameterError(f"{text!r} is not a number (accepted: 4, -0.5, 1e-3, 1/3)")
    if not math.isfinite(value):
        raise ParameterError(f"{text!r} is not a finite number")
    return value


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
            f"unknown parameter(s) {', '.join(unknown)}; this model has: {', '.join(params)}"
        )
    out: dict[str, float] = {}
    for name, value in values.items():
        if isinstance(value, str):
            value = parse_number(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = float(value)  # numpy scalars, sympy numbers
            except (TypeError, ValueError):
                raise ParameterError(f"{name}={value!r} is not a number") from None
        if not math.isfinite(value):
            raise ParameterError(f"{name}={value!r} is not a finite number")
        out[name] = float(value)
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
