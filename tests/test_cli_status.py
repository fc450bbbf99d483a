"""What the front end says: an upload's status and history, version and help, usage errors."""

from __future__ import annotations

import json

import pytest
from conftest import copy_home
from typer.testing import CliRunner

from cli import app
from mediagen import transforms as tf

runner = CliRunner()


def cli(home, *args, code=0):
    r = runner.invoke(app, [*map(str, args), "--home", str(home)], env={"COLUMNS": "200"})
    assert r.exit_code == code, r.output
    return r


@pytest.fixture(scope="module")
def screened(registered_home, corpus, tmp_path_factory):
    """A home where a full copy (block) and a short quote (review) were screened with an uploader."""
    home = tmp_path_factory.mktemp("status") / "home"
    copy_home(registered_home, home)
    copy = corpus.write("status_copy.mp4", corpus.film, video_bitrate=300_000)
    quote = corpus.write("status_quote.mp4", tf.embed(tf.excerpt(corpus.film, 3, 9), tf.excerpt(corpus.other, 20, 40),
                                                     at=2))
    manifest = home / "m.csv"
    manifest.write_text(f"path,upload_id,uploader_id\n{copy},s-copy,erin\n{quote},s-quote,erin\n")
    cli(home, "screen", "--manifest", manifest)
    return home, copy


def test_uploads_list_shows_the_current_outcomes_newest_first(screened):
    home, _ = screened
    # (the session's registered home may hold other tests' uploads, without this uploader)
    rows = [json.loads(x) for x in cli(home, "uploads", "list", "--uploader", "erin", "--json").output.splitlines()]
    assert [(r["upload_id"], r["outcome"]) for r in rows] == [("s-quote", "review"), ("s-copy", "block")]
    only = [json.loads(x)["upload_id"] for x in cli(home, "uploads", "list", "--outcome", "block", "--uploader",
                                                    "erin", "--json").output.splitlines()]
    assert only == ["s-copy"]
    assert len(cli(home, "uploads", "list", "--limit", "1", "--json").output.splitlines()) == 1
    table = cli(home, "uploads", "list").output
    assert "s-copy" in table and "block" in table and "{" not in table
    assert "'blok' is not one of" in cli(home, "uploads", "list", "--outcome", "blok", code=2).output


def test_uploads_show_by_id_or_path_has_outcome_evidence_and_history(screened):
    home, copy = screened
    by_id = json.loads(cli(home, "uploads", "show", "s-copy", "--json").output)
    by_path = json.loads(cli(home, "uploads", "show", copy, "--json").output)
    assert by_id["upload_id"] == by_path["upload_id"] == "s-copy"
    assert by_id["outcome"] == "block" and by_id["outcome_by"] == "system"
    seg = by_id["matches"][0]["segments"][0]
    assert by_id["matches"][0]["work_id"] == "film" and seg["upload_end"] - seg["upload_start"] > 20
    assert [a["action"] for a in by_id["audit"]] == ["decision"]
    quote = json.loads(cli(home, "uploads", "show", "s-quote", "--json").output)
    assert [r["status"] for r in quote["reviews"]] == ["pending"]
    text = cli(home, "uploads", "show", "s-quote").output
    assert "review" in text and "matched seconds" in text and "history" in text
    assert "no upload with id or path 'nope'" in cli(home, "uploads", "show", "nope", code=1).output


def test_version_and_short_help(screened):
    from importlib.metadata import version

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"prescreen {version('prescreen')}"
    for args in (["-h"], ["works", "-h"], ["review", "decide", "-h"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0 and "Usage:" in r.output


def test_a_misspelt_review_outcome_is_a_usage_error(screened):
    home, _ = screened
    review = json.loads(cli(home, "uploads", "show", "s-quote", "--json").output)["reviews"][0]["review_id"]
    r = cli(home, "review", "decide", review, "--outcome", "alow", "--reviewer", "rita", code=2)
    assert "'alow' is not one of" in r.output
    # a valid outcome of the other kind of review is the review's refusal, not a usage error
    assert "decided as one of" in cli(home, "review", "decide", review, "--outcome", "upheld", "--reviewer", "rita",
                                      code=1).output
