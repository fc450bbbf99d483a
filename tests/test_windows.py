"""A long upload searched and aligned a window of upload time at a time (``match.windows``):
a line that crosses a window's edge is one segment with the right seconds on both timelines,
and an upload no longer than a window is aligned at once, as before."""

from __future__ import annotations

import dataclasses

import numpy as np

import mediagen as mg
from match import AlignParams, Candidates, align
from match.windows import WHOLE, clip_to_core, join_pieces, upload_windows, windowed_segments


def _cands(q, r, ref_id=1, period=0.25, seed=0, distance=10):
    q, r = np.asarray(q, float), np.asarray(r, float)
    n = len(q)
    codes = np.random.default_rng(seed).integers(0, 256, (n, 32), dtype=np.uint8)
    return Candidates(q, q + period, np.round(q / period).astype(np.int64), np.full(n, ref_id),
                      r, r + 0.125, np.full(n, distance, np.int32), codes, np.full(n, np.nan))


def _concat(*cs):
    return Candidates(*(np.concatenate([getattr(c, f) for c in cs]) for f in Candidates.__dataclass_fields__))


def test_windows_tile_the_upload_and_a_short_upload_is_one_window():
    assert upload_windows(np.arange(0, 70.5), 60.0, 10.0) == [WHOLE]  # (within a window and its overlap)
    assert upload_windows(np.arange(0, 1000.0), 0.0, 10.0) == [WHOLE]  # (0: at once)
    windows = upload_windows(np.arange(5.0, 250.0), 60.0, 10.0)
    assert len(windows) == 5
    assert windows[0].core_start == -np.inf and windows[-1].core_end == np.inf
    assert [w.core_start for w in windows[1:]] == [65.0, 125.0, 185.0, 245.0]
    assert all(a.core_end == b.core_start for a, b in zip(windows, windows[1:]))
    assert windows[1].start == 55.0 and windows[1].end == 135.0


def _windowed_align(c: Candidates, params: AlignParams, window_seconds: float, overlap: float):
    windows = upload_windows(c.q_start, window_seconds, overlap)
    return windows, windowed_segments(
        windows, lambda w: align(c.subset((c.q_start >= w.start) & (c.q_start <= w.end)), "video", 256, params), 2.0)


def test_a_line_across_window_edges_is_one_segment_with_the_right_seconds():
    """A 200 s copy (upload 10-210 s = reference 25-225 s) among chance hits, aligned in 60 s
    windows: one segment, as aligned at once, on both timelines."""
    q = np.arange(10.0, 210.0, 0.25)
    rng = np.random.default_rng(1)
    noise = _cands(rng.uniform(0, 220, 800), rng.uniform(0, 240, 800), seed=2, distance=40)
    c = _concat(_cands(q, q + 15.0), noise)
    whole = align(c, "video", 256, AlignParams())
    windows, segs = _windowed_align(c, AlignParams(), 60.0, 15.0)
    assert len(windows) == 4
    assert len(whole) == 1 and len(segs) == 1, segs
    s, w = segs[0], whole[0]
    assert abs(s.upload_start - 10) < 0.5 and abs(s.upload_end - 210) < 0.5
    assert abs(s.ref_start - 25) < 0.5 and abs(s.ref_end - 225) < 0.5
    assert abs(s.upload_start - w.upload_start) < 0.3 and abs(s.upload_end - w.upload_end) < 0.3
    assert abs(s.hits - w.hits) <= 4 and abs(s.similarity - w.similarity) < 0.01


def test_two_uses_and_a_gap_stay_apart_across_windows():
    """Two stretches of one reference on two diagonals, one ending just after an edge: two
    segments, each with its own seconds (a window's edge joins only what it cut)."""
    a = np.arange(0.0, 70.0, 0.25)    # upload 0-70 = reference 100-170 (crosses the edge at 60)
    b = np.arange(90.0, 150.0, 0.25)  # upload 90-150 = reference 0-60 (crosses the edge at 120)
    c = _concat(_cands(a, a + 100.0), _cands(b, b - 90.0, seed=3))
    _, segs = _windowed_align(c, AlignParams(), 60.0, 15.0)
    spans = sorted((round(s.upload_start), round(s.upload_end), round(s.ref_start), round(s.ref_end)) for s in segs)
    assert spans == [(0, 70, 100, 170), (90, 150, 0, 60)]


def test_clip_and_join_keep_the_line():
    (seg,) = align(_cands(np.arange(0.0, 40.0, 0.25), np.arange(0.0, 40.0, 0.25) * 1.0 + 7.0), "video", 256,
                   AlignParams())
    left = dataclasses.replace(WHOLE, core_end=20.0)
    right = dataclasses.replace(WHOLE, core_start=20.0)
    a, b = clip_to_core(seg, left), clip_to_core(seg, right)
    assert a.upload_end == 20.0 and b.upload_start == 20.0 and abs(a.ref_end - 27.0) < 0.1
    assert clip_to_core(seg, dataclasses.replace(WHOLE, core_start=50.0)) is None
    (joined,) = join_pieces([b, a], [20.0], 2.0)
    assert joined.upload_start == seg.upload_start and joined.upload_end == seg.upload_end
    assert abs(joined.ref_start - seg.ref_start) < 1e-6 and abs(joined.ref_end - seg.ref_end) < 1e-6
    assert abs(joined.hits - seg.hits) <= 1
    other = dataclasses.replace(b, ref_start=b.ref_start + 30, ref_end=b.ref_end + 30)  # another diagonal
    assert len(join_pieces([a, other], [20.0], 2.0)) == 2


def test_screening_in_windows_finds_the_copy_across_the_edge_as_one_segment(engine, corpus, registered_home):
    """An upload of the 30 s film then 30 s of other footage, searched and aligned in 20 s
    windows (edges at about 20 and 40 s): the film is one segment per signal, upload 0-30 s =
    reference 0-30 s, and the decision is the one of the upload aligned at once."""
    from service import Prescreen

    upload = mg.concat(mg.excerpt(corpus.film, 0.0, 30.0), mg.excerpt(corpus.other, 0.0, 30.0))
    path = corpus.write("film_then_other_windowed.mp4", upload)
    whole = engine.screen_one(str(path))
    config = dataclasses.replace(engine.config, match=dataclasses.replace(
        engine.config.match, window_seconds=20.0, window_overlap_seconds=5.0))
    with Prescreen(registered_home, config=config) as windowed_engine:
        windowed = windowed_engine.screen_one(str(path))
    assert windowed.decision.outcome == whole.decision.outcome
    (m,) = [m for m in windowed.matches if m.work_id == "film"]
    (w,) = [m for m in whole.matches if m.work_id == "film"]
    assert abs(m.matched_seconds - w.matched_seconds) < 1.0 and m.matched_seconds > 28
    assert len(m.segments) == len(w.segments)
    for s, t in zip(m.segments, w.segments):
        assert s.upload_start < 15 < 25 < s.upload_end  # (across the first window's edge)
        for key in ("upload_start", "upload_end", "ref_start", "ref_end"):
            assert abs(getattr(s, key) - getattr(t, key)) < 1.0, (key, s, t)
        assert set(s.signal.split("+")) == set(t.signal.split("+"))
