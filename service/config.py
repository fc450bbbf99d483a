"""The TOML configuration: defaults in ``default.toml``, overridden by a user file.

Unknown keys are errors (a misspelt threshold must not be silently ignored),
and so are values of the wrong type or out of range: every value must have
its default's type (an integer is accepted for a decimal) and pass the checks
in ``_CHECKS``, so a bad file fails at load time with the file, the key and
the reason, not later with a traceback in the middle of a batch.
The config version is a short hash of the effective settings, recorded with
every decision so an audit can tell which thresholds produced it.

Each signal's sections (``[fingerprint.<signal>]``, ``[match.<signal>]``) come from the
signal's own declaration (``fingerprint.signals``): its settings class, the kind of its match
section, its defaults when ``default.toml`` does not list it, the range check of every key and
its checks across keys. This module loops over the registry; it names no signal.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fingerprint import REGISTRY, AcceptParams, DecodeParams, FingerprintParams, LimitParams, StereoParams
from fingerprint.checks import COUNT, SECONDS, SHARE, between, number_words
from index import IndexParams
from match import AlignParams, ConstellationParams
from match.cuts import CutMatchParams
from policy import FairUse, PolicyParams, Rule, RuleError, Thresholds
from workflow import WorkflowParams


class ConfigError(Exception):
    """The configuration file is unreadable, names unknown keys or has a bad value.

    The message reads ``<file>: <key>: <why>`` (or ``<file>: <why>``).
    """

    kind = "invalid_input"


@dataclass(frozen=True)
class MatchParams:
    """Per-signal search radius and alignment, and how segments merge.

    window_seconds, window_overlap_seconds: a long upload is searched and aligned a window
        of this many upload seconds at a time, each widened by the overlap on both sides
        (``match.windows``): memory follows the window, not the upload. 0: the whole upload
        at once. An upload no longer than a window and its overlap is one window.
    cut: candidates from scene-cut timing and their geometric verification;
    window: the alignment of the verified window codes (``match.verify``).
    extra: (name, settings) of registered signals' ``[match.<name>]`` that have no field here.
    """

    offset_tolerance: float
    video: AlignParams
    audio: AlignParams
    landmark: AlignParams
    cut: CutMatchParams
    window: AlignParams
    verify: ConstellationParams = ConstellationParams()  # [match.<signal>.verify] of the signal that verifies_quotes
    extra: tuple[tuple[str, Any], ...] = ()
    window_seconds: float = 300.0
    window_overlap_seconds: float = 30.0

    def for_signal(self, signal: str) -> AlignParams:
        """The ``[match.<signal>]`` settings of one registered signal (``fingerprint.REGISTRY``)."""
        return getattr(self, signal) if signal in _MATCH_FIELDS else dict(self.extra)[signal]


_MATCH_FIELDS = frozenset(f.name for f in dataclasses.fields(MatchParams)) - {
    "extra", "offset_tolerance", "verify", "window_seconds", "window_overlap_seconds"}
# What a signal's ``match_kind`` makes its [match.<signal>] section, and the checks of its keys
# (the signal declares checks for keys of its own beyond these).
_MATCH_KINDS = {"align": AlignParams, "cut": CutMatchParams}


@dataclass(frozen=True)
class ServiceParams:
    """How commands share a data folder, and the operators' log (TOML ``[service]``).

    lock_timeout_seconds: longest wait for the write lock or SQLite's lock, seconds.
    busy_wait_seconds: longest wait, at the end of a batch, for a manifest upload
        another live process is screening, seconds.
    foreign_claim_hours: a screening claim of a process on another host older
        than this is abandoned (its liveness cannot be checked from here).
    log_max_bytes, log_backups: rotation of ``<home>/logs/prescreen.log``.
    jobs: worker processes a batch screening fingerprints and searches in (``prescreen screen --jobs N``
        overrides it); 0: one per core this process may run on. The decisions are recorded by the
        screening process alone, in the batch's order: the records are the same for any number.
    """

    lock_timeout_seconds: float = 30.0
    busy_wait_seconds: float = 600.0
    foreign_claim_hours: float = 24.0
    log_max_bytes: int = 1_000_000
    log_backups: int = 3
    jobs: int = 0


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
    connect_timeout_seconds: longest wait for a PostgreSQL server to answer a connection, seconds (a host
        that is down or unreachable fails after it, naming the URL without its password).
    dead_peer_seconds: how long a PostgreSQL connection whose other end vanished without closing it (a
        machine that lost power or its network mid-registration) may go unnoticed, seconds: TCP keepalives
        on both ends drop it within this, so the server frees that process's locks and this process stops
        waiting for a server that is gone. (A process that is alive but stuck keeps its locks.)
    """

    url: str = ""
    connect_timeout_seconds: float = 10.0
    dead_peer_seconds: float = 60.0


@dataclass(frozen=True)
class ServerParams:
    """The HTTP service, ``prescreen serve`` (TOML ``[server]``; service/http).

    max_body_bytes: the largest request body, bytes (a bigger one gets 413 before it is read).
    sync_max_bytes: the largest upload screened while the request waits (``POST /v1/screening/uploads``),
        bytes; bigger ones go through a job (``POST /v1/screening/jobs``).
    sync_wait_seconds: how long such a request waits for its decision, seconds; then it is answered
        202 with the job to poll.
    path_roots: folders whose files an operator may name by server-side path (registration or
        screening by path); empty: none (files arrive only as request bodies).
    object_url_prefixes: where an upload may be given by reference (``object_url``: an object store's
        or CDN's http(s) URL starting with one of these), fetched by the server; empty: none. Only
        listed prefixes, so a key cannot make the server fetch from anywhere else (its own network).
    object_fetch_seconds: longest fetch of such an object, seconds.
    webhook_url_prefixes: where a job's webhook may point unless an operator's key sets it (http(s)
        URLs); empty: only operator keys give webhooks. (The server POSTs to it: a key must not point
        it into the server's own network.)
    session_hours: how long a sign-in to the web pages lasts (the key's cookie), hours.
    workers: use cases run at once (each worker holds its own catalog connection and indexes).
    job_workers: screening jobs run at once, beside the request workers.
    job_max_attempts: a job whose server was killed while screening it is tried again on
        restart, at most this many times in all; then it fails, saying so.
    webhook_max_attempts: deliveries of a job's webhook tried before it is marked failed.
    webhook_backoff_seconds: the wait before the second delivery, doubled after each failure, seconds.
    webhook_timeout_seconds: longest wait for a webhook's answer, seconds.
    """

    max_body_bytes: int = 2_000_000_000
    sync_max_bytes: int = 50_000_000
    sync_wait_seconds: float = 300.0
    path_roots: tuple[str, ...] = ()
    object_url_prefixes: tuple[str, ...] = ()
    object_fetch_seconds: float = 300.0
    webhook_url_prefixes: tuple[str, ...] = ()
    session_hours: float = 12.0
    workers: int = 2
    job_workers: int = 1
    job_max_attempts: int = 3
    webhook_max_attempts: int = 6
    webhook_backoff_seconds: float = 2.0
    webhook_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class EvidenceParams:
    """What a reviewer is shown of a review (TOML ``[evidence]``; service/evidence.py).

    segments_per_reference: matched segments per reference given thumbnails and excerpts (the
        longest first).
    frames_per_segment: side-by-side key-frame pairs per segment (at its start, middle and end...).
    excerpt_max_seconds: longest audio excerpt of a segment, on each timeline, seconds (a longer
        segment is cut to its first seconds).
    excerpt_sample_rate: sample rate of the excerpts written for playing, Hz.
    """

    segments_per_reference: int = 3
    frames_per_segment: int = 3
    excerpt_max_seconds: float = 15.0
    excerpt_sample_rate: int = 22050


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
    server: ServerParams = ServerParams()
    evidence: EvidenceParams = EvidenceParams()

    @property
    def version(self) -> str:
        """Digest of the settings that shape decisions (where the catalog is and how it is served do not)."""
        blob = json.dumps({k: v for k, v in self.raw.items() if k not in ("catalog", "server", "evidence")},
                          sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def shown(self) -> dict:
        """The settings as given, for people to read: a password in the catalog URL is masked."""
        from storage import redact

        catalog = self.raw.get("catalog", {})
        if not catalog.get("url"):
            return self.raw
        return {**self.raw, "catalog": {**catalog, "url": redact(catalog["url"])}}


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


_num, _between = number_words, between
_TWO_STAGE_SIGNALS = tuple(sig.name for sig in REGISTRY if sig.index_kind == "hamming" and sig.searched)
_SHARE, _SECONDS, _COUNT = SHARE, SECONDS, COUNT
_POLICY_SECONDS = _between(0, 1e6, "seconds")        # matched seconds (a 1e6 s upload is 11 days long)
_ALIGN = {  # every key of a [match.<signal>] section of the "align" kind
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
_GENERAL_CHECKS: dict[str, tuple] = {  # the keys of no signal
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
    "index.kind": ((lambda v: v in ("flat", "ivf")), "must be \"flat\" or \"ivf\""),
    "index.nlist": _between(1, 2 ** 20),
    "index.nprobe": _between(1, 2 ** 20),
    "index.ivf_min_train_per_list": _between(1, 10000),
    "match.offset_tolerance": _between(0, 3600, "seconds"),
    "match.window_seconds": ((lambda v: v == 0 or 60 <= v <= 86400),
                             "must be 0 (the whole upload at once) or between 60 and 86 400 (upload seconds)"),
    "match.window_overlap_seconds": _between(0, 3600, "upload seconds"),
    "index.parallel_min_work": _between(0, 1e9, "code pairs compared"),
    "index.search_block_rows": _between(256, 1 << 24, "query codes per search call"),
    "index.stale_temp_seconds": _between(60, 366 * 86400, "seconds"),
    "index.two_stage_min_codes": _between(0, 1 << 40, "stored codes of a signal (0: never)"),
    "index.two_stage_signals": ((lambda v: isinstance(v, (list, tuple)) and all(
        isinstance(x, str) and x in _TWO_STAGE_SIGNALS for x in v)),
        "must list signals searched within a radius: " + ", ".join(f'"{n}"' for n in _TWO_STAGE_SIGNALS)),
    "index.candidate_min_rows": _between(1, 1000, "distinct upload codes"),
    "index.candidate_max_postings": _between(1, 1 << 24, "reference codes holding one sub-key"),
    "index.candidate_max_refs": _between(1, 1 << 20, "references"),
    "index.candidate_bin_seconds": _between(0.1, 60, "seconds"),
    "index.verify_block_codes": _between(1024, 1 << 28, "stored codes"),
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
    "service.jobs": _between(0, 256, "worker processes (0: one per core)"),
    "audit.key_env": ((lambda v: v == "" or (v.replace("_", "").isalnum() and v.isascii() and not v[0].isdigit())),
                      "must be an environment variable's name (letters, digits, _) or empty for none"),
    "audit.key_file": ((lambda v: v != "" and "\0" not in v), "must be a file name"),
    "catalog.url": ((lambda v: v == "" or v.startswith(("postgresql://", "postgres://"))),
                    "must be empty (the SQLite file in the data folder) or a postgresql:// URL"),
    "catalog.connect_timeout_seconds": _between(1, 3600, "seconds"),
    "catalog.dead_peer_seconds": _between(10, 86400, "seconds"),
    "server.max_body_bytes": _between(1_000, 1e12, "bytes"),
    "server.sync_max_bytes": _between(1_000, 1e12, "bytes"),
    "server.sync_wait_seconds": _between(0, 86400, "seconds"),
    "server.path_roots": ((lambda v: all(isinstance(p, str) and p.strip() and "\0" not in p for p in v)), "must list folder names"),
    "server.object_url_prefixes": ((lambda v: all(isinstance(p, str) and re.match(r"^https?://[^/?#]+/", p)
                                                  for p in v)), "must list http(s) URLs, each with a host and a path"),
    "server.object_fetch_seconds": _between(1, 86400, "seconds"),
    "server.webhook_url_prefixes": ((lambda v: all(isinstance(p, str) and re.match(r"^https?://[^/?#]+/", p)
                                                   for p in v)), "must list http(s) URLs, each with a host and a path"),
    "server.session_hours": _between(0.01, 24 * 30, "hours"),
    "server.workers": _between(1, 64, "workers"),
    "server.job_workers": _between(1, 64, "workers"),
    "server.job_max_attempts": _between(1, 100, "attempts"),
    "server.webhook_max_attempts": _between(1, 100, "attempts"),
    "server.webhook_backoff_seconds": _between(0, 86400, "seconds"),
    "server.webhook_timeout_seconds": _between(0.1, 600, "seconds"),
    "evidence.segments_per_reference": _between(1, 50, "segments"),
    "evidence.frames_per_segment": _between(1, 12, "frames"),
    "evidence.excerpt_max_seconds": _between(1, 120, "seconds"),
    "evidence.excerpt_sample_rate": _between(8000, 48000, "Hz"),
}


def _checks() -> dict[str, tuple]:
    """The range check of every key: the general ones, then each registered signal's (its align
    section's keys, then what it declares)."""
    out = dict(_GENERAL_CHECKS)
    for signal in REGISTRY:
        if signal.match_kind == "align":
            out.update({f"match.{signal.name}.{k}": check for k, check in _ALIGN.items()})
        out.update(signal.checks)
    return out


# (the built-in signals' checks as well: a test keeps every numeric key of default.toml listed)
_CHECKS = _checks()


def _votes_per_hit(r: dict, signal) -> int:
    """Cells of the aligner's (speed, offset bin) vote grid one hit of ``signal`` fills."""
    m = r["match"][signal.name]
    return _grid_points(m["min_speed"], m["max_speed"], m["speed_step"]) * (
        int(signal.code_seconds(r) // m["offset_bin_seconds"]) + 2)


def _grid_points(lo: float, hi: float, step: float) -> int:
    """Points of the grid lo, lo + step, ... hi (as ``AlignParams.speeds`` spaces it)."""
    return int(round((hi - lo) / step)) + 1 if step > 0 and hi >= lo else 1


def _align_cross_checks(signal) -> tuple:
    """Checks across the keys of an align section (a searched signal's bound its vote grid and
    readings; ``[match.window]`` searches only +- match.cut.speed_tolerance)."""
    sig = signal.name
    out = [(f"match.{sig}.max_speed", lambda r: r["match"][sig]["max_speed"] >= r["match"][sig]["min_speed"],
            "must be at least min_speed")]
    if signal.searched:
        out += [
            (f"match.{sig}.offset_bin_seconds", lambda r: _votes_per_hit(r, signal) <= MAX_VOTES_PER_HIT,
             f"is too small for this speed grid: each hit would vote in more than {MAX_VOTES_PER_HIT} (speed, offset) "
             "cells (speeds tried x offset bins a code spans); use a coarser speed_step or wider bins"),
            (f"match.{sig}.change_max_seconds", lambda r: r["match"][sig]["change_max_seconds"]
             <= 10 * r["match"][sig]["change_seconds"], "must be at most 10 x change_seconds (each multiple is a "
             "reading of every segment)"),
            (f"match.{sig}.review_specificity", lambda r: r["match"][sig]["review_specificity"] == 0
             or r["match"][sig]["review_specificity"] >= r["match"][sig]["min_specificity"],
             "must be 0 (off) or at least min_specificity"),
        ]
    return tuple(out)


# Checks across keys: (key reported, test over the whole raw config, why). The general ones; each
# signal declares its own (``Signal.cross_checks``), and its align section gets ``_align_cross_checks``.
_GENERAL_CROSS_CHECKS = (
    ("index.nprobe", lambda r: r["index"]["nprobe"] <= r["index"]["nlist"], "must be at most nlist"),
    ("server.sync_max_bytes", lambda r: r["server"]["sync_max_bytes"] <= r["server"]["max_body_bytes"],
     "must be at most max_body_bytes"),
    ("match.window_overlap_seconds", lambda r: r["match"]["window_seconds"] == 0
     or r["match"]["window_overlap_seconds"] <= r["match"]["window_seconds"] / 2,
     "must be at most half of window_seconds (a window's hits are its own seconds and the overlap on both sides)"),
)


def _cross_checks() -> tuple:
    out = list(_GENERAL_CROSS_CHECKS)
    for signal in REGISTRY:
        out += signal.cross_checks
        if signal.match_kind == "align":
            out += _align_cross_checks(signal)
    return tuple(out)


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
    for key, (test, why) in _checks().items():
        value: Any = raw
        for part in key.split("."):
            value = value[part]
        if not test(value):
            raise _Bad(key, f"{why}, got {value!r}")
    _check_grids(raw)
    for key, test, why in _cross_checks():
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


_FINGERPRINT_FIELDS = frozenset(f.name for f in dataclasses.fields(FingerprintParams)) - {"extra"}


def _defaults() -> dict:
    """``default.toml``, plus the sections of registered signals it does not list, from their
    declarations (``settings_type()``'s values; ``AlignParams()``'s with ``match_defaults``)."""
    raw = tomllib.loads(default_toml())
    for sig in REGISTRY:
        if sig.settings_type is not None and sig.name not in raw["fingerprint"]:
            raw["fingerprint"][sig.name] = _toml_table(sig.settings_type())
        if sig.match_kind and sig.name not in raw["match"]:
            raw["match"][sig.name] = {**_toml_table(_MATCH_KINDS[sig.match_kind]()), **sig.match_defaults}
    return raw


def _toml_table(settings) -> dict:
    """A settings dataclass as the table TOML would give (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(settings).items()}


def load_config(path: str | Path | None = None) -> Config:
    """Defaults merged with the TOML file at ``path`` (if given and present)."""
    raw = _defaults()
    try:
        if path is not None:
            raw = _merge(raw, _read_toml(Path(path)))
        _check_values(raw)
    except _Bad as exc:
        raise ConfigError(f"{path or 'defaults'}: {exc.key}: {exc.why}") from exc
    fp, m = raw["fingerprint"], raw["match"]
    settings = {sig.name: _build(sig.settings_type, fp[sig.name]) for sig in REGISTRY if sig.settings_type}
    fingerprint = _build(
        FingerprintParams, fp,
        decode=_build(DecodeParams, fp["decode"]),
        limits=_build(LimitParams, fp["limits"]),
        accept=_build(AcceptParams, fp["accept"]),
        stereo=_build(StereoParams, fp["stereo"]),
        **{name: value for name, value in settings.items() if name in _FINGERPRINT_FIELDS},
        extra=tuple((name, value) for name, value in settings.items() if name not in _FINGERPRINT_FIELDS),
    )
    sections = {sig.name: _build(_MATCH_KINDS[sig.match_kind], m[sig.name]) for sig in REGISTRY if sig.match_kind}
    verifier = next((sig for sig in REGISTRY if sig.verifies_quotes), None)  # [match.<signal>.verify]
    verify = _build(ConstellationParams, m[verifier.name]["verify"]) if verifier else ConstellationParams()
    match = _build(MatchParams, m, verify=verify,
                   **{name: value for name, value in sections.items() if name in _MATCH_FIELDS},
                   extra=tuple((name, value) for name, value in sections.items() if name not in _MATCH_FIELDS))
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
        server=_build(ServerParams, raw["server"]),
        evidence=_build(EvidenceParams, raw["evidence"]),
    )
