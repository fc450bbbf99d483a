"""The catalog: works, references, their fingerprints, uploads and decisions.

SQLite in WAL mode, the source of truth. Every change that touches stored
fingerprints bumps the ``generation`` counter in the same transaction, so a
FAISS index file built at another generation is known to be stale.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from fingerprint import REFRAME_SIGNALS, SIGNALS, Fingerprint

SCHEMA_VERSION = 3
# Additive changes since earlier schema versions: (table, column, declaration).
# A catalog of an older version gets the missing columns on open.
_ADDED_COLUMNS = (
    ("uploads", "outcome_by", "TEXT"),   # who set the current outcome: system, review, dispute, notice, expiry, release
    ("uploads", "outcome_at", "TEXT"),   # when the current outcome was set (dispute windows run from it)
    # what of the file a reference keeps (a takedown of part of an upload): seconds and modalities;
    # refingerprinting the file applies them again
    ("refs", "keep_start", "REAL"), ("refs", "keep_end", "REAL"),
    ("refs", "keep_modalities", "TEXT NOT NULL DEFAULT 'video,audio'"),
)
_MIGRATABLE_FROM = (2,)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS works (
    work_id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    rules TEXT NOT NULL DEFAULT '[]',
    priority INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refs (
    ref_id INTEGER PRIMARY KEY AUTOINCREMENT,
    work_id TEXT NOT NULL REFERENCES works(work_id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    md5 TEXT NOT NULL,
    size INTEGER NOT NULL,
    duration REAL NOT NULL,
    has_video INTEGER NOT NULL,
    has_audio INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'original',
    keep_start REAL,
    keep_end REAL,
    keep_modalities TEXT NOT NULL DEFAULT 'video,audio'
);
CREATE INDEX IF NOT EXISTS refs_sha256 ON refs(sha256);
CREATE INDEX IF NOT EXISTS refs_work ON refs(work_id);
CREATE TABLE IF NOT EXISTS fingerprints (
    ref_id INTEGER NOT NULL REFERENCES refs(ref_id) ON DELETE CASCADE,
    signal TEXT NOT NULL,
    code_bytes INTEGER NOT NULL,
    n INTEGER NOT NULL,
    codes BLOB NOT NULL,
    starts BLOB NOT NULL,
    ends BLOB NOT NULL,
    variants BLOB NOT NULL,
    PRIMARY KEY (ref_id, signal)
);
CREATE TABLE IF NOT EXISTS uploads (
    upload_pk INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id TEXT UNIQUE,
    uploader_id TEXT,
    declared_use TEXT,
    path TEXT NOT NULL,
    sha256 TEXT,
    size INTEGER,
    screened_at TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    decision TEXT,
    outcome TEXT,
    config_version TEXT,
    result TEXT NOT NULL,
    outcome_by TEXT,
    outcome_at TEXT
);
CREATE INDEX IF NOT EXISTS uploads_uploader ON uploads(uploader_id);
CREATE INDEX IF NOT EXISTS uploads_path ON uploads(path);
CREATE TABLE IF NOT EXISTS screen_claims (
    claim_id INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id TEXT UNIQUE,              -- a manifest's upload id (one claim at a time); NULL: a file without one
    path TEXT NOT NULL,                 -- the file's absolute path
    sha256 TEXT,                        -- once the file's digest is known
    token TEXT NOT NULL,                -- changes when another process takes the claim over
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    boot_id TEXT,                       -- the host's boot (a claim from before a reboot is dead)
    proc_start TEXT,                    -- the process's start time (a reused pid is another process)
    command TEXT,
    started_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS screen_claims_path ON screen_claims(path);
"""


def missing_columns(db: sqlite3.Connection, columns) -> list[tuple[str, str, str]]:
    """The (table, column, declaration) entries whose existing table lacks the column."""
    missing = []
    for table, column, decl in columns:
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if have and column not in have:
            missing.append((table, column, decl))
    return missing


def ensure_columns(db: sqlite3.Connection, columns) -> list[str]:
    """Add each (table, column, declaration) that the table lacks; returns what was added.

    Used to migrate older catalogs in place: only additive, nullable columns.
    """
    added = []
    for table, column, decl in missing_columns(db, columns):
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        added.append(f"{table}.{column}")
    return added


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Work:
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


class CatalogError(Exception):
    """A catalog operation that cannot be done (unknown work, duplicate id...).

    ``kind`` names the application layer's error class (service/errors.py): ``unavailable`` (the
    default: the catalog cannot be opened, read or written), ``not_found`` or ``conflict``."""

    def __init__(self, message: str, kind: str = "unavailable"):
        super().__init__(message)
        self.kind = kind


def describe_sqlite_error(exc: sqlite3.Error) -> str:
    """What an SQLite error means for the operator, in words (the catalog's path is not included)."""
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return ("the catalog is locked by another process (another prescreen command writing, or a tool "
                "holding it open); try again when it has finished")
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return (f"not a usable prescreen catalog ({text}): the file is damaged or another kind of file; "
                "restore it from a backup, or give another --home")
    if "readonly" in low or "read-only" in low:
        return "cannot write the catalog: the file or its folder is read-only"
    if "unable to open" in low:
        return "cannot open the catalog (is it a folder, or in a folder prescreen may not write to?)"
    if "disk is full" in low or "disk i/o" in low:
        return f"cannot write the catalog: {text}"
    return f"catalog error: {text}"


class Catalog:
    """SQLite catalog at ``path``; one connection, used from one thread."""

    def __init__(self, path: str | Path, timeout: float = 30.0):
        """Open (or create) the catalog; ``timeout``: seconds to wait for another writer's lock.

        A file that is not a usable SQLite catalog (another kind of file, damaged, a
        folder, locked for longer than ``timeout``) raises CatalogError saying so.
        """
        self.path = Path(path)
        # called inside every write transaction just before COMMIT (an exception rolls it back), and
        # after a ROLLBACK: the audit chain writes its records and forgets them there
        self.before_commit: list[Callable[[], object]] = []
        self.after_rollback: list[Callable[[], object]] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._check_schema_version()
            self.db.executescript(_SCHEMA)  # idempotent: CREATE ... IF NOT EXISTS (takes no write lock)
            if self._needs_migration():  # only then the write lock: reading commands work beside a writer
                with self.transaction():
                    if "uploads.outcome_by" in ensure_columns(self.db, _ADDED_COLUMNS):
                        self._backfill_outcome_provenance()
                    self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                                    (str(SCHEMA_VERSION),))
                    self.db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise CatalogError(f"{self.path}: {describe_sqlite_error(exc)}") from exc
        except CatalogError:
            self.db.close()
            raise

    def _needs_migration(self) -> bool:
        meta = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('schema_version', 'generation')"))
        return (meta.get("schema_version") != str(SCHEMA_VERSION) or "generation" not in meta
                or bool(missing_columns(self.db, _ADDED_COLUMNS)))

    def _backfill_outcome_provenance(self) -> None:
        """Schema 2 -> 3: who set the outcomes of earlier uploads. An outcome other
        than the screening's decision was set by a takedown notice (if the upload
        has one) or else by a person or a deadline ('review'): either way not by
        the filter, so automatic re-decisions leave it alone. Dispute windows run
        from the screening (the time of a later change was not kept)."""
        has_notices = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='notices'").fetchone()
        noticed = "EXISTS (SELECT 1 FROM notices n WHERE n.upload_id = uploads.upload_id)" if has_notices else "0"
        self.db.execute(f"""UPDATE uploads SET outcome_at = screened_at, outcome_by = CASE
                                WHEN outcome IS decision THEN 'system' WHEN {noticed} THEN 'notice' ELSE 'review' END""")

    def _check_schema_version(self) -> None:
        has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if not has_meta:
            return
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version != SCHEMA_VERSION and version not in _MIGRATABLE_FROM:
            self.db.close()
            raise CatalogError(
                f"{self.path} has catalog schema {version}, this prescreen uses {SCHEMA_VERSION}; "
                "register the works again into a new data folder (--home)")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... (``before_commit`` hooks) COMMIT, rolled back on any exception."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            for hook in self.before_commit:
                hook()
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            for hook in self.after_rollback:
                hook()
            raise
        self.db.execute("COMMIT")

    # -- meta ---------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def replace_fingerprints(self, fingerprints: dict[int, tuple[Fingerprint, ...]], meta: dict[str, str]) -> int:
        """Swap the stored fingerprints of the given references in one transaction."""
        with self.transaction() as db:
            for ref_id, fps in fingerprints.items():
                db.execute("DELETE FROM fingerprints WHERE ref_id=?", (ref_id,))
                for fp in fps:
                    self._insert_fingerprint(db, ref_id, fp)
            for key, value in meta.items():
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            return self._bump_generation()

    @staticmethod
    def _insert_fingerprint(db: sqlite3.Connection, ref_id: int, fp: Fingerprint) -> None:
        db.execute(
            "INSERT INTO fingerprints VALUES (?,?,?,?,?,?,?,?)",
            (ref_id, fp.signal, fp.codes.shape[1], len(fp),
             np.ascontiguousarray(fp.codes, np.uint8).tobytes(),
             np.asarray(fp.starts, np.float64).tobytes(),
             np.asarray(fp.ends, np.float64).tobytes(),
             np.asarray(fp.variants, np.uint8).tobytes()),
        )

    # -- generation -------------------------------------------------------
    def generation(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])

    def _bump_generation(self) -> int:
        gen = self.generation() + 1
        self.db.execute("UPDATE meta SET value=? WHERE key='generation'", (str(gen),))
        return gen

    # -- works ------------------------------------------------------------
    def get_work(self, work_id: str) -> Work | None:
        row = self.db.execute("SELECT * FROM works WHERE work_id=?", (work_id,)).fetchone()
        return _work(row) if row else None

    def works(self) -> list[Work]:
        return [_work(r) for r in self.db.execute("SELECT * FROM works ORDER BY created_at, work_id")]

    def work_summaries(self) -> list[dict]:
        """Works with their reference count, total seconds and code counts per signal (``<signal>_codes``)."""
        rows = [dict(r) for r in self.db.execute(
            """SELECT w.work_id, w.title, w.owner, w.created_at,
                      COUNT(r.ref_id) AS refs, COALESCE(SUM(r.duration), 0) AS seconds
               FROM works w LEFT JOIN refs r ON r.work_id = w.work_id
               GROUP BY w.work_id ORDER BY w.created_at, w.work_id""")]
        codes = {(work_id, signal): n for work_id, signal, n in self.db.execute(
            "SELECT r.work_id, f.signal, SUM(f.n) FROM fingerprints f JOIN refs r USING(ref_id) "
            "GROUP BY r.work_id, f.signal")}
        for row in rows:
            row.update({f"{signal}_codes": codes.get((row["work_id"], signal), 0)
                        for signal in (*SIGNALS, *REFRAME_SIGNALS)})
        return rows

    def add_references(self, work_id: str, title: str, owner: str, refs: list[NewReference],
                       meta: dict[str, str] | None = None) -> tuple[list[int], int]:
        """Create the work if new and store ``refs`` in one transaction.

        Returns (new ref ids, new generation). Nothing is written if any step fails.
        """
        with self.transaction() as db:
            existing = self.get_work(work_id)
            if existing is None:
                db.execute(
                    "INSERT INTO works(work_id, title, owner, created_at) VALUES (?,?,?,?)",
                    (work_id, title, owner, utc_now()),
                )
            else:
                if owner and existing.owner and owner != existing.owner:
                    raise CatalogError(f"work {work_id!r} belongs to {existing.owner!r}, not {owner!r}", "conflict")
                if title and title != existing.title or owner and not existing.owner:
                    db.execute(
                        "UPDATE works SET title=?, owner=? WHERE work_id=?",
                        (title or existing.title, owner or existing.owner, work_id),
                    )
            ids = []
            for ref in refs:
                cur = db.execute(
                    """INSERT INTO refs(work_id, path, sha256, md5, size, duration, has_video, has_audio,
                                        created_at, kind, keep_start, keep_end, keep_modalities)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                    (work_id, ref.path, ref.sha256, ref.md5, ref.size, ref.duration,
                     int(ref.has_video), int(ref.has_audio), utc_now(), ref.kind,
                     *(ref.span if ref.span else (None, None)), ",".join(ref.modalities)),
                )
                ref_id = int(cur.lastrowid)
                ids.append(ref_id)
            for key, value in (meta or {}).items():
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            for ref_id, ref in zip(ids, refs):
                for fp in ref.fingerprints:
                    self._insert_fingerprint(db, ref_id, fp)
            gen = self._bump_generation()
        return ids, gen

    def remove_work(self, work_id: str) -> tuple[list[int], int]:
        """Delete a work with its references and fingerprints; returns (ref ids, generation)."""
        with self.transaction() as db:
            if self.get_work(work_id) is None:
                raise CatalogError(f"no work with id {work_id!r}", "not_found")
            ref_ids = [r[0] for r in db.execute("SELECT ref_id FROM refs WHERE work_id=?", (work_id,))]
            db.execute("DELETE FROM works WHERE work_id=?", (work_id,))
            gen = self._bump_generation()
        return ref_ids, gen

    def remove_reference(self, ref_id: int) -> int:
        """Delete one reference file and its fingerprints; returns the new generation."""
        with self.transaction() as db:
            if db.execute("DELETE FROM refs WHERE ref_id=?", (ref_id,)).rowcount == 0:
                raise CatalogError(f"no reference with id {ref_id}", "not_found")
            return self._bump_generation()

    # -- references -------------------------------------------------------
    def references(self, work_id: str | None = None) -> list[Reference]:
        if work_id is None:
            rows = self.db.execute("SELECT * FROM refs ORDER BY ref_id")
        else:
            rows = self.db.execute("SELECT * FROM refs WHERE work_id=? ORDER BY ref_id", (work_id,))
        return [_ref(r) for r in rows]

    def references_by_sha256(self, sha256: str) -> list[Reference]:
        return [_ref(r) for r in self.db.execute("SELECT * FROM refs WHERE sha256=?", (sha256,))]

    def fingerprints(self, signal: str, ref_ids: list[int] | None = None) -> Iterator[tuple[int, Fingerprint]]:
        """(ref_id, fingerprint) of every stored reference for ``signal``, by ref id."""
        sql = "SELECT * FROM fingerprints WHERE signal=?"
        args: list = [signal]
        if ref_ids is not None:
            sql += f" AND ref_id IN ({','.join('?' * len(ref_ids))})"
            args += list(ref_ids)
        for row in self.db.execute(sql + " ORDER BY ref_id", args):
            n, width = row["n"], row["code_bytes"]
            yield row["ref_id"], Fingerprint(
                signal,
                np.frombuffer(row["codes"], np.uint8).reshape(n, width),
                np.frombuffer(row["starts"], np.float64),
                np.frombuffer(row["ends"], np.float64),
                np.frombuffer(row["variants"], np.uint8),
            )

    # -- uploads ----------------------------------------------------------
    def record_upload(self, path: str, sha256: str | None, size: int | None, status: str,
                      error: str | None, decision: str | None, result: dict, *, upload_id: str | None = None,
                      uploader_id: str | None = None, declared_use: str | None = None,
                      config_version: str | None = None, at: str | None = None) -> tuple[int, str]:
        """Store one screened upload; returns (row id, upload id). An upload id
        given again (a re-screen) gets a suffix so every screening is kept.

        path: the file's absolute path (evidence and notices read it later).
        """
        at = at or utc_now()
        with self.transaction() as db:
            if upload_id and db.execute("SELECT 1 FROM uploads WHERE upload_id=?", (upload_id,)).fetchone():
                # id#2, id#3...: counted as a range, not LIKE (an id may hold '%' or '_')
                n = db.execute("SELECT COUNT(*) FROM uploads WHERE upload_id > ? AND upload_id < ?",
                               (upload_id + "#", upload_id + "$")).fetchone()[0] + 2
                while db.execute("SELECT 1 FROM uploads WHERE upload_id=?", (f"{upload_id}#{n}",)).fetchone():
                    n += 1
                upload_id = f"{upload_id}#{n}"
            cur = db.execute(
                """INSERT INTO uploads(upload_id, uploader_id, declared_use, path, sha256, size, screened_at, status,
                                       error, decision, outcome, config_version, result, outcome_by, outcome_at)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                (upload_id, uploader_id, declared_use, path, sha256, size, at, status, error,
                 decision, decision, config_version, json.dumps(result, allow_nan=False), "system", at),
            )
            pk = int(cur.lastrowid)
            if not upload_id:  # u<row id>, or u<row id>~2... where a manifest already used that id
                upload_id, n = f"u{pk}", 1
                while db.execute("SELECT 1 FROM uploads WHERE upload_id=?", (upload_id,)).fetchone():
                    n += 1
                    upload_id = f"u{pk}~{n}"
                db.execute("UPDATE uploads SET upload_id=? WHERE upload_pk=?", (upload_id, pk))
        return pk, upload_id

    def latest_upload(self, upload_id: str) -> dict | None:
        """The most recent screening stored under ``upload_id`` or its re-screens (``id#2``...)."""
        # 'id#...' as a range ('#' < '$'): both terms use the upload_id index (a substr scan read every upload)
        row = self.db.execute(
            "SELECT upload_id FROM uploads WHERE upload_id=? OR (upload_id > ? AND upload_id < ?) "
            "ORDER BY upload_pk DESC LIMIT 1", (upload_id, upload_id + "#", upload_id + "$")).fetchone()
        return self.upload(row[0]) if row else None

    def upload(self, upload_id: str) -> dict | None:
        row = self.db.execute("SELECT * FROM uploads WHERE upload_id=?", (upload_id,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["result"] = json.loads(d["result"])
        return d

    def set_work_settings(self, work_id: str, *, rules: list | None = None, priority: bool | None = None) -> None:
        with self.transaction() as db:
            if self.get_work(work_id) is None:
                raise CatalogError(f"no work with id {work_id!r}", "not_found")
            if rules is not None:
                db.execute("UPDATE works SET rules=? WHERE work_id=?", (json.dumps(rules, allow_nan=False), work_id))
            if priority is not None:
                db.execute("UPDATE works SET priority=? WHERE work_id=?", (int(priority), work_id))

    # -- screening claims ------------------------------------------------
    # A file is claimed before it is screened and the claim leaves in the transaction that records
    # the result, so a claim that outlives its process marks a screening that died (kill -9, the
    # OOM killer, a crash inside a library). Liveness is judged by the engine, not here.
    _CLAIM_FIELDS = ("upload_id", "path", "token", "pid", "host", "boot_id", "proc_start", "command", "started_at")

    def claim(self, upload_id: str | None, path: str, holder: dict) -> tuple[int | None, dict | None]:
        """Claim a file for screening: (claim id, None), or (None, the claim that holds its upload id).

        Atomic: of two processes claiming one upload id, one gets it. A file without an
        upload id is always claimed (its claims only mark unfinished screenings).
        holder: token, pid, host, boot_id, proc_start, command, started_at.
        """
        row = {"upload_id": upload_id, "path": path, **holder}
        with self.transaction() as db:
            if upload_id is not None:
                held = db.execute("SELECT * FROM screen_claims WHERE upload_id=?", (upload_id,)).fetchone()
                if held:
                    return None, dict(held)
            cur = db.execute(f"INSERT INTO screen_claims({', '.join(self._CLAIM_FIELDS)}) "
                             f"VALUES ({', '.join('?' * len(self._CLAIM_FIELDS))})",
                             tuple(row[k] for k in self._CLAIM_FIELDS))
            return int(cur.lastrowid), None

    def take_over_claim(self, claim_id: int, old_token: str, holder: dict) -> bool:
        """Take over a claim whose holder is gone; False if another process changed it first."""
        with self.transaction() as db:
            cur = db.execute("UPDATE screen_claims SET token=?, pid=?, host=?, boot_id=?, proc_start=?, command=?, "
                             "started_at=?, sha256=NULL WHERE claim_id=? AND token=?",
                             (*(holder[k] for k in self._CLAIM_FIELDS[2:]), claim_id, old_token))
            return cur.rowcount == 1

    def drop_claim(self, claim_id: int, token: str | None = None) -> bool:
        """Delete a claim (only if it still has ``token``, when given); True if it was there.
        Inside a caller's transaction it lands with the caller's other writes."""
        with self.transaction() as db:
            sql, args = "DELETE FROM screen_claims WHERE claim_id=?", [claim_id]
            if token is not None:
                sql += " AND token=?"
                args.append(token)
            return db.execute(sql, args).rowcount == 1

    def set_claim_sha256(self, claim_id: int, sha256: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE screen_claims SET sha256=? WHERE claim_id=?", (sha256, claim_id))

    def claims_on_path(self, path: str) -> list[dict]:
        """Claims of files without an upload id at ``path``, oldest first."""
        return [dict(r) for r in self.db.execute(
            "SELECT * FROM screen_claims WHERE path=? AND upload_id IS NULL ORDER BY claim_id", (path,))]

    def get_claim(self, claim_id: int) -> dict | None:
        row = self.db.execute("SELECT * FROM screen_claims WHERE claim_id=?", (claim_id,)).fetchone()
        return dict(row) if row else None

    def claims(self) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM screen_claims ORDER BY claim_id")]

    def latest_upload_at_path(self, path: str) -> dict | None:
        """The most recent screening of the file at ``path`` that had no upload id of its own."""
        row = self.db.execute("SELECT upload_id FROM uploads WHERE path=? AND (upload_id = 'u' || upload_pk OR "
                              "upload_id GLOB 'u' || upload_pk || '~*') ORDER BY upload_pk DESC LIMIT 1",
                              (path,)).fetchone()
        return self.upload(row[0]) if row else None

    def upload_rows(self, outcome: str | None = None, uploader_id: str | None = None, path: str | None = None,
                    limit: int = 50) -> list[dict]:
        """The newest screened uploads first (no result documents): filtered by current outcome,
        uploader or stored path; at most ``limit`` rows."""
        sql, args = ("SELECT upload_pk, upload_id, uploader_id, declared_use, path, screened_at, status, error, "
                     "decision, outcome, outcome_by, outcome_at FROM uploads WHERE 1=1"), []
        for col, value in (("outcome", outcome), ("uploader_id", uploader_id), ("path", path)):
            if value is not None:
                sql += f" AND {col}=?"
                args.append(value)
        return [dict(r) for r in self.db.execute(sql + " ORDER BY upload_pk DESC LIMIT ?", (*args, limit))]

    def last_upload_pk(self) -> int:
        return int(self.db.execute("SELECT COALESCE(MAX(upload_pk), 0) FROM uploads").fetchone()[0])

    def upload_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM uploads").fetchone()[0])

    def integrity_problems(self) -> list[str]:
        """Consistency checks: SQLite's own, orphans, fingerprints of every reference."""
        problems = [r[0] for r in self.db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"foreign key violation in {r[0]}" for r in self.db.execute("PRAGMA foreign_key_check")]
        for row in self.db.execute(
            "SELECT w.work_id FROM works w LEFT JOIN refs r USING(work_id) WHERE r.ref_id IS NULL"
        ):
            problems.append(f"work {row[0]!r} has no reference file")
        return problems


def _work(row: sqlite3.Row) -> Work:
    return Work(row["work_id"], row["title"], row["owner"], row["created_at"], json.loads(row["rules"] or "[]"),
                bool(row["priority"]))


def _ref(row: sqlite3.Row) -> Reference:
    return Reference(
        row["ref_id"], row["work_id"], row["path"], row["sha256"], row["md5"], row["size"],
        row["duration"], bool(row["has_video"]), bool(row["has_audio"]), row["kind"],
        None if row["keep_start"] is None else (row["keep_start"], row["keep_end"]),
        tuple(row["keep_modalities"].split(",")),
    )
