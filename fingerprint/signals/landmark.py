"""The landmark signal: spectral-peak pairs (``fingerprint.landmarks``), exact 32-bit hashes.

They survive music under speech or other sound, where chroma hears only the voice. Looked up in
a hash table (radius 0). Two traits follow from what they are: a match found only by them is
music under other sound (policy: review), and a line too weak to be a segment is verified by
the single peaks its pairs join (``[match.landmark.verify]``, ``match.constellation``).
"""

from __future__ import annotations

import numpy as np

from ..checks import SECONDS, between, spectrum_check
from ..landmarks import CODE_BYTES, LandmarkParams, landmark_fingerprint, landmark_peaks
from ..spectrum import may_sound
from ..types import LANDMARK
from .base import AUDIO_MODALITY, EXACT, QUERY, Signal

MAX_LANDMARKS_PER_SECOND = 20_000  # peaks per second x fan-out (default uploads 32 x 16)


def _rate(params) -> int:
    """The decoder's audio rate (``[fingerprint.audio] sample_rate``): what every audio signal reads."""
    return params.audio.sample_rate


class LandmarkSignal(Signal):
    name = LANDMARK
    modality = AUDIO_MODALITY
    settings_type = LandmarkParams
    index_kind = EXACT
    alone_under_other_sound = "found by its spectral peaks while its harmony is masked"
    verifies_quotes = True
    code_column = "landmarks"
    checks = {
        "fingerprint.landmark.n_fft": between(64, 65536, "samples"),
        "fingerprint.landmark.hop_length": between(1, 65536, "samples"),
        "fingerprint.landmark.min_bin": between(0, 511, "FFT bin"),
        "fingerprint.landmark.max_bin": between(1, 511, "9-bit anchor bins"),
        "fingerprint.landmark.neighbourhood_bins": between(1, 1025, "FFT bins"),
        "fingerprint.landmark.neighbourhood_frames": between(1, 1000, "STFT frames"),
        "fingerprint.landmark.whiten_bins": between(1, 4097, "FFT bins"),
        "fingerprint.landmark.highpass_seconds": between(0, 600, "seconds", lo_open=True),
        "fingerprint.landmark.min_peak_db": between(0, 200, "dB"),
        "fingerprint.landmark.silence_db": between(-200, 0, "dB relative to full scale"),
        "fingerprint.landmark.peaks_per_second": between(1, 1000),
        "fingerprint.landmark.fan_out": between(1, 64),
        "fingerprint.landmark.query_peaks_per_second": between(1, 1000),
        "fingerprint.landmark.query_fan_out": between(1, 64),
        "fingerprint.landmark.max_dt_frames": between(1, 63, "6-bit time steps"),
        "fingerprint.landmark.max_df_bins": between(0, 63, "7-bit steps"),
        "match.landmark.verify.candidate_min_instants": between(1, 1e6),
        "match.landmark.verify.offset_seconds": between(0, 1, "seconds", lo_open=True),
        "match.landmark.verify.max_gap_seconds": between(0, 3600, "seconds", lo_open=True),
        "match.landmark.verify.max_candidates": between(0, 1000),
        "match.landmark.verify.context_seconds": between(0, 60, "seconds"),
        "match.landmark.verify.scan_frames": between(0, 200, "frames"),
        "match.landmark.verify.tolerance_bins": between(0, 8, "bins"),
        "match.landmark.verify.tolerance_frames": between(0, 8, "frames"),
        "match.landmark.verify.null_min_seconds": between(0, 30, "seconds", lo_open=True),
        "match.landmark.verify.null_max_seconds": between(0, 30, "seconds", lo_open=True),
        "match.landmark.verify.quote_match_rate": ((lambda v: 0 < v < 1), "must be between 0 and 1 (exclusive)"),
        "match.landmark.verify.min_log_likelihood": between(0, 1e6),
        "match.landmark.verify.min_matched": between(1, 1e6),
        "match.landmark.verify.min_seconds": SECONDS,
        "match.landmark.verify.ambiguous_overlap_seconds": SECONDS,
        "match.landmark.verify.corroborate_below": ((lambda v: 0 <= v <= 1), "must be between 0 and 1"),
        "match.landmark.verify.corroborate_max_altered": ((lambda v: 0 <= v <= 1), "must be between 0 and 1"),
        "match.landmark.verify.corroborate_offsets": between(0, 20, "steps"),
    }
    cross_checks = (
        ("fingerprint.landmark.hop_length",
         lambda r: r["fingerprint"]["landmark"]["hop_length"] <= r["fingerprint"]["landmark"]["n_fft"],
         "must be at most n_fft"),
        spectrum_check("landmark"),
        *((f"fingerprint.landmark.{fan}", lambda r, p=peaks, f=fan: r["fingerprint"]["landmark"][p]
           * r["fingerprint"]["landmark"][f] <= MAX_LANDMARKS_PER_SECOND,
           f"x {peaks} must be at most {MAX_LANDMARKS_PER_SECOND:,} landmarks per second")
          for peaks, fan in (("peaks_per_second", "fan_out"), ("query_peaks_per_second", "query_fan_out"))),
        ("match.landmark.radius", lambda r: r["match"]["landmark"]["radius"] == 0,
         "must be 0: landmarks are exact hashes, found by table lookup"),
        ("fingerprint.landmark.max_bin", lambda r: r["fingerprint"]["landmark"]["max_bin"]
         < r["fingerprint"]["landmark"]["n_fft"] // 2 + 1, "must be below n_fft / 2 + 1 (the STFT's bins)"),
        ("fingerprint.landmark.min_bin", lambda r: r["fingerprint"]["landmark"]["min_bin"]
         < r["fingerprint"]["landmark"]["max_bin"], "must be below max_bin"),
        ("match.landmark.verify.null_max_seconds", lambda r: r["match"]["landmark"]["verify"]["null_max_seconds"]
         > r["match"]["landmark"]["verify"]["null_min_seconds"], "must be above null_min_seconds"),
    )

    def code_bytes(self, params, role: str) -> int:
        return CODE_BYTES

    def query_period(self, params) -> float:
        return self.settings(params).frame_seconds(_rate(params))

    def code_seconds(self, raw: dict) -> float:
        return raw["fingerprint"]["landmark"]["hop_length"] / raw["fingerprint"]["audio"]["sample_rate"]

    def audio_context(self, params) -> int:
        """The time high-pass (half of ``highpass_seconds``) and the peak neighbourhood must see
        real samples, pairs reach ``max_dt_frames`` on, and peaks are ranked per whole second;
        one second of margin each."""
        lm, sr = self.settings(params), _rate(params)
        frame = lm.hop_length
        return int(np.ceil((lm.highpass_seconds / 2 + 2.0) * sr
                           + (lm.neighbourhood_frames + lm.max_dt_frames + 2) * frame + lm.n_fft))

    def silent(self, samples, params) -> bool:
        return not may_sound(samples, self.settings(params).silence_db)

    def audio_fingerprint(self, samples, rate, origin, role, params):
        return landmark_fingerprint(samples, rate, self.settings(params), role == QUERY, origin)

    def fingerprint(self, media, role, period, params, shared):
        return landmark_fingerprint(media.audio, media.sample_rate, self.settings(params), query=role == QUERY)

    def peaks(self, codes, params):
        return landmark_peaks(codes, self.settings(params), _rate(params))

    def peak_frame_seconds(self, params) -> float:
        return self.settings(params).frame_seconds(_rate(params))
