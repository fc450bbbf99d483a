"""benchmarks.filler: filler for the catalog-scale benchmark must behave like real codes
(close to unrelated real references, not "far from everything" like uniform random codes) and,
made from unregistered media, must never match a registered work's copies."""

from pathlib import Path

import numpy as np
import pytest

import mediagen as mg
from benchmarks import filler as F
from fingerprint import QUERY, REFERENCE, FingerprintParams, fingerprint_file

PARAMS = FingerprintParams()


def _fingerprints(folder: Path, seed: int, role: str, seconds: float = 20.0):
    path = folder / f"work{seed}.mp4"
    if not path.exists():
        mg.write_media(mg.synth_work(seed, seconds), path)
    return fingerprint_file(path, role, PARAMS)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("filler")
    upload = _fingerprints(folder, 101, QUERY)  # the screened work's upload codes
    unrelated = [_fingerprints(folder, s, REFERENCE) for s in (202, 203)]  # real references of other works
    item = F.make_pool_item(F.FILM, 0, 20.0, PARAMS, folder)  # unregistered media, pool seed
    return folder, upload, unrelated, item


def test_pool_seeds_are_not_corpus_seeds():
    from benchmarks.corpus import make_plan

    plan = make_plan(4, 9)
    # the largest corpus seeds: uploads at 100_000 * seed + 1000 * row + copy + small offsets
    assert F.POOL_SEED_BASE > 100_000 * (plan.seed + 1)


def test_dihedral_transpose_is_exact_for_phash():
    from fingerprint.video import phash_bits

    rng = np.random.default_rng(3)
    frames = (rng.random((4, 64, 64)) * 255).astype(np.float32)
    frames = np.stack([np.clip(f + np.linspace(0, 80, 64)[None, :], 0, 255) for f in frames])
    plain = phash_bits(frames, 16)
    transposed = phash_bits(np.ascontiguousarray(frames.transpose(0, 2, 1)), 16)
    assert np.array_equal(F.dihedral_bits(plain, 1), transposed)
    for kind in range(8):  # every transform is a bijection on codes and keeps the DC bit
        out = F.dihedral_bits(plain, kind)
        assert (np.unpackbits(out, axis=1)[:, 0] == np.unpackbits(plain, axis=1)[:, 0]).all()


def test_filler_is_like_unrelated_real_codes_not_uniform_random(media):
    _, upload, unrelated, item = media
    rng = np.random.default_rng(0)
    # the chroma is read transposed too: every rotation, row for row with the stored codes
    assert set(item.audio_rotations) == set(F.ROTATIONS)
    assert all(c.shape == item.fingerprints["audio"].codes.shape for c in item.audio_rotations.values())
    fillers = [F.filler_fingerprints(item, rng, PARAMS)[0] for _ in range(6)]

    # chroma: filler sits at the distances of unrelated real music, far below uniform random codes
    q = upload.signals["audio"].codes
    real = np.concatenate([u.signals["audio"].codes for u in unrelated])
    fill = np.concatenate([f["audio"].codes for f in fillers])
    n = min(len(real), len(fill))
    d_real = F.nearest_distances(q, real[:n])
    d_fill = F.nearest_distances(q, fill[rng.choice(len(fill), n, replace=False)])
    d_uniform = F.nearest_distances(q, rng.integers(0, 256, (n, q.shape[1]), np.uint8))
    assert abs(np.median(d_fill) - np.median(d_real)) <= 8
    assert np.median(d_uniform) - np.median(d_fill) >= 8
    assert np.percentile(d_uniform, 5) - np.percentile(d_fill, 5) >= 8

    # video: the temporal structure of real references is kept: runs of near-identical codes
    # (consecutive codes of one crop variant a few bits apart) and scene cuts between them
    def steps(fp):
        plain = fp.codes[fp.variants == 0][np.argsort(fp.starts[fp.variants == 0], kind="stable")]
        return np.bitwise_count(plain[1:] ^ plain[:-1]).sum(axis=1)

    source_steps = np.median(steps(item.fingerprints["video"]))
    for f in fillers:
        v = f["video"]
        assert np.median(steps(v)) <= source_steps + 12  # the source's runs (plus the noise)
        assert np.median(steps(v)) < 100  # uniform random codes: about 128
        assert np.all(np.diff(v.starts[v.variants == 0]) >= 0)
    # and the nearest-neighbour distances of upload codes are no farther than uniform random's
    vq = upload.signals["video"].codes
    vf = np.concatenate([f["video"].codes for f in fillers])
    assert np.percentile(F.nearest_distances(vq, vf), 5) <= np.percentile(
        F.nearest_distances(vq, rng.integers(0, 256, vf.shape, np.uint8)), 5)

    # landmarks are rebuilt pairs of real peaks: their hashes fall in the space real hashes use
    lm = np.concatenate([f["landmark"].codes for f in fillers]).view(">u4").ravel()
    real_lm = np.concatenate([u.signals["landmark"].codes for u in unrelated]).view(">u4").ravel()
    assert lm.max() < 1 << 22 and real_lm.max() < 1 << 22
    assert np.isin(lm, real_lm).mean() > 0.01  # uniform 32-bit codes: about 1e-5


def test_filler_is_deterministic_and_never_repeats(media):
    _, _, _, item = media
    a = [r.fingerprints for b in F.synthesise([item], 120, 5, PARAMS, chunk=2) for r in b]
    b = [r.fingerprints for b in F.synthesise([item], 120, 5, PARAMS, chunk=2) for r in b]
    assert len(a) >= 5
    for x, y in zip(a, b):
        assert all(np.array_equal(p.codes, q.codes) for p, q in zip(x, y))
    videos = [next(fp for fp in refs if fp.signal == "video").codes for refs in a]
    assert len({v.tobytes() for v in videos}) == len(videos)


def test_catalog_with_filler_finds_the_real_work_and_no_filler(media, tmp_path):
    from mediagen import transforms as T
    from service import Prescreen

    folder, _, _, item = media
    work = folder / "work101.mp4"
    copy = tmp_path / "copy.mp4"  # a transformed copy of the registered work: mirrored, re-encoded
    mg.write_media(T.hflip(mg.read_media(work)), copy, video_bitrate=200_000)
    with Prescreen(tmp_path / "home", create=True) as engine:
        engine.register([work], work_id="real", title="Real", owner="owner")
        for n, batch in enumerate(F.synthesise([item], 600, 1, engine.config.fingerprint, chunk=10)):
            with engine.catalog.transaction():
                for i, ref in enumerate(batch):
                    engine.catalog.add_references(f"filler-{n}-{i}", "filler", "filler", [ref],
                                                  meta={"fingerprint_format": engine.format})
        engine.rebuild_index()
        assert len(engine.catalog.works()) >= 25
        result = engine.screen_one(str(copy))
        claimed = {w.work_id for w in result.decision.works if w.outcome in ("review", "block")}
        matched = {m.work_id for m in result.matches}
    assert result.status == "ok"
    assert claimed == {"real"}
    assert not any(w.startswith("filler") for w in matched)


def test_catalog_hours_flag_and_upload_sample():
    from types import SimpleNamespace

    from benchmarks.__main__ import _parse
    from benchmarks.catalog_scale import pick_uploads

    args = _parse(["--catalog-hours", "1000", "--catalog-uploads", "4"])
    assert args.catalog_hours == 1000 and args.catalog_uploads == 4
    with pytest.raises(SystemExit):
        _parse(["--catalog-hours", "0"])
    uploads = [SimpleNamespace(upload_id=f"{k}{i}", kind=k) for k in ("copy", "quote", "negative")
               for i in range(10 if k == "copy" else 3)]
    picked = pick_uploads(uploads, 6)
    assert len(picked) == 6 and {u.kind for u in picked} == {"copy", "quote", "negative"}
    assert [u.upload_id for u in picked] == [u.upload_id for u in uploads if u in picked]  # corpus order
    assert pick_uploads(uploads, 0) == uploads
