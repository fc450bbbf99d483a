"""Matching core on synthetic hits: diagonals, speed changes, static content, combine."""

import numpy as np
import pytest

from dataclasses import replace

from match import AlignParams, Candidates, Segment, align, combine, union_seconds
from match.combine import clip_segment


def _cands(q, r, ref_id=1, period=0.25, seed=0, codes=None, distance=10):
    q = np.asarray(q, float)
    r = np.asarray(r, float)
    n = len(q)
    if codes is None:
        codes = np.random.default_rng(seed).integers(0, 256, (n, 32), dtype=np.uint8)
    return Candidates(q, q + period, np.round(q / period).astype(np.int64), np.full(n, ref_id),
                      r, r + 0.125, np.full(n, distance, np.int32), codes, np.full(n, np.nan))


def _concat(*cs):
    return Candidates(*(np.concatenate([getattr(c, f) for c in cs]) for f in Candidates.__dataclass_fields__))


def test_diagonal_becomes_segment_with_right_seconds_despite_noise():
    q = np.arange(20.0, 40.0, 0.25)
    true = _cands(q, q - 16.0)
    rng = np.random.default_rng(1)
    noise = _cands(rng.uniform(0, 60, 200), rng.uniform(0, 30, 200), seed=2)
    segs = align(_concat(true, noise), "video", 256, AlignParams())
    assert len(segs) == 1
    s = segs[0]
    assert abs(s.upload_start - 20) < 0.5 and abs(s.upload_end - 40) < 0.5
    assert abs(s.ref_start - 4) < 0.5 and abs(s.ref_end - 24) < 0.5


def test_speed_change_is_followed():
    q = np.arange(0.0, 27.0, 0.25)
    segs = align(_cands(q, 1.1 * q), "video", 256, AlignParams())
    assert len(segs) == 1 and abs(segs[0].speed - 1.1) < 0.011
    assert abs(segs[0].ref_end - 29.7) < 0.6


def test_two_uses_of_one_reference_are_two_segments():
    a = np.arange(0.0, 10.0, 0.25)
    b = np.arange(30.0, 40.0, 0.25)
    segs = align(_concat(_cands(a, a + 5), _cands(b, b - 30, seed=3)), "video", 256, AlignParams())
    spans = sorted((round(s.upload_start), round(s.ref_start)) for s in segs)
    assert spans == [(0, 5), (30, 0)]


def test_close_hits_outvote_a_longer_run_of_weak_ones():
    # the work's last 12 s at the end of the upload (hits 20 bits away) and a
    # 16 s run of chance resemblance near the radius on another diagonal that
    # shares the copy's instants (a song's own repeats look like this)
    true_q = np.arange(24.0, 36.0, 0.25)
    weak_q = np.arange(20.0, 36.0, 0.25)
    true = _cands(true_q, true_q - 24.0, distance=20)
    weak = _cands(weak_q, weak_q - 16.0, seed=4, distance=54)
    segs = align(_concat(true, weak), "audio", 256, AlignParams())
    assert len(segs) >= 1
    best = segs[0]
    assert abs(best.upload_start - 24) < 0.5 and abs(best.upload_end - 36) < 0.5
    assert abs(best.ref_start - 0) < 0.5 and abs(best.ref_end - 12) < 0.5
    # no segment maps the copy's seconds anywhere else
    assert all(s.upload_end <= 24.5 for s in segs[1:])


def test_a_weak_line_found_first_cannot_swallow_a_better_one():
    # a long weak line over the whole upload outvotes a short close one, but the
    # close one's instants must survive its removal and win the overlap
    weak_q = np.arange(0.0, 36.0, 0.25)
    true_q = np.arange(24.0, 36.0, 0.25)
    weak = _cands(weak_q, weak_q + 6.0, seed=5, distance=50)
    true = _cands(true_q, true_q - 24.0, distance=31)
    segs = align(_concat(weak, true), "audio", 256, AlignParams())
    on_true = [s for s in segs if abs((s.ref_start - s.upload_start) + 24.0) < 0.5]
    assert len(on_true) == 1
    assert abs(on_true[0].upload_start - 24) < 0.5 and abs(on_true[0].upload_end - 36) < 0.5
    others = [s for s in segs if s is not on_true[0]]
    assert all(s.upload_end <= 24.5 for s in others), [(s.upload_start, s.upload_end) for s in others]


AUDIO_EDGES = AlignParams(edge_seconds=2.75, gap_edge_seconds=1.2)


def _with_runs(c, run_start, run_end):
    return replace(c, q_run_start=np.full(len(c), run_start), q_run_end=np.full(len(c), run_end))


def test_segment_widens_where_nothing_beyond_could_be_matched():
    # matched codes 12.6-27.4 after a silent gap (the upload's codes resume at
    # 12.6); the reference side starts 2.6 s in, where its first code lies
    q = np.arange(12.625, 27.5, 0.125)
    c = _with_runs(_cands(q, q - 10.0, period=0.125), 12.625, 40.0)
    seg, = align(c, "audio", 256, AUDIO_EDGES, query_span=(2.6, 45.0))
    assert abs(seg.upload_start - 10.0) < 0.2 and abs(seg.ref_start) < 1e-9  # the work's start reached
    assert abs(seg.upload_end - 27.5) < 0.2  # codes went on after the copy: no widening
    # the same line away from the work's start, after the gap: widened by gap_edge_seconds
    c = _with_runs(_cands(q, q + 5.0, period=0.125), 12.625, 40.0)
    seg, = align(c, "audio", 256, AUDIO_EDGES, query_span=(2.6, 45.0))
    assert abs(seg.upload_start - (12.625 - 1.2)) < 0.1 and abs(seg.ref_start - (17.625 - 1.2)) < 0.1
    # at the upload's first code: the full half window (clipped to the upload)
    q = np.arange(2.625, 20.0, 0.125)
    c = _with_runs(_cands(q, q + 5.0, period=0.125), 2.625, 40.0)
    seg, = align(c, "audio", 256, AUDIO_EDGES, query_span=(2.6, 45.0))
    assert seg.upload_start == 0.0 and abs(seg.ref_start - 5.0) < 0.1


def test_reference_last_code_standing_for_its_end_widens_the_segment():
    q = np.arange(10.0, 30.0, 0.125)
    c = _cands(q, q - 5.0, period=0.125)
    c.r_end[-1] = 27.8  # the work's last code (at 24.875) stands for the rest of it
    seg, = align(c, "audio", 256, AUDIO_EDGES)
    assert abs(seg.ref_end - 27.8) < 0.1 and abs(seg.upload_end - 32.8) < 0.1


def test_clipping_to_the_media_moves_both_timelines_along_the_line():
    seg = Segment(1, "audio", 1.0, 25.0, -1.0, 45.0, 2.0, 0.9, 10.0, 80, 1.0, 10)
    clipped = clip_segment(seg, upload_duration=24.0, ref_duration=40.0)
    assert (clipped.upload_start, clipped.ref_start) == (1.5, 0.0)
    assert (clipped.upload_end, clipped.ref_end) == (21.5, 40.0)


def test_static_content_never_forms_a_segment():
    q = np.arange(0.0, 20.0, 0.25)
    same = np.tile(np.random.default_rng(0).integers(0, 256, (1, 32), dtype=np.uint8), (len(q), 1))
    assert align(_cands(q, q, codes=same), "video", 256, AlignParams()) == []


def test_combine_reports_coverage_and_modality():
    video = Segment(1, "video", 20.0, 40.0, 4.0, 24.0, 1.0, 0.9, 10.0, 80, 1.0, 19)
    audio = Segment(1, "audio", 20.5, 39.5, 4.5, 23.5, 1.0, 0.8, 20.0, 150, 1.0, 18)
    other = Segment(2, "audio", 50.0, 55.0, 0.0, 5.0, 1.0, 0.7, 30.0, 40, 1.0, 4)
    matches = combine([video, audio, other], {1: "film", 2: "song"}, {1: 30.0, 2: 60.0}, 60.0)
    film = next(m for m in matches if m.work_id == "film")
    assert film.modality == "both" and len(film.segments) == 1
    assert abs(film.upload_coverage - 20 / 60) < 1e-6 and abs(film.reference_coverage - 20 / 30) < 1e-6
    assert {m.work_id for m in matches} == {"film", "song"}
    assert union_seconds([(0, 2), (1, 3), (5, 6)]) == 4


def test_overlapping_lines_are_resolved_even_when_a_code_lasts_into_the_overlap():
    """The losing segment's last code starts before the overlap but lasts into it: rebuilt, it must
    stop at the overlap (it used to overlap again, lose again and be rebuilt for ever)."""
    from match.align import _resolve_overlaps, _segments_from_inliers

    params = AlignParams()
    qa = np.concatenate([np.arange(0, 9.6, 0.5), [9.8], np.arange(10.0, 12.1, 0.5)])
    weak_tail = np.where(qa >= 10.0, 60, 0)
    a = _segments_from_inliers(replace(_cands(qa, qa, period=0.5), distance=weak_tail.astype(np.int32)),
                               1, 1.0, 0.0, "audio", 256, params)
    qb = np.arange(9.9, 20, 0.5)
    b = _segments_from_inliers(replace(_cands(qb, qb + 100, period=0.5), distance=np.zeros(len(qb), np.int32)),
                               1, 1.0, 100.0, "audio", 256, params)
    assert a and b and a[0][0].upload_end > b[0][0].upload_start  # the two lines overlap
    resolved = sorted((s for s, _ in _resolve_overlaps(a + b, 256, params)), key=lambda s: s.upload_start)
    assert all(x.upload_end <= y.upload_start for x, y in zip(resolved, resolved[1:]))
    first, second = resolved[0], resolved[-1]
    assert first.ref_start == 0.0 and abs(first.upload_end - 9.9) < 1e-9 and first.ref_end == first.upload_end
    assert abs(second.upload_start - 9.9) < 1e-9 and abs(second.ref_start - 109.9) < 1e-9


def test_votes_counted_in_blocks_find_the_same_line(monkeypatch):
    """A long copy's votes are counted in blocks of upload instants (bounded memory); the
    line, its offset and its votes are those of one count over every hit."""
    import importlib

    al = importlib.import_module("match.align")  # (the package's ``align`` is the function)

    q = np.arange(0.0, 300.0, 0.25)
    rng = np.random.default_rng(3)
    hits = _concat(_cands(q, 1.04 * q + 7.0), _cands(rng.uniform(0, 300, 3000), rng.uniform(0, 300, 3000), seed=4))
    params = AlignParams()
    segments = align(hits, "video", 256, params)
    whole = al._best_line(hits, params.speeds(), params.offset_bin_seconds, params.hint_tolerance, params.radius,
                          params.min_hits)
    monkeypatch.setattr(al, "VOTE_BLOCK_CELLS", 5_000)
    assert len(al._vote_blocks(hits, len(params.speeds()), params.offset_bin_seconds)) > 20
    blocked = al._best_line(hits, params.speeds(), params.offset_bin_seconds, params.hint_tolerance, params.radius,
                            params.min_hits)
    assert blocked == whole
    assert abs(whole[0] - 1.04) < 0.011 and whole[2] > 1000
    assert align(hits, "video", 256, params) == segments
    # the blocks' lines merged into a running total in batches: the same floats
    monkeypatch.setattr(al, "MERGE_LINES", 500)
    assert al._best_line(hits, params.speeds(), params.offset_bin_seconds, params.hint_tolerance, params.radius,
                         params.min_hits) == whole
    assert align(hits, "video", 256, params) == segments


@pytest.mark.parametrize("spread", [10, 2**61])  # packed as one int64 key; too wide for it: counted as rows
def test_distinct_counts_equal_unique_rows(spread):
    from match.align import distinct_counts

    rng = np.random.default_rng(spread % 97)
    outer = rng.integers(-5, 40, 3000)
    inner = rng.integers(-spread, spread, 3000) // 7
    pairs = np.unique(np.stack([outer, inner], axis=1), axis=0)
    want = np.unique(pairs[:, 0], return_counts=True)
    got = distinct_counts(outer, inner)
    assert [a.tolist() for a in got] == [a.tolist() for a in want]
    assert [a.tolist() for a in distinct_counts(np.zeros(0), np.zeros(0))] == [[], []]
