"""Accuracy metrics: pure functions over ground truth and predictions (no I/O).

Vocabulary. A *pair* is (upload id, work id). A *box* is one matched stretch
``(upload_start, upload_end, ref_start, ref_end)`` in seconds: an interval on
the upload axis and one on the reference axis.

Segment metrics follow the matching track of Meta's Video Similarity Challenge
(VSC 2022), which took them from VCSL:

- on each axis separately, the predicted intervals of a pair and its
  ground-truth intervals are each merged (union); only ground-truth boxes that
  overlap some predicted box in both axes at once count for the intersection
  (a prediction at the right upload time but the wrong reference time earns
  nothing); precision = intersection / predicted length and recall =
  intersection / ground-truth length, both summed over all pairs first
  (micro-average);
- *segment AP*: predictions are taken in order of decreasing score; after each
  group of equal scores, P = sqrt(P_upload * P_reference) and R =
  sqrt(R_upload * R_reference), and AP = sum of P * (increase of R).

*Pair micro-AP* ranks every scored (upload, work) pair of every upload
together and is the average precision of that single ranking against the set
of true pairs (pairs never predicted count as missed).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence

Interval = tuple[float, float]
Box = tuple[float, float, float, float]  # upload_start, upload_end, ref_start, ref_end
Pair = Hashable

UPLOAD, REFERENCE = "upload", "reference"
AXES = (UPLOAD, REFERENCE)


# --------------------------------------------------------------------------- intervals


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge intervals into sorted disjoint ones; empty or reversed intervals are dropped."""
    merged: list[list[float]] = []
    for start, end in sorted((float(s), float(e)) for s, e in intervals if e > s):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def total_length(intervals: Iterable[Interval]) -> float:
    """Length of the union of ``intervals``."""
    return sum(e - s for s, e in union(intervals))


def intersection_length(a: Iterable[Interval], b: Iterable[Interval]) -> float:
    """Length of (union of a) intersected with (union of b)."""
    ua, ub = union(a), union(b)
    i = j = 0
    total = 0.0
    while i < len(ua) and j < len(ub):
        lo, hi = max(ua[i][0], ub[j][0]), min(ua[i][1], ub[j][1])
        if hi > lo:
            total += hi - lo
        if ua[i][1] < ub[j][1]:
            i += 1
        else:
            j += 1
    return total


def axis_interval(box: Box, axis: str) -> Interval:
    return (box[0], box[1]) if axis == UPLOAD else (box[2], box[3])


def boxes_overlap(a: Box, b: Box) -> bool:
    """True when the two boxes share a region of positive area (both axes overlap)."""
    return min(a[1], b[1]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[2], b[2])


# --------------------------------------------------------------------------- segments


def _pair_figures(gts: Sequence[Box], preds: Sequence[Box]) -> dict[str, tuple[float, float]]:
    """Per axis (intersection, predicted length) of one pair, VSC's overlap rule applied."""
    considered = [g for g in gts if any(boxes_overlap(g, p) for p in preds)]
    out = {}
    for axis in AXES:
        p = [axis_interval(b, axis) for b in preds]
        g = [axis_interval(b, axis) for b in considered]
        out[axis] = (intersection_length(p, g), total_length(p))
    return out


def segment_precision_recall(truth: dict[Pair, Sequence[Box]],
                             predicted: dict[Pair, Sequence[Box]]) -> dict[str, dict[str, float | None]]:
    """Micro-averaged segment precision and recall on the upload and reference axes.

    ``truth``: pair -> ground-truth boxes (pairs of negatives simply absent);
    ``predicted``: pair -> predicted boxes (predictions on pairs absent from
    ``truth`` only add predicted length). Returns, per axis, ``precision``
    (None when nothing was predicted), ``recall`` (None when there is no
    truth), and the summed ``intersection``, ``predicted`` and ``truth``
    seconds.
    """
    sums = {axis: {"intersection": 0.0, "predicted": 0.0, "truth": 0.0} for axis in AXES}
    for pair, gts in truth.items():
        for axis in AXES:
            sums[axis]["truth"] += total_length(axis_interval(b, axis) for b in gts)
    for pair, preds in predicted.items():
        figures = _pair_figures(truth.get(pair, ()), preds)
        for axis in AXES:
            sums[axis]["intersection"] += figures[axis][0]
            sums[axis]["predicted"] += figures[axis][1]
    out = {}
    for axis in AXES:
        s = sums[axis]
        out[axis] = {
            "precision": s["intersection"] / s["predicted"] if s["predicted"] > 0 else None,
            "recall": s["intersection"] / s["truth"] if s["truth"] > 0 else None,
            **{k: round(v, 3) for k, v in s.items()},
        }
    return out


def segment_ap(truth: dict[Pair, Sequence[Box]], scored: Sequence[tuple[Pair, Box, float]]) -> float | None:
    """VSC matching-track average precision of scored predicted boxes (None without truth)."""
    totals = {axis: sum(total_length(axis_interval(b, axis) for b in gts) for gts in truth.values())
              for axis in AXES}
    if any(t <= 0 for t in totals.values()):
        return None
    preds_by_pair: dict[Pair, list[Box]] = defaultdict(list)
    current: dict[Pair, dict[str, tuple[float, float]]] = {}
    inter = {axis: 0.0 for axis in AXES}
    pred_len = {axis: 0.0 for axis in AXES}
    ap, recall = 0.0, 0.0
    ordered = sorted(scored, key=lambda x: -x[2])
    for _, group in itertools.groupby(ordered, key=lambda x: x[2]):
        for pair, box, _score in group:
            preds_by_pair[pair].append(box)
            old = current.get(pair, {axis: (0.0, 0.0) for axis in AXES})
            new = _pair_figures(truth.get(pair, ()), preds_by_pair[pair])
            for axis in AXES:
                inter[axis] += new[axis][0] - old[axis][0]
                pred_len[axis] += new[axis][1] - old[axis][1]
            current[pair] = new
        r = math.sqrt(max(0.0, inter[UPLOAD] / totals[UPLOAD]) * max(0.0, inter[REFERENCE] / totals[REFERENCE]))
        p_axes = [inter[a] / pred_len[a] if pred_len[a] > 0 else 0.0 for a in AXES]
        p = math.sqrt(max(0.0, p_axes[0]) * max(0.0, p_axes[1]))
        ap += p * max(0.0, r - recall)
        recall = max(recall, r)
    return ap


# --------------------------------------------------------------------------- pairs


def pair_micro_ap(truth_pairs: Iterable[Pair], scored: Iterable[tuple[Pair, float]]) -> float | None:
    """Average precision of all scored pairs ranked together (ties scored as one step).

    A pair scored more than once keeps its highest score. None without true pairs.
    """
    truth = set(truth_pairs)
    if not truth:
        return None
    best: dict[Pair, float] = {}
    for pair, score in scored:
        best[pair] = max(score, best.get(pair, -math.inf))
    ordered = sorted(best.items(), key=lambda x: -x[1])
    ap = 0.0
    seen = hits = 0
    for _, group in itertools.groupby(ordered, key=lambda x: x[1]):
        group = list(group)
        new_hits = sum(1 for pair, _ in group if pair in truth)
        seen += len(group)
        hits += new_hits
        ap += (hits / seen) * (new_hits / len(truth))
    return ap


# --------------------------------------------------------------------------- rates and decisions


def rate(k: int, n: int) -> float | None:
    """k / n, or None when n is 0 (a figure that does not apply)."""
    return k / n if n else None


def decision_accuracy(expected: Sequence[str], actual: Sequence[str | None],
                      labels: Sequence[str] = ("block", "review", "allow")) -> dict:
    """Share of decisions equal to the expected one, and the confusion counts.

    ``confusion[expected][actual]``; an actual decision outside ``labels``
    (an error, or None) is counted under "error".
    """
    if len(expected) != len(actual):
        raise ValueError("expected and actual differ in length")
    cols = list(labels) + ["error"]
    confusion = {e: {a: 0 for a in cols} for e in labels}
    right = 0
    for e, a in zip(expected, actual):
        col = a if a in labels else "error"
        confusion[e][col] += 1
        right += int(e == a)
    return {"accuracy": rate(right, len(expected)), "right": right, "n": len(expected), "confusion": confusion}


def clip_box(box: Box, upload_duration: float, ref_duration: float) -> Box | None:
    """A predicted box clipped to the media; None when nothing is left on an axis."""
    us, ue = max(0.0, box[0]), min(upload_duration, box[1])
    rs, re = max(0.0, box[2]), min(ref_duration, box[3])
    if ue <= us or re <= rs:
        return None
    return (us, ue, rs, re)


# --------------------------------------------------------------------------- one system's scorecard


def peer_decision(result: dict) -> str:
    """A peer has no policy: any match it claims is read as ``block``, none as ``allow``."""
    return "block" if any(c["match"] for c in result.get("claims", ())) else "allow"


def evaluate(uploads: Sequence[dict], ref_durations: dict[str, float], results: dict[str, dict],
             has_segments: bool) -> dict:
    """Every accuracy figure of one system.

    ``uploads``: ground truth rows (``upload_id``, ``transform``, ``group``,
    ``work_id`` or None, ``segments`` as dicts with upload/ref start/end,
    ``expected``, ``duration``). ``results``: upload id -> the system's result
    (``applicable``, ``claims`` with ``work_id``/``score``/``match``/``segments``,
    ``decision`` or None for a peer). Uploads the system cannot read
    (``applicable`` False) are left out of every figure and counted.
    """
    per_transform: dict[str, dict] = {}
    per_group: dict[str, dict] = {}
    negatives = {"n": 0, "false_matches": 0, "uploads": {}}
    positives = {"n": 0, "right_work": 0, "any_work": 0, "wrong_work_claims": 0}
    expected, actual = [], []
    truth: dict[Pair, list[Box]] = {}
    predicted: dict[Pair, list[Box]] = defaultdict(list)
    scored_boxes: list[tuple[Pair, Box, float]] = []
    scored_pairs: list[tuple[Pair, float]] = []
    rows = []
    not_applicable = 0
    for up in uploads:
        res = results.get(up["upload_id"])
        if res is None or not res.get("applicable", False):
            not_applicable += 1
            continue
        uid, work = up["upload_id"], up["work_id"]
        matched = [c for c in res.get("claims", ()) if c["match"]]
        works = sorted({c["work_id"] for c in matched})
        decision = res.get("decision")
        if decision is None:
            decision = peer_decision(res)
        expected.append(up["expected"])
        actual.append(decision)
        t = per_transform.setdefault(up["transform"], {"group": up["group"], "n": 0, "right_work": 0,
                                                       "false": 0, "decisions_right": 0})
        g = per_group.setdefault(up["group"], {"n": 0, "right_work": 0, "false": 0})
        t["n"] += 1
        g["n"] += 1
        t["decisions_right"] += int(decision == up["expected"])
        right = work is not None and work in works
        wrong = [w for w in works if w != work]
        if work is None:
            negatives["n"] += 1
            if works:
                negatives["false_matches"] += 1
                negatives["uploads"][uid] = works
                t["false"] += 1
                g["false"] += 1
        else:
            positives["n"] += 1
            positives["right_work"] += int(right)
            positives["any_work"] += int(bool(works))
            positives["wrong_work_claims"] += len(wrong)
            t["right_work"] += int(right)
            g["right_work"] += int(right)
            truth[(uid, work)] = [(s["upload_start"], s["upload_end"], s["ref_start"], s["ref_end"])
                                  for s in up["segments"]]
        for c in matched:
            pair = (uid, c["work_id"])
            scored_pairs.append((pair, float(c["score"])))
            for s in c.get("segments") or ():
                box = clip_box(tuple(s[:4]), up["duration"], ref_durations.get(c["work_id"], math.inf))
                if box is not None:
                    predicted[pair].append(box)
                    scored_boxes.append((pair, box, float(s[4])))
        rows.append({"upload_id": uid, "expected": up["expected"], "decision": decision, "works": works,
                     "right_work": right if work else None, "false_works": wrong if work else works})
    for d in list(per_transform.values()) + list(per_group.values()):
        d["recall"] = rate(d["right_work"], d["n"]) if d.get("right_work") is not None else None
    out = {
        "applicable": len(rows),
        "not_applicable": not_applicable,
        "positives": {**positives, "recall": rate(positives["right_work"], positives["n"]),
                      "detected_any_work": rate(positives["any_work"], positives["n"])},
        "negatives": {**negatives, "false_match_rate": rate(negatives["false_matches"], negatives["n"])},
        "by_group": per_group,
        "by_transform": per_transform,
        "decisions": decision_accuracy(expected, actual),
        "pair_micro_ap": pair_micro_ap(truth.keys(), scored_pairs),
        "segments": None,
        "segment_ap": None,
        "uploads": rows,
    }
    if has_segments:
        out["segments"] = segment_precision_recall(truth, predicted)
        out["segment_ap"] = segment_ap(truth, scored_boxes)
    return out


def combine_results(a: dict[str, dict], b: dict[str, dict]) -> dict[str, dict]:
    """Two peers' results as one system: applicable where either is; claims pooled."""
    out = {}
    for uid in set(a) | set(b):
        ra, rb = a.get(uid, {}), b.get(uid, {})
        app = bool(ra.get("applicable")) or bool(rb.get("applicable"))
        claims = (ra.get("claims", []) if ra.get("applicable") else []) + \
                 (rb.get("claims", []) if rb.get("applicable") else [])
        out[uid] = {"applicable": app, "claims": claims, "decision": None}
    return out
