"""Index layer: FAISS range search equals the naive oracle; remove, persist, rebuild."""

import faiss
import numpy as np
import pytest

from fingerprint import Fingerprint
from index import (Catalog, IndexParams, IndexStore, NewReference, PostingIndex, SignalIndex, TimeTable, build_index,
                   make_ids, naive_range_search, range_search)
from index.store import SubKeyTables
from index.store import is_positional


def _codes(n, seed, width=32):
    return np.random.default_rng(seed).integers(0, 256, (n, width), dtype=np.uint8)


def _near(codes, flips, seed):
    rng = np.random.default_rng(seed)
    bits = np.unpackbits(codes, axis=1)
    for row in bits:
        row[rng.choice(bits.shape[1], flips, replace=False)] ^= 1
    return np.packbits(bits, axis=1)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_range_search_matches_naive_oracle(kind):
    stored = _codes(3000, 1)
    ids = np.concatenate([make_ids(5, 1000), make_ids(9, 2000)])
    queries = np.concatenate([_near(stored[:200:10], 20, 2), _codes(20, 3)])
    params = IndexParams(kind=kind, nlist=8, nprobe=8, ivf_min_train_per_list=10)
    index = build_index(32, ids, stored, params)
    fast = range_search(index, queries, 60).sorted()
    slow = naive_range_search(ids, stored, queries, 60).sorted()
    np.testing.assert_array_equal(fast.query, slow.query)
    np.testing.assert_array_equal(fast.ids, slow.ids)
    np.testing.assert_array_equal(fast.distance, slow.distance)
    # the radius is inclusive: a code exactly 20 bits away is found at radius 20
    assert len(range_search(index, queries[:1], 20).ids) >= 1
    # searched in blocks of rows: the same hits in the same order (unsorted)
    whole, blocked = range_search(index, queries, 60), range_search(index, queries, 60, block_rows=7)
    for field in ("query", "ids", "distance"):
        np.testing.assert_array_equal(getattr(blocked, field), getattr(whole, field))
        assert getattr(blocked, field).dtype == getattr(whole, field).dtype


def test_exact_hash_index_finds_exactly_the_equal_codes():
    # landmark-like 32-bit codes drawn from a small alphabet, so many repeat
    rng = np.random.default_rng(7)
    alphabet = rng.integers(0, 256, (500, 4), dtype=np.uint8)
    stored = alphabet[rng.integers(0, 500, 5000)]
    ids = np.concatenate([make_ids(3, 2000), make_ids(4, 3000)])
    queries = np.concatenate([alphabet[rng.integers(0, 500, 300)], rng.integers(0, 256, (50, 4), dtype=np.uint8)])
    index = build_index(4, ids, stored, IndexParams(), exact=True)
    fast = range_search(index, queries, 0).sorted()
    slow = naive_range_search(ids, stored, queries, 0).sorted()
    assert len(slow.ids) > 1000
    np.testing.assert_array_equal(fast.query, slow.query)
    np.testing.assert_array_equal(fast.ids, slow.ids)
    assert not fast.distance.any()


def test_posting_table_equals_the_naive_search_through_adds_removals_and_a_save(tmp_path):
    rng = np.random.default_rng(11)
    alphabet = rng.integers(0, 256, (300, 4), dtype=np.uint8)  # few distinct codes: long posting lists
    parts = {r: alphabet[rng.integers(0, 300, n)] for r, n in ((2, 1500), (5, 0), (7, 900), (9, 1200))}
    index = PostingIndex()
    assert index.range_search(alphabet[:3], 1)[0].tolist() == [0, 0, 0, 0]  # empty table
    for r, codes in parts.items():
        index.add_with_ids(codes, make_ids(r, len(codes)))
    index.remove_ranges(np.array([7 << 32]), np.array([8 << 32]), renumber=False)
    index.add_with_ids(parts[7][:400], make_ids(7, 400))  # re-added, shorter, after the others
    live = {2: parts[2], 7: parts[7][:400], 9: parts[9]}
    ids = np.concatenate([make_ids(r, len(c)) for r, c in live.items()])
    stored = np.concatenate(list(live.values()))
    queries = np.concatenate([alphabet[rng.integers(0, 300, 200)], rng.integers(0, 256, (40, 4), dtype=np.uint8)])
    index.save(tmp_path, "landmark")
    loaded = PostingIndex.load(tmp_path, "landmark")
    assert isinstance(loaded.keys, np.memmap)  # mapped, not read
    slow = naive_range_search(ids, stored, queries, 0).sorted()
    for table in (index, loaded):
        fast = range_search(table, queries, 0, block_rows=64)
        np.testing.assert_array_equal(fast.query, np.sort(fast.query))  # by query row
        fast = fast.sorted()
        np.testing.assert_array_equal(fast.query, slow.query)
        np.testing.assert_array_equal(fast.ids, slow.ids)
        assert not fast.distance.any() and len(fast.ids) > 1000
    assert len(range_search(loaded, np.zeros((0, 4), np.uint8), 0).ids) == 0
    with pytest.raises(ValueError):
        PostingIndex.key_of(np.zeros((3, 8), np.uint8))  # only 32-bit codes


def test_removing_a_work_from_an_exact_match_index_drops_its_postings_in_place(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    widths = {"video": 32, "landmark": 4}
    store = IndexStore(tmp_path / "index", IndexParams(), widths)
    store.load(catalog)
    lm = lambda n, seed: Fingerprint("landmark", _codes(n, seed, 4), np.arange(n) * 0.02, np.arange(n) * 0.02 + 0.02)  # noqa: E731
    refs = [NewReference(p, f"sha{k}", f"md5{k}", 10, 5.0, True, True, (_fp("video", 40, k), lm(200, k + 50)))
            for k, p in enumerate(("a", "b"))]
    ids, gen = catalog.add_references("w1", "one", "o", refs[:1])
    (b,), gen = catalog.add_references("w2", "two", "o", refs[1:])
    store.rebuild(catalog)
    assert store.signals["landmark"].ntotal == 400
    removed, gen = catalog.remove_work("w1")
    catalog.fingerprints = None  # in place: no signal is read again from the catalog
    store.remove_references(removed, catalog)
    store.save(gen)
    assert store.signals["landmark"].ntotal == 200 and store.signals["video"].ntotal == 40
    hits = store.signals["landmark"].search(lm(200, 51).codes, 0)
    assert set(store.signals["landmark"].times.lookup(hits.ids)[0]) == {b}


def _fp(signal, n, seed):
    t = np.arange(n) * 0.125
    return Fingerprint(signal, _codes(n, seed), t, t + 0.125)


def _ref(path, seed):
    return NewReference(path, f"sha{seed}", f"md5{seed}", 10, 5.0, True, True,
                        (_fp("video", 40, seed), _fp("audio", 30, seed + 100)))


def test_store_remove_persist_and_rebuild(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    store = IndexStore(tmp_path / "index", IndexParams(), {"video": 32, "audio": 32})
    store.load(catalog)
    (a,), gen = catalog.add_references("w1", "one", "o", [_ref("a", 1)])
    for fp in _ref("a", 1).fingerprints:
        store.signals[fp.signal].add(a, fp)
    (b,), gen = catalog.add_references("w2", "two", "o", [_ref("b", 2)])
    for fp in _ref("b", 2).fingerprints:
        store.signals[fp.signal].add(b, fp)
    store.save(gen)
    assert store.signals["video"].ntotal == 80

    removed, gen = catalog.remove_work("w1")
    for sig in store.signals.values():
        sig.remove(removed)
    store.save(gen)
    video = store.signals["video"]
    hits = video.search(_fp("video", 40, 2).codes, 0)
    ref_ids, starts, _ = video.times.lookup(hits.ids)
    assert set(ref_ids) == {b} and video.ntotal == 40
    np.testing.assert_allclose(np.sort(starts), np.arange(40) * 0.125)

    # a fresh store reads the files; a stale manifest triggers a rebuild from the catalog
    fresh = IndexStore(tmp_path / "index", IndexParams(), {"video": 32, "audio": 32})
    assert fresh.load(catalog) is False and fresh.signals["audio"].ntotal == 30
    catalog.add_references("w3", "three", "o", [_ref("c", 3)])  # catalog moved on, index not saved
    stale = IndexStore(tmp_path / "index", IndexParams(), {"video": 32, "audio": 32})
    assert stale.load(catalog) is True and stale.signals["video"].ntotal == 80


def test_corrupt_index_file_is_rebuilt(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.add_references("w1", "one", "o", [_ref("a", 1)])
    store = IndexStore(tmp_path / "index", IndexParams(), {"video": 32, "audio": 32})
    store.load(catalog)
    (tmp_path / "index" / "video.faissb").write_bytes(b"garbage")
    again = IndexStore(tmp_path / "index", IndexParams(), {"video": 32, "audio": 32})
    assert again.load(catalog) is True and again.signals["video"].ntotal == 40


def test_a_schema_2_catalog_is_migrated_in_place(tmp_path):
    import sqlite3

    from index.catalog import SCHEMA_VERSION
    from storage import StoredUpload, UploadRecord

    path = tmp_path / "catalog.sqlite"
    catalog = Catalog(path)
    screened = "2026-01-01T00:00:00+00:00"
    for upload_id, decision, outcome in (("auto", "block", "block"), ("reviewed", "review", "allow")):
        catalog.record_upload(StoredUpload(UploadRecord(
            None, upload_id, None, None, f"/{upload_id}.mp4", None, None, screened, "ok", None, None, decision, "r",
            (), 10.0, None, (), (), decision)))
        catalog.db.execute("UPDATE uploads SET outcome=? WHERE upload_id=?", (outcome, upload_id))
    catalog.close()
    db = sqlite3.connect(path)  # make it look like a catalog written by the previous release
    db.execute("ALTER TABLE uploads DROP COLUMN outcome_by")
    db.execute("ALTER TABLE uploads DROP COLUMN outcome_at")
    db.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    db.commit()
    db.close()
    catalog = Catalog(path)
    columns = {row[1] for row in catalog.db.execute("PRAGMA table_info(uploads)")}
    assert {"outcome_by", "outcome_at"} <= columns
    # an outcome a person changed stays out of reach of automatic re-decisions
    provenance = {r["upload_id"]: (r["outcome_by"], r["outcome_at"]) for r in catalog.db.execute(
        "SELECT upload_id, outcome_by, outcome_at FROM uploads")}
    assert provenance == {"auto": ("system", screened), "reviewed": ("review", screened)}
    assert catalog.get_meta("schema_version") == str(SCHEMA_VERSION)
    catalog.db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    catalog.close()
    with pytest.raises(Exception, match="schema 99"):
        Catalog(path)


def test_staged_search_searches_the_rest_of_a_group_only_where_its_first_rows_hit():
    # group 0: always searched; group 1: a copy (its first rows hit): searched in full, with the
    # same hits a full search finds; group 2: unrelated codes: its other rows are never searched
    from index import staged_search

    stored = _codes(400, 11)
    ids = np.concatenate([make_ids(3, 200), make_ids(4, 200)])
    index = build_index(32, ids, stored, IndexParams())
    queries = np.concatenate([_near(stored[:40], 10, 12), _near(stored[200:240], 10, 13), _codes(40, 14)])
    groups = np.repeat([0, 1, 2], 40)
    first = (groups == 0) | (np.arange(120) % 4 == 0)
    searched = []

    def search(codes, rows):
        searched.append(len(codes))
        assert np.array_equal(codes, queries[rows])
        return range_search(index, codes, 60)

    staged = staged_search(search, queries, first, groups, min_hits=2).sorted()
    full = range_search(index, queries, 60)
    keep = np.isin(full.query, np.flatnonzero(groups < 2)) | first[full.query]
    expect = type(full)(full.query[keep], full.ids[keep], full.distance[keep]).sorted()
    np.testing.assert_array_equal(staged.query, expect.query)
    np.testing.assert_array_equal(staged.ids, expect.ids)
    assert searched == [int(first.sum()), 30]  # second stage: group 1's 30 other rows only


def test_staged_search_does_not_complete_a_group_where_the_base_group_matches_better():
    # a variant's probe hits count only where they beat the plain reading's hits at that time
    from index import staged_search

    stored = _codes(200, 21)
    index = build_index(32, make_ids(3, 200), stored, IndexParams())
    plain = _near(stored[:40], 4, 22)  # the copy, read plainly: close
    altered = _near(stored[:40], 20, 23)  # a variant's reading of the same instants: further
    queries = np.concatenate([plain, altered])
    groups = np.repeat([0, 1], 40)
    times = np.tile(np.arange(40) * 0.125, 2)
    first = (groups == 0) | (np.arange(80) % 4 == 0)
    searched = []

    def search(codes, rows):
        searched.append(len(codes))
        assert np.array_equal(codes, queries[rows])
        return range_search(index, codes, 60)

    staged_search(search, queries, first, groups, 2, times)
    assert searched == [int(first.sum())]  # the variant is not completed
    staged_search(search, queries, first, groups, 2)  # without times it is
    assert searched[-1] == 30


@pytest.mark.parametrize("signal,width", [("video", 32), ("landmark", 4)])
def test_position_labelled_index_equals_the_naive_search_through_adds_removals_and_a_reload(tmp_path, signal, width):
    """A flat index and a posting table label codes by their time-table position; hits still come back
    as packed ids with each code's own seconds, whatever order references arrive and leave in."""

    rng = np.random.default_rng(5)
    alphabet = rng.integers(0, 256, (200, width), dtype=np.uint8)
    step = 0.0232  # a landmark's span: ends are start + one step (kept as one span per reference)
    fps = {}
    for r, n in ((3, 700), (9, 500), (5, 600), (12, 300)):
        t = np.sort(rng.uniform(0, 3600, n))
        ends = t + step if signal == "landmark" else t + rng.uniform(0.1, 2.0, n)
        fps[r] = Fingerprint(signal, alphabet[rng.integers(0, 200, n)], t, ends)
    index = build_index(width, np.zeros(0, np.int64), np.zeros((0, width), np.uint8), IndexParams(),
                        exact=signal == "landmark", positional=True)
    sig = SignalIndex(signal, index, TimeTable.from_parts([]), positional=is_positional(index))
    for r in (3, 9, 5, 12):  # 5 after 9: positions follow the order of arrival, not the ids
        sig.add(r, fps[r])
    sig.remove([9])
    sig.add(3, fps[3].subset(np.arange(250)))  # replaced by a shorter reading, now after the others
    live = {5: fps[5], 12: fps[12], 3: fps[3].subset(np.arange(250))}
    assert (sig.times.ends is None) == (signal == "landmark")  # constant spans: no end per code
    stored_ids = np.concatenate([make_ids(r, len(fp)) for r, fp in live.items()])
    stored = np.concatenate([fp.codes for fp in live.values()])
    queries = np.concatenate([alphabet[rng.integers(0, 200, 150)], rng.integers(0, 256, (30, width), dtype=np.uint8)])
    radius = 0 if signal == "landmark" else 100
    slow = naive_range_search(stored_ids, stored, queries, radius).sorted()
    folder = tmp_path / "i"
    folder.mkdir()
    if signal == "landmark":
        index.save(folder, signal)
    else:
        faiss.write_index_binary(index, str(folder / "x.faissb"))
    sig.times.save(str(folder / "t.npz"))
    loaded_index = (PostingIndex.load(folder, signal) if signal == "landmark"
                    else faiss.read_index_binary(str(folder / "x.faissb")))
    loaded = SignalIndex(signal, loaded_index, TimeTable.load(folder / "t.npz"), positional=True)
    for s in (sig, loaded):
        fast = s.search(queries, radius).sorted()
        assert len(fast.ids) > 200
        np.testing.assert_array_equal(fast.query, slow.query)
        np.testing.assert_array_equal(fast.ids, slow.ids)
        np.testing.assert_array_equal(fast.distance, slow.distance)
        ref_ids, starts, ends = s.times.lookup(fast.ids)
        rows = fast.ids & 0xFFFFFFFF
        want_start = np.array([live[int(r)].starts[k] for r, k in zip(ref_ids, rows)], np.float32)
        want_end = np.array([live[int(r)].ends[k] for r, k in zip(ref_ids, rows)], np.float32)
        np.testing.assert_array_equal(starts, want_start)
        assert np.all(np.abs(ends - want_end) <= np.spacing(want_end.astype(np.float32)))  # float32's resolution
        np.testing.assert_array_equal(s.times.of_reference(3)[0], fps[3].starts[:250].astype(np.float32))
        assert len(s.times.of_reference(9)[0]) == 0


def _film_codes(n, seed, width=32):
    """Video-like codes: runs of near-identical codes (a shot), each shot a new random code."""
    rng = np.random.default_rng(seed)
    shots = _codes(n // 8 + 1, seed, width)
    codes = np.repeat(shots, 8, axis=0)[:n]
    return _near_profile(codes, low=0.0, high=0.03, seed=seed + 1)


def _near_profile(codes, low, high, seed):
    """Codes with each bit of words 0 and 1 flipped at rate ``low`` and every other bit at ``high``
    (a pHash's low frequencies flip least under re-encoding)."""
    rng = np.random.default_rng(seed)
    bits = np.unpackbits(codes, axis=1)
    rate = np.full(bits.shape[1], high)
    rate[:64] = low
    flips = rng.random(bits.shape) < rate
    return np.packbits(bits ^ flips, axis=1)


def _two_stage_params(min_codes):
    return IndexParams(two_stage_min_codes=min_codes, candidate_min_rows=2, candidate_max_refs=64)


def test_two_stage_search_finds_the_works_the_exact_search_finds_among_filler(tmp_path):
    """Copies planted among 300 unrelated references: the candidate stage names the copied works, and
    on them the hits are the exact search's, while most stored codes are never compared."""
    from fingerprint import REGISTRY

    refs = {r: _film_codes(400, 1000 + r) for r in range(1, 301)}
    keyer = REGISTRY["video"].subkeys
    assert keyer(refs[1]).shape == (400, 2)
    copied = {17: (40, 200), 150: (0, 120), 299: (100, 400)}  # ref -> rows copied
    upload = np.concatenate([_near_profile(refs[r][a:b], low=0.02, high=0.25, seed=r) for r, (a, b) in copied.items()]
                            + [_film_codes(300, 99)])  # and unrelated footage
    indexes = {}
    for name, min_codes in (("exact", 0), ("two-stage", 1)):
        index = build_index(32, np.zeros(0, np.int64), np.zeros((0, 32), np.uint8), IndexParams(), positional=True)
        sig = SignalIndex("video", index, TimeTable.from_parts([]), _two_stage_params(min_codes), True, keyer)
        for r, codes in refs.items():
            t = np.arange(len(codes)) * 0.125
            sig.add(r, Fingerprint("video", codes, t, t + 0.125))
        indexes[name] = sig
    exact, two = indexes["exact"], indexes["two-stage"]
    assert exact.search_kind == "exact" and two.search_kind == "two-stage"
    upload_times = np.arange(len(upload)) * 0.125
    whole = exact.search(upload, 64)
    fast = two.search(upload, 64, upload_times)  # candidates scored on one diagonal
    assert set(np.unique(two.search(upload, 64).ids >> 32).tolist()) >= set(copied)  # (or by codes alone)
    ref_of = lambda hits: hits.ids >> 32  # noqa: E731
    rows_per_ref = {int(r): len(np.unique(whole.query[ref_of(whole) == r])) for r in np.unique(ref_of(whole))}
    found_by_exact = {r for r, n in rows_per_ref.items() if n >= 5}
    assert found_by_exact == set(copied)  # (the filler is unrelated: the exact search finds only the copies)
    assert set(np.unique(ref_of(fast)).tolist()) >= found_by_exact  # work-level recall: every copied work
    for r in found_by_exact:  # on a candidate, the hits are exactly the whole search's
        a, b = whole.sorted(), fast.sorted()
        ka, kb = ref_of(a) == r, ref_of(b) == r
        for field in ("query", "ids", "distance"):
            np.testing.assert_array_equal(getattr(b, field)[kb], getattr(a, field)[ka])
    assert two.counts["codes_compared"] < 0.1 * exact.counts["codes_compared"]  # sub-linear: few codes compared
    from dataclasses import replace
    for query_times in (None, upload_times):  # looked up a block of rows at a time: the same candidates
        whole_blocks = two.subkeys.candidates(keyer(upload), two.times, two.params, query_times)
        small_blocks = two.subkeys.candidates(keyer(upload), two.times, replace(two.params, search_block_rows=7),
                                              query_times)
        np.testing.assert_array_equal(small_blocks[0], whole_blocks[0])
        assert small_blocks[1] == whole_blocks[1]
    # shards: whole references apart, searched independently, merged by score = the whole (also when the
    # cap cuts: the best by score across shards)
    bases, counts = two.times.bases, two.times.counts
    cuts = [0, int(bases[100]), int(bases[200]), int(bases[-1] + counts[-1])]
    shards = [two.subkeys.shard(a, b) for a, b in zip(cuts[:-1], cuts[1:])]
    assert sum(s.tables[0].ntotal for s in shards) == two.subkeys.tables[0].ntotal
    for cap in (64, 2, 1):
        params = replace(two.params, candidate_max_refs=cap, candidate_min_rows=1)
        parts = [s.scores(keyer(upload), two.times, params, upload_times) for s in shards]
        merged = SubKeyTables.select(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), cap)
        whole_found, _ = two.subkeys.candidates(keyer(upload), two.times, params, upload_times)
        np.testing.assert_array_equal(merged, whole_found)
        if cap == 2:  # the two most hit: copied works, not the chance hits min_rows=1 lets in
            assert len(whole_found) == 2 and set(two.times.refs[whole_found].tolist()) <= set(copied)
        if cap == 1:  # the most hit: the longest copy (300 codes of 299, 160 of 17, 120 of 150)
            assert two.times.refs[whole_found].tolist() == [299]
    grouped = SignalIndex("video", two.index, two.times, replace(two.params, verify_block_codes=300), True, keyer,
                          two.subkeys)  # candidates compared one at a time (400 codes each): the same hits
    in_groups = grouped.search(upload, 64, upload_times)
    assert grouped.counts["verify_groups"] >= 3
    for field in ("query", "ids", "distance"):
        np.testing.assert_array_equal(np.sort(getattr(in_groups, field)), np.sort(getattr(fast, field)))
    np.testing.assert_array_equal(in_groups.query, np.sort(in_groups.query))
    # removing a copied work takes it out of the candidate stage too; positions shift under it
    for sig in (exact, two):
        sig.remove([17, 150])
    fast, whole = two.search(upload, 64, upload_times), exact.search(upload, 64)
    assert set(np.unique(ref_of(fast)).tolist()) >= {299} and not {17, 150} & set(ref_of(fast).tolist())
    k_fast, k_whole = ref_of(fast.sorted()) == 299, ref_of(whole.sorted()) == 299
    np.testing.assert_array_equal(fast.sorted().ids[k_fast], whole.sorted().ids[k_whole])


def test_two_stage_tables_are_saved_checked_and_rebuilt_with_the_index(tmp_path):
    """The sub-key tables exist once a signal reaches ``two_stage_min_codes``; they are saved with their
    checksums in the manifest, a damaged one is found on load and the index rebuilt, and a removal keeps
    them in step with the codes."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    widths = {"video": 32}
    params = _two_stage_params(500)
    store = IndexStore(tmp_path / "index", params, widths)
    store.load(catalog)

    def reference(k, n):
        t = np.arange(n) * 0.125
        return NewReference(f"p{k}", f"sha{k}", f"md5{k}", 10, 5.0, True, False,
                            (Fingerprint("video", _film_codes(n, 50 + k), t, t + 0.125),))

    catalog.add_references("w1", "one", "o", [reference(1, 300)])
    store.rebuild(catalog)
    assert store.signals["video"].subkeys is None and store.stats()["signals"]["video"]["search"] == "exact"
    (r2,), gen = catalog.add_references("w2", "two", "o", [reference(2, 300)])
    fp2 = catalog.fingerprints("video")
    fp2 = dict(fp2)[r2]
    store.signals["video"].add(r2, fp2)  # 600 codes now: the tables are built
    store.save(gen)
    assert store.stats()["signals"]["video"]["search"] == "two-stage"
    manifest = store.read_manifest()
    assert manifest["subkeys"] == {"video": 2} and "video.sub0.keys.npy" in manifest["files"]
    copy = _near_profile(fp2.codes[50:250], low=0.02, high=0.25, seed=3)
    before = store.signals["video"].search(copy, 64).sorted()
    assert set((before.ids >> 32).tolist()) == {r2}

    again = IndexStore(tmp_path / "index", params, widths)
    assert again.load(catalog) is False and again.signals["video"].two_stage
    assert isinstance(again.signals["video"].subkeys.tables[0].keys, np.memmap)
    np.testing.assert_array_equal(again.signals["video"].search(copy, 64).sorted().ids, before.ids)

    path = tmp_path / "index" / "video.sub1.labels.npy"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    damaged = IndexStore(tmp_path / "index", params, widths)
    assert damaged.load(catalog) is True and damaged.found_damaged and "video.sub1.labels.npy" in damaged.rebuilt_because
    np.testing.assert_array_equal(damaged.signals["video"].search(copy, 64).sorted().ids, before.ids)

    removed, gen = catalog.remove_work("w1")
    damaged.remove_references(removed, catalog)
    damaged.save(gen)
    after = damaged.signals["video"].search(copy, 64).sorted()
    np.testing.assert_array_equal(after.ids, before.ids)  # w2's codes moved down 300 positions, found the same
    assert all(t.ntotal == 300 for t in damaged.signals["video"].subkeys.tables)
