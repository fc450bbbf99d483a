"""Speed, memory and size figures.

Every measurement of a system runs in a fresh child process (``spawn``), so
its peak resident memory (``ru_maxrss``) is its own; the memory a child holds
right after its imports is reported beside the peak. CPU time is
``time.process_time()`` (all threads of the process) for in-process work and
the child's ``rusage`` (user + system) for fpcalc. Nothing here asserts a
time: the figures are reported, never checked.

- :func:`fingerprint_speed`: seconds of media fingerprinted per CPU second,
  and the ratio to plain decoding of the same files
  (``fingerprint.decode.decode_only``: PyAV decodes every frame and sample,
  no fingerprinting, with the same decoder threading as prescreen's decode;
  the cost floor). Ratio 1 means "as fast as decoding";
  fpcalc decodes the audio stream only, so it can beat that floor. For
  prescreen also the CPU per stage and the cold-start CPU (imports plus the
  first file) are recorded in the JSON.
- :func:`search_scaling`: prescreen's FAISS range search per upload as the
  catalog grows (``index.build_index`` + ``index.range_search``; the real
  codes of the matching reference plus uniformly random codes to the size),
  exact (flat) and IVF, with the IVF's recall of the exact hits; and the
  peers' matching as run here (brute force over all reference hashes or
  fingerprints, as vPDQ's reference matcher and our Chromaprint alignment do)
  on synthetic catalogs of the same sizes.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np


def _status_mib(field: str, pid: int | str = "self") -> float | None:
    """A memory field of /proc/<pid>/status (VmHWM: peak resident, VmRSS: resident), MiB."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _rss_mib() -> float:
    """Peak resident memory of this process since it started, MiB.

    VmHWM belongs to the process's own address space, so it starts afresh at
    exec; ``ru_maxrss`` would not do here: Linux carries it over from the
    parent across fork and exec, so every child would report the parent's peak.
    """
    peak = _status_mib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- children


def _child_fingerprint(task: str, paths: list[str]) -> dict:
    """Run one system's fingerprinting over ``paths``; per-file CPU seconds and memory.

    The first file is processed once before measuring (imports, caches, lazy
    initialisation), then every file is measured. ``cold_cpu_seconds`` is the
    CPU of the system's imports plus that first run, what a one-file CLI call
    pays beyond the warm per-file figure. For prescreen, the measured runs also
    add up the CPU seconds of each stage of ``fingerprint_file`` (``stage_cpu_seconds``).
    """
    cold0 = time.process_time()
    per_stage: dict[str, float] | None = None
    if task == "decode":
        from fingerprint.decode import decode_only

        def run(p):
            decode_only(p)
    elif task in ("prescreen_query", "prescreen_reference"):
        from fingerprint import QUERY, REFERENCE, fingerprint_file
        from service import load_config

        params = load_config().fingerprint
        role = QUERY if task == "prescreen_query" else REFERENCE
        per_stage = {}

        def run(p):
            for name, sec in fingerprint_file(p, role, params, clock=time.process_time).timings.items():
                per_stage[name] = per_stage.get(name, 0.0) + sec
    elif task in ("vpdq", "vpdq_every_frame"):
        import vpdq

        sph = 1.0 if task == "vpdq" else 0.0

        def run(p):
            vpdq.computeHash(p, seconds_per_hash=sph)
    elif task == "fpcalc":
        return _child_fpcalc(paths)
    else:
        raise ValueError(task)
    baseline = _rss_mib()
    if paths:
        run(paths[0])  # warm-up, not measured
        if per_stage is not None:
            per_stage.clear()
    cold = time.process_time() - cold0
    cpu = []
    for p in paths:
        c0 = time.process_time()
        run(p)
        cpu.append(time.process_time() - c0)
    out = {"cpu": cpu, "baseline_rss_mib": round(baseline, 1), "peak_rss_mib": round(_rss_mib(), 1),
           "cold_cpu_seconds": round(cold, 3)}
    if per_stage is not None:
        out["stage_cpu_seconds"] = {k: round(v, 3) for k, v in per_stage.items()}
    return out


def _child_fpcalc(paths: list[str]) -> dict:
    """CPU of each fpcalc run from its rusage; its peak memory by polling its VmHWM (the
    rusage figure would include the forking Python process, see :func:`_rss_mib`)."""
    cpu, peak = [], 0.0
    for p in paths:
        proc = subprocess.Popen(["fpcalc", "-raw", "-length", "0", p], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        while True:
            pid, _, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            hwm = _status_mib("VmHWM", proc.pid)
            if hwm is not None:
                peak = max(peak, hwm)
            time.sleep(0.001)
        proc.returncode = 0
        cpu.append(usage.ru_utime + usage.ru_stime)
    return {"cpu": cpu, "baseline_rss_mib": 0.0, "peak_rss_mib": round(peak, 1)}


def _in_child(fn, *args):
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# --------------------------------------------------------------------------- fingerprinting


def fingerprint_speed(files: list[dict], tasks: dict[str, str], say=print) -> dict:
    """Throughput of each task over the files it applies to, and its ratio to decoding.

    ``files``: dicts with ``path``, ``seconds`` (media duration), ``has_video``,
    ``has_audio``, ``role`` ("reference" or "upload"). ``tasks``: task name ->
    label, among ``prescreen_query`` (uploads), ``prescreen_reference``
    (references), ``vpdq`` and ``vpdq_every_frame`` (files with video; the
    latter references only), ``fpcalc`` (files with audio).
    """
    select = {
        "prescreen_query": lambda f: f["role"] == "upload",
        "prescreen_reference": lambda f: f["role"] == "reference",
        "vpdq": lambda f: f["has_video"],
        "vpdq_every_frame": lambda f: f["has_video"] and f["role"] == "reference",
        "fpcalc": lambda f: f["has_audio"],
    }
    say("speed: decoding every file (the cost floor) ...")
    paths = [f["path"] for f in files]
    decode = _in_child(_child_fingerprint, "decode", paths)
    decode_cpu = dict(zip(paths, decode["cpu"]))
    out = {"decode": {"label": "PyAV decode only (floor)", "files": len(paths),
                      "media_seconds": round(sum(f["seconds"] for f in files), 1),
                      "cpu_seconds": round(sum(decode["cpu"]), 3),
                      "baseline_rss_mib": decode["baseline_rss_mib"], "peak_rss_mib": decode["peak_rss_mib"]}}
    out["decode"]["media_s_per_cpu_s"] = round(out["decode"]["media_seconds"] / max(1e-9, sum(decode["cpu"])), 1)
    for task, label in tasks.items():
        chosen = [f for f in files if select[task](f)]
        if not chosen:
            continue
        say(f"speed: {label} on {len(chosen)} files ...")
        res = _in_child(_child_fingerprint, task, [f["path"] for f in chosen])
        seconds = sum(f["seconds"] for f in chosen)
        cpu = sum(res["cpu"])
        floor = sum(decode_cpu[f["path"]] for f in chosen)
        out[task] = {
            "label": label, "files": len(chosen), "media_seconds": round(seconds, 1),
            "cpu_seconds": round(cpu, 3),
            "media_s_per_cpu_s": round(seconds / max(cpu, 1e-9), 1),
            "decode_cpu_seconds": round(floor, 3),
            "decode_media_s_per_cpu_s": round(seconds / max(floor, 1e-9), 1),
            "ratio_to_decode": round(floor / max(cpu, 1e-9), 3),
            "baseline_rss_mib": res["baseline_rss_mib"], "peak_rss_mib": res["peak_rss_mib"],
            "cold_cpu_seconds": res.get("cold_cpu_seconds"),
        }
        if "stage_cpu_seconds" in res:
            out[task]["stage_cpu_seconds"] = res["stage_cpu_seconds"]
            by_stage = ", ".join(f"{k} {v:.2f}" for k, v in res["stage_cpu_seconds"].items())
            say(f"speed: {label}: CPU s by stage {by_stage} (imports + first file {res['cold_cpu_seconds']:.2f})")
    return out


# --------------------------------------------------------------------------- search scaling


def _timed(fn, repeats: int) -> tuple[float, float, object]:
    """Best (lowest) wall and CPU seconds of ``repeats`` runs: the least disturbed by
    whatever else the machine is doing."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), result


def _child_prescreen_search(data_path: str, sizes: list[int], kinds: list[str], radius: dict,
                            repeats: int, seed: int) -> dict:
    from fingerprint import REGISTRY
    from index import IndexParams, build_index, range_search

    data = np.load(data_path)
    rng = np.random.default_rng(seed)
    rows = []
    baseline = _rss_mib()
    for signal in [s.name for s in REGISTRY.searched()]:
        if f"{signal}_ref" not in data:
            continue
        real, query = data[f"{signal}_ref"], data[f"{signal}_query"]
        if len(query) == 0 or len(real) == 0:
            continue
        width = real.shape[1]
        biggest = max(sizes)
        filler = rng.integers(0, 256, (biggest, width), dtype=np.uint8)
        exact = REGISTRY.is_exact(signal)  # landmarks: one posting table, whatever the kind
        for n in sizes:
            k = min(len(real), n)
            codes = np.concatenate([real[:k], filler[: n - k]])
            ids = np.arange(n, dtype=np.int64)
            exact_true = None
            for kind in (["hash"] if exact else kinds):
                b0 = time.perf_counter()
                index = build_index(width, ids, codes, IndexParams(kind=kind), exact=exact)
                build = time.perf_counter() - b0
                wall, cpu, hits = _timed(lambda index=index: range_search(index, query, radius[signal]), repeats)
                true_hits = set(zip(hits.query[hits.ids < k].tolist(), hits.ids[hits.ids < k].tolist()))
                row = {"signal": signal, "kind": kind, "index_type": type(index).__name__, "codes": n,
                       "query_codes": len(query), "build_seconds": round(build, 3),
                       "search_seconds": round(wall, 5), "search_cpu_seconds": round(cpu, 5),
                       "hits": int(len(hits.ids)), "hits_real": len(true_hits),
                       "index_mib": round(n * width / 2**20, 1)}
                if kind in ("flat", "hash"):
                    exact_true = true_hits
                elif exact_true is not None:
                    row["recall_vs_flat"] = round(len(true_hits & exact_true) / max(1, len(exact_true)), 4)
                rows.append(row)
    return {"rows": rows, "baseline_rss_mib": round(baseline, 1), "peak_rss_mib": round(_rss_mib(), 1)}


def _child_peer_search(sizes: list[int], vpdq_query: np.ndarray, cp_query: np.ndarray, repeats: int,
                       seed: int, budget_seconds: float) -> dict:
    from .systems import VPDQ_DISTANCE_MAX, chromaprint_segments

    rng = np.random.default_rng(seed)
    rows = []
    baseline = _rss_mib()
    if len(vpdq_query):
        stop = False
        for n in sizes:
            if stop:
                rows.append({"system": "vpdq", "codes": n, "skipped": f"over the {budget_seconds:.0f} s budget"})
                continue
            refs = rng.integers(0, 256, (n, 32), dtype=np.uint8)

            def run():
                matched = np.zeros(len(vpdq_query), bool)
                for start in range(0, n, 65536):  # chunks keep the distance matrix small
                    d = np.bitwise_count(vpdq_query[:, None, :] ^ refs[None, start:start + 65536, :]).sum(
                        axis=2, dtype=np.int32)
                    matched |= (d <= VPDQ_DISTANCE_MAX).any(axis=1)
                return matched

            wall, cpu, _ = _timed(run, repeats)
            rows.append({"system": "vpdq", "codes": n, "query_codes": len(vpdq_query),
                         "search_seconds": round(wall, 5), "search_cpu_seconds": round(cpu, 5)})
            stop = wall * 10 > budget_seconds
            del refs
    if len(cp_query):
        stop = False
        per_ref = 300  # items of a ~37 s reference
        for n in sizes:
            if stop:
                rows.append({"system": "chromaprint", "codes": n,
                             "skipped": f"over the {budget_seconds:.0f} s budget"})
                continue
            items = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
            refs = [items[i:i + per_ref] for i in range(0, n, per_ref)]

            def run():
                return [chromaprint_segments(cp_query, r, 0.2) for r in refs]

            wall, cpu, _ = _timed(run, max(1, repeats // 2))
            rows.append({"system": "chromaprint", "codes": n, "query_codes": len(cp_query),
                         "search_seconds": round(wall, 5), "search_cpu_seconds": round(cpu, 5)})
            stop = wall * 10 > budget_seconds
            del items, refs
    return {"rows": rows, "baseline_rss_mib": round(baseline, 1), "peak_rss_mib": round(_rss_mib(), 1)}


def search_scaling(workdir: Path, ref_codes: dict[str, np.ndarray], query_codes: dict[str, np.ndarray],
                   sizes: list[int], radius: dict[str, int], peers: dict[str, np.ndarray] | None = None,
                   repeats: int = 5, seed: int = 7, budget_seconds: float = 60.0, say=print) -> dict:
    """Search time per upload against catalogs of ``sizes`` codes (see the module doc)."""
    workdir.mkdir(parents=True, exist_ok=True)
    data_path = workdir / "search-codes.npz"
    np.savez(data_path, **{f"{s}_ref": c for s, c in ref_codes.items()},
             **{f"{s}_query": c for s, c in query_codes.items()})
    say(f"speed: prescreen range search at {', '.join(f'{n:,}' for n in sizes)} codes (flat, IVF, hash) ...")
    pre = _in_child(_child_prescreen_search, str(data_path), sizes, ["flat", "ivf"], radius, repeats, seed)
    out = {"prescreen": pre}
    peers = peers or {}
    if peers:
        say("speed: peers' matching on synthetic catalogs of the same sizes ...")
        out["peers"] = _in_child(_child_peer_search, sizes, peers.get("vpdq", np.zeros((0, 32), np.uint8)),
                                 peers.get("chromaprint", np.zeros(0, np.uint32)), repeats, seed, budget_seconds)
    data_path.unlink(missing_ok=True)
    return out
