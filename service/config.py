"""The TOML configuration: defaults in ``default.toml``, overridden by a user file.

Unknown keys are errors (a misspelt threshold must not be silently ignored),
and so are values of the wrong type or out of range: every value must have
its default's type (an integer is accepted for a decimal) and pass the checks
in ``_CHECKS``, so a bad file fails at load time with the file, the key and
the reason, not later with a traceback in the middle of a batch.
The config version is a short hash of the effective settings, recorded with
every decision so an audit can tell which thresholds produced it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fingerprint import (
    AcceptParams, AudioParams, CutParams, DecodeParams, FingerprintParams, LandmarkParams, LimitParams, StereoParams,
    VideoParams, WindowParams,
)
from index import IndexParams
from match import AlignParams, ConstellationParams
from match.cuts import CutMatchParams
from policy import FairUse, PolicyParams, Rule, RuleError, Thresholds
from workflow import WorkflowParams


class ConfigError(Exception):
    """The configuration file is unreadable, names unknown keys or has a bad value.

    The message reads ``<file>: <key>: <why>`` (or ``<file>: <why>``).
    """


@dataclass(frozen=True)
class MatchParams:
    """Per-signal search radius and alignment, and how segments merge.

    cut: candidates from scene-cut timing and their geometric verification;
    window: the alignment of the verified window codes (``match.verify``).
    """

    offset_tolerance: float
    video: AlignParams
    audio: AlignParams
    landmark: AlignParams
    cut: CutMatchParams
    window: AlignParams
    verify: ConstellationParams = ConstellationParams()  # [match.landmark.verify]

    def for_signal(self, signal: str) -> AlignParams:
        """The alignment settings of one signal (``fingerprint.SIGNALS``)."""
        return getattr(self, signal)


@dataclass(frozen=True)
class ServiceParams:
    """How commands share a data folder, and the operators' log (TOML ``[service]``).

    lock_timeout_seconds: longest wait for the write lock or SQLite's lock, seconds.
    busy_wait_seconds: longest wait, at the end of a batch, for a manifest upload
        another live process is screening, seconds.
    foreign_claim_hours: a screening claim of a process on another host older
        than this is abandoned (its liveness cannot be checked from here).
    log_max_bytes, log_backups: rotation of ``<home>/logs/prescreen.log``.
    """

    lock_timeout_seconds: float = 30.0
    busy_wait_seconds: float = 600.0
    foreign_claim_hours: float = 24.0
    log_max_bytes: int = 1_000_000
    log_backups: int = 3


@dataclass(frozen=True)
class AuditParams:
    """Where the audit chain's key lives (TOML ``[audit]``).

    key_env: the environment variable that holds the key (at least 32 characters); when it is set it
        wins over the file.
    key_file: the file that holds the key; a relative path is inside the data folder. It is made
        (32 random bytes, hex, mode 0600) when a log is first keyed and no key exists.
    """

    key_env: str = "PRESCREEN_AUDIT_KEY"
    key_file: str = "audit.key"


@dataclass(frozen=True)
class CatalogParams:
    """Where the catalog is (TOML ``[catalog]``).

    url: a PostgreSQL database (``postgresql://user@host/db``: one catalog shared by several machines),
        or empty for the SQLite file in the data folder (``<home>/catalog.sqlite``). The data folder
        still holds the index files, locks, logs and (by default) the audit key.
    """

    url: str = ""


@dataclass(frozen=True)
class Config:
    fingerprint: FingerprintParams
    index: IndexParams
    match: MatchParams
    policy: PolicyParams
    workflow: WorkflowParams
    raw: dict
    service: ServiceParams = ServiceParams()
    audit: AuditParams = AuditParams()
    catalog: CatalogParams = CatalogParams()

    @property
    def version(self) -> str:
        """Digest of the settings that shape decisions (where the catalog is does not)."""
        blob = json.dumps({k: v for k, v in self.raw.items() if k != "catalog"}, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def default_toml() -> str:
    return resources.files("service").joinpath("default.toml").read_text()


class _Bad(Exception):
    """A bad value: ``key`` (dotted) and why."""

    def __init__(self, key: str, why: str):
        super().__init__(f"{key}: {why}")
        self.key, self.why = key, why


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _coerce(default: Any, value: Any, key: str) -> Any:
    """``value`` with ``default``'s type (int -> float where a decimal is expected), or _Bad.

    Numbers must also be finite and at most MAX_MAGNITUDE in size, and lists hold at most
    MAX_LIST_ITEMS entries: every key, whatever its own range check says.
    """
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise _Bad(key, f"must be true or false, got {_type_name(value)} ({value!r})")
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return _bounded(value, key)
        raise _Bad(key, f"must be a whole number, got {_type_name(value)} ({value!r})")
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _bounded(float(value), key)
        raise _Bad(key, f"must be a number, got {_type_name(value)} ({value!r})")
    if isinstance(default, str):
        if isinstance(value, str):
            return value
        raise _Bad(key, f"must be a string, got {_type_name(value)} ({value!r})")
    if isinstance(default, list):
        if not isinstance(value, list):
            raise _Bad(key, f"must be a list, got {_type_name(value)} ({value!r})")
        if default and isinstance(default[0], dict):
            if len(value) > MAX_RULES:
                raise _Bad(key, f"must have at most {MAX_RULES} entries, got {len(value)}")
            return value
        if len(value) > MAX_LIST_ITEMS:
            raise _Bad(key, f"must list at most {MAX_LIST_ITEMS} values, got {len(value)}")
        if default:
            return [_coerce(default[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
        return value
    return value


def _bounded(value: int | float, key: str) -> int | float:
    """``value`` if finite and at most MAX_MAGNITUDE in size (inf, nan and 1e300 are never settings)."""
    if not math.isfinite(value):
        raise _Bad(key, f"must be a finite number, got {value!r}")
    if abs(value) > MAX_MAGNITUDE:
        raise _Bad(key, f"must be at most {_num(MAX_MAGNITUDE)} in size, got {value!r}")
    return value


def _merge(base: dict, override: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        path = f"{where}{key}"
        if key not in base:
            raise _Bad(path, "unknown configuration key (misspelt? `prescreen config defaults` lists them all)")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise _Bad(path, f"must be a table ([{path}]), got {_type_name(value)}")
            out[key] = _merge(base[key], value, path + ".")
        else:
            out[key] = _coerce(base[key], value, path)
    return out


# -- value checks ----------------------------------------------------------------------------
# Generic, for every key (present and future): numbers are finite and at most MAX_MAGNITUDE in
# size (checked in ``_coerce``), numeric lists hold at most MAX_LIST_ITEMS entries, and every
# grid a table spells as ``min_<x>``, ``max_<x>``, ``<x>_step`` has at most MAX_GRID_POINTS
# points. Then the range of each key (``_CHECKS``, a test keeps every numeric key listed) and the
# checks across keys (``_CROSS_CHECKS``), which bound the work a combination implies: query
# variants (each one searched), votes per hit in the aligner, spectrogram cells per second.
MAX_MAGNITUDE = 1e9
MAX_LIST_ITEMS = 32
MAX_RULES = 100                 # [[policy.rules]] entries
MAX_GRID_POINTS = 512           # speeds tried per signal (0.5-2x by 0.005 is 301)
MAX_VOTES_PER_HIT = 1024        # aligner: speeds x offset bins one hit votes in (default audio: 25 x 11)
MAX_SPECTRUM_CELLS_PER_SECOND = 200_000  # STFT frames per second x frequency bins (defaults 16 k and 11 k)
MAX_LANDMARKS_PER_SECOND = 20_000        # peaks per second x fan-out (default uploads 32 x 16)


def _num(v: float) -> str:
    """1048576 -> '1,048,576', 0.5 -> '0.5' (limits in messages)."""
    return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"


def _between(lo: float, hi: float, unit: str = "", lo_open: bool = False) -> tuple:
    """A range check: lo <= v <= hi (lo < v with ``lo_open``), with the message that says so."""
    test = (lambda v: lo < v <= hi) if lo_open else (lambda v: lo <= v <= hi)
    span = f"greater than {_num(lo)} and at most {_num(hi)}" if lo_open else f"between {_num(lo)} and {_num(hi)}"
    return test, f"must be {span}" + (f" ({unit})" if unit else "")


def _each(lo: float, hi: float, what: str, unit: str, non_empty: bool = False) -> tuple:
    """A check over a list: every entry in [lo, hi] (and at least one entry)."""
    return ((lambda v: (len(v) >= 1 or not non_empty) and all(lo <= x <= hi for x in v)),
            ("must list at least one " + what + ", each " if non_empty else f"each {what} must be ")
            + f"between {_num(lo)} and {_num(hi)}" + (f" {unit}" if unit else "")
            + ("" if non_empty else " (an empty list tries none)"))


_SHARE = _between(0, 1)
_SECONDS = _between(0, 3600, "seconds")              # spans of time inside one file
_POLICY_SECONDS = _between(0, 1e6, "seconds")        # matched seconds (a 1e6 s upload is 11 days long)
_COUNT = _between(1, 1e6)
_ALIGN = {
    "radius": _between(0, 4096, "bits"), "min_evidence": _between(0, 1e6), "edge_seconds": _between(0, 60, "seconds"),
    "min_speed": _between(0.1, 10, "reference seconds per upload second"),
    "max_speed": _between(0.1, 10, "reference seconds per upload second"),
    "speed_step": _between(0, 1, lo_open=True), "offset_bin_seconds": _between(0.01, 60, "seconds"),
    "inlier_seconds": _between(0, 60, "seconds", lo_open=True), "max_gap_seconds": _between(0, 3600, "seconds", lo_open=True),
    "min_hits": _COUNT, "min_density": _SHARE, "min_segment_seconds": _SECONDS, "min_changes": _between(0, 1e6),
    "change_seconds": _between(0.01, 3600, "seconds"), "change_bits": _between(0, 4096, "bits"),
    "max_segments_per_ref": _between(1, 1000), "hint_tolerance": _between(0, 1),
    "altered_min_similarity": _SHARE, "gap_edge_seconds": _between(0, 60, "seconds"),
    "instant_seconds": _between(0, 60, "seconds"),
    "coarse_speed_step": _between(0, 1, "speed step of the coarse pass; 0: none"),
    "change_max_seconds": _between(0, 36000, "seconds"),
    "specific_seconds": _between(0, 3600, "seconds"), "specific_window_seconds": _between(0, 60, "seconds", lo_open=True),
    "min_specificity": _SHARE, "review_specificity": _SHARE, "background_share": _SHARE,
    "min_win_share": _SHARE, "win_margin": _SHARE, "min_win_windows": _between(1, 3600, "windows"),
}
_THRESHOLDS = {
    "min_score": _SHARE, "review_min_seconds": _POLICY_SECONDS, "block_min_seconds": _POLICY_SECONDS,
    "block_upload_share": _SHARE, "block_long_seconds": _POLICY_SECONDS, "block_reference_share": _SHARE,
    "audio_mixed_similarity": _SHARE,
    "audio_mixed_ambiguous_seconds": _SECONDS,
}
_CHECKS: dict[str, tuple] = {
    "fingerprint.reference_fps": _between(0.5, 60, "frames per second"),
    "fingerprint.query_fps": _between(0.5, 60, "frames per second"),
    "fingerprint.frame_size": _between(16, 512, "pixels"),
    "fingerprint.decode.max_bad_packet_share": _SHARE,
    "fingerprint.decode.min_decoded_share": _SHARE,
    "fingerprint.decode.max_audio_gap_seconds": _between(0, 3600, "seconds", lo_open=True),
    "fingerprint.decode.skip_nonref_ratio": _between(0, 1000),
    "fingerprint.decode.window_seconds": _between(10, 3600, "seconds of media held at a time"),
    "fingerprint.decode.video_window_seconds": _between(10, 3600, "seconds of media held at a time"),
    "fingerprint.limits.max_file_gigabytes": _between(0, 1e6, "gigabytes", lo_open=True),
    "fingerprint.limits.max_declared_seconds": _between(0, 1e7, "seconds", lo_open=True),
    "fingerprint.limits.max_decoded_seconds": _between(0, 1e7, "seconds", lo_open=True),
    "fingerprint.limits.max_pixels_per_second": _between(0, 1e9, "pixels per second of media", lo_open=True),
    "fingerprint.limits.max_frame_pixels": _between(1, 1e9, "pixels"),
    "fingerprint.limits.max_streams": _between(1, 1000, "streams"),
    "fingerprint.limits.max_wall_seconds": _between(0, 1e6, "seconds", lo_open=True),
    "fingerprint.accept.demuxers": ((lambda v: len(v) >= 1 and all(n.strip() for n in v)),
                                    "must list at least one demuxer name"),
    "fingerprint.accept.video_codecs": ((lambda v: all(n.strip() for n in v)), "names must not be empty"),
    "fingerprint.accept.audio_codecs": ((lambda v: all(n.strip() for n in v)), "names must not be empty"),
    "fingerprint.stereo.block_seconds": _between(0.05, 60, "seconds"),
    "fingerprint.stereo.side_ratio_db": _between(-60, 60, "dB"),
    "fingerprint.stereo.apart_correlation": _SHARE,
    "fingerprint.stereo.apart_level_db": _between(0, 120, "dB"),
    "fingerprint.stereo.min_seconds": _SECONDS,
    "fingerprint.stereo.pad_seconds": _between(0, 60, "seconds"),
    "fingerprint.stereo.silence_db": _between(-200, 0, "dB relative to full scale"),
    "fingerprint.video.hash_size": (lambda v: 4 <= v <= 32 and v % 4 == 0,
                                    "must be a multiple of 4 from 4 to 32 (codes are whole bytes: hash_size**2 bits)"),
    "fingerprint.video.black_level": _between(0, 255, "grey level"),
    "fingerprint.video.max_border_share": ((lambda v: 0 <= v < 0.5), "must be at least 0 and below 0.5"),
    "fingerprint.video.min_frame_std": _between(0, 255, "grey levels"),
    "fingerprint.video.crop_scales": ((lambda v: all(0 < x <= 1 for x in v)), "every scale must be in (0, 1]"),
    "fingerprint.video.query_rotations": _each(-45, 45, "angle", "degrees"),
    "fingerprint.video.query_flip_seconds": _between(0, 3600, "seconds", lo_open=True),
    "fingerprint.video.query_tilts": _each(-45, 45, "angle", "degrees"),
    "fingerprint.video.query_tilt_seconds": _between(0, 3600, "seconds", lo_open=True),
    "fingerprint.video.query_tilt_crop": _between(0, 1, lo_open=True),
    "fingerprint.video.query_aspect": _between(0.25, 4, "width / height"),
    "fingerprint.video.split_dominance": _between(1, 1000),
    "fingerprint.video.band_min_share": _between(0, 1, lo_open=True),
    "fingerprint.video.band_max_share": _between(0, 1, lo_open=True),
    "fingerprint.video.band_detail_ratio": _between(1, 1000),
    "fingerprint.video.margin_motion_share": ((lambda v: 0 < v < 1), "must be between 0 and 1 (exclusive)"),
    "fingerprint.video.margin_min_motion": _between(0, 255, "grey levels"),
    "fingerprint.video.margin_tolerance": _between(0, 255, "grey levels"),
    "fingerprint.video.margin_uniform_share": _between(0, 1, lo_open=True),
    "fingerprint.video.collapse_distance": _between(0, 1024, "bits"),
    "fingerprint.video.max_run_seconds": _between(0, 60, "seconds", lo_open=True),
    "fingerprint.video.inset_edge_ratio": _between(0, 1000, lo_open=True),
    "fingerprint.video.inset_min_share": _between(0, 1, lo_open=True),
    "fingerprint.video.inset_max_share": _between(0, 1, lo_open=True),
    "fingerprint.audio.sample_rate": _between(1000, 48000, "Hz"),
    "fingerprint.audio.n_fft": _between(16, 65536, "samples"),
    "fingerprint.audio.hop_length": _between(1, 65536, "samples"),
    "fingerprint.audio.fmin": _between(0, 24000, "Hz", lo_open=True),
    "fingerprint.audio.fmax": _between(0, 24000, "Hz", lo_open=True),
    "fingerprint.audio.silence_db": _between(-200, 0, "dB relative to full scale"),
    "fingerprint.audio.words_per_code": _between(1, 32),
    "fingerprint.audio.word_stride": _between(1, 64, "chroma frames"),
    "fingerprint.audio.min_voiced_share": _SHARE,
    "fingerprint.audio.query_semitones": _each(-11, 11, "shift", "semitones"),
    "fingerprint.audio.query_tempo_range": ((lambda v: len(v) == 2 and 0.5 <= v[0] <= v[1] <= 2),
                                            "must be [lowest, highest], within 0.5-2"),
    "fingerprint.audio.query_tempo_step": _between(0.005, 1, "a ratio"),
    "fingerprint.audio.query_speed_range": ((lambda v: len(v) == 2 and 0.5 <= v[0] <= v[1] <= 2),
                                            "must be [lowest, highest], within 0.5-2"),
    "fingerprint.audio.query_speed_step": _between(0.05, 12, "semitones"),
    "fingerprint.audio.query_pitch_tempos": _each(0.5, 2, "factor", ""),
    "fingerprint.audio.query_altered_stride": _between(1, 64, "chroma frames"),
    "fingerprint.audio.query_probe_stride": _between(1, 1000, "codes"),
    "fingerprint.audio.query_probe_min_hits": _between(1, 1e6, "hits"),
    "fingerprint.landmark.n_fft": _between(64, 65536, "samples"),
    "fingerprint.landmark.hop_length": _between(1, 65536, "samples"),
    "fingerprint.landmark.min_bin": _between(0, 511, "FFT bin"),
    "fingerprint.landmark.max_bin": _between(1, 511, "9-bit anchor bins"),
    "fingerprint.landmark.neighbourhood_bins": _between(1, 1025, "FFT bins"),
    "fingerprint.landmark.neighbourhood_frames": _between(1, 1000, "STFT frames"),
    "fingerprint.landmark.whiten_bins": _between(1, 4097, "FFT bins"),
    "fingerprint.landmark.highpass_seconds": _between(0, 600, "seconds", lo_open=True),
    "fingerprint.landmark.min_peak_db": _between(0, 200, "dB"),
    "fingerprint.landmark.silence_db": _between(-200, 0, "dB relative to full scale"),
    "fingerprint.landmark.peaks_per_second": _between(1, 1000),
    "fingerprint.landmark.fan_out": _between(1, 64),
    "fingerprint.landmark.query_peaks_per_second": _between(1, 1000),
    "fingerprint.landmark.query_fan_out": _between(1, 64),
    "fingerprint.landmark.max_dt_frames": _between(1, 63, "6-bit time steps"),
    "fingerprint.landmark.max_df_bins": _between(0, 63, "7-bit steps"),
    "index.kind": ((lambda v: v in ("flat", "ivf")), "must be \"flat\" or \"ivf\""),
    "index.nlist": _between(1, 2 ** 20),
    "index.nprobe": _between(1, 2 ** 20),
    "index.ivf_min_train_per_list": _between(1, 10000),
    "match.offset_tolerance": _between(0, 3600, "seconds"),
    "index.parallel_min_work": _between(0, 1e9, "code pairs compared"),
    "index.search_block_rows": _between(256, 1 << 24, "query codes per search call"),
    "match.landmark.verify.candidate_min_instants": _between(1, 1e6),
    "match.landmark.verify.offset_seconds": _between(0, 1, "seconds", lo_open=True),
    "match.landmark.verify.max_gap_seconds": _between(0, 3600, "seconds", lo_open=True),
    "match.landmark.verify.max_candidates": _between(0, 1000),
    "match.landmark.verify.context_seconds": _between(0, 60, "seconds"),
    "match.landmark.verify.scan_frames": _between(0, 200, "frames"),
    "match.landmark.verify.tolerance_bins": _between(0, 8, "bins"),
    "match.landmark.verify.tolerance_frames": _between(0, 8, "frames"),
    "match.landmark.verify.null_min_seconds": _between(0, 30, "seconds", lo_open=True),
    "match.landmark.verify.null_max_seconds": _between(0, 30, "seconds", lo_open=True),
    "match.landmark.verify.quote_match_rate": ((lambda v: 0 < v < 1), "must be between 0 and 1 (exclusive)"),
    "match.landmark.verify.min_log_likelihood": _between(0, 1e6),
    "match.landmark.verify.min_matched": _between(1, 1e6),
    "match.landmark.verify.min_seconds": _SECONDS,
    "match.landmark.verify.ambiguous_overlap_seconds": _SECONDS,
    **{f"match.{signal}.{k}": check for signal in ("video", "audio", "landmark", "window")
       for k, check in _ALIGN.items()},
    "fingerprint.cut.grid": _between(2, 64, "blocks per side"),
    "fingerprint.cut.change_ratio": _between(0, 1000, lo_open=True),
    "fingerprint.cut.change_floor": _between(0, 255, "grey levels"),
    "fingerprint.cut.min_cut_share": _between(0, 1, lo_open=True),
    "fingerprint.cut.peak_ratio": _between(0, 1000, lo_open=True),
    "fingerprint.cut.peak_window_seconds": _between(0, 60, "seconds", lo_open=True),
    "fingerprint.cut.min_shot_seconds": _between(0, 60, "seconds"),
    "fingerprint.cut.shots_per_code": _between(2, 6, "6 bits per ratio in a 32-bit code"),
    "fingerprint.cut.ratio_bin": _between(0, 5, "natural log", lo_open=True),
    "fingerprint.cut.max_log_ratio": _between(0, 10, "natural log", lo_open=True),
    "fingerprint.cut.query_probe_margin": _between(0, 5, "natural log"),
    "fingerprint.window.scale": _between(0, 1, lo_open=True),
    "fingerprint.window.hash_size": ((lambda v: 4 <= v <= 32 and v % 4 == 0),
                                     "must be a multiple of 4 between 4 and 32 (codes are whole bytes)"),
    "fingerprint.window.collapse_distance": _between(0, 1024, "bits"),
    "fingerprint.window.max_run_seconds": _between(0, 60, "seconds", lo_open=True),
    "fingerprint.window.min_std": _between(0, 255, "grey levels"),
    "fingerprint.window.frame_stride": _between(1, 64, "frames"),
    "fingerprint.window.query_probe_size": _between(16, 256, "pixels"),
    "match.cut.min_speed": _between(0.1, 10), "match.cut.max_speed": _between(0.1, 10),
    "match.cut.speed_bin": _between(0.001, 1, "natural log"),
    "match.cut.offset_bin_seconds": _between(0.01, 60, "seconds"),
    "match.cut.max_lines": _between(1, 10_000),
    "match.cut.cut_tolerance_seconds": _between(0, 60, "seconds", lo_open=True),
    "match.cut.min_cuts": _between(3, 1e6, "two cuts fit any line"),
    "match.cut.min_cut_share": _SHARE,
    "match.cut.max_candidates": _between(1, 100),
    "match.cut.probe_frames": _between(3, 64),
    "match.cut.min_scale": _between(0.1, 10), "match.cut.max_scale": _between(0.1, 10),
    "match.cut.scale_steps": _between(1, 200),
    "match.cut.min_sketch_score": _between(-1, 1, "a correlation"),
    "match.cut.max_probe_distance": _between(0, 1e6),
    "match.cut.speed_tolerance": ((lambda v: 0 <= v < 1), "must be at least 0 and below 1"),
    "match.cut.band_seconds": _between(0, 60, "seconds", lo_open=True),
    **{f"policy.{k}": check for k, check in _THRESHOLDS.items()},
    **{f"policy.priority.{k}": check for k, check in _THRESHOLDS.items()},
    "policy.fair_use.max_reference_share": _SHARE,
    "policy.fair_use.max_upload_share": _SHARE,
    "policy.fair_use.max_seconds": _POLICY_SECONDS,
    "workflow.review_expiry_hours": _between(0, 1e5, "hours", lo_open=True),
    "workflow.review_expiry_outcome": ((lambda v: v in ("allow", "block", "mute-audio", "track")),
                                       "must be allow, block, mute-audio or track"),
    "workflow.dispute_window_days": _between(0, 3650, "days"),
    "workflow.dispute_review_hours": _between(0, 1e5, "hours", lo_open=True),
    "workflow.dispute_expiry_outcome": ((lambda v: v in ("released", "upheld")), "must be released or upheld"),
    "workflow.strike_expiry_days": _between(0, 3650, "days", lo_open=True),
    "workflow.repeat_uploader_strikes": _between(1, 1000),
    "service.lock_timeout_seconds": _between(0, 86400, "seconds"),
    "service.busy_wait_seconds": _between(0, 86400, "seconds"),
    "service.foreign_claim_hours": _between(0, 8760, "hours", lo_open=True),
    "service.log_max_bytes": _between(10_000, 1e9, "bytes"),
    "service.log_backups": _between(0, 100),
    "audit.key_env": ((lambda v: v == "" or (v.replace("_", "").isalnum() and v.isascii() and not v[0].isdigit())),
                      "must be an environment variable's name (letters, digits, _) or empty for none"),
    "audit.key_file": ((lambda v: v != "" and "\0" not in v), "must be a file name"),
    "catalog.url": ((lambda v: v == "" or v.startswith(("postgresql://", "postgres://"))),
                    "must be empty (the SQLite file in the data folder) or a postgresql:// URL"),
}


def _code_seconds(r: dict, signal: str) -> float:
    """Longest time one stored code of ``signal`` stands for (its window on the reference axis), seconds."""
    fp = r["fingerprint"]
    if signal == "video":
        return max(fp["video"]["max_run_seconds"], 1.0 / fp["reference_fps"])
    a = fp["audio"]
    if signal == "audio":
        return ((a["words_per_code"] - 1) * a["word_stride"] + 16) * a["hop_length"] / a["sample_rate"]
    return fp["landmark"]["hop_length"] / a["sample_rate"]


def _votes_per_hit(r: dict, signal: str) -> int:
    """Cells of the aligner's (speed, offset bin) vote grid one hit of ``signal`` fills."""
    m = r["match"][signal]
    return _grid_points(m["min_speed"], m["max_speed"], m["speed_step"]) * (
        int(_code_seconds(r, signal) // m["offset_bin_seconds"]) + 2)


def _grid_points(lo: float, hi: float, step: float) -> int:
    """Points of the grid lo, lo + step, ... hi (as ``AlignParams.speeds`` spaces it)."""
    return int(round((hi - lo) / step)) + 1 if step > 0 and hi >= lo else 1


def _spectrum_cells(r: dict, table: str) -> float:
    """STFT values computed per second of audio: frames per second x frequency bins."""
    t = r["fingerprint"][table]
    return r["fingerprint"]["audio"]["sample_rate"] / t["hop_length"] * (t["n_fft"] // 2 + 1)


# Query variants of the audio (one chroma reading each): their ids are bytes, and each costs fingerprinting
# and a probe search per upload (the default grids make 69).
MAX_AUDIO_VARIANTS = 160


def _audio_variant_count(raw: dict) -> int:
    from fingerprint.audio import query_variants

    return len(query_variants(_build(AudioParams, raw["fingerprint"]["audio"])))



# Checks across keys: (key reported, test over the whole raw config, why).
_CROSS_CHECKS = (
    ("fingerprint.audio.fmax", lambda r: r["fingerprint"]["audio"]["fmax"] > r["fingerprint"]["audio"]["fmin"],
     "must be above fmin"),
    ("fingerprint.audio.fmax",
     lambda r: r["fingerprint"]["audio"]["fmax"] <= r["fingerprint"]["audio"]["sample_rate"] / 2,
     "must be at most half the sample_rate (the highest frequency it can hold)"),
    ("fingerprint.audio.hop_length",
     lambda r: r["fingerprint"]["audio"]["hop_length"] <= r["fingerprint"]["audio"]["n_fft"], "must be at most n_fft"),
    ("fingerprint.landmark.hop_length",
     lambda r: r["fingerprint"]["landmark"]["hop_length"] <= r["fingerprint"]["landmark"]["n_fft"],
     "must be at most n_fft"),
    *((f"fingerprint.{t}.hop_length", lambda r, t=t: _spectrum_cells(r, t) <= MAX_SPECTRUM_CELLS_PER_SECOND,
       f"is too small for n_fft and the sample rate: the spectrogram would hold more than "
       f"{MAX_SPECTRUM_CELLS_PER_SECOND:,} values per second (frames per second x (n_fft / 2 + 1))")
      for t in ("audio", "landmark")),
    *((f"fingerprint.landmark.{fan}", lambda r, p=peaks, f=fan: r["fingerprint"]["landmark"][p]
       * r["fingerprint"]["landmark"][f] <= MAX_LANDMARKS_PER_SECOND,
       f"x {peaks} must be at most {MAX_LANDMARKS_PER_SECOND:,} landmarks per second")
      for peaks, fan in (("peaks_per_second", "fan_out"), ("query_peaks_per_second", "query_fan_out"))),
    ("fingerprint.audio.query_altered_stride", lambda r: r["fingerprint"]["audio"]["word_stride"]
     % r["fingerprint"]["audio"]["query_altered_stride"] == 0, "must divide word_stride"),
    ("fingerprint.audio", lambda r: _audio_variant_count(r) <= MAX_AUDIO_VARIANTS,
     f"the query grids (query_semitones, query_tempo_*, query_speed_*, query_pitch_tempos) make more than "
     f"{MAX_AUDIO_VARIANTS} variants: use fewer or coarser ones"),
    ("fingerprint.video.inset_max_share", lambda r: r["fingerprint"]["video"]["inset_max_share"]
     >= r["fingerprint"]["video"]["inset_min_share"], "must be at least inset_min_share"),
    ("fingerprint.video.collapse_distance", lambda r: r["fingerprint"]["video"]["collapse_distance"]
     <= r["fingerprint"]["video"]["hash_size"] ** 2, "must be at most the video code's bits (hash_size**2)"),
    ("fingerprint.video.band_max_share", lambda r: r["fingerprint"]["video"]["band_max_share"]
     >= r["fingerprint"]["video"]["band_min_share"], "must be at least band_min_share"),
    ("match.video.radius", lambda r: r["match"]["video"]["radius"] <= r["fingerprint"]["video"]["hash_size"] ** 2,
     "must be at most the video code's bits (hash_size**2)"),
    ("match.audio.radius", lambda r: r["match"]["audio"]["radius"] <= 32 * r["fingerprint"]["audio"]["words_per_code"],
     "must be at most the audio code's bits (32 x words_per_code)"),
    ("match.landmark.radius", lambda r: r["match"]["landmark"]["radius"] == 0,
     "must be 0: landmarks are exact hashes, found by table lookup"),
    ("fingerprint.landmark.max_bin", lambda r: r["fingerprint"]["landmark"]["max_bin"]
     < r["fingerprint"]["landmark"]["n_fft"] // 2 + 1, "must be below n_fft / 2 + 1 (the STFT's bins)"),
    ("fingerprint.landmark.min_bin", lambda r: r["fingerprint"]["landmark"]["min_bin"]
     < r["fingerprint"]["landmark"]["max_bin"], "must be below max_bin"),
    ("index.nprobe", lambda r: r["index"]["nprobe"] <= r["index"]["nlist"], "must be at most nlist"),
    ("match.landmark.verify.null_max_seconds", lambda r: r["match"]["landmark"]["verify"]["null_max_seconds"]
     > r["match"]["landmark"]["verify"]["null_min_seconds"], "must be above null_min_seconds"),
    *((f"match.{sig}.max_speed", lambda r, s=sig: r["match"][s]["max_speed"] >= r["match"][s]["min_speed"],
       "must be at least min_speed") for sig in ("video", "audio", "landmark", "window", "cut")),
    *((f"match.{sig}.offset_bin_seconds", lambda r, s=sig: _votes_per_hit(r, s) <= MAX_VOTES_PER_HIT,
       f"is too small for this speed grid: each hit would vote in more than {MAX_VOTES_PER_HIT} (speed, offset) "
       "cells (speeds tried x offset bins a code spans); use a coarser speed_step or wider bins")
      for sig in ("video", "audio", "landmark")),  # ([match.window] searches only +- match.cut.speed_tolerance)
    *((f"match.{sig}.change_max_seconds", lambda r, s=sig: r["match"][s]["change_max_seconds"]
       <= 10 * r["match"][s]["change_seconds"], "must be at most 10 x change_seconds (each multiple is a reading "
       "of every segment)") for sig in ("video", "audio", "landmark")),
    *((f"match.{sig}.review_specificity", lambda r, s=sig: r["match"][s]["review_specificity"] == 0
       or r["match"][s]["review_specificity"] >= r["match"][s]["min_specificity"],
       "must be 0 (off) or at least min_specificity") for sig in ("video", "audio", "landmark")),
    ("fingerprint.cut.ratio_bin", lambda r: 2 * r["fingerprint"]["cut"]["max_log_ratio"]
     <= 64 * r["fingerprint"]["cut"]["ratio_bin"], "must be at least max_log_ratio / 32 (at most 64 bins: 6 bits)"),
    ("match.cut.max_scale", lambda r: r["match"]["cut"]["max_scale"] >= r["match"]["cut"]["min_scale"],
     "must be at least min_scale"),
    ("match.window.radius", lambda r: r["match"]["window"]["radius"] <= r["fingerprint"]["window"]["hash_size"] ** 2,
     "must be at most the window code's bits (hash_size**2)"),
)


def _check_grids(table: dict, where: str = "") -> None:
    """Every ``min_<x>``, ``max_<x>``, ``<x>_step`` triple of a table (any table, any x) spans at
    most MAX_GRID_POINTS points: a step far below the range is a grid of millions."""
    for key, value in table.items():
        if isinstance(value, dict):
            _check_grids(value, f"{where}{key}.")
        elif key.endswith("_step") and not isinstance(value, bool) and isinstance(value, (int, float)):
            name = key[:-len("_step")]
            lo, hi = table.get(f"min_{name}"), table.get(f"max_{name}")
            if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (lo, hi)) and value > 0:
                points = _grid_points(lo, hi, value)
                if points > MAX_GRID_POINTS:
                    raise _Bad(f"{where}{key}", f"makes a grid of {points:,} {name}s from min_{name} {lo:g} to "
                                                f"max_{name} {hi:g}; at most {MAX_GRID_POINTS} are allowed "
                                                "(a coarser step or a narrower range)")


def _check_values(raw: dict) -> None:
    """Range checks over the merged settings; raises _Bad naming the first bad key."""
    for key, (test, why) in _CHECKS.items():
        value: Any = raw
        for part in key.split("."):
            value = value[part]
        if not test(value):
            raise _Bad(key, f"{why}, got {value!r}")
    _check_grids(raw)
    for key, test, why in _CROSS_CHECKS:
        if not test(raw):
            raise _Bad(key, why)
    for i, rule in enumerate(raw["policy"]["rules"]):
        where = f"policy.rules[{i}]"
        if not isinstance(rule, dict):
            raise _Bad(where, f"must be a table ([[policy.rules]]), got {_type_name(rule)}")
        try:
            raw["policy"]["rules"][i] = Rule.from_dict(rule).as_dict()
        except RuleError as exc:
            raise _Bad(f"{where}.{exc.field}" if exc.field else where, exc.why) from exc


def _build(cls, table: dict, **nested):
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in nested:
            kwargs[f.name] = nested[f.name]
        elif f.name in table:
            value = table[f.name]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


MAX_CONFIG_BYTES = 1_000_000


def _read_toml(path: Path) -> dict:
    """The user's TOML file as a table; ConfigError (naming the file) when it cannot be one."""
    try:
        if not path.is_file():
            why = "it is a folder" if path.is_dir() else "no such file" if not path.exists() else "not a regular file"
            raise ConfigError(f"{path}: cannot read the file ({why})")
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: too large for a config file ({path.stat().st_size:,} bytes; at most "
                              f"{MAX_CONFIG_BYTES:,})")
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file (TOML must be UTF-8)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from exc


def load_config(path: str | Path | None = None) -> Config:
    """Defaults merged with the TOML file at ``path`` (if given and present)."""
    raw = tomllib.loads(default_toml())
    try:
        if path is not None:
            raw = _merge(raw, _read_toml(Path(path)))
        _check_values(raw)
    except _Bad as exc:
        raise ConfigError(f"{path or 'defaults'}: {exc.key}: {exc.why}") from exc
    fp, m = raw["fingerprint"], raw["match"]
    fingerprint = _build(
        FingerprintParams, fp,
        video=_build(VideoParams, fp["video"]),
        audio=_build(AudioParams, fp["audio"]),
        landmark=_build(LandmarkParams, fp["landmark"]),
        decode=_build(DecodeParams, fp["decode"]),
        limits=_build(LimitParams, fp["limits"]),
        accept=_build(AcceptParams, fp["accept"]),
        stereo=_build(StereoParams, fp["stereo"]),
        cut=_build(CutParams, fp["cut"]),
        window=_build(WindowParams, fp["window"]),
    )
    match = _build(MatchParams, m, cut=_build(CutMatchParams, m["cut"]),
                   **{s: _build(AlignParams, m[s]) for s in ("video", "audio", "landmark", "window")},
                   verify=_build(ConstellationParams, m["landmark"]["verify"]))
    pol = raw["policy"]
    try:
        policy = PolicyParams(
            thresholds=_build(Thresholds, pol),
            priority=_build(Thresholds, pol["priority"]),
            fair_use=_build(FairUse, pol["fair_use"]),
            rules=tuple(Rule.from_dict(r) for r in pol["rules"]),
        )
        workflow = _build(WorkflowParams, raw["workflow"])
    except (TypeError, ValueError) as exc:  # not reached for checked values; kept as a last guard
        raise ConfigError(f"{path or 'defaults'}: invalid policy or workflow settings: {exc}") from exc
    return Config(
        fingerprint=fingerprint,
        index=_build(IndexParams, raw["index"]),
        match=match,
        policy=policy,
        workflow=workflow,
        raw=raw,
        service=_build(ServiceParams, raw["service"]),
        audit=_build(AuditParams, raw["audit"]),
        catalog=_build(CatalogParams, raw["catalog"]),
    )
