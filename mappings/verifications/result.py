"""The structured result every catalogue verification returns (defined in :mod:`mappings.result`)."""

from __future__ import annotations

from mappings.result import Check, VerificationResult, residual_table

__all__ = ["Check", "VerificationResult", "residual_table"]
