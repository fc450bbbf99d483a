"""The shared backend: a PostgreSQL database (psycopg 3), for catalogs used from several machines.

Locking is the database's, so it holds across machines: every write transaction takes one
transaction-level advisory lock (``pg_advisory_xact_lock``) as it begins, which serialises writers
as SQLite's ``BEGIN IMMEDIATE`` does (a claim, a suffixed upload id, the audit chain's head are read
and written under it); a registration or removal also holds a session-level advisory lock over its
checks and writes (:meth:`PostgresBackend.write_lock`), the cross-machine form of the data folder's
file lock. Waits end after the catalog timeout (``lock_timeout``).

The audit chain on PostgreSQL. Which row groups a transaction changed is noted by plpgsql triggers
(AFTER each row change of a tracked table, cascades included) into a per-session TEMP table; a
session that has none (psql, another program) writes untracked rows, which ``audit --verify`` then
reports. What each changed group was *before* the transaction is computed in Python at commit, on a
second connection: writers are serialised by the advisory lock, so that connection sees exactly the
committed state this transaction started from, including any change made behind the log's back, which
the seal then refuses as SQLite's does. Sessions that take no advisory lock (psql) are kept out of the
tracked tables from that read to COMMIT by a SHARE table lock, as SQLite's write lock keeps them out. (Computing digests in plpgsql would mean a second
implementation of the digest; snapshotting rows in triggers would copy every fingerprint blob.)
"""

from __future__ import annotations

import math
import re
import time
from urllib.parse import unquote
from contextlib import contextmanager
from typing import Iterator, Sequence

from .backend import Backend, Digest, DigestVia
from .records import CatalogError
from .migrations import typed_decisions_from_documents
from .schema import (ADDED_COLUMNS, POSTGRES_MIGRATABLE_FROM, PRIMARY_ORDER, SCHEMA_VERSION, TABLES, TRACKED,
                     postgres_ddl)

WRITE_TRANSACTION_LOCK = 0x70726573_63726e31  # advisory lock keys ('presc' 'rn1'/'rn2'), one per catalog database
REGISTRATION_LOCK = 0x70726573_63726e32
LOCK_POLL_SECONDS = 0.1
TABLE_NAMES = tuple(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", TABLES))
# (table, column, parent table, parent column) of every foreign key the schema declares: checked by
# integrity_problems whether or not the server still enforces the constraint
FOREIGN_KEYS = tuple((table, column, parent, key)
                     for table, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", TABLES, re.S)
                     for column, parent, key in re.findall(r"^\s*(\w+) \w+[^,\n]*? REFERENCES (\w+)\((\w+)\)",
                                                           body, re.M))

_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit EXECUTE FUNCTION audit_append_only();
"""


def _tracking_ddl() -> str:
    """One plpgsql trigger per tracked table: the row groups a change touches go into the session's
    ``audit_touched`` (when the session keeps one: prescreen's do)."""
    out = ""
    for table, kind, expr, _ in TRACKED:
        def group(row: str) -> str:
            return f"'{kind}:' || {expr.replace('R.', row + '.')}"
        out += f"""
CREATE OR REPLACE FUNCTION audit_touch_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE g text;
BEGIN
  IF to_regclass('pg_temp.audit_touched') IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN
    g := {group('OLD')};
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    g := {group('NEW')};
    IF g IS NOT NULL THEN INSERT INTO pg_temp.audit_touched VALUES (g) ON CONFLICT DO NOTHING; END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER audit_touch AFTER INSERT OR UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION audit_touch_{table}();
"""
    return out


def _guards() -> list[tuple[str, str, str]]:
    """(table, trigger, its function's body) of every trigger the audit chain relies on, as installed."""
    ddl = _APPEND_ONLY + _tracking_ddl()
    bodies = dict(re.findall(r"CREATE OR REPLACE FUNCTION (\w+)\(\) RETURNS trigger LANGUAGE plpgsql AS \$\$(.*?)\$\$",
                             ddl, re.S))
    return [(table, trigger, bodies[function]) for trigger, table, function in re.findall(
        r"CREATE OR REPLACE TRIGGER (\w+) [^;]*? ON (\w+)\s+(?:FOR EACH ROW )?EXECUTE FUNCTION (\w+)", ddl)]


GUARDS = _guards()


class _Row(tuple):
    """A result row read by position, by column name, and into a dict (``dict(row)``), as sqlite3.Row."""

    def __new__(cls, values: Sequence, index: dict[str, int]):
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor):
    index = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: _Row(values, index)


_SECRET_PARAMETERS = r"(?:ssl)?password"  # libpq's query parameters that hold a secret


def redact(url: str) -> str:
    """A connection URL without its secrets (for messages and ``config show``): the password after the
    user name, and a ``password=`` or ``sslpassword=`` query parameter."""
    url = re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)
    return re.sub(rf"([?&]{_SECRET_PARAMETERS}=)[^&]*", r"\1***", url)


def url_secrets(url: str) -> list[str]:
    """The secrets a connection URL holds, as written and percent-decoded (longest first): a driver's
    message may quote them (libpq echoes a malformed token or the whole URL)."""
    found = re.findall(r"://[^:/@]*:([^@]*)@", url) + re.findall(rf"[?&]{_SECRET_PARAMETERS}=([^&]*)", url)
    found += [unquote(s) for s in found]
    return sorted({s for s in found if s}, key=len, reverse=True)


def session_keepalives(dead_peer: float) -> dict[str, int]:
    """TCP keepalive settings under which a vanished peer is noticed within ``dead_peer`` seconds:
    ``idle`` (s of silence before the first probe), ``interval`` (s between probes), ``count`` (probes
    unanswered before the connection is dropped): idle + count * interval <= dead_peer; and
    ``user_timeout`` (ms that sent data may stay unacknowledged). The same settings serve libpq (the
    client's end: ``keepalives_*``, ``tcp_user_timeout``) and the server (``tcp_keepalives_*``,
    ``tcp_user_timeout``)."""
    idle = max(1, int(dead_peer // 3))
    count = 3
    interval = max(1, int((dead_peer - idle) // (count + 1)))
    return {"idle": idle, "interval": interval, "count": count, "user_timeout": int(dead_peer * 1000)}


class PostgresBackend(Backend):
    """The catalog in the PostgreSQL database at ``url`` (``postgresql://user@host/db``, a unix-socket
    ``?host=/path`` or any libpq URL); ``timeout``: seconds to wait for another writer's lock;
    ``connect_timeout``: seconds to wait for the server to answer a connection (whole seconds).
    ``dead_peer``: seconds after which a TCP connection whose other end has vanished without closing it
    (a machine that lost power or its network) is dropped, on both ends: the server then ends the session
    and frees its advisory locks (else another machine's registration waits for TCP's own ~2 h), and this
    process stops waiting for a server that is gone (``session_keepalives``). ``create``: make the tables
    in a database that has none (else CatalogError: a mistyped URL must not become an empty catalog that
    allows every upload)."""

    dialect = "postgresql"

    def __init__(self, url: str, timeout: float = 30.0, create: bool = True, connect_timeout: float = 10.0,
                 dead_peer: float = 60.0):
        super().__init__()
        import psycopg  # (the optional dependency: only a PostgreSQL catalog needs it)
        self._psycopg = psycopg
        self.url, self.target, self.timeout, self.connect_timeout = url, redact(url), timeout, connect_timeout
        self.keepalives = session_keepalives(dead_peer)
        self._side = None  # a second connection: the committed state, for the audit chain's "before"
        try:
            self.db = self._connect()
        except psycopg.Error as exc:
            raise CatalogError(f"{self.target}: {self.describe_error(exc)}") from None
        try:
            if not self._is_current_catalog():  # (a reader of an existing catalog never waits for a writer)
                with self.transaction():
                    self._ensure_schema(create)
        except BaseException:
            self.db.close()
            raise

    def _connect(self):
        client = {"keepalives": 1, **{f"keepalives_{k}": v for k, v in self.keepalives.items() if k != "user_timeout"},
                  "tcp_user_timeout": self.keepalives["user_timeout"]}
        db = self._psycopg.connect(self.url, autocommit=True, row_factory=_row_factory,
                                   connect_timeout=max(1, math.ceil(self.connect_timeout)), **client)
        db.execute(f"SET lock_timeout = '{max(1, int(self.timeout * 1000))}ms'")
        for name, value in self.keepalives.items():  # the server's side of the same (ignored over a unix socket)
            db.execute(f"SET tcp_{name if name == 'user_timeout' else 'keepalives_' + name} = {int(value)}")
        db.execute("SET client_min_messages = warning")
        return db

    def _is_current_catalog(self) -> bool:
        """A prescreen catalog of this schema version is there (read without the write lock: opening one
        must not wait for another process's write transaction; anything else is settled under the lock)."""
        if not self.scalar("SELECT to_regclass('meta') IS NOT NULL"):
            return False
        version = self.scalar("SELECT value FROM meta WHERE key='schema_version'")
        return version is not None and version == str(SCHEMA_VERSION)

    def _ensure_schema(self, create: bool) -> None:
        """Create the tables (a new database) or check the schema version, under the write lock."""
        has_meta = self.scalar("SELECT to_regclass('meta') IS NOT NULL")
        if has_meta:
            version = self.scalar("SELECT value FROM meta WHERE key='schema_version'")
            if version is not None and int(version) in POSTGRES_MIGRATABLE_FROM:
                self._migrate(int(version))
                return
            if version is not None and int(version) != SCHEMA_VERSION:
                raise CatalogError(f"{self.target} has catalog schema {version}, this prescreen uses "
                                   f"{SCHEMA_VERSION}; register the works again into a new database")
            if version is not None:
                return
        if not create:
            raise CatalogError(f"{self.target} holds no prescreen catalog: check the URL (`prescreen register` or "
                               "`prescreen demo` creates one; in the library, App.open(..., create=True))",
                               "invalid_input", usage=True)
        foreign = [t for t in TABLE_NAMES if self.scalar("SELECT to_regclass(?) IS NOT NULL", (t,))]
        if foreign:  # another application's tables: never graft triggers and rows onto them
            raise CatalogError(f"{self.target} holds no prescreen catalog but tables of the same names "
                               f"({', '.join(foreign)}), another application's: give prescreen a database of its "
                               "own", "invalid_input", usage=True)
        self._script(postgres_ddl(TABLES) + _APPEND_ONLY + _tracking_ddl())
        self.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = "
                     "excluded.value", (str(SCHEMA_VERSION),))
        self.execute("INSERT INTO meta VALUES ('generation', '0') ON CONFLICT (key) DO NOTHING")

    def _migrate(self, version: int) -> None:
        """Bring a catalog of an older schema to :data:`SCHEMA_VERSION`, inside the open transaction (which
        holds the write lock): PostgreSQL's DDL is transactional, so it is all or nothing. New tables, the
        columns added since, the audit tracking triggers of the new tracked tables, then the data."""
        self._script(postgres_ddl(TABLES))  # (CREATE ... IF NOT EXISTS: only what is new)
        for table, column, decl in ADDED_COLUMNS:
            self.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {postgres_ddl(decl)}")
        self._script(_tracking_ddl())
        if version < 5:
            typed_decisions_from_documents(self, version)
        self.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))

    def _script(self, sql: str) -> None:
        self._run(self.db, sql, None)

    # -- statements and transactions --------------------------------------
    def _run(self, db, sql: str, args):
        try:
            if args is None:
                return db.execute(sql)
            return db.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(args))
        except self._psycopg.Error as exc:
            raise DatabaseError(f"{self.target}: {self.describe_error(exc)}", exc) from exc

    def execute(self, sql: str, args: Sequence = ()):
        return self._run(self.db, sql, args)

    @property
    def in_transaction(self) -> bool:
        return self.db.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE

    def _begin(self) -> None:
        self.execute("BEGIN")
        self.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_TRANSACTION_LOCK,))

    def _commit(self) -> None:
        self.execute("COMMIT")

    def _rollback(self) -> None:
        try:
            self.db.execute("ROLLBACK")
        except self._psycopg.Error:
            pass  # the connection is gone: the server ended the transaction

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.in_transaction:
            yield
            return
        self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            self._rollback()

    @contextmanager
    def write_lock(self, timeout: float) -> Iterator[None]:
        """The registration lock (session-level advisory lock): CatalogError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self.scalar("SELECT pg_try_advisory_lock(?)", (REGISTRATION_LOCK,)):
            if time.monotonic() > deadline:
                raise CatalogError(f"{self.target}: another prescreen process (perhaps on another machine) held "
                                   f"the catalog's write lock for more than {timeout:g} s; try again when it "
                                   "has finished")
            time.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            try:
                self.execute("SELECT pg_advisory_unlock(?)", (REGISTRATION_LOCK,))
            except DatabaseError:
                pass  # the connection is gone, and the lock with it

    # -- dialect ----------------------------------------------------------
    def row_order(self, table: str) -> str:
        return PRIMARY_ORDER[table]

    def integrity_problems(self) -> list[str]:
        """SQLite's ``foreign_key_check`` on PostgreSQL, in its words (one problem per orphan row): the server
        enforces the constraints, but not on rows written while they were dropped, made NOT VALID, or while
        its triggers were off (``session_replication_role = replica``, a restore with triggers disabled).
        (Damaged pages are the server's to find: ``amcheck``.)"""
        problems = []
        for table, column, parent, key in FOREIGN_KEYS:
            orphans = self.scalar(f"SELECT COUNT(*) FROM {table} c WHERE c.{column} IS NOT NULL AND NOT EXISTS "
                                  f"(SELECT 1 FROM {parent} p WHERE p.{key} = c.{column})")
            problems += [f"foreign key violation in {table}"] * int(orphans)
        return problems

    def guard_problems(self) -> list[str]:
        """The audit triggers (append-only log, row tracking) that are missing, disabled or run another body
        than prescreen installed: a session of prescreen's would write untracked rows through them."""
        found = {(r["relname"], r["tgname"]): r for r in self.execute(
            "SELECT c.relname, t.tgname, t.tgenabled, p.prosrc FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE t.tgrelid IN (SELECT to_regclass(x) FROM unnest(?::text[]) x)",
            (sorted({table for table, _, _ in GUARDS}),)).fetchall()}
        problems = []
        for table, trigger, body in GUARDS:
            row = found.get((table, trigger))
            state = ("missing" if row is None else "disabled" if row["tgenabled"] not in ("O", "A") else
                     "running another function than prescreen installed" if row["prosrc"] != body else None)
            if state:
                problems.append(f"the audit trigger {trigger} on {table} is {state} (changed behind the log's back)")
        return problems

    def install_audit_tracking(self, digest: Digest) -> None:
        self.execute("CREATE TEMP TABLE IF NOT EXISTS audit_touched (grp TEXT PRIMARY KEY)")

    def take_touched(self, digest: DigestVia) -> tuple[list[str], dict[str, str | None]]:
        touched = [r[0] for r in self.execute("SELECT grp FROM pg_temp.audit_touched ORDER BY grp").fetchall()]
        if not touched:
            return [], {}
        self.execute("DELETE FROM pg_temp.audit_touched")
        # From here to COMMIT nobody else changes a tracked row: a session outside prescreen (psql) takes no
        # advisory lock, and its change committed between the "before" read below and the digests sealed
        # after it would be sealed over as if this transaction had made it. (Readers are not blocked.)
        self.execute(f"LOCK TABLE {', '.join(t for t, *_ in TRACKED)} IN SHARE MODE")
        if self._side is None:
            self._side = self._connect()
        side = lambda sql, args=(): self._run(self._side, sql, args)  # noqa: E731
        return touched, {g: digest(g, side) for g in touched}

    def describe_error(self, exc: BaseException) -> str:
        errors = self._psycopg.errors
        text = " ".join(str(exc).split()).replace(self.url, self.target)
        for secret in url_secrets(self.url):
            text = text.replace(secret, "***")
        if isinstance(exc, errors.LockNotAvailable):
            return ("the catalog is locked by another process (another prescreen command writing, perhaps on "
                    "another machine); try again when it has finished")
        if isinstance(exc, self._psycopg.OperationalError):
            return f"cannot reach the PostgreSQL catalog ({text})"
        return f"catalog error: {text}"

    def close(self) -> None:
        if self._side is not None:
            self._side.close()
        self.db.close()


class DatabaseError(CatalogError):
    """A PostgreSQL error, in words (``cause``: the driver's exception)."""

    def __init__(self, message: str, cause: BaseException):
        super().__init__(message)
        self.cause = cause
