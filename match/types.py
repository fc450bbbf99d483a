"""Records of the matching core: candidate hits in, segments and work matches out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

#: ``Segment.background`` / ``WorkMatch.background``: the match rests on a static background
#: partly (a person decides) or only (no evidence of a copy); "" where it does not.
BACKGROUND_PARTLY, BACKGROUND_ONLY = "partly", "only"


class GatheredRows:
    """Rows ``base[rows]`` of an array, gathered only when read (``np.asarray``): a hit keeps a
    row number (4 bytes) instead of a copy of its query code (32 bytes for video and audio).
    Indexing gives another ``GatheredRows`` (as a ``Candidates.subset`` needs)."""

    def __init__(self, base: np.ndarray, rows: np.ndarray):
        self.base, self.rows = base, rows

    def __getitem__(self, keep) -> "GatheredRows":
        return GatheredRows(self.base, self.rows[keep])

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.base.shape[1:])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        rows = self.base[self.rows]
        return rows if dtype is None else rows.astype(dtype)


@dataclass
class Candidates:
    """Index hits of one signal of one upload, one row per (query code, stored code) pair.

    q_start, q_end: upload seconds the query code stands for.
    q_group: an id shared by query codes that stand for the same upload instant
        (plain and mirrored hash of one frame; pitch/tempo variants of one window),
        so one instant votes once.
    ref_id: reference the stored code belongs to.
    r_start, r_end: reference seconds the stored code stands for (a collapsed run
        of near-identical frames spans more than one sampling period).
    distance: Hamming distance, bits.
    query_codes: the query code of each hit (tells moving from static content).
    speed_hint: playback speed the query variant assumed (a tempo-rescaled audio
        variant only lines up at that speed); NaN where any speed is allowed.
    altered: the hit came from a variant that undoes an alteration of the
        content (a pitch, tempo or speed change); such matches need more similarity.
    q_run_start, q_run_end: first and last code time (upload seconds) of the
        unbroken run of the upload's codes the hit's query code lies in: the
        upload could not be observed before (after) them, at its edges or
        where silence or flat pictures left no codes. -inf / inf: not known.
    variant: which rendition of the upload produced the query code (the
        fingerprint's ``variants``: plain, mirrored, upside down, a region...).
    """

    q_start: np.ndarray
    q_end: np.ndarray
    q_group: np.ndarray
    ref_id: np.ndarray
    r_start: np.ndarray
    r_end: np.ndarray
    distance: np.ndarray
    query_codes: np.ndarray | GatheredRows  # (n, bytes) uint8 code of the query row of each hit
    speed_hint: np.ndarray  # (n,) float, NaN = any speed
    altered: np.ndarray | None = None  # (n,) bool: the query variant assumed an alteration (pitch shift)
    q_run_start: np.ndarray | None = None  # (n,) float, -inf = not known
    q_run_end: np.ndarray | None = None  # (n,) float, inf = not known
    variant: np.ndarray | None = None  # (n,) int: the query code's rendition (``Fingerprint.variants``)

    def __post_init__(self) -> None:
        if self.altered is None:
            self.altered = np.zeros(len(self.q_start), bool)
        if self.q_run_start is None:
            self.q_run_start = np.full(len(self.q_start), -np.inf)
        if self.q_run_end is None:
            self.q_run_end = np.full(len(self.q_start), np.inf)
        if self.variant is None:
            self.variant = np.zeros(len(self.q_start), np.int64)

    def __len__(self) -> int:
        return len(self.q_start)

    def subset(self, keep: np.ndarray) -> "Candidates":
        return Candidates(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


@dataclass(frozen=True)
class Segment:
    """One stretch of an upload matching one stretch of a reference.

    Times in seconds; ``speed`` = reference seconds per upload second;
    ``similarity`` in [0, 1] (1 identical codes, 0 unrelated: 1 - mean distance
    / half the code bits); ``hits`` distinct upload instants that matched;
    ``clean_share`` the share of those instants matched within half the search
    radius (near 1 for a copy, near 0 when other sound is mixed over it);
    ``signal`` the fingerprint that found it (video, audio chroma, or landmark:
    spectral peaks, whose ``similarity`` is the share of instants that matched);
    ``stream`` the upload's stream it was found in ("video 1", "audio 0", or a
    rendition of an audio stream: "audio 0 side" for what its mix cancels,
    "audio 0 left" / "right"; streams are aligned apart, "+" joins those of a merged segment).
    ``rendition`` in words, the rendition of the upload most of its matched
    instants came from (video: "mirrored", "upside down", "left half"...;
    empty where the signal does not name them).
    ``specificity`` the evidence per instant (0..1) by which its line beats
    every line elsewhere on the work (``match.align.temporal_specificity``; 1
    where not measured) and ``background`` whether it rests on a static
    background: "" no, "partly", or "only" (nothing else: no evidence of a copy).
    """

    ref_id: int
    modality: str
    upload_start: float
    upload_end: float
    ref_start: float
    ref_end: float
    speed: float
    similarity: float
    mean_distance: float
    hits: int
    density: float
    changes: int
    clean_share: float = 1.0
    altered_share: float = 0.0
    signal: str = ""
    stream: str = ""
    rendition: str = ""
    specificity: float = 1.0
    background: str = ""

    @property
    def upload_seconds(self) -> float:
        return self.upload_end - self.upload_start

    @property
    def ref_seconds(self) -> float:
        return self.ref_end - self.ref_start

    @classmethod
    def from_dict(cls, d: dict) -> "Segment":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def as_dict(self) -> dict:
        d = asdict(self)
        for key in ("upload_start", "upload_end", "ref_start", "ref_end"):
            d[key] = round(d[key], 2)
        for key in ("speed", "similarity", "mean_distance", "density", "clean_share", "altered_share", "specificity"):
            d[key] = round(d[key], 3)
        if not d["rendition"]:
            del d["rendition"]
        return d


@dataclass(frozen=True)
class WorkMatch:
    """Everything one upload shares with one registered work.

    matched_seconds: union of matched stretches on the upload axis, seconds.
    upload_coverage: matched_seconds / upload duration, 0..1.
    reference_coverage: matched reference seconds / reference duration, 0..1
        (for a work with several reference files: the best-covered file).
    score: similarity weighted by matched seconds, 0..1 (landmark segments
        count only where no other signal found the work).
    signals: the fingerprints that found it ("video", "audio", "landmark").
    background: "only" when every segment rests only on a static background
        (the figures are then theirs: no evidence of a copy), "partly" when
        every segment rests on one partly, else "" (see ``Segment``).
    """

    work_id: str
    modality: str
    segments: tuple[Segment, ...]
    matched_seconds: float
    upload_coverage: float
    reference_coverage: float
    score: float
    modality_seconds: dict = field(default_factory=dict)
    method: str = "fingerprint"
    signals: tuple[str, ...] = ()
    background: str = ""

    @classmethod
    def from_dict(cls, d: dict) -> "WorkMatch":
        """The inverse of ``as_dict`` (figures as rounded there)."""
        return cls(d["work_id"], d["modality"], tuple(Segment.from_dict(s) for s in d["segments"]),
                   d["matched_seconds"], d["upload_coverage"], d["reference_coverage"], d["score"],
                   dict(d.get("modality_seconds", {})), d.get("method", "fingerprint"), tuple(d.get("signals", ())),
                   d.get("background", ""))

    def as_dict(self) -> dict:
        return {
            "work_id": self.work_id,
            "modality": self.modality,
            "method": self.method,
            "signals": list(self.signals),
            "background": self.background,
            "segments": [s.as_dict() for s in self.segments],
            "matched_seconds": round(self.matched_seconds, 2),
            "upload_coverage": round(self.upload_coverage, 4),
            "reference_coverage": round(self.reference_coverage, 4),
            "score": round(self.score, 4),
            "modality_seconds": {k: round(v, 2) for k, v in self.modality_seconds.items()},
        }
