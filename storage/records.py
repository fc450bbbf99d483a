"""Typed records that cross the storage seam (stores return them, the engine and workflow read them)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from numbers import Integral

from fingerprint import Fingerprint

from .schema import (SEGMENT_FIELDS, UPLOAD_JSON_COLUMNS, UPLOAD_SEGMENT_COLUMNS, UPLOAD_TYPED_COLUMNS,
                     UPLOAD_WORK_COLUMNS, UPLOAD_WORK_JSON_COLUMNS)


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
    upload without a decision, or a work a re-decision no longer found); rule, band: why (policy's names).
    matched_seconds: upload seconds matched (s); upload_coverage and reference_coverage: shares 0..1; score
    0..1; method: how it was found ("digest" for a byte-identical file); seq: the match's place in the
    upload's list; signals: the fingerprints that found it; background: "", "partly" or "only";
    modality_seconds: {modality: matched seconds}. Full precision (no display rounding).
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
    seq: int = 0
    rule: str | None = None
    band: str | None = None
    score: float = 0.0
    signals: tuple[str, ...] = ()
    background: str = ""
    modality_seconds: dict = field(default_factory=dict)

    def row(self) -> tuple:
        """The stored row (``schema.UPLOAD_WORK_COLUMNS``); ValueError for a number that is not finite."""
        return tuple(_column(getattr(self, c), c in UPLOAD_WORK_JSON_COLUMNS) for c in UPLOAD_WORK_COLUMNS)

    @classmethod
    def from_row(cls, row) -> "UploadWork":
        values = {c: row[c] for c in UPLOAD_WORK_COLUMNS}
        values["signals"] = tuple(json.loads(values["signals"]))
        values["modality_seconds"] = json.loads(values["modality_seconds"])
        return cls(**values)


@dataclass(frozen=True)
class UploadSegment:
    """One matched segment of an upload (table ``upload_segments``): every field of ``match.types.Segment``
    (seconds on both timelines, speed, similarity, ... with its defaults), at full precision, plus the
    work it belongs to and ``seq``, its place in the upload (by match, then as the match lists them)."""

    upload_pk: int
    upload_id: str
    work_id: str
    seq: int
    ref_id: int
    modality: str
    upload_start: float
    upload_end: float
    ref_start: float
    ref_end: float
    speed: float
    similarity: float
    mean_distance: float
    hits: int
    density: float
    changes: int
    clean_share: float = 1.0
    altered_share: float = 0.0
    signal: str = ""
    stream: str = ""
    rendition: str = ""
    specificity: float = 1.0
    background: str = ""

    def row(self) -> tuple:
        """The stored row (``schema.UPLOAD_SEGMENT_COLUMNS``); ValueError for a number that is not finite."""
        return tuple(_column(getattr(self, c)) for c in UPLOAD_SEGMENT_COLUMNS)

    def segment_fields(self) -> dict:
        """The ``match.types.Segment`` fields, by name."""
        return {f: getattr(self, f) for f in SEGMENT_FIELDS}

    @classmethod
    def from_row(cls, row) -> "UploadSegment":
        return cls(**{c: row[c] for c in UPLOAD_SEGMENT_COLUMNS})


@dataclass(frozen=True)
class UploadRecord:
    """One screened upload (a row of ``uploads``), typed.

    status ok or error; error_code media, internal, unfinished or busy; decision, rule, reasons: the
    screening's decision (None, None, () without one); outcome: the current outcome, set by ``outcome_by``
    (system, review, dispute, notice, expiry, release) at ``outcome_at``; duration: the upload's seconds
    (full precision); review_id: the screening review it opened; warnings: damage worked around; streams:
    the streams read ({label, codec, ...}). Times ISO 8601 (UTC). ``upload_id`` of a record not yet stored
    is the id asked for (None: one is made).
    """

    upload_pk: int | None
    upload_id: str | None
    uploader_id: str | None
    declared_use: str | None
    path: str
    sha256: str | None
    size: int | None
    screened_at: str
    status: str
    error: str | None
    error_code: str | None
    decision: str | None
    rule: str | None
    reasons: tuple[str, ...]
    duration: float | None
    review_id: int | None
    warnings: tuple[str, ...]
    streams: tuple[dict, ...]
    outcome: str | None
    outcome_by: str | None = None
    outcome_at: str | None = None
    config_version: str | None = None

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(reasons=list(self.reasons), warnings=list(self.warnings), streams=[dict(s) for s in self.streams])
        return d

    def typed_row(self) -> tuple:
        """Its ``schema.UPLOAD_TYPED_COLUMNS`` as stored; ValueError for a number that is not finite."""
        return tuple(_column(getattr(self, c), c in UPLOAD_JSON_COLUMNS) for c in UPLOAD_TYPED_COLUMNS)

    @classmethod
    def from_row(cls, row) -> "UploadRecord":
        values = {f.name: row[f.name] for f in fields(cls)}
        for c in UPLOAD_JSON_COLUMNS:
            values[c] = tuple(json.loads(values[c]))
        return cls(**values)


@dataclass(frozen=True)
class StoredUpload:
    """An upload's whole stored decision: its row, its per-work rows (in match order) and its segments
    (in ``seq`` order). What re-decisions, reviews and the JSON view (``service.view``) are built from."""

    record: UploadRecord
    works: tuple[UploadWork, ...] = ()
    segments: tuple[UploadSegment, ...] = ()

    def segments_of(self, work_id: str) -> list[UploadSegment]:
        return [s for s in self.segments if s.work_id == work_id]


def _column(value, as_json: bool = False):
    """A value as a column stores it: JSON text, or a plain int / finite float / text (numpy scalars
    become Python's, bit for bit). ValueError for NaN or an infinity (as JSON refused them before)."""
    if as_json:
        return json.dumps(list(value) if isinstance(value, tuple) else value, allow_nan=False)
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, Integral):
        return int(value)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    return value


def typed_rows(record_typed: tuple, works, segments) -> list[list]:
    """The typed decision of one upload (its typed columns of uploads, its rows of upload_works and of
    upload_segments, each a tuple of column values as stored) as lists in a fixed order: what the audit
    digest covers and what a legacy document's rows are compared with (see :func:`legacy_decision`)."""
    return ([["uploads", *record_typed]] + [["upload_works", *w] for w in sorted(works, key=_row_order)]
            + [["upload_segments", *s] for s in sorted(segments, key=_row_order)])


def _row_order(row: tuple) -> tuple:
    return (row[3], str(row[2]))  # (seq, work_id): both tables' rows start with upload_pk, upload_id, work_id, seq


def legacy_decision(upload_pk: int, upload_id: str, result: str) -> tuple[tuple, list[UploadWork], list[UploadSegment]]:
    """The typed decision (typed columns of uploads, per-work rows, segments) that an upload stored before
    schema 5 carries in its JSON document ``result`` (``ScreenResult.as_dict`` of that prescreen: figures
    rounded for display, the best that is left of them). A document that cannot be read gives the columns'
    defaults and no rows. Used by the 4 -> 5 migration to fill the typed rows and by the audit digest to
    tell those rows from rows changed since (storage.audit_log)."""
    try:
        r = json.loads(result)
        outcomes = {w["work_id"]: w for w in r.get("works") or []}
        works: dict[str, UploadWork] = {}
        segments: list[UploadSegment] = []
        for m in r.get("matches") or []:
            if m["work_id"] in works:
                continue  # (the first match of a work listed twice, as schema 4's rows)
            w = outcomes.get(m["work_id"]) or {}
            works[m["work_id"]] = UploadWork(
                upload_pk, upload_id, m["work_id"], w.get("outcome"), float(m.get("matched_seconds") or 0.0),
                float(m.get("upload_coverage") or 0.0), float(m.get("reference_coverage") or 0.0),
                m.get("modality") or "", m.get("method") or "", len(works), w.get("rule"), w.get("band"),
                float(m.get("score") or 0.0), tuple(m.get("signals") or ()), m.get("background") or "",
                dict(m.get("modality_seconds") or {}))
            for s in m.get("segments") or []:
                known = {k: s[k] for k in SEGMENT_FIELDS if k in s}
                segments.append(UploadSegment(upload_pk, upload_id, m["work_id"], len(segments), **known))
        typed = {"error_code": r.get("error_code"), "rule": r.get("rule"), "reasons": tuple(r.get("reasons") or ()),
                 "duration": r.get("duration"), "review_id": r.get("review_id"),
                 "warnings": tuple(r.get("warnings") or ()), "streams": tuple(r.get("streams") or ())}
        record_typed = tuple(_column(typed[c], c in UPLOAD_JSON_COLUMNS) for c in UPLOAD_TYPED_COLUMNS)
        return record_typed, list(works.values()), segments
    except (ValueError, TypeError, KeyError, AttributeError):
        return (None, None, "[]", None, None, "[]", "[]"), [], []


class CatalogError(Exception):
    """A catalog operation that cannot be done (unknown work, duplicate id, a catalog that cannot be opened...).

    ``kind`` names the application layer's error class (service/errors.py): ``unavailable`` (the
    default: the catalog cannot be opened, read or written), ``not_found``, ``conflict`` or
    ``invalid_input``; ``usage``: the caller named the wrong catalog (a front end's usage error)."""

    def __init__(self, message: str, kind: str = "unavailable", usage: bool = False):
        super().__init__(message)
        self.kind = kind
        self.usage = usage
