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
tempo-changed or sped-up copy is found without decoding again, and from one
STFT: every variant is a chroma filter bank built for a (fractional) pitch
change, applied to the same power spectrogram, then a resampling of the chroma
time axis (``query_variants`` lists them):

- *pitch* (duration kept): the bank folds upload frequency f as f / 2^(k/12);
- *tempo* (duration changed, pitch kept, as a phase vocoder does): the chroma
  time axis rescaled to the reference's frame rate;
- *speed* (played faster or slower as a whole, pitch following, as resampling
  or a tape does): both, the pitch by 12 log2(speed) semitones. The pitch must
  be right to about a tenth of a semitone (measured: a 0.17-semitone error
  costs a clean copy 0.14 of similarity, a 4 % tempo error 0.07), so the speed
  grid is spaced in semitones, the tempo grid in per cent;
- *pitch and tempo* together (``query_pitch_tempos``).

Measured on resampled copies at 0.8-1.25x, the one-STFT speed variant reaches
0.96-0.98 similarity where an STFT re-read with a window and hop scaled by the
speed (what this module did before, one STFT per speed) reached 0.99; one STFT
instead of six cuts the audio stage's CPU by about two thirds.

Variants other than the plain one keep a code every ``query_altered_stride``
frames (each standing for that many frames: density rules stay right): an
altered copy must match closely (``altered_min_similarity``) and so hits at
nearly every code, and the index is searched in two stages
(``probe_rows``): the plain codes and every ``query_probe_stride``-th code of
each altered variant first, the rest of a variant only where those hit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

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
    query_semitones: pitch shifts (semitones) tried on uploads at their own
        tempo (duration kept); 0 is the plain reading, always tried.
    query_tempo_range, query_tempo_step: tempo factors (upload speed /
        reference speed, pitch kept) tried from the first to the second of the
        range, evenly spaced in log, neighbours at most ``query_tempo_step``
        (a ratio: 0.04 = 4 %) apart.
    query_speed_range, query_speed_step: speed factors (played faster or
        slower with the pitch following, as when resampled) over the range,
        neighbours at most ``query_speed_step`` semitones of pitch apart.
    query_pitch_tempos: tempos also tried together with every pitch shift.
    query_altered_stride: every variant but the plain one keeps a code every
        this many frames (must divide ``word_stride``).
    query_probe_stride, query_probe_min_hits: the codes of an altered variant
        are searched in full only where every ``query_probe_stride``-th of them
        (the probe) hit one reference at this many codes (see ``probe_rows``).
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
    query_semitones: tuple[float, ...] = (-3.0, -2.0, -1.0, 1.0, 2.0, 3.0)
    query_tempo_range: tuple[float, float] = (0.8, 1.25)
    query_tempo_step: float = 0.04
    query_speed_range: tuple[float, float] = (0.8, 1.25)
    query_speed_step: float = 0.3
    query_pitch_tempos: tuple[float, ...] = (0.9, 0.95, 1.05, 1.1)
    query_altered_stride: int = 2
    query_probe_stride: int = 8
    query_probe_min_hits: int = 2

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


@lru_cache(maxsize=256)
def _banded_filters(bank_rate: float, params: "AudioParams") -> tuple[np.ndarray, int, int]:
    """The chroma bank for ``bank_rate`` cut to its non-zero FFT bins [lo, hi)."""
    bank = _chroma_filters(bank_rate, params.n_fft, params.fmin, params.fmax)
    used = np.flatnonzero(bank.any(axis=0))
    lo, hi = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 1)
    return np.ascontiguousarray(bank[:, lo:hi]), lo, hi


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


@lru_cache(maxsize=1)
def _blas_controller():
    """threadpoolctl's controller if it is installed (scikit-learn brings it), else None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _matmul_one_thread(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` with BLAS held to one thread: the same sums whatever the
    process's BLAS threads (a threaded product may differ in the last bits).

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


def chroma_frames(signal: np.ndarray, params: AudioParams) -> tuple[np.ndarray, np.ndarray]:
    """(12, T) L2-normalised chroma and (T,) bool mask of non-silent frames.

    Frame t covers samples starting at t * hop_length (centred STFT). A signal
    shorter than one STFT window has no frames.
    """
    spec, voiced = _power_frames(signal, params)
    return _chroma_from_power(spec, params), voiced


def _power_frames(signal: np.ndarray, params: AudioParams) -> tuple[np.ndarray, np.ndarray]:
    """(1 + n_fft // 2, T) power spectrogram and (T,) non-silent mask (no frames if too short)."""
    if signal.size < params.n_fft:  # (librosa warns; no code needs fewer samples than a window anyway)
        return np.zeros((params.n_fft // 2 + 1, 0), np.float32), np.zeros(0, bool)
    spec = power_spectrogram(signal, params.n_fft, params.hop_length)
    return spec, frame_level_db(spec, params.n_fft) > params.silence_db


def _chroma_from_power(spec: np.ndarray, params: AudioParams, semitones: float = 0.0) -> np.ndarray:
    """(12, T) L2-normalised chroma of a power spectrogram whose pitch is ``semitones``
    above the reference's: the bank folds frequency f as f / 2^(semitones / 12)."""
    if spec.shape[1] == 0:
        return np.zeros((12, 0))
    if semitones:
        # only the bins the band folds (about 60 % of them): a shifted reading need not be
        # bit-identical to the references' (the plain one is, through the whole product)
        bank, lo, hi = _banded_filters(params.sample_rate / 2.0 ** (semitones / 12.0), params)
        chroma = _matmul_one_thread(spec.T[:, lo:hi], bank.T).T  # (frames x bins: the STFT's own layout)
    else:
        chroma = _matmul_one_thread(_chroma_filters(float(params.sample_rate), params.n_fft, params.fmin,
                                                    params.fmax), spec)
    chroma = np.sqrt(chroma)  # magnitude-like: less dominated by the loudest partial
    norm = np.linalg.norm(chroma, axis=0, keepdims=True)
    return chroma / np.maximum(norm, 1e-9)


def chroma_words(chroma: np.ndarray, step: int = 1) -> np.ndarray:
    """(ceil((T - 15) / step),) uint32 words of a (12, T) chroma: one per 16-frame
    window, for the windows starting at frames 0, step, 2 step, ..."""
    t = chroma.shape[1]
    if t < WINDOW_FRAMES:
        return np.zeros(0, np.uint32)
    csum = np.concatenate([np.zeros((12, 1)), np.cumsum(chroma, axis=1)], axis=1)
    n = t - WINDOW_FRAMES + 1
    blocks: dict[tuple[int, int], np.ndarray] = {}  # the filters share sub-windows: each mean once

    def mean_block(a: int, b: int) -> np.ndarray:  # (12, windows) mean chroma of frames [a, b), centred
        if (a, b) not in blocks:
            block = (csum[:, b:b + n:step] - csum[:, a:a + n:step]) / (b - a)
            blocks[a, b] = block - block.mean(axis=0, keepdims=True)
        return blocks[a, b]

    bits = []
    for (kind, a, b, c, _), proj in zip(_FILTERS, _projections()):
        response = mean_block(a, b) if kind == "level" else mean_block(b, c) - mean_block(a, b)
        bits.append(proj @ response > 0)
    all_bits = np.concatenate(bits, axis=0)  # (32, windows), most significant bit first
    return np.packbits(all_bits, axis=0).T.copy().view(">u4").reshape(-1).astype(np.uint32)


def pack_codes(words: np.ndarray, params: AudioParams, step: int = 1) -> np.ndarray:
    """(n, code_bytes) uint8: row i packs words i, i+s, ..., i+(k-1)s (big-endian),
    s = word_stride / step for words taken every ``step`` frames."""
    stride = params.word_stride // step
    span = (params.words_per_code - 1) * stride
    n = len(words) - span
    if n <= 0:
        return np.zeros((0, params.code_bytes), np.uint8)
    idx = np.arange(n)[:, None] + stride * np.arange(params.words_per_code)[None, :]
    return words[idx].astype(">u4").view(np.uint8).reshape(n, params.code_bytes)


def _codes_from_chroma(chroma: np.ndarray, voiced: np.ndarray, params: AudioParams, step: int = 1):
    """Codes starting every ``step`` frames, the centre frame index (float) of each
    code, and the voiced mask per code (``step`` must divide ``word_stride``)."""
    words = chroma_words(chroma, step)
    codes = pack_codes(words, params, step)
    n = len(codes)
    span_frames = (params.words_per_code - 1) * params.word_stride + WINDOW_FRAMES
    if n == 0:
        return codes, np.zeros(0), np.zeros(0, bool)
    first = step * np.arange(n)
    vsum = np.concatenate([[0], np.cumsum(voiced.astype(np.int64))])
    share = (vsum[first + span_frames] - vsum[first]) / span_frames
    centres = first + (span_frames - 1) / 2.0
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


def _log_grid(lo: float, hi: float, max_log_step: float) -> list[float]:
    """Factors from ``lo`` to ``hi`` evenly spaced in log, neighbours at most
    ``max_log_step`` apart in natural log; 1 (the plain reading) left out."""
    if hi <= lo:
        points = [lo]
    else:
        n = max(1, int(np.ceil(np.log(hi / lo) / max_log_step - 1e-9)))
        points = [lo * (hi / lo) ** (k / n) for k in range(n + 1)]
    return [float(p) for p in points if abs(p - 1.0) > 1e-9]


@lru_cache(maxsize=16)
def query_variants(params: AudioParams) -> tuple[tuple[float, float], ...]:
    """(semitones, tempo) of every query variant; the index is the variant id.

    semitones: the pitch change (float) the variant undoes; tempo: the
    playback speed it assumes (upload speed / reference speed, reference
    seconds per upload second). Variant 0 is the plain reading (0, 1); then
    the pitch shifts, the tempos, the speeds (pitch 12 log2 speed), the
    pitch shifts at each of ``query_pitch_tempos``. Duplicates are dropped.
    """
    shifts = [float(k) for k in params.query_semitones if k != 0]
    tempos = _log_grid(*params.query_tempo_range, np.log1p(params.query_tempo_step))
    speeds = _log_grid(*params.query_speed_range, params.query_speed_step * np.log(2) / 12)
    out = [(0.0, 1.0)]
    out += [(k, 1.0) for k in shifts]
    out += [(0.0, r) for r in tempos]
    out += [(12.0 * float(np.log2(s)), s) for s in speeds]
    out += [(k, float(r)) for k in shifts for r in params.query_pitch_tempos if r != 1.0]
    seen: dict[tuple[float, float], None] = {}
    for k, r in out:
        seen.setdefault((round(k, 9), round(r, 9)), None)
    return tuple(seen)


def variant_tempo(variants: np.ndarray, params: AudioParams) -> np.ndarray:
    """Playback speed each query variant assumed (upload speed / reference speed):
    its tempo factor, or for a speed variant its speed."""
    table = np.array([r for _, r in query_variants(params)], np.float64)
    return table[np.asarray(variants, np.int64)]


def variant_semitones(variants: np.ndarray, params: AudioParams) -> np.ndarray:
    """Pitch change (semitones, float) each query variant undid: its shift, or
    for a speed variant the shift its speed implies (12 log2 speed)."""
    table = np.array([k for k, _ in query_variants(params)], np.float64)
    return table[np.asarray(variants, np.int64)]


def probe_rows(fp: Fingerprint, params: AudioParams) -> np.ndarray:
    """(n,) bool: the query codes searched first, the plain variant's and every
    ``query_probe_stride``-th code (in time order) of each altered variant.

    An altered variant needs a close match (``altered_min_similarity``: codes a
    quarter of their bits apart or less), which hits at nearly every code, so a
    sparse probe finds any copy it could find and the rest of the variant is
    searched only when it does (``index.staged_search``); an upload that is no
    altered copy costs an eighth of the search (the default stride). A match through the plain
    reading (music under a voice) may hit at few codes: those are all searched.
    """
    v = np.asarray(fp.variants, np.int64)
    order = np.argsort(v, kind="stable")
    first = np.searchsorted(v[order], v[order], side="left")
    rank = np.empty(len(v), np.int64)
    rank[order] = np.arange(len(v)) - first
    return (v == 0) | (rank % max(1, params.query_probe_stride) == 0)


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
    """Codes of an upload's audio under every query variant (``query_variants``), from one STFT.

    Times are in upload seconds for every variant; ``variants`` holds each
    code's variant id. The plain variant has a code per frame, as references
    do; the others a code every ``query_altered_stride`` frames, each standing
    for that many frames.

    origin: ``signal`` is a window of a longer signal, starting at its sample
        ``origin``: times are those of the whole signal and every STFT, tempo
        and stride grid is the whole signal's, so codes whose span lies inside
        the window are the whole signal's codes (``fingerprint`` streams long files so).
    at_end: the window ends the signal (its last code then stands for the rest,
        see ``_last_code_to_end``).
    """
    lead, first = _grid(origin, params.hop_length)
    spec, voiced = _power_frames(signal[lead:], params)
    fs = params.frame_seconds
    parts = []
    by_shift: dict[float, list[tuple[int, float]]] = {}  # one chroma per pitch change, held one at a time
    for v, (semitones, tempo) in enumerate(query_variants(params)):
        by_shift.setdefault(semitones, []).append((v, tempo))
    for semitones, group in by_shift.items():
        chroma = _chroma_from_power(spec, params, semitones)
        for v, tempo in group:
            stretched, ok_frames, pos = _stretch(chroma, voiced, tempo, first)
            if not len(pos):
                continue
            step = 1 if v == 0 else params.query_altered_stride
            # codes start on the whole signal's output frames 0, step, 2 step...: column 0 is frame j0
            j0 = int(round((pos[0] + first) * tempo))
            skip = -j0 % step
            codes, centres, ok = _codes_from_chroma(stretched[:, skip:], ok_frames[skip:], params, step)
            if not len(codes):
                continue
            # centre (fractional output frame) -> input frame -> upload seconds
            t = (np.interp(centres[ok] + skip, np.arange(len(pos)), pos) + first) * fs
            half = 0.5 * step * fs / tempo  # (a code stands for ``step`` reference frames)
            parts.append(Fingerprint(AUDIO, codes[ok], t - half, t + half, np.full(int(ok.sum()), v, np.uint8)))
    if not parts:
        return Fingerprint.empty(AUDIO, params.code_bytes)
    fp = Fingerprint.concat(parts)  # (made grouped by pitch shift, one chroma at a time)
    fp = fp.subset(np.argsort(fp.variants, kind="stable"))  # by variant, then time
    return _last_code_to_end(fp, (origin + len(signal)) / params.sample_rate) if at_end else fp
