"""Bad input fails per file with a clear message; the batch goes on; nothing is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import mediagen as mg
from mediagen import bad
from service import Prescreen, RegisterError

def _still(path: Path) -> Path:
    from PIL import Image

    picture = np.random.default_rng(3).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    Image.fromarray(picture).save(path)
    return path


def _audio_file(path: Path) -> Path:
    """A 12 s audio-only file (the suffix picks the format)."""
    work = mg.synth_work(5, 12.0)
    return mg.write_media(mg.Media(None, 25.0, work.audio, work.sample_rate), path)


def _damaged(src: Path, dst: Path, at: float = 0.5, share: float = 0.2) -> Path:
    """``src`` with ``share`` of its bytes, from ``at`` on, overwritten by noise: full length, broken inside."""
    data = bytearray(src.read_bytes())
    start, n = int(len(data) * at), int(len(data) * share)
    data[start:start + n] = np.random.default_rng(7).integers(0, 256, n, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(data))
    return dst


BAD_FILES = {
    "empty.mp4": (lambda p, c: bad.write_empty(p), "empty"),
    "random_bytes.mp4": (lambda p, c: bad.write_random_bytes(p, 20000), "not a readable media file"),
    "notes.mp4": (lambda p, c: bad.write_text_as_media(p), "not a readable media file"),
    "truncated.mp4": (lambda p, c: bad.write_truncated(c.film_path, p, 0.4),
                      "container index (moov box) is missing: the file is likely truncated or still being written"),
    "truncated.mkv": (lambda p, c: bad.write_truncated(mg.write_media(mg.synth_work(5, 12.0), p.with_suffix(".src.mkv")),
                                                        p, 0.5), "truncated: the file ends early"),
    # Ogg declares no duration up front: a cut file is only recognisable by its unfinished last page
    "truncated.ogg": (lambda p, c: bad.write_truncated(_audio_file(p.with_suffix(".src.ogg")), p, 0.5),
                      "truncated: the file ends inside an Ogg page"),
    "truncated.wav": (lambda p, c: bad.write_truncated(_audio_file(p.with_suffix(".src.wav")), p, 0.5),
                      "truncated: the file ends early (decoded 6.0 s of the 12.0 s its header declares)"),
    "damaged.mp3": (lambda p, c: _damaged(_audio_file(p.with_suffix(".src.mp3")), p), "damaged mid-stream"),
    "zero_duration.mp4": (lambda p, c: bad.write_zero_duration(p), "no decodable"),
    "poster.jpg": (lambda p, c: _still(p), "a still image, not audio or video"),
    "thumbnail.png": (lambda p, c: _still(p), "a still image, not audio or video"),
    "png_named.mp4": (lambda p, c: _still(p.with_suffix(".png")).rename(p), "a still image, not audio or video"),
}


@pytest.fixture(scope="module")
def junk_dir(tmp_path_factory, corpus):
    folder = tmp_path_factory.mktemp("junk")
    for name, (make, _) in BAD_FILES.items():
        make(folder / name, corpus)
    for source in folder.glob("*.src.*"):
        source.unlink()
    (folder / "subdir").mkdir()
    mg.write_media(mg.synth_work(7, 8.0), folder / "subdir" / "fine.mp4")
    return folder


def test_each_bad_file_gets_a_clear_error_and_the_batch_goes_on(engine, junk_dir):
    works_before = engine.catalog.work_summaries()
    results = {Path(r.upload).name: r for r in engine.screen([junk_dir])}
    assert set(results) == set(BAD_FILES) | {"fine.mp4"}
    for name, (_, words) in BAD_FILES.items():
        r = results[name]
        assert r.status == "error" and r.decision is None, name
        assert r.error and words in r.error, (name, r.error)
    assert results["fine.mp4"].status == "ok" and results["fine.mp4"].decision.outcome == "allow"
    assert engine.catalog.work_summaries() == works_before
    assert engine.catalog.integrity_problems() == []


def test_ogg_cut_at_a_page_boundary_is_truncated(engine, tmp_path):
    data = _audio_file(tmp_path / "song.ogg").read_bytes()
    last_page = data.rfind(b"OggS")  # the page flagged end-of-stream
    (tmp_path / "cut.ogg").write_bytes(data[:last_page])  # whole pages, but no end of stream
    r = engine.screen_one(str(tmp_path / "cut.ogg"))
    assert r.status == "error" and "without its end-of-stream page" in r.error
    assert engine.screen_one(str(tmp_path / "song.ogg")).status == "ok"


@pytest.mark.parametrize("suffix", [".ogg", ".flac"])
def test_small_damage_mid_file_is_screened_on_the_file_timeline_with_a_warning(engine, corpus, tmp_path, suffix):
    """A few KiB of garbage inside a song: the demuxer skips a stretch of audio. The rest is screened
    (not refused, not silently shifted): the match keeps the song's seconds and the result warns.
    (In Matroska a damaged cluster loses ~5 s of audio: 12 % of this song, beyond
    ``min_decoded_share``, so that file is refused as damaged.)"""
    clean = mg.write_media(corpus.song, tmp_path / f"song{suffix}")
    damaged = _damaged(clean, tmp_path / f"damaged{suffix}", at=0.5, share=0.02)
    r = engine.screen_one(str(damaged))
    assert r.status == "ok" and r.warnings and any("audio missing mid-stream" in w for w in r.warnings)
    assert abs(r.duration - 40.0) < 0.5
    (m,) = r.matches
    assert m.work_id == "song"
    late = [s for s in m.segments if s.upload_start > 25.0 or s.upload_end > 30.0]
    assert late, m.segments  # the part after the damage is found ...
    for s in m.segments:  # ... at the same seconds on both timelines (a copy: no offset)
        assert abs(s.upload_start - s.ref_start) <= 1.0 and abs(s.upload_end - s.ref_end) <= 1.0, s
    assert abs(m.segments[-1].upload_end - 40.0) <= 1.0
    assert engine.screen_one(str(clean)).warnings == []


def test_missing_file_and_directory_are_errors(engine, tmp_path):
    r = engine.screen_one(str(tmp_path / "nope.mp4"))
    assert r.status == "error" and "cannot read" in r.error
    r = engine.screen_one(str(tmp_path))
    assert r.status == "error" and "directory" in r.error


def test_failed_register_writes_nothing(tmp_path, new_home, corpus, junk_dir):
    folder = tmp_path / "mixed"
    folder.mkdir()
    bad.copy_file(corpus.film2_path, folder / "good.mp4")
    bad.write_truncated(corpus.film_path, folder / "broken.mp4", 0.5)
    with Prescreen(new_home, create=True) as engine:
        with pytest.raises(RegisterError) as info:
            engine.register([folder], "w")
        assert list(info.value.failures) == [str(folder / "broken.mp4")]
        assert engine.catalog.works() == [] and engine.catalog.references() == []
        assert engine.index_stats()["signals"]["video"]["codes"] == 0


def test_crash_between_catalog_and_index_is_repaired(new_home, corpus, monkeypatch):
    home = new_home
    with Prescreen(home, create=True) as engine:
        engine.register([corpus.film2_path], "film2")

        def crash(self, generation):
            raise KeyboardInterrupt("killed while writing the index")

        from index import IndexStore
        monkeypatch.setattr(IndexStore, "save", crash)
        with pytest.raises(KeyboardInterrupt):
            engine.register([corpus.film_path], "film")
        monkeypatch.undo()
    with Prescreen(home, create=True) as engine:
        assert {w.work_id for w in engine.catalog.works()} == {"film", "film2"}
        stats = engine.index_stats()  # stale index detected and rebuilt from the catalog
        codes = sum(s["codes"] for s in stats["signals"].values())
        assert codes == sum(w[f"{signal}_codes"] for signal in stats["signals"]
                            for w in engine.catalog.work_summaries())
        result = engine.screen_one(str(corpus.write("film_again.mkv", corpus.film)))
        assert result.decision.outcome == "block" and result.matches[0].work_id == "film"


def test_killed_register_leaves_catalog_consistent(tmp_path, new_home, corpus):
    """kill -9 of a registration at any moment, on either catalog: the work is all there or not at all."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(6):
        mg.write_media(mg.synth_work(1000 + i, 10.0), folder / f"part{i}.mp4")
    home = new_home
    with Prescreen(home, create=True) as engine:
        engine.register([corpus.song_path], "song")
    env = {**os.environ, "PRESCREEN_HOME": str(home)}
    for delay in (1.0, 3.0, 6.0):
        proc = subprocess.Popen([sys.executable, "-m", "cli", "register", str(folder), "--work-id", f"w{delay}"],
                                cwd=Path(__file__).resolve().parents[1], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with Prescreen(home, create=True) as engine:
            assert engine.catalog.integrity_problems() == []
            work = engine.catalog.get_work(f"w{delay}")
            refs = engine.catalog.references(f"w{delay}")
            assert (work is None and refs == []) or len(refs) == 6  # all or nothing
            stats = engine.index_stats()
            codes = sum(s["codes"] for s in stats["signals"].values())
            assert codes == sum(w[f"{signal}_codes"] for signal in stats["signals"]
                            for w in engine.catalog.work_summaries())


def test_bad_files_in_a_cli_batch_are_reported_per_file_and_exit_one(registered_home, junk_dir):
    import json

    from typer.testing import CliRunner

    from cli import app

    result = CliRunner().invoke(app, ["screen", str(junk_dir), "--json", "-", "--home", str(registered_home)])
    assert result.exit_code == 1, result.output
    lines = {Path(r["upload"]).name: r for r in map(json.loads, result.output.splitlines())}
    assert set(lines) == set(BAD_FILES) | {"fine.mp4"}
    assert all(lines[name]["status"] == "error" for name in BAD_FILES)
    assert lines["fine.mp4"]["decision"] == "allow"


def test_an_audio_timestamp_jump_of_hours_is_damage_not_hours_of_silence(engine, tmp_path):
    """A few seconds of audio whose timestamps jump two hours ahead: filling the hole would take
    hundreds of MiB for nothing; the file is reported as damaged instead."""
    import av

    path = tmp_path / "jump.mka"
    rate = 8000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)[None, :]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_f32le", rate=rate, layout="mono")
        for second in (0, 1, 7200, 7201):
            frame = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, second * rate, Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    r = engine.screen_one(str(path))
    assert r.status == "error" and "damaged mid-stream" in r.error and "jump ahead" in r.error, r.error
