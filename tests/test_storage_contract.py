"""One contract for every catalog backend: the same tests run against SQLite and PostgreSQL.

What the engine and the rights workflow rely on from storage: references with their fingerprints,
uploads with their per-work rows, atomic claims, the rights records, the keyed audit chain (and
its detection of tampering), and writers serialised by the database's own lock.
PostgreSQL runs need a server (see ``tests/conftest.py``: ``PRESCREEN_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from conftest import SERVICE_MISSING

from fingerprint import AUDIO, VIDEO, Fingerprint
from index import Catalog, CatalogError, NewReference
from storage import StoredUpload, UploadRecord, UploadSegment, UploadWork, is_url, redact
from storage.schema import SCHEMA_VERSION
from workflow import Workflow, WorkflowError, WorkflowParams

KEY = b"k" * 32
NOW = datetime(2030, 1, 1, 12, tzinfo=timezone.utc)


def fingerprint(signal: str, n: int, width: int, seed: int) -> Fingerprint:
    rng = np.random.default_rng(seed)
    starts = np.arange(n) * 0.25
    return Fingerprint(signal, rng.integers(0, 256, (n, width), dtype=np.uint8), starts, starts + 0.25,
                       rng.integers(0, 3, n, dtype=np.uint8))


def new_ref(name: str, seed: int, duration: float = 12.0) -> NewReference:
    return NewReference(path=f"/media/{name}", sha256=f"sha-{name}", md5=f"md5-{name}", size=1000 + seed,
                        duration=duration, has_video=True, has_audio=True,
                        fingerprints=(fingerprint(VIDEO, 40, 32, seed), fingerprint(AUDIO, 30, 4, seed + 1)))


def result_doc(matches: dict[str, tuple[float, str]], decision: str | None = "block") -> dict:
    """A screening's JSON document as the engine audits it: {work_id: (matched seconds, outcome)}, one
    segment per match, starting a third of a second in (a figure display rounding would change)."""
    return {"status": "ok", "decision": decision, "rule": "r", "reasons": ["because"], "duration": 20.0,
            "matches": [{"work_id": w, "modality": "video", "method": "fingerprint",
                         "segments": [_segment(1, 1 / 3, s)], "matched_seconds": s, "upload_coverage": s / 20.0,
                         "reference_coverage": 0.5} for w, (s, _) in matches.items()],
            "works": [{"work_id": w, "outcome": o, "rule": "r", "band": "substantial"} for w, (_, o) in matches.items()]}


def _segment(ref_id: int, start: float, seconds: float) -> dict:
    return {"ref_id": ref_id, "modality": "video", "upload_start": start, "upload_end": start + seconds,
            "ref_start": start / 7, "ref_end": start / 7 + seconds, "speed": 1.0, "similarity": 0.9,
            "mean_distance": 6.4, "hits": 40, "density": 0.8, "changes": 2}


def stored_upload(result: dict, upload_id: str | None, uploader_id: str | None) -> StoredUpload:
    """The typed rows a screening with document ``result`` is stored as (what service.view.stored_from makes)."""
    at = NOW.isoformat()
    record = UploadRecord(None, upload_id, uploader_id, None, "/uploads/u.mp4", "sha-up", 10, at, result["status"],
                          None, None, result["decision"], result["rule"], tuple(result["reasons"]), result["duration"],
                          None, (), (), result["decision"], "system", at, None)
    outcomes = {w["work_id"]: w for w in result["works"]}
    works = tuple(UploadWork(0, "", m["work_id"], outcomes[m["work_id"]]["outcome"], m["matched_seconds"],
                             m["upload_coverage"], m["reference_coverage"], m["modality"], m["method"], i,
                             outcomes[m["work_id"]]["rule"], outcomes[m["work_id"]]["band"], 0.9, ("video",))
                  for i, m in enumerate(result["matches"]))
    segments = tuple(UploadSegment(0, "", m["work_id"], i, **m["segments"][0]) for i, m in enumerate(result["matches"]))
    return StoredUpload(record, works, segments)


def open_workflow(target) -> tuple[Catalog, Workflow]:
    catalog = Catalog(target, timeout=5.0)
    return catalog, Workflow(catalog, WorkflowParams(), "test-config", lambda create: KEY, clock=lambda: NOW)


@pytest.fixture()
def store(catalog_target):
    catalog, workflow = open_workflow(catalog_target)
    yield catalog, workflow
    catalog.close()


def raw_sql(target, *statements) -> None:
    """Run statements on the database directly, as another program would (not through prescreen)."""
    if is_url(target):
        import psycopg
        with psycopg.connect(target, autocommit=True) as db:
            for sql in statements:
                db.execute(sql)
    else:
        db = sqlite3.connect(target, isolation_level=None)
        for sql in statements:
            db.execute(sql)
        db.close()


def register(catalog: Catalog, workflow: Workflow, work_id: str, owner: str, *refs: NewReference) -> list[int]:
    with catalog.transaction():
        ids, _ = catalog.add_references(work_id, work_id.title(), owner, list(refs))
        workflow.audit(NOW, "operator", "register", {"ref_ids": ids}, work_id=work_id)
    return ids


def screen(catalog: Catalog, workflow: Workflow, result: dict, upload_id: str | None = None,
           uploader_id: str | None = "erin") -> str:
    with catalog.transaction():
        _, uid = catalog.record_upload(stored_upload(result, upload_id, uploader_id))
        workflow.record_screening(NOW, uid, result)
    return uid


# -- references -----------------------------------------------------------
def test_references_round_trip(store):
    catalog, workflow = store
    a, b = new_ref("a.mp4", 1), new_ref("b.mp4", 2)
    gen = catalog.generation()
    ids = register(catalog, workflow, "film", "Studio A", a, b)
    assert catalog.generation() == gen + 1  # one registration, one generation
    work = catalog.get_work("film")
    assert (work.title, work.owner, work.rules, work.priority) == ("Film", "Studio A", [], False)
    refs = catalog.references("film")
    assert [r.ref_id for r in refs] == ids and refs[0].path == "/media/a.mp4" and refs[0].duration == 12.0
    assert catalog.references_by_sha256("sha-b.mp4")[0].ref_id == ids[1]
    stored = dict(catalog.fingerprints(VIDEO))
    for ref_id, ref in zip(ids, (a, b)):
        original = ref.fingerprints[0]
        np.testing.assert_array_equal(stored[ref_id].codes, original.codes)
        np.testing.assert_array_equal(stored[ref_id].starts, original.starts)
        np.testing.assert_array_equal(stored[ref_id].variants, original.variants)
    assert [r for r, _ in catalog.fingerprints(AUDIO, [ids[1]])] == [ids[1]]
    assert catalog.work_summaries()[0]["video_codes"] == 80
    with pytest.raises(CatalogError, match="belongs to"):
        catalog.add_references("film", "", "Studio B", [new_ref("c.mp4", 3)])
    assert len(catalog.references()) == 2  # the refused one wrote nothing
    catalog.set_work_settings("film", rules=[{"action": "block"}], priority=True)
    assert catalog.get_work("film").rules == [{"action": "block"}] and catalog.get_work("film").priority
    removed, _ = catalog.remove_work("film")
    assert removed == ids and catalog.references() == [] and list(catalog.fingerprints(VIDEO)) == []


def test_replace_fingerprints_bumps_generation(store):
    catalog, workflow = store
    (ref_id,) = register(catalog, workflow, "film", "A", new_ref("a.mp4", 1))
    gen = catalog.generation()
    fresh = fingerprint(VIDEO, 5, 32, 99)
    assert catalog.replace_fingerprints({ref_id: (fresh,)}, {"fingerprint_format": "f2"}) == gen + 1
    ((_, got),) = list(catalog.fingerprints(VIDEO))
    np.testing.assert_array_equal(got.codes, fresh.codes)
    assert list(catalog.fingerprints(AUDIO)) == [] and catalog.get_meta("fingerprint_format") == "f2"


# -- decisions --------------------------------------------------------------
def test_uploads_and_their_work_rows(store):
    catalog, workflow = store
    register(catalog, workflow, "film", "A", new_ref("a.mp4", 1))
    register(catalog, workflow, "song", "B", new_ref("s.m4a", 2))
    both = screen(catalog, workflow, result_doc({"film": (12.0, "block"), "song": (3.0, "review")}), "up-1")
    again = screen(catalog, workflow, result_doc({"song": (5.0, "allow")}, "allow"), "up-1")
    auto = screen(catalog, workflow, result_doc({}, "allow"), None)
    assert (both, again) == ("up-1", "up-1#2") and auto.startswith("u")
    rows = catalog.decisions.upload_works("up-1")
    assert [(r.work_id, r.outcome, r.matched_seconds) for r in rows] == [("film", "block", 12.0),
                                                                          ("song", "review", 3.0)]
    assert catalog.decisions.uploads_matching("song") == ["up-1", "up-1#2"]
    assert catalog.decisions.uploads_matching("film") == ["up-1"]
    assert [r.record.upload_id for r in catalog.decisions.redecidable("song")] == ["up-1", "up-1#2"]
    assert catalog.latest_upload("up-1").record.upload_id == "up-1#2"
    stored = catalog.decisions.stored("up-1")  # the typed rows, as written: segments at full precision
    assert stored == StoredUpload(
        replace(stored_upload(result_doc({"film": (12.0, "block"), "song": (3.0, "review")}), "up-1", "erin").record,
                upload_pk=stored.record.upload_pk),
        tuple(replace(w, upload_pk=stored.record.upload_pk, upload_id="up-1") for w in stored_upload(
            result_doc({"film": (12.0, "block"), "song": (3.0, "review")}), "up-1", "erin").works),
        tuple(replace(x, upload_pk=stored.record.upload_pk, upload_id="up-1") for x in stored_upload(
            result_doc({"film": (12.0, "block"), "song": (3.0, "review")}), "up-1", "erin").segments))
    assert stored.segments[0].upload_start == 1 / 3 and stored.segments[0].ref_start == 1 / 21  # bit for bit
    assert [s.work_id for s in catalog.decisions.upload_segments("up-1")] == ["film", "song"]
    catalog.decisions.set_work_outcomes("up-1", [{"work_id": "film", "outcome": "allow", "rule": "x", "band": "none"}])
    assert [(w.work_id, w.outcome, w.rule) for w in catalog.decisions.upload_works("up-1")] == [
        ("film", "allow", "x"), ("song", None, None)]  # (song: no longer found by that re-decision)
    workflow.release(NOW, "operator", "up-1", "allow", "exclusion", {})  # the filter's outcome, released
    assert catalog.upload("up-1")["outcome_by"] == "release"
    assert [r.record.upload_id for r in catalog.decisions.redecidable("film")] == ["up-1"]  # (a person's would not be)
    assert catalog.upload_count() == 3 and catalog.upload_rows(limit=1)[0]["upload_id"] == auto
    assert workflow.verify_audit()["problems"] == []


def test_claims(store):
    catalog, _ = store
    holder = {"token": "t1", "pid": 1, "host": "h", "boot_id": None, "proc_start": None, "command": "c",
              "started_at": NOW.isoformat()}
    claim_id, held = catalog.claim("up-9", "/x", holder)
    assert held is None
    again, held = catalog.claim("up-9", "/x", {**holder, "token": "t2"})
    assert again is None and held["token"] == "t1"
    assert catalog.take_over_claim(claim_id, "t1", {**holder, "token": "t3"})
    assert not catalog.take_over_claim(claim_id, "t1", holder)  # another process changed it first
    assert not catalog.drop_claim(claim_id, "t1") and catalog.drop_claim(claim_id, "t3")
    assert catalog.claims() == []


def _claim_in_process(target, barrier, results) -> None:
    catalog = Catalog(target, timeout=20.0)
    barrier.wait()
    claim_id, _ = catalog.claim("up-race", "/x", {"token": multiprocessing.current_process().name, "pid": 1,
                                                 "host": "h", "boot_id": None, "proc_start": None, "command": "c",
                                                 "started_at": NOW.isoformat()})
    results.put(claim_id is not None)
    catalog.close()


def test_concurrent_claims_one_wins(catalog_target):
    Catalog(catalog_target).close()  # (the schema, before the race)
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(catalog_target, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted(results.get(timeout=5) for _ in procs) == [False, False, False, True]


# -- rights -----------------------------------------------------------------
def test_rights_process(store):
    catalog, workflow = store
    (ref_id,) = register(catalog, workflow, "film", "A", new_ref("a.mp4", 1, duration=40.0))
    uid = screen(catalog, workflow, result_doc({"film": (12.0, "block")}), "up-1")
    # a dispute needs the uploader of record
    with pytest.raises(WorkflowError, match="uploader of record"):
        workflow.file_dispute(NOW, uid, "fair use", "mallory")
    filed = workflow.file_dispute(NOW, uid, "fair use", "erin")
    assert workflow.dispute(filed["dispute_id"])["status"] == "open"
    assert [r["review_id"] for r in workflow.reviews()] == [filed["review_id"]]
    decided = workflow.decide_review(NOW + timedelta(hours=1), filed["review_id"], "rita", "upheld")
    assert decided["status"] == "decided" and workflow.dispute(filed["dispute_id"])["status"] == "upheld"
    assert catalog.upload(uid)["outcome_by"] == "dispute" and catalog.decisions.redecidable("film") == []
    assert workflow.uploader(NOW, "erin")["active_strikes"] == 1
    # exclusions: out of range and unknown references refused; listed and removed
    with pytest.raises(WorkflowError, match="past its end"):
        workflow.add_exclusion(NOW, "op", "film", 10, 999, "x")
    with pytest.raises(WorkflowError, match="no reference 99"):
        workflow.add_exclusion(NOW, "op", "film", 0, 5, "x", ref_id=99)
    ex = workflow.add_exclusion(NOW, "op", "film", 0.0, 5.0, "public domain", ref_id=ref_id)
    assert workflow.excluded_by_ref() == {ref_id: [(0.0, 5.0)]}
    assert workflow.remove_exclusion(NOW, "op", "film", ex, "mistake")["reason"] == "public domain"
    assert workflow.exclusions() == []
    # licences
    workflow.license(NOW, "op", "film", "erin")
    workflow.license(NOW, "op", "film", "erin")  # (granted twice: one licence)
    assert workflow.work_policies()["film"].licensed_uploaders == frozenset({"erin"})
    workflow.license(NOW, "op", "film", "erin", granted=False)
    assert workflow.work_policies()["film"].licensed_uploaders == frozenset()
    # a notice blocks a later upload and closes its pending review
    later = screen(catalog, workflow, result_doc({"film": (4.0, "review")}, "review"), "up-2")
    notice = workflow.record_notice(NOW, "op", "film", "/uploads/u.mp4", ref_id, later)
    assert catalog.upload(later)["outcome"] == "block" and catalog.upload(later)["outcome_by"] == "notice"
    assert workflow.reviews() == [] and notice >= 1
    # deadlines: a pending review past its due time expires to the configured outcome
    third = screen(catalog, workflow, result_doc({"film": (4.0, "review")}, "review"), "up-3")
    assert [r["upload_id"] for r in workflow.expire_due(NOW + timedelta(days=30))] == [third]
    assert catalog.upload(third)["outcome"] == "allow"
    report = workflow.report(NOW)
    assert report["uploads_screened"] == 3 and report["per_work"]["film"]["matched_uploads"] == 3
    assert report["disputes"] == {"upheld": 1} and report["strikes_active"] == 1
    actions = [r["action"] for r in workflow.audit_records(work_id="film")]
    assert "dispute-filed" in actions and "takedown-notice" in actions and "exclusion-remove" in actions
    assert workflow.verify_audit()["problems"] == []


# -- the audit chain --------------------------------------------------------
def _populated(target) -> None:
    catalog, workflow = open_workflow(target)
    register(catalog, workflow, "film", "A", new_ref("a.mp4", 1))
    register(catalog, workflow, "song", "B", new_ref("s.m4a", 2))
    screen(catalog, workflow, result_doc({"film": (12.0, "block")}), "up-1")
    workflow.set_priority(NOW, "op", "song", True)
    catalog.close()


def test_audit_chain_intact_and_reopened(catalog_target):
    _populated(catalog_target)
    catalog, workflow = open_workflow(catalog_target)
    checked = workflow.verify_audit()
    assert checked["problems"] == [] and checked["records"] == 4
    workflow.license(NOW, "op", "film", "erin")  # a later session continues the chain
    assert workflow.verify_audit(expect_head=checked["head"])["problems"] == []
    catalog.close()


@pytest.mark.parametrize("change", [
    "DELETE FROM upload_works WHERE work_id='film'",
    "UPDATE upload_works SET outcome='allow'",
    "UPDATE upload_works SET matched_seconds=1",
    "INSERT INTO upload_works(upload_pk, upload_id, work_id, outcome, matched_seconds, upload_coverage, "
    "reference_coverage, modality, method, seq) VALUES (1, 'up-1', 'song', 'block', 1, 0.1, 0.1, 'video', 'fingerprint', 1)",
    "UPDATE upload_segments SET upload_start=0",
    "DELETE FROM upload_segments",
    "UPDATE uploads SET reasons='[]', duration=99",
])
def test_typed_decision_rows_changed_behind_the_log(catalog_target, change):
    """The decision is its typed rows (the upload's columns, per-work rows, segments): every one is under
    the audit chain, so verify names the upload whose rows were changed without it."""
    _populated(catalog_target)
    raw_sql(catalog_target, change)
    catalog, workflow = open_workflow(catalog_target)
    assert "upload 'up-1': changed behind the log's back" in " ".join(workflow.verify_audit()["problems"])
    catalog.close()


@pytest.mark.parametrize("change, found, touch", [
    ("UPDATE works SET title='Stolen' WHERE work_id='film'", "work 'film': changed behind the log's back",
     lambda w: w.set_priority(NOW, "op", "film", True)),
    ("UPDATE uploads SET outcome='allow' WHERE upload_id='up-1'", "upload 'up-1': changed behind the log's back",
     lambda w: w.open_review(NOW, "up-1")),
    ("DELETE FROM refs WHERE work_id='song'", "work 'song': changed behind",
     lambda w: w.set_priority(NOW, "op", "song", False)),
    ("INSERT INTO licenses VALUES ('film', 'mallory', 'x')", "work 'film': changed behind",
     lambda w: w.license(NOW, "op", "film", "erin")),
])
def test_rows_changed_behind_the_log(catalog_target, change, found, touch):
    _populated(catalog_target)
    raw_sql(catalog_target, change)
    catalog, workflow = open_workflow(catalog_target)
    assert any(found in p for p in workflow.verify_audit()["problems"])
    with pytest.raises(CatalogError, match="behind the audit log's back"):  # never sealed over by a later write
        touch(workflow)
    catalog.close()


def _disable_append_only(target) -> list[str]:
    if is_url(target):
        return ["ALTER TABLE audit DISABLE TRIGGER USER"]
    return ["DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete"]


@pytest.mark.parametrize("tampering, found", [
    ("UPDATE audit SET actor='someone else' WHERE audit_id=2", "content does not match its MAC"),
    ("DELETE FROM audit WHERE audit_id=(SELECT MAX(audit_id) FROM audit)", "the chain head counts"),
    ("DELETE FROM audit", "the chain head counts"),
    ("INSERT INTO audit(audit_id, at, actor, action, evidence) VALUES (0, 'x', 'x', 'x', '{}')", "not written by"),
])
def test_log_tampering_detected(catalog_target, tampering, found):
    _populated(catalog_target)
    raw_sql(catalog_target, *_disable_append_only(catalog_target), tampering)
    catalog, workflow = open_workflow(catalog_target)
    assert any(found in p for p in workflow.verify_audit()["problems"])
    catalog.close()


def test_audit_log_is_append_only(catalog_target):
    _populated(catalog_target)
    errors = (sqlite3.DatabaseError,)
    if is_url(catalog_target):
        import psycopg
        errors = (psycopg.Error,)
    for sql in ("UPDATE audit SET actor='x'", "DELETE FROM audit"):
        with pytest.raises(errors, match="append-only"):
            raw_sql(catalog_target, sql)


# -- writers ----------------------------------------------------------------
def _audited_writes(target, barrier, n: int, who: str) -> None:
    catalog, workflow = open_workflow(target)
    barrier.wait()
    for i in range(n):
        workflow.license(NOW, who, "film", f"{who}-{i}")
    catalog.close()


def test_concurrent_writers_keep_one_chain(catalog_target):
    """Writers in several processes are serialised by the database's lock: no record lost, no fork in
    the chain (every record follows the one before it)."""
    _populated(catalog_target)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_audited_writes, args=(catalog_target, barrier, 8, f"p{i}")) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    catalog, workflow = open_workflow(catalog_target)
    assert len(workflow.rights.licensed()["film"]) == 24
    assert len(workflow.audit_records(action="license-grant")) == 24
    assert workflow.verify_audit()["problems"] == []
    catalog.close()


def test_write_transaction_waits_for_the_other_writer(catalog_target):
    """While one connection holds a write transaction, another's gives up after its timeout."""
    first = Catalog(catalog_target, timeout=5.0)
    second = Catalog(catalog_target, timeout=0.5)
    with first.transaction():
        first.set_meta("holder", "first")
        with pytest.raises((sqlite3.OperationalError, CatalogError), match="locked"):
            second.set_meta("holder", "second")
    second.set_meta("holder", "second")
    assert first.get_meta("holder") == "second"
    first.close()
    second.close()


def test_registration_lock_is_the_databases(catalog_target):
    """The lock a registration holds over its checks and writes: on PostgreSQL the database's (it holds
    across machines); on SQLite the data folder's file lock does this (the catalog's is a no-op)."""
    first, second = Catalog(catalog_target), Catalog(catalog_target)
    with first.write_lock(1.0):
        if is_url(catalog_target):
            with pytest.raises(CatalogError, match="write lock"):
                with second.write_lock(0.3):
                    pass
    with second.write_lock(0.3):  # released: the next one gets it
        pass
    first.close()
    second.close()


# -- migration ----------------------------------------------------------------
def test_a_schema_3_catalog_gets_its_typed_decisions_once(tmp_path, schema4_tree):
    """A catalog written before upload_works existed (schema 3: the schema-4 fixture without that table)
    opens migrated: the per-work rows and segments of every stored upload are filled from its JSON
    document, the audit chain stays intact, and uploads are found by work from then on."""
    path = _schema4_catalog(schema4_tree, tmp_path / "catalog.sqlite")
    raw_sql(path, "DROP TABLE upload_works", "UPDATE meta SET value='3' WHERE key='schema_version'")
    catalog, workflow = open_workflow(path)
    assert catalog.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert catalog.decisions.uploads_matching("song") == ["up-1", "up-2"]
    assert [(w.work_id, w.outcome, w.matched_seconds) for w in catalog.decisions.upload_works("up-1")] == [
        ("film", "block", 12.0), ("song", "review", 3.0)]
    assert len(catalog.decisions.upload_segments("up-1")) == 2
    assert workflow.verify_audit()["problems"] == []
    catalog.close()
    raw_sql(path, "DELETE FROM upload_works WHERE upload_id='up-2'")  # current schema now: not filled again
    catalog = Catalog(path)
    assert catalog.decisions.uploads_matching("song") == ["up-1"]
    catalog.close()


SCHEMA4_REV = "0e8b648"  # the last revision of prescreen that wrote catalog schema 4


@pytest.fixture(scope="session")
def schema4_tree(tmp_path_factory):
    """The source tree of the release that wrote schema 4 (``git archive`` of this repository)."""
    from benchmarks.before_after import export_tree

    try:
        return export_tree(SCHEMA4_REV, tmp_path_factory.mktemp("schema4"))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"needs this repository's git history (revision {SCHEMA4_REV} wrote schema 4): {exc}")


def _schema4_catalog(tree: Path, catalog_target):
    """A schema-4 catalog at ``catalog_target`` (an SQLite path or a new database), written by that
    release's own code (tests/schema4_writer.py run against ``tree``)."""
    done = subprocess.run([sys.executable, str(Path(__file__).parent / "schema4_writer.py"), str(catalog_target)],
                          cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return catalog_target


def test_a_schema_4_catalog_is_migrated_its_audit_log_intact(catalog_target, schema4_tree):
    """A catalog the previous release wrote (its decisions stored as JSON documents only) opens as schema 5:
    every decision becomes typed rows (the document's figures), the audit log written before still verifies,
    a change made behind its back after the migration is found, and new writes go on the chain."""
    target = _schema4_catalog(schema4_tree, catalog_target)
    catalog, workflow = open_workflow(target)
    assert catalog.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert workflow.verify_audit()["problems"] == []
    up1 = catalog.decisions.stored("up-1")
    assert [(w.work_id, w.outcome, w.matched_seconds, w.rule, w.band) for w in up1.works] == [
        ("film", "block", 12.0, "r", "substantial"), ("song", "review", 3.0, "r", "substantial")]
    assert [(s.work_id, s.upload_start, s.upload_end, s.stream) for s in up1.segments] == [
        ("film", 0.333, 12.333, "video 0"), ("song", 0.333, 3.333, "video 0")]
    assert (up1.record.decision, up1.record.reasons, up1.record.duration) == ("block", ("because",), 20.0)
    assert up1.record.outcome == "review" and up1.record.outcome_by == "release"
    up2 = catalog.decisions.stored("up-2")
    assert up2.record.review_id is not None and up2.record.outcome == "allow"
    assert [r.record.upload_id for r in catalog.decisions.redecidable("song")] == ["up-1"]
    workflow.set_priority(NOW, "op", "song", True)  # the chain goes on
    catalog.decisions.set_work_outcomes("up-1", [{"work_id": "film", "outcome": "allow", "rule": "x", "band": "none"}])
    assert workflow.verify_audit()["problems"] == []
    catalog.close()
    raw_sql(target, "UPDATE upload_segments SET upload_start=0 WHERE upload_id='up-2'")
    catalog, workflow = open_workflow(target)
    assert "upload 'up-2': changed behind the log's back" in " ".join(workflow.verify_audit()["problems"])
    catalog.close()


def test_a_schema_4_migration_that_fails_changes_nothing(catalog_target, schema4_tree, monkeypatch):
    target = _schema4_catalog(schema4_tree, catalog_target)
    import storage.migrations

    calls = []

    def failing(*args):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the disk went away")
        return real(*args)

    real = storage.migrations.legacy_decision
    monkeypatch.setattr(storage.migrations, "legacy_decision", failing)
    with pytest.raises(Exception, match="the disk went away"):
        Catalog(target)
    monkeypatch.undo()
    if is_url(target):
        import psycopg
        with psycopg.connect(target) as db:
            assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "4"
            assert db.execute("SELECT to_regclass('upload_segments')").fetchone()[0] is None
    else:
        db = sqlite3.connect(target)
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "4"
        assert "duration" not in {r[1] for r in db.execute("PRAGMA table_info(uploads)")}
        assert db.execute("SELECT count(*) FROM upload_segments").fetchone()[0] == 0  # (made empty, outside)
        db.close()
    catalog, workflow = open_workflow(target)  # and the next open migrates it whole
    assert catalog.get_meta("schema_version") == str(SCHEMA_VERSION) and workflow.verify_audit()["problems"] == []
    assert len(catalog.decisions.stored("up-1").segments) == 2
    catalog.close()


def test_a_database_without_a_catalog_is_not_made_one_unless_asked(postgres_url):
    """As a data folder without catalog.sqlite: opening an empty database without ``create`` is refused."""
    with pytest.raises(CatalogError, match="holds no prescreen catalog"):
        Catalog(postgres_url, create=False)
    Catalog(postgres_url, create=True).close()
    Catalog(postgres_url, create=False).close()


# -- the catalog URL ------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "postgresql://prescreen:pa%zzs3cret@/postgres?host=/nowhere",       # libpq quotes the bad token
    "postgresql://prescreen:s3cret@[::1/postgres",                      # libpq quotes the whole URL
    "postgresql://prescreen@/postgres?host=/nowhere&sslpassword=s3cret&bogus=1",
    "postgresql://prescreen@/postgres?password=s3cret&port=notaport",
])
def test_a_password_in_the_catalog_url_is_never_printed(url):
    """Neither in the URL as messages show it (redact) nor in the driver's own words about it."""
    pytest.importorskip("psycopg", reason=f"{SERVICE_MISSING} psycopg is not installed")
    assert "s3cret" not in redact(url)
    with pytest.raises(CatalogError) as raised:
        Catalog(url, timeout=1.0)
    assert "s3cret" not in str(raised.value) and "catalog" in str(raised.value)


def test_a_database_of_another_application_is_left_alone(postgres_url):
    """Tables of the same names without a prescreen schema version: refused, and nothing is added to them
    (no prescreen rows in their meta, no triggers on their audit table)."""
    raw_sql(postgres_url, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "INSERT INTO meta VALUES ('app', 'shop')", "CREATE TABLE audit (id SERIAL, what TEXT)")
    with pytest.raises(CatalogError, match="another application's") as raised:
        Catalog(postgres_url, create=True)
    assert "meta" in str(raised.value) and "audit" in str(raised.value)
    import psycopg
    with psycopg.connect(postgres_url) as db:
        assert db.execute("SELECT key FROM meta").fetchall() == [("app",)]
        assert db.execute("SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal").fetchone() == (0,)
        assert db.execute("SELECT to_regclass('works')").fetchone() == (None,)


def test_a_change_committed_by_another_program_during_a_seal_is_not_sealed_over(catalog_target):
    """A session outside prescreen (psql) takes no write lock of prescreen's: its change to a row group,
    committed while a prescreen transaction that touched the group is being sealed, must not end up in
    that seal's digest (it would then look legitimate), so it waits for the commit and verify finds it."""
    import threading

    _populated(catalog_target)
    catalog, workflow = open_workflow(catalog_target)
    take, tampering = catalog.backend.take_touched, []

    def take_then_tamper(digest):
        touched = take(digest)
        if touched[0] and not tampering:  # the moment between the seal's "before" and its digests
            tampering.append(threading.Thread(target=raw_sql, args=(
                catalog_target, "UPDATE refs SET path='/elsewhere.mp4' WHERE work_id='film'")))
            tampering[0].start()
            tampering[0].join(1.0)
        return touched

    catalog.backend.take_touched = take_then_tamper
    workflow.set_priority(NOW, "op", "film", True)
    tampering[0].join(10)
    assert catalog.references("film")[0].path == "/elsewhere.mp4"  # (the change landed, after the seal)
    assert any("work 'film': changed behind the log's back" in p for p in workflow.verify_audit()["problems"])
    catalog.close()


def _race_against(target, who, act):
    """Patch ``who`` (a method of one workflow's) so that, as soon as it has read, another workflow on its
    own connection runs ``act`` to its end (in a thread: while the first holds the write lock it waits).
    Returns the list the other's result or error lands in."""
    import threading

    other: list = []

    def run():
        catalog, workflow = open_workflow(target)
        try:
            other.append(act(workflow))
        except (WorkflowError, CatalogError) as exc:
            other.append(exc)
        finally:
            catalog.close()

    owner, name = who
    original = getattr(owner, name)

    def read_then_race(*args, **kwargs):
        value = original(*args, **kwargs)
        if not other and not getattr(read_then_race, "started", False):
            read_then_race.started = threading.Thread(target=run)
            read_then_race.started.start()
            read_then_race.started.join(1.0)
        return value

    setattr(owner, name, read_then_race)
    return other, lambda: read_then_race.started.join(20)


def _one_of_two_wins(target, who, mine, theirs, refused: str) -> dict:
    """Run ``mine`` while another workflow runs ``theirs`` (see _race_against): exactly one returns, the
    other is refused saying ``refused``. Returns the winner's result."""
    other, wait = _race_against(target, who, theirs)
    try:
        first = mine()
    except WorkflowError as exc:
        first = exc
    wait()
    outcomes = [first, *other]
    assert sum(isinstance(o, dict) for o in outcomes) == 1, outcomes
    assert any(isinstance(o, WorkflowError) and refused in str(o) for o in outcomes), outcomes
    return next(o for o in outcomes if isinstance(o, dict))


def test_two_reviewers_deciding_one_review_at_once_one_wins(catalog_target):
    _populated(catalog_target)
    catalog, workflow = open_workflow(catalog_target)
    review_id = workflow.open_review(NOW, "up-1")
    winner = _one_of_two_wins(catalog_target, (workflow, "review"),
                              lambda: workflow.decide_review(NOW, review_id, "rita", "block"),
                              lambda w: w.decide_review(NOW, review_id, "bob", "allow"), "already decided")
    assert len(workflow.audit_records(action="review-decision")) == 1
    assert catalog.upload("up-1")["outcome"] == winner["outcome"]
    assert workflow.verify_audit()["problems"] == []
    catalog.close()


def test_two_disputes_of_one_upload_at_once_one_is_filed(catalog_target):
    _populated(catalog_target)
    catalog, workflow = open_workflow(catalog_target)
    _one_of_two_wins(catalog_target, (workflow.rights, "pending_reviews_of"),
                     lambda: workflow.file_dispute(NOW, "up-1", "fair use", "erin"),
                     lambda w: w.file_dispute(NOW, "up-1", "my own film", "erin"), "already waiting for review")
    assert len(workflow.audit_records(action="dispute-filed")) == 1 and len(workflow.reviews()) == 1
    assert workflow.verify_audit()["problems"] == []
    catalog.close()


def test_digests_do_not_depend_on_the_databases_collation(postgres_url):
    """A catalog restored into a database of another collation (or read after a glibc/ICU upgrade) orders
    text differently ('B' < 'a' bytewise, 'a' < 'B' in English): the chain's digests must not move."""
    _populated(postgres_url)
    catalog, workflow = open_workflow(postgres_url)
    for uploader in ("B", "a"):
        workflow.license(NOW, "op", "film", uploader)
    assert workflow.verify_audit()["problems"] == []
    catalog.close()
    raw_sql(postgres_url, 'ALTER TABLE licenses ALTER COLUMN uploader_id TYPE TEXT COLLATE "en-x-icu"')
    catalog, workflow = open_workflow(postgres_url)
    assert workflow.verify_audit()["problems"] == []
    workflow.license(NOW, "op", "film", "c")  # and the next write is not refused
    catalog.close()


def test_a_server_that_never_answers_fails_after_the_configured_connect_timeout(tmp_path):
    """A host that accepts the connection and says nothing (down behind a proxy, a hung server): the
    wait is ``[catalog] connect_timeout_seconds``, not the lock timeout, and the message says so."""
    import socket

    from service import Prescreen
    from service.config import load_config

    pytest.importorskip("psycopg", reason=f"{SERVICE_MISSING} psycopg is not installed")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"postgresql://prescreen:s3cret@127.0.0.1:{silent.getsockname()[1]}/prescreen"
    (tmp_path / "c.toml").write_text(f'[catalog]\nurl = "{url}"\nconnect_timeout_seconds = 2\n'
                                     "[service]\nlock_timeout_seconds = 3600\n")
    try:
        with pytest.raises(CatalogError, match="timeout") as raised:
            Prescreen(tmp_path / "home", config=load_config(tmp_path / "c.toml"))
    finally:
        silent.close()
    assert "127.0.0.1" in str(raised.value) and "s3cret" not in str(raised.value)


@pytest.mark.parametrize("sabotage, found", [
    ("ALTER TABLE works DISABLE TRIGGER audit_touch", "audit_touch on works is disabled"),
    ("DROP TRIGGER audit_touch ON licenses", "audit_touch on licenses is missing"),
    ("CREATE OR REPLACE FUNCTION audit_touch_refs() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
     "audit_touch on refs is running another function"),
    ("ALTER TABLE audit DISABLE TRIGGER USER", "audit_no_update on audit is disabled"),
])
def test_audit_triggers_switched_off_stop_every_write(postgres_url, sabotage, found):
    """On PostgreSQL the tracking and append-only triggers live in the database: switched off by its owner,
    prescreen's own writes would go untracked. verify names the trigger and nothing is written until it
    is back."""
    _populated(postgres_url)
    raw_sql(postgres_url, sabotage)
    catalog, workflow = open_workflow(postgres_url)
    assert any(found in p for p in workflow.verify_audit()["problems"])
    with pytest.raises(CatalogError, match=found):
        workflow.set_priority(NOW, "op", "film", True)
    assert not catalog.get_work("film").priority
    catalog.close()


@pytest.mark.parametrize("change, found", [
    ("DELETE FROM audit_groups", "work 'film' (audit_groups) does not match its records (removed"),
    ("UPDATE audit_groups SET digest=NULL WHERE grp='work:film'", "work 'film' (audit_groups) does not match its "
                                                                  "records (edited"),
    ("INSERT INTO audit_groups VALUES ('work:ghost', NULL, 1, 'x')", "work 'ghost' (audit_groups) does not match "
                                                                     "its records (added"),
])
def test_the_recorded_digests_table_changed_behind_the_log(catalog_target, change, found):
    """audit_groups (what the next write checks a group against) changed by hand: verify says so (it said
    intact, while the next write of the group was refused as if the group itself had been changed)."""
    _populated(catalog_target)
    raw_sql(catalog_target, change)
    catalog, workflow = open_workflow(catalog_target)
    assert any(found in p for p in workflow.verify_audit()["problems"])
    catalog.close()
