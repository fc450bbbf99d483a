"""Hostile input to every command: one file, one record; crash-safe manifest batches; no traceback
ever reaches the user; what files, manifests and the catalog supply is shown with controls escaped;
locks and data folders that give up with a message.

Exit codes as the README documents them: 0 ok, 1 something failed, 2 usage error.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import RawConnection, config_file, copy_home, database_errors, freeze_template, home_catalog, \
    is_postgres
from typer.testing import CliRunner

import mediagen as mg
from cli import app, shown
from mediagen import bad
from service import Prescreen, ScreenResult, load_config

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
ESC = "\x1b[2J"


def _invoke(args: list[str], env: dict | None = None, internal_errors: bool = False):
    """Run a command in-process; an exception other than the command's own exit is a failure here, and
    so is an 'internal error' (an unexpected exception the last guard turned into a message) unless the
    test provokes one on purpose."""
    result = runner.invoke(app, args, env=env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args}: {type(result.exception).__name__}: {result.exception}") from result.exception
    assert "Traceback" not in result.output, (args, result.output)
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    assert internal_errors or "internal error" not in result.output, (args, result.output)
    return result


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """Four short unrelated uploads (a manifest batch)."""
    folder = tmp_path_factory.mktemp("clips")
    return [mg.write_media(mg.synth_work(seed=7100 + i, duration=5.0), folder / f"clip{i}.mp4") for i in range(4)]


@pytest.fixture(scope="module")
def base_home(tmp_path_factory, corpus, catalog_backend) -> Path:
    """The second film registered, once per backend."""
    home = catalog_backend.new_home(tmp_path_factory.mktemp(f"hostile-{catalog_backend.name}") / "home")
    with Prescreen(home, create=True) as engine:
        engine.register([corpus.film2_path], "film2", title="Second Film", owner="Studio B")
    return freeze_template(home)


@pytest.fixture()
def home(base_home, tmp_path) -> Path:
    """A registered data folder of this test's own (commands may write to it)."""
    return copy_home(base_home, tmp_path / "home")


def _manifest(folder: Path, clips: list[Path], prefix: str = "up") -> Path:
    path = folder / "batch.csv"
    path.write_text("path,upload_id,uploader_id\n" + "".join(f"{c},{prefix}-{i},erin\n" for i, c in enumerate(clips)))
    return path


def _rows(home: Path, table: str) -> list[dict]:
    """The rows of a catalog table, read as another process would (not through the engine)."""
    key = {"uploads": "upload_pk", "screen_claims": "claim_id"}[table]
    with RawConnection(home) as db:
        return [dict(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()]


def _uploads(home: Path) -> list[dict]:
    return _rows(home, "uploads")


def _claims(home: Path) -> list[dict]:
    return _rows(home, "screen_claims")


def _assert_consistent(home: Path) -> None:
    """Every recorded upload has its audit record, claims never outlive a recorded upload, the chain holds."""
    with Prescreen(home, create=True) as engine:
        assert engine.catalog.integrity_problems() == []
        assert engine.workflow.verify_audit()["problems"] == []
        decisions = {r["upload_id"] for r in engine.workflow.audit_records(action="decision")}
        uploads = {u["upload_id"] for u in _uploads(home)}
        assert uploads == decisions
        for claim in engine.catalog.claims():
            assert claim["upload_id"] not in uploads


def _words(output: str) -> str:
    """Output as one line of words: wrapping and Rich's error box removed."""
    return " ".join(output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
            for line in text.splitlines() if line.strip()]


# -- one file, one record --------------------------------------------------------------------------

def test_any_failure_while_screening_a_file_is_that_files_recorded_error(home, clips, monkeypatch):
    """A numpy allocation error, an OpenCV error, a FAISS-style RuntimeError and a plain bug each become
    that file's status=error in words, recorded with an audit record; the batch goes on; the traceback
    goes to the data folder's log, not the terminal."""
    import cv2

    import service.engine as engine_module

    real = engine_module.fingerprint_file

    def failing(path, *args, **kwargs):
        name = Path(path).name
        if name == "clip0.mp4":
            np.empty(2 ** 62, np.uint8)  # numpy: Unable to allocate 4.00 EiB
        if name == "clip1.mp4":
            raise cv2.error("OpenCV(4.x) resize.cpp:4062: error: (-215:Assertion failed) !ssize.empty()")
        if name == "clip2.mp4":
            raise RuntimeError("Error in faiss::IndexBinaryFlat: bad code size")
        if name == "bug.mp4":
            return 1 / 0
        return real(path, *args, **kwargs)

    monkeypatch.setattr(engine_module, "fingerprint_file", failing)
    bug = bad.copy_file(clips[0], home.parent / "bug.mp4")
    # (--jobs 1: the failures are patched into this process; the workers' are tests/test_jobs.py's)
    result = _invoke(["screen", *map(str, clips), str(bug), "--json", "-", "--jobs", "1", "--home", str(home)],
                     internal_errors=True)
    assert result.exit_code == 1
    lines = {Path(r["upload"]).name: r for r in _json_lines(result.stdout)}
    assert lines["clip3.mp4"]["status"] == "ok" and lines["clip3.mp4"]["decision"] == "allow"
    expected = {"clip0.mp4": "ran out of memory while screening this file (Unable to allocate",
                "clip1.mp4": "prescreen failed while screening this file (an internal error, error: OpenCV",
                "clip2.mp4": "an internal error, RuntimeError: Error in faiss",
                "bug.mp4": "an internal error, ZeroDivisionError: division by zero"}
    log = home / "logs" / "prescreen.log"
    for name, words in expected.items():
        line = lines[name]
        assert line["status"] == "error" and line["error_code"] == "internal" and line["decision"] is None
        assert words in line["error"] and f"the details are in {log}" in line["error"], line["error"]
    stored = {Path(u["path"]).name: u for u in _uploads(home)}
    assert {n: stored[n]["status"] for n in expected} == {n: "error" for n in expected}
    _assert_consistent(home)
    text = log.read_text()
    assert text.count("Traceback (most recent call last)") == 4
    assert "ZeroDivisionError" in text and "_ArrayMemoryError" in text and "cv2.error" in text


def test_interrupt_stops_the_batch_keeps_what_was_finished_and_releases_the_file(home, clips, monkeypatch):
    import service.engine as engine_module

    real = engine_module.fingerprint_file

    def interrupted(path, *args, **kwargs):
        if Path(path).name == "clip1.mp4":
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)

    monkeypatch.setattr(engine_module, "fingerprint_file", interrupted)
    manifest = _manifest(home.parent, clips)
    result = _invoke(["screen", "--manifest", str(manifest), "--jobs", "1", "--home", str(home)])
    assert result.exit_code == 1
    assert "stopped: interrupted: what was finished is recorded" in _words(result.output)
    assert "stopped after 1 of 4 files" in result.output and "clip0.mp4" in result.output  # the partial table
    assert [u["upload_id"] for u in _uploads(home)] == ["up-0"]
    assert _claims(home) == []  # an interruption is not a crash: the next run screens clip1 normally
    monkeypatch.undo()
    result = _invoke(["screen", "--manifest", str(manifest), "--json", "-", "--home", str(home)])
    assert result.exit_code == 0, result.output
    lines = _json_lines(result.stdout)
    assert [line["upload_id"] for line in lines] == ["up-0", "up-1", "up-2", "up-3"]
    assert lines[0]["already_screened_at"] and not any(line["already_screened_at"] for line in lines[1:])


def test_a_failure_inside_registration_is_that_files_failure_and_nothing_is_written(new_home, clips, monkeypatch):
    import service.engine as engine_module

    real = engine_module.fingerprint_for_registration

    def failing(path, *args, **kwargs):
        if Path(path).name == "clip1.mp4":
            raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(engine_module, "fingerprint_for_registration", failing)
    home = new_home
    result = _invoke(["register", str(clips[0]), str(clips[1]), "--work-id", "w", "--home", str(home)],
                     internal_errors=True)
    assert result.exit_code == 1
    assert "prescreen failed while registering this file (an internal error, ValueError: operands" in \
        _words(result.output)
    with Prescreen(home, create=True) as engine:
        assert engine.catalog.works() == []


# -- crash-safe manifest batches ---------------------------------------------------------------------

def _start_batch(home: Path, manifest: Path, out: Path, jobs: int = 1) -> subprocess.Popen:
    """A batch in a process of its own; ``jobs`` 1 (screened in that process: what it is killed on is the
    file it was screening; tests/test_jobs.py kills batches screened in workers)."""
    return subprocess.Popen([sys.executable, "-m", "cli", "screen", "--manifest", str(manifest), "--json", str(out),
                             "-q", "--jobs", str(jobs), "--home", str(home)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def _wait_for(condition, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the batch ended first: {proc.communicate()}")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _claimed(home: Path, upload_id: str) -> bool:
    try:
        return any(c["upload_id"] == upload_id for c in _claims(home))
    except database_errors():
        return False


def test_a_row_whose_process_was_killed_is_its_error_and_the_rerun_finishes(home, clips, tmp_path):
    """kill -9 (or the OOM killer) while a row is screened: the catalog stays consistent, the rerun records
    that row's error instead of screening it again, finishes the batch, and later runs keep it so;
    --retry-unfinished tries that row again (--rescreen: every row)."""
    manifest = _manifest(tmp_path, clips)
    proc = _start_batch(home, manifest, tmp_path / "first.jsonl")
    _wait_for(lambda: _claimed(home, "up-1"), proc=proc)  # up-0 is recorded, up-1 is being screened
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    _assert_consistent(home)
    assert [u["upload_id"] for u in _uploads(home)] == ["up-0"]
    (claim,) = _claims(home)
    assert claim["upload_id"] == "up-1" and claim["pid"] == proc.pid and claim["path"] == str(clips[1])

    rerun = _invoke(["screen", "--manifest", str(manifest), "--json", "-", "--home", str(home)])
    assert rerun.exit_code == 1
    lines = {line["upload_id"]: line for line in _json_lines(rerun.stdout)}
    assert lines["up-0"]["already_screened_at"] and lines["up-0"]["status"] == "ok"
    killed = lines["up-1"]
    assert killed["status"] == "error" and killed["error_code"] == "unfinished"
    assert killed["error"].startswith("the previous attempt to screen this file did not finish: the process was "
                                      "killed or crashed (out of memory?)")
    assert f"pid {proc.pid}" in killed["error"]
    assert lines["up-2"]["status"] == lines["up-3"]["status"] == "ok"
    assert _claims(home) == []
    _assert_consistent(home)

    again = _invoke(["screen", "--manifest", str(manifest), "--json", "-", "--home", str(home)])
    assert again.exit_code == 1  # still that file's error, from the catalog: not screened again
    lines = {line["upload_id"]: line for line in _json_lines(again.stdout)}
    assert all(line["already_screened_at"] for line in lines.values())
    assert lines["up-1"]["error_code"] == "unfinished"
    assert len(_uploads(home)) == 4

    retried = _invoke(["screen", "--manifest", str(manifest), "--json", "-", "--retry-unfinished", "--home", str(home)])
    assert retried.exit_code == 0, retried.output
    lines = {line["upload_id"]: line for line in _json_lines(retried.stdout)}
    assert lines["up-1#2"]["status"] == "ok" and not lines["up-1#2"]["already_screened_at"]  # only that row
    assert all(lines[f"up-{i}"]["already_screened_at"] for i in (0, 2, 3))
    everything = _invoke(["screen", "--manifest", str(manifest), "--json", "-", "--rescreen", "--home", str(home)])
    assert everything.exit_code == 0 and not any(line["already_screened_at"] for line in _json_lines(everything.stdout))
    _assert_consistent(home)


@pytest.mark.parametrize("delay", [0.5, 2.5, 5.0])
def test_kill_at_any_moment_leaves_the_catalog_consistent(home, clips, tmp_path, delay):
    manifest = _manifest(tmp_path, clips)
    proc = _start_batch(home, manifest, tmp_path / "out.jsonl")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    _assert_consistent(home)
    assert len(_claims(home)) <= 1
    rerun = _invoke(["screen", "--manifest", str(manifest), "--json", "-", "--home", str(home)])
    lines = _json_lines(rerun.stdout)
    assert sorted(line["upload_id"] for line in lines) == ["up-0", "up-1", "up-2", "up-3"]
    assert all(line["status"] == "ok" or line["error_code"] == "unfinished" for line in lines)
    assert rerun.exit_code == (1 if any(line["status"] == "error" for line in lines) else 0)
    assert sorted(u["upload_id"] for u in _uploads(home)) == ["up-0", "up-1", "up-2", "up-3"]  # each once
    _assert_consistent(home)


def test_two_runs_of_one_manifest_never_screen_an_upload_twice(home, clips, tmp_path):
    """Issue 10: concurrent runs of the same manifest share the rows; each reports every row."""
    manifest = _manifest(tmp_path, clips * 2, prefix="c")  # eight rows
    a = _start_batch(home, manifest, tmp_path / "a.jsonl")
    b = _start_batch(home, manifest, tmp_path / "b.jsonl")
    for proc in (a, b):
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr.decode()
    ids = sorted(f"c-{i}" for i in range(8))
    uploads = _uploads(home)
    assert sorted(u["upload_id"] for u in uploads) == ids  # screened once each (a second screening is 'c-0#2')
    for out in ("a.jsonl", "b.jsonl"):
        lines = _json_lines((tmp_path / out).read_text())
        assert sorted(line["upload_id"] for line in lines) == ids
        assert all(line["status"] == "ok" for line in lines)
    _assert_consistent(home)


def _holder(pid: int, start: str | None = None, host: str | None = None, started_at: str | None = None) -> dict:
    from service.processes import this_process

    holder = this_process()
    holder.update(pid=pid, proc_start=start, token=f"t{pid}")
    if host:
        holder["host"] = host
    if started_at:
        holder["started_at"] = started_at
    return holder


@pytest.fixture()
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_unfinished_files_without_upload_ids_are_not_screened_again_either(home, clips, dead_pid):
    """A plain `prescreen screen clip.mp4` killed on a file: the next run says so; --retry-unfinished (or
    --rescreen) tries it again."""
    with Prescreen(home, create=True) as engine:
        engine.catalog.claim(None, str(clips[0].absolute()), _holder(dead_pid))
        first = engine.screen_one(str(clips[0]))
        assert first.status == "error" and first.error_code == "unfinished" and f"pid {dead_pid}" in first.error
        again = engine.screen_one(str(clips[0]))
        assert again.error_code == "unfinished" and again.already_screened_at
        other = engine.screen_one(str(clips[1]))  # another file is not concerned
        assert other.status == "ok"
        retried = engine.screen_one(str(clips[0]), retry_unfinished=True)
        assert retried.status == "ok" and retried.decision.outcome == "allow"
        engine.catalog.claim(None, str(clips[2].absolute()), _holder(dead_pid))
        assert engine.screen_one(str(clips[2]), rescreen=True).status == "ok"  # --rescreen: retried too
        assert engine.catalog.claims() == []
    _assert_consistent(home)


def test_a_dead_claim_on_another_file_under_the_same_id_is_taken_over(home, clips, dead_pid):
    from policy import UploadContext

    with Prescreen(home, create=True) as engine:
        engine.catalog.claim("up-9", "/somewhere/else.mp4", _holder(dead_pid))
        r = engine.screen_one(str(clips[0]), ctx=UploadContext("up-9"))
        assert r.status == "ok" and engine.catalog.claims() == []


def test_a_claim_from_another_host_counts_as_abandoned_only_when_old(home, clips, tmp_path):
    from datetime import datetime, timedelta, timezone

    from policy import UploadContext

    cfg = config_file(home, tmp_path / "c.toml", "[service]\nbusy_wait_seconds = 0.3\nforeign_claim_hours = 1\n")
    now = datetime.now(timezone.utc)
    with Prescreen(home, load_config(cfg), create=True) as engine:
        engine.catalog.claim("far-1", str(clips[0].absolute()), _holder(1, host="elsewhere", started_at=now.isoformat()))
        busy = engine.screen_one(str(clips[0]), ctx=UploadContext("far-1"))
        assert busy.error_code == "busy" and "host elsewhere" in busy.error
        old = (now - timedelta(hours=2)).isoformat()
        engine.catalog.claim("far-2", str(clips[1].absolute()), _holder(1, host="elsewhere", started_at=old))
        assert engine.screen_one(str(clips[1]), ctx=UploadContext("far-2")).error_code == "unfinished"


def test_an_upload_another_live_process_screens_is_left_to_it(home, clips, tmp_path):
    """Rows held by a live process come last, wait for its result and report it (no second screening);
    if it takes too long the row is reported busy and not recorded here."""
    from policy import UploadContext
    from service.processes import proc_stat

    cfg = config_file(home, tmp_path / "c.toml", "[service]\nbusy_wait_seconds = 20\n")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        start = proc_stat(sleeper.pid)[1] if proc_stat(sleeper.pid) else None
        with Prescreen(home, load_config(cfg), create=True) as engine:
            claim_id, _ = engine.catalog.claim("held-0", str(clips[0].absolute()), _holder(sleeper.pid, start))

            def other_process_finishes():  # what the holder does when it is done: record, release
                time.sleep(1.0)
                with Prescreen(home, create=True) as other, other.catalog.transaction():
                    other._write_record(ScreenResult(upload=str(clips[0]), status="ok"), clips[0],
                                        UploadContext("held-0"))
                    other.catalog.drop_claim(claim_id)

            finisher = threading.Thread(target=other_process_finishes)
            finisher.start()
            items = [(str(clips[0]), clips[0], UploadContext("held-0")), (str(clips[1]), clips[1], UploadContext("free-1"))]
            results = list(engine.screen_items(items))
            finisher.join()
            assert [r.upload_id for r in results] == ["free-1", "held-0"]  # the held row waited, last
            assert results[1].already_screened_at  # the other process's result, not a screening of ours
            assert [u["upload_id"] for u in _uploads(home) if u["upload_id"].startswith("held")] == ["held-0"]

        config_file(home, cfg, "[service]\nbusy_wait_seconds = 0.5\n")
        with Prescreen(home, load_config(cfg), create=True) as engine:
            engine.catalog.claim("held-2", str(clips[2].absolute()), _holder(sleeper.pid, start))
            busy = engine.screen_one(str(clips[2]), ctx=UploadContext("held-2"))
            assert busy.status == "error" and busy.error_code == "busy" and busy.upload_pk is None
            assert f"pid {sleeper.pid}" in busy.error and engine.catalog.latest_upload("held-2") is None
    finally:
        sleeper.kill()
        sleeper.wait()
    with Prescreen(home, create=True) as engine:  # the holder is gone: its claim is that file's unfinished error
        r = engine.screen_one(str(clips[2]), ctx=UploadContext("held-2"))
        assert r.error_code == "unfinished"


# -- no traceback reaches the user -------------------------------------------------------------------

def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_the_reproduced_tracebacks_are_messages(home, clips, tmp_path):
    h = ["--home", str(home)]
    extra = _write(tmp_path / "extra.csv", f"path,upload_id\n{clips[0]},a1,1,2\n")
    listed = _write(tmp_path / "list.jsonl", '{"path": ["a.mp4"]}\n')
    latin = _write(tmp_path / "latin.csv", b"path,uploader_id\n/tmp/x.mp4,Ren\xe9e\n")
    cases = [
        (["screen", "--manifest", str(extra), *h], 2, "line 2: 4 values but the header names 2 columns"),
        (["screen", "--manifest", str(listed), *h], 2, 'line 1: path must be text, got ["a.mp4"]'),
        (["screen", "--manifest", str(latin), *h], 2, "line 2: not UTF-8 text (byte 0xe9)"),
        (["works", "set-rule", "film2", "--rule", '{"action": "block", "min_seconds": "ten"}', *h], 2,
         "min_seconds: must be a number, got 'ten'"),
        (["works", "set-rule", "film2", "--rule", '{"action": "block", "min_seconds": NaN}', *h], 2,
         "min_seconds: must be a finite number"),
        (["register", str(clips[0]), "--work-id", "w", "--rule", '{"action": "block", "min_upload_share": Infinity}',
          *h], 2, "min_upload_share: must be a finite number"),
    ]
    for args, code, words in cases:
        result = _invoke(args)
        assert result.exit_code == code, (args, result.output)
        assert words in _words(result.output), (args, result.output)
    result = _invoke(["review", "list", *h], env={"PRESCREEN_NOW": "yesterday"})
    assert result.exit_code == 2 and "PRESCREEN_NOW: 'yesterday' is not an ISO 8601 time" in result.output
    result = _invoke(["review", "list", *h], env={"PRESCREEN_NOW": "9999-12-31T23:59:59"})
    assert result.exit_code == 2 and "between the years 1970 and 9000" in result.output
    with Prescreen(home, create=True) as engine:
        assert engine.catalog.upload_count() == 0 and engine.catalog.get_work("film2").rules == []


def test_a_manifest_lists_every_bad_line_and_screens_nothing(home, clips, tmp_path):
    rows = [{"path": str(clips[0]), "upload_id": "ok-1"}, {"path": str(clips[1]), "upload_id": 7},
            {"path": ""}, {"path": str(clips[2]), "declared_use": "satire"}, [1, 2], {"path": str(clips[3]), "x": 1},
            {"path": str(clips[0]), "upload_id": "ok-1"}, {"path": str(clips[0]), "uploader_id": {"a": 1}},
            {"path": str(clips[0]), "upload_id": "a#2"}, {"path": "a\u0000b"}, {"path": 5}, {"path": True}]
    manifest = _write(tmp_path / "m.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n{not json\n"
                      + "[" * 100000 + "]" * 100000 + "\n")
    result = _invoke(["screen", "--manifest", str(manifest), "--home", str(home)])
    assert result.exit_code == 2
    text = _words(result.output)
    for words in ("line 3: no path", "line 4: declared_use 'satire' is not one of", "line 5: not an object",
                  "line 6: unknown field(s) x", "line 7: upload_id 'ok-1' is already on line 1",
                  "line 8: uploader_id must be text", "line 9: upload_id 'a#2' contains '#'",
                  "line 10: the path contains a NUL character", "12 bad line(s)", "and 2 more"):
        assert words in text, words
    assert "line 2:" not in text and text.index("line 3:") < text.index("line 10:")  # in file order
    for data, words in ((b"path\n" + b"a" * 200_000 + b"\n", "line 2: not readable CSV (field larger than"),
                        (b"path\n/x.mp4\x00\n", "line 2: the path contains a NUL character"),
                        (b"file,id\n/x.mp4,1\n", "at least 'path'"),
                        (b"path,path\n/x,/y\n", "named twice: path")):
        result = _invoke(["screen", "--manifest", str(_write(tmp_path / "m.csv", data)), "--home", str(home)])
        assert result.exit_code == 2 and words in _words(result.output), result.output
    for target, words in ((tmp_path, "it is a folder"), (tmp_path / "none.csv", "no such file"),
                          (Path("/dev/zero"), "not a regular file")):
        result = _invoke(["screen", "--manifest", str(target), "--home", str(home)])
        assert result.exit_code == 2 and words in result.output, result.output
    assert _uploads(home) == []


def test_unusable_data_folders_and_catalogs_say_so(home, tmp_path, clips):
    afile = _write(tmp_path / "afile", "x")
    for args in (["works", "list"], ["register", str(clips[0]), "--work-id", "w"]):
        result = _invoke([*args, "--home", str(afile)])
        assert result.exit_code == 2 and f"the data folder {afile} is a file, not a folder" in result.output
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    _write(corrupt / "catalog.sqlite", np.random.default_rng(1).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    for args in (["works", "list"], ["screen", str(clips[0])], ["register", str(clips[0]), "--work-id", "w"]):
        result = _invoke([*args, "--home", str(corrupt)])
        assert result.exit_code == 1, result.output
        assert "not a usable prescreen catalog (file is not a database)" in _words(result.output)
    folder_catalog = tmp_path / "weird"
    (folder_catalog / "catalog.sqlite").mkdir(parents=True)
    result = _invoke(["register", str(clips[0]), "--work-id", "w", "--home", str(folder_catalog)])
    assert result.exit_code == 1 and "cannot open the catalog" in result.output
    (home / "config.toml").unlink(missing_ok=True)  # (a PostgreSQL home's names its catalog)
    (home / "config.toml").mkdir()
    result = _invoke(["works", "list", "--home", str(home)])
    assert result.exit_code == 2 and "config.toml: cannot read the file (it is a folder)" in result.output


def _read_only(folder: Path):
    """Make ``folder`` and what is in it unwritable, also for root (chattr +i); returns the undo, or None."""
    paths = [folder, *folder.rglob("*")]
    if os.geteuid() != 0:
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        return lambda: [p.chmod(0o755 if p.is_dir() else 0o644) for p in paths]
    if shutil.which("chattr") is None:
        return None
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
    undo = lambda: subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True)  # noqa: E731
    if done.returncode != 0:
        undo()
        return None
    return undo


def test_a_read_only_data_folder_gives_a_clear_message(home, clips):
    undo = _read_only(home)
    if undo is None:
        pytest.skip("cannot make a folder read-only here (root without chattr)")
    try:
        for args in (["works", "list"], ["screen", str(clips[0])], ["register", str(clips[0]), "--work-id", "w"]):
            result = _invoke([*args, "--home", str(home)])
            assert result.exit_code == 1, result.output
            assert f"the data folder {home} cannot be written" in _words(result.output)
    finally:
        undo()


def _hold(home: Path, what: str, seconds: float) -> subprocess.Popen:
    """Another process holding the data folder's write lock ('write-lock') or the catalog's ('catalog':
    SQLite's, or on PostgreSQL the advisory lock every write transaction takes)."""
    catalog = home_catalog(home)
    code = {"write-lock": "from service import Prescreen\nimport sys, time\n"
                          "with Prescreen(sys.argv[1], create=True) as e, e._write_lock():\n"
                          "    print('held', flush=True); time.sleep(float(sys.argv[2]))\n",
            "catalog": "import sqlite3, sys, time\n"
                       "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                       "db.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(float(sys.argv[2]))\n"}
    if isinstance(catalog, str):
        code["catalog"] = ("import psycopg, sys, time\nfrom storage.postgres import WRITE_TRANSACTION_LOCK\n"
                           "db = psycopg.connect(sys.argv[1])\n"
                           "db.execute('SELECT pg_advisory_xact_lock(%s)', (WRITE_TRANSACTION_LOCK,))\n"
                           "print('held', flush=True); time.sleep(float(sys.argv[2]))\n")
    target = home if what == "write-lock" else catalog
    proc = subprocess.Popen([sys.executable, "-c", code[what], str(target), str(seconds)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_locks_held_by_another_process_give_up_with_its_name(home, clips, tmp_path, corpus):
    cfg = config_file(home, tmp_path / "c.toml", "[service]\nlock_timeout_seconds = 0.5\n")
    h = ["--home", str(home), "--config", str(cfg)]
    holder = _hold(home, "write-lock", 120)
    try:
        t0 = time.monotonic()
        result = _invoke(["works", "remove", "film2", *h])
        assert result.exit_code == 1
        text = _words(result.output)
        assert f"another prescreen process is writing to {home} (pid {holder.pid} on host" in text
        assert "gave up after waiting 0.5 s ([service] lock_timeout_seconds)" in text
        assert time.monotonic() - t0 < 60
        assert _invoke(["works", "list", *h]).exit_code == 0  # reading needs no lock
    finally:
        holder.kill()
        holder.wait()
    holder = _hold(home, "catalog", 120)
    try:
        for args in (["works", "priority", "film2"], ["screen", str(clips[0])]):
            result = _invoke([*args, *h])
            assert result.exit_code == 1, result.output
            assert "the catalog is locked by another process" in _words(result.output)
        assert _invoke(["works", "show", "film2", *h]).exit_code == 0
    finally:
        holder.kill()
        holder.wait()
    _assert_consistent(home)
    assert _claims(home) == []  # the file that could not be recorded is not left as a crash


def test_ids_numbers_and_paths_out_of_range_are_usage_errors_or_clear_failures(home, clips, tmp_path):
    h = ["--home", str(home)]
    cases = [
        (["review", "show", "99999999999999999999999"], 2, "less than or equal to 9223372036854775807"),
        (["review", "decide", "0", "--outcome", "allow", "--reviewer", "r"], 2, "greater than or equal to 1"),
        (["review", "show", "12345"], 1, "no review with id 12345"),
        (["works", "exclude", "film2", "0", "inf", "--reason", "r"], 2, "END must be a finite number of seconds"),
        (["works", "exclude", "film2", "nan", "5", "--reason", "r"], 2, "START must be a finite number"),
        (["works", "exclude", "film2", "0", "5", "--reason", "r", "--ref", "777"], 1, "no reference 777"),
        (["works", "exclude", "nope", "0", "5", "--reason", "r"], 1, "no work with id 'nope'"),
        (["notice", "u1", "--work", "film2", "--start", "-inf"], 2, "--start must be a finite number"),
        (["works", "show", ""], 1, "no work with id ''"),
        (["dispute", "nope", "--reason", "r", "--uploader", "u"], 1, "no upload with id 'nope'"),
        (["report", "--png", str(tmp_path)], 2, "is a folder"),
        (["review", "show", "1", "--out", str(clips[0])], 2, "is a file"),
        (["screen", str(clips[0]), "--json", str(tmp_path)], 2, "is a folder"),
        (["register", str(clips[0]), "--work-id", "w", "--title", "caf\udce9"], 2, "--title: not valid UTF-8 text"),
    ]
    for args, code, words in cases:
        result = _invoke([*args, *h])
        assert result.exit_code == code, (args, result.output)
        assert words in _words(result.output), (args, result.output)
    result = _invoke(["notice", str(clips[0]), "--work", "film2", "--start", "1", "--json", *h])
    assert result.exit_code in (0, 1)
    _json_lines(result.stdout)  # standard JSON: the open end is null, not Infinity


def test_a_file_that_cannot_be_read_is_that_files_error(home, clips, tmp_path, monkeypatch):
    """Missing files, folders that cannot be listed, an empty name: each is reported, the batch goes on."""
    folder = tmp_path / "uploads"
    (folder / "locked").mkdir(parents=True)
    bad.copy_file(clips[0], folder / "fine.mp4")
    bad.copy_file(clips[1], folder / "locked" / "hidden.mp4")
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == folder / "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = _invoke(["screen", str(folder), str(tmp_path / "missing.mp4"), "", "--json", "-", "--home", str(home)])
    assert result.exit_code == 1
    lines = {line["upload"]: line for line in _json_lines(result.stdout)}
    assert set(lines) == {str(folder / "fine.mp4"), str(folder / "locked"), str(tmp_path / "missing.mp4"), ""}
    assert lines[str(folder / "fine.mp4")]["status"] == "ok"
    assert lines[str(folder / "locked")]["error"] == "cannot list the folder: Permission denied"
    assert "cannot read file: No such file or directory" in lines[str(tmp_path / "missing.mp4")]["error"]
    assert lines[""]["error"] == "an empty file name"  # not the current folder
    assert len(_uploads(home)) == 4
    result = _invoke(["register", str(folder), "--work-id", "w", "--home", str(home)])
    assert result.exit_code == 1 and "locked: cannot list the folder: Permission denied" in result.output


# -- what files, manifests and the catalog supply is shown escaped ------------------------------------

def test_control_characters_from_files_manifests_and_the_catalog_are_escaped(tmp_path, clips, corpus, monkeypatch,
                                                                            new_home):
    import cli

    monkeypatch.setattr(cli.out, "_width", 250)  # no folding: each string stays on one line
    home = new_home
    work, title, owner = f"w{ESC}1", "T\x1b]0;owned\x07 \u202eitle", "O\x9bwner\nforged line"
    result = _invoke(["register", str(corpus.film2_path), "--work-id", work, "--title", title, "--owner", owner,
                      "--home", str(home)])
    assert result.exit_code == 0, result.output
    upload = bad.copy_file(corpus.film2_path, tmp_path / f"clip{ESC}\r\n.mp4")
    manifest = _write(tmp_path / "m.csv", f'path,upload_id,uploader_id,declared_use\n"{upload}",id{ESC},'
                                          f'erin\x1b[5m,quotation\n')
    outputs = [result.output]
    for args in (["screen", "--manifest", str(manifest), "--verbose"],
                 ["works", "exclude", work, "0", "3", "--reason", f"public{ESC} domain"], ["works", "list"],
                 ["works", "show", work], ["audit"], ["uploaders", "show", "erin\x1b[5m"],
                 ["dispute", f"id{ESC}", "--reason", f"mine{ESC}", "--uploader", "erin\x1b[5m"], ["review", "list", "--all"], ["report"],
                 ["works", "remove", work]):
        result = _invoke([*args, "--home", str(home)], env={"COLUMNS": "250"})
        assert result.exit_code == 0, (args, result.output)
        outputs.append(result.output)
    text = "".join(outputs)
    for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
        assert raw not in text
    assert "w\\x1b[2J1" in text and "T\\x1b]0;owned\\x07 \\u202eitle" in text and "O\\x9bwner\\nforged line" in text
    for escaped in ("clip\\x1b[2J\\r\\n.mp4", "id\\x1b[2J", "public\\x1b[2J domain"):
        assert escaped in text, (escaped, text)
    lines = _json_lines(_invoke(["screen", "--manifest", str(manifest), "--json", "-", "--home", str(home)]).stdout)
    assert lines[0]["upload"] == str(upload) and lines[0]["upload_id"] == f"id{ESC}"  # JSON: exact, escaped by JSON


def test_shown_escapes_every_non_printable_character():
    assert shown("plain título 中文 🎬") == "plain título 中文 🎬"
    assert shown("a\x00b\x1b[2Jc\x7fd\x85e\u200bf\u2028g\ud800h") == "a\\x00b\\x1b[2Jc\\x7fd\\x85e\\u200bf\\u2028g\\ud800h"
    assert shown("tab\tnew\nret\r") == "tab\\tnew\\nret\\r"
    assert shown(os.fsdecode(b"caf\xe9.mp4")) == "caf\\xe9.mp4"  # a file name byte that is not UTF-8


def test_file_names_that_are_not_utf8_are_screened_stored_and_shown(home, clips, tmp_path):
    name = os.fsdecode(tmp_path) + "/" + os.fsdecode(b"caf\xe9\x1b.mp4")
    shutil.copy(clips[0], os.fsencode(name))
    result = _invoke(["screen", name, "--home", str(home)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "caf\\xe9\\x1b.mp4" in result.output
    (stored,) = _uploads(home)
    assert stored["path"].endswith("caf\\xe9\x1b.mp4") and stored["status"] == "ok"


# -- every command, hostile values ---------------------------------------------------------------------

def _leaf_commands():
    import typer.main

    def walk(command, path):
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    return [(path, command) for path, command in walk(typer.main.get_command(app), [])
            if path[0] != "demo"]  # the demo writes media files: tested by test_demo


COMMANDS = _leaf_commands()
# where a parameter names a file or a folder, the values are drawn from these (placeholders, see below)
PATH_PARAMS = {"paths", "manifest", "json_file", "config", "png", "out_dir", "upload"}
HOSTILE = [
    "", " ", "-", "0", "-1", "1", "3.5", "1e400", "nan", "inf", "-inf", "99999999999999999999999", ESC, "\x00",
    str(2 ** 63), str(-2 ** 63 - 1),
    "a\nb", "{}", "[]", "[1]", '"block"', '{"action": "block"}', '{"action": "block", "min_seconds": NaN}',
    '{"action": "review", "band": "partial", "min_upload_share": 1e999}', "film2", "u1", "up-0", "video", "audio",
    "allow", "block", "upheld", "quotation", "caf\u00e9", "\u202eevil", os.fsdecode(b"caf\xe9"), "x" * 5000,
]
PATHS = ["{home}", "{clip}", "{junk}", "{empty_folder}", "{missing}", "{manifest}", "{bad_manifest}", "{toml}",
         "{bad_toml}", "/dev/null", "", "-", ESC]


def _hostile_invocation(path: list[str], command):
    from hypothesis import strategies as st

    edges = st.sampled_from([str(2 ** 63), str(-2 ** 63 - 1), "99999999999999999999999", "1e400", "nan", "-inf"])
    text = st.one_of(st.sampled_from(HOSTILE), edges, st.text(max_size=12), st.integers(-2 ** 70, 2 ** 70).map(str),
                     st.floats().map(repr))
    paths = st.sampled_from(PATHS)

    @st.composite
    def invocation(draw):
        args = list(path)
        for p in command.params:
            if p.name in ("home", "refingerprint"):  # refingerprinting every reference is slow; tested elsewhere
                continue
            is_argument = type(p).__name__.endswith("Argument")
            if getattr(p, "is_flag", False):
                if draw(st.booleans()):
                    args.append(p.opts[0])
                continue
            if not p.required and not draw(st.booleans()):
                continue
            for _ in range(1 if p.nargs == 1 and not p.multiple else draw(st.integers(1, 2))):
                value = draw(paths if p.name in PATH_PARAMS else text)
                args += [value] if is_argument else [p.opts[0], value]
        home = draw(st.sampled_from(["{home}"] * 6 + ["{junk}", "{missing}", "{empty_folder}"]))
        return [*args, "--home", home]

    return invocation()


@pytest.fixture(scope="module")
def hostile_inputs(tmp_path_factory, clips) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "empty").mkdir()
    return {
        "clip": str(clips[0]), "junk": str(_write(folder / "junk.mp4", "not media")),
        "empty_folder": str(folder / "empty"), "missing": str(folder / "missing" / "x"),
        "manifest": str(_write(folder / "m.csv", f"path,upload_id\n{clips[1]},up-0\n")),
        "bad_manifest": str(_write(folder / "bad.jsonl", '{"path": 1}\n')),
        "toml": str(_write(folder / "c.toml", "[service]\nlock_timeout_seconds = 1\nbusy_wait_seconds = 1\n")),
        "bad_toml": str(_write(folder / "bad.toml", "[fingerprint]\nquery_fps = inf\n")),
    }


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_with_hostile_values_exits_cleanly(path, command, base_home, hostile_inputs, tmp_path,
                                                         monkeypatch):
    """Random wrong types, huge and negative numbers, empty strings, ids that do not exist, files that are
    folders, missing or not what they claim: every command ends with 0, 1 or 2 and a message, never a
    traceback (the `_invoke` checks)."""
    from hypothesis import HealthCheck, given, settings

    home = copy_home(base_home, tmp_path / "home")
    places = {**hostile_inputs, "home": str(home)}
    monkeypatch.chdir(tmp_path)  # relative names land here, never in the repository
    # `serve` checks its address, binds it and opens the catalog for real, then would serve for ever: it
    # returns at once here instead (tests/test_http_serve.py runs real servers)
    monkeypatch.setattr("uvicorn.Server.run", lambda self, sockets=None: None)

    # 20 examples on SQLite; on PostgreSQL 5, enough for the catalog's side of each command (parsing is
    # the same on both and takes most examples), at a quarter of the time
    @settings(max_examples=5 if is_postgres(home) else 20, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(_hostile_invocation(path, command))
    def check(args):
        _invoke([places.get(a[1:-1], a) if a[:1] == "{" and a[-1:] == "}" else a for a in args],
                env={"COLUMNS": "120"})

    check()


def test_upload_ids_that_look_like_sql_patterns_or_automatic_ids(home, clips):
    """'%' and '_' are ordinary characters of an upload id; a manifest id 'u7' does not collide with the
    id the catalog gives the 7th upload screened without one."""
    from policy import UploadContext

    with Prescreen(home, create=True) as engine:
        ids = [engine.screen_one(str(clips[0]), ctx=UploadContext("x_%"), rescreen=True).upload_id for _ in range(3)]
        assert ids == ["x_%", "x_%#2", "x_%#3"]
        assert engine.screen_one(str(clips[1]), ctx=UploadContext("x%")).upload_id == "x%"  # not a re-screen of x_%
        taken = f"u{engine.catalog.last_upload_pk() + 2}"
        assert engine.screen_one(str(clips[1]), ctx=UploadContext(taken)).upload_id == taken
        assert engine.screen_one(str(clips[2])).upload_id == f"{taken}~2"
    _assert_consistent(home)
