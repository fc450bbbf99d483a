"""Short quotes under other sound: verify a landmark line by its single spectral peaks.

A landmark (``fingerprint.landmarks``) matches only where *both* of its peaks
survive in the upload, so 7 s of a song 6-12 dB under a voice hits a handful
of pairs: as few as the chance lines unrelated music of the same style forms
(measured on the benchmark's generator: true lines 3-11 quarter-second
instants, chance lines up to 9). Single peaks survive far more often: along
the true line 25-35 % of the reference's peaks have an upload peak within a
bin and a frame, against 2-5 % on any other line. So a weak landmark line (a
candidate) is verified by its peaks:

1. the reference's peaks (recovered from its stored landmarks) are mapped onto
   the upload along the line, the offset scanned ``scan_frames`` either side;
   a peak *matches* when the upload has a peak within ``tolerance_bins`` and
   ``tolerance_frames`` (an occupancy grid of the upload's peaks, dilated once);
2. the chance rate ``p0`` is measured, not assumed: the share of peaks that
   match at offsets 0.5-3 s away from the line (structured music, its drums and
   sustained notes, matches more often than peaks placed at random would);
3. each reference peak in time order scores the log-likelihood ratio of a
   quote (a match rate of ``quote_match_rate``) against chance: log(r / p0)
   when it matches, log((1 - r) / (1 - p0)) when not. The stretch with the
   highest sum (maximum subarray) is where the quote is, and its sum says how
   sure: it must reach ``min_log_likelihood`` with ``min_matched`` matched
   peaks over ``min_seconds``.

The same test corroborates a chroma segment heard under other sound
(``corroborated``): chroma words describe harmony, and unregistered music of
the same style in the same key (or shifted into it) has the same harmony for
seconds on end (measured: similarity 0.57-0.61, as music under a voice at
0 dB), but not the work's recording: along such a line the work's own peaks
match at chance (log-likelihood 5-12 over 8-14 s), along a song under a
voice at 0 to -2 dB at 25-40 % (337-436 over 36-40 s).

Pure functions over numpy arrays; the engine supplies the reference peaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .types import Candidates, Segment


@dataclass(frozen=True)
class CandidateLine:
    """A weak landmark line: reference, offset (reference seconds minus upload seconds,
    speed 1), the upload span of its hits and how many instants they hit."""

    ref_id: int
    offset: float
    upload_start: float
    upload_end: float
    instants: int


@dataclass(frozen=True)
class ConstellationParams:
    """Tunables of the peak verification (TOML ``[match.landmark.verify]``).

    enabled: verify weak landmark lines at all.
    candidate_min_instants: quarter-second instants with a landmark hit at one
        offset (within ``offset_seconds``, hits no more than ``max_gap_seconds``
        apart) that make a candidate line; max_candidates: at most this many
        candidates per upload, the best supported first (bounds the work).
    context_seconds: the candidate's span is widened this much either side
        before the quote is located in it.
    scan_frames: offsets tried either side of the candidate line, frames.
    tolerance_bins, tolerance_frames: an upload peak this close matches.
    null_min_seconds, null_max_seconds: offsets this far from the line measure
        the chance rate.
    quote_match_rate: share of a quote's reference peaks expected to match
        under other sound (the alternative of the likelihood ratio).
    min_log_likelihood: natural-log likelihood ratio the located stretch needs.
    min_matched: matched reference peaks it needs; min_seconds: its length.
    ambiguous_overlap_seconds: quotes of one reference at different places of it
        that overlap by more than this on the upload: the upload fits the work in
        several places at once (music of the same style, its phrases and chords
        recurring), which no quotation does: none of them is kept.
    corroborate_below: segments of the other audio signals (chroma) with a
        similarity below this (music under other sound) are kept only where the
        work's peaks along their line pass the test above (``corroborated``);
        0: none is checked.
    corroborate_max_altered: only segments at most this share of whose instants
        came from altered readings (pitch, tempo) are checked: the work's own peaks
        move with a pitch shift, so a shifted copy under other sound has none along
        the line to show, and is kept as found.
    corroborate_offsets: offsets tried either side of such a segment's line, in
        steps of the scanned width (2 ``scan_frames`` + 1 frames): a chroma
        line is timed to its 8-a-second frames, not to a peak's 23 ms.
    """

    enabled: bool = True
    candidate_min_instants: int = 3
    offset_seconds: float = 0.1
    max_gap_seconds: float = 4.0
    max_candidates: int = 20
    context_seconds: float = 4.0
    scan_frames: int = 3
    tolerance_bins: int = 1
    tolerance_frames: int = 1
    null_min_seconds: float = 0.5
    null_max_seconds: float = 3.0
    quote_match_rate: float = 0.25
    min_log_likelihood: float = 38.0
    min_matched: int = 20
    min_seconds: float = 3.0
    ambiguous_overlap_seconds: float = 1.0
    corroborate_below: float = 0.68
    corroborate_max_altered: float = 0.5
    corroborate_offsets: int = 2


@dataclass(frozen=True)
class PeakMap:
    """The upload's peaks as a dilated occupancy grid: ``grid[frame - first_frame, bin]`` is
    true where an upload peak lies within the match tolerance. frame_seconds: one frame.

    The grid spans the frames of the peaks it is built from (and the tolerance either side),
    not the media from its start: a window of a long upload (``match.windows``) holds its own
    stretch only (the last 5 minutes of a 2-hour film: 13 000 frames, not 310 000; at ~260
    bins a frame that was 80 MB a copy). Frames outside the grid have no peak near them."""

    grid: np.ndarray  # (frames, bins) bool
    frame_seconds: float
    n_peaks: int
    first_frame: int = 0  # the media frame of the grid's row 0

    @classmethod
    def build(cls, bins: np.ndarray, frames: np.ndarray, frame_seconds: float,
              params: ConstellationParams) -> "PeakMap":
        first = max(0, int(frames.min()) - params.tolerance_frames) if len(frames) else 0
        n_frames = int(frames.max()) + 1 - first if len(frames) else 0
        n_bins = int(bins.max()) + 1 if len(bins) else 0
        grid = np.zeros((n_frames + 2 * params.tolerance_frames + 1, n_bins + 2 * params.tolerance_bins + 1),
                        np.uint8)
        grid[frames - first, bins] = 1
        kernel = np.ones((2 * params.tolerance_frames + 1, 2 * params.tolerance_bins + 1), np.uint8)
        cv2.dilate(grid, kernel, dst=grid)  # (in place, and 0/1 bytes read as bool: no copies)
        return cls(grid.view(bool), frame_seconds, len(bins), first)

    def matched(self, bins: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """bool, shaped as ``bins`` and ``frames`` broadcast: the upload has a peak near
        each (bin, frame); outside the grid: no."""
        bins, frames = np.broadcast_arrays(bins, frames)
        rows = frames - self.first_frame
        inside = (rows >= 0) & (rows < self.grid.shape[0]) & (bins >= 0) & (bins < self.grid.shape[1])
        out = np.zeros(frames.shape, bool)
        out[inside] = self.grid[rows[inside], bins[inside]]
        return out


@dataclass(frozen=True)
class VerifiedQuote:
    """A located quote: upload/reference seconds, matched and mapped reference peaks,
    the chance rate, the log-likelihood ratio and the share of instants matched."""

    upload_start: float
    upload_end: float
    ref_start: float
    ref_end: float
    speed: float
    matched: int
    peaks: int
    chance_rate: float
    log_likelihood: float
    instants: int
    density: float


def candidate_lines(c: Candidates, params: ConstellationParams, exclude: list[Segment] = ()) -> list[CandidateLine]:
    """Weak landmark lines among the hits ``c`` of one upload, best supported first.

    A copy at speed 1 puts its exact hash hits on one offset (reference minus
    upload seconds) to a frame or two: hits are grouped by offset bins of
    ``offset_seconds`` (twice, the second grid shifted by half a bin, so a line
    on a bin edge is not split), cut where consecutive hits are more than
    ``max_gap_seconds`` apart, and a run hitting ``candidate_min_instants``
    distinct instants is a candidate. Candidates overlapping a segment of
    ``exclude`` on its reference are left out (already found). (The peaks of a
    candidate's own hits count as evidence in ``verify_line``: leaving them out
    was measured to hurt true lines more than chance ones.)
    """
    if len(c) == 0:
        return []
    off = c.r_start - c.q_start
    runs = []  # per grid: its hits' ref, offset and upload arrays, and each kept run's first, end and instants
    for shift in (0.0, 0.5):
        b = np.floor(off / params.offset_seconds + shift).astype(np.int64)
        order = np.lexsort((c.q_start, b, c.ref_id))
        ref, bb, q, group, o = c.ref_id[order], b[order], c.q_start[order], c.q_group[order], off[order]
        new = np.concatenate([[True], (ref[1:] != ref[:-1]) | (bb[1:] != bb[:-1])
                              | (np.diff(q) > params.max_gap_seconds)])
        run = np.cumsum(new) - 1
        # each instant once per run: within a run the hits are in upload order, so its instants
        # (q_group, rounded upload seconds) come sorted and a new one is a change from the hit before
        first = new.copy()
        first[1:] |= group[1:] != group[:-1]
        instants = np.bincount(run[first], minlength=int(run[-1]) + 1)
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(run))
        keep = np.flatnonzero(instants >= params.candidate_min_instants)
        runs.append((ref, o, q, starts[keep], ends[keep], instants[keep]))
    # best supported first (ties: grid 0 before grid 1, then the runs' order), built one at a time until
    # ``max_candidates`` are kept: a catalog of hundreds of hours has thousands of chance runs
    grid = np.concatenate([np.full(len(r[5]), g, np.int64) for g, r in enumerate(runs)])
    index = np.concatenate([np.arange(len(r[5]), dtype=np.int64) for r in runs])
    support = np.concatenate([r[5] for r in runs])
    out: list[CandidateLine] = []
    overlaps = lambda a0, a1, b0, b1: a0 <= b1 and b0 <= a1  # noqa: E731
    for k in np.lexsort((index, grid, -support)):
        if len(out) >= params.max_candidates:
            break
        ref, o, q, starts, ends, instants = runs[grid[k]]
        lo, hi = starts[index[k]], ends[index[k]]
        cand = CandidateLine(int(ref[lo]), float(np.median(o[lo:hi])), float(q[lo]), float(q[hi - 1]),
                             int(instants[index[k]]))
        if any(o.ref_id == cand.ref_id and abs(o.offset - cand.offset) <= params.offset_seconds
               and overlaps(o.upload_start, o.upload_end, cand.upload_start, cand.upload_end) for o in out):
            continue  # the same line on the other grid
        if any(s.ref_id == cand.ref_id and overlaps(s.upload_start, s.upload_end, cand.upload_start, cand.upload_end)
               for s in exclude):
            continue
        out.append(cand)
    return out


def _best_stretch(scores: np.ndarray) -> tuple[float, int, int]:
    """(sum, first, last) of the contiguous run of ``scores`` with the highest sum."""
    if len(scores) == 0:
        return 0.0, 0, -1
    c = np.concatenate([[0.0], np.cumsum(scores)])
    low = np.minimum.accumulate(c)[:-1]  # lowest prefix before each end
    gain = c[1:] - low
    last = int(np.argmax(gain))
    first = int(np.argmax(c[: last + 1] == low[last]))  # where that lowest prefix was
    return float(gain[last]), first, last


def verify_line(upload: PeakMap, ref_bins: np.ndarray, ref_frames: np.ndarray, speed: float, offset: float,
                span: tuple[float, float], upload_seconds: float, params: ConstellationParams,
                instant_seconds: float = 0.25, min_log_likelihood: float | None = None) -> VerifiedQuote | None:
    """Locate and verify a quote along ``ref_time = speed * upload_time + offset``.

    ref_bins, ref_frames: the reference's peaks (frames of the upload map's
    length); span: the candidate's upload seconds (widened by
    ``context_seconds``); upload_seconds: the upload's length;
    min_log_likelihood: the ratio the stretch needs (default
    ``params.min_log_likelihood``). None when the peaks do not show a quote.
    """
    need = params.min_log_likelihood if min_log_likelihood is None else min_log_likelihood
    q = line_evidence(upload, ref_bins, ref_frames, speed, offset, span, upload_seconds, params, instant_seconds)
    if q is None or q.log_likelihood < need or q.matched < params.min_matched \
            or q.upload_end - q.upload_start < params.min_seconds:
        return None
    return q


def line_evidence(upload: PeakMap, ref_bins: np.ndarray, ref_frames: np.ndarray, speed: float, offset: float,
                  span: tuple[float, float], upload_seconds: float, params: ConstellationParams,
                  instant_seconds: float = 0.25) -> VerifiedQuote | None:
    """The best stretch along a line (see ``verify_line``) whatever its strength: None only
    when too few peaks match at any scanned offset (fewer than ``min_matched``) or chance
    matches as often as a quote would."""
    fs = upload.frame_seconds
    lo = max(0.0, span[0] - params.context_seconds)
    hi = min(upload_seconds, span[1] + params.context_seconds)
    null_far = int(np.ceil(params.null_max_seconds / fs))
    ref_t = ref_frames * fs
    # reference peaks whose place on the line falls in the widened span (or its null shifts)
    up_t = (ref_t - offset) / speed
    keep = (up_t >= lo - params.null_max_seconds) & (up_t < hi + params.null_max_seconds)
    bins, up_t, ref_t = ref_bins[keep], up_t[keep], ref_t[keep]
    base = np.rint(up_t / fs).astype(np.int64)
    inside = (up_t >= lo) & (up_t < hi)
    if inside.sum() < params.min_matched:
        return None

    def hits(shifts: np.ndarray) -> np.ndarray:  # (shifts, peaks) bool
        return upload.matched(bins[inside][None, :], base[inside][None, :] + shifts[:, None])

    shifts = np.arange(-params.scan_frames, params.scan_frames + 1)
    counts = hits(shifts).sum(axis=1)
    if counts.max() < params.min_matched:
        return None  # (most chance candidates: no need to measure their chance rate)
    best = int(shifts[np.argmax(counts)])
    near = int(np.ceil(params.null_min_seconds / fs))
    null_shifts = np.array([d for d in range(best - null_far, best + null_far + 1, 3) if abs(d - best) >= near])
    chance = max(float(hits(null_shifts).mean()), 1e-3)
    rate = params.quote_match_rate
    if chance >= rate:
        return None
    matched = hits(np.array([best]))[0]
    order = np.argsort(up_t[inside], kind="stable")
    matched, t_up, t_ref = matched[order], up_t[inside][order], ref_t[inside][order]
    scores = np.where(matched, np.log(rate / chance), np.log((1 - rate) / (1 - chance)))
    total, first, last = _best_stretch(scores)
    if last < first:
        return None
    run = slice(first, last + 1)
    n_matched = int(matched[run].sum())
    start = float(t_up[first]) + best * fs
    end = float(t_up[last]) + (best + 1) * fs
    instants = np.unique(np.floor((t_up[run][matched[run]] + best * fs) / instant_seconds))
    n_instants = max(1, int(np.ceil((end - start) / instant_seconds)))
    return VerifiedQuote(start, end, float(t_ref[first]), float(t_ref[last]) + fs, speed, n_matched,
                         last - first + 1, chance, total, len(instants), min(1.0, len(instants) / n_instants))


def corroborated(seg: Segment, upload: PeakMap, ref_bins: np.ndarray, ref_frames: np.ndarray,
                 upload_seconds: float, params: ConstellationParams,
                 speed_tolerance: float = 0.03) -> VerifiedQuote | None:
    """The work's peaks along a segment found by another audio signal (chroma), verified as a
    quote (``verify_line``) over the segment's upload span, or None when they do not show the
    work's recording there (see the module docstring).

    The line is tried at the segment's fitted speed and, within ``speed_tolerance`` of 1, at
    speed 1 (a chroma fit is good to a few tenths of a per cent; over 30 s that is more than the
    peaks' one-frame tolerance), through the segment's middle, at ``corroborate_offsets``
    steps of the scanned width either side.
    """
    mid = 0.5 * (seg.upload_start + seg.upload_end)
    ref_mid = seg.ref_start + seg.speed * (mid - seg.upload_start)
    speeds = {float(seg.speed)} | ({1.0} if abs(seg.speed - 1.0) <= speed_tolerance else set())
    width = (2 * params.scan_frames + 1) * upload.frame_seconds
    best: VerifiedQuote | None = None
    for speed in sorted(speeds):
        for k in range(-params.corroborate_offsets, params.corroborate_offsets + 1):
            offset = ref_mid - speed * mid + k * width
            q = verify_line(upload, ref_bins, ref_frames, speed, offset, (seg.upload_start, seg.upload_end),
                            upload_seconds, params)
            if q is not None and (best is None or q.log_likelihood > best.log_likelihood):
                best = q
    return best


def distinct_quotes(quotes: list[tuple[VerifiedQuote, int]], params: ConstellationParams) -> list[Segment]:
    """Segments of the verified quotes (quote, reference id) of one upload: one per stretch
    of the upload, the most likely (a stretch the shorter quote half shares with another);
    then a reference whose kept quotes overlap each other on the upload by more than
    ``ambiguous_overlap_seconds`` keeps none (see ``ConstellationParams``)."""
    kept: list[tuple[VerifiedQuote, int]] = []
    for q, ref_id in sorted(quotes, key=lambda x: -x[0].log_likelihood):
        if not any(r == ref_id and _overlap(o, q) > 0.5 * min(o.upload_end - o.upload_start, q.upload_end - q.upload_start)
                   for o, r in kept):
            kept.append((q, ref_id))
    ambiguous = {r for i, (a, r) in enumerate(kept) for b, s in kept[i + 1:]
                 if s == r and _overlap(a, b) > params.ambiguous_overlap_seconds}
    return [quote_segment(q, ref_id) for q, ref_id in kept if ref_id not in ambiguous]


def _overlap(a: VerifiedQuote, b: VerifiedQuote) -> float:
    """Upload seconds two quotes share."""
    return min(a.upload_end, b.upload_end) - max(a.upload_start, b.upload_start)


def quote_segment(q: VerifiedQuote, ref_id: int, modality: str = "audio", signal: str = "landmark") -> Segment:
    """A verified quote as a segment: similarity (as for landmark segments) the share of
    its quarter-second instants with a matched peak."""
    return Segment(ref_id=ref_id, modality=modality, upload_start=q.upload_start, upload_end=q.upload_end,
                   ref_start=q.ref_start, ref_end=q.ref_end, speed=q.speed, similarity=q.density,
                   mean_distance=0.0, hits=q.instants, density=q.density, changes=q.instants,
                   clean_share=q.matched / max(q.peaks, 1), signal=signal)
