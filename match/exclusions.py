"""Reference exclusions: seconds of a reference that must never match
(public-domain or licensed material inside a work). Pure functions."""

from __future__ import annotations

from dataclasses import replace

from .types import Segment


def subtract_intervals(span: tuple[float, float], holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Parts of ``span`` (start, end) not covered by any interval in ``holes``."""
    parts = [span]
    for h0, h1 in sorted(holes):
        nxt = []
        for a, b in parts:
            if h1 <= a or h0 >= b:
                nxt.append((a, b))
                continue
            if h0 > a:
                nxt.append((a, h0))
            if h1 < b:
                nxt.append((h1, b))
        parts = nxt
    return parts


def apply_exclusions(segments: list[Segment], excluded: dict[int, list[tuple[float, float]]],
                     min_seconds: float = 1.0) -> list[Segment]:
    """Cut excluded reference seconds out of segments.

    excluded: reference id -> [(start, end)] reference seconds. A segment maps
    upload to reference time linearly between its endpoints; each remaining
    piece keeps that mapping. Pieces shorter than ``min_seconds`` (reference
    seconds) are dropped, so a segment that relied only on excluded seconds
    disappears.
    """
    out: list[Segment] = []
    for seg in segments:
        holes = excluded.get(seg.ref_id)
        if not holes:
            out.append(seg)
            continue
        ref_len = seg.ref_end - seg.ref_start
        ratio = (seg.upload_end - seg.upload_start) / ref_len if ref_len > 0 else 0.0
        for r0, r1 in subtract_intervals((seg.ref_start, seg.ref_end), holes):
            if r1 - r0 < min_seconds:
                continue
            share = (r1 - r0) / ref_len if ref_len > 0 else 0.0
            out.append(replace(
                seg,
                ref_start=r0,
                ref_end=r1,
                upload_start=seg.upload_start + (r0 - seg.ref_start) * ratio,
                upload_end=seg.upload_start + (r1 - seg.ref_start) * ratio,
                hits=max(1, round(seg.hits * share)),
            ))
    return out
