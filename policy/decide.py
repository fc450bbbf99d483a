"""Matches -> decision, with the rule that fired and reasons. Pure functions.

Per matched work, in this order:
1. **Band** from the thresholds (``classify``): *none* (chance resemblance or
   shorter than ``review_min_seconds``), *substantial* (at least
   ``block_min_seconds`` and most of the upload, or a stretch of
   ``block_long_seconds``, or most of the work) or *partial* (everything in
   between: a short excerpt, a small part of an otherwise original upload, or
   music mixed under other sound: chroma similarity below
   ``audio_mixed_similarity``, or only the spectral-peak landmarks found it;
   such a match that puts the same upload seconds (more than
   ``audio_mixed_ambiguous_seconds``) at two places of the work is chance:
   same-style music, not a quote). A priority work uses the stricter
   ``[policy.priority]`` thresholds and sends borderline matches (below its
   review threshold but not chance) to review.
2. **Licence**: an uploader on the work's allow-list is allowed.
3. **Fair-use band** (preset, ``[policy.fair_use]``): a substantial match is
   treated as partial when the upload uses less than half of the work, mixes it
   with other material, and either uses at most ``max_seconds`` or the uploader
   declared a quotation, parody, criticism or review.
4. **Rules**: the work's own rules, then the global ``[[policy.rules]]``; the
   first whose conditions hold gives the action (block, mute-audio, review,
   track, allow). The defaults block substantial and review partial matches.
   Where the fair-use band applied, no rule can block: the upload goes to
   review (a rights holder's rule may still mute or track it).

"Other material" means material that is no registered work: an upload made of
excerpts of several works (a compilation) is judged by the share of the upload
that registered material covers, not one work at a time.

A static background (a fixed camera, a studio set) is no evidence either:
a match that rests only on one (``WorkMatch.background == "only"``, see
``match.align.temporal_specificity``) is allowed with a reason that says so;
one that rests on it partly is capped at review, whatever the rules say.

The upload's decision is the most restrictive action over its works; every
work's outcome is kept with its reasons. Degenerate content never reaches
this point (the matcher does not form segments on static content).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from fingerprint import REGISTRY
from match import BACKGROUND_ONLY, BACKGROUND_PARTLY, WorkMatch, union_seconds

ALLOW, TRACK, MUTE_AUDIO, REVIEW, BLOCK = "allow", "track", "mute-audio", "review", "block"
ACTIONS = (ALLOW, TRACK, MUTE_AUDIO, REVIEW, BLOCK)
# Most restrictive wins: held for a person (review) ranks above publishing without sound.
SEVERITY = {ALLOW: 0, TRACK: 1, MUTE_AUDIO: 2, REVIEW: 3, BLOCK: 4}
NONE, PARTIAL, SUBSTANTIAL = "none", "partial", "substantial"
MODALITIES = ("any", "audio", "video", "both")
DECLARED_USES = ("quotation", "parody", "criticism", "review", "commentary", "news", "education")


@dataclass(frozen=True)
class Thresholds:
    """Band thresholds; seconds are upload seconds, shares 0..1."""

    min_score: float = 0.25
    review_min_seconds: float = 3.0
    block_min_seconds: float = 8.0
    block_upload_share: float = 0.5
    block_long_seconds: float = 30.0
    block_reference_share: float = 0.8
    audio_mixed_similarity: float = 0.68
    audio_mixed_ambiguous_seconds: float = 1.0


class RuleError(ValueError):
    """A rule that cannot be used; ``field`` names the bad field ("" for the rule as a whole). The
    application layer's kind (service/errors.py): invalid input."""

    kind = "invalid_input"

    def __init__(self, field_name: str, why: str):
        super().__init__(f"{field_name}: {why}" if field_name else why)
        self.field, self.why = field_name, why


# Range of each numeric rule field: (lowest, highest, unit). Seconds are matched upload seconds.
RULE_NUMBERS = {"min_seconds": (0.0, 1e6, "seconds"), "min_upload_share": (0.0, 1.0, "a share"),
                "min_reference_share": (0.0, 1.0, "a share")}


@dataclass(frozen=True)
class Rule:
    """A condition on a match and the action it triggers (Content ID-style policy rule).

    band: "any", "partial" or "substantial" (see ``classify``).
    modality: "any", "audio", "video" or "both" (a video rule also holds for "both").
    min_seconds, min_upload_share, min_reference_share: lower bounds on the match
        (finite: seconds 0 to 1e6, shares 0 to 1).
    Whatever a rule comes from (the config, ``--rule`` JSON, the catalog), a bad
    field raises RuleError naming it.
    """

    action: str
    band: str = "any"
    modality: str = "any"
    min_seconds: float = 0.0
    min_upload_share: float = 0.0
    min_reference_share: float = 0.0

    def __post_init__(self) -> None:
        for name in ("action", "band", "modality"):
            if not isinstance(getattr(self, name), str):
                raise RuleError(name, f"must be a string, got {getattr(self, name)!r}")
        if self.action not in ACTIONS:
            raise RuleError("action", f"unknown action {self.action!r} (one of {', '.join(ACTIONS)})")
        if self.band not in ("any", PARTIAL, SUBSTANTIAL):
            raise RuleError("band", f"unknown band {self.band!r} (any, partial, substantial)")
        if self.modality not in MODALITIES:
            raise RuleError("modality", f"unknown modality {self.modality!r} ({', '.join(MODALITIES)})")
        for name, (lo, hi, unit) in RULE_NUMBERS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RuleError(name, f"must be a number, got {value!r}")
            if not (math.isfinite(value) and lo <= value <= hi):
                raise RuleError(name, f"must be a finite number from {lo:g} to {hi:g} ({unit}), got {value!r}")
            object.__setattr__(self, name, float(value))

    def holds(self, m: WorkMatch, band: str) -> bool:
        if self.band != "any" and band != self.band:
            return False
        if self.modality != "any" and not (m.modality == self.modality or
                                           (m.modality == "both" and self.modality in ("audio", "video"))):
            return False
        return (m.matched_seconds >= self.min_seconds and m.upload_coverage >= self.min_upload_share
                and m.reference_coverage >= self.min_reference_share)

    def describe(self) -> str:
        cond = []
        if self.band != "any":
            cond.append(f"{self.band} match")
        if self.modality != "any":
            cond.append(f"{self.modality} match")
        if self.min_seconds:
            cond.append(f">= {self.min_seconds:g} s")
        if self.min_upload_share:
            cond.append(f">= {100 * self.min_upload_share:.0f}% of the upload")
        if self.min_reference_share:
            cond.append(f">= {100 * self.min_reference_share:.0f}% of the work")
        return f"{self.action} when " + (" and ".join(cond) if cond else "any match")

    def as_dict(self) -> dict:
        """The rule as stored (JSON): every field, numbers as floats."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Rule":
        """A rule from a mapping of its fields (``action`` required); RuleError names a bad field."""
        if not isinstance(d, dict):
            raise RuleError("", f"a rule must be an object of fields (action, band, ...), got {type(d).__name__}")
        unknown = [str(k) for k in d if k not in cls.__dataclass_fields__]
        if unknown:
            raise RuleError("", f"unknown rule field(s): {', '.join(sorted(unknown))}")
        if "action" not in d:
            raise RuleError("action", "is required (block, mute-audio, review, track or allow)")
        return cls(**d)


@dataclass(frozen=True)
class FairUse:
    """The fair-use band preset (TOML ``[policy.fair_use]``)."""

    enabled: bool = True
    max_reference_share: float = 0.5
    max_upload_share: float = 0.75
    max_seconds: float = 15.0
    declared_uses: tuple[str, ...] = ("quotation", "parody", "criticism", "review")


DEFAULT_RULES = (Rule(BLOCK, band=SUBSTANTIAL), Rule(REVIEW, band=PARTIAL))


@dataclass(frozen=True)
class PolicyParams:
    """Everything the decision uses (TOML ``[policy]`` and its sub-tables)."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    priority: Thresholds = field(default_factory=lambda: Thresholds(
        min_score=0.2, review_min_seconds=1.5, block_min_seconds=4.0, block_upload_share=0.3,
        block_long_seconds=15.0, block_reference_share=0.5))
    fair_use: FairUse = field(default_factory=FairUse)
    rules: tuple[Rule, ...] = DEFAULT_RULES


@dataclass(frozen=True)
class WorkPolicy:
    """A work's own settings: rules evaluated before the global ones, priority, licences."""

    work_id: str
    title: str = ""
    rules: tuple[Rule, ...] = ()
    priority: bool = False
    licensed_uploaders: frozenset[str] = frozenset()


@dataclass(frozen=True)
class UploadContext:
    """What the platform knows about an upload (from a batch manifest)."""

    upload_id: str | None = None
    uploader_id: str | None = None
    declared_use: str | None = None


@dataclass(frozen=True)
class WorkDecision:
    """The outcome for one matched work: ``rule`` names the condition that fired."""

    work_id: str
    outcome: str
    rule: str
    band: str
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


_MODALITY_WORDS = {"both": "video and audio match", "video": "video matches", "audio": "audio matches"}


def registered_share(matches: list[WorkMatch], upload_seconds: float) -> float:
    """Share (0..1) of the upload's seconds covered by any registered work's segments."""
    if upload_seconds <= 0:
        return 0.0
    spans = [(s.upload_start, s.upload_end) for m in matches for s in m.segments]
    return min(1.0, union_seconds(spans) / upload_seconds)


def describe_match(m: WorkMatch, title: str = "") -> str:
    name = f"'{title}' ({m.work_id})" if title and title != m.work_id else m.work_id
    spans = ", ".join(
        f"{s.upload_start:.1f}-{s.upload_end:.1f}s -> {s.ref_start:.1f}-{s.ref_end:.1f}s" for s in m.segments[:3]
    )
    more = f" (+{len(m.segments) - 3} more)" if len(m.segments) > 3 else ""
    return (
        f"{_MODALITY_WORDS.get(m.modality, m.modality + ' matches')} {name} for {m.matched_seconds:.1f} s "
        f"({_pct(m.upload_coverage)} of the upload, {_pct(m.reference_coverage)} of the work, "
        f"similarity {m.score:.2f}; upload->work {spans}{more})"
    )


def classify(m: WorkMatch, t: Thresholds, priority: bool = False,
             registered: float = 0.0) -> tuple[str, str, str]:
    """(band, rule name, reason) of one match under thresholds ``t``.

    registered: share of the upload covered by any registered work (see
    ``registered_share``); a match inside a compilation of works is not an
    excerpt within otherwise original material.
    """
    if m.method == "digest":
        return SUBSTANTIAL, "exact-file", "the file is byte-identical (SHA-256) to a registered reference"
    if m.background == BACKGROUND_ONLY:
        return NONE, "static-background", (
            "rests only on a static background: every second of it matches other times of the work about as well "
            "(a fixed camera or set), so nothing shows these are the work's seconds")
    if m.score < t.min_score:
        return NONE, "below-similarity", f"similarity below {t.min_score:.2f}, treated as chance resemblance"
    if m.matched_seconds < t.review_min_seconds:
        if priority:
            return PARTIAL, "priority-borderline", "a borderline match of a priority work, held for review"
        return NONE, "below-duration", f"shorter than the {t.review_min_seconds:g} s review threshold"
    alone = _alone_under_other_sound(m)
    mixed = m.modality == "audio" and (alone is not None or m.score < t.audio_mixed_similarity)
    if mixed and (clash := _places_clash(m, t.audio_mixed_ambiguous_seconds)):
        return NONE, "audio-ambiguous", (
            f"audio only, under other sound, and upload {clash[0]:.1f}-{clash[1]:.1f}s fits the work in two places "
            f"at once (reference {clash[2]:.1f}s and {clash[3]:.1f}s): music of the same style, not a quote")
    if m.modality == "audio" and alone is not None:
        return PARTIAL, "audio-under-other-sound", f"audio only, {alone}: music under other sound"
    if m.modality == "audio" and m.score < t.audio_mixed_similarity:
        return PARTIAL, "audio-under-other-sound", (
            f"audio only, mixed under other sound (similarity below {t.audio_mixed_similarity:.2f})")
    long_enough = m.matched_seconds >= t.block_min_seconds
    if long_enough and m.upload_coverage >= t.block_upload_share:
        return SUBSTANTIAL, "most-of-upload", f"at least {_pct(t.block_upload_share)} of the upload is the work"
    if long_enough and m.matched_seconds >= t.block_long_seconds:
        return SUBSTANTIAL, "long-stretch", f"a stretch of at least {t.block_long_seconds:g} s"
    if long_enough and m.reference_coverage >= t.block_reference_share:
        return SUBSTANTIAL, "most-of-work", f"at least {_pct(t.block_reference_share)} of the work is used"
    if long_enough and registered >= t.block_upload_share:
        return SUBSTANTIAL, "compilation", (f"a compilation: {_pct(registered)} of the upload is registered "
                                            "material (this work and others), not original content")
    if priority:
        return PARTIAL, "priority-borderline", "a partial match of a priority work, held for review"
    if max(m.upload_coverage, registered) < t.block_upload_share:
        return PARTIAL, "fair-use-band", "a short excerpt within an otherwise original upload; possibly quotation"
    return PARTIAL, "fair-use-band", "a short excerpt; possibly quotation or commentary"


def _alone_under_other_sound(m: WorkMatch) -> str | None:
    """How the one signal that found ``m`` hears music under other sound (its
    ``alone_under_other_sound`` trait, ``fingerprint.signals``: landmarks), or None when several
    signals found it or its one signal has no such trait."""
    if len(m.signals) != 1:
        return None
    signal = REGISTRY.get(m.signals[0])
    return signal.alone_under_other_sound if signal is not None and signal.alone_under_other_sound else None


def _places_clash(m: WorkMatch, seconds: float) -> tuple[float, float, float, float] | None:
    """(upload start, end, reference time of one, of the other) where two segments of ``m`` cover
    the same upload seconds (more than ``seconds`` of them) but put them at reference places more
    than ``seconds`` apart; None when every stretch of the upload has one place in the work."""
    segs = sorted(m.segments, key=lambda s: s.upload_start)
    for i, a in enumerate(segs):
        for b in segs[i + 1:]:
            lo, hi = max(a.upload_start, b.upload_start), min(a.upload_end, b.upload_end)
            if hi - lo <= seconds:
                continue
            mid = 0.5 * (lo + hi)
            at_a = a.ref_start + a.speed * (mid - a.upload_start)
            at_b = b.ref_start + b.speed * (mid - b.upload_start)
            if abs(at_a - at_b) > seconds:
                return lo, hi, at_a, at_b
    return None


def _fair_use(m: WorkMatch, f: FairUse, ctx: UploadContext, registered: float = 0.0) -> str | None:
    """Why the fair-use preset turns a substantial match into review, or None."""
    if not f.enabled or m.method == "digest":
        return None
    if m.reference_coverage >= f.max_reference_share or max(m.upload_coverage, registered) >= f.max_upload_share:
        return None
    if m.matched_seconds <= f.max_seconds:
        return f"fair-use band: uses {m.matched_seconds:.0f} s (at most {f.max_seconds:g} s), less than half of " \
               "the work, alongside other material"
    if ctx.declared_use and ctx.declared_use.lower() in f.declared_uses:
        return f"fair-use band: declared {ctx.declared_use.lower()}, uses less than half of the work, " \
               "alongside other material"
    return None


def decide_work(m: WorkMatch, p: PolicyParams, work: WorkPolicy | None = None,
                ctx: UploadContext | None = None, registered: float = 0.0) -> WorkDecision:
    """Outcome for one work match (see the module docstring for the order).

    registered: share of the upload covered by registered works (``registered_share``).
    """
    work = work or WorkPolicy(m.work_id)
    ctx = ctx or UploadContext()
    what = describe_match(m, work.title)
    band, rule_name, why = classify(m, p.priority if work.priority else p.thresholds, work.priority, registered)
    reasons = [f"{what}: {why}"]
    if work.priority:
        reasons.append(f"{m.work_id} is a priority work: stricter thresholds apply")
    if ctx.uploader_id and ctx.uploader_id in work.licensed_uploaders:
        return WorkDecision(m.work_id, ALLOW, "licensed-uploader", band,
                            (*reasons, f"uploader {ctx.uploader_id} is licensed for {m.work_id}"))
    if band == NONE:
        return WorkDecision(m.work_id, ALLOW, rule_name, band, tuple(reasons))
    fair = _fair_use(m, p.fair_use, ctx, registered) if band == SUBSTANTIAL else None
    if fair:
        band, rule_name = PARTIAL, "fair-use-preset"
        reasons.append(fair)
    static = m.background == BACKGROUND_PARTLY
    if static:
        reasons.append("the match rests largely on a static background (a fixed camera or set): other times of the "
                       "work match it nearly as well, so a person decides")
    for source, rules in (("work", work.rules), ("default", p.rules)):
        for rule in rules:
            if rule.holds(m, band):
                action, name = rule.action, (rule_name if source == "default" else f"work-rule:{rule.action}")
                if source == "work":
                    reasons.append(f"the rights holder's rule for {m.work_id}: {rule.describe()}")
                if fair and SEVERITY[action] > SEVERITY[REVIEW]:
                    action, name = REVIEW, "fair-use-preset"
                    reasons.append(f"the fair-use band caps the rule's {rule.action} at review: a person decides")
                if static and SEVERITY[action] > SEVERITY[REVIEW]:
                    action, name = REVIEW, "static-background"
                    reasons.append(f"the static background caps the rule's {rule.action} at review")
                return WorkDecision(m.work_id, action, name, band, tuple(reasons))
    return WorkDecision(m.work_id, ALLOW, "no-rule", band, (*reasons, "no rule applies to this match"))


def combine_decisions(works: tuple[WorkDecision, ...]) -> Decision:
    """The most restrictive work outcome wins; reasons most restrictive first."""
    if not works:
        return Decision(ALLOW, "no-match", ("no registered work matched",), ())
    ordered = sorted(works, key=lambda w: -SEVERITY[w.outcome])
    top = ordered[0]
    return Decision(top.outcome, top.rule, tuple(r for w in ordered for r in w.reasons), works)


def decide(matches: list[WorkMatch], p: PolicyParams, works: dict[str, WorkPolicy] | None = None,
           ctx: UploadContext | None = None, upload_seconds: float | None = None) -> Decision:
    """The upload's decision over every work match (most restrictive wins).

    upload_seconds: the upload's duration; with it, excerpts of several works
    that together make most of the upload are judged as a compilation.
    """
    works = works or {}
    registered = registered_share(_used_material(matches, p, works, ctx), upload_seconds) if upload_seconds else 0.0
    return combine_decisions(tuple(decide_work(m, p, works.get(m.work_id), ctx, registered) for m in matches))


def _used_material(matches: list[WorkMatch], p: PolicyParams, works: dict[str, WorkPolicy],
                   ctx: UploadContext | None) -> list[WorkMatch]:
    """The matches that make an upload a compilation of registered material: each is
    at least a partial use on its own, not chance resemblance, not music under the
    upload's own sound and not a work the uploader is licensed for."""
    used = []
    for m in matches:
        work = works.get(m.work_id) or WorkPolicy(m.work_id)
        if ctx and ctx.uploader_id and ctx.uploader_id in work.licensed_uploaders:
            continue
        band, rule_name, _ = classify(m, p.priority if work.priority else p.thresholds, work.priority)
        if band != NONE and rule_name != "audio-under-other-sound":
            used.append(m)
    return used


def with_thresholds(p: PolicyParams, **changes) -> PolicyParams:
    """A copy of ``p`` with some base thresholds changed (tests, tuning)."""
    return replace(p, thresholds=replace(p.thresholds, **changes))
