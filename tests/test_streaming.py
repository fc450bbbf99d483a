"""Streaming: windowed fingerprints are the whole-file fingerprints, memory follows the window,
every stream is screened, and what a stereo mix cancels is still heard."""

from __future__ import annotations

import dataclasses
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import mediagen as mg
from fingerprint import (
    QUERY, REFERENCE, REFRAME_SIGNALS, SIGNALS, VIDEO, FingerprintParams, decode_media, fingerprint_decoded, fingerprint_file,
)
from fingerprint.audio import query_audio_fingerprint, reference_audio_fingerprint
from fingerprint.decode import AudioChunk, MediaReader
from fingerprint.landmarks import landmark_fingerprint
from fingerprint.stereo import hidden_runs, mid_side

SR = 22050


def _music(seed: int, seconds: float) -> np.ndarray:
    """Music at the analysis rate, 11 025 Hz (made at 22 050 Hz and decimated: a test signal)."""
    return mg.synth_music(seed=seed, duration=seconds, sample_rate=22050)[::2].copy()


def _windowed(params: FingerprintParams, seconds: float) -> FingerprintParams:
    return dataclasses.replace(params, decode=dataclasses.replace(params.decode, window_seconds=seconds,
                                                                             video_window_seconds=seconds))


def _agreement(a, b) -> float:
    """Share of codes (code, start to the microsecond, variant) the two fingerprints share."""
    ka = set(zip(map(bytes, a.codes), np.round(a.starts, 6), a.variants.tolist()))
    kb = set(zip(map(bytes, b.codes), np.round(b.starts, 6), b.variants.tolist()))
    return len(ka & kb) / max(1, len(ka | kb))


@pytest.fixture(scope="module")
def long_file(tmp_path_factory) -> Path:
    """70 s of picture and music: several 20 s windows."""
    path = tmp_path_factory.mktemp("long") / "long.mkv"
    mg.write_media(mg.synth_work(seed=5, duration=70.0), path)
    return path


@pytest.mark.parametrize("role", [REFERENCE, QUERY])
def test_windowed_codes_are_the_whole_file_codes(long_file, role):
    """Fingerprinting 20 s windows (with context, on the whole file's grids) gives the codes of the
    whole-file functions, every signal, both roles: codes, times and variants. Chroma words sum a
    window in another order than the whole file (cumulative sums), which could flip a bit that all
    but ties, hence >= 99 % rather than equality; here they come out equal."""
    params = FingerprintParams()
    fps = params.reference_fps if role == REFERENCE else params.query_fps
    whole, _ = fingerprint_decoded(decode_media(long_file, video_fps=fps), role, params)
    windowed = fingerprint_file(long_file, role, _windowed(params, 20.0))
    assert set(windowed.streams) == {"video 0", "audio 0"}
    for signal in SIGNALS + REFRAME_SIGNALS:
        a, b = whole[signal], windowed.signals[signal]
        assert len(a) > (100 if signal in SIGNALS else 10), signal
        assert _agreement(a, b) >= 0.99, (signal, len(a), len(b))
        if len(a) == len(b):  # incl. the last code's reach to the end; a code of a sparse picture rendition
            # (upside down, tilted: every 2-3 s) stands until the next one, or its window's end plus a frame
            np.testing.assert_allclose(a.ends, b.ends, atol=1.0 / fps if signal == VIDEO else 1e-6)


def test_pure_functions_take_a_window_origin():
    """The audio functions called on a window of a signal (origin = its first sample) give the
    whole signal's codes where the window holds their whole span."""
    from fingerprint import AudioParams, LandmarkParams

    audio, a, lm = _music(8, 40.0), AudioParams(), LandmarkParams()
    origin, stop = 77_777, 330_000  # not on any hop
    inner = (origin / 11025 + 8.0, stop / 11025 - 8.0)
    for whole, part in (
        (reference_audio_fingerprint(audio, a), reference_audio_fingerprint(audio[origin:stop], a, origin, False)),
        (query_audio_fingerprint(audio, a), query_audio_fingerprint(audio[origin:stop], a, origin, False)),
        (landmark_fingerprint(audio, 11025, lm, True), landmark_fingerprint(audio[origin:stop], 11025, lm, True,
                                                                           origin)),
    ):
        pick = lambda fp: fp.subset((fp.starts >= inner[0]) & (fp.starts < inner[1]))  # noqa: E731
        assert len(pick(whole)) > 50
        assert _agreement(pick(whole), pick(part)) >= 0.99


def test_memory_follows_the_window_not_the_file(tmp_path):
    """20 minutes of audio fingerprinted in 30 s windows: the arrays alive at once stay far below
    what the whole signal and its spectrogram take (~130 MB here)."""
    rate = 8000
    t = np.arange(rate * 60) / rate
    minute = (0.3 * np.sin(2 * np.pi * 440 * t * (1 + 0.05 * np.sin(t)))).astype(np.float32)
    path = mg.write_streams(tmp_path / "long.flac", audios=[np.tile(minute, 20)], sample_rate=rate)
    params = _windowed(FingerprintParams(), 30.0)
    tracemalloc.start()
    try:
        fp = fingerprint_file(path, REFERENCE, params)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert abs(fp.duration - 1200) < 1
    assert peak < 40e6, peak / 1e6


def _window_parts(minutes: int, seed: int = 3) -> list:
    """Codes shaped as one audio stream's query windows give them to the sink: a part per 10 s
    window, each in variant order (35 chroma variants at 8 codes a second), 32-byte codes."""
    from fingerprint import AUDIO, Fingerprint

    rng = np.random.default_rng(seed)
    parts = []
    for w in range(minutes * 6):
        starts = np.tile(w * 10.0 + np.arange(80) / 8.0, 35)
        variants = np.repeat(np.arange(35, dtype=np.uint8), 80)
        parts.append(Fingerprint(AUDIO, rng.integers(0, 256, (len(starts), 32), dtype=np.uint8), starts,
                                 starts + 2.0, variants))
    return parts


def test_merging_the_windows_codes_holds_one_copy_of_them():
    """The windows' codes are merged into whole-file order (variant, then time) byte for byte as
    concatenating and sorting them would, and the merge holds the result and at most one signal's
    parts: what it takes beyond the codes does not grow with the upload (2 vs 8 minutes). Merging
    by concatenation and a sorted copy held every code of a long upload three times over at the
    end of fingerprinting (a 2-hour film: ~180 MiB of codes, ~540 MiB at that moment)."""
    from fingerprint import Fingerprint, _merge_by_variant

    extra = {}
    for minutes in (2, 8):
        parts = _window_parts(minutes)
        want = Fingerprint.concat(parts)
        want = want.subset(np.argsort(want.variants, kind="stable"))
        size = sum(a.nbytes for a in (want.codes, want.starts, want.ends, want.variants))
        got = _merge_by_variant(list(parts))
        for a, b in ((got.codes, want.codes), (got.starts, want.starts), (got.ends, want.ends),
                     (got.variants, want.variants)):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        del want, got
        tracemalloc.start()
        try:
            merged = _merge_by_variant(parts)  # (the list was the parts' one reference: they go as merged)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert not parts and len(merged) == minutes * 6 * 2800
        extra[minutes] = (peak - size, size)
        del merged
    (short, _), (long, size) = extra[2], extra[8]
    assert long - short < 0.05 * size, (short / 1e6, long / 1e6, size / 1e6)
    assert long < 0.05 * size, (long / 1e6, size / 1e6)


def test_merge_keeps_the_order_of_unsorted_parts():
    """A part whose variants are not in order (none today) is merged as a stable sort would."""
    from fingerprint import Fingerprint, _merge_by_variant

    parts = _window_parts(1)
    parts[1] = parts[1].subset(np.random.default_rng(0).permutation(len(parts[1])))
    want = Fingerprint.concat(parts)
    want = want.subset(np.argsort(want.variants, kind="stable"))
    got = _merge_by_variant(parts)
    assert np.array_equal(got.codes, want.codes) and np.array_equal(got.starts, want.starts)
    assert np.array_equal(got.variants, want.variants) and np.array_equal(got.ends, want.ends)


# --------------------------------------------------------------------------- stereo


def _phase_inverted(audio: np.ndarray) -> np.ndarray:
    """``pan=stereo|c0=-1*c0|c1=c0``: the left channel inverted; the mix cancels."""
    return np.stack([-audio, audio])


def test_side_rendition_windowed_is_the_whole_side(tmp_path):
    audio = mg.synth_music(seed=12, duration=50.0, sample_rate=SR)
    path = mg.write_streams(tmp_path / "inverted.m4a", audios=[_phase_inverted(audio)], sample_rate=SR)
    params = FingerprintParams()
    got = fingerprint_file(path, QUERY, _windowed(params, 15.0))
    assert "audio 0 side" in got.streams and "audio 0 left" not in got.streams
    with MediaReader(path, video_fps=4.0) as reader:
        stereo = np.concatenate([c.samples for c in reader.chunks() if isinstance(c, AudioChunk)], axis=1)
    side = mid_side(stereo)[1]
    whole = query_audio_fingerprint(side, params.audio)
    assert _agreement(whole, got.streams["audio 0 side"]["audio"]) >= 0.99
    marks = landmark_fingerprint(side, params.audio.sample_rate, params.landmark, True)
    assert _agreement(marks, got.streams["audio 0 side"]["landmark"]) >= 0.99
    assert len(got.streams["audio 0"]["audio"]) == 0  # the mix is silence (-59 dB)


def test_ordinary_stereo_pays_for_nothing_but_the_measurement():
    """A wide but ordinary mix: two parts panned far apart by level (each 10 dB down in the other
    channel: a correlation of about 0.55, the side 5 dB under the mid) and reverb-like noise apart
    per channel never calls for the side or the channels apart."""
    rng = np.random.default_rng(3)
    a, b = (_music(s, 30.0) for s in (21, 22))
    left = a + 0.3 * b + 0.03 * rng.standard_normal(a.size).astype(np.float32)
    right = 0.3 * a + b + 0.03 * rng.standard_normal(a.size).astype(np.float32)
    runs = hidden_runs(np.stack([left, right]).astype(np.float32), 11025, FingerprintParams().stereo)
    assert runs == {"side": [], "left": [], "right": []}


def test_two_programmes_on_two_channels_are_fingerprinted_apart():
    x, y = (_music(s, 20.0) for s in (31, 32))
    runs = hidden_runs(np.stack([x, y]), 11025, FingerprintParams().stereo)
    assert runs["left"] and runs["right"]
    assert runs["left"][0][1] - runs["left"][0][0] > 15 * 11025


def test_phase_inverted_copy_is_blocked_with_the_right_seconds(engine, corpus, tmp_path):
    """The song with one channel inverted (the mix cancels to silence) is found in the side,
    as a copy, at the song's own seconds; the plain stereo copy stays found in the mix."""
    song = corpus.song.audio
    for name, audio, where in (("inverted", _phase_inverted(song), "audio 0 side"),
                               ("plain", np.stack([song, song]), "audio 0")):
        path = mg.write_streams(tmp_path / f"{name}.m4a", audios=[audio], sample_rate=SR)
        r = engine.screen_one(str(path))
        assert r.status == "ok" and r.decision.outcome == "block", (name, r.decision)
        (m,) = r.matches
        assert m.work_id == "song" and m.matched_seconds > 34, (name, m)
        assert all(where in s.stream.split("+") for s in m.segments), (name, [s.stream for s in m.segments])
        for s in m.segments:
            assert abs(s.upload_start - s.ref_start) < 1.0 and abs(s.upload_end - s.ref_end) < 1.0
        if name == "plain":
            assert [s["stream"] for s in r.streams] == ["audio 0"] and "side" not in str(r.as_dict()["matches"])


def test_upside_down_film_with_a_phase_inverted_soundtrack_is_blocked_by_both(engine, corpus, tmp_path):
    """Each signal's trick at once (the picture upside down, the mix of the sound cancelling to
    silence): the picture is found upside down and the sound in the side, at the film's seconds."""
    film = corpus.film
    path = mg.write_streams(tmp_path / "both.mp4", videos=[mg.transforms.vflip(film)],
                            audios=[_phase_inverted(film.audio)], sample_rate=film.sample_rate)
    r = engine.screen_one(str(path))
    assert r.status == "ok" and r.decision.outcome == "block", r.decision
    (m,) = r.matches
    assert m.work_id == "film" and m.modality == "both" and min(m.modality_seconds.values()) > 25, m
    streams = {x for s in m.segments for x in s.stream.split("+")}
    assert {"video 0", "audio 0 side"} <= streams, streams
    assert any("upside down" in s.rendition for s in m.segments), [s.rendition for s in m.segments]
    for s in m.segments:
        assert abs(s.upload_start - s.ref_start) < 1.5 and abs(s.upload_end - s.ref_end) < 1.5, s


def test_copy_in_the_second_streams_is_found_there(engine, corpus, tmp_path):
    """Innocuous first video and audio streams, the film in the second ones: found, in 'video 1'
    and 'audio 1', never aligned with the first streams."""
    other = mg.excerpt(corpus.other, 0, 30.0)
    path = mg.write_streams(tmp_path / "two.mkv", videos=[other, corpus.film], audios=[other.audio, corpus.film.audio],
                            sample_rate=SR)
    r = engine.screen_one(str(path))
    assert r.status == "ok" and r.decision.outcome == "block", r.decision
    assert [s["stream"] for s in r.streams] == ["video 0", "video 1", "audio 0", "audio 1"]
    (m,) = r.matches
    assert m.work_id == "film" and m.matched_seconds > 25
    streams = {part for s in m.segments for part in s.stream.split("+")}
    assert streams <= {"video 1", "audio 1"} and "video 1" in streams, streams
    line = r.as_dict()["matches"][0]["segments"][0]
    assert "stream" in line and line["stream"]


def test_blocked_search_and_votes_give_the_whole_upload_segments(engine, corpus, registered_home, monkeypatch):
    """An upload quoting three works (two films and a song under other pictures): searched in
    blocks of a few hundred query codes, votes counted in small blocks and their lines merged
    in small batches, it gets the same segments (every figure) and decision as searched and
    counted at once."""
    import importlib

    from service import Prescreen

    al = importlib.import_module("match.align")  # (the package's ``align`` is the function)
    song = mg.Media(None, corpus.other.fps, corpus.song.audio, corpus.song.sample_rate)
    upload = mg.concat(mg.excerpt(corpus.film, 2.0, 22.0), mg.excerpt(corpus.other, 0.0, 8.0),
                       mg.excerpt(corpus.film2, 0.0, 15.0),
                       mg.replace_audio(mg.excerpt(corpus.other, 10.0, 30.0), mg.excerpt(song, 5.0, 25.0).audio))
    path = corpus.write("three_works_blocked.mp4", upload)
    whole = engine.screen_one(str(path))
    assert {m.work_id for m in whole.matches} >= {"film", "film2", "song"}, [m.work_id for m in whole.matches]
    config = dataclasses.replace(engine.config, index=dataclasses.replace(engine.config.index, search_block_rows=256))
    monkeypatch.setattr(al, "VOTE_BLOCK_CELLS", 20_000)
    monkeypatch.setattr(al, "MERGE_LINES", 2_000)
    with Prescreen(registered_home, config=config) as blocked_engine:
        blocked = blocked_engine.screen_one(str(path))
    assert [m.as_dict() for m in blocked.matches] == [m.as_dict() for m in whole.matches]
    assert blocked.decision.outcome == whole.decision.outcome and blocked.decision.reasons == whole.decision.reasons
