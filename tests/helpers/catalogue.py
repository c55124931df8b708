"""Serve the verification catalogue from results computed once per test session.

The catalogue takes ~10 s; the CLI's ``verify`` and ``demo`` tests, the symbolic test files and the
docs would otherwise each run it again. :func:`serving` patches
``mappings.verifications.run_catalogue`` (which the CLI imports when a command runs) so that entries
already computed are returned from the cache. An entry replaced in ``CATALOGUE`` (e.g. a test's
deliberately failing one) and an unknown name still go through the real function.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

import pytest

import mappings.verifications as catalogue_module
from mappings.result import VerificationResult

#: The real function, kept before any patch.
REAL_RUN_CATALOGUE = catalogue_module.run_catalogue


def compute() -> tuple[dict[str, VerificationResult], dict[str, Callable[[], VerificationResult]]]:
    """Run the whole catalogue once; return ``(results by name, the entry that produced each)``."""
    entries = dict(catalogue_module.CATALOGUE)
    results = {r.name: r for r in REAL_RUN_CATALOGUE()}
    return results, entries


def cached_run_catalogue(results: Mapping[str, VerificationResult],
                         entries: Mapping[str, Callable[[], VerificationResult]]
                         ) -> Callable[[list[str] | None], list[VerificationResult]]:
    """A ``run_catalogue`` that answers from ``results`` where the catalogue entry is unchanged."""

    def run_catalogue(names: list[str] | None = None) -> list[VerificationResult]:
        live = catalogue_module.CATALOGUE
        selected = list(live) if names is None else list(names)
        if any(n not in live for n in selected):
            return REAL_RUN_CATALOGUE(names)  # raises the real error
        return [results[n] if n in results and live[n] is entries.get(n) else live[n]()
                for n in selected]

    return run_catalogue


@contextlib.contextmanager
def serving(results: Mapping[str, VerificationResult],
            entries: Mapping[str, Callable[[], VerificationResult]]) -> Iterator[None]:
    """Within the block, ``mappings.verifications.run_catalogue`` answers from the cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(catalogue_module, "run_catalogue", cached_run_catalogue(results, entries))
        yield
