"""Records that cross module boundaries: fingerprints of one file and signal."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

VIDEO = "video"
AUDIO = "audio"        # chroma words: harmony, robust to re-encoding, noise, pitch and tempo variants
LANDMARK = "landmark"  # spectral-peak pairs: exact hashes that survive music under other sound
# Reframed pictures (a crop at an unknown offset, the work inside a border): shot-boundary timing
# finds candidate lines, the central window of the picture verifies them (fingerprint/cuts.py,
# fingerprint/window.py, match/verify.py).
CUT = "cut"        # shot-length ratio codes (exact 32-bit hashes), one row per scene cut
WINDOW = "window"  # 64-bit pHash of the picture's central window; for uploads, small frames
# The built-in signals' names, searched and reframing. What a signal is and does is its object in
# ``fingerprint.signals.REGISTRY``; code that must see every registered signal loops over that.
SIGNALS = (VIDEO, AUDIO, LANDMARK)
REFRAME_SIGNALS = (CUT, WINDOW)
# the two roles a file is fingerprinted in: a registered reference, a screened upload
REFERENCE = "reference"
QUERY = "query"

@dataclass(frozen=True)
class Fingerprint:
    """Fixed-width binary codes of one signal of one file, with their times.

    codes: (n, code_bytes) uint8; Hamming distance between rows is the
        dissimilarity (bits).
    starts, ends: (n,) float64 seconds of the media each code stands for. A
        reference code may stand for a run of near-identical frames, so
        ``ends - starts`` can exceed the sampling period.
    variants: (n,) uint8 which rendition produced the code (for video
        references: the centre-crop scale index; for queries: plain, mirrored,
        pitch or tempo variants). Explains a match; not used for scoring.
    """

    signal: str
    codes: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    variants: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.codes)
        if self.variants is None:
            object.__setattr__(self, "variants", np.zeros(n, np.uint8))
        if not (len(self.starts) == len(self.ends) == len(self.variants) == n):
            raise ValueError("codes, starts, ends and variants must have one row per code")

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def code_bits(self) -> int:
        return int(self.codes.shape[1]) * 8 if self.codes.ndim == 2 else 0

    @classmethod
    def empty(cls, signal: str, code_bytes: int) -> "Fingerprint":
        return cls(signal, np.zeros((0, code_bytes), np.uint8), np.zeros(0), np.zeros(0), np.zeros(0, np.uint8))

    def subset(self, keep: np.ndarray) -> "Fingerprint":
        return Fingerprint(self.signal, self.codes[keep], self.starts[keep], self.ends[keep], self.variants[keep])

    @staticmethod
    def concat(parts: list["Fingerprint"]) -> "Fingerprint":
        if not parts:
            raise ValueError("nothing to concatenate")
        return Fingerprint(
            parts[0].signal,
            np.concatenate([p.codes for p in parts]),
            np.concatenate([p.starts for p in parts]),
            np.concatenate([p.ends for p in parts]),
            np.concatenate([p.variants for p in parts]),
        )


def hamming_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Hamming distances (bits) between rows of two uint8 code arrays.

    The naive oracle the FAISS index is checked against; O(len(a)*len(b)).
    """
    x = np.bitwise_xor(a[:, None, :], b[None, :, :])
    return np.bitwise_count(x).sum(axis=2, dtype=np.int32)
