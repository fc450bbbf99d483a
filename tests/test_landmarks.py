"""Spectral-peak landmarks: reproduced by a noisy or voiced-over copy at the right offset,
not by unrelated music, and absent from silence and steady tones."""

from __future__ import annotations

import librosa
import numpy as np

import mediagen as mg
from fingerprint.landmarks import LandmarkParams, landmark_fingerprint, landmark_hashes
from mediagen import transforms as tf

P = LandmarkParams()
SR = 11025
STEP = P.frame_seconds(SR)


def _music(seed: int, seconds: float) -> np.ndarray:
    return librosa.resample(mg.synth_music(seed=seed, duration=seconds), orig_sr=22050, target_sr=SR)


def _offset_votes(query, ref) -> tuple[float, int, int]:
    """(best offset seconds, hits on it, hits on the next best offset) by exact hash lookup."""
    qh, rh = query.codes.view(">u4").ravel(), ref.codes.view(">u4").ravel()
    order = np.argsort(rh)
    lo, hi = np.searchsorted(rh[order], qh, "left"), np.searchsorted(rh[order], qh, "right")
    pairs = [(i, j) for i in range(len(qh)) for j in order[lo[i]:hi[i]]]
    if not pairs:
        return 0.0, 0, 0
    q, r = np.array(pairs).T
    offsets = np.round((ref.starts[r] - query.starts[q]) / STEP).astype(int)
    values, counts = np.unique(offsets, return_counts=True)
    ranked = np.argsort(counts)[::-1]
    return float(values[ranked[0]] * STEP), int(counts[ranked[0]]), int(counts[ranked[1]]) \
        if len(ranked) > 1 else 0


def test_a_copy_under_a_louder_voice_shares_landmarks_at_the_true_offset():
    song = _music(21, 30.0)
    ref = landmark_fingerprint(song, SR, P)
    assert len(ref) > 60 * 30  # about 85 landmarks per second of music (uploads: about 330)
    excerpt = song[int(8 * SR): int(28 * SR)]  # upload second 0 is song second 8
    voice = librosa.resample(mg.synth_speech(seed=4, duration=20.0, use_espeak=False), orig_sr=22050,
                             target_sr=SR)[: len(excerpt)]
    mixed = tf.mix_audio(mg.Media(None, 25.0, excerpt, SR), voice, snr_db=-6.0).audio  # music 6 dB under the voice
    offset, hits, runner_up = _offset_votes(landmark_fingerprint(mixed, SR, P, query=True), ref)
    assert abs(offset - 8.0) < 0.05
    # the synthetic songs repeat bars, so a repeat a few bars away also collects (true) hits
    assert hits >= 25 and hits >= 2 * runner_up, (hits, runner_up)


def test_unrelated_music_has_no_offset_that_stands_out():
    ref = landmark_fingerprint(_music(21, 30.0), SR, P)
    _, hits, runner_up = _offset_votes(landmark_fingerprint(_music(22, 20.0), SR, P, query=True), ref)
    assert hits < 15 and hits <= 3 * max(runner_up, 1)


def test_silence_and_a_steady_tone_give_almost_nothing():
    assert len(landmark_fingerprint(np.zeros(10 * SR, np.float32), SR, P)) == 0
    t = np.arange(30 * SR) / SR
    tone = (0.1 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    assert len(landmark_fingerprint(tone, SR, P)) < 2 * 30  # only where it starts and stops, not 180 a second


def test_hash_layout_packs_anchor_bin_frequency_step_and_time_step():
    hashes, anchors = landmark_hashes(np.array([100, 90]), np.array([50, 53]), P)
    assert anchors.tolist() == [50]
    h = int(hashes[0])
    assert (h >> 13, (h >> 6) & 127, h & 63) == (100, 90 - 100 + 64, 3)


def test_the_peaks_a_fingerprint_joins_are_recovered_from_its_codes():
    # (what the quote verifier compares: the reference's peaks from its stored landmarks)
    from fingerprint.landmarks import landmark_peaks, spectral_peaks

    song = _music(25, 12.0)
    bins, frames = spectral_peaks(song, SR, P)
    got = set(zip(*landmark_peaks(landmark_fingerprint(song, SR, P), P, SR)))
    kept = set(zip(bins.tolist(), frames.tolist()))
    assert got <= kept  # nothing invented
    assert len(got) >= 0.95 * len(kept)  # only a peak paired with nothing is lost


def test_quotes_chained_across_places_of_one_work_are_not_kept():
    """A short quote verifies at one place of the work (a chorus repeated later verifies over the
    same upload seconds: one is kept); unregistered music of the same style verifies in stretches
    that overlap each other at several places of the work: none is kept."""
    from match import ConstellationParams, VerifiedQuote, distinct_quotes

    def quote(u0, u1, r0, ll):
        return VerifiedQuote(u0, u1, r0, r0 + (u1 - u0), 1.0, 40, 150, 0.04, ll, 28, 0.3)

    params = ConstellationParams()
    chorus = distinct_quotes([(quote(10.0, 17.0, 20.0, 60.0), 1), (quote(10.2, 17.0, 50.2, 55.0), 1)], params)
    assert [(s.ref_start, s.upload_start) for s in chorus] == [(20.0, 10.0)]
    chained = [(quote(0.1, 12.3, 62.6, 83.0), 1), (quote(8.0, 24.5, 30.9, 67.0), 1), (quote(19.8, 29.9, 3.0, 51.0), 1),
               (quote(40.0, 47.0, 5.0, 45.0), 2)]
    assert [(s.ref_id, s.ref_start) for s in distinct_quotes(chained, params)] == [(2, 5.0)]
