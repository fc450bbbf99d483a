"""Matches -> decision: allow, review or block, with the rule that fired and reasons.

Per work:
- *ignored* when the similarity is below ``min_score`` or the matched stretch
  is shorter than ``review_min_seconds`` (chance resemblance, not a use);
- *block* for a substantial copy: at least ``block_min_seconds`` matched and
  either most of the upload is the work (``block_upload_share``), or a long
  stretch of it (``block_long_seconds``), or most of the work
  (``block_reference_share``);
- *review* otherwise, the human-review band for likely fair use: a short
  excerpt, a small part of a longer upload that is otherwise original, or an
  audio-only match whose similarity is below ``audio_mixed_similarity`` (music
  under speech or other sound).
The upload's decision is the most restrictive over its works; every work's
outcome is kept with its reasons.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from match import WorkMatch

ALLOW, REVIEW, BLOCK = "allow", "review", "block"
SEVERITY = {ALLOW: 0, REVIEW: 1, BLOCK: 2}


@dataclass(frozen=True)
class PolicyParams:
    """Decision thresholds (TOML ``[policy]``); seconds are upload seconds, shares 0..1."""

    min_score: float = 0.25
    review_min_seconds: float = 3.0
    block_min_seconds: float = 8.0
    block_upload_share: float = 0.5
    block_long_seconds: float = 30.0
    block_reference_share: float = 0.8
    audio_mixed_similarity: float = 0.68


@dataclass(frozen=True)
class WorkDecision:
    """The outcome for one matched work: ``rule`` names the condition that fired."""

    work_id: str
    outcome: str
    rule: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    """An upload's decision: the most restrictive work outcome, all reasons."""

    outcome: str
    rule: str
    reasons: tuple[str, ...]
    works: tuple[WorkDecision, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return asdict(self)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _describe(m: WorkMatch, title: str) -> str:
    name = f"'{title}' ({m.work_id})" if title and title != m.work_id else m.work_id
    spans = ", ".join(
        f"{s.upload_start:.1f}-{s.upload_end:.1f}s -> {s.ref_start:.1f}-{s.ref_end:.1f}s" for s in m.segments[:3]
    )
    more = f" (+{len(m.segments) - 3} more)" if len(m.segments) > 3 else ""
    return (
        f"{m.modality} matches {name} for {m.matched_seconds:.1f} s "
        f"({_pct(m.upload_coverage)} of the upload, {_pct(m.reference_coverage)} of the work, "
        f"similarity {m.score:.2f}; upload->work {spans}{more})"
    )


def decide_work(m: WorkMatch, p: PolicyParams, title: str = "") -> WorkDecision:
    """Outcome for one work match under thresholds ``p``."""
    what = _describe(m, title)
    if m.method == "digest":
        return WorkDecision(m.work_id, BLOCK, "exact-file",
                            (f"the file is byte-identical (SHA-256) to a registered reference of {m.work_id}",))
    if m.score < p.min_score:
        return WorkDecision(m.work_id, ALLOW, "below-similarity",
                            (f"{what}: similarity below {p.min_score:.2f}, treated as chance resemblance",))
    if m.matched_seconds < p.review_min_seconds:
        return WorkDecision(m.work_id, ALLOW, "below-duration",
                            (f"{what}: shorter than the {p.review_min_seconds:g} s review threshold",))
    if m.modality == "audio" and m.score < p.audio_mixed_similarity:
        return WorkDecision(m.work_id, REVIEW, "audio-under-other-sound",
                            (f"{what}: audio only, mixed under other sound "
                             f"(similarity below {p.audio_mixed_similarity:.2f}); a person should judge the use",))
    long_enough = m.matched_seconds >= p.block_min_seconds
    if long_enough and m.upload_coverage >= p.block_upload_share:
        return WorkDecision(m.work_id, BLOCK, "most-of-upload",
                            (f"{what}: at least {_pct(p.block_upload_share)} of the upload is the work",))
    if long_enough and m.matched_seconds >= p.block_long_seconds:
        return WorkDecision(m.work_id, BLOCK, "long-stretch",
                            (f"{what}: a stretch of at least {p.block_long_seconds:g} s",))
    if long_enough and m.reference_coverage >= p.block_reference_share:
        return WorkDecision(m.work_id, BLOCK, "most-of-work",
                            (f"{what}: at least {_pct(p.block_reference_share)} of the work is used",))
    if m.upload_coverage < p.block_upload_share:
        why = "a short excerpt within an otherwise original upload; possibly quotation or commentary"
    else:
        why = "a short excerpt; possibly quotation or commentary"
    return WorkDecision(m.work_id, REVIEW, "fair-use-band", (f"{what}: {why}",))


def decide(matches: list[WorkMatch], p: PolicyParams, titles: dict[str, str] | None = None) -> Decision:
    """The upload's decision over every work match (most restrictive wins)."""
    titles = titles or {}
    works = tuple(decide_work(m, p, titles.get(m.work_id, "")) for m in matches)
    if not works:
        return Decision(ALLOW, "no-match", ("no registered work matched",), ())
    top = max(works, key=lambda w: SEVERITY[w.outcome])
    if top.outcome == ALLOW:
        reasons = tuple(r for w in works for r in w.reasons)
        return Decision(ALLOW, top.rule, reasons, works)
    ordered = sorted(works, key=lambda w: -SEVERITY[w.outcome])
    reasons = tuple(r for w in ordered for r in w.reasons)
    return Decision(top.outcome, top.rule, reasons, works)
