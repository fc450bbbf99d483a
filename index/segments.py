"""Immutable, memory-mapped index segments: append-only posting tables for the candidate stage.

A catalog of 10^4 hours cannot be loaded into every process nor rebuilt on every change. This store
keeps *posting tables* — for each key (a landmark hash, a video sub-key, a chroma word: unsigned
32-bit integers) the (reference, code row) positions that carry it — in segments that are written
once and never changed:

    <folder>/
      manifest-00000042.json   generation, settings, segments (files with size and SHA-256, ref ids),
                               tombstones; a SHA-256 of its own body
      seg-00000007/            one segment: ref_ids.i64, and per table <t>.base.u64 (row bases per
                               reference), <t>.pos.u32 (positions, sorted by key then position) and
                               <t>.keys.u32 (sorted keys) or, for keys of at most ``direct_bits``
                               bits, <t>.off.u64 (2^bits + 1 offsets: key k's postings are
                               pos[off[k]:off[k + 1]], no key array, one lookup per key)
      tombstones-00000042.i64  removed ref ids (sorted), filtered at lookup, dropped by compaction

- **Append** (a registration) writes one new small segment under a temporary name, fsyncs, renames
  it, then writes the next manifest (temporary name, fsync, rename: the manifest is the commit).
  No existing file is rewritten: the cost is the new codes', not the catalog's.
- **Remove** writes a new tombstones file and manifest: the cost is the removed ids', not the
  catalog's. ``compact`` later merges segments (tiered: ``merge_factor`` segments of one size tier
  become one) and drops tombstoned references.
- **Checksums**: every file's size and SHA-256 are in the manifest and checked on ``open`` (a
  flipped byte is found; ``SegmentStore.corrupt`` names the segments, whose references the caller
  re-appends from the catalog with ``replace``); a manifest whose own digest does not match is
  skipped for the previous one.
- **Crash cleanup**: ``sweep`` (call it under the catalog's write lock) deletes temporary files and
  segments no kept manifest references.
- **Shards**: ``shards(n)`` splits the segments into ``n`` lists whose lookups are independent; the
  merged result of per-shard ``lookup`` calls equals one lookup over all segments.

Positions: a segment numbers the code rows of each table consecutively over its references
(``base[i] + row`` for reference ``i``), so a posting is one integer and maps back to (ref id, row) by
a binary search of the bases. Only the offsets of direct tables and touched pages are resident: files
are memory-mapped and shared by every process that opens them.

Pure file I/O over numpy arrays; the catalog (SQL) stays the source of truth, and everything here
is rebuildable from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .store import _atomic_write, expand_ranges, sha256_file as _sha256_file

FORMAT = 1
MANIFEST_RE = re.compile(r"^manifest-(\d{8})\.json$")
SEGMENT_RE = re.compile(r"^seg-(\d{8})$")
KEY_DTYPE = np.uint32
POS_DTYPE = np.uint32  # positions within a segment: 4 B a posting; a segment holds < 2^32 code rows per table
OFF_DTYPE = np.uint64
REF_DTYPE = np.int64
KEPT_MANIFESTS = 2  # the newest and the one before it (the fallback when the newest is damaged)


class SegmentError(Exception):
    """The segment folder cannot be used as asked (a table of unknown name, damaged beyond fallback)."""


@dataclass(frozen=True)
class TableSpec:
    """One posting table. ``direct_bits``: keys are below 2**direct_bits and are looked up through an
    offsets array of 2**direct_bits + 1 entries (8 B each: 16 MiB at 21 bits, per segment); None:
    sorted keys searched by bisection (any uint32 key)."""

    name: str
    direct_bits: int | None = None

    def __post_init__(self):
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", self.name):
            raise ValueError(f"table name {self.name!r}: lower-case letters, digits and _ only")
        if self.direct_bits is not None and not 1 <= self.direct_bits <= 26:
            raise ValueError(f"table {self.name}: direct_bits must be 1..26 (offsets cost 8 B x 2^bits)")


@dataclass(frozen=True)
class RefPostings:
    """What one reference puts in the tables: for each table, ``rows[t]`` code rows (positions
    0..rows-1 of this reference) and the postings (``keys``, ``row`` of each key: equal length;
    a row may carry several keys or none)."""

    ref_id: int
    rows: dict[str, int]
    keys: dict[str, np.ndarray]
    key_rows: dict[str, np.ndarray]


@dataclass
class Postings:
    """Lookup results flattened: posting k is query key ``query[k]`` found at ``row[k]`` of
    reference ``ref_id[k]``. Ordered by query, then segment, then position."""

    query: np.ndarray
    ref_id: np.ndarray
    row: np.ndarray

    @classmethod
    def empty(cls) -> "Postings":
        return cls(np.zeros(0, np.int64), np.zeros(0, REF_DTYPE), np.zeros(0, np.int64))

    @classmethod
    def concat(cls, parts: list["Postings"]) -> "Postings":
        """Merge the lookups of several shards (same query keys) in query order."""
        parts = [p for p in parts if len(p.query)]
        if not parts:
            return cls.empty()
        query = np.concatenate([p.query for p in parts])
        order = np.argsort(query, kind="stable")
        return cls(query[order], np.concatenate([p.ref_id for p in parts])[order],
                   np.concatenate([p.row for p in parts])[order])

    def __len__(self) -> int:
        return len(self.query)


@dataclass(frozen=True)
class SegmentInfo:
    name: str
    ref_ids: tuple[int, ...]
    entries: dict[str, int]            # postings per table
    files: dict[str, tuple[int, str]]  # file -> (bytes, SHA-256)

    @property
    def size(self) -> int:
        return sum(self.entries.values())


@dataclass(frozen=True)
class Manifest:
    generation: int
    tables: tuple[TableSpec, ...]
    segments: tuple[SegmentInfo, ...]
    tombstones: tuple[str, int, str] | None = None  # (file, bytes, SHA-256)
    settings: dict = field(default_factory=dict)

    def body(self) -> dict:
        return {"format": FORMAT, "generation": self.generation,
                "tables": [[t.name, t.direct_bits] for t in self.tables],
                "segments": [{"name": s.name, "ref_ids": list(s.ref_ids), "entries": s.entries,
                              "files": {f: list(v) for f, v in s.files.items()}} for s in self.segments],
                "tombstones": list(self.tombstones) if self.tombstones else None, "settings": self.settings}

    @classmethod
    def from_body(cls, body: dict) -> "Manifest":
        if body.get("format") != FORMAT:
            raise SegmentError(f"segment manifest format {body.get('format')!r}, this prescreen reads {FORMAT}")
        return cls(int(body["generation"]), tuple(TableSpec(n, b) for n, b in body["tables"]),
                   tuple(SegmentInfo(s["name"], tuple(s["ref_ids"]), dict(s["entries"]),
                                     {f: (int(v[0]), v[1]) for f, v in s["files"].items()}) for s in body["segments"]),
                   tuple(body["tombstones"]) if body["tombstones"] else None, dict(body.get("settings") or {}))


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _map(path: Path, dtype) -> np.ndarray:
    """A read-only memory map of a raw array file (an empty file is an empty array: mmap refuses 0 B)."""
    if path.stat().st_size == 0:
        return np.zeros(0, dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Segment:
    """One segment's arrays, memory-mapped."""

    def __init__(self, folder: Path, info: SegmentInfo, tables: tuple[TableSpec, ...]):
        self.info = info
        self.ref_ids = _map(folder / "ref_ids.i64", REF_DTYPE)
        self.base, self.pos, self.lookup_array = {}, {}, {}
        for t in tables:
            self.base[t.name] = _map(folder / f"{t.name}.base.u64", OFF_DTYPE)
            self.pos[t.name] = _map(folder / f"{t.name}.pos.u32", POS_DTYPE)
            suffix = "off.u64" if t.direct_bits is not None else "keys.u32"
            self.lookup_array[t.name] = _map(folder / f"{t.name}.{suffix}",
                                             OFF_DTYPE if t.direct_bits is not None else KEY_DTYPE)

    def ranges(self, table: TableSpec, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[lo, hi) of each key's postings in ``pos``."""
        if table.direct_bits is not None:
            off = self.lookup_array[table.name]
            inside = keys < (1 << table.direct_bits)
            k = np.where(inside, keys, 0).astype(np.int64)
            lo, hi = off[k].astype(np.int64), off[k + 1].astype(np.int64)
            return lo, np.where(inside, hi, lo)
        sorted_keys = self.lookup_array[table.name]
        return (np.searchsorted(sorted_keys, keys, "left").astype(np.int64),
                np.searchsorted(sorted_keys, keys, "right").astype(np.int64))

    def resolve(self, table: str, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ref id, row) of segment positions."""
        base = self.base[table]
        which = np.searchsorted(base, positions, "right").astype(np.int64) - 1
        return self.ref_ids[which].astype(REF_DTYPE), (positions - base[which]).astype(np.int64)


def _write_segment(folder: Path, name: str, tables: tuple[TableSpec, ...], refs: list[RefPostings]) -> SegmentInfo:
    """Write a segment of ``refs`` (each table's postings sorted by key, then position) under a
    temporary folder, fsync it and rename it to ``folder/name``."""
    refs = sorted(refs, key=lambda r: r.ref_id)
    ids = np.array([r.ref_id for r in refs], REF_DTYPE)
    if len(np.unique(ids)) != len(ids):
        raise SegmentError("a reference appears twice in one segment")
    tmp = folder / f"{name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    arrays: dict[str, np.ndarray] = {"ref_ids.i64": ids}
    entries = {}
    for t in tables:
        counts = np.array([int(r.rows.get(t.name, 0)) for r in refs], np.int64)
        base = np.concatenate([[0], np.cumsum(counts)]).astype(OFF_DTYPE)
        if int(base[-1]) > np.iinfo(POS_DTYPE).max:
            raise SegmentError(f"table {t.name}: {int(base[-1])} code rows do not fit one segment (< 2^32)")
        keys_parts, pos_parts = [], []
        for i, r in enumerate(refs):
            keys = np.asarray(r.keys.get(t.name, np.zeros(0)), np.int64)
            rows = np.asarray(r.key_rows.get(t.name, np.zeros(0)), np.int64)
            if keys.shape != rows.shape:
                raise SegmentError(f"reference {r.ref_id}, table {t.name}: {len(keys)} keys for {len(rows)} rows")
            if len(rows) and (rows.min() < 0 or rows.max() >= counts[i]):
                raise SegmentError(f"reference {r.ref_id}, table {t.name}: a key row outside 0..{counts[i] - 1}")
            if len(keys) and (keys.min() < 0 or keys.max() >= (1 << (t.direct_bits or 32))):
                raise SegmentError(f"reference {r.ref_id}, table {t.name}: a key outside 0..2^{t.direct_bits or 32}-1")
            keys_parts.append(keys)
            pos_parts.append(rows + int(base[i]))
        keys = np.concatenate(keys_parts) if keys_parts else np.zeros(0, np.int64)
        pos = np.concatenate(pos_parts) if pos_parts else np.zeros(0, np.int64)
        order = np.lexsort((pos, keys))
        keys, pos = keys[order], pos[order]
        arrays[f"{t.name}.base.u64"] = base
        arrays[f"{t.name}.pos.u32"] = pos.astype(POS_DTYPE)
        if t.direct_bits is not None:
            off = np.searchsorted(keys, np.arange((1 << t.direct_bits) + 1, dtype=np.int64), "left")
            arrays[f"{t.name}.off.u64"] = off.astype(OFF_DTYPE)
        else:
            arrays[f"{t.name}.keys.u32"] = keys.astype(KEY_DTYPE)
        entries[t.name] = int(len(pos))
    files = {}
    for file, array in arrays.items():
        path = tmp / file
        with open(path, "wb") as handle:
            handle.write(np.ascontiguousarray(array).tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        files[file] = (path.stat().st_size, _sha256_file(path))
    _fsync_dir(tmp)
    os.replace(tmp, folder / name)
    _fsync_dir(folder)
    return SegmentInfo(name, tuple(int(i) for i in ids), entries, files)


class SegmentStore:
    """The segments under ``folder`` as of its newest valid manifest (see the module's docstring).

    tables: the posting tables (a new folder starts with them; an existing one must have the same).
    verify: check every file's SHA-256 on open (else only sizes); damaged segments are listed in
    ``corrupt`` and left out of lookups until ``replace`` rebuilds them.
    Writers (``append``, ``remove``, ``replace``, ``compact``, ``sweep``) must be serialised by the
    caller (the catalog's write lock); readers in other processes keep the files they mapped.
    """

    def __init__(self, folder: str | Path, tables: tuple[TableSpec, ...], verify: bool = True,
                 settings: dict | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.verify = verify
        self.manifest = self._newest_manifest() or Manifest(0, tuple(tables), (), None, dict(settings or {}))
        if tuple(self.manifest.tables) != tuple(tables):
            raise SegmentError(f"{self.folder} holds tables {[(t.name, t.direct_bits) for t in self.manifest.tables]}, "
                               f"asked for {[(t.name, t.direct_bits) for t in tables]}: rebuild the index")
        self._load()

    # -- reading ---------------------------------------------------------
    def _manifests(self) -> list[tuple[int, Path]]:
        found = [(int(m.group(1)), p) for p in self.folder.iterdir() if (m := MANIFEST_RE.match(p.name))]
        return sorted(found, reverse=True)

    def _newest_manifest(self) -> Manifest | None:
        for _, path in self._manifests():
            try:
                doc = json.loads(path.read_bytes())
                body = doc["body"]
                if hashlib.sha256(_canonical(body)).hexdigest() != doc["sha256"]:
                    continue  # damaged: the one before it
                return Manifest.from_body(body)
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return None

    def _load(self) -> None:
        self.corrupt: list[str] = []
        self._segments: list[_Segment] = []
        for info in self.manifest.segments:
            folder = self.folder / info.name
            if not self._intact(folder, info.files):
                self.corrupt.append(info.name)
                continue
            self._segments.append(_Segment(folder, info, self.manifest.tables))
        self.tombstones = np.zeros(0, REF_DTYPE)
        if self.manifest.tombstones:
            file, size, sha = self.manifest.tombstones
            if self._intact(self.folder, {file: (size, sha)}):
                self.tombstones = np.fromfile(self.folder / file, REF_DTYPE)
            else:  # every segment is suspect: removed references could come back
                self.corrupt = [s.name for s in self.manifest.segments]
                self._segments = []

    def _intact(self, folder: Path, files: dict[str, tuple[int, str]]) -> bool:
        for file, (size, sha) in files.items():
            path = folder / file
            try:
                if path.stat().st_size != size or (self.verify and _sha256_file(path) != sha):
                    return False
            except OSError:
                return False
        return True

    @property
    def generation(self) -> int:
        return self.manifest.generation

    def ref_ids(self) -> np.ndarray:
        """The live references (in some intact segment, not tombstoned), sorted."""
        ids = np.concatenate([s.ref_ids for s in self._segments]) if self._segments else np.zeros(0, REF_DTYPE)
        return np.setdiff1d(ids, self.tombstones)

    def entries(self) -> dict[str, int]:
        """Postings per table over the intact segments (tombstoned ones included until compaction)."""
        return {t.name: sum(s.info.entries.get(t.name, 0) for s in self._segments) for t in self.manifest.tables}

    def bytes_on_disk(self) -> int:
        total = sum(size for s in self.manifest.segments for size, _ in s.files.values())
        return total + (self.manifest.tombstones[1] if self.manifest.tombstones else 0)

    def shards(self, n: int) -> list[list[str]]:
        """The segments' names in ``n`` lists of about equal postings (largest first, each to the
        lightest list): lookups over each list are independent, and ``Postings.concat`` merges them."""
        lists: list[list[str]] = [[] for _ in range(max(1, n))]
        load = [0] * len(lists)
        for seg in sorted(self._segments, key=lambda s: -s.info.size):
            i = load.index(min(load))
            lists[i].append(seg.info.name)
            load[i] += seg.info.size
        return lists

    def lookup(self, table: str, keys: np.ndarray, segments: list[str] | None = None,
               max_postings_per_key: int = 0) -> Postings:
        """Every posting of each key in ``keys`` (uint32) in table ``table``, tombstoned references
        left out. segments: only these (a shard; default all intact ones). max_postings_per_key: above
        0, a key with more postings than this in a segment is skipped there (a key every reference
        carries, such as a black frame's, says nothing about which one an upload copies)."""
        spec = next((t for t in self.manifest.tables if t.name == table), None)
        if spec is None:
            raise SegmentError(f"no table {table!r} (tables: {', '.join(t.name for t in self.manifest.tables)})")
        keys = np.asarray(keys)
        if keys.size and (keys.min() < 0 or keys.max() > np.iinfo(KEY_DTYPE).max):
            raise ValueError("keys must be unsigned 32-bit integers")
        keys = keys.astype(np.int64).ravel()
        wanted = None if segments is None else set(segments)
        parts = []
        for seg in self._segments:
            if wanted is not None and seg.info.name not in wanted:
                continue
            lo, hi = seg.ranges(spec, keys)
            if max_postings_per_key > 0:
                hi = np.where(hi - lo > max_postings_per_key, lo, hi)
            query, index = expand_ranges(lo, hi)
            if not len(index):
                continue
            ref_id, row = seg.resolve(table, seg.pos[table][index].astype(np.int64))
            if len(self.tombstones):
                live = ~np.isin(ref_id, self.tombstones)
                query, ref_id, row = query[live], ref_id[live], row[live]
            parts.append(Postings(query, ref_id, row))
        return Postings.concat(parts)

    def postings_of(self, ref_id: int) -> RefPostings | None:
        """One live reference's postings as appended (for tests and repairs)."""
        if np.isin(ref_id, self.tombstones):
            return None
        for seg in self._segments:
            at = int(np.searchsorted(seg.ref_ids, ref_id))
            if at < len(seg.ref_ids) and seg.ref_ids[at] == ref_id:
                return self._postings(seg, np.array([at]))[0]
        return None

    def _postings(self, seg: _Segment, which: np.ndarray) -> list[RefPostings]:
        """The postings of the references at indices ``which`` of segment ``seg``, read in one pass
        over each table (compaction reads whole segments: no pass per reference)."""
        which = np.asarray(which, np.int64)
        per_ref: list[tuple[dict, dict, dict]] = [({}, {}, {}) for _ in which]
        for t in self.manifest.tables:
            base = np.asarray(seg.base[t.name], np.int64)
            pos = np.asarray(seg.pos[t.name], np.int64)
            if t.direct_bits is not None:
                key = np.repeat(np.arange(1 << t.direct_bits, dtype=np.int64),
                                np.diff(np.asarray(seg.lookup_array[t.name], np.int64)))
            else:
                key = np.asarray(seg.lookup_array[t.name], np.int64)
            owner = np.searchsorted(base, pos, "right") - 1
            slot = np.full(len(base), -1, np.int64)
            slot[which] = np.arange(len(which))
            mine = slot[owner] if len(owner) else owner
            order = np.argsort(mine, kind="stable")  # grouped by reference, key order kept
            bounds = np.searchsorted(mine[order], np.arange(len(which) + 1))
            for j, i in enumerate(which):
                rows_of, keys_of, key_rows_of = per_ref[j]
                picked = order[bounds[j]:bounds[j + 1]]
                rows_of[t.name] = int(base[i + 1] - base[i])
                keys_of[t.name] = key[picked].astype(KEY_DTYPE)
                key_rows_of[t.name] = pos[picked] - base[i]
        return [RefPostings(int(seg.ref_ids[i]), *per_ref[j]) for j, i in enumerate(which)]

    # -- writing ---------------------------------------------------------
    def _next_segment_name(self) -> str:
        used = [int(m.group(1)) for p in self.folder.iterdir() if (m := SEGMENT_RE.match(p.name.removesuffix(".tmp")))]
        used += [int(SEGMENT_RE.match(s.name).group(1)) for s in self.manifest.segments]
        return f"seg-{max(used, default=0) + 1:08d}"

    def _commit(self, segments: tuple[SegmentInfo, ...], tombstones: np.ndarray) -> None:
        generation = self.manifest.generation + 1
        stones = None
        tombstones = np.unique(np.asarray(tombstones, REF_DTYPE))
        if len(tombstones):
            file = f"tombstones-{generation:08d}.i64"
            _atomic_write(self.folder / file, lambda tmp: tombstones.tofile(tmp))
            stones = (file, int(tombstones.nbytes), _sha256_file(self.folder / file))
        manifest = Manifest(generation, self.manifest.tables, segments, stones, self.manifest.settings)
        body = manifest.body()
        doc = {"body": body, "sha256": hashlib.sha256(_canonical(body)).hexdigest()}
        _atomic_write(self.folder / f"manifest-{generation:08d}.json",
                      lambda tmp: Path(tmp).write_text(json.dumps(doc, separators=(",", ":"))))
        _fsync_dir(self.folder)
        self.manifest = manifest
        self._load()

    def _live_tombstones(self, segments: tuple[SegmentInfo, ...], stones: np.ndarray) -> np.ndarray:
        present = np.array([i for s in segments for i in s.ref_ids], REF_DTYPE)
        return np.intersect1d(stones, present)

    def append(self, refs: list[RefPostings]) -> str | None:
        """Add references as one new segment (None when ``refs`` is empty). A reference id already
        live is refused (remove it first); a tombstoned one may come back (its old postings stay
        hidden until compaction drops them)."""
        if not refs:
            return None
        new = np.array([r.ref_id for r in refs], REF_DTYPE)
        clash = np.intersect1d(new, self.ref_ids())
        if len(clash):
            raise SegmentError(f"references already in the index: {clash.tolist()[:10]}")
        reborn = np.intersect1d(new, self.tombstones)
        if len(reborn):  # an id may live in one segment only: rewrite the old ones without it first
            self._drop_refs(reborn)
        info = _write_segment(self.folder, self._next_segment_name(), self.manifest.tables, refs)
        self._commit(self.manifest.segments + (info,), self.tombstones)
        return info.name

    def remove(self, ref_ids) -> int:
        """Tombstone references (their postings disappear from lookups now, from disk at compaction).
        Returns how many were live."""
        ids = np.intersect1d(np.asarray(list(ref_ids), REF_DTYPE), self.ref_ids())
        if len(ids):
            self._commit(self.manifest.segments, np.union1d(self.tombstones, ids))
        return int(len(ids))

    def replace(self, names: list[str], refs: list[RefPostings]) -> None:
        """Swap the segments ``names`` (say, damaged ones) for one segment of ``refs`` (their
        references' postings rebuilt from the catalog), in one manifest generation."""
        gone = set(names)
        kept = tuple(s for s in self.manifest.segments if s.name not in gone)
        infos = kept + ((_write_segment(self.folder, self._next_segment_name(), self.manifest.tables, refs),)
                        if refs else ())
        self._commit(infos, self._live_tombstones(infos, self.tombstones))

    def _drop_refs(self, ids: np.ndarray) -> None:
        """Rewrite the segments holding ``ids`` without them (used when a removed id is appended again)."""
        for seg in list(self._segments):
            gone = np.isin(seg.ref_ids, ids)
            if gone.any():  # (the tombstones of ids no segment holds any more are dropped by replace)
                self.replace([seg.info.name], self._postings(seg, np.flatnonzero(~gone)))

    def compact(self, merge_factor: int = 10, everything: bool = False) -> list[str]:
        """Merge segments (tiered: whenever ``merge_factor`` segments fall in one size tier, powers of
        ``merge_factor`` in postings, they become one; ``everything``: all into one), dropping
        tombstoned references. Returns the new segments' names."""
        if merge_factor < 2:
            raise ValueError("merge_factor must be at least 2")
        groups: list[list[_Segment]] = []
        if everything:
            if len(self._segments) > 1 or len(self.tombstones):
                groups = [list(self._segments)]
        else:
            tiers: dict[int, list[_Segment]] = {}
            for seg in self._segments:
                tier = int(np.log(max(seg.info.size, 1)) / np.log(merge_factor))
                tiers.setdefault(tier, []).append(seg)
            groups = [segs for segs in tiers.values() if len(segs) >= merge_factor]
        made = []
        for group in groups:
            refs = [p for seg in group for p in self._postings(seg, np.flatnonzero(~np.isin(seg.ref_ids, self.tombstones)))]
            self.replace([s.info.name for s in group], refs)
            made.append(self.manifest.segments[-1].name if refs else None)
        return [m for m in made if m]

    def sweep(self) -> list[str]:
        """Delete temporary files and what no kept manifest (the newest ``KEPT_MANIFESTS``) references.
        Returns the names deleted. Call it under the write lock: a writer's temporary files are
        in use until its rename."""
        manifests = self._manifests()
        keep_manifests = {p.name for _, p in manifests[:KEPT_MANIFESTS]}
        referenced = set(keep_manifests)
        for _, path in manifests[:KEPT_MANIFESTS]:
            try:
                body = json.loads(path.read_bytes())["body"]
            except (OSError, ValueError, KeyError):
                continue
            referenced |= {s["name"] for s in body.get("segments", [])}
            if body.get("tombstones"):
                referenced.add(body["tombstones"][0])
        referenced |= {s.name for s in self.manifest.segments}
        if self.manifest.tombstones:
            referenced.add(self.manifest.tombstones[0])
        deleted = []
        for path in self.folder.iterdir():
            if path.name in referenced:
                continue
            if path.name.endswith(".tmp") or MANIFEST_RE.match(path.name) or SEGMENT_RE.match(path.name) \
                    or path.name.startswith("tombstones-"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
                deleted.append(path.name)
        return sorted(deleted)


def naive_lookup(refs: list[RefPostings], table: str, keys: np.ndarray) -> Postings:
    """The oracle of ``SegmentStore.lookup``: every (query, ref, row) with an equal key, by brute
    force over the postings as given (no segments, no offsets), in (query, ref, row) order."""
    keys = np.asarray(keys, np.int64).ravel()
    query, ref_id, row = [], [], []
    for r in refs:
        k = np.asarray(r.keys.get(table, np.zeros(0)), np.int64)
        rows = np.asarray(r.key_rows.get(table, np.zeros(0)), np.int64)
        eq = keys[:, None] == k[None, :]
        q, j = np.nonzero(eq)
        query.append(q)
        ref_id.append(np.full(len(q), r.ref_id, REF_DTYPE))
        row.append(rows[j])
    if not query:
        return Postings.empty()
    q, r, w = np.concatenate(query), np.concatenate(ref_id), np.concatenate(row)
    order = np.lexsort((w, r, q))
    return Postings(q[order], r[order], w[order])
