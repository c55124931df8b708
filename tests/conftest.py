"""Session-wide fixtures.

``catalogue``: every verification of ``mappings.verifications.CATALOGUE``, computed once per
session (about 10 s) and shared by the tests that only read results. ``serve_catalogue``: the same
results served to code that calls ``run_catalogue`` itself (the CLI's ``verify`` and ``demo``).
Imports happen inside the fixtures, so collecting a test file loads nothing it does not use.

One OpenBLAS thread for the test process and the processes it starts (kernels, sweep workers, the
console script), unless the environment already says otherwise. numpy is not loaded yet when
pytest imports this file, so the setting takes effect. Measured on the project's 2-core machine
under load: a 400x400 ``eigvalsh`` took 3.3 s with two OpenBLAS threads and 0.017 s with one (the
tests' brute-force diagonalizations run outside edkit's own ``blas_threads`` pinning).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def catalogue_run() -> tuple[dict, dict]:
    """``(results by name, catalogue entries)`` of one full run of the catalogue."""
    from tests.helpers.catalogue import compute

    return compute()


@pytest.fixture(scope="session")
def catalogue(catalogue_run) -> dict:
    """Every catalogue verification's result (:class:`mappings.result.VerificationResult`) by name.

    Computed once per session; tests must not mutate the results.
    """
    return catalogue_run[0]


@pytest.fixture
def serve_catalogue(catalogue_run) -> Iterator[None]:
    """``mappings.verifications.run_catalogue`` answers from the session's results in this test."""
    from tests.helpers.catalogue import serving

    with serving(*catalogue_run):
        yield
