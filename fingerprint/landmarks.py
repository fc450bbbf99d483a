"""Audio landmarks: pairs of spectral peaks, hashed (Shazam / audfprint style).

Chroma words (``audio.py``) describe harmony and fail when music is ducked
under speech: the voice dominates every chroma frame. Spectral peaks are
local: where the music's partials stand out of the voice (between syllables,
in bands the voice leaves free) they survive, and a pair of peaks hashed by
(anchor frequency, frequency step, time step) is reproduced exactly by any
copy. A copy is then many exact hash hits on one time offset.

1. ``spectral_peaks``: log-magnitude STFT (``spectrum.power_spectrogram``), whitened across frequency and
   high-passed along time (a stationary tone or hum leaves nothing), local
   maxima in a (frequency x time) neighbourhood that stand ``min_peak_db`` over
   their surroundings, the strongest ``peaks_per_second`` per second kept.
   Frames quieter than ``silence_db`` yield no peaks.
2. ``landmark_hashes``: each peak paired with up to ``fan_out`` later peaks
   within ``max_dt_frames`` and ``max_df_bins``; hash = anchor bin (9 bits) |
   frequency step (7 bits) | time step (6 bits), a 32-bit big-endian code.

References keep fewer peaks and pairs than uploads (``query_*``): the
strongest peaks of a copy include the reference's, and each reference pair's
target lies among the first few of the upload's, so the upload still forms
almost every pair the reference stored, while the index holds half as many
(measured: music under a voice hit 32 quarter-second instants instead of 37
with 84 instead of 173 reference landmarks per second).

Landmarks are exact-match codes: they are searched at Hamming radius 0.
``landmark_peaks`` recovers the peaks a fingerprint's pairs join (each code
holds its anchor's bin and its target's bin and frame step): a short quote
under other sound hits few *pairs* (both peaks must survive), but far more of
its single peaks, which ``match.constellation`` counts along a candidate line.
Pure functions over numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .spectrum import frame_level_db, power_spectrogram
from .types import LANDMARK, Fingerprint

CODE_BYTES = 4
_DT_BITS, _DF_BITS, _F_BITS = 6, 7, 9


@dataclass(frozen=True)
class LandmarkParams:
    """Tunables of the landmark fingerprint (defaults documented in the TOML config).

    n_fft, hop_length: STFT window and hop, samples of the decoder's mono
        signal (512 / 256 at 11 025 Hz: 46 ms windows, 43 frames per second).
    min_bin, max_bin: FFT bins searched for peaks (2..255: 43 Hz to 5.5 kHz).
    neighbourhood_bins, neighbourhood_frames: a peak is the maximum of this
        (frequency x time) window.
    whiten_bins: width (bins) of the running mean subtracted across frequency.
    highpass_seconds: width of the running mean subtracted along time: a tone
        or hum that lasts much longer than this stands out of nothing.
    min_peak_db: a peak stands at least this far (dB) above that local level.
    silence_db: frames below this level (dB relative to full scale) have no peaks.
    peaks_per_second, fan_out: the strongest peaks kept per second and the
        pairs formed per anchor peak, for references.
    query_peaks_per_second, query_fan_out: the same for uploads (denser).
    max_dt_frames, max_df_bins: how far (frames, bins) a paired peak may be.
    """

    n_fft: int = 512
    hop_length: int = 256
    min_bin: int = 2
    max_bin: int = 255
    neighbourhood_bins: int = 17
    neighbourhood_frames: int = 9
    whiten_bins: int = 31
    highpass_seconds: float = 10.0
    min_peak_db: float = 10.0
    silence_db: float = -50.0
    peaks_per_second: int = 20
    fan_out: int = 5
    query_peaks_per_second: int = 32
    query_fan_out: int = 16
    max_dt_frames: int = 40
    max_df_bins: int = 48

    def frame_seconds(self, sample_rate: int) -> float:
        return self.hop_length / sample_rate


def spectral_peaks(signal: np.ndarray, sample_rate: int, params: LandmarkParams,
                   per_second: int | None = None, origin: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(bins, frames) of the kept spectral peaks of a mono signal at ``sample_rate`` Hz, sorted by frame then bin.

    per_second: peaks kept per second (default ``params.peaks_per_second``).
    origin: ``signal`` is a window of a longer signal starting at its sample
        ``origin``: frames are on the whole signal's grid and counted from its
        start, and seconds (for ``per_second``) are its seconds.
    """
    lead = -origin % params.hop_length
    first = (origin + lead) // params.hop_length
    signal = signal[lead:]
    if signal.size < params.n_fft:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    power = power_spectrogram(signal, params.n_fft, params.hop_length)
    level_db = frame_level_db(power, params.n_fft)
    # dB of the band's magnitude; OpenCV's box and max filters (already loaded for video) with
    # replicated borders do what scipy.ndimage's uniform and maximum filters would, without its import
    log = (10 * np.log10(power[params.min_bin: params.max_bin + 1] + 1e-18)).astype(np.float32)
    log -= cv2.blur(log, (1, params.whiten_bins), borderType=cv2.BORDER_REPLICATE)
    frame_seconds = params.frame_seconds(sample_rate)
    hp_frames = max(3, int(round(params.highpass_seconds / frame_seconds)) | 1)
    log -= cv2.blur(log, (hp_frames, 1), borderType=cv2.BORDER_REPLICATE)
    kernel = np.ones((params.neighbourhood_bins, params.neighbourhood_frames), np.uint8)
    local_max = cv2.dilate(log, kernel, borderType=cv2.BORDER_REPLICATE)
    peak = (log == local_max) & (log >= params.min_peak_db) & (level_db > params.silence_db)[None, :]
    bins, frames = np.nonzero(peak)
    frames = frames.astype(np.int64) + first
    if bins.size == 0:
        return bins.astype(np.int64), frames
    strength = log[bins, frames - first]
    second = (frames * frame_seconds).astype(np.int64)
    order = np.lexsort((-strength, second))  # by second, strongest first
    bins, frames, second = bins[order], frames[order], second[order]
    rank = np.arange(len(second)) - np.searchsorted(second, second, side="left")
    keep = rank < (per_second or params.peaks_per_second)
    bins, frames = bins[keep] + params.min_bin, frames[keep]
    order = np.lexsort((bins, frames))
    return bins[order].astype(np.int64), frames[order].astype(np.int64)


def landmark_hashes(bins: np.ndarray, frames: np.ndarray, params: LandmarkParams,
                    fan_out: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(hashes uint32, anchor frames) of peak pairs; peaks sorted by frame.

    Each anchor pairs with the next peaks (in time order) up to ``fan_out``
    (default ``params.fan_out``) pairs, within ``max_dt_frames`` (> 0) and
    ``max_df_bins``.
    """
    fan_out = fan_out or params.fan_out
    n = len(frames)
    hashes, anchors = [], []
    used = np.zeros(n, np.int64)
    dt_cap, df_cap = (1 << _DT_BITS) - 1, (1 << (_DF_BITS - 1)) - 1
    max_dt, max_df = min(params.max_dt_frames, dt_cap), min(params.max_df_bins, df_cap)
    for k in range(1, n):
        a = np.flatnonzero(used[: n - k] < fan_out)
        if a.size == 0:
            break
        b = a + k
        dt = frames[b] - frames[a]
        if dt.min() > max_dt:
            break  # later neighbours are only further away
        df = bins[b] - bins[a]
        ok = (dt > 0) & (dt <= max_dt) & (np.abs(df) <= max_df)
        a, dt, df = a[ok], dt[ok], df[ok]
        used[a] += 1
        code = ((bins[a] & ((1 << _F_BITS) - 1)) << (_DF_BITS + _DT_BITS)) | ((df + df_cap + 1) << _DT_BITS) | dt
        hashes.append(code.astype(np.uint32))
        anchors.append(frames[a])
    if not hashes:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64)
    h, t = np.concatenate(hashes), np.concatenate(anchors)
    order = np.argsort(t, kind="stable")
    return h[order], t[order]


def landmark_fingerprint(signal: np.ndarray, sample_rate: int, params: LandmarkParams,
                         query: bool = False, origin: int = 0) -> Fingerprint:
    """Landmark codes (4 bytes each) of a mono signal at ``sample_rate`` Hz, timed at their anchor peak
    (seconds); ``query`` takes the denser upload settings; ``origin``: see ``spectral_peaks``
    (anchors whose peaks and pairs lie inside the window are those of the whole signal)."""
    bins, frames = spectral_peaks(signal, sample_rate, params, params.query_peaks_per_second if query else None,
                                  origin)
    hashes, anchors = landmark_hashes(bins, frames, params, params.query_fan_out if query else None)
    step = params.frame_seconds(sample_rate)
    t = anchors * step
    codes = hashes.astype(">u4").view(np.uint8).reshape(-1, CODE_BYTES)
    return Fingerprint(LANDMARK, codes, t, t + step)


def pair_peaks(codes: np.ndarray, anchor_frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bins, frames) int64 of the two peaks each landmark code joins: shape (2, n),
    row 0 the anchors (at ``anchor_frames``), row 1 the targets."""
    h = np.ascontiguousarray(codes).view(">u4").reshape(-1).astype(np.int64)
    anchor_bin = (h >> (_DF_BITS + _DT_BITS)) & ((1 << _F_BITS) - 1)
    df = ((h >> _DT_BITS) & ((1 << _DF_BITS) - 1)) - (1 << (_DF_BITS - 1))
    dt = h & ((1 << _DT_BITS) - 1)
    anchor = np.asarray(anchor_frames, np.int64)
    return np.stack([anchor_bin, anchor_bin + df]), np.stack([anchor, anchor + dt])


def landmark_peaks(fp: Fingerprint, params: LandmarkParams, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(bins, frames) int64 of the distinct spectral peaks the pairs of a landmark
    fingerprint join, anchors and targets, sorted by frame then bin; frames of
    ``params.frame_seconds(sample_rate)`` seconds from the start of the media."""
    if len(fp) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    bins, frames = pair_peaks(fp.codes, np.rint(fp.starts / params.frame_seconds(sample_rate)))
    width = 1 << _F_BITS
    keys = np.unique(frames.ravel() * width + bins.ravel())
    return keys % width, keys // width
