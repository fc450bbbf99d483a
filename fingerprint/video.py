"""Video key-frame perceptual hashes (imagehash's pHash, 256 bits).

Pipeline per clip, all on (n, size, size) uint8 grey frames:
1. ``border_box``: black borders (letterbox, pillarbox) found once per clip
   from the brightest value each row/column reaches over time, then cropped.
2. ``frame_quality``: pixel standard deviation (grey levels) of each cropped
   frame; flat, black and near-uniform frames fall below the threshold and
   never produce a code.
3. ``phash_bits``: pHash exactly as imagehash computes it (PIL Lanczos resize
   to 4*hash_size square, 2-D DCT-II, low-frequency block, > median), with the
   DCT and the median batched in numpy. ``tests/test_fingerprint.py`` proves the
   bits equal ``imagehash.phash(image, hash_size=16)``.
4. References: extra hashes of centre crops (robust to cropped copies) and
   runs of near-identical hashes collapsed to one code standing for the run.
   Queries: the plain hash and the hash of the mirrored frame, which for a DCT
   is a sign flip of the odd horizontal frequencies (no second resize), plus
   hashes of the frames rotated back by a few degrees (``rotated_stack``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import scipy.fftpack
from PIL import Image

from .types import VIDEO, Fingerprint

HIGHFREQ_FACTOR = 4  # imagehash's default: resize to hash_size * 4 before the DCT

QUERY_PLAIN = 0
QUERY_MIRRORED = 1


@dataclass(frozen=True)
class VideoParams:
    """Tunables of the video fingerprint (defaults documented in the TOML config).

    hash_size: pHash side; bits per code = hash_size**2 (16 -> 256 bits).
    black_level: grey level (0-255) below which a border row/column counts as black.
    max_border_share: at most this share of the frame is cropped from each side.
    min_frame_std: frames whose pixel standard deviation (grey levels) is below
        this are degenerate (black, flat, near-uniform) and yield no code.
    crop_scales: centre-crop scales hashed in addition to the full frame, for
        references only (0.9 keeps the central 90 % of width and height).
    collapse_distance: consecutive reference hashes within this Hamming distance
        (bits) belong to one run and are stored once.
    max_run_seconds: a collapsed run never stands for more than this many seconds.
    query_rotations: uploads are also hashed rotated by these angles (degrees)
        and centre-cropped to the inscribed square, undoing a tilted copy.
    query_insets: look for a picture-in-picture inset (``inset_box``) in
        uploads and hash it (plain and mirrored) as well.
    inset_edge_ratio: an inset edge is a row/column boundary whose persistent
        gradient is this many times the frame's typical one.
    inset_min_share, inset_max_share: an inset spans this share of the
        frame's width and height.
    """

    hash_size: int = 16
    black_level: float = 24.0
    max_border_share: float = 0.3
    min_frame_std: float = 10.0
    crop_scales: tuple[float, ...] = (0.9, 0.8)
    collapse_distance: int = 12
    max_run_seconds: float = 1.0
    query_rotations: tuple[float, ...] = (-5.0, 5.0)
    query_insets: bool = True
    inset_edge_ratio: float = 4.0
    inset_min_share: float = 0.2
    inset_max_share: float = 0.85


def border_box(frames: np.ndarray, black_level: float, max_share: float) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) pixel bounds of the picture inside black borders.

    A row (column) is border when, at every sampled time, its mean grey level
    stays below ``black_level``; only rows touching the edge are cropped and at
    most ``max_share`` of the height (width) from each side.
    """
    n, h, w = frames.shape
    if n == 0:
        return 0, h, 0, w
    row_peak = frames.mean(axis=2).max(axis=0)
    col_peak = frames.mean(axis=1).max(axis=0)

    def bounds(profile: np.ndarray, length: int) -> tuple[int, int]:
        lit = np.flatnonzero(profile >= black_level)
        if lit.size == 0:
            return 0, length
        limit = int(length * max_share)
        lo = min(int(lit[0]), limit)
        hi = max(int(lit[-1]) + 1, length - limit)
        return lo, hi

    top, bottom = bounds(row_peak, h)
    left, right = bounds(col_peak, w)
    return top, bottom, left, right


def frame_quality(frames: np.ndarray) -> np.ndarray:
    """(n,) pixel standard deviation of each frame, grey levels (0 = flat)."""
    if len(frames) == 0:
        return np.zeros(0)
    return frames.reshape(len(frames), -1).std(axis=1)


def centre_crop(frames: np.ndarray, scale: float) -> np.ndarray:
    """Central ``scale`` share of width and height of every frame (a view)."""
    _, h, w = frames.shape
    dh = int(round(h * (1 - scale) / 2))
    dw = int(round(w * (1 - scale) / 2))
    return frames[:, dh : h - dh, dw : w - dw]


def _resized_stack(frames: np.ndarray, side: int) -> np.ndarray:
    # PIL's Lanczos resize is what imagehash uses; one C call per frame keeps
    # the bits identical to imagehash (a numpy resampler would not be).
    out = np.empty((len(frames), side, side), np.float64)
    for i, frame in enumerate(frames):
        out[i] = np.asarray(Image.fromarray(frame).resize((side, side), Image.Resampling.LANCZOS))
    return out


def _low_dct(frames: np.ndarray, hash_size: int) -> np.ndarray:
    pixels = _resized_stack(np.ascontiguousarray(frames), hash_size * HIGHFREQ_FACTOR)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=1), axis=2)
    return dct[:, :hash_size, :hash_size]


def _bits_from_low(low: np.ndarray) -> np.ndarray:
    flat = low.reshape(len(low), -1)
    med = np.median(flat, axis=1, keepdims=True)
    return np.packbits(flat > med, axis=1)


def phash_bits(frames: np.ndarray, hash_size: int = 16) -> np.ndarray:
    """(n, hash_size**2 / 8) uint8 packed pHash bits of (n, h, w) grey frames.

    Bit order is imagehash's: the hash_size x hash_size boolean block
    flattened row-major, packed most significant bit first.
    """
    if len(frames) == 0:
        return np.zeros((0, hash_size * hash_size // 8), np.uint8)
    return _bits_from_low(_low_dct(frames, hash_size))


def phash_bits_with_mirror(frames: np.ndarray, hash_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """pHash bits of the frames and of their horizontal mirror images.

    Mirroring x[n] -> x[N-1-n] multiplies DCT-II coefficient k by (-1)**k, so
    the mirrored hash comes from the same DCT with odd columns negated.
    """
    if len(frames) == 0:
        empty = np.zeros((0, hash_size * hash_size // 8), np.uint8)
        return empty, empty
    low = _low_dct(frames, hash_size)
    sign = np.where(np.arange(hash_size) % 2 == 1, -1.0, 1.0)
    return _bits_from_low(low), _bits_from_low(low * sign[None, None, :])


def rotated_stack(frames: np.ndarray, degrees: float) -> np.ndarray:
    """Every frame rotated by ``degrees`` (counter-clockwise, bilinear), cropped
    to the central square that holds no rotated-in corners."""
    n, h, w = frames.shape
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    turned = np.empty_like(frames)
    for i, frame in enumerate(frames):  # one OpenCV call per sampled frame (scipy loops per slice too, slower)
        turned[i] = cv2.warpAffine(frame, matrix, (w, h), flags=cv2.INTER_LINEAR)
    rad = np.radians(abs(degrees))
    return centre_crop(turned, 1.0 / (np.cos(rad) + np.sin(rad)))


def _edge_peaks(profile: np.ndarray, ratio: float) -> list[tuple[int, float]]:
    """(boundary, strength) of runs of boundaries far above the typical gradient."""
    floor = max(3.0, ratio * float(np.median(profile)))
    hot = np.flatnonzero(profile > floor)
    peaks = []
    for run in np.split(hot, np.flatnonzero(np.diff(hot) > 2) + 1) if hot.size else []:
        k = run[np.argmax(profile[run])]
        peaks.append((int(k) + 1, float(profile[k])))  # boundary between pixel k and k + 1
    return peaks


def inset_box(frames: np.ndarray, params: VideoParams) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of a picture-in-picture inset, or None.

    An inset's border is an edge that stays put while both pictures move: the
    per-pixel gradient's median over time is high along it and low elsewhere.
    The inset is the rectangle between the strongest such boundaries (the
    frame's own edges stand in for a side flush with the border).
    """
    n, h, w = frames.shape
    if n < 8:
        return None
    f = frames[:: max(1, n // 48)].astype(np.float32)  # ~48 frames spread over the clip are enough
    cols = np.median(np.abs(np.diff(f, axis=2)), axis=0).mean(axis=0)  # (w - 1,) vertical edges
    rows = np.median(np.abs(np.diff(f, axis=1)), axis=0).mean(axis=1)  # (h - 1,) horizontal edges
    vpeaks = _edge_peaks(cols, params.inset_edge_ratio)
    hpeaks = _edge_peaks(rows, params.inset_edge_ratio)
    if not vpeaks and not hpeaks:
        return None

    def best_pair(peaks: list[tuple[int, float]], length: int) -> tuple[int, int] | None:
        cands = [(0, 0.0), *peaks, (length, 0.0)]
        best, best_score = None, 0.0
        for i, (a, sa) in enumerate(cands):
            for b, sb in cands[i + 1:]:
                share = (b - a) / length
                if params.inset_min_share <= share <= params.inset_max_share and sa + sb > best_score:
                    best, best_score = (a, b), sa + sb
        return best

    horiz = best_pair(hpeaks, h)
    vert = best_pair(vpeaks, w)
    if horiz is None or vert is None:
        return None
    return horiz[0], horiz[1], vert[0], vert[1]


def _usable(frames: np.ndarray, params: VideoParams) -> tuple[np.ndarray, np.ndarray]:
    """Border-cropped frames and the mask of frames that are not degenerate."""
    top, bottom, left, right = border_box(frames, params.black_level, params.max_border_share)
    cropped = frames[:, top:bottom, left:right]
    return cropped, frame_quality(cropped) >= params.min_frame_std


def collapse_runs(codes: np.ndarray, times: np.ndarray, ends: np.ndarray, max_distance: int, max_run_seconds: float):
    """Collapse runs of near-identical consecutive codes.

    A run continues while each code is within ``max_distance`` bits of the
    previous one and the run is shorter than ``max_run_seconds``. Returns
    (keep_index, run_end_seconds): the first code of each run and the end time
    of the run it stands for.
    """
    n = len(codes)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    step = np.bitwise_count(codes[1:] ^ codes[:-1]).sum(axis=1)
    breaks = np.concatenate([[True], step > max_distance])
    run_id = np.cumsum(breaks) - 1
    run_start_time = times[breaks][run_id]
    # split long runs into pieces of at most max_run_seconds
    piece = np.floor((times - run_start_time) / max_run_seconds).astype(np.int64)
    starts = np.concatenate([[True], (run_id[1:] != run_id[:-1]) | (piece[1:] != piece[:-1])])
    keep = np.flatnonzero(starts)
    last = np.concatenate([keep[1:] - 1, [n - 1]])
    return keep, ends[last]


def reference_video_fingerprint(frames: np.ndarray, times: np.ndarray, period: float, params: VideoParams) -> Fingerprint:
    """Codes for a registered reference: full frame plus centre crops, runs collapsed.

    frames: (n, s, s) grey frames sampled every ``period`` seconds at ``times``.
    variants: 0 for the full frame, i for the i-th entry of ``params.crop_scales``.
    """
    cropped, ok = _usable(frames, params)
    cropped, t = cropped[ok], times[ok]
    code_bytes = params.hash_size**2 // 8
    if len(t) == 0:
        return Fingerprint.empty(VIDEO, code_bytes)
    ends = t + period
    parts = []
    for variant, scale in enumerate((1.0, *params.crop_scales)):
        view = cropped if scale >= 1.0 else centre_crop(cropped, scale)
        bits = phash_bits(view, params.hash_size)
        keep, run_ends = collapse_runs(bits, t, ends, params.collapse_distance, params.max_run_seconds)
        parts.append(Fingerprint(VIDEO, bits[keep], t[keep], run_ends, np.full(len(keep), variant, np.uint8)))
    return Fingerprint.concat(parts)


def query_video_fingerprint(frames: np.ndarray, times: np.ndarray, period: float, params: VideoParams) -> Fingerprint:
    """Codes for a screened upload: plain and mirrored hash of every usable frame."""
    cropped, ok = _usable(frames, params)
    cropped, t = cropped[ok], times[ok]
    code_bytes = params.hash_size**2 // 8
    if len(t) == 0:
        return Fingerprint.empty(VIDEO, code_bytes)
    plain, mirrored = phash_bits_with_mirror(cropped, params.hash_size)
    codes = [plain, mirrored] + [phash_bits(rotated_stack(cropped, a), params.hash_size)
                                 for a in params.query_rotations]
    box = inset_box(cropped, params) if params.query_insets else None
    if box is not None:
        top, bottom, left, right = box
        codes += list(phash_bits_with_mirror(np.ascontiguousarray(cropped[:, top:bottom, left:right]),
                                             params.hash_size))
    n, k = len(t), len(codes)
    return Fingerprint(
        VIDEO,
        np.concatenate(codes),
        np.tile(t, k),
        np.tile(t + period, k),
        np.repeat(np.arange(k, dtype=np.uint8), n),  # 0 plain, 1 mirrored, 2.. rotations, then inset (+mirror)
    )
