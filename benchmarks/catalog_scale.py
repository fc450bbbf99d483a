"""``python -m benchmarks --catalog-hours H``: screening against a catalog of H hours.

The catalog holds the corpus's real references (registered as a rights holder would) plus
filler references that behave like real codes (:mod:`benchmarks.filler`: re-edited
fingerprints of unregistered generated media), inserted in bulk through the catalog API
(``Catalog.add_references``, many references per transaction), then the index files are built
(``Prescreen.rebuild_index``). A sample of the corpus's uploads is screened against it in a
separate process (its peak RSS is the screening's), and again with the exact search as the
oracle when the configured search is not exact.

Reported per H (``<out>/catalog-<H>h.json`` and ``.md``): index bytes (files on disk) and
catalog bytes (SQLite file + WAL), per reference second; build time (insert + index); peak RAM
of the build and of the screening process; search + match CPU per minute of upload (CPU seconds
around each ``screen_one``, and the engine's stage timings); work-level recall against the exact
search and against the corpus ground truth; false matches (works claimed that the ground truth
does not name); and the pre-run self-check: nearest-neighbour Hamming distances of upload codes
to filler, to unrelated real references and to uniform random codes, per signal.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

#: Hamming signals compared by nearest-neighbour distance; exact-hash signals by hit rates.
DISTANCE_SIGNALS = ("video", "audio")  # (upload window codes are probes of another width)
EXACT_SIGNALS = ("landmark", "cut")
WINDOW_RADIUS_BITS = 12  # only for the self-check's "within radius" share of 64-bit window codes


def pick_uploads(uploads: list, cap: int) -> list:
    """``cap`` uploads (all if ``cap`` is 0), taken in turn from each kind of upload (copy, quote,
    music under voice, negative) and spread evenly over each kind's transformation rows, so every
    kind is sampled; in corpus order."""
    if cap <= 0 or cap >= len(uploads):
        return list(uploads)
    kinds: dict[str, list[int]] = {}
    for i, u in enumerate(uploads):
        kinds.setdefault(u.kind, []).append(i)
    share = {k: 0 for k in kinds}
    while sum(share.values()) < cap:  # one more for each kind in turn, while it has uploads left
        for k, rows in kinds.items():
            if sum(share.values()) < cap and share[k] < len(rows):
                share[k] += 1
    at = sorted(rows[j] for k, rows in kinds.items()
                for j in np.unique(np.linspace(0, len(rows) - 1, share[k]).round().astype(int)) if share[k])
    return [uploads[i] for i in at]


def _dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def storage_bytes(home: Path) -> dict:
    """Bytes on disk: index files, and the SQLite catalog (main file, WAL, shared memory)."""
    catalog = {p.name: p.stat().st_size for p in Path(home).glob("catalog.sqlite*")}
    return {"index": _dir_bytes(Path(home) / "index"), "catalog": sum(catalog.values()), "catalog_files": catalog}


def _maxrss_bytes() -> int:
    """Peak resident set size of this process, bytes: VmHWM of ``/proc/self/status`` where there is
    one (``getrusage``'s maxrss survives ``execve`` on Linux: a child started by a big parent would
    report the parent's size), else ``resource.getrusage`` (KiB on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --------------------------------------------------------------------------- build


def build_catalog(home: Path, corpus, pool, hours: float, seed: int, chunk: int, progress=print) -> dict:
    """Register the corpus's references, insert filler up to ``hours`` of reference media in total,
    build the index files. Returns timings, counts and a sample of filler codes per signal."""
    from service import Prescreen

    if home.exists():
        shutil.rmtree(home)
    t0 = time.perf_counter()
    engine = Prescreen(home, create=True)
    try:
        for ref in corpus.references:
            engine.register([corpus.path(ref.path)], work_id=ref.work_id, title=ref.title, owner="benchmark")
        t_real = time.perf_counter() - t0
        real_seconds = sum(r.duration for r in corpus.references)
        filler_target = max(0.0, hours * 3600.0 - real_seconds)
        from . import filler as F

        catalog, params = engine.catalog, engine.config.fingerprint
        sample: dict[str, list[np.ndarray]] = {}
        sampled = {}
        n_refs, filler_seconds, codes = 0, 0.0, {}
        t1 = time.perf_counter()
        cpu1 = time.process_time()
        for batch in F.synthesise(pool, filler_target, seed, params, chunk=chunk):
            with catalog.transaction():  # one transaction for the whole batch of references
                for ref in batch:
                    catalog.add_references(f"filler-{n_refs:07d}", "filler", "filler", [ref],
                                           meta={"fingerprint_format": engine.format})
                    n_refs += 1
            for ref in batch:
                filler_seconds += ref.duration
                for fp in ref.fingerprints:
                    codes[fp.signal] = codes.get(fp.signal, 0) + len(fp)
                    if len(fp) and sampled.get(fp.signal, 0) < 200_000:
                        sample.setdefault(fp.signal, []).append(fp.codes)
                        sampled[fp.signal] = sampled.get(fp.signal, 0) + len(fp)
            if progress and n_refs % (chunk * 10) == 0:
                progress(f"filler: {n_refs} references, {filler_seconds / 3600:.1f} h")
        t_insert = time.perf_counter() - t1
        cpu_insert = time.process_time() - cpu1
        t2 = time.perf_counter()
        stats = engine.rebuild_index()
        t_index = time.perf_counter() - t2
    finally:
        engine.close()
    return {
        "real_references": len(corpus.references), "real_seconds": round(real_seconds, 1),
        "filler_references": n_refs, "filler_seconds": round(filler_seconds, 1),
        "reference_seconds": round(real_seconds + filler_seconds, 1),
        "filler_codes": codes,
        "register_real_seconds": round(t_real, 2), "insert_filler_seconds": round(t_insert, 2),
        "insert_filler_cpu_seconds": round(cpu_insert, 2), "index_build_seconds": round(t_index, 2),
        "build_seconds": round(t_insert + t_index, 2),
        "index_signals": stats.get("signals", {}),
        "filler_sample": {s: np.concatenate(v) for s, v in sample.items()},
    }


# --------------------------------------------------------------------------- the self-check


def self_check(home: Path, corpus, uploads, filler_sample: dict, params, cfg, seed: int) -> dict:
    """Upload codes against filler vs unrelated real references vs uniform random, per signal."""
    from fingerprint import QUERY, fingerprint_file
    from index import Catalog

    from .filler import distance_check

    catalog = Catalog(home / "catalog.sqlite")
    try:
        by_ref = {r.ref_id: r.work_id for r in catalog.references() if not r.work_id.startswith("filler-")}
        real = {s: [(by_ref[rid], fp.codes) for rid, fp in catalog.fingerprints(s, list(by_ref))]
                for s in (*DISTANCE_SIGNALS, *EXACT_SIGNALS)}
    finally:
        catalog.close()
    queries: dict[str, list[tuple[str, np.ndarray]]] = {}
    for up in uploads:
        if not up.work_id:
            continue
        ff = fingerprint_file(corpus.path(up.path), QUERY, params)
        for s, fp in ff.signals.items():
            if len(fp):
                queries.setdefault(s, []).append((up.work_id, fp.codes))
    rng = np.random.default_rng(seed)
    out = {}
    for s in DISTANCE_SIGNALS:
        radius = cfg.match.for_signal(s).radius if s != "window" else WINDOW_RADIUS_BITS
        if s in filler_sample and queries.get(s):
            out[s] = {"radius": radius, **distance_check(queries[s], real[s], filler_sample[s], radius, seed)}
    for s in EXACT_SIGNALS:
        if s not in filler_sample or not queries.get(s):
            continue
        rows = {"unrelated_real": [], "filler": [], "uniform_random": []}
        fill = filler_sample[s].view(">u4").ravel()
        for work, codes in queries[s]:
            q = np.unique(codes.view(">u4").ravel())
            others = [c for w, c in real[s] if w != work and len(c)]
            if not others:
                continue
            unrelated = np.concatenate(others).view(">u4").ravel()
            n = min(len(unrelated), len(fill))
            cats = {"unrelated_real": rng.choice(unrelated, n, replace=False),
                    "filler": rng.choice(fill, n, replace=False),
                    "uniform_random": rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32)}
            for k, c in cats.items():
                rows[k].append(float(np.isin(q, c).mean()) / n * 1e6)
        out[s] = {"measure": "share of distinct upload hashes found among the catalog's, per million stored",
                  **{k: round(float(np.mean(v)), 3) if v else None for k, v in rows.items()}}
    return out


# --------------------------------------------------------------------------- screening (own process)


def _screen_main(home: str, list_file: str, out_file: str, kind: str | None) -> int:
    """Child process: screen the listed uploads; write per-upload results, CPU and peak RSS."""
    from service import Prescreen, load_config

    cfg = load_config(None)
    if kind == "exact":  # the oracle: every stored code compared (flat, no two-stage search)
        cfg = replace(cfg, index=replace(cfg.index, kind="flat", two_stage_min_codes=0))
    elif kind:
        cfg = replace(cfg, index=replace(cfg.index, kind=kind))
    todo = json.loads(Path(list_file).read_text())
    t0, c0 = time.perf_counter(), time.process_time()
    engine = Prescreen(home, config=cfg)
    engine.index_stats()  # loads the index files (timed apart from screening)
    load = {"wall_seconds": round(time.perf_counter() - t0, 2), "cpu_seconds": round(time.process_time() - c0, 2),
            "rss_bytes_after_load": _maxrss_bytes()}
    results = {}
    for item in todo:
        c = time.process_time()
        r = engine.screen_one(item["path"])
        cpu = time.process_time() - c
        outcomes = {w.work_id: w.outcome for w in (r.decision.works if r.decision else [])}
        results[item["upload_id"]] = {
            "status": r.status, "error": r.error, "decision": r.decision.outcome if r.decision else None,
            "cpu_seconds": round(cpu, 3), "timings": {k: round(v, 4) for k, v in r.timings.items()},
            "claimed": sorted(m.work_id for m in r.matches if outcomes.get(m.work_id) in ("review", "block")),
            "matched": sorted(m.work_id for m in r.matches),
        }
        print(f"  {item['upload_id']}: {r.status}, {results[item['upload_id']]['decision']}, {cpu:.1f} s CPU",
              flush=True)
    searches = {name: {"search": sig.search_kind, **sig.counts} for name, sig in engine.indexes.signals.items()}
    engine.close()
    two_stage = sorted(name for name, s in searches.items() if s["search"] == "two-stage")
    kind_screened = cfg.index.kind + (f" (two-stage: {', '.join(two_stage)})" if two_stage else "")
    Path(out_file).write_text(json.dumps({"load": load, "results": results, "peak_rss_bytes": _maxrss_bytes(),
                                          "index_kind": kind_screened, "searches": searches}))
    return 0


def screen_in_child(home: Path, items: list[dict], scratch: Path, kind: str | None = None) -> dict:
    scratch.mkdir(parents=True, exist_ok=True)
    list_file, out_file = scratch / "uploads.json", scratch / f"screen-{kind or 'configured'}.json"
    list_file.write_text(json.dumps(items))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "benchmarks.catalog_scale", "screen", str(home), str(list_file), str(out_file)]
    subprocess.run(cmd + ([kind] if kind else []), check=True, env=env, cwd=str(HERE.parent))
    return json.loads(out_file.read_text())


# --------------------------------------------------------------------------- scores


def score(uploads, screened: dict, exact: dict) -> dict:
    """Work-level recall against the ground truth and against the exact search; false matches."""
    truth_pairs = {(u.upload_id, u.work_id) for u in uploads if u.work_id}
    found = {(uid, w) for uid, r in screened.items() for w in r["claimed"]}
    exact_found = {(uid, w) for uid, r in exact.items() for w in r["claimed"]}
    truth_by_upload = {u.upload_id: u.work_id for u in uploads}
    false = sorted((uid, w) for uid, w in found if truth_by_upload.get(uid) != w)
    return {
        "positive_uploads": len(truth_pairs),
        "recall_vs_ground_truth": round(len(found & truth_pairs) / len(truth_pairs), 4) if truth_pairs else None,
        "exact_recall_vs_ground_truth": round(len(exact_found & truth_pairs) / len(truth_pairs), 4)
        if truth_pairs else None,
        "recall_vs_exact": round(len(found & exact_found) / len(exact_found), 4) if exact_found else None,
        "missed_vs_ground_truth": sorted(f"{u}: {w}" for u, w in truth_pairs - found),
        "false_matches": len(false),
        "false_matches_filler": sum(1 for _, w in false if w.startswith("filler-")),
        "false_match_list": [f"{u}: {w}" for u, w in false],
        "errors": sorted(uid for uid, r in screened.items() if r["status"] != "ok"),
    }


def cpu_summary(uploads, screened: dict) -> dict:
    """CPU per minute of upload: all of screening (process time around ``screen_one``), and the
    search + match share of it (each upload's CPU split by its stages' wall-time shares)."""
    minutes = sum(u.duration for u in uploads) / 60.0
    total = sum(r["cpu_seconds"] for r in screened.values())
    stages: dict[str, float] = {}
    search_match_cpu = 0.0
    for r in screened.values():
        t = r["timings"]
        for k, v in t.items():
            stages[k] = stages.get(k, 0.0) + v
        if t.get("total"):
            search_match_cpu += r["cpu_seconds"] * (t.get("search", 0.0) + t.get("match", 0.0)) / t["total"]
    sm = stages.get("search", 0.0) + stages.get("match", 0.0)
    per = (lambda x: round(x / minutes, 3) if minutes else None)
    return {"upload_minutes": round(minutes, 2), "screen_cpu_seconds": round(total, 2),
            "screen_cpu_per_upload_minute": per(total),
            "search_match_cpu_seconds": round(search_match_cpu, 2),
            "search_match_cpu_per_upload_minute": per(search_match_cpu),
            "search_match_cpu_per_10_minute_upload": round(10 * search_match_cpu / minutes, 2) if minutes else None,
            "search_match_wall_seconds": round(sm, 2),
            "search_match_wall_per_upload_minute": per(sm),
            "stage_wall_seconds": {k: round(v, 2) for k, v in sorted(stages.items())}}


# --------------------------------------------------------------------------- the run


def run(args, version: str) -> int:
    """The whole benchmark for ``args.catalog_hours`` (see the module docstring)."""
    from fingerprint import FingerprintParams
    from service import load_config

    from .corpus import build_corpus
    from .filler import build_pool, pool_folder

    hours = float(args.catalog_hours)
    t_start = time.perf_counter()
    label = f"{hours:g}"
    name = f"catalog-{label}h" + (f"-{args.catalog_index_kind}" if args.catalog_index_kind else "")
    args.workdir.mkdir(parents=True, exist_ok=True)
    corpus = build_corpus(args.workdir, args.scale, args.seed, jobs=args.jobs, fresh=args.fresh)
    uploads = pick_uploads(corpus.uploads, args.catalog_uploads)
    cfg = load_config(None)
    params: FingerprintParams = cfg.fingerprint
    t_pool = time.perf_counter()
    pool = build_pool(args.workdir, args.filler_pool_films, args.filler_pool_songs, args.filler_pool_seconds, params)
    pool_seconds = sum(p.duration for p in pool)
    t_pool = time.perf_counter() - t_pool
    home = args.workdir / f"catalog-{label}h"
    print(f"catalog {label} h: registering {len(corpus.references)} references, then filler ...")
    built = build_catalog(home, corpus, pool, hours, args.seed, args.catalog_chunk)
    build_rss = _maxrss_bytes()
    sample = built.pop("filler_sample")
    sizes = storage_bytes(home)
    ref_seconds = built["reference_seconds"]
    print(f"built in {built['build_seconds']:.0f} s; self-check ...")
    check = self_check(home, corpus, uploads, sample, params, cfg, args.seed)
    del sample
    items = [{"upload_id": u.upload_id, "path": str(corpus.path(u.path))} for u in uploads]
    scratch = home / "bench"
    print(f"screening {len(items)} uploads ...")
    screened = screen_in_child(home, items, scratch, args.catalog_index_kind)
    index_as_screened = storage_bytes(home)["index"]  # (a kind other than the built one was built on load)
    print("baseline: the same uploads against the real references only ...")
    base_home = args.workdir / f"catalog-{label}h-baseline"
    build_catalog(base_home, corpus, pool, 0.0, args.seed, args.catalog_chunk, progress=None)
    baseline = screen_in_child(base_home, items, base_home / "bench")
    shutil.rmtree(base_home, ignore_errors=True)
    if screened["index_kind"] == "flat":
        exact = screened
        exact_note = "the configured search is exact ([index] kind = \"flat\", no signal in two stages): it is its own oracle"
    else:
        exact = screen_in_child(home, items, scratch, "exact")
        exact_note = ("the same uploads screened with every stored code compared ([index] kind = \"flat\", "
                      "two_stage_min_codes = 0)")
    data = {
        "meta": {"name": name, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                 "command": "python -m benchmarks " + " ".join(sys.argv[1:]), "version": version,
                 "machine": {"cpus": os.cpu_count()}, "corpus": {"scale": args.scale, "seed": args.seed,
                                                               "references": len(corpus.references),
                                                               "uploads_screened": len(uploads),
                                                               "uploads_in_corpus": len(corpus.uploads)},
                 "run_seconds": None},
        "catalog_hours": hours,
        "pool": {"folder": str(pool_folder(args.workdir, params).name), "films": args.filler_pool_films,
                 "songs": args.filler_pool_songs, "item_seconds": args.filler_pool_seconds,
                 "seconds": round(pool_seconds, 1), "build_or_load_seconds": round(t_pool, 1),
                 "multiplicity": round(built["filler_seconds"] / pool_seconds, 1) if pool_seconds else None},
        "build": built,
        "bytes": {**sizes, "index_as_screened": index_as_screened, "index_kind_screened": screened["index_kind"],
                  "index_per_reference_second": round(sizes["index"] / ref_seconds, 1),
                  "catalog_per_reference_second": round(sizes["catalog"] / ref_seconds, 1)},
        "peak_rss_bytes": {"build_process": build_rss, "screening_process": screened["peak_rss_bytes"],
                           "screening_after_index_load": screened["load"]["rss_bytes_after_load"]},
        "index_load": screened["load"],
        "searches": {"screened": screened.get("searches", {}), "exact": exact.get("searches", {})},
        "cpu": cpu_summary(uploads, screened["results"]),
        "scores": {**score(uploads, screened["results"], exact["results"]), "exact_note": exact_note},
        "baseline_without_filler": {
            **{k: v for k, v in score(uploads, baseline["results"], baseline["results"]).items()
               if k not in ("recall_vs_exact", "exact_recall_vs_ground_truth")},
            "cpu": cpu_summary(uploads, baseline["results"]),
            "peak_rss_bytes": baseline["peak_rss_bytes"]},
        "self_check": check,
        "uploads": [{**asdict(u), **screened["results"].get(u.upload_id, {})} for u in uploads],
    }
    data["meta"]["run_seconds"] = round(time.perf_counter() - t_start, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / name
    Path(f"{stem}.json").write_text(json.dumps(data, indent=1, default=_plain))
    Path(f"{stem}.md").write_text(markdown(data))
    if not args.keep_catalog:
        shutil.rmtree(home, ignore_errors=True)
    print(f"done in {data['meta']['run_seconds']:.0f} s: {stem}.json, {stem}.md")
    return 0


def _plain(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, Path):
        return str(x)
    raise TypeError(type(x))


def _mib(b) -> str:
    return "n/a" if b is None else f"{b / 2 ** 20:,.1f} MiB"


def markdown(d: dict) -> str:
    b, s, c, sc = d["build"], d["scores"], d["cpu"], d["self_check"]
    lines = [f"# Catalog scale: {d['catalog_hours']:g} h", "",
             f"`{d['meta']['command']}` ({d['meta']['version']}, {d['meta']['date']}, "
             f"{d['meta']['machine']['cpus']} CPUs, run {d['meta']['run_seconds']} s)", "",
             f"Catalog: {b['real_references']} real references ({b['real_seconds']} s) + {b['filler_references']} "
             f"filler references ({b['filler_seconds'] / 3600:.1f} h) from a pool of {d['pool']['seconds']:.0f} s of "
             f"unregistered generated media (multiplicity {d['pool']['multiplicity']}x). "
             f"{d['meta']['corpus']['uploads_screened']} of the corpus's {d['meta']['corpus']['uploads_in_corpus']} "
             "uploads screened.", "",
             "| figure | value |", "| --- | ---: |",
             f"| reference seconds | {b['reference_seconds']:,.0f} |",
             f"| index kind screened | {d['bytes'].get('index_kind_screened', 'flat')} |",
             f"| index bytes (files on disk, as built) | {_mib(d['bytes']['index'])} "
             f"({d['bytes']['index_per_reference_second']} B/s) |",
             f"| index bytes as screened | {_mib(d['bytes'].get('index_as_screened'))} |",
             f"| catalog bytes (SQLite + WAL) | {_mib(d['bytes']['catalog'])} "
             f"({d['bytes']['catalog_per_reference_second']} B/s) |",
             f"| build: filler insert | {b['insert_filler_seconds']} s |",
             f"| build: index | {b['index_build_seconds']} s |",
             f"| build total (insert + index) | {b['build_seconds']} s |",
             f"| peak RSS, build process | {_mib(d['peak_rss_bytes']['build_process'])} |",
             f"| peak RSS, screening process | {_mib(d['peak_rss_bytes']['screening_process'])} "
             f"(after index load: {_mib(d['peak_rss_bytes']['screening_after_index_load'])}) |",
             f"| index load in the screening process | {d['index_load']['wall_seconds']} s |",
             f"| screening CPU per minute of upload | {c['screen_cpu_per_upload_minute']} s |",
             f"| search + match CPU per minute of upload (stage share of it) | "
             f"{c['search_match_cpu_per_upload_minute']} s ({c['search_match_cpu_per_10_minute_upload']} s per "
             "10-minute upload; target at 10^4 h: 1 s) |",
             f"| search + match wall per minute of upload | {c['search_match_wall_per_upload_minute']} s |",
             f"| work recall vs ground truth | {s['recall_vs_ground_truth']} |",
             f"| work recall vs exact search | {s['recall_vs_exact']} |",
             f"| false matches (of which filler works) | {s['false_matches']} ({s['false_matches_filler']}) |",
             "", f"Exact oracle: {s['exact_note']}.", ""]
    searched = d.get("searches", {}).get("screened", {})
    if searched:
        exact_counts = d["searches"].get("exact", {})
        lines += ["Searches per signal over the screened uploads (the exact oracle's compared codes beside):", "",
                  "| signal | search | searches | query codes | candidate references (searches at the cap) | "
                  "sub-key postings read | stored codes compared | the same in the exact search |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, counts in searched.items():
            if counts.get("search") == "hash":
                continue
            other = exact_counts.get(name, {}).get("codes_compared")
            lines.append(f"| {name} | {counts['search']} | {counts['searches']:,} | {counts['query_codes']:,} | "
                         f"{counts['candidate_refs']:,} ({counts.get('at_cap', 'n/a')}) | {counts['postings']:,} | "
                         f"{counts['codes_compared']:,} | "
                         f"{'' if other is None else f'{other:,}'} |")
        lines.append("")
    base = d.get("baseline_without_filler")
    if base:
        lines += [f"Baseline, the same uploads against the {b['real_references']} real references only: recall vs "
                  f"ground truth {base['recall_vs_ground_truth']}, false matches {base['false_matches']}"
                  + (f" ({', '.join(base['false_match_list'])})" if base["false_match_list"] else "")
                  + f", screening CPU {base['cpu']['screen_cpu_per_upload_minute']} s and search + match CPU "
                  f"{base['cpu']['search_match_cpu_per_upload_minute']} s per minute of upload, peak RSS "
                  f"{_mib(base['peak_rss_bytes'])}.", ""]
    if s["missed_vs_ground_truth"]:
        lines += ["Missed (upload: work): " + ", ".join(s["missed_vs_ground_truth"]), ""]
    if s["false_match_list"]:
        lines += ["False matches (upload: work): " + ", ".join(s["false_match_list"]), ""]
    lines += ["Stage wall seconds over all screened uploads: "
              + ", ".join(f"{k} {v}" for k, v in c["stage_wall_seconds"].items()), "",
              "## Self-check: upload codes against filler, unrelated real references and uniform random", "",
              "Nearest-neighbour Hamming distance (bits) of the positive uploads' codes in catalogs of equal size; "
              "'within' = share of upload codes whose nearest code is under the radius. Filler should look like "
              "unrelated real codes, not like uniform random.", "",
              "| signal | radius | unrelated real p5 / p50 / p95, within | filler | uniform random |",
              "| --- | ---: | --- | --- | --- |"]
    for sig in DISTANCE_SIGNALS:
        if sig not in sc:
            continue
        row = sc[sig]
        cells = [f"{row[k]['p5']:.0f} / {row[k]['p50']:.0f} / {row[k]['p95']:.0f}, {row[k]['within_radius']:.3f}"
                 if row[k].get("n") else "n/a" for k in ("unrelated_real", "filler", "uniform_random")]
        lines.append(f"| {sig} | {row['radius']} | " + " | ".join(cells) + " |")
    lines += ["", "Exact-hash signals: share of the upload's distinct hashes present in the catalog, per million "
              "stored hashes.", "", "| signal | unrelated real | filler | uniform random |", "| --- | ---: | ---: | ---: |"]
    for sig in EXACT_SIGNALS:
        if sig in sc:
            lines.append(f"| {sig} | {sc[sig]['unrelated_real']} | {sc[sig]['filler']} | {sc[sig]['uniform_random']} |")
    lines += ["", "## Uploads", "", "| upload | work | expected | decision | claimed | CPU s |",
              "| --- | --- | --- | --- | --- | ---: |"]
    for u in d["uploads"]:
        lines.append(f"| {u['upload_id']} | {u['work_id'] or '-'} | {u['expected']} | {u.get('decision')} | "
                     f"{', '.join(u.get('claimed') or []) or '-'} | {u.get('cpu_seconds')} |")
    return "\n".join(lines) + "\n"


def render(json_path: Path) -> None:
    """Recompute the derived CPU figures of a stored ``catalog-<H>h.json`` and rewrite it and its ``.md``."""
    from types import SimpleNamespace

    data = json.loads(Path(json_path).read_text())
    ups = [SimpleNamespace(**u) for u in data["uploads"]]
    data["cpu"] = cpu_summary(ups, {u["upload_id"]: u for u in data["uploads"] if "cpu_seconds" in u})
    Path(json_path).write_text(json.dumps(data, indent=1))
    Path(json_path).with_name(Path(json_path).name[:-len(".json")] + ".md").write_text(markdown(data))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "render":
        sys.exit(render(Path(sys.argv[2])))
    if len(sys.argv) >= 5 and sys.argv[1] == "screen":
        sys.exit(_screen_main(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None))
    sys.exit("usage: python -m benchmarks --catalog-hours H (this module's own entries: its screening child, "
             "and `render <catalog-<H>h.json>`)")
