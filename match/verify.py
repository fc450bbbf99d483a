"""Geometric verification of a cut-timing candidate: where in the upload frame is the work?

A candidate line (``match.cuts``) says which reference and which seconds an
upload may show, not where in its frame: a 30 % crop at any position, the
work shrunk inside a decorative or animated border, either of them mirrored.
The geometry is one axis-aligned map per upload,
``ref = offset + scale * upload`` on each axis (coordinates 0..1 of the
upload frame and of the reference picture; the upload mirrored first when
``mirrored``), found on a handful of upload frames along the line against the
reference's central-window codes (``fingerprint.window``) at the predicted
reference times, coarse to fine:

1. Coarse, all scales at once per frame: the window code's bits are the signs
   of the window's lowest 8x8 DCT coefficients (about their median), so the
   inverse DCT of those signs is a whitened sketch of the window, and the
   correlation of that sketch with an image region is, by Parseval, the
   agreement of the region's low DCT coefficients with the stored signs: a
   smooth stand-in for the Hamming distance. OpenCV's normalised template
   matching computes it for every position of the window at once; one
   template size per scale (``scale_steps``, log-spaced over
   ``min_scale``..``max_scale``), plain and mirrored, summed over the probe
   frames. Measured on the synthetic films: the best position lands within
   1-3 % of the frame of the truth for crops and borders alike.
2. Fine: the window code itself, computed from the upload frames under every
   geometry of a grid around the coarse answer (scale +-6 %, offset +-4.5 %
   of the picture, then a finer grid), all hypotheses of a frame in two
   matrix products (bilinear sampling matrices times DCT rows, one per axis),
   scored by the mean Hamming distance to the stored codes at the predicted
   times (the best of the nearest three, as the line's offset is known to a
   sampling period).

The probe frames are taken along the candidate's stretch where the line lands
on a stored window code: a shot whose central window is flat (a sky, a wall)
has none, and a frame mapped into it would be scored against another shot's
code. A candidate whose best coarse correlation stays below
``min_sketch_score`` is dropped there (measured on the scale-4 benchmark
corpus: copies 0.38-0.55, the best of unrelated footage at the lines cut
timing proposed 0.30). The geometry is accepted when the probes come within
``max_probe_distance`` bits; it is then applied to *every* upload frame, whose window codes are
compared with the reference's codes near the line and aligned as any other
signal (``match.align``: density, evidence, content changes, the speed near
the candidate's). Only a segment from that alignment is a match: the cuts
proposed it, the picture proves it.

Why not local features (ORB keypoints with a visual vocabulary): they would
cost a keypoint pass over every upload frame and tens of descriptors per
reference frame (kilobytes per reference second), where this needs the
upload's frames only when a candidate exists and 8 bytes per reference code.
Why not slide whole-frame hashes: ~2 % of the frame is already 56 bits of 256;
covering [0, 0.3] x [0, 0.3] offsets at that step and a few scales is over
a thousand hashes per upload frame, each searched in the index.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace

import cv2
import numpy as np
import scipy.fftpack

from fingerprint import WINDOW, Fingerprint
from fingerprint.audio import _blas_controller
from fingerprint.cuts import cut_times, has_code
from fingerprint.window import WindowParams, bits_from_coefficients, dct_rows, probe_frames, probe_images

from .align import AlignParams, align
from .candidates import build_candidates
from .cuts import CutCandidate, CutMatchParams, cut_candidates
from .types import Segment

_EDGE_SLACK = 0.02  # a window may reach this share of the frame beyond its edge (replicated pixels)


@contextmanager
def _one_blas_thread():
    """BLAS held to one thread (threadpoolctl, where installed): the products here are big
    enough for OpenBLAS to wake worker threads that busy-wait and are charged to this process
    (measured: 150 ms wall instead of 2.5 ms per product on a loaded 2-core machine), the
    same trap as ``fingerprint.audio._matmul_one_thread``."""
    controller = _blas_controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


@dataclass(frozen=True)
class Geometry:
    """Where an upload frame shows the reference picture, per axis:
    ``ref = offset + scale * upload`` in 0..1 coordinates of the picture and of
    the upload frame, after mirroring the upload left-right when ``mirrored``.

    scale < 1: the upload shows part of the picture (a crop keeping 70 % has
    scale 0.7); scale > 1: the picture fills part of the upload (shrunk to
    75 % inside a border: 1.33).
    """

    scale_x: float
    offset_x: float
    scale_y: float
    offset_y: float
    mirrored: bool = False

    def as_dict(self) -> dict:
        return {"scale_x": round(self.scale_x, 4), "offset_x": round(self.offset_x, 4),
                "scale_y": round(self.scale_y, 4), "offset_y": round(self.offset_y, 4), "mirrored": self.mirrored}


def window_span(scale: float, offset: float, window: float) -> tuple[float, float]:
    """Upload coordinates (0..1) of the reference's central window on one axis."""
    a = (1.0 - window) / 2
    return (a - offset) / scale, (1.0 - a - offset) / scale


def _fits(u0: np.ndarray, u1: np.ndarray) -> np.ndarray:
    return (u0 >= -_EDGE_SLACK) & (u1 <= 1 + _EDGE_SLACK)


def _sampling(scales: np.ndarray, offsets: np.ndarray, window: float, hash_size: int, side: int) -> np.ndarray:
    """(k, hash_size, side) float32: per hypothesis, DCT rows times the bilinear
    sampling of its window span at 4 * hash_size points of a ``side``-pixel axis."""
    n = 4 * hash_size
    u0, u1 = window_span(scales, offsets, window)
    u = u0[:, None] + (np.arange(n)[None, :] + 0.5) / n * (u1 - u0)[:, None]  # (k, n)
    x = np.clip(u * side - 0.5, 0, side - 1)
    i0 = np.floor(x).astype(np.int64)
    i1 = np.minimum(i0 + 1, side - 1)
    w1 = (x - i0).astype(np.float32)
    a = np.zeros((len(scales), n, side), np.float32)
    k_idx, n_idx = np.meshgrid(np.arange(len(scales)), np.arange(n), indexing="ij")
    np.add.at(a, (k_idx, n_idx, i0), 1.0 - w1)
    np.add.at(a, (k_idx, n_idx, i1), w1)
    return dct_rows(hash_size, n) @ a


def window_codes_grid(frames: np.ndarray, xs: tuple[np.ndarray, np.ndarray], ys: tuple[np.ndarray, np.ndarray],
                      params: WindowParams) -> np.ndarray:
    """(n, ky, kx, bytes) window codes of each frame under every (y, x) hypothesis pair.

    frames: (n, p, p) grey upload frames (already mirrored where wanted);
    xs, ys: (scales, offsets) arrays of the hypotheses per axis.
    """
    hs = params.hash_size
    side = frames.shape[-1]
    mx = _sampling(xs[0], xs[1], params.scale, hs, side)  # (kx, hs, p)
    my = _sampling(ys[0], ys[1], params.scale, hs, side)  # (ky, hs, p)
    f = np.asarray(frames, np.float32)
    t = f @ mx.reshape(-1, side).T  # (n, p, kx*hs): rows sampled along x
    c = my.reshape(-1, side) @ t  # (n, ky*hs, kx*hs)
    n, ky, kx = len(f), len(ys[0]), len(xs[0])
    low = c.reshape(n, ky, hs, kx, hs).transpose(0, 1, 3, 2, 4)
    return bits_from_coefficients(low)


def window_codes(frames: np.ndarray, geometry: Geometry, params: WindowParams) -> np.ndarray:
    """(n, bytes) window codes of upload frames under one geometry."""
    f = frames[:, :, ::-1] if geometry.mirrored else frames
    codes = window_codes_grid(f, (np.array([geometry.scale_x]), np.array([geometry.offset_x])),
                              (np.array([geometry.scale_y]), np.array([geometry.offset_y])), params)
    return codes[:, 0, 0]


def sketch(code: np.ndarray, hash_size: int, side: int) -> np.ndarray:
    """(side, side) float32 image whose low DCT coefficients are the signs a window code stores."""
    coef = np.zeros((side, side), np.float64)
    coef[:hash_size, :hash_size] = np.unpackbits(code)[: hash_size * hash_size].reshape(hash_size, hash_size) * 2.0 - 1
    return scipy.fftpack.idct(scipy.fftpack.idct(coef, axis=0, norm="ortho"), axis=1, norm="ortho").astype(np.float32)


COARSE_SIDE = 32  # pixels of the frames the coarse search runs on: the sketches hold 8 x 8 frequencies


def coarse_geometry(frames: np.ndarray, codes: np.ndarray, params: WindowParams,
                    match_params: CutMatchParams) -> list[tuple[float, Geometry]]:
    """Coarse geometries (score, geometry), best first, one per scale and mirror.

    frames: (k, p, p) probe frames; codes: (k, bytes) the reference window code
    expected in each. Score: the mean normalised correlation of the codes'
    sketches with the frames at the best common position (``sketch``), on
    frames shrunk to ``COARSE_SIDE`` pixels.
    """
    k, side, _ = frames.shape
    small = probe_frames(frames, COARSE_SIDE) if side > COARSE_SIDE else frames
    side = small.shape[-1]
    hs, w = params.hash_size, params.scale
    a = (1.0 - w) / 2
    scales = np.exp(np.linspace(np.log(match_params.min_scale), np.log(match_params.max_scale),
                                match_params.scale_steps))
    sketches = [sketch(code, hs, side) for code in codes]
    out: list[tuple[float, Geometry]] = []
    plain = small.astype(np.float32)
    for mirrored in (False, True):
        imgs = np.ascontiguousarray(plain[:, :, ::-1]) if mirrored else plain
        for s in scales:
            size = int(round(w / s * side))
            if size < hs or size > side:
                continue
            total = None
            for img, sk in zip(imgs, sketches):  # one OpenCV call per probe frame and scale
                templ = cv2.resize(sk, (size, size), interpolation=cv2.INTER_AREA if size < side else cv2.INTER_LINEAR)
                res = cv2.matchTemplate(img, templ, cv2.TM_CCOEFF_NORMED)
                total = res if total is None else total + res
            _, best, _, (px, py) = cv2.minMaxLoc(total / k)
            # the window's top-left pixel (px, py): upload coordinate px / side shows reference coordinate a
            geo = Geometry(float(s), a - s * px / side, float(s), a - s * py / side, mirrored)
            out.append((float(best), geo))
    out.sort(key=lambda g: -g[0])
    return out


def _axis_grid(scale: float, offset: float, scale_steps: np.ndarray, offset_steps: np.ndarray, window: float
               ) -> tuple[np.ndarray, np.ndarray]:
    s = (scale * (1.0 + scale_steps))[:, None].repeat(len(offset_steps), 1).ravel()
    o = (offset + offset_steps)[None, :].repeat(len(scale_steps), 0).ravel()
    u0, u1 = window_span(s, o, window)
    keep = _fits(u0, u1)
    return s[keep], o[keep]


_REFINE_GRIDS = (  # (scale steps, offset steps): shares of the scale, of the reference picture
    (np.linspace(-0.08, 0.08, 5), np.linspace(-0.045, 0.045, 7)),
    (np.linspace(-0.02, 0.02, 3), np.linspace(-0.01, 0.01, 5)),
)


def refine_geometry(frames: np.ndarray, codes: np.ndarray, start: Geometry, params: WindowParams,
                    give_up: float = np.inf) -> tuple[float, Geometry]:
    """(mean distance in bits, geometry) of the best window-code fit near ``start``.

    codes: (k, m, bytes) per probe frame, the m reference codes it may show
    (the nearest ones in time); each frame scores its closest one. Stops after
    the first grid when its best is still above ``give_up`` bits.
    """
    f = frames[:, :, ::-1] if start.mirrored else frames
    best = (np.inf, start)
    for round_, (scale_steps, offset_steps) in enumerate(_REFINE_GRIDS):
        g = best[1]
        xs = _axis_grid(g.scale_x, g.offset_x, scale_steps, offset_steps, params.scale)
        ys = _axis_grid(g.scale_y, g.offset_y, scale_steps, offset_steps, params.scale)
        if len(xs[0]) == 0 or len(ys[0]) == 0:
            break
        grid = window_codes_grid(f, xs, ys, params)  # (k, ky, kx, bytes)
        dist = np.bitwise_count(grid[:, :, :, None, :] ^ codes[:, None, None, :, :]).sum(axis=-1).min(axis=-1)
        mean = dist.mean(axis=0)  # (ky, kx)
        iy, ix = np.unravel_index(int(np.argmin(mean)), mean.shape)
        if mean[iy, ix] < best[0]:
            best = (float(mean[iy, ix]), Geometry(float(xs[0][ix]), float(xs[1][ix]), float(ys[0][iy]),
                                                  float(ys[1][iy]), start.mirrored))
        if round_ == 0 and best[0] > give_up:
            break
    return best


def _nearest_rows(starts: np.ndarray, times: np.ndarray, m: int) -> np.ndarray:
    """(len(times), m) indices of the ``m`` stored codes whose start is nearest each time."""
    pos = np.searchsorted(starts, times)
    around = pos[:, None] + np.arange(-m, m)[None, :]
    around = np.clip(around, 0, len(starts) - 1)
    gap = np.abs(starts[around] - times[:, None])
    pick = np.argsort(gap, axis=1, kind="stable")[:, :m]
    return np.take_along_axis(around, pick, axis=1)


def covered(starts: np.ndarray, ends: np.ndarray, times: np.ndarray, slack: float) -> np.ndarray:
    """Whether each of ``times`` lies within ``slack`` seconds of a stored code's run
    [start, end] (``starts`` ascending): the reference has a picture to compare there."""
    if len(starts) == 0:
        return np.zeros(len(times), bool)
    reach = np.maximum.accumulate(ends)  # the latest end among the codes starting up to each one
    i = np.searchsorted(starts, times + slack, side="right") - 1
    return (i >= 0) & (reach[np.maximum(i, 0)] >= times - slack)


def _probe_rows(times: np.ndarray, cand: CutCandidate, cuts: np.ndarray, ref: Fingerprint,
                count: int, keep_off_cuts: float) -> np.ndarray:
    """Indices of up to ``count`` upload frames spread along the candidate's stretch, away from cuts
    (a frame next to a cut may show the other shot when the line is off by a sampling period), and
    where the line lands on a stored window code: a reference shot whose window is flat has no
    code (``fingerprint.window``), and a frame mapped into it could only lower the geometry's
    score (measured: a film with two 4-5 s shots of a flat centre, 2 of 6 probes in them)."""
    mapped = cand.speed * times + cand.offset
    ok = (times >= cand.upload_start) & (times <= cand.upload_end)
    ok &= covered(ref.starts, ref.ends, mapped, keep_off_cuts)
    if len(cuts):
        pos = np.clip(np.searchsorted(cuts, times), 1, max(1, len(cuts) - 1))
        near = np.minimum(np.abs(cuts[np.minimum(pos, len(cuts) - 1)] - times), np.abs(cuts[pos - 1] - times))
        ok &= near >= keep_off_cuts
    rows = np.flatnonzero(ok)
    if len(rows) <= count:
        return rows
    return rows[np.round(np.linspace(0, len(rows) - 1, count)).astype(np.int64)]


@dataclass(frozen=True)
class Verified:
    """A candidate whose geometry was verified, and the segments its window codes align into."""

    candidate: CutCandidate
    geometry: Geometry
    probe_distance: float
    segments: tuple[Segment, ...]


def verify_candidate(cand: CutCandidate, probes: Fingerprint, frames: np.ndarray, upload_cuts: np.ndarray,
                     ref_window: Fingerprint, window: WindowParams, params: CutMatchParams,
                     align_params: AlignParams) -> Verified | None:
    """Verify one candidate line; None when no geometry brings the upload's frames close to the
    reference's window codes, else the segments (possibly none) their alignment yields.

    probes: the upload's ``WINDOW`` rendition (frame times), frames: its frames
    as (n, p, p); ref_window: the reference's window codes (sorted by start).
    """
    if len(ref_window) == 0 or len(probes) == 0:
        return None
    with _one_blas_thread():
        return _verify(cand, probes, frames, upload_cuts, ref_window, window, params, align_params)


def _verify(cand, probes, frames, upload_cuts, ref_window, window, params, align_params) -> Verified | None:
    order = np.argsort(ref_window.starts, kind="stable")
    ref = ref_window.subset(order)
    period = float(np.median(probes.ends - probes.starts))
    rows = _probe_rows(probes.starts, cand, upload_cuts, ref, params.probe_frames, keep_off_cuts=period)
    if len(rows) < 3:
        return None
    predicted = cand.speed * probes.starts[rows] + cand.offset
    near = _nearest_rows(ref.starts, predicted, 3)  # the line is known to a sampling period
    coarse = coarse_geometry(frames[rows], ref.codes[near[:, 0]], window, params)
    if not coarse or coarse[0][0] < params.min_sketch_score:
        return None
    best: tuple[float, Geometry] | None = None
    for _, geo in coarse[:2]:  # the best (scale, mirror) hypothesis refined; the runner-up only if it fails
        fit = refine_geometry(frames[rows], ref.codes[near], geo, window, give_up=params.max_probe_distance + 6)
        if best is None or fit[0] < best[0]:
            best = fit
        if best[0] <= params.max_probe_distance:
            break
    if best is None or best[0] > params.max_probe_distance:
        return None
    distance, geometry = best
    segments = aligned_segments(probes, frames, geometry, cand, ref, window, params, align_params)
    return Verified(cand, geometry, distance, tuple(segments))


def aligned_segments(probes: Fingerprint, frames: np.ndarray, geometry: Geometry, cand: CutCandidate,
                     ref: Fingerprint, window: WindowParams, params: CutMatchParams,
                     align_params: AlignParams) -> list[Segment]:
    """Window codes of every upload frame under ``geometry``, compared with the reference's
    codes within ``band_seconds`` of the candidate line, aligned into segments."""
    codes = window_codes(frames, geometry, window)
    query = Fingerprint(WINDOW, codes, probes.starts, probes.ends)
    predicted = cand.speed * query.starts + cand.offset
    lo = np.searchsorted(ref.starts, predicted - params.band_seconds)
    hi = np.searchsorted(ref.starts, predicted + params.band_seconds, side="right")
    count = hi - lo
    q_rows = np.repeat(np.arange(len(query)), count)
    r_rows = np.repeat(lo, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    if len(q_rows) == 0:
        return []
    dist = np.bitwise_count(query.codes[q_rows] ^ ref.codes[r_rows]).sum(axis=1, dtype=np.int32)
    near = dist <= align_params.radius
    q_rows, r_rows, dist = q_rows[near], r_rows[near], dist[near]
    if len(q_rows) == 0:
        return []
    period = float(np.median(query.ends - query.starts))
    cands = build_candidates(query, q_rows, np.full(len(q_rows), cand.ref_id), ref.starts[r_rows],
                             ref.ends[r_rows], dist, max(align_params.instant_seconds, period))
    tol = params.speed_tolerance
    line = replace(align_params, min_speed=cand.speed * (1 - tol), max_speed=cand.speed * (1 + tol),
                   speed_step=max(align_params.speed_step, 1e-3))
    span = (float(query.starts.min()), float(query.ends.max()))
    return align(cands, "video", query.code_bits, line, query_span=span, signal=WINDOW)


def _covered_seconds(spans: list[tuple[float, float]], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Seconds of each [lo, hi] that the union of the (start, end) spans covers (vectorised:
    the union's covered length up to x is piecewise linear in x)."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    if not spans:
        return np.zeros(np.broadcast(lo, hi).shape)
    merged: list[list[float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        elif b > a:
            merged.append([a, b])
    if not merged:
        return np.zeros(np.broadcast(lo, hi).shape)
    starts, ends = np.array(merged).T
    before = np.concatenate([[0.0], np.cumsum(ends - starts)])  # covered seconds before each span

    def upto(x: np.ndarray) -> np.ndarray:
        i = np.searchsorted(starts, x, side="right")  # spans starting at or before x
        inside = np.clip(x - starts[np.maximum(i - 1, 0)], 0, (ends - starts)[np.maximum(i - 1, 0)])
        return before[np.maximum(i - 1, 0)] + np.where(i > 0, inside, 0.0)

    return upto(hi) - upto(lo)


def unexplained_code_rows(cuts: Fingerprint, found: list[Segment], max_share: float = 0.5) -> np.ndarray:
    """Rows of an upload's ``CUT`` fingerprint worth looking up: they carry a code and the
    shots they describe are not already mostly matched by a picture segment (of any
    reference) of the other signals. Sound does not explain the picture: a song over a
    reframed film must not hide the film."""
    rows = np.flatnonzero(has_code(cuts))
    spans = [(s.upload_start, s.upload_end) for s in found if s.modality == "video"]
    if not spans or len(rows) == 0:
        return rows
    lo, hi = cuts.starts[rows], cuts.ends[rows]
    return rows[_covered_seconds(spans, lo, hi) <= max_share * np.maximum(hi - lo, 1e-9)]


def reframed_segments(cuts: Fingerprint, hit_rows: np.ndarray, ref_id: np.ndarray, r_start: np.ndarray,
                      r_end: np.ndarray, ref_cuts: dict[int, np.ndarray], probes: Fingerprint,
                      reference_window: Callable[[int], Fingerprint], found: list[Segment],
                      window: WindowParams, params: CutMatchParams, align_params: AlignParams) -> list[Segment]:
    """Segments of a reframed copy: cut-timing candidates, each verified on the picture.

    cuts: the upload's ``CUT`` fingerprint; hit_rows, ref_id, r_start, r_end:
    its rows that hit a stored cut code (``unexplained_code_rows``), and the
    reference and seconds of that code; ref_cuts: every cut of each reference
    hit; probes: the upload's ``WINDOW`` rendition; reference_window: a
    reference's ``WINDOW`` codes by id (read only for candidates). found:
    segments the other signals found; a candidate whose stretch they already
    cover for its reference is not verified.
    """
    if len(hit_rows) == 0 or len(probes) == 0:
        return []
    upload_cuts = cut_times(cuts)
    anchors = np.searchsorted(upload_cuts, cuts.starts[hit_rows])
    cands = cut_candidates(cuts.starts[hit_rows], cuts.ends[hit_rows], anchors, ref_id, r_start, r_end,
                           upload_cuts, ref_cuts, params)
    frames = None
    out: list[Segment] = []
    for cand in cands:
        spans = [(s.upload_start, s.upload_end) for s in found + out if s.ref_id == cand.ref_id]
        stretch = max(cand.upload_end - cand.upload_start, 1e-9)
        if _covered_seconds(spans, cand.upload_start, cand.upload_end) >= 0.8 * stretch:
            continue
        if frames is None:
            frames = probe_images(probes)
        verified = verify_candidate(cand, probes, frames, upload_cuts, reference_window(cand.ref_id), window,
                                    params, align_params)
        if verified is not None:
            out += verified.segments
    return out
