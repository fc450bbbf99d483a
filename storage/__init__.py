"""Storage: every SQL statement of prescreen, behind narrow interfaces (:mod:`storage.interfaces`).

Two backends hold a catalog: SQLite (:mod:`storage.sqlite`, the embedded default: one file in the
data folder) and PostgreSQL (:mod:`storage.postgres`, shared by several machines), chosen by the
catalog's target: a path, or a ``postgresql://`` URL (``[catalog] url`` in the config). The stores
(:mod:`storage.stores`) and the audit log (:mod:`storage.audit_log`) are written once over either.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .audit_log import AuditKeyError, AuditLog
from .backend import Backend
from .postgres import DatabaseError, PostgresBackend, redact
from .records import (CatalogError, NewReference, Reference, StoredUpload, UploadRecord, UploadSegment, UploadWork,
                      Work)
from .schema import SCHEMA_VERSION
from .sqlite import SQLiteBackend, describe_sqlite_error
from .stores import SQLDecisions, SQLReferences, SQLRights, SQLService, utc_now

# What a database failure (not a file's, not a request's) raises: a command stops on it
DATABASE_ERRORS = (sqlite3.Error, DatabaseError)
URL_SCHEMES = ("postgresql://", "postgres://")


def is_url(target: str | Path) -> bool:
    """Whether a catalog target names a PostgreSQL database (else it is an SQLite file's path)."""
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


def open_backend(target: str | Path, timeout: float = 30.0, create: bool = True,
                 connect_timeout: float = 10.0, dead_peer: float = 60.0) -> Backend:
    """The catalog at ``target`` (a path: SQLite; a ``postgresql://`` URL: PostgreSQL), created if new and
    ``create`` (the engine checks an SQLite file's presence itself); ``timeout``: seconds to wait for another
    writer; ``connect_timeout``: seconds to wait for a PostgreSQL server to answer; ``dead_peer``: seconds
    after which a PostgreSQL connection whose other end vanished is dropped. CatalogError if it cannot be
    opened."""
    if is_url(target):
        try:
            return PostgresBackend(str(target), timeout, create, connect_timeout, dead_peer)
        except ImportError:
            raise CatalogError(f"{redact(str(target))}: a PostgreSQL catalog needs psycopg 3 "
                               "(pip install 'psycopg[binary]', or prescreen's [postgres] extra)") from None
    return SQLiteBackend(target, timeout)


__all__ = ["AuditKeyError", "AuditLog", "Backend", "CatalogError", "DATABASE_ERRORS", "DatabaseError", "NewReference",
           "PostgresBackend", "Reference", "SCHEMA_VERSION", "SQLDecisions", "SQLReferences", "SQLRights", "SQLService",
           "SQLiteBackend", "StoredUpload", "UploadRecord", "UploadSegment", "UploadWork", "Work",
           "describe_sqlite_error", "is_url", "open_backend", "redact", "utc_now"]
