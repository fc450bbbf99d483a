"""The video signal: 256-bit pHash codes of sampled frames (``fingerprint.video``).

References: dense frames, black borders cropped, centre crops, runs of near-identical frames
collapsed. Uploads: sparser frames in many renditions (mirrored, rotated, tilts undone, insets,
split halves...), each a variant id. Searched within a Hamming radius (FAISS flat or IVF).
"""

from __future__ import annotations

import numpy as np

from ..checks import between, each
from ..types import VIDEO
from ..video import VideoParams, probe_rows, query_video_fingerprint, reference_video_fingerprint, rendition_name
from .base import REFERENCE, VIDEO_MODALITY, Signal


def _code_bits(r: dict) -> int:
    return r["fingerprint"]["video"]["hash_size"] ** 2


class VideoSignal(Signal):
    name = VIDEO
    modality = VIDEO_MODALITY
    settings_type = VideoParams
    checks = {
        "fingerprint.video.hash_size": (lambda v: 4 <= v <= 32 and v % 4 == 0,
                                        "must be a multiple of 4 from 4 to 32 (codes are whole bytes: hash_size**2 bits)"),
        "fingerprint.video.black_level": between(0, 255, "grey level"),
        "fingerprint.video.max_border_share": ((lambda v: 0 <= v < 0.5), "must be at least 0 and below 0.5"),
        "fingerprint.video.min_frame_std": between(0, 255, "grey levels"),
        "fingerprint.video.crop_scales": ((lambda v: all(0 < x <= 1 for x in v)), "every scale must be in (0, 1]"),
        "fingerprint.video.query_rotations": each(-45, 45, "angle", "degrees"),
        "fingerprint.video.query_flip_seconds": between(0, 3600, "seconds", lo_open=True),
        "fingerprint.video.query_tilts": each(-45, 45, "angle", "degrees"),
        "fingerprint.video.query_tilt_seconds": between(0, 3600, "seconds", lo_open=True),
        "fingerprint.video.query_tilt_crop": between(0, 1, lo_open=True),
        "fingerprint.video.query_aspect": between(0.25, 4, "width / height"),
        "fingerprint.video.query_probe_seconds": between(0, 3600, "seconds (0: every rendition in full)"),
        "fingerprint.video.query_probe_min_hits": between(1, 1e6, "hits"),
        "fingerprint.video.split_dominance": between(1, 1000),
        "fingerprint.video.band_min_share": between(0, 1, lo_open=True),
        "fingerprint.video.band_max_share": between(0, 1, lo_open=True),
        "fingerprint.video.band_detail_ratio": between(1, 1000),
        "fingerprint.video.margin_motion_share": ((lambda v: 0 < v < 1), "must be between 0 and 1 (exclusive)"),
        "fingerprint.video.margin_min_motion": between(0, 255, "grey levels"),
        "fingerprint.video.margin_tolerance": between(0, 255, "grey levels"),
        "fingerprint.video.margin_uniform_share": between(0, 1, lo_open=True),
        "fingerprint.video.collapse_distance": between(0, 1024, "bits"),
        "fingerprint.video.max_run_seconds": between(0, 60, "seconds", lo_open=True),
        "fingerprint.video.inset_edge_ratio": between(0, 1000, lo_open=True),
        "fingerprint.video.inset_min_share": between(0, 1, lo_open=True),
        "fingerprint.video.inset_max_share": between(0, 1, lo_open=True),
    }
    cross_checks = (
        ("fingerprint.video.inset_max_share", lambda r: r["fingerprint"]["video"]["inset_max_share"]
         >= r["fingerprint"]["video"]["inset_min_share"], "must be at least inset_min_share"),
        ("fingerprint.video.collapse_distance", lambda r: r["fingerprint"]["video"]["collapse_distance"]
         <= _code_bits(r), "must be at most the video code's bits (hash_size**2)"),
        ("fingerprint.video.band_max_share", lambda r: r["fingerprint"]["video"]["band_max_share"]
         >= r["fingerprint"]["video"]["band_min_share"], "must be at least band_min_share"),
        ("match.video.radius", lambda r: r["match"]["video"]["radius"] <= _code_bits(r),
         "must be at most the video code's bits (hash_size**2)"),
    )

    def code_bytes(self, params, role: str) -> int:
        return self.settings(params).hash_size ** 2 // 8

    def query_period(self, params) -> float:
        return 1.0 / params.query_fps

    def subkeys(self, codes: np.ndarray) -> np.ndarray | None:
        """Words 0 and 1 of the code (the pHash's lowest vertical frequencies, whose bits flip least
        under re-encoding and the query renditions), a table each: measured on the default corpus,
        each finds 50 and 46 of the 52 (upload, reference) pairs with 5 codes or more within the
        radius at 2 codes or more; together 50, every one the ground truth names."""
        codes = np.asarray(codes, np.uint8)
        if codes.ndim != 2 or codes.shape[1] < 8:
            return None
        return np.ascontiguousarray(codes[:, :8]).view("<u4").reshape(-1, 2).astype(np.uint32)

    def code_seconds(self, raw: dict) -> float:
        fp = raw["fingerprint"]
        return max(fp["video"]["max_run_seconds"], 1.0 / fp["reference_fps"])

    def frames_fingerprint(self, frames, times, period, role, params, shared):
        make = reference_video_fingerprint if role == REFERENCE else query_video_fingerprint
        return make(frames, times, period, self.settings(params))

    def fingerprint(self, media, role, period, params, shared):
        return self.frames_fingerprint(media.frames, media.frame_times, period, role, params, shared)

    def search_plan(self, codes, params):
        video = self.settings(params)
        first = probe_rows(codes, video)
        return None if first.all() else (first, video.query_probe_min_hits)

    def rendition_namer(self, params):
        video = self.settings(params)
        return lambda v: rendition_name(v, video)
