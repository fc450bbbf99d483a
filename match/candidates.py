"""Index hits + query fingerprint -> ``Candidates`` for alignment."""

from __future__ import annotations

import numpy as np

from fingerprint import Fingerprint

from .types import Candidates, GatheredRows


def build_candidates(query: Fingerprint, query_rows: np.ndarray, ref_id: np.ndarray, r_start: np.ndarray,
                     r_end: np.ndarray, distance: np.ndarray, instant_seconds: float,
                     row_speed_hint: np.ndarray | None = None, row_altered: np.ndarray | None = None) -> Candidates:
    """Join hits (one per query row / stored code pair) with the query's times.

    instant_seconds: query codes whose start times round to the same multiple of
    this (seconds) stand for one upload instant and vote once.
    row_speed_hint: per query row, the playback speed its variant assumed
        (NaN or None: any speed).
    row_altered: per query row, whether its variant undoes a pitch shift.
    The upload's runs of codes (``code_runs``, split at gaps of two instants)
    tell the aligner where the upload could not be observed.
    """
    rows = np.asarray(query_rows, np.int64)
    starts = query.starts[rows]
    run_start, run_end = code_runs(query.starts, 2 * instant_seconds)
    return Candidates(
        q_start=starts,
        q_end=query.ends[rows],
        q_group=np.round(starts / instant_seconds).astype(np.int64),
        ref_id=np.asarray(ref_id, np.int64),
        r_start=np.asarray(r_start, np.float64),
        r_end=np.asarray(r_end, np.float64),
        distance=np.asarray(distance, np.int32),
        query_codes=(GatheredRows(query.codes, rows.astype(np.int32)) if query.codes.ndim == 2
                     and query.codes.shape[1] > 4 and len(query.codes) < 2**31 else query.codes[rows]),
        speed_hint=(np.full(len(rows), np.nan) if row_speed_hint is None
                    else np.asarray(row_speed_hint, np.float64)[rows]),
        altered=None if row_altered is None else np.asarray(row_altered, bool)[rows],
        q_run_start=run_start[rows],
        q_run_end=run_end[rows],
        variant=np.asarray(query.variants, np.int64)[rows],
    )


def code_runs(times: np.ndarray, gap_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Per code time: the first and last time of its run, runs being split
    where consecutive times (all variants merged) are more than ``gap_seconds``
    apart (no code there: silence, flat pictures)."""
    times = np.asarray(times, np.float64)
    if len(times) == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(times, kind="stable")
    ts = times[order]
    new_run = np.concatenate([[True], np.diff(ts) > gap_seconds])
    run = np.cumsum(new_run) - 1
    first = ts[new_run]
    last = np.append(ts[np.flatnonzero(new_run)[1:] - 1], ts[-1])
    run_start, run_end = np.empty(len(ts)), np.empty(len(ts))
    run_start[order], run_end[order] = first[run], last[run]
    return run_start, run_end
