"""The matching core: candidates from the index -> temporal alignment ->
segments with scores -> one match per work. No I/O."""

from .align import AlignParams, align, temporal_specificity
from .candidates import build_candidates
from .combine import combine, merge_segments, union_seconds
from .constellation import (CandidateLine, ConstellationParams, PeakMap, VerifiedQuote, candidate_lines,
                            corroborated, distinct_quotes, quote_segment, verify_line)
from .exclusions import apply_exclusions, subtract_intervals
from .types import BACKGROUND_ONLY, BACKGROUND_PARTLY, Candidates, Segment, WorkMatch

__all__ = [
    "AlignParams", "BACKGROUND_ONLY", "BACKGROUND_PARTLY", "CandidateLine", "Candidates", "ConstellationParams",
    "PeakMap", "Segment", "VerifiedQuote", "WorkMatch",
    "align", "apply_exclusions", "build_candidates", "candidate_lines", "combine", "corroborated", "distinct_quotes", "merge_segments", "quote_segment",
    "subtract_intervals", "temporal_specificity", "union_seconds", "verify_line",
]
