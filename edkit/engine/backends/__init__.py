"""Backends behind one protocol; the planner (:mod:`edkit.engine.planning`) asks each and chooses.

Built in: ``stored`` (QuSpin stored matrix, dense or ARPACK), ``blocks`` (QuSpin symmetry blocks),
``matrix-free`` (the compiled kernel), ``two-wire-product`` (the two-wire product space) and
``tenpy`` (DMRG through the TeNPy export, only when asked for). Every module of this package is
imported here and registers its backend, so a new backend (a GPU one) is one new file that ends
with ``BACKEND = register(MyBackend())``. See :mod:`edkit.engine.backends.base` for the protocol.
"""

from __future__ import annotations

import importlib
import pkgutil

from edkit.engine.backends.base import AUTO, Backend, Estimate, Request
from edkit.engine.backends.registry import (
    REGISTRY,
    UnknownBackendError,
    backends,
    get,
    names,
    register,
    unregister,
)

#: Modules of this package that hold the protocol, not a backend.
_NOT_BACKENDS = {"base", "registry"}
#: Built-in backends in the order the planner lists them (others follow, alphabetically).
_BUILTIN = ("stored", "blocks", "matrix_free", "product", "tenpy")

for _name in _BUILTIN + tuple(sorted(m.name for m in pkgutil.iter_modules(__path__)
                                     if m.name not in _NOT_BACKENDS and m.name not in _BUILTIN)):
    importlib.import_module(f"{__name__}.{_name}")

__all__ = ["AUTO", "REGISTRY", "Backend", "Estimate", "Request", "UnknownBackendError", "backends", "get",
           "names", "register", "unregister"]
