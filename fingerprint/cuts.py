"""Shot boundaries (scene cuts) and codes of their timing: a candidate signal no picture edit changes.

Why this signal exists: a whole-frame perceptual hash of any fixed window fails
once a copy shows another window of the picture. A 256-bit pHash moves ~56 bits
for a window shift of 2 % of the frame and ~108 bits for 4 % (unrelated frames:
~128, match radius 64), so a 30 % crop at an unknown offset, or the work
shrunk inside a decorative or animated border, matches no stored code, and
hashing every window position of every upload frame is far too costly. Where a
film cuts from one shot to the next, though, is the same under any crop, flip,
rotation, border, caption or colour edit, and the *ratios* of consecutive shot
lengths are the same at any playback speed. So the shot boundaries of an
upload, hashed by the ratios of consecutive shot lengths, find the references
(and the line ``ref_time = speed * upload_time + offset``) an edited copy may
come from, like spectral-peak landmarks do for audio: exact codes looked up in
a hash table. Cut timing alone is never evidence of a copy (rhythmic edits,
slideshows and films with similar pacing share it); ``match.verify`` checks
each candidate line against the stored picture codes (``fingerprint.window``).

Content without cuts (one long take, a static camera) leaves no codes and
cannot be found this way.

Why this candidate stage and not another: local features (ORB keypoints with
a visual vocabulary) would cost a keypoint pass over every upload frame and
kilobytes per reference second; a coarser, translation-tolerant whole-frame
hash still has to be slid over offsets and scales. Cut timing costs a few
block means per sampled frame (about 1 % of fingerprinting) and a few bytes
per reference second, and a crop, a border, a mirror or a speed change leaves
it as it was. What it cannot do, the verification does.

1. ``cut_strength``: per pair of consecutive sampled frames, the share of the
   frame's blocks (a ``grid`` x ``grid`` division) whose mean grey level
   steps far above that block's own typical step. Blocks that never step (a
   static border, a letterbox) are left out; blocks that always change (an
   animated border) have a high typical step and do not count. A cut is a
   step of most of the picture at once; motion moves a few blocks.
2. ``detect_cuts``: the instants where that share is high, several times its
   running median, and a local maximum; cuts closer than ``min_shot_seconds``
   keep the stronger one. A cut lies halfway between the two frames.
3. ``cut_codes``: for each cut, the log-ratios of the lengths of the next
   ``shots_per_code`` shots (3 shots: 2 ratios), each quantised in bins of
   ``ratio_bin``; the bins packed 6 bits each into a 32-bit code. Uploads also
   emit the neighbouring bin where a ratio lies within ``query_probe_margin``
   of a bin edge (multi-probe), so timing errors of a sampling period still
   find the stored code. One hit is enough to propose a line: the candidate
   stage (``match.cuts``) then checks it against every cut.

A fingerprint row stands for one cut: start = the cut, end = the end of the
shots its code describes (the cut itself for the last cuts, whose code is
``NO_CODE``: they complete the cut list a candidate is checked against).
Pure functions over numpy arrays.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from itertools import product

import cv2
import numpy as np
from scipy.ndimage import median_filter

from .types import CUT, Fingerprint
from .window import shrink_stack

CODE_BYTES = 4
BIN_BITS = 6
NO_CODE = 0xFFFFFFFF  # a cut too close to the end for a full code: in the cut list, never looked up
# (codes use at most 5 x 6 = 30 bits, so no code equals it)


@dataclass(frozen=True)
class CutParams:
    """Tunables of cut detection and cut-timing codes (TOML ``[fingerprint.cut]``).

    grid: frames are compared as the means of ``grid`` x ``grid`` blocks.
    change_ratio, change_floor: a block steps at a cut when its mean changes by
        more than this many times its typical (median) step over the clip, and
        by more than ``change_floor`` grey levels.
    min_cut_share: share of the picture's active blocks that must step at once.
    peak_ratio, peak_window_seconds: and the share must be this many times its
        running median over this many seconds.
    min_shot_seconds: two cuts closer than this: only the stronger one is kept.
    shots_per_code: shot lengths one code describes (3: two length ratios).
    ratio_bin: width of a log shot-length ratio bin (natural log).
    max_log_ratio: ratios are clipped to +- this (a shot this many e-folds longer).
    query_probe_margin: uploads also look up the neighbouring bin when a ratio lies
        within this (natural log) of the bin edge.
    """

    grid: int = 16
    change_ratio: float = 3.0
    change_floor: float = 6.0
    min_cut_share: float = 0.25
    peak_ratio: float = 3.0
    peak_window_seconds: float = 2.0
    min_shot_seconds: float = 0.4
    shots_per_code: int = 3
    ratio_bin: float = 0.2
    max_log_ratio: float = 1.6
    query_probe_margin: float = 0.12

    @property
    def n_bins(self) -> int:
        return int(np.ceil(2 * self.max_log_ratio / self.ratio_bin))


def block_means(frames: np.ndarray, grid: int) -> np.ndarray:
    """(n, grid * grid) float32 mean grey level of each block of each (n, s, s) frame."""
    n, h, w = frames.shape
    if h == w and h % grid == 0:
        return shrink_stack(frames.astype(np.float32), h // grid).reshape(n, -1)
    out = np.empty((n, grid, grid), np.float32)
    for i, frame in enumerate(frames):  # one OpenCV call per sampled frame where the sizes do not divide
        out[i] = cv2.resize(frame.astype(np.float32), (grid, grid), interpolation=cv2.INTER_AREA)
    return out.reshape(n, -1)


def cut_strength(frames: np.ndarray, params: CutParams) -> np.ndarray:
    """(n - 1,) share of the frame's active blocks that step between consecutive frames.

    frames: (n, s, s) uint8 grey frames in time order (any size: a block is a
    1 / grid share of each side).
    """
    n = len(frames)
    if n < 2 or min(frames.shape[1:]) < params.grid:
        return np.zeros(max(0, n - 1))
    step = np.abs(np.diff(block_means(frames, params.grid), axis=0))
    typical = np.median(step, axis=0)
    stepped = step > np.maximum(params.change_ratio * typical, params.change_floor)
    active = stepped.any(axis=0)
    if not active.any():
        return np.zeros(n - 1)
    return stepped[:, active].mean(axis=1)


def detect_cuts(frames: np.ndarray, times: np.ndarray, params: CutParams) -> np.ndarray:
    """Cut times (seconds, sorted) of (n, s, s) grey frames sampled at ``times``: halfway
    between the two frames a cut falls between."""
    return cuts_from_strength(cut_strength(frames, params), times, params)


def cuts_from_strength(share: np.ndarray, times: np.ndarray, params: CutParams) -> np.ndarray:
    """Cut times (seconds, sorted) from the ``cut_strength`` of each pair of consecutive frames
    sampled at ``times`` ((n - 1,) and (n,)): the instants where the share is high, several
    times its running median and a local maximum."""
    if len(share) == 0:
        return np.zeros(0)
    times = np.asarray(times, np.float64)
    period = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    width = 2 * int(round(params.peak_window_seconds / max(period, 1e-3) / 2)) + 1
    background = median_filter(share, size=max(3, width), mode="nearest")
    left = np.concatenate([[-1.0], share[:-1]])
    right = np.concatenate([share[1:], [-1.0]])
    peak = ((share >= params.min_cut_share) & (share >= params.peak_ratio * background)
            & (share >= left) & (share > right))
    idx = np.flatnonzero(peak)
    # strongest first; a cut within min_shot_seconds of a stronger kept one is dropped (a flash
    # frame steps twice). A loop over the cuts, not the frames, each checked against its two
    # kept neighbours in time
    at = (times[idx] + times[idx + 1]) / 2
    kept: list[float] = []
    for k in np.argsort(-share[idx], kind="stable"):
        i = bisect.bisect_left(kept, at[k])
        if (i == 0 or at[k] - kept[i - 1] >= params.min_shot_seconds) and \
                (i == len(kept) or kept[i] - at[k] >= params.min_shot_seconds):
            kept.insert(i, float(at[k]))
    return np.array(kept, np.float64)


def _bins(ratios: np.ndarray, params: CutParams) -> tuple[np.ndarray, np.ndarray]:
    """Bin index of each log ratio and its position inside the bin (0..1)."""
    x = (np.clip(ratios, -params.max_log_ratio, params.max_log_ratio) + params.max_log_ratio) / params.ratio_bin
    b = np.clip(np.floor(x), 0, params.n_bins - 1).astype(np.int64)
    return b, x - b


def _pack(bins: np.ndarray) -> np.ndarray:
    """(n, dims) bin indices -> (n,) uint32 codes, 6 bits per dimension."""
    code = np.zeros(len(bins), np.uint64)
    for d in range(bins.shape[1]):
        code = (code << np.uint64(BIN_BITS)) | bins[:, d].astype(np.uint64)
    return code.astype(np.uint32)


def cut_codes(cuts: np.ndarray, params: CutParams, query: bool) -> Fingerprint:
    """The cut-timing fingerprint of cut times ``cuts`` (seconds, sorted).

    One row per cut (per probe of it for a query): code of the ratios of the
    next ``shots_per_code`` shot lengths, start = the cut, end = the end of
    those shots; the last cuts carry ``NO_CODE`` (start = end = the cut).
    variants: 0 for the exact bins, 1.. for multi-probe neighbours (queries).
    """
    cuts = np.asarray(cuts, np.float64)
    k = params.shots_per_code
    n_full = max(0, len(cuts) - k)
    codes, starts, ends, variants = [], [], [], []
    if n_full:
        lengths = np.diff(cuts)
        # (n_full, k - 1) log ratios of consecutive shots starting at each anchor cut
        ratios = np.stack([np.log(lengths[j + 1:j + 1 + n_full] / lengths[j:j + n_full]) for j in range(k - 1)],
                          axis=1)
        bins, frac = _bins(ratios, params)
        edge = params.query_probe_margin / params.ratio_bin
        # every combination of -1 / 0 / +1 bin per dimension; a neighbour only where the ratio is near that edge
        steps = np.array(list(product((0, -1, 1), repeat=k - 1)), np.int64).reshape(-1, k - 1)
        if not query:
            steps = steps[:1]
        low = (frac < edge) & (bins > 0)
        high = (frac > 1 - edge) & (bins < params.n_bins - 1)
        for v, step in enumerate(steps):
            ok = np.all((step == 0) | ((step == -1) & low) | ((step == 1) & high), axis=1)
            anchors = np.flatnonzero(ok)
            codes.append(_pack(bins[anchors] + step))
            starts.append(cuts[anchors])
            ends.append(cuts[anchors + k])
            variants.append(np.full(len(anchors), v))
    tail = cuts[n_full:]
    codes.append(np.full(len(tail), NO_CODE, np.uint32))
    starts.append(tail)
    ends.append(tail)
    variants.append(np.zeros(len(tail), np.int64))
    start = np.concatenate(starts)
    variant = np.concatenate(variants)
    order = np.lexsort((variant, start))
    flat = np.concatenate(codes)[order].astype(">u4").view(np.uint8).reshape(-1, CODE_BYTES)
    return Fingerprint(CUT, flat, start[order], np.concatenate(ends)[order], variant[order].astype(np.uint8))


def cut_fingerprint(frames: np.ndarray, times: np.ndarray, params: CutParams, query: bool) -> Fingerprint:
    """Cuts of (n, s, s) grey frames sampled at ``times`` and their timing codes."""
    return cut_codes(detect_cuts(frames, times, params), params, query)


def has_code(fp: Fingerprint) -> np.ndarray:
    """Rows of a cut fingerprint that carry a lookup code (not ``NO_CODE``)."""
    return fp.codes.view(">u4").ravel() != NO_CODE


def cut_times(fp: Fingerprint) -> np.ndarray:
    """The sorted cut times (seconds) a cut fingerprint stands for (each once)."""
    return np.unique(fp.starts)
