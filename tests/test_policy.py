"""The decision rules on hand-made matches: compilations, the fair-use cap on rules, reasons."""

from __future__ import annotations

from dataclasses import replace

from match import Segment, WorkMatch
from policy import PolicyParams, Rule, UploadContext, WorkPolicy, decide


def _match(work_id: str, start: float, end: float, upload_seconds: float, ref_seconds: float,
           modality: str = "both") -> WorkMatch:
    seg = Segment(ref_id=hash(work_id) % 1000, modality=modality, upload_start=start, upload_end=end,
                  ref_start=0.0, ref_end=end - start, speed=1.0, similarity=0.9, mean_distance=10.0, hits=40,
                  density=1.0, changes=10)
    seconds = end - start
    return WorkMatch(work_id, modality, (seg,), seconds, seconds / upload_seconds, seconds / ref_seconds, 0.9,
                     {modality: seconds})


def test_excerpts_of_several_works_filling_the_upload_are_a_compilation():
    # three 12 s excerpts of three 60 s works make a 36 s upload: nothing in it is original
    matches = [_match(w, 12.0 * i, 12.0 * (i + 1), 36.0, 60.0) for i, w in enumerate(("a", "b", "c"))]
    alone = decide(matches, PolicyParams())
    assert alone.outcome == "review"  # without the upload's length each excerpt looks like a quote
    decision = decide(matches, PolicyParams(), upload_seconds=36.0)
    assert decision.outcome == "block"
    assert {w.rule for w in decision.works} == {"compilation"}
    assert "compilation" in decision.reasons[0] and "not original content" in decision.reasons[0]


def test_one_excerpt_inside_original_material_is_still_a_quote():
    decision = decide([_match("a", 10.0, 22.0, 36.0, 60.0)], PolicyParams(), upload_seconds=36.0)
    assert decision.outcome == "review" and decision.works[0].rule == "fair-use-band"


def test_fair_use_band_caps_a_rights_holders_block_rule_at_review():
    # 10 s of a 60 s film in a 16 s upload: most of the upload, so substantial; the preset makes it review
    quote = _match("film", 0.0, 10.0, 16.0, 60.0)
    strict = {"film": WorkPolicy("film", rules=(Rule("block", min_seconds=5.0),))}
    decision = decide([quote], PolicyParams(), strict, UploadContext(declared_use="quotation"), upload_seconds=16.0)
    assert decision.outcome == "review" and decision.rule == "fair-use-preset"
    assert any("caps the rule's block at review" in r for r in decision.reasons)
    # a rule that only mutes is below review and stays
    mute = {"film": WorkPolicy("film", rules=(Rule("mute-audio"),))}
    assert decide([quote], PolicyParams(), mute, upload_seconds=16.0).outcome == "mute-audio"


def test_an_upload_that_is_mostly_the_work_gets_no_fair_use_band():
    # 13 s of a 16 s upload (81 %) is not "combined with other material"
    decision = decide([_match("film", 0.0, 13.0, 16.0, 60.0)], PolicyParams(),
                      ctx=UploadContext(declared_use="quotation"), upload_seconds=16.0)
    assert decision.outcome == "block" and decision.rule == "most-of-upload"


def test_reasons_name_the_modality_in_words():
    decision = decide([_match("film", 0.0, 30.0, 30.0, 30.0)], PolicyParams(), upload_seconds=30.0)
    assert decision.reasons[0].startswith("video and audio match film for 30.0 s")


def test_only_real_uses_of_other_works_make_a_compilation():
    """A 12 s quote stays a quote next to a chance resemblance, music under the upload's own sound
    or a work the uploader is licensed for: none of those is registered material used in place of
    original content."""
    quote = _match("film", 0.0, 12.0, 100.0, 60.0, modality="video")
    chance = replace(_match("other", 12.0, 95.0, 100.0, 90.0, modality="video"), score=0.05)
    background = replace(_match("song", 0.0, 100.0, 100.0, 200.0, modality="audio"), score=0.5)
    licensed = _match("stock", 12.0, 95.0, 100.0, 90.0, modality="video")
    works = {"stock": WorkPolicy("stock", licensed_uploaders=frozenset({"ann"}))}
    for other in (chance, background, licensed):
        decision = decide([quote, other], PolicyParams(), works, UploadContext(uploader_id="ann"),
                          upload_seconds=100.0)
        film = next(w for w in decision.works if w.work_id == "film")
        assert film.outcome == "review" and film.rule == "fair-use-band", (other.work_id, film)
    # the same other work used for real (not licensed to this uploader) does make one
    decision = decide([quote, licensed], PolicyParams(), works, UploadContext(uploader_id="bob"), upload_seconds=100.0)
    assert decision.outcome == "block" and {w.rule for w in decision.works} >= {"compilation"}


def _seg(start: float, end: float, ref_start: float, signal: str) -> Segment:
    return Segment(ref_id=7, modality="audio", upload_start=start, upload_end=end, ref_start=ref_start,
                   ref_end=ref_start + end - start, speed=1.0, similarity=0.64, mean_distance=0.0, hits=30,
                   density=0.7, changes=20, signal=signal)


def test_music_under_other_sound_that_fits_the_work_in_two_places_at_once_is_chance():
    # an unrelated film of the same generator: chroma puts upload 10.6-17.1 s at the work's 54 s,
    # landmarks put 12.7-26.6 s at its 40 s: 4.4 upload seconds in two places of the work
    segs = (_seg(0.0, 8.4, 19.2, "audio"), _seg(10.6, 17.1, 54.1, "audio"), _seg(12.7, 26.6, 40.1, "landmark"))
    m = WorkMatch("film", "audio", segs, 24.4, 24.4 / 30.0, 24.4 / 75.0, 0.64, {"audio": 24.4},
                  signals=("audio", "landmark"))
    d = decide([m], PolicyParams(), upload_seconds=30.0)
    assert d.outcome == "allow" and d.works[0].rule == "audio-ambiguous"
    assert "two places" in d.works[0].reasons[0]
    # the same segments one after another on the upload (a re-edit of the work's music): a quote
    apart = (segs[0], _seg(10.6, 17.1, 54.1, "audio"), _seg(17.5, 26.6, 40.1, "landmark"))
    d = decide([replace(m, segments=apart)], PolicyParams(), upload_seconds=30.0)
    assert d.outcome == "review" and d.works[0].rule == "audio-under-other-sound"
    # two signals on one line overlap at one place: agreement, not a clash
    agree = (_seg(10.6, 17.1, 54.1, "audio"), _seg(12.7, 20.0, 56.2, "landmark"))
    d = decide([replace(m, segments=agree)], PolicyParams(), upload_seconds=30.0)
    assert d.outcome == "review" and d.works[0].rule == "audio-under-other-sound"


def test_ownership_claims_sort_another_owners_content_into_a_conflict_or_overlaps():
    from policy import ownership_claims

    t = PolicyParams().thresholds
    owners = {"film": "Studio A", "trailer": "Studio A", "song": "Label C"}
    whole = _match("song", 0.0, 40.0, 40.0, 40.0)    # the new file is all of the song: a second claim
    quote = _match("film", 5.0, 17.0, 60.0, 60.0)    # 12 s of a 60 s film inside a 60 s file: a quoted stretch
    blip = _match("film", 5.0, 6.0, 60.0, 60.0)      # 1 s: below the review band, no claim on anything
    claims = ownership_claims([quote, blip], owners, "new-work", "Label C", t)
    assert claims.conflict is None and [m for m, _ in claims.overlaps] == [quote]
    claims = ownership_claims([quote, whole], owners, "new-work", "Studio A", t)
    assert claims.conflict is not None and claims.conflict[0] is whole and claims.overlaps == ()
    # the owner's own works, the same work, and works removed meanwhile are no claim
    assert ownership_claims([quote, whole], owners, "film", "Someone", t).conflict[0] is whole  # (not the film)
    assert ownership_claims([whole], owners, "new-work", "Label C", t).conflict is None  # its own song
    assert ownership_claims([quote], owners, "trailer", "Studio A", t) == ownership_claims([], owners, "x", "y", t)
    assert ownership_claims([whole], {"film": "Studio A"}, "new-work", "Someone", t).conflict is None
