"""Cut-timing hits -> candidate lines (reference, speed, offset) for a reframed copy.

Every hit pairs an upload's run of ``shots_per_code`` shots with a reference's
run whose length ratios fall in the same bins (``fingerprint.cuts``). The two
runs' lengths give the speed (reference seconds per upload second) and their
first cuts the offset, so each hit proposes a line
``ref_time = speed * upload_time + offset``. Hits are pooled per
(reference, speed bin, offset bin); the best-voted lines are then checked
against the whole cut lists: a copy puts nearly every upload cut on a
reference cut, and nearly every reference cut of the stretch on an upload
cut, while a chance line (films with similar pacing, rhythmic edits) carries
its own few cuts and little else. A line that passes is only a *candidate*:
the picture must still be verified (``match.verify``) before it becomes a
segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CutMatchParams:
    """Tunables of the cut-timing candidates and their verification (TOML ``[match.cut]``).

    min_speed, max_speed: playback speeds considered (reference s per upload s).
    speed_bin: width of a speed vote bin (natural log of the speed).
    offset_bin_seconds: width of an offset vote bin, reference seconds.
    max_lines: best-voted lines checked against the cut lists per upload.
    cut_tolerance_seconds: an upload cut mapped onto the reference lies on a
        reference cut when within this many reference seconds (cut times are
        known to half a sampling period on each side).
    min_cuts: cuts a line must put on reference cuts.
    min_cut_share: and the share of the stretch's cuts (upload or reference,
        whichever has more) they make up, the stretch running from the first
        to the last of them.
    max_candidates: lines verified per upload, most matched cuts first.
    probe_frames: upload frames the geometry is estimated on, spread along the
        stretch where the line lands on a stored window code.
    min_scale, max_scale, scale_steps: the coarse geometry search tries this
        many scales (reference picture widths per upload frame width: 0.7 for
        a crop keeping 70 %, 1.33 for the work shrunk to 75 % inside a border),
        log-spaced, each plain and mirrored.
    min_sketch_score: the coarse search's best correlation must reach this, or
        the candidate is dropped before the finer (costlier) search.
    max_probe_distance: the verified geometry must bring the probes' window
        codes within this mean Hamming distance (bits of 64) of the reference's.
    speed_tolerance: the verified segment's speed is searched within this
        share of the candidate's.
    band_seconds: an upload window code is compared with the reference codes
        within this many seconds of the candidate line.
    """

    min_speed: float = 0.5
    max_speed: float = 2.0
    speed_bin: float = 0.04
    offset_bin_seconds: float = 0.5
    max_lines: int = 64
    cut_tolerance_seconds: float = 0.25
    min_cuts: int = 4
    min_cut_share: float = 0.75
    max_candidates: int = 3
    probe_frames: int = 6
    min_scale: float = 0.5
    max_scale: float = 2.2
    scale_steps: int = 12
    min_sketch_score: float = 0.35
    max_probe_distance: float = 16.0
    speed_tolerance: float = 0.04
    band_seconds: float = 1.5


@dataclass(frozen=True)
class CutCandidate:
    """A line along which an upload's cuts fall on a reference's cuts.

    speed: reference seconds per upload second; offset: reference seconds at
    upload time 0. cuts: upload cuts on reference cuts; share: their share of
    the stretch's cuts. upload_start, upload_end: the first and last of those
    upload cuts (seconds).
    """

    ref_id: int
    speed: float
    offset: float
    cuts: int
    share: float
    upload_start: float
    upload_end: float


def _line_fit(u: np.ndarray, r: np.ndarray, speed: float, offset: float, params: CutMatchParams
              ) -> tuple[float, float]:
    """Least-squares line through matched (upload, reference) cut pairs, kept in the speed range."""
    if len(u) >= 3 and u.max() - u.min() >= 2.0:
        du = u - u.mean()
        speed = float(np.clip((du * (r - r.mean())).sum() / (du * du).sum(), params.min_speed, params.max_speed))
    return speed, float(np.median(r - speed * u))


def _nearest(sorted_values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The element of ``sorted_values`` (non-empty, ascending) nearest each of ``x``."""
    pos = np.clip(np.searchsorted(sorted_values, x), 1, max(1, len(sorted_values) - 1))
    lo, hi = sorted_values[np.maximum(pos - 1, 0)], sorted_values[np.minimum(pos, len(sorted_values) - 1)]
    return np.where(np.abs(hi - x) < np.abs(lo - x), hi, lo)


def check_line(upload_cuts: np.ndarray, ref_cuts: np.ndarray, speed: float, offset: float,
               params: CutMatchParams) -> tuple[int, float, float, np.ndarray]:
    """(cuts matched, soft score, share of the stretch's cuts, mask of matched upload cuts) of a line.

    The stretch runs from the first to the last matched cut (on the reference
    axis), so a copy inside a longer upload, or of part of a longer
    reference, is judged on its own seconds; its cuts are the upload's mapped
    into it and the reference's in it. The soft score counts each matched cut
    by how close it lands, ``1 - (error / tolerance)**2``.
    """
    none = np.zeros(len(upload_cuts), bool)
    if len(upload_cuts) == 0 or len(ref_cuts) == 0:
        return 0, 0.0, 0.0, none
    tol = params.cut_tolerance_seconds
    mapped = speed * upload_cuts + offset
    error = np.abs(_nearest(ref_cuts, mapped) - mapped)
    hit = error <= tol
    n_hit = int(hit.sum())
    if n_hit == 0:
        return 0, 0.0, 0.0, hit
    lo, hi = mapped[hit].min() - tol, mapped[hit].max() + tol
    upload_inside = int(((mapped >= lo) & (mapped <= hi)).sum())
    ref_inside = int(((ref_cuts >= lo) & (ref_cuts <= hi)).sum())
    score = float((1.0 - (error[hit] / tol) ** 2).sum())
    return n_hit, score, n_hit / max(upload_inside, ref_inside, 1), hit


def _pooled_votes(keys: np.ndarray, votes: np.ndarray) -> np.ndarray:
    """Votes of each (reference, speed bin, offset bin) line plus its 8 neighbours' (a line whose
    speed or offset straddles a bin edge splits its votes)."""
    span = 1 << 20
    packed = (keys[:, 0] * span + (keys[:, 1] + span // 2)) * span + (keys[:, 2] + span // 2)
    order = np.argsort(packed)
    sorted_keys, sorted_votes = packed[order], votes[order]
    pooled = np.zeros(len(keys), np.int64)
    for ds in (-1, 0, 1):
        for do in (-1, 0, 1):
            probe = packed + ds * span + do
            pos = np.clip(np.searchsorted(sorted_keys, probe), 0, len(sorted_keys) - 1)
            pooled += np.where(sorted_keys[pos] == probe, sorted_votes[pos], 0)
    return pooled


def cut_candidates(q_start: np.ndarray, q_end: np.ndarray, q_anchor: np.ndarray, ref_id: np.ndarray,
                   r_start: np.ndarray, r_end: np.ndarray, upload_cuts: np.ndarray,
                   ref_cuts: dict[int, np.ndarray], params: CutMatchParams) -> list[CutCandidate]:
    """Candidate lines from cut-code hits, checked against the whole cut lists.

    Per hit: the upload run of shots it stands for (``q_start``..``q_end``,
    seconds; ``q_anchor`` its anchor cut's index, so the probes of one run
    vote once), the reference it hit and that run (``r_start``..``r_end``).
    upload_cuts: every cut of the upload (sorted); ref_cuts: every cut of each
    reference hit (sorted). The ``max_lines`` best-voted lines are refitted on
    the cuts they match until that stops growing; returns at most
    ``max_candidates`` lines that pass, best soft score first.
    """
    q_len = np.asarray(q_end, np.float64) - np.asarray(q_start, np.float64)
    r_len = np.asarray(r_end, np.float64) - np.asarray(r_start, np.float64)
    ok = (q_len > 0) & (r_len > 0)
    speed = np.where(ok, r_len / np.where(q_len > 0, q_len, 1.0), 0.0)
    ok &= (speed >= params.min_speed) & (speed <= params.max_speed)
    if not ok.any():
        return []
    speed, q0, r0 = speed[ok], np.asarray(q_start)[ok], np.asarray(r_start)[ok]
    refs, anchors = np.asarray(ref_id, np.int64)[ok], np.asarray(q_anchor, np.int64)[ok]
    offset = r0 - speed * q0
    s_bin = np.round(np.log(speed) / params.speed_bin).astype(np.int64)
    o_bin = np.round(offset / params.offset_bin_seconds).astype(np.int64)
    keys = np.stack([refs, s_bin, o_bin], axis=1)
    # one vote per (line, upload run): the probes of one run and repeated reference runs count once
    votes_of = np.unique(np.concatenate([keys, anchors[:, None]], axis=1), axis=0)[:, :3]
    lines, votes = np.unique(votes_of, axis=0, return_counts=True)
    order = np.argsort(-_pooled_votes(lines, votes), kind="stable")[: params.max_lines]
    found: list[tuple[float, CutCandidate]] = []
    for ref, sb, ob in lines[order]:
        cuts = ref_cuts.get(int(ref))
        if cuts is None or len(cuts) == 0:
            continue
        members = (refs == ref) & (s_bin == sb) & (o_bin == ob)
        line_speed, line_offset = float(np.median(speed[members])), float(np.median(offset[members]))
        n_hit, score, share, hit = check_line(upload_cuts, cuts, line_speed, line_offset, params)
        for _ in range(3):  # refit on the matched cuts while that finds more of them
            if n_hit < 2:
                break
            u = upload_cuts[hit]
            fit = _line_fit(u, _nearest(cuts, line_speed * u + line_offset), line_speed, line_offset, params)
            again = check_line(upload_cuts, cuts, *fit, params)
            if again[1] <= score:
                break
            (line_speed, line_offset), (n_hit, score, share, hit) = fit, again
        if n_hit < params.min_cuts or share < params.min_cut_share:
            continue
        cand = CutCandidate(int(ref), line_speed, line_offset, n_hit, share,
                            float(upload_cuts[hit].min()), float(upload_cuts[hit].max()))
        same = next((i for i, (_, c) in enumerate(found) if c.ref_id == cand.ref_id
                     and abs(np.log(c.speed / line_speed)) < params.speed_bin
                     and abs(c.offset - line_offset) < params.offset_bin_seconds), None)
        if same is None:
            found.append((score, cand))
        elif score > found[same][0]:
            found[same] = (score, cand)
    found.sort(key=lambda f: -f[0])
    return [c for _, c in found[: params.max_candidates]]
