"""The command line as an operator uses it: JSON Lines, exit codes, works and index commands."""

from __future__ import annotations

import json
import os

import pytest
from conftest import config_file, copy_home, freeze_template
from typer.testing import CliRunner

import mediagen as mg
from cli import app
from mediagen import bad
from mediagen import transforms as tf

runner = CliRunner()


@pytest.fixture(scope="module")
def template(tmp_path_factory, corpus, catalog_backend):
    """The film registered through the command line, once per backend (copied for each test)."""
    home = catalog_backend.new_home(tmp_path_factory.mktemp(f"cli-{catalog_backend.name}") / "home")
    result = runner.invoke(app, ["register", str(corpus.film_path), "--work-id", "film", "--title", "The Film",
                                 "--owner", "Studio A", "--home", str(home)])
    assert result.exit_code == 0, result.output
    return freeze_template(home)  # (copies clone a database nobody is connected to)


@pytest.fixture()
def home(template, tmp_path):
    return copy_home(template, tmp_path / "home")


def test_screen_writes_json_lines_and_exit_code_says_failure(home, corpus, tmp_path):
    copy = corpus.write("cli_mirror.mp4", tf.hflip(corpus.film))
    broken = bad.write_random_bytes(tmp_path / "broken.mp4")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["screen", str(copy), str(broken), "--json", str(out), "--home", str(home)])
    assert result.exit_code == 1, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["upload"] for line in lines] == [str(copy), str(broken)]
    assert lines[0]["status"] == "ok" and lines[0]["decision"] == "block"
    assert lines[0]["matches"][0]["work_id"] == "film" and lines[0]["matches"][0]["segments"]
    assert lines[1]["status"] == "error" and lines[1]["error"]
    assert "block" in result.output  # the table


def test_all_good_batch_exits_zero(home, corpus):
    clip = corpus.write("cli_unrelated.mp4", mg.synth_work(seed=4242, duration=8.0))
    result = runner.invoke(app, ["screen", str(clip), "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "allow" in result.output


def test_usage_errors_exit_two(home):
    assert runner.invoke(app, ["screen"]).exit_code == 2
    assert runner.invoke(app, ["screen", "x.mp4", "--bogus"]).exit_code == 2
    assert runner.invoke(app, ["register", "x.mp4"]).exit_code == 2  # --work-id missing


def test_home_from_environment(home, corpus):
    result = runner.invoke(app, ["works", "list", "--json"], env={"PRESCREEN_HOME": str(home)})
    assert result.exit_code == 0
    assert [json.loads(line)["work_id"] for line in result.output.splitlines()] == ["film"]  # JSON Lines


def test_remove_work_takes_its_fingerprints_out_of_the_index(home, corpus):
    copy = corpus.write("cli_copy.mp4", tf.scale(corpus.film, 0.5))
    stats = json.loads(runner.invoke(app, ["index", "stats", "--json", "--home", str(home)]).output)
    assert stats["signals"]["video"]["codes"] > 0
    assert runner.invoke(app, ["works", "remove", "film", "--home", str(home)]).exit_code == 0
    stats = json.loads(runner.invoke(app, ["index", "stats", "--json", "--home", str(home)]).output)
    assert stats["signals"]["video"]["codes"] == 0 and stats["works"] == 0
    line = json.loads(runner.invoke(app, ["screen", str(copy), "--json", "-", "--home", str(home)]).output)
    assert line["decision"] == "allow" and line["matches"] == []
    assert runner.invoke(app, ["works", "remove", "film", "--home", str(home)]).exit_code == 1


def test_index_rebuild_reproduces_the_index(home):
    before = json.loads(runner.invoke(app, ["index", "stats", "--json", "--home", str(home)]).output)
    (home / "index" / "video.faissb").unlink()
    rebuilt = json.loads(runner.invoke(app, ["index", "rebuild", "--json", "--home", str(home)]).output)
    assert {s: v["codes"] for s, v in rebuilt["signals"].items()} == \
        {s: v["codes"] for s, v in before["signals"].items()}


def test_config_errors_are_usage_errors(home, tmp_path):
    cfg = config_file(home, tmp_path / "c.toml", "[policy]\nblock_upload_shar = 0.4\n")
    result = runner.invoke(app, ["works", "list", "--home", str(home), "--config", str(cfg)])
    assert result.exit_code == 2 and "block_upload_shar" in result.output


def test_help_explains_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("register", "screen", "works", "index", "demo"):
        assert command in result.output


def test_changed_fingerprint_settings_are_caught_and_refingerprinted(home, corpus, tmp_path):
    cfg = config_file(home, tmp_path / "c.toml", "[fingerprint.video]\ncrop_scales = [0.9]\n")
    copy = corpus.write("cli_copy_small.mp4", tf.scale(corpus.film, 0.5))
    result = runner.invoke(app, ["screen", str(copy), "--home", str(home), "--config", str(cfg)])
    assert result.exit_code == 1 and "--refingerprint" in result.output
    result = runner.invoke(app, ["index", "rebuild", "--refingerprint", "--home", str(home), "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    line = json.loads(runner.invoke(app, ["screen", str(copy), "--json", "-", "--home", str(home),
                                          "--config", str(cfg)]).output)
    assert line["decision"] == "block"


def _render(renderable, width: int = 120) -> str:
    from rich.console import Console

    console = Console(width=width, record=True, file=open(os.devnull, "w"))
    console.print(renderable)
    return console.export_text()


def test_every_outcome_renders_in_the_table_and_the_summary():
    from cli import screen_summary, screen_table
    from policy import ACTIONS, Decision
    from service import ScreenResult

    results = [ScreenResult(f"{a}.mp4", "ok", decision=Decision(a, "no-match", ("no registered work matched",)))
               for a in ACTIONS]
    results.append(ScreenResult("broken.mp4", "error", error="empty file (0 bytes)"))
    text = _render(screen_table(results))
    for action in ACTIONS:
        assert f"{action}.mp4" in text and action in text.replace(f"{action}.mp4", "")
    summary = screen_summary(results)
    assert summary == "6 uploads: 1 block, 1 review, 1 mute-audio, 1 track, 1 allow, 1 error"


@pytest.fixture()
def mute_home(tmp_path, corpus, catalog_backend):
    home = catalog_backend.new_home(tmp_path / "mute-home")
    result = runner.invoke(app, ["register", str(corpus.song_path), "--work-id", "song", "--title", "The Song",
                                 "--owner", "Label C", "--rule", '{"action": "mute-audio", "modality": "audio"}',
                                 "--home", str(home)])
    assert result.exit_code == 0, result.output
    return home


def test_mute_audio_decision_in_the_human_table(mute_home, corpus):
    upload = corpus.write("vlog_with_song.mp4", tf.replace_audio(tf.excerpt(corpus.other, 0, 40), corpus.song.audio))
    result = runner.invoke(app, ["screen", str(upload), "--home", str(mute_home)], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    table, summary = result.output.split("1 upload: ")
    assert "vlog_with" in table and "mute-audio" in table
    assert "the rights holder's rule" in table  # the short why
    assert len(table.splitlines()) <= 12  # compact at 80 columns: the row is two or three lines
    assert summary.startswith("0 block, 0 review, 1 mute-audio, 0 track, 0 allow, 0 error")


HOSTILE_TITLE = "Evil [/] Title [bold]x[/bold] [link=http://x]"


def test_user_text_is_shown_literally_not_as_markup(tmp_path, corpus, monkeypatch, new_home):
    import cli

    monkeypatch.setattr(cli.out, "_width", 250)  # no folding: the strings below stay on one line
    home = new_home
    result = runner.invoke(app, ["register", str(corpus.film2_path), "--work-id", "w[red]1", "--title", HOSTILE_TITLE,
                                 "--owner", "[b]Owner[/]", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "registered work w[red]1" in result.output
    listing = runner.invoke(app, ["works", "list", "--home", str(home)])
    assert listing.exit_code == 0, listing.output
    assert HOSTILE_TITLE in listing.output and "[b]Owner[/]" in listing.output and "w[red]1" in listing.output
    upload = tmp_path / "clip [bold]x.mp4"
    bad.copy_file(corpus.film2_path, upload)
    broken = bad.write_empty(tmp_path / "broken [red].mp4")
    result = runner.invoke(app, ["screen", str(upload), str(broken), "--home", str(home), "--verbose"])
    assert result.exit_code == 1, result.output
    assert "clip [bold]x.mp4" in result.output and "broken [red].mp4" in result.output
    assert "w[red]1 (audio+video)" in result.output
    assert HOSTILE_TITLE in result.output  # in the full reasons (--verbose)


def test_bad_config_values_are_usage_errors_with_file_and_key(home, tmp_path, corpus):
    cfg = tmp_path / "c.toml"
    for text, key in (('[policy]\nblock_min_seconds = "x"\n', "policy.block_min_seconds"),
                      ("[fingerprint]\nquery_fps = 0\n", "fingerprint.query_fps"),
                      ('[index]\nkind = "hnsw"\n', "index.kind")):
        config_file(home, cfg, text)
        result = runner.invoke(app, ["screen", str(corpus.film2_path), "--home", str(home), "--config", str(cfg)])
        assert result.exit_code == 2, result.output
        assert f"config error: {cfg}: {key}: " in result.output
        assert "Traceback" not in result.output


def test_unwritable_json_output_is_a_usage_error_before_screening(home, corpus, tmp_path):
    for target, why in ((tmp_path / "no" / "such" / "out.jsonl", "does not exist"), (tmp_path, "is a folder")):
        result = runner.invoke(app, ["screen", str(corpus.film2_path), "--json", str(target), "--home", str(home)])
        assert result.exit_code == 2, result.output
        assert f"--json {target}: cannot write the file" in result.output and why in result.output
    stats = json.loads(runner.invoke(app, ["index", "stats", "--json", "--home", str(home)]).output)
    assert stats["uploads_screened"] == 0  # nothing was screened


READ_ONLY = [["works", "list"], ["works", "show", "film"], ["index", "stats"], ["index", "rebuild"],
             ["review", "list"], ["review", "show", "1"], ["audit"], ["report"], ["uploaders", "show", "u1"],
             ["works", "remove", "film"], ["works", "priority", "film"],
             ["screen", __file__]]  # screening against no catalog would allow everything


# SQLite only: a data folder that is missing or empty has no config.toml to name another catalog
@pytest.mark.parametrize("args", READ_ONLY, ids=[" ".join(a) for a in READ_ONLY])
def test_commands_refuse_a_data_folder_that_does_not_exist(tmp_path, args):
    typo = tmp_path / "prescreen-dta"
    result = runner.invoke(app, [*args, "--home", str(typo)])
    assert result.exit_code == 2, result.output
    assert f"the data folder {typo} does not exist" in result.output
    assert not typo.exists()  # no empty catalog was created
    typo.mkdir()
    result = runner.invoke(app, [*args, "--home", str(typo)])
    assert result.exit_code == 2 and "has no prescreen catalog" in result.output
    assert list(typo.iterdir()) == []


def _all_command_paths():
    import typer.main

    def walk(command, path):
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


def test_help_reads_normally_for_every_command():
    for path in _all_command_paths():
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (path, result.output)
        text = result.output
        for junk in ("<bool>", "<list[", "<str>", "<path>", "{paths}", "<int>", "<float>"):
            assert junk not in text, (path, junk, text)
        assert "Usage: prescreen" in text or "Usage: " in text
    register = runner.invoke(app, ["register", "--help"]).output
    assert "PATHS..." in register and "--work-id" in register and "TEXT" in register
    works = runner.invoke(app, ["works", "--help"]).output
    for sub in ("list", "show", "remove", "set-rule", "priority", "license", "exclude"):
        assert sub in works
    top = runner.invoke(app, ["--help"]).output
    summary_line = next(line for line in top.splitlines() if line.startswith("│ register "))
    assert summary_line.rstrip(" │").endswith("(new or existing).")  # one summary, not a sentence cut in two


def test_progress_label_names_the_file_in_progress(monkeypatch):
    import io

    import cli
    from rich.console import Console

    monkeypatch.setattr(cli, "err", Console(file=io.StringIO(), force_terminal=True, width=100))
    bar = cli._progress(["in/one.mp4", "in/two [x].mp4", "in/three.mp4"], "screening", quiet=False)
    with bar as advance:
        shown = [bar.bar.tasks[0].description]
        for _ in range(3):
            advance()
            shown.append(bar.bar.tasks[0].description)
    assert shown == ["one.mp4", "two \\[x].mp4", "three.mp4", ""]  # escaped: Rich renders the brackets


def test_index_stats_says_when_ivf_falls_back_to_exact_search(home, tmp_path):
    cfg = config_file(home, tmp_path / "ivf.toml", '[index]\nkind = "ivf"\n')
    result = runner.invoke(app, ["index", "stats", "--home", str(home), "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "index kind ivf, but exact search for video and audio" in " ".join(result.output.split())
    stats = json.loads(runner.invoke(app, ["index", "stats", "--json", "--home", str(home),
                                           "--config", str(cfg)]).output)
    assert stats["kind"] == "ivf" and {k: s["search"] for k, s in stats["signals"].items()} == {
        "video": "exact", "audio": "exact", "landmark": "hash", "cut": "hash"}
    assert stats["ivf_min_codes"] == 1024 * 39


def test_config_show_masks_the_catalog_password(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[catalog]\nurl = "postgresql://rita:s3cret@db.example/prescreen?password=s3cret"\n')
    for extra in ([], ["--json"]):
        result = runner.invoke(app, ["config", "show", "--home", str(home), *extra])
        assert result.exit_code == 0, result.output
        assert "s3cret" not in result.output and "rita:***@db.example" in result.output
