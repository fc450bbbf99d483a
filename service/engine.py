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

from collections import deque
from contextlib import contextmanager
import os
import tempfile
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from fingerprint import (
    CUT, QUERY, REFERENCE, REGISTRY, WINDOW, Fingerprint, MediaError, Signal, check_file, file_digest, fingerprint_file,
    fingerprint_for_registration, format_id,
)
from fingerprint.heap import release_free_memory
from index import Catalog, CatalogError, IndexStore, NewReference, staged_search
from match import (AlignParams, PeakMap, Segment, VerifiedQuote, WorkMatch, align, apply_exclusions,
                   build_candidates, candidate_lines, combine, corroborated, distinct_quotes, verify_line)
from match.verify import reframed_segments, unexplained_code_rows
from match.windows import WHOLE, upload_windows, windowed_segments
from storage import DATABASE_ERRORS, StoredUpload, is_url
from policy import SEVERITY, Decision, Rule, UploadContext, decide, ownership_claims
from workflow import Workflow, WorkflowError

from .audit_key import audit_key_source

from .config import Config, ConfigError, load_config
from .jobs import Inline, Workers, default_jobs, delegated
from .oplog import log_failure
from .view import decision_of, result_view, segment_of, stored_from, work_matches
from .processes import (
    ACTIVE_CLAIMS, LockTimeout, claim_is_dead, describe_holder, this_process, write_lock, write_lock_holder,
)

MEDIA_SUFFIXES = frozenset(
    ".mp4 .m4v .mkv .mov .avi .webm .wmv .flv .mpg .mpeg .ts .m2ts .3gp .ogv "
    ".m4a .mp3 .wav .flac .ogg .oga .opus .aac .wma .aif .aiff".split()
)
DEFAULT_HOME = "prescreen-data"
CATALOG_FILE = "catalog.sqlite"  # inside the data folder: the catalog makes a folder a prescreen data folder


class FormatMismatch(Exception):
    """The catalog's reference codes were made with other fingerprint settings."""

    kind = "unavailable"  # until `prescreen index rebuild --refingerprint`


class DataFolderError(Exception):
    """The data folder cannot be used: a file where a folder should be (``usage``: the caller gave the
    wrong folder), or a folder that cannot be created or written."""

    def __init__(self, message: str, usage: bool = True):
        super().__init__(message)
        self.usage = usage
        self.kind = "invalid_input" if usage else "unavailable"


class RegisterError(Exception):
    """A registration that wrote nothing; ``failures`` maps path -> reason. ``kind``: ``invalid_input``
    (files that cannot be registered) or ``conflict`` (the work or the content is another owner's)."""

    def __init__(self, message: str, failures: dict[str, str] | None = None, kind: str = "invalid_input"):
        super().__init__(message)
        self.failures = failures or {}
        self.kind = kind


def resolve_home(home: str | os.PathLike | None) -> Path:
    """``home`` if given, else $PRESCREEN_HOME, else ./prescreen-data."""
    return Path(home or os.environ.get("PRESCREEN_HOME") or DEFAULT_HOME)


def expand_paths(paths: Iterable[str | os.PathLike], media_only: bool) -> tuple[list[tuple[str, Path]], list[str]]:
    """Files named and files inside folders (sorted, recursive), plus skipped ones.

    Returns ([(path as given, Path)], [skipped paths]). media_only: inside
    folders keep only files with a media suffix (registration) and list the
    others as skipped; screening keeps every file so junk in a batch is
    reported, not skipped. A path that does not exist is kept so it can be
    reported, and so is every entry of a folder that is not a folder (a FIFO,
    a device, a socket, a dangling link): each is refused as that file's error
    (``fingerprint.check_file``), never silently left out.
    """
    out: list[tuple[str, Path]] = []
    skipped: list[str] = []
    for given in paths:
        p = Path(given)
        if str(given) and p.is_dir():  # ('' is no path: Path('') would be the current folder)
            files, unlistable = _files_under(p)
            for child in files:
                if not media_only or child.suffix.lower() in MEDIA_SUFFIXES:
                    out.append((str(child), child))
                else:
                    skipped.append(str(child))
            out += [(str(folder), folder) for folder in unlistable]  # reported as that folder's error
        else:
            out.append((str(given), p))
    return out, skipped


def _files_under(folder: Path) -> tuple[list[Path], list[Path]]:
    """(files in ``folder`` and its subfolders, sorted; subfolders that could not be listed).

    Hidden files are left out; symbolic links to folders are not followed. FIFOs, devices,
    sockets and broken links are kept, so they are reported as that file's error (by
    ``fingerprint.check_file``), never silently left out.
    """
    files: list[Path] = []
    unlistable: list[Path] = []
    for root, _, names in os.walk(folder, onerror=lambda exc: unlistable.append(Path(exc.filename or folder))):
        files += [Path(root) / name for name in names if not name.startswith(".")]
    return sorted(f for f in files if not f.is_dir()), sorted(unlistable)


def folder_problem(path: Path) -> str:
    """Why a folder given where a media file is needed cannot be one (words for the file's error)."""
    try:
        with os.scandir(path):
            pass
    except OSError as exc:
        return f"cannot list the folder: {exc.strerror or exc}"
    return "is a directory, not a media file"


def stored_path(path: Path) -> str:
    """``path`` made absolute, as the catalog stores it (UTF-8 text: undecodable bytes in a file
    name are kept as \\x escapes, so the name can be shown and stored, not reopened)."""
    text = str(path.absolute())
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time, UTC."""
    return datetime.now(timezone.utc)


def clock_from_environment() -> Clock:
    """The clock a front end passes in: $PRESCREEN_NOW (ISO 8601) fixed, for replays and tests of
    deadlines, else the system clock. ConfigError (at once, not in the middle of a batch) if it is no time."""
    fixed = fixed_now()
    return system_clock if fixed is None else (lambda: fixed)


def fixed_now() -> datetime | None:
    """$PRESCREEN_NOW as a time (UTC if it names no zone), None if unset; ConfigError if it is no time."""
    text = (os.environ.get("PRESCREEN_NOW") or "").strip()
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"PRESCREEN_NOW: {text!r} is not an ISO 8601 time (say 2026-05-01T12:00:00+00:00)") from None
    if not 1970 <= t.year <= 9000:
        raise ConfigError(f"PRESCREEN_NOW: {text!r} must be a time between the years 1970 and 9000")
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _prepare_folder(home: Path) -> None:
    """Create the data folder if needed and check that it can be written; DataFolderError if not."""
    try:
        if home.exists() and not home.is_dir():
            raise DataFolderError(f"the data folder {home} is a file, not a folder: give another --home")
        home.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DataFolderError(f"cannot create the data folder {home}: {why}", usage=False) from exc
    try:
        with tempfile.TemporaryFile(dir=home):
            pass
    except OSError as exc:
        raise DataFolderError(
            f"the data folder {home} cannot be written ({exc.strerror or exc}): prescreen keeps its catalog "
            "journal, indexes, locks and log there, even to read; give a writable --home (a copy of the "
            "folder will do)", usage=False) from exc


@dataclass
class RegisterResult:
    work_id: str
    ref_ids: list[int]
    files: list[dict]
    skipped: list[str] = field(default_factory=list)  # files in folders without a media suffix
    already_registered: list[str] = field(default_factory=list)  # files this work already has
    warnings: list[str] = field(default_factory=list)  # registered, but (say) the index files could not be written

    def as_dict(self) -> dict:
        return {"work_id": self.work_id, "ref_ids": self.ref_ids, "files": self.files, "skipped": self.skipped,
                "already_registered": self.already_registered, "warnings": self.warnings}


@dataclass
class ScreenResult:
    """The outcome of screening one upload (``status`` ok or error); ``streams``: the audio and
    video streams screened (label, codec, size or channels)."""

    upload: str
    status: str
    error: str | None = None
    # why an error: media (the file cannot be screened: damaged, not media, beyond a limit), internal
    # (prescreen failed on it: memory, a library, a bug; traceback in the log), unfinished (an earlier
    # attempt died: killed, out of memory), busy (another process is screening this upload id)
    error_code: str | None = None
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
    streams: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The JSON document (``service.view.result_view``) of the rows this screening is stored as."""
        return result_view(stored_from(self), self.upload, self.timings, self.already_screened_at)


class Prescreen:
    """Library entry point: ``Prescreen(home, create=True).register(...)``, ``.screen(...)``.

    home: the data folder (SQLite catalog + FAISS index files, locks, logs).
    config: the effective configuration (defaults, or ``<home>/config.toml``). Its ``[catalog] url``, when
        set, names a PostgreSQL catalog used instead of the data folder's SQLite file.
    create: make the data folder and its catalog when there is none. Without it a folder with no
        catalog is refused (DataFolderError): a mistyped path must not become an empty catalog that
        allows every upload because it has nothing to compare with.
    clock: the time of every decision, deadline and audit record (UTC; default the system clock;
        front ends pass :func:`clock_from_environment`).
    catalog: a ``postgresql://`` URL of the catalog, over the config's ``[catalog] url`` (``--catalog``).
    """

    def __init__(self, home: str | os.PathLike | None = None, config: Config | None = None, *,
                 create: bool = False, clock: Clock = system_clock, catalog: str | None = None):
        self.home = resolve_home(home)
        if config is None and (self.home / "config.toml").exists():  # (a folder there is reported)
            config = load_config(self.home / "config.toml")
        config = config or load_config(None)
        target = catalog or config.catalog.url or self.home / CATALOG_FILE
        if catalog and not is_url(catalog):
            raise ConfigError(f"--catalog: {catalog!r} is not a postgresql:// URL (without it the catalog is the "
                              "SQLite file in the data folder)")
        if self.home.exists() and not self.home.is_dir():
            raise DataFolderError(f"the data folder {self.home} is a file, not a folder: check --home or "
                                  "$PRESCREEN_HOME")
        if not create and not is_url(target) and not (self.home / CATALOG_FILE).is_file():
            state = "does not exist" if not self.home.exists() else "has no prescreen catalog"
            raise DataFolderError(f"the data folder {self.home} {state}: check --home or $PRESCREEN_HOME "
                                  "(`prescreen register` or `prescreen demo` creates one; in the library, "
                                  "App.open(home, create=True))")
        _prepare_folder(self.home)
        self.config = config
        self._clock = clock
        self._catalog_arg = catalog  # (worker processes open the same catalog)
        self.catalog = Catalog(target, timeout=config.service.lock_timeout_seconds, create=create,
                               connect_timeout=config.catalog.connect_timeout_seconds,
                               dead_peer=config.catalog.dead_peer_seconds)
        try:
            code_bytes = {s.name: s.code_bytes(config.fingerprint, REFERENCE) for s in REGISTRY.indexed()}
            self.indexes = IndexStore(self.home / "index", config.index, code_bytes)
            self.format = format_id(config.fingerprint)
            self.workflow = Workflow(self.catalog, config.workflow, config.version, audit_key_source(
                self.home, config.audit.key_env, config.audit.key_file), clock=clock)
        except BaseException:
            self.catalog.close()
            raise
        self._loaded = False
        self._windows = _ReferenceCache()  # reference window codes read to verify reframed copies
        self._peaks = _ReferenceCache()  # reference spectral peaks read to verify short quotes

    def now(self) -> datetime:
        """The engine's clock (see ``clock``), UTC."""
        return self._clock()

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> "Prescreen":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def log_failure(self, what: str, exc: BaseException | None = None) -> Path | None:
        """Append ``what`` and ``exc``'s traceback to ``<home>/logs/prescreen.log``; its path, if written."""
        s = self.config.service
        return log_failure(self.home, what, exc, max_bytes=s.log_max_bytes, backups=s.log_backups)

    def _failure_words(self, doing: str, given: str, exc: BaseException) -> str:
        """The message for a file whose processing failed inside prescreen (a bug, memory, a library):
        in words, with the place of the traceback (logged here, never shown)."""
        where = self.log_failure(f"{doing} {given}: {type(exc).__name__}", exc)
        detail = " ".join(str(exc).split())[:300]
        if isinstance(exc, MemoryError):
            head = f"ran out of memory while {doing} this file" + (f" ({detail})" if detail else "")
        else:
            head = (f"prescreen failed while {doing} this file (an internal error, {type(exc).__name__}"
                    + (f": {detail}" if detail else "") + ")")
        return head + (f"; the details are in {where}" if where else "")

    # -- locking and index freshness -------------------------------------
    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        """The data folder's write lock (see ``processes.write_lock``: LockTimeout after ``[service]
        lock_timeout_seconds``, naming the holder), then the catalog's own (PostgreSQL: an advisory lock
        that also holds against processes on other machines; CatalogError after the same time)."""
        timeout = self.config.service.lock_timeout_seconds
        with write_lock(self.home, timeout), self.catalog.write_lock(timeout):
            yield

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
            if self.indexes.load(self.catalog) and self.indexes.found_damaged:
                log_failure(self.home, f"index rebuilt from the catalog: {self.indexes.rebuilt_because}")
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
        existing = self.catalog.get_work(work_id)  # (checked again under the lock; this saves decoding)
        if existing and owner and existing.owner and owner != existing.owner:
            raise RegisterError(f"work {work_id!r} belongs to {existing.owner!r}: a file of another owner cannot "
                                "join it (register it under its own work id)", kind="conflict")
        failures: dict[str, str] = {}
        now = self.now()
        made = []  # (given, path, fingerprints, query codes): the slow part, outside the write lock
        for given, path in items:
            try:
                if not given:
                    raise MediaError("an empty file name")
                if path.is_dir():  # a folder that could not be listed
                    raise MediaError(folder_problem(path))
                made.append((given, path, *fingerprint_for_registration(path, self.config.fingerprint)))
            except MediaError as exc:
                failures[given] = str(exc)
            except DATABASE_ERRORS:
                raise  # the catalog, not the file: stops the registration (nothing was written)
            except Exception as exc:  # noqa: BLE001 - one file's failure is that file's, and nothing is written
                failures[given] = self._failure_words("registering", given, exc)
            finally:
                if progress:
                    progress(given)
        # The checks that depend on what else is registered (the work's owner, exact files, other owners'
        # works) and the writes happen under one lock: of two owners registering the same content at the
        # same moment, the second sees the first's references and is refused as a conflict.
        with self._write_lock():
            self._ensure_index()
            existing = self.catalog.get_work(work_id)
            if existing and owner and existing.owner and owner != existing.owner:
                raise RegisterError(f"work {work_id!r} belongs to {existing.owner!r}: a file of another owner "
                                    "cannot join it (register it under its own work id)", kind="conflict")
            owner = owner or (existing.owner if existing else "")
            new_refs, files, overlaps, already = self._checked_references(
                made, work_id, owner, kind, span, modalities, check_conflicts, failures, now, actor)
            if failures:
                raise RegisterError(f"{len(failures)} of {len(items)} files could not be registered; nothing was "
                                    "written", failures)
            if not new_refs:
                if existing:  # every file was registered before: new rules or priority still apply
                    with self.catalog.transaction():
                        self._set_work_settings(work_id, parsed_rules, priority, actor)
                return RegisterResult(work_id, [], [], skipped, already)
            with self.catalog.transaction():
                ref_ids, _ = self.catalog.add_references(work_id, title, owner, new_refs,
                                                         meta={"fingerprint_format": self.format})
                self.workflow.audit(now, actor, "register", {"title": title, "owner": owner, "kind": kind,
                                                             "files": files, "ref_ids": ref_ids}, work_id=work_id)
                self._set_work_settings(work_id, parsed_rules, priority, actor)
                for ref_id, ref, found in zip(ref_ids, new_refs, overlaps):
                    for match, why in found:
                        self._record_overlap(now, actor, work_id, owner, ref_id, ref.path, match, why)
            # The catalog (the source of truth) has the work now: whatever happens to the derived index
            # files, the registration happened. A failure to write them is a warning; the next command
            # that searches sees the generation differ and rebuilds them from the catalog.
            warnings = []
            try:
                generation = self.catalog.generation()
                for ref_id, ref in zip(ref_ids, new_refs):
                    for fp in ref.fingerprints:
                        if fp.signal in self.indexes.signals:  # (window codes are read from the catalog)
                            self.indexes.signals[fp.signal].add(ref_id, fp)
                self.indexes.save(generation)
            except (OSError, RuntimeError) as exc:  # (FAISS reports a failed write, a full disk, as RuntimeError)
                self._loaded = False
                warnings.append(f"registered in the catalog, but the index files in {self.indexes.folder} could not "
                                f"be written ({getattr(exc, 'strerror', None) or exc}); they are rebuilt from the catalog by the next "
                                "command that searches (or `prescreen index rebuild`)")
        return RegisterResult(work_id, ref_ids, files, skipped, already, warnings)

    def _checked_references(self, made, work_id: str, owner: str, kind: str, span, modalities, check_conflicts: bool,
                            failures: dict[str, str], now: datetime, actor: str):
        """The new references among the fingerprinted files, under the write lock: files this work has
        (skipped), exact files of another work, degenerate content and ownership conflicts go to
        ``failures``. Returns (new references, file summaries, overlaps per reference, already registered)."""
        new_refs: list[NewReference] = []
        overlaps: list[list[tuple[WorkMatch, str]]] = []
        files: list[dict] = []
        seen: set[str] = set()
        already: list[str] = []
        for given, path, fps, query in made:
            clash = self.catalog.references_by_sha256(fps.digest.sha256)
            if any(r.work_id == work_id for r in clash) or fps.digest.sha256 in seen:
                already.append(given)
                query.clear()
                continue
            if clash:
                failures[given] = f"this exact file is already registered for work {clash[0].work_id!r}"
                query.clear()
                continue
            kept = self._kept_codes(fps, span, modalities)
            try:
                usable = any(self._matchable(fp) for fp in kept)
                conflict, found = (self._ownership_conflict(work_id, owner, given, fps.duration, query, now, actor)
                                   if usable and check_conflicts else (None, []))
            except DATABASE_ERRORS:
                raise
            except Exception as exc:  # noqa: BLE001 - the checks of one file failed inside prescreen
                failures[given] = self._failure_words("checking", given, exc)
                continue
            finally:
                query.clear()  # (the query-role codes were for the check: a long film's are most of what it holds)
            if not usable:
                failures[given] = ("no usable fingerprints: the content is degenerate (black, flat or static "
                                   "picture, silence or a constant tone"
                                   + (", or nothing in the chosen seconds/signals" if span or len(modalities) < 2
                                      else "") + ") and could only cause false matches")
                continue
            if conflict:
                failures[given] = conflict
                continue
            seen.add(fps.digest.sha256)
            new_refs.append(NewReference(
                path=stored_path(path.resolve()), sha256=fps.digest.sha256, md5=fps.digest.md5, size=fps.digest.size,
                duration=fps.duration, has_video=fps.has_video, has_audio=fps.has_audio,
                fingerprints=tuple(kept), kind=kind, span=span, modalities=modalities,
            ))
            overlaps.append(found)
            files.append({"path": given, "duration": round(fps.duration, 3),
                          **{f"{fp.signal}_codes": len(fp) for fp in kept}, "warnings": list(fps.warnings),
                          # seconds of this file that another owner's work already has: excluded from it
                          "excluded": [{"start": round(max(0.0, seg.upload_start), 2),
                                        "end": round(seg.upload_end, 2), "work_id": m.work_id}
                                       for m, _ in found for seg in m.segments]})
        return new_refs, files, overlaps, already

    @staticmethod
    def _kept_codes(fps, span: tuple[float, float] | None, modalities: tuple[str, ...]) -> list[Fingerprint]:
        """A file's reference codes of the signals that watch ``modalities``, cut to ``span`` (seconds;
        None: all): what a reference keeps, at registration and again when it is refingerprinted."""
        kept = [fp for signal, fp in fps.signals.items() if REGISTRY[signal].modality in modalities]
        if span is None:
            return kept
        return [fp.subset((fp.ends > span[0]) & (fp.starts < span[1])) for fp in kept]

    def _matchable(self, fp: Fingerprint) -> bool:
        """Whether a reference's codes of one signal could ever form a segment.

        The codes are aligned against themselves (each code a hit on itself):
        a segment still needs its instants, density and content changes, so a
        static card (video) or a steady tone whose landmarks come only where it
        starts and stops cannot pass. Chroma words cannot tell: their change
        bits are noise on a steady tone, so they never make a reference
        matchable on their own.
        """
        signal = REGISTRY.get(fp.signal)
        if len(fp) == 0 or signal is None or not signal.searched or not signal.matchable_alone:
            return False  # (cut timing and window codes only verify what cuts propose)
        params, m = self.config.match.for_signal(fp.signal), self.config.match
        plain = fp.subset(fp.variants == 0)
        period = float(np.median(plain.ends - plain.starts))
        # a long reference a window at a time (``[match] window_seconds``), until one holds a segment
        for window in upload_windows(plain.starts, m.window_seconds, m.window_overlap_seconds):
            part = plain if window is WHOLE else plain.subset(window.rows(plain.starts))
            rows = np.arange(len(part))
            self_hits = build_candidates(part, rows, np.zeros(len(rows), np.int64), part.starts, part.ends,
                                         np.zeros(len(rows)), max(params.instant_seconds, period))
            if len(self_hits) and align(self_hits, signal.modality, part.code_bits, params):
                return True
        return False

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
        segments = self._stream_segments(query, timings, duration, consume=True)  # (each stream freed once screened)
        if not segments:
            return None, []
        # (seconds a work excludes, public-domain material say, are nobody's to claim)
        matches = _work_matches(segments, self.catalog.references(), self.workflow.excluded_by_ref(), duration,
                                self.config.match.offset_tolerance)
        owners = {w.work_id: w.owner for w in self.catalog.works()}
        claims = ownership_claims(matches, owners, work_id, owner, self.config.policy.thresholds)
        if claims.conflict is None:
            return None, list(claims.overlaps)
        m, why = claims.conflict
        evidence = {"matched_seconds": round(m.matched_seconds, 2), "reference_coverage":
                    round(m.reference_coverage, 3), "why": why, "kind": "substantial",
                    "segments": [s.as_dict() for s in m.segments[:5]]}
        cid = self.workflow.record_conflict(now, actor, work_id, owner or "(unknown)", given, m.work_id,
                                            owners[m.work_id], evidence)
        return (f"ownership conflict #{cid}: this content matches work {m.work_id!r} of "
                f"{owners[m.work_id] or 'another owner'} for {m.matched_seconds:.1f} s ({why}); "
                "not registered as a second claim"), []

    def notice(self, work_id: str, upload: str, actor: str = "operator", span: tuple[float, float] | None = None,
               modalities: Iterable[str] = ("video", "audio")) -> dict:
        """A takedown notice for a published upload: stay-down by adding it as a reference.

        upload: an upload id from the catalog, or a path to the published file.
        span, modalities: only these upload seconds / modalities become the reference
            (say, the picture of a copy whose soundtrack is someone else's).
        A dispute of the takedown that is released removes that reference again.
        """
        if self.catalog.get_work(work_id) is None:
            raise WorkflowError(f"no work with id {work_id!r}", "not_found")
        self.expire_due()  # (a dispute released by its deadline lifts its notice before a new one is counted)
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
            if result.ref_ids:
                ref_id = result.ref_ids[0]
            else:  # a concurrent notice of the same file registered it first
                ref_id = next(r.ref_id for r in self.catalog.references_by_sha256(file_digest(path).sha256)
                              if r.work_id == work_id)
        notice_id = self.workflow.record_notice(self.now(), actor, work_id, str(path), ref_id, upload_id)
        return {"notice_id": notice_id, "work_id": work_id, "upload_id": upload_id, "ref_id": ref_id,
                "path": str(path), "span": list(span) if span else None, "modalities": list(modalities)}

    def remove_work(self, work_id: str, actor: str = "operator") -> dict:
        """Delete a work; its fingerprints leave the index, and what the filter decided because of it goes.

        In one transaction with the removal and its audit record: every stored upload that matched
        the work is re-decided without it, so an automatic block, mute or review that rested on it
        is released (audited); the pending reviews of uploads that end up allowed are withdrawn.
        Outcomes a person set (a reviewer, a dispute, a takedown) stay as they are.

        Returns {work_id, ref_ids, released: [{upload_id, from, to}], withdrawn_reviews: [review ids]}.
        """
        now = self.now()
        with self._write_lock():
            self._ensure_index()
            with self.catalog.transaction():
                if self.catalog.get_work(work_id) is None:
                    raise CatalogError(f"no work with id {work_id!r}", "not_found")
                affected = self.workflow.uploads_matching(work_id)
                ref_ids, generation = self.catalog.remove_work(work_id)
                self.workflow.audit(now, actor, "remove-work", {"ref_ids": ref_ids}, work_id=work_id)
                why = f"work {work_id} was removed"
                released = self.redecide_work(work_id, actor, why=why, uploads=affected)
                withdrawn = self.workflow.withdraw_reviews(now, actor, affected, why)
            warnings = []
            try:
                self.indexes.remove_references(ref_ids, self.catalog)
                self.indexes.save(generation)
            except (OSError, RuntimeError) as exc:  # the catalog has the removal: the index is rebuilt from it
                self._loaded = False
                warnings.append(f"removed from the catalog, but the index files in {self.indexes.folder} could not "
                                f"be written ({getattr(exc, 'strerror', None) or exc}); they are rebuilt from the "
                                "catalog by the next command that searches (or `prescreen index rebuild`)")
        return {"work_id": work_id, "ref_ids": ref_ids, "released": released, "withdrawn_reviews": withdrawn,
                "warnings": warnings}

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
            self.set_rules(work_id, [r.as_dict() for r in rules], actor=actor)
        if priority is not None:
            self.workflow.set_priority(self.now(), actor, work_id, priority)

    def set_rules(self, work_id: str, rules: list[dict], actor: str = "operator") -> list[dict]:
        """Replace a work's own rules and release earlier automatic decisions they lighten (one transaction)."""
        with self.catalog.transaction():
            self.workflow.set_rules(self.now(), actor, work_id, rules)
            return self.redecide_work(work_id, actor, why="rule change")

    # -- reviews and their consequences --------------------------------------------------------
    def expire_due(self) -> list[dict]:
        """Resolve the reviews past their deadline (see ``Workflow.expire_due``), then withdraw the
        references of takedowns that a released dispute lifted. Returns the expired reviews."""
        expired = self.workflow.expire_due(self.now())
        self.withdraw_lifted_stay_downs()
        return expired

    def decide_review(self, review_id: int, reviewer: str, outcome: str, note: str = "") -> dict:
        """A person's decision of a review (``Workflow.decide_review``), with what follows from it in the
        same transaction: a released takedown dispute withdraws the noticed reference and re-decides
        the uploads that variant alone blocked."""
        with self.catalog.transaction():
            review = self.workflow.decide_review(self.now(), review_id, reviewer, outcome, note)
            self.withdraw_lifted_stay_downs(reviewer)
        return review

    def withdraw_lifted_stay_downs(self, actor: str = "system") -> list[dict]:
        """Remove every takedown reference whose notices are all lifted (audited) and release the
        automatic decisions that rested on it. Idempotent: one read when there is nothing to do, so
        calling it from every command also completes a withdrawal a killed process left undone.
        Returns ``[{ref_id, work_id, notice_id, released}]``."""
        if not self.catalog.rights.lifted_notice_references():
            return []
        withdrawn = []
        with self.catalog.transaction():  # (listed again under the write lock: another process may be first)
            for row in self.catalog.rights.lifted_notice_references():
                self.catalog.remove_reference(row["ref_id"])  # bumps the generation: the index follows
                self.workflow.audit(self.now(), actor, "notice-reference-withdrawn",
                                    {"ref_id": row["ref_id"], "notice_id": row["notice_id"]}, work_id=row["work_id"])
                released = self.redecide_work(row["work_id"], actor,
                                              why=f"stay-down lifted: notice #{row['notice_id']}")
                withdrawn.append({**row, "released": released})
        return withdrawn

    def redecide_work(self, work_id: str, actor: str, why: str, uploads: list[str] | None = None) -> list[dict]:
        """Re-decide stored uploads that matched ``work_id`` under the current references, exclusions
        and rules; an upload whose automatic outcome becomes less restrictive is released (audited).

        uploads: the upload ids to consider (default: those that matched the work; a removed work's
        must be listed before it goes). Outcomes a person set (a reviewer, a dispute, a takedown) are
        left alone; a release to ``review`` queues the upload for a person.
        """
        now = self.now()
        refs = self.catalog.references()
        excluded = self.workflow.excluded_by_ref()
        policies = self.workflow.work_policies()
        released = []
        wanted = set(self.workflow.uploads_matching(work_id) if uploads is None else uploads)
        rows = [u for u in self.catalog.decisions.redecidable(work_id) if u.record.upload_id in wanted]
        for stored in rows:
            row = stored.record
            if any(w.method == "digest" for w in stored.works):
                # a byte-identical copy, as screen_one finds it: its references (if still there), whole
                matches = _exact_matches(self.catalog.references_by_sha256(row.sha256), refs, excluded,
                                         self.config.match.offset_tolerance)
            else:  # the stored segments, at the matcher's full precision (never the rounded JSON figures)
                matches = _work_matches([segment_of(s) for s in stored.segments], refs, excluded, row.duration or 0.0,
                                        self.config.match.offset_tolerance)
            ctx = UploadContext(row.upload_id, row.uploader_id, row.declared_use)
            decision = decide(matches, self.config.policy, policies, ctx, upload_seconds=row.duration)
            if SEVERITY[decision.outcome] < SEVERITY.get(row.outcome or "allow", 0):
                with self.catalog.transaction():
                    self.workflow.release(now, actor, row.upload_id, decision.outcome, why,
                                          {"reasons": list(decision.reasons)})
                    # later steps (a review of the released upload) read each work's current action here
                    self.catalog.decisions.set_work_outcomes(row.upload_id, _works_dicts(decision))
                released.append({"upload_id": row.upload_id, "from": row.outcome, "to": decision.outcome})
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
                        # a takedown's --only and --start/--end stay with the reference
                        new[ref.ref_id] = tuple(self._kept_codes(fps, ref.span, ref.modalities))
                    except MediaError as exc:
                        failures[ref.path] = str(exc)
                    except Exception as exc:  # noqa: BLE001 - that file's failure; nothing is changed
                        failures[ref.path] = self._failure_words("fingerprinting", ref.path, exc)
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

    def uploads(self, outcome: str | None = None, uploader_id: str | None = None, limit: int = 50) -> list[dict]:
        """The newest screened uploads with their current outcome (who set it, when)."""
        self.expire_due()  # an outcome past its review deadline is the deadline's
        return self.catalog.upload_rows(outcome, uploader_id, limit=limit)

    def upload_status(self, upload: str) -> dict:
        """One upload by id, or the latest screening of a file by its path: current outcome (who set it,
        when), the screening's decision with reasons, matched works and segments, its reviews and disputes,
        and its audit history. CatalogError if there is none."""
        self.expire_due()
        stored = self.catalog.decisions.stored(upload)
        if stored is None and upload:
            found = self.catalog.upload_rows(path=stored_path(Path(upload).expanduser()), limit=1)
            stored = self.catalog.decisions.stored(found[0]["upload_id"]) if found else None
        if stored is None:
            raise CatalogError(f"no upload with id or path {upload!r} (`prescreen uploads list` shows the latest)", "not_found")
        view = result_view(stored, stored.record.path)
        return {**stored.record.as_dict(), **{k: view[k] for k in ("duration", "rule", "reasons", "works", "matches",
                                                                   "streams")},
                **self.workflow.upload_history(stored.record.upload_id)}

    def stored_upload(self, upload_id: str) -> StoredUpload | None:
        """One upload's stored decision as typed rows (None if there is none)."""
        return self.catalog.decisions.stored(upload_id)

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
                     rescreen: bool = False, retry_unfinished: bool = False,
                     jobs: int | None = 1) -> Iterator[ScreenResult]:
        """Screen (path as given, path, context) items in order, e.g. the rows of a manifest.

        Reviews past their deadline are resolved first. rescreen, retry_unfinished: see ``screen_one``.
        An upload id another live process is screening (two runs of one manifest) is
        left to it: it comes last, with that process's stored result once it is recorded
        (so results may come out of order; each says which upload it is).

        jobs: worker processes that decode, fingerprint and search the files (``service.jobs``):
        None for ``[service] jobs`` (0: one per core), 1 (the default) for this process alone. This process
        claims each file, records every decision, audit record and review item itself, in the
        batch's order, exactly as with one job; at most 2 x jobs files are claimed and not yet
        recorded at a time. A file that kills its worker is that file's error (``unfinished``).
        """
        self._ensure_index()
        self.expire_due()
        items = list(items)
        n = self.jobs_for(jobs, len(items))
        pool = Inline(self) if n == 1 else Workers(self, n, self.home, self.config, self._catalog_arg)
        ahead = 2 * n if n > 1 else 1  # files claimed and not yet recorded, at most
        pending: deque[_Started] = deque()
        try:
            deferred = []
            for given, path, ctx in items:
                started = self._start_claimed(given, path, ctx, rescreen, retry_unfinished, False, None, pool)
                if isinstance(started, _Busy):
                    deferred.append((given, path, ctx, started.last_upload_pk))
                    continue
                pending.append(started)
                pool.poll()
                while pending and (len(pending) >= ahead or pending[0].ready):
                    yield self._finish_claimed(pending.popleft(), pool)
            while pending:
                yield self._finish_claimed(pending.popleft(), pool)
            for given, path, ctx, seen_pk in deferred:
                started = self._start_claimed(given, path, ctx, rescreen, retry_unfinished, True, seen_pk, pool)
                yield self._finish_claimed(started, pool)
        finally:
            # interrupted (Ctrl-C, SIGTERM, the caller stopped) or the catalog failed: the files claimed
            # and not recorded did not kill anything, so their claims must not say so
            pool.close()
            for started in pending:
                started.release(self.catalog)

    def jobs_for(self, jobs: int | None, files: int) -> int:
        """How many worker processes a batch of ``files`` files uses: ``jobs`` (None: ``[service] jobs``;
        0: one per core), never more than the files; 1 means none (this process alone)."""
        jobs = self.config.service.jobs if jobs is None else jobs
        if jobs < 0:
            raise ConfigError(f"--jobs: {jobs} must be 0 (one per core) or more")
        return max(1, min(jobs or default_jobs(), files))

    def screen_one(self, given: str, path: Path | None = None, ctx: UploadContext | None = None,
                   rescreen: bool = False, retry_unfinished: bool = False) -> ScreenResult:
        """Screen one file; never raises for the file's sake: bad media, and any failure while
        screening it (memory, a library, a bug), give a result with status=error (``error_code``
        media or internal; the traceback goes to ``<home>/logs/prescreen.log``).

        The decision is recorded (with its audit record, and a review item when
        it says review) before this returns: a crash later loses nothing. An
        upload id (from a manifest) already screened with the same bytes is not
        screened again — a batch re-run after a crash resumes — unless
        ``rescreen``; its stored result comes back with ``already_screened_at``.

        Crash safety: the file is claimed in the catalog (pid, host, start) before
        it is screened and the claim leaves with the recorded result. A claim whose
        process is gone (kill -9, the OOM killer, a crash inside FFmpeg) is recorded
        as that file's error (``error_code`` unfinished) and, like a stored result, not
        screened again unless ``rescreen`` (everything again) or ``retry_unfinished`` (only
        such files): a file that kills the process cannot stop a batch for ever. (A claim of
        a batch screened in worker processes whose screening process died is not the file's
        doing: a file that kills a worker is recorded at once. Such a claim is taken over and
        the file screened again.) An upload id another live process is screening is never screened
        twice at once: this waits for its result (``[service] busy_wait_seconds``), else
        reports it busy (not recorded here: the other process records it).
        KeyboardInterrupt and SystemExit still stop the caller; the claim is released.
        """
        path = Path(given) if path is None else path
        self._ensure_index()
        pool = Inline(self)
        return self._finish_claimed(self._start_claimed(given, path, ctx, rescreen, retry_unfinished, True, None,
                                                        pool), pool)

    def _start_claimed(self, given: str, path: Path, ctx: UploadContext | None, rescreen: bool,
                       retry_unfinished: bool, wait: bool, seen_pk: int | None, pool) -> "_Started | _Busy":
        """Claim the file and start screening it (see ``screen_one``): its search step is handed to
        ``pool``; ``_finish_claimed`` records the result. _Busy if another live process holds its
        upload id and ``wait`` is False. seen_pk: the catalog's last upload row when the other
        process was first seen holding it (a later row of that id is its result)."""
        ctx = ctx or UploadContext()
        where = stored_path(path)
        busy_since = None
        dead_before = None  # the claim of an earlier screening of this file that died
        while True:
            holder = pool.holder()
            claim_id, held = self.catalog.claim(ctx.upload_id, where, holder)
            if claim_id is not None:
                break
            if self._claim_is_dead(held):
                if rescreen or retry_unfinished or held["path"] != where or delegated(held):
                    # asked to, another file now, or a batch whose screening process died (not the file)
                    if self.catalog.take_over_claim(held["claim_id"], held["token"], holder):
                        claim_id = held["claim_id"]
                        break
                    continue
                # an earlier screening of this file died: recorded as its error (when its turn comes to be
                # recorded, so the batch's records keep its order) under the claim taken over here
                if self.catalog.take_over_claim(held["claim_id"], held["token"], holder):
                    claim_id = held["claim_id"]
                    dead_before = held
                    break
                continue  # another process took it first: look again
            if seen_pk is None:
                seen_pk = self.catalog.last_upload_pk()
            if not wait:
                return _Busy(seen_pk)
            busy_since = busy_since or time.monotonic()
            if time.monotonic() - busy_since > self.config.service.busy_wait_seconds:
                return _Started.finished(ScreenResult(
                    upload=given, status="error", error_code="busy", upload_id=ctx.upload_id,
                    uploader_id=ctx.uploader_id, declared_use=ctx.declared_use,
                    error=f"not screened here: another prescreen process ({describe_holder(held)}) is screening "
                          f"upload {ctx.upload_id}, and had not finished after "
                          f"{self.config.service.busy_wait_seconds:g} s; it records the result"))
            time.sleep(0.25)
        claim = (claim_id, holder["token"])
        ACTIVE_CLAIMS.add(claim_id)
        started = _Started(given, path, ctx, claim)
        try:
            if dead_before is not None:
                started.unfinished = dead_before
                return started
            if seen_pk is not None:  # the other process finished it meanwhile: its result, not a second screening
                before = self.catalog.latest_upload(ctx.upload_id)
                if before and before.record.upload_pk > seen_pk:
                    started.release(self.catalog)
                    return _Started.finished(_stored_result(given, before))
            if ctx.upload_id is None:
                dead = [c for c in self.catalog.claims_on_path(where)
                        if c["claim_id"] != claim_id and self._claim_is_dead(c)]
                unfinished = [c for c in dead if not delegated(c)]
                dropped = [c for c in dead if self.catalog.drop_claim(c["claim_id"], c["token"])]
                if unfinished and not (rescreen or retry_unfinished) and any(c in dropped for c in unfinished):
                    started.unfinished = unfinished[0]  # (else another process took them first: it records that)
                    return started
            self._begin_file(started, rescreen, retry_unfinished, pool)
            return started
        except BaseException:
            started.release(self.catalog)
            raise

    def _claim_is_dead(self, claim: dict) -> bool:
        """Whether a screening claim's process is gone (see ``screen_one``)."""
        return claim_is_dead(claim, self.config.service.foreign_claim_hours * 3600)

    @staticmethod
    def _unfinished_result(given: str, ctx: UploadContext, c: dict) -> ScreenResult:
        """The error of a file an earlier screening of which died (its claim ``c``)."""
        return ScreenResult(
            upload=given, status="error", error_code="unfinished", sha256=c["sha256"], upload_id=ctx.upload_id,
            uploader_id=ctx.uploader_id, declared_use=ctx.declared_use,
            error=("the previous attempt to screen this file did not finish: the process was killed or crashed "
                   f"(out of memory?) — {describe_holder(c)}; it is not screened again unless asked "
                   "(`prescreen screen --retry-unfinished`)"))

    def _begin_file(self, s: "_Started", rescreen: bool, retry_unfinished: bool, pool) -> None:
        """The first part of screening a claimed file, here: its checks, its digest, a stored result
        to resume from, a byte-identical reference; else its search step goes to ``pool``."""
        given, path, ctx, claim = s.given, s.path, s.ctx, s.claim
        s.t0 = time.perf_counter()
        result = s.result = ScreenResult(upload=given, status="ok", uploader_id=ctx.uploader_id,
                                         declared_use=ctx.declared_use)
        try:
            if not given or "\0" in str(path):
                raise MediaError("an empty file name" if not given else "a file name with a NUL character (no file "
                                 "can have one)")
            if path.is_dir():
                raise MediaError(folder_problem(path))
            check_file(path, self.config.fingerprint.limits)  # FIFOs and devices block or never end: not opened
            try:
                digest = file_digest(path)
            except OSError as exc:
                raise MediaError(f"cannot read file: {exc.strerror or exc}") from exc
            self.catalog.set_claim_sha256(claim[0], digest.sha256)
            if not rescreen:
                before = (self.catalog.latest_upload(ctx.upload_id) if ctx.upload_id
                          else self.catalog.latest_upload_at_path(stored_path(path)))
                if before and _resumable(before, digest.sha256, bool(ctx.upload_id), retry_unfinished):
                    s.release(self.catalog)
                    s.final = _stored_result(given, before)
                    return
            result.sha256 = digest.sha256
            exact = self.catalog.references_by_sha256(digest.sha256)
            if exact:
                result.duration = exact[0].duration
                result.matches = _exact_matches(exact, self.catalog.references(), self.workflow.excluded_by_ref(),
                                                self.config.match.offset_tolerance)
                result.timings = {"digest": time.perf_counter() - s.t0}
            else:
                s.task = pool.submit(given, path, digest)
        except MediaError as exc:
            s.failure = ("media", str(exc))
        except DATABASE_ERRORS:
            raise  # the catalog, not the file: the batch cannot go on (the caller says why)
        except Exception as exc:  # noqa: BLE001 - whatever fails while screening one file is that file's error
            s.failure = ("internal", self._failure_words("screening", given, exc))

    def _finish_claimed(self, s: "_Started", pool) -> ScreenResult:
        """Wait for a started file's search step, decide and record it (releasing its claim in that
        transaction): the same records whichever process searched it."""
        if s.final is not None:
            return s.final
        claim_id = s.claim[0]
        try:
            if s.task is not None:
                pool.wait(s.task)
            return self._finish_file(s)
        except BaseException:
            s.release(self.catalog)
            raise
        finally:
            ACTIVE_CLAIMS.discard(claim_id)

    def _finish_file(self, s: "_Started") -> ScreenResult:
        given, path, ctx, claim, result = s.given, s.path, s.ctx, s.claim, s.result
        if s.unfinished is not None:
            result = self._unfinished_result(given, ctx, s.unfinished)
            with self.catalog.transaction():  # the error and the claim's end, as any screening's
                self._write_record(result, path, ctx)
                self.catalog.drop_claim(*claim)
            s.recorded = True
            self.log_failure(f"unfinished screening of {given} found: {describe_holder(s.unfinished)}")
            return result
        try:
            if s.failure is None and s.task is not None:
                kind, value = s.task.outcome
                if kind == "raise":
                    raise value
                if kind == "crashed":
                    self.log_failure(f"screening {given}: {value}")
                    s.failure = ("unfinished", value)
                elif kind != "ok":
                    s.failure = (kind, value)
                else:
                    searched: Searched = value
                    result.duration = searched.duration
                    result.timings = dict(searched.timings)
                    result.warnings = list(searched.warnings)
                    result.streams = list(searched.streams)
                    t1 = time.perf_counter()
                    if searched.segments:
                        result.matches = _work_matches(searched.segments, self.catalog.references(),
                                                       self.workflow.excluded_by_ref(), result.duration,
                                                       self.config.match.offset_tolerance)
                    result.timings["match"] = result.timings.get("match", 0.0) + time.perf_counter() - t1
            if s.failure is not None:
                result = _failed(result, *s.failure)
            else:
                policies = self.workflow.work_policies() if result.matches else {}
                result.decision = decide(result.matches, self.config.policy, policies, ctx,
                                         upload_seconds=result.duration)
        except MediaError as exc:
            result = _failed(result, "media", str(exc))
        except DATABASE_ERRORS:
            raise  # the catalog, not the file: the batch cannot go on (the caller says why)
        except Exception as exc:  # noqa: BLE001 - whatever fails while screening one file is that file's error
            result = _failed(result, "internal", self._failure_words("screening", given, exc))
        result.timings["total"] = time.perf_counter() - s.t0
        try:
            with self.catalog.transaction():  # the upload, its audit record, its review item and the claim's end
                self._write_record(result, path, ctx)
                self.catalog.drop_claim(*claim)
        except (ValueError, TypeError) as exc:  # a result that cannot be stored (a NaN from a bug): an error
            if result.error_code == "internal":
                raise
            result = _failed(result, "internal", self._failure_words("recording the result of", given, exc))
            with self.catalog.transaction():
                self._write_record(result, path, ctx)
                self.catalog.drop_claim(*claim)
        s.recorded = True
        return result

    def _stream_segments(self, streams: dict[str, dict[str, Fingerprint]], timings: dict[str, float],
                         upload_seconds: float, consume: bool = False) -> list[Segment]:
        """Segments of every stream of one upload (or of a new reference screened as one), each
        stream aligned on its own (a copy in a second stream is found there, and codes of two
        streams never make one line); each segment names its stream.

        consume: take each stream's codes out of ``streams`` once it is screened (and each signal's
        once it is aligned), so a long upload's codes are freed as screening goes."""
        out: list[Segment] = []
        for label in list(streams):
            signals = streams.pop(label) if consume else streams[label]
            out += [replace(seg, stream=label) for seg in self._segments_for(signals, timings, upload_seconds, consume)]
            del signals
        return out

    def _write_record(self, result: ScreenResult, path: Path, ctx: UploadContext) -> None:
        """Store a screening with its audit record and review item (inside the caller's transaction)."""
        now = self.now()
        result.upload_id = ctx.upload_id  # (the id asked for; the store may suffix it)
        result.upload_pk, result.upload_id = self.catalog.record_upload(stored_from(
            result, stored_path(path), now.isoformat(timespec="seconds"), self.config.version))
        result.review_id = self.workflow.record_screening(now, result.upload_id, result.as_dict())
        if result.review_id is not None:
            self.catalog.decisions.set_review_id(result.upload_pk, result.review_id)

    def _segments_for(self, query: dict[str, Fingerprint], timings: dict[str, float],
                      upload_seconds: float, consume: bool = False) -> list[Segment]:
        """Segments of every searched signal (``fingerprint.REGISTRY``) of one stream of an upload of
        ``upload_seconds`` seconds, then of the reframing step (``consume``: each signal's codes leave
        ``query`` once aligned).

        A long upload is searched and aligned a window of upload time at a time (``[match]
        window_seconds``, ``match.windows``): only one window's hits are held at once."""
        m = self.config.match
        segments: list[Segment] = []
        for signal in REGISTRY.searched():
            codes = query.get(signal.name)
            index = self.indexes.signals.get(signal.name)
            if codes is None or index is None or len(codes) == 0 or index.ntotal == 0:
                continue
            if signal.verifies_quotes and m.verify.enabled:
                segments = self._corroborated(signal, codes, segments, upload_seconds)
            windows = upload_windows(codes.starts, m.window_seconds, m.window_overlap_seconds)
            span = (float(codes.starts.min()), float(codes.ends.max()))
            found = windowed_segments(windows, lambda w: self._trimmed(self._window_segments(
                signal, index, codes if w is WHOLE else codes.subset(w.rows(codes.starts)), span, timings,
                upload_seconds)), m.offset_tolerance)
            if consume:
                del query[signal.name], codes
                release_free_memory()  # (the signal's codes and its windows' temporaries: ``fingerprint.heap``)
            segments += found
        ts = time.perf_counter()
        segments += self._reframed_segments(query, segments)
        timings["reframe_match"] = timings.get("reframe_match", 0.0) + time.perf_counter() - ts
        return segments

    @staticmethod
    def _trimmed(segments: list[Segment]) -> list[Segment]:
        """``segments``, once what the window's search and alignment freed is handed back
        (``fingerprint.heap``): otherwise the windows' temporaries leave the heap ~85 MiB
        larger, resident under every later window's peak (the 2-hour copy's audio windows)."""
        release_free_memory()
        return segments

    def _window_segments(self, signal: Signal, index, codes: Fingerprint, span: tuple[float, float],
                         timings: dict[str, float], upload_seconds: float) -> list[Segment]:
        """Segments of one signal of one stream among ``codes``: the upload's, or those of one window
        of it (``match.windows``: where a window's stretch ends the runs of codes seem to end too,
        but what the aligner widens there lies outside the window's core, which is what is kept).
        ``span``: (first code start, last code end) of the whole upload."""
        fp = self.config.fingerprint
        params = self.config.match.for_signal(signal.name)
        if len(codes) == 0:
            return []
        ts = time.perf_counter()
        plan = signal.search_plan(codes, fp)
        if plan is not None:  # altered variants: a sparse probe first, in full where it hits
            hits = staged_search(lambda q, rows: index.search(q, params.radius, codes.starts[rows]), codes.codes,
                                 plan[0], codes.variants, plan[1], codes.starts)
        else:
            hits = index.search(codes.codes, params.radius, codes.starts)
        timings["search"] = timings.get("search", 0.0) + time.perf_counter() - ts
        if len(hits.ids) == 0:
            return []
        ref_id, r_start, r_end = index.times.lookup(hits.ids)
        hint, altered = signal.candidate_hints(codes, fp)
        cands = build_candidates(codes, hits.query, ref_id, r_start, r_end, hits.distance,
                                 max(params.instant_seconds, signal.query_period(fp)), hint, altered)
        del hits, ref_id, r_start, r_end, hint, altered  # (the candidates hold what is needed of them)
        found = align(cands, signal.modality, codes.code_bits, params, query_span=span, signal=signal.name,
                      rendition_names=signal.rendition_namer(fp))
        if signal.verifies_quotes and self.config.match.verify.enabled:
            found += self._verified_quotes(signal, codes, cands, found, params, upload_seconds)
        return found

    def _corroborated(self, signal: Signal, codes: Fingerprint, segments: list[Segment],
                      upload_seconds: float) -> list[Segment]:
        """``segments`` without those of the other signals of ``signal``'s modality (chroma) heard
        under other sound (similarity below ``corroborate_below``) along whose line the work's
        spectral peaks (``signal``: landmarks, ``codes``: the stream's) do not show its recording
        (``match.constellation.corroborated``): the harmony of same-style music in the same key,
        not the work. Only the codes around those segments are read, so a long upload's peak
        map is never built whole."""
        verify, fp = self.config.match.verify, self.config.fingerprint
        weak = [s for s in segments if s.modality == signal.modality and not REGISTRY.is_exact(s.signal)
                and s.similarity < verify.corroborate_below and s.altered_share <= verify.corroborate_max_altered]
        if not weak or len(codes) == 0:
            return segments
        dropped = set()
        for seg in weak:
            near = ((codes.starts >= seg.upload_start - verify.context_seconds - verify.null_max_seconds)
                    & (codes.starts < seg.upload_end + verify.context_seconds + verify.null_max_seconds))
            upload = PeakMap.build(*signal.peaks(codes.subset(np.flatnonzero(near)), fp),
                                   signal.peak_frame_seconds(fp), verify)
            bins, frames = self._reference_peaks(signal, seg.ref_id)
            if corroborated(seg, upload, bins, frames, upload_seconds, verify) is None:
                dropped.add(id(seg))
        return [s for s in segments if id(s) not in dropped]

    def _verified_quotes(self, signal: Signal, codes: Fingerprint, cands, strict: list[Segment],
                         params: AlignParams, upload_seconds: float) -> list[Segment]:
        """Short quotes under other sound: lines of a signal that ``verifies_quotes`` (landmarks)
        too weak to be segments, verified by their single spectral peaks (``match.constellation``):
        the reference's peaks are recovered from its stored codes, the upload's from its own."""
        verify, fp = self.config.match.verify, self.config.fingerprint
        candidates = candidate_lines(cands, verify, strict)
        if not candidates:
            return []
        upload = PeakMap.build(*signal.peaks(codes, fp), signal.peak_frame_seconds(fp), verify)
        instant = max(params.instant_seconds, upload.frame_seconds)
        quotes: list[tuple[VerifiedQuote, int]] = []
        for cand in candidates:
            bins, frames = self._reference_peaks(signal, cand.ref_id)
            q = verify_line(upload, bins, frames, 1.0, cand.offset, (cand.upload_start, cand.upload_end),
                            upload_seconds, verify, instant)
            if q is not None:
                quotes.append((q, cand.ref_id))
        return distinct_quotes(quotes, verify)

    def _reference_peaks(self, signal: Signal, ref_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(bins, frames) of a reference's spectral peaks, from its stored codes of ``signal``."""
        def load(ref: int) -> tuple[np.ndarray, np.ndarray]:
            fps = [fp for _, fp in self.catalog.fingerprints(signal.name, [ref])]
            return signal.peaks(fps[0], self.config.fingerprint) if fps else (np.zeros(0, np.int64),) * 2
        return self._peaks.get(self.catalog.generation(), (signal.name, ref_id), lambda key: load(key[1]))

    def _reframed_segments(self, query: dict[str, Fingerprint], found: list[Segment]) -> list[Segment]:
        """Segments of a copy showing another window of the picture (a crop at any offset, the work
        inside a border): scene-cut timing proposes lines, the reference's window codes verify
        each (``match.verify``); lines the other signals already explain are not verified. The one
        step that names signals: the two reframing signals, not searched like the others
        (``fingerprint.signals.base``)."""
        cuts, probes, index = query.get(CUT), query.get(WINDOW), self.indexes.signals.get(CUT)
        if cuts is None or probes is None or index is None or index.ntotal == 0 or not len(probes):
            return []
        rows = unexplained_code_rows(cuts, found)
        if len(rows) == 0:
            return []
        hits = index.search(cuts.codes[rows], 0)  # (exact hashes: table lookups, on one thread)
        if len(hits.ids) == 0:
            return []
        ref_id, r_start, r_end = index.times.lookup(hits.ids)
        ref_cuts = {int(r): np.unique(index.times.of_reference(int(r))[0]) for r in np.unique(ref_id)}
        m = self.config.match
        return reframed_segments(cuts, rows[hits.query], ref_id, r_start, r_end, ref_cuts, probes,
                                 self._reference_window, found, self.config.fingerprint.window, m.cut, m.window)

    def _reference_window(self, ref_id: int) -> Fingerprint:
        """A reference's window codes, from the catalog."""
        def load(ref: int) -> Fingerprint:
            found = list(self.catalog.fingerprints(WINDOW, [ref]))
            return found[0][1] if found else REGISTRY[WINDOW].empty(self.config.fingerprint, REFERENCE)
        return self._windows.get(self.catalog.generation(), ref_id, load)


class _ReferenceCache:
    """Values derived from one reference's stored codes, kept while the catalog's generation
    lasts (any change to the catalog empties it) and at most ``size`` of them (a long batch
    meets many references; the oldest read goes first)."""

    def __init__(self, size: int = 64):
        self.size, self.generation, self.items = size, -1, {}

    def get(self, generation: int, ref_id, load: Callable[[object], object]):
        if generation != self.generation:
            self.items, self.generation = {}, generation
        if ref_id not in self.items:
            if len(self.items) >= self.size:
                self.items.pop(next(iter(self.items)))
            self.items[ref_id] = load(ref_id)
        return self.items[ref_id]


def _works_dicts(decision: Decision) -> list[dict]:
    return [{"work_id": w.work_id, "outcome": w.outcome, "rule": w.rule, "band": w.band} for w in decision.works]


@dataclass
class Searched:
    """What the search step of one upload found (``search_outcome``): the decoded duration, stage
    timings, decoding warnings, the streams screened and the segments of every stream."""

    duration: float
    timings: dict[str, float]
    warnings: list[str]
    streams: list[dict]
    segments: list[Segment]


def search_outcome(engine: Prescreen, given: str, path: Path, digest) -> tuple[str, object]:
    """The expensive part of screening one upload — decode, fingerprint, search the index, align —
    in whichever process runs it (a worker of ``service.jobs``, or the screening process itself).
    It reads the catalog and the index and writes nothing. Returns ("ok", Searched), ("media",
    message) for a file that cannot be screened, ("internal", message) for a failure inside
    prescreen (its traceback logged), or ("raise", exception) for a failure of the catalog."""
    try:
        fps = fingerprint_file(path, QUERY, engine.config.fingerprint, digest=digest)
        timings = dict(fps.timings)
        found = Searched(fps.duration, timings, list(fps.warnings), [s.as_dict() for s in fps.stream_info], [])
        t1 = time.perf_counter()
        streams = fps.streams
        del fps  # (its ``signals`` hold the same codes: each stream's are freed once it is screened)
        # what decoding and fingerprinting freed stays resident (glibc's heap) under the search's and
        # alignment's peak unless handed back first (``fingerprint.heap``): ~100 MiB of the 2-hour copy's
        release_free_memory()
        found.segments = engine._stream_segments(streams, timings, found.duration, consume=True)
        timings["match"] = time.perf_counter() - t1 - timings.get("search", 0.0)
        return "ok", found
    except MediaError as exc:
        return "media", str(exc)
    except DATABASE_ERRORS as exc:
        return "raise", exc
    except Exception as exc:  # noqa: BLE001 - whatever fails while screening one file is that file's error
        return "internal", engine._failure_words("screening", given, exc)


class _Started:
    """A claimed file of a batch between ``_start_claimed`` and ``_finish_claimed``: ``final`` a result
    already known (nothing to record here), ``failure`` (code, message) found before the search,
    ``task`` its search step."""

    def __init__(self, given: str, path: Path | None, ctx: UploadContext | None, claim: tuple[int, str] | None):
        self.given, self.path, self.ctx, self.claim = given, path, ctx, claim
        self.result: ScreenResult | None = None
        self.final: ScreenResult | None = None
        self.failure: tuple[str, str] | None = None
        self.unfinished: dict | None = None  # the claim of an earlier screening of it that died
        self.task = None
        self.t0 = time.perf_counter()
        self.recorded = False

    @classmethod
    def finished(cls, result: ScreenResult) -> "_Started":
        s = cls(result.upload, None, None, None)
        s.final = result
        return s

    @property
    def ready(self) -> bool:
        return self.final is not None or self.failure is not None or self.task is None or self.task.done

    def release(self, catalog) -> None:
        """Drop the claim of a file not recorded (interrupted, or nothing to record)."""
        if self.claim is None or self.recorded:
            return
        claim, self.claim = self.claim, None
        ACTIVE_CLAIMS.discard(claim[0])
        try:
            catalog.drop_claim(*claim)
        except Exception:  # noqa: BLE001 - already failing; the next run releases it
            pass


@dataclass(frozen=True)
class _Busy:
    """An upload id another live process is screening; ``last_upload_pk``: the catalog's last upload row
    when that was seen."""

    last_upload_pk: int


def _failed(result: ScreenResult, code: str, error: str) -> ScreenResult:
    """``result`` (its upload, context and digest) turned into an error: no decision, no matches."""
    return ScreenResult(upload=result.upload, status="error", error=error, error_code=code, sha256=result.sha256,
                        duration=result.duration, timings=result.timings, warnings=result.warnings,
                        upload_id=result.upload_id, uploader_id=result.uploader_id, declared_use=result.declared_use)


def _resumable(before: StoredUpload, sha256: str, by_id: bool, retry_unfinished: bool) -> bool:
    """Whether a stored screening stands for a new one of the file with digest ``sha256``.

    By upload id: a decision made on the same bytes (a manifest re-run resumes). Either way: an
    earlier screening that died (``unfinished``) on the same bytes (or before they were read), so
    a file that kills the process is not screened again unless asked (``retry_unfinished``).
    """
    r = before.record
    same = r.sha256 == sha256
    if r.error_code == "unfinished":
        return not retry_unfinished and (same or r.sha256 is None)
    return by_id and same and r.status == "ok"


def _stored_result(given: str, up: StoredUpload) -> ScreenResult:
    """A ScreenResult for an upload screened before (its stored decision and matches, from its typed rows)."""
    r = up.record
    return ScreenResult(
        upload=given, status=r.status, error=r.error, error_code=r.error_code, decision=decision_of(up),
        matches=work_matches(up), duration=r.duration, sha256=r.sha256, timings={}, warnings=list(r.warnings),
        upload_pk=r.upload_pk, upload_id=r.upload_id, uploader_id=r.uploader_id, declared_use=r.declared_use,
        review_id=r.review_id, already_screened_at=r.screened_at, streams=[dict(s) for s in r.streams])


def _work_matches(segments: list[Segment], refs, excluded: dict[int, list[tuple[float, float]]],
                  upload_seconds: float, offset_tolerance: float) -> list[WorkMatch]:
    """Segments -> per-work matches: segments on references no longer registered
    are dropped, excluded reference seconds are cut out (see ``apply_exclusions``)."""
    refs = {r.ref_id: r for r in refs}
    segments = apply_exclusions([s for s in segments if s.ref_id in refs], excluded)
    return combine(segments, {i: r.work_id for i, r in refs.items()}, {i: r.duration for i, r in refs.items()},
                   upload_seconds, offset_tolerance=offset_tolerance)


def _exact_matches(exact, refs, excluded: dict[int, list[tuple[float, float]]],
                   offset_tolerance: float) -> list[WorkMatch]:
    """A byte-identical copy of the reference files ``exact``: each whole, less the seconds its work
    excludes (a file whose every second is excluded matches nothing), found by its digest."""
    if not any(r.ref_id in excluded for r in exact):
        return [_exact_match(r) for r in exact]
    whole = [seg for r in exact for seg in _exact_match(r).segments]
    kept = _work_matches(whole, refs, excluded, max(r.duration for r in exact), offset_tolerance)
    return [replace(m, method="digest") for m in kept]


def _exact_match(ref) -> WorkMatch:
    modality = "both" if ref.has_video and ref.has_audio else ("video" if ref.has_video else "audio")
    seg = Segment(ref.ref_id, modality, 0.0, ref.duration, 0.0, ref.duration, 1.0, 1.0, 0.0, 0, 1.0, 0)
    return WorkMatch(ref.work_id, modality, (seg,), ref.duration, 1.0, 1.0, 1.0,
                     {modality: ref.duration}, method="digest")


__all__ = ["CatalogError", "DataFolderError", "LockTimeout", "FormatMismatch", "Prescreen", "WorkflowError", "RegisterError", "RegisterResult", "ScreenResult",
           "expand_paths", "resolve_home", "MEDIA_SUFFIXES", "write_lock_holder", "describe_holder"]
