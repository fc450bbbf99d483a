"""Windows of upload time: a long upload is searched and aligned a window at a time.

A whole-film copy gives hundreds of index hits per upload second and signal, and
the aligner holds every hit of a signal while it looks for lines: memory grows
with the length of the upload. Searched and aligned in windows of upload time
(``[match] window_seconds``), only the window's hits are held at once, and what
is carried forward is the window's segments.

Each window owns a *core* stretch of upload time (the cores tile the upload;
the first reaches back to -inf, the last on to +inf) and is searched and
aligned over its core widened by ``overlap_seconds`` on both sides, so a line
that crosses a core's edge is seen on both sides of it by both windows. Each
window's segments are clipped to its core (along their line: both timelines
move together), so an upload instant is explained by one window only, and
the pieces of one line that a core's edge cut are joined again
(``join_pieces``): same reference and signal, the same diagonal (offsets within
``offset_tolerance``), one ending at the edge where the other starts.

An upload no longer than one window (``window_seconds`` plus the overlap) is
one window with no edges: searched and aligned at once, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .combine import _merge
from .types import Segment


@dataclass(frozen=True)
class UploadWindow:
    """One window: its core [core_start, core_end) and the upload seconds searched, [start, end]."""

    core_start: float
    core_end: float
    start: float
    end: float

    def rows(self, starts: np.ndarray) -> np.ndarray:
        """Indices of the codes whose start time lies in the searched stretch."""
        return np.flatnonzero((starts >= self.start) & (starts <= self.end))


WHOLE = UploadWindow(-np.inf, np.inf, -np.inf, np.inf)


def upload_windows(starts: np.ndarray, window_seconds: float, overlap_seconds: float) -> list[UploadWindow]:
    """The windows of an upload whose codes start at ``starts`` (seconds): ``[WHOLE]`` when
    ``window_seconds`` is 0 or the codes span no more than one window and its overlap."""
    if window_seconds <= 0 or len(starts) == 0:
        return [WHOLE]
    t0, t1 = float(np.min(starts)), float(np.max(starts))
    if t1 - t0 <= window_seconds + overlap_seconds:
        return [WHOLE]
    n = int(np.ceil((t1 - t0) / window_seconds))
    edges = t0 + window_seconds * np.arange(n + 1, dtype=np.float64)
    edges[0], edges[-1] = -np.inf, np.inf
    return [UploadWindow(float(lo), float(hi), float(lo) - overlap_seconds, float(hi) + overlap_seconds)
            for lo, hi in zip(edges[:-1], edges[1:])]


def windowed_segments(windows: list[UploadWindow], segments_of: Callable[[UploadWindow], list[Segment]],
                      offset_tolerance: float) -> list[Segment]:
    """Segments of an upload found window by window: ``segments_of(window)`` searches and aligns
    one window's stretch; its segments are clipped to the window's core and the pieces an edge
    cut are joined (``join_pieces``). One window: its segments as they are."""
    if len(windows) == 1:
        return segments_of(windows[0])
    pieces = [piece for window in windows for seg in segments_of(window)
              if (piece := clip_to_core(seg, window)) is not None]
    return join_pieces(pieces, [w.core_start for w in windows[1:]], offset_tolerance)


def clip_to_core(seg: Segment, window: UploadWindow) -> Segment | None:
    """The part of ``seg`` inside the window's core, cut along its line (None: nothing is).
    Counts (``hits``, ``changes``) are scaled by the share of upload seconds kept; the
    other figures are the segment's (they are means over it)."""
    start, end = max(seg.upload_start, window.core_start), min(seg.upload_end, window.core_end)
    if start == seg.upload_start and end == seg.upload_end:
        return seg
    if end <= start:
        return None
    share = (end - start) / seg.upload_seconds if seg.upload_seconds > 0 else 1.0
    offset = seg.ref_start - seg.speed * seg.upload_start
    return replace(seg, upload_start=start, upload_end=end, ref_start=seg.speed * start + offset,
                   ref_end=seg.speed * end + offset, hits=max(1, int(round(seg.hits * share))),
                   changes=int(round(seg.changes * share)))


def join_pieces(segments: list[Segment], edges: list[float], offset_tolerance: float) -> list[Segment]:
    """Join segments that a window's core edge (one of ``edges``) cut: one of a reference and
    signal ending at an edge where another on the same diagonal (offsets within
    ``offset_tolerance`` seconds) starts. Other segments are left as they are, in their order."""
    if len(segments) < 2 or not edges:
        return list(segments)
    at_edge = np.asarray(sorted(edges))

    def on_edge(t: float) -> bool:
        i = int(np.searchsorted(at_edge, t))
        return any(0 <= j < len(at_edge) and abs(at_edge[j] - t) <= 1e-6 for j in (i - 1, i))

    out: list[Segment] = []
    open_ends: dict[tuple[int, str, float], int] = {}  # (ref, signal, edge) -> index in out of a piece ending there
    for seg in sorted(segments, key=lambda s: s.upload_start):
        joined = False
        if on_edge(seg.upload_start):
            key = (seg.ref_id, seg.signal, round(seg.upload_start, 6))
            i = open_ends.get(key)
            if i is not None:
                last = out[i]
                if abs((seg.ref_start - seg.speed * seg.upload_start)
                       - (last.ref_start - last.speed * last.upload_start)) <= offset_tolerance:
                    out[i] = replace(_merge(last, seg), background=_joined_background(last, seg),
                                     modality=last.modality)
                    del open_ends[key]
                    joined = True
                    seg_index = i
        if not joined:
            out.append(seg)
            seg_index = len(out) - 1
        if on_edge(out[seg_index].upload_end):
            open_ends[(out[seg_index].ref_id, out[seg_index].signal, round(out[seg_index].upload_end, 6))] = seg_index
    return out


def _joined_background(a: Segment, b: Segment) -> str:
    """The background judgement of two pieces of one line: the longer piece's where they differ
    (each window judged its stretch; the line is mostly what its longer piece says)."""
    if a.background == b.background:
        return a.background
    return a.background if a.upload_seconds >= b.upload_seconds else b.background
