"""The matching core: candidates from the index -> temporal alignment ->
segments with scores -> one match per work. No I/O."""

from .align import AlignParams, align
from .candidates import build_candidates
from .combine import combine, merge_segments, union_seconds
from .exclusions import apply_exclusions, subtract_intervals
from .types import Candidates, Segment, WorkMatch

__all__ = [
    "AlignParams", "Candidates", "Segment", "WorkMatch",
    "align", "apply_exclusions", "build_candidates", "subtract_intervals", "combine", "merge_segments", "union_seconds",
]
