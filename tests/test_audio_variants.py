"""Audio query variants line up with the reference: tempo (pitch kept), speed
(pitch following) and pitch, over 0.8-1.25x and +-3 semitones; altered variants
are sparser and probed; short signals give no codes, silently."""

import warnings

import librosa
import numpy as np
import pytest

import mediagen as mg
from mediagen import transforms as tf
from fingerprint import AudioParams
from fingerprint.audio import (probe_rows, query_audio_fingerprint, query_variants, reference_audio_fingerprint,
                               variant_semitones, variant_tempo)

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


def _grid_step(factor: float, grid: list[float]) -> float:
    """The ratio between the grid points either side of ``factor``."""
    below = max(g for g in grid if g <= factor)
    above = min(g for g in grid if g >= factor)
    return above / below


@pytest.mark.parametrize("factor", [0.8, 0.9, 1.1, 1.25])
def test_tempo_variant_undoes_a_tempo_change(song, factor):
    sims = _similarity_on_true_line(tf.tempo(song, factor), song, factor)
    best = max(sims, key=sims.get)
    # the variant that lines up is a tempo variant near this tempo (it used to
    # rescale the wrong way: a 1.1 copy read as if it were 1.21 away)
    tempos = sorted({r for k, r in query_variants(PARAMS) if k == 0})
    assert variant_semitones(np.array([best]), PARAMS)[0] == 0
    assert abs(np.log(variant_tempo(np.array([best]), PARAMS)[0] / factor)) <= np.log(_grid_step(factor, tempos))
    assert sims[best] > 0.75


@pytest.mark.parametrize("factor", [0.8, 0.9, 1.1, 1.15, 1.25])
def test_speed_variant_undoes_a_resampled_speed_change(song, factor):
    sims = _similarity_on_true_line(resampled(song, factor), song, factor)
    best = max(sims, key=sims.get)
    # the pitch a speed implies must be met to a fraction of a semitone
    assert abs(variant_semitones(np.array([best]), PARAMS)[0] - 12 * np.log2(factor)) <= PARAMS.query_speed_step / 2
    assert variant_tempo(np.array([best]), PARAMS)[0] == pytest.approx(factor, rel=0.01)
    # 0.96-0.98 on a grid point, about 0.86 midway between two (blocking needs 0.7)
    assert sims[best] > 0.8


@pytest.mark.parametrize("semitones", [-3, -2, 2, 3])
def test_pitch_variant_undoes_a_pitch_shift_of_up_to_three_semitones(song, semitones):
    sims = _similarity_on_true_line(tf.pitch_shift(song, semitones), song, 1.0)
    best = max(sims, key=sims.get)
    assert variant_semitones(np.array([best]), PARAMS)[0] == semitones
    assert variant_tempo(np.array([best]), PARAMS)[0] == 1.0
    assert sims[best] > 0.75


def test_variant_tables_cover_every_variant():
    query = query_audio_fingerprint(_analysed(mg.synth_music(seed=32, duration=12.0)), PARAMS)
    table = query_variants(PARAMS)
    n = len(table)
    assert set(np.unique(query.variants)) == set(range(n))
    tempo = variant_tempo(np.arange(n), PARAMS)
    semis = variant_semitones(np.arange(n), PARAMS)
    assert tempo[0] == 1.0 and semis[0] == 0.0
    assert np.all((semis[1:] != 0) | (tempo[1:] != 1.0))  # every other variant undoes an alteration
    speeds = np.flatnonzero(np.abs(semis - 12 * np.log2(tempo)) < 1e-6)[1:]  # the speed family (pitch follows)
    assert tempo[speeds].min() <= 0.8 and tempo[speeds].max() >= 1.25
    assert np.diff(np.sort([0.0, *semis[speeds]])).max() <= PARAMS.query_speed_step + 1e-9  # 0: the plain reading
    assert {k for k in semis if k == round(k)} >= {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}


def test_altered_variants_are_sparser_and_probed_sparser_still():
    query = query_audio_fingerprint(_analysed(mg.synth_music(seed=34, duration=20.0)), PARAMS)
    plain = query.subset(query.variants == 0)
    altered = query.subset(query.variants == 1)  # pitch -3, duration kept: same time axis as plain
    assert len(altered) == pytest.approx(len(plain) / PARAMS.query_altered_stride, abs=2)
    # each altered code stands for the frames it skips, so the density of a match stays right
    assert np.median(altered.ends - altered.starts) == pytest.approx(PARAMS.query_altered_stride * PARAMS.frame_seconds)
    probe = probe_rows(query, PARAMS)
    assert probe[query.variants == 0].all()
    assert probe[query.variants == 1].sum() == pytest.approx(len(altered) / PARAMS.query_probe_stride, abs=1)


@pytest.mark.parametrize("seconds", [0.05, 0.2, 0.3, 1.0])
def test_short_audio_gives_no_codes_and_no_warning(seconds):
    signal = _analysed(mg.synth_music(seed=33, duration=2.0))[: int(seconds * PARAMS.sample_rate)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(reference_audio_fingerprint(signal, PARAMS)) == 0
        assert len(query_audio_fingerprint(signal, PARAMS)) == 0
