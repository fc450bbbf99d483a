"""The embedded backend: one SQLite file in WAL mode (the default catalog, ``<home>/catalog.sqlite``).

Writes are serialised by SQLite's own lock (``BEGIN IMMEDIATE``); processes on one machine also
hold the data folder's file lock over a registration (``service.processes.write_lock``). The audit
chain's row tracking is per connection: TEMP triggers note every tracked row group a transaction
changes and, before its first change, the group's digest (through a Python SQL function).
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from .backend import Backend, Digest, DigestVia
from .migrations import typed_decisions_from_documents
from .records import CatalogError
from .schema import ADDED_COLUMNS, MIGRATABLE_FROM, SCHEMA_VERSION, TABLES, TRACKED

_APPEND_ONLY = """
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


def _touch_schema() -> str:
    """Per connection (TEMP): the groups the open transaction changed, and each one's digest before its first
    change (computed by a BEFORE trigger through ``audit_group_digest``). Not in the file: an edit made by any
    other program leaves no trace here, and its rows no longer match the chain's digests."""
    out = ("CREATE TEMP TABLE IF NOT EXISTS audit_touched (grp TEXT PRIMARY KEY);\n"
           "CREATE TEMP TABLE IF NOT EXISTS audit_before (grp TEXT PRIMARY KEY, digest TEXT);\n")
    for table, kind, expr, _ in TRACKED:
        expr = expr.replace("FROM refs", "FROM main.refs")
        for when in ("BEFORE", "AFTER"):
            for event, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
                body = " ".join(
                    (f"INSERT OR IGNORE INTO audit_touched SELECT g FROM (SELECT '{kind}:' || "
                     f"{expr.replace('R.', row + '.')} AS g) WHERE g IS NOT NULL;") if when == "AFTER" else
                    (f"INSERT OR IGNORE INTO audit_before SELECT g, audit_group_digest(g) FROM (SELECT '{kind}:' || "
                     f"{expr.replace('R.', row + '.')} AS g) WHERE g IS NOT NULL AND NOT EXISTS "
                     "(SELECT 1 FROM audit_before WHERE grp = g);")
                    for row in rows)
                out += (f"CREATE TEMP TRIGGER IF NOT EXISTS audit_{when.lower()}_{table}_{event} {when} {event} "
                        f"ON main.{table} BEGIN {body} END;\n")
    return out


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


def describe_sqlite_error(exc: BaseException) -> str:
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


class SQLiteBackend(Backend):
    """The catalog file at ``path``; ``timeout``: seconds to wait for another writer's lock."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, timeout: float = 30.0):
        super().__init__()
        self.path = Path(path)
        self.target = str(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            version = self._stored_version()  # (refused before anything is created in it; None: a new file)
            self.db.executescript(TABLES + _APPEND_ONLY)  # idempotent: CREATE ... IF NOT EXISTS (no write lock)
            if self._needs_migration():  # only then the write lock: reading commands work beside a writer
                with self.transaction():  # all or nothing; read again under the lock (another process may
                    if self._needs_migration():  # have migrated it meanwhile)
                        self._migrate(None if version is None else self._stored_version())
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise CatalogError(f"{self.path}: {describe_sqlite_error(exc)}") from exc
        except CatalogError:
            self.db.close()
            raise

    # -- schema -----------------------------------------------------------
    def _stored_version(self) -> int | None:
        """The schema version of an existing catalog (None: a new file); CatalogError if this prescreen
        cannot open it."""
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
            return None
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version != SCHEMA_VERSION and version not in MIGRATABLE_FROM:
            raise CatalogError(
                f"{self.path} has catalog schema {version}, this prescreen uses {SCHEMA_VERSION}; "
                "register the works again into a new data folder (--home)")
        return version

    def _needs_migration(self) -> bool:
        meta = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('schema_version', 'generation')"))
        return (meta.get("schema_version") != str(SCHEMA_VERSION) or "generation" not in meta
                or bool(missing_columns(self.db, ADDED_COLUMNS)))

    def _migrate(self, version: int | None) -> None:
        """Bring an older catalog (or a new file) to :data:`SCHEMA_VERSION`, inside the write lock."""
        if "uploads.outcome_by" in ensure_columns(self.db, ADDED_COLUMNS):
            self._backfill_outcome_provenance()
        if version is not None and version < 5:
            typed_decisions_from_documents(self, version)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")

    def _backfill_outcome_provenance(self) -> None:
        """Schema 2 -> 3: who set the outcomes of earlier uploads. An outcome other
        than the screening's decision was set by a takedown notice (if the upload
        has one) or else by a person or a deadline ('review'): either way not by
        the filter, so automatic re-decisions leave it alone. Dispute windows run
        from the screening (the time of a later change was not kept)."""
        noticed = "EXISTS (SELECT 1 FROM notices n WHERE n.upload_id = uploads.upload_id)"
        self.db.execute(f"""UPDATE uploads SET outcome_at = screened_at, outcome_by = CASE
                                WHEN outcome IS decision THEN 'system' WHEN {noticed} THEN 'notice' ELSE 'review' END""")

    # -- statements and transactions --------------------------------------
    def execute(self, sql: str, args: Sequence = ()):
        return self.db.execute(sql, tuple(args))

    def executemany(self, sql: str, rows) -> None:
        self.db.executemany(sql, rows)

    @property
    def in_transaction(self) -> bool:
        return self.db.in_transaction

    def _begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self.db.execute("COMMIT")

    def _rollback(self) -> None:
        self.db.execute("ROLLBACK")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    # -- dialect ----------------------------------------------------------
    def row_order(self, table: str) -> str:
        return "rowid"

    def integrity_problems(self) -> list[str]:
        problems = [r[0] for r in self.db.execute("PRAGMA integrity_check") if r[0] != "ok"]
        return problems + [f"foreign key violation in {r[0]}" for r in self.db.execute("PRAGMA foreign_key_check")]

    def install_audit_tracking(self, digest: Digest) -> None:
        self.db.create_function("audit_group_digest", 1, digest)
        self.db.executescript(_touch_schema())

    def take_touched(self, digest: DigestVia) -> tuple[list[str], dict[str, str | None]]:
        touched = [g for (g,) in self.db.execute("SELECT grp FROM temp.audit_touched ORDER BY grp")]
        before = dict(self.db.execute("SELECT grp, digest FROM temp.audit_before").fetchall())
        self.db.execute("DELETE FROM temp.audit_touched")
        self.db.execute("DELETE FROM temp.audit_before")
        return touched, before

    def describe_error(self, exc: BaseException) -> str:
        return describe_sqlite_error(exc)
