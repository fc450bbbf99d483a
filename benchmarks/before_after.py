"""Screening CPU before and after a change, on the same files in the same run.

The code "before" is a git revision of this repository (``BASELINE_REV`` by
default: the last commit before the hostile-upload work of issue 9, whose
budget is "at most 25 % more CPU per screened media second"). Its source tree
is exported with ``git archive`` into the work folder, and each tree screens
the whole corpus in a child process of its own (``screen_cpu.py`` with that
tree on ``PYTHONPATH``), one after the other, so both see the same machine.
CPU is ``time.process_time`` of each ``screen_one`` call after a warm-up pass
(search and alignment included: everything an upload costs), summed over the
uploads both trees screened and divided by their media seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
#: The revision the "before" figures come from: main before issue 9 (hostile uploads) began.
BASELINE_REV = "1b3aaaf"


def export_tree(rev: str, workdir: Path) -> Path:
    """The source tree of ``rev`` under ``workdir`` (exported once, then reused)."""
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=10", rev], capture_output=True, text=True,
                         check=True).stdout.strip()
    target = workdir / f"tree-{sha}"
    if (target / ".complete").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as archive:
        subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", sha], stdout=archive, check=True)
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(target, filter="data")
    (target / ".complete").write_text(sha)
    return target


def _screen_cpu(tree: Path, corpus_json: Path, out_json: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    subprocess.run([sys.executable, str(HERE / "screen_cpu.py"), str(corpus_json), str(out_json)], cwd=tree,
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out_json.read_text())


def compare(corpus, workdir: Path, rev: str = BASELINE_REV, groups_left_out: tuple[str, ...] = (),
            rounds: int = 2, say=print) -> dict:
    """CPU per screened media second of ``rev`` and of this tree over the uploads of ``corpus``.

    groups_left_out: upload groups not measured (files built to stall older code).
    rounds: each tree screens the corpus this many times, the trees taking turns
        (before, after, before, after, ...); each upload counts with its lowest CPU,
        the run least disturbed by whatever else the machine was doing.
    Returns {"before": {...}, "after": {...}, "ratio": after / before, "by_group": {...}}, or
    {"skipped": reason} when the revision cannot be exported (not a git checkout).
    """
    try:
        old_tree = export_tree(rev, workdir)
    except (OSError, subprocess.CalledProcessError) as exc:
        return {"skipped": f"cannot export revision {rev}: {exc}"}
    spec = {"references": [{"work_id": r.work_id, "path": str(corpus.path(r.path))} for r in corpus.references],
            "uploads": [{"upload_id": u.upload_id, "path": str(corpus.path(u.path)), "seconds": u.duration,
                         "group": u.group} for u in corpus.uploads if u.group not in groups_left_out]}
    corpus_json = workdir / "before-after-corpus.json"
    corpus_json.write_text(json.dumps(spec))
    runs: dict[str, dict] = {}
    for turn in range(rounds):
        for label, tree in (("before", old_tree), ("after", REPO)):
            say(f"before/after: round {turn + 1}/{rounds}, screening the corpus with the {label} tree "
                f"({tree.name}) ...")
            run = _screen_cpu(tree, corpus_json, workdir / f"before-after-{label}.json")
            if label in runs:  # keep each upload's least disturbed run
                best = runs[label]["uploads"]
                run["uploads"] = {k: min(v, best.get(k, v)) for k, v in run["uploads"].items()}
            runs[label] = run
    # only uploads both trees screened count (an older tree may raise on a file the newer reports)
    common = [u for u in spec["uploads"] if all(u["upload_id"] in run["uploads"] for run in runs.values())]
    seconds = sum(u["seconds"] for u in common)
    out: dict = {"revision": rev, "tree": old_tree.name, "media_seconds": round(seconds, 1), "uploads": len(common),
                 "left_out": {label: run.get("failed", {}) for label, run in runs.items()},
                 "groups_left_out": list(groups_left_out)}
    for label, run in runs.items():
        cpu = sum(run["uploads"][u["upload_id"]] for u in common)
        out[label] = {"cpu_seconds": round(cpu, 3), "cpu_ms_per_media_second": round(1000 * cpu / seconds, 3),
                      "register_cpu_seconds": run["register_cpu_seconds"],
                      "stage_wall_seconds": run["stage_wall_seconds"]}
    out["ratio"] = round(out["after"]["cpu_seconds"] / max(out["before"]["cpu_seconds"], 1e-9), 3)
    groups: dict[str, dict] = {}
    for u in common:
        g = groups.setdefault(u["group"], {"media_seconds": 0.0, "before": 0.0, "after": 0.0})
        g["media_seconds"] += u["seconds"]
        for label in ("before", "after"):
            g[label] += runs[label]["uploads"][u["upload_id"]]
    out["by_group"] = {k: {"media_seconds": round(v["media_seconds"], 1),
                           "before_ms_per_media_second": round(1000 * v["before"] / v["media_seconds"], 3),
                           "after_ms_per_media_second": round(1000 * v["after"] / v["media_seconds"], 3)}
                       for k, v in groups.items()}
    say(f"before/after: {out['before']['cpu_ms_per_media_second']:.2f} -> "
        f"{out['after']['cpu_ms_per_media_second']:.2f} CPU ms per media second (x{out['ratio']:.2f})")
    return out
