"""The index, one per signal, derived from the catalog: FAISS binary indexes for the codes
matched within a Hamming radius, sorted posting tables (``PostingIndex``) for exact-match hashes.

Index construction (``build_index``) is separate from search
(``SignalIndex.range_search``). Ids pack the reference and the code's row:
``id = ref_id << 32 | row``, so removing a reference is one id range and every
hit maps back to (reference, seconds) through the ``times`` table saved next
to the index. Files are written to a temporary name, fsynced and renamed, the
manifest last; an index whose manifest generation differs from the catalog's
is stale and is rebuilt from the catalog.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from fingerprint import REGISTRY, Fingerprint, hamming_matrix
from match.align import distinct_counts

from .catalog import Catalog

ROW_BITS = 32
ROW_MASK = (1 << ROW_BITS) - 1
EXACT_FORMAT = "sorted-postings-1"  # the saved form of exact-match signals (``PostingIndex``)


@dataclass(frozen=True)
class IndexParams:
    """Index type and its knobs (TOML ``[index]``).

    kind: "flat" (exact, IndexBinaryFlat behind an IDMap) or "ivf"
        (IndexBinaryIVF: inverted lists over ``nlist`` centroids, ``nprobe``
        lists searched; approximate, for large catalogs).
    ivf_min_train_per_list: below this many codes per list the IVF cannot be
        trained well and the exact index is used instead.
    parallel_min_work: a search comparing fewer code pairs than this (query
        codes x stored codes searched) runs on one thread (see ``range_search``).
    search_block_rows: query codes searched per FAISS call: a long upload's hits
        are collected block by block into compact arrays, so FAISS's own result
        buffers (and their copies into numpy) follow the block, not the upload.
    stale_temp_seconds: a temporary file of an index write (``<file>.<random>.tmp``)
        older than this is what a crashed writer left, and is removed on load;
        younger ones may be another process's write in progress.
    """

    kind: str = "flat"
    nlist: int = 1024
    nprobe: int = 16
    ivf_min_train_per_list: int = 39
    parallel_min_work: int = 1_000_000_000
    search_block_rows: int = 16384
    stale_temp_seconds: float = 3600.0


def make_ids(ref_id: int, n: int) -> np.ndarray:
    return (np.int64(ref_id) << ROW_BITS) + np.arange(n, dtype=np.int64)


def split_ids(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ref_id, row) arrays of packed ids."""
    ids = np.asarray(ids, np.int64)
    return ids >> ROW_BITS, ids & ROW_MASK


@dataclass
class Hits:
    """Range-search results flattened: hit k is query row ``query[k]`` near stored code ``ids[k]``.

    distance: Hamming distance, bits.
    """

    query: np.ndarray
    ids: np.ndarray
    distance: np.ndarray

    @classmethod
    def empty(cls) -> "Hits":
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32))

    def sorted(self) -> "Hits":
        order = np.lexsort((self.ids, self.query))
        return Hits(self.query[order], self.ids[order], self.distance[order])


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, index) of every integer in the half-open ranges [lo[i], hi[i]): ``owner`` is i.
    Vectorised: no loop over ranges."""
    counts = np.maximum(np.asarray(hi, np.int64) - np.asarray(lo, np.int64), 0)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    if total == 0:
        return owner, np.zeros(0, np.int64)
    first = np.cumsum(counts) - counts
    index = np.arange(total, dtype=np.int64) - np.repeat(first, counts) + np.repeat(np.asarray(lo, np.int64), counts)
    return owner, index


class PostingIndex:
    """Exact-match codes (landmark and cut hashes, 32 bits) as a sorted posting table: the codes as
    uint32 ``keys`` in ascending order and the packed id of each (``ids``, int64), 12 bytes a code on
    disk and in memory (a FAISS ``IndexBinaryHash`` took ~25 on disk and ~160 in memory). A query
    key's postings are one ``np.searchsorted`` range; codes of equal key keep the order they were
    added in (a reference's rows ascending).

    It answers ``range_search`` as FAISS does (lims, distances, ids), so ``range_search`` and its
    blocks work unchanged; only radius 0 is meaningful (radius here is FAISS's exclusive bound:
    every posting found has distance 0). Saved as two ``.npy`` files, memory-mapped on load
    (read-only pages shared by every process; an addition or removal makes new arrays).
    """

    CODE_BYTES = 4

    def __init__(self, keys: np.ndarray | None = None, ids: np.ndarray | None = None):
        self.keys = np.zeros(0, np.uint32) if keys is None else keys
        self.ids = np.zeros(0, np.int64) if ids is None else ids
        if self.keys.dtype != np.uint32 or self.ids.dtype != np.int64 or self.keys.shape != self.ids.shape \
                or self.keys.ndim != 1:
            raise ValueError("posting table: keys must be uint32 and ids int64 of one length")

    @classmethod
    def key_of(cls, codes: np.ndarray) -> np.ndarray:
        """(n,) uint32 keys of (n, 4) uint8 codes (their bytes read as one little-endian word)."""
        codes = np.ascontiguousarray(codes, np.uint8)
        if codes.ndim != 2 or codes.shape[1] != cls.CODE_BYTES:
            raise ValueError(f"posting table: codes must be (n, {cls.CODE_BYTES}) bytes, got {codes.shape}")
        return codes.view("<u4").reshape(-1).astype(np.uint32)

    @property
    def ntotal(self) -> int:
        return len(self.keys)

    def add_with_ids(self, codes: np.ndarray, ids: np.ndarray) -> None:
        """Add codes with their packed ids: merged into the sorted order (equal keys: after those held)."""
        keys = self.key_of(codes)
        ids = np.asarray(ids, np.int64)
        order = np.argsort(keys, kind="stable")
        keys, ids = keys[order], ids[order]
        if self.ntotal == 0:
            self.keys, self.ids = keys, ids
            return
        at = np.searchsorted(self.keys, keys, side="right")  # after every equal key already held
        self.keys, self.ids = np.insert(self.keys, at, keys), np.insert(self.ids, at, ids)

    def remove_refs(self, ref_ids) -> None:
        """Drop every posting of these references (the cost of one pass over the table)."""
        drop = np.isin(np.asarray(self.ids, np.int64) >> ROW_BITS, np.asarray(list(ref_ids), np.int64))
        if drop.any():
            self.keys, self.ids = self.keys[~drop], self.ids[~drop]

    def range_search(self, codes: np.ndarray, radius: int):
        """FAISS's answer for these query codes: ``lims`` (n + 1,), distances (all 0) and ids; ``radius``
        must be at least 1 (FAISS's bound is exclusive: 1 means equal codes)."""
        if radius < 1:
            raise ValueError("posting table: radius must be at least 1 (equal codes)")
        keys = self.key_of(codes)
        lo = np.searchsorted(self.keys, keys, side="left")
        hi = np.searchsorted(self.keys, keys, side="right")
        _, where = expand_ranges(lo, hi)
        lims = np.concatenate([[0], np.cumsum(hi - lo)]).astype(np.int64)
        return lims, np.zeros(len(where), np.int32), np.asarray(self.ids[where], np.int64)

    def save(self, folder: Path, signal: str) -> None:
        _atomic_write(folder / f"{signal}.keys.npy", lambda p: _save_npy(p, self.keys))
        _atomic_write(folder / f"{signal}.ids.npy", lambda p: _save_npy(p, self.ids))

    @classmethod
    def load(cls, folder: Path, signal: str) -> "PostingIndex":
        return cls(np.load(folder / f"{signal}.keys.npy", mmap_mode="r", allow_pickle=False),
                   np.load(folder / f"{signal}.ids.npy", mmap_mode="r", allow_pickle=False))

    @staticmethod
    def file_names(signal: str) -> list[str]:
        return [f"{signal}.keys.npy", f"{signal}.ids.npy"]


def _save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


def build_index(code_bytes: int, ids: np.ndarray, codes: np.ndarray, params: IndexParams, exact: bool = False):
    """A FAISS binary index over ``codes`` (n, code_bytes) with the given int64 ids.

    exact: the codes are exact-match hashes (landmarks, cuts: 32 bits), searched at
    radius 0: a sorted posting table (``PostingIndex``) finds them by binary search,
    whatever the catalog's size ("flat" and "ivf" do not apply).
    """
    d = code_bytes * 8
    n = len(codes)
    if exact:
        if code_bytes != PostingIndex.CODE_BYTES:
            raise ValueError(f"exact-match codes must be {PostingIndex.CODE_BYTES} bytes, not {code_bytes}")
        index = PostingIndex()
    elif params.kind == "ivf" and n >= params.nlist * params.ivf_min_train_per_list:
        quantizer = faiss.IndexBinaryFlat(d)
        index = faiss.IndexBinaryIVF(quantizer, d, params.nlist)
        index.own_fields = True
        quantizer.this.disown()
        index.train(np.ascontiguousarray(codes))
        index.nprobe = params.nprobe
    elif params.kind in ("flat", "ivf"):
        index = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(d))
    else:
        raise ValueError(f"unknown index kind {params.kind!r} (use 'flat' or 'ivf')")
    if n:
        index.add_with_ids(np.ascontiguousarray(codes), np.ascontiguousarray(ids, np.int64))
    return index


def _pairs_compared(index, n_query: int) -> int:
    """About how many (query, stored) code pairs a range search of ``n_query`` codes compares."""
    if isinstance(index, PostingIndex):
        return n_query  # table lookups
    inner = faiss.downcast_IndexBinary(getattr(index, "index", index))
    share = inner.nprobe / inner.nlist if isinstance(inner, faiss.IndexBinaryIVF) else 1.0
    return int(n_query * index.ntotal * share)


def range_search(index, codes: np.ndarray, radius: int, parallel_min_work: int = 1_000_000_000,
                 block_rows: int = 0) -> Hits:
    """Every stored code within ``radius`` bits (inclusive) of each query row.

    block_rows: above 0, the rows are searched in blocks of this many (in row
    order): the same hits, in the same order, with FAISS's result buffers
    sized by a block (a whole film's copy hits millions of stored codes).

    A search comparing fewer than ``parallel_min_work`` code pairs runs on one
    thread: FAISS's OpenMP workers cost ~30 ms of CPU per call on a shared
    2-core machine whatever the size (measured: 10 or 2 000 codes against 1 556,
    30-34 ms CPU and 65-150 ms wall on 2 threads; 0.07-8 ms on one), more than
    the search of a whole upload against a small catalog, and a search split
    over two threads costs ~15 % more CPU in all than on one (scale-4 corpus:
    17.0 s against 14.8 s; the same hits, in the same order). Searches above
    ~1 s of one core (1e9 pairs: a million stored codes) keep every thread.
    """
    if len(codes) == 0 or index.ntotal == 0:
        return Hits.empty()
    if 0 < block_rows < len(codes):
        parts = [range_search(index, codes[lo:lo + block_rows], radius, parallel_min_work)
                 for lo in range(0, len(codes), block_rows)]
        lengths = np.array([len(p.ids) for p in parts], np.int64)
        first = np.repeat(np.arange(0, len(codes), block_rows, dtype=np.int64), lengths)
        return Hits(np.concatenate([p.query for p in parts]) + first, np.concatenate([p.ids for p in parts]),
                    np.concatenate([p.distance for p in parts]))
    # FAISS binary range_search keeps distances strictly below its radius.
    if _pairs_compared(index, len(codes)) < parallel_min_work:
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            lims, dist, ids = index.range_search(np.ascontiguousarray(codes), int(radius) + 1)
        finally:
            faiss.omp_set_num_threads(threads)
    else:
        lims, dist, ids = index.range_search(np.ascontiguousarray(codes), int(radius) + 1)
    query = np.repeat(np.arange(len(codes), dtype=np.int64), np.diff(lims).astype(np.int64))
    return Hits(query, np.asarray(ids, np.int64), np.asarray(dist, np.int32))


def staged_search(search, codes: np.ndarray, first: np.ndarray, groups: np.ndarray, min_hits: int,
                  times: np.ndarray | None = None, base_group: int = 0, bin_seconds: float = 0.5) -> Hits:
    """Range search in two stages: the rows ``first`` (bool mask), then every other
    row of each group (``groups``: one id per row, e.g. a query variant) whose
    first rows hit one reference at ``min_hits`` distinct rows or more.

    search: ``codes -> Hits`` (e.g. ``SignalIndex.search`` at a radius).
    times: each row's time (seconds): then a first-stage hit only counts where it
    is closer to its reference than every hit of group ``base_group`` (searched
    in full) within the same ``bin_seconds`` (a variant that undoes an alteration
    is not needed where the plain reading already matches better). Returns the
    hits of both stages, rows numbered as in ``codes``: the same hits a full
    search finds for the groups searched in full, none for the others' other rows.
    """
    first = np.asarray(first, bool)
    rows1 = np.flatnonzero(first)
    h1 = search(codes[rows1]) if len(rows1) else Hits.empty()
    h1 = Hits(rows1[h1.query], h1.ids, h1.distance)
    groups = np.asarray(groups, np.int64)
    if len(h1.ids) == 0 or first.all():
        return h1
    group, ref = groups[h1.query], split_ids(h1.ids)[0]
    counted = group != base_group
    if times is not None:
        # the base group's best distance per (time bin, reference)
        t_bin = np.floor(np.asarray(times, np.float64)[h1.query] / bin_seconds).astype(np.int64)
        key = t_bin * (int(ref.max()) + 1) + ref
        base = ~counted
        best = np.full(len(key), np.iinfo(np.int32).max, np.int64)
        if base.any():
            keys, inverse = np.unique(key[base], return_inverse=True)
            low = np.full(len(keys), np.iinfo(np.int32).max, np.int64)
            np.minimum.at(low, inverse, h1.distance[base])
            pos = np.clip(np.searchsorted(keys, key), 0, len(keys) - 1)
            best = np.where(keys[pos] == key, low[pos], best)
        counted &= h1.distance < best
    hit_groups = _groups_with_hits(group[counted], ref[counted], h1.query[counted], min_hits)
    rows2 = np.flatnonzero(~first & np.isin(groups, hit_groups))
    if len(rows2) == 0:
        return h1
    h2 = search(codes[rows2])
    return Hits(np.concatenate([h1.query, rows2[h2.query]]), np.concatenate([h1.ids, h2.ids]),
                np.concatenate([h1.distance, h2.distance]))


def _groups_with_hits(group: np.ndarray, ref: np.ndarray, row: np.ndarray, min_hits: int) -> np.ndarray:
    """The groups (sorted) with ``min_hits`` distinct rows or more hitting one reference."""
    if len(group) == 0:
        return np.zeros(0, np.int64)
    refs, ref_index = np.unique(np.asarray(ref, np.int64), return_inverse=True)
    pair = np.asarray(group, np.int64) * len(refs) + ref_index  # (group, reference) as one key
    keys, counts = distinct_counts(pair, row)
    return np.unique(keys[counts >= min_hits] // len(refs))


def naive_range_search(stored_ids: np.ndarray, stored_codes: np.ndarray, codes: np.ndarray, radius: int) -> Hits:
    """Brute-force oracle for ``range_search``: exhaustive Hamming distances in numpy."""
    if len(codes) == 0 or len(stored_codes) == 0:
        return Hits.empty()
    dist = hamming_matrix(codes, stored_codes)
    q, s = np.nonzero(dist <= radius)
    return Hits(q.astype(np.int64), np.asarray(stored_ids, np.int64)[s], dist[q, s].astype(np.int32))


@dataclass
class TimeTable:
    """Seconds each stored code stands for, looked up by packed id.

    A reference's codes have consecutive rows, so ids are not stored: per
    reference (``refs``, sorted) the position of its row 0 (``bases``) and its
    code count, per code its start and end as float32 seconds (1 ms resolution
    up to 4.6 hours into a reference, 4 ms up to 18 hours; code times are
    quantised to 23 ms or coarser). 8 bytes a code instead of 24.
    """

    refs: np.ndarray    # (r,) int64, sorted
    bases: np.ndarray   # (r,) int64
    counts: np.ndarray  # (r,) int64
    starts: np.ndarray  # (n,) float32
    ends: np.ndarray    # (n,) float32

    @classmethod
    def from_parts(cls, parts: list[tuple[int, np.ndarray, np.ndarray]]) -> "TimeTable":
        """A table of (ref_id, starts, ends) per reference."""
        parts = sorted(parts, key=lambda p: p[0])
        counts = np.array([len(p[1]) for p in parts], np.int64)
        return cls(
            np.array([p[0] for p in parts], np.int64),
            np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if len(parts) else np.zeros(0, np.int64),
            counts,
            np.concatenate([p[1] for p in parts]).astype(np.float32) if parts else np.zeros(0, np.float32),
            np.concatenate([p[2] for p in parts]).astype(np.float32) if parts else np.zeros(0, np.float32),
        )

    def parts(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        return [(int(r), self.starts[b:b + c], self.ends[b:b + c]) for r, b, c in zip(self.refs, self.bases, self.counts)]

    def __len__(self) -> int:
        return len(self.starts)

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ref_id, start, end) seconds (float64) for each id; ids must exist in the table."""
        ref_ids, rows = split_ids(ids)
        pos = self.bases[np.searchsorted(self.refs, ref_ids)] + rows
        return ref_ids, self.starts[pos].astype(np.float64), self.ends[pos].astype(np.float64)

    def of_reference(self, ref_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) seconds (float64) of every code of one reference, in row order; empty if unknown.

        For a second stage that checks a candidate against all of a
        reference's codes (the scene cuts of ``match.cuts``), not only the hits."""
        i = int(np.searchsorted(self.refs, ref_id))
        if i >= len(self.refs) or self.refs[i] != ref_id:
            return np.zeros(0), np.zeros(0)
        b, c = int(self.bases[i]), int(self.counts[i])
        return self.starts[b:b + c].astype(np.float64), self.ends[b:b + c].astype(np.float64)

    def with_reference(self, ref_id: int, starts: np.ndarray, ends: np.ndarray) -> "TimeTable":
        return TimeTable.from_parts([p for p in self.parts() if p[0] != ref_id] + [(ref_id, starts, ends)])

    def without(self, ref_ids: list[int]) -> "TimeTable":
        drop = set(int(r) for r in ref_ids)
        return TimeTable.from_parts([p for p in self.parts() if p[0] not in drop])


class SignalIndex:
    """One signal's FAISS index plus its time table."""

    def __init__(self, signal: str, index, times: TimeTable, parallel_min_work: int = 1_000_000_000,
                 block_rows: int = 0):
        self.signal = signal
        self.index = index
        self.times = times
        self.parallel_min_work = parallel_min_work
        self.block_rows = block_rows

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, codes: np.ndarray, radius: int) -> Hits:
        return range_search(self.index, codes, radius, self.parallel_min_work, self.block_rows)

    def add(self, ref_id: int, fp: Fingerprint) -> None:
        if len(fp) == 0:
            return
        ids = make_ids(ref_id, len(fp))
        self.index.add_with_ids(np.ascontiguousarray(fp.codes), ids)
        self.times = self.times.with_reference(ref_id, fp.starts, fp.ends)

    @property
    def search_kind(self) -> str:
        """How this index searches: "hash" (exact codes, table lookup), "ivf" or "exact" (flat)."""
        if isinstance(self.index, PostingIndex):
            return "hash"
        return "ivf" if isinstance(self.index, faiss.IndexBinaryIVF) else "exact"

    def remove(self, ref_ids: list[int]) -> None:
        """Drop every code of these references, in place."""
        if isinstance(self.index, PostingIndex):
            self.index.remove_refs(ref_ids)
        else:
            for ref_id in ref_ids:
                lo = int(ref_id) << ROW_BITS
                self.index.remove_ids(faiss.IDSelectorRange(lo, lo + ROW_MASK + 1))
        self.times = self.times.without(ref_ids)

    def file_names(self) -> list[str]:
        """The files this signal's index is saved in, the time table last."""
        if isinstance(self.index, PostingIndex):
            return [*PostingIndex.file_names(self.signal), f"{self.signal}.times.npz"]
        return [f"{self.signal}.faissb", f"{self.signal}.times.npz"]


def _type_name(index) -> str:
    """FAISS type of an index, with the index an IDMap wraps: 'IndexBinaryIDMap(IndexBinaryFlat)'."""
    if isinstance(index, PostingIndex):
        return "sorted postings (uint32 keys, int64 ids)"
    name = type(index).__name__
    inner = getattr(index, "index", None)
    if inner is not None and name.endswith("IDMap"):
        return f"{name}({type(faiss.downcast_IndexBinary(inner)).__name__})"
    return name


def _save_times(path: str, table: TimeTable) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, refs=table.refs, bases=table.bases, counts=table.counts, starts=table.starts,
                 ends=table.ends)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then fsync and rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class IndexStore:
    """The index folder: ``<signal>.faissb`` (``<signal>.keys.npy`` and ``.ids.npy`` for an exact-match
    signal), ``<signal>.times.npz``, ``manifest.json``.

    The manifest names the catalog generation the files were built from and each file's size
    and SHA-256: a file that was changed, truncated or swapped since (a flipped byte of a work's
    codes would otherwise let its copies through unseen) fails the check on load, and the index
    is rebuilt from the catalog, the source of truth (``rebuilt_because`` says why).

    code_bytes: the signals indexed and the width of their codes; a signal whose codes match only
    when equal (``index_kind`` exact in ``fingerprint.REGISTRY``) gets a sorted posting table, the others the
    ``[index] kind``.
    """

    def __init__(self, folder: str | Path, params: IndexParams, code_bytes: dict[str, int]):
        self.folder = Path(folder)
        self.params = params
        self.code_bytes = code_bytes
        self.signals: dict[str, SignalIndex] = {}
        self.generation = -1
        self.rebuilt_because: str | None = None  # why the last ``load`` rebuilt (None: it did not)
        self.found_damaged = False  # the last ``load`` rebuilt because a file failed its checksum or could not be read

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def read_manifest(self) -> dict | None:
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return None

    def load(self, catalog: Catalog) -> bool:
        """Load the files if they match the catalog's generation and the manifest's checksums, else
        rebuild (``rebuilt_because`` says why). Temporary files a crashed write left are removed
        first (``remove_stale_temps``).

        Returns True when a rebuild was needed.
        """
        self.remove_stale_temps()
        why, damaged = self._stale_because(self.read_manifest(), catalog.generation())
        if why is None:
            try:
                for signal in self.code_bytes:
                    if REGISTRY.is_exact(signal):
                        index = PostingIndex.load(self.folder, signal)
                    else:
                        index = faiss.read_index_binary(str(self.folder / f"{signal}.faissb"))
                    if hasattr(index, "nprobe"):
                        index.nprobe = self.params.nprobe
                    with np.load(self.folder / f"{signal}.times.npz") as data:
                        times = TimeTable(data["refs"], data["bases"], data["counts"], data["starts"],
                                          data["ends"])
                    if index.ntotal != len(times):
                        raise ValueError("index and time table disagree")
                    self.signals[signal] = SignalIndex(signal, index, times, self.params.parallel_min_work,
                                                          self.params.search_block_rows)
                self.generation = catalog.generation()
                self.rebuilt_because, self.found_damaged = None, False
                return False
            except (RuntimeError, OSError, ValueError, KeyError) as exc:
                why, damaged = f"unreadable index files ({exc})", True
        self.rebuild(catalog)
        self.rebuilt_because, self.found_damaged = why, damaged
        return True

    def _stale_because(self, manifest: dict | None, generation: int) -> tuple[str | None, bool]:
        """(why the saved files cannot be used for the catalog at ``generation``, None when they
        can; whether a file is damaged): no manifest, another generation or build settings, or a
        file whose size or SHA-256 is not the manifest's (damaged)."""
        if manifest is None:
            return "no index manifest", False
        if manifest.get("generation") != generation:
            return "the catalog changed since the index was saved", False
        if manifest.get("code_bytes") != self.code_bytes or \
                {k: manifest.get(k) for k in self._build_settings()} != self._build_settings():
            return "the index settings changed", False
        files = manifest.get("files")
        if not isinstance(files, dict):
            return "the index manifest has no checksums (written by an older prescreen)", False
        for name in self._file_names():
            entry = files.get(name)
            path = self.folder / name
            try:
                if not isinstance(entry, list) or len(entry) != 2 or path.stat().st_size != entry[0]:
                    return f"{name}: its size differs from the manifest's (the file was changed or damaged)", True
                if sha256_file(path) != entry[1]:
                    return f"{name}: its SHA-256 differs from the manifest's (the file was changed or damaged)", True
            except OSError as exc:
                return f"{name}: cannot be read ({exc.strerror or exc})", True
        return None, False

    def _signal_files(self, signal: str) -> list[str]:
        """The files of one signal's index: an exact-match signal's posting table, or a FAISS file; the
        time table."""
        if REGISTRY.is_exact(signal):
            return [*PostingIndex.file_names(signal), f"{signal}.times.npz"]
        return [f"{signal}.faissb", f"{signal}.times.npz"]

    def _file_names(self) -> list[str]:
        return [name for signal in self.code_bytes for name in self._signal_files(signal)]

    def remove_stale_temps(self) -> list[str]:
        """Remove the temporary files of index writes (``_atomic_write``: ``<file>.<random>.tmp``)
        older than ``stale_temp_seconds``: a writer killed before its rename left them. Returns
        their names."""
        removed = []
        try:
            entries = list(self.folder.glob("*.tmp"))
        except OSError:
            return removed
        cutoff = time.time() - self.params.stale_temp_seconds
        for path in entries:
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path.name)
            except OSError:
                continue  # (gone already, or not ours to remove: the next load tries again)
        return removed

    def rebuild(self, catalog: Catalog) -> None:
        """Build every signal's index from the catalog and save it."""
        gen = catalog.generation()
        for signal in self.code_bytes:
            self.signals[signal] = self._build_signal(catalog, signal)
        self.save(gen)

    def remove_references(self, ref_ids: list[int], catalog: Catalog) -> None:
        """Take references out of every signal's index, in place (the catalog has already dropped
        them)."""
        for sig in self.signals.values():
            sig.remove(ref_ids)

    def _build_signal(self, catalog: Catalog, signal: str) -> SignalIndex:
        ids, codes, parts = [], [], []
        for ref_id, fp in catalog.fingerprints(signal):
            if len(fp) == 0:
                continue
            ids.append(make_ids(ref_id, len(fp)))
            codes.append(fp.codes)
            parts.append((ref_id, fp.starts, fp.ends))
        width = self.code_bytes[signal]
        all_ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        all_codes = np.concatenate(codes) if codes else np.zeros((0, width), np.uint8)
        index = build_index(width, all_ids, all_codes, self.params, exact=REGISTRY.is_exact(signal))
        return SignalIndex(signal, index, TimeTable.from_parts(parts), self.params.parallel_min_work,
                           self.params.search_block_rows)

    def _build_settings(self) -> dict:
        """The settings the saved files were built with; a change means a rebuild.

        IVF files depend on the number of lists and on the training threshold
        (below it the exact index is built instead); nprobe is set at load time.
        """
        exact = {"exact_match": EXACT_FORMAT}  # how exact-match signals are stored (FAISS hash tables before)
        if self.params.kind == "ivf":
            return {"kind": "ivf", "nlist": self.params.nlist,
                    "ivf_min_train_per_list": self.params.ivf_min_train_per_list, **exact}
        return {"kind": self.params.kind, **exact}

    def save(self, generation: int) -> None:
        """Write every signal's files atomically, then the manifest naming ``generation``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.manifest_path.unlink(missing_ok=True)  # a crash mid-save leaves no stale claim
        for signal, sig in self.signals.items():
            if isinstance(sig.index, PostingIndex):
                sig.index.save(self.folder, signal)
            else:
                _atomic_write(self.folder / f"{signal}.faissb",
                              lambda p, i=sig.index: faiss.write_index_binary(i, p))
            _atomic_write(
                self.folder / f"{signal}.times.npz",
                lambda p, t=sig.times: _save_times(p, t),
            )
        manifest = {
            "generation": generation,
            **self._build_settings(),
            "code_bytes": self.code_bytes,
            "counts": {s: sig.ntotal for s, sig in self.signals.items()},
            "files": {name: [(self.folder / name).stat().st_size, sha256_file(self.folder / name)]
                      for name in self._file_names() if (self.folder / name).exists()},
        }
        _atomic_write(self.manifest_path, lambda p: Path(p).write_text(json.dumps(manifest, indent=2)))
        self.generation = generation

    def stats(self) -> dict:
        """Per signal: codes, bits per code, how it searches (``SignalIndex.search_kind``), FAISS type
        and file bytes. With kind "ivf", ``ivf_min_codes``: below it a signal is built exact
        (an IVF cannot be trained on fewer codes)."""
        out = {"kind": self.params.kind, "generation": self.generation, "signals": {}}
        if self.params.kind == "ivf":
            out["ivf_min_codes"] = self.params.nlist * self.params.ivf_min_train_per_list
        for signal, sig in self.signals.items():
            paths = [self.folder / name for name in sig.file_names()[:-1]]  # (the time table apart)
            out["signals"][signal] = {
                "codes": sig.ntotal,
                "code_bits": self.code_bytes[signal] * 8,
                "search": sig.search_kind,
                "index_type": _type_name(sig.index),
                "exact_match": REGISTRY.is_exact(signal),
                "bytes": sum(path.stat().st_size for path in paths if path.exists()),
            }
        return out
