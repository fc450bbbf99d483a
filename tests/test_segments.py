"""The segment store (index/segments.py): append-only posting tables, checked against the naive oracle.

What the candidate stage relies on: every lookup equals a brute-force comparison of the keys as
registered, whatever the history of appends, removals, compactions, crashes and damaged files.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from index.segments import (
    Postings, RefPostings, SegmentError, SegmentStore, TableSpec, expand_ranges, naive_lookup,
)

TABLES = (TableSpec("landmark", direct_bits=12), TableSpec("video"))


def _ref(rng, ref_id: int, rows: int = 60, common: int | None = None) -> RefPostings:
    """A reference with ``rows`` code rows: landmarks (several keys per row, 12-bit) and video
    sub-keys (32-bit, every second row); ``common``: a key every reference carries."""
    lm_rows = np.repeat(np.arange(rows), rng.integers(0, 4, rows))
    lm_keys = rng.integers(0, 1 << 12, len(lm_rows))
    v_rows = np.arange(0, rows, 2)
    v_keys = rng.integers(0, 1 << 32, len(v_rows), dtype=np.int64)
    if common is not None:
        v_keys[0] = common
    return RefPostings(ref_id, {"landmark": rows, "video": rows},
                       {"landmark": lm_keys, "video": v_keys}, {"landmark": lm_rows, "video": v_rows})


def _sorted(p: Postings) -> tuple:
    order = np.lexsort((p.row, p.ref_id, p.query))
    return p.query[order].tolist(), p.ref_id[order].tolist(), p.row[order].tolist()


def _queries(rng, refs: list[RefPostings], table: str, n: int = 300) -> np.ndarray:
    """Keys that occur (taken from the references) and keys that do not."""
    pool = np.concatenate([r.keys[table] for r in refs])
    bits = 12 if table == "landmark" else 32
    return np.concatenate([rng.choice(pool, n), rng.integers(0, 1 << bits, n // 3, dtype=np.int64)])


def _check(store: SegmentStore, live: list[RefPostings], rng) -> None:
    for table in ("landmark", "video"):
        q = _queries(rng, live, table)
        got = store.lookup(table, q)
        assert _sorted(got) == _sorted(naive_lookup(live, table, q))


def test_lookups_equal_the_naive_oracle_through_appends_removals_and_compaction(tmp_path):
    rng = np.random.default_rng(1)
    store = SegmentStore(tmp_path / "ix", TABLES)
    refs = {i: _ref(rng, i) for i in range(1, 41)}
    for batch in range(4):  # four registrations: four segments
        store.append([refs[i] for i in range(1 + batch * 10, 11 + batch * 10)])
    assert len(store.manifest.segments) == 4
    _check(store, list(refs.values()), rng)

    assert store.remove([3, 17, 17, 999]) == 2  # 999 was never there; 17 counted once
    live = [r for i, r in refs.items() if i not in (3, 17)]
    _check(store, live, rng)
    assert store.ref_ids().tolist() == [r.ref_id for r in live]

    before = store.bytes_on_disk()
    store.compact(everything=True)
    assert len(store.manifest.segments) == 1 and len(store.tombstones) == 0
    assert store.bytes_on_disk() < before  # the removed references' postings are gone from disk
    _check(store, live, rng)
    for r in live[:5]:  # each reference's postings survive compaction as appended
        back = store.postings_of(r.ref_id)
        for t in ("landmark", "video"):
            assert back.rows[t] == r.rows[t]
            assert sorted(zip(back.keys[t].tolist(), back.key_rows[t].tolist())) == \
                sorted(zip(np.asarray(r.keys[t]).tolist(), np.asarray(r.key_rows[t]).tolist()))

    reopened = SegmentStore(tmp_path / "ix", TABLES)  # another process, from the files alone
    assert reopened.generation == store.generation and not reopened.corrupt
    _check(reopened, live, rng)
    assert isinstance(reopened._segments[0].pos["video"], np.memmap)  # mapped, not loaded


def test_tiered_compaction_merges_a_full_tier_only(tmp_path):
    rng = np.random.default_rng(2)
    store = SegmentStore(tmp_path / "ix", TABLES)
    refs = [_ref(rng, i, rows=20) for i in range(1, 8)]
    for r in refs[:3]:
        store.append([r])
    assert store.compact(merge_factor=4) == []  # three small segments: the tier is not full
    store.append([refs[3]])
    made = store.compact(merge_factor=4)
    assert len(made) == 1 and len(store.manifest.segments) == 1
    _check(store, refs[:4], rng)


def test_a_removed_reference_can_be_registered_again(tmp_path):
    rng = np.random.default_rng(3)
    store = SegmentStore(tmp_path / "ix", TABLES)
    store.append([_ref(rng, 1), _ref(rng, 2)])
    with pytest.raises(SegmentError, match="already in the index"):
        store.append([_ref(rng, 2)])
    store.remove([2])
    again = _ref(rng, 2)  # new codes under the same id (a refingerprinted reference)
    store.append([again])
    assert store.ref_ids().tolist() == [1, 2]
    _check(store, [store.postings_of(1), again], rng)
    assert sum(2 in s.ref_ids for s in store.manifest.segments) == 1  # one segment holds an id


def test_shards_searched_apart_and_merged_equal_one_search(tmp_path):
    rng = np.random.default_rng(4)
    store = SegmentStore(tmp_path / "ix", TABLES)
    refs = [_ref(rng, i) for i in range(1, 31)]
    for lo in range(0, 30, 5):
        store.append(refs[lo:lo + 5])
    store.remove([7])
    for n in (1, 2, 4, 9):
        shards = store.shards(n)
        assert sorted(x for s in shards for x in s) == sorted(s.name for s in store.manifest.segments)
        for table in ("landmark", "video"):
            q = _queries(rng, refs, table)
            merged = Postings.concat([store.lookup(table, q, segments=s) for s in shards])
            assert _sorted(merged) == _sorted(store.lookup(table, q))


def test_a_key_every_reference_carries_can_be_skipped(tmp_path):
    rng = np.random.default_rng(5)
    store = SegmentStore(tmp_path / "ix", TABLES)
    store.append([_ref(rng, i, common=123456789) for i in range(1, 21)])
    assert len(store.lookup("video", [123456789])) == 20
    assert len(store.lookup("video", [123456789], max_postings_per_key=10)) == 0


def test_a_flipped_byte_is_found_on_open_and_the_segment_rebuilt(tmp_path):
    rng = np.random.default_rng(6)
    folder = tmp_path / "ix"
    store = SegmentStore(folder, TABLES)
    refs = [_ref(rng, i) for i in range(1, 11)]
    store.append(refs[:5])
    damaged = store.append(refs[5:])
    path = folder / damaged / "video.pos.u32"
    data = bytearray(path.read_bytes())
    data[17] ^= 0x10
    path.write_bytes(bytes(data))

    reopened = SegmentStore(folder, TABLES)
    assert reopened.corrupt == [damaged]
    _check(reopened, refs[:5], rng)  # the damaged segment answers nothing, never wrong rows
    seg = next(s for s in reopened.manifest.segments if s.name == damaged)
    reopened.replace([damaged], [r for r in refs if r.ref_id in seg.ref_ids])  # from the catalog
    assert not reopened.corrupt
    _check(SegmentStore(folder, TABLES), refs, rng)


def test_damaged_tombstones_distrust_every_segment(tmp_path):
    rng = np.random.default_rng(7)
    folder = tmp_path / "ix"
    store = SegmentStore(folder, TABLES)
    store.append([_ref(rng, 1), _ref(rng, 2)])
    store.remove([1])
    (folder / store.manifest.tombstones[0]).write_bytes(b"\0" * 8)  # removed work would come back
    reopened = SegmentStore(folder, TABLES)
    assert reopened.corrupt and len(reopened.lookup("video", _queries(rng, [_ref(rng, 1)], "video"))) == 0


def test_a_crash_at_any_step_leaves_the_last_committed_state_and_sweep_cleans_up(tmp_path):
    rng = np.random.default_rng(8)
    folder = tmp_path / "ix"
    store = SegmentStore(folder, TABLES)
    refs = [_ref(rng, i) for i in range(1, 7)]
    store.append(refs[:3])
    committed = store.generation
    # a writer killed after renaming its segment but before its manifest: the segment is invisible
    store.append(refs[3:])
    newest = folder / f"manifest-{store.generation:08d}.json"
    newest.unlink()
    (folder / "seg-00000099.tmp").mkdir()                      # killed while writing a segment
    (folder / "seg-00000099.tmp" / "video.pos.u32").write_bytes(b"12345678")
    (folder / "manifest-00000077.json.x.tmp").write_text("{")  # killed while writing a manifest
    after = SegmentStore(folder, TABLES)
    assert after.generation == committed
    _check(after, refs[:3], rng)
    deleted = after.sweep()
    assert "seg-00000099.tmp" in deleted and "manifest-00000077.json.x.tmp" in deleted
    assert any(name.startswith("seg-") and not name.endswith(".tmp") for name in deleted)  # the orphan
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("seg-")) == \
        [s.name for s in after.manifest.segments]
    after.append(refs[3:])  # and the next writer goes on from there
    _check(SegmentStore(folder, TABLES), refs, rng)


def test_a_damaged_manifest_falls_back_to_the_one_before(tmp_path):
    rng = np.random.default_rng(9)
    folder = tmp_path / "ix"
    store = SegmentStore(folder, TABLES)
    refs = [_ref(rng, i) for i in range(1, 5)]
    store.append(refs[:2])
    store.append(refs[2:])
    newest = folder / f"manifest-{store.generation:08d}.json"
    doc = json.loads(newest.read_text())
    doc["body"]["segments"] = doc["body"]["segments"][:1]  # an edit: its digest no longer matches
    newest.write_text(json.dumps(doc))
    back = SegmentStore(folder, TABLES)
    assert back.generation == store.generation - 1
    _check(back, refs[:2], rng)
    assert store.sweep() == []  # the previous manifest and its segments are kept for this fallback


def test_bad_postings_and_other_tables_are_refused(tmp_path):
    store = SegmentStore(tmp_path / "ix", TABLES)
    bad_row = RefPostings(1, {"landmark": 5, "video": 5}, {"landmark": np.array([1]), "video": np.zeros(0)},
                          {"landmark": np.array([5]), "video": np.zeros(0)})
    with pytest.raises(SegmentError, match="row outside"):
        store.append([bad_row])
    bad_key = RefPostings(1, {"landmark": 5, "video": 5}, {"landmark": np.array([1 << 12]), "video": np.zeros(0)},
                          {"landmark": np.array([0]), "video": np.zeros(0)})
    with pytest.raises(SegmentError, match="key outside"):
        store.append([bad_key])
    assert store.generation == 0 and not [p for p in (tmp_path / "ix").iterdir() if not p.name.endswith(".tmp")]
    SegmentStore(tmp_path / "ix2", TABLES).append([_ref(np.random.default_rng(0), 1)])
    with pytest.raises(SegmentError, match="rebuild the index"):
        SegmentStore(tmp_path / "ix2", (TableSpec("video"),))
    with pytest.raises(SegmentError, match="no table"):
        store.lookup("chroma", [1])


def test_expand_ranges():
    owner, index = expand_ranges(np.array([5, 0, 9, 3]), np.array([8, 0, 10, 2]))
    assert owner.tolist() == [0, 0, 0, 2] and index.tolist() == [5, 6, 7, 9]


def test_segment_files_are_fsynced_before_the_manifest_names_them(tmp_path, monkeypatch):
    """The manifest is the commit: every file it names was fsynced before it was written."""
    synced = set()
    real_fsync = os.fsync

    def fsync(fd):
        synced.add(os.path.realpath(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    store = SegmentStore(tmp_path / "ix", TABLES)
    store.append([_ref(np.random.default_rng(10), 1)])
    seg = store.manifest.segments[0]
    for file in seg.files:
        assert str((tmp_path / "ix" / f"{seg.name}.tmp" / file).resolve()) in synced
