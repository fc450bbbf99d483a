"""The three stores, written once in portable SQL over a :class:`storage.backend.Backend`.

- :class:`SQLReferences` — works, reference files, their fingerprints, catalog meta and generation;
- :class:`SQLDecisions` — screened uploads, their per-work rows (``upload_works``), screening claims;
- :class:`SQLRights` — reviews, disputes, strikes, exclusions, licences, conflicts, notices.

Every change that touches stored fingerprints bumps the ``generation`` counter in the same
transaction, so an index file built at another generation is known to be stale. Rows come back
as dicts (or the typed records of :mod:`storage.records`).
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime, timezone
from typing import Iterator

import numpy as np

from fingerprint import Fingerprint

from . import blobs
from .backend import Backend
from .records import (CatalogError, NewReference, Reference, StoredUpload, UploadRecord, UploadSegment, UploadWork,
                      Work)
from .schema import UPLOAD_SEGMENT_COLUMNS, UPLOAD_TYPED_COLUMNS, UPLOAD_WORK_COLUMNS

_RECORD_COLUMNS = ", ".join(f.name for f in fields(UploadRecord))  # (never result: no reader of decisions reads it)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _upsert_meta(b: Backend, key: str, value: str) -> None:
    b.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


class SQLReferences:
    """Works, references, fingerprints (:class:`storage.interfaces.ReferencesStore`)."""

    def __init__(self, backend: Backend):
        self.b = backend

    # -- meta and generation ----------------------------------------------
    def get_meta(self, key: str) -> str | None:
        return self.b.scalar("SELECT value FROM meta WHERE key=?", (key,))

    def set_meta(self, key: str, value: str) -> None:
        with self.b.transaction():
            _upsert_meta(self.b, key, value)

    def generation(self) -> int:
        return int(self.b.scalar("SELECT value FROM meta WHERE key='generation'"))

    def _bump_generation(self) -> int:
        gen = self.generation() + 1
        self.b.execute("UPDATE meta SET value=? WHERE key='generation'", (str(gen),))
        return gen

    # -- fingerprints -----------------------------------------------------
    def _insert_fingerprint(self, ref_id: int, fp: Fingerprint) -> None:
        self.b.execute(
            "INSERT INTO fingerprints (ref_id, signal, code_bytes, n, codes, starts, ends, variants, encoding) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (ref_id, fp.signal, fp.codes.shape[1], len(fp), *blobs.encode(fp, blobs.ZLIB_DELTA), blobs.ZLIB_DELTA),
        )

    def replace_fingerprints(self, fingerprints: dict[int, tuple[Fingerprint, ...]], meta: dict[str, str]) -> int:
        """Swap the stored fingerprints of the given references in one transaction; the new generation."""
        with self.b.transaction():
            for ref_id, fps in fingerprints.items():
                self.b.execute("DELETE FROM fingerprints WHERE ref_id=?", (ref_id,))
                for fp in fps:
                    self._insert_fingerprint(ref_id, fp)
            for key, value in meta.items():
                _upsert_meta(self.b, key, value)
            return self._bump_generation()

    def fingerprints(self, signal: str, ref_ids: list[int] | None = None) -> Iterator[tuple[int, Fingerprint]]:
        """(ref_id, fingerprint) of every stored reference for ``signal``, by ref id."""
        sql = "SELECT * FROM fingerprints WHERE signal=?"
        args: list = [signal]
        if ref_ids is not None:
            if not ref_ids:
                return
            sql += f" AND ref_id IN ({','.join('?' * len(ref_ids))})"
            args += [int(r) for r in ref_ids]
        for row in self.b.execute(sql + " ORDER BY ref_id", args).fetchall():
            try:
                fp = blobs.decode(signal, row["n"], row["code_bytes"], row["encoding"], row["codes"],
                                  row["starts"], row["ends"], row["variants"])
            except blobs.BlobError as exc:
                raise CatalogError(f"reference {row['ref_id']}: {exc}; `prescreen index rebuild --refingerprint` "
                                   "recomputes it from the reference file") from exc
            yield row["ref_id"], fp

    # -- works ------------------------------------------------------------
    def get_work(self, work_id: str) -> Work | None:
        row = self.b.execute("SELECT * FROM works WHERE work_id=?", (work_id,)).fetchone()
        return _work(row) if row else None

    def works(self) -> list[Work]:
        return [_work(r) for r in self.b.execute("SELECT * FROM works ORDER BY created_at, work_id").fetchall()]

    def work_summaries(self, signals: tuple[str, ...]) -> list[dict]:
        """Works with their reference count, total seconds and code counts per signal (``<signal>_codes``)."""
        rows = [dict(r) for r in self.b.execute(
            """SELECT w.work_id, w.title, w.owner, w.created_at,
                      COUNT(r.ref_id) AS refs, COALESCE(SUM(r.duration), 0) AS seconds
               FROM works w LEFT JOIN refs r ON r.work_id = w.work_id
               GROUP BY w.work_id, w.title, w.owner, w.created_at ORDER BY w.created_at, w.work_id""").fetchall()]
        codes = {(work_id, signal): int(n) for work_id, signal, n in self.b.execute(
            "SELECT r.work_id, f.signal, SUM(f.n) FROM fingerprints f JOIN refs r ON r.ref_id = f.ref_id "
            "GROUP BY r.work_id, f.signal").fetchall()}
        for row in rows:
            row["seconds"] = float(row["seconds"])
            row.update({f"{signal}_codes": codes.get((row["work_id"], signal), 0) for signal in signals})
        return rows

    def add_references(self, work_id: str, title: str, owner: str, refs: list[NewReference],
                       meta: dict[str, str] | None = None) -> tuple[list[int], int]:
        """Create the work if new and store ``refs`` in one transaction.

        Returns (new ref ids, new generation). Nothing is written if any step fails.
        """
        with self.b.transaction():
            existing = self.get_work(work_id)
            if existing is None:
                self.b.execute("INSERT INTO works(work_id, title, owner, created_at) VALUES (?,?,?,?)",
                               (work_id, title, owner, utc_now()))
            else:
                if owner and existing.owner and owner != existing.owner:
                    raise CatalogError(f"work {work_id!r} belongs to {existing.owner!r}, not {owner!r}", "conflict")
                if title and title != existing.title or owner and not existing.owner:
                    self.b.execute("UPDATE works SET title=?, owner=? WHERE work_id=?",
                                   (title or existing.title, owner or existing.owner, work_id))
            ids = []
            for ref in refs:
                ids.append(self.b.insert(
                    """INSERT INTO refs(work_id, path, sha256, md5, size, duration, has_video, has_audio,
                                        created_at, kind, keep_start, keep_end, keep_modalities)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                    (work_id, ref.path, ref.sha256, ref.md5, ref.size, ref.duration,
                     int(ref.has_video), int(ref.has_audio), utc_now(), ref.kind,
                     *(ref.span if ref.span else (None, None)), ",".join(ref.modalities)), "ref_id"))
            for key, value in (meta or {}).items():
                _upsert_meta(self.b, key, value)
            for ref_id, ref in zip(ids, refs):
                for fp in ref.fingerprints:
                    self._insert_fingerprint(ref_id, fp)
            gen = self._bump_generation()
        return ids, gen

    def remove_work(self, work_id: str) -> tuple[list[int], int]:
        """Delete a work with its references, fingerprints, exclusions and licences; (ref ids, generation)."""
        with self.b.transaction():
            if self.get_work(work_id) is None:
                raise CatalogError(f"no work with id {work_id!r}", "not_found")
            ref_ids = [r[0] for r in self.b.execute("SELECT ref_id FROM refs WHERE work_id=? ORDER BY ref_id",
                                                    (work_id,)).fetchall()]
            self.b.execute("DELETE FROM works WHERE work_id=?", (work_id,))
            gen = self._bump_generation()
        return ref_ids, gen

    def remove_reference(self, ref_id: int) -> int:
        """Delete one reference file and its fingerprints; returns the new generation."""
        with self.b.transaction():
            if self.b.execute("DELETE FROM refs WHERE ref_id=?", (ref_id,)).rowcount == 0:
                raise CatalogError(f"no reference with id {ref_id}", "not_found")
            return self._bump_generation()

    def set_work_settings(self, work_id: str, *, rules: list | None = None, priority: bool | None = None) -> None:
        with self.b.transaction():
            if self.get_work(work_id) is None:
                raise CatalogError(f"no work with id {work_id!r}", "not_found")
            if rules is not None:
                self.b.execute("UPDATE works SET rules=? WHERE work_id=?",
                               (json.dumps(rules, allow_nan=False), work_id))
            if priority is not None:
                self.b.execute("UPDATE works SET priority=? WHERE work_id=?", (int(priority), work_id))

    # -- references -------------------------------------------------------
    def references(self, work_id: str | None = None) -> list[Reference]:
        if work_id is None:
            rows = self.b.execute("SELECT * FROM refs ORDER BY ref_id")
        else:
            rows = self.b.execute("SELECT * FROM refs WHERE work_id=? ORDER BY ref_id", (work_id,))
        return [_ref(r) for r in rows.fetchall()]

    def reference(self, ref_id: int) -> Reference | None:
        row = self.b.execute("SELECT * FROM refs WHERE ref_id=?", (ref_id,)).fetchone()
        return _ref(row) if row else None

    def references_by_sha256(self, sha256: str) -> list[Reference]:
        return [_ref(r) for r in self.b.execute("SELECT * FROM refs WHERE sha256=? ORDER BY ref_id",
                                                (sha256,)).fetchall()]

    def works_without_references(self) -> list[str]:
        return [r[0] for r in self.b.execute(
            "SELECT w.work_id FROM works w LEFT JOIN refs r ON r.work_id = w.work_id WHERE r.ref_id IS NULL "
            "ORDER BY w.work_id").fetchall()]


class SQLDecisions:
    """Screened uploads as typed rows (``uploads``, ``upload_works``, ``upload_segments``) and screening
    claims (:class:`storage.interfaces.DecisionsStore`). The JSON a screening prints is a view of these
    rows (``service.view``), never stored."""

    def __init__(self, backend: Backend):
        self.b = backend

    def _taken(self, upload_id: str) -> bool:
        return self.b.execute("SELECT 1 FROM uploads WHERE upload_id=?", (upload_id,)).fetchone() is not None

    def record_upload(self, upload: StoredUpload) -> tuple[int, str]:
        """Store one screened upload (its row, per-work rows and segments; ``upload.record.upload_pk`` and
        the rows' ids are ignored); returns (row id, upload id). The record's ``upload_id`` is the id asked
        for: given again (a re-screen) it gets a suffix so every screening is kept; None: ``u<row id>``.
        Its outcome starts as its decision, set by the system at ``screened_at``. ValueError (nothing
        written) for a figure that is not a finite number.

        ``record.path``: the file's absolute path (evidence and notices read it later).
        """
        r = upload.record
        typed = r.typed_row()  # (before anything is written: a NaN is the caller's error)
        work_rows = [w.row() for w in upload.works]
        segment_rows = [s.row() for s in upload.segments]
        upload_id = r.upload_id
        with self.b.transaction():
            if upload_id and self._taken(upload_id):
                # id#2, id#3...: counted as a range, not LIKE (an id may hold '%' or '_')
                n = int(self.b.scalar("SELECT COUNT(*) FROM uploads WHERE upload_id > ? AND upload_id < ?",
                                      (upload_id + "#", upload_id + "$"))) + 2
                while self._taken(f"{upload_id}#{n}"):
                    n += 1
                upload_id = f"{upload_id}#{n}"
            pk = self.b.insert(
                f"""INSERT INTO uploads(upload_id, uploader_id, declared_use, path, sha256, size, screened_at, status,
                                       error, decision, outcome, config_version, result, outcome_by, outcome_at,
                                       {', '.join(UPLOAD_TYPED_COLUMNS)})
                   VALUES ({', '.join('?' * (15 + len(UPLOAD_TYPED_COLUMNS)))})""",
                (upload_id, r.uploader_id, r.declared_use, r.path, r.sha256, r.size, r.screened_at, r.status, r.error,
                 r.decision, r.decision, r.config_version, "", "system", r.screened_at, *typed), "upload_pk")
            if not upload_id:  # u<row id>, or u<row id>~2... where a manifest already used that id
                upload_id, n = f"u{pk}", 1
                while self._taken(upload_id):
                    n += 1
                    upload_id = f"u{pk}~{n}"
                self.b.execute("UPDATE uploads SET upload_id=? WHERE upload_pk=?", (upload_id, pk))
            self._insert_rows("upload_works", UPLOAD_WORK_COLUMNS, [(pk, upload_id, *w[2:]) for w in work_rows])
            self._insert_rows("upload_segments", UPLOAD_SEGMENT_COLUMNS,
                              [(pk, upload_id, *s[2:]) for s in segment_rows])
        return pk, upload_id

    def _insert_rows(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        self.b.executemany(f"INSERT INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                           rows)

    def _typed_change(self, upload_pk: int) -> None:
        """Before an upload's typed rows change: one stored before schema 5 sheds its JSON document (its
        digest then covers the typed rows, which no longer say what the document says)."""
        self.b.execute("UPDATE uploads SET result='' WHERE upload_pk=? AND result <> ''", (upload_pk,))

    def set_review_id(self, upload_pk: int, review_id: int | None) -> None:
        """The screening review the upload's decision opened."""
        with self.b.transaction():
            self._typed_change(upload_pk)
            self.b.execute("UPDATE uploads SET review_id=? WHERE upload_pk=?", (review_id, upload_pk))

    def set_work_outcomes(self, upload_id: str, works: list[dict]) -> None:
        """A re-decision's per-work actions (``[{work_id, outcome, rule, band}]``) into the per-work rows
        (later steps, a review of the upload, read them there); a matched work the re-decision no longer
        lists (its seconds all excluded) is left without an outcome."""
        with self.b.transaction():
            pk = self.b.scalar("SELECT upload_pk FROM uploads WHERE upload_id=?", (upload_id,))
            if pk is None:
                raise CatalogError(f"no upload with id {upload_id!r}", "not_found")
            self._typed_change(pk)
            given = {w["work_id"]: w for w in works}
            for work_id in [r[0] for r in self.b.execute("SELECT work_id FROM upload_works WHERE upload_pk=?",
                                                         (pk,)).fetchall()]:
                w = given.get(work_id, {})
                self.b.execute("UPDATE upload_works SET outcome=?, rule=?, band=? WHERE upload_pk=? AND work_id=?",
                               (w.get("outcome"), w.get("rule"), w.get("band"), pk, work_id))

    def _works_of(self, upload_pk: int) -> list[UploadWork]:
        return [UploadWork.from_row(r) for r in self.b.execute(
            f"SELECT {', '.join(UPLOAD_WORK_COLUMNS)} FROM upload_works WHERE upload_pk=? ORDER BY seq",
            (upload_pk,)).fetchall()]

    def upload_works(self, upload_id: str) -> list[UploadWork]:
        """The per-work rows of one upload, in match order (longest match first)."""
        pk = self.b.scalar("SELECT upload_pk FROM uploads WHERE upload_id=?", (upload_id,))
        return [] if pk is None else self._works_of(pk)

    def upload_segments(self, upload_id: str) -> list[UploadSegment]:
        """The matched segments of one upload (full precision), in their order."""
        pk = self.b.scalar("SELECT upload_pk FROM uploads WHERE upload_id=?", (upload_id,))
        return [] if pk is None else self._segments_of(pk)

    def _segments_of(self, upload_pk: int) -> list[UploadSegment]:
        return [UploadSegment.from_row(r) for r in self.b.execute(
            f"SELECT {', '.join(UPLOAD_SEGMENT_COLUMNS)} FROM upload_segments WHERE upload_pk=? ORDER BY seq",
            (upload_pk,)).fetchall()]

    def _stored(self, row) -> StoredUpload:
        record = UploadRecord.from_row(row)
        return StoredUpload(record, tuple(self._works_of(record.upload_pk)),
                            tuple(self._segments_of(record.upload_pk)))

    def stored(self, upload_id: str) -> StoredUpload | None:
        """One upload's whole stored decision (row, per-work rows, segments); None if there is none."""
        row = self.b.execute(f"SELECT {_RECORD_COLUMNS} FROM uploads WHERE upload_id=?", (upload_id,)).fetchone()
        return self._stored(row) if row else None

    def upload_work_ids(self, upload_id: str) -> list[str]:
        return [w.work_id for w in self.upload_works(upload_id)]

    def uploads_matching(self, work_id: str) -> list[str]:
        """Ids of the stored uploads whose screening matched ``work_id``, oldest first."""
        return [r[0] for r in self.b.execute(
            "SELECT u.upload_id FROM upload_works w JOIN uploads u ON u.upload_pk = w.upload_pk WHERE w.work_id=? "
            "ORDER BY w.upload_pk", (work_id,)).fetchall()]

    def redecidable(self, work_id: str) -> list[StoredUpload]:
        """Screened uploads (status ok) that matched ``work_id`` and whose outcome the filter set
        (system or release), oldest first, each with its whole stored decision."""
        return [self._stored(r) for r in self.b.execute(
            f"SELECT {', '.join('u.' + f.name for f in fields(UploadRecord))} FROM uploads u "
            "JOIN upload_works w ON w.upload_pk = u.upload_pk WHERE w.work_id=? AND u.status='ok' "
            "AND COALESCE(u.outcome_by, 'system') IN ('system', 'release') ORDER BY u.upload_pk",
            (work_id,)).fetchall()]

    def latest_upload(self, upload_id: str) -> StoredUpload | None:
        """The most recent screening stored under ``upload_id`` or its re-screens (``id#2``...)."""
        # 'id#...' as a range ('#' < '$'): both terms use the upload_id index (a substr scan read every upload)
        found = self.b.scalar(
            "SELECT upload_id FROM uploads WHERE upload_id=? OR (upload_id > ? AND upload_id < ?) "
            "ORDER BY upload_pk DESC LIMIT 1", (upload_id, upload_id + "#", upload_id + "$"))
        return self.stored(found) if found else None

    def upload(self, upload_id: str) -> dict | None:
        """One upload's row (``UploadRecord.as_dict``: its typed columns, lists parsed); None if none."""
        row = self.b.execute(f"SELECT {_RECORD_COLUMNS} FROM uploads WHERE upload_id=?", (upload_id,)).fetchone()
        return UploadRecord.from_row(row).as_dict() if row else None

    def latest_upload_at_path(self, path: str) -> StoredUpload | None:
        """The most recent screening of the file at ``path`` that had no upload id of its own."""
        found = self.b.scalar(
            "SELECT upload_id FROM uploads WHERE path=? AND (upload_id = 'u' || upload_pk OR "
            "substr(upload_id, 1, length('u' || upload_pk) + 1) = 'u' || upload_pk || '~') "
            "ORDER BY upload_pk DESC LIMIT 1", (path,))
        return self.stored(found) if found else None

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
        return [dict(r) for r in self.b.execute(sql + " ORDER BY upload_pk DESC LIMIT ?", (*args, limit)).fetchall()]

    def uploads_of(self, uploader_id: str) -> list[dict]:
        return [dict(r) for r in self.b.execute(
            "SELECT upload_id, path, screened_at, decision, outcome FROM uploads WHERE uploader_id=? "
            "ORDER BY upload_pk", (uploader_id,)).fetchall()]

    def outcome(self, upload_id: str) -> str | None:
        return self.b.scalar("SELECT outcome FROM uploads WHERE upload_id=?", (upload_id,))

    def set_outcome(self, upload_id: str, outcome: str | None, by: str, at: str | None) -> None:
        """Set an upload's current outcome, who set it (``by``) and when (``at``; None: keep it)."""
        with self.b.transaction():
            if at is None:
                self.b.execute("UPDATE uploads SET outcome=?, outcome_by=? WHERE upload_id=?", (outcome, by, upload_id))
            else:
                self.b.execute("UPDATE uploads SET outcome=?, outcome_by=?, outcome_at=? WHERE upload_id=?",
                               (outcome, by, at, upload_id))

    def set_outcome_by(self, upload_id: str, by: str) -> None:
        with self.b.transaction():
            self.b.execute("UPDATE uploads SET outcome_by=? WHERE upload_id=?", (by, upload_id))

    def last_upload_pk(self) -> int:
        return int(self.b.scalar("SELECT COALESCE(MAX(upload_pk), 0) FROM uploads"))

    def upload_count(self) -> int:
        return int(self.b.scalar("SELECT COUNT(*) FROM uploads"))

    def decision_counts(self) -> dict:
        """Counts for the transparency report: total, errors, by decision and by current outcome (status ok),
        the ids of uploads whose decision was one of ``restrictive`` and per-work rows (upload, decision, outcome)."""
        q = lambda sql: self.b.execute(sql).fetchall()  # noqa: E731
        return {
            "total": int(q("SELECT COUNT(*) FROM uploads")[0][0]),
            "errors": int(q("SELECT COUNT(*) FROM uploads WHERE status='error'")[0][0]),
            "decisions": {r[0]: int(r[1]) for r in q(
                "SELECT decision, COUNT(*) FROM uploads WHERE status='ok' GROUP BY decision")},
            "outcomes": {r[0]: int(r[1]) for r in q(
                "SELECT outcome, COUNT(*) FROM uploads WHERE status='ok' GROUP BY outcome")},
            "by_decision": [(r[0], r[1]) for r in q("SELECT upload_id, decision FROM uploads")],
            "per_work": [dict(r) for r in q(
                "SELECT w.work_id, u.upload_id, u.decision, u.outcome FROM upload_works w "
                "JOIN uploads u ON u.upload_pk = w.upload_pk WHERE u.status='ok' ORDER BY u.upload_pk, w.work_id")],
        }

    # -- screening claims ------------------------------------------------
    # A file is claimed before it is screened and the claim leaves in the transaction that records
    # the result, so a claim that outlives its process marks a screening that died (kill -9, the
    # OOM killer, a crash inside a library). Liveness is judged by the engine, not here.
    _CLAIM_FIELDS = ("upload_id", "path", "token", "pid", "host", "boot_id", "proc_start", "command", "started_at")

    def claim(self, upload_id: str | None, path: str, holder: dict) -> tuple[int | None, dict | None]:
        """Claim a file for screening: (claim id, None), or (None, the claim that holds its upload id).

        Atomic: of two processes claiming one upload id, one gets it (the write transaction holds the
        database's write lock). A file without an upload id is always claimed (its claims only mark
        unfinished screenings). holder: token, pid, host, boot_id, proc_start, command, started_at.
        """
        row = {"upload_id": upload_id, "path": path, **holder}
        with self.b.transaction():
            if upload_id is not None:
                held = self.b.execute("SELECT * FROM screen_claims WHERE upload_id=?", (upload_id,)).fetchone()
                if held:
                    return None, dict(held)
            claim_id = self.b.insert(f"INSERT INTO screen_claims({', '.join(self._CLAIM_FIELDS)}) "
                                     f"VALUES ({', '.join('?' * len(self._CLAIM_FIELDS))})",
                                     tuple(row[k] for k in self._CLAIM_FIELDS), "claim_id")
            return claim_id, None

    def take_over_claim(self, claim_id: int, old_token: str, holder: dict) -> bool:
        """Take over a claim whose holder is gone; False if another process changed it first."""
        with self.b.transaction():
            cur = self.b.execute("UPDATE screen_claims SET token=?, pid=?, host=?, boot_id=?, proc_start=?, "
                                 "command=?, started_at=?, sha256=NULL WHERE claim_id=? AND token=?",
                                 (*(holder[k] for k in self._CLAIM_FIELDS[2:]), claim_id, old_token))
            return cur.rowcount == 1

    def drop_claim(self, claim_id: int, token: str | None = None) -> bool:
        """Delete a claim (only if it still has ``token``, when given); True if it was there.
        Inside a caller's transaction it lands with the caller's other writes."""
        with self.b.transaction():
            sql, args = "DELETE FROM screen_claims WHERE claim_id=?", [claim_id]
            if token is not None:
                sql += " AND token=?"
                args.append(token)
            return self.b.execute(sql, args).rowcount == 1

    def set_claim_sha256(self, claim_id: int, sha256: str) -> None:
        with self.b.transaction():
            self.b.execute("UPDATE screen_claims SET sha256=? WHERE claim_id=?", (sha256, claim_id))

    def claims_on_path(self, path: str) -> list[dict]:
        """Claims of files without an upload id at ``path``, oldest first."""
        return [dict(r) for r in self.b.execute(
            "SELECT * FROM screen_claims WHERE path=? AND upload_id IS NULL ORDER BY claim_id", (path,)).fetchall()]

    def get_claim(self, claim_id: int) -> dict | None:
        row = self.b.execute("SELECT * FROM screen_claims WHERE claim_id=?", (claim_id,)).fetchone()
        return dict(row) if row else None

    def claims(self) -> list[dict]:
        return [dict(r) for r in self.b.execute("SELECT * FROM screen_claims ORDER BY claim_id").fetchall()]


class SQLRights:
    """Reviews, disputes, strikes, exclusions, licences, conflicts, notices
    (:class:`storage.interfaces.RightsStore`). The rules of the process are in :mod:`workflow`; here
    is only what is stored. Writes join the caller's transaction (or run in one of their own)."""

    def __init__(self, backend: Backend):
        self.b = backend

    def _rows(self, sql: str, args=()) -> list[dict]:
        return [dict(r) for r in self.b.execute(sql, args).fetchall()]

    def _write(self, sql: str, args=()) -> int:
        with self.b.transaction():
            return self.b.execute(sql, args).rowcount

    def _insert(self, sql: str, args, key: str) -> int:
        with self.b.transaction():
            return self.b.insert(sql, args, key)

    # -- reviews ----------------------------------------------------------
    def add_review(self, upload_id: str, kind: str, created_at: str, due_at: str, dispute_id: int | None = None) -> int:
        return self._insert("INSERT INTO reviews(upload_id, kind, status, created_at, due_at, dispute_id) "
                            "VALUES (?,?,?,?,?,?)", (upload_id, kind, "pending", created_at, due_at, dispute_id),
                            "review_id")

    def review(self, review_id: int) -> dict | None:
        rows = self._rows("SELECT * FROM reviews WHERE review_id=?", (review_id,))
        return rows[0] if rows else None

    def pending_reviews_of(self, upload_id: str, kind: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM reviews WHERE upload_id=? AND status='pending'", [upload_id]
        if kind:
            sql += " AND kind=?"
            args.append(kind)
        return self._rows(sql + " ORDER BY review_id", args)

    def reviews_due(self, before: str) -> list[dict]:
        """Pending reviews whose deadline is before ``before`` (ISO time), in deadline order."""
        return self._rows("SELECT * FROM reviews WHERE status='pending' AND due_at < ? ORDER BY due_at, review_id",
                          (before,))

    def close_review(self, review_id: int, status: str, decided_at: str, *, outcome: str | None = None,
                     note: str | None = None, reviewer: str | None = None) -> None:
        """End a review (decided, expired, closed, withdrawn); the fields given are set, the others kept."""
        sets, args = ["status=?", "decided_at=?"], [status, decided_at]
        for col, value in (("outcome", outcome), ("note", note), ("reviewer", reviewer)):
            if value is not None:
                sets.append(f"{col}=?")
                args.append(value)
        self._write(f"UPDATE reviews SET {', '.join(sets)} WHERE review_id=?", (*args, review_id))

    def reviews(self, status: str | None = "pending") -> list[dict]:
        sql = ("SELECT r.*, u.path, u.uploader_id, u.decision FROM reviews r "  # (r.outcome: the review's)
               "JOIN uploads u ON u.upload_id = r.upload_id")
        args: tuple = ()
        if status:
            sql += " WHERE r.status=?"
            args = (status,)
        return self._rows(sql + " ORDER BY r.due_at, r.review_id", args)

    def review_history(self, upload_id: str) -> list[dict]:
        return self._rows("SELECT review_id, kind, status, created_at, due_at, reviewer, outcome, note, decided_at "
                          "FROM reviews WHERE upload_id=? ORDER BY review_id", (upload_id,))

    def review_counts(self) -> dict:
        """{'kind:status': n}, and the outcomes of finished screening reviews {outcome: n}."""
        return {"reviews": {f"{r['kind']}:{r['status']}": int(r["n"]) for r in self._rows(
                    "SELECT kind, status, COUNT(*) AS n FROM reviews GROUP BY kind, status")},
                "review_outcomes": {r["outcome"]: int(r["n"]) for r in self._rows(
                    "SELECT outcome, COUNT(*) AS n FROM reviews WHERE kind='screening' AND status IN "
                    "('decided', 'expired') GROUP BY outcome")}}

    # -- disputes ---------------------------------------------------------
    def add_dispute(self, upload_id: str, uploader_id: str, reason: str, disputed_outcome: str, filed_at: str,
                    disputed_by: str) -> int:
        return self._insert("INSERT INTO disputes(upload_id, uploader_id, reason, disputed_outcome, filed_at, status, "
                            "disputed_by) VALUES (?,?,?,?,?,?,?)",
                            (upload_id, uploader_id, reason, disputed_outcome, filed_at, "open", disputed_by),
                            "dispute_id")

    def dispute(self, dispute_id: int) -> dict | None:
        rows = self._rows("SELECT * FROM disputes WHERE dispute_id=?", (dispute_id,))
        return rows[0] if rows else None

    def resolve_dispute(self, dispute_id: int, status: str, resolved_at: str) -> None:
        self._write("UPDATE disputes SET status=?, resolved_at=? WHERE dispute_id=?", (status, resolved_at, dispute_id))

    def dispute_history(self, upload_id: str) -> list[dict]:
        return self._rows("SELECT dispute_id, uploader_id, reason, disputed_outcome, filed_at, status, resolved_at "
                          "FROM disputes WHERE upload_id=? ORDER BY dispute_id", (upload_id,))

    def dispute_counts(self) -> dict[str, int]:
        return {r["status"]: int(r["n"]) for r in self._rows("SELECT status, COUNT(*) AS n FROM disputes GROUP BY status")}

    def released_disputes(self) -> list[dict]:
        """(upload_id, disputed_outcome) of the disputes that released their upload."""
        return self._rows("SELECT upload_id, disputed_outcome FROM disputes WHERE status='released'")

    # -- strikes ----------------------------------------------------------
    def add_strike(self, uploader_id: str, upload_id: str, work_ids: list[str], reason: str, created_at: str,
                   expires_at: str) -> int:
        return self._insert("INSERT INTO strikes(uploader_id, upload_id, work_ids, reason, created_at, expires_at) "
                            "VALUES (?,?,?,?,?,?)", (uploader_id, upload_id, json.dumps(work_ids, allow_nan=False),
                                                     reason, created_at, expires_at), "strike_id")

    def live_strikes_of_upload(self, upload_id: str) -> list[dict]:
        """The upload's strikes that were not revoked."""
        return self._rows("SELECT * FROM strikes WHERE upload_id=? AND revoked_at IS NULL ORDER BY strike_id",
                          (upload_id,))

    def revoke_strike(self, strike_id: int, at: str, reason: str) -> None:
        self._write("UPDATE strikes SET revoked_at=?, revoke_reason=? WHERE strike_id=?", (at, reason, strike_id))

    def strikes_of(self, uploader_id: str) -> list[dict]:
        rows = self._rows("SELECT * FROM strikes WHERE uploader_id=? ORDER BY created_at, strike_id", (uploader_id,))
        for s in rows:
            s["work_ids"] = json.loads(s["work_ids"])
        return rows

    def active_strike_count(self, at: str) -> int:
        return int(self.b.scalar("SELECT COUNT(*) FROM strikes WHERE expires_at > ? AND revoked_at IS NULL", (at,)))

    # -- exclusions and licences ------------------------------------------
    def add_exclusion(self, work_id: str, ref_id: int | None, start: float, end: float, reason: str,
                      created_at: str) -> int:
        return self._insert('INSERT INTO exclusions(work_id, ref_id, start, "end", reason, created_at) '
                            "VALUES (?,?,?,?,?,?)", (work_id, ref_id, start, end, reason, created_at), "exclusion_id")

    def exclusion(self, work_id: str, exclusion_id: int) -> dict | None:
        rows = self._rows("SELECT * FROM exclusions WHERE exclusion_id=? AND work_id=?", (exclusion_id, work_id))
        return rows[0] if rows else None

    def remove_exclusion(self, exclusion_id: int) -> bool:
        return self._write("DELETE FROM exclusions WHERE exclusion_id=?", (exclusion_id,)) == 1

    def exclusions(self, work_id: str | None = None) -> list[dict]:
        sql = "SELECT * FROM exclusions" + (" WHERE work_id=?" if work_id else "") + " ORDER BY exclusion_id"
        return self._rows(sql, (work_id,) if work_id else ())

    def grant_license(self, work_id: str, uploader_id: str, created_at: str) -> None:
        self._write("INSERT INTO licenses VALUES (?,?,?) ON CONFLICT (work_id, uploader_id) DO NOTHING",
                    (work_id, uploader_id, created_at))

    def revoke_license(self, work_id: str, uploader_id: str) -> None:
        self._write("DELETE FROM licenses WHERE work_id=? AND uploader_id=?", (work_id, uploader_id))

    def licensed(self) -> dict[str, set[str]]:
        """Work id -> the uploaders licensed to use it."""
        out: dict[str, set[str]] = {}
        for row in self.b.execute("SELECT work_id, uploader_id FROM licenses").fetchall():
            out.setdefault(row[0], set()).add(row[1])
        return out

    # -- conflicts and notices --------------------------------------------
    def conflicts_like(self, work_id: str, owner: str, path: str, existing_work_id: str) -> list[dict]:
        rows = self._rows("SELECT * FROM conflicts WHERE work_id=? AND owner=? AND path=? AND existing_work_id=? "
                          "ORDER BY conflict_id", (work_id, owner, path, existing_work_id))
        for row in rows:
            row["evidence"] = json.loads(row["evidence"])
        return rows

    def add_conflict(self, work_id: str, owner: str, path: str, existing_work_id: str, existing_owner: str,
                     evidence: dict, created_at: str) -> int:
        return self._insert("INSERT INTO conflicts(work_id, owner, path, existing_work_id, existing_owner, evidence, "
                            "created_at) VALUES (?,?,?,?,?,?,?)",
                            (work_id, owner, path, existing_work_id, existing_owner,
                             json.dumps(evidence, allow_nan=False), created_at), "conflict_id")

    def conflicts(self) -> list[dict]:
        return self._rows("SELECT * FROM conflicts ORDER BY conflict_id")

    def add_notice(self, work_id: str, upload_id: str | None, path: str, ref_id: int, actor: str,
                   created_at: str) -> int:
        return self._insert("INSERT INTO notices(work_id, upload_id, path, ref_id, actor, created_at) "
                            "VALUES (?,?,?,?,?,?)", (work_id, upload_id, path, ref_id, actor, created_at), "notice_id")

    def live_notices_of_upload(self, upload_id: str) -> list[dict]:
        return self._rows("SELECT * FROM notices WHERE upload_id=? AND lifted_at IS NULL ORDER BY notice_id",
                          (upload_id,))

    def lift_notice(self, notice_id: int, at: str) -> None:
        self._write("UPDATE notices SET lifted_at=? WHERE notice_id=?", (at, notice_id))

    def lifted_notice_references(self) -> list[dict]:
        """The takedown references whose every notice is lifted: ``{ref_id, work_id, notice_id}`` (the
        latest lifted notice of each), to be withdrawn from the catalog. Empty in a consistent catalog
        once the application layer has withdrawn them."""
        return self._rows("SELECT r.ref_id AS ref_id, r.work_id AS work_id, MAX(n.notice_id) AS notice_id "
                          "FROM refs r JOIN notices n ON n.ref_id = r.ref_id "
                          "WHERE r.kind = 'notice' AND n.lifted_at IS NOT NULL AND NOT EXISTS "
                          "(SELECT 1 FROM notices m WHERE m.ref_id = r.ref_id AND m.lifted_at IS NULL) "
                          "GROUP BY r.ref_id, r.work_id ORDER BY r.ref_id")


def _work(row) -> Work:
    return Work(row["work_id"], row["title"], row["owner"], row["created_at"], json.loads(row["rules"] or "[]"),
                bool(row["priority"]))


def _ref(row) -> Reference:
    return Reference(
        row["ref_id"], row["work_id"], row["path"], row["sha256"], row["md5"], row["size"],
        row["duration"], bool(row["has_video"]), bool(row["has_audio"]), row["kind"],
        None if row["keep_start"] is None else (row["keep_start"], row["keep_end"]),
        tuple(row["keep_modalities"].split(",")),
    )


class SQLService:
    """The HTTP service's own rows (:class:`storage.interfaces.ServiceStore`): API keys (their SHA-256,
    never the secret) and screening jobs with their webhook deliveries. Writes join the caller's
    transaction (or run in one of their own); a job is claimed by one process only."""

    def __init__(self, backend: Backend):
        self.b = backend

    def _rows(self, sql: str, args=()) -> list[dict]:
        return [dict(r) for r in self.b.execute(sql, args).fetchall()]

    def _one(self, sql: str, args=()) -> dict | None:
        rows = self._rows(sql, args)
        return rows[0] if rows else None

    def _write(self, sql: str, args=()) -> int:
        with self.b.transaction():
            return self.b.execute(sql, args).rowcount

    # -- keys -------------------------------------------------------------
    def add_key(self, name: str, role: str, subject: str | None, prefix: str, secret_sha256: str,
                created_at: str, created_by: str) -> int:
        with self.b.transaction():
            if self.key(name) is not None:
                raise CatalogError(f"a key named {name!r} exists already (names are the audit log's actors: "
                                   "revoked keys keep theirs)", "conflict")
            return self.b.insert("INSERT INTO api_keys(name, role, subject, prefix, secret_sha256, created_at, "
                                 "created_by) VALUES (?,?,?,?,?,?,?)",
                                 (name, role, subject, prefix, secret_sha256, created_at, created_by), "key_id")

    def key(self, name: str) -> dict | None:
        return self._one("SELECT * FROM api_keys WHERE name=?", (name,))

    def key_by_secret(self, secret_sha256: str) -> dict | None:
        return self._one("SELECT * FROM api_keys WHERE secret_sha256=?", (secret_sha256,))

    def keys(self) -> list[dict]:
        return self._rows("SELECT * FROM api_keys ORDER BY key_id")

    def revoke_key(self, name: str, at: str) -> bool:
        """Revoke a live key; False if there is none of that name, or it was revoked already."""
        return self._write("UPDATE api_keys SET revoked_at=? WHERE name=? AND revoked_at IS NULL", (at, name)) > 0

    # -- jobs -------------------------------------------------------------
    def add_job(self, job_id: str, path: str, stored: bool, context: dict, submitted_by: str, created_at: str,
                webhook_url: str | None = None, webhook_secret: str | None = None) -> None:
        self._write("INSERT INTO jobs(job_id, status, path, stored, context, submitted_by, created_at, webhook_url, "
                    "webhook_secret, webhook_status) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (job_id, "queued", path, int(stored), json.dumps(context, allow_nan=False), submitted_by,
                     created_at, webhook_url, webhook_secret, "pending" if webhook_url else None))

    def job(self, job_id: str) -> dict | None:
        row = self._one("SELECT * FROM jobs WHERE job_id=?", (job_id,))
        return _job(row) if row else None

    def jobs(self, status: str | None = None, submitted_by: str | None = None, limit: int = 100) -> list[dict]:
        sql, args, where = "SELECT * FROM jobs", [], []
        for col, value in (("status", status), ("submitted_by", submitted_by)):
            if value is not None:
                where.append(f"{col}=?")
                args.append(value)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_job(r) for r in self._rows(sql + " ORDER BY created_at DESC, job_id LIMIT ?", (*args, int(limit)))]

    def claim_job(self, holder: dict, at: str) -> dict | None:
        """The oldest queued job, now running under ``holder`` (attempts counted); None if none is queued.
        One transaction under the write lock: two processes never claim the same job."""
        with self.b.transaction():
            row = self._one("SELECT job_id FROM jobs WHERE status='queued' ORDER BY created_at, job_id LIMIT 1")
            if row is None:
                return None
            self.b.execute("UPDATE jobs SET status='running', holder=?, started_at=?, attempts=attempts+1 "
                           "WHERE job_id=? AND status='queued'", (json.dumps(holder), at, row["job_id"]))
            return self.job(row["job_id"])

    def requeue_job(self, job_id: str, attempts: int) -> bool:
        """Put a running job back in the queue, if its claim is still the one of attempt ``attempts`` (as
        read: no other process has taken it over since)."""
        return self._write("UPDATE jobs SET status='queued', holder=NULL WHERE job_id=? AND status='running' AND "
                           "attempts=?", (job_id, int(attempts))) > 0

    def finish_job(self, job_id: str, status: str, at: str, *, upload_id: str | None = None,
                   error: str | None = None) -> None:
        """A job done (``upload_id`` screened) or failed (``error``)."""
        self._write("UPDATE jobs SET status=?, finished_at=?, upload_id=?, error=?, holder=NULL WHERE job_id=?",
                    (status, at, upload_id, error, job_id))

    def webhooks_due(self, at: str) -> list[dict]:
        """Finished jobs whose webhook delivery is pending and due by ``at``."""
        return [_job(r) for r in self._rows(
            "SELECT * FROM jobs WHERE webhook_status='pending' AND status IN ('done', 'failed') AND "
            "(webhook_next_at IS NULL OR webhook_next_at <= ?) ORDER BY finished_at, job_id", (at,))]

    def set_webhook(self, job_id: str, status: str, attempts: int, next_at: str | None, error: str | None) -> None:
        self._write("UPDATE jobs SET webhook_status=?, webhook_attempts=?, webhook_next_at=?, webhook_error=? "
                    "WHERE job_id=?", (status, attempts, next_at, error, job_id))


def _job(row: dict) -> dict:
    row = dict(row)
    row["context"] = json.loads(row["context"] or "{}")
    row["holder"] = json.loads(row["holder"]) if row.get("holder") else None
    row["stored"] = bool(row["stored"])
    return row
