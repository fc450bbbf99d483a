"""Integrity cases of issue 10, each reproduced: concurrent claims, notice limits through
refingerprinting, what a removal takes with it, exclusions, disputes, registration and its index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_home, is_postgres, raw_rows
from typer.testing import CliRunner

import mediagen as mg
from cli import app
from mediagen import transforms as tf
from policy import UploadContext
from service.engine import Prescreen, RegisterError

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def cli(home, *args, code=0):
    r = runner.invoke(app, [*map(str, args), "--home", str(home)])
    assert r.exit_code == code, r.output
    return r


@pytest.fixture()
def home(registered_home, tmp_path):
    dst = tmp_path / "home"
    return copy_home(registered_home, dst)


def test_rows_orphaned_behind_the_foreign_keys_are_reported_on_both_backends(home):
    with Prescreen(home) as engine:
        assert engine.catalog.integrity_problems() == []
    (refs,), = raw_rows(home, "SELECT COUNT(*) FROM refs WHERE work_id = 'film'")
    assert refs
    # another program deletes a work past the constraints: SQLite enforces them only on connections that
    # ask (sqlite3's do not); PostgreSQL's are lifted by dropping one (or a restore with triggers off)
    if is_postgres(home):
        raw_rows(home, "ALTER TABLE refs DROP CONSTRAINT refs_work_id_fkey")
    raw_rows(home, "DELETE FROM works WHERE work_id = 'film'")
    with Prescreen(home) as engine:
        assert engine.catalog.integrity_problems() == ["foreign key violation in refs"] * refs


def _screen(engine, path, upload_id, uploader="erin"):
    result, = engine.screen([path], {str(path): UploadContext(upload_id=upload_id, uploader_id=uploader)})
    return result


# --------------------------------------------------------------------------- concurrent registration

def _race_registrations(tmp_path, corpus, second: str, homes: tuple, env: dict | None = None) -> None:
    """Two owners register the film (``second``: the same file or a re-encode of it) at the same moment,
    in two processes with data folders ``homes``: exactly one wins, the other is refused for the
    existing work."""
    first = corpus.film_path
    other = first if second == "same file" else corpus.write("film_reencoded.mp4", corpus.film, video_bitrate=250_000)
    go = tmp_path / "go"
    code = ("import sys, time, pathlib\n"
            "go = pathlib.Path(sys.argv[1])\n"
            "while not go.exists(): time.sleep(0.005)\n"
            "from cli import main\n"
            "sys.argv = ['prescreen', *sys.argv[2:]]\n"
            "main()\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(go), "register", str(path), "--work-id", work,
                               "--owner", owner, "--home", str(home), "--json"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for path, work, owner, home in ((first, "a", "Owner A", homes[0]), (other, "b", "Owner B", homes[1]))]
    go.touch()
    outs = [p.communicate(timeout=600) for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 1], outs
    loser = json.loads(outs[codes.index(1)][0].splitlines()[-1])
    words = "exact file is already registered" if second == "same file" else "ownership conflict"
    assert any(words in why for why in loser["failures"].values()), loser


@pytest.mark.parametrize("second", ["same file", "re-encode"])
def test_two_owners_registering_the_same_content_at_once_one_wins(tmp_path, corpus, second):
    """Before, both succeeded (2 of 3 trials): the exact-file and ownership checks ran outside the lock."""
    home = tmp_path / "home"
    with Prescreen(home, create=True):
        pass  # the catalog exists before the race
    _race_registrations(tmp_path, corpus, second, (home, home))
    with Prescreen(home, create=True) as engine:
        assert len(engine.catalog.works()) == 1
        assert engine.workflow.verify_audit()["problems"] == []


@pytest.mark.parametrize("second", ["same file", "re-encode"])
def test_two_machines_registering_the_same_content_on_postgresql_one_wins(tmp_path, corpus, postgres_url, second,
                                                                         monkeypatch):
    """On a shared PostgreSQL catalog the lock is the database's: two data folders (two machines, no
    common file lock) registering the same content at once give one work and one refusal."""
    monkeypatch.setenv("PRESCREEN_AUDIT_KEY", "k" * 40)  # (one key for every machine)
    env = {**os.environ, "PRESCREEN_CATALOG": postgres_url}
    _race_registrations(tmp_path, corpus, second, (tmp_path / "m1", tmp_path / "m2"), env)
    with Prescreen(tmp_path / "m3", create=True, catalog=postgres_url) as engine:  # a third machine sees it
        assert len(engine.catalog.works()) == 1
        assert engine.workflow.verify_audit()["problems"] == []


def test_a_retried_conflicting_registration_is_one_conflict(home, corpus):
    """Before, each failed retry recorded another ownership conflict."""
    copy = corpus.write("film_claimed.mp4", corpus.film, video_bitrate=250_000)
    with Prescreen(home, create=True) as engine:
        for _ in range(3):
            with pytest.raises(RegisterError) as refused:
                engine.register([copy], "mine", owner="Mallory")
            assert "ownership conflict #1" in refused.value.failures[str(copy)]
        assert len(engine.workflow.conflicts()) == 1


# --------------------------------------------------------------------------- notices and refingerprinting

def test_a_takedowns_limits_are_kept_when_the_references_are_refingerprinted(home, corpus):
    """Before, `index rebuild --refingerprint` dropped --only and --start/--end: the whole noticed file
    joined the work and unrelated uploads became block."""
    noticed = corpus.write("noticed_mix.mp4", tf.concat(tf.excerpt(corpus.film, 0, 10), tf.excerpt(corpus.other, 0, 20)))
    with Prescreen(home, create=True) as engine:
        res = engine.notice("film", str(noticed), span=(0.0, 10.0), modalities=("video",))
        ref = next(r for r in engine.catalog.references("film") if r.ref_id == res["ref_id"])
        assert ref.span == (0.0, 10.0) and ref.modalities == ("video",)

        def stored():
            return {sig: fp for sig in ("video", "audio", "landmark")
                    for ref_id, fp in engine.catalog.fingerprints(sig, [ref.ref_id])}

        before = stored()
        engine.rebuild_index(refingerprint=True)
        after = stored()
    assert set(after) == set(before) == {"video"}  # still only the picture
    assert after["video"].ends.min() > 0 and after["video"].starts.max() < 10.0
    assert len(after["video"]) == len(before["video"])
    # the other material of the noticed file (never the work's) is still nobody's
    unrelated = corpus.write("other_alone.mp4", tf.excerpt(corpus.other, 0, 20))
    with Prescreen(home, create=True) as engine:
        assert _screen(engine, unrelated, "u-other").decision.outcome == "allow"


def test_a_lifted_takedown_left_half_done_by_a_killed_process_is_completed_by_the_next_command(home, corpus):
    """A dispute released by its deadline lifts the notice in one transaction; withdrawing the noticed
    reference is the application layer's next one. A process killed between the two (here: the workflow
    alone, as such a process leaves it) leaves a lifted notice with its reference still there: the
    next command that reads the catalog withdraws it and releases what it blocked, audited."""
    from datetime import timedelta

    variant = tf.replace_audio(tf.reverse(corpus.film), tf.excerpt(corpus.other, 0, 30))  # slips through alone
    first = corpus.write("film_rev_a.mp4", variant)
    with Prescreen(home) as engine:
        line = _screen(engine, first, "n-1", uploader="oli")
        assert line.decision.outcome != "block"
        res = engine.notice("film", "n-1", modalities=("video",))
        reupload = _screen(engine, corpus.write("film_rev_b.mp4", variant, video_bitrate=250_000), "n-2")
        assert reupload.decision.outcome == "block"
        filed = engine.workflow.file_dispute(engine.now(), "n-1", "my own footage", "oli")
        later = engine.now() + timedelta(days=30)
        expired = {r["review_id"]: r["kind"] for r in engine.workflow.expire_due(later)}
        # released by the deadline (the session's home may hold other tests' reviews, due by then too)
        assert expired[filed["review_id"]] == "dispute"
        assert [r["ref_id"] for r in engine.catalog.rights.lifted_notice_references()] == [res["ref_id"]]
    with Prescreen(home, clock=lambda: later) as engine:
        assert engine.upload_status("n-2")["outcome"] != "block"  # (any command: this one reads an upload)
        assert engine.catalog.rights.lifted_notice_references() == []
        assert [r.kind for r in engine.catalog.references("film")] == ["original"]
        [withdrawn] = engine.workflow.audit_records(work_id="film", action="notice-reference-withdrawn")
        assert withdrawn["evidence"]["ref_id"] == res["ref_id"]
        assert engine.withdraw_lifted_stay_downs() == []  # nothing left to do
        assert engine.workflow.verify_audit()["problems"] == []


# --------------------------------------------------------------------------- removal

def test_removing_a_work_releases_the_filters_decisions_and_withdraws_its_reviews(home, corpus):
    """Before, `works remove` left its pending reviews in the queue and its blocks in force."""
    full = corpus.write("film2_full.mp4", corpus.film2, video_bitrate=300_000)
    quote = corpus.write("film2_quote.mp4", tf.embed(tf.excerpt(corpus.film2, 4, 10), tf.excerpt(corpus.other, 0, 30), at=5))
    person = corpus.write("film2_full_b.mp4", tf.hflip(corpus.film2), video_bitrate=300_000)
    with Prescreen(home, create=True) as engine:
        assert _screen(engine, full, "r-full").decision.outcome == "block"
        assert _screen(engine, quote, "r-quote").decision.outcome == "review"
        assert _screen(engine, person, "r-person").decision.outcome == "block"
        disputed = engine.workflow.file_dispute(engine.now(), "r-full", "a licence", "erin")  # left pending
        filed = engine.workflow.file_dispute(engine.now(), "r-person", "mine", "erin")
        engine.workflow.decide_review(engine.now(), filed["review_id"], "rita", "upheld")  # a person's decision
        pending = {r["upload_id"] for r in engine.workflow.reviews()}
        assert "r-quote" in pending
        res = engine.remove_work("film2")
        assert {r["upload_id"]: r["to"] for r in res["released"]} == {"r-full": "allow", "r-quote": "allow"}
        # the dispute of the released block has nothing left to decide (the quote's review was closed by its
        # release already)
        assert engine.workflow.review(disputed["review_id"])["status"] == "withdrawn"  # by the release
        ours = {"r-full", "r-quote", "r-person"}  # (the session's home may hold other tests' reviews)
        assert not ours & {r["upload_id"] for r in engine.workflow.reviews()}
        assert "r-quote" not in {r["upload_id"] for r in engine.workflow.reviews()}
        assert engine.catalog.upload("r-person")["outcome"] == "block"  # upheld by a person: stays
        actions = [r["action"] for r in engine.workflow.audit_records(upload_id="r-quote")]
        assert actions[-2:] == ["outcome-change", "review-closed"]  # released, its review closed with it
        assert engine.workflow.verify_audit()["problems"] == []
    out = cli(home, "works", "remove", "film", "--json")
    assert json.loads(out.output)["status"] == "ok"
    assert "no work with id 'nope'" in cli(home, "works", "remove", "nope", code=1).output


# --------------------------------------------------------------------------- exclusions

def test_a_byte_identical_copy_is_decided_on_the_seconds_its_work_does_not_exclude(home, corpus):
    """Before, a byte-identical copy (found by its digest) was blocked whole even where the owner had
    excluded every second of the work: exclusions applied to fingerprint matches only."""
    with Prescreen(home) as engine:
        (ref,) = engine.catalog.references("song")
        first = _screen(engine, corpus.song_path, "same-1")
        assert first.decision.outcome == "block" and first.matches[0].method == "digest"
        engine.add_exclusion("song", 0.0, 30.0, "public domain")
        (match,) = _screen(engine, corpus.song_path, "same-2").matches
        assert match.method == "digest" and match.matched_seconds == pytest.approx(ref.duration - 30.0, abs=0.01)
        released = engine.add_exclusion("song", 30.0, ref.duration, "public domain too")
        assert {r["upload_id"]: r["to"] for r in released["released"]}.get("same-1") == "allow"
        whole = _screen(engine, corpus.song_path, "same-3")
        assert whole.matches == [] and whole.decision.outcome == "allow"
        assert engine.workflow.verify_audit()["problems"] == []



def test_exclusions_are_checked_listed_and_withdrawn(home):
    """Before, `works exclude W 10 999` on a 40 s work and `--ref 99` were accepted, and exclusions
    could not be removed."""
    assert "reaches past its end" in cli(home, "works", "exclude", "song", "10", "999", "--reason", "r", code=1).output
    assert "no reference 99" in cli(home, "works", "exclude", "song", "0", "5", "--reason", "r", "--ref", "99",
                                    code=1).output
    added = json.loads(cli(home, "works", "exclude", "song", "10", "20", "--reason", "licensed clip",
                           "--json").output)
    shown = json.loads(cli(home, "works", "show", "song", "--json").output)
    assert [(e["exclusion_id"], e["start"], e["end"]) for e in shown["exclusions"]] == [(added["exclusion_id"], 10, 20)]
    out = cli(home, "works", "unexclude", "song", str(added["exclusion_id"]), "--reason", "licence ended").output
    assert "withdrawn" in out
    assert json.loads(cli(home, "works", "show", "song", "--json").output)["exclusions"] == []
    assert "no exclusion #" in cli(home, "works", "unexclude", "song", str(added["exclusion_id"]), "--reason", "x",
                                   code=1).output
    actions = [json.loads(x)["action"] for x in cli(home, "audit", "--work", "song", "--json").output.splitlines()]
    # (adding it may release other tests' uploads in the session's home: records of their own)
    assert [a for a in actions if a.startswith("exclusion")][-2:] == ["exclusion-add", "exclusion-remove"]


# --------------------------------------------------------------------------- disputes

def test_only_the_uploader_of_record_can_dispute(home, corpus):
    """Before, anyone could dispute without --uploader, and an upload without an uploader could be disputed."""
    copy = corpus.write("film_for_dispute.mp4", corpus.film, video_bitrate=300_000)
    with Prescreen(home, create=True) as engine:
        assert _screen(engine, copy, "d-1", uploader="erin").decision.outcome == "block"
        assert _screen(engine, copy, "d-2", uploader=None).decision.outcome == "block"
    assert "Missing option '--uploader'" in cli(home, "dispute", "d-1", "--reason", "mine", code=2).output
    assert "only the uploader of record" in cli(home, "dispute", "d-1", "--reason", "mine", "--uploader", "mallory",
                                                code=1).output
    assert "no uploader of record" in cli(home, "dispute", "d-2", "--reason", "mine", "--uploader", "erin",
                                          code=1).output
    cli(home, "dispute", "d-1", "--reason", "mine", "--uploader", "erin")


# --------------------------------------------------------------------------- registration and the index

def test_an_index_that_cannot_be_written_registers_with_a_warning(home, corpus, monkeypatch):
    """Before, `register` failed after its catalog commit: it reported failure but the work existed.
    (The index folder made unwritable by making its save fail: root ignores folder permissions.)"""
    from index import store

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(store, "_atomic_write", refuse)
    new = corpus.write("new_work.mp4", mg.synth_work(seed=515, duration=12.0))
    r = cli(home, "register", new, "--work-id", "new", "--owner", "Studio N", "--json")
    out = json.loads(r.output)
    assert out["status"] == "ok" and out["ref_ids"]
    assert any("could not be written" in w and "rebuilt" in w for w in out["warnings"])
    with Prescreen(home, create=True) as engine:
        assert engine.catalog.get_work("new") is not None


def test_after_an_unwritten_index_the_next_command_searches_the_new_work(home, corpus, monkeypatch):
    from index import store

    media = mg.synth_work(seed=516, duration=12.0)
    new = corpus.write("new_work2.mp4", media)
    copy = corpus.write("new_work2_copy.mp4", media, video_bitrate=250_000)  # other bytes: found by the index
    real = store._atomic_write
    monkeypatch.setattr(store, "_atomic_write", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left")))
    with Prescreen(home, create=True) as engine:
        assert engine.register([new], "new2", owner="Studio N").warnings
    monkeypatch.setattr(store, "_atomic_write", real)
    with Prescreen(home, create=True) as engine:
        result = _screen(engine, copy, "n-1")
    assert result.decision.outcome == "block" and result.matches[0].work_id == "new2"
    assert np.isfinite(result.duration)


# --------------------------------------------------------------------------- explicit catalogs, the clock

def test_the_library_opens_only_an_existing_catalog_unless_asked_to_create_one(tmp_path):
    """Before, Prescreen(mistyped_path) made an empty catalog, and screening against it allowed everything."""
    from service import DataFolderError

    with pytest.raises(DataFolderError, match="does not exist"):
        Prescreen(tmp_path / "typo")
    assert not (tmp_path / "typo").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFolderError, match="has no prescreen catalog"):
        Prescreen(tmp_path / "empty")
    with Prescreen(tmp_path / "new", create=True):
        pass
    with Prescreen(tmp_path / "new") as engine:
        assert engine.catalog.works() == []


def test_the_clock_is_passed_in(home):
    from datetime import datetime, timezone

    then = datetime(2030, 5, 1, 12, tzinfo=timezone.utc)
    with Prescreen(home, clock=lambda: then) as engine:
        engine.set_rules("film", [{"action": "track"}])
        assert engine.workflow.audit_records(work_id="film")[-1]["at"] == "2030-05-01T12:00:00+00:00"


# --------------------------------------------------------------------------- text a catalog cannot store

@pytest.mark.parametrize("field", ["upload_id", "uploader_id", "declared_use"])
def test_a_nul_character_in_any_manifest_field_is_that_lines_error(tmp_path, field):
    """SQLite stored a NUL in an upload or uploader id; PostgreSQL cannot, and the batch stopped on a catalog
    error half-way. Every field is refused the way the path is: a clear error naming the line."""
    from service.manifest import ManifestError, read_manifest

    row = {"path": "/x.mp4", "upload_id": "up-1", "uploader_id": "erin", "declared_use": "parody"}
    row[field] = row[field][:2] + "\0" + row[field][2:]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"path": "/y.mp4", "upload_id": "fine"}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(ManifestError, match=f"line 2: the {field} contains a NUL character"):
        read_manifest(manifest)
