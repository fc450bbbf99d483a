"""The keyed audit chain: every tampering with the log, its head or the rows it covers is found.

Reproductions from the issue: `audit --verify` said "intact" after the last
record, the last ten or all records were deleted, after a plain INSERT of an
unhashed record with id 0, after an edit whose chain was recomputed (plain
SHA-256, no key), and changes to `uploads` and `works` rows were outside the
chain.
"""

from __future__ import annotations

import json
from contextlib import ExitStack, contextmanager

import pytest
from conftest import RawConnection, copy_home, freeze_template, is_postgres
from typer.testing import CliRunner

import mediagen as mg
from cli import app
from policy import UploadContext
from service.engine import Prescreen
from workflow.audit import AUDIT_FIELDS, legacy_hash

runner = CliRunner()


@pytest.fixture(scope="module")
def template(tmp_path_factory, catalog_backend):
    """A catalog with two works, rule changes, an exclusion and three screened uploads (over 10 records),
    once per backend."""
    folder = tmp_path_factory.mktemp(f"audit-{catalog_backend.name}")
    home = catalog_backend.new_home(folder / "home")
    work = mg.write_media(mg.synth_work(seed=81, duration=12.0), folder / "work.mp4")
    other = mg.write_media(mg.synth_work(seed=82, duration=10.0), folder / "other.mp4")
    with Prescreen(home, create=True) as engine:
        engine.register([work], "w1", title="One", owner="Studio A")
        engine.register([other], "w2", title="Two", owner="Studio B")
        for action in ("track", "block", "review"):
            engine.set_rules("w1", [{"action": action}])
        for on in (True, False, True, False):
            engine.workflow.set_priority(engine.now(), "operator", "w1", on)
        engine.add_exclusion("w2", 0.0, 2.0, "public domain")
        for i, path in enumerate((work, other, work)):
            list(engine.screen([path], {str(path): UploadContext(upload_id=f"up-{i}", uploader_id="erin")}))
    return freeze_template(home)


@pytest.fixture()
def home(template, tmp_path):
    return copy_home(template, tmp_path / "home")


@contextmanager
def guards_lifted(db: RawConnection):
    """The database's owner lifts the audit log's append-only triggers and, on PostgreSQL, where they are
    the table's own, puts them back after (SQLite's are remade by every prescreen connection)."""
    if db.postgres:
        db.execute("ALTER TABLE audit DISABLE TRIGGER USER")
    else:
        db.execute("DROP TRIGGER IF EXISTS audit_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    yield db
    if db.postgres:
        db.execute("ALTER TABLE audit ENABLE TRIGGER USER")


def verify(home, *args, code=0) -> dict:
    r = runner.invoke(app, ["audit", "--verify", "--json", "--home", str(home), *args])
    assert r.exit_code == code, r.output
    return json.loads(r.output)


def tamper(home, *statements, drop_triggers=True, foreign_keys=True):
    """Run ``statements`` on the catalog as another program would, without the append-only guards (unless
    ``drop_triggers`` is false) and, with ``foreign_keys`` false, past the foreign keys (SQLite's pragma;
    on PostgreSQL a superuser's replica role, which fires no trigger)."""
    with RawConnection(home) as db, ExitStack() as lifted:
        if drop_triggers:
            lifted.enter_context(guards_lifted(db))
        if not foreign_keys:
            db.execute("SET session_replication_role = replica" if db.postgres else "PRAGMA foreign_keys=OFF")
        for sql in statements:
            for statement in filter(str.strip, sql.split(";")):
                db.execute(statement)


def _rechain_unkeyed(db) -> str:
    """Recompute every record's hash as a plain SHA-256 chain (what older versions wrote; no key
    needed); returns the last hash. The append-only guards must be lifted first."""
    prev = ""
    for rec in db.execute(f"SELECT audit_id, {', '.join(AUDIT_FIELDS)} FROM audit ORDER BY audit_id").fetchall():
        mac = legacy_hash(prev, dict(rec))
        db.execute("UPDATE audit SET prev_hash=?, hash=? WHERE audit_id=?", (prev, mac, rec["audit_id"]))
        prev = mac
    return prev


def problems(home) -> list[str]:
    return verify(home, code=1)["problems"]


def test_an_untouched_log_verifies_and_prints_its_head(home):
    check = verify(home)
    assert check["problems"] == [] and check["records"] > 10
    count, mac = check["head"].split(":")
    assert int(count) == check["records"] and len(mac) == 64
    r = runner.invoke(app, ["audit", "--verify", "--home", str(home)])
    assert r.exit_code == 0 and "intact" in r.output and check["head"] in r.output


@pytest.mark.parametrize("removed", ["last", "last ten", "all"])
def test_records_removed_from_the_end_are_found(home, removed):
    n = verify(home)["records"]
    keep = {"last": n - 1, "last ten": n - 10, "all": 0}[removed]
    tamper(home, f"DELETE FROM audit WHERE audit_id > (SELECT audit_id FROM audit ORDER BY audit_id "
                 f"LIMIT 1 OFFSET {keep - 1})" if keep else "DELETE FROM audit")
    assert any("the chain head counts" in p for p in problems(home))


def test_the_whole_log_and_its_head_removed_is_found(home):
    tamper(home, "DELETE FROM audit", "DELETE FROM meta WHERE key='audit_head'", "DELETE FROM audit_groups")
    assert any("audit log is empty" in p for p in problems(home))
    # and nothing is written on top of it as if the catalog were new
    with Prescreen(home, create=True) as engine:
        with pytest.raises(Exception, match="removed behind its back"):
            engine.set_rules("w1", [{"action": "block"}])


def test_a_record_removed_from_the_middle_is_found(home):
    tamper(home, "DELETE FROM audit WHERE audit_id = 5")
    found = problems(home)
    assert any("record 6: does not follow" in p for p in found)


def test_a_plain_insert_with_id_0_is_found(home):
    tamper(home, "INSERT INTO audit(audit_id, at, actor, action, evidence) "
                 "VALUES (0, '2026-01-01T00:00:00+00:00', 'mallory', 'decision', '{}')", drop_triggers=False)
    assert any("record 0: not written by prescreen" in p for p in problems(home))


def test_an_edit_with_the_chain_recomputed_without_the_key_is_found(home):
    """The attacker edits a record and recomputes every hash after it with plain SHA-256 (what
    the log used to be), head included as far as it can: without the key nothing verifies."""
    with RawConnection(home) as db, guards_lifted(db):
        db.execute("UPDATE audit SET actor='someone else' WHERE audit_id=3")
        prev = _rechain_unkeyed(db)
        head = json.loads(db.execute("SELECT value FROM meta WHERE key='audit_head'").fetchone()[0])
        head["last"] = prev
        db.execute("UPDATE meta SET value=? WHERE key='audit_head'", (json.dumps(head),))
    found = problems(home)
    assert any("record 3: content does not match its MAC" in p for p in found)
    assert any("head's seal does not match" in p for p in found)


@pytest.mark.parametrize("change, words", [
    ("UPDATE uploads SET outcome='allow', decision='allow' WHERE upload_id='up-0'", "changed behind"),
    ("UPDATE works SET rules='[]' WHERE work_id='w1'", "work 'w1': changed behind"),
    ("UPDATE works SET owner='Mallory' WHERE work_id='w2'", "work 'w2': changed behind"),
    ("DELETE FROM exclusions", "work 'w2': changed behind"),
    ("DELETE FROM refs WHERE work_id='w2'", "work 'w2': changed behind"),
    ("DELETE FROM works WHERE work_id='w1'", "work 'w1': changed behind"),
    ("DELETE FROM works WHERE work_id='w1'; DELETE FROM refs WHERE work_id='w1'", "work 'w1': deleted behind"),
    ("INSERT INTO works(work_id, created_at) VALUES ('w9', '2026-01-01')", "work 'w9': has no audit record"),
    ("INSERT INTO licenses VALUES ('w1', 'mallory', '2026-01-01')", "work 'w1': changed behind"),
    # review deadlines, fingerprints, strikes and disputes are covered too (found by a review of the change)
    ("UPDATE reviews SET due_at='2000-01-01T00:00:00+00:00'", "changed behind"),
    ("UPDATE fingerprints SET codes=substr(codes, 2) WHERE ref_id=1", "work 'w1': changed behind"),
    ("DELETE FROM uploads WHERE upload_id='up-2'", "upload 'up-2': changed behind"),  # (its review stays)
])
def test_rows_changed_behind_the_logs_back_are_found(home, change, words):
    tamper(home, change, drop_triggers=False, foreign_keys=False)
    assert any(words in p for p in problems(home)), problems(home)


def test_a_head_kept_elsewhere_catches_a_log_rewritten_with_the_key(home):
    kept = verify(home)["head"]
    with Prescreen(home, create=True) as engine:  # the log grows after the head was kept: still fine
        engine.set_rules("w2", [{"action": "track"}])
    assert verify(home, "--head", kept)["problems"] == []
    # someone with the key rebuilds a shorter log from scratch: it verifies on its own, not against the head
    tamper(home, "DELETE FROM audit", "DELETE FROM meta WHERE key='audit_head'", "DELETE FROM uploads",
           "DELETE FROM works", "DELETE FROM exclusions", "DELETE FROM licenses", "DELETE FROM refs",
           "DELETE FROM reviews", "DELETE FROM audit_groups", "DELETE FROM upload_works", "DELETE FROM upload_segments")
    with Prescreen(home, create=True) as engine:
        engine.register([mg.write_media(mg.synth_work(seed=84, duration=8.0), home.parent / "w.mp4")], "w4",
                        owner="Mallory")
    assert verify(home)["problems"] == []
    found = verify(home, "--head", kept, code=1)["problems"]
    assert any("truncated" in p for p in found)
    r = runner.invoke(app, ["audit", "--verify", "--head", "12:nothex", "--home", str(home)])
    assert r.exit_code == 2 and "not an audit head" in r.output


def test_without_the_key_nothing_is_written_and_verify_says_why(home):
    (home / "audit.key").unlink()
    found = problems(home)
    assert any("audit key is missing" in p for p in found)
    with Prescreen(home, create=True) as engine:
        with pytest.raises(Exception, match="audit key is missing"):
            engine.set_rules("w1", [{"action": "block"}])
        assert engine.catalog.get_work("w1").rules != [{"action": "block"}]  # rolled back with its record


def test_another_key_does_not_verify_and_a_key_from_the_environment_is_used(home, monkeypatch):
    monkeypatch.setenv("PRESCREEN_AUDIT_KEY", "k" * 40)
    assert any("content does not match its MAC" in p for p in problems(home))
    fresh = home.parent / "fresh"
    with Prescreen(fresh, create=True) as engine:
        engine.register([mg.write_media(mg.synth_work(seed=83, duration=8.0), home.parent / "w.mp4")], "w3",
                        owner="Studio C")
    assert not (fresh / "audit.key").exists()  # the environment's key, no file
    assert verify(fresh)["problems"] == []
    monkeypatch.setenv("PRESCREEN_AUDIT_KEY", "short")
    r = runner.invoke(app, ["audit", "--verify", "--home", str(fresh)])
    assert r.exit_code == 1 and "at least 32" in r.output


def test_a_removal_and_its_audit_record_are_one_commit(home):
    with Prescreen(home, create=True) as engine:
        engine.remove_work("w2")
    actions = [r["action"] for r in Prescreen(home, create=True).workflow.audit_records(work_id="w2")]
    assert "remove-work" in actions
    assert verify(home)["problems"] == []


def test_a_log_of_an_older_version_is_keyed_from_its_state_at_the_first_write(home):
    """An older prescreen chained records with plain SHA-256 and kept no head: the first write of
    this version checks that chain, then appends an ``audit-keyed`` record holding the digests of
    every work and upload as they are, and the keyed chain goes on from there."""
    if is_postgres(home):
        pytest.skip("SQLite only: no older version wrote a PostgreSQL catalog")
    db = RawConnection(home)
    db.execute("DROP TRIGGER audit_no_update")
    _rechain_unkeyed(db)
    db.execute("UPDATE audit SET state=NULL")
    db.execute("DELETE FROM meta WHERE key='audit_head'")
    db.execute("DELETE FROM audit_groups")  # (older versions had none)
    db.close()
    unkeyed = verify(home, code=1)  # its unkeyed chain holds, but nothing covers the rows yet: said so
    assert [p for p in unkeyed["problems"]] == [next(p for p in unkeyed["problems"] if "the log is not keyed" in p)]
    before = unkeyed["records"]
    with Prescreen(home, create=True) as engine:
        engine.set_rules("w1", [{"action": "block"}])
        records = engine.workflow.audit_records()
    assert [r["action"] for r in records[before:]] == ["audit-keyed", "rule-change"]
    assert records[before]["evidence"]["unkeyed_problems"] == []
    assert verify(home)["problems"] == []
    tamper(home, "UPDATE works SET owner='Mallory' WHERE work_id='w2'", drop_triggers=False)
    assert any("work 'w2': changed behind" in p for p in problems(home))


def test_nulling_the_keyed_records_and_removing_the_head_is_found(home):
    """The records made to look as if an older version wrote them: their hashes are no SHA-256 chain."""
    tamper(home, "UPDATE audit SET state=NULL", "DELETE FROM meta WHERE key='audit_head'", "DELETE FROM audit_groups",
           "UPDATE uploads SET outcome='allow'")
    found = problems(home)
    assert any("content does not match its hash" in p for p in found)


def test_a_change_behind_the_logs_back_is_not_sealed_over_by_the_next_write(home):
    tamper(home, "UPDATE works SET rules='[{\"action\": \"allow\"}]' WHERE work_id='w1'", drop_triggers=False)
    with Prescreen(home) as engine:
        with pytest.raises(Exception, match="changed behind the audit log's back"):
            engine.workflow.set_priority(engine.now(), "operator", "w1", True)
    assert any("work 'w1': changed behind" in p for p in problems(home))  # still there: nothing was sealed


def test_a_truncated_log_with_its_head_rewound_is_found_and_refuses_writes(home):
    with RawConnection(home) as db, guards_lifted(db):
        last, prev = db.execute("SELECT audit_id, prev_hash FROM audit ORDER BY audit_id DESC LIMIT 1").fetchone()
        head = json.loads(db.execute("SELECT value FROM meta WHERE key='audit_head'").fetchone()[0])
        head.update(records=head["records"] - 1, last=prev, last_id=last - 1)  # the seal cannot be redone
        db.execute("DELETE FROM audit WHERE audit_id=?", (last,))
        db.execute("UPDATE meta SET value=? WHERE key='audit_head'", (json.dumps(head),))
    assert any("seal does not match" in p for p in problems(home))
    with Prescreen(home) as engine:
        with pytest.raises(Exception, match="head does not match"):
            engine.workflow.set_priority(engine.now(), "operator", "w1", True)
