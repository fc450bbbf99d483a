"""Audio chroma fingerprints in the manner of Chromaprint.

1. ``chroma_frames``: power spectrogram (``spectrum.power_spectrogram``, an
   STFT computed exactly as librosa.stft does it) limited to a musical band,
   folded into 12 pitch classes (librosa's chroma filters, rebuilt in numpy),
   ~8 frames per second;
   frames quieter than the silence level are marked unusable. Importing
   librosa (numba, llvmlite) cost ~2 CPU s per process, more than screening a
   short upload, for two functions; ``tests/test_fingerprint.py`` checks both
   against librosa value for value.
2. ``chroma_words``: one 32-bit word per frame from the 16-frame window that
   starts there: rectangle filters (as Chromaprint's are) take the mean chroma
   of parts of the window (levels) and differences between consecutive parts
   (changes); each is centred and projected on fixed pitch profiles and each
   bit is the sign of one projection. A bit flips with probability angle/pi
   between the clean and the altered profile, so re-encoding and noise flip
   few bits, unrelated music half of them.
3. ``pack_codes``: ``words_per_code`` words taken every ``word_stride`` frames
   are concatenated into one code (8 x 32 = 256 bits) for the binary index.

Query variants are computed from the decoded signal, so a pitch-shifted,
tempo-changed or sped-up copy is found without decoding again:

- *pitch*: the chroma rotated by whole semitones;
- *tempo* (duration changed, pitch kept, as a phase vocoder does): the chroma
  time axis rescaled to the reference's frame rate;
- *speed* (played faster or slower as a whole, pitch following, as resampling
  or a tape does): the spectrogram re-read with a hop, window and chroma
  filter bank scaled by the speed, which undoes the time and frequency scaling
  together (a 10 % speed change is a 1.65 semitone shift: no whole-semitone
  rotation lines it up).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.fft import next_fast_len

from .spectrum import frame_level_db, power_spectrogram
from .types import AUDIO, Fingerprint

WINDOW_FRAMES = 16
# The 32 bits of a word, as rectangle filters over the 12 x 16 chroma window.
# ("level", a, b, _, bits): the mean chroma of frames [a, b) projected on
#     ``bits`` pitch profiles: which pitch classes sound.
# ("change", a, b, c, bits): mean of [b, c) minus mean of [a, b), projected:
#     how the harmony moves. Change bits tell apart songs that share a key and
#     chords far better than level bits (measured on same-style music: chance
#     collisions at the 1st percentile moved from 54 to 69 bits of 256).
_FILTERS = (
    ("level", 0, 16, 0, 6),
    ("change", 0, 8, 16, 6),
    ("change", 0, 4, 8, 4), ("change", 4, 8, 12, 4), ("change", 8, 12, 16, 4),
    ("level", 0, 4, 0, 2), ("level", 4, 8, 0, 2), ("level", 8, 12, 0, 2), ("level", 12, 16, 0, 2),
)
WORD_BITS = sum(f[-1] for f in _FILTERS)
assert WORD_BITS == 32


@dataclass(frozen=True)
class AudioParams:
    """Tunables of the audio fingerprint (defaults documented in the TOML config).

    sample_rate: analysis rate, Hz (the decoder resamples to it).
    n_fft: STFT window, samples. hop_length: STFT hop, samples (1378 -> 8.0 frames/s).
    fmin, fmax: band folded into chroma, Hz.
    silence_db: frames below this level (dB relative to full scale) are silent.
    words_per_code, word_stride: a code packs this many 32-bit words taken
        every ``word_stride`` frames (8 x 32 = 256 bits).
    min_voiced_share: a code needs this share of non-silent frames.
    query_semitones: pitch rotations tried on uploads (semitones).
    query_tempos: tempo factors tried on uploads (upload speed / reference speed,
        pitch kept), each combined with every pitch rotation.
    query_speeds: speed factors tried on uploads (upload speed / reference
        speed, pitch scaled by the same factor as when resampled).
    """

    sample_rate: int = 11025
    n_fft: int = 4096
    hop_length: int = 1378
    fmin: float = 55.0
    fmax: float = 3520.0
    silence_db: float = -50.0
    words_per_code: int = 8
    word_stride: int = 4
    min_voiced_share: float = 0.75
    query_semitones: tuple[int, ...] = (0, -1, 1)
    query_tempos: tuple[float, ...] = (1.0, 0.95, 1.05, 0.9, 1.1)
    query_speeds: tuple[float, ...] = (0.9, 0.925, 0.975, 1.025, 1.1)

    @property
    def frame_seconds(self) -> float:
        return self.hop_length / self.sample_rate

    @property
    def code_bytes(self) -> int:
        return self.words_per_code * WORD_BITS // 8


@lru_cache(maxsize=16)
def _chroma_filters(sample_rate: float, n_fft: int, fmin: float, fmax: float) -> np.ndarray:
    """(12, 1 + n_fft // 2) float32: ``librosa.filters.chroma(sr, n_fft, tuning=0)`` (Ellis'
    chroma bank: Gaussian bumps per pitch class, L2-normalised per bin, weighted
    by an octave Gaussian centred 5 octaves above C0, C first), band-limited."""
    n_chroma = 12
    frequencies = np.linspace(0, sample_rate, n_fft, endpoint=False)[1:]
    frqbins = n_chroma * np.log2(frequencies / (440.0 / 16))
    frqbins = np.concatenate(([frqbins[0] - 1.5 * n_chroma], frqbins))  # 0 Hz: 1.5 octaves below bin 1
    binwidthbins = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1]))
    d = np.subtract.outer(frqbins, np.arange(0, n_chroma, dtype="d")).T
    half = np.round(float(n_chroma) / 2)
    d = np.remainder(d + half + 10 * n_chroma, n_chroma) - half
    wts = np.exp(-0.5 * (2 * d / np.tile(binwidthbins, (n_chroma, 1))) ** 2)
    length = np.sum(np.abs(wts) ** 2, axis=0, keepdims=True) ** (1.0 / 2)
    length[length < np.finfo(wts.dtype).tiny] = 1.0
    wts = wts / length
    wts *= np.tile(np.exp(-0.5 * (((frqbins / n_chroma - 5.0) / 2.0) ** 2)), (n_chroma, 1))
    wts = np.roll(wts, -3, axis=0)
    bank = np.ascontiguousarray(wts[:, : int(1 + n_fft / 2)], dtype=np.float32)
    freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    bank[:, (freqs < fmin) | (freqs > fmax)] = 0.0
    return bank


@lru_cache(maxsize=1)
def _projections() -> list[np.ndarray]:
    """Fixed pitch profiles per sub-window: centred, unit-norm, seeded once.

    The seed is part of the fingerprint format: changing it invalidates every
    stored audio code.
    """
    rng = np.random.default_rng(20261121)
    out = []
    for *_, bits in _FILTERS:
        m = rng.standard_normal((bits, 12))
        m -= m.mean(axis=1, keepdims=True)
        out.append(m / np.linalg.norm(m, axis=1, keepdims=True))
    return out


def _speed_geometry(params: AudioParams, speed: float) -> tuple[int, int, float]:
    """(n_fft, hop, filter-bank rate) that read audio played ``speed`` times
    faster as the reference's analysis reads the original: window and hop
    shrink by the speed (same reference seconds per frame) and the chroma bank
    is built for rate / speed, so upload frequency f is folded as f / speed."""
    if speed == 1.0:
        return params.n_fft, params.hop_length, float(params.sample_rate)
    n_fft = 2 * next_fast_len(int(round(params.n_fft / (2 * speed))), real=True)  # (a size the FFT is quick at)
    return n_fft, int(round(params.hop_length / speed)), params.sample_rate / speed


@lru_cache(maxsize=1)
def _blas_controller():
    """threadpoolctl's controller if it is installed (scikit-learn brings it), else None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _matmul_one_thread(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` with BLAS held to one thread; the values are the same (OpenBLAS
    splits the output between its threads, not the sums).

    The chroma product (12 x 2049 x frames) is big enough for OpenBLAS to wake
    its worker threads, which then busy-wait and are charged to this process:
    on a shared 2-core machine that cost +24 % CPU per upload and +32 % per
    reference, far more than the product itself (~0.5 ms). Without
    threadpoolctl this is a plain product.
    """
    controller = _blas_controller()
    if controller is None:
        return a @ b
    with controller.limit(limits=1, user_api="blas"):
        return a @ b


def chroma_frames(signal: np.ndarray, params: AudioParams, speed: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(12, T) L2-normalised chroma and (T,) bool mask of non-silent frames.

    Frame t covers samples starting at t * hop (centred STFT), hop the
    ``hop_length`` (divided by ``speed``, see ``_speed_geometry``). A signal
    shorter than one STFT window has no frames.
    """
    n_fft, hop, bank_rate = _speed_geometry(params, speed)
    if signal.size < n_fft:  # (librosa warns; no code needs fewer samples than a window anyway)
        return np.zeros((12, 0)), np.zeros(0, bool)
    spec = power_spectrogram(signal, n_fft, hop)
    level_db = frame_level_db(spec, n_fft)
    chroma = _matmul_one_thread(_chroma_filters(bank_rate, n_fft, params.fmin, params.fmax), spec)
    chroma = np.sqrt(chroma)  # magnitude-like: less dominated by the loudest partial
    norm = np.linalg.norm(chroma, axis=0, keepdims=True)
    chroma = chroma / np.maximum(norm, 1e-9)
    return chroma, level_db > params.silence_db


def chroma_words(chroma: np.ndarray) -> np.ndarray:
    """(T - 15,) uint32 words, one per 16-frame window of a (12, T) chroma."""
    t = chroma.shape[1]
    if t < WINDOW_FRAMES:
        return np.zeros(0, np.uint32)
    csum = np.concatenate([np.zeros((12, 1)), np.cumsum(chroma, axis=1)], axis=1)
    n = t - WINDOW_FRAMES + 1
    blocks: dict[tuple[int, int], np.ndarray] = {}  # the filters share sub-windows: each mean once

    def mean_block(a: int, b: int) -> np.ndarray:  # (12, n) mean chroma of frames [a, b), centred
        if (a, b) not in blocks:
            block = (csum[:, b:b + n] - csum[:, a:a + n]) / (b - a)
            blocks[a, b] = block - block.mean(axis=0, keepdims=True)
        return blocks[a, b]

    bits = []
    for (kind, a, b, c, _), proj in zip(_FILTERS, _projections()):
        response = mean_block(a, b) if kind == "level" else mean_block(b, c) - mean_block(a, b)
        bits.append(proj @ response > 0)
    all_bits = np.concatenate(bits, axis=0)  # (32, n), most significant bit first
    return np.packbits(all_bits, axis=0).T.copy().view(">u4").reshape(-1).astype(np.uint32)


def pack_codes(words: np.ndarray, params: AudioParams) -> np.ndarray:
    """(n, code_bytes) uint8: row i packs words i, i+s, ..., i+(k-1)s (big-endian)."""
    span = (params.words_per_code - 1) * params.word_stride
    n = len(words) - span
    if n <= 0:
        return np.zeros((0, params.code_bytes), np.uint8)
    idx = np.arange(n)[:, None] + params.word_stride * np.arange(params.words_per_code)[None, :]
    return words[idx].astype(">u4").view(np.uint8).reshape(n, params.code_bytes)


def _codes_from_chroma(chroma: np.ndarray, voiced: np.ndarray, params: AudioParams):
    """Codes, centre frame index (float) of each code, and the voiced mask per code."""
    words = chroma_words(chroma)
    codes = pack_codes(words, params)
    n = len(codes)
    span_frames = (params.words_per_code - 1) * params.word_stride + WINDOW_FRAMES
    if n == 0:
        return codes, np.zeros(0), np.zeros(0, bool)
    vsum = np.concatenate([[0], np.cumsum(voiced.astype(np.int64))])
    share = (vsum[np.arange(n) + span_frames] - vsum[np.arange(n)]) / span_frames
    centres = np.arange(n) + (span_frames - 1) / 2.0
    return codes, centres, share >= params.min_voiced_share


def _stretch(chroma: np.ndarray, voiced: np.ndarray, tempo: float,
             first: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample the chroma time axis of an upload played at ``tempo`` (upload
    speed / reference speed) to the reference's frame rate.

    Reference second T sits at upload second T / tempo, so output frame j
    reads input frame j / tempo: a faster upload (tempo > 1) is read more
    densely, a slower one more sparsely (linear interpolation between frames).
    first: the frame of the whole signal that column 0 is (a window of it): the
    output frames stay on the whole signal's grid (multiples of 1 / tempo).
    Returns chroma, voiced mask and the input frame position (column) of each output frame.
    """
    t = chroma.shape[1]
    if tempo == 1.0:
        return chroma, voiced, np.arange(t, dtype=np.float64)
    if first == 0:
        pos = np.arange(0, t - 1 + 1e-9, 1.0 / tempo) if t > 1 else np.zeros(t)
    else:  # the same products j * (1 / tempo) as arange forms, less ``first`` (exact for whole frames)
        j = np.arange(int(np.floor(first * tempo)), int(np.ceil((first + t - 1) * tempo)) + 2)
        pos = j * (1.0 / tempo) - first
        pos = pos[(pos >= 0) & (pos < t - 1 + 1e-9)]
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, t - 1)
    w = pos - lo
    out = chroma[:, lo] * (1 - w) + chroma[:, hi] * w
    out /= np.maximum(np.linalg.norm(out, axis=0, keepdims=True), 1e-9)
    return out, voiced[lo] & voiced[hi], pos


def _n_pitch_tempo(params: AudioParams) -> int:
    return len(params.query_semitones) * len(params.query_tempos)


def variant_tempo(variants: np.ndarray, params: AudioParams) -> np.ndarray:
    """Playback speed each query variant assumed (upload speed / reference speed):
    its tempo factor, or for a speed variant its speed."""
    v = np.asarray(variants, np.int64)
    n = _n_pitch_tempo(params)
    tempos = np.asarray(params.query_tempos, np.float64)[v % len(params.query_tempos)]
    if not params.query_speeds:
        return tempos
    speeds = np.asarray(params.query_speeds, np.float64)[np.clip(v - n, 0, len(params.query_speeds) - 1)]
    return np.where(v < n, tempos, speeds)


def variant_semitones(variants: np.ndarray, params: AudioParams) -> np.ndarray:
    """Pitch change (semitones, float) each query variant undid: its rotation,
    or for a speed variant the shift its speed implies (12 log2 speed)."""
    v = np.asarray(variants, np.int64)
    n = _n_pitch_tempo(params)
    rot = np.asarray(params.query_semitones, np.float64)[np.minimum(v, n - 1) // len(params.query_tempos)]
    if not params.query_speeds:
        return rot
    speeds = np.asarray(params.query_speeds, np.float64)[np.clip(v - n, 0, len(params.query_speeds) - 1)]
    return np.where(v < n, rot, 12.0 * np.log2(speeds))


def _grid(origin: int, hop: int) -> tuple[int, int]:
    """(samples to skip, frame index of the first frame) for a window of a signal that starts at
    sample ``origin`` of it: its STFT frames then fall on the whole signal's grid (multiples of ``hop``)."""
    lead = -origin % hop
    return lead, (origin + lead) // hop


def reference_audio_fingerprint(signal: np.ndarray, params: AudioParams, origin: int = 0,
                                at_end: bool = True) -> Fingerprint:
    """Codes of a registered reference's audio; silence yields no codes.

    Each code stands for one frame period about its centre, except the last
    (see ``_last_code_to_end``). origin, at_end: ``signal`` is a window of a
    longer one starting at its sample ``origin`` (times are those of the whole
    signal, its frames on its grid), ending it or not (see ``query_audio_fingerprint``).
    """
    lead, first = _grid(origin, params.hop_length)
    chroma, voiced = chroma_frames(signal[lead:], params)
    codes, centres, ok = _codes_from_chroma(chroma, voiced, params)
    fs = params.frame_seconds
    t = (centres[ok] + first) * fs
    fp = Fingerprint(AUDIO, codes[ok], t - fs / 2, t + fs / 2, np.zeros(int(ok.sum()), np.uint8))
    return _last_code_to_end(fp, (origin + len(signal)) / params.sample_rate) if at_end else fp


def _last_code_to_end(fp: Fingerprint, end_seconds: float) -> Fingerprint:
    """The last code stands for the rest of the audio (to ``end_seconds``): nothing after it can be
    matched, so a copy matched up to it may run on to the end (its window
    reaches half a window further, or silence follows). This tells the
    aligner where a work or an upload ends; the start needs no mark (0)."""
    if len(fp):
        last = int(np.argmax(fp.starts))
        fp.ends[last] = max(fp.ends[last], end_seconds)
    return fp


def query_audio_fingerprint(signal: np.ndarray, params: AudioParams, origin: int = 0,
                            at_end: bool = True) -> Fingerprint:
    """Codes of an upload's audio under every configured pitch, tempo and speed variant.

    Times are in upload seconds for every variant; variant index v encodes
    (semitone index, tempo index) as v = si * len(query_tempos) + ti, and speed
    variant k as v = len(query_semitones) * len(query_tempos) + k.

    origin: ``signal`` is a window of a longer signal, starting at its sample
        ``origin``: times are those of the whole signal and every STFT and tempo
        grid is the whole signal's, so codes whose span lies inside the window
        are the whole signal's codes (``fingerprint`` streams long files so).
    at_end: the window ends the signal (its last code then stands for the rest,
        see ``_last_code_to_end``).
    """
    lead, first = _grid(origin, params.hop_length)
    chroma, voiced = chroma_frames(signal[lead:], params)
    fs = params.frame_seconds
    half = fs / 2
    parts = []
    for si, semitones in enumerate(params.query_semitones):
        # an upload shifted up by k semitones is rolled down by k to line up
        rolled = np.roll(chroma, -semitones, axis=0) if semitones else chroma
        for ti, tempo in enumerate(params.query_tempos):
            stretched, ok_frames, pos = _stretch(rolled, voiced, tempo, first)
            codes, centres, ok = _codes_from_chroma(stretched, ok_frames, params)
            if not len(codes):
                continue
            # centre (fractional output frame) -> input frame -> upload seconds
            t = (np.interp(centres[ok], np.arange(len(pos)), pos) + first) * fs
            v = si * len(params.query_tempos) + ti
            parts.append(Fingerprint(AUDIO, codes[ok], t - half, t + half, np.full(int(ok.sum()), v, np.uint8)))
    for k, speed in enumerate(params.query_speeds):
        hop = _speed_geometry(params, speed)[1]
        skip, start = _grid(origin, hop)
        sped, sped_voiced = chroma_frames(signal[skip:], params, speed)
        codes, centres, ok = _codes_from_chroma(sped, sped_voiced, params)
        if not len(codes):
            continue
        t = (centres[ok] + start) * hop / params.sample_rate
        v = _n_pitch_tempo(params) + k
        parts.append(Fingerprint(AUDIO, codes[ok], t - half, t + half, np.full(int(ok.sum()), v, np.uint8)))
    if not parts:
        return Fingerprint.empty(AUDIO, params.code_bytes)
    fp = Fingerprint.concat(parts)
    return _last_code_to_end(fp, (origin + len(signal)) / params.sample_rate) if at_end else fp
