"""Short-time spectra shared by the audio fingerprints, in numpy.

``power_spectrogram`` computes exactly what ``np.abs(librosa.stft(...)) ** 2``
does (centred frames, zero padding, periodic Hann window, complex64 rounding);
``tests/test_fingerprint.py`` checks it value for value against librosa.
Importing librosa's STFT brings numba and LLVM: ~1.7 CPU s per process, more
than fingerprinting a short upload.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=8)
def hann(n: int) -> np.ndarray:
    """Periodic Hann window of ``n`` samples (scipy's ``get_window("hann", n)``;
    scipy.signal alone costs ~0.8 CPU s to import)."""
    return np.hanning(n + 1)[:n]


def power_spectrogram(signal: np.ndarray, n_fft: int, hop_length: int, block: int = 256) -> np.ndarray:
    """(1 + n_fft // 2, T) float32 ``np.abs(librosa.stft(signal, n_fft, hop_length)) ** 2``.

    Same steps and dtypes: frames of the zero-padded signal (centred), times
    the float64 window, numpy's rfft, rounded to complex64, magnitude squared;
    ``block`` frames at a time bound the temporaries. Returned as the same
    Fortran-ordered layout librosa gives, so the products that follow match too.
    """
    pad = n_fft // 2
    y = np.pad(np.asarray(signal, np.float32), pad)
    n_frames = 1 + (len(y) - n_fft) // hop_length
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop_length][:n_frames]
    window = hann(n_fft)
    out = np.empty((n_frames, n_fft // 2 + 1), np.float32)
    for start in range(0, n_frames, block):
        spectrum = np.fft.rfft(frames[start:start + block] * window, axis=1).astype(np.complex64)
        out[start:start + block] = np.abs(spectrum) ** 2
    return out.T


def frame_level_db(power: np.ndarray, n_fft: int) -> np.ndarray:
    """(T,) level of each frame of a ``power_spectrogram``, dB relative to a full-scale
    sine (one-sided spectrum, normalised by the Hann window's power)."""
    window_power = float((hann(n_fft) ** 2).sum())
    return 10 * np.log10(power.sum(axis=0) * 2 / (window_power * n_fft) + 1e-12)


def may_sound(signal: np.ndarray, silence_db: float) -> bool:
    """Whether any STFT frame of ``signal`` can be louder than ``silence_db`` (the
    ``frame_level_db`` of a frame is at most 10 log10(2 max|x|^2))."""
    if signal.size == 0:
        return False
    peak = float(np.max(np.abs(signal)))
    return 2 * peak * peak >= 10 ** (silence_db / 10)
