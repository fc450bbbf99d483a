"""Segments of every signal -> one match per (upload, work).

Video and chroma-audio segments of one work on one diagonal merge (a copy with
picture and sound becomes one "both" segment). Landmark segments (exact hashes
of spectral peaks) stay apart: they only add what the others did not find
(music under other sound), and their similarity is on another scale, so a
match's score comes from the other signals where there are any.

Segments that rest only on a static background (``Segment.background``) are
no evidence: where a work has other segments they are left out; where it has
none, its match is made of them and says so (``WorkMatch.background``), so
the decision can explain why it is not a copy. Where an upload shows a work's
static view only, its segments that rest on it partly are taken for the same:
other seconds of the same set match the work nowhere in particular, so a
stretch that matches it a little better somewhere (someone walking the same
path) is what such footage gives by chance.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np

from fingerprint import REGISTRY

from .types import BACKGROUND_ONLY, BACKGROUND_PARTLY, Segment, WorkMatch

BOTH = "both"


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    """Total length (seconds) of the union of [start, end] intervals."""
    if not intervals:
        return 0.0
    arr = np.asarray(sorted(intervals), dtype=np.float64)
    total, cur_s, cur_e = 0.0, arr[0, 0], arr[0, 1]
    for s, e in arr[1:]:
        if s > cur_e:
            total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    return float(total + cur_e - cur_s)


def _merge(a: Segment, b: Segment) -> Segment:
    wa, wb = a.upload_seconds, b.upload_seconds
    w = max(wa + wb, 1e-9)
    modality = a.modality if a.modality == b.modality else BOTH
    return Segment(
        ref_id=a.ref_id,
        modality=modality,
        upload_start=min(a.upload_start, b.upload_start),
        upload_end=max(a.upload_end, b.upload_end),
        ref_start=min(a.ref_start, b.ref_start),
        ref_end=max(a.ref_end, b.ref_end),
        speed=(a.speed * wa + b.speed * wb) / w,
        similarity=(a.similarity * wa + b.similarity * wb) / w,
        mean_distance=(a.mean_distance * wa + b.mean_distance * wb) / w,
        hits=a.hits + b.hits,
        density=(a.density * wa + b.density * wb) / w,
        changes=a.changes + b.changes,
        clean_share=(a.clean_share * wa + b.clean_share * wb) / w,
        altered_share=(a.altered_share * wa + b.altered_share * wb) / w,
        signal="+".join(sorted(set(a.signal.split("+")) | set(b.signal.split("+")))),
        stream="+".join(sorted((set(a.stream.split("+")) | set(b.stream.split("+"))) - {""})),
        rendition="+".join(sorted((set(a.rendition.split("+")) | set(b.rendition.split("+"))) - {""})),
        specificity=(a.specificity * wa + b.specificity * wb) / w,
        # (the picture resting partly on a static background does not weaken a soundtrack found with it)
        background=a.background if a.background == b.background else "",
    )


def _exact(seg: Segment) -> bool:
    """Whether the segment comes from exact hashes (landmarks): its similarity is a share of instants, not
    of bits, and it adds nothing where other signals explain its seconds."""
    return REGISTRY.is_exact(seg.signal)


def _covered_share(seg: Segment, others: list[Segment]) -> float:
    """Share of ``seg``'s upload span that ``others`` cover."""
    inside = [(max(o.upload_start, seg.upload_start), min(o.upload_end, seg.upload_end)) for o in others
              if o.upload_end > seg.upload_start and o.upload_start < seg.upload_end]
    return union_seconds(inside) / seg.upload_seconds if seg.upload_seconds > 0 else 1.0


def merge_segments(segments: list[Segment], offset_tolerance: float, gap_seconds: float) -> list[Segment]:
    """Merge segments of one reference that overlap (or nearly touch) on the upload
    axis and lie on the same diagonal (offsets within ``offset_tolerance`` s)."""
    out: list[Segment] = []
    for seg in sorted(segments, key=lambda s: (s.ref_id, s.upload_start)):
        if out:
            last = out[-1]
            same_line = abs((seg.ref_start - seg.speed * seg.upload_start)
                            - (last.ref_start - last.speed * last.upload_start)) <= offset_tolerance
            if seg.ref_id == last.ref_id and seg.upload_start <= last.upload_end + gap_seconds and same_line:
                out[-1] = _merge(last, seg)
                continue
        out.append(seg)
    return out


def clip_segment(seg: Segment, upload_duration: float, ref_duration: float) -> Segment:
    """The part of a segment inside both media, cut along its line: where one
    timeline is clipped, the other moves with it (speed ``seg.speed``)."""
    s = seg.speed if seg.speed > 0 else 1.0
    offset = seg.ref_start - s * seg.upload_start
    start = max(seg.upload_start, 0.0, -offset / s)
    end = min(seg.upload_end, upload_duration, (ref_duration - offset) / s)
    return replace(seg, upload_start=start, upload_end=end, ref_start=s * start + offset, ref_end=s * end + offset)


def combine(segments: list[Segment], ref_work: dict[int, str], ref_duration: dict[int, float],
            upload_duration: float, offset_tolerance: float = 2.0, gap_seconds: float = 1.0) -> list[WorkMatch]:
    """Group segments by work and compute the per-work figures (see ``WorkMatch``).

    ref_work: reference id -> work id. ref_duration: reference id -> seconds.
    Matches are sorted by matched seconds, longest first.
    """
    by_work: dict[str, list[Segment]] = defaultdict(list)
    for seg in segments:
        if seg.ref_id in ref_work:
            seg = clip_segment(seg, upload_duration, ref_duration[seg.ref_id])
            if seg.upload_end > seg.upload_start:
                by_work[ref_work[seg.ref_id]].append(seg)
    matches = []
    for work_id, segs in by_work.items():
        static_view = any(s.background == BACKGROUND_ONLY for s in segs)
        solid = [s for s in segs if not s.background or (s.background == BACKGROUND_PARTLY and not static_view)]
        segs = solid or segs  # only a static background: the match is made of it, and says so
        plain = [s for s in segs if not _exact(s)]
        # a landmark segment that other signals already explain adds nothing but clutter
        exact = [s for s in segs if _exact(s) and _covered_share(s, plain) < 0.8]
        segs = plain + exact
        merged = merge_segments(plain, offset_tolerance, gap_seconds) + merge_segments(exact, offset_tolerance,
                                                                                       gap_seconds)
        matched = union_seconds([(s.upload_start, s.upload_end) for s in merged])
        per_modality = {
            m: union_seconds([(s.upload_start, s.upload_end) for s in segs if s.modality == m])
            for m in sorted({s.modality for s in segs})
        }
        modalities = set(per_modality)
        modality = next(iter(modalities)) if len(modalities) == 1 else BOTH
        ref_cov = 0.0
        for ref_id in {s.ref_id for s in merged}:
            dur = ref_duration[ref_id]
            if dur > 0:
                spans = [(s.ref_start, s.ref_end) for s in merged if s.ref_id == ref_id]
                ref_cov = max(ref_cov, union_seconds(spans) / dur)
        scored = [s for s in merged if not _exact(s)] or merged
        weights = np.array([s.upload_seconds for s in scored])
        score = float(np.average([s.similarity for s in scored], weights=np.maximum(weights, 1e-9)))
        matches.append(WorkMatch(
            work_id=work_id,
            modality=modality,
            segments=tuple(sorted(merged, key=lambda s: s.upload_start)),
            matched_seconds=matched,
            upload_coverage=min(1.0, matched / upload_duration) if upload_duration > 0 else 0.0,
            reference_coverage=min(1.0, ref_cov),
            score=score,
            modality_seconds=per_modality,
            signals=tuple(sorted({part for s in merged for part in s.signal.split("+") if part})),
            background=(BACKGROUND_ONLY if not solid else
                        BACKGROUND_PARTLY if all(s.background == BACKGROUND_PARTLY for s in merged) else ""),
        ))
    return sorted(matches, key=lambda m: -m.matched_seconds)
