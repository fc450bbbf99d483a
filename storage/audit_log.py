"""The append-only audit log and its keyed chain, over a backend (the arithmetic is :mod:`storage.chain`).

Records a transaction asks for (:meth:`AuditLog.append`) are written when it commits (a
``before_commit`` hook of the backend), the last of them carrying the digests of every tracked row
group it changed (a work with its references, exclusions, licences and notices; an upload with its
reviews, disputes and strikes). Which groups changed, and what each was before, comes from the
backend's tracking (:meth:`Backend.take_touched`): SQLite's TEMP triggers, PostgreSQL's plpgsql
triggers. A tracked change made in a transaction without its own record still gets one
(``row-change``). The audit table refuses UPDATE and DELETE (triggers); each record carries an
HMAC-SHA-256 under the audit key chained to the previous record's, and the signed head (record count
and last MAC) is kept in ``meta``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone

from .backend import Backend
from .chain import (AUDIT_FIELDS, format_head, group_mac, head_seal, legacy_hash, parse_head, record_mac,
                    rows_digest)
from .records import CatalogError, legacy_decision, typed_rows
from .schema import GROUP_ROWS, TRACKED, TYPED_TABLES, UPLOAD_SEGMENT_COLUMNS, UPLOAD_TYPED_COLUMNS, UPLOAD_WORK_COLUMNS

HEAD_KEY = "audit_head"


class AuditKeyError(CatalogError):
    """The audit key is missing or cannot be made: nothing can be written to the log."""


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds")


def group_words(group: str) -> str:
    kind, _, ident = group.partition(":")
    return f"work {ident!r}" if kind == "work" else f"upload {ident!r}"


class AuditLog:
    """The audit log of one catalog. ``audit_key(create)``: the chain's key (bytes) or None; with ``create``
    it may make one (a log never keyed). ``clock``: the time of records no caller asked for (UTC)."""

    def __init__(self, backend: Backend, audit_key: Callable[[bool], bytes | None], config_version: str,
                 clock: Callable[[], datetime]):
        self.b = backend
        self._audit_key = audit_key
        self.config_version = config_version
        self._clock = clock
        self._pending: list[dict] = []  # records asked for in the open transaction, written at its commit
        backend.install_audit_tracking(self.group_digest)
        backend.before_commit.append(self._seal)
        backend.after_rollback.append(self._pending.clear)

    def append(self, record: dict) -> None:
        """Ask for one record (the :data:`AUDIT_FIELDS`, as stored: work_ids and evidence JSON text);
        it is written, chained, when the open transaction commits."""
        if not self.b.in_transaction:
            with self.b.transaction():
                self._pending.append(record)
            return
        self._pending.append(record)

    # -- row groups -------------------------------------------------------
    def group_digest(self, group: str, execute: Callable | None = None) -> str | None:
        """SHA-256 of a tracked row group as it is now ('work:<id>' or 'upload:<id>'); None if it has no rows.
        ``execute``: the statement runner to read it with (default this backend's)."""
        execute = execute or self.b.execute
        kind, _, ident = group.partition(":")
        rows: list[list] = []
        for table, k, expr, columns in TRACKED:
            if k != kind or table in TYPED_TABLES:
                continue
            where = GROUP_ROWS.get(table, f"{expr.removeprefix('R.')}=?")
            rows += [[table, *(hashlib.sha256(bytes(v)).hexdigest() if isinstance(v, (bytes, memoryview)) else v
                               for v in r)]
                     for r in execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {where} "
                                      f"ORDER BY {self.b.row_order(table)}", (ident,)).fetchall()]
        if kind == "upload":
            rows += self._typed_decision_rows(execute, ident)
        return rows_digest(rows) if rows else None

    @staticmethod
    def _typed_decision_rows(execute: Callable, upload_id: str) -> list[list]:
        """The rows an upload's digest adds for its typed decision (schema 5): its typed columns of uploads,
        its upload_works and upload_segments rows. None of them for an upload stored before schema 5 whose
        typed rows are exactly what its JSON document (``uploads.result``, hashed with the row) says: its
        digest is then the one the log recorded before the migration; once they differ (changed behind the
        log's back, or by prescreen, which empties the document first) they are all hashed."""
        up = execute(f"SELECT upload_pk, result, {', '.join(UPLOAD_TYPED_COLUMNS)} FROM uploads WHERE upload_id=?",
                     (upload_id,)).fetchone()
        rows = typed_rows(
            tuple(up[c] for c in UPLOAD_TYPED_COLUMNS) if up is not None else (),
            [tuple(r) for r in execute(f"SELECT {', '.join(UPLOAD_WORK_COLUMNS)} FROM upload_works WHERE upload_id=?",
                                       (upload_id,)).fetchall()],
            [tuple(r) for r in execute(f"SELECT {', '.join(UPLOAD_SEGMENT_COLUMNS)} FROM upload_segments "
                                       "WHERE upload_id=?", (upload_id,)).fetchall()])
        if up is None:
            rows = rows[1:]  # (rows of an upload row that is gone: hashed, so verify sees them)
        elif up["result"]:
            typed, works, segments = legacy_decision(up["upload_pk"], upload_id, up["result"])
            if rows == typed_rows(typed, [w.row() for w in works], [s.row() for s in segments]):
                return []
        return rows

    def groups_now(self) -> set[str]:
        """Every tracked row group that has rows."""
        groups: set[str] = set()
        for table, kind, expr, _ in TRACKED:
            if table in GROUP_ROWS:
                continue  # (a fingerprint's work has a references row)
            col = expr.removeprefix("R.")
            groups |= {f"{kind}:{v}" for (v,) in self.b.execute(
                f"SELECT DISTINCT {col} FROM {table} WHERE {col} IS NOT NULL").fetchall()}
        return groups

    def _head(self) -> dict | None:
        text = self.b.scalar("SELECT value FROM meta WHERE key=?", (HEAD_KEY,))
        return json.loads(text) if text else None

    def _recorded_digest(self, key: bytes, group: str) -> tuple[bool, str | None]:
        """(known, digest): the group's last recorded digest from ``audit_groups``; CatalogError if
        that row's MAC does not hold (edited behind the log's back)."""
        row = self.b.execute("SELECT digest, audit_id, mac FROM audit_groups WHERE grp=?", (group,)).fetchone()
        if row is None:
            return False, None
        if row["mac"] != group_mac(key, group, row["digest"], row["audit_id"]):
            raise CatalogError(f"the audit log's record of {group_words(group)} was edited behind its back; "
                               "nothing was written (run `prescreen audit --verify`)")
        return True, row["digest"]

    def _insert_record(self, row: dict, prev: str, mac: str, state: str) -> int:
        return self.b.insert(f"INSERT INTO audit({', '.join(AUDIT_FIELDS)}, prev_hash, hash, state) "
                             f"VALUES ({', '.join('?' * (len(AUDIT_FIELDS) + 3))})",
                             (*(row[k] for k in AUDIT_FIELDS), prev, mac, state), "audit_id")

    # -- sealing ----------------------------------------------------------
    def _seal(self) -> None:
        """Write the transaction's records (called just before COMMIT): chained MACs, the last record
        carrying the digests of every row group the transaction changed, and the new head.

        Refused (CatalogError: the transaction rolls back) when the log's head does not match its last
        record, or a changed group did not match its last recorded digest before this transaction: a
        change made behind the log's back is never sealed over by the next legitimate write."""
        guards = self.b.guard_problems()  # (before anything: a disabled tracking trigger leaves touched empty)
        if guards:
            raise CatalogError("; ".join(guards) + ": nothing was written (enable or restore it, as `prescreen "
                               "audit --verify` lists, before writing again)")
        touched, before = self.b.take_touched(self.group_digest)
        if not self._pending and not touched:
            return
        pending, self._pending[:] = list(self._pending), []
        head = self._head()
        if head is None:
            head = self._start_keyed_chain(touched, before)
        key = self._audit_key(False)
        if key is None:
            raise AuditKeyError("the audit key is missing (see [audit] in the config: key_file, or the "
                                "variable key_env names); nothing can be recorded without it")
        last = self.b.execute("SELECT audit_id, hash FROM audit ORDER BY audit_id DESC LIMIT 1").fetchone()
        if (head.get("seal") != head_seal(key, head["records"], head["last"], head["keyed_from"])
                or (last["hash"] if last else "") != head["last"]
                or (last["audit_id"] if last else 0) != head.get("last_id", last["audit_id"] if last else 0)):
            raise CatalogError("the audit log's head does not match its last record (records removed or "
                               "added behind its back, or another audit key): nothing was written; run "
                               "`prescreen audit --verify`")
        for group in touched:
            known, digest = self._recorded_digest(key, group)
            if before.get(group) != digest and (known or before.get(group) is not None):
                raise CatalogError(f"{group_words(group)} was changed behind the audit log's back (its rows "
                                   "differ from the digest the log recorded): nothing was written; run "
                                   "`prescreen audit --verify`")
        if not pending:  # a tracked change asked for no record of its own: it gets one
            pending = [{"at": _iso(self._clock()), "actor": "system", "action": "row-change",
                        "upload_id": None, "work_id": None, "work_ids": "[]",
                        "config_version": self.config_version, "evidence": json.dumps({"groups": touched})}]
        digests = {g: self.group_digest(g) for g in touched}
        states = ["{}"] * (len(pending) - 1) + [json.dumps(digests, sort_keys=True)]
        prev, count = head["last"], head["records"]
        for row, state in zip(pending, states):
            mac = record_mac(key, prev, row, state)
            last_id = self._insert_record(row, prev, mac, state)
            prev, count = mac, count + 1
        self._record_digests(key, digests, last_id)
        self._write_head(key, count, prev, head["keyed_from"], last_id)

    def _record_digests(self, key: bytes, digests: dict[str, str | None], audit_id: int) -> None:
        self.b.executemany("INSERT INTO audit_groups VALUES (?, ?, ?, ?) ON CONFLICT (grp) DO UPDATE SET "
                           "digest = excluded.digest, audit_id = excluded.audit_id, mac = excluded.mac",
                           [(g, d, audit_id, group_mac(key, g, d, audit_id)) for g, d in digests.items()])

    def _write_head(self, key: bytes, records: int, last: str, keyed_from: int, last_id: int) -> None:
        head = {"records": records, "last": last, "keyed_from": keyed_from, "last_id": last_id,
                "seal": head_seal(key, records, last, keyed_from)}
        self.b.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       (HEAD_KEY, json.dumps(head)))

    def _start_keyed_chain(self, touched: list[str], before: dict[str, str | None]) -> dict:
        """The first keyed write of a log (a new catalog, or one of an older version): make the key,
        and when rows or unkeyed records exist, append an ``audit-keyed`` record that carries the digest
        of every row group as it was before this transaction (the state the keyed chain starts from)
        and the unkeyed chain's head and problems.

        Refused when keyed records exist but the head is gone, or rows exist and no record at all:
        both mean the log was cut behind its back, and starting a new chain would hide it.
        """
        if self.b.execute("SELECT 1 FROM audit WHERE state IS NOT NULL LIMIT 1").fetchone() or \
                self.b.execute("SELECT 1 FROM audit_groups LIMIT 1").fetchone():
            raise CatalogError("the audit log's head is missing from the catalog, so it was changed behind "
                               "its back; run `prescreen audit --verify`")
        n = int(self.b.scalar("SELECT COUNT(*) FROM audit"))
        last = self.b.scalar("SELECT hash FROM audit ORDER BY audit_id DESC LIMIT 1")
        untouched = self.groups_now() - set(touched)
        if n == 0 and (untouched or any(d is not None for d in before.values())):
            raise CatalogError("the catalog has works or uploads but no audit record at all: the log was "
                               "removed behind its back; run `prescreen audit --verify`")
        key = self._audit_key(True)
        if key is None:
            raise AuditKeyError("no audit key could be made (see [audit] in the config)")
        first = int(self.b.scalar("SELECT COALESCE(MAX(audit_id), 0) + 1 FROM audit"))
        head = {"records": n, "last": last or "", "keyed_from": first, "last_id": first - 1}
        if n == 0:
            head["seal"] = head_seal(key, n, head["last"], first)
            return head
        unkeyed = self._verify_unkeyed(first)
        row = {"at": _iso(self._clock()), "actor": "system", "action": "audit-keyed",
               "upload_id": None, "work_id": None, "work_ids": "[]", "config_version": self.config_version,
               "evidence": json.dumps({"unkeyed_records": n, "unkeyed_head": last or "",
                                       "unkeyed_problems": unkeyed})}
        start = {g: self.group_digest(g) for g in sorted(untouched)}
        start.update({g: before.get(g) for g in touched})
        state = json.dumps(start, sort_keys=True)
        mac = record_mac(key, head["last"], row, state)
        audit_id = self._insert_record(row, head["last"], mac, state)
        self._record_digests(key, start, audit_id)
        return {"records": n + 1, "last": mac, "keyed_from": first, "last_id": audit_id,
                "seal": head_seal(key, n + 1, mac, first)}

    # -- verification -----------------------------------------------------
    def _records(self, before: int | None = None) -> list:
        sql = f"SELECT audit_id, {', '.join(AUDIT_FIELDS)}, prev_hash, hash, state FROM audit"
        if before is None:
            return self.b.execute(sql + " ORDER BY audit_id").fetchall()
        return self.b.execute(sql + " WHERE audit_id < ? ORDER BY audit_id", (before,)).fetchall()

    def _verify_unkeyed(self, before: int | None) -> list[str]:
        """Problems of the unkeyed SHA-256 chain of records with ids below ``before`` (older versions;
        None: every record)."""
        problems: list[str] = []
        prev, chained = "", False
        for rec in self._records(before):
            if rec["hash"] is None:
                if chained:
                    problems.append(f"record {rec['audit_id']}: no hash after the chain started (inserted behind "
                                    "the log's back)")
                continue
            chained = True
            if rec["prev_hash"] != prev:
                problems.append(f"record {rec['audit_id']}: does not follow the record before it (one was removed "
                                "or reordered)")
            if legacy_hash(rec["prev_hash"], {k: rec[k] for k in AUDIT_FIELDS}) != rec["hash"]:
                problems.append(f"record {rec['audit_id']}: content does not match its hash (edited)")
            prev = rec["hash"]
        return problems

    def verify(self, expect_head: str | None = None) -> dict:
        """Check the whole log, in one snapshot; returns {records, head, problems}.

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
        with self.b.snapshot():  # a commit by another process half-way through must not look like tampering
            return self._verify(key, expected)

    def _verify(self, key: bytes | None, expected: tuple[int, str] | None) -> dict:
        problems: list[str] = []
        head = self._head()
        rows = self._records()
        keyed_from = head["keyed_from"] if head else None
        if head is None:
            if any(r["state"] is not None for r in rows) or \
                    self.b.execute("SELECT 1 FROM audit_groups LIMIT 1").fetchone():
                problems.append("the chain head is missing from the catalog (removed behind the log's back)")
                keyed = [r["audit_id"] for r in rows if r["state"] is not None]
                keyed_from = min(keyed) if keyed else None
            elif self.groups_now() and not rows:
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
        prev, macs, states, recorded_by = "", [], {}, {}
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
            if key is not None and record_mac(key, rec["prev_hash"], {k: rec[k] for k in AUDIT_FIELDS},
                                              rec["state"]) != rec["hash"]:
                problems.append(f"record {rec['audit_id']}: content does not match its MAC (edited, or written "
                                "with another key)")
            try:
                state = json.loads(rec["state"])
                states.update(state)
                recorded_by.update(dict.fromkeys(state, rec["audit_id"]))
            except (ValueError, TypeError, AttributeError):
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
            for group in sorted(self.groups_now() | set(states)):
                now = self.group_digest(group)
                if group not in states:
                    problems.append(f"{group_words(group)}: has no audit record (written behind the log's back)")
                elif states[group] != now:
                    problems.append(f"{group_words(group)}: " + (
                        "deleted behind the log's back" if now is None else
                        "was written behind the log's back" if states[group] is None else
                        "changed behind the log's back (its rows differ from the digest the log recorded)"))
            problems += self._recorded_groups_problems(key, states, recorded_by)
        problems += self.b.guard_problems()
        if expected is not None:
            count, mac = expected
            if count > len(macs):
                problems.append(f"the kept head names record {count}; the log holds only {len(macs)} (truncated)")
            elif count and macs[count - 1] != mac:
                problems.append(f"record {count} is not the one the kept head names (the log was rewritten)")
        return {"records": len(rows), "head": format_head(len(rows), prev) if rows else "",
                "problems": problems}

    def _recorded_groups_problems(self, key: bytes | None, states: dict, recorded_by: dict) -> list[str]:
        """``audit_groups`` (each group's last recorded digest, which the next write checks against) against
        the records: rows removed, added or edited there would make every later write refuse, or accept."""
        rows = {r["grp"]: r for r in self.b.execute("SELECT grp, digest, audit_id, mac FROM audit_groups").fetchall()}
        problems = []
        for group in sorted(set(rows) | set(states)):
            row = rows.get(group)
            if row is None or group not in states or row["digest"] != states[group] \
                    or row["audit_id"] != recorded_by[group] \
                    or (key is not None and row["mac"] != group_mac(key, group, row["digest"], row["audit_id"])):
                problems.append(f"the log's record of {group_words(group)} (audit_groups) does not match its "
                                "records (" + ("removed" if row is None else "added" if group not in states else
                                               "edited") + " behind the log's back)")
        return problems

    # -- reading ----------------------------------------------------------
    def records(self, upload_id: str | None = None, work_id: str | None = None,
                action: str | None = None, limit: int | None = None) -> list[dict]:
        """Stored records, oldest first (evidence and work_ids parsed); ``work_id``: records that name the
        work (as their work or among their works)."""
        sql, args = "SELECT * FROM audit WHERE 1=1", []
        for col, val in (("upload_id", upload_id), ("action", action)):
            if val:
                sql += f" AND {col}=?"
                args.append(val)
        if work_id:  # a cheap textual filter first, the exact test on the parsed list below
            quoted = json.dumps(work_id).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql += " AND (work_id=? OR work_ids LIKE ? ESCAPE '\\')"
            args += [work_id, f"%{quoted}%"]
        sql += " ORDER BY audit_id"
        out = []
        for row in self.b.execute(sql, args).fetchall():
            d = dict(row)
            d["evidence"] = json.loads(d["evidence"])
            d["work_ids"] = json.loads(d["work_ids"]) if d.get("work_ids") else ([d["work_id"]] if d["work_id"] else [])
            if work_id and d["work_id"] != work_id and work_id not in d["work_ids"]:
                continue
            out.append(d)
            if limit and len(out) >= int(limit):
                break
        return out
