"""Audio query variants line up with the reference: tempo (pitch kept), speed
(pitch following) and pitch; short signals give no codes, silently."""

import warnings

import librosa
import numpy as np
import pytest

import mediagen as mg
from mediagen import transforms as tf
from fingerprint import AudioParams
from fingerprint.audio import query_audio_fingerprint, reference_audio_fingerprint, variant_semitones, variant_tempo

SR = 22050
PARAMS = AudioParams()


@pytest.fixture(scope="module")
def song():
    return mg.Media(None, 25.0, mg.synth_music(seed=31, duration=24.0), SR)


def _analysed(audio: np.ndarray) -> np.ndarray:
    return librosa.resample(np.asarray(audio, np.float32), orig_sr=SR, target_sr=PARAMS.sample_rate)


def resampled(media: mg.Media, factor: float) -> mg.Media:
    """Played ``factor`` times faster with the pitch following (resampling, a tape)."""
    audio = librosa.resample(media.audio, orig_sr=media.sample_rate * factor, target_sr=media.sample_rate)
    return mg.Media(None, media.fps, audio.astype(np.float32), media.sample_rate)


def _similarity_on_true_line(upload: mg.Media, song: mg.Media, speed: float) -> dict[int, float]:
    """Per query variant: 1 - mean distance / 128 between each code and the
    reference code at the same instant of the true line ref = speed * upload."""
    ref = reference_audio_fingerprint(_analysed(song.audio), PARAMS)
    query = query_audio_fingerprint(_analysed(upload.audio), PARAMS)
    ref_t = 0.5 * (ref.starts + ref.ends)
    at = speed * 0.5 * (query.starts + query.ends)
    j = np.abs(ref_t[None, :] - at[:, None]).argmin(axis=1)
    inside = (at > ref_t[0]) & (at < ref_t[-1])
    d = np.bitwise_count(query.codes ^ ref.codes[j]).sum(axis=1)
    return {int(v): 1 - d[inside & (query.variants == v)].mean() / 128 for v in np.unique(query.variants[inside])}


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_tempo_variant_undoes_a_ten_percent_tempo_change(song, factor):
    sims = _similarity_on_true_line(tf.tempo(song, factor), song, factor)
    best = max(sims, key=sims.get)
    # the variant that assumed this tempo is the one that lines up (it used to
    # rescale the wrong way: a 1.1 copy read as if it were 1.21 away)
    assert variant_tempo(np.array([best]), PARAMS)[0] == pytest.approx(factor)
    assert variant_semitones(np.array([best]), PARAMS)[0] == 0
    assert sims[best] > 0.75


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_variant_undoes_a_resampled_ten_percent_speed_change(song, factor):
    sims = _similarity_on_true_line(resampled(song, factor), song, factor)
    best = max(sims, key=sims.get)
    assert variant_tempo(np.array([best]), PARAMS)[0] == pytest.approx(factor)
    assert variant_semitones(np.array([best]), PARAMS)[0] == pytest.approx(12 * np.log2(factor))
    assert sims[best] > 0.9


def test_variant_tables_cover_every_variant():
    query = query_audio_fingerprint(_analysed(mg.synth_music(seed=32, duration=12.0)), PARAMS)
    n = len(PARAMS.query_semitones) * len(PARAMS.query_tempos) + len(PARAMS.query_speeds)
    assert set(np.unique(query.variants)) == set(range(n))
    tempo = variant_tempo(np.arange(n), PARAMS)
    semis = variant_semitones(np.arange(n), PARAMS)
    assert tempo[0] == 1.0 and semis[0] == 0.0
    assert sorted(tempo[-len(PARAMS.query_speeds):]) == sorted(PARAMS.query_speeds)
    assert np.all(semis[-len(PARAMS.query_speeds):] != 0)  # speed variants undo a pitch change: "altered"


@pytest.mark.parametrize("seconds", [0.05, 0.2, 0.3, 1.0])
def test_short_audio_gives_no_codes_and_no_warning(seconds):
    signal = _analysed(mg.synth_music(seed=33, duration=2.0))[: int(seconds * PARAMS.sample_rate)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(reference_audio_fingerprint(signal, PARAMS)) == 0
        assert len(query_audio_fingerprint(signal, PARAMS)) == 0
