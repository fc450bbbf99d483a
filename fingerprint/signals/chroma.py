"""The audio signal: 256-bit chroma codes (``fingerprint.audio``), the harmony of the music.

Robust to re-encoding and noise; uploads are also read under pitch, tempo and speed variants
(one STFT), searched in two stages (a sparse probe of each altered variant first) and aligned
with the speed each variant implies. Chroma on a steady tone is noise, so these codes alone never
make a reference usable (``matchable_alone``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..audio import (
    WINDOW_FRAMES, AudioParams, _last_code_to_end, probe_rows, query_audio_fingerprint, query_variants,
    reference_audio_fingerprint, variant_semitones, variant_tempo,
)
from ..checks import SHARE, between, each, spectrum_check
from ..spectrum import may_sound
from ..types import AUDIO
from .base import AUDIO_MODALITY, REFERENCE, Signal

# Query variants of the audio (one chroma reading each): their ids are bytes, and each costs fingerprinting
# and a probe search per upload (the default grids make 69).
MAX_AUDIO_VARIANTS = 160


def _variant_count(raw: dict) -> int:
    table = raw["fingerprint"]["audio"]
    names = {f.name for f in dataclasses.fields(AudioParams)}
    return len(query_variants(AudioParams(**{k: tuple(v) if isinstance(v, list) else v
                                             for k, v in table.items() if k in names})))


class ChromaSignal(Signal):
    name = AUDIO
    modality = AUDIO_MODALITY
    settings_type = AudioParams
    matchable_alone = False
    checks = {
        "fingerprint.audio.sample_rate": between(1000, 48000, "Hz"),
        "fingerprint.audio.n_fft": between(16, 65536, "samples"),
        "fingerprint.audio.hop_length": between(1, 65536, "samples"),
        "fingerprint.audio.fmin": between(0, 24000, "Hz", lo_open=True),
        "fingerprint.audio.fmax": between(0, 24000, "Hz", lo_open=True),
        "fingerprint.audio.silence_db": between(-200, 0, "dB relative to full scale"),
        "fingerprint.audio.words_per_code": between(1, 32),
        "fingerprint.audio.word_stride": between(1, 64, "chroma frames"),
        "fingerprint.audio.min_voiced_share": SHARE,
        "fingerprint.audio.query_semitones": each(-11, 11, "shift", "semitones"),
        "fingerprint.audio.query_tempo_range": ((lambda v: len(v) == 2 and 0.5 <= v[0] <= v[1] <= 2),
                                                "must be [lowest, highest], within 0.5-2"),
        "fingerprint.audio.query_tempo_step": between(0.005, 1, "a ratio"),
        "fingerprint.audio.query_speed_range": ((lambda v: len(v) == 2 and 0.5 <= v[0] <= v[1] <= 2),
                                                "must be [lowest, highest], within 0.5-2"),
        "fingerprint.audio.query_speed_step": between(0.05, 12, "semitones"),
        "fingerprint.audio.query_pitch_tempos": each(0.5, 2, "factor", ""),
        "fingerprint.audio.query_altered_stride": between(1, 64, "chroma frames"),
        "fingerprint.audio.query_probe_stride": between(1, 1000, "codes"),
        "fingerprint.audio.query_probe_min_hits": between(1, 1e6, "hits"),
    }
    cross_checks = (
        ("fingerprint.audio.fmax", lambda r: r["fingerprint"]["audio"]["fmax"] > r["fingerprint"]["audio"]["fmin"],
         "must be above fmin"),
        ("fingerprint.audio.fmax",
         lambda r: r["fingerprint"]["audio"]["fmax"] <= r["fingerprint"]["audio"]["sample_rate"] / 2,
         "must be at most half the sample_rate (the highest frequency it can hold)"),
        ("fingerprint.audio.hop_length",
         lambda r: r["fingerprint"]["audio"]["hop_length"] <= r["fingerprint"]["audio"]["n_fft"],
         "must be at most n_fft"),
        spectrum_check("audio"),
        ("fingerprint.audio.query_altered_stride", lambda r: r["fingerprint"]["audio"]["word_stride"]
         % r["fingerprint"]["audio"]["query_altered_stride"] == 0, "must divide word_stride"),
        ("fingerprint.audio", lambda r: _variant_count(r) <= MAX_AUDIO_VARIANTS,
         f"the query grids (query_semitones, query_tempo_*, query_speed_*, query_pitch_tempos) make more than "
         f"{MAX_AUDIO_VARIANTS} variants: use fewer or coarser ones"),
        ("match.audio.radius", lambda r: r["match"]["audio"]["radius"] <= 32 * r["fingerprint"]["audio"]["words_per_code"],
         "must be at most the audio code's bits (32 x words_per_code)"),
    )

    def code_bytes(self, params, role: str) -> int:
        return self.settings(params).code_bytes

    def query_period(self, params) -> float:
        return self.settings(params).frame_seconds

    def subkeys(self, codes: np.ndarray) -> np.ndarray | None:
        """One table: bits 1-4 of each of the code's 32-bit words (the filters whose bits flip least,
        8-9 % between an upload code and its reference code on the default corpus, against 16-19 %
        for the rest) as one 32-bit key. Whole words as keys found no candidate for a song under a
        voice at 0 dB (none of its 1 502 codes kept a word whole; 588 were within the radius)."""
        codes = np.asarray(codes, np.uint8)
        if codes.ndim != 2 or codes.shape[1] % 4 or codes.shape[1] // 4 > 8:
            return None
        words = np.ascontiguousarray(codes).view(">u4").astype(np.uint32)  # (n, words)
        nibbles = (words >> np.uint32(27)) & np.uint32(0xF)
        shifts = (4 * np.arange(words.shape[1])).astype(np.uint32)
        return np.bitwise_or.reduce(nibbles << shifts, axis=1).astype(np.uint32).reshape(-1, 1)

    def code_seconds(self, raw: dict) -> float:
        a = raw["fingerprint"]["audio"]
        return ((a["words_per_code"] - 1) * a["word_stride"] + WINDOW_FRAMES) * a["hop_length"] / a["sample_rate"]

    def fingerprint(self, media, role, period, params, shared):
        make = reference_audio_fingerprint if role == REFERENCE else query_audio_fingerprint
        return make(media.audio, self.settings(params))

    def audio_context(self, params) -> int:
        """A code spans ``(words_per_code - 1) * word_stride + 16`` frames about its time, read more
        sparsely by the slowest tempo or speed variant, plus an STFT window (one STFT serves every
        variant), and a second of margin."""
        a = self.settings(params)
        slowest = min(1.0, *(tempo for _, tempo in query_variants(a)))
        span = ((a.words_per_code - 1) * a.word_stride + WINDOW_FRAMES + 2) * a.hop_length / slowest
        return int(np.ceil(span / 2 + a.n_fft / slowest + a.sample_rate))

    def silent(self, samples, params) -> bool:
        a = self.settings(params)
        return not may_sound(samples, a.silence_db) and a.min_voiced_share > 0

    def audio_fingerprint(self, samples, rate, origin, role, params):
        make = reference_audio_fingerprint if role == REFERENCE else query_audio_fingerprint
        return make(samples, self.settings(params), origin, False)

    def at_stream_end(self, fp, end_seconds):
        return _last_code_to_end(fp, end_seconds)

    def search_plan(self, codes, params):
        a = self.settings(params)
        return probe_rows(codes, a), a.query_probe_min_hits

    def candidate_hints(self, codes, params):
        # variants that undo a change of pitch, tempo or speed: a song in a related key or played at
        # another tempo must not pass for an altered copy (altered_min_similarity)
        a = self.settings(params)
        hint = variant_tempo(codes.variants, a)
        return hint, (variant_semitones(codes.variants, a) != 0) | (hint != 1.0)
