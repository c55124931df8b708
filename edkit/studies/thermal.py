"""Registers the ``thermal`` observable (:mod:`edkit.thermodynamics.observable`) when the registry loads
the study modules (:func:`edkit.observables.registry.load_families`)."""

from __future__ import annotations

from edkit.thermodynamics.observable import THERMAL

__all__ = ["THERMAL"]
