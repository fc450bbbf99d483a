"""The TOML configuration: defaults in ``default.toml``, overridden by a user file.

Unknown keys are errors (a misspelt threshold must not be silently ignored).
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

from fingerprint import AudioParams, FingerprintParams, VideoParams
from index import IndexParams
from match import AlignParams
from policy import FairUse, PolicyParams, Rule, Thresholds


class ConfigError(Exception):
    """The configuration file is unreadable or names unknown keys."""


@dataclass(frozen=True)
class MatchParams:
    """Per-signal search radius and alignment, and how segments merge."""

    offset_tolerance: float
    video: AlignParams
    audio: AlignParams


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


def _merge(base: dict, override: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        path = f"{where}{key}"
        if key not in base:
            raise ConfigError(f"unknown configuration key '{path}'")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"'{path}' must be a table")
            out[key] = _merge(base[key], value, path + ".")
        else:
            out[key] = value
    return out


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
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {path} is not valid TOML: {exc}") from exc
        raw = _merge(raw, user)
    fp, m = raw["fingerprint"], raw["match"]
    fingerprint = _build(
        FingerprintParams, fp,
        video=_build(VideoParams, fp["video"]),
        audio=_build(AudioParams, fp["audio"]),
    )
    match = _build(MatchParams, m, video=_build(AlignParams, m["video"]), audio=_build(AlignParams, m["audio"]))
    pol = raw["policy"]
    try:
        policy = PolicyParams(
            thresholds=_build(Thresholds, pol),
            priority=_build(Thresholds, pol["priority"]),
            fair_use=_build(FairUse, pol["fair_use"]),
            rules=tuple(Rule.from_dict(r) for r in pol["rules"]),
        )
        workflow = _build(WorkflowParams, raw["workflow"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid policy or workflow settings: {exc}") from exc
    if workflow.review_expiry_outcome not in ("allow", "block", "mute-audio", "track"):
        raise ConfigError("workflow.review_expiry_outcome must be allow, block, mute-audio or track")
    if workflow.dispute_expiry_outcome not in ("released", "upheld"):
        raise ConfigError("workflow.dispute_expiry_outcome must be released or upheld")
    return Config(
        fingerprint=fingerprint,
        index=_build(IndexParams, raw["index"]),
        match=match,
        policy=policy,
        workflow=workflow,
        raw=raw,
    )
