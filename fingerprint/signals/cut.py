"""The scene-cut signal: codes of shot-length ratios (``fingerprint.cuts``), exact 32-bit hashes.

Not searched like the others (``searched = False``, see ``signals.base``): the engine looks its
codes up for the upload seconds the searched signals left unexplained, and a hit only proposes
a line that the window codes must verify (``match.verify``). Cuts need a stream's whole timing:
each window adds the cut strength of its frame pairs (the first paired with the last frame of
the window before), and the cuts and their codes are made once the stream ends, from one float
per frame.
"""

from __future__ import annotations

import numpy as np

from ..checks import SHARE, between
from ..cuts import CODE_BYTES, CutParams, cut_codes, cut_fingerprint, cut_strength, cuts_from_strength
from ..types import CUT
from ..window import probe_frames
from .base import EXACT, QUERY, VIDEO_MODALITY, Signal

CUT_FRAMES = "cut frames"  # key of ``shared``: a window's frames at the cut detector's size


def cut_frames(frames: np.ndarray, params, shared: dict | None = None) -> np.ndarray:
    """Frames at half the decoder's size, where cuts are found (block means need no more, and
    halving is four adds); uploads shrink them further into their small frames. Kept in
    ``shared`` for the other signals that read them."""
    if shared is not None and CUT_FRAMES in shared:
        return shared[CUT_FRAMES]
    half = probe_frames(frames, max(params.cut.grid, frames.shape[-1] // 2))
    if shared is not None:
        shared[CUT_FRAMES] = half
    return half


class CutStream:
    """Cut strength window by window; the cuts and their codes once the stream ends."""

    def __init__(self, roles: tuple[str, ...], params):
        self.roles, self.params = roles, params
        self.last_half: np.ndarray | None = None  # the previous window's last frame, at the cut detector's size
        self.strength: list[np.ndarray] = []  # cut strength of every frame pair so far
        self.times: list[np.ndarray] = []

    def window(self, frames, times, shared):
        half = cut_frames(frames, self.params, shared)
        paired = half if self.last_half is None else np.concatenate([self.last_half[None], half])
        self.strength.append(cut_strength(paired, self.params.cut))
        self.times.append(times)
        self.last_half = half[-1].copy()
        return []

    def finish(self):
        if not self.times:
            return []
        cuts = cuts_from_strength(np.concatenate(self.strength), np.concatenate(self.times), self.params.cut)
        return [(role, cut_codes(cuts, self.params.cut, role == QUERY)) for role in self.roles]


class CutSignal(Signal):
    name = CUT
    modality = VIDEO_MODALITY
    stage = "reframe"
    settings_type = CutParams
    match_kind = "cut"
    index_kind = EXACT
    searched = False
    checks = {
        "fingerprint.cut.grid": between(2, 64, "blocks per side"),
        "fingerprint.cut.change_ratio": between(0, 1000, lo_open=True),
        "fingerprint.cut.change_floor": between(0, 255, "grey levels"),
        "fingerprint.cut.min_cut_share": between(0, 1, lo_open=True),
        "fingerprint.cut.peak_ratio": between(0, 1000, lo_open=True),
        "fingerprint.cut.peak_window_seconds": between(0, 60, "seconds", lo_open=True),
        "fingerprint.cut.min_shot_seconds": between(0, 60, "seconds"),
        "fingerprint.cut.shots_per_code": between(2, 6, "6 bits per ratio in a 32-bit code"),
        "fingerprint.cut.ratio_bin": between(0, 5, "natural log", lo_open=True),
        "fingerprint.cut.max_log_ratio": between(0, 10, "natural log", lo_open=True),
        "fingerprint.cut.query_probe_margin": between(0, 5, "natural log"),
        "match.cut.min_speed": between(0.1, 10), "match.cut.max_speed": between(0.1, 10),
        "match.cut.speed_bin": between(0.001, 1, "natural log"),
        "match.cut.offset_bin_seconds": between(0.01, 60, "seconds"),
        "match.cut.max_lines": between(1, 10_000),
        "match.cut.cut_tolerance_seconds": between(0, 60, "seconds", lo_open=True),
        "match.cut.min_cuts": between(3, 1e6, "two cuts fit any line"),
        "match.cut.min_cut_share": SHARE,
        "match.cut.max_candidates": between(1, 100),
        "match.cut.probe_frames": between(3, 64),
        "match.cut.min_scale": between(0.1, 10), "match.cut.max_scale": between(0.1, 10),
        "match.cut.scale_steps": between(1, 200),
        "match.cut.min_sketch_score": between(-1, 1, "a correlation"),
        "match.cut.max_probe_distance": between(0, 1e6),
        "match.cut.speed_tolerance": ((lambda v: 0 <= v < 1), "must be at least 0 and below 1"),
        "match.cut.band_seconds": between(0, 60, "seconds", lo_open=True),
    }
    cross_checks = (
        ("match.cut.max_speed", lambda r: r["match"]["cut"]["max_speed"] >= r["match"]["cut"]["min_speed"],
         "must be at least min_speed"),
        ("fingerprint.cut.ratio_bin", lambda r: 2 * r["fingerprint"]["cut"]["max_log_ratio"]
         <= 64 * r["fingerprint"]["cut"]["ratio_bin"], "must be at least max_log_ratio / 32 (at most 64 bins: 6 bits)"),
        ("match.cut.max_scale", lambda r: r["match"]["cut"]["max_scale"] >= r["match"]["cut"]["min_scale"],
         "must be at least min_scale"),
    )

    def code_bytes(self, params, role: str) -> int:
        return CODE_BYTES

    def video_stream(self, roles, period, params):
        return CutStream(roles, params)

    def fingerprint(self, media, role, period, params, shared):
        return cut_fingerprint(cut_frames(media.frames, params, shared), media.frame_times, params.cut,
                               query=role == QUERY)
