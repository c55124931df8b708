"""Thread control for the BLAS that numpy/scipy (and ARPACK) use.

Measured on the project's 2-core machines: ARPACK with OpenBLAS threads was 12x slower than with
one, and a 400x400 complex ``eigh`` 7-37x slower under load. :func:`blas_threads` pins OpenBLAS
to ``n`` threads around a block through OpenBLAS's own setter (ctypes; no dependency).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

_BLAS_CALLS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
               ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
               ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
               ("openblas_set_num_threads", "openblas_get_num_threads"))


def _openblas_handles() -> list:
    """(setter, getter) of every OpenBLAS loaded in this process (numpy's and scipy's)."""
    import ctypes

    import scipy.sparse.linalg  # noqa: F401  (loads scipy's OpenBLAS, the one ARPACK uses)

    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.lower()
                            and line.split()[-1].startswith("/")})
    except OSError:
        return []
    out = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _BLAS_CALLS:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                out.append((setter, getter))
                break
    return out


@contextmanager
def blas_threads(n: int | None = None):
    """Run a block with ``n`` OpenBLAS threads (default ``EDKIT_BLAS_THREADS``, else 1), then restore.

    Measured on the 2-core machines: ARPACK with OpenBLAS threads was 12x slower than with one,
    and a 400x400 complex ``eigh`` 7x slower under load. Uses OpenBLAS's own setter via ctypes
    (no dependency); does nothing where no OpenBLAS is loaded.
    """
    n = int(n if n is not None else os.environ.get("EDKIT_BLAS_THREADS", 1))
    handles = _openblas_handles()
    before = [getter() for _, getter in handles]
    for setter, _ in handles:
        setter(n)
    try:
        yield
    finally:
        for (setter, _), old in zip(handles, before):
            setter(old)
