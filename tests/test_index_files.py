"""The index files on disk (issue 11, item 1): each carries its size and SHA-256 in the manifest, so
damage is found on load and the index rebuilt from the catalog; temporary files a crashed write left
are cleaned up; an index written before the checksums is rebuilt once, without alarm."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_home

from index import IndexParams, IndexStore
from index.store import sha256_file
from mediagen import transforms as tf
from service.engine import Prescreen
from service.oplog import log_path


@pytest.fixture()
def home(registered_home, tmp_path):
    return copy_home(registered_home, tmp_path / "home")


def _flip(path: Path, start: float = 0.05, end: float = 0.75) -> None:
    """Flip random bits of the bytes between the fractions ``start`` and ``end`` of the file (its codes;
    the header stays). Random, not inverted: an inverted picture code is what a negative image gives,
    which prescreen also searches for."""
    data = np.frombuffer(path.read_bytes(), np.uint8).copy()
    lo, hi = int(len(data) * start), int(len(data) * end)
    data[lo:hi] ^= np.random.default_rng(7).integers(1, 256, hi - lo, dtype=np.uint8)
    path.write_bytes(data.tobytes())


def _manifest(home: Path) -> dict:
    return json.loads((home / "index" / "manifest.json").read_text())


def test_the_manifest_names_every_index_file_with_its_size_and_sha256(home):
    with Prescreen(home) as engine:
        engine.screen_one(str(home / "nothing.mp4"))  # (loads the index; the file's error does not matter)
    files = _manifest(home)["files"]
    names = {p.name for p in (home / "index").iterdir() if p.suffix in (".faissb", ".npz", ".npy")}
    assert set(files) == names and {"landmark.keys.npy", "landmark.labels.npy", "video.faissb"} <= names
    for name, (size, sha) in files.items():
        assert (home / "index" / name).stat().st_size == size and sha256_file(home / "index" / name) == sha


def test_flipped_code_bytes_are_found_on_load_and_the_copy_is_still_blocked(home, corpus):
    copy = corpus.write("index_files_copy.mp4", tf.scale(corpus.film, 0.5))
    with Prescreen(home) as engine:
        before = engine.screen_one(str(copy), rescreen=True)
    assert before.decision.outcome == "block"
    want = {name: sha for name, (_, sha) in _manifest(home)["files"].items()}
    for path in [*(home / "index").glob("*.faissb"), *(home / "index").glob("*.keys.npy")]:
        _flip(path)  # every signal's codes changed: without the check the copy would match nothing
    with Prescreen(home) as engine:
        after = engine.screen_one(str(copy), rescreen=True)
        assert engine.indexes.found_damaged and "SHA-256 differs" in engine.indexes.rebuilt_because
    assert after.decision.outcome == "block"
    film = {m.work_id: m for m in after.matches}["film"]
    first = {m.work_id: m for m in before.matches}["film"]
    assert abs(film.matched_seconds - first.matched_seconds) < 0.5
    assert {name: sha256_file(home / "index" / name) for name in want} == want  # rebuilt to the same bytes
    assert "index rebuilt from the catalog" in log_path(home).read_text()


def test_a_truncated_index_file_is_rebuilt(home):
    path = next((home / "index").glob("*.times.npz"))
    path.write_bytes(path.read_bytes()[:100])
    with Prescreen(home) as engine:
        engine.screen_one(str(home / "nothing.mp4"))
        assert engine.indexes.found_damaged and path.name in engine.indexes.rebuilt_because
    assert path.stat().st_size == _manifest(home)["files"][path.name][0]


def test_an_index_saved_without_checksums_is_rebuilt_once_without_alarm(home):
    manifest = _manifest(home)
    del manifest["files"]
    (home / "index" / "manifest.json").write_text(json.dumps(manifest))
    with Prescreen(home) as engine:
        engine.screen_one(str(home / "nothing.mp4"))
        assert not engine.indexes.found_damaged and "no checksums" in engine.indexes.rebuilt_because
    assert "files" in _manifest(home)
    store = IndexStore(home / "index", IndexParams(), _manifest(home)["code_bytes"])
    with Prescreen(home) as engine:
        assert store.load(engine.catalog) is False  # the next load uses the files as they are


def test_temporary_files_left_by_a_crashed_write_are_removed_and_a_write_in_progress_is_not(home):
    folder = home / "index"
    stale, young = folder / "video.faissb.k3j2h1.tmp", folder / "landmark.faissb.a8b7c6.tmp"
    for path in (stale, young):
        path.write_bytes(b"half a file")
    old = time.time() - IndexParams().stale_temp_seconds - 60
    os.utime(stale, (old, old))
    with Prescreen(home) as engine:
        engine.screen_one(str(home / "nothing.mp4"))
    assert not stale.exists() and young.exists()
