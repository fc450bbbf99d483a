"""Ownership claims: what a new reference's matches against other owners' works mean. No I/O.

A rights holder registering content that another owner's work already holds is not a second
owner of it: a substantial match is a conflicting claim (the registration of that file is
refused and the conflict recorded for people to settle); a partial match (a quoted stretch) is an
overlap whose seconds the earlier claim keeps, so they are excluded from the new reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from match import WorkMatch

from .decide import NONE, SUBSTANTIAL, Thresholds, classify


@dataclass(frozen=True)
class OwnershipClaims:
    """conflict: the first substantial match of another owner's work (None: no conflict), with why;
    overlaps: partial matches of other owners' works, each with why (their upload seconds are the
    new reference's seconds to exclude)."""

    conflict: tuple[WorkMatch, str] | None
    overlaps: tuple[tuple[WorkMatch, str], ...]


def ownership_claims(matches: list[WorkMatch], owners: Mapping[str, str], work_id: str, owner: str,
                     thresholds: Thresholds) -> OwnershipClaims:
    """Sort a new reference's matches (``matches``, the new file as the upload) of work ``work_id`` of
    ``owner`` into a conflicting claim and overlaps.

    owners: work id -> owner of every registered work (a match of a work not in it is left out: it
    was removed meanwhile). Matches of the same work, or of another work of the same owner, are no
    claim on anyone's content; neither is a match below the review band."""
    overlaps = []
    for m in matches:
        if m.work_id not in owners or m.work_id == work_id or (owner and owners[m.work_id] == owner):
            continue
        band, _, why = classify(m, thresholds)
        if band == NONE:
            continue
        if band == SUBSTANTIAL:
            return OwnershipClaims((m, why), ())
        overlaps.append((m, why))
    return OwnershipClaims(None, tuple(overlaps))
