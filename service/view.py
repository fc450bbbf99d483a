"""The JSON document of a screening (``prescreen screen --json``, one JSON line per upload): a versioned
view built from the typed rows a decision is stored as (:class:`storage.StoredUpload`), never stored
itself. Changing a field here needs no storage migration; a change to a field's meaning, or a field
removed, bumps :data:`VIEW_FORMAT` (fields may be added without a bump). Figures are rounded for display
here (``match.types``: seconds to 0.01, shares to 0.0001...); the stored rows keep full precision.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Protocol

from match import Segment, WorkMatch
from policy import Decision, WorkDecision
from storage import StoredUpload, UploadRecord, UploadSegment, UploadWork

VIEW_FORMAT = 1  # the document's "format"


class _Screening(Protocol):  # (service.engine.ScreenResult: what a screening found)
    status: str
    error: str | None
    error_code: str | None
    decision: Decision | None
    matches: list[WorkMatch]
    duration: float | None
    sha256: str | None
    warnings: list[str]
    upload_pk: int | None
    upload_id: str | None
    uploader_id: str | None
    declared_use: str | None
    review_id: int | None
    streams: list[dict]


def stored_from(result: _Screening, path: str = "", screened_at: str = "", config_version: str | None = None,
                size: int | None = None) -> StoredUpload:
    """A screening's typed rows, as they are stored (ids as far as known): the upload, one row per matched
    work (the first match of a work listed twice) with its own outcome, every segment at full precision."""
    d = result.decision
    outcomes = {w.work_id: w for w in d.works} if d else {}
    pk, uid = result.upload_pk or 0, result.upload_id or ""
    works: list[UploadWork] = []
    segments: list[UploadSegment] = []
    for m in result.matches:
        if any(w.work_id == m.work_id for w in works):
            continue
        w = outcomes.get(m.work_id)
        works.append(UploadWork(pk, uid, m.work_id, w.outcome if w else None, m.matched_seconds, m.upload_coverage,
                                m.reference_coverage, m.modality, m.method, len(works), w.rule if w else None,
                                w.band if w else None, m.score, tuple(m.signals), m.background,
                                dict(m.modality_seconds)))
        segments += [UploadSegment(pk, uid, m.work_id, len(segments) + i, **asdict(s)) for i, s in enumerate(m.segments)]
    record = UploadRecord(
        result.upload_pk, result.upload_id, result.uploader_id, result.declared_use, path, result.sha256, size,
        screened_at, result.status, result.error, result.error_code, d.outcome if d else None, d.rule if d else None,
        tuple(d.reasons) if d else (), result.duration, result.review_id, tuple(result.warnings),
        tuple(dict(s) for s in result.streams), d.outcome if d else None, "system", screened_at, config_version)
    return StoredUpload(record, tuple(works), tuple(segments))


def segment_of(s: UploadSegment) -> Segment:
    """The matcher's segment a stored row holds (the same floats, bit for bit)."""
    return Segment(**s.segment_fields())


def work_matches(stored: StoredUpload) -> list[WorkMatch]:
    """The per-work matches of a stored decision, in its order, with their segments at full precision."""
    return [WorkMatch(w.work_id, w.modality, tuple(segment_of(s) for s in stored.segments_of(w.work_id)),
                      w.matched_seconds, w.upload_coverage, w.reference_coverage, w.score, dict(w.modality_seconds),
                      w.method, tuple(w.signals), w.background) for w in stored.works]


def decision_of(stored: StoredUpload) -> Decision | None:
    """The stored decision (its works: those with an outcome now, each with its rule and band)."""
    r = stored.record
    if not r.decision:
        return None
    works = tuple(WorkDecision(w.work_id, w.outcome, w.rule or "", w.band or "", ()) for w in stored.works
                  if w.outcome is not None)
    return Decision(r.decision, r.rule or "", tuple(r.reasons), works)


def result_view(stored: StoredUpload, upload: str, timings: dict[str, float] | None = None,
                already_screened_at: str | None = None) -> dict:
    """The JSON document of one screening (format :data:`VIEW_FORMAT`; the fields are listed in the README's
    JSON section). upload: the file's name as given; timings: seconds per stage of this run (none for a
    stored result); already_screened_at: when an earlier screening of these bytes was stored."""
    r = stored.record
    return {
        "format": VIEW_FORMAT,
        "upload": upload,
        "upload_id": r.upload_id,
        "uploader_id": r.uploader_id,
        "declared_use": r.declared_use,
        "status": r.status,
        "error": r.error,
        "error_code": r.error_code,
        "decision": r.decision,
        "rule": r.rule if r.decision else None,
        "reasons": list(r.reasons) if r.decision else [],
        "matches": [m.as_dict() for m in work_matches(stored)],
        "duration": round(r.duration, 3) if r.duration is not None else None,
        "sha256": r.sha256,
        "review_id": r.review_id,
        "works": [{"work_id": w.work_id, "outcome": w.outcome, "rule": w.rule, "band": w.band}
                  for w in stored.works if w.outcome is not None] if r.decision else [],
        "already_screened_at": already_screened_at,
        "warnings": list(r.warnings),
        "streams": [dict(s) for s in r.streams],
        "timings": {k: round(v, 4) for k, v in (timings or {}).items()},
    }
