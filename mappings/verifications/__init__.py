"""The catalogue of named verifications (``edkit verify`` runs them all)."""

from __future__ import annotations

from collections.abc import Callable

from edkit.core.errors import EdkitError
from mappings.two_wire import verify_second_order
from mappings.verifications.correlators import correlators_to_spin
from mappings.verifications.cotunnelling import hamo_pair_cotunnelling
from mappings.verifications.particle_hole import (
    kbp_effective_to_kondo,
    kbp_to_anderson,
    odd_ring_is_refused,
)
from mappings.verifications.polarizer import hamo_strong_coupling, little_polarizer_attraction
from mappings.verifications.result import VerificationResult
from mappings.verifications.schrieffer_wolff import kbp_schrieffer_wolff


class UnknownVerificationError(EdkitError, KeyError):
    """A verification name that is not in the catalogue (the message lists the known names)."""

    def __str__(self) -> str:
        return str(self.args[0])


def two_wire_second_order() -> VerificationResult:
    """Second-order-in-V energy of the two-wire model (derived in :mod:`mappings.two_wire`)."""
    return verify_second_order((3, 4, 5))


CATALOGUE: dict[str, Callable[[], VerificationResult]] = {
    "kbp-to-anderson": kbp_to_anderson,
    "correlators-to-spin": correlators_to_spin,
    "kbp-effective-to-kondo": kbp_effective_to_kondo,
    "particle-hole-odd-ring-refused": odd_ring_is_refused,
    "kbp-schrieffer-wolff": kbp_schrieffer_wolff,
    "hamo-strong-coupling": hamo_strong_coupling,
    "little-polarizer-attraction": little_polarizer_attraction,
    "hamo-pair-cotunnelling": hamo_pair_cotunnelling,
    "two-wire-second-order": two_wire_second_order,
}


def run_catalogue(names: list[str] | None = None) -> list[VerificationResult]:
    """Run the named verifications in the order given (``None``: all, in catalogue order).

    An empty list runs nothing (``[]``); the command line passes ``None`` when no name is given.

    Raises
    ------
    UnknownVerificationError
        (a ``KeyError``) for a name that is not in the catalogue (message lists the known names).
    """
    selected = list(CATALOGUE) if names is None else list(names)
    unknown = [n for n in selected if n not in CATALOGUE]
    if unknown:
        raise UnknownVerificationError(f"unknown verification(s) {unknown}; known: {', '.join(CATALOGUE)}")
    return [CATALOGUE[n]() for n in selected]


__all__ = ["CATALOGUE", "UnknownVerificationError", "VerificationResult", "run_catalogue"]
