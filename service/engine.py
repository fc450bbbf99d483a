"""The screening service: register works, screen uploads, keep catalog and index in step.

This is the I/O edge that joins the pure packages: files are read and
fingerprinted (fingerprint), codes are stored and searched (index), hits are
aligned into per-work matches (match) and turned into decisions (policy).

Consistency: a registration fingerprints every file first and writes nothing
until all succeeded; the catalog write is one transaction that also bumps the
catalog generation; the FAISS files are then updated and stamped with that
generation. A crash between the two leaves a stale index that the next open
detects and rebuilds from the catalog.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import datetime, timezone
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from fingerprint import (
    AUDIO, CUT, LANDMARK, MODALITY, QUERY, REFERENCE, SIGNALS, VIDEO, WINDOW, Fingerprint, MediaError, file_digest,
    fingerprint_file, fingerprint_for_registration, format_id,
)
from fingerprint.cuts import CODE_BYTES as CUT_CODE_BYTES
from fingerprint.landmarks import CODE_BYTES as LANDMARK_CODE_BYTES
from fingerprint.audio import variant_semitones, variant_tempo
from index import Catalog, CatalogError, IndexStore, NewReference
from index.store import one_search_thread
from match import AlignParams, Segment, WorkMatch, align, apply_exclusions, build_candidates, combine
from match.verify import reframed_segments, unexplained_code_rows
from policy import NONE, SEVERITY, SUBSTANTIAL, Decision, Rule, UploadContext, WorkDecision, classify, decide
from workflow import Deadlines, Workflow, WorkflowError

from .config import Config, load_config

MEDIA_SUFFIXES = frozenset(
    ".mp4 .m4v .mkv .mov .avi .webm .wmv .flv .mpg .mpeg .ts .m2ts .3gp .ogv "
    ".m4a .mp3 .wav .flac .ogg .oga .opus .aac .wma .aif .aiff".split()
)
DEFAULT_HOME = "prescreen-data"
CATALOG_FILE = "catalog.sqlite"  # inside the data folder: the catalog makes a folder a prescreen data folder


class FormatMismatch(Exception):
    """The catalog's reference codes were made with other fingerprint settings."""


class RegisterError(Exception):
    """A registration that wrote nothing; ``failures`` maps path -> reason."""

    def __init__(self, message: str, failures: dict[str, str] | None = None):
        super().__init__(message)
        self.failures = failures or {}


def resolve_home(home: str | os.PathLike | None) -> Path:
    """``home`` if given, else $PRESCREEN_HOME, else ./prescreen-data."""
    return Path(home or os.environ.get("PRESCREEN_HOME") or DEFAULT_HOME)


def expand_paths(paths: Iterable[str | os.PathLike], media_only: bool) -> tuple[list[tuple[str, Path]], list[str]]:
    """Files named and files inside folders (sorted, recursive), plus skipped ones.

    Returns ([(path as given, Path)], [skipped paths]). media_only: inside
    folders keep only files with a media suffix (registration) and list the
    others as skipped; screening keeps every file so junk in a batch is
    reported, not skipped. A path that does not exist is kept so it can be
    reported.
    """
    out: list[tuple[str, Path]] = []
    skipped: list[str] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            for child in sorted(c for c in p.rglob("*") if c.is_file() and not c.name.startswith(".")):
                if not media_only or child.suffix.lower() in MEDIA_SUFFIXES:
                    out.append((str(child), child))
                else:
                    skipped.append(str(child))
        else:
            out.append((str(given), p))
    return out, skipped


@dataclass
class RegisterResult:
    work_id: str
    ref_ids: list[int]
    files: list[dict]
    skipped: list[str] = field(default_factory=list)  # files in folders without a media suffix
    already_registered: list[str] = field(default_factory=list)  # files this work already has

    def as_dict(self) -> dict:
        return {"work_id": self.work_id, "ref_ids": self.ref_ids, "files": self.files, "skipped": self.skipped,
                "already_registered": self.already_registered}


@dataclass
class ScreenResult:
    """The outcome of screening one upload (``status`` ok or error)."""

    upload: str
    status: str
    error: str | None = None
    decision: Decision | None = None
    matches: list[WorkMatch] = field(default_factory=list)
    duration: float | None = None
    sha256: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # decoding damage worked around (screened anyway)
    upload_pk: int | None = None
    upload_id: str | None = None
    uploader_id: str | None = None
    declared_use: str | None = None
    review_id: int | None = None
    already_screened_at: str | None = None  # a manifest upload id screened before with these bytes

    def as_dict(self) -> dict:
        return {
            "upload": self.upload,
            "upload_id": self.upload_id,
            "uploader_id": self.uploader_id,
            "declared_use": self.declared_use,
            "status": self.status,
            "error": self.error,
            "decision": self.decision.outcome if self.decision else None,
            "rule": self.decision.rule if self.decision else None,
            "reasons": list(self.decision.reasons) if self.decision else [],
            "matches": [m.as_dict() for m in self.matches],
            "duration": round(self.duration, 3) if self.duration is not None else None,
            "sha256": self.sha256,
            "review_id": self.review_id,
            "works": _works_dicts(self.decision) if self.decision else [],
            "already_screened_at": self.already_screened_at,
            "warnings": self.warnings,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


class Prescreen:
    """Library entry point: ``Prescreen(home).register(...)``, ``.screen(...)``.

    home: the data folder (SQLite catalog + FAISS index files).
    config: the effective configuration (defaults, or ``<home>/config.toml``).
    """

    def __init__(self, home: str | os.PathLike | None = None, config: Config | None = None):
        self.home = resolve_home(home)
        self.home.mkdir(parents=True, exist_ok=True)
        if config is None:
            user = self.home / "config.toml"
            config = load_config(user if user.exists() else None)
        self.config = config
        self.catalog = Catalog(self.home / CATALOG_FILE)
        code_bytes = {VIDEO: config.fingerprint.video.hash_size ** 2 // 8, AUDIO: config.fingerprint.audio.code_bytes,
                      LANDMARK: LANDMARK_CODE_BYTES, CUT: CUT_CODE_BYTES}  # (WINDOW codes: catalog only)
        self.indexes = IndexStore(self.home / "index", config.index, code_bytes)
        self.format = format_id(config.fingerprint)
        w = config.workflow
        self.workflow = Workflow(self.catalog, Deadlines(
            w.review_expiry_hours, w.review_expiry_outcome, w.dispute_window_days, w.dispute_review_hours,
            w.dispute_expiry_outcome, w.strike_expiry_days, w.repeat_uploader_strikes), config.version)
        self.workflow.on_stay_down_lifted = self.redecide_work
        self._loaded = False
        self._windows: dict[int, Fingerprint] = {}  # reference window codes read for verification (this generation)
        self._windows_generation = -1

    @staticmethod
    def now() -> datetime:
        """Current time (UTC); $PRESCREEN_NOW (ISO 8601) overrides it for replays and tests."""
        fixed = os.environ.get("PRESCREEN_NOW")
        if fixed:
            t = datetime.fromisoformat(fixed)
            return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
        return datetime.now(timezone.utc)

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> "Prescreen":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- locking and index freshness -------------------------------------
    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        with open(self.home / ".write.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def check_format(self) -> None:
        """Raise FormatMismatch if stored reference codes were made with other settings."""
        stored = self.catalog.get_meta("fingerprint_format")
        if stored and stored != self.format and self.catalog.references():
            raise FormatMismatch(
                f"the catalog's reference fingerprints have format {stored}, but the current settings "
                f"make {self.format} (the fingerprint settings or prescreen's version changed); run "
                "`prescreen index rebuild --refingerprint` to recompute them from the reference files"
            )

    def _ensure_index(self) -> None:
        self.check_format()
        if not self._loaded or self.indexes.generation != self.catalog.generation():
            self.indexes.load(self.catalog)
            self._loaded = True

    # -- registration ----------------------------------------------------
    def register(self, paths: Iterable[str | os.PathLike], work_id: str, title: str = "", owner: str = "",
                 progress: Callable[[str], None] | None = None, *, rules: list[dict] | None = None,
                 priority: bool | None = None, actor: str = "operator", kind: str = "original",
                 check_conflicts: bool = True, span: tuple[float, float] | None = None,
                 modalities: Iterable[str] = ("video", "audio")) -> RegisterResult:
        """Fingerprint every media file in ``paths`` and store them as references of ``work_id``.

        All or nothing: if any file fails, is degenerate, or is substantially
        another owner's work (an ownership conflict, recorded for the
        operators), RegisterError lists the failures and nothing is written.
        Files already registered for this work are skipped, so a folder can be
        registered again after files were added to it. Seconds that partly
        overlap another owner's work are recorded as a conflict and excluded
        from the new reference, so the newcomer never claims them.

        span: keep only codes inside these reference seconds (a takedown of part
            of a file). modalities: keep only the codes of signals that watch these
            ("video", "audio"; audio covers both audio signals).
        The work, its references, rules, priority, exclusions and audit record
        are written in one transaction.
        """
        if not work_id or not work_id.strip():
            raise RegisterError("a work id is required")
        work_id = work_id.strip()
        modalities = tuple(modalities)
        parsed_rules = [Rule.from_dict(r) for r in rules] if rules else None
        items, skipped = expand_paths(paths, media_only=True)
        if not items:
            raise RegisterError("no media files to register")
        existing = self.catalog.get_work(work_id)
        if existing and owner and existing.owner and owner != existing.owner:
            raise RegisterError(f"work {work_id!r} belongs to {existing.owner!r}: a file of another owner cannot "
                                "join it (register it under its own work id)")
        owner = owner or (existing.owner if existing else "")
        self._ensure_index()
        failures: dict[str, str] = {}
        new_refs: list[NewReference] = []
        overlaps: list[list[tuple[WorkMatch, str]]] = []
        files: list[dict] = []
        seen: set[str] = set()
        already: list[str] = []
        now = self.now()
        for given, path in items:
            try:
                fps, query = fingerprint_for_registration(path, self.config.fingerprint)
            except MediaError as exc:
                failures[given] = str(exc)
                continue
            finally:
                if progress:
                    progress(given)
            clash = self.catalog.references_by_sha256(fps.digest.sha256)
            if any(r.work_id == work_id for r in clash) or fps.digest.sha256 in seen:
                already.append(given)
                continue
            if clash:
                failures[given] = f"this exact file is already registered for work {clash[0].work_id!r}"
                continue
            kept = [self._keep(fp, span) for signal, fp in fps.signals.items() if MODALITY[signal] in modalities]
            if not any(self._matchable(fp) for fp in kept):
                failures[given] = ("no usable fingerprints: the content is degenerate (black, flat or static "
                                   "picture, silence or a constant tone"
                                   + (", or nothing in the chosen seconds/signals" if span or len(modalities) < 2
                                      else "") + ") and could only cause false matches")
                continue
            found: list[tuple[WorkMatch, str]] = []
            if check_conflicts:
                conflict, found = self._ownership_conflict(work_id, owner, given, fps.duration, query, now, actor)
                if conflict:
                    failures[given] = conflict
                    continue
            seen.add(fps.digest.sha256)
            new_refs.append(NewReference(
                path=str(path.resolve()), sha256=fps.digest.sha256, md5=fps.digest.md5, size=fps.digest.size,
                duration=fps.duration, has_video=fps.has_video, has_audio=fps.has_audio,
                fingerprints=tuple(kept), kind=kind,
            ))
            overlaps.append(found)
            files.append({"path": given, "duration": round(fps.duration, 3),
                          **{f"{fp.signal}_codes": len(fp) for fp in kept}, "warnings": list(fps.warnings)})
        if failures:
            raise RegisterError(f"{len(failures)} of {len(items)} files could not be registered; nothing was written",
                                failures)
        if not new_refs:
            if existing:  # every file was registered before: new rules or priority still apply
                with self.catalog.transaction():
                    self._set_work_settings(work_id, parsed_rules, priority, actor)
            return RegisterResult(work_id, [], [], skipped, already)
        with self._write_lock():
            self._ensure_index()
            with self.catalog.transaction():
                ref_ids, _ = self.catalog.add_references(work_id, title, owner, new_refs,
                                                         meta={"fingerprint_format": self.format})
                self.workflow.audit(now, actor, "register", {"title": title, "owner": owner, "kind": kind,
                                                             "files": files, "ref_ids": ref_ids}, work_id=work_id)
                self._set_work_settings(work_id, parsed_rules, priority, actor)
                for ref_id, ref, found in zip(ref_ids, new_refs, overlaps):
                    for match, why in found:
                        self._record_overlap(now, actor, work_id, owner, ref_id, ref.path, match, why)
            generation = self.catalog.generation()
            for ref_id, ref in zip(ref_ids, new_refs):
                for fp in ref.fingerprints:
                    if fp.signal in self.indexes.signals:  # (window codes are read from the catalog)
                        self.indexes.signals[fp.signal].add(ref_id, fp)
            self.indexes.save(generation)
        return RegisterResult(work_id, ref_ids, files, skipped, already)

    @staticmethod
    def _keep(fp: Fingerprint, span: tuple[float, float] | None) -> Fingerprint:
        if span is None:
            return fp
        return fp.subset((fp.ends > span[0]) & (fp.starts < span[1]))

    def _matchable(self, fp: Fingerprint) -> bool:
        """Whether a reference's codes of one signal could ever form a segment.

        The codes are aligned against themselves (each code a hit on itself):
        a segment still needs its instants, density and content changes, so a
        static card (video) or a steady tone whose landmarks come only where it
        starts and stops cannot pass. Chroma words cannot tell: their change
        bits are noise on a steady tone, so they never make a reference
        matchable on their own.
        """
        if len(fp) == 0 or fp.signal not in SIGNALS or fp.signal == AUDIO:
            return False  # (cut timing and window codes only verify what cuts propose)
        params = self.config.match.for_signal(fp.signal)
        plain = fp.subset(fp.variants == 0)
        rows = np.arange(len(plain))
        period = float(np.median(plain.ends - plain.starts))
        self_hits = build_candidates(plain, rows, np.zeros(len(rows), np.int64), plain.starts, plain.ends,
                                     np.zeros(len(rows)), max(params.instant_seconds, period))
        return bool(align(self_hits, MODALITY[fp.signal], plain.code_bits, params))

    def _record_overlap(self, now: datetime, actor: str, work_id: str, owner: str, ref_id: int, path: str,
                        m: WorkMatch, why: str) -> None:
        """A new reference that partly matches another owner's work: record the conflict and
        exclude the shared seconds from the new reference (the earlier claim keeps them)."""
        other = self.catalog.get_work(m.work_id)
        evidence = {"matched_seconds": round(m.matched_seconds, 2), "why": why, "kind": "partial-overlap",
                    "excluded_from_new_reference": [[round(s.upload_start, 2), round(s.upload_end, 2)]
                                                    for s in m.segments],
                    "segments": [s.as_dict() for s in m.segments[:5]]}
        cid = self.workflow.record_conflict(now, actor, work_id, owner or "(unknown)", path, m.work_id,
                                            other.owner if other else "", evidence)
        for seg in m.segments:
            self.workflow.add_exclusion(now, actor, work_id, max(0.0, seg.upload_start), seg.upload_end,
                                        f"overlaps work {m.work_id!r} (conflict #{cid})", ref_id=ref_id)

    def _ownership_conflict(self, work_id: str, owner: str, given: str, duration: float,
                            query: dict[str, Fingerprint], now: datetime,
                            actor: str) -> tuple[str | None, list[tuple[WorkMatch, str]]]:
        """Screen a new reference against other owners' works.

        Returns (refusal, overlaps): a substantial match is a conflicting claim,
        recorded here and returned as the refusal; partial matches (a quoted
        stretch) come back as overlaps for the caller to record and exclude.
        """
        timings: dict[str, float] = {}
        segments = self._segments_for(query, timings)
        if not segments:
            return None, []
        # (seconds a work excludes, public-domain material say, are nobody's to claim)
        matches = _work_matches(segments, self.catalog.references(), self.workflow.excluded_by_ref(), duration,
                                self.config.match.offset_tolerance)
        overlaps = []
        for m in matches:
            other = self.catalog.get_work(m.work_id)
            if other is None or m.work_id == work_id or (owner and other.owner == owner):
                continue
            band, _, why = classify(m, self.config.policy.thresholds)
            if band == NONE:
                continue
            if band != SUBSTANTIAL:
                overlaps.append((m, why))
                continue
            evidence = {"matched_seconds": round(m.matched_seconds, 2), "reference_coverage":
                        round(m.reference_coverage, 3), "why": why, "kind": "substantial",
                        "segments": [s.as_dict() for s in m.segments[:5]]}
            cid = self.workflow.record_conflict(now, actor, work_id, owner or "(unknown)", given, m.work_id,
                                                other.owner, evidence)
            return (f"ownership conflict #{cid}: this content matches work {m.work_id!r} of "
                    f"{other.owner or 'another owner'} for {m.matched_seconds:.1f} s ({why}); "
                    "not registered as a second claim"), []
        return None, overlaps

    def notice(self, work_id: str, upload: str, actor: str = "operator", span: tuple[float, float] | None = None,
               modalities: Iterable[str] = ("video", "audio")) -> dict:
        """A takedown notice for a published upload: stay-down by adding it as a reference.

        upload: an upload id from the catalog, or a path to the published file.
        span, modalities: only these upload seconds / modalities become the reference
            (say, the picture of a copy whose soundtrack is someone else's).
        A dispute of the takedown that is released removes that reference again.
        """
        if self.catalog.get_work(work_id) is None:
            raise WorkflowError(f"no work with id {work_id!r}")
        stored = self.catalog.upload(upload)
        path = Path(stored["path"]) if stored else Path(upload)
        if not path.is_file():
            raise WorkflowError(f"the noticed file {path} is not readable here" +
                                (f" (upload {upload} was stored with that path)" if stored else ""))
        upload_id = stored["upload_id"] if stored else None
        clash = [r for r in self.catalog.references_by_sha256(file_digest(path).sha256) if r.work_id == work_id]
        if clash:
            ref_id = clash[0].ref_id
        else:
            result = self.register([path], work_id, actor=actor, kind="notice", check_conflicts=False, span=span,
                                   modalities=modalities)
            ref_id = result.ref_ids[0]
        notice_id = self.workflow.record_notice(self.now(), actor, work_id, str(path), ref_id, upload_id)
        return {"notice_id": notice_id, "work_id": work_id, "upload_id": upload_id, "ref_id": ref_id,
                "path": str(path), "span": list(span) if span else None, "modalities": list(modalities)}

    def remove_work(self, work_id: str, actor: str = "operator") -> list[int]:
        """Delete a work; its fingerprints leave the index. Returns the removed ref ids."""
        with self._write_lock():
            self._ensure_index()
            ref_ids, generation = self.catalog.remove_work(work_id)
            self.indexes.remove_references(ref_ids, self.catalog)
            self.indexes.save(generation)
        self.workflow.audit(self.now(), actor, "remove-work", {"ref_ids": ref_ids}, work_id=work_id)
        return ref_ids

    def add_exclusion(self, work_id: str, start: float, end: float, reason: str, actor: str = "operator",
                      ref_id: int | None = None) -> dict:
        """Exclude reference seconds from matching and release decisions that relied on them.

        The exclusion and the releases are one transaction.
        """
        now = self.now()
        with self.catalog.transaction():
            exclusion_id = self.workflow.add_exclusion(now, actor, work_id, start, end, reason, ref_id)
            released = self.redecide_work(work_id, actor, why=f"exclusion #{exclusion_id} ({reason})")
        return {"exclusion_id": exclusion_id, "released": released}

    def _set_work_settings(self, work_id: str, rules: list[Rule] | None, priority: bool | None, actor: str) -> None:
        """Rules and priority given at registration (None: unchanged); the caller holds the transaction."""
        if rules is not None:
            self.set_rules(work_id, [r.__dict__ for r in rules], actor=actor)
        if priority is not None:
            self.workflow.set_priority(self.now(), actor, work_id, priority)

    def set_rules(self, work_id: str, rules: list[dict], actor: str = "operator") -> list[dict]:
        """Replace a work's own rules and release earlier automatic decisions they lighten (one transaction)."""
        with self.catalog.transaction():
            self.workflow.set_rules(self.now(), actor, work_id, rules)
            return self.redecide_work(work_id, actor, why="rule change")

    def redecide_work(self, work_id: str, actor: str, why: str) -> list[dict]:
        """Re-decide stored uploads that matched ``work_id`` under the current exclusions and
        rules; an upload whose automatic outcome becomes less restrictive is released (audited).

        Outcomes a person set (a reviewer, a dispute, a takedown) are left alone;
        a release to ``review`` queues the upload for a person.
        """
        now = self.now()
        refs = self.catalog.references()
        excluded = self.workflow.excluded_by_ref()
        policies = self.workflow.work_policies()
        released = []
        rows = self.catalog.db.execute(
            "SELECT upload_id, uploader_id, declared_use, outcome, result FROM uploads u "
            "WHERE status='ok' AND COALESCE(outcome_by, 'system') IN ('system', 'release') AND EXISTS "
            "(SELECT 1 FROM json_each(u.result, '$.matches') m WHERE json_extract(m.value, '$.work_id') = ?)",
            (work_id,)).fetchall()
        for row in rows:
            result = json.loads(row["result"])
            if any(m.get("method") == "digest" for m in result["matches"]):
                # a byte-identical copy, as screen_one finds it: its references (if still there), whole
                matches = [_exact_match(r) for r in self.catalog.references_by_sha256(result["sha256"])]
            else:
                segments = [Segment.from_dict(s) for m in result["matches"] for s in m["segments"]]
                matches = _work_matches(segments, refs, excluded, result["duration"] or 0.0,
                                        self.config.match.offset_tolerance)
            ctx = UploadContext(row["upload_id"], row["uploader_id"], row["declared_use"])
            decision = decide(matches, self.config.policy, policies, ctx, upload_seconds=result["duration"])
            if SEVERITY[decision.outcome] < SEVERITY.get(row["outcome"] or "allow", 0):
                with self.catalog.transaction() as db:
                    self.workflow.release(now, actor, row["upload_id"], decision.outcome, why,
                                          {"reasons": list(decision.reasons)})
                    # later steps (a review of the released upload) read each work's current action here
                    db.execute("UPDATE uploads SET result=json_set(result, '$.works', json(?)) WHERE upload_id=?",
                               (json.dumps(_works_dicts(decision)), row["upload_id"]))
                released.append({"upload_id": row["upload_id"], "from": row["outcome"], "to": decision.outcome})
        return released

    def rebuild_index(self, refingerprint: bool = False,
                      progress: Callable[[str], None] | None = None) -> dict:
        """Rebuild the FAISS files from the catalog; with ``refingerprint``, first
        recompute every reference's codes from its file (all or nothing)."""
        with self._write_lock():
            if refingerprint:
                new, failures = {}, {}
                for ref in self.catalog.references():
                    try:
                        fps = fingerprint_file(ref.path, REFERENCE, self.config.fingerprint)
                        new[ref.ref_id] = tuple(fps.signals.values())
                    except MediaError as exc:
                        failures[ref.path] = str(exc)
                    if progress:
                        progress(ref.path)
                if failures:
                    raise RegisterError(f"{len(failures)} reference files could not be fingerprinted; "
                                        "nothing was changed", failures)
                self.catalog.replace_fingerprints(new, {"fingerprint_format": self.format})
            else:
                self.check_format()
            self.indexes.rebuild(self.catalog)
            self._loaded = True
        return self.indexes.stats()

    def index_stats(self) -> dict:
        self._ensure_index()
        stats = self.indexes.stats()
        stats["works"] = len(self.catalog.works())
        stats["references"] = len(self.catalog.references())
        stats["uploads_screened"] = self.catalog.upload_count()
        stats["home"] = str(self.home)
        return stats

    # -- screening -------------------------------------------------------
    def screen(self, paths: Iterable[str | os.PathLike],
               contexts: dict[str, UploadContext] | None = None) -> Iterator[ScreenResult]:
        """Screen every file (folders expanded); one result per file, errors included.

        contexts: optional upload context (ids, declared use) per path as given.
        """
        items = [(given, path, (contexts or {}).get(given)) for given, path in expand_paths(paths, False)[0]]
        yield from self.screen_items(items)

    def screen_items(self, items: Iterable[tuple[str, Path, UploadContext | None]],
                     rescreen: bool = False) -> Iterator[ScreenResult]:
        """Screen (path as given, path, context) items in order, e.g. the rows of a manifest.

        Reviews past their deadline are resolved first. rescreen: see ``screen_one``.
        """
        self._ensure_index()
        self.workflow.expire_due(self.now())
        for given, path, ctx in items:
            yield self.screen_one(given, path, ctx, rescreen=rescreen)

    def screen_one(self, given: str, path: Path | None = None, ctx: UploadContext | None = None,
                   rescreen: bool = False) -> ScreenResult:
        """Screen one file; never raises for bad media (the result says status=error).

        The decision is recorded (with its audit record, and a review item when
        it says review) before this returns: a crash later loses nothing. An
        upload id (from a manifest) already screened with the same bytes is not
        screened again — a batch re-run after a crash resumes — unless
        ``rescreen``; its stored result comes back with ``already_screened_at``.
        """
        path = Path(given) if path is None else path
        ctx = ctx or UploadContext()
        self._ensure_index()
        t0 = time.perf_counter()
        result = ScreenResult(upload=given, status="ok", uploader_id=ctx.uploader_id, declared_use=ctx.declared_use)
        try:
            if path.is_dir():
                raise MediaError("is a directory, not a media file")
            try:
                digest = file_digest(path)
            except OSError as exc:
                raise MediaError(f"cannot read file: {exc.strerror or exc}") from exc
            if ctx.upload_id and not rescreen:
                before = self.catalog.latest_upload(ctx.upload_id)
                if before and before["sha256"] == digest.sha256 and before["status"] == "ok":
                    return _stored_result(given, before)
            result.sha256 = digest.sha256
            exact = self.catalog.references_by_sha256(digest.sha256)
            if exact:
                result.duration = exact[0].duration
                result.matches = [_exact_match(ref) for ref in exact]
                result.timings = {"digest": time.perf_counter() - t0}
            else:
                fps = fingerprint_file(path, QUERY, self.config.fingerprint, digest=digest)
                result.duration = fps.duration
                result.timings = dict(fps.timings)
                result.warnings = list(fps.warnings)
                t1 = time.perf_counter()
                segments = self._segments_for(fps.signals, result.timings)
                if segments:
                    result.matches = _work_matches(segments, self.catalog.references(),
                                                   self.workflow.excluded_by_ref(), fps.duration,
                                                   self.config.match.offset_tolerance)
                result.timings["match"] = time.perf_counter() - t1 - result.timings.get("search", 0.0)
            policies = self.workflow.work_policies() if result.matches else {}
            result.decision = decide(result.matches, self.config.policy, policies, ctx, upload_seconds=result.duration)
        except MediaError as exc:
            result.status, result.error = "error", str(exc)
        result.timings["total"] = time.perf_counter() - t0
        now = self.now()
        with self.catalog.transaction():  # the upload, its audit record and its review item land together
            result.upload_pk, result.upload_id = self.catalog.record_upload(
                str(path.absolute()), result.sha256, None, result.status, result.error,
                result.decision.outcome if result.decision else None, result.as_dict(),
                upload_id=ctx.upload_id, uploader_id=ctx.uploader_id, declared_use=ctx.declared_use,
                config_version=self.config.version, at=now.isoformat(timespec="seconds"),
            )
            result.review_id = self.workflow.record_screening(now, result.upload_id, result.as_dict())
            self.catalog.db.execute("UPDATE uploads SET result=? WHERE upload_pk=?",
                                    (json.dumps(result.as_dict()), result.upload_pk))
        return result

    def _segments_for(self, query: dict[str, Fingerprint], timings: dict[str, float]) -> list[Segment]:
        """Segments of every signal of one upload (or a new reference screened as one)."""
        fp = self.config.fingerprint
        period = {VIDEO: 1.0 / fp.query_fps, AUDIO: fp.audio.frame_seconds,
                  LANDMARK: fp.landmark.frame_seconds(fp.audio.sample_rate)}
        segments: list[Segment] = []
        for signal in SIGNALS:
            codes = query.get(signal)
            index = self.indexes.signals.get(signal)
            if codes is None or index is None or len(codes) == 0 or index.ntotal == 0:
                continue
            params = self.config.match.for_signal(signal)
            ts = time.perf_counter()
            hits = index.search(codes.codes, params.radius)
            timings["search"] = timings.get("search", 0.0) + time.perf_counter() - ts
            if len(hits.ids) == 0:
                continue
            ref_id, r_start, r_end = index.times.lookup(hits.ids)
            hint = altered = None
            if signal == AUDIO:
                # variants that undo a change of pitch, tempo or speed: a song in a related key or
                # played at another tempo must not pass for an altered copy (altered_min_similarity)
                hint = variant_tempo(codes.variants, fp.audio)
                altered = (variant_semitones(codes.variants, fp.audio) != 0) | (hint != 1.0)
            cands = build_candidates(codes, hits.query, ref_id, r_start, r_end, hits.distance,
                                     max(params.instant_seconds, period[signal]), hint, altered)
            span = (float(codes.starts.min()), float(codes.ends.max()))
            segments += align(cands, MODALITY[signal], codes.code_bits, params, query_span=span, signal=signal)
        ts = time.perf_counter()
        segments += self._reframed_segments(query, segments)
        timings["reframe_match"] = time.perf_counter() - ts
        return segments

    def _reframed_segments(self, query: dict[str, Fingerprint], found: list[Segment]) -> list[Segment]:
        """Segments of a copy showing another window of the picture (a crop at any offset, the work
        inside a border): scene-cut timing proposes lines, the reference's window codes verify
        each (``match.verify``); lines the other signals already explain are not verified."""
        cuts, probes, index = query.get(CUT), query.get(WINDOW), self.indexes.signals.get(CUT)
        if cuts is None or probes is None or index is None or index.ntotal == 0 or not len(probes):
            return []
        rows = unexplained_code_rows(cuts, found)
        if len(rows) == 0:
            return []
        with one_search_thread():
            hits = index.search(cuts.codes[rows], 0)
        if len(hits.ids) == 0:
            return []
        ref_id, r_start, r_end = index.times.lookup(hits.ids)
        ref_cuts = {int(r): np.unique(index.times.of_reference(int(r))[0]) for r in np.unique(ref_id)}
        m = self.config.match
        return reframed_segments(cuts, rows[hits.query], ref_id, r_start, r_end, ref_cuts, probes,
                                 self._reference_window, found, self.config.fingerprint.window, m.cut, m.window)

    def _reference_window(self, ref_id: int) -> Fingerprint:
        """A reference's window codes, read from the catalog once per catalog generation."""
        generation = self.catalog.generation()
        if generation != self._windows_generation:
            self._windows, self._windows_generation = {}, generation
        if ref_id not in self._windows:
            if len(self._windows) >= 64:  # a bounded cache: a long batch meets many references
                self._windows.pop(next(iter(self._windows)))
            found = list(self.catalog.fingerprints(WINDOW, [ref_id]))
            self._windows[ref_id] = found[0][1] if found else Fingerprint.empty(
                WINDOW, self.config.fingerprint.window.hash_size ** 2 // 8)
        return self._windows[ref_id]


def _works_dicts(decision: Decision) -> list[dict]:
    return [{"work_id": w.work_id, "outcome": w.outcome, "rule": w.rule, "band": w.band} for w in decision.works]


def _stored_result(given: str, up: dict) -> ScreenResult:
    """A ScreenResult for an upload screened before (its stored decision and matches)."""
    r = up["result"]
    works = tuple(WorkDecision(w["work_id"], w["outcome"], w["rule"], w["band"], ()) for w in r.get("works", []))
    decision = Decision(r["decision"], r["rule"], tuple(r["reasons"]), works) if r.get("decision") else None
    return ScreenResult(
        upload=given, status=r["status"], error=r.get("error"), decision=decision,
        matches=[WorkMatch.from_dict(m) for m in r.get("matches", [])], duration=r.get("duration"),
        sha256=r.get("sha256"), timings={}, warnings=r.get("warnings", []), upload_pk=up["upload_pk"], upload_id=up["upload_id"],
        uploader_id=up["uploader_id"], declared_use=up["declared_use"], review_id=r.get("review_id"),
        already_screened_at=up["screened_at"])


def _work_matches(segments: list[Segment], refs, excluded: dict[int, list[tuple[float, float]]],
                  upload_seconds: float, offset_tolerance: float) -> list[WorkMatch]:
    """Segments -> per-work matches: segments on references no longer registered
    are dropped, excluded reference seconds are cut out (see ``apply_exclusions``)."""
    refs = {r.ref_id: r for r in refs}
    segments = apply_exclusions([s for s in segments if s.ref_id in refs], excluded)
    return combine(segments, {i: r.work_id for i, r in refs.items()}, {i: r.duration for i, r in refs.items()},
                   upload_seconds, offset_tolerance=offset_tolerance)


def _exact_match(ref) -> WorkMatch:
    modality = "both" if ref.has_video and ref.has_audio else ("video" if ref.has_video else "audio")
    seg = Segment(ref.ref_id, modality, 0.0, ref.duration, 0.0, ref.duration, 1.0, 1.0, 0.0, 0, 1.0, 0)
    return WorkMatch(ref.work_id, modality, (seg,), ref.duration, 1.0, 1.0, 1.0,
                     {modality: ref.duration}, method="digest")


__all__ = ["CatalogError", "FormatMismatch", "Prescreen", "WorkflowError", "RegisterError", "RegisterResult", "ScreenResult",
           "expand_paths", "resolve_home", "MEDIA_SUFFIXES"]
