"""What a stereo mix hides: where the side (L - R) or the channels apart must be fingerprinted too.

The fingerprints read the mix of a stereo stream, the mid (L + R) / sqrt 2, as
FFmpeg's mono downmix does. One channel phase-inverted (L = -x, R = x) cancels
in the mid (about -59 dB after AAC) while a listener hears x from both
speakers; a copy hidden in the side under other content in the mid (L = x + y,
R = y - x), or two unrelated programmes on the two channels (L = x, R = y), are
heard but never cleanly in the mid. Ordinary stereo is mostly in the mid: the
channels correlate (a correlation meter sits at +0.3 to +0.9 on mastered
music) and the side is 6-20 dB below the mid.

``hidden_runs`` measures, per block of ``block_seconds``, the energies of mid
and side and the correlation of L and R (three dot products per sample:
cheap), and returns the stretches where each extra rendition is worth its
cost: ``side`` where the side carries nearly as much energy as the mid or more
(``side_ratio_db``), ``left`` and ``right`` where the channels are
uncorrelated (``apart_correlation``). Only stretches of at least
``min_seconds`` count; the caller fingerprints those stretches alone, so
ordinary stereo pays for the measurement only. Pure functions over arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SQRT_HALF = np.float32(np.sqrt(0.5))
SIDE, LEFT, RIGHT = "side", "left", "right"


@dataclass(frozen=True)
class StereoParams:
    """Tunables of the stereo analysis (TOML ``[fingerprint.stereo]``).

    block_seconds: blocks over which energies and correlation are measured.
    side_ratio_db: a block whose side energy is at least this many dB relative
        to the mid's gets the side fingerprinted (a phase-inverted channel:
        about +59 dB; ordinary stereo: -6 to -20 dB).
    apart_correlation: a block whose channels correlate less than this (in
        absolute value, both channels within ``apart_level_db`` of each other)
        gets each channel fingerprinted on its own.
    apart_level_db: channels further apart in level than this are a panned
        mix, not two programmes: the mid already holds the louder one.
    min_seconds: stretches (of blocks that call for a rendition, gaps of one
        block bridged) shorter than this are ignored: no code would match them.
    pad_seconds: a stretch is widened by this much either side (codes that
        straddle its edges hear part of it).
    silence_db: blocks quieter than this (dBFS, mean of both channels) are not judged.
    """

    block_seconds: float = 1.0
    side_ratio_db: float = -3.0
    apart_correlation: float = 0.25
    apart_level_db: float = 10.0
    min_seconds: float = 3.0
    pad_seconds: float = 3.0
    silence_db: float = -50.0


def mid_side(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mid, side) float32 of (2, n) stereo: (L + R) / sqrt 2 and (L - R) / sqrt 2 (same scale, so the
    mid is FFmpeg's mono downmix and levels compare)."""
    left, right = samples[0], samples[1]
    return (left + right) * SQRT_HALF, (left - right) * SQRT_HALF


def hidden_runs(samples: np.ndarray, sample_rate: int, params: StereoParams,
                origin: int = 0) -> dict[str, list[tuple[int, int]]]:
    """Sample ranges [start, end) (counted like ``origin``, the index of samples[:, 0]) where the
    side and the channels apart are worth fingerprinting; see the module doc.

    samples: (2, n) float32 left and right. Blocks lie on the whole signal's
    grid (multiples of ``block_seconds`` from sample 0), so windows of one
    signal judge the same blocks alike.
    """
    block = max(1, int(round(params.block_seconds * sample_rate)))
    skip = -origin % block
    n = (samples.shape[1] - skip) // block
    out: dict[str, list[tuple[int, int]]] = {SIDE: [], LEFT: [], RIGHT: []}
    if n <= 0:
        return out
    x = samples[:, skip: skip + n * block].reshape(2, n, block).astype(np.float64)
    e_left = np.einsum("ij,ij->i", x[0], x[0])
    e_right = np.einsum("ij,ij->i", x[1], x[1])
    cross = np.einsum("ij,ij->i", x[0], x[1])
    total = e_left + e_right
    loud = total / (2 * block) >= 0.5 * 10 ** (params.silence_db / 10)  # a full-scale sine is 0 dBFS
    e_mid, e_side = (total + 2 * cross) / 2, (total - 2 * cross) / 2
    side = loud & (e_side >= e_mid * 10 ** (params.side_ratio_db / 10))
    near = np.minimum(e_left, e_right) >= np.maximum(e_left, e_right) * 10 ** (-params.apart_level_db / 10)
    apart = loud & near & (np.abs(cross) < params.apart_correlation * np.sqrt(e_left * e_right))
    first = origin + skip
    pad = int(round(params.pad_seconds * sample_rate))
    end = origin + samples.shape[1]
    for name, mask in ((SIDE, side), (LEFT, apart), (RIGHT, apart)):
        for a, b in _runs(mask, max(1, int(np.ceil(params.min_seconds / params.block_seconds)))):
            out[name].append((max(origin, first + a * block - pad), min(end, first + b * block + pad)))
    return out


def _runs(mask: np.ndarray, min_blocks: int) -> list[tuple[int, int]]:
    """[a, b) block ranges of True runs (gaps of one block bridged) with at least ``min_blocks`` Trues."""
    on = np.flatnonzero(mask)
    if on.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(on) > 2)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [on.size - 1]])
    return [(int(on[s]), int(on[e]) + 1) for s, e in zip(starts, ends) if e - s + 1 >= min_blocks]
