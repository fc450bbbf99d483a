"""Files built to hang or exhaust the screener: each is a clear error of its own, or a bounded
result, as a path, inside a folder and in a manifest batch (which finishes, and finishes again)."""

from __future__ import annotations

import json
import os
import struct
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest

import mediagen as mg
from fingerprint import QUERY, FingerprintParams, MediaError, fingerprint_file
from service import Prescreen, load_config


def _flac_of_silence(path: Path, seconds: float, declare: float | None = None, rate: int = 1000) -> Path:
    """Mono FLAC of digital silence at ``rate`` Hz (a few bytes per frame); ``declare``: patch the
    STREAMINFO total-sample count to claim that many seconds instead."""
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        block = np.zeros((1, 32768), np.int16)
        for start in range(0, int(seconds * rate), block.shape[1]):
            frame = av.AudioFrame.from_ndarray(block[:, : min(block.shape[1], int(seconds * rate) - start)],
                                               format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    if declare:
        data = bytearray(path.read_bytes())
        assert data[:4] == b"fLaC"
        word = struct.unpack(">Q", data[18:26])[0]  # sample rate 20 | channels 3 | bits 5 | total samples 36
        word = (word & ~((1 << 36) - 1)) | int(declare * rate)
        data[18:26] = struct.pack(">Q", word)
        path.write_bytes(bytes(data))
    return path


class _Unseekable:
    """A file the muxer cannot seek back in (a live stream): no duration is written in the header."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        return self.handle.write(data)


def _timestamp_jump(path: Path, live: bool = False) -> Path:
    """Matroska with video frames at t = 0 and t = 1e7 s and audio at t = 0 and 9.9e5 s (a few KB):
    the packets are encoded one step apart, then muxed at those times. ``live``: written as a live
    stream, so the header declares no duration and only decoding finds the jump."""
    picture = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype(np.float32)[None, :]
    with open(path, "wb") as handle, av.open(_Unseekable(handle) if live else handle, "w", format="matroska") as out:
        video = out.add_stream("mjpeg", rate=25)
        video.width = video.height = 64
        video.pix_fmt = "yuvj420p"
        audio = out.add_stream("pcm_f32le", rate=8000, layout="mono")
        for stream, times, make in (
            (video, (0.0, 1e7), lambda i: av.VideoFrame.from_ndarray(picture, format="rgb24")),
            (audio, (0.0, 9.9e5), lambda i: av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")),
        ):
            packets = []
            for i, _ in enumerate(times):
                frame = make(i)
                if stream is audio:
                    frame.sample_rate, frame.pts = 8000, i * 8000
                else:
                    frame.pts = i
                packets += stream.encode(frame)
            packets += stream.encode(None)
            for packet, t in zip(packets, times):
                packet.pts = packet.dts = int(round(t / packet.time_base))
                out.mux(packet)
    return path


def _video(path: Path, width: int, height: int, frames: int = 10, fps: int = 25, codec: str = "libx264") -> Path:
    rng = np.random.default_rng(width * 7 + height)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.codec_context.options = {"preset": "ultrafast"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
                                               format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _many_streams(path: Path, n: int) -> Path:
    tone = (0.2 * np.sin(np.arange(8000) / 3)).astype(np.float32)
    return mg.write_streams(path, audios=[tone] * n, sample_rate=8000)


@pytest.fixture(scope="module")
def bombs(tmp_path_factory, corpus) -> dict[str, tuple[Path, str | None]]:
    """name -> (path, words of the error, or None for a bounded result screened as usual)."""
    folder = tmp_path_factory.mktemp("bombs")
    os.mkfifo(folder / "fifo.mp4")
    (folder / "zero.mp4").symlink_to("/dev/zero")
    (folder / "README.txt").write_text("# prescreen\n\nA content-fingerprint pre-upload filter.\n" * 40)
    return {
        "fifo.mp4": (folder / "fifo.mp4", "a FIFO (named pipe), not a regular file"),
        "zero.mp4": (folder / "zero.mp4", "a character device (a link to /dev/zero), not a regular file"),
        "README.txt": (folder / "README.txt", "a text file"),
        "declares_24h.flac": (_flac_of_silence(folder / "declares_24h.flac", 2.0, declare=86400.0),
                              "declares 86400.0 s (24.0 h) of media, above [fingerprint.limits] max_declared_seconds"),
        # (the muxer writes the duration the timestamps reach into the header: refused from it)
        "jump.mkv": (_timestamp_jump(folder / "jump.mkv"), "(2777.8 h) of media, above [fingerprint.limits] max_dec"),
        "jump_live.mkv": (_timestamp_jump(folder / "jump_live.mkv", live=True),
                          "reaches 990000.0 s (275.0 h) (its timestamps run or jump that far), beyond "
                          "[fingerprint.limits] max_decoded_seconds = 43200; the rest is not screened"),
        "streams_20.mkv": (_many_streams(folder / "streams_20.mkv", 20),
                           "0 video and 20 audio streams, above [fingerprint.limits] max_streams = 16"),
        "silence_2h.flac": (_flac_of_silence(folder / "silence_2h.flac", 7200.0), None),
        "tiny_2x2.mkv": (_video(folder / "tiny_2x2.mkv", 2, 2, codec="mpeg4"), None),
        "strip_4096x16.mkv": (_video(folder / "strip_4096x16.mkv", 4096, 16), None),
        "fine.mp4": (corpus.write("hostile_fine.mp4", mg.synth_work(9, 6.0)), None),
    }


def test_each_bomb_is_its_own_error_or_a_bounded_result(engine, bombs):
    for name, (path, words) in bombs.items():
        r = engine.screen_one(str(path))
        if words is None:
            assert r.status == "ok" and r.decision.outcome == "allow", (name, r.error)
        else:
            assert r.status == "error" and words in r.error, (name, r.error)


def test_bombs_inside_a_folder_are_reported_not_dropped(engine, bombs):
    folder = bombs["fifo.mp4"][0].parent
    results = {Path(r.upload).name: r for r in engine.screen([folder])}
    assert set(results) == set(bombs) - {"fine.mp4"}
    for name, (_, words) in bombs.items():
        if name in results and words:
            assert results[name].status == "error" and words in results[name].error, name


def test_register_refuses_a_fifo_and_a_device_link_without_blocking(tmp_path, bombs):
    with Prescreen(tmp_path / "home", create=True) as engine:
        for name in ("fifo.mp4", "zero.mp4"):
            with pytest.raises(Exception) as info:
                engine.register([bombs[name][0]], "w")
            assert bombs[name][1] in str(getattr(info.value, "failures", {}) or info.value)


def test_silent_hours_take_bounded_memory(bombs):
    """Two hours of silence in a 100 KB FLAC: decoded as it streams, no array of hours, no codes."""
    tracemalloc.start()
    try:
        fp = fingerprint_file(bombs["silence_2h.flac"][0], QUERY, FingerprintParams())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert abs(fp.duration - 7200) < 1 and sum(len(f) for f in fp.signals.values()) == 0
    assert peak < 120e6, peak / 1e6


def test_a_manifest_batch_of_bombs_finishes_and_finishes_again(registered_home, bombs, tmp_path):
    from typer.testing import CliRunner

    from cli import app

    manifest = tmp_path / "batch.csv"
    rows = ["path,upload_id"] + [f"{path},up-{i}" for i, (path, _) in enumerate(bombs.values())]
    manifest.write_text("\n".join(rows) + "\n")
    for attempt in range(2):
        result = CliRunner().invoke(app, ["screen", "--manifest", str(manifest), "--json", "-",
                                          "--home", str(registered_home)])
        assert result.exit_code == 1, result.output
        lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
        assert len(lines) == len(bombs), attempt
        for line, (path, words) in zip(lines, bombs.values()):
            assert (line["status"] == "error") == (words is not None), (attempt, line)


def _config(tmp_path: Path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path).fingerprint


def test_pixel_rate_frame_size_and_wall_time_bounds_name_their_key(tmp_path, corpus):
    film = corpus.film_path  # 256x144 at 25 fps: 0.9 Mpixel/s
    for text, words in (
        ("[fingerprint.limits]\nmax_pixels_per_second = 100000.0\n",
         "video of 256x144 at 25 fps is 0.9 Mpixel/s, above [fingerprint.limits] max_pixels_per_second = 100000"),
        ("[fingerprint.limits]\nmax_frame_pixels = 1000\n", "above [fingerprint.limits] max_frame_pixels = 1000"),
        ("[fingerprint.limits]\nmax_wall_seconds = 0.000001\n", "[fingerprint.limits] max_wall_seconds"),
        ("[fingerprint.limits]\nmax_file_gigabytes = 0.0001\n", "above [fingerprint.limits] max_file_gigabytes"),
        ("[fingerprint.limits]\nmax_decoded_seconds = 10.0\nmax_declared_seconds = 1e6\n",
         "reaches 10.0 s (its timestamps run or jump that far), beyond [fingerprint.limits] max_decoded_seconds = 10"),
    ):
        with pytest.raises(MediaError) as info:
            fingerprint_file(film, QUERY, _config(tmp_path, text))
        assert words in str(info.value), (text, str(info.value))


def test_a_header_declaring_8k_at_30_fps_is_refused_before_decoding(tmp_path):
    path = _video(tmp_path / "8k.mkv", 7680, 4320, frames=2, fps=30)
    with pytest.raises(MediaError) as info:
        fingerprint_file(path, QUERY, FingerprintParams())
    assert "video of 7680x4320 at 30 fps is 995.3 Mpixel/s, above [fingerprint.limits] max_pixels_per_second" \
        in str(info.value)


def test_streams_of_codecs_not_accepted_are_ignored_and_said(tmp_path, corpus):
    no_aac = _config(tmp_path, '[fingerprint.accept]\naudio_codecs = ["flac", "pcm_*"]\n')
    fp = fingerprint_file(corpus.film_path, QUERY, no_aac)
    assert list(fp.streams) == ["video 0"] and len(fp.signals["video"]) > 0
    assert any("audio 0 (codec 'aac')" in w and "ignored" in w for w in fp.warnings), fp.warnings
    with pytest.raises(MediaError) as info:
        fingerprint_file(corpus.song_path, QUERY, no_aac)
    assert "no audio or video stream of an accepted codec: audio 0 (codec 'aac')" in str(info.value)
    only_mkv = _config(tmp_path, '[fingerprint.accept]\ndemuxers = ["matroska"]\n')
    with pytest.raises(MediaError) as info:
        fingerprint_file(corpus.film_path, QUERY, only_mkv)
    assert "not a readable media file" in str(info.value) and "[fingerprint.accept] demuxers" in str(info.value)
