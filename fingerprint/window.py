"""The picture's central window: stored codes that any reframed copy still shows.

A copy cropped to 70 % x 70 % of the frame at any position still contains the
central 40 % x 40 % of the picture ([0.3, 0.7] on both axes); a copy shrunk
inside a border contains all of it. So references store, besides the
whole-frame codes of ``fingerprint.video``, a pHash of that central window,
and once the geometry of a copy is known (``match.verify``) the same window
can be cut out of every upload frame and compared with them.

Why a 64-bit code (imagehash pHash, ``hash_size=8``) and not the 256-bit one
of the whole frame: the window is small (51 pixels of the 128-pixel decoder
frame) and must be matched under a geometry that is only estimated. Measured
on the synthetic films, for a 30 % crop at the exact geometry and instant the
8x8 code differs by 7 % of its bits (16 x 16: 17 %), by 13 % for a 1 % window
shift (24 %), 21 % for 2 % (38 %), 16 % for a reference frame 1/8 s away
(28 %); unrelated frames 48 % (50 %). The low frequencies tolerate the
residual error of the geometry, and 8 bytes a code keep the added reference
size small: every other sampled frame (``frame_stride``), runs of
near-identical codes collapsed, about 3.7 codes per second of moving picture.

Uploads cannot be hashed this way before the geometry is known, so their
``WINDOW`` fingerprint carries small grey frames instead of codes
(``query_probe_size`` squared bytes a row), kept for the verification of the
candidates cut timing proposes (``fingerprint.cuts``).

Pure functions over numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .types import WINDOW, Fingerprint
from .video import VideoParams, _usable, centre_crop, collapse_runs, frame_quality, phash_bits


@dataclass(frozen=True)
class WindowParams:
    """Tunables of the central-window codes (TOML ``[fingerprint.window]``).

    scale: the window's share of the picture's width and height (0.4: the
        central 40 %, inside any crop that keeps 70 % of each side).
    hash_size: pHash side of a window code; bits = hash_size**2 (8 -> 64).
    collapse_distance: consecutive window codes within this many bits are one
        run, stored once (``fingerprint.video.collapse_runs``).
    max_run_seconds: a run stands for at most this many seconds.
    min_std: windows whose pixel standard deviation (grey levels) is below
        this are flat and get no code.
    frame_stride: references hash the window of every n-th sampled frame (1:
        all of them); each code then stands for n sampling periods.
    query_probe_size: side (pixels) of the small grey frames an upload keeps for the
        verification; a divisor of the decoder's frame size is averaged exactly.
    """

    scale: float = 0.4
    hash_size: int = 8
    collapse_distance: int = 3
    max_run_seconds: float = 1.0
    min_std: float = 3.0
    frame_stride: int = 2
    query_probe_size: int = 32


def reference_window_fingerprint(frames: np.ndarray, times: np.ndarray, period: float, video: VideoParams,
                                 params: WindowParams) -> Fingerprint:
    """64-bit pHash codes of the central window of every usable reference frame, runs collapsed.

    frames: (n, s, s) grey frames sampled every ``period`` seconds at ``times``.
    The picture is what ``fingerprint.video`` hashes (black borders cropped,
    flat frames dropped); its window must itself not be flat.
    """
    code_bytes = params.hash_size ** 2 // 8
    step = max(1, params.frame_stride)
    frames, times, period = frames[::step], np.asarray(times, np.float64)[::step], period * step
    cropped, ok = _usable(frames, video)
    window = np.ascontiguousarray(centre_crop(cropped[ok], params.scale))
    t = times[ok]
    lively = frame_quality(window) >= params.min_std
    window, t = window[lively], t[lively]
    if len(t) == 0:
        return Fingerprint.empty(WINDOW, code_bytes)
    bits = phash_bits(window, params.hash_size)
    keep, run_ends = collapse_runs(bits, t, t + period, params.collapse_distance, params.max_run_seconds)
    return Fingerprint(WINDOW, bits[keep], t[keep], run_ends)


_CHUNK_FRAMES = 2048  # frames per stacked OpenCV call: bounds the temporaries


def shrink_stack(frames: np.ndarray, k: int) -> np.ndarray:
    """(n, h // k, w // k): means of the k x k pixel blocks of every (n, h, w) frame (h, w
    multiples of k), as OpenCV's area filter on the frames stacked into one tall image: an
    integer factor averages whole blocks, none across two frames; uint8 in, uint8 (rounded)
    out, float32 exact. One call instead of one per frame or a reduction over two inner
    axes (10-12x slower on the benchmark's frames)."""
    n, h, w = frames.shape
    out = np.empty((n, h // k, w // k), frames.dtype)
    for start in range(0, n, _CHUNK_FRAMES):
        part = np.ascontiguousarray(frames[start:start + _CHUNK_FRAMES])
        m = len(part)
        out[start:start + m] = cv2.resize(part.reshape(m * h, w), (w // k, m * h // k),
                                          interpolation=cv2.INTER_AREA).reshape(m, h // k, w // k)
    return out


def probe_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """(n, size, size) uint8: every (n, s, s) frame shrunk to ``size`` by area averaging."""
    n, h, w = frames.shape
    if n == 0:
        return np.zeros((0, size, size), np.uint8)
    if h == w and h % size == 0:
        return shrink_stack(frames, h // size)
    out = np.empty((n, size, size), np.uint8)
    for i, frame in enumerate(frames):  # one OpenCV call per sampled frame where the sizes do not divide
        out[i] = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
    return out


def query_window_probes(small: np.ndarray, times: np.ndarray, period: float, params: WindowParams) -> Fingerprint:
    """An upload's ``WINDOW`` rendition: its frames, already shrunk to ``query_probe_size``
    (``probe_frames``), as rows of size**2 bytes, but for flat ones (below ``min_std``: the
    window of a low-contrast shot is lower still, so whole-frame flatness limits are too
    strict here). The whole decoded frame: no border is cropped, the verification finds
    where the work lies."""
    ok = frame_quality(small) >= params.min_std
    t = np.asarray(times, np.float64)[ok]
    kept = small[ok]
    return Fingerprint(WINDOW, kept.reshape(len(kept), kept.shape[1] * kept.shape[2]), t, t + period)


def probe_images(fp: Fingerprint) -> np.ndarray:
    """(n, p, p) uint8 frames of an upload's ``WINDOW`` rendition."""
    side = int(round(np.sqrt(fp.codes.shape[1]))) if fp.codes.ndim == 2 else 0
    return fp.codes.reshape(len(fp), side, side)


@lru_cache(maxsize=16)
def dct_rows(hash_size: int, length: int) -> np.ndarray:
    """(hash_size, length) float32 rows of the unnormalised DCT-II (as scipy.fftpack's)."""
    k = np.arange(hash_size)[:, None]
    n = np.arange(length)[None, :]
    return (2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * length))).astype(np.float32)


def bits_from_coefficients(low: np.ndarray) -> np.ndarray:
    """(..., hash_size, hash_size) low DCT blocks -> (..., hash_size**2 / 8) packed pHash bits
    (above the block's median, row-major, most significant bit first: imagehash's order).

    With an even count of coefficients the median lies between the two middle
    values, so "above it" is "at least the upper middle value": one sort per
    block, several times cheaper than ``np.median`` on many small blocks.
    """
    flat = low.reshape(*low.shape[:-2], -1)
    upper_middle = np.sort(flat, axis=-1)[..., flat.shape[-1] // 2, None]
    return np.packbits(flat >= upper_middle, axis=-1)
