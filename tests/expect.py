"""Checks the screening tests share: the work was found, and at the right seconds."""

from __future__ import annotations

TOLERANCE = 1.0  # seconds: segment bounds within this of the truth


def found_match(result, work_id: str):
    """The match of ``work_id`` in a screening result (failing the test if there is none)."""
    assert result.status == "ok", result.error
    found = [m for m in result.matches if m.work_id == work_id]
    assert found, f"{work_id} not found; matches: {[m.as_dict() for m in result.matches]}"
    return found[0]


def check_span(match, upload: tuple[float, float], ref: tuple[float, float], tolerance: float = TOLERANCE) -> None:
    """The matched segments, taken together, span the true upload and reference seconds."""
    segs = match.segments
    got_upload = (min(s.upload_start for s in segs), max(s.upload_end for s in segs))
    got_ref = (min(s.ref_start for s in segs), max(s.ref_end for s in segs))
    assert abs(got_upload[0] - upload[0]) <= tolerance and abs(got_upload[1] - upload[1]) <= tolerance, got_upload
    assert abs(got_ref[0] - ref[0]) <= tolerance and abs(got_ref[1] - ref[1]) <= tolerance, got_ref
