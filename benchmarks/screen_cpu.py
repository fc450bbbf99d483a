"""Screening CPU of one prescreen source tree over the corpus: a standalone child script.

Run as ``python benchmarks/screen_cpu.py CORPUS_JSON OUT_JSON`` with ``PYTHONPATH``
(and the working directory) set to the source tree to measure: it imports that
tree's ``service.Prescreen``, registers the corpus references in a fresh data
folder, screens every upload once to warm up the caches of the process (imports,
lazy initialisation, the index load), then screens every upload again and
records the CPU seconds (``time.process_time``: every thread of the process) of
each ``screen_one`` call. Only APIs present since the first benchmarked
release are used, so the same script measures the code before and after a
change on the same files in the same run (see ``before_after.py``).

CORPUS_JSON: {"references": [{"work_id", "path"}], "uploads": [{"upload_id", "path", "seconds"}]}
OUT_JSON: {"uploads": {upload_id: cpu seconds}, "failed": {upload_id: why}, "register_cpu_seconds",
"stage_wall_seconds"}. An upload the tree raises on (an older tree may) is left out of both passes.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time


def main(corpus_json: str, out_json: str) -> None:
    import inspect

    from service import Prescreen  # the tree on PYTHONPATH

    data = json.loads(open(corpus_json).read())
    out: dict = {"uploads": {}, "stage_wall_seconds": {}}
    # trees before issue 10 create the data folder without being asked (and know no `create`)
    create = {"create": True} if "create" in inspect.signature(Prescreen).parameters else {}
    with tempfile.TemporaryDirectory(prefix="prescreen-cpu-") as home:
        with Prescreen(home, **create) as engine:
            c0 = time.process_time()
            for ref in data["references"]:
                engine.register([ref["path"]], work_id=ref["work_id"], owner="benchmark")
            out["register_cpu_seconds"] = round(time.process_time() - c0, 3)
            failed: dict[str, str] = {}
            for up in data["uploads"]:  # warm-up pass: caches, lazy imports, the index load
                try:
                    engine.screen_one(up["path"])
                except Exception as exc:  # noqa: BLE001 - an older tree may raise where a newer one reports
                    failed[up["upload_id"]] = f"{type(exc).__name__}: {exc}"
            stages: dict[str, float] = {}
            for up in data["uploads"]:
                if up["upload_id"] in failed:
                    continue
                c0 = time.process_time()
                result = engine.screen_one(up["path"])
                out["uploads"][up["upload_id"]] = round(time.process_time() - c0, 4)
                for stage, seconds in (result.timings or {}).items():
                    stages[stage] = stages.get(stage, 0.0) + seconds
            out["failed"] = failed
            out["stage_wall_seconds"] = {k: round(v, 3) for k, v in stages.items()}
    with open(out_json, "w") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
