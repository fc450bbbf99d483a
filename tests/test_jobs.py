"""`prescreen screen --jobs N` (issue 11, item 4): a batch searched in worker processes is recorded by
one writer exactly as in one process — the same decisions, audit records and review items; a file
that kills its worker is that file's error and the batch goes on; a batch whose screening process
is killed resumes without duplicates and screens the rest."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import copy_home, freeze_template, raw_rows
from typer.testing import CliRunner

import mediagen as mg
from cli import app
from mediagen import bad
from mediagen import transforms as tf
from service import Prescreen, load_config
from service.app import App

ROOT = Path(__file__).resolve().parents[1]
NOW = {"PRESCREEN_NOW": "2026-06-01T12:00:00+00:00"}  # one clock for both runs: the records can be compared whole
runner = CliRunner()


@pytest.fixture(scope="module")
def batch(tmp_path_factory, corpus) -> Path:
    """A folder of uploads: a transformed copy of the film, an excerpt quoted inside other content (a
    review), unrelated content, a byte-identical reference file, a corrupt file, random bytes."""
    folder = tmp_path_factory.mktemp("jobs-batch")
    mg.write_media(tf.hflip(tf.excerpt(corpus.film, 3, 27)), folder / "a_flipped_copy.mp4")
    mg.write_media(tf.embed(tf.excerpt(corpus.film, 4, 10), tf.excerpt(corpus.other, 10, 30), at=7),
                   folder / "b_quote.mp4")
    mg.write_media(tf.excerpt(corpus.other, 0, 15), folder / "c_unrelated.mp4")
    bad.copy_file(corpus.film2_path, folder / "d_exact.mp4")
    bad.write_truncated(corpus.film_path, folder / "e_truncated.mp4", 0.3)
    bad.write_random_bytes(folder / "f_noise.mp4")
    mg.write_media(tf.excerpt(corpus.song, 5, 30), folder / "g_song.m4a")
    return folder


@pytest.fixture(scope="module")
def base(tmp_path_factory, corpus, catalog_backend) -> Path:
    home = catalog_backend.new_home(tmp_path_factory.mktemp(f"jobs-{catalog_backend.name}") / "home")
    with Prescreen(home, create=True) as engine:
        engine.register([corpus.film_path], "film", title="The Film", owner="Studio A")
        engine.register([corpus.film2_path], "film2", title="Second Film", owner="Studio B")
        engine.register([corpus.song_path], "song", title="The Song", owner="Label C")
    return freeze_template(home)


def _screen(home: Path, *args: str, code: int | None = None) -> list[dict]:
    result = runner.invoke(app, ["screen", *args, "--json", "-", "--home", str(home)], env=NOW)
    assert "Traceback" not in result.output, result.output
    if code is not None:
        assert result.exit_code == code, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def _records(home: Path) -> dict[str, list]:
    """Every row a screening writes, as stored (the clock is fixed, so nothing differs between runs
    but what is inherently per run: none of these columns)."""
    return {table: raw_rows(home, f"SELECT * FROM {table} ORDER BY 1")
            for table in ("uploads", "upload_works", "upload_segments", "audit", "audit_groups", "reviews",
                          "screen_claims")}


def _without_timings(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in line.items() if k != "timings"} for line in lines]


@pytest.mark.parametrize("use_manifest", [False, True])
def test_two_jobs_record_exactly_what_one_job_records(base, batch, tmp_path, use_manifest):
    args = [str(batch)]
    if use_manifest:
        manifest = tmp_path / "batch.csv"
        files = sorted(batch.iterdir())
        manifest.write_text("path,upload_id,uploader_id,declared_use\n" + "".join(
            f"{f},up-{i},erin,{'quotation' if i % 2 else ''}\n" for i, f in enumerate(files)))
        args = ["--manifest", str(manifest)]
    one, two = copy_home(base, tmp_path / "one"), copy_home(base, tmp_path / "two")
    lines1 = _screen(one, *args, "--jobs", "1", code=1)
    lines2 = _screen(two, *args, "--jobs", "2", code=1)
    assert _without_timings(lines1) == _without_timings(lines2)
    decisions = {Path(x["upload"]).name: x["decision"] or x["error_code"] for x in lines2}
    assert decisions == {"a_flipped_copy.mp4": "block", "b_quote.mp4": "review", "c_unrelated.mp4": "allow",
                         "d_exact.mp4": "block", "e_truncated.mp4": "media", "f_noise.mp4": "media",
                         "g_song.m4a": "block"}, decisions
    r1, r2 = _records(one), _records(two)
    assert r1 == r2
    assert len(r2["uploads"]) == 7 and len(r2["reviews"]) == 1 and r2["screen_claims"] == []
    for home in (one, two):
        check = runner.invoke(app, ["audit", "--verify", "--home", str(home)])
        assert check.exit_code == 0, check.output
    # run again: every upload id resumes from its stored result, whatever the jobs (folders: screened again)
    again1, again2 = _screen(one, *args, "--jobs", "2", code=1), _screen(two, *args, "--jobs", "1", code=1)
    assert _without_timings(again1) == _without_timings(again2)
    assert all(x["already_screened_at"] for x in again2 if x["status"] == "ok") == use_manifest
    assert _records(one) == _records(two)


def test_a_file_that_kills_its_worker_is_that_files_error_and_the_batch_goes_on(base, corpus, tmp_path):
    """The worker searching the first file is killed (as the OOM killer or a crash inside FFmpeg would):
    that file is recorded as unfinished, the others are screened by the other worker and a new one."""
    home = copy_home(base, tmp_path / "home")
    folder = tmp_path / "uploads"
    folder.mkdir()
    mg.write_media(tf.excerpt(corpus.other, 0, 60), folder / "a_long.mp4")
    for i in range(4):
        mg.write_media(tf.excerpt(corpus.film, 2 * i, 2 * i + 12), folder / f"b_copy{i}.mp4")
    killed = []

    def kill_first_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for proc in multiprocessing.active_children():
                if proc.name == "prescreen-worker-0":
                    time.sleep(0.5)
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.append(proc.pid)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_first_worker, daemon=True)
    killer.start()
    with App.open(home) as app_:
        results = list(app_.screen(app_.upload_items([str(folder)]), jobs=2))
    killer.join()
    assert killed
    first, *rest = results
    assert [Path(r.upload).name for r in results] == ["a_long.mp4"] + [f"b_copy{i}.mp4" for i in range(4)]
    assert first.status == "error" and first.error_code == "unfinished", first
    assert first.error.startswith("the worker process screening this file died (signal 9 (SIGKILL)")
    assert all(r.status == "ok" and r.decision.outcome == "block" for r in rest), rest
    assert raw_rows(home, "SELECT COUNT(*) FROM uploads") == [(5,)]
    assert raw_rows(home, "SELECT COUNT(*) FROM screen_claims") == [(0,)]
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("prescreen-worker")]
    # like a file whose process died, it is screened again only when asked
    with App.open(home) as app_:
        [again] = list(app_.screen([(str(folder / "a_long.mp4"), None, None)], jobs=2))
        assert again.error_code == "unfinished" and again.already_screened_at
        [retried] = list(app_.screen([(str(folder / "a_long.mp4"), None, None)], retry_unfinished=True, jobs=2))
        assert retried.status == "ok" and retried.decision.outcome == "allow"


def test_a_killed_batch_of_two_jobs_resumes_without_duplicates(base, corpus, tmp_path):
    """kill -9 of the screening process of a --jobs 2 batch: what was recorded stays (with its audit
    record and review item), the files it had claimed were not their fault, and the rerun skips the
    recorded rows and screens every other one, each once."""
    home = copy_home(base, tmp_path / "home")
    folder = tmp_path / "batch"
    folder.mkdir()
    rows = []
    for i in range(10):
        clip = tf.embed(tf.excerpt(corpus.film, 2 * i, 2 * i + 6), tf.excerpt(corpus.other, 4 * i, 4 * i + 20), at=7)
        mg.write_media(clip, folder / f"clip{i}.mp4")
        rows.append(json.dumps({"path": str(folder / f"clip{i}.mp4"), "upload_id": f"k{i}", "uploader_id": "kim"}))
    manifest = folder / "batch.jsonl"
    manifest.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "screen", "--manifest", str(manifest), "--json", str(out),
                             "--quiet", "--jobs", "2", "--home", str(home)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 300
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 3):
        assert proc.poll() is None, "the batch ended before it was killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = [json.loads(x) for x in out.read_text().splitlines() if x.endswith("}")]
    stored = {r[0] for r in raw_rows(home, "SELECT upload_id FROM uploads")}
    assert 3 <= len(written) and len(stored) < 10, "the kill came after the batch finished: nothing was tested"
    assert {w["upload_id"] for w in written} <= stored
    assert stored == {r[0] for r in raw_rows(home, "SELECT upload_id FROM audit WHERE action='decision'")}
    assert stored == {r[0] for r in raw_rows(home, "SELECT upload_id FROM reviews")}
    claims = raw_rows(home, "SELECT upload_id, command FROM screen_claims")
    assert 1 <= len(claims) <= 4 and all(command.startswith("[jobs] ") for _, command in claims), claims
    assert not {c for c, _ in claims} & stored
    with Prescreen(home) as engine:
        assert engine.catalog.integrity_problems() == []
    time.sleep(1)  # (its workers see it gone and leave)

    lines = _screen(home, "--manifest", str(manifest), "--jobs", "2", code=0)
    assert sorted(x["upload_id"] for x in lines) == sorted(f"k{i}" for i in range(10))
    assert {x["upload_id"] for x in lines if x["already_screened_at"]} == stored
    assert all(x["status"] == "ok" and x["decision"] == "review" for x in lines), lines
    assert raw_rows(home, "SELECT COUNT(*) FROM uploads") == [(10,)]
    assert raw_rows(home, "SELECT COUNT(*) FROM reviews") == [(10,)]
    assert raw_rows(home, "SELECT COUNT(*) FROM audit WHERE action='decision'") == [(10,)]
    assert raw_rows(home, "SELECT COUNT(*) FROM screen_claims") == [(0,)]
    assert runner.invoke(app, ["audit", "--verify", "--home", str(home)]).exit_code == 0


def test_jobs_come_from_the_config_with_a_range_check(tmp_path):
    assert load_config(None).service.jobs == 0  # one per core
    path = tmp_path / "config.toml"
    path.write_text("[service]\njobs = 3\n")
    assert load_config(path).service.jobs == 3
    for bad_value in ("-1", "257", "1.5"):
        path.write_text(f"[service]\njobs = {bad_value}\n")
        with pytest.raises(Exception, match="jobs"):
            load_config(path)
    result = runner.invoke(app, ["screen", "x.mp4", "--jobs", "-1", "--home", str(tmp_path)])
    assert result.exit_code == 2


def test_a_batch_stopped_early_releases_its_claims_and_its_workers(base, batch, tmp_path):
    """The caller stops after the first result (as Ctrl-C does): what was recorded stays, the files
    claimed ahead of it are released (the next run screens them normally), no worker is left."""
    home = copy_home(base, tmp_path / "home")
    with App.open(home) as app_:
        results = app_.screen(app_.upload_items([str(batch)]), jobs=2)
        first = next(results)
        assert raw_rows(home, "SELECT COUNT(*) FROM screen_claims")[0][0] >= 1  # (claimed ahead)
        results.close()
    assert first.status == "ok"
    assert raw_rows(home, "SELECT COUNT(*) FROM uploads") == [(1,)]
    assert raw_rows(home, "SELECT COUNT(*) FROM screen_claims") == [(0,)]
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("prescreen-worker")]
