"""Batch screening on every core: media seconds screened per wall second at 1 and 2 jobs.

``python -m benchmarks.jobs [--uploads N] [--seconds S] [--rounds R] [--repeat K] [--workdir DIR]`` generates a batch
with :mod:`mediagen` (three registered films; uploads that are edited copies of them, quotes inside
other content and unrelated content, each about S seconds, each named K times in a manifest under distinct
upload ids), registers the films once, and screens the same batch with ``App.screen(..., jobs=J)`` — what ``prescreen screen --jobs J`` runs — into a fresh
copy of the registered data folder for each run, alternating J = 1 and 2 for R rounds. The wall time
is the whole batch: starting the worker processes, the index load in each, every record written.
It checks that both give the same decisions, and writes ``benchmarks/results/jobs.md`` (and .json).

The machine's load is recorded before each run: on a shared machine other processes take cores from
the batch, and the speed-up measured is then below what 2 idle cores give.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def make_batch(folder: Path, uploads: int, seconds: float) -> tuple[list[Path], Path]:
    """(reference files, uploads folder), generated once per (uploads, seconds)."""
    import mediagen as mg
    from mediagen import transforms as tf

    refs_dir, up_dir = folder / "references", folder / "uploads"
    done = folder / "complete"
    refs = [refs_dir / f"film{i}.mp4" for i in range(3)]
    if done.exists():
        return refs, up_dir
    shutil.rmtree(folder, ignore_errors=True)
    refs_dir.mkdir(parents=True)
    up_dir.mkdir()
    films = [mg.synth_work(seed=9100 + i, duration=seconds + 10) for i in range(3)]
    for film, path in zip(films, refs):
        mg.write_media(film, path)
    edits = [lambda m: m, tf.hflip, lambda m: tf.crop(m, 0.1), lambda m: tf.add_noise(m, 8.0),
             lambda m: tf.color_shift(m, brightness=0.1, contrast=1.1)]
    for i in range(uploads):
        kind = i % 4
        if kind == 3:  # unrelated content
            media = mg.synth_work(seed=9500 + i, duration=seconds)
        elif kind == 2:  # a quote inside other content
            film = films[i % 3]
            media = tf.embed(tf.excerpt(film, 3, 11), mg.synth_work(seed=9700 + i, duration=seconds), at=seconds / 3)
        else:  # an edited copy
            film = films[i % 3]
            media = edits[i % len(edits)](tf.excerpt(film, 2, 2 + seconds))
        mg.write_media(media, up_dir / f"up{i:03d}.mp4")
    done.write_text("")
    return refs, up_dir


def write_manifest(up_dir: Path, repeat: int, path: Path) -> Path:
    """A manifest naming every upload ``repeat`` times under distinct upload ids (each row is screened in
    full: a longer batch from the same files, so the workers' fixed start weighs what it does in practice)."""
    files = sorted(up_dir.iterdir())
    path.write_text("path,upload_id,uploader_id\n" + "".join(
        f"{f},{f.stem}-{k},bench\n" for k in range(repeat) for f in files))
    return path


def run(workdir: Path, uploads: int, seconds: float, rounds: int, repeat: int = 3) -> dict:
    from service import Prescreen
    from service.app import App
    from service.jobs import default_jobs

    batch = workdir / f"batch-{uploads}x{seconds:g}s"
    refs, up_dir = make_batch(batch, uploads, seconds)
    base = workdir / "registered"
    shutil.rmtree(base, ignore_errors=True)
    with Prescreen(base, create=True) as engine:
        for i, ref in enumerate(refs):
            engine.register([ref], f"film{i}", title=f"Film {i}", owner="benchmark")
    manifest = write_manifest(up_dir, repeat, workdir / "batch.csv")
    runs: list[dict] = []
    decisions: dict[int, list] = {}
    for r in range(rounds):
        for jobs in (1, 2):
            home = workdir / f"run-{r}-{jobs}"
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(base, home)
            load = os.getloadavg()[0]
            k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0, c0 = time.perf_counter(), time.process_time()
            with App.open(home) as app:
                results = list(app.screen(app.upload_items(manifest=manifest), jobs=jobs))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            k1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # (the workers, joined when the batch ended)
            workers_cpu = (k1.ru_utime - k0.ru_utime) + (k1.ru_stime - k0.ru_stime)
            media = sum(x.duration or 0.0 for x in results)
            decisions.setdefault(jobs, [(x.upload_id, x.decision.outcome if x.decision else x.error_code)
                                        for x in results])
            runs.append({"round": r, "jobs": jobs, "wall_seconds": round(wall, 2),
                         "parent_cpu_seconds": round(cpu, 2), "workers_cpu_seconds": round(workers_cpu, 2),
                         "media_per_cpu_second": round(media / (cpu + workers_cpu), 2),
                         "cores_used": round((cpu + workers_cpu) / wall, 2),
                         "media_seconds": round(media, 1),
                         "media_per_wall_second": round(media / wall, 2), "load_before": round(load, 2),
                         "errors": sum(x.status != "ok" for x in results)})
            print(json.dumps(runs[-1]), flush=True)
            shutil.rmtree(home, ignore_errors=True)
    best = {j: max(x["media_per_wall_second"] for x in runs if x["jobs"] == j) for j in (1, 2)}
    return {"uploads": uploads, "upload_seconds": seconds, "rounds": rounds, "repeat": repeat, "cores": default_jobs(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "runs": runs,
            "best_media_per_wall_second": best, "speedup_best": round(best[2] / best[1], 2),
            "same_decisions": decisions[1] == decisions[2],
            "decisions": {k: sum(1 for _, d in decisions[2] if d == k) for k in sorted({d for _, d in decisions[2]})}}


def write_report(out: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "jobs.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = [
        "# Batch screening on every core: `prescreen screen --jobs N`",
        "",
        f"`python -m benchmarks.jobs --uploads {out['uploads']} --seconds {out['upload_seconds']:g} "
        f"--rounds {out['rounds']} --repeat {out['repeat']}`: {out['uploads']} generated uploads of about "
        f"{out['upload_seconds']:g} s (edited copies of three registered films, quotes inside other content, "
        f"unrelated content), each named {out['repeat']} times in a manifest under distinct upload ids (every row "
        "screened in full), screened as one batch (`App.screen(..., jobs=N)`, what `prescreen screen --manifest "
        "--jobs N` runs) into a fresh copy of the registered data folder per run, 1 and 2 jobs alternately. "
        "Wall time is the whole batch: the worker processes' start and index load, every record written. "
        f"Machine: {out['cores']} cores usable ({out['cpu_count']} reported), Python {out['python']}; "
        "the machine is shared, so its 1-minute load average before each run is given.",
        "",
        "| round | jobs | wall s | media s | media s per wall s | CPU s: screening process | CPU s: workers | "
        "media s per CPU s | cores used | load before |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for x in out["runs"]:
        lines.append(f"| {x['round']} | {x['jobs']} | {x['wall_seconds']:.1f} | {x['media_seconds']:.0f} | "
                     f"{x['media_per_wall_second']:.2f} | {x['parent_cpu_seconds']:.1f} | "
                     f"{x['workers_cpu_seconds']:.1f} | {x['media_per_cpu_second']:.2f} | {x['cores_used']:.2f} | "
                     f"{x['load_before']:.2f} |")
    b = out["best_media_per_wall_second"]
    lines += [
        "",
        f"Best of the rounds: **{b[1]:.2f}** media seconds per wall second at 1 job, **{b[2]:.2f}** at 2 jobs: "
        f"**{out['speedup_best']:.2f}x** (target: at least 1.8x on 2 cores). Same decisions at 1 and 2 jobs: "
        f"{'yes' if out['same_decisions'] else 'NO'} ({', '.join(f'{n} {k}' for k, n in out['decisions'].items())}).",
        "",
        "Media seconds per CPU second (all processes of the batch) say what the workers cost beyond one "
        "process: the same CPU per media second means the wall time divides by the cores a machine gives "
        "the batch, less the workers' start (importing prescreen and loading the index in each, a few CPU "
        "seconds). A load average above the number of cores means other programs held cores during the run, "
        "and the wall-time figures measure that machine's spare capacity, not the code.",
        "",
    ]
    (RESULTS / "jobs.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="rows per upload file in the manifest")
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "prescreen-bench-jobs")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    out = run(args.workdir, args.uploads, args.seconds, args.rounds, args.repeat)
    write_report(out)
    print((RESULTS / "jobs.md").read_text())


if __name__ == "__main__":
    main()
