"""benchmarks.metrics: segment precision/recall, VSC segment AP, pair micro-AP, decisions."""

import pytest

from benchmarks.metrics import (
    boxes_overlap, clip_box, decision_accuracy, intersection_length, pair_micro_ap, segment_ap,
    segment_precision_recall, total_length, union,
)


def test_union_and_lengths():
    assert union([(5, 7), (0, 2), (1, 3), (4, 4)]) == [(0, 3), (5, 7)]
    assert total_length([(0, 2), (1, 3), (10, 11)]) == pytest.approx(4.0)
    assert intersection_length([(0, 10)], [(2, 3), (8, 12)]) == pytest.approx(3.0)
    assert intersection_length([], [(0, 1)]) == 0.0


def test_boxes_overlap_needs_both_axes():
    assert boxes_overlap((0, 10, 0, 10), (5, 15, 5, 15))
    assert not boxes_overlap((0, 10, 0, 10), (5, 15, 20, 30))  # right upload time, wrong reference time
    assert not boxes_overlap((0, 10, 0, 10), (10, 20, 0, 10))  # touching is not overlapping


def test_perfect_prediction():
    truth = {("u1", "w1"): [(0, 10, 5, 15)]}
    pr = segment_precision_recall(truth, {("u1", "w1"): [(0, 10, 5, 15)]})
    for axis in ("upload", "reference"):
        assert pr[axis]["precision"] == pytest.approx(1.0)
        assert pr[axis]["recall"] == pytest.approx(1.0)
    assert segment_ap(truth, [(("u1", "w1"), (0, 10, 5, 15), 0.9)]) == pytest.approx(1.0)


def test_partial_overlap_on_each_axis():
    truth = {("u1", "w1"): [(0, 10, 0, 10)]}
    # half the upload stretch is right; the reference stretch is shifted by 2 s
    pred = {("u1", "w1"): [(5, 15, 7, 17)]}
    pr = segment_precision_recall(truth, pred)
    assert pr["upload"]["precision"] == pytest.approx(0.5)
    assert pr["upload"]["recall"] == pytest.approx(0.5)
    assert pr["reference"]["precision"] == pytest.approx(0.3)
    assert pr["reference"]["recall"] == pytest.approx(0.3)


def test_wrong_reference_time_earns_nothing():
    truth = {("u1", "w1"): [(0, 10, 0, 10)]}
    pr = segment_precision_recall(truth, {("u1", "w1"): [(0, 10, 50, 60)]})
    assert pr["upload"]["precision"] == 0.0 and pr["upload"]["recall"] == 0.0


def test_false_pairs_and_misses_are_micro_averaged():
    truth = {("u1", "w1"): [(0, 10, 0, 10)], ("u2", "w1"): [(0, 30, 0, 30)]}
    pred = {("u1", "w1"): [(0, 10, 0, 10)], ("u3", "w2"): [(0, 10, 0, 10)]}  # u2 missed, u3 is a false match
    pr = segment_precision_recall(truth, pred)
    assert pr["upload"]["precision"] == pytest.approx(10 / 20)
    assert pr["upload"]["recall"] == pytest.approx(10 / 40)
    assert pr["upload"]["truth"] == pytest.approx(40)


def test_nothing_predicted_has_no_precision():
    pr = segment_precision_recall({("u1", "w1"): [(0, 10, 0, 10)]}, {})
    assert pr["upload"]["precision"] is None and pr["upload"]["recall"] == 0.0


def test_segment_ap_rewards_confident_true_predictions_first():
    truth = {("u1", "w1"): [(0, 10, 0, 10)], ("u2", "w1"): [(0, 10, 0, 10)]}
    good_first = [(("u1", "w1"), (0, 10, 0, 10), 0.9), (("u2", "w1"), (0, 10, 0, 10), 0.8),
                  (("u3", "w1"), (0, 10, 0, 10), 0.1)]
    bad_first = [(("u3", "w1"), (0, 10, 0, 10), 0.95)] + good_first[:2]
    assert segment_ap(truth, good_first) == pytest.approx(1.0)
    # a false prediction ranked first: P = 1/2 at R = 1/2, P = 2/3 at R = 1
    assert segment_ap(truth, bad_first) == pytest.approx(0.5 * 0.5 + (2 / 3) * 0.5)
    assert segment_ap({}, good_first) is None


def test_pair_micro_ap():
    truth = {("u1", "w1"), ("u2", "w2")}
    assert pair_micro_ap(truth, [(("u1", "w1"), 0.9), (("u2", "w2"), 0.8)]) == pytest.approx(1.0)
    # one true pair never predicted: recall stops at 1/2
    assert pair_micro_ap(truth, [(("u1", "w1"), 0.9), (("u9", "w1"), 0.5)]) == pytest.approx(0.5)
    # false pair first
    assert pair_micro_ap(truth, [(("u9", "w1"), 0.99), (("u1", "w1"), 0.9), (("u2", "w2"), 0.8)]) \
        == pytest.approx(0.5 * 0.5 + (2 / 3) * 0.5)
    # duplicates keep their best score; ties form one step
    assert pair_micro_ap(truth, [(("u1", "w1"), 0.1), (("u1", "w1"), 0.9), (("u2", "w2"), 0.9)]) \
        == pytest.approx(1.0)
    assert pair_micro_ap(set(), [(("u1", "w1"), 1.0)]) is None


def test_decision_accuracy_and_confusion():
    out = decision_accuracy(["block", "review", "allow", "allow"], ["block", "block", "allow", None])
    assert out["accuracy"] == pytest.approx(0.5)
    assert out["confusion"]["review"]["block"] == 1
    assert out["confusion"]["allow"]["error"] == 1
    with pytest.raises(ValueError):
        decision_accuracy(["block"], [])


def test_clip_box():
    assert clip_box((-1, 5, 2, 50), 4.0, 30.0) == (0.0, 4.0, 2, 30.0)
    assert clip_box((5, 6, 0, 1), 4.0, 30.0) is None
