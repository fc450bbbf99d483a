"""Write a schema-4 catalog with the previous release's own code (run by tests/test_storage_contract.py).

    PYTHONPATH=<tree of revision SCHEMA4_REV> python3 tests/schema4_writer.py TARGET

TARGET: an SQLite file's path or a PostgreSQL database URL (an empty database). The contents: two works,
three screenings (one with segments at figures display rounding changes, one sent to review and decided),
a release; audit key ``b"k" * 32`` (the contract tests' KEY). Nothing is committed: the test exports the
tree with ``git archive`` and runs this against it, so the catalog is what that release really wrote.
"""

import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from fingerprint import AUDIO, VIDEO, Fingerprint
from index import Catalog, NewReference
from workflow import Workflow, WorkflowParams

KEY = b"k" * 32
NOW = datetime(2030, 1, 1, 12, tzinfo=timezone.utc)


def fp(signal, n, width, seed):
    rng = np.random.default_rng(seed)
    starts = np.arange(n) * 0.25
    return Fingerprint(signal, rng.integers(0, 256, (n, width), dtype=np.uint8), starts, starts + 0.25,
                       rng.integers(0, 3, n, dtype=np.uint8))


def ref(name, seed):
    return NewReference(f"/media/{name}", f"sha-{name}", f"md5-{name}", 1000 + seed, 12.0, True, True,
                        (fp(VIDEO, 40, 32, seed), fp(AUDIO, 30, 4, seed + 1)))


def doc(matches, decision):
    seg = lambda s: {"ref_id": 1, "modality": "video", "upload_start": 0.333, "upload_end": round(0.333 + s, 3),
                     "ref_start": 0.048, "ref_end": round(0.048 + s, 3), "speed": 1.0, "similarity": 0.9,
                     "mean_distance": 6.4, "hits": 40, "density": 0.8, "changes": 2, "clean_share": 1.0,
                     "altered_share": 0.0, "signal": "video", "stream": "video 0", "rendition": "",
                     "specificity": 1.0, "background": ""}
    return {"upload": "u.mp4", "status": "ok", "error": None, "error_code": None, "decision": decision,
            "rule": "r", "reasons": ["because"], "duration": 20.0, "sha256": "sha-up", "review_id": None,
            "matches": [{"work_id": w, "modality": "video", "method": "fingerprint", "segments": [seg(s)],
                         "matched_seconds": s, "upload_coverage": s / 20.0, "reference_coverage": 0.5,
                         "score": 0.9, "modality_seconds": {"video": s}, "signals": ["video"], "background": ""}
                        for w, (s, _) in matches.items()],
            "works": [{"work_id": w, "outcome": o, "rule": "r", "band": "substantial"} for w, (_, o) in matches.items()],
            "already_screened_at": None, "warnings": [], "streams": [], "timings": {}}


def fill(target):
    catalog = Catalog(target, timeout=5.0)
    workflow = Workflow(catalog, WorkflowParams(), "test-config", lambda create: KEY, clock=lambda: NOW)
    for work, owner, r in (("film", "A", ref("a.mp4", 1)), ("song", "B", ref("s.m4a", 2))):
        with catalog.transaction():
            ids, _ = catalog.add_references(work, work.title(), owner, [r])
            workflow.audit(NOW, "operator", "register", {"ref_ids": ids}, work_id=work)
    for uid, matches, decision in (("up-1", {"film": (12.0, "block"), "song": (3.0, "review")}, "block"),
                                   ("up-2", {"song": (5.0, "review")}, "review"), ("up-3", {}, "allow")):
        result = doc(matches, decision)
        with catalog.transaction():
            pk, uid = catalog.record_upload("/uploads/u.mp4", "sha-up", 10, "ok", None, decision, result,
                                            upload_id=uid, uploader_id="erin", at=NOW.isoformat())
            review = workflow.record_screening(NOW, uid, result)
            if review is not None:
                result["review_id"] = review
                catalog.decisions.set_result(pk, result)
    workflow.decide_review(NOW, workflow.reviews()[0]["review_id"], "rita", "allow", note="fair use")
    workflow.release(NOW, "operator", "up-1", "review", "exclusion", {"reasons": ["seconds excluded"]})
    assert workflow.verify_audit()["problems"] == []
    assert catalog.get_meta("schema_version") == "4"
    catalog.close()


def main(target: str) -> None:
    fill(target if target.startswith("postgresql://") else Path(target))


if __name__ == "__main__":
    main(*sys.argv[1:])
