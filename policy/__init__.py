"""Segments -> decision: thresholds, per-work rules, the review band, reasons. No I/O."""

from .decide import (
    ACTIONS, ALLOW, BLOCK, DECLARED_USES, DEFAULT_RULES, MUTE_AUDIO, NONE, PARTIAL, REVIEW, SEVERITY, SUBSTANTIAL,
    TRACK, Decision, FairUse, PolicyParams, Rule, RuleError, Thresholds, UploadContext, WorkDecision, WorkPolicy, classify,
    combine_decisions, decide, decide_work, describe_match, with_thresholds,
)
from .ownership import OwnershipClaims, ownership_claims

__all__ = [
    "ACTIONS", "ALLOW", "BLOCK", "DECLARED_USES", "DEFAULT_RULES", "MUTE_AUDIO", "NONE", "PARTIAL", "REVIEW",
    "OwnershipClaims", "SEVERITY", "SUBSTANTIAL", "TRACK", "Decision", "FairUse", "PolicyParams", "Rule", "RuleError", "Thresholds",
    "UploadContext", "WorkDecision", "WorkPolicy", "classify", "combine_decisions", "decide", "decide_work",
    "describe_match", "ownership_claims", "with_thresholds",
]
