"""The catalog: works, references, their fingerprints, uploads and decisions — the source of truth.

A facade over the storage package (:mod:`storage`): the references store (works, references,
fingerprints, generation) and the decisions store (uploads, their per-work rows, screening claims)
of one database, SQLite (a path) or PostgreSQL (a ``postgresql://`` URL). Every change that touches
stored fingerprints bumps the ``generation`` counter in the same transaction, so a FAISS index file
built at another generation is known to be stale.
"""

from __future__ import annotations

from pathlib import Path

from fingerprint import REGISTRY
from storage import (SCHEMA_VERSION, CatalogError, NewReference, Reference, SQLDecisions, SQLReferences, SQLRights,
                     SQLService, Work, describe_sqlite_error, is_url, open_backend, utc_now)

__all__ = ["Catalog", "CatalogError", "NewReference", "Reference", "SCHEMA_VERSION", "Work", "describe_sqlite_error",
           "utc_now"]


class Catalog:
    """The catalog at ``target`` (an SQLite file's path, or a ``postgresql://`` URL); one connection,
    used from one thread. ``timeout``: seconds to wait for another writer's lock;
    ``connect_timeout``: seconds to wait for a PostgreSQL server to answer a connection; ``dead_peer``:
    seconds after which a PostgreSQL connection whose other end vanished is dropped (its locks freed).

    A target that is not a usable catalog (another kind of file, damaged, a folder, a database that
    cannot be reached, locked for longer than ``timeout``; with ``create`` False, a database without the
    tables) raises CatalogError saying so.
    ``refs``, ``decisions`` and ``rights`` are its three stores (:mod:`storage.interfaces`); ``service``
    holds the HTTP service's API keys and jobs.
    """

    def __init__(self, target: str | Path, timeout: float = 30.0, create: bool = True,
                 connect_timeout: float = 10.0, dead_peer: float = 60.0):
        self.backend = open_backend(target if is_url(target) else Path(target), timeout, create, connect_timeout,
                                    dead_peer)
        self.path = target if is_url(target) else Path(target)
        self.db = self.backend.db  # the driver's connection (tests and repairs of an SQLite file read it)
        self.refs = SQLReferences(self.backend)
        self.decisions = SQLDecisions(self.backend)
        self.rights = SQLRights(self.backend)
        self.service = SQLService(self.backend)  # the HTTP service's keys and jobs
        # called inside every write transaction just before COMMIT (an exception rolls it back), and
        # after a ROLLBACK: the audit chain writes its records and forgets them there
        self.before_commit = self.backend.before_commit
        self.after_rollback = self.backend.after_rollback
        r, d = self.refs, self.decisions
        # references store
        self.get_meta, self.set_meta, self.generation = r.get_meta, r.set_meta, r.generation
        self.replace_fingerprints, self.fingerprints = r.replace_fingerprints, r.fingerprints
        self.get_work, self.works, self.add_references = r.get_work, r.works, r.add_references
        self.remove_work, self.remove_reference, self.set_work_settings = (r.remove_work, r.remove_reference,
                                                                           r.set_work_settings)
        self.references, self.reference, self.references_by_sha256 = (r.references, r.reference,
                                                                      r.references_by_sha256)
        # decisions store
        self.record_upload, self.latest_upload, self.upload = d.record_upload, d.latest_upload, d.upload
        self.latest_upload_at_path, self.upload_rows = d.latest_upload_at_path, d.upload_rows
        self.last_upload_pk, self.upload_count = d.last_upload_pk, d.upload_count
        self.claim, self.take_over_claim, self.drop_claim = d.claim, d.take_over_claim, d.drop_claim
        self.set_claim_sha256, self.claims_on_path = d.set_claim_sha256, d.claims_on_path
        self.get_claim, self.claims = d.get_claim, d.claims

    def close(self) -> None:
        self.backend.close()

    def transaction(self):
        """A write transaction over every store (``before_commit`` hooks, then COMMIT; rolled back on
        any exception); inside an open one it joins it."""
        return self.backend.transaction()

    def write_lock(self, timeout: float):
        """The database's lock over a registration or removal (a no-op on SQLite, whose writers share
        the data folder's file lock; an advisory lock on PostgreSQL, shared across machines)."""
        return self.backend.write_lock(timeout)

    def work_summaries(self) -> list[dict]:
        """Works with their reference count, total seconds and code counts per signal (``<signal>_codes``)."""
        return self.refs.work_summaries(tuple(s.name for s in REGISTRY))

    def integrity_problems(self) -> list[str]:
        """Consistency checks: the database's own, orphans, works without a reference file."""
        return self.backend.integrity_problems() + [
            f"work {work_id!r} has no reference file" for work_id in self.refs.works_without_references()]
