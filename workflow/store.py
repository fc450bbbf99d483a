"""Rights-workflow records in the catalog: reviews, disputes, strikes, exclusions,
licences, notices, conflicts and the append-only audit log.

Every state change goes through one transaction that also appends its audit
records, so the log and the state never disagree: the records a transaction
asks for are written when it commits, the last of them carrying the digests
of every tracked row group it changed (a work with its references,
exclusions, licences and notices; an upload row), found by per-connection
triggers. A change to those rows made in a transaction without its own
record still gets one (action ``row-change``). The audit table refuses UPDATE
and DELETE (SQLite triggers); each record carries an HMAC-SHA-256 under the
audit key chained to the previous record's, and the signed head (record
count and last MAC) is kept in ``meta``: ``verify_audit`` (``prescreen audit
--verify``) finds records edited, inserted, removed or reordered, a head that
does not match, and tracked rows changed behind the log's back. See
:mod:`workflow.audit`.

Who set an upload's current outcome is kept with it (``uploads.outcome_by``:
system, review, dispute, notice, expiry, release): automatic re-decisions
(a new exclusion or rule) never overturn what a person decided.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from index import Catalog, CatalogError
from index.catalog import ensure_columns, missing_columns
from policy import REVIEW, SEVERITY, Rule, WorkPolicy

from .audit import (AUDIT_FIELDS, format_head, group_mac, head_seal, legacy_hash, parse_head, record_mac,
                    rows_digest)

_SCHEMA = """
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
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
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
    status TEXT NOT NULL,               -- pending | decided | expired
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
    status TEXT NOT NULL,               -- open | upheld | released
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
    end REAL NOT NULL,
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
"""
_ADDED_COLUMNS = (
    ("audit", "work_ids", "TEXT"), ("audit", "prev_hash", "TEXT"), ("audit", "hash", "TEXT"),
    ("strikes", "revoked_at", "TEXT"), ("strikes", "revoke_reason", "TEXT"),
    ("disputes", "disputed_by", "TEXT"), ("notices", "lifted_at", "TEXT"), ("audit", "state", "TEXT"),
)
_AUDIT_FIELDS = AUDIT_FIELDS

# Row groups under the chain: (table, group kind, SQL naming the group of a row ``R``, columns hashed).
# A work's group: the work, its references and their fingerprints, exclusions, licences, notices. An
# upload's: its row, reviews, disputes and strikes. Columns are listed, not ``*``: a column added by a
# later schema does not change every digest.
_TRACKED = (
    ("works", "work", "R.work_id", ("work_id", "title", "owner", "created_at", "rules", "priority")),
    ("refs", "work", "R.work_id", ("ref_id", "work_id", "path", "sha256", "md5", "size", "duration", "has_video",
                                   "has_audio", "created_at", "kind", "keep_start", "keep_end", "keep_modalities")),
    ("fingerprints", "work", "(SELECT work_id FROM main.refs WHERE ref_id = R.ref_id)",
     ("ref_id", "signal", "code_bytes", "n", "codes", "starts", "ends", "variants")),
    ("exclusions", "work", "R.work_id", ("exclusion_id", "work_id", "ref_id", "start", "end", "reason",
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
)
# Which rows of a table make a group: a work's fingerprints through its references.
_GROUP_ROWS = {"fingerprints": "ref_id IN (SELECT ref_id FROM main.refs WHERE work_id=?)"}
# Per connection (TEMP): the groups the open transaction changed, and each one's digest before its first
# change (computed by a BEFORE trigger through ``audit_group_digest``). Not in the file: an edit made by any
# other program leaves no trace here, and its rows no longer match the chain's digests.
_TOUCH_SCHEMA = ("CREATE TEMP TABLE IF NOT EXISTS audit_touched (grp TEXT PRIMARY KEY);\n"
                 "CREATE TEMP TABLE IF NOT EXISTS audit_before (grp TEXT PRIMARY KEY, digest TEXT);\n") + "".join(
    f"CREATE TEMP TRIGGER IF NOT EXISTS audit_{when.lower()}_{table}_{event} {when} {event} ON main.{table} BEGIN "
    + " ".join(
        (f"INSERT OR IGNORE INTO audit_touched SELECT g FROM (SELECT '{kind}:' || {expr.replace('R.', row + '.')} AS g)"
         " WHERE g IS NOT NULL;") if when == "AFTER" else
        (f"INSERT OR IGNORE INTO audit_before SELECT g, audit_group_digest(g) FROM (SELECT '{kind}:' || "
         f"{expr.replace('R.', row + '.')} AS g) WHERE g IS NOT NULL AND NOT EXISTS "
         "(SELECT 1 FROM audit_before WHERE grp = g);")
        for row in rows)
    + " END;\n"
    for table, kind, expr, _ in _TRACKED
    for when in ("BEFORE", "AFTER")
    for event, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))))
_HEAD_KEY = "audit_head"

RESTRICTIVE = ("block", "mute-audio")
EXCLUSION_END_SLACK_SECONDS = 0.5  # an exclusion may end this far past the reference's measured duration


class WorkflowError(Exception):
    """A workflow request that cannot be carried out (unknown id, wrong state, deadline passed).

    ``kind`` names the application layer's error class (service/errors.py): ``not_found``,
    ``conflict``, ``invalid_input`` (the default) or ``forbidden``."""

    def __init__(self, message: str, kind: str = "invalid_input"):
        super().__init__(message)
        self.kind = kind


class AuditKeyError(CatalogError):
    """The audit key is missing or cannot be made: nothing can be written to the log."""


def _stored_rules(work_id: str, rules: object) -> tuple[Rule, ...]:
    """A work's stored rules; CatalogError if one is not valid (stored by an older version, or edited):
    dropping it silently could turn the rights holder's block into an allow."""
    try:
        if not isinstance(rules, list):
            raise ValueError(f"the stored rules are not a list ({type(rules).__name__})")
        return tuple(Rule.from_dict(r) for r in rules)
    except ValueError as exc:
        raise CatalogError(f"work {work_id!r} has a stored rule that is not valid ({exc}); set its rules again "
                           f"with `prescreen works set-rule {work_id} --rule ...` (or --clear)") from None


def _group_words(group: str) -> str:
    kind, _, ident = group.partition(":")
    return f"work {ident!r}" if kind == "work" else f"upload {ident!r}"


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse(t: str) -> datetime:
    return datetime.fromisoformat(t)


@dataclass(frozen=True)
class WorkflowParams:
    """Deadlines and strike counting (TOML ``[workflow]``).

    review_expiry_hours: a pending review not decided in time expires (hours) ...
    review_expiry_outcome: ... to this outcome.
    dispute_window_days: an uploader may dispute a decision this long after it (days).
    dispute_review_hours: a dispute not reviewed in time (hours) ...
    dispute_expiry_outcome: ... resolves this way.
    strike_expiry_days: a strike counts for this long (days).
    repeat_uploader_strikes: active strikes at which an uploader is a repeat infringer.
    """

    review_expiry_hours: float = 72.0
    review_expiry_outcome: str = "allow"
    dispute_window_days: float = 30.0
    dispute_review_hours: float = 168.0
    dispute_expiry_outcome: str = "released"
    strike_expiry_days: float = 90.0
    repeat_uploader_strikes: int = 3


class Workflow:
    """Workflow operations over the catalog's connection; ``now`` is passed in (testable)."""

    def __init__(self, catalog: Catalog, params: WorkflowParams, config_version: str,
                 audit_key: Callable[[bool], bytes | None],
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        """``audit_key(create)``: the key of the audit chain (bytes), or None when there is none;
        with ``create`` True it may make one (a log that was never keyed). ``clock``: the time of
        records no caller asked for (``row-change``, ``audit-keyed``), UTC."""
        self.catalog = catalog
        self.db = catalog.db
        self.params = params
        self.config_version = config_version
        self._audit_key = audit_key
        self._clock = clock
        self._pending: list[dict] = []  # records asked for in the open transaction, written at its commit
        # called as (work_id, actor, why) when a noticed reference leaves the catalog, inside the
        # same transaction: the engine re-decides the uploads that were blocked by that variant
        self.on_stay_down_lifted: Callable[[str, str, str], object] | None = None
        self.db.executescript(_SCHEMA)
        if missing_columns(self.db, _ADDED_COLUMNS):  # the write lock only to migrate
            with catalog.transaction():
                ensure_columns(self.db, _ADDED_COLUMNS)
        self.db.create_function("audit_group_digest", 1, self._group_digest)
        self.db.executescript(_TOUCH_SCHEMA)
        catalog.before_commit.append(self._seal)
        catalog.after_rollback.append(self._pending.clear)

    # -- audit ------------------------------------------------------------
    def _audit(self, now: datetime, actor: str, action: str, evidence: dict,
               upload_id: str | None = None, work_id: str | None = None,
               work_ids: list[str] | None = None) -> None:
        """Ask for one record; it is written, chained, when the caller's transaction commits
        (or at once, in a transaction of its own, when there is none).

        work_ids: every work the record concerns; by default ``work_id``, or for
        an upload the works it matched.
        """
        if not self.db.in_transaction:
            with self.catalog.transaction():
                return self._audit(now, actor, action, evidence, upload_id, work_id, work_ids)
        if work_ids is None:
            if work_id:
                work_ids = [work_id]
            elif upload_id:
                work_ids = self._upload_works(upload_id)
            else:
                work_ids = []
        if work_id is None and len(work_ids) == 1:
            work_id = work_ids[0]
        self._pending.append({
            "at": iso(now), "actor": actor, "action": action, "upload_id": upload_id, "work_id": work_id,
            "work_ids": json.dumps(sorted(set(work_ids))), "config_version": self.config_version,
            "evidence": json.dumps(evidence, default=str, allow_nan=False)})

    def _group_digest(self, group: str) -> str | None:
        """SHA-256 of a tracked row group as it is now ('work:<id>' or 'upload:<id>'); None if it has no rows."""
        kind, _, ident = group.partition(":")
        rows: list[list] = []
        for table, k, expr, columns in _TRACKED:
            if k != kind:
                continue
            where = _GROUP_ROWS.get(table, f"{expr.removeprefix('R.')}=?")
            rows += [[table, *(hashlib.sha256(v).hexdigest() if isinstance(v, bytes) else v for v in r)]
                     for r in self.db.execute(f"SELECT {', '.join(columns)} FROM main.{table} WHERE {where} "
                                              "ORDER BY rowid", (ident,))]
        return rows_digest(rows) if rows else None

    def _groups_now(self) -> set[str]:
        """Every tracked row group that has rows."""
        groups: set[str] = set()
        for table, kind, expr, _ in _TRACKED:
            if table in _GROUP_ROWS:
                continue  # (a fingerprint's work has a references row)
            col = expr.removeprefix("R.")
            groups |= {f"{kind}:{v}" for (v,) in self.db.execute(
                f"SELECT DISTINCT {col} FROM main.{table} WHERE {col} IS NOT NULL")}
        return groups

    def _head(self) -> dict | None:
        text = self.catalog.get_meta(_HEAD_KEY)
        return json.loads(text) if text else None

    def _recorded_digest(self, key: bytes, group: str) -> tuple[bool, str | None]:
        """(known, digest): the group's last recorded digest from ``audit_groups``; CatalogError if
        that row's MAC does not hold (edited behind the log's back)."""
        row = self.db.execute("SELECT digest, audit_id, mac FROM audit_groups WHERE grp=?", (group,)).fetchone()
        if row is None:
            return False, None
        if row["mac"] != group_mac(key, group, row["digest"], row["audit_id"]):
            raise CatalogError(f"the audit log's record of {_group_words(group)} was edited behind its back; "
                               "nothing was written (run `prescreen audit --verify`)")
        return True, row["digest"]

    def _seal(self) -> None:
        """Write the transaction's records (called by the catalog just before COMMIT): chained MACs, the
        last record carrying the digests of every row group the transaction changed, and the new head.

        Refused (CatalogError: the transaction rolls back) when the log's head does not match its last
        record, or a changed group did not match its last recorded digest before this transaction: a
        change made behind the log's back is never sealed over by the next legitimate write."""
        touched = [g for (g,) in self.db.execute("SELECT grp FROM temp.audit_touched ORDER BY grp")]
        if not self._pending and not touched:
            return
        before = dict(self.db.execute("SELECT grp, digest FROM temp.audit_before").fetchall())
        self.db.execute("DELETE FROM temp.audit_touched")
        self.db.execute("DELETE FROM temp.audit_before")
        pending, self._pending[:] = list(self._pending), []
        head = self._head()
        if head is None:
            head = self._start_keyed_chain(touched, before)
        key = self._audit_key(False)
        if key is None:
            raise AuditKeyError("the audit key is missing (see [audit] in the config: key_file, or the "
                                "variable key_env names); nothing can be recorded without it")
        last = self.db.execute("SELECT audit_id, hash FROM audit ORDER BY audit_id DESC LIMIT 1").fetchone()
        if (head.get("seal") != head_seal(key, head["records"], head["last"], head["keyed_from"])
                or (last["hash"] if last else "") != head["last"]
                or (last["audit_id"] if last else 0) != head.get("last_id", last["audit_id"] if last else 0)):
            raise CatalogError("the audit log's head does not match its last record (records removed or "
                               "added behind its back, or another audit key): nothing was written; run "
                               "`prescreen audit --verify`")
        for group in touched:
            known, digest = self._recorded_digest(key, group)
            if before.get(group) != digest and (known or before.get(group) is not None):
                raise CatalogError(f"{_group_words(group)} was changed behind the audit log's back (its rows "
                                   "differ from the digest the log recorded): nothing was written; run "
                                   "`prescreen audit --verify`")
        if not pending:  # a tracked change asked for no record of its own: it gets one
            pending = [{"at": iso(self._clock()), "actor": "system", "action": "row-change",
                        "upload_id": None, "work_id": None, "work_ids": "[]",
                        "config_version": self.config_version, "evidence": json.dumps({"groups": touched})}]
        digests = {g: self._group_digest(g) for g in touched}
        states = ["{}"] * (len(pending) - 1) + [json.dumps(digests, sort_keys=True)]
        prev, count = head["last"], head["records"]
        for row, state in zip(pending, states):
            mac = record_mac(key, prev, row, state)
            cur = self.db.execute(
                f"INSERT INTO audit({', '.join(_AUDIT_FIELDS)}, prev_hash, hash, state) "
                f"VALUES ({', '.join('?' * (len(_AUDIT_FIELDS) + 3))})",
                (*(row[k] for k in _AUDIT_FIELDS), prev, mac, state))
            prev, count, last_id = mac, count + 1, int(cur.lastrowid)
        self._record_digests(key, digests, last_id)
        self._write_head(key, count, prev, head["keyed_from"], last_id)

    def _record_digests(self, key: bytes, digests: dict[str, str | None], audit_id: int) -> None:
        self.db.executemany("INSERT OR REPLACE INTO audit_groups VALUES (?, ?, ?, ?)",
                            [(g, d, audit_id, group_mac(key, g, d, audit_id)) for g, d in digests.items()])

    def _write_head(self, key: bytes, records: int, last: str, keyed_from: int, last_id: int) -> None:
        head = {"records": records, "last": last, "keyed_from": keyed_from, "last_id": last_id,
                "seal": head_seal(key, records, last, keyed_from)}
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_HEAD_KEY, json.dumps(head)))

    def _start_keyed_chain(self, touched: list[str], before: dict[str, str | None]) -> dict:
        """The first keyed write of a log (a new catalog, or one of an older version): make the key,
        and when rows or unkeyed records exist, append an ``audit-keyed`` record that carries the digest
        of every row group as it was before this transaction (the state the keyed chain starts from)
        and the unkeyed chain's head and problems.

        Refused when keyed records exist but the head is gone, or rows exist and no record at all:
        both mean the log was cut behind its back, and starting a new chain would hide it.
        """
        if self.db.execute("SELECT 1 FROM audit WHERE state IS NOT NULL LIMIT 1").fetchone() or \
                self.db.execute("SELECT 1 FROM audit_groups LIMIT 1").fetchone():
            raise CatalogError("the audit log's head is missing from the catalog, so it was changed behind "
                               "its back; run `prescreen audit --verify`")
        n, last = self.db.execute("SELECT COUNT(*), (SELECT hash FROM audit ORDER BY audit_id DESC LIMIT 1) "
                                  "FROM audit").fetchone()
        groups = self._groups_now()
        untouched = groups - set(touched)
        if n == 0 and (untouched or any(d is not None for d in before.values())):
            raise CatalogError("the catalog has works or uploads but no audit record at all: the log was "
                               "removed behind its back; run `prescreen audit --verify`")
        key = self._audit_key(True)
        if key is None:
            raise AuditKeyError("no audit key could be made (see [audit] in the config)")
        first = int(self.db.execute("SELECT COALESCE(MAX(audit_id), 0) + 1 FROM audit").fetchone()[0])
        head = {"records": n, "last": last or "", "keyed_from": first, "last_id": first - 1}
        if n == 0:
            head["seal"] = head_seal(key, n, head["last"], first)
            return head
        unkeyed = self._verify_unkeyed(first)
        row = {"at": iso(self._clock()), "actor": "system", "action": "audit-keyed",
               "upload_id": None, "work_id": None, "work_ids": "[]", "config_version": self.config_version,
               "evidence": json.dumps({"unkeyed_records": n, "unkeyed_head": last or "",
                                       "unkeyed_problems": unkeyed})}
        start = {g: self._group_digest(g) for g in sorted(untouched)}
        start.update({g: before.get(g) for g in touched})
        state = json.dumps(start, sort_keys=True)
        mac = record_mac(key, head["last"], row, state)
        cur = self.db.execute(f"INSERT INTO audit({', '.join(_AUDIT_FIELDS)}, prev_hash, hash, state) "
                              f"VALUES ({', '.join('?' * (len(_AUDIT_FIELDS) + 3))})",
                              (*(row[k] for k in _AUDIT_FIELDS), head["last"], mac, state))
        self._record_digests(key, start, int(cur.lastrowid))
        return {"records": n + 1, "last": mac, "keyed_from": first, "last_id": int(cur.lastrowid),
                "seal": head_seal(key, n + 1, mac, first)}

    def _verify_unkeyed(self, before: int | None) -> list[str]:
        """Problems of the unkeyed SHA-256 chain of records with ids below ``before`` (older versions;
        None: every record)."""
        problems: list[str] = []
        prev, chained = "", False
        for rec in self.db.execute(f"SELECT audit_id, {', '.join(_AUDIT_FIELDS)}, prev_hash, hash FROM audit "
                                   "WHERE ? IS NULL OR audit_id < ? ORDER BY audit_id", (before, before)):
            if rec["hash"] is None:
                if chained:
                    problems.append(f"record {rec['audit_id']}: no hash after the chain started (inserted behind "
                                    "the log's back)")
                continue
            chained = True
            if rec["prev_hash"] != prev:
                problems.append(f"record {rec['audit_id']}: does not follow the record before it (one was removed "
                                "or reordered)")
            if legacy_hash(rec["prev_hash"], {k: rec[k] for k in _AUDIT_FIELDS}) != rec["hash"]:
                problems.append(f"record {rec['audit_id']}: content does not match its hash (edited)")
            prev = rec["hash"]
        return problems

    def _upload_works(self, upload_id: str) -> list[str]:
        row = self.db.execute("SELECT result FROM uploads WHERE upload_id=?", (upload_id,)).fetchone()
        if row is None:
            return []
        return sorted({m["work_id"] for m in json.loads(row[0]).get("matches", [])})

    def verify_audit(self, expect_head: str | None = None) -> dict:
        """Check the whole log; returns {records, head, problems}.

        - every keyed record's MAC (under the audit key) and its link to the record before;
        - the signed head: its seal, its record count and last MAC against the log (records removed
          from the end, or the whole log, show here);
        - every tracked row group (works with their references, exclusions, licences and notices;
          uploads) against the digest the chain last recorded for it (rows changed, added or deleted
          behind the log's back);
        - ``expect_head`` (``<records>:<MAC>``, a head printed earlier and kept elsewhere): the log
          still holds that record with that MAC.

        ``head`` is ``<records>:<last MAC>``, to be kept outside the catalog.
        """
        expected = parse_head(expect_head) if expect_head else None
        key = self._audit_key(False)
        # one snapshot: a commit by another process half-way through must not look like tampering
        opened = not self.db.in_transaction
        if opened:
            self.db.execute("BEGIN")
        try:
            return self._verify(key, expected)
        finally:
            if opened:
                self.db.execute("COMMIT")

    def _verify(self, key: bytes | None, expected: tuple[int, str] | None) -> dict:
        problems: list[str] = []
        head = self._head()
        rows = self.db.execute(f"SELECT audit_id, {', '.join(_AUDIT_FIELDS)}, prev_hash, hash, state FROM audit "
                               "ORDER BY audit_id").fetchall()
        keyed_from = head["keyed_from"] if head else None
        if head is None:
            if any(r["state"] is not None for r in rows) or \
                    self.db.execute("SELECT 1 FROM audit_groups LIMIT 1").fetchone():
                problems.append("the chain head is missing from the catalog (removed behind the log's back)")
                keyed = [r["audit_id"] for r in rows if r["state"] is not None]
                keyed_from = min(keyed) if keyed else None
            elif self._groups_now() and not rows:
                problems.append("the catalog has works or uploads but the audit log is empty (removed behind "
                                "its back)")
            elif rows:
                problems.append("the log is not keyed: written by an older prescreen and not written since (the "
                                "next write keys it), or its keying was removed behind its back; its unkeyed "
                                "chain is checked, the rows are not")
            if keyed_from is None:
                problems += self._verify_unkeyed(None)
        elif key is None:
            problems.append("the audit key is missing (see [audit] in the config), so the chain cannot be checked")
        elif head.get("seal") != head_seal(key, head["records"], head["last"], head["keyed_from"]):
            problems.append("the chain head's seal does not match: the head was edited, or the audit key is not "
                            "the one that wrote it")
        if keyed_from is not None:
            problems += self._verify_unkeyed(keyed_from)
            unkeyed = [r for r in rows if r["audit_id"] < keyed_from]
            started = next((r for r in rows if r["audit_id"] >= keyed_from), None)
            said = 0
            if started is not None and started["action"] == "audit-keyed":
                try:
                    said = int(json.loads(started["evidence"]).get("unkeyed_records", 0))
                except (ValueError, TypeError, AttributeError):
                    said = -1
            if len(unkeyed) != said:
                if said == 0:
                    problems += [f"record {r['audit_id']}: not written by prescreen (before the first record of a "
                                 "log that was keyed from its start: inserted behind its back)" for r in unkeyed]
                else:
                    problems.append(f"{len(unkeyed)} records precede the keyed chain; it was started after "
                                    f"{said} (records inserted or removed behind the log's back)")
        prev, macs, states = "", [], {}
        for rec in rows:
            if keyed_from is None or rec["audit_id"] < keyed_from:
                prev = rec["hash"] or prev
                macs.append(rec["hash"])
                continue
            if rec["state"] is None or rec["hash"] is None:
                problems.append(f"record {rec['audit_id']}: not written by prescreen (no MAC or state: inserted "
                                "behind the log's back)")
                macs.append(rec["hash"])
                continue
            if rec["prev_hash"] != prev:
                problems.append(f"record {rec['audit_id']}: does not follow the record before it (one was removed, "
                                "inserted or reordered)")
            if key is not None and record_mac(key, rec["prev_hash"], {k: rec[k] for k in _AUDIT_FIELDS},
                                              rec["state"]) != rec["hash"]:
                problems.append(f"record {rec['audit_id']}: content does not match its MAC (edited, or written "
                                "with another key)")
            try:
                states.update(json.loads(rec["state"]))
            except (ValueError, TypeError):
                problems.append(f"record {rec['audit_id']}: its state is not valid JSON")
            prev = rec["hash"]
            macs.append(rec["hash"])
        if head is not None:
            if head["records"] != len(rows):
                problems.append(f"the chain head counts {head['records']} records, the log holds {len(rows)} "
                                "(records removed or inserted behind its back)")
            if head["last"] != prev:
                problems.append("the chain head's last MAC is not the last record's (records removed from or "
                                "added to the end)")
        if keyed_from is not None:
            for group in sorted(self._groups_now() | set(states)):
                now = self._group_digest(group)
                if group not in states:
                    problems.append(f"{_group_words(group)}: has no audit record (written behind the log's back)")
                elif states[group] != now:
                    problems.append(f"{_group_words(group)}: " + (
                        "deleted behind the log's back" if now is None else
                        "was written behind the log's back" if states[group] is None else
                        "changed behind the log's back (its rows differ from the digest the log recorded)"))
        if expected is not None:
            count, mac = expected
            if count > len(macs):
                problems.append(f"the kept head names record {count}; the log holds only {len(macs)} (truncated)")
            elif count and macs[count - 1] != mac:
                problems.append(f"record {count} is not the one the kept head names (the log was rewritten)")
        return {"records": len(rows), "head": format_head(len(rows), prev) if rows else "",
                "problems": problems}

    def audit(self, now: datetime, actor: str, action: str, evidence: dict,
              upload_id: str | None = None, work_id: str | None = None) -> None:
        """Append one audit record in its own transaction."""
        with self.catalog.transaction():
            self._audit(now, actor, action, evidence, upload_id, work_id)

    def audit_records(self, upload_id: str | None = None, work_id: str | None = None,
                      action: str | None = None, limit: int | None = None) -> list[dict]:
        sql, args = "SELECT * FROM audit WHERE 1=1", []
        for col, val in (("upload_id", upload_id), ("action", action)):
            if val:
                sql += f" AND {col}=?"
                args.append(val)
        if work_id:
            sql += " AND (work_id=? OR EXISTS (SELECT 1 FROM json_each(audit.work_ids) WHERE value=?))"
            args += [work_id, work_id]
        sql += " ORDER BY audit_id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        out = []
        for row in self.db.execute(sql, args):
            d = dict(row)
            d["evidence"] = json.loads(d["evidence"])
            d["work_ids"] = json.loads(d["work_ids"]) if d.get("work_ids") else ([d["work_id"]] if d["work_id"] else [])
            out.append(d)
        return out

    # -- work settings ----------------------------------------------------
    def set_rules(self, now: datetime, actor: str, work_id: str, rules: list[dict]) -> None:
        parsed = [Rule.from_dict(r) for r in rules]  # validates
        with self.catalog.transaction():
            self.catalog.set_work_settings(work_id, rules=[r.as_dict() for r in parsed])
            self._audit(now, actor, "rule-change", {"rules": [r.describe() for r in parsed]}, work_id=work_id)

    def set_priority(self, now: datetime, actor: str, work_id: str, priority: bool) -> None:
        with self.catalog.transaction():
            self.catalog.set_work_settings(work_id, priority=priority)
            self._audit(now, actor, "priority-change", {"priority": priority}, work_id=work_id)

    def license(self, now: datetime, actor: str, work_id: str, uploader_id: str, granted: bool = True) -> None:
        with self.catalog.transaction() as db:
            if self.catalog.get_work(work_id) is None:
                raise WorkflowError(f"no work with id {work_id!r}", "not_found")
            if granted:
                db.execute("INSERT OR IGNORE INTO licenses VALUES (?,?,?)", (work_id, uploader_id, iso(now)))
            else:
                db.execute("DELETE FROM licenses WHERE work_id=? AND uploader_id=?", (work_id, uploader_id))
            self._audit(now, actor, "license-grant" if granted else "license-revoke",
                        {"uploader_id": uploader_id}, work_id=work_id)

    def add_exclusion(self, now: datetime, actor: str, work_id: str, start: float, end: float, reason: str,
                      ref_id: int | None = None) -> int:
        if not end > start >= 0:
            raise WorkflowError("an exclusion needs 0 <= start < end (reference seconds)")
        with self.catalog.transaction() as db:
            if self.catalog.get_work(work_id) is None:
                raise WorkflowError(f"no work with id {work_id!r}", "not_found")
            refs = self.catalog.references(work_id)
            if ref_id is not None:
                refs = [r for r in refs if r.ref_id == ref_id]
                if not refs:
                    raise WorkflowError(f"work {work_id!r} has no reference {ref_id} (`prescreen works show "
                                        f"{work_id}` lists its files)", "not_found")
            else:  # the work's own timeline: its original files (a noticed upload has a timeline of its own)
                refs = [r for r in refs if r.kind == "original"] or refs
            longest = max((r.duration for r in refs), default=0.0)
            if end > longest + EXCLUSION_END_SLACK_SECONDS:
                what = f"reference {ref_id}" if ref_id is not None else f"work {work_id!r}"
                raise WorkflowError(f"{what} is {longest:.1f} s long; an exclusion of {start:g}-{end:g} s "
                                    "reaches past its end")
            cur = db.execute(
                "INSERT INTO exclusions(work_id, ref_id, start, end, reason, created_at) VALUES (?,?,?,?,?,?)",
                (work_id, ref_id, start, end, reason, iso(now)),
            )
            self._audit(now, actor, "exclusion-add", {"start": start, "end": end, "reason": reason,
                                                      "ref_id": ref_id}, work_id=work_id)
        return int(cur.lastrowid)

    def remove_exclusion(self, now: datetime, actor: str, work_id: str, exclusion_id: int, reason: str) -> dict:
        """Withdraw an exclusion: its seconds match again from the next screening on (earlier
        decisions it lightened are not made stricter after the fact). Returns the removed row."""
        with self.catalog.transaction() as db:
            row = db.execute("SELECT * FROM exclusions WHERE exclusion_id=? AND work_id=?",
                             (exclusion_id, work_id)).fetchone()
            if row is None:
                raise WorkflowError(f"work {work_id!r} has no exclusion #{exclusion_id} (`prescreen works show "
                                    f"{work_id}` lists them)", "not_found")
            db.execute("DELETE FROM exclusions WHERE exclusion_id=?", (exclusion_id,))
            removed = dict(row)
            self._audit(now, actor, "exclusion-remove", {**removed, "why": reason}, work_id=work_id)
        return removed

    def exclusions(self, work_id: str | None = None) -> list[dict]:
        sql = "SELECT * FROM exclusions" + (" WHERE work_id=?" if work_id else "") + " ORDER BY exclusion_id"
        return [dict(r) for r in self.db.execute(sql, (work_id,) if work_id else ())]

    def excluded_by_ref(self) -> dict[int, list[tuple[float, float]]]:
        """Reference id -> excluded (start, end) reference seconds."""
        out: dict[int, list[tuple[float, float]]] = {}
        refs = self.catalog.references()
        for ex in self.exclusions():
            for ref in refs:
                if ref.work_id != ex["work_id"]:
                    continue
                # an exclusion for the whole work is on the work's own timeline: a noticed
                # upload variant has a timeline of its own and is only excluded by its ref id
                if ex["ref_id"] == ref.ref_id or (ex["ref_id"] is None and ref.kind == "original"):
                    out.setdefault(ref.ref_id, []).append((ex["start"], ex["end"]))
        return out

    def work_policies(self) -> dict[str, WorkPolicy]:
        licensed: dict[str, set[str]] = {}
        for row in self.db.execute("SELECT work_id, uploader_id FROM licenses"):
            licensed.setdefault(row[0], set()).add(row[1])
        return {
            w.work_id: WorkPolicy(w.work_id, w.title, _stored_rules(w.work_id, w.rules), w.priority,
                                  frozenset(licensed.get(w.work_id, ())))
            for w in self.catalog.works()
        }

    # -- uploads and their outcomes ----------------------------------------
    def _upload(self, upload_id: str) -> dict:
        up = self.catalog.upload(upload_id)
        if up is None:
            raise WorkflowError(f"no upload with id {upload_id!r}", "not_found")
        return up

    def _set_outcome(self, now: datetime, actor: str, upload_id: str, outcome: str, why: str, source: str,
                     evidence: dict | None = None) -> None:
        """Change an upload's current outcome; ``source`` says who set it (see the module docstring)."""
        old = self.db.execute("SELECT outcome FROM uploads WHERE upload_id=?", (upload_id,)).fetchone()[0]
        self.db.execute("UPDATE uploads SET outcome=?, outcome_by=?, outcome_at=? WHERE upload_id=?",
                        (outcome, source, iso(now), upload_id))
        self._audit(now, actor, "outcome-change", {"from": old, "to": outcome, "why": why, "by": source,
                                                   **(evidence or {})}, upload_id=upload_id)

    def record_screening(self, now: datetime, upload_id: str, result: dict) -> int | None:
        """Audit a screening decision and open a review when it says review."""
        with self.catalog.transaction():
            self._audit(now, "system", "decision", {
                "status": result["status"], "decision": result.get("decision"), "rule": result.get("rule"),
                "reasons": result.get("reasons"), "error": result.get("error"),
                "segments": {m["work_id"]: m["segments"] for m in result.get("matches", [])},
            }, upload_id=upload_id, work_ids=[m["work_id"] for m in result.get("matches", [])])
            if result.get("decision") == REVIEW:
                return self.open_review(now, upload_id)
        return None

    def open_review(self, now: datetime, upload_id: str) -> int:
        """Queue an upload for a person (kind screening) with the configured deadline."""
        due = now + timedelta(hours=self.params.review_expiry_hours)
        with self.catalog.transaction() as db:
            cur = db.execute(
                "INSERT INTO reviews(upload_id, kind, status, created_at, due_at) VALUES (?,?,?,?,?)",
                (upload_id, "screening", "pending", iso(now), iso(due)),
            )
            return int(cur.lastrowid)

    def _close_pending_screening(self, now: datetime, actor: str, upload_id: str, outcome: str, why: str) -> None:
        """Close (audited) the upload's pending screening review: its outcome was settled
        otherwise, and a later expiry must not overturn it (inside the caller's transaction)."""
        for (review_id,) in self.db.execute("SELECT review_id FROM reviews WHERE upload_id=? AND "
                                            "status='pending' AND kind='screening'", (upload_id,)).fetchall():
            self.db.execute("UPDATE reviews SET status='closed', outcome=?, note=?, decided_at=? "
                            "WHERE review_id=?", (outcome, why, iso(now), review_id))
            self._audit(now, actor, "review-closed", {"review_id": review_id, "outcome": outcome, "why": why},
                        upload_id=upload_id)

    def uploads_matching(self, work_id: str) -> list[str]:
        """Ids of the stored uploads whose screening matched ``work_id``."""
        return [r[0] for r in self.db.execute(
            "SELECT upload_id FROM uploads u WHERE upload_id IS NOT NULL AND EXISTS (SELECT 1 FROM "
            "json_each(u.result, '$.matches') m WHERE json_extract(m.value, '$.work_id') = ?) ORDER BY upload_pk",
            (work_id,))]

    def withdraw_reviews(self, now: datetime, actor: str, upload_ids: list[str], why: str) -> list[int]:
        """Withdraw (audited) the pending reviews of those uploads that are now allowed: there is nothing
        left for a person to decide. A withdrawn dispute is resolved for the uploader. Returns review ids."""
        withdrawn = []
        with self.catalog.transaction() as db:
            for upload_id in upload_ids:
                if (self._upload(upload_id)["outcome"] or "allow") != "allow":
                    continue
                for rv in db.execute("SELECT * FROM reviews WHERE upload_id=? AND status='pending'",
                                     (upload_id,)).fetchall():
                    db.execute("UPDATE reviews SET status='withdrawn', note=?, decided_at=? WHERE review_id=?",
                               (why, iso(now), rv["review_id"]))
                    if rv["dispute_id"] is not None:  # (not 'released': nobody overturned the decision)
                        db.execute("UPDATE disputes SET status='withdrawn', resolved_at=? WHERE dispute_id=?",
                                   (iso(now), rv["dispute_id"]))
                    self._audit(now, actor, "review-withdrawn", {"review_id": rv["review_id"], "kind": rv["kind"],
                                                                 "why": why}, upload_id=upload_id)
                    withdrawn.append(int(rv["review_id"]))
        return withdrawn

    def release(self, now: datetime, actor: str, upload_id: str, outcome: str, why: str, evidence: dict) -> None:
        """An automatic re-decision (exclusion, rule change) that lightens an upload's outcome.

        A pending screening review of the upload is closed (audited); a release
        to ``review`` opens one, so the upload is not left waiting for nobody.
        """
        with self.catalog.transaction() as db:
            self._set_outcome(now, actor, upload_id, outcome, f"released: {why}", "release", evidence)
            if outcome != REVIEW:
                self._close_pending_screening(now, actor, upload_id, outcome, f"released: {why}")
            if outcome == "allow":  # a pending dispute of it has nothing left to decide (and must earn no strike)
                self.withdraw_reviews(now, actor, [upload_id], f"released: {why}")
            elif not db.execute("SELECT 1 FROM reviews WHERE upload_id=? AND status='pending'",
                                (upload_id,)).fetchone():
                review_id = self.open_review(now, upload_id)
                self._audit(now, actor, "review-opened", {"review_id": review_id, "why": f"released: {why}"},
                            upload_id=upload_id)

    # -- reviews ----------------------------------------------------------
    def reviews(self, status: str | None = "pending") -> list[dict]:
        sql = "SELECT r.*, u.path, u.uploader_id, u.decision, u.outcome FROM reviews r JOIN uploads u USING(upload_id)"
        args: tuple = ()
        if status:
            sql += " WHERE r.status=?"
            args = (status,)
        return [dict(r) for r in self.db.execute(sql + " ORDER BY r.due_at, r.review_id", args)]

    def upload_history(self, upload_id: str) -> dict:
        """An upload's reviews and disputes (every status, oldest first) and its audit records."""
        return {
            "reviews": [dict(r) for r in self.db.execute(
                "SELECT review_id, kind, status, created_at, due_at, reviewer, outcome, note, decided_at FROM reviews "
                "WHERE upload_id=? ORDER BY review_id", (upload_id,))],
            "disputes": [dict(r) for r in self.db.execute(
                "SELECT dispute_id, uploader_id, reason, disputed_outcome, filed_at, status, resolved_at FROM disputes "
                "WHERE upload_id=? ORDER BY dispute_id", (upload_id,))],
            "audit": self.audit_records(upload_id=upload_id),
        }

    def review(self, review_id: int) -> dict:
        row = self.db.execute("SELECT * FROM reviews WHERE review_id=?", (review_id,)).fetchone()
        if row is None:
            raise WorkflowError(f"no review with id {review_id}", "not_found")
        return dict(row)

    def dispute(self, dispute_id: int) -> dict:
        row = self.db.execute("SELECT * FROM disputes WHERE dispute_id=?", (dispute_id,)).fetchone()
        if row is None:
            raise WorkflowError(f"no dispute with id {dispute_id}", "not_found")
        return dict(row)

    def decide_review(self, now: datetime, review_id: int, reviewer: str, outcome: str, note: str = "") -> dict:
        """Record a reviewer's outcome; applies it to the upload (and the dispute, strikes)."""
        self.expire_due(now)
        rv = self.review(review_id)
        if rv["status"] != "pending":
            raise WorkflowError(f"review {review_id} is already {rv['status']}", "conflict")
        allowed = ("upheld", "released") if rv["kind"] == "dispute" else ("allow", "block", "mute-audio", "track")
        if outcome not in allowed:
            raise WorkflowError(f"a {rv['kind']} review is decided as one of: {', '.join(allowed)}")
        with self.catalog.transaction() as db:
            db.execute("UPDATE reviews SET status='decided', reviewer=?, outcome=?, note=?, decided_at=? "
                       "WHERE review_id=?", (reviewer, outcome, note, iso(now), review_id))
            self._audit(now, reviewer, "review-decision", {"review_id": review_id, "kind": rv["kind"],
                                                           "outcome": outcome, "note": note},
                        upload_id=rv["upload_id"])
            self._apply_review(now, reviewer, rv, outcome, note, human=True)
        return self.review(review_id)

    def _apply_review(self, now: datetime, actor: str, rv: dict, outcome: str, note: str, human: bool) -> None:
        """Apply a review's outcome to its upload (a person's, or the deadline's when ``human`` is False).

        A screening review decides the works that were held for review; another
        work's own automatic action (say mute-audio) still applies, so the
        upload gets the more restrictive of the two. Strikes come only from a
        person upholding a block.
        """
        up = self._upload(rv["upload_id"])
        if rv["kind"] == "screening":
            others = [w for w in up["result"].get("works", []) if w["outcome"] != REVIEW]
            final = max([outcome, *(w["outcome"] for w in others)], key=severity)
            why = f"review {rv['review_id']}: {note}".strip(": ")
            if final != outcome:
                kept = ", ".join(f"{w['work_id']} ({w['outcome']})" for w in others if w["outcome"] == final)
                why += f"; the rights holder's action for {kept} still applies"
            self._set_outcome(now, actor, up["upload_id"], final, why, "review" if human else "expiry",
                              {"review_outcome": outcome})
            if human and outcome == "block":
                self._strike(now, up, f"blocked after review {rv['review_id']}")
            return
        dispute = self.db.execute("SELECT * FROM disputes WHERE dispute_id=?", (rv["dispute_id"],)).fetchone()
        self.db.execute("UPDATE disputes SET status=?, resolved_at=? WHERE dispute_id=?",
                        (outcome, iso(now), rv["dispute_id"]))
        self._audit(now, actor, f"dispute-{outcome}", {"dispute_id": rv["dispute_id"], "note": note,
                                                       "by_deadline": not human}, upload_id=up["upload_id"])
        if outcome == "released":
            self._set_outcome(now, actor, up["upload_id"], "allow", f"dispute {rv['dispute_id']} released",
                              "dispute" if human else "expiry")
            self._revoke_strikes(now, actor, up["upload_id"], f"dispute {rv['dispute_id']} released")
            if dispute["disputed_by"] == "notice":
                self._lift_notices(now, actor, up["upload_id"], f"dispute {rv['dispute_id']} released")
        elif human:  # a person confirmed the outcome: automatic re-decisions leave it alone from now on
            self.db.execute("UPDATE uploads SET outcome_by='dispute' WHERE upload_id=?", (up["upload_id"],))
            if dispute["disputed_outcome"] == "block":
                self._strike(now, up, f"block upheld after dispute {rv['dispute_id']}")

    def _strike(self, now: datetime, up: dict, reason: str) -> None:
        """One strike per upload: a block upheld twice (review, then dispute) counts once."""
        if not up.get("uploader_id"):
            return
        if self.db.execute("SELECT 1 FROM strikes WHERE upload_id=? AND revoked_at IS NULL",
                           (up["upload_id"],)).fetchone():
            return
        works = sorted({m["work_id"] for m in up["result"].get("matches", [])})
        expires = now + timedelta(days=self.params.strike_expiry_days)
        self.db.execute(
            "INSERT INTO strikes(uploader_id, upload_id, work_ids, reason, created_at, expires_at) VALUES (?,?,?,?,?,?)",
            (up["uploader_id"], up["upload_id"], json.dumps(works, allow_nan=False), reason, iso(now), iso(expires)),
        )
        self._audit(now, "system", "strike", {"uploader_id": up["uploader_id"], "reason": reason,
                                              "expires_at": iso(expires)}, upload_id=up["upload_id"])

    def _revoke_strikes(self, now: datetime, actor: str, upload_id: str, reason: str) -> None:
        for (strike_id, uploader_id) in self.db.execute(
                "SELECT strike_id, uploader_id FROM strikes WHERE upload_id=? AND revoked_at IS NULL",
                (upload_id,)).fetchall():
            self.db.execute("UPDATE strikes SET revoked_at=?, revoke_reason=? WHERE strike_id=?",
                            (iso(now), reason, strike_id))
            self._audit(now, actor, "strike-revoked", {"strike_id": strike_id, "uploader_id": uploader_id,
                                                       "reason": reason}, upload_id=upload_id)

    def _lift_notices(self, now: datetime, actor: str, upload_id: str, reason: str) -> None:
        """A takedown overturned: the noticed variant stops being a reference (stay-down lifted)."""
        for notice in self.db.execute("SELECT * FROM notices WHERE upload_id=? AND lifted_at IS NULL",
                                      (upload_id,)).fetchall():
            self.db.execute("UPDATE notices SET lifted_at=? WHERE notice_id=?", (iso(now), notice["notice_id"]))
            removed = False
            ref = self.db.execute("SELECT kind FROM refs WHERE ref_id=?", (notice["ref_id"],)).fetchone()
            others = self.db.execute("SELECT 1 FROM notices WHERE ref_id=? AND lifted_at IS NULL",
                                     (notice["ref_id"],)).fetchone()
            if ref is not None and ref["kind"] == "notice" and not others:
                self.catalog.remove_reference(notice["ref_id"])  # bumps the generation: the index follows
                removed = True
            self._audit(now, actor, "stay-down-lifted", {"notice_id": notice["notice_id"], "reason": reason,
                                                         "ref_id": notice["ref_id"], "reference_removed": removed},
                        upload_id=upload_id, work_id=notice["work_id"])
            if removed and self.on_stay_down_lifted is not None:
                self.on_stay_down_lifted(notice["work_id"], actor,
                                         f"stay-down lifted: notice #{notice['notice_id']} ({reason})")

    # -- disputes ---------------------------------------------------------
    def file_dispute(self, now: datetime, upload_id: str, reason: str, uploader_id: str | None) -> dict:
        """The uploader's counter-notice: opens a dispute review with its own deadline. Only the
        uploader of record (``uploader_id`` equal to the one stored with the upload) can file one."""
        self.expire_due(now)
        up = self._upload(upload_id)
        if not up["uploader_id"]:
            raise WorkflowError(f"upload {upload_id} has no uploader of record, so nobody can dispute it (screen "
                                "uploads with an uploader id: the manifest's uploader_id column)", "forbidden")
        if uploader_id != up["uploader_id"]:
            raise WorkflowError(f"only the uploader of record can dispute upload {upload_id}" +
                                ("" if uploader_id else " (give --uploader)"), "forbidden")
        if not reason.strip():
            raise WorkflowError("a dispute needs a reason")
        if up["status"] != "ok" or up["outcome"] in (None, "allow"):
            raise WorkflowError(f"upload {upload_id} was not restricted (outcome {up['outcome']}); nothing to dispute", "conflict")
        if self.db.execute("SELECT 1 FROM reviews WHERE upload_id=? AND status='pending'", (upload_id,)).fetchone():
            raise WorkflowError(f"upload {upload_id} is already waiting for review", "conflict")
        restricted_at = parse(up.get("outcome_at") or up["screened_at"])  # a later takedown restarts the window
        if now > restricted_at + timedelta(days=self.params.dispute_window_days):
            raise WorkflowError(f"the {self.params.dispute_window_days:g}-day dispute window has closed "
                                f"(the outcome {up['outcome']} was set {iso(restricted_at)})", "conflict")
        with self.catalog.transaction() as db:
            cur = db.execute(
                "INSERT INTO disputes(upload_id, uploader_id, reason, disputed_outcome, filed_at, status, disputed_by) "
                "VALUES (?,?,?,?,?,?,?)",
                (upload_id, uploader_id, reason, up["outcome"], iso(now), "open",
                 up.get("outcome_by") or "system"),
            )
            dispute_id = int(cur.lastrowid)
            due = now + timedelta(hours=self.params.dispute_review_hours)
            cur = db.execute(
                "INSERT INTO reviews(upload_id, kind, status, created_at, due_at, dispute_id) VALUES (?,?,?,?,?,?)",
                (upload_id, "dispute", "pending", iso(now), iso(due), dispute_id),
            )
            self._audit(now, uploader_id, "dispute-filed",
                        {"dispute_id": dispute_id, "reason": reason, "disputed_outcome": up["outcome"],
                         "review_id": int(cur.lastrowid)}, upload_id=upload_id)
        return {"dispute_id": dispute_id, "review_id": int(cur.lastrowid), "due_at": iso(due)}

    # -- deadlines --------------------------------------------------------
    def expire_due(self, now: datetime) -> list[dict]:
        """Resolve pending reviews past their deadline with the configured default."""
        due = [dict(r) for r in self.db.execute(
            "SELECT * FROM reviews WHERE status='pending' AND due_at < ?", (iso(now),))]
        for rv in due:
            outcome = self.params.dispute_expiry_outcome if rv["kind"] == "dispute" else self.params.review_expiry_outcome
            with self.catalog.transaction() as db:
                db.execute("UPDATE reviews SET status='expired', outcome=?, decided_at=? WHERE review_id=?",
                           (outcome, iso(now), rv["review_id"]))
                self._audit(now, "system", "review-expired", {"review_id": rv["review_id"], "kind": rv["kind"],
                                                              "outcome": outcome, "due_at": rv["due_at"]},
                            upload_id=rv["upload_id"])
                self._apply_review(now, "system", rv, outcome, "deadline passed", human=False)
        return due

    # -- uploaders --------------------------------------------------------
    def uploader(self, now: datetime, uploader_id: str) -> dict:
        strikes = [dict(r) for r in self.db.execute(
            "SELECT * FROM strikes WHERE uploader_id=? ORDER BY created_at", (uploader_id,))]
        for s in strikes:
            s["active"] = parse(s["expires_at"]) > now and not s["revoked_at"]
            s["work_ids"] = json.loads(s["work_ids"])
        uploads = [dict(r) for r in self.db.execute(
            "SELECT upload_id, path, screened_at, decision, outcome FROM uploads WHERE uploader_id=? "
            "ORDER BY upload_pk", (uploader_id,))]
        active = sum(s["active"] for s in strikes)
        return {"uploader_id": uploader_id, "uploads": uploads, "strikes": strikes, "active_strikes": active,
                "repeat_infringer": active >= self.params.repeat_uploader_strikes}

    # -- conflicts and notices -------------------------------------------
    def record_conflict(self, now: datetime, actor: str, work_id: str, owner: str, path: str,
                        existing_work_id: str, existing_owner: str, evidence: dict) -> int:
        """Record (audited) that ``owner`` claimed content of ``existing_work_id``; a retry of the same
        claim (same work, owner, file, kind) returns the conflict already recorded, not a new one."""
        with self.catalog.transaction() as db:
            for row in db.execute("SELECT conflict_id, evidence FROM conflicts WHERE work_id=? AND owner=? AND path=? "
                                  "AND existing_work_id=? ORDER BY conflict_id", (work_id, owner, path, existing_work_id)):
                if json.loads(row["evidence"]).get("kind") == evidence.get("kind"):
                    return int(row["conflict_id"])
            cur = db.execute(
                "INSERT INTO conflicts(work_id, owner, path, existing_work_id, existing_owner, evidence, created_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (work_id, owner, path, existing_work_id, existing_owner, json.dumps(evidence, allow_nan=False), iso(now)),
            )
            self._audit(now, actor, "ownership-conflict", {"claimant": owner, "path": path,
                                                           "existing_work_id": existing_work_id,
                                                           "existing_owner": existing_owner, **evidence},
                        work_id=work_id)
        return int(cur.lastrowid)

    def conflicts(self) -> list[dict]:
        return [dict(r) for r in self.db.execute("SELECT * FROM conflicts ORDER BY conflict_id")]

    def record_notice(self, now: datetime, actor: str, work_id: str, path: str, ref_id: int,
                      upload_id: str | None) -> int:
        """A takedown notice; a noticed upload is blocked, and its screening review, if still
        pending, is closed (reviews already past their deadline expire first, in time order)."""
        self.expire_due(now)
        with self.catalog.transaction() as db:
            cur = db.execute(
                "INSERT INTO notices(work_id, upload_id, path, ref_id, actor, created_at) VALUES (?,?,?,?,?,?)",
                (work_id, upload_id, path, ref_id, actor, iso(now)),
            )
            self._audit(now, actor, "takedown-notice", {"path": path, "ref_id": ref_id, "stay_down": True},
                        upload_id=upload_id, work_id=work_id)
            if upload_id:
                self._set_outcome(now, actor, upload_id, "block", f"taken down after notice #{cur.lastrowid}",
                                  "notice")
                self._close_pending_screening(now, actor, upload_id, "block",
                                              f"taken down after notice #{cur.lastrowid}")
        return int(cur.lastrowid)

    # -- transparency -----------------------------------------------------
    def report(self, now: datetime) -> dict:
        """Counts for the transparency report (see ``prescreen report``).

        restricted: uploads that were ever blocked or muted (automatically, by
        a reviewer or after a takedown notice). overturned: those whose
        restriction an uploader's dispute released. released_by_rights_holders:
        automatic decisions lightened by an exclusion or a rule change (not a
        correction of the filter, so not counted as overturned).
        """
        q = lambda sql, *a: self.db.execute(sql, a).fetchall()  # noqa: E731
        marks = ",".join("?" * len(RESTRICTIVE))
        total = q("SELECT COUNT(*) FROM uploads")[0][0]
        errors = q("SELECT COUNT(*) FROM uploads WHERE status='error'")[0][0]
        by_decision = {r[0]: r[1] for r in q("SELECT decision, COUNT(*) FROM uploads WHERE status='ok' GROUP BY 1")}
        by_outcome = {r[0]: r[1] for r in q("SELECT outcome, COUNT(*) FROM uploads WHERE status='ok' GROUP BY 1")}
        reviews = {f"{r[0]}:{r[1]}": r[2] for r in q("SELECT kind, status, COUNT(*) FROM reviews GROUP BY 1, 2")}
        review_outcomes = {r[0]: r[1] for r in q(
            "SELECT outcome, COUNT(*) FROM reviews WHERE kind='screening' AND status IN ('decided', 'expired') "
            "GROUP BY 1")}
        disputes = {r[0]: r[1] for r in q("SELECT status, COUNT(*) FROM disputes GROUP BY 1")}
        restricted = {r[0] for r in q(f"SELECT upload_id FROM uploads WHERE decision IN ({marks})", *RESTRICTIVE)}
        restricted |= {r[0] for r in q(
            f"SELECT upload_id FROM audit WHERE action='outcome-change' AND json_extract(evidence, '$.to') "
            f"IN ({marks})", *RESTRICTIVE)}
        overturned = {r[0] for r in q(f"SELECT upload_id FROM disputes WHERE status='released' "
                                      f"AND disputed_outcome IN ({marks})", *RESTRICTIVE)}
        released = {r[0] for r in q("SELECT upload_id FROM audit WHERE action='outcome-change' "
                                    "AND json_extract(evidence, '$.by')='release'")}
        per_work: dict[str, dict] = {}
        for row in q("SELECT upload_id, decision, outcome, result FROM uploads WHERE status='ok'"):
            for m in json.loads(row[3]).get("matches", []):
                w = per_work.setdefault(m["work_id"], {"matched_uploads": 0, "decisions": {}, "outcomes": {},
                                                       "restricted": 0, "overturned": 0})
                w["matched_uploads"] += 1
                w["decisions"][row[1]] = w["decisions"].get(row[1], 0) + 1
                w["outcomes"][row[2]] = w["outcomes"].get(row[2], 0) + 1
                w["restricted"] += row[0] in restricted
                w["overturned"] += row[0] in overturned
        return {
            "generated_at": iso(now),
            "config_version": self.config_version,
            "uploads_screened": total,
            "errors": errors,
            "decisions": by_decision,
            "outcomes": by_outcome,
            "reviews": reviews,
            "review_outcomes": review_outcomes,
            "disputes": disputes,
            "restrictive_decisions": len(restricted),
            "overturned": len(overturned),
            "overturned_share": len(overturned) / len(restricted) if restricted else 0.0,
            "released_by_rights_holders": len(released),
            "per_work": per_work,
            "strikes_active": q("SELECT COUNT(*) FROM strikes WHERE expires_at > ? AND revoked_at IS NULL",
                                iso(now))[0][0],
        }


def severity(outcome: str | None) -> int:
    return SEVERITY.get(outcome or "allow", 0)


__all__ = ["WorkflowParams", "Workflow", "WorkflowError", "iso", "parse", "severity", "CatalogError"]
