"""``python -m benchmarks``: corpus -> every system on the same files -> scores, speed -> report.

Examples::

    python -m benchmarks                      # the small default (a few minutes on 2 cores)
    python -m benchmarks --scale 4            # more and longer works, 4 uploads per transformation
    python -m benchmarks --skip-peers         # prescreen only (peers reported as skipped)
    python -m benchmarks --catalog-hours 100  # the corpus's uploads against 100 h of references
                                              # (real + filler; benchmarks/catalog_scale.py)

Writes ``<out>/<name>.md`` (tables), ``<out>/<name>.json`` (every figure and
every per-upload result) and ``<out>/<name>-*.png`` (plots).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0,
                   help="corpus size: 1 = 4 films + 2 songs, one upload per transformation (default); "
                        "counts grow linearly, durations with the square root")
    p.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    p.add_argument("--name", default=None, help="report name (default: 'default' at scale 1, else 'scale<N>')")
    p.add_argument("--out", type=Path, default=HERE / "results", help="folder for the report (default benchmarks/results)")
    p.add_argument("--workdir", type=Path, default=HERE / "work",
                   help="folder for generated media and scratch data (default benchmarks/work, git-ignored)")
    p.add_argument("--skip-peers", action="store_true", help="run prescreen only; peers are reported as skipped")
    p.add_argument("--skip-speed", action="store_true", help="skip the speed, memory and search-scaling figures")
    p.add_argument("--fresh", action="store_true", help="regenerate the corpus even if a complete one exists")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes generating the corpus (default: up to 2)")
    p.add_argument("--baseline", default=None, metavar="REV",
                   help="git revision whose screening CPU is measured beside this tree's on the same files "
                        "(default: benchmarks.before_after.BASELINE_REV, main before issue 9)")
    p.add_argument("--skip-baseline", action="store_true", help="skip the before/after CPU comparison")
    p.add_argument("--long-minutes", type=float, default=10.0,
                   help="length of the long 1080p upload whose memory and time are measured (default 10; "
                        "120 for the 2-hour film; 0 skips it); generated with ffmpeg, cached in the workdir")
    p.add_argument("--search-sizes", default=None,
                   help="comma-separated catalog sizes in codes (default 1000,10000,100000,1000000; "
                        "scale >= 4 adds 4000000)")
    scale = p.add_argument_group("catalog scale (benchmarks/catalog_scale.py)")
    scale.add_argument("--catalog-hours", type=float, default=None, metavar="H",
                       help="run the catalog-scale benchmark instead: the corpus's references plus filler that "
                            "behaves like real codes up to H hours (100, 1000, 10000); writes catalog-<H>h.json/.md")
    scale.add_argument("--catalog-uploads", type=int, default=8,
                       help="uploads screened against the big catalog, spread over the transformations "
                            "(default 8; 0 = all)")
    scale.add_argument("--catalog-index-kind", choices=("flat", "ivf"), default=None,
                       help="[index] kind the uploads are screened with (default: the configured one); "
                            "anything but flat is compared with flat, the exact oracle; names the report "
                            "catalog-<H>h-<kind>")
    scale.add_argument("--catalog-chunk", type=int, default=200,
                       help="filler references generated and inserted per catalog transaction (default 200)")
    scale.add_argument("--filler-pool-films", type=int, default=12,
                       help="unregistered generated films fingerprinted once for the filler pool (default 12)")
    scale.add_argument("--filler-pool-songs", type=int, default=6,
                       help="unregistered generated songs in the filler pool (default 6)")
    scale.add_argument("--filler-pool-seconds", type=float, default=60.0,
                       help="length of each pool item, seconds (default 60)")
    scale.add_argument("--keep-catalog", action="store_true",
                       help="keep the built catalog in the workdir (catalog-<H>h/) after the run")
    args = p.parse_args(argv)
    if args.catalog_hours is not None and args.catalog_hours <= 0:
        p.error("--catalog-hours must be positive")
    return args


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "not installed"


def _git_version() -> str:
    """prescreen's commit (and whether the tree had uncommitted changes), else its package version."""
    try:
        out = subprocess.run(["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=20)
        if out.returncode == 0 and out.stdout.strip():
            return "git " + out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return _package_version("prescreen")


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _serialise(result) -> dict:
    """A QueryResult as plain JSON-able data."""
    def num(x):
        return round(float(x), 3)

    return {
        "applicable": result.applicable,
        "decision": result.decision,
        "error": result.error,
        "claims": [{"work_id": c.work_id, "score": num(c.score), "match": bool(c.match), "decision": c.decision,
                    "segments": None if c.segments is None else [[num(v) for v in s] for s in c.segments],
                    "detail": c.detail} for c in result.claims],
        "detail": result.detail,
    }


def _codes_searched(signal, fp, engine, cfg, radius: int) -> np.ndarray:
    """The codes of ``signal`` screening searches for this upload: all of them, or for a signal
    searched in stages (chroma: the plain reading and the probe of every altered variant, then
    the variants whose probe hit, ``index.staged_search``) those."""
    from index import staged_search

    index = engine.indexes.signals.get(signal.name)
    plan = signal.search_plan(fp, cfg.fingerprint) if len(fp) else None
    if index is None or plan is None:
        return fp.codes
    searched: list[np.ndarray] = []

    def search(codes, rows):
        searched.append(codes)
        return index.search(codes, radius, fp.starts[rows])

    staged_search(search, fp.codes, plan[0], fp.variants, plan[1], fp.starts)
    return np.concatenate(searched) if searched else fp.codes[:0]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    t_start = time.perf_counter()
    version = _git_version()  # before anything runs: the code measured is the code at the start
    name = args.name or ("default" if args.scale == 1 else f"scale{args.scale:g}")
    sys.path.insert(0, str(HERE.parent))  # run from anywhere: the product packages sit next to benchmarks/
    if args.catalog_hours is not None:
        from .catalog_scale import run

        return run(args, version)

    from . import metrics, report
    from .corpus import build_corpus, transform_docs
    from .systems import ChromaprintSystem, PrescreenSystem, VpdqSystem

    args.workdir.mkdir(parents=True, exist_ok=True)
    corpus = build_corpus(args.workdir, args.scale, args.seed, jobs=args.jobs, fresh=args.fresh)
    uploads = [asdict(u) for u in corpus.uploads]
    ref_durations = {r.work_id: r.duration for r in corpus.references}

    # ------------------------------------------------------------------ systems
    home = args.workdir / f"prescreen-home-{name}"
    candidates = [PrescreenSystem(home)]
    skipped: dict[str, dict] = {}
    peer_specs = [(VpdqSystem, {}), (VpdqSystem, {"dense": True}),
                  (ChromaprintSystem, {"calibration_folder": args.workdir / "chromaprint-calibration"})]
    for cls, kwargs in peer_specs:
        system = cls(**kwargs)
        ok, why = system.available()
        if args.skip_peers:
            ok, why = False, "--skip-peers was given"
        if ok:
            candidates.append(system)
        else:
            skipped[system.name] = {"label": system.label, "reason": why}
            print(f"peer skipped: {system.label}: {why}")

    raw: dict[str, dict[str, dict]] = {}
    timing: dict[str, dict] = {}
    systems_info: dict[str, dict] = {}
    for system in candidates:
        print(f"{system.label}: preparing references ...")
        t0 = time.perf_counter()
        system.prepare(corpus)
        t1 = time.perf_counter()
        raw[system.name] = {}
        for i, up in enumerate(corpus.uploads):
            raw[system.name][up.upload_id] = _serialise(system.query(corpus.path(up.path), up))
        t2 = time.perf_counter()
        timing[system.name] = {"prepare_seconds": round(t1 - t0, 2), "query_seconds": round(t2 - t1, 2),
                               "uploads": len(corpus.uploads)}
        systems_info[system.name] = {"label": system.label, "segments": system.segments}
        print(f"{system.label}: {len(corpus.uploads)} uploads in {t2 - t1:.1f} s")

    # ------------------------------------------------------------------ scores
    scores = {s: metrics.evaluate(uploads, ref_durations, raw[s], systems_info[s]["segments"]) for s in raw}
    if "vpdq_dense" in raw and "chromaprint" in raw:
        raw["peers_combined"] = metrics.combine_results(raw["vpdq_dense"], raw["chromaprint"])
        systems_info["peers_combined"] = {"label": "vPDQ (refs every frame) or Chromaprint", "segments": False}
        scores["peers_combined"] = metrics.evaluate(uploads, ref_durations, raw["peers_combined"], False)
    like_for_like = {}
    for peer in raw:
        if peer == "prescreen":
            continue
        subset = [u for u in uploads if raw[peer].get(u["upload_id"], {}).get("applicable")]
        like_for_like[peer] = metrics.evaluate(subset, ref_durations, raw["prescreen"], True)

    # ------------------------------------------------------------------ sizes
    prescreen = candidates[0]
    ref_seconds = {
        "all": sum(r.duration for r in corpus.references),
        "video": sum(r.duration for r in corpus.references if r.has_video),
        "audio": sum(r.duration for r in corpus.references if r.has_audio),
    }
    sizes = {"reference_seconds": {k: round(v, 1) for k, v in ref_seconds.items()}}
    ib = prescreen.registered_bytes or prescreen.index_bytes()  # the references alone
    after = prescreen.index_bytes()  # and with every upload's decision and audit record
    sizes["prescreen"] = {
        "faiss_bytes": ib["faiss"], "time_table_bytes": ib["time_tables"], "catalog_bytes": ib["catalog"],
        "catalog_bytes_after_uploads": after["catalog"],
        "codes": {s: v.get("codes") for s, v in ib["codes"].items()},
        "index_bytes_per_reference_second": round((ib["faiss"] + ib["time_tables"]) / ref_seconds["all"], 1),
        "faiss_bytes_per_reference_second": round(ib["faiss"] / ref_seconds["all"], 1),
        "catalog_bytes_per_reference_second": round(ib["catalog"] / ref_seconds["all"], 1),
    }
    for system in candidates[1:]:
        b = system.fingerprint_bytes()
        secs = ref_seconds["audio" if system.name == "chromaprint" else "video"]
        sizes[system.name] = {"fingerprint_bytes": b, "bytes_per_reference_second": round(b / secs, 1),
                              "note": "raw hash payload (32-byte PDQ hashes / 4-byte sub-fingerprints), "
                                      "no index structure"}

    # ------------------------------------------------------------------ speed
    speed: dict = {"skipped": "--skip-speed was given"} if args.skip_speed else {}
    if not args.skip_speed:
        from fingerprint import QUERY, REGISTRY, fingerprint_file
        from service import load_config

        from .speed import fingerprint_speed, search_scaling

        files = [{"path": str(corpus.path(r.path)), "seconds": r.duration, "has_video": r.has_video,
                  "has_audio": r.has_audio, "role": "reference"} for r in corpus.references]
        files += [{"path": str(corpus.path(u.path)), "seconds": u.duration, "has_video": u.has_video,
                   "has_audio": u.has_audio, "role": "upload"} for u in corpus.uploads]
        tasks = {"prescreen_query": "prescreen, screening (uploads)",
                 "prescreen_reference": "prescreen, registering (references)"}
        if "vpdq" in raw:
            tasks["vpdq"] = "vPDQ, 1 hash/s"
        if "vpdq_dense" in raw:
            tasks["vpdq_every_frame"] = "vPDQ, every frame (references)"
        if "chromaprint" in raw:
            tasks["fpcalc"] = "Chromaprint fpcalc"
        speed["fingerprint"] = fingerprint_speed(files, tasks)

        cfg = load_config()
        probe = next(u for u in corpus.uploads if u.transform == "long_excerpt")
        q = fingerprint_file(corpus.path(probe.path), QUERY, cfg.fingerprint)
        engine = prescreen.engine
        ref_ids = [r.ref_id for r in engine.catalog.references(probe.work_id)]
        real = {}
        searched = [s.name for s in REGISTRY.searched()]
        for signal in searched:
            parts = [fp.codes for _, fp in engine.catalog.fingerprints(signal, ref_ids)]
            real[signal] = np.concatenate(parts) if parts else np.zeros((0, q.signals[signal].codes.shape[1]),
                                                                         np.uint8)
        if args.search_sizes:
            sizes_list = [int(x) for x in args.search_sizes.split(",")]
        else:
            sizes_list = [1_000, 10_000, 100_000, 1_000_000] + ([4_000_000] if args.scale >= 4 else [])
        peers_q = {}
        if "vpdq" in raw:
            from .systems import vpdq_hash

            peers_q["vpdq"] = vpdq_hash(corpus.path(probe.path)).codes
        if "chromaprint" in raw:
            from .systems import fpcalc

            peers_q["chromaprint"] = fpcalc(corpus.path(probe.path))[0]
        radius = {signal: cfg.match.for_signal(signal).radius for signal in searched}
        query_codes = {s: fp.codes for s, fp in q.signals.items()}
        query_codes.update({s: _codes_searched(REGISTRY[s], q.signals[s], engine, cfg, radius[s]) for s in searched})
        speed["search"] = search_scaling(args.workdir, real, query_codes, sizes_list, radius, peers_q)
        speed["search"]["probe_upload"] = probe.upload_id
        speed["screen_wall_seconds"] = _screen_timings(raw["prescreen"])
        if not args.skip_baseline:
            from .before_after import BASELINE_REV, compare

            speed["before_after"] = compare(corpus, args.workdir, args.baseline or BASELINE_REV)
        if args.long_minutes > 0:
            from .long import long_upload

            try:
                speed["long_upload"] = long_upload(args.workdir, args.long_minutes)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                speed["long_upload"] = {"skipped": str(exc)}

    # ------------------------------------------------------------------ report
    meta = {
        "name": name,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:]),
        "scale": args.scale, "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "versions": {"prescreen": version, "av": _package_version("av"),
                     "faiss-cpu": _package_version("faiss-cpu"), "vpdq": _package_version("vpdq"),
                     "fpcalc": _version(["fpcalc", "-version"]) if shutil.which("fpcalc") else "not installed"},
        "corpus": {"folder": _relative(corpus.folder), "plan": asdict(corpus.plan), **corpus.meta,
                   "references": len(corpus.references), "uploads": len(corpus.uploads)},
        "run_seconds": None,
    }
    for system in candidates:
        if isinstance(system, ChromaprintSystem):
            systems_info[system.name]["calibration"] = system.calibration
    data = {
        "meta": meta,
        "systems": systems_info,
        "skipped": skipped,
        "timing": timing,
        "transforms": transform_docs(corpus.plan),
        "ground_truth": {"references": [asdict(r) for r in corpus.references], "uploads": uploads},
        "scores": scores,
        "like_for_like": like_for_like,
        "sizes": sizes,
        "speed": speed,
        "results": raw,
    }
    for system in candidates:
        system.close()
    shutil.rmtree(home, ignore_errors=True)
    meta["run_seconds"] = round(time.perf_counter() - t_start, 1)
    paths = report.write_report(data, args.out, name)
    print(f"done in {meta['run_seconds']:.0f} s: " + ", ".join(str(p) for p in paths))
    return 0


def _relative(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(HERE.parent))
    except ValueError:
        return str(path)


def _screen_timings(results: dict[str, dict]) -> dict:
    """Mean wall seconds per stage of prescreen's screen_one over the uploads."""
    stages: dict[str, list[float]] = {}
    for res in results.values():
        for k, v in (res.get("detail", {}).get("timings") or {}).items():
            stages.setdefault(k, []).append(v)
    return {k: round(float(np.mean(v)), 4) for k, v in stages.items()}


if __name__ == "__main__":
    sys.exit(main())
