"""The application layer: every use case of prescreen in one place, for every front end.

The CLI (cli.py), and the HTTP service and cluster workers to come, call only this module. Each
use case is one method of :class:`App`; it returns a typed record (a frozen dataclass whose
``as_dict()`` is the documented JSON) and fails with one error of :mod:`service.errors` (not found,
conflict, invalid input, forbidden, unavailable), whatever went wrong below. The clock is passed
in (``App.open(..., clock=...)``); nothing here reads the environment.

Who calls whom::

    cli.py / HTTP service        parse, call one use case, print or serialise the record
        -> service.app.App       use cases, typed records, the error hierarchy
            -> service.engine.Prescreen   registration, screening, re-decisions, index freshness
            -> workflow.Workflow          reviews, disputes, strikes, notices, audit chain
            -> index.Catalog              the stored works, references and uploads
                -> fingerprint, match, policy   pure functions over arrays and records

Why a layer of its own: a rule that re-decides earlier uploads (a new exclusion, a rule change, a
removal) must run the same way from every front end; so must the safety rule that a data folder
with no catalog is never screened against, and the expiry of review deadlines before a queue or
an outcome is read.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from policy import UploadContext

from .config import Config, load_config
from .engine import (
    CATALOG_FILE, Clock, Prescreen, RegisterResult, ScreenResult, expand_paths, resolve_home, system_clock,
)
from .errors import ERROR_CLASSES, INVALID, Conflict, InvalidInput, NotFound, PrescreenError, Unavailable
from .processes import describe_holder, write_lock_holder
from .view import work_matches

__all__ = [
    "App", "AuditCheck", "AuditRecord", "Claim", "DisputeFiled", "JobRecord", "KeyCreated", "KeyRecord", "ExclusionChange", "ExclusionRemoved", "IndexStats",
    "LicenceChange", "NoticeResult", "PriorityChange", "QueueEntry", "Release", "Removal", "Report", "ReviewEvidence",
    "ReviewRecord", "RulesChange", "UploadRow", "UploadStatus", "UploaderRecord", "WorkDetails", "WorkSummary",
    "translated",
]


# -- errors: the lower layers' exceptions as the application's ---------------------------------
@contextlib.contextmanager
def translated(home: Path | None = None) -> Iterator[None]:
    """Run a use case, turning every expected failure of the layers below into a
    :class:`~service.errors.PrescreenError` (the lower exception is kept as ``__cause__``).

    Lower exceptions say their kind with a ``kind`` attribute (service/errors.py); SQLite errors are
    the catalog being unavailable (with the write lock's holder, when another process has it).
    Anything else is a bug and passes through unchanged."""
    try:
        yield
    except PrescreenError:
        raise
    except sqlite3.Error as exc:  # (PostgreSQL's errors arrive as storage.DatabaseError: a CatalogError)
        from storage import describe_sqlite_error

        where = f"{home / CATALOG_FILE}: " if home else ""
        holder = write_lock_holder(home) if home else None
        raise Unavailable(f"{where}{describe_sqlite_error(exc)}"
                          + (f" (the write lock is held by {describe_holder(holder)})" if holder else "")) from exc
    except Exception as exc:
        kind = getattr(exc, "kind", None)
        if kind not in ERROR_CLASSES:
            raise
        details = {"failures": exc.failures} if getattr(exc, "failures", None) else None
        raise ERROR_CLASSES[kind](str(exc), details=details, usage=kind == INVALID and _usage(exc)) from exc


def _usage(exc: Exception) -> bool:
    """A mistake in how prescreen was called (a setting, a data folder that is not one): exit 2."""
    from .config import ConfigError
    from .manifest import ManifestError

    return isinstance(exc, (ConfigError, ManifestError)) or bool(getattr(exc, "usage", False))


# -- records --------------------------------------------------------------------------------
class _Record:
    """A frozen dataclass with ``as_dict()`` (its JSON form) and ``from_row`` (from a stored row,
    keeping only the record's fields)."""

    def as_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_row(cls, row: Mapping, **extra):
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in {**row, **extra}.items() if k in names})


@dataclass(frozen=True)
class WorkSummary(_Record):
    """One registered work: its reference files, seconds and codes per signal."""

    work_id: str
    title: str
    owner: str
    created_at: str
    refs: int
    seconds: float
    codes: dict[str, int]  # signal name -> stored codes

    @classmethod
    def from_summary(cls, row: Mapping) -> "WorkSummary":
        codes = {k[:-len("_codes")]: int(v) for k, v in row.items() if k.endswith("_codes")}
        return cls(row["work_id"], row["title"], row["owner"], row["created_at"], int(row["refs"]),
                   float(row["seconds"]), codes)

    def as_dict(self) -> dict:
        """The listing's JSON: one ``<signal>_codes`` count per signal."""
        out = {k: v for k, v in asdict(self).items() if k != "codes"}
        return {**out, **{f"{signal}_codes": n for signal, n in self.codes.items()}}


@dataclass(frozen=True)
class WorkDetails(_Record):
    """A work's files, rules, priority, licensed uploaders and exclusions (reference seconds)."""

    work_id: str
    title: str
    owner: str
    priority: bool
    rules: list[dict]
    licensed_uploaders: list[str]
    exclusions: list[dict]  # {exclusion_id, work_id, ref_id (None: every original file), start, end, reason, ...}
    references: list[dict]  # {ref_id, path, seconds, kind (original or notice)}


@dataclass(frozen=True)
class Release(_Record):
    """An upload whose automatic outcome was lightened by a change to a work (``from`` -> ``to``)."""

    upload_id: str
    from_outcome: str
    to_outcome: str

    @classmethod
    def from_engine(cls, row: Mapping) -> "Release":
        return cls(row["upload_id"], row["from"], row["to"])

    def as_dict(self) -> dict:
        return {"upload_id": self.upload_id, "from": self.from_outcome, "to": self.to_outcome}


def _releases(rows: Iterable[Mapping]) -> tuple[Release, ...]:
    return tuple(Release.from_engine(r) for r in rows)


@dataclass(frozen=True)
class Removal(_Record):
    """A removed work: its reference ids, the uploads released and the pending reviews withdrawn."""

    work_id: str
    removed_refs: list[int]
    released: tuple[Release, ...]
    withdrawn_reviews: list[int]
    warnings: list[str]

    def as_dict(self) -> dict:
        return {"status": "ok", "work_id": self.work_id, "removed_refs": self.removed_refs,
                "released": [r.as_dict() for r in self.released], "withdrawn_reviews": self.withdrawn_reviews,
                "warnings": self.warnings}


@dataclass(frozen=True)
class RulesChange(_Record):
    work_id: str
    rules: list[dict]
    released: tuple[Release, ...]

    def as_dict(self) -> dict:
        return {"work_id": self.work_id, "rules": self.rules, "released": [r.as_dict() for r in self.released]}


@dataclass(frozen=True)
class PriorityChange(_Record):
    work_id: str
    priority: bool


@dataclass(frozen=True)
class LicenceChange(_Record):
    work_id: str
    uploader_id: str
    licensed: bool


@dataclass(frozen=True)
class ExclusionChange(_Record):
    """A new exclusion (reference seconds ``start``-``end``) and the decisions it released."""

    exclusion_id: int
    work_id: str
    start: float
    end: float
    ref_id: int | None
    released: tuple[Release, ...]

    def as_dict(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "released"},
                "released": [r.as_dict() for r in self.released]}


@dataclass(frozen=True)
class ExclusionRemoved(_Record):
    exclusion_id: int
    work_id: str
    ref_id: int | None
    start: float
    end: float
    reason: str


@dataclass(frozen=True)
class NoticeResult(_Record):
    """A takedown notice: the noticed file joined the work as reference ``ref_id``."""

    notice_id: int
    work_id: str
    upload_id: str | None
    ref_id: int
    path: str
    span: list[float] | None  # upload seconds kept (None: all)
    modalities: list[str]


@dataclass(frozen=True)
class UploadRow(_Record):
    """One screened upload in a listing: the screening's decision and the current outcome (who set it)."""

    upload_pk: int
    upload_id: str
    uploader_id: str | None
    declared_use: str | None
    path: str
    screened_at: str
    status: str
    error: str | None
    decision: str | None
    outcome: str | None
    outcome_by: str | None
    outcome_at: str | None


@dataclass(frozen=True)
class UploadStatus(_Record):
    """One upload: current outcome, the screening's reasons, matched works and segments (seconds on
    both timelines), its reviews and disputes, and its audit history."""

    upload_pk: int
    upload_id: str
    uploader_id: str | None
    declared_use: str | None
    path: str
    sha256: str | None
    size: int | None
    screened_at: str
    status: str
    error: str | None
    decision: str | None
    outcome: str | None
    outcome_by: str | None
    outcome_at: str | None
    config_version: str | None
    duration: float | None
    rule: str | None
    reasons: list[str]
    works: list[dict]
    matches: list[dict]
    streams: list[dict]
    reviews: list[dict]
    disputes: list[dict]
    audit: list[dict]


@dataclass(frozen=True)
class ReviewRecord(_Record):
    """A review: a screening decision in the review band, or a dispute; ``due_at`` its deadline."""

    review_id: int
    upload_id: str
    kind: str  # screening or dispute
    status: str  # pending, decided, expired, withdrawn
    created_at: str
    due_at: str
    reviewer: str | None
    outcome: str | None  # the reviewer's (or the deadline's) outcome
    note: str | None
    decided_at: str | None
    dispute_id: int | None


@dataclass(frozen=True)
class QueueEntry(ReviewRecord):
    """A review in the queue, with its upload's file, uploader and automatic decision."""

    path: str
    uploader_id: str | None
    decision: str | None


@dataclass(frozen=True)
class ReviewEvidence(_Record):
    """What a reviewer needs: the review, the upload, the screening's reasons, the dispute, and per
    matched reference its segments with side-by-side key-frame thumbnails (PNG paths)."""

    review: ReviewRecord
    upload: dict
    reasons: list[str]
    dispute: dict | None
    # per matched reference: {work_id, ref_id, reference, reference_duration, modality, segments (each with
    # its "thumbnail" and "audio" files, or None), thumbnails (paths), audio ({segment number, upload,
    # reference, spectrogram})}
    evidence: list[dict]


@dataclass(frozen=True)
class DisputeFiled(_Record):
    dispute_id: int
    review_id: int
    due_at: str


@dataclass(frozen=True)
class UploaderRecord(_Record):
    uploader_id: str
    uploads: list[dict]
    strikes: list[dict]
    active_strikes: int
    repeat_infringer: bool


@dataclass(frozen=True)
class AuditRecord(_Record):
    audit_id: int
    at: str
    actor: str
    action: str
    upload_id: str | None
    work_id: str | None
    work_ids: list[str]
    config_version: str | None
    evidence: dict
    prev_hash: str | None  # the chain: the record before's MAC, this record's MAC (HMAC-SHA-256)
    hash: str | None
    state: str | None  # JSON {row group: digest} sealed by this record (the last of its transaction)


@dataclass(frozen=True)
class AuditCheck(_Record):
    """The keyed chain checked: ``head`` (``<records>:<MAC>``) to keep elsewhere; problems found."""

    records: int
    head: str
    problems: list[str]


@dataclass(frozen=True)
class IndexStats(_Record):
    """Per signal: codes, bits, search kind, FAISS type, bytes; the catalog's counts."""

    home: str
    works: int
    references: int
    uploads_screened: int
    generation: int
    kind: str
    signals: dict[str, dict]
    ivf_min_codes: int | None = None

    def as_dict(self) -> dict:
        out = asdict(self)
        if self.ivf_min_codes is None:
            del out["ivf_min_codes"]
        return out


@dataclass(frozen=True)
class Report(_Record):
    """The transparency report (see Workflow.report) and the path of its chart."""

    figures: dict
    chart: str

    def as_dict(self) -> dict:
        return {**self.figures, "chart": self.chart}


@dataclass(frozen=True)
class KeyRecord(_Record):
    """An API key of the HTTP service (never its secret): ``name`` is the actor its writes are audited as."""

    name: str
    role: str
    subject: str | None  # a rights holder's owner, an uploader's uploader id
    prefix: str
    created_at: str
    created_by: str
    revoked_at: str | None


@dataclass(frozen=True)
class KeyCreated(_Record):
    """A new key and, once only, the key itself (``key``: shown now, stored as its SHA-256)."""

    key: str
    record: KeyRecord


@dataclass(frozen=True)
class JobRecord(_Record):
    """A screening job: queued -> running -> done (``result``: the upload's decision) or failed
    (``error``); ``attempts`` counts the runs (a server killed mid-job runs it again on restart)."""

    job_id: str
    status: str
    submitted_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    attempts: int
    upload_id: str | None
    error: str | None
    context: dict
    webhook_url: str | None
    webhook_status: str | None
    webhook_attempts: int
    webhook_error: str | None
    result: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)


# What a job's result and its webhook carry of the upload's status (not its audit history)
RESULT_FIELDS = ("upload_id", "uploader_id", "declared_use", "status", "error", "decision", "outcome", "outcome_by",
                 "duration", "rule", "reasons", "works", "matches", "streams", "sha256", "screened_at")


@dataclass(frozen=True)
class Claim(_Record):
    """An upload's match on a work, as its rights holder sees it: the outcome, the matched seconds and
    the segments on both timelines (never the upload's other works)."""

    upload_id: str
    work_id: str
    outcome: str | None
    screened_at: str
    matched_seconds: float
    upload_coverage: float
    reference_coverage: float
    rule: str | None
    segments: list[dict]


# -- the use cases --------------------------------------------------------------------------
class App:
    """The use cases over one data folder (catalog, indexes, audit key).

    Open with :meth:`open`; close with ``with`` or :meth:`close`. ``actor`` is who acts (recorded in
    the audit log); the clock is the one given to ``open``."""

    def __init__(self, engine: Prescreen):
        self.engine = engine

    @classmethod
    def open(cls, home: str | os.PathLike | None = None, config: Config | str | os.PathLike | None = None, *,
             create: bool = False, check_format: bool = True, clock: Clock = system_clock,
             catalog: str | None = None) -> "App":
        """Open a data folder (and its catalog: the SQLite file in it, or the PostgreSQL database of
        ``catalog`` or the config's ``[catalog] url``).

        Only use cases that add works (``create=True``) may start a new catalog: a mistyped folder
        or URL must not become an empty catalog that allows every upload because it has nothing to
        compare with (InvalidInput, usage). ``check_format``: refuse a catalog whose reference codes
        were made with other fingerprint settings (Unavailable) — off only to refingerprint them."""
        folder = resolve_home(home)
        with translated(folder):
            if config is not None and not isinstance(config, Config):
                config = load_config(config)
            engine = Prescreen(folder, config, create=create, clock=clock, catalog=catalog)
            try:
                if check_format:
                    engine.check_format()
            except BaseException:
                engine.close()
                raise
        return cls(engine)

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> "App":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def home(self) -> Path:
        return self.engine.home

    def now(self) -> datetime:
        return self.engine.now()

    def _use(self):
        return translated(self.engine.home)

    def _expired(self) -> None:
        """Resolve reviews past their deadline first: a queue or an outcome read now is the deadline's."""
        self.engine.expire_due()

    # -- works ------------------------------------------------------------------------------
    def register(self, paths: Iterable[str | os.PathLike], work_id: str, title: str = "", owner: str = "", *,
                 rules: list[dict] | None = None, priority: bool | None = None, actor: str = "operator",
                 progress: Callable[[str], None] | None = None) -> RegisterResult:
        """Register the reference files of a work (new or existing): all or nothing. InvalidInput with
        ``details["failures"]`` (path -> why) when a file cannot be registered; Conflict when the work
        or the content is another owner's."""
        with self._use():
            return self.engine.register(paths, work_id, title, owner, progress=progress, rules=rules,
                                        priority=priority, actor=actor)

    def works(self) -> list[WorkSummary]:
        with self._use():
            return [WorkSummary.from_summary(r) for r in self.engine.catalog.work_summaries()]

    def work(self, work_id: str) -> WorkDetails:
        with self._use():
            work = self.engine.catalog.get_work(work_id)
            if work is None:
                raise NotFound(f"no work with id {work_id!r}")
            policy = self.engine.workflow.work_policies()[work_id]
            refs = [{"ref_id": r.ref_id, "path": r.path, "seconds": r.duration, "kind": r.kind}
                    for r in self.engine.catalog.references(work_id)]
            return WorkDetails(work.work_id, work.title, work.owner, work.priority, work.rules,
                               sorted(policy.licensed_uploaders), self.engine.workflow.exclusions(work_id), refs)

    def remove_work(self, work_id: str, actor: str = "operator") -> Removal:
        with self._use():
            res = self.engine.remove_work(work_id, actor=actor)
        return Removal(work_id, res["ref_ids"], _releases(res["released"]), res["withdrawn_reviews"],
                       res["warnings"])

    def set_rules(self, work_id: str, rules: list[dict], actor: str = "operator") -> RulesChange:
        """Replace the work's own rules ([] clears them); earlier automatic decisions they lighten are
        released."""
        with self._use():
            if self.engine.catalog.get_work(work_id) is None:
                raise NotFound(f"no work with id {work_id!r}")
            return RulesChange(work_id, rules, _releases(self.engine.set_rules(work_id, rules, actor=actor)))

    def set_priority(self, work_id: str, priority: bool, actor: str = "operator") -> PriorityChange:
        with self._use():
            self.engine.workflow.set_priority(self.now(), actor, work_id, priority)
        return PriorityChange(work_id, priority)

    def license(self, work_id: str, uploader_id: str, granted: bool = True, actor: str = "operator") -> LicenceChange:
        with self._use():
            self.engine.workflow.license(self.now(), actor, work_id, uploader_id, granted=granted)
        return LicenceChange(work_id, uploader_id, granted)

    def exclude(self, work_id: str, start: float, end: float, reason: str, actor: str = "operator",
                ref_id: int | None = None) -> ExclusionChange:
        """Exclude reference seconds ``start``-``end`` from matching (one file, or every original);
        decisions that relied only on them are released."""
        with self._use():
            res = self.engine.add_exclusion(work_id, start, end, reason, actor=actor, ref_id=ref_id)
        return ExclusionChange(res["exclusion_id"], work_id, start, end, ref_id, _releases(res["released"]))

    def unexclude(self, work_id: str, exclusion_id: int, reason: str, actor: str = "operator") -> ExclusionRemoved:
        """Withdraw an exclusion: its seconds match again from the next screening on."""
        with self._use():
            return ExclusionRemoved.from_row(
                self.engine.workflow.remove_exclusion(self.now(), actor, work_id, exclusion_id, reason))

    def notice(self, work_id: str, upload: str, actor: str = "operator", span: tuple[float, float] | None = None,
               modalities: Iterable[str] = ("video", "audio")) -> NoticeResult:
        """A takedown notice for a published upload (its id, or the file): the upload's seconds
        ``span`` and ``modalities`` join the work, so re-uploads stay down."""
        with self._use():
            return NoticeResult.from_row(self.engine.notice(work_id, upload, actor=actor, span=span,
                                                            modalities=modalities))

    # -- index ------------------------------------------------------------------------------
    def index_stats(self) -> IndexStats:
        with self._use():
            return IndexStats.from_row(self.engine.index_stats())

    def reference_paths(self) -> list[str]:
        """Every reference file (what a refingerprinting rebuild reads)."""
        with self._use():
            return [r.path for r in self.engine.catalog.references()]

    def rebuild_index(self, refingerprint: bool = False,
                      progress: Callable[[str], None] | None = None) -> IndexStats:
        """Rebuild every index from the catalog; ``refingerprint``: first recompute every reference's
        codes from its file (InvalidInput with the files' failures: nothing changed)."""
        with self._use():
            self.engine.rebuild_index(refingerprint, progress=progress)
            return IndexStats.from_row(self.engine.index_stats())

    # -- screening --------------------------------------------------------------------------
    def upload_items(self, paths: Iterable[str] = (), manifest: str | os.PathLike | None = None,
                     ) -> list[tuple[str, Path, UploadContext | None]]:
        """What a screening run will screen: the files given (folders expanded) and the manifest's rows
        (with their upload context). InvalidInput (usage) for a bad manifest or nothing to screen."""
        from .manifest import read_manifest

        with self._use():
            rows = read_manifest(manifest) if manifest else []
            items = [(given, path, None) for given, path in expand_paths(paths, media_only=False)[0]]
            items += [(given, Path(given), ctx) for given, ctx in rows]
        if not items:
            raise InvalidInput("no files to screen: give upload files or folders, or --manifest FILE", usage=True)
        return items

    def screen(self, items: Iterable[tuple[str, Path | None, UploadContext | None]], *, rescreen: bool = False,
               retry_unfinished: bool = False, jobs: int | None = 1) -> Iterator[ScreenResult]:
        """Screen uploads: (name given, file or None for the name, upload context or None) per item; one
        result per item, in order (an upload id another process is screening comes last). A file that cannot be screened is that
        file's result (status error), recorded, and the batch goes on; a failure of the catalog
        itself ends the batch (Unavailable) with what was done recorded. jobs: worker processes that
        decode, fingerprint and search (1, the library's default: this process alone; None: ``[service]
        jobs``, 0 there: one per core, what the CLI uses); the records are the same for any number.
        Workers are spawned processes, which import the caller's main module again: a script that asks
        for more than one needs the ``if __name__ == "__main__":`` guard."""
        items = ((given, Path(given) if path is None else path, ctx) for given, path, ctx in items)
        results = self.engine.screen_items(items, rescreen=rescreen, retry_unfinished=retry_unfinished, jobs=jobs)
        try:
            while True:
                with self._use():
                    try:
                        result = next(results)
                    except StopIteration:
                        return
                yield result
        finally:
            results.close()  # (a caller that stops early: the files claimed and not recorded are released)

    # -- uploads ----------------------------------------------------------------------------
    def uploads(self, outcome: str | None = None, uploader_id: str | None = None, limit: int = 50) -> list[UploadRow]:
        """The newest screened uploads first, with their current outcome."""
        with self._use():
            return [UploadRow.from_row(r) for r in self.engine.uploads(outcome, uploader_id, limit)]

    def upload(self, upload: str) -> UploadStatus:
        """One upload by id, or the latest screening of a file by its path."""
        with self._use():
            return UploadStatus.from_row(self.engine.upload_status(upload))

    def uploader(self, uploader_id: str) -> UploaderRecord:
        with self._use():
            self._expired()
            return UploaderRecord.from_row(self.engine.workflow.uploader(self.now(), uploader_id))

    # -- review and dispute -----------------------------------------------------------------
    def reviews(self, pending_only: bool = True) -> list[QueueEntry]:
        """The review queue, most urgent first (expired reviews are resolved first)."""
        with self._use():
            self._expired()
            return [QueueEntry.from_row(r) for r in self.engine.workflow.reviews("pending" if pending_only else None)]

    def review_evidence(self, review_id: int, out_dir: str | os.PathLike | None = None) -> ReviewEvidence:
        """A review's evidence, per matched reference: its segments (seconds on both timelines), the
        reference's duration, key-frame thumbnails of its longest segments, and for audio matches WAV
        excerpts of the matched seconds of both files with their spectrograms (``[evidence]`` says how
        many and how long). Files are written to ``out_dir`` (default ``<home>/evidence/review-<id>``)."""
        from .evidence import write_audio_excerpts, write_thumbnails

        params = self.engine.config.evidence
        with self._use():
            review = ReviewRecord.from_row(self.engine.workflow.review(review_id))
            stored = self.engine.stored_upload(review.upload_id)
            up = stored.record
            refs = {r.ref_id: r for r in self.engine.catalog.references()}
            folder = Path(out_dir) if out_dir else self.home / "evidence" / f"review-{review_id}"
            evidence = []
            for m in work_matches(stored):
                for ref_id in sorted({s.ref_id for s in m.segments}):
                    segs = [s.as_dict() for s in m.segments if s.ref_id == ref_id]
                    longest = sorted(range(len(segs)), key=lambda k: segs[k]["upload_start"] - segs[k]["upload_end"])
                    shown = {k + 1: segs[k] for k in sorted(longest[:params.segments_per_reference])}
                    ref = refs.get(ref_id)
                    prefix = f"{_file_safe(m.work_id)}-ref{ref_id}"
                    pngs = write_thumbnails(up.path, ref.path, shown, folder, prefix,
                                            params.frames_per_segment) if ref else {}
                    heard = {k: s for k, s in shown.items() if s["modality"] == "audio"}
                    audio = write_audio_excerpts(up.path, ref.path, heard, folder, prefix, params.excerpt_max_seconds,
                                                 params.excerpt_sample_rate) if ref else {}
                    for k, seg in enumerate(segs, 1):  # each segment names its own evidence files
                        seg["thumbnail"] = str(pngs[k]) if k in pngs else None
                        seg["audio"] = {n: str(p) for n, p in audio[k].items()} if k in audio else None
                    evidence.append({"work_id": m.work_id, "ref_id": ref_id,
                                     "reference": ref.path if ref else None,
                                     "reference_duration": ref.duration if ref else None, "modality": m.modality,
                                     "segments": segs, "thumbnails": [str(p) for p in pngs.values()],
                                     "audio": [{"segment": k, **{n: str(p) for n, p in a.items()}}
                                               for k, a in audio.items()]})
            dispute = self.engine.workflow.dispute(review.dispute_id) if review.dispute_id else None
            upload = {k: getattr(up, k) for k in ("upload_id", "path", "uploader_id", "declared_use", "decision",
                                                  "outcome", "screened_at", "rule", "duration")}
            return ReviewEvidence(review, upload, list(up.reasons), dispute, evidence)

    def decide_review(self, review_id: int, reviewer: str, outcome: str, note: str = "") -> ReviewRecord:
        """A reviewer's decision; it applies to the upload at once (and to its dispute and strikes)."""
        with self._use():
            return ReviewRecord.from_row(self.engine.decide_review(review_id, reviewer, outcome, note))

    def dispute(self, upload_id: str, reason: str, uploader_id: str) -> DisputeFiled:
        """The uploader of record disputes a restriction; it goes to review with a deadline
        (Forbidden for anyone else)."""
        with self._use():
            self._expired()
            return DisputeFiled.from_row(self.engine.workflow.file_dispute(self.now(), upload_id, reason,
                                                                           uploader_id))

    # -- audit and report -------------------------------------------------------------------
    def audit_log(self, upload_id: str | None = None, work_id: str | None = None,
                  action: str | None = None) -> list[AuditRecord]:
        with self._use():
            self._expired()
            return [AuditRecord.from_row(r)
                    for r in self.engine.workflow.audit_records(upload_id, work_id, action)]

    def verify_audit(self, expect_head: str | None = None) -> AuditCheck:
        """Check the keyed chain (and, given a head kept elsewhere, that the log still holds it:
        InvalidInput, usage, if it is not of the form RECORDS:MAC)."""
        with self._use():
            try:
                return AuditCheck.from_row(self.engine.workflow.verify_audit(expect_head))
            except ValueError as exc:
                raise InvalidInput(str(exc), usage=True) from exc

    def report(self, png: str | os.PathLike | None = None) -> Report:
        """The transparency report; its chart is written to ``png`` (default ``<home>/report.png``)."""
        from .report import write_chart

        with self._use():
            self._expired()
            figures = self.engine.workflow.report(self.now())
            chart = write_chart(figures, Path(png) if png else self.home / "report.png")
        return Report(figures, str(chart))


    # -- the HTTP service: keys, jobs, claims -----------------------------------------------------
    def create_key(self, name: str, role: str, subject: str | None = None, actor: str = "operator") -> KeyCreated:
        """A new API key (audited: who made it, its name and role, never the key). The key is in the
        result only: the catalog keeps its SHA-256."""
        from .access import check_key_request, new_key

        why = check_key_request(name, role, subject)
        if why:
            raise InvalidInput(why, usage=True)
        key, prefix, digest = new_key()
        with self._use():
            at = self.now().isoformat(timespec="seconds")
            with self.engine.catalog.transaction():
                self.engine.catalog.service.add_key(name, role, subject or None, prefix, digest, at, actor)
                self.engine.workflow.audit(self.now(), actor, "api-key-created",
                                           {"name": name, "role": role, "subject": subject or None, "prefix": prefix})
            return KeyCreated(key, KeyRecord.from_row(self.engine.catalog.service.key(name)))

    def keys(self) -> list[KeyRecord]:
        with self._use():
            return [KeyRecord.from_row(r) for r in self.engine.catalog.service.keys()]

    def revoke_key(self, name: str, actor: str = "operator") -> KeyRecord:
        """Revoke a key at once (audited); its name stays taken (it is the actor of its past records)."""
        with self._use():
            with self.engine.catalog.transaction():
                if self.engine.catalog.service.key(name) is None:
                    raise NotFound(f"no key named {name!r}")
                if not self.engine.catalog.service.revoke_key(name, self.now().isoformat(timespec="seconds")):
                    raise Conflict(f"the key {name!r} was revoked already")
                self.engine.workflow.audit(self.now(), actor, "api-key-revoked", {"name": name})
            return KeyRecord.from_row(self.engine.catalog.service.key(name))

    def authenticate(self, key: str | None) -> "Principal":
        """The principal a key acts as; Unauthenticated for no key, a malformed, unknown or revoked one
        (the same message for each: a caller cannot probe which keys exist)."""
        from .access import Principal, key_digest, looks_like_key, same_digest
        from .errors import Unauthenticated

        refused = Unauthenticated("a valid API key is needed (header Authorization: Bearer <key>, or X-API-Key)")
        if not key or not looks_like_key(key):
            raise refused
        digest = key_digest(key)
        with self._use():
            row = self.engine.catalog.service.key_by_secret(digest)
        if row is None or row["revoked_at"] or not same_digest(row["secret_sha256"], digest):
            raise refused
        return Principal(row["name"], row["role"], row["subject"])

    def received_path(self, filename: str) -> Path:
        """A new file in ``<home>/received/<date>/`` for an upload's body (named after ``filename``, made
        safe): the catalog records it as the upload's path, so a review's evidence can read it later."""
        import secrets

        folder = self.home / "received" / self.now().strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{secrets.token_hex(8)}-{_file_safe(Path(filename or 'upload').name)}"

    @staticmethod
    def upload_context(upload_id: str | None = None, uploader_id: str | None = None,
                       declared_use: str | None = None) -> UploadContext:
        """An upload's context as a front end received it, checked as a manifest row's is
        (service.manifest.upload_context); InvalidInput says what is wrong."""
        from .manifest import upload_context

        try:
            return upload_context({"upload_id": upload_id, "uploader_id": uploader_id, "declared_use": declared_use})
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc

    def submit_job(self, path: Path, ctx: UploadContext, submitted_by: str, *, stored: bool,
                   webhook_url: str | None = None, webhook_secret: str | None = None) -> JobRecord:
        """Queue one upload for screening; the job's id (and, unless the context names one, its upload
        id) comes back at once. ``webhook_url`` is called with the decision when it is known, signed
        with ``webhook_secret`` (HMAC-SHA-256, see service.access.webhook_signature)."""
        import secrets

        if webhook_url is not None:
            if not webhook_url.startswith(("http://", "https://")) or len(webhook_url) > 2000:
                raise InvalidInput(f"webhook_url must be an http:// or https:// URL, got {webhook_url[:100]!r}")
            if not webhook_secret or len(webhook_secret) < 16:
                raise InvalidInput("a webhook needs webhook_secret (at least 16 characters): its deliveries are "
                                   "signed with it")
        ctx = self.upload_context(ctx.upload_id, ctx.uploader_id, ctx.declared_use)
        job_id = f"job-{secrets.token_hex(8)}"
        context = {"upload_id": ctx.upload_id or job_id, "uploader_id": ctx.uploader_id,
                   "declared_use": ctx.declared_use}
        with self._use(), self.engine.catalog.transaction():
            self.engine.catalog.service.add_job(job_id, str(path), stored, context, submitted_by,
                                                self.now().isoformat(timespec="seconds"), webhook_url,
                                                webhook_secret if webhook_url else None)
            self.engine.workflow.audit(self.now(), submitted_by, "job-submitted",
                                       {"job_id": job_id, **context, "webhook": bool(webhook_url)},
                                       upload_id=context["upload_id"])
        return self.job(job_id)

    def job(self, job_id: str) -> JobRecord:
        with self._use():
            row = self.engine.catalog.service.job(job_id)
            if row is None:
                raise NotFound(f"no job with id {job_id!r}")
            return self._job_record(row)

    def jobs(self, status: str | None = None, submitted_by: str | None = None, limit: int = 100) -> list[JobRecord]:
        with self._use():
            return [self._job_record(r, with_result=False)
                    for r in self.engine.catalog.service.jobs(status, submitted_by, limit)]

    def _job_record(self, row: dict, with_result: bool = True) -> JobRecord:
        result = None
        if with_result and row["status"] == "done" and row["upload_id"]:
            status = self.engine.upload_status(row["upload_id"])
            result = {k: status[k] for k in RESULT_FIELDS}
        return JobRecord.from_row(row, result=result)

    def run_next_job(self) -> JobRecord | None:
        """Claim the oldest queued job and screen it (None: the queue is empty). The decision is
        recorded as any screening's; the job then says done with its upload id, or failed with why. A
        job run again after its server was killed resumes: an upload already recorded is not screened
        twice, one left unfinished is screened again."""
        from .processes import ACTIVE_JOBS, this_process

        with self._use():
            row = self.engine.catalog.service.claim_job({**this_process(), "job_id": "?"},
                                                        self.now().isoformat(timespec="seconds"))
        if row is None:
            return None
        job_id = row["job_id"]
        ACTIVE_JOBS.add(job_id)
        try:
            ctx = UploadContext(**row["context"])
            try:
                [result] = list(self.screen([(row["path"], Path(row["path"]), ctx)],
                                            retry_unfinished=row["attempts"] > 1))
            except PrescreenError as exc:
                result, failure = None, str(exc)
            with self._use():
                at = self.now().isoformat(timespec="seconds")
                if result is None:
                    self.engine.catalog.service.finish_job(job_id, "failed", at, error=failure)
                elif result.status == "ok":
                    self.engine.catalog.service.finish_job(job_id, "done", at, upload_id=result.upload_id)
                else:
                    self.engine.catalog.service.finish_job(job_id, "failed", at, upload_id=result.upload_id,
                                                           error=f"{result.error_code}: {result.error}")
        finally:
            ACTIVE_JOBS.discard(job_id)
        return self.job(job_id)

    def recover_jobs(self) -> list[JobRecord]:
        """Jobs left running by a server that is gone (kill -9, a crash, a lost machine): each goes back
        to the queue, or fails saying so once it has been tried ``[server] job_max_attempts`` times. Never
        a silent loss. Returns the jobs changed."""
        from .processes import ACTIVE_JOBS, claim_is_dead

        limit = self.engine.config.server.job_max_attempts
        foreign = self.engine.config.service.foreign_claim_hours * 3600
        changed = []
        with self._use():
            store = self.engine.catalog.service
            for row in store.jobs(status="running", limit=10_000):
                holder = {**(row["holder"] or {}), "job_id": row["job_id"]}
                if row["holder"] and not claim_is_dead(holder, foreign, active=ACTIVE_JOBS, key="job_id"):
                    continue
                if row["attempts"] >= limit:
                    store.finish_job(row["job_id"], "failed", self.now().isoformat(timespec="seconds"),
                                     error=f"the server stopped while screening it, {row['attempts']} times (at most "
                                           f"{limit}: [server] job_max_attempts); the file may crash or stall the "
                                           "filter")
                elif not store.requeue_job(row["job_id"], row["attempts"]):
                    continue  # (another process took it over since it was read)
                changed.append(self._job_record(store.job(row["job_id"]), with_result=False))
        return changed

    def deliver_webhooks(self, send: Callable[[str, dict, bytes], None]) -> list[JobRecord]:
        """Call the webhook of every finished job whose delivery is due: ``send(url, headers, body)``
        (raising on failure, a non-2xx answer included). A failed delivery is tried again after
        ``[server] webhook_backoff_seconds``, doubled each time, up to ``webhook_max_attempts``.
        Deliveries are at least once: a receiver tells repeats by ``X-Prescreen-Delivery`` (the job id)."""
        import json
        from datetime import timedelta

        from .access import webhook_signature

        params = self.engine.config.server
        done = []
        with self._use():
            due = self.engine.catalog.service.webhooks_due(self.now().isoformat(timespec="seconds"))
        for row in due:
            job = self.job(row["job_id"])
            body = json.dumps({"event": "job." + job.status, "job": job.as_dict()}, allow_nan=False,
                              sort_keys=True).encode()
            stamp = str(int(self.now().timestamp()))
            headers = {"Content-Type": "application/json", "X-Prescreen-Delivery": job.job_id,
                       "X-Prescreen-Timestamp": stamp,
                       "X-Prescreen-Signature": webhook_signature(row["webhook_secret"], stamp, body)}
            attempts = row["webhook_attempts"] + 1
            try:
                send(row["webhook_url"], headers, body)
            except Exception as exc:  # (any failure of the receiver or the network: tried again)
                error = f"{type(exc).__name__}: {exc}"[:500]
                if attempts >= params.webhook_max_attempts:
                    status, next_at = "failed", None
                else:
                    wait = params.webhook_backoff_seconds * 2 ** (attempts - 1)
                    status, next_at = "pending", (self.now() + timedelta(seconds=wait)).isoformat(timespec="seconds")
            else:
                status, next_at, error = "delivered", None, None
            with self._use():
                self.engine.catalog.service.set_webhook(job.job_id, status, attempts, next_at, error)
            done.append(self.job(job.job_id))
        return done

    def claims(self, owner: str | None = None, limit: int = 200) -> list[Claim]:
        """Uploads that matched works (of ``owner`` only, when given: a rights holder's view), newest
        first, each with that work's outcome, seconds and segments only."""
        with self._use():
            works = [w for w in self.engine.catalog.works() if owner is None or w.owner == owner]
            out = []
            for work in works:
                for upload_id in self.engine.catalog.decisions.uploads_matching(work.work_id):
                    stored = self.engine.stored_upload(upload_id)
                    if stored is None:
                        continue
                    for m in work_matches(stored):
                        if m.work_id != work.work_id:
                            continue
                        row = next((w for w in stored.works if w.work_id == work.work_id), None)
                        out.append(Claim(upload_id, work.work_id, row.outcome if row else stored.record.outcome,
                                         stored.record.screened_at, m.matched_seconds, m.upload_coverage,
                                         m.reference_coverage, row.rule if row else None,
                                         [seg.as_dict() for seg in m.segments]))
            out.sort(key=lambda c: c.screened_at, reverse=True)
            return out[:limit]


def _file_safe(text: str) -> str:
    """A work id made safe inside a file name ('../x' or 'a/b' must not leave the evidence folder)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip(".")[:80] or "work"
