"""Filler references that behave like real codes, for the catalog-scale benchmark.

Uniform random codes are far from everything: they make an exact search look accurate and
cheap and an approximate one look broken (docs/research/catalog-scale/README.md, section 5).
So filler is derived from *real* fingerprints of **unregistered** generated media:

1. A **pool** (:func:`build_pool`): ``mediagen`` films (picture + score) and songs made with
   seeds the corpus never uses (:data:`POOL_SEED_BASE` and up), encoded and fingerprinted once
   as references with :func:`fingerprint.fingerprint_file`; the fingerprints are cached in the
   work folder (one ``.npz`` per item), the media deleted.
2. **Filler** (:func:`synthesise`): each filler reference re-edits one pool item without decoding
   anything, with transforms that keep the bit statistics and the temporal structure:

   - the timeline is cut into segments at the item's scene cuts (long shots and songs into
     3-10 s phrases) and the segments are **reordered** (every signal moves with its segment, so
     runs of near-identical codes stay together and new cuts sit at segment boundaries);
   - the whole timeline is **time-scaled** by a factor in ``speed`` (0.85-1.15): landmark pairs
     are rebuilt from the item's spectral peaks at the new frames (new time deltas, consistently
     over the reference), cut codes are rebuilt from the moved cut times;
   - the landmark peaks move by a few frequency bins (a pitch shift of the peaks);
   - the chroma is read **rotated by -3..+3 semitones** (the harmony transposed: codes computed
     from the pool item's 12 pitch classes rolled, once, when the pool is made);
   - the pHash bit grids of the picture (256-bit) and of the central window (64-bit) get one of
     the 8 **dihedral transforms** (transpose is exact for pHash; flips use the sign rule on odd
     DCT rows / columns, which the research note found to keep the distance distribution);
   - 1-3 % **bit noise** on the picture, window and chroma codes, so no two fillers are equal.

   Bit permutations and XOR masks are NOT used: they destroy the joint bit structure and are as
   far from everything as uniform random codes (measured in the note; :func:`distance_check`
   reports the uniform baseline beside every run).

Filler must never come from registered works: the upload renditions (mirror, upside down,
rotations) would match a registered work's flipped codes, and noise would make copies of it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Seeds of pool media: the corpus uses seeds below 100_000 * (seed + 1) for corpus seeds < 70
#: (references 1000*seed+i, uploads 100_000*seed + 1000*row + k + small offsets).
POOL_SEED_BASE = 7_000_000
#: Bump when the pool recipe changes: a cached pool of another version is rebuilt.
POOL_VERSION = 2  # 2: chroma rotated by semitones
#: Semitone rotations of the chroma computed for every pool item (0 is the stored reading).
ROTATIONS = (-3, -2, -1, 1, 2, 3)

FILM, SONG = "film", "song"


@dataclass(frozen=True)
class PoolItem:
    """One unregistered generated work's reference fingerprints (signal -> Fingerprint)."""

    name: str
    kind: str  # FILM or SONG
    seed: int
    duration: float  # seconds
    fingerprints: dict  # signal name -> fingerprint.Fingerprint (possibly empty)
    # semitones -> (n, code_bytes) chroma codes of the item's music with its chroma rotated by
    # that many semitones, row for row with ``fingerprints["audio"]`` (same times)
    audio_rotations: dict = None  # type: ignore[assignment]

    @property
    def has_video(self) -> bool:
        return len(self.fingerprints.get("video", ())) > 0


@dataclass(frozen=True)
class FillerSettings:
    """How filler is made from the pool (defaults are the benchmark's)."""

    noise: tuple[float, float] = (0.01, 0.03)  # share of bits flipped per code (picture, window, chroma)
    speed: tuple[float, float] = (0.85, 1.15)  # time-scale factor of the whole timeline
    bin_shift: int = 3  # landmark peaks move by up to this many frequency bins
    phrase_seconds: tuple[float, float] = (3.0, 10.0)  # segment length where there is no cut
    dihedral: bool = True  # transpose / flip the pHash bit grids
    rotate_chroma: bool = True  # read the chroma rotated by one of ``ROTATIONS`` semitones (or not)


# --------------------------------------------------------------------------- the pool


def _media(kind: str, seed: int, seconds: float):
    import mediagen as mg

    from .corpus import FPS, SIZE, SR

    if kind == FILM:
        return mg.synth_work(seed, seconds, size=SIZE, fps=FPS, sample_rate=SR), ".mp4"
    return mg.Media(None, FPS, mg.synth_music(seed, seconds, sample_rate=SR), SR), ".m4a"


def _save_item(path: Path, item: PoolItem) -> None:
    arrays = {}
    for signal, fp in item.fingerprints.items():
        arrays[f"{signal}.codes"] = fp.codes
        arrays[f"{signal}.starts"] = fp.starts
        arrays[f"{signal}.ends"] = fp.ends
        arrays[f"{signal}.variants"] = fp.variants
    for k, codes in (item.audio_rotations or {}).items():
        arrays[f"audio.rot{k}"] = codes
    meta = {"name": item.name, "kind": item.kind, "seed": item.seed, "duration": item.duration,
            "signals": list(item.fingerprints), "rotations": list(item.audio_rotations or {})}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
    tmp.replace(path)


def _load_item(path: Path) -> PoolItem:
    from fingerprint import Fingerprint

    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        fps = {s: Fingerprint(s, z[f"{s}.codes"], z[f"{s}.starts"], z[f"{s}.ends"], z[f"{s}.variants"])
               for s in meta["signals"]}
        rotations = {int(k): z[f"audio.rot{k}"] for k in meta["rotations"]}
    return PoolItem(meta["name"], meta["kind"], meta["seed"], meta["duration"], fps, rotations)


def rotated_chroma_codes(audio: np.ndarray, sample_rate: int, fp, params, semitones=ROTATIONS) -> dict:
    """semitones -> chroma codes of ``audio`` (mono, ``sample_rate`` Hz) with its 12 pitch classes
    rotated by that many semitones (the harmony transposed), row for row with the reference chroma
    fingerprint ``fp`` of the same music (its times say which code window each row is)."""
    from math import gcd

    from scipy.signal import resample_poly

    from fingerprint.audio import WINDOW_FRAMES, chroma_frames, chroma_words, pack_codes

    ap = params.audio
    if len(fp) == 0:
        return {}
    g = gcd(int(ap.sample_rate), int(sample_rate))
    x = resample_poly(audio, ap.sample_rate // g, sample_rate // g).astype(np.float32)
    chroma, _ = chroma_frames(x, ap)
    span = (ap.words_per_code - 1) * ap.word_stride + WINDOW_FRAMES
    rows = np.rint(fp.starts / ap.frame_seconds + 0.5 - (span - 1) / 2.0).astype(np.int64)
    out = {}
    for k in semitones:
        codes = pack_codes(chroma_words(np.roll(chroma, k, axis=0)), ap)
        if len(codes) == 0:
            return {}
        out[int(k)] = codes[np.clip(rows, 0, len(codes) - 1)]
    return out


def make_pool_item(kind: str, index: int, seconds: float, params, scratch: Path) -> PoolItem:
    """Generate one unregistered work (seed ``POOL_SEED_BASE + index``), encode it, fingerprint it
    as a reference and return its fingerprints (the media file is deleted)."""
    from fingerprint import REFERENCE, fingerprint_file
    from mediagen import write_media

    seed = POOL_SEED_BASE + (0 if kind == FILM else 50_000) + index
    media, suffix = _media(kind, seed, seconds)
    path = scratch / f"{kind}{index:04d}{suffix}"
    write_media(media, path)
    try:
        ff = fingerprint_file(path, REFERENCE, params)
    finally:
        path.unlink(missing_ok=True)
    rotations = rotated_chroma_codes(media.audio, media.sample_rate, ff.signals["audio"], params)
    return PoolItem(f"{kind}{index:04d}", kind, seed, float(ff.duration), dict(ff.signals), rotations)


def pool_folder(workdir: Path, params) -> Path:
    from fingerprint import format_id

    return Path(workdir) / f"filler-pool-v{POOL_VERSION}-{format_id(params)}"


def build_pool(workdir: Path, n_films: int, n_songs: int, seconds: float, params,
               progress=print) -> list[PoolItem]:
    """The pool of ``n_films`` films and ``n_songs`` songs of ``seconds`` each, from the cache in
    ``workdir`` where present (items are cached one by one: an interrupted build resumes)."""
    folder = pool_folder(workdir, params)
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    scratch = Path(tempfile.mkdtemp(prefix="pool-", dir=folder))
    try:
        for kind, count in ((FILM, n_films), (SONG, n_songs)):
            for i in range(count):
                path = folder / f"{kind}{i:04d}-{seconds:g}s.npz"
                if not path.exists():
                    item = make_pool_item(kind, i, seconds, params, scratch)
                    _save_item(path, item)
                    if progress:
                        progress(f"filler pool: {item.name} ({item.duration:.0f} s)")
                items.append(_load_item(path))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return items


# --------------------------------------------------------------------------- transforms


def dihedral_bits(codes: np.ndarray, kind: int) -> np.ndarray:
    """pHash codes (n, side*side/8 bytes, the (v, u) DCT sign grid row-major) under dihedral
    transform ``kind`` 0-7: bit 0 transposes the grid (exact: the pHash of the transposed frame),
    bit 1 mirrors (odd-u coefficients change sign: those bits flip), bit 2 flips vertically
    (odd-v coefficients). The DC bit is never touched (u = v = 0 is even)."""
    n, width = codes.shape
    side = int(round(np.sqrt(width * 8)))
    bits = np.unpackbits(codes, axis=1).reshape(n, side, side)
    odd = (np.arange(side) % 2 == 1)
    if kind & 1:
        bits = bits.transpose(0, 2, 1)
    if kind & 2:
        bits = bits ^ odd[None, None, :]
    if kind & 4:
        bits = bits ^ odd[None, :, None]
    return np.packbits(bits.reshape(n, side * side), axis=1)


def flip_bits(codes: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """``codes`` with each bit flipped with probability ``share``."""
    if share <= 0 or codes.size == 0:
        return codes
    bits = np.unpackbits(codes, axis=1)
    return np.packbits(bits ^ (rng.random(bits.shape) < share), axis=1)


def _segments(item: PoolItem, settings: FillerSettings, rng: np.random.Generator) -> np.ndarray:
    """Segment start times (seconds, sorted, first 0): the item's scene cuts, long stretches split
    into phrases of ``phrase_seconds``."""
    from fingerprint.cuts import cut_times

    cuts = cut_times(item.fingerprints["cut"]) if len(item.fingerprints.get("cut", ())) else np.zeros(0)
    marks = np.unique(np.concatenate([[0.0], cuts[(cuts > 0) & (cuts < item.duration)], [item.duration]]))
    lo, hi = settings.phrase_seconds
    starts = []
    for a, b in zip(marks[:-1], marks[1:]):
        t = a
        while t < b:
            starts.append(t)
            t += rng.uniform(lo, hi)
    return np.asarray(starts)


@dataclass(frozen=True)
class _Retime:
    """A reordering of segments plus a time scale: old seconds -> new seconds."""

    seg_starts: np.ndarray  # old start of each segment
    seg_ends: np.ndarray
    new_starts: np.ndarray  # new start of each segment (after scaling)
    speed: float

    def segment_of(self, t: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.seg_starts, t, side="right") - 1, 0, len(self.seg_starts) - 1)

    def times(self, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seg = self.segment_of(starts)
        offset = self.new_starts[seg] - self.seg_starts[seg] / self.speed
        new_ends = np.minimum(ends, self.seg_ends[seg])
        return starts / self.speed + offset, np.maximum(new_ends / self.speed + offset, starts / self.speed + offset)


def _retime(item: PoolItem, settings: FillerSettings, rng: np.random.Generator) -> _Retime:
    seg_starts = _segments(item, settings, rng)
    seg_ends = np.append(seg_starts[1:], item.duration)
    speed = float(rng.uniform(*settings.speed))
    order = rng.permutation(len(seg_starts))
    lengths = (seg_ends - seg_starts)[order] / speed
    new = np.empty(len(seg_starts))
    new[order] = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    return _Retime(seg_starts, seg_ends, new, speed)


def _moved(fp, retime: _Retime):
    """Fingerprint rows at their new times, sorted by (variant, start) as references store them."""
    from fingerprint import Fingerprint

    if len(fp) == 0:
        return fp
    starts, ends = retime.times(fp.starts, fp.ends)
    order = np.lexsort((starts, fp.variants))
    return Fingerprint(fp.signal, fp.codes[order], starts[order], ends[order], fp.variants[order])


def _landmarks(fp, retime: _Retime, shift: int, params):
    """Landmark pairs rebuilt from the item's peaks moved in time (segments, speed) and frequency."""
    from fingerprint import Fingerprint
    from fingerprint.landmarks import CODE_BYTES, landmark_hashes, landmark_peaks

    lp, rate = params.landmark, params.audio.sample_rate
    if len(fp) == 0:
        return fp
    step = lp.frame_seconds(rate)
    bins, frames = landmark_peaks(fp, lp, rate)
    t = frames * step
    new_t, _ = retime.times(t, t)
    new_frames = np.rint(new_t / step).astype(np.int64)
    new_bins = bins + shift
    keep = (new_bins >= lp.min_bin) & (new_bins <= lp.max_bin)
    new_frames, new_bins = new_frames[keep], new_bins[keep]
    order = np.lexsort((new_bins, new_frames))
    hashes, anchors = landmark_hashes(new_bins[order], new_frames[order], lp)
    start = anchors * step
    codes = hashes.astype(">u4").view(np.uint8).reshape(-1, CODE_BYTES)
    return Fingerprint(fp.signal, codes, start, start + step)


def _cuts(fp, retime: _Retime, params):
    from fingerprint.cuts import cut_codes, cut_times

    if len(fp) == 0:
        return fp
    t = cut_times(fp)
    new_t, _ = retime.times(t, t)
    return cut_codes(np.sort(new_t), params.cut, query=False)


def filler_fingerprints(item: PoolItem, rng: np.random.Generator, params,
                        settings: FillerSettings = FillerSettings()) -> tuple[dict, float]:
    """One filler reference made from ``item``: (signal -> Fingerprint, duration seconds)."""
    from fingerprint import Fingerprint

    retime = _retime(item, settings, rng)
    kind = int(rng.integers(8)) if settings.dihedral else 0
    noise = float(rng.uniform(*settings.noise))
    shift = int(rng.integers(-settings.bin_shift, settings.bin_shift + 1))
    readings = {0: None, **(item.audio_rotations or {})} if settings.rotate_chroma else {0: None}
    semitones = list(readings)[int(rng.integers(len(readings)))]
    out = {}
    for signal, fp in item.fingerprints.items():
        if signal == "landmark":
            out[signal] = _landmarks(fp, retime, shift, params)
        elif signal == "cut":
            out[signal] = _cuts(fp, retime, params)
        else:
            if signal == "audio" and readings[semitones] is not None:
                fp = Fingerprint(signal, readings[semitones], fp.starts, fp.ends, fp.variants)
            moved = _moved(fp, retime)
            codes = moved.codes
            if len(moved) and signal in ("video", "window"):
                codes = dihedral_bits(codes, kind)
            if len(moved) and signal in ("video", "window", "audio"):
                codes = flip_bits(codes, noise, rng)
            out[signal] = Fingerprint(signal, codes, moved.starts, moved.ends, moved.variants)
    return out, item.duration / retime.speed


def synthesise(pool: list[PoolItem], seconds: float, seed: int, params,
               settings: FillerSettings = FillerSettings(), chunk: int = 200) -> Iterator[list]:
    """Filler references (``catalog.NewReference``) for ``seconds`` of reference media, in chunks of
    ``chunk`` references (memory follows the chunk); films and songs alternate in the pool's
    proportion. Deterministic for (pool, seconds, seed)."""
    from index import NewReference

    rng = np.random.default_rng([seed, 0xF111])
    made, n, batch = 0.0, 0, []
    while made < seconds:
        item = pool[int(rng.integers(len(pool)))]
        fps, duration = filler_fingerprints(item, rng, params, settings)
        ident = hashlib.sha256(f"filler {seed} {n} {item.name}".encode()).hexdigest()
        batch.append(NewReference(path=f"filler://{seed}/{n}/{item.name}", sha256=ident, md5=ident[:32], size=0,
                                  duration=duration, has_video=item.has_video,
                                  has_audio=len(fps.get("audio", ())) > 0,
                                  fingerprints=tuple(fps.values())))
        made += duration
        n += 1
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


# --------------------------------------------------------------------------- the self-check


def nearest_distances(queries: np.ndarray, stored: np.ndarray, block: int = 4096) -> np.ndarray:
    """Nearest-neighbour Hamming distance (bits) of every query code among ``stored`` (exact)."""
    import faiss

    if len(stored) == 0 or len(queries) == 0:
        return np.zeros(0, np.int32)
    index = faiss.IndexBinaryFlat(stored.shape[1] * 8)
    for i in range(0, len(stored), block * 64):
        index.add(np.ascontiguousarray(stored[i:i + block * 64]))
    d, _ = index.search(np.ascontiguousarray(queries), 1)
    return d[:, 0].astype(np.int32)


def _summary(d: np.ndarray, radius: int) -> dict:
    if len(d) == 0:
        return {"n": 0}
    return {"n": int(len(d)), "p5": float(np.percentile(d, 5)), "p50": float(np.percentile(d, 50)),
            "p95": float(np.percentile(d, 95)), "within_radius": round(float(np.mean(d < radius)), 4)}


def distance_check(query_codes: list[tuple[str, np.ndarray]], real: list[tuple[str, np.ndarray]],
                   filler: np.ndarray, radius: int, seed: int = 0, max_queries: int = 300) -> dict:
    """Nearest-neighbour distances of upload codes to three catalogs of equal size:

    - ``unrelated_real``: the real references of other works than the upload's (the target);
    - ``filler``: filler codes (a random sample of the same size);
    - ``uniform_random``: uniform random codes of the same size (the trap to avoid).

    query_codes: (true work id, codes) per upload; real: (work id, codes) per reference.
    ``within_radius`` is the share of upload codes whose nearest code is under ``radius``
    (FAISS's strict range). Returns per catalog p5/p50/p95 and that share.
    """
    rng = np.random.default_rng(seed)
    out = {"unrelated_real": [], "filler": [], "uniform_random": []}
    for work, codes in query_codes:
        others = [c for w, c in real if w != work and len(c)]
        if not others or len(codes) == 0 or len(filler) == 0:
            continue
        unrelated = np.concatenate(others)
        q = codes[rng.choice(len(codes), min(max_queries, len(codes)), replace=False)]
        n = min(len(unrelated), len(filler))
        out["unrelated_real"].append(nearest_distances(q, unrelated[rng.choice(len(unrelated), n, replace=False)]))
        out["filler"].append(nearest_distances(q, filler[rng.choice(len(filler), n, replace=False)]))
        out["uniform_random"].append(nearest_distances(q, rng.integers(0, 256, (n, filler.shape[1]), np.uint8)))
    return {k: _summary(np.concatenate(v) if v else np.zeros(0, np.int32), radius) for k, v in out.items()}
