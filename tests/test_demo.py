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
