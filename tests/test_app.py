"""The application layer (service/app.py): the use cases every front end calls, their typed records,
the one error hierarchy, the clock passed in, and the refusal to screen against no catalog."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import copy_home

from mediagen import transforms as tf
from policy import UploadContext
from service.app import App, AuditRecord, QueueEntry, Removal, UploadStatus, WorkDetails
from service.errors import Conflict, Forbidden, InvalidInput, NotFound, PrescreenError, Unavailable

START = datetime(2031, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def home(registered_home, tmp_path) -> Path:
    dst = tmp_path / "home"
    return copy_home(registered_home, dst)


def _screen(app: App, path: Path, upload_id: str, uploader: str | None = "uma"):
    [result] = list(app.screen([(str(path), path, UploadContext(upload_id, uploader, None))]))
    return result


def test_open_refuses_a_folder_without_a_catalog_and_creates_nothing(tmp_path):
    missing = tmp_path / "typo"
    with pytest.raises(InvalidInput) as info:
        App.open(missing)
    assert info.value.exit_code == 2 and info.value.http_status == 422 and info.value.code == "invalid_input"
    assert "does not exist" in str(info.value) and not missing.exists()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InvalidInput, match="is a file"):
        App.open(tmp_path / "a-file")


def test_a_catalog_that_is_not_sqlite_is_unavailable_not_a_traceback(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(Unavailable) as info:
        App.open(home)
    assert info.value.http_status == 503 and info.value.exit_code == 1
    assert info.value.as_dict()["error"]["code"] == "unavailable"


def test_screening_and_status_are_typed_records_on_the_given_clock(home, corpus):
    clock = Clock(START)
    with App.open(home, clock=clock) as app:
        result = _screen(app, corpus.film_path, "up-1")
        assert result.status == "ok" and result.decision.outcome == "block"
        status = app.upload("up-1")
        assert isinstance(status, UploadStatus)
        assert status.outcome == "block" and status.uploader_id == "uma"
        assert status.screened_at.startswith("2031-03-04T05:06:07")
        assert [m["work_id"] for m in status.matches] == ["film"]
        assert all(isinstance(a, dict) and a["at"].startswith("2031-03-04") for a in status.audit)
        assert app.upload(str(corpus.film_path)).upload_id == "up-1"  # by path: the latest screening of the file
        assert [r.upload_id for r in app.uploads(outcome="block")] == ["up-1"]
        records = app.audit_log(upload_id="up-1")
        assert records and all(isinstance(r, AuditRecord) for r in records)
        assert records[0].as_dict()["evidence"] == records[0].evidence
        assert app.verify_audit().problems == []


def test_each_kind_of_failure_is_its_own_error_class(home, corpus):
    with App.open(home, clock=Clock(START)) as app:
        for call in (lambda: app.work("no-such-work"), lambda: app.upload("no-such-upload"),
                     lambda: app.decide_review(999, "rita", "allow"),
                     lambda: app.exclude("film", 1, 2, "clip", ref_id=999),
                     lambda: app.set_rules("no-such-work", []),
                     lambda: app.remove_work("no-such-work")):
            with pytest.raises(NotFound) as info:
                call()
            assert info.value.http_status == 404 and info.value.exit_code == 1
        with pytest.raises(InvalidInput, match="reaches past its end"):
            app.exclude("film", 10, 999, "too long")  # the film is 30 s
        with pytest.raises(InvalidInput):
            app.verify_audit("not-a-head")
        with pytest.raises(Conflict):  # another owner's work id
            app.register([corpus.song_path], "film", owner="Someone Else")
        _screen(app, corpus.film_path, "up-2", uploader="uma")
        with pytest.raises(Forbidden) as info:
            app.dispute("up-2", "my own recording", uploader_id="mallory")
        assert info.value.http_status == 403
        filed = app.dispute("up-2", "quotation for criticism", uploader_id="uma")
        decided = app.decide_review(filed.review_id, "rita", "released", "a fair quotation")
        assert decided.status == "decided" and decided.reviewer == "rita"
        with pytest.raises(Conflict, match="already decided"):
            app.decide_review(filed.review_id, "rita", "upheld")
        assert app.upload("up-2").outcome == "allow"
        assert all(isinstance(e, PrescreenError) for e in (NotFound("x"), Unavailable("x")))


def test_registration_failures_carry_each_file(home, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 500)
    with App.open(home) as app, pytest.raises(InvalidInput) as info:
        app.register([bad], "broken-work", owner="Someone")
    assert str(bad) in info.value.details["failures"]
    assert info.value.as_dict()["error"]["failures"] == info.value.details["failures"]


def test_rules_exclusions_and_removal_re_decide_earlier_uploads_from_the_app(home, corpus):
    clock = Clock(START)
    copy = corpus.write("film_copy.mp4", tf.scale(corpus.film, 0.5))  # re-encoded: found by its fingerprints
    with App.open(home, clock=clock) as app:
        _screen(app, copy, "up-3")
        clock.now += timedelta(hours=1)
        change = app.set_rules("film", [{"action": "track"}])
        assert [(r.upload_id, r.from_outcome, r.to_outcome) for r in change.released] == [("up-3", "block", "track")]
        assert change.as_dict()["released"] == [{"upload_id": "up-3", "from": "block", "to": "track"}]
        details = app.work("film")
        assert isinstance(details, WorkDetails) and details.rules and details.references
        app.set_rules("film", [])
        excl = app.exclude("film", 0, 30, "licensed in full")
        assert excl.exclusion_id and [r.upload_id for r in excl.released] == ["up-3"]
        assert app.work("film").exclusions[0]["exclusion_id"] == excl.exclusion_id
        removed = app.unexclude("film", excl.exclusion_id, "licence ended")
        assert (removed.start, removed.end) == (0, 30)
        _screen(app, copy, "up-4", uploader="ulla")
        queue = app.reviews(pending_only=False)
        assert all(isinstance(q, QueueEntry) for q in queue)
        gone = app.remove_work("film")
        assert isinstance(gone, Removal) and gone.removed_refs
        assert "up-4" in [r.upload_id for r in gone.released]
        assert app.upload("up-4").outcome == "allow"
        assert "film" not in [w.work_id for w in app.works()]
