"""The matching core: candidates from the index -> temporal alignment ->
segments with scores -> one match per work. No I/O."""

from .align import AlignParams, align, temporal_specificity
from .candidates import build_candidates
from .combine import combine, merge_segments, union_seconds
from .exclusions import apply_exclusions, subtract_intervals
from .types import BACKGROUND_ONLY, BACKGROUND_PARTLY, Candidates, Segment, WorkMatch

__all__ = [
    "AlignParams", "BACKGROUND_ONLY", "BACKGROUND_PARTLY", "Candidates", "Segment", "WorkMatch",
    "align", "temporal_specificity", "apply_exclusions", "build_candidates", "subtract_intervals", "combine", "merge_segments", "union_seconds",
]
