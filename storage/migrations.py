"""Data migrations written once for both backends (the columns and tables themselves come from
:mod:`storage.schema`; each backend adds them its own way, inside the same transaction as these)."""

from __future__ import annotations

from .backend import Backend
from .records import legacy_decision
from .schema import UPLOAD_SEGMENT_COLUMNS, UPLOAD_TYPED_COLUMNS, UPLOAD_WORK_COLUMNS

# what schema 5 added to an upload_works row of schema 4 (the rest was already there)
_NEW_WORK_COLUMNS = ("seq", "rule", "band", "score", "signals", "background", "modality_seconds")


def typed_decisions_from_documents(b: Backend, version: int) -> int:
    """Schema 4 -> 5 (and 2 or 3 -> 5): the typed decision of every upload stored with a JSON document
    (``uploads.result``), filled from that document (``records.legacy_decision``): the typed columns of
    uploads, the new columns of its existing ``upload_works`` rows (a catalog before schema 4 has none: they
    are inserted) and its ``upload_segments``. The document is kept: the audit log's digests were made over
    it, and a digest of such an upload covers its typed rows only where they differ from it. Rows of
    ``upload_works`` that schema 4 did not have (removed behind the log's back) are not made again, and
    those it had are not rewritten: what was changed behind the log's back stays visible to ``audit
    --verify``. Returns the number of uploads filled. Runs inside the caller's transaction."""
    have = {(int(pk), work_id) for pk, work_id in b.execute("SELECT upload_pk, work_id FROM upload_works").fetchall()}
    uploads = b.execute("SELECT upload_pk, upload_id, result FROM uploads WHERE upload_id IS NOT NULL AND result <> '' "
                        "ORDER BY upload_pk").fetchall()
    for pk, upload_id, result in uploads:
        typed, works, segments = legacy_decision(int(pk), upload_id, result)
        b.execute(f"UPDATE uploads SET {', '.join(c + '=?' for c in UPLOAD_TYPED_COLUMNS)} WHERE upload_pk=?",
                  (*typed, pk))
        new, kept = [], []
        for w in works:
            row = dict(zip(UPLOAD_WORK_COLUMNS, w.row()))
            if (int(pk), w.work_id) in have:
                kept.append((*(row[c] for c in _NEW_WORK_COLUMNS), pk, w.work_id))
            elif version < 4:
                new.append(tuple(row.values()))
        b.executemany(f"UPDATE upload_works SET {', '.join(c + '=?' for c in _NEW_WORK_COLUMNS)} "
                      "WHERE upload_pk=? AND work_id=?", kept)
        b.executemany(f"INSERT INTO upload_works({', '.join(UPLOAD_WORK_COLUMNS)}) "
                      f"VALUES ({', '.join('?' * len(UPLOAD_WORK_COLUMNS))})", new)
        b.executemany(f"INSERT INTO upload_segments({', '.join(UPLOAD_SEGMENT_COLUMNS)}) "
                      f"VALUES ({', '.join('?' * len(UPLOAD_SEGMENT_COLUMNS))})", [s.row() for s in segments])
    return len(uploads)
