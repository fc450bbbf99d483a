"""Typed records that cross the storage seam (stores return them, the engine and workflow read them)."""

from __future__ import annotations

from dataclasses import dataclass

from fingerprint import Fingerprint


@dataclass(frozen=True)
class Work:
    """A registered work; ``rules``: its own rules as stored (dicts), ``priority``: stricter thresholds."""

    work_id: str
    title: str
    owner: str
    created_at: str
    rules: list
    priority: bool = False


@dataclass(frozen=True)
class Reference:
    """One registered file of a work. duration in seconds."""

    ref_id: int
    work_id: str
    path: str
    sha256: str
    md5: str
    size: int
    duration: float
    has_video: bool
    has_audio: bool
    kind: str = "original"
    span: tuple[float, float] | None = None  # reference seconds whose codes it keeps (None: all)
    modalities: tuple[str, ...] = ("video", "audio")  # the modalities whose codes it keeps


@dataclass(frozen=True)
class NewReference:
    """A reference about to be stored, with its fingerprints."""

    path: str
    sha256: str
    md5: str
    size: int
    duration: float
    has_video: bool
    has_audio: bool
    fingerprints: tuple[Fingerprint, ...]
    kind: str = "original"  # "original" (registered by the owner) or "notice" (a noticed upload variant)
    span: tuple[float, float] | None = None  # the seconds ``fingerprints`` were cut to (None: all)
    modalities: tuple[str, ...] = ("video", "audio")  # the modalities ``fingerprints`` were cut to


@dataclass(frozen=True)
class UploadWork:
    """What one screened upload shares with one work, as the decision recorded it (table ``upload_works``).

    outcome: the work's own outcome in the decision (allow, review, block, mute-audio, track; None for an
    upload without a decision). matched_seconds: upload seconds matched (s); upload_coverage and
    reference_coverage: shares 0..1; method: how it was found ("digest" for a byte-identical file).
    """

    upload_pk: int
    upload_id: str
    work_id: str
    outcome: str | None
    matched_seconds: float
    upload_coverage: float
    reference_coverage: float
    modality: str
    method: str


def upload_works_of(upload_pk: int, upload_id: str, result: dict) -> list[UploadWork]:
    """The per-work rows of one screening result (the JSON document ``ScreenResult.as_dict`` makes):
    one per matched work (the first match of a work when it is listed twice)."""
    outcomes = {w["work_id"]: w.get("outcome") for w in result.get("works") or []}
    rows: dict[str, UploadWork] = {}
    for m in result.get("matches") or []:
        rows.setdefault(m["work_id"], UploadWork(
            upload_pk, upload_id, m["work_id"], outcomes.get(m["work_id"]), float(m.get("matched_seconds") or 0.0),
            float(m.get("upload_coverage") or 0.0), float(m.get("reference_coverage") or 0.0),
            m.get("modality") or "", m.get("method") or ""))
    return list(rows.values())


class CatalogError(Exception):
    """A catalog operation that cannot be done (unknown work, duplicate id, a catalog that cannot be opened...).

    ``kind`` names the application layer's error class (service/errors.py): ``unavailable`` (the
    default: the catalog cannot be opened, read or written), ``not_found``, ``conflict`` or
    ``invalid_input``; ``usage``: the caller named the wrong catalog (a front end's usage error)."""

    def __init__(self, message: str, kind: str = "unavailable", usage: bool = False):
        super().__init__(message)
        self.kind = kind
        self.usage = usage
