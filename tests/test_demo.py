"""The README's first command: the demo runs the main job and every upload gets its expected outcome."""

import json

from typer.testing import CliRunner

from cli import app


def test_demo_gets_every_expected_outcome(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--home", str(tmp_path / "data"), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(rows) == 7
    for row in rows:
        got = row["decision"] or row["status"]
        assert got == row["expected"], (row["upload"], got, row["reasons"], row["error"])
    # a second run reuses media and catalog
    again = CliRunner().invoke(app, ["demo", "--home", str(tmp_path / "data")])
    assert again.exit_code == 0 and "7 of 7 uploads got the expected outcome" in again.output
    assert "generating" not in again.output  # nothing left to generate


def _bit_rate(path, kind):
    import av

    with av.open(str(path)) as container:
        return next(s for s in container.streams if s.type == kind).bit_rate


def test_demo_low_bitrate_reupload_is_low_bitrate_and_blocked(tmp_path):
    """The demo's 'low bitrate re-upload' is well below its reference, in picture and sound, and still blocked."""
    from service import Prescreen
    from service.demo import WORKS, _make_media

    media = tmp_path / "media"
    expected = _make_media(media, say=lambda m: None)
    reference = media / "references" / "aurora.mp4"
    upload = media / "uploads" / "aurora_reupload_lowbitrate.mp4"
    for kind in ("video", "audio"):
        assert _bit_rate(upload, kind) < 0.5 * _bit_rate(reference, kind), kind
    with Prescreen(tmp_path / "home", create=True) as engine:
        work_id, title, owner, name = WORKS[0]
        engine.register([reference], work_id, title, owner)
        result = engine.screen_one(str(upload))
    assert expected[upload.name] == "block" == result.decision.outcome
    assert result.matches[0].work_id == "aurora" and result.matches[0].modality == "both"
