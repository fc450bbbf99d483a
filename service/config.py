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
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fingerprint import AudioParams, CutParams, DecodeParams, FingerprintParams, LandmarkParams, VideoParams, WindowParams
from index import IndexParams
from match import AlignParams
from match.cuts import CutMatchParams
from policy import FairUse, PolicyParams, Rule, Thresholds


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

    def for_signal(self, signal: str) -> AlignParams:
        """The alignment settings of one signal (``fingerprint.SIGNALS``)."""
        return getattr(self, signal)


@dataclass(frozen=True)
class WorkflowParams:
    """Deadlines and strike counting (TOML ``[workflow]``)."""

    review_expiry_hours: float = 72.0
    review_expiry_outcome: str = "allow"
    dispute_window_days: float = 30.0
    dispute_review_hours: float = 168.0
    dispute_expiry_outcome: str = "released"
    strike_expiry_days: float = 90.0
    repeat_uploader_strikes: int = 3


@dataclass(frozen=True)
class Config:
    fingerprint: FingerprintParams
    index: IndexParams
    match: MatchParams
    policy: PolicyParams
    workflow: WorkflowParams
    raw: dict

    @property
    def version(self) -> str:
        blob = json.dumps(self.raw, sort_keys=True).encode()
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
    """``value`` with ``default``'s type (int -> float where a decimal is expected), or _Bad."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise _Bad(key, f"must be true or false, got {_type_name(value)} ({value!r})")
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Bad(key, f"must be a whole number, got {_type_name(value)} ({value!r})")
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Bad(key, f"must be a number, got {_type_name(value)} ({value!r})")
    if isinstance(default, str):
        if isinstance(value, str):
            return value
        raise _Bad(key, f"must be a string, got {_type_name(value)} ({value!r})")
    if isinstance(default, list):
        if not isinstance(value, list):
            raise _Bad(key, f"must be a list, got {_type_name(value)} ({value!r})")
        if default and not isinstance(default[0], dict):
            return [_coerce(default[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
        return value
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


# Range checks per dotted key: (test, what it must be). Types are checked against the defaults first.
def _positive(v): return v > 0
def _non_negative(v): return v >= 0
def _share(v): return 0 <= v <= 1
def _open_share(v): return 0 < v <= 1


_POSITIVE, _NON_NEGATIVE = (_positive, "must be greater than 0"), (_non_negative, "must not be negative")
_SHARE = (_share, "must be between 0 and 1")
_ALIGN = {
    "radius": _NON_NEGATIVE, "min_evidence": _NON_NEGATIVE, "edge_seconds": _NON_NEGATIVE,
    "min_speed": _POSITIVE, "max_speed": _POSITIVE, "speed_step": _POSITIVE, "offset_bin_seconds": _POSITIVE,
    "inlier_seconds": _POSITIVE, "max_gap_seconds": _POSITIVE, "min_hits": (lambda v: v >= 1, "must be at least 1"),
    "min_density": _SHARE, "min_segment_seconds": _NON_NEGATIVE, "min_changes": _NON_NEGATIVE,
    "change_seconds": _POSITIVE, "change_bits": _NON_NEGATIVE,
    "max_segments_per_ref": (lambda v: v >= 1, "must be at least 1"), "hint_tolerance": _NON_NEGATIVE,
    "altered_min_similarity": _SHARE, "gap_edge_seconds": _NON_NEGATIVE, "instant_seconds": _NON_NEGATIVE,
}
_THRESHOLDS = {
    "min_score": _SHARE, "review_min_seconds": _NON_NEGATIVE, "block_min_seconds": _NON_NEGATIVE,
    "block_upload_share": _SHARE, "block_long_seconds": _NON_NEGATIVE, "block_reference_share": _SHARE,
    "audio_mixed_similarity": _SHARE,
}
_CHECKS: dict[str, tuple] = {
    "fingerprint.reference_fps": _POSITIVE,
    "fingerprint.query_fps": _POSITIVE,
    "fingerprint.frame_size": (lambda v: v >= 16, "must be at least 16 (pixels)"),
    "fingerprint.decode.max_bad_packet_share": _SHARE,
    "fingerprint.decode.min_decoded_share": _SHARE,
    "fingerprint.decode.max_audio_gap_seconds": _POSITIVE,
    "fingerprint.decode.skip_nonref_ratio": _NON_NEGATIVE,
    "fingerprint.video.hash_size": (lambda v: v >= 4 and v % 4 == 0,
                                    "must be a positive multiple of 4 (codes are whole bytes: hash_size**2 bits)"),
    "fingerprint.video.black_level": ((lambda v: 0 <= v <= 255), "must be a grey level between 0 and 255"),
    "fingerprint.video.max_border_share": ((lambda v: 0 <= v < 0.5), "must be at least 0 and below 0.5"),
    "fingerprint.video.min_frame_std": _NON_NEGATIVE,
    "fingerprint.video.crop_scales": ((lambda v: all(0 < x <= 1 for x in v)), "every scale must be in (0, 1]"),
    "fingerprint.video.query_rotations": ((lambda v: all(-45 <= x <= 45 for x in v)),
                                          "every angle must be between -45 and 45 degrees"),
    "fingerprint.video.collapse_distance": _NON_NEGATIVE,
    "fingerprint.video.max_run_seconds": _POSITIVE,
    "fingerprint.video.inset_edge_ratio": _POSITIVE,
    "fingerprint.video.inset_min_share": (_open_share, "must be in (0, 1]"),
    "fingerprint.video.inset_max_share": (_open_share, "must be in (0, 1]"),
    "fingerprint.audio.sample_rate": ((lambda v: v >= 1000), "must be at least 1000 (Hz)"),
    "fingerprint.audio.n_fft": (lambda v: v >= 16, "must be at least 16 (samples)"),
    "fingerprint.audio.hop_length": _POSITIVE,
    "fingerprint.audio.fmin": _POSITIVE,
    "fingerprint.audio.fmax": _POSITIVE,
    "fingerprint.audio.silence_db": ((lambda v: v <= 0), "must be at most 0 (dB relative to full scale)"),
    "fingerprint.audio.words_per_code": (lambda v: v >= 1, "must be at least 1"),
    "fingerprint.audio.word_stride": (lambda v: v >= 1, "must be at least 1"),
    "fingerprint.audio.min_voiced_share": _SHARE,
    "fingerprint.audio.query_semitones": ((lambda v: len(v) >= 1 and all(-11 <= x <= 11 for x in v)),
                                          "must list at least one shift, each between -11 and 11 semitones"),
    "fingerprint.audio.query_tempos": ((lambda v: len(v) >= 1 and all(0.5 <= x <= 2 for x in v)),
                                       "must list at least one factor, each between 0.5 and 2"),
    "fingerprint.audio.query_speeds": ((lambda v: all(0.5 <= x <= 2 for x in v)),
                                       "each factor must be between 0.5 and 2 (an empty list tries none)"),
    "fingerprint.landmark.n_fft": (lambda v: v >= 64, "must be at least 64 (samples)"),
    "fingerprint.landmark.hop_length": _POSITIVE,
    "fingerprint.landmark.min_bin": _NON_NEGATIVE,
    "fingerprint.landmark.max_bin": ((lambda v: 1 <= v <= 511), "must be between 1 and 511 (9-bit anchor bins)"),
    "fingerprint.landmark.neighbourhood_bins": (lambda v: v >= 1, "must be at least 1"),
    "fingerprint.landmark.neighbourhood_frames": (lambda v: v >= 1, "must be at least 1"),
    "fingerprint.landmark.whiten_bins": (lambda v: v >= 1, "must be at least 1"),
    "fingerprint.landmark.highpass_seconds": _POSITIVE,
    "fingerprint.landmark.min_peak_db": _NON_NEGATIVE,
    "fingerprint.landmark.silence_db": ((lambda v: v <= 0), "must be at most 0 (dB relative to full scale)"),
    "fingerprint.landmark.peaks_per_second": (lambda v: v >= 1, "must be at least 1"),
    "fingerprint.landmark.fan_out": (lambda v: v >= 1, "must be at least 1"),
    "fingerprint.landmark.query_peaks_per_second": (lambda v: v >= 1, "must be at least 1"),
    "fingerprint.landmark.query_fan_out": (lambda v: v >= 1, "must be at least 1"),
    "fingerprint.landmark.max_dt_frames": ((lambda v: 1 <= v <= 63), "must be between 1 and 63 (6-bit time steps)"),
    "fingerprint.landmark.max_df_bins": ((lambda v: 0 <= v <= 63), "must be between 0 and 63 (7-bit steps)"),
    "fingerprint.cut.grid": ((lambda v: 2 <= v <= 64), "must be between 2 and 64 (blocks per side)"),
    "fingerprint.cut.change_ratio": _POSITIVE,
    "fingerprint.cut.change_floor": _NON_NEGATIVE,
    "fingerprint.cut.min_cut_share": (_open_share, "must be in (0, 1]"),
    "fingerprint.cut.peak_ratio": _POSITIVE,
    "fingerprint.cut.peak_window_seconds": ((lambda v: 0 < v <= 60), "must be in (0, 60] seconds"),
    "fingerprint.cut.min_shot_seconds": ((lambda v: 0 <= v <= 60), "must be between 0 and 60 seconds"),
    "fingerprint.cut.shots_per_code": ((lambda v: 2 <= v <= 6), "must be between 2 and 6 (6 bits per ratio in a "
                                                                "32-bit code)"),
    "fingerprint.cut.ratio_bin": ((lambda v: 0 < v <= 5), "must be in (0, 5] (natural log)"),
    "fingerprint.cut.max_log_ratio": ((lambda v: 0 < v <= 10), "must be in (0, 10] (natural log)"),
    "fingerprint.cut.query_probe_margin": _NON_NEGATIVE,
    "fingerprint.window.scale": (_open_share, "must be in (0, 1]"),
    "fingerprint.window.hash_size": ((lambda v: 4 <= v <= 32 and v % 4 == 0),
                                     "must be a multiple of 4 between 4 and 32 (codes are whole bytes)"),
    "fingerprint.window.collapse_distance": _NON_NEGATIVE,
    "fingerprint.window.max_run_seconds": _POSITIVE,
    "fingerprint.window.min_std": _NON_NEGATIVE,
    "fingerprint.window.frame_stride": ((lambda v: 1 <= v <= 64), "must be between 1 and 64 (frames)"),
    "fingerprint.window.query_probe_size": ((lambda v: 16 <= v <= 256), "must be between 16 and 256 (pixels)"),
    "index.kind": ((lambda v: v in ("flat", "ivf")), "must be \"flat\" or \"ivf\""),
    "index.nlist": (lambda v: v >= 1, "must be at least 1"),
    "index.nprobe": (lambda v: v >= 1, "must be at least 1"),
    "index.ivf_min_train_per_list": (lambda v: v >= 1, "must be at least 1"),
    "match.offset_tolerance": _NON_NEGATIVE,
    **{f"match.{signal}.{k}": check for signal in ("video", "audio", "landmark", "window")
       for k, check in _ALIGN.items()},
    "match.cut.min_speed": ((lambda v: 0.1 <= v <= 10), "must be between 0.1 and 10"),
    "match.cut.max_speed": ((lambda v: 0.1 <= v <= 10), "must be between 0.1 and 10"),
    "match.cut.speed_bin": ((lambda v: 0.001 <= v <= 1), "must be between 0.001 and 1 (natural log)"),
    "match.cut.offset_bin_seconds": ((lambda v: 0.01 <= v <= 60), "must be between 0.01 and 60 seconds"),
    "match.cut.max_lines": ((lambda v: 1 <= v <= 10_000), "must be between 1 and 10000"),
    "match.cut.cut_tolerance_seconds": _POSITIVE,
    "match.cut.min_cuts": ((lambda v: v >= 3), "must be at least 3 (two cuts fit any line)"),
    "match.cut.min_cut_share": _SHARE,
    "match.cut.max_candidates": ((lambda v: 1 <= v <= 100), "must be between 1 and 100"),
    "match.cut.probe_frames": ((lambda v: 3 <= v <= 64), "must be between 3 and 64"),
    "match.cut.min_scale": ((lambda v: 0.1 <= v <= 10), "must be between 0.1 and 10"),
    "match.cut.max_scale": ((lambda v: 0.1 <= v <= 10), "must be between 0.1 and 10"),
    "match.cut.scale_steps": ((lambda v: 1 <= v <= 200), "must be between 1 and 200"),
    "match.cut.min_sketch_score": ((lambda v: -1 <= v <= 1), "must be between -1 and 1 (a correlation)"),
    "match.cut.max_probe_distance": _NON_NEGATIVE,
    "match.cut.speed_tolerance": ((lambda v: 0 <= v < 1), "must be at least 0 and below 1"),
    "match.cut.band_seconds": ((lambda v: 0 < v <= 60), "must be in (0, 60] seconds"),
    **{f"policy.{k}": check for k, check in _THRESHOLDS.items()},
    **{f"policy.priority.{k}": check for k, check in _THRESHOLDS.items()},
    "policy.fair_use.max_reference_share": _SHARE,
    "policy.fair_use.max_upload_share": _SHARE,
    "policy.fair_use.max_seconds": _NON_NEGATIVE,
    "workflow.review_expiry_hours": _POSITIVE,
    "workflow.review_expiry_outcome": ((lambda v: v in ("allow", "block", "mute-audio", "track")),
                                       "must be allow, block, mute-audio or track"),
    "workflow.dispute_window_days": _NON_NEGATIVE,
    "workflow.dispute_review_hours": _POSITIVE,
    "workflow.dispute_expiry_outcome": ((lambda v: v in ("released", "upheld")), "must be released or upheld"),
    "workflow.strike_expiry_days": _POSITIVE,
    "workflow.repeat_uploader_strikes": (lambda v: v >= 1, "must be at least 1"),
}
# Checks across keys: (key reported, test over the whole raw config, why).
_CROSS_CHECKS = (
    ("fingerprint.audio.fmax", lambda r: r["fingerprint"]["audio"]["fmax"] > r["fingerprint"]["audio"]["fmin"],
     "must be above fmin"),
    ("fingerprint.audio.fmax",
     lambda r: r["fingerprint"]["audio"]["fmax"] <= r["fingerprint"]["audio"]["sample_rate"] / 2,
     "must be at most half the sample_rate (the highest frequency it can hold)"),
    ("fingerprint.audio.hop_length",
     lambda r: r["fingerprint"]["audio"]["hop_length"] <= r["fingerprint"]["audio"]["n_fft"], "must be at most n_fft"),
    ("fingerprint.video.inset_max_share", lambda r: r["fingerprint"]["video"]["inset_max_share"]
     >= r["fingerprint"]["video"]["inset_min_share"], "must be at least inset_min_share"),
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
    *((f"match.{sig}.max_speed", lambda r, s=sig: r["match"][s]["max_speed"] >= r["match"][s]["min_speed"],
       "must be at least min_speed") for sig in ("video", "audio", "landmark", "window", "cut")),
    ("fingerprint.cut.ratio_bin", lambda r: 2 * r["fingerprint"]["cut"]["max_log_ratio"]
     <= 64 * r["fingerprint"]["cut"]["ratio_bin"], "must be at least max_log_ratio / 32 (at most 64 bins: 6 bits)"),
    ("match.cut.max_scale", lambda r: r["match"]["cut"]["max_scale"] >= r["match"]["cut"]["min_scale"],
     "must be at least min_scale"),
    ("match.window.radius", lambda r: r["match"]["window"]["radius"] <= r["fingerprint"]["window"]["hash_size"] ** 2,
     "must be at most the window code's bits (hash_size**2)"),
)
_RULE_NUMBERS = {"min_seconds": _NON_NEGATIVE, "min_upload_share": _SHARE, "min_reference_share": _SHARE}


def _check_values(raw: dict) -> None:
    """Range checks over the merged settings; raises _Bad naming the first bad key."""
    for key, (test, why) in _CHECKS.items():
        value: Any = raw
        for part in key.split("."):
            value = value[part]
        if not test(value):
            raise _Bad(key, f"{why}, got {value!r}")
    for key, test, why in _CROSS_CHECKS:
        if not test(raw):
            raise _Bad(key, why)
    for i, rule in enumerate(raw["policy"]["rules"]):
        where = f"policy.rules[{i}]"
        if not isinstance(rule, dict):
            raise _Bad(where, f"must be a table ([[policy.rules]]), got {_type_name(rule)}")
        for field_name in ("action", "band", "modality"):
            if field_name in rule and not isinstance(rule[field_name], str):
                raise _Bad(f"{where}.{field_name}", f"must be a string, got {_type_name(rule[field_name])}")
        for field_name, (test, why) in _RULE_NUMBERS.items():
            if field_name in rule:
                value = rule[field_name]
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise _Bad(f"{where}.{field_name}", f"must be a number, got {_type_name(value)} ({value!r})")
                if not test(value):
                    raise _Bad(f"{where}.{field_name}", f"{why}, got {value!r}")
                rule[field_name] = float(value)
        try:
            Rule.from_dict(rule)
        except (TypeError, ValueError) as exc:
            raise _Bad(where, str(exc)) from exc


def _build(cls, table: dict, **nested):
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in nested:
            kwargs[f.name] = nested[f.name]
        elif f.name in table:
            value = table[f.name]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def load_config(path: str | Path | None = None) -> Config:
    """Defaults merged with the TOML file at ``path`` (if given and present)."""
    raw = tomllib.loads(default_toml())
    if path is not None:
        try:
            user = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not a text file (TOML must be UTF-8)") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        try:
            raw = _merge(raw, user)
            _check_values(raw)
        except _Bad as exc:
            raise ConfigError(f"{path}: {exc.key}: {exc.why}") from exc
    fp, m = raw["fingerprint"], raw["match"]
    fingerprint = _build(
        FingerprintParams, fp,
        video=_build(VideoParams, fp["video"]),
        audio=_build(AudioParams, fp["audio"]),
        landmark=_build(LandmarkParams, fp["landmark"]),
        decode=_build(DecodeParams, fp["decode"]),
        cut=_build(CutParams, fp["cut"]),
        window=_build(WindowParams, fp["window"]),
    )
    match = _build(MatchParams, m, cut=_build(CutMatchParams, m["cut"]),
                   **{s: _build(AlignParams, m[s]) for s in ("video", "audio", "landmark", "window")})
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
    )
