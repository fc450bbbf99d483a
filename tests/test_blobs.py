"""The catalog's fingerprint rows (storage.blobs): compact, and exactly the values that were stored."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from fingerprint import Fingerprint
from index import Catalog, NewReference
from storage import CatalogError
from storage import blobs


def _fp(n: int, width: int, seed: int, grid: float | None = 0.125) -> Fingerprint:
    rng = np.random.default_rng(seed)
    starts = np.arange(n) * grid if grid else rng.uniform(-5, 1e5, n)  # a grid, or any finite values in any order
    return Fingerprint("video", rng.integers(0, 256, (n, width), dtype=np.uint8), starts,
                       starts + rng.uniform(0, 3, n), rng.integers(0, 4, n, dtype=np.uint8))


@pytest.mark.parametrize("n, grid", [(0, 0.125), (1, 0.125), (5000, 256 / 11025), (777, None)])
def test_every_value_comes_back_bit_for_bit(n, grid):
    fp = _fp(n, 32, n, grid)
    back = blobs.decode("video", n, 32, blobs.ZLIB_DELTA, *blobs.encode(fp))
    for name in ("codes", "starts", "ends", "variants"):
        assert getattr(back, name).tobytes() == np.ascontiguousarray(getattr(fp, name)).tobytes(), name


def test_raw_rows_of_earlier_schemas_are_read_as_they_were():
    fp = _fp(300, 4, 1)
    back = blobs.decode("video", 300, 4, blobs.RAW, *blobs.encode(fp, blobs.RAW))
    assert np.array_equal(back.starts, fp.starts) and np.array_equal(back.codes, fp.codes)


def test_times_on_a_grid_take_a_small_share_of_their_raw_bytes():
    fp = _fp(20000, 4, 2, 256 / 11025)
    _, starts, ends, variants = blobs.encode(fp)
    assert len(starts) + len(variants) < 0.1 * (8 + 1) * 20000  # raw: 8 bytes a start, 1 a variant


def test_damaged_or_unknown_rows_are_refused_with_a_reason():
    codes, starts, ends, variants = blobs.encode(_fp(100, 8, 3))
    with pytest.raises(blobs.BlobError, match="damaged"):
        blobs.decode("video", 100, 8, blobs.ZLIB_DELTA, codes, starts[:-5], ends, variants)
    with pytest.raises(blobs.BlobError, match="other lengths"):
        blobs.decode("video", 101, 8, blobs.ZLIB_DELTA, codes, *blobs.encode(_fp(101, 8, 3))[1:3], variants)
    with pytest.raises(blobs.BlobError, match="unknown"):
        blobs.decode("video", 100, 8, "lz4-9", codes, starts, ends, variants)


def test_the_catalog_reads_back_what_it_was_given_and_names_a_damaged_row(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    fps = (_fp(400, 32, 4), Fingerprint("audio", *(lambda f: (f.codes, f.starts, f.ends, f.variants))(_fp(90, 8, 5))))
    (ref,), _ = catalog.add_references(
        "w", "W", "o", [NewReference(str(tmp_path / "w.mp4"), "0" * 64, "0" * 32, 1, 50.0, True, True, fps)])
    for want in fps:
        (_, got), = catalog.fingerprints(want.signal)
        assert got.starts.tobytes() == want.starts.tobytes() and got.codes.tobytes() == want.codes.tobytes()
    catalog.close()
    db = sqlite3.connect(tmp_path / "c.sqlite")
    assert {r[0] for r in db.execute("SELECT encoding FROM fingerprints")} == {blobs.ZLIB_DELTA}
    db.execute("UPDATE fingerprints SET starts = x'00112233' WHERE signal = 'video'")
    db.commit()
    db.close()
    catalog = Catalog(tmp_path / "c.sqlite")
    with pytest.raises(CatalogError, match=f"reference {ref}: damaged video fingerprint"):
        list(catalog.fingerprints("video"))
    catalog.close()
