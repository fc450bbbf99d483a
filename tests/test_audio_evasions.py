"""Audio evasions (issue 9): the registered song is found with the right seconds when its
pitch moves by up to 3 semitones or it plays 0.8-1.25x (tempo: pitch kept; speed: pitch
following), and a 7 s snippet of it under a voice goes to review; same-style music at
another pitch, and a podcast, are allowed."""

from __future__ import annotations

import numpy as np
import pytest

import mediagen as mg
from mediagen import transforms as tf
from expect import TOLERANCE, check_span, found_match



ALTERED = {
    # name: (make the upload from a 30 s excerpt, song seconds per upload second)
    "pitch_up_3": (lambda m: tf.pitch_shift(m, 3.0), 1.0),
    "pitch_down_3": (lambda m: tf.pitch_shift(m, -3.0), 1.0),
    "pitch_up_2": (lambda m: tf.pitch_shift(m, 2.0), 1.0),
    "tempo_0.8": (lambda m: tf.tempo(m, 0.8), 0.8),  # phase vocoder: duration changed, pitch kept
    "tempo_1.25": (lambda m: tf.tempo(m, 1.25), 1.25),
    "speed_0.8": (lambda m: tf.resample_speed(m, 0.8), 0.8),  # resampled: -3.9 semitones
    "speed_1.15": (lambda m: tf.resample_speed(m, 1.15), 1.15),  # between two speed grid points
    "speed_1.25": (lambda m: tf.resample_speed(m, 1.25), 1.25),
}


@pytest.mark.parametrize("name", list(ALTERED))
def test_altered_copy_of_the_song_is_blocked_with_the_right_seconds(corpus, engine, name):
    make, speed = ALTERED[name]
    excerpt = tf.excerpt(corpus.song, 6.0, 36.0)
    result = engine.screen_one(str(corpus.write(f"song_{name}.m4a", make(excerpt))))
    match = found_match(result, "song")
    check_span(match, (0.0, 30.0 / speed), (6.0, 36.0))
    for seg in match.segments:
        assert seg.speed == pytest.approx(speed, abs=0.02)
    assert result.decision.outcome == "block", result.decision.reasons  # a copy, not "music under other sound"
    assert [m.work_id for m in result.matches] == ["song"]


def _podcast(seed: int, seconds: float) -> mg.Media:
    return mg.Media(None, 25.0, mg.synth_speech(seed=seed, duration=seconds, sample_rate=22050, use_espeak=False),
                    22050)


@pytest.mark.parametrize("under_db", [8.0, 11.0])
def test_seven_seconds_of_the_song_under_a_voice_go_to_review(corpus, engine, under_db):
    podcast = _podcast(21, 60.0)
    at, start = 24.0, 14.0
    voice = podcast.audio[mg.count(at, 22050): mg.count(at + 7.0, 22050)]
    snippet = tf.mix_audio(tf.excerpt(corpus.song, start, start + 7.0), voice, snr_db=-under_db)
    path = corpus.write(f"podcast_song_snippet_{under_db:g}db.m4a", tf.embed(snippet, podcast, at))
    result = engine.screen_one(str(path))
    match = found_match(result, "song")
    assert match.modality == "audio" and match.signals == ("landmark",)
    check_span(match, (at, at + 7.0), (start, start + 7.0))
    assert result.decision.outcome == "review" and result.decision.rule == "audio-under-other-sound"


def test_a_podcast_without_music_is_allowed(corpus, engine):
    result = engine.screen_one(str(corpus.write("podcast_only.m4a", _podcast(22, 60.0))))
    assert result.decision.outcome == "allow" and result.matches == []


SAME_STYLE = {
    # unregistered music of the song's generator, moved in pitch (each a chance for a same-progression
    # song to pass for an altered copy)
    "pitched_up_2": lambda m: tf.pitch_shift(m, 2.0),
    "pitched_down_3": lambda m: tf.pitch_shift(m, -3.0),
    "sped_1.2": lambda m: tf.resample_speed(m, 1.2),
    "slowed_0.85": lambda m: tf.resample_speed(m, 0.85),
    "tempo_1.15": lambda m: tf.tempo(m, 1.15),
}


@pytest.mark.parametrize("name", list(SAME_STYLE))
def test_same_style_music_at_another_pitch_or_speed_is_allowed(corpus, engine, name):
    music = mg.Media(None, 25.0, mg.synth_music(seed=779, duration=40.0), 22050)
    result = engine.screen_one(str(corpus.write(f"same_style_{name}.m4a", SAME_STYLE[name](music))))
    assert result.status == "ok", result.error
    assert result.decision.outcome == "allow", result.decision.reasons
    assert result.matches == []


def test_peak_map_spans_its_peaks_only_and_matches_as_a_grid_from_the_start():
    # a window late in a long upload: the grid holds the window's frames (not every frame from
    # the media's start), and says the same as a dilated grid from frame 0 everywhere
    import cv2

    from match import ConstellationParams, PeakMap

    rng = np.random.default_rng(5)
    params = ConstellationParams()
    frames, bins = rng.integers(300_000, 313_000, 4000), rng.integers(2, 256, 4000)
    upload = PeakMap.build(bins, frames, 256 / 11025, params)
    assert upload.grid.shape[0] <= 13_000 + 2 * params.tolerance_frames + 1
    tf, tb = params.tolerance_frames, params.tolerance_bins
    full = np.zeros((int(frames.max()) + 2 * tf + 2, int(bins.max()) + 2 * tb + 2), np.uint8)
    full[frames, bins] = 1
    full = cv2.dilate(full, np.ones((2 * tf + 1, 2 * tb + 1), np.uint8)).astype(bool)
    q_frames, q_bins = rng.integers(299_990, 313_020, (3, 20_000)), rng.integers(-2, 262, (1, 20_000))
    qb, qf = np.broadcast_arrays(q_bins, q_frames)
    inside = (qf < full.shape[0]) & (qb >= 0) & (qb < full.shape[1])
    expected = np.zeros(qf.shape, bool)
    expected[inside] = full[qf[inside], qb[inside]]
    assert (upload.matched(q_bins, q_frames) == expected).all()
    assert expected.any() and not expected.all()


def test_constellation_verification_finds_a_planted_line_and_not_chance():
    # pure check of the verifier: reference peaks planted in random upload peaks at a known
    # offset are located with their seconds; the same upload against other peaks is rejected
    from match import ConstellationParams, PeakMap, verify_line

    rng = np.random.default_rng(3)
    fs, params = 256 / 11025, ConstellationParams()
    n_frames = int(40 / fs)
    ref_frames = np.sort(rng.integers(0, n_frames, 800))
    ref_bins = rng.integers(2, 256, 800)
    up_frames = list(rng.integers(0, n_frames, 1400))  # other sound: peaks anywhere
    up_bins = list(rng.integers(2, 256, 1400))
    offset_frames = int(round(5.0 / fs))  # upload second t is reference second t + 5
    quote = (ref_frames * fs >= 15.0) & (ref_frames * fs < 22.0)
    keep = quote & (rng.random(800) < 0.3)  # 30 % of the quote's peaks survive
    up_frames += list(ref_frames[keep] - offset_frames)
    up_bins += list(ref_bins[keep])
    upload = PeakMap.build(np.array(up_bins), np.array(up_frames), fs, params)
    q = verify_line(upload, ref_bins, ref_frames, 1.0, 5.0, (11.0, 16.0), 40.0, params)
    assert q is not None
    assert abs(q.upload_start - 10.0) <= TOLERANCE and abs(q.upload_end - 17.0) <= TOLERANCE
    assert abs(q.ref_start - 15.0) <= TOLERANCE and q.log_likelihood >= params.min_log_likelihood
    other = np.sort(rng.integers(0, n_frames, 800))
    assert verify_line(upload, rng.integers(2, 256, 800), other, 1.0, 5.0, (11.0, 16.0), 40.0, params) is None


def test_a_chroma_segment_is_corroborated_only_by_the_works_own_peaks_along_its_line():
    # pure check of match.constellation.corroborated: a chroma segment (timed to 1/8 s, here 0.06 s
    # off the peaks' line) over a stretch where 30 % of the work's peaks survive in the upload is
    # corroborated; the same segment against peaks the upload does not carry (same harmony,
    # another recording) is not, and neither is a segment put where the upload has none of them
    from match import ConstellationParams, PeakMap, Segment, corroborated

    rng = np.random.default_rng(5)
    fs, params = 256 / 11025, ConstellationParams()
    n_frames = int(60 / fs)
    ref_frames = np.sort(rng.integers(0, n_frames, 1200))
    ref_bins = rng.integers(2, 256, 1200)
    up_frames = list(rng.integers(0, n_frames, 2000))
    up_bins = list(rng.integers(2, 256, 2000))
    offset_frames = int(round(8.0 / fs))  # upload second t is reference second t + 8
    quote = (ref_frames * fs >= 20.0) & (ref_frames * fs < 40.0)
    keep = quote & (rng.random(1200) < 0.3)
    up_frames += list(ref_frames[keep] - offset_frames)
    up_bins += list(ref_bins[keep])
    upload = PeakMap.build(np.array(up_bins), np.array(up_frames), fs, params)

    def chroma(upload_start: float, ref_start: float) -> Segment:
        return Segment(ref_id=1, modality="audio", upload_start=upload_start, upload_end=upload_start + 20.0,
                       ref_start=ref_start, ref_end=ref_start + 20.0, speed=1.0, similarity=0.6,
                       mean_distance=20.0, hits=160, density=1.0, changes=0, signal="audio")

    q = corroborated(chroma(12.0, 20.06), upload, ref_bins, ref_frames, 60.0, params)
    assert q is not None and q.log_likelihood >= params.min_log_likelihood
    assert abs(q.ref_start - q.upload_start - 8.0) < 0.05
    other_frames = np.sort(rng.integers(0, n_frames, 1200))
    assert corroborated(chroma(12.0, 20.06), upload, rng.integers(2, 256, 1200), other_frames, 60.0, params) is None
    assert corroborated(chroma(12.0, 31.0), upload, ref_bins, ref_frames, 60.0, params) is None  # another place
