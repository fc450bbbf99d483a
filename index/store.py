"""The index, one per signal, derived from the catalog: FAISS binary indexes for the codes
matched within a Hamming radius, sorted posting tables (``PostingIndex``) for exact-match hashes.

Index construction (``build_index``) is separate from search
(``SignalIndex.search``). Hits carry ids that pack the reference and the code's row:
``id = ref_id << 32 | row``; the index itself labels each code with its position in
the ``times`` table saved next to it (an IVF, the packed id), so removing a reference
is one position range and every hit maps back to (reference, seconds) through that table.
Files are written to a temporary name, fsynced and renamed, the manifest last; an
index whose manifest generation differs from the catalog's is stale and is rebuilt
from the catalog.
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
INDEX_FORMAT = "positions-1"  # the saved form: flat and posting tables labelled by time-table positions, spans


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
    two_stage_min_codes: a flat signal holding at least this many codes is searched in two
        stages (``SubKeyTables``): its sub-key tables find the candidate references, and only their
        codes are searched within the radius; 0: always one stage (every stored code compared).
    two_stage_signals: the signals searched in two stages past ``two_stage_min_codes`` (with
        sub-keys: ``Signal.subkeys``); the others compare every stored code at any size.
    candidate_min_rows: a reference is a candidate when at least this many distinct upload codes
        hit it in the sub-key tables.
    candidate_max_postings: a sub-key held by more reference codes than this is left out of the
        candidate stage (too common to tell works apart; bounds the work a lookup can cost).
    candidate_max_refs: at most this many candidates per search, the most hit first.
    candidate_bin_seconds: the candidate stage counts an upload's codes per reference on one
        diagonal: offsets (reference minus upload seconds) within two adjacent bins of this width.
    verify_block_codes: a two-stage search compares the upload with the candidates' codes in groups
        of candidates holding about this many codes (a copy of them is held: 32 bytes a code).
    """

    kind: str = "flat"
    nlist: int = 1024
    nprobe: int = 16
    ivf_min_train_per_list: int = 39
    parallel_min_work: int = 1_000_000_000
    search_block_rows: int = 16384
    stale_temp_seconds: float = 3600.0
    two_stage_min_codes: int = 2_000_000
    two_stage_signals: tuple[str, ...] = ("video",)
    candidate_min_rows: int = 2
    candidate_max_postings: int = 4096
    candidate_max_refs: int = 256
    candidate_bin_seconds: float = 2.0
    verify_block_codes: int = 1 << 20


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
    uint32 ``keys`` in ascending order and the label of each (``labels``). Inside an ``IndexStore``
    a label is the code's position in its signal's ``TimeTable`` (uint32 while a signal holds fewer
    than 2^32 codes: 8 bytes a code on disk and in memory; a FAISS ``IndexBinaryHash`` took ~25 on
    disk and ~160 in memory); any int64 labels (packed ids) work too, stored as int64. A query key's
    postings are one ``np.searchsorted`` range; codes of equal key keep the order they were added in.

    It answers ``range_search`` as FAISS does (lims, distances, labels), so ``range_search`` and its
    blocks work unchanged; only radius 0 is meaningful (radius here is FAISS's exclusive bound:
    every posting found has distance 0). Saved as two ``.npy`` files, memory-mapped on load
    (read-only pages shared by every process; an addition or removal makes new arrays).
    """

    CODE_BYTES = 4

    def __init__(self, keys: np.ndarray | None = None, labels: np.ndarray | None = None):
        self.keys = np.zeros(0, np.uint32) if keys is None else keys
        self.labels = np.zeros(0, np.uint32) if labels is None else labels
        if self.keys.dtype != np.uint32 or self.labels.dtype not in (np.uint32, np.int64) \
                or self.keys.shape != self.labels.shape or self.keys.ndim != 1:
            raise ValueError("posting table: keys must be uint32 and labels uint32 or int64, of one length")

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

    @staticmethod
    def _label_array(labels: np.ndarray) -> np.ndarray:
        """Labels as uint32 when every one fits (positions), else int64."""
        labels = np.asarray(labels, np.int64)
        if len(labels) == 0 or (labels.min() >= 0 and labels.max() <= np.iinfo(np.uint32).max):
            return labels.astype(np.uint32)
        return labels

    def add_with_ids(self, codes: np.ndarray, labels: np.ndarray) -> None:
        """Add codes with their labels: merged into the sorted order (equal keys: after those held)."""
        keys = self.key_of(codes)
        labels = np.asarray(labels, np.int64)
        order = np.argsort(keys, kind="stable")
        keys, labels = keys[order], labels[order]
        if self.ntotal == 0:
            self.keys, self.labels = keys, self._label_array(labels)
            return
        at = np.searchsorted(self.keys, keys, side="right")  # after every equal key already held
        merged = np.insert(np.asarray(self.labels, np.int64), at, labels)
        self.keys, self.labels = np.insert(self.keys, at, keys), self._label_array(merged)

    def remove_ranges(self, lo: np.ndarray, hi: np.ndarray, renumber: bool) -> None:
        """Drop every posting whose label is in one of the half-open ranges [lo[i], hi[i]) (disjoint),
        in one pass over the table. renumber: labels are positions, and those above a removed range
        move down by its length (as the time table's positions do when a reference leaves it)."""
        lo, hi = np.asarray(lo, np.int64), np.asarray(hi, np.int64)
        if len(lo) == 0 or self.ntotal == 0:
            return
        order = np.argsort(lo)
        lo, hi = lo[order], hi[order]
        labels = np.asarray(self.labels, np.int64)
        k = np.searchsorted(lo, labels, side="right") - 1  # the last range starting at or below
        inside = (k >= 0) & (labels < hi[np.maximum(k, 0)])
        if renumber:
            removed_below = np.concatenate([[0], np.cumsum(hi - lo)])  # positions removed below range k+1
            labels = labels - removed_below[k + 1]
        self.keys, self.labels = self.keys[~inside], self._label_array(labels[~inside])

    def lookup(self, keys: np.ndarray, max_postings: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(query index, label) of every posting of each uint32 key (in key order, then as stored).

        max_postings: above 0, a key held by more codes than this is left out (a sub-key that common
        tells no work from another, and its postings would be most of the work)."""
        keys = np.asarray(keys, np.uint32)
        lo = np.searchsorted(self.keys, keys, side="left")
        hi = np.searchsorted(self.keys, keys, side="right")
        if max_postings > 0:
            hi = np.where(hi - lo > max_postings, lo, hi)
        owner, where = expand_ranges(lo, hi)
        return owner, np.asarray(self.labels[where], np.int64)

    def range_search(self, codes: np.ndarray, radius: int):
        """FAISS's answer for these query codes: ``lims`` (n + 1,), distances (all 0) and labels
        (int64); ``radius`` must be at least 1 (FAISS's bound is exclusive: 1 means equal codes)."""
        if radius < 1:
            raise ValueError("posting table: radius must be at least 1 (equal codes)")
        owner, labels = self.lookup(self.key_of(codes))
        lims = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(codes)))]).astype(np.int64)
        return lims, np.zeros(len(labels), np.int32), labels

    def save(self, folder: Path, signal: str) -> None:
        _atomic_write(folder / f"{signal}.keys.npy", lambda p: _save_npy(p, self.keys))
        _atomic_write(folder / f"{signal}.labels.npy", lambda p: _save_npy(p, self.labels))

    @classmethod
    def load(cls, folder: Path, signal: str) -> "PostingIndex":
        return cls(np.load(folder / f"{signal}.keys.npy", mmap_mode="r", allow_pickle=False),
                   np.load(folder / f"{signal}.labels.npy", mmap_mode="r", allow_pickle=False))

    @staticmethod
    def file_names(signal: str) -> list[str]:
        return [f"{signal}.keys.npy", f"{signal}.labels.npy"]


def _save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


def build_index(code_bytes: int, ids: np.ndarray, codes: np.ndarray, params: IndexParams, exact: bool = False,
                positional: bool = False):
    """An index over ``codes`` (n, code_bytes) labelled with the given int64 ids: a FAISS binary
    index, or for exact-match codes a posting table.

    exact: the codes are exact-match hashes (landmarks, cuts: 32 bits), searched at
    radius 0: a sorted posting table (``PostingIndex``) finds them by binary search,
    whatever the catalog's size ("flat" and "ivf" do not apply).
    positional: label the codes with their positions 0..n-1 instead of ``ids`` where the index
    allows it (a flat index without an id map, a posting table: 8 and 4 bytes a code less); an IVF
    keeps ``ids`` (``SignalIndex.positional`` says which).
    """
    d = code_bytes * 8
    n = len(codes)
    labels = np.arange(n, dtype=np.int64) if positional else np.asarray(ids, np.int64)
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
        labels = np.asarray(ids, np.int64)
    elif params.kind in ("flat", "ivf"):
        if positional:
            index = faiss.IndexBinaryFlat(d)
            if n:
                index.add(np.ascontiguousarray(codes))
            return index
        index = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(d))
    else:
        raise ValueError(f"unknown index kind {params.kind!r} (use 'flat' or 'ivf')")
    if n:
        index.add_with_ids(np.ascontiguousarray(codes), np.ascontiguousarray(labels, np.int64))
    return index


def is_positional(index) -> bool:
    """Whether an index an ``IndexStore`` built labels its codes with time-table positions (all but IVF)."""
    return not isinstance(index, faiss.IndexBinaryIVF)


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

    search: ``(codes, rows) -> Hits``: the codes of those rows of ``codes`` (e.g.
    ``SignalIndex.search`` at a radius, given the rows' times).
    times: each row's time (seconds): then a first-stage hit only counts where it
    is closer to its reference than every hit of group ``base_group`` (searched
    in full) within the same ``bin_seconds`` (a variant that undoes an alteration
    is not needed where the plain reading already matches better). Returns the
    hits of both stages, rows numbered as in ``codes``: the same hits a full
    search finds for the groups searched in full, none for the others' other rows.
    """
    first = np.asarray(first, bool)
    rows1 = np.flatnonzero(first)
    h1 = search(codes[rows1], rows1) if len(rows1) else Hits.empty()
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
    h2 = search(codes[rows2], rows2)
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
    """Seconds each stored code stands for, by position: the directory of a signal's codes.

    A reference's codes have consecutive positions, in row order, and references follow one another
    in the order they were added (``refs``), so neither ids nor positions are stored: per reference
    the position of its row 0 (``bases``, ascending) and its code count, per code its start as float32
    seconds (1 ms resolution up to 4.6 hours into a reference, 4 ms up to 18 hours; code times are
    quantised to 23 ms or coarser), and its end: per code (``ends``), or, where every code of every
    reference lasts one span (landmarks, chroma codes), one span per reference (``spans``; the end
    is ``start + span``, equal to the stored end within float32's resolution). 4 to 8 bytes a code.

    A flat FAISS index and a posting table inside an ``IndexStore`` label their codes with these
    positions (``ids_of`` turns them into packed ids).
    """

    refs: np.ndarray    # (r,) int64, in the order added
    bases: np.ndarray   # (r,) int64, ascending
    counts: np.ndarray  # (r,) int64
    starts: np.ndarray  # (n,) float32
    ends: np.ndarray | None = None   # (n,) float32, or None with ``spans``
    spans: np.ndarray | None = None  # (r,) float32, or None with ``ends``

    def __post_init__(self):
        self._order = np.argsort(self.refs, kind="stable")  # refs sorted, for lookups by id
        self._sorted_refs = np.asarray(self.refs, np.int64)[self._order]

    @classmethod
    def from_parts(cls, parts: list[tuple[int, np.ndarray, np.ndarray]]) -> "TimeTable":
        """A table of (ref_id, starts, ends) per reference, in this order."""
        counts = np.array([len(p[1]) for p in parts], np.int64)
        starts = [np.asarray(p[1]).astype(np.float32) for p in parts]
        ends = [np.asarray(p[2]).astype(np.float32) for p in parts]
        spans = np.array([e[0] - s[0] if len(s) else 0.0 for s, e in zip(starts, ends)], np.float32)
        constant = all(np.all(np.abs((s + d) - e) <= np.spacing(np.abs(e))) for s, e, d in zip(starts, ends, spans))
        return cls(
            np.array([p[0] for p in parts], np.int64),
            (np.cumsum(counts) - counts).astype(np.int64),
            counts,
            np.concatenate(starts) if parts else np.zeros(0, np.float32),
            None if constant else (np.concatenate(ends) if parts else np.zeros(0, np.float32)),
            spans if constant else None,
        )

    def parts(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        return [(int(r), *self._span_of(i)) for i, r in enumerate(self.refs)]

    def _span_of(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) float32 of the i-th reference's codes."""
        b, c = int(self.bases[i]), int(self.counts[i])
        starts = self.starts[b:b + c]
        return starts, (starts + self.spans[i] if self.ends is None else self.ends[b:b + c])

    def __len__(self) -> int:
        return len(self.starts)

    def _index_of(self, ref_ids: np.ndarray) -> np.ndarray:
        """Each reference's index in ``refs`` (-1 where it is not in the table)."""
        ref_ids = np.asarray(ref_ids, np.int64)
        if len(self.refs) == 0:
            return np.full(ref_ids.shape, -1, np.int64)
        k = np.clip(np.searchsorted(self._sorted_refs, ref_ids), 0, len(self.refs) - 1)
        return np.where(self._sorted_refs[k] == ref_ids, self._order[k], -1)

    def holds(self, ref_id: int) -> bool:
        return bool(self._index_of(np.array([ref_id]))[0] >= 0)

    def ids_of(self, positions: np.ndarray) -> np.ndarray:
        """The packed id (``ref_id << 32 | row``) of each position."""
        positions = np.asarray(positions, np.int64)
        # (a reference without codes shares its base with the next one: side="right" lands on the
        # last of equal bases, the one holding the position)
        i = np.searchsorted(self.bases, positions, side="right") - 1
        return (self.refs[i] << ROW_BITS) + (positions - self.bases[i])

    def lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ref_id, start, end) seconds (float64) for each id; ids must exist in the table."""
        ref_ids, rows = split_ids(ids)
        i = self._index_of(ref_ids)
        pos = self.bases[i] + rows
        starts = self.starts[pos]
        ends = starts + self.spans[i] if self.ends is None else self.ends[pos]
        return ref_ids, starts.astype(np.float64), ends.astype(np.float64)

    def of_reference(self, ref_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) seconds (float64) of every code of one reference, in row order; empty if unknown.

        For a second stage that checks a candidate against all of a
        reference's codes (the scene cuts of ``match.cuts``), not only the hits."""
        i = int(self._index_of(np.array([ref_id]))[0])
        if i < 0:
            return np.zeros(0), np.zeros(0)
        starts, ends = self._span_of(i)
        return starts.astype(np.float64), ends.astype(np.float64)

    def position_ranges(self, ref_ids) -> tuple[np.ndarray, np.ndarray]:
        """Half-open position ranges [lo, hi) of these references' codes (those in the table)."""
        i = self._index_of(np.asarray(list(ref_ids), np.int64))
        i = np.unique(i[i >= 0])
        return self.bases[i], self.bases[i] + self.counts[i]

    def with_reference(self, ref_id: int, starts: np.ndarray, ends: np.ndarray) -> "TimeTable":
        """This table with one more reference, after the others (its codes take the next positions)."""
        return TimeTable.from_parts([p for p in self.parts() if p[0] != ref_id] + [(ref_id, starts, ends)])

    def without(self, ref_ids: list[int]) -> "TimeTable":
        """This table without these references: the positions after each move down by its count."""
        drop = set(int(r) for r in ref_ids)
        return TimeTable.from_parts([p for p in self.parts() if p[0] not in drop])

    def save(self, path: str) -> None:
        fields = {"refs": self.refs, "bases": self.bases, "counts": self.counts, "starts": self.starts}
        fields.update({"ends": self.ends} if self.ends is not None else {"spans": self.spans})
        with open(path, "wb") as handle:
            np.savez(handle, **fields)

    @classmethod
    def load(cls, path: Path) -> "TimeTable":
        with np.load(path, allow_pickle=False) as data:
            return cls(data["refs"], data["bases"], data["counts"], data["starts"],
                       data["ends"] if "ends" in data else None, data["spans"] if "spans" in data else None)


class SubKeyTables:
    """The candidate stage of a two-stage search: ``T`` 32-bit sub-keys of every reference code
    (``Signal.subkeys``: (n, T) uint32) in ``T`` posting tables (``PostingIndex``, labelled by
    time-table position), 8 bytes a code a table.

    ``candidates`` looks each upload code's sub-keys up in their tables and scores every reference
    by the distinct upload codes that hit it on one diagonal (within ``candidate_bin_seconds`` of one
    offset between reference and upload time, given the upload's times): work-level recall is what
    counts (a copy hits a work at hundreds of codes, so most single codes may be missed and the work
    still found), and the radius search that follows (``SignalIndex.search``) compares the upload
    with the candidates' codes only. Tables split into shards by reference merge by their scores.
    """

    def __init__(self, tables: list[PostingIndex]):
        self.tables = tables

    @classmethod
    def build(cls, keys: np.ndarray) -> "SubKeyTables":
        """Tables over the (n, T) uint32 sub-keys of codes labelled 0..n-1 (their positions)."""
        out = cls([PostingIndex() for _ in range(keys.shape[1])])
        out.add(keys, 0)
        return out

    def add(self, keys: np.ndarray, first: int) -> None:
        """The (n, T) sub-keys of codes that take positions ``first``, ``first + 1``, ..."""
        labels = first + np.arange(len(keys), dtype=np.int64)
        for t, table in enumerate(self.tables):
            if len(keys):
                table.add_with_ids(np.ascontiguousarray(keys[:, t], np.uint32).view(np.uint8).reshape(-1, 4), labels)

    def remove_ranges(self, lo: np.ndarray, hi: np.ndarray) -> None:
        for table in self.tables:
            table.remove_ranges(lo, hi, renumber=True)

    def candidates(self, keys: np.ndarray, times: "TimeTable", params: IndexParams,
                   query_times: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """The candidate references of upload codes with sub-keys ``keys`` (n, T): indices into
        ``times.refs``, at most ``candidate_max_refs``, each hit by ``candidate_min_rows`` distinct
        codes or more (on one diagonal when ``query_times``, the codes' upload seconds, are given;
        the most hit first), and the postings read: ``select`` over ``scores``."""
        found, score, postings = self.scores(keys, times, params, query_times)
        return self.select(found, score, params.candidate_max_refs), postings

    def shard(self, lo: int, hi: int) -> "SubKeyTables":
        """The tables of the codes at positions [lo, hi) alone (whole references: a shard), searched
        apart: ``select`` over the shards' ``scores`` put together is ``candidates`` of the whole."""
        parts = []
        for table in self.tables:
            labels = np.asarray(table.labels, np.int64)
            keep = (labels >= lo) & (labels < hi)
            parts.append(PostingIndex(np.asarray(table.keys)[keep], np.asarray(table.labels)[keep]))
        return SubKeyTables(parts)

    @staticmethod
    def select(found: np.ndarray, score: np.ndarray, max_refs: int) -> np.ndarray:
        """Of references ``found`` (indices) with their ``score``, the ``max_refs`` best (ties: the
        lower index), in index order: how the scores of shards merge."""
        found, score = np.asarray(found, np.int64), np.asarray(score, np.int64)
        if len(found) > max_refs:
            found = found[np.lexsort((found, -score))[:max_refs]]
        return np.sort(found)

    def scores(self, keys: np.ndarray, times: "TimeTable", params: IndexParams,
               query_times: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
        """(references, scores, postings read): every reference (index into ``times.refs``) hit by
        ``candidate_min_rows`` distinct upload codes or more, on one diagonal when ``query_times``
        are given, with that count. The codes are looked up ``search_block_rows`` at a time, so what
        is held follows a block (at most its rows x T x ``candidate_max_postings`` postings), not
        the upload."""
        block = max(1, params.search_block_rows)
        cells, counts, postings = [], [], 0
        for lo in range(0, len(keys), block):
            rows, positions = [], []
            for t, table in enumerate(self.tables):
                owner, labels = table.lookup(keys[lo:lo + block, t], params.candidate_max_postings)
                rows.append(owner)
                positions.append(labels)
            rows, positions = np.concatenate(rows), np.concatenate(positions)
            postings += len(positions)
            if len(rows) == 0:
                continue
            ref_index = np.searchsorted(times.bases, positions, side="right") - 1
            cell = ref_index << 32  # (reference, offset bin), the bin in the low 32 bits
            if query_times is not None:
                offset = times.starts[positions].astype(np.float64) - np.asarray(query_times, np.float64)[lo + rows]
                cell += np.floor(offset / params.candidate_bin_seconds).astype(np.int64) + (1 << 31)
            order = np.lexsort((rows, cell))
            cell, rows = cell[order], rows[order]
            first = np.ones(len(cell), bool)  # an upload code once per cell
            first[1:] = (cell[1:] != cell[:-1]) | (rows[1:] != rows[:-1])
            block_cells, block_counts = np.unique(cell[first], return_counts=True)
            cells.append(block_cells)
            counts.append(block_counts)
        if not cells:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), postings
        cells, inverse = np.unique(np.concatenate(cells), return_inverse=True)
        count = np.bincount(inverse, weights=np.concatenate(counts)).astype(np.int64)
        if query_times is not None:  # a line across a bin edge: the next bin's codes count too
            nxt = np.minimum(np.searchsorted(cells, cells + 1), len(cells) - 1)
            count = count + np.where(cells[nxt] == cells + 1, count[nxt], 0)
        score = np.zeros(len(times.refs), np.int64)
        np.maximum.at(score, cells >> 32, count)
        found = np.flatnonzero(score >= params.candidate_min_rows)
        return found, score[found], postings

    def save(self, folder: Path, signal: str) -> None:
        for t, table in enumerate(self.tables):
            table.save(folder, f"{signal}.sub{t}")

    @classmethod
    def load(cls, folder: Path, signal: str, count: int) -> "SubKeyTables":
        return cls([PostingIndex.load(folder, f"{signal}.sub{t}") for t in range(count)])

    @staticmethod
    def file_names(signal: str, count: int) -> list[str]:
        return [name for t in range(count) for name in PostingIndex.file_names(f"{signal}.sub{t}")]


class SignalIndex:
    """One signal's index plus its time table.

    positional: the index labels its codes with their time-table positions (a flat FAISS index
    without an id map, a posting table), which ``search`` turns into packed ids; otherwise (IVF)
    the index holds the packed ids itself (8 bytes a code more).
    keyer: the signal's sub-keys (``Signal.subkeys``: codes -> (n, T) uint32, or None); a flat
    signal with them is searched in two stages once it holds ``params.two_stage_min_codes`` codes
    (``subkeys`` then holds its tables). ``counts``: what its searches did (codes searched,
    candidate references, searches whose candidates reached ``candidate_max_refs``, postings read,
    stored codes compared), for the benchmarks.
    """

    def __init__(self, signal: str, index, times: TimeTable, params: IndexParams | None = None,
                 positional: bool = False, keyer=None, subkeys: SubKeyTables | None = None):
        self.signal = signal
        self.index = index
        self.times = times
        self.params = params or IndexParams()
        self.positional = positional
        self.keyer = keyer if positional and not isinstance(index, PostingIndex) else None
        self.subkeys = subkeys
        self.counts = {"searches": 0, "two_stage": 0, "query_codes": 0, "candidate_refs": 0, "postings": 0,
                       "at_cap": 0, "verify_groups": 0, "codes_compared": 0}
        self.sync_subkeys()

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def two_stage(self) -> bool:
        """Whether searches run in two stages (a sub-key candidate stage, then the candidates' codes)."""
        return self.subkeys is not None and 0 < self.params.two_stage_min_codes <= self.ntotal

    def sync_subkeys(self) -> bool:
        """Build the sub-key tables from the stored codes when the signal has grown to need them
        (``two_stage_min_codes``). Returns True when they were built."""
        if self.subkeys is not None or self.keyer is None or not (0 < self.params.two_stage_min_codes <= self.ntotal):
            return False
        codes = self._stored_codes()
        self.subkeys = SubKeyTables.build(np.concatenate(
            [self.keyer(codes[lo:lo + 1_000_000]) for lo in range(0, len(codes), 1_000_000)]))
        return True

    def _stored_codes(self) -> np.ndarray:
        """(ntotal, bytes) view of a flat index's codes, in position order (no copy)."""
        flat = faiss.downcast_IndexBinary(self.index)
        n, width = flat.ntotal, flat.code_size
        if n == 0:
            return np.zeros((0, width), np.uint8)
        return faiss.rev_swig_ptr(flat.xb.data(), n * width).reshape(n, width)

    def search(self, codes: np.ndarray, radius: int, times: np.ndarray | None = None) -> Hits:
        """Every stored code within ``radius`` bits of each row of ``codes``, ids packed. times: the
        codes' upload seconds, which a two-stage search scores its candidates on (one diagonal)."""
        self.counts["searches"] += 1
        self.counts["query_codes"] += len(codes)
        if self.two_stage and len(codes):
            return self._two_stage_search(codes, radius, times)
        hits = range_search(self.index, codes, radius, self.params.parallel_min_work, self.params.search_block_rows)
        self.counts["codes_compared"] += len(codes) * self.ntotal
        if self.positional and len(hits.ids):
            hits = Hits(hits.query, self.times.ids_of(hits.ids), hits.distance)
        return hits

    def _two_stage_search(self, codes: np.ndarray, radius: int, times: np.ndarray | None) -> Hits:
        """The candidate stage (``SubKeyTables.candidates``), then the radius search over the
        candidates' codes only: the hits a whole search finds on those references."""
        found, postings = self.subkeys.candidates(self.keyer(codes), self.times, self.params, times)
        self.counts["two_stage"] += 1
        self.counts["candidate_refs"] += len(found)
        self.counts["at_cap"] += int(len(found) >= self.params.candidate_max_refs)  # (more may have qualified)
        self.counts["postings"] += postings
        if len(found) == 0:
            return Hits.empty()
        stored, parts = self._stored_codes(), []
        sizes = self.times.counts[found]
        group = (np.cumsum(sizes) - sizes) // self.params.verify_block_codes  # candidates a group at a time
        for g in np.unique(group):
            lo = self.times.bases[found[group == g]]
            _, positions = expand_ranges(lo, lo + self.times.counts[found[group == g]])
            chosen = faiss.IndexBinaryFlat(self.index.d)
            chosen.add(np.ascontiguousarray(stored[positions]))
            self.counts["codes_compared"] += len(codes) * len(positions)
            self.counts["verify_groups"] += 1
            hits = range_search(chosen, codes, radius, self.params.parallel_min_work, self.params.search_block_rows)
            parts.append(Hits(hits.query, self.times.ids_of(positions[hits.ids]), hits.distance))
        if len(parts) == 1:
            return parts[0]
        merged = Hits(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("query", "ids", "distance")))
        order = np.argsort(merged.query, kind="stable")  # by query row, as one search returns them
        return Hits(merged.query[order], merged.ids[order], merged.distance[order])

    def add(self, ref_id: int, fp: Fingerprint) -> None:
        """Add one reference's codes after the others (a reference held already is replaced)."""
        if len(fp) == 0:
            return
        if self.times.holds(ref_id):
            self.remove([ref_id])
        first = len(self.times)
        if self.positional:
            labels = first + np.arange(len(fp), dtype=np.int64)
        else:
            labels = make_ids(ref_id, len(fp))
        if isinstance(self.index, PostingIndex):
            self.index.add_with_ids(np.ascontiguousarray(fp.codes), labels)
        elif self.positional:
            self.index.add(np.ascontiguousarray(fp.codes))
        else:
            self.index.add_with_ids(np.ascontiguousarray(fp.codes), labels)
        self.times = self.times.with_reference(ref_id, fp.starts, fp.ends)
        if self.subkeys is not None:
            self.subkeys.add(self.keyer(fp.codes), first)
        self.sync_subkeys()

    @property
    def search_kind(self) -> str:
        """How this index searches: "hash" (exact codes, table lookup), "ivf", "two-stage" (sub-key
        candidates, then their codes) or "exact" (flat)."""
        if isinstance(self.index, PostingIndex):
            return "hash"
        if isinstance(self.index, faiss.IndexBinaryIVF):
            return "ivf"
        return "two-stage" if self.two_stage else "exact"

    def remove(self, ref_ids: list[int]) -> None:
        """Drop every code of these references, in place (one pass over the index per reference at most)."""
        if self.positional:
            lo, hi = self.times.position_ranges(ref_ids)
        else:
            ref_ids = np.asarray(list(ref_ids), np.int64)
            lo, hi = ref_ids << ROW_BITS, (ref_ids + 1) << ROW_BITS
        if isinstance(self.index, PostingIndex):
            self.index.remove_ranges(lo, hi, renumber=self.positional)
        else:
            for a, b in sorted(zip(lo.tolist(), hi.tolist()), reverse=True):  # the highest first: lower ranges stay put
                self.index.remove_ids(faiss.IDSelectorRange(a, b))
        if self.subkeys is not None:
            self.subkeys.remove_ranges(lo, hi)
        self.times = self.times.without(ref_ids)

    def file_names(self) -> list[str]:
        """The files this signal's index is saved in, the time table last."""
        if isinstance(self.index, PostingIndex):
            return [*PostingIndex.file_names(self.signal), f"{self.signal}.times.npz"]
        tables = SubKeyTables.file_names(self.signal, len(self.subkeys.tables)) if self.subkeys is not None else []
        return [f"{self.signal}.faissb", *tables, f"{self.signal}.times.npz"]

    def save(self, folder: Path) -> None:
        """Write this signal's files atomically (the time table last)."""
        if isinstance(self.index, PostingIndex):
            self.index.save(folder, self.signal)
        else:
            _atomic_write(folder / f"{self.signal}.faissb", lambda p: faiss.write_index_binary(self.index, p))
            if self.subkeys is not None:
                self.subkeys.save(folder, self.signal)
        _atomic_write(folder / f"{self.signal}.times.npz", lambda p: self.times.save(p))


def _type_name(index) -> str:
    """FAISS type of an index, with the index an IDMap wraps: 'IndexBinaryIDMap(IndexBinaryFlat)'."""
    if isinstance(index, PostingIndex):
        return f"sorted postings (uint32 keys, {index.labels.dtype} labels)"
    name = type(index).__name__
    inner = getattr(index, "index", None)
    if inner is not None and name.endswith("IDMap"):
        return f"{name}({type(faiss.downcast_IndexBinary(inner)).__name__})"
    return name


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
    """The index folder: ``<signal>.faissb`` (``<signal>.keys.npy`` and ``.labels.npy`` for an
    exact-match signal), ``<signal>.times.npz``, ``manifest.json``. A flat index and a posting table
    label each code with its position in the signal's time table (``SignalIndex.positional``).

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
        manifest = self.read_manifest()
        why, damaged = self._stale_because(manifest, catalog.generation())
        if why is None:
            try:
                for signal in self.code_bytes:
                    if REGISTRY.is_exact(signal):
                        index = PostingIndex.load(self.folder, signal)
                    else:
                        index = faiss.read_index_binary(str(self.folder / f"{signal}.faissb"))
                    if hasattr(index, "nprobe"):
                        index.nprobe = self.params.nprobe
                    times = TimeTable.load(self.folder / f"{signal}.times.npz")
                    if index.ntotal != len(times):
                        raise ValueError("index and time table disagree")
                    tables = manifest.get("subkeys", {}).get(signal)
                    subkeys = SubKeyTables.load(self.folder, signal, tables) if tables else None
                    self.signals[signal] = SignalIndex(signal, index, times, self.params, is_positional(index),
                                                       self._keyer(signal), subkeys)
                    if subkeys is not None and any(t.ntotal != len(times) for t in subkeys.tables):
                        raise ValueError("sub-key tables and time table disagree")
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
        files, subkeys = manifest.get("files"), manifest.get("subkeys", {})
        if not isinstance(files, dict):
            return "the index manifest has no checksums (written by an older prescreen)", False
        if not isinstance(subkeys, dict) or any(
                signal not in self.code_bytes or count != self._table_count(signal) for signal, count in subkeys.items()):
            return "the sub-key tables were built for other settings", False
        for name in self._file_names(subkeys):
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

    def _signal_files(self, signal: str, with_subkeys: bool = False) -> list[str]:
        """The files of one signal's index: an exact-match signal's posting table, or a FAISS file (and
        its sub-key tables); the time table."""
        if REGISTRY.is_exact(signal):
            return [*PostingIndex.file_names(signal), f"{signal}.times.npz"]
        tables = SubKeyTables.file_names(signal, self._table_count(signal)) if with_subkeys else []
        return [f"{signal}.faissb", *tables, f"{signal}.times.npz"]

    def _file_names(self, subkeys: dict) -> list[str]:
        """Every index file, ``subkeys`` naming the signals saved with sub-key tables."""
        return [name for signal in self.code_bytes for name in self._signal_files(signal, signal in subkeys)]

    def _keyer(self, signal: str):
        """The signal's sub-keys (``Signal.subkeys``), or None (none, an exact-match signal, or not
        among ``two_stage_signals``)."""
        sig = REGISTRY.get(signal)
        if sig is None or REGISTRY.is_exact(signal) or signal not in self.params.two_stage_signals \
                or sig.subkeys(np.zeros((0, self.code_bytes[signal]), np.uint8)) is None:
            return None
        return sig.subkeys

    def _table_count(self, signal: str) -> int:
        keyer = self._keyer(signal)
        return 0 if keyer is None else keyer(np.zeros((0, self.code_bytes[signal]), np.uint8)).shape[1]

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
        index = build_index(width, all_ids, all_codes, self.params, exact=REGISTRY.is_exact(signal),
                            positional=True)
        return SignalIndex(signal, index, TimeTable.from_parts(parts), self.params, is_positional(index),
                           self._keyer(signal))

    def _build_settings(self) -> dict:
        """The settings the saved files were built with; a change means a rebuild.

        IVF files depend on the number of lists and on the training threshold
        (below it the exact index is built instead); nprobe is set at load time.
        """
        exact = {"format": INDEX_FORMAT}  # how codes are labelled and times kept (packed ids and ends before)
        if self.params.kind == "ivf":
            return {"kind": "ivf", "nlist": self.params.nlist,
                    "ivf_min_train_per_list": self.params.ivf_min_train_per_list, **exact}
        return {"kind": self.params.kind, **exact}

    def save(self, generation: int) -> None:
        """Write every signal's files atomically, then the manifest naming ``generation``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.manifest_path.unlink(missing_ok=True)  # a crash mid-save leaves no stale claim
        for sig in self.signals.values():
            sig.save(self.folder)
        subkeys = {s: len(sig.subkeys.tables) for s, sig in self.signals.items() if sig.subkeys is not None}
        manifest = {
            "generation": generation,
            **self._build_settings(),
            "code_bytes": self.code_bytes,
            "counts": {s: sig.ntotal for s, sig in self.signals.items()},
            "subkeys": subkeys,
            "files": {name: [(self.folder / name).stat().st_size, sha256_file(self.folder / name)]
                      for name in self._file_names(subkeys) if (self.folder / name).exists()},
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
