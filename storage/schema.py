"""The catalog's tables, written once for both backends.

Portable SQL: SQLite types in the text below; the PostgreSQL backend maps
them (:func:`postgres_ddl`). The column ``end`` of exclusions is quoted: it is a
reserved word in PostgreSQL.
"""

from __future__ import annotations

import re

SCHEMA_VERSION = 7
# schema 2 -> 3: the outcome's provenance (uploads.outcome_by, outcome_at); 3 -> 4: upload_works; 4 -> 5: the
# decision as typed rows (uploads' typed columns, upload_works' full row, upload_segments), filled from the
# JSON document ``uploads.result`` that schema 4 stored, which is kept (the audit chain's digests cover it);
# 5 -> 6: the HTTP service's tables (api_keys, jobs), new and empty; 6 -> 7: fingerprints.encoding (rows
# written since are compact, ``storage.blobs``; earlier rows stay as they are, 'raw', and are read as such:
# rewriting them would change the digests the audit chain holds)
MIGRATABLE_FROM = (2, 3, 4, 5, 6)
POSTGRES_MIGRATABLE_FROM = (4, 5, 6)  # (PostgreSQL catalogs started at schema 4)

TABLES = """
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
    encoding TEXT NOT NULL DEFAULT 'raw',
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
    -- '' from schema 5 on; before: the JSON document the upload was stored as. Kept on the uploads stored
    -- then (the audit log's digests were made over it) until their typed rows are first changed; read only
    -- by the audit digest and the 4 -> 5 migration, never by a reader of decisions
    result TEXT NOT NULL DEFAULT '',
    outcome_by TEXT,
    outcome_at TEXT,
    error_code TEXT,                    -- media, internal, unfinished, busy (status error)
    rule TEXT,                          -- the rule that fired (the screening's decision)
    reasons TEXT NOT NULL DEFAULT '[]', -- JSON list of the decision's reasons
    duration REAL,                      -- the upload's seconds, full precision
    review_id INTEGER,                  -- the screening review it opened
    warnings TEXT NOT NULL DEFAULT '[]',-- JSON list: damage worked around
    streams TEXT NOT NULL DEFAULT '[]'  -- JSON list of the streams read ({label, codec, ...})
);
CREATE INDEX IF NOT EXISTS uploads_uploader ON uploads(uploader_id);
CREATE INDEX IF NOT EXISTS uploads_path ON uploads(path);
CREATE TABLE IF NOT EXISTS upload_works (  -- one row per (upload, matched work), written with the upload
    upload_pk INTEGER NOT NULL REFERENCES uploads(upload_pk) ON DELETE CASCADE,
    upload_id TEXT NOT NULL,
    work_id TEXT NOT NULL,              -- (not a foreign key: a removed work's uploads keep their record)
    outcome TEXT,                       -- the work's own outcome in the decision (re-decisions update it;
                                        -- NULL: no decision, or a re-decision no longer found the work)
    matched_seconds REAL NOT NULL,      -- upload seconds matched (s)
    upload_coverage REAL NOT NULL,      -- shares 0..1
    reference_coverage REAL NOT NULL,
    modality TEXT NOT NULL,
    method TEXT NOT NULL,               -- fingerprint | digest
    seq INTEGER NOT NULL DEFAULT 0,     -- the match's place in the upload's list (longest first)
    rule TEXT,                          -- the rule that fired for this work, and its band
    band TEXT,
    score REAL NOT NULL DEFAULT 0,      -- 0..1
    signals TEXT NOT NULL DEFAULT '[]', -- JSON list of the signals that found it
    background TEXT NOT NULL DEFAULT '',
    modality_seconds TEXT NOT NULL DEFAULT '{}',  -- JSON {modality: matched seconds}
    PRIMARY KEY (upload_pk, work_id)
);
CREATE INDEX IF NOT EXISTS upload_works_work ON upload_works(work_id);
CREATE TABLE IF NOT EXISTS upload_segments (  -- every matched segment (match.types.Segment), full precision
    upload_pk INTEGER NOT NULL REFERENCES uploads(upload_pk) ON DELETE CASCADE,
    upload_id TEXT NOT NULL,
    work_id TEXT NOT NULL,
    seq INTEGER NOT NULL,               -- order in the upload: by match, then as the match lists them
    ref_id INTEGER NOT NULL,            -- (not a foreign key: evidence outlives a removed reference)
    modality TEXT NOT NULL,
    upload_start REAL NOT NULL,         -- seconds on both timelines
    upload_end REAL NOT NULL,
    ref_start REAL NOT NULL,
    ref_end REAL NOT NULL,
    speed REAL NOT NULL,                -- reference seconds per upload second
    similarity REAL NOT NULL,
    mean_distance REAL NOT NULL,        -- bits
    hits INTEGER NOT NULL,
    density REAL NOT NULL,
    changes INTEGER NOT NULL,
    clean_share REAL NOT NULL,
    altered_share REAL NOT NULL,
    signal TEXT NOT NULL,
    stream TEXT NOT NULL,
    rendition TEXT NOT NULL,
    specificity REAL NOT NULL,
    background TEXT NOT NULL,
    PRIMARY KEY (upload_pk, seq)
);
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
CREATE TABLE IF NOT EXISTS audit (
    audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    upload_id TEXT,
    work_id TEXT,
    config_version TEXT,
    evidence TEXT NOT NULL,
    work_ids TEXT,                      -- JSON list of every work the record concerns
    prev_hash TEXT,
    hash TEXT,                          -- HMAC-SHA-256 under the audit key (SHA-256 before the log was keyed)
    state TEXT                          -- JSON {row group: digest or null}; NULL on records before keying
);
CREATE TABLE IF NOT EXISTS audit_groups (  -- each row group's last recorded digest, MAC'd: changes made
    grp TEXT PRIMARY KEY,                   -- behind the log are refused by the next write, not sealed over
    digest TEXT,
    audit_id INTEGER NOT NULL,
    mac TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reviews (
    review_id INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id TEXT NOT NULL,
    kind TEXT NOT NULL,                 -- screening | dispute
    status TEXT NOT NULL,               -- pending | decided | expired | closed | withdrawn
    created_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    reviewer TEXT,
    outcome TEXT,
    note TEXT,
    decided_at TEXT,
    dispute_id INTEGER
);
CREATE INDEX IF NOT EXISTS reviews_status ON reviews(status);
CREATE TABLE IF NOT EXISTS disputes (
    dispute_id INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id TEXT NOT NULL,
    uploader_id TEXT,
    reason TEXT NOT NULL,
    disputed_outcome TEXT NOT NULL,
    filed_at TEXT NOT NULL,
    status TEXT NOT NULL,               -- open | upheld | released | withdrawn
    resolved_at TEXT,
    disputed_by TEXT                    -- who had set the disputed outcome (system, review, notice...)
);
CREATE TABLE IF NOT EXISTS strikes (
    strike_id INTEGER PRIMARY KEY AUTOINCREMENT,
    uploader_id TEXT NOT NULL,
    upload_id TEXT NOT NULL,
    work_ids TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,                    -- the block it counted was released (dispute, reviewer)
    revoke_reason TEXT
);
CREATE INDEX IF NOT EXISTS strikes_uploader ON strikes(uploader_id);
CREATE TABLE IF NOT EXISTS exclusions (
    exclusion_id INTEGER PRIMARY KEY AUTOINCREMENT,
    work_id TEXT NOT NULL REFERENCES works(work_id) ON DELETE CASCADE,
    ref_id INTEGER,                     -- NULL: every reference file of the work
    start REAL NOT NULL,
    "end" REAL NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS licenses (
    work_id TEXT NOT NULL REFERENCES works(work_id) ON DELETE CASCADE,
    uploader_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (work_id, uploader_id)
);
CREATE TABLE IF NOT EXISTS conflicts (
    conflict_id INTEGER PRIMARY KEY AUTOINCREMENT,
    work_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    path TEXT NOT NULL,
    existing_work_id TEXT NOT NULL,
    existing_owner TEXT NOT NULL,
    evidence TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notices (
    notice_id INTEGER PRIMARY KEY AUTOINCREMENT,
    work_id TEXT NOT NULL,
    upload_id TEXT,
    path TEXT NOT NULL,
    ref_id INTEGER,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    lifted_at TEXT                      -- a released dispute lifted the stay-down (reference removed)
);
CREATE TABLE IF NOT EXISTS api_keys (  -- the HTTP service's keys (service/access.py): never the secret itself
    key_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,          -- who acts: the audit log's actor for every write made with the key
    role TEXT NOT NULL,                 -- operator, rights_holder, reviewer, uploader
    subject TEXT,                       -- a rights holder's owner name, an uploader's uploader id
    prefix TEXT NOT NULL,               -- the key's first characters, for people to tell keys apart
    secret_sha256 TEXT NOT NULL UNIQUE, -- SHA-256 of the whole key (a 256-bit random token)
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS jobs (  -- screening jobs of the HTTP service: queued -> running -> done | failed
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    path TEXT NOT NULL,                 -- the upload's file: its body as stored in the data folder, or an
                                        -- operator's server-side path
    stored INTEGER NOT NULL DEFAULT 0,  -- 1: the body the server received (kept under <home>/received: the
                                        -- upload's file for its evidence); 0: an operator's server-side path
    context TEXT NOT NULL,              -- JSON: upload_id, uploader_id, declared_use
    submitted_by TEXT NOT NULL,         -- the key's name
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    holder TEXT,                        -- JSON: the process running it (service.processes.this_process)
    upload_id TEXT,                     -- the screened upload (its decision is in uploads)
    error TEXT,
    webhook_url TEXT,
    webhook_secret TEXT,                -- the HMAC-SHA-256 key its deliveries are signed with
    webhook_status TEXT,                -- pending, delivered, failed (NULL: no webhook)
    webhook_attempts INTEGER NOT NULL DEFAULT 0,
    webhook_next_at TEXT,
    webhook_error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created_at);
"""

# Additive changes since earlier schema versions: (table, column, declaration). A catalog of an older
# version gets the missing columns on open (a PostgreSQL catalog started at schema 4: those of schema 5).
ADDED_COLUMNS = (
    ("uploads", "outcome_by", "TEXT"),   # who set the current outcome: system, review, dispute, notice, expiry, release
    ("uploads", "outcome_at", "TEXT"),   # when the current outcome was set (dispute windows run from it)
    # what of the file a reference keeps (a takedown of part of an upload): seconds and modalities;
    # refingerprinting the file applies them again
    ("refs", "keep_start", "REAL"), ("refs", "keep_end", "REAL"),
    ("refs", "keep_modalities", "TEXT NOT NULL DEFAULT 'video,audio'"),
    ("audit", "work_ids", "TEXT"), ("audit", "prev_hash", "TEXT"), ("audit", "hash", "TEXT"),
    ("strikes", "revoked_at", "TEXT"), ("strikes", "revoke_reason", "TEXT"),
    ("disputes", "disputed_by", "TEXT"), ("notices", "lifted_at", "TEXT"), ("audit", "state", "TEXT"),
    # schema 5: the decision as typed columns (see TABLES)
    ("uploads", "error_code", "TEXT"), ("uploads", "rule", "TEXT"), ("uploads", "reasons", "TEXT NOT NULL DEFAULT '[]'"),
    ("uploads", "duration", "REAL"), ("uploads", "review_id", "INTEGER"),
    ("uploads", "warnings", "TEXT NOT NULL DEFAULT '[]'"), ("uploads", "streams", "TEXT NOT NULL DEFAULT '[]'"),
    ("upload_works", "seq", "INTEGER NOT NULL DEFAULT 0"), ("upload_works", "rule", "TEXT"),
    ("upload_works", "band", "TEXT"), ("upload_works", "score", "REAL NOT NULL DEFAULT 0"),
    ("upload_works", "signals", "TEXT NOT NULL DEFAULT '[]'"), ("upload_works", "background", "TEXT NOT NULL DEFAULT ''"),
    ("upload_works", "modality_seconds", "TEXT NOT NULL DEFAULT '{}'"),
    # schema 7: how a fingerprint row's blobs are encoded (storage.blobs); rows from before are raw
    ("fingerprints", "encoding", "TEXT NOT NULL DEFAULT 'raw'"),
)

# The typed record of a decision (schema 5), in the order rows are read, written and hashed. JSON columns:
# lists and maps of strings or of display-free numbers, never read back into a re-decision.
UPLOAD_TYPED_COLUMNS = ("error_code", "rule", "reasons", "duration", "review_id", "warnings", "streams")
UPLOAD_JSON_COLUMNS = ("reasons", "warnings", "streams")
UPLOAD_WORK_COLUMNS = ("upload_pk", "upload_id", "work_id", "seq", "outcome", "rule", "band", "matched_seconds",
                       "upload_coverage", "reference_coverage", "score", "modality", "method", "signals", "background",
                       "modality_seconds")
UPLOAD_WORK_JSON_COLUMNS = ("signals", "modality_seconds")
SEGMENT_FIELDS = ("ref_id", "modality", "upload_start", "upload_end", "ref_start", "ref_end", "speed", "similarity",
                  "mean_distance", "hits", "density", "changes", "clean_share", "altered_share", "signal", "stream",
                  "rendition", "specificity", "background")  # every field of match.types.Segment
UPLOAD_SEGMENT_COLUMNS = ("upload_pk", "upload_id", "work_id", "seq", *SEGMENT_FIELDS)

# Row groups under the audit chain: (table, group kind, SQL naming the group of a row ``R``, columns hashed).
# A work's group: the work, its references and their fingerprints, exclusions, licences, notices. An
# upload's: its row, reviews, disputes and strikes, and its typed decision (TYPED_TABLES, the typed columns of
# uploads: hashed as storage.audit_log.AuditLog.group_digest says, so digests recorded before schema 5 still
# hold). Columns are listed, not ``*``: a column added by a later schema does not change every digest.
TRACKED = (
    ("works", "work", "R.work_id", ("work_id", "title", "owner", "created_at", "rules", "priority")),
    ("refs", "work", "R.work_id", ("ref_id", "work_id", "path", "sha256", "md5", "size", "duration", "has_video",
                                   "has_audio", "created_at", "kind", "keep_start", "keep_end", "keep_modalities")),
    ("fingerprints", "work", "(SELECT work_id FROM refs WHERE ref_id = R.ref_id)",
     ("ref_id", "signal", "code_bytes", "n", "codes", "starts", "ends", "variants")),
    ("exclusions", "work", "R.work_id", ("exclusion_id", "work_id", "ref_id", "start", '"end"', "reason",
                                         "created_at")),
    ("licenses", "work", "R.work_id", ("work_id", "uploader_id", "created_at")),
    ("notices", "work", "R.work_id", ("notice_id", "work_id", "upload_id", "path", "ref_id", "actor", "created_at",
                                      "lifted_at")),
    ("uploads", "upload", "R.upload_id", ("upload_pk", "upload_id", "uploader_id", "declared_use", "path", "sha256",
                                          "size", "screened_at", "status", "error", "decision", "outcome",
                                          "config_version", "result", "outcome_by", "outcome_at")),
    ("reviews", "upload", "R.upload_id", ("review_id", "upload_id", "kind", "status", "created_at", "due_at",
                                          "reviewer", "outcome", "note", "decided_at", "dispute_id")),
    ("disputes", "upload", "R.upload_id", ("dispute_id", "upload_id", "uploader_id", "reason", "disputed_outcome",
                                           "filed_at", "status", "resolved_at", "disputed_by")),
    ("strikes", "upload", "R.upload_id", ("strike_id", "uploader_id", "upload_id", "work_ids", "reason",
                                          "created_at", "expires_at", "revoked_at", "revoke_reason")),
    ("upload_works", "upload", "R.upload_id", UPLOAD_WORK_COLUMNS),
    ("upload_segments", "upload", "R.upload_id", UPLOAD_SEGMENT_COLUMNS),
)
TYPED_TABLES = ("upload_works", "upload_segments")  # (tracked; hashed with the typed columns of uploads)
# Which rows of a table make a group: a work's fingerprints through its references.
GROUP_ROWS = {"fingerprints": "ref_id IN (SELECT ref_id FROM refs WHERE work_id=?)"}
# A stable order of each tracked table's rows (PostgreSQL has no rowid; SQLite keeps ``rowid``, the order
# its digests were always made in).
# Text keys are ordered bytewise (COLLATE "C"): under the database's collation a dump restored into another
# database, or a new glibc/ICU, would reorder them and every digest made over them would look tampered with.
PRIMARY_ORDER = {"works": 'work_id COLLATE "C"', "refs": "ref_id", "fingerprints": 'ref_id, signal COLLATE "C"',
                 "exclusions": "exclusion_id", "licenses": 'work_id COLLATE "C", uploader_id COLLATE "C"',
                 "notices": "notice_id", "uploads": "upload_pk", "reviews": "review_id", "disputes": "dispute_id",
                 "strikes": "strike_id", "upload_works": "upload_pk, seq", "upload_segments": "upload_pk, seq"}


def postgres_ddl(sql: str) -> str:
    """The portable DDL above in PostgreSQL's types (64-bit integers, doubles, bytea, identity keys)."""
    sql = sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    sql = re.sub(r"\bINTEGER\b", "BIGINT", sql)
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)
    return re.sub(r"\bBLOB\b", "BYTEA", sql)
