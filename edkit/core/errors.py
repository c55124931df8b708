"""One base class for every error that means "this request cannot be done as asked".

The command line maps :class:`EdkitError` (and only it) to exit code 2 with a one-line message;
:class:`~edkit.engine.solver.ConvergenceError`, also an :class:`EdkitError`, maps to exit code 1.
Anything else that escapes is a bug in edkit and is reported as one. Each specific error keeps
its historical base class too (``ValueError``, ``MemoryError``, ...), so ``except ValueError``
in user code goes on working.
"""

from __future__ import annotations


class EdkitError(Exception):
    """Base of every error edkit raises for a request it cannot fulfil (bad input, too large, ...)."""


class InputError(EdkitError, ValueError):
    """Malformed input: a value, option or name that edkit cannot read."""


__all__ = ["EdkitError", "InputError"]
