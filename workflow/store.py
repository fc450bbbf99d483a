"""Rights-workflow records in the catalog: reviews, disputes, strikes, exclusions,
licences, notices, conflicts and the append-only audit log.

Every state change goes through one transaction that also appends its audit
records, so the log and the state never disagree: the records a transaction
asks for are written when it commits, the last of them carrying the digests
of every tracked row group it changed (a work with its references,
exclusions, licences and notices; an upload row), found by the backend's
triggers. A change to those rows made in a transaction without its own
record still gets one (action ``row-change``). The audit table refuses UPDATE
and DELETE; each record carries an HMAC-SHA-256 under the audit key chained
to the previous record's, and the signed head (record count and last MAC) is
kept in ``meta``: ``verify_audit`` (``prescreen audit --verify``) finds
records edited, inserted, removed or reordered, a head that does not match,
and tracked rows changed behind the log's back. The log is
:class:`storage.AuditLog`, its arithmetic :mod:`storage.chain`; the rows
are in the rights store (:mod:`storage.stores`): no SQL here.

Who set an upload's current outcome is kept with it (``uploads.outcome_by``:
system, review, dispute, notice, expiry, release): automatic re-decisions
(a new exclusion or rule) never overturn what a person decided.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from index import Catalog, CatalogError
from policy import REVIEW, SEVERITY, Rule, WorkPolicy
from storage import AuditKeyError, AuditLog

RESTRICTIVE = ("block", "mute-audio")
EXCLUSION_END_SLACK_SECONDS = 0.5  # an exclusion may end this far past the reference's measured duration


class WorkflowError(Exception):
    """A workflow request that cannot be carried out (unknown id, wrong state, deadline passed).

    ``kind`` names the application layer's error class (service/errors.py): ``not_found``,
    ``conflict``, ``invalid_input`` (the default) or ``forbidden``."""

    def __init__(self, message: str, kind: str = "invalid_input"):
        super().__init__(message)
        self.kind = kind


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
    """Workflow operations over the catalog's stores; ``now`` is passed in (testable)."""

    def __init__(self, catalog: Catalog, params: WorkflowParams, config_version: str,
                 audit_key: Callable[[bool], bytes | None],
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        """``audit_key(create)``: the key of the audit chain (bytes), or None when there is none;
        with ``create`` True it may make one (a log that was never keyed). ``clock``: the time of
        records no caller asked for (``row-change``, ``audit-keyed``), UTC."""
        self.catalog = catalog
        self.rights = catalog.rights
        self.decisions = catalog.decisions
        self.params = params
        self.config_version = config_version
        self.log = AuditLog(catalog.backend, audit_key, config_version, clock)

    # -- audit ------------------------------------------------------------
    def _audit(self, now: datetime, actor: str, action: str, evidence: dict,
               upload_id: str | None = None, work_id: str | None = None,
               work_ids: list[str] | None = None) -> None:
        """Ask for one record; it is written, chained, when the caller's transaction commits
        (or at once, in a transaction of its own, when there is none).

        work_ids: every work the record concerns; by default ``work_id``, or for
        an upload the works it matched.
        """
        if work_ids is None:
            if work_id:
                work_ids = [work_id]
            elif upload_id:
                work_ids = self.decisions.upload_work_ids(upload_id)
            else:
                work_ids = []
        if work_id is None and len(work_ids) == 1:
            work_id = work_ids[0]
        self.log.append({
            "at": iso(now), "actor": actor, "action": action, "upload_id": upload_id, "work_id": work_id,
            "work_ids": json.dumps(sorted(set(work_ids))), "config_version": self.config_version,
            "evidence": json.dumps(evidence, default=str, allow_nan=False)})

    def verify_audit(self, expect_head: str | None = None) -> dict:
        """Check the whole log; returns {records, head, problems} (see :meth:`storage.AuditLog.verify`):
        records edited, inserted, removed or reordered, a head that does not match, tracked rows changed
        behind the log's back, and ``expect_head`` (``<records>:<MAC>``, kept elsewhere) still in the log."""
        return self.log.verify(expect_head)

    def audit(self, now: datetime, actor: str, action: str, evidence: dict,
              upload_id: str | None = None, work_id: str | None = None) -> None:
        """Append one audit record in its own transaction."""
        with self.catalog.transaction():
            self._audit(now, actor, action, evidence, upload_id, work_id)

    def audit_records(self, upload_id: str | None = None, work_id: str | None = None,
                      action: str | None = None, limit: int | None = None) -> list[dict]:
        return self.log.records(upload_id, work_id, action, limit)

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
        with self.catalog.transaction():
            if self.catalog.get_work(work_id) is None:
                raise WorkflowError(f"no work with id {work_id!r}", "not_found")
            if granted:
                self.rights.grant_license(work_id, uploader_id, iso(now))
            else:
                self.rights.revoke_license(work_id, uploader_id)
            self._audit(now, actor, "license-grant" if granted else "license-revoke",
                        {"uploader_id": uploader_id}, work_id=work_id)

    def add_exclusion(self, now: datetime, actor: str, work_id: str, start: float, end: float, reason: str,
                      ref_id: int | None = None) -> int:
        if not end > start >= 0:
            raise WorkflowError("an exclusion needs 0 <= start < end (reference seconds)")
        with self.catalog.transaction():
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
            exclusion_id = self.rights.add_exclusion(work_id, ref_id, start, end, reason, iso(now))
            self._audit(now, actor, "exclusion-add", {"start": start, "end": end, "reason": reason,
                                                      "ref_id": ref_id}, work_id=work_id)
        return exclusion_id

    def remove_exclusion(self, now: datetime, actor: str, work_id: str, exclusion_id: int, reason: str) -> dict:
        """Withdraw an exclusion: its seconds match again from the next screening on (earlier
        decisions it lightened are not made stricter after the fact). Returns the removed row."""
        with self.catalog.transaction():
            removed = self.rights.exclusion(work_id, exclusion_id)
            if removed is None:
                raise WorkflowError(f"work {work_id!r} has no exclusion #{exclusion_id} (`prescreen works show "
                                    f"{work_id}` lists them)", "not_found")
            self.rights.remove_exclusion(exclusion_id)
            self._audit(now, actor, "exclusion-remove", {**removed, "why": reason}, work_id=work_id)
        return removed

    def exclusions(self, work_id: str | None = None) -> list[dict]:
        return self.rights.exclusions(work_id)

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
        licensed = self.rights.licensed()
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
        old = self.decisions.outcome(upload_id)
        self.decisions.set_outcome(upload_id, outcome, source, iso(now))
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
        return self.rights.add_review(upload_id, "screening", iso(now), iso(due))

    def _close_pending_screening(self, now: datetime, actor: str, upload_id: str, outcome: str, why: str) -> None:
        """Close (audited) the upload's pending screening review: its outcome was settled
        otherwise, and a later expiry must not overturn it (inside the caller's transaction)."""
        for rv in self.rights.pending_reviews_of(upload_id, "screening"):
            self.rights.close_review(rv["review_id"], "closed", iso(now), outcome=outcome, note=why)
            self._audit(now, actor, "review-closed", {"review_id": rv["review_id"], "outcome": outcome, "why": why},
                        upload_id=upload_id)

    def uploads_matching(self, work_id: str) -> list[str]:
        """Ids of the stored uploads whose screening matched ``work_id``."""
        return self.decisions.uploads_matching(work_id)

    def withdraw_reviews(self, now: datetime, actor: str, upload_ids: list[str], why: str) -> list[int]:
        """Withdraw (audited) the pending reviews of those uploads that are now allowed: there is nothing
        left for a person to decide. A withdrawn dispute is resolved for the uploader. Returns review ids."""
        withdrawn = []
        with self.catalog.transaction():
            for upload_id in upload_ids:
                if (self._upload(upload_id)["outcome"] or "allow") != "allow":
                    continue
                for rv in self.rights.pending_reviews_of(upload_id):
                    self.rights.close_review(rv["review_id"], "withdrawn", iso(now), note=why)
                    if rv["dispute_id"] is not None:  # (not 'released': nobody overturned the decision)
                        self.rights.resolve_dispute(rv["dispute_id"], "withdrawn", iso(now))
                    self._audit(now, actor, "review-withdrawn", {"review_id": rv["review_id"], "kind": rv["kind"],
                                                                 "why": why}, upload_id=upload_id)
                    withdrawn.append(int(rv["review_id"]))
        return withdrawn

    def release(self, now: datetime, actor: str, upload_id: str, outcome: str, why: str, evidence: dict) -> None:
        """An automatic re-decision (exclusion, rule change) that lightens an upload's outcome.

        A pending screening review of the upload is closed (audited); a release
        to ``review`` opens one, so the upload is not left waiting for nobody.
        """
        with self.catalog.transaction():
            self._set_outcome(now, actor, upload_id, outcome, f"released: {why}", "release", evidence)
            if outcome != REVIEW:
                self._close_pending_screening(now, actor, upload_id, outcome, f"released: {why}")
            if outcome == "allow":  # a pending dispute of it has nothing left to decide (and must earn no strike)
                self.withdraw_reviews(now, actor, [upload_id], f"released: {why}")
            elif not self.rights.pending_reviews_of(upload_id):
                review_id = self.open_review(now, upload_id)
                self._audit(now, actor, "review-opened", {"review_id": review_id, "why": f"released: {why}"},
                            upload_id=upload_id)

    # -- reviews ----------------------------------------------------------
    def reviews(self, status: str | None = "pending") -> list[dict]:
        return self.rights.reviews(status)

    def upload_history(self, upload_id: str) -> dict:
        """An upload's reviews and disputes (every status, oldest first) and its audit records."""
        return {"reviews": self.rights.review_history(upload_id), "disputes": self.rights.dispute_history(upload_id),
                "audit": self.audit_records(upload_id=upload_id)}

    def review(self, review_id: int) -> dict:
        row = self.rights.review(review_id)
        if row is None:
            raise WorkflowError(f"no review with id {review_id}", "not_found")
        return row

    def dispute(self, dispute_id: int) -> dict:
        """One dispute (every column); WorkflowError if there is none."""
        row = self.rights.dispute(dispute_id)
        if row is None:
            raise WorkflowError(f"no dispute with id {dispute_id}", "not_found")
        return row

    def decide_review(self, now: datetime, review_id: int, reviewer: str, outcome: str, note: str = "") -> dict:
        """Record a reviewer's outcome; applies it to the upload (and the dispute, strikes)."""
        self.expire_due(now)
        with self.catalog.transaction():  # read and checked under the write lock: of two reviewers at once, one decides
            rv = self.review(review_id)
            if rv["status"] != "pending":
                raise WorkflowError(f"review {review_id} is already {rv['status']}", "conflict")
            allowed = ("upheld", "released") if rv["kind"] == "dispute" else ("allow", "block", "mute-audio", "track")
            if outcome not in allowed:
                raise WorkflowError(f"a {rv['kind']} review is decided as one of: {', '.join(allowed)}")
            self.rights.close_review(review_id, "decided", iso(now), outcome=outcome, note=note, reviewer=reviewer)
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
            others = [w for w in self.decisions.upload_works(up["upload_id"]) if w.outcome not in (None, REVIEW)]
            final = max([outcome, *(w.outcome for w in others)], key=severity)
            why = f"review {rv['review_id']}: {note}".strip(": ")
            if final != outcome:
                kept = ", ".join(f"{w.work_id} ({w.outcome})" for w in others if w.outcome == final)
                why += f"; the rights holder's action for {kept} still applies"
            self._set_outcome(now, actor, up["upload_id"], final, why, "review" if human else "expiry",
                              {"review_outcome": outcome})
            if human and outcome == "block":
                self._strike(now, up, f"blocked after review {rv['review_id']}")
            return
        dispute = self.dispute(rv["dispute_id"])
        self.rights.resolve_dispute(rv["dispute_id"], outcome, iso(now))
        self._audit(now, actor, f"dispute-{outcome}", {"dispute_id": rv["dispute_id"], "note": note,
                                                       "by_deadline": not human}, upload_id=up["upload_id"])
        if outcome == "released":
            self._set_outcome(now, actor, up["upload_id"], "allow", f"dispute {rv['dispute_id']} released",
                              "dispute" if human else "expiry")
            self._revoke_strikes(now, actor, up["upload_id"], f"dispute {rv['dispute_id']} released")
            if dispute["disputed_by"] == "notice":
                self._lift_notices(now, actor, up["upload_id"], f"dispute {rv['dispute_id']} released")
        elif human:  # a person confirmed the outcome: automatic re-decisions leave it alone from now on
            self.decisions.set_outcome_by(up["upload_id"], "dispute")
            if dispute["disputed_outcome"] == "block":
                self._strike(now, up, f"block upheld after dispute {rv['dispute_id']}")

    def _strike(self, now: datetime, up: dict, reason: str) -> None:
        """One strike per upload: a block upheld twice (review, then dispute) counts once."""
        if not up.get("uploader_id"):
            return
        if self.rights.live_strikes_of_upload(up["upload_id"]):
            return
        works = sorted(self.decisions.upload_work_ids(up["upload_id"]))
        expires = now + timedelta(days=self.params.strike_expiry_days)
        self.rights.add_strike(up["uploader_id"], up["upload_id"], works, reason, iso(now), iso(expires))
        self._audit(now, "system", "strike", {"uploader_id": up["uploader_id"], "reason": reason,
                                              "expires_at": iso(expires)}, upload_id=up["upload_id"])

    def _revoke_strikes(self, now: datetime, actor: str, upload_id: str, reason: str) -> None:
        for strike in self.rights.live_strikes_of_upload(upload_id):
            self.rights.revoke_strike(strike["strike_id"], iso(now), reason)
            self._audit(now, actor, "strike-revoked", {"strike_id": strike["strike_id"],
                                                       "uploader_id": strike["uploader_id"], "reason": reason},
                        upload_id=upload_id)

    def _lift_notices(self, now: datetime, actor: str, upload_id: str, reason: str) -> None:
        """A takedown overturned: its notices are lifted (stay-down over). Withdrawing the noticed
        reference and re-deciding what it blocked is the application layer's (it finds them with
        ``rights.lifted_notice_references``), not the workflow's."""
        for notice in self.rights.live_notices_of_upload(upload_id):
            self.rights.lift_notice(notice["notice_id"], iso(now))
            self._audit(now, actor, "stay-down-lifted", {"notice_id": notice["notice_id"], "reason": reason,
                                                         "ref_id": notice["ref_id"]},
                        upload_id=upload_id, work_id=notice["work_id"])

    # -- disputes ---------------------------------------------------------
    def file_dispute(self, now: datetime, upload_id: str, reason: str, uploader_id: str | None) -> dict:
        """The uploader's counter-notice: opens a dispute review with its own deadline. Only the
        uploader of record (``uploader_id`` equal to the one stored with the upload) can file one."""
        self.expire_due(now)
        with self.catalog.transaction():  # checked under the write lock: two disputes at once file one
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
            if self.rights.pending_reviews_of(upload_id):
                raise WorkflowError(f"upload {upload_id} is already waiting for review", "conflict")
            restricted_at = parse(up.get("outcome_at") or up["screened_at"])  # a later takedown restarts the window
            if now > restricted_at + timedelta(days=self.params.dispute_window_days):
                raise WorkflowError(f"the {self.params.dispute_window_days:g}-day dispute window has closed "
                                    f"(the outcome {up['outcome']} was set {iso(restricted_at)})", "conflict")
            dispute_id = self.rights.add_dispute(upload_id, uploader_id, reason, up["outcome"], iso(now),
                                                 up.get("outcome_by") or "system")
            due = now + timedelta(hours=self.params.dispute_review_hours)
            review_id = self.rights.add_review(upload_id, "dispute", iso(now), iso(due), dispute_id)
            self._audit(now, uploader_id, "dispute-filed",
                        {"dispute_id": dispute_id, "reason": reason, "disputed_outcome": up["outcome"],
                         "review_id": review_id}, upload_id=upload_id)
        return {"dispute_id": dispute_id, "review_id": review_id, "due_at": iso(due)}

    # -- deadlines --------------------------------------------------------
    def expire_due(self, now: datetime) -> list[dict]:
        """Resolve pending reviews past their deadline with the configured default."""
        due, expired = self.rights.reviews_due(iso(now)), []
        for rv in due:
            outcome = self.params.dispute_expiry_outcome if rv["kind"] == "dispute" else self.params.review_expiry_outcome
            with self.catalog.transaction():
                if self.review(rv["review_id"])["status"] != "pending":
                    continue  # (decided or expired by another process since it was listed)
                expired.append(rv)
                self.rights.close_review(rv["review_id"], "expired", iso(now), outcome=outcome)
                self._audit(now, "system", "review-expired", {"review_id": rv["review_id"], "kind": rv["kind"],
                                                              "outcome": outcome, "due_at": rv["due_at"]},
                            upload_id=rv["upload_id"])
                self._apply_review(now, "system", rv, outcome, "deadline passed", human=False)
        return expired

    # -- uploaders --------------------------------------------------------
    def uploader(self, now: datetime, uploader_id: str) -> dict:
        strikes = self.rights.strikes_of(uploader_id)
        for s in strikes:
            s["active"] = parse(s["expires_at"]) > now and not s["revoked_at"]
        active = sum(s["active"] for s in strikes)
        return {"uploader_id": uploader_id, "uploads": self.decisions.uploads_of(uploader_id), "strikes": strikes,
                "active_strikes": active, "repeat_infringer": active >= self.params.repeat_uploader_strikes}

    # -- conflicts and notices -------------------------------------------
    def record_conflict(self, now: datetime, actor: str, work_id: str, owner: str, path: str,
                        existing_work_id: str, existing_owner: str, evidence: dict) -> int:
        """Record (audited) that ``owner`` claimed content of ``existing_work_id``; a retry of the same
        claim (same work, owner, file, kind) returns the conflict already recorded, not a new one."""
        with self.catalog.transaction():
            for row in self.rights.conflicts_like(work_id, owner, path, existing_work_id):
                if row["evidence"].get("kind") == evidence.get("kind"):
                    return int(row["conflict_id"])
            conflict_id = self.rights.add_conflict(work_id, owner, path, existing_work_id, existing_owner, evidence,
                                                   iso(now))
            self._audit(now, actor, "ownership-conflict", {"claimant": owner, "path": path,
                                                           "existing_work_id": existing_work_id,
                                                           "existing_owner": existing_owner, **evidence},
                        work_id=work_id)
        return conflict_id

    def conflicts(self) -> list[dict]:
        return self.rights.conflicts()

    def record_notice(self, now: datetime, actor: str, work_id: str, path: str, ref_id: int,
                      upload_id: str | None) -> int:
        """A takedown notice; a noticed upload is blocked, and its screening review, if still
        pending, is closed (reviews already past their deadline expire first, in time order)."""
        self.expire_due(now)
        with self.catalog.transaction():
            notice_id = self.rights.add_notice(work_id, upload_id, path, ref_id, actor, iso(now))
            self._audit(now, actor, "takedown-notice", {"path": path, "ref_id": ref_id, "stay_down": True},
                        upload_id=upload_id, work_id=work_id)
            if upload_id:
                self._set_outcome(now, actor, upload_id, "block", f"taken down after notice #{notice_id}", "notice")
                self._close_pending_screening(now, actor, upload_id, "block", f"taken down after notice #{notice_id}")
        return notice_id

    # -- transparency -----------------------------------------------------
    def report(self, now: datetime) -> dict:
        """Counts for the transparency report (see ``prescreen report``).

        restricted: uploads that were ever blocked or muted (automatically, by
        a reviewer or after a takedown notice). overturned: those whose
        restriction an uploader's dispute released. released_by_rights_holders:
        automatic decisions lightened by an exclusion or a rule change (not a
        correction of the filter, so not counted as overturned).
        """
        counts = self.decisions.decision_counts()
        changes = self.audit_records(action="outcome-change")
        restricted = {u for u, decision in counts["by_decision"] if decision in RESTRICTIVE}
        restricted |= {r["upload_id"] for r in changes if r["evidence"].get("to") in RESTRICTIVE}
        overturned = {r["upload_id"] for r in self.rights.released_disputes() if r["disputed_outcome"] in RESTRICTIVE}
        released = {r["upload_id"] for r in changes if r["evidence"].get("by") == "release"}
        per_work: dict[str, dict] = {}
        for row in counts["per_work"]:
            w = per_work.setdefault(row["work_id"], {"matched_uploads": 0, "decisions": {}, "outcomes": {},
                                                     "restricted": 0, "overturned": 0})
            w["matched_uploads"] += 1
            w["decisions"][row["decision"]] = w["decisions"].get(row["decision"], 0) + 1
            w["outcomes"][row["outcome"]] = w["outcomes"].get(row["outcome"], 0) + 1
            w["restricted"] += row["upload_id"] in restricted
            w["overturned"] += row["upload_id"] in overturned
        return {
            "generated_at": iso(now),
            "config_version": self.config_version,
            "uploads_screened": counts["total"],
            "errors": counts["errors"],
            "decisions": counts["decisions"],
            "outcomes": counts["outcomes"],
            **self.rights.review_counts(),
            "disputes": self.rights.dispute_counts(),
            "restrictive_decisions": len(restricted),
            "overturned": len(overturned),
            "overturned_share": len(overturned) / len(restricted) if restricted else 0.0,
            "released_by_rights_holders": len(released),
            "per_work": per_work,
            "strikes_active": self.rights.active_strike_count(iso(now)),
        }


def severity(outcome: str | None) -> int:
    return SEVERITY.get(outcome or "allow", 0)


__all__ = ["AuditKeyError", "WorkflowParams", "Workflow", "WorkflowError", "iso", "parse", "severity", "CatalogError"]
