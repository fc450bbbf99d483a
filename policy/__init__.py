"""Segments -> decision: thresholds, the review band, reasons. No I/O."""

from .decide import ALLOW, BLOCK, REVIEW, SEVERITY, Decision, PolicyParams, WorkDecision, decide, decide_work

__all__ = ["ALLOW", "BLOCK", "REVIEW", "SEVERITY", "Decision", "PolicyParams", "WorkDecision", "decide", "decide_work"]
