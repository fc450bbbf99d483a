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
4. References: extra hashes of centre crops (robust to cropped copies; the
   0.5 crop is what a tilted, zoomed copy still shows) and runs of
   near-identical hashes collapsed to one code standing for the run.
5. Queries (``query_video_fingerprint``): renditions of the upload that undo
   what re-uploaders do, each code's ``variants`` naming it (``QUERY_*``,
   ``rendition_name``). From the one DCT, with no second resize: the mirror
   (odd horizontal frequencies negated), upside down (odd vertical ones),
   half and quarter turns (a transpose of the low block) and the negative
   (every coefficient but the mean negated) (``dct_renditions``). From the
   resized image: small rotations (``rotated_pixels``) and tilts of 10-20
   degrees undone for a picture of the upload's aspect squashed to a square
   (``untilt_matrix``; with black corners the angle is measured,
   ``corner_tilt``). Query-only, so made cheaply and tested to stay within a
   few bits of hashing the transformed frame. Regions that may hold the work
   alone (``region_boxes``: an inset, split-screen halves, a vertical frame's
   sharp band, a picture inside a border) are hashed too. Renditions that
   only need to find long copies are made on a subset of frames.
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

# Query renditions. ``Fingerprint.variants`` of an upload's video codes says
# which rendition of its frames produced each code (reported with a match,
# see ``rendition_name``); the ids are stable whatever the settings.
QUERY_PLAIN = 0
QUERY_MIRRORED = 1          # a left-right mirror undone
QUERY_FLIPPED = 2           # upside down (a vertical flip) undone
QUERY_ROTATED_180 = 3
QUERY_ROTATED_90 = 4        # the picture had been turned 90 degrees counter-clockwise (a portrait re-upload)
QUERY_ROTATED_270 = 5       # ... 90 degrees clockwise
QUERY_NEGATIVE = 6          # a photographic negative undone
QUERY_ROTATION = 16         # + i: turned back by ``query_rotations[i]`` degrees (i < 16)
QUERY_TILT = 32             # + i: a zoomed tilt by ``query_tilts[i]`` degrees undone (i < 32)
QUERY_CORNER_TILT = 64      # + 45 + round(degrees): a tilt with black corners, its angle measured (|angle| <= 45)
QUERY_REGION = 192          # + 2 * REGIONS.index(kind) (+ 1: mirrored): a region of the frame hashed alone
REGIONS = ("inset", "left half", "right half", "top half", "bottom half", "vertical-frame band", "inside a border")
MAX_ROTATIONS, MAX_TILTS = 16, 32


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
    query_flips: uploads are also hashed upside down, rotated by 90, 180 and
        270 degrees and as a negative (all from the one DCT: sign flips and a
        transpose of its low block).
    query_flip_seconds: those renditions are made every this many seconds
        (on a subset of the sampled frames: they only need to find long copies).
    query_tilts: tilts (degrees, counter-clockwise positive) undone in
        uploads zoomed to fill the frame; the upload's centre is then compared
        with the references' ``query_tilt_crop`` centre crop (the rest of the
        work is outside the frame). An empty list also turns off undoing a
        tilt with black corners (``corner_tilt``), whose angle is measured.
    query_tilt_seconds: tilt renditions are made every this many seconds.
    query_tilt_crop: the reference centre-crop scale tilt renditions match;
        without it among ``crop_scales`` no tilt is undone (nothing could match).
    query_aspect: width / height assumed for the upload's picture when undoing
        a zoomed tilt (frames are squashed to squares, so a rotation there is
        a rotation of a picture of this aspect); a tilt with black corners has
        its angle and aspect measured from the corners instead.
    query_probe_seconds: the renditions made 2-4 times a second that undo one
        edit (the mirror, small rotations, zoomed tilts, a tilt with black
        corners) are searched in two
        stages (``probe_rows``): one code of each every this many seconds
        first, the rest only where that probe hit one reference at
        ``query_probe_min_hits`` codes closer than the plain rendition there;
        0 searches every rendition in full.
    query_probe_min_hits: see ``query_probe_seconds``.
    query_insets: look for a picture-in-picture inset (``inset_box``) in
        uploads and hash it (plain and mirrored) as well.
    query_regions: look for the other regions that may hold the work alone:
        split-screen halves, a vertical frame's sharp band, the picture inside
        static margins (``region_boxes``), hashed plain and mirrored.
    inset_edge_ratio: an inset edge is a row/column boundary whose persistent
        gradient is this many times the frame's typical one.
    inset_min_share, inset_max_share: an inset spans this share of the
        frame's width and height.
    split_dominance: a split-screen seam is at least this many times stronger
        than any other persistent edge along its axis.
    band_min_share, band_max_share: a vertical frame's sharp band spans this
        share of the frame's height.
    band_detail_ratio: the band's rows are this many times more detailed than
        the blurred rows above and below it.
    margin_motion_share: rows (columns) moving less than this share of the
        picture's typical motion are a static margin.
    margin_min_motion: a picture whose typical motion (mean absolute change
        between sampled frames, grey levels) is below this cannot be told from
        its margins: no margin is looked for.
    margin_tolerance, margin_uniform_share: a margin is one colour: at least
        this share of its pixels lie within this many grey levels of its
        median (a caption in it is a minority).
    """

    hash_size: int = 16
    black_level: float = 24.0
    max_border_share: float = 0.3
    min_frame_std: float = 10.0
    crop_scales: tuple[float, ...] = (0.9, 0.8, 0.5)
    collapse_distance: int = 12
    max_run_seconds: float = 1.0
    query_rotations: tuple[float, ...] = (-5.0, 5.0)
    query_flips: bool = True
    query_flip_seconds: float = 1.0
    query_tilts: tuple[float, ...] = (-18.0, -14.5, -11.0, 11.0, 14.5, 18.0)
    query_tilt_seconds: float = 0.5
    query_tilt_crop: float = 0.5
    query_aspect: float = 16 / 9
    query_probe_seconds: float = 1.0
    query_probe_min_hits: int = 2
    query_insets: bool = True
    query_regions: bool = True
    inset_edge_ratio: float = 4.0
    inset_min_share: float = 0.2
    inset_max_share: float = 0.85
    split_dominance: float = 2.0
    band_min_share: float = 0.15
    band_max_share: float = 0.8
    band_detail_ratio: float = 3.0
    margin_motion_share: float = 0.2
    margin_min_motion: float = 1.0
    margin_tolerance: float = 12.0
    margin_uniform_share: float = 0.6


def rendition_name(variant: int, params: VideoParams) -> str:
    """In words, which rendition of an upload's frames a query code ``variant`` is."""
    v = int(variant)
    fixed = {QUERY_PLAIN: "plain", QUERY_MIRRORED: "mirrored", QUERY_FLIPPED: "upside down",
             QUERY_ROTATED_180: "rotated 180 degrees", QUERY_ROTATED_90: "rotated 90 degrees",
             QUERY_ROTATED_270: "rotated 270 degrees", QUERY_NEGATIVE: "negative"}
    if v in fixed:
        return fixed[v]
    if QUERY_ROTATION <= v < QUERY_ROTATION + min(MAX_ROTATIONS, len(params.query_rotations)):
        return f"tilted {-params.query_rotations[v - QUERY_ROTATION]:+g} degrees"
    if QUERY_TILT <= v < QUERY_TILT + min(MAX_TILTS, len(params.query_tilts)):
        return f"tilted {params.query_tilts[v - QUERY_TILT]:+g} degrees, zoomed"
    if QUERY_CORNER_TILT <= v <= QUERY_CORNER_TILT + 90:
        return f"tilted {v - QUERY_CORNER_TILT - 45:+d} degrees, black corners"
    if QUERY_REGION <= v < QUERY_REGION + 2 * len(REGIONS):
        kind = REGIONS[(v - QUERY_REGION) // 2]
        return kind + (", mirrored" if (v - QUERY_REGION) % 2 else "")
    return f"rendition {v}"


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


def dct_renditions(low: np.ndarray) -> dict[int, np.ndarray]:
    """Low DCT blocks (n, k, k) of frames -> those of their flipped, rotated and negative renditions.

    With axis 1 the vertical and axis 2 the horizontal frequency: reversing
    the rows negates the odd vertical frequencies (a vertical flip), both
    reversals make a half turn, a transpose of the image transposes the
    block, and a quarter turn is a transpose and one reversal
    (``np.rot90(x, -1)`` is ``x.T`` mirrored left-right). A negative
    (255 - x) negates every coefficient but the mean; the mean stays the
    largest, so its bit is kept as it is. Keys are ``QUERY_*`` ids naming the
    edit each rendition undoes. ``tests/test_fingerprint.py`` checks every
    one against hashing the transformed frame.
    """
    k = low.shape[-1]
    odd_h = _mirror_sign(k)
    odd_v = odd_h.reshape(1, k, 1)
    turned = low.transpose(0, 2, 1)
    negative = -low
    negative[:, 0, 0] = low[:, 0, 0]
    return {QUERY_FLIPPED: low * odd_v, QUERY_ROTATED_180: low * odd_v * odd_h,
            QUERY_ROTATED_90: turned * odd_h, QUERY_ROTATED_270: turned * odd_v, QUERY_NEGATIVE: negative}


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
    s = pixels.shape[-1]
    rad = np.radians(abs(degrees))
    matrix = cv2.getRotationMatrix2D(((s - 1) / 2, (s - 1) / 2), degrees, float(np.cos(rad) + np.sin(rad)))
    return _warp_pixels(pixels, matrix)


def _warp_pixels(pixels: np.ndarray, matrix: np.ndarray, inverse: bool = False) -> np.ndarray:
    """(n, s, s) float32: every hash-sized image warped by the (2, 3) affine ``matrix``
    (bilinear; pixels beyond the image repeat its edge). ``inverse``: the matrix
    maps output to input coordinates."""
    n, s, _ = pixels.shape
    src = np.asarray(pixels, np.float32)
    out = np.empty((n, s, s), np.float32)
    flags = cv2.INTER_LINEAR | (cv2.WARP_INVERSE_MAP if inverse else 0)
    for i in range(n):  # OpenCV warps at most 4 channels at a time exactly; 64x64 per call is cheap
        out[i] = cv2.warpAffine(src[i], matrix, (s, s), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return out


def _warped_low(pixels: np.ndarray, matrix: np.ndarray, hash_size: int) -> np.ndarray:
    """(n, k, k) float32 low DCT block of the hash-sized images warped by ``matrix``
    (output to input coordinates, in hash-sized pixels), sampled at half resolution.

    The low block only holds frequencies up to a quarter of the hash-sized
    image's, so the warp is sampled on a (2k, 2k) grid (each sample at the
    centre of a 2 x 2 block of the full grid) and transformed with that
    grid's DCT rows: 2.3 times cheaper than warping the full image, its bits
    within a few of it (median 6-8 of 256 on the benchmark films, 2 more bits
    from the references). Query-only renditions (tilts) use it.
    """
    side = 2 * hash_size
    ratio = pixels.shape[-1] / side
    to_full = np.array([[ratio, 0.0, (ratio - 1) / 2], [0.0, ratio, (ratio - 1) / 2], [0.0, 0.0, 1.0]])
    half = (np.vstack([matrix, [0.0, 0.0, 1.0]]) @ to_full)[:2]
    n = len(pixels)
    src = np.asarray(pixels, np.float32)
    out = np.empty((n, side, side), np.float32)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for i in range(n):  # one small OpenCV call per frame (no batched form)
        out[i] = cv2.warpAffine(src[i], half, (side, side), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    d = _dct_rows(hash_size, side)
    return d @ out @ d.T


def fill_zoom(degrees: float, aspect: float) -> float:
    """How much a picture of ``aspect`` (width / height) rotated by ``degrees`` must be
    enlarged so that no corner of the frame is left empty (``mediagen.transforms.rotate``'s zoom)."""
    rad = np.radians(abs(degrees))
    c, s = np.cos(rad), np.sin(rad)
    return float(max(c + s / aspect, aspect * s + c))


def untilt_matrix(degrees: float, zoom: float, crop: float, aspect: float, side: int) -> np.ndarray:
    """(2, 3) affine from a rendition's pixels to the upload's (both (side, side) squashed squares).

    The upload shows the work rotated by ``degrees`` (counter-clockwise, as
    ``cv2.getRotationMatrix2D``) and enlarged ``zoom`` times about the centre,
    in a frame of ``aspect`` (width / height) squashed to a square. The
    rendition is the work's central ``crop`` share (width and height) as the
    work's own squashed square would show it: there a rotation R of the
    picture is S R S^-1, S the squash diag(1 / aspect, 1).
    """
    rad = np.radians(degrees)
    c, s = np.cos(rad), np.sin(rad)
    a = crop * zoom * np.array([[c, s / aspect], [-s * aspect, c]])
    centre = np.full(2, (side - 1) / 2)
    return np.hstack([a, (centre - a @ centre)[:, None]])


_CORNER_ASPECTS = (1.0, 1.25, 4 / 3, 1.5, 1.6, 16 / 9, 2.0, 2.35)


def corner_tilt(frames: np.ndarray, params: VideoParams) -> tuple[float, float] | None:
    """(degrees, aspect) of a tilted picture with black corners, or None.

    Rotating a picture inside a frame of its own size (no zoom) leaves four
    black triangles in the corners. The pixels that stay black through the
    clip (half way to the picture's level, so that blended edge pixels split
    evenly) are compared with the triangles every (angle, aspect) would leave
    (angles 2-30 degrees either way, common aspects); the best fit, if it
    covers the black pixels well (intersection over union >= 0.8), is the
    tilt. Frames are (n, h, w) squashed squares after ``border_box``.
    """
    n, h, w = frames.shape
    if n == 0 or h < 16 or w < 16:
        return None
    corners = frames[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    if corners.max() >= params.black_level:
        return None
    # a pixel on the picture's slanted edge is a blend of black and picture:
    # it counts as black below half way from the corners' level to the picture's
    brightest = frames.max(axis=0)
    black = brightest < (float(corners.max()) + float(np.median(brightest))) / 2
    if not 0.005 <= black.mean() <= 0.4:
        return None

    def fit(mask: np.ndarray, degrees: np.ndarray, aspect: float) -> np.ndarray:
        """Intersection over union of ``mask`` with the corners each angle leaves black."""
        mh, mw = mask.shape
        y = ((np.arange(mh) + 0.5) / mh - 0.5)[:, None, None]  # picture heights
        x = ((np.arange(mw) + 0.5) / mw - 0.5)[None, :, None] * aspect  # picture heights too
        rad = np.radians(degrees)[None, None, :]
        c, s = np.cos(rad), np.sin(rad)
        outside = (np.abs(c * x - s * y) > aspect / 2) | (np.abs(s * x + c * y) > 0.5)
        inter = (outside & mask[:, :, None]).sum(axis=(0, 1))
        union = (outside | mask[:, :, None]).sum(axis=(0, 1))
        return inter / np.maximum(union, 1)

    # coarse: every angle and aspect on a 32 x 32 mask (angle and aspect trade off
    # there); fine: around each aspect's best angle, full size
    small = cv2.resize(black.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA) > 0.5
    coarse = np.concatenate([-np.arange(30.0, 1.9, -0.5), np.arange(2.0, 30.1, 0.5)])
    best = (0.0, 0.0, 0.0)
    for aspect in _CORNER_ASPECTS:
        start = float(coarse[int(np.argmax(fit(small, coarse, aspect)))])
        fine = start + np.arange(-1.5, 1.51, 0.05)
        iou = fit(black, fine, aspect)
        best = max(best, (float(iou.max()), float(fine[int(np.argmax(iou))]), aspect))
    score, degrees, aspect = best
    if score < 0.8:
        return None
    return degrees, aspect


def _edge_peaks(profile: np.ndarray, ratio: float) -> list[tuple[int, float]]:
    """(boundary, strength) of runs of boundaries far above the typical gradient."""
    floor = max(3.0, ratio * float(np.median(profile)))
    hot = np.flatnonzero(profile > floor)
    peaks = []
    for run in np.split(hot, np.flatnonzero(np.diff(hot) > 2) + 1) if hot.size else []:
        k = run[np.argmax(profile[run])]
        peaks.append((int(k) + 1, float(profile[k])))  # boundary between pixel k and k + 1
    return peaks


def _subpixel_edge(profile: np.ndarray, boundary: int) -> float:
    """Where between pixels an edge found at integer ``boundary`` really lies.

    A boundary that falls inside a pixel (picture edges rarely land on the
    squashed square's grid) blends that pixel, and the edge shows on both of
    its sides: the centroid of the profile above its typical level over the
    three boundaries around the peak places it to a fraction of a pixel.
    """
    k = boundary - 1
    lo, hi = max(0, k - 1), min(len(profile), k + 2)
    weight = np.maximum(profile[lo:hi] - float(np.median(profile)), 0.0)
    if weight.sum() <= 0:
        return float(boundary)
    return float((np.arange(lo, hi) + 1) @ weight / weight.sum())


@dataclass(frozen=True)
class ClipStatistics:
    """What stays put in a clip while its picture moves: the evidence region finders read.

    Computed once per clip from about 48 frames spread over it (``clip_statistics``);
    grey levels throughout.
    vertical_edges: (w - 1,) per column boundary, the mean over rows of the
        median over time of the horizontal gradient: high along a vertical
        edge that stays put (an inset's side, a split-screen seam).
    horizontal_edges: (h - 1,) the same per row boundary.
    row_detail: (h,) median over time of each row's mean horizontal gradient:
        low in blurred rows (the background of a vertical-over-blur frame).
    row_motion, col_motion: (h,) / (w,) median over time of each row's
        (column's) mean absolute change between sampled frames: zero in a
        static margin (a border, even with a caption that changes now and then).
    """

    vertical_edges: np.ndarray
    horizontal_edges: np.ndarray
    row_detail: np.ndarray
    row_motion: np.ndarray
    col_motion: np.ndarray


def _median_u8(values: np.ndarray) -> np.ndarray:
    """``np.median(values, axis=1)`` of a 2-D uint8 array, the same float64s: a stable sort of
    uint8 is a radix sort, ~40 % cheaper than the partition ``np.median`` runs on short rows."""
    m = values.shape[1]
    ordered = np.sort(values, axis=1, kind="stable")
    k = m // 2
    if m % 2:
        return ordered[:, k].astype(np.float64)
    return (ordered[:, k - 1].astype(np.float64) + ordered[:, k]) / 2


def clip_statistics(frames: np.ndarray) -> ClipStatistics | None:
    """``ClipStatistics`` of (n, h, w) uint8 frames, or None for fewer than 8 frames."""
    n, h, w = frames.shape
    if n < 8 or h < 8 or w < 8:
        return None
    # time is laid out last so the medians run over contiguous uint8 rows
    # (exact: |difference| is an integer)
    f = np.ascontiguousarray(frames[:: max(1, n // 48)].transpose(1, 2, 0))  # (h, w, m)
    m = f.shape[2]
    dx = cv2.absdiff(f[:, 1:].reshape(-1, m), f[:, :-1].reshape(-1, m))
    dy = cv2.absdiff(f[1:].reshape(-1, m), f[:-1].reshape(-1, m))
    dt = cv2.absdiff(f[:, :, 1:].reshape(-1, m - 1), f[:, :, :-1].reshape(-1, m - 1)).reshape(h, w, m - 1)
    return ClipStatistics(
        vertical_edges=_median_u8(dx).astype(np.float32).reshape(h, w - 1).mean(axis=0),
        horizontal_edges=_median_u8(dy).astype(np.float32).reshape(h - 1, w).mean(axis=1),
        row_detail=np.median(dx.reshape(h, w - 1, m).mean(axis=1, dtype=np.float32), axis=1),
        row_motion=np.median(dt.mean(axis=1, dtype=np.float32), axis=1),
        col_motion=np.median(dt.mean(axis=0, dtype=np.float32), axis=1),
    )


def inset_box(frames: np.ndarray, params: VideoParams,
              stats: ClipStatistics | None = None) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of a picture-in-picture inset, or None.

    An inset's border is an edge that stays put while both pictures move: the
    per-pixel gradient's median over time is high along it and low elsewhere.
    The inset is the rectangle between the strongest such boundaries (the
    frame's own edges stand in for a side flush with the border).
    stats: ``clip_statistics(frames)`` if already computed.
    """
    _, h, w = frames.shape
    stats = stats or clip_statistics(frames)
    if stats is None:
        return None
    vpeaks = _edge_peaks(stats.vertical_edges, params.inset_edge_ratio)
    hpeaks = _edge_peaks(stats.horizontal_edges, params.inset_edge_ratio)
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


def split_boxes(frames: np.ndarray, params: VideoParams,
                stats: ClipStatistics | None = None) -> list[tuple[str, tuple[int, int, int, int]]]:
    """The two halves of a split screen: [(kind, (top, bottom, left, right)), ...], or [].

    A split screen (two videos side by side, or one above the other, as
    ffmpeg's hstack / vstack make them) has one seam that stays put while both
    sides move: a persistent edge across the whole frame in the middle third
    of its width (height), clearly the strongest edge of that axis
    (``split_dominance`` times any other; the two edges of a vertical frame's
    band are not a seam). Both sides are returned (which one is the work is
    not known): "left half" / "right half" or "top half" / "bottom half".
    Both sides must move (``margin_min_motion``): a still picture's edges are
    no seam.
    """
    _, h, w = frames.shape
    stats = stats or clip_statistics(frames)
    if stats is None:
        return []
    out = []
    for profile, length, names in ((stats.vertical_edges, w, ("left half", "right half")),
                                   (stats.horizontal_edges, h, ("top half", "bottom half"))):
        peaks = sorted(_edge_peaks(profile, params.inset_edge_ratio), key=lambda p: -p[1])
        if not peaks:
            continue
        seam, strength = peaks[0]
        if not length / 3 <= seam <= 2 * length / 3:
            continue
        if len(peaks) > 1 and strength < params.split_dominance * peaks[1][1]:
            continue
        motion = stats.col_motion if names[0] == "left half" else stats.row_motion
        if min(float(np.median(motion[:seam])), float(np.median(motion[seam:]))) < params.margin_min_motion:
            continue  # a still side (a title card, a static panel) is no video beside the work
        if names[0] == "left half":
            out += [(names[0], (0, h, 0, seam)), (names[1], (0, h, seam, w))]
        else:
            out += [(names[0], (0, seam, 0, w)), (names[1], (seam, h, 0, w))]
    return out


def band_box(frames: np.ndarray, params: VideoParams,
             stats: ClipStatistics | None = None) -> tuple[float, float, float, float] | None:
    """(top, bottom, left, right) of the sharp band of a vertical-over-blur frame, or None.

    Bounds are in pixels, to a fraction of one (``_subpixel_edge``): the hash
    of a window moves ~25 bits of 256 per 1 % of its size it is shifted by.

    The short-video format puts a landscape work across a vertical frame over
    a blurred, zoomed copy of itself. The band's top and bottom are persistent
    edges (the sharp picture against its blurred copy) and the rows inside are
    far more detailed than those above and below: at least
    ``band_detail_ratio`` times the detail (mean horizontal gradient) of each
    side. The band spans ``band_min_share``-``band_max_share`` of the height;
    of several candidates the one with the strongest edges wins.
    """
    _, h, w = frames.shape
    stats = stats or clip_statistics(frames)
    if stats is None:
        return None
    peaks = _edge_peaks(stats.horizontal_edges, params.inset_edge_ratio)
    detail = stats.row_detail
    best, best_score = None, 0.0
    for i, (a, sa) in enumerate(peaks):
        for b, sb in peaks[i + 1:]:
            if not params.band_min_share <= (b - a) / h <= params.band_max_share or a < 3 or h - b < 3:
                continue
            inside = float(detail[a:b].mean())
            outside = max(float(detail[:a].mean()), float(detail[b:].mean()))
            if inside >= params.band_detail_ratio * max(outside, 1e-3) and sa + sb > best_score:
                best, best_score = (a, b), sa + sb
    if best is None:
        return None
    edges = stats.horizontal_edges
    return _subpixel_edge(edges, best[0]), _subpixel_edge(edges, best[1]), 0.0, float(w)


def margin_box(frames: np.ndarray, params: VideoParams,
               stats: ClipStatistics | None = None) -> tuple[float, float, float, float] | None:
    """(top, bottom, left, right) of a moving picture inside static margins, or None.

    Bounds are in pixels, to a fraction of one (the first moving row is
    weighed by how much it moves).

    A border of any colour (white, a brand colour, a meme frame with a caption
    in it) stays still while the picture moves: rows (columns) from the
    frame's edge whose motion (``ClipStatistics.row_motion``) stays below
    ``margin_motion_share`` of the picture's typical motion are margin, if
    they are mostly one colour (``margin_uniform_share``). Black
    margins are already cropped by ``border_box``; this finds the others. A
    side needs at least 2 % of the frame to count as a margin; None when no
    side has one, when the picture barely moves (nothing tells margin from
    picture) or when less than half of either side would be left.
    """
    _, h, w = frames.shape
    stats = stats or clip_statistics(frames)
    if stats is None:
        return None

    def bounds(motion: np.ndarray, length: int) -> tuple[float, float] | None:
        typical = float(np.median(motion[length // 4: length - length // 4]))
        if typical < params.margin_min_motion:
            return None
        moving = np.flatnonzero(motion >= params.margin_motion_share * typical)
        if moving.size == 0:
            return None
        lo, hi = int(moving[0]), int(moving[-1]) + 1
        least = max(2, int(np.ceil(0.02 * length)))
        # the first moving row is usually a blend of margin and picture: it moves
        # in proportion to the share of it that is picture (against the rows next to it)
        near = float(np.median(motion[lo + 1: lo + 4])) if lo + 4 <= length else 0.0
        top = lo + 1.0 - min(1.0, motion[lo] / near) if near > 0 else float(lo)
        near = float(np.median(motion[hi - 4: hi - 1])) if hi >= 4 else 0.0
        end = hi - 1.0 + min(1.0, motion[hi - 1] / near) if near > 0 else float(hi)
        return (top if lo >= least else 0.0), (end if length - hi >= least else float(length))

    rows, cols = bounds(stats.row_motion, h), bounds(stats.col_motion, w)
    if rows is None or cols is None:
        return None
    # a border is one colour: most of each margin's pixels (a caption aside) lie
    # near its typical level; a still strip of picture (blocks a low-bitrate
    # encoder never updates, a clipped sky) is not a border
    probe = frames[np.linspace(0, len(frames) - 1, 5).astype(int)].astype(np.int16)
    top, bottom = (rows[0] if _uniform(probe[:, : int(rows[0])], params) else 0.0,
                   rows[1] if _uniform(probe[:, int(np.ceil(rows[1])):], params) else float(h))
    left, right = (cols[0] if _uniform(probe[:, :, : int(cols[0])], params) else 0.0,
                   cols[1] if _uniform(probe[:, :, int(np.ceil(cols[1])):], params) else float(w))
    if (top, bottom, left, right) == (0.0, float(h), 0.0, float(w)):
        return None
    if bottom - top < h / 2 or right - left < w / 2:
        return None
    return float(top), float(bottom), float(left), float(right)


def _uniform(strip: np.ndarray, params: VideoParams) -> bool:
    """Whether a margin strip (frames, rows, columns) is mostly one level: at least
    ``margin_uniform_share`` of its pixels within ``margin_tolerance`` grey levels of
    its median (an empty strip is no margin)."""
    if strip.size == 0:
        return False
    level = float(np.median(strip))
    return float((np.abs(strip - level) <= params.margin_tolerance).mean()) >= params.margin_uniform_share


def region_boxes(frames: np.ndarray, params: VideoParams) -> list[tuple[str, tuple]]:
    """Every region of an upload's frames that may hold the work on its own: [(kind, box), ...].

    kinds (``REGIONS``): a picture-in-picture "inset", the halves of a split
    screen, the sharp "vertical-frame band" over a blurred copy, the picture
    "inside a border" of static margins. One ``clip_statistics`` pass serves
    every finder; a box found twice (each side within 0.75 pixel) is listed
    once. Boxes are (top, bottom, left, right) pixels, possibly fractional
    (``region_bits``). ``query_insets`` switches the inset finder,
    ``query_regions`` the others.
    """
    if not (params.query_insets or params.query_regions):
        return []
    stats = clip_statistics(frames)
    if stats is None:
        return []
    found = [("inset", inset_box(frames, params, stats))] if params.query_insets else []
    if params.query_regions:
        found += [*split_boxes(frames, params, stats), ("vertical-frame band", band_box(frames, params, stats)),
                  ("inside a border", margin_box(frames, params, stats))]
    out: list[tuple[str, tuple]] = []
    for kind, box in found:
        if box is None or box[1] - box[0] < 8 or box[3] - box[2] < 8:
            continue
        if all(max(abs(a - b) for a, b in zip(box, other)) > 0.75 for _, other in out):
            out.append((kind, box))
    return out


def region_bits(frames: np.ndarray, box: tuple, hash_size: int) -> tuple[np.ndarray, np.ndarray]:
    """pHash bits (plain, mirrored) of the region ``box`` = (top, bottom, left, right) of each frame.

    Whole-pixel boxes are hashed exactly as imagehash would hash the crop. A
    box with fractional bounds (a region finder placed its edge inside a
    pixel) is hashed from the smallest whole-pixel crop holding it, resized
    once, then zoomed onto the box by a sub-pixel affine warp of the
    hash-sized image (as ``rotated_pixels`` does: query-only codes).
    """
    top, bottom, left, right = (float(v) for v in box)
    it, ib = int(np.floor(top + 1e-6)), int(np.ceil(bottom - 1e-6))
    il, ir = int(np.floor(left + 1e-6)), int(np.ceil(right - 1e-6))
    crop = np.ascontiguousarray(frames[:, it:ib, il:ir])
    if max(top - it, ib - bottom, left - il, ir - right) < 0.05:
        return phash_bits_with_mirror(crop, hash_size)
    side = hash_size * HIGHFREQ_FACTOR
    pixels = _resized_stack(crop, side)
    # rendition pixel q (centre q + 0.5) -> crop coordinate -> resized crop pixel
    sy, sx = (bottom - top) / (ib - it), (right - left) / (ir - il)
    matrix = np.array([[sx, 0.0, 0.5 * sx + (left - il) * side / (ir - il) - 0.5],
                       [0.0, sy, 0.5 * sy + (top - it) * side / (ib - it) - 0.5]])
    low = _dct_low_approx(_warp_pixels(pixels, matrix, inverse=True), hash_size)
    return _plain_and_mirrored(low, hash_size)


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


def _sparse(times: np.ndarray, seconds: float) -> np.ndarray:
    """Indices of the first frame in each ``seconds``-long stretch of ``times``."""
    slot = np.floor(times / seconds + 1e-9)
    return np.flatnonzero(np.concatenate([[True], slot[1:] != slot[:-1]])) if len(times) else np.zeros(0, np.int64)


def probe_rows(fp: Fingerprint, params: VideoParams) -> np.ndarray:
    """(n,) bool: the query codes searched first (``index.staged_search``): every code of the
    plain, upside-down, quarter-turned, negative and region renditions (the flips are made once
    a second already; a region's frames are the work alone), and the first code in each
    ``query_probe_seconds`` of every other rendition (the mirror, small rotations, zoomed tilts,
    the measured corner tilt: made 2-4 times a second, each undoing one edit only some uploads
    have). A copy under such an edit stays within ~12 bits of the work at nearly every frame,
    so its probe hits wherever the full rendition would; an upload without it costs a
    fraction of the search (and of the aligning of chance hits)."""
    v = np.asarray(fp.variants, np.int64)
    staged = ((v >= QUERY_ROTATION) & (v < QUERY_REGION)) | (v == QUERY_MIRRORED)
    if params.query_probe_seconds <= 0 or not staged.any():
        return np.ones(len(v), bool)
    slot = np.floor(np.asarray(fp.starts, np.float64) / params.query_probe_seconds + 1e-9).astype(np.int64)
    rows = np.flatnonzero(staged)
    key = v[rows] * (int(slot[rows].max()) - int(slot[rows].min()) + 1) + (slot[rows] - int(slot[rows].min()))
    _, first = np.unique(key, return_index=True)  # (the first row of each (rendition, slot))
    out = ~staged
    out[rows[first]] = True
    return out


def query_video_fingerprint(frames: np.ndarray, times: np.ndarray, period: float, params: VideoParams,
                            aspect: float | None = None) -> Fingerprint:
    """Codes for a screened upload: every rendition of its usable frames (``QUERY_*`` ids in ``variants``).

    frames: (n, s, s) grey frames sampled every ``period`` seconds at ``times``.
    aspect: width / height of the upload's picture when known (for undoing
        zoomed tilts); else ``params.query_aspect``.

    Every frame: plain, mirrored, turned back by ``query_rotations``, and each
    region ``region_boxes`` finds (plain and mirrored). Every
    ``query_flip_seconds``: upside down, rotated 90/180/270, negative (from the
    one DCT). Every ``query_tilt_seconds``: each of ``query_tilts`` undone
    (zoomed) and, when the corners are black, the measured tilt. A code made
    on a subset of frames stands for the stretch until the next one (its end),
    so densities along a match stay right.
    """
    framed, ok = _usable(frames, params)
    # regions are looked for in the usable frames, and hashed in every frame where
    # the region itself is not flat (a dim blurred background can make the whole
    # frame "flat" while its sharp band is not)
    regions = region_boxes(framed[ok] if ok.sum() >= 8 else framed, params)
    region_parts = _region_parts(framed, times, period, regions, params)
    cropped, t = framed[ok], times[ok]
    code_bytes = params.hash_size**2 // 8
    if len(t) == 0:
        if not region_parts:
            return Fingerprint.empty(VIDEO, code_bytes)
        return Fingerprint.concat(region_parts)
    hs, side = params.hash_size, params.hash_size * HIGHFREQ_FACTOR
    pixels = _resized_stack(np.ascontiguousarray(cropped), side)
    low = _dct_low(pixels, hs)
    every = np.arange(len(t))
    parts: list[tuple[int, np.ndarray, float, np.ndarray]] = []  # (variant, frame indices, seconds each, bits)
    plain, mirrored = _plain_and_mirrored(low, hs)
    parts += [(QUERY_PLAIN, every, period, plain), (QUERY_MIRRORED, every, period, mirrored)]
    for i, a in enumerate(params.query_rotations[:MAX_ROTATIONS]):
        parts.append((QUERY_ROTATION + i, every, period,
                      _bits_from_low(_dct_low_approx(rotated_pixels(pixels, a), hs))))
    if params.query_flips:
        sub = _sparse(t, params.query_flip_seconds)
        step = max(period, params.query_flip_seconds)
        # (query-only: float32 blocks, whose medians run twice as fast)
        parts += [(v, sub, step, _bits_from_low(block))
                  for v, block in dct_renditions(low[sub].astype(np.float32)).items()]
    if params.query_tilts and params.query_tilt_crop in params.crop_scales:
        sub = _sparse(t, params.query_tilt_seconds)
        step = max(period, params.query_tilt_seconds)
        corner = corner_tilt(cropped, params)
        if corner is not None:  # the angle is measured: one rendition instead of a grid
            degrees, measured = corner
            matrix = untilt_matrix(degrees, 1.0, params.query_tilt_crop, measured, side)
            parts.append((QUERY_CORNER_TILT + 45 + int(round(degrees)), sub, step,
                          _bits_from_low(_warped_low(pixels[sub], matrix, hs))))
        a = aspect or params.query_aspect
        for i, degrees in enumerate(params.query_tilts[:MAX_TILTS]):
            matrix = untilt_matrix(degrees, fill_zoom(degrees, a), params.query_tilt_crop, a, side)
            parts.append((QUERY_TILT + i, sub, step, _bits_from_low(_warped_low(pixels[sub], matrix, hs))))
    last_end = float(t[-1]) + period
    whole = Fingerprint(
        VIDEO,
        np.concatenate([bits for _, _, _, bits in parts]),
        np.concatenate([t[idx] for _, idx, _, _ in parts]),
        np.concatenate([np.minimum(t[idx] + sec, last_end) for _, idx, sec, _ in parts]),
        np.concatenate([np.full(len(idx), v, np.uint8) for v, idx, _, _ in parts]),
    )
    fp = Fingerprint.concat([whole, *region_parts])
    return fp.subset(np.argsort(fp.variants, kind="stable"))  # by rendition, then time


def _region_parts(framed: np.ndarray, times: np.ndarray, period: float, regions: list[tuple[str, tuple]],
                  params: VideoParams) -> list[Fingerprint]:
    """Codes (plain and mirrored) of each region in every frame where the region is not flat."""
    out = []
    for kind, box in regions:
        top, bottom, left, right = (int(round(v)) for v in box)
        usable = frame_quality(framed[:, top:bottom, left:right]) >= params.min_frame_std
        if not usable.any():
            continue
        base = QUERY_REGION + 2 * REGIONS.index(kind)
        t = times[usable]
        for variant, bits in zip((base, base + 1), region_bits(framed[usable], box, params.hash_size)):
            out.append(Fingerprint(VIDEO, bits, t, t + period, np.full(len(t), variant, np.uint8)))
    return out
