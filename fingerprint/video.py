"""Video key-frame perceptual hashes (imagehash's pHash, 256 bits).

Pipeline per clip, all on (n, size, size) uint8 grey frames:
1. ``border_box``: black borders (letterbox, pillarbox) found once per clip
   from the brightest value each row/column reaches over time, then cropped.
2. ``frame_quality``: pixel standard deviation (grey levels) of each cropped
   frame; flat, black and near-uniform frames fall below the threshold and
   never produce a code.
3. ``phash_bits``: pHash exactly as imagehash computes it (PIL Lanczos resize
   to 4*hash_size square, 2-D DCT-II, low-frequency block, > median), batched:
   PIL's two separable resize passes run once per batch of frames instead of
   once per frame (``_resized_stack``), the DCT and the median in numpy.
   ``tests/test_fingerprint.py`` proves the bits equal
   ``imagehash.phash(image, hash_size=16)``.
4. References: extra hashes of centre crops (robust to cropped copies) and
   runs of near-identical hashes collapsed to one code standing for the run.
   Queries: the plain hash and the hash of the mirrored frame, which for a DCT
   is a sign flip of the odd horizontal frequencies (no second resize), plus
   hashes of the frames rotated back by a few degrees. Those are query-only,
   so they are made cheaply from the already resized image
   (``rotated_pixels``) and stay within a few bits of hashing the rotated
   full frame (``rotated_stack``, tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

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
    # integer sums are exact, so dividing the largest gives the same peak mean
    row_peak = frames.sum(axis=2, dtype=np.int32).max(axis=0) / w
    col_peak = frames.sum(axis=1, dtype=np.int32).max(axis=0) / h

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
    # from exact integer sums: sum x and sum x^2 of uint8 pixels fit int64
    flat = frames.reshape(len(frames), -1)
    count = flat.shape[1]
    s1 = flat.sum(axis=1, dtype=np.int64)
    s2 = np.einsum("ij,ij->i", flat, flat, dtype=np.int64)
    return np.sqrt(np.maximum(count * s2 - s1 * s1, 0) / float(count * count))


def centre_crop(frames: np.ndarray, scale: float) -> np.ndarray:
    """Central ``scale`` share of width and height of every frame (a view)."""
    _, h, w = frames.shape
    dh = int(round(h * (1 - scale) / 2))
    dw = int(round(w * (1 - scale) / 2))
    return frames[:, dh : h - dh, dw : w - dw]


_LANCZOS = Image.Resampling.LANCZOS
_RESIZE_CHUNK = 256  # frames per batched resize: bounds the temporaries, keeps them in cache


def _two_pass(frames: np.ndarray, side: int, order: str) -> np.ndarray:
    """PIL's Lanczos resize of every frame to (side, side), as two PIL calls for the whole batch.

    PIL resizes in two separable 1-D passes, each rounding to uint8. A
    horizontal pass treats rows independently, so it can run on all frames
    stacked into one tall image; a vertical pass treats columns independently,
    so it can run on all frames laid side by side. ``order`` is "hv" or "vh":
    which pass PIL runs first for this shape (see ``_pass_order``).
    """
    n, h, w = frames.shape
    if order == "hv":
        tall = np.ascontiguousarray(frames).reshape(n * h, w)
        half = np.asarray(Image.fromarray(tall).resize((side, n * h), _LANCZOS)).reshape(n, h, side)
        wide = np.ascontiguousarray(half.transpose(1, 0, 2)).reshape(h, n * side)
        out = np.asarray(Image.fromarray(wide).resize((n * side, side), _LANCZOS)).reshape(side, n, side)
        return out.transpose(1, 0, 2)
    wide = np.ascontiguousarray(frames.transpose(1, 0, 2)).reshape(h, n * w)
    half = np.asarray(Image.fromarray(wide).resize((n * w, side), _LANCZOS)).reshape(side, n, w)
    tall = np.ascontiguousarray(half.transpose(1, 0, 2)).reshape(n * side, w)
    return np.asarray(Image.fromarray(tall).resize((side, n * side), _LANCZOS)).reshape(n, side, side)


@lru_cache(maxsize=64)
def _pass_order(h: int, w: int, side: int) -> str | None:
    """Which pass PIL runs first when it resizes an (h, w) image to (side, side).

    Pillow picks the order from the shape (recent versions run the vertical
    pass first for tall narrow images), so it is read off Pillow itself: a
    fixed random probe is resized per frame and batched both ways. None if
    neither matches (a Pillow that resizes differently): callers then fall
    back to one PIL call per frame.
    """
    probe = np.random.default_rng(h * 100003 + w).integers(0, 256, (1, h, w), dtype=np.uint8)
    want = np.asarray(Image.fromarray(probe[0]).resize((side, side), _LANCZOS))
    for order in ("hv", "vh"):
        if np.array_equal(_two_pass(probe, side, order)[0], want):
            return order
    return None


def _resized_stack(frames: np.ndarray, side: int) -> np.ndarray:
    """(n, side, side) uint8: each frame resized exactly as ``Image.resize(LANCZOS)`` would.

    PIL's Lanczos resize is what imagehash uses. One PIL call per frame cost
    more in Python overhead than in resampling; the batched form gives the
    same bytes (``tests/test_fingerprint.py`` checks it against imagehash).
    """
    n, h, w = frames.shape
    out = np.empty((n, side, side), np.uint8)
    order = _pass_order(h, w, side) if n else None
    for start in range(0, n, _RESIZE_CHUNK):
        chunk = frames[start:start + _RESIZE_CHUNK]
        if order is None:
            for i, frame in enumerate(chunk):
                out[start + i] = np.asarray(Image.fromarray(np.ascontiguousarray(frame)).resize((side, side), _LANCZOS))
        else:
            out[start:start + len(chunk)] = _two_pass(chunk, side, order)
    return out


def _dct_low(pixels: np.ndarray, hash_size: int) -> np.ndarray:
    """The hash_size x hash_size low-frequency block of the 2-D DCT-II of each (n, s, s) image.

    The same scipy.fftpack calls as imagehash, except that the second pass
    transforms only the rows that are kept (each row's transform is
    independent, so the kept values are the same).
    """
    cols = scipy.fftpack.dct(np.asarray(pixels, np.float64), axis=1)[:, :hash_size, :]
    return scipy.fftpack.dct(cols, axis=2)[:, :, :hash_size]


@lru_cache(maxsize=8)
def _dct_rows(hash_size: int, side: int) -> np.ndarray:
    """(hash_size, side) float32: the first rows of scipy.fftpack's unnormalised DCT-II matrix."""
    k = np.arange(hash_size)[:, None]
    n = np.arange(side)[None, :]
    return (2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * side))).astype(np.float32)


def _dct_low_approx(pixels: np.ndarray, hash_size: int) -> np.ndarray:
    """``_dct_low`` as two small float32 matrix products: ~10x cheaper, equal to ~1e-6
    relative, so a bit can differ only where a coefficient all but ties the
    median. For query-only variants (rotations), never for codes that must be
    imagehash's."""
    d = _dct_rows(hash_size, pixels.shape[-1])
    return d @ np.asarray(pixels, np.float32) @ d.T


def _low_dct(frames: np.ndarray, hash_size: int) -> np.ndarray:
    return _dct_low(_resized_stack(frames, hash_size * HIGHFREQ_FACTOR), hash_size)


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
    return _plain_and_mirrored(_low_dct(frames, hash_size), hash_size)


def _plain_and_mirrored(low: np.ndarray, hash_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash bits of low DCT blocks and of their horizontal mirror (odd columns negated)."""
    return _bits_from_low(low), _bits_from_low(low * _mirror_sign(hash_size))


def _mirror_sign(hash_size: int) -> np.ndarray:
    """(1, 1, hash_size) DCT sign flip of the odd horizontal frequencies: a horizontal mirror."""
    return np.where(np.arange(hash_size) % 2 == 1, -1.0, 1.0)[None, None, :]


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


def rotated_pixels(pixels: np.ndarray, degrees: float) -> np.ndarray:
    """(n, s, s) float32: the hash-sized images rotated by ``degrees`` and zoomed to
    the central square that holds no rotated-in corners.

    The query-side stand-in for ``rotated_stack`` followed by the Lanczos
    resize: rotating the already resized (s, s) image is about 8 times cheaper
    and its hashes differ from that path's by a few bits (median 2-4 of 256 on
    the benchmark corpus), far inside the match radius. Reference codes never
    use it, so they stay imagehash pHash.
    """
    n, s, _ = pixels.shape
    rad = np.radians(abs(degrees))
    matrix = cv2.getRotationMatrix2D(((s - 1) / 2, (s - 1) / 2), degrees, float(np.cos(rad) + np.sin(rad)))
    src = np.asarray(pixels, np.float32)
    out = np.empty((n, s, s), np.float32)
    for i in range(n):  # OpenCV warps at most 4 channels at a time exactly; 64x64 per call is cheap
        out[i] = cv2.warpAffine(src[i], matrix, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


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
    # ~48 frames spread over the clip are enough; time is laid out last so the
    # medians run over contiguous uint8 rows (exact: |difference| is an integer)
    f = np.ascontiguousarray(frames[:: max(1, n // 48)].transpose(1, 2, 0))  # (h, w, m)
    m = f.shape[2]
    dx = cv2.absdiff(f[:, 1:].reshape(-1, m), f[:, :-1].reshape(-1, m))
    dy = cv2.absdiff(f[1:].reshape(-1, m), f[:-1].reshape(-1, m))
    cols = np.median(dx, axis=1).astype(np.float32).reshape(h, w - 1).mean(axis=0)  # (w - 1,) vertical edges
    rows = np.median(dy, axis=1).astype(np.float32).reshape(h - 1, w).mean(axis=1)  # (h - 1,) horizontal edges
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
    pixels = _resized_stack(np.ascontiguousarray(cropped), params.hash_size * HIGHFREQ_FACTOR)
    codes = list(_plain_and_mirrored(_dct_low(pixels, params.hash_size), params.hash_size))
    codes += [_bits_from_low(_dct_low_approx(rotated_pixels(pixels, a), params.hash_size))
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
