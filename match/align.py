"""Temporal alignment: index hits -> segments along a diagonal.

A copy played at speed ``s`` puts its matching codes on a line
``ref_time = s * upload_time + offset``. For every hit and every candidate speed
on a grid, the hit votes for the offset bins its reference interval allows.
One upload instant votes once per (speed, bin), with the weight of its best hit
there, ``1 - distance / radius``: many close hits outvote a longer run of hits
near the radius (a chance resemblance, or the work's own repeats). The
best-voted line is refined (least squares over its loose inliers, then again
over those inside the segments it yields: chance hits along the line
elsewhere no longer pull it), its inliers are cut into segments where the
upload gap exceeds ``max_gap_seconds``, and the
hits it explains leave the pool before the next line is sought: its inliers,
and other hits inside its segments that are no closer than the line's own at
that instant (a closer line there is kept for later); this repeats until no
line has ``min_hits`` instants. Segments of one reference that then overlap on
the upload axis are resolved: the one with more evidence inside the overlap
keeps it. Several segments per reference, several references per upload.

Degenerate content never forms a segment: a segment needs ``min_changes``
points where the upload's own codes change (static pictures, test patterns,
constant tones and title cards do not change), besides ``min_hits`` instants.

A static background (a fixed camera, a studio set) is subtler: the upload's
codes change (people and cars move), but every frame of the view hashes much
alike, so an upload instant hits the whole reference timeline about equally
well and some line always collects enough evidence. Such a line is not
*temporally specific*: ``temporal_specificity`` compares, second by second,
the line's evidence with the best evidence of any line more than
``specific_seconds`` away on the reference. A copy's line wins by a wide
margin (its codes hit nothing far off it, or worse); a line through a static
background wins by chance if at all. Segments whose advantage stays below
``min_specificity`` (and whose evidence other times of the work reach for
the most part) are marked as resting on a static background only (``background
= "only"``: not evidence of a copy); below ``review_specificity`` as resting
on it partly (``"partly"``: a person decides), unless the line wins second
after second (``min_win_share`` of its windows): people moving in place on a
set keep a copy's margin small, never its sign.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .combine import clip_segment
from .types import BACKGROUND_ONLY, BACKGROUND_PARTLY, Candidates, Segment


@dataclass(frozen=True)
class AlignParams:
    """Tunables of the alignment (TOML ``[match.video]`` / ``[match.audio]``).

    radius: Hamming radius (bits) within which a stored code is a hit.
    min_evidence: a segment needs sum over its instants of (1 - distance /
        radius) at least this large: many close hits, not a few near the radius.
    edge_seconds: how far a code's window reaches either side of the time it
        is given (half the window: audio codes are timed at its centre). Where
        codes exist beyond a segment's end on both timelines, windows that
        straddle the copy's edge still hit and the matched codes end about at
        the copy's edge; where nothing beyond could be observed, the copy may
        run on for up to this much, so the segment is widened there: to the
        upload's start (end) when its first (last) matched code lies within
        this much, and a quarter more, of it (divided by the segment's speed:
        a slowed copy spreads a window over more upload seconds), to the reference's start
        (its first code lies this far in) and towards its end (its last code
        stands for the rest, see ``fingerprint.audio._last_code_to_end``).
    gap_edge_seconds: the same where the upload's codes stop at a gap inside
        it (silence: a code needs most of its window voiced, so the first code
        after a gap already reaches into it).

    min_speed, max_speed, speed_step: the grid of playback speeds tried
        (reference seconds per upload second): log-spaced, each speed
        ``speed_step`` (relative: 0.01 is 1 %) above the last, plus 1. A
        relative step drifts a line by the same reference seconds at every
        speed (0.5x and 2x alike).
    coarse_speed_step: 0 votes on the whole grid at once. Above 0 (a relative
        step larger than ``speed_step``), speeds are searched coarse to fine:
        first a log grid of this step over the range (plus 1), then the fine
        grid within one coarse step either side of the best coarse line. The
        vote arrays grow with hits x speeds, and 0.5-2x at 1 % is 140 speeds;
        coarse to fine at 5 % tries about 40.
    offset_bin_seconds: width of an offset vote bin, seconds.
    inlier_seconds: a hit lies on a line when its reference interval is within
        this many seconds of the line.
    max_gap_seconds: a segment is cut where consecutive matched upload instants
        are further apart than this.
    min_hits: distinct upload instants a segment needs.
    min_density: share of the upload instants inside a segment that must have
        matched (scattered chance hits on one line are sparse).
    min_segment_seconds: shortest segment reported, upload seconds.
    min_changes: a segment needs this many changes of the upload's own codes
        (see ``count_changes``), read every ``change_seconds``.
    change_bits: Hamming distance (bits) that counts as the content changing.
    change_max_seconds: slow footage drifts by less than ``change_bits`` in
        ``change_seconds``: the codes are also read every whole multiple of it
        up to this many seconds (the largest count is kept; 0 or
        ``change_seconds``: one step only).
    max_segments_per_ref: stop looking for further lines on a reference after this.
    hint_tolerance: a hit whose query variant assumed speed ``h`` only supports
        lines with a speed within this of ``h``.
    altered_min_similarity: a segment found mostly through variants that undo
        an alteration (audio shifted in pitch, tempo or speed) needs at least
        this similarity: a song in the same key progression a semitone away, or
        same-style music at another tempo, otherwise passes for an altered copy.
    instant_seconds: upload codes whose times round to the same multiple of
        this stand for one instant and vote once (0: the signal's sampling
        period). Landmarks, ~180 a second, are counted in quarter seconds.
    specific_seconds: lines whose offset is more than this many seconds from
        a segment's line are "other times of the work" for
        ``temporal_specificity``.
    specific_window_seconds: the segment is compared with those lines in
        upload windows this long (about the time a stored code stands for:
        a collapsed run of reference frames lasts up to a second).
    min_specificity: a segment whose temporal specificity (evidence per
        instant by which its line beats the best line elsewhere, 0..1) is
        below this, while other times reach at least ``background_share`` of
        its evidence, rests on a static background only (0: never).
    review_specificity: below this (and at least ``min_specificity``) it
        rests partly on a static background: sent to review, never blocked
        (0: never).
    background_share: the share of a segment's evidence that lines elsewhere
        on the work must reach for it to be judged by its specificity at all:
        a copy of moving footage (nothing hits far off its line) never is,
        however weak its hits.
    min_win_share, win_margin, min_win_windows: a segment of at least
        ``min_win_windows`` windows whose line beats the best line elsewhere
        by more than ``win_margin`` per instant in at least ``min_win_share``
        of them does not rest on the background, whatever its mean margin
        (0: never). People moving in place on a set come back to the same
        poses, so a copy's line beats the other times of the work by a few
        bits only, but it does so second after second; a chance line through
        the view is one of many and loses most seconds to the best of the
        others (``temporal_specificity``).

    A radius of 0 means exact-match codes (landmarks): their distance says
    nothing, so a segment's similarity is its density (the share of its
    upload instants that matched).
    """

    radius: int = 64
    min_evidence: float = 3.0
    edge_seconds: float = 0.0
    gap_edge_seconds: float = 0.0
    min_speed: float = 0.88
    max_speed: float = 1.12
    speed_step: float = 0.01
    coarse_speed_step: float = 0.0
    offset_bin_seconds: float = 0.5
    inlier_seconds: float = 0.6
    max_gap_seconds: float = 4.0
    min_hits: int = 4
    min_density: float = 0.3
    min_segment_seconds: float = 1.5
    min_changes: int = 2
    change_seconds: float = 1.0
    change_bits: int = 24
    change_max_seconds: float = 0.0
    max_segments_per_ref: int = 20
    hint_tolerance: float = 0.03
    altered_min_similarity: float = 0.0
    instant_seconds: float = 0.0
    specific_seconds: float = 4.0
    specific_window_seconds: float = 1.0
    min_specificity: float = 0.0
    review_specificity: float = 0.0
    background_share: float = 0.5
    min_win_share: float = 0.0
    win_margin: float = 0.02
    min_win_windows: int = 8

    def speeds(self) -> np.ndarray:
        """The fine grid of speeds tried (see ``speed_step``), ascending."""
        return _log_grid(self.min_speed, self.max_speed, self.speed_step)

    def coarse_speeds(self) -> np.ndarray | None:
        """The first, coarse grid of a coarse-to-fine search, or None when the
        fine grid is searched at once (``coarse_speed_step``)."""
        if self.coarse_speed_step <= self.speed_step:
            return None
        return _log_grid(self.min_speed, self.max_speed, self.coarse_speed_step)


def _log_grid(lo: float, hi: float, step: float) -> np.ndarray:
    """Speeds from ``lo`` to ``hi`` (both included), each ``step`` (relative) above
    the last but evenly spread to end at ``hi``, plus 1.0 when inside."""
    n = max(1, int(np.ceil(np.log(hi / lo) / np.log1p(step) - 1e-9)))
    grid = lo * (hi / lo) ** (np.arange(n + 1) / n)
    inside = [1.0] if lo <= 1.0 <= hi else []
    return np.unique(np.round(np.concatenate([grid, inside]), 6))


def _allowed(hint: np.ndarray, speed, tol: float) -> np.ndarray:
    """Hits whose variant's assumed speed is compatible with ``speed``."""
    return np.isnan(hint) | (np.abs(hint - speed) <= tol)


def _weights(distance: np.ndarray, radius: int) -> np.ndarray:
    """Evidence of each hit at ``distance`` bits: 1 at distance 0, 0 at the search radius."""
    return np.clip(1.0 - distance / max(radius, 1), 0.0, None)


#: vote cells (hit x speed x offset bin) one block of ``_best_line`` holds at a time: its
#: temporaries are about 60 bytes a cell, so a block stays near 15 MB however long the copy (2M cells
#: were the peak of screening a 10-minute film; 1M: 60 MB less, the same lines; 250 000: the peak of
#: a window of the 2-hour copy, ~45 MB less again, the same lines: a vote never straddles blocks)
VOTE_BLOCK_CELLS = 250_000


def _vote_blocks(c: Candidates, n_speeds: int, bin_s: float) -> list[np.ndarray]:
    """Hit indices in blocks of whole upload instants (in instant order), each with at most
    about ``VOTE_BLOCK_CELLS`` vote cells (a hit votes in every offset bin its stored
    interval spans, at every speed): a vote is one (line, instant), so votes never straddle
    two blocks and the lines' scores add up across them."""
    order = np.argsort(c.q_group, kind="stable")
    cells = ((c.r_end[order] - c.r_start[order]) / bin_s + 2.0) * n_speeds
    total = np.cumsum(cells)
    if total[-1] <= VOTE_BLOCK_CELLS:
        return [order]
    group = c.q_group[order]
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))  # first hit of each instant
    before = np.concatenate([[0.0], total])[starts]  # cells before each instant
    cut = starts[np.unique(np.searchsorted(before, np.arange(0, total[-1], VOTE_BLOCK_CELLS), side="right") - 1)]
    return np.split(order, cut[1:])


def _line_votes(c: Candidates, speeds: np.ndarray, bin_s: float, tol: float,
                radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(line keys, evidence, voting instants) of the lines ``c``'s hits vote for; a key is
    speed index * 2**40 + offset bin + 2**39 (sorted: speed-major, then bin).

    Each (speed, offset bin, upload instant) votes once, with the weight of its best hit
    (see ``_weights``); a line's evidence is the sum of its votes. ``c`` holds whole instants."""
    s = speeds[None, :]
    q = c.q_start[:, None]
    lo = np.floor((c.r_start[:, None] - s * q) / bin_s).astype(np.int64)
    hi = np.maximum(np.floor((c.r_end[:, None] - 1e-6 - s * q) / bin_s).astype(np.int64), lo)
    ok = _allowed(c.speed_hint[:, None], s, tol)
    count = np.where(ok, hi - lo + 1, 0).ravel()
    if count.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    hit_idx = np.repeat(np.repeat(np.arange(len(c)), len(speeds)), count)
    speed_idx = np.repeat(np.tile(np.arange(len(speeds)), len(c)), count)
    bins = np.repeat(lo.ravel(), count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    del lo, hi, ok
    # integer keys: line = (speed, bin); vote = (line, upload instant)
    b0, n_bins = bins.min(), int(bins.max() - bins.min()) + 1
    line = speed_idx.astype(np.int64) * n_bins + (bins - b0)
    _, instant = np.unique(c.q_group, return_inverse=True)
    n_instants = int(instant.max()) + 1
    vote = line * n_instants + instant[hit_idx]
    distance = c.distance[hit_idx]
    # per vote, its best (closest) hit first: one sort of an integer key when it
    # fits in 64 bits (about twice as fast as sorting on two keys)
    if (int(line.max()) + 1) * n_instants * (max(radius, 0) + 1) < 2**62 and distance.min(initial=0) >= 0:
        order = np.argsort(vote * (max(radius, 0) + 1) + np.minimum(distance, max(radius, 0)))
    else:
        order = np.lexsort((distance, vote))
    keep = order[np.concatenate([[True], vote[order][1:] != vote[order][:-1]])]
    # votes sorted are lines sorted (vote = line * n_instants + instant)
    kept_line = line[keep]
    new_line = np.concatenate([[True], kept_line[1:] != kept_line[:-1]])
    keys, inverse = kept_line[new_line], np.cumsum(new_line) - 1
    score = np.bincount(inverse, weights=_weights(distance[keep], radius))
    votes = np.bincount(inverse)
    key_speed, key_bin = keys // n_bins, keys % n_bins + b0
    return key_speed * 2**40 + key_bin + 2**39, score, votes


#: lines (one per block and line voted for) ``_best_line`` collects before merging them into its
#: running total: the total holds each line once (at most speeds x offset bins, whatever the length
#: of the copy), so memory follows this and the number of distinct lines, not the number of blocks
MERGE_LINES = 1_000_000


def _merge_lines(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keys, evidence, voting instants) of ``_line_votes`` parts summed per line, keys sorted.

    Sums run in the order of ``parts`` (``np.bincount`` adds its inputs in order, from 0), so
    merging the parts in batches, each batch into the total so far, gives the same floats as
    merging all of them at once."""
    if len(parts) == 1:
        return parts[0]
    keys, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
    score = np.bincount(inverse, weights=np.concatenate([p[1] for p in parts]))
    votes = np.bincount(inverse, weights=np.concatenate([p[2] for p in parts])).astype(np.int64)
    return keys, score, votes


def _best_line(c: Candidates, speeds: np.ndarray, bin_s: float, tol: float, radius: int,
               min_hits: int) -> tuple[float, float, int]:
    """(speed, offset seconds, voting instants) of the line with the most
    evidence among candidates ``c`` and at least ``min_hits`` voting instants.

    Each (speed, offset bin, upload instant) votes once, with the weight of its
    best hit (see ``_weights``); a line's score is the sum of its votes. The
    votes are counted in blocks of upload instants (``_vote_blocks``), so
    memory follows the block, not the length of the copy.
    """
    if len(c) == 0:
        return 1.0, 0.0, 0
    total: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the lines of the blocks merged so far
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pending = 0
    for block in _vote_blocks(c, len(speeds), bin_s):
        part = _line_votes(c.subset(block), speeds, bin_s, tol, radius)
        if len(part[0]):
            parts.append(part)
            pending += len(part[0])
        if pending > MERGE_LINES:
            total, parts, pending = _merge_lines(([total] if total else []) + parts), [], 0
    if parts or total:
        total = _merge_lines(([total] if total else []) + parts)
    if total is None:
        return 1.0, 0.0, 0
    keys, score, votes = total
    key_speed, key_bin = keys // 2**40, keys % 2**40 - 2**39
    # a line whose offset straddles two bins splits its votes: pool neighbours
    same_speed_next = np.concatenate([(key_speed[1:] == key_speed[:-1]) & (key_bin[1:] - key_bin[:-1] == 1), [False]])
    pooled = score.copy()
    pooled[:-1] += np.where(same_speed_next[:-1], score[1:], 0)
    pooled_votes = votes.copy()
    pooled_votes[:-1] += np.where(same_speed_next[:-1], votes[1:], 0)
    if pooled_votes.max() < min_hits:
        return 1.0, 0.0, int(pooled_votes.max())
    # equal evidence: prefer the speed closest to 1 (most copies are not retimed)
    rank = np.where(pooled_votes >= min_hits, pooled - 1e-6 * np.abs(speeds[key_speed] - 1.0), -np.inf)
    best = int(np.argmax(rank))
    speed = float(speeds[key_speed[best]])
    offset = (key_bin[best] + (1.0 if same_speed_next[best] else 0.5)) * bin_s
    return speed, offset, int(pooled_votes[best])


def _search_line(c: Candidates, fine: np.ndarray, coarse: np.ndarray | None,
                 params: AlignParams) -> tuple[float, float, int]:
    """(speed, offset seconds, voting instants) of the best line, coarse to fine
    when a coarse grid is given (see ``AlignParams.coarse_speed_step``)."""
    args = (params.offset_bin_seconds, params.hint_tolerance, params.radius, params.min_hits)
    if coarse is None:
        return _best_line(c, fine, *args)
    speed, offset, votes = _best_line(c, coarse, *args)
    if votes < params.min_hits:
        return speed, offset, votes
    step = 1.0 + params.coarse_speed_step
    near = fine[(fine >= speed / step - 1e-9) & (fine <= speed * step + 1e-9)]
    return _best_line(c, near, *args)


@dataclass(frozen=True)
class _LineTiming:
    """The four fields of some hits that ``_refine`` and ``_on_line`` read (32 bytes a hit, where a
    ``Candidates.subset`` copies every field: ~100): refitting a line over the hits inside its
    segments, most of a window's hits when it is a whole copy, copies no more than it needs."""

    q_start: np.ndarray
    r_start: np.ndarray
    r_end: np.ndarray
    speed_hint: np.ndarray

    @classmethod
    def of(cls, c: Candidates, keep: np.ndarray) -> "_LineTiming":
        return cls(c.q_start[keep], c.r_start[keep], c.r_end[keep], c.speed_hint[keep])


def _refine(c: "Candidates | _LineTiming", speed: float, offset: float, params: AlignParams) -> tuple[float, float]:
    """Least-squares speed and median offset over the hits near a voted line.

    The vote grid is coarse (a speed step of 0.01 drifts 0.2 s over 20 s), so
    the line is re-fitted on its loose inliers, speed kept within the grid's
    range. Codes are placed at their start on both timelines.
    """
    inl, _ = _on_line(c, speed, offset, 2 * params.inlier_seconds, params.hint_tolerance)
    inl &= c.r_end - c.r_start <= 2 * params.inlier_seconds  # (a work's last code stands for its end: no position)
    if inl.sum() < 2:
        return speed, offset
    q = c.q_start[inl]
    # an upload code's time is its start; so is a stored code's, or, for a run
    # of near-identical stored codes, the middle of the run's possible starts
    width = c.r_end[inl] - c.r_start[inl]
    pos = c.r_start[inl] + 0.5 * (width - width.min())
    if q.max() - q.min() >= 2.0:
        speed = float(np.clip(np.polyfit(q, pos, 1)[0], params.min_speed, params.max_speed))
    return speed, float(np.median(pos - speed * q))


def _on_line(c: "Candidates | _LineTiming", speed: float, offset: float, tol: float,
             hint_tol: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Mask of hits within ``tol`` seconds of the line (and compatible with its
    speed) and their reference time on it."""
    pred = speed * c.q_start + offset
    on = np.clip(pred, c.r_start, c.r_end)
    return (np.abs(pred - on) <= tol) & _allowed(c.speed_hint, speed, hint_tol), on


def count_changes(times: np.ndarray, codes: np.ndarray, step_seconds: float, change_bits: int,
                  max_step_seconds: float = 0.0) -> int:
    """How many times the content changes along a run of codes (sorted by time).

    The run is read every ``step_seconds`` (the first code at or after each
    step) and a change is a Hamming distance above ``change_bits`` between
    consecutive readings. Static pictures and constant tones score 0; moving
    content scores about one per step. Slow footage (a slow pan, a long shot
    with little motion) may change by less than ``change_bits`` in a step yet
    keep drifting: with ``max_step_seconds`` the run is also read every 2, 3,
    ... steps up to that long, and the largest count is kept. A static picture
    still scores 0 (two readings of it differ by noise only, however far
    apart), and moving content keeps its count (one step counts the most).
    """
    if len(codes) < 2:
        return 0
    best = 0
    for k in range(1, max(1, int(max_step_seconds / step_seconds + 1e-9)) + 1):
        grid = np.arange(times[0], times[-1] + 1e-9, k * step_seconds)
        pos = np.unique(np.clip(np.searchsorted(times, grid), 0, len(times) - 1))
        if len(pos) < 2:
            break
        best = max(best, int((np.bitwise_count(codes[pos[1:]] ^ codes[pos[:-1]]).sum(axis=1) > change_bits).sum()))
    return best


def temporal_specificity(hits: Candidates, speed: float, offset: float, start: float, end: float,
                         params: AlignParams) -> tuple[float, float]:
    """(specificity, background share) of the line ``ref = speed * upload + offset`` over upload
    seconds [start, end] (see ``specificity_windows``)."""
    specificity, background, _ = _specificity(specificity_windows(hits, speed, offset, start, end, params))
    return specificity, background


def _specificity(windows: tuple[np.ndarray, np.ndarray, np.ndarray], margin: float = 0.0
                 ) -> tuple[float, float, float]:
    """(specificity, background share, share of windows won by more than ``margin`` per instant)
    from ``specificity_windows``."""
    line_sum, rival, count = windows
    n = float(count.sum())
    if n == 0:
        return 0.0, 1.0, 0.0
    total = float(line_sum.sum())
    specificity = float((line_sum - rival).sum()) / n
    background = min(1.0, float(rival.sum()) / total) if total > 0 else 1.0
    held = count > 0
    won = float(((line_sum - rival)[held] > margin * count[held]).mean())
    return specificity, background, won


def specificity_windows(hits: Candidates, speed: float, offset: float, start: float, end: float,
                        params: AlignParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per upload window of the line ``ref = speed * upload + offset`` over upload
    seconds [start, end]: (its evidence L, the best rival's R, its instants), from
    ``hits``: every hit of the reference (not only the line's), so the other times
    of the work are seen.

    The upload is cut into windows of ``specific_window_seconds``. In each,
    the line's evidence L is the sum over its instants of their best hit's
    weight (``_weights``) within ``inlier_seconds`` of the line; the rival R
    is the largest such sum over the lines at the same speed whose offset is
    more than ``specific_seconds`` away (offsets on a grid of half
    ``inlier_seconds``). specificity = sum(L - R) / instants: the evidence per
    instant (0..1) by which the line beats the best place elsewhere on the
    work, window by window. A copy of moving footage scores its own mean
    weight (nothing far off hits); a line through a static background, where
    each window fits some other time as well, scores about 0 or below.
    background share = sum(R) / sum(L), clipped to 0..1: how much of the
    line's evidence other times of the work reach.
    """
    inside = (hits.q_start >= start) & (hits.q_start <= end) & _allowed(hits.speed_hint, speed, params.hint_tolerance)
    h = hits.subset(inside)
    if len(h) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    instants, inst = np.unique(h.q_group, return_inverse=True)
    n = len(instants)
    q = np.zeros(n)
    q[inst] = h.q_start
    # one hit per (instant, stored time), the closest: the query variants of an instant and the stored
    # variants of a time (centre crops) say the same about where the instant fits
    order = np.lexsort((h.distance, h.r_start, inst))
    first = np.concatenate([[True], (inst[order][1:] != inst[order][:-1]) | (h.r_start[order][1:] != h.r_start[order][:-1])])
    pick = order[first]
    inst, r_start, r_end, q_hit = inst[pick], h.r_start[pick], h.r_end[pick], h.q_start[pick]
    weight = _weights(h.distance[pick], params.radius)
    tol, far = params.inlier_seconds, params.specific_seconds
    rel_lo = r_start - speed * q_hit - offset  # the hit's reference interval relative to the line, seconds
    rel_hi = r_end - speed * q_hit - offset
    window = np.floor((q - start) / params.specific_window_seconds).astype(np.int64)
    on = (rel_lo <= tol) & (rel_hi >= -tol)
    line = np.zeros(n)
    np.maximum.at(line, inst[on], weight[on])
    line_sum = np.bincount(window, weights=line)
    # rival lines: offsets on a grid, more than `far` away; a hit supports those within tol of its interval
    cell = tol / 2
    reach = (rel_hi + tol < -far) | (rel_lo - tol > far)
    lo = np.floor((rel_lo[reach] - tol) / cell).astype(np.int64)
    hi = np.floor((rel_hi[reach] + tol) / cell).astype(np.int64)
    rival = np.zeros(len(line_sum))
    if len(lo):
        inst_r, weight_r = inst[reach], weight[reach]
        # in blocks of whole windows (hits are in instant order, so in window order): each window's
        # rivals are summed and compared within one block, so memory follows the block
        for rows in _window_blocks(window[inst_r], hi - lo + 1, SPECIFIC_BLOCK_CELLS):
            _rival_block(rival, lo[rows], hi[rows], inst_r[rows], weight_r[rows], window, cell, far)
    return line_sum, rival, np.bincount(window, minlength=len(line_sum)).astype(np.float64)


#: rival-line cells (hit x offset cell) ``specificity_windows`` holds at a time (about 80 bytes each:
#: ~20 MB; a window's rivals are compared within one block, so the blocks give the same floats)
SPECIFIC_BLOCK_CELLS = 250_000


def _window_blocks(windows: np.ndarray, cells: np.ndarray, max_cells: int) -> list[np.ndarray]:
    """Row indices in blocks of whole windows (``windows`` nondecreasing; otherwise one block),
    each of about ``max_cells`` cells at most (a single window may exceed it)."""
    total = np.cumsum(cells)
    if total[-1] <= max_cells or np.any(np.diff(windows) < 0):
        return [np.arange(len(windows))]
    starts = np.flatnonzero(np.concatenate([[True], windows[1:] != windows[:-1]]))  # first row of each window
    before = np.concatenate([[0], total])[starts]
    cut = starts[np.unique(np.searchsorted(before, np.arange(0, total[-1], max_cells), side="right") - 1)]
    return np.split(np.arange(len(windows)), cut[1:])


def _rival_block(rival: np.ndarray, lo: np.ndarray, hi: np.ndarray, hit_inst: np.ndarray, weight: np.ndarray,
                 window: np.ndarray, cell: float, far: float) -> None:
    """Raise ``rival`` (per window) to the best rival line's evidence among these hits (whole windows):
    each hit supports the offset cells ``lo..hi`` (relative to the line) more than ``far`` away."""
    count = hi - lo + 1
    row = np.repeat(np.arange(len(lo)), count)
    cells = lo[row] + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    centre = (cells + 0.5) * cell
    keep = np.abs(centre) > far
    row, cells = row[keep], cells[keep]
    if len(row) == 0:
        return
    hit_inst = hit_inst[row]
    w = weight[row]
    # best hit per (instant, rival line), summed per (window, rival line), largest per window
    c0, n_cells = cells.min(), int(cells.max() - cells.min()) + 1
    key = hit_inst * n_cells + (cells - c0)
    order = np.lexsort((-w, key))
    first = order[np.concatenate([[True], key[order][1:] != key[order][:-1]])]
    wkey = window[hit_inst[first]] * n_cells + (cells[first] - c0)
    keys, sums = np.unique(wkey, return_inverse=True)
    per_line = np.bincount(sums, weights=w[first])
    np.maximum.at(rival, keys // n_cells, per_line)


def _background(specificity: float, background: float, params: AlignParams, won: float = 0.0,
                windows: int = 0) -> str:
    """Whether a segment rests on a static background: "" (no), BACKGROUND_PARTLY, BACKGROUND_ONLY.
    won: the share of its ``windows`` (upload windows holding instants) its line won by more
    than ``win_margin``."""
    if background < params.background_share:
        return ""
    if params.min_win_share > 0 and windows >= params.min_win_windows and won >= params.min_win_share:
        return ""  # consistent wins: the line is specific, by a small margin
    if specificity < params.min_specificity:
        return BACKGROUND_ONLY
    if specificity < params.review_specificity:
        return BACKGROUND_PARTLY
    return ""


def _trim_stray_ends(q: np.ndarray, part: np.ndarray, reach: int = 3) -> np.ndarray:
    """Drop lone instants at either end of a run: an end instant needs a
    neighbour within ``reach`` sampling periods, else it is a chance hit that
    happens to lie on the line and would stretch the segment."""
    if len(q) < 3:
        return part
    period = float(np.median(np.diff(q))) or 1e-3
    lo, hi = 0, len(q) - 1
    while hi - lo >= 2 and q[lo + 1] - q[lo] > reach * period:
        lo += 1
    while hi - lo >= 2 and q[hi] - q[hi - 1] > reach * period:
        hi -= 1
    return part[lo : hi + 1]


def _instants(c: Candidates) -> np.ndarray:
    """Indices of one hit per upload instant (the closest), in time order."""
    order = np.lexsort((c.distance, c.q_group))
    first = np.concatenate([[True], c.q_group[order][1:] != c.q_group[order][:-1]])
    pick = order[first]
    return pick[np.argsort(c.q_start[pick], kind="stable")]


def _segments_from_inliers(c: Candidates, ref_id: int, speed: float, offset: float, modality: str,
                           code_bits: int, params: AlignParams, signal: str = "") -> list[tuple[Segment, Candidates]]:
    """Segments along one line from its inliers ``c``, each with the inliers it
    was built from. Bounds are those of the matched codes (see ``_extend``)."""
    if len(c) == 0:
        return []
    pick = _instants(c)
    q, q_end, d = c.q_start[pick], c.q_end[pick], c.distance[pick]
    codes = np.asarray(c.query_codes[pick])
    altered = c.altered[pick]
    cuts = np.flatnonzero(np.diff(q) > params.max_gap_seconds) + 1
    out = []
    for part in np.split(np.arange(len(q)), cuts):
        part = _trim_stray_ends(q[part], part)
        if len(part) < params.min_hits:
            continue
        start, end = float(q[part[0]]), float(q_end[part[-1]])
        if end - start < params.min_segment_seconds:
            continue
        changes = count_changes(q[part], codes[part], params.change_seconds, params.change_bits,
                                params.change_max_seconds)
        if changes < params.min_changes:
            continue
        period = max(float(np.median(q_end[part] - q[part])), params.instant_seconds)
        density = min(1.0, len(part) * period / max(end - start, period))
        if density < params.min_density:
            continue
        evidence = float(_weights(d[part], params.radius).sum())
        if evidence < params.min_evidence:
            continue
        mean_d = float(d[part].mean())
        altered_share = float(altered[part].mean())
        if altered_share > 0.5 and 1.0 - mean_d / (code_bits / 2) < params.altered_min_similarity:
            continue
        seg = Segment(
            ref_id=ref_id,
            modality=modality,
            upload_start=start,
            upload_end=end,
            ref_start=speed * start + offset,  # (clipped to the media by _extend and combine)
            ref_end=speed * end + offset,
            speed=speed,
            similarity=density if params.radius == 0 else max(0.0, 1.0 - mean_d / (code_bits / 2)),
            mean_distance=mean_d,
            hits=len(part),
            density=density,
            changes=changes,
            clean_share=float((d[part] <= params.radius / 2).mean()),
            altered_share=altered_share,
            signal=signal or modality,
        )
        out.append((seg, c.subset((c.q_start >= start) & (c.q_start <= q[part[-1]]))))
    return out


def _explained(pool: Candidates, inl: np.ndarray, found: list[tuple[Segment, Candidates]]) -> np.ndarray:
    """Hits of ``pool`` a new line explains: its inliers, and the other hits inside
    its segments that are no closer than the line's own hit at that instant
    (or, where the line has none, than its segment's mean distance). A hit
    closer than the line may belong to a better line, found later."""
    drop = inl.copy()
    for seg, hits in found:
        inside = (pool.q_start >= seg.upload_start) & (pool.q_start < seg.upload_end)
        best = hits.subset(_instants(hits))
        groups = np.argsort(best.q_group)
        pos = np.clip(np.searchsorted(best.q_group[groups], pool.q_group), 0, len(groups) - 1)
        at_instant = best.q_group[groups][pos] == pool.q_group
        line_d = np.where(at_instant, best.distance[groups][pos], seg.mean_distance)
        drop |= inside & (pool.distance >= line_d)
    return drop


def _evidence_within(hits: Candidates, lo: float, hi: float, radius: int) -> float:
    """Sum over upload instants in [lo, hi] of the best hit's evidence."""
    best = hits.subset(_instants(hits))
    inside = (best.q_start >= lo) & (best.q_start <= hi)
    return float(_weights(best.distance, radius)[inside].sum())


def _resolve_overlaps(found: list[tuple[Segment, Candidates]], code_bits: int,
                      params: AlignParams) -> list[tuple[Segment, Candidates]]:
    """Segments of one reference on different lines that overlap on the upload
    axis: the one with more evidence inside the overlap keeps it, the other is
    rebuilt from its hits outside (an upload instant shows one place of a work).

    A rebuilt part before the overlap is cut at its start: its last code may
    start before the overlap yet last into it, and an overlap that survives the
    rebuild would be fought over again, forever.
    """
    found = list(found)
    while True:
        found.sort(key=lambda f: f[0].upload_start)
        clash = next(((i, j) for i in range(len(found)) for j in range(i + 1, len(found))
                      if found[j][0].upload_start < found[i][0].upload_end), None)
        if clash is None:
            return found
        (a, ha), (b, hb) = found[clash[0]], found[clash[1]]
        lo, hi = b.upload_start, min(a.upload_end, b.upload_end)
        loser = clash[1] if _evidence_within(ha, lo, hi, params.radius) >= _evidence_within(hb, lo, hi, params.radius) \
            else clash[0]
        seg, hits = found.pop(loser)
        rest = hits.subset((hits.q_start < lo) | (hits.q_start > hi))
        offset = seg.ref_start - seg.speed * seg.upload_start
        before = _segments_from_inliers(rest.subset(rest.q_start < lo), seg.ref_id, seg.speed, offset,
                                        seg.modality, code_bits, params, seg.signal)
        found += [(clip_segment(s, lo, np.inf), h) for s, h in before]  # ends at lo at the latest
        found += _segments_from_inliers(rest.subset(rest.q_start > hi), seg.ref_id, seg.speed, offset,
                                        seg.modality, code_bits, params, seg.signal)


def _extend(seg: Segment, hits: Candidates, params: AlignParams, query_span: tuple[float, float]) -> Segment:
    """Widen a segment where nothing beyond its first (last) matched code could
    have been observed (see ``edge_seconds``); ``hits`` are its inliers and
    ``query_span`` runs from the upload's first code to its end."""
    if params.edge_seconds and len(hits):
        edge = params.edge_seconds
        # on the upload's timeline a code's window spans edge / speed seconds either side:
        # a slowed copy (tempo 0.8) spreads it, and its first code lies further in
        reach, tol = edge / seg.speed, edge / seg.speed / 4  # (query variants start a little apart)
        first, last = int(np.argmin(hits.q_start)), int(np.argmax(hits.q_start))
        grow = [0.0, 0.0]
        # the upload: the segment starts (ends) where a copy at this speed running
        # from the upload's start (to its end) shows its first (last) code: widen
        # all the way to it; or with the run of codes it lies in, next to a gap of silence
        run0 = hits.q_run_start[first] if np.isfinite(hits.q_run_start[first]) else query_span[0]
        if hits.q_start[first] <= reach + tol:
            grow[0] = seg.upload_start
        elif hits.q_start[first] - run0 <= tol:
            grow[0] = params.gap_edge_seconds / seg.speed
        run1 = hits.q_run_end[last] if np.isfinite(hits.q_run_end[last]) else query_span[1] - reach
        if np.isfinite(query_span[1]) and query_span[1] - hits.q_start[last] <= reach + tol:
            grow[1] = query_span[1] - seg.upload_end
        elif run1 - hits.q_start[last] <= tol:
            grow[1] = params.gap_edge_seconds / seg.speed
        # the reference: its first code lies half a window in; its last code
        # stands for the rest of it (a long reference interval)
        if seg.ref_start <= edge:
            grow[0] = max(grow[0], seg.ref_start / seg.speed)
        wide = hits.r_end - hits.r_start > edge / 2
        if wide.any():
            beyond = float(hits.r_end[wide].max()) - seg.ref_end
            grow[1] = max(grow[1], min(beyond, edge) / seg.speed)
        offset = seg.ref_start - seg.speed * seg.upload_start
        start, end = seg.upload_start - grow[0], seg.upload_end + grow[1]
        seg = replace(seg, upload_start=start, upload_end=end,
                      ref_start=seg.speed * start + offset, ref_end=seg.speed * end + offset)
    return clip_segment(seg, query_span[1], np.inf)


def _named(seg: Segment, hits: Candidates, rendition_names: Callable[[int], str] | None) -> Segment:
    """``seg`` with the name of the rendition most of its matched instants came from."""
    if rendition_names is None or len(hits) == 0:
        return seg
    counts = np.bincount(hits.variant[_instants(hits)])
    return replace(seg, rendition=rendition_names(int(np.argmax(counts))))


def distinct_counts(outer: np.ndarray, inner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each distinct value of ``outer``, sorted; how many distinct ``inner`` values come with it):
    the rows of ``np.unique`` over the (outer, inner) pairs, counted per outer value. Integer arrays of
    one length; each pair is counted as one int64 key when the values' spans allow (``np.unique`` over
    rows sorts them as bytes, several times slower), else as rows."""
    outer, inner = np.asarray(outer, np.int64), np.asarray(inner, np.int64)
    if len(outer) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    o0, i0 = int(outer.min()), int(inner.min())
    span = int(inner.max()) - i0 + 1
    if (int(outer.max()) - o0 + 1) * span >= 2**62:
        pairs = np.unique(np.stack([outer, inner], axis=1), axis=0)
        return np.unique(pairs[:, 0], return_counts=True)
    keys = np.unique((outer - o0) * span + (inner - i0))
    values, counts = np.unique(keys // span, return_counts=True)
    return values + o0, counts


def align(c: Candidates, modality: str, code_bits: int, params: AlignParams,
          query_span: tuple[float, float] = (-np.inf, np.inf), signal: str = "",
          rendition_names: Callable[[int], str] | None = None) -> list[Segment]:
    """Segments found among the hits of one signal of one upload, best first per reference.

    modality: what the signal watches ("video" or "audio"); signal: its name
    when it differs ("landmark"), recorded on each segment.

    query_span: (first code start, last code end) of the upload, seconds; the
    upload's last audio code stands for the rest of it, so this ends where
    the upload does. Used to widen segments at the upload's edges
    (``edge_seconds``); segments are clipped to it and to time 0.
    rendition_names: query variant id -> words, to say on each segment which
    rendition of the upload found it (``Segment.rendition``).
    """
    if len(c) == 0:
        return []
    speeds, coarse = params.speeds(), params.coarse_speeds()
    segments: list[Segment] = []
    judge_background = params.min_specificity > 0 or params.review_specificity > 0
    # references with too few distinct upload instants cannot hold a segment
    refs, counts = distinct_counts(c.ref_id, c.q_group)
    # each reference's hits, in their order in ``c`` (one stable sort instead of a mask per reference)
    by_ref = np.argsort(c.ref_id, kind="stable")
    lows = np.searchsorted(c.ref_id[by_ref], refs, side="left")
    highs = np.searchsorted(c.ref_id[by_ref], refs, side="right")
    for ref_id, n_instants, lo, hi in zip(refs, counts, lows, highs):
        if n_instants < params.min_hits:
            continue
        pool = every_hit = c if len(refs) == 1 else c.subset(by_ref[lo:hi])  # (one reference: no copy)
        found: list[tuple[Segment, Candidates]] = []
        for _ in range(params.max_segments_per_ref):
            if len(np.unique(pool.q_group)) < params.min_hits:
                break
            speed, offset, votes = _search_line(pool, speeds, coarse, params)
            if votes < params.min_hits:
                break
            speed, offset = _refine(pool, speed, offset, params)
            inl, _ = _on_line(pool, speed, offset, params.inlier_seconds, params.hint_tolerance)
            new = _segments_from_inliers(pool.subset(inl), int(ref_id), speed, offset, modality, code_bits, params,
                                         signal)
            if new:  # fit again where the copy is: chance hits along the line elsewhere no longer pull it
                within = np.zeros(len(pool), bool)
                for seg, _ in new:
                    within |= (pool.q_start >= seg.upload_start) & (pool.q_start <= seg.upload_end)
                new = None  # (its hits, a copy of the line's, are rebuilt below: not held while refitting)
                speed, offset = _refine(_LineTiming.of(pool, within), speed, offset, params)
                inl, _ = _on_line(pool, speed, offset, params.inlier_seconds, params.hint_tolerance)
                new = _segments_from_inliers(pool.subset(inl), int(ref_id), speed, offset, modality, code_bits,
                                             params, signal)
            found += new
            drop = _explained(pool, inl, new)
            if not drop.any():
                break
            pool = pool.subset(~drop)
            if len(pool) == 0:
                break
        for seg, hits in _resolve_overlaps(found, code_bits, params):
            seg = _named(seg, hits, rendition_names)
            if judge_background:
                offset = seg.ref_start - seg.speed * seg.upload_start
                windows = specificity_windows(every_hit, seg.speed, offset, seg.upload_start, seg.upload_end,
                                              params)
                specificity, share, won = _specificity(windows, params.win_margin)
                background = _background(specificity, share, params, won, int((windows[2] > 0).sum()))
                seg = replace(seg, specificity=specificity, background=background)
            segments.append(_extend(seg, hits, params, query_span))
    return segments
