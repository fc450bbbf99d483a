"""Audio fingerprints: short signals give no codes, silently."""

import warnings

import librosa
import numpy as np
import pytest

import mediagen as mg
from fingerprint import AudioParams
from fingerprint.audio import query_audio_fingerprint, reference_audio_fingerprint

SR = 22050
PARAMS = AudioParams()


def _analysed(audio: np.ndarray) -> np.ndarray:
    return librosa.resample(np.asarray(audio, np.float32), orig_sr=SR, target_sr=PARAMS.sample_rate)


@pytest.mark.parametrize("seconds", [0.05, 0.2, 0.3, 1.0])
def test_short_audio_gives_no_codes_and_no_warning(seconds):
    signal = _analysed(mg.synth_music(seed=33, duration=2.0))[: int(seconds * PARAMS.sample_rate)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(reference_audio_fingerprint(signal, PARAMS)) == 0
        assert len(query_audio_fingerprint(signal, PARAMS)) == 0
