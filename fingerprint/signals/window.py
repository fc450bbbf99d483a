"""The central-window signal (``fingerprint.window``): what verifies a reframed copy.

References store 64-bit pHash codes of the picture's central window (inside every crop that
keeps 70 % of each side, inside every border); uploads keep small frames instead (rows of
``query_probe_size`` squared bytes), on which ``match.verify`` fits the geometry of a candidate
line from the cut codes. Neither side is indexed (``index_kind = None``): a reference's window
codes are read from the catalog for each candidate. Not searched like the others (see
``signals.base``); its ``[match.window]`` section aligns the verified codes.
"""

from __future__ import annotations

from ..checks import between
from ..types import WINDOW
from ..window import WindowParams, probe_frames, query_window_probes, reference_window_fingerprint
from .base import QUERY, VIDEO_MODALITY, Signal
from .cut import cut_frames


class WindowSignal(Signal):
    name = WINDOW
    modality = VIDEO_MODALITY
    stage = "reframe"
    settings_type = WindowParams
    index_kind = None
    searched = False
    checks = {
        "fingerprint.window.scale": between(0, 1, lo_open=True),
        "fingerprint.window.hash_size": ((lambda v: 4 <= v <= 32 and v % 4 == 0),
                                         "must be a multiple of 4 between 4 and 32 (codes are whole bytes)"),
        "fingerprint.window.collapse_distance": between(0, 1024, "bits"),
        "fingerprint.window.max_run_seconds": between(0, 60, "seconds", lo_open=True),
        "fingerprint.window.min_std": between(0, 255, "grey levels"),
        "fingerprint.window.frame_stride": between(1, 64, "frames"),
        "fingerprint.window.query_probe_size": between(16, 256, "pixels"),
    }
    cross_checks = (
        ("match.window.radius", lambda r: r["match"]["window"]["radius"] <= r["fingerprint"]["window"]["hash_size"] ** 2,
         "must be at most the window code's bits (hash_size**2)"),
    )

    def code_bytes(self, params, role: str) -> int:
        """An upload's rows are its small frames (``query_probe_size`` squared bytes); a reference's
        its window codes."""
        w = self.settings(params)
        return w.query_probe_size ** 2 if role == QUERY else w.hash_size ** 2 // 8

    def frames_fingerprint(self, frames, times, period, role, params, shared):
        w = self.settings(params)
        if role == QUERY:
            half = cut_frames(frames, params, shared)
            small = probe_frames(half, min(w.query_probe_size, half.shape[-1]))
            return query_window_probes(small, times, period, w)
        return reference_window_fingerprint(frames, times, period, params.video, w)

    def fingerprint(self, media, role, period, params, shared):
        return self.frames_fingerprint(media.frames, media.frame_times, period, role, params, shared)
