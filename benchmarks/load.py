"""``python -m benchmarks.load``: ``prescreen serve`` under load on loopback.

A real server process (``python -m cli serve``, uvicorn, the ``[server]`` defaults but for a 20 MB body
limit) over a fresh data folder with two works (a film and a song). Then, at once:

- ``--clients`` (8) pipeline clients each submit their share of ``--jobs`` (200) screening jobs
  (``POST /v1/screening/jobs``, multipart; a mix of transformed copies and unrelated clips of
  ``--clip-seconds`` each) and poll each job until it is done;
- two reviewers read the queue (``GET /v1/review/queue``) and both try to decide every pending review:
  each review must be decided once (the other gets 409);
- ``--slow-clients`` (4) connections that declare a 1 MB body and then send a few bytes a second,
  and as many that connect and send nothing, stay open the whole run: they must hold up nobody;
- one body over the limit, which must get 413 before it is read.

Afterwards the run checks that no job was lost or failed, every upload was recorded once with one
decision in the audit log, every review was decided once, the audit chain is intact; and reports
p50/p95 latencies (submission, submission to decision, queue read, review decision), throughput
(jobs and media seconds per wall second) and the server's CPU. Writes ``benchmarks/results/load.md``
and ``load.json`` (``--name`` changes the name).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BODY_LIMIT = 20_000_000  # bytes: the run's [server] max_body_bytes (and sync_max_bytes)


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=200, help="screening jobs in all (default 200)")
    p.add_argument("--clients", type=int, default=8, help="concurrent submitting clients (default 8)")
    p.add_argument("--clip-seconds", type=float, default=6.0, help="length of each upload, seconds (default 6)")
    p.add_argument("--slow-clients", type=int, default=4, help="trickling and silent connections, each (default 4)")
    p.add_argument("--job-workers", type=int, default=1, help="[server] job_workers (default 1)")
    p.add_argument("--name", default="load", help="report name (default load)")
    p.add_argument("--out", type=Path, default=HERE / "results", help="report folder (default benchmarks/results)")
    return p.parse_args(argv)


# -- media ------------------------------------------------------------------------------------
def make_media(folder: Path, clip_seconds: float) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The works' reference files, and 20 distinct uploads with what each should get: copies of the film
    (mirrored, cropped, recoloured excerpts), of the song (excerpts, some under a voice) and unrelated
    clips."""
    sys.path.insert(0, str(ROOT))
    import mediagen as mg
    from mediagen import transforms as tf

    sr = 22050
    film = mg.synth_work(seed=101, duration=40.0)
    song = mg.Media(None, 25.0, mg.synth_music(seed=202, duration=40.0), sr)
    refs = [mg.write_media(film, folder / "film.mp4"), mg.write_media(song, folder / "song.m4a")]
    uploads = []
    for k in range(20):
        start = 2.0 + (k * 1.7) % (40.0 - clip_seconds - 4)
        kind = k % 4
        if kind == 0:
            media, expect = tf.hflip(tf.excerpt(film, start, start + clip_seconds)), "film"
        elif kind == 1:
            media, expect = tf.crop(tf.color_shift(tf.excerpt(film, start, start + clip_seconds), 0.1, 1.1), 0.85), "film"
        elif kind == 2:
            media, expect = tf.excerpt(song, start, start + clip_seconds), "song"
        else:
            media, expect = mg.synth_work(seed=5000 + k, duration=clip_seconds), "none"
        suffix = ".mp4" if media.has_video else ".m4a"
        uploads.append((mg.write_media(media, folder / f"upload-{k:02d}{suffix}"), expect))
    return refs, uploads


# -- the server -------------------------------------------------------------------------------
class Server:
    def __init__(self, home: Path, job_workers: int):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        (home / "config.toml").write_text(f"[server]\nmax_body_bytes = {BODY_LIMIT}\nsync_max_bytes = {BODY_LIMIT}\n"
                                          f"job_workers = {job_workers}\n")
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--home", str(home), "--port",
                                      str(self.port), "--create"], cwd=ROOT, stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server ended: {self.proc.stderr.read().decode()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not answer in 60 s")
                time.sleep(0.1)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.communicate(timeout=60)[1].decode()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.communicate()[1].decode()


# -- the load ---------------------------------------------------------------------------------
class Run:
    def __init__(self, url: str, keys: dict[str, str]):
        self.url, self.keys = url, keys
        self.lock = threading.Lock()
        self.submit, self.decided, self.queue_reads, self.review_posts = [], [], [], []
        self.jobs: dict[str, dict] = {}
        self.errors: list[str] = []
        self.conflicts = 0
        self.reviews_decided: list[int] = []
        self.stop = threading.Event()

    def note_error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)

    def client(self, name: str, work: list[tuple[str, Path]]) -> None:
        """Submit every job of ``work`` ((upload id, file)), then poll each until it is finished."""
        auth = {"Authorization": f"Bearer {self.keys[name]}"}
        with httpx.Client(base_url=self.url, headers=auth, timeout=120) as http:
            pending = {}
            for upload_id, path in work:
                t0 = time.monotonic()
                answer = http.post("/v1/screening/jobs", data={"upload_id": upload_id},
                                   files={"file": (path.name, path.read_bytes(), "application/octet-stream")})
                took = time.monotonic() - t0
                if answer.status_code != 202:
                    self.note_error(f"{upload_id}: submission answered {answer.status_code} {answer.text[:200]}")
                    continue
                with self.lock:
                    self.submit.append(took)
                pending[answer.json()["job_id"]] = (upload_id, t0)
            while pending:
                for job_id in list(pending):
                    job = http.get(f"/v1/screening/jobs/{job_id}").json()
                    if job["status"] in ("done", "failed"):
                        upload_id, t0 = pending.pop(job_id)
                        with self.lock:
                            self.decided.append(time.monotonic() - t0)
                            self.jobs[upload_id] = job
                time.sleep(0.25)

    def reviewer(self, name: str) -> None:
        """Read the queue and decide every pending review (racing the other reviewer)."""
        auth = {"Authorization": f"Bearer {self.keys[name]}"}
        with httpx.Client(base_url=self.url, headers=auth, timeout=120) as http:
            while not self.stop.is_set():
                t0 = time.monotonic()
                answer = http.get("/v1/review/queue")
                with self.lock:
                    self.queue_reads.append(time.monotonic() - t0)
                if answer.status_code != 200:
                    self.note_error(f"queue read answered {answer.status_code}")
                    continue
                for item in answer.json()[:5]:
                    t0 = time.monotonic()
                    done = http.post(f"/v1/review/{item['review_id']}/decision",
                                     json={"outcome": "allow", "note": f"load test, {name}"})
                    with self.lock:
                        self.review_posts.append(time.monotonic() - t0)
                        if done.status_code == 200:
                            self.reviews_decided.append(item["review_id"])
                        elif done.status_code == 409:
                            self.conflicts += 1
                        else:
                            self.errors.append(f"review decision answered {done.status_code} {done.text[:200]}")
                time.sleep(0.2)


def slow_connections(port: int, key: str, count: int, stop: threading.Event) -> list[socket.socket]:
    """``count`` connections that declare a 1 MB multipart body and trickle it, and ``count`` that send
    nothing; a thread keeps the trickle going until ``stop``."""
    trickling, silent = [], []
    head = (f"POST /v1/screening/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 1000000\r\n\r\n--xyz\r\n").encode()
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(head)
        trickling.append(s)
        silent.append(socket.create_connection(("127.0.0.1", port)))

    def trickle():
        while not stop.wait(0.5):
            for s in trickling:
                try:
                    s.sendall(b"x" * 16)
                except OSError:
                    pass

    threading.Thread(target=trickle, daemon=True).start()
    return trickling + silent


def too_large(url: str, key: str) -> int:
    """The status of a body declared one byte over the limit (sent whole)."""
    body = b"\0" * (BODY_LIMIT + 1)
    answer = httpx.post(url + "/v1/screening/jobs", content=body, timeout=120,
                        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream"})
    return answer.status_code


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main(argv=None) -> int:
    args = _parse(argv)
    sys.path.insert(0, str(ROOT))
    from service.app import App

    work = Path(tempfile.mkdtemp(prefix="prescreen-load-"))
    try:
        print(f"making media in {work} ...", flush=True)
        refs, uploads = make_media(work, args.clip_seconds)
        home = work / "home"
        with App.open(home, create=True) as app:
            app.register([refs[0]], "film", "The Film", "Studio A")
            app.register([refs[1]], "song", "The Song", "Label C")
            keys = {f"client-{c}": app.create_key(f"client-{c}", "uploader", f"uploader-{c}").key
                    for c in range(args.clients)}
            keys.update({n: app.create_key(n, "reviewer").key for n in ("rev-a", "rev-b")})
            keys["olga"] = app.create_key("olga", "operator").key
        server = Server(home, args.job_workers)
        print(f"server on {server.url}; {args.jobs} jobs from {args.clients} clients ...", flush=True)
        run = Run(server.url, keys)
        shares = {f"client-{c}": [] for c in range(args.clients)}
        for j in range(args.jobs):
            path, _ = uploads[j % len(uploads)]
            shares[f"client-{j % args.clients}"].append((f"load-{j:04d}", path))
        expect = {f"load-{j:04d}": uploads[j % len(uploads)][1] for j in range(args.jobs)}
        media_seconds = args.jobs * args.clip_seconds
        slow = slow_connections(server.port, keys["olga"], args.slow_clients, run.stop)
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        clients = [threading.Thread(target=run.client, args=(n, w)) for n, w in shares.items()]
        reviewers = [threading.Thread(target=run.reviewer, args=(n,)) for n in ("rev-a", "rev-b")]
        for t in clients + reviewers:
            t.start()
        status_413 = too_large(server.url, keys["olga"])
        for t in clients:
            t.join()
        wall, cpu = time.monotonic() - t0, server.cpu_seconds() - cpu0
        time.sleep(2.0)  # the reviewers finish the last reviews
        run.stop.set()
        for t in reviewers:
            t.join()
        slow_alive = sum(1 for s in slow if _open(s))
        for s in slow:
            s.close()
        # what was recorded
        op = {"Authorization": f"Bearer {keys['olga']}"}
        with httpx.Client(base_url=server.url, headers=op, timeout=120) as http:
            recorded = [u["upload_id"] for u in http.get("/v1/screening/uploads", params={"limit": 1000}).json()]
            audit = http.get("/v1/admin/audit").json()
            verified = http.get("/v1/admin/audit/verify").json()
            jobs = http.get("/v1/screening/jobs", params={"limit": 1000}).json()
        log = server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    decisions = [r["upload_id"] for r in audit if r["action"] == "decision"]
    review_records = [r for r in audit if r["action"] == "review-decision"]
    wrong = sorted(u for u, j in run.jobs.items() if j["status"] == "done" and (
        (expect[u] == "none") != (j["result"]["outcome"] == "allow" and not j["result"]["works"])))
    checks = {
        "every job finished": len(run.jobs) == args.jobs and len(jobs) >= args.jobs,
        "no job failed": all(j["status"] == "done" for j in run.jobs.values()),
        "each upload recorded once": sorted(recorded) == sorted(expect),
        "one decision per upload in the audit log": sorted(decisions) == sorted(expect),
        "each review decided once": len(run.reviews_decided) == len(set(run.reviews_decided)) == len(review_records),
        "audit chain intact": verified["problems"] == [],
        "over-limit body got 413": status_413 == 413,
        "jobs and queue reads went on beside the stalled connections": len(run.jobs) == args.jobs
        and not run.errors and len(run.queue_reads) > 0,
        "no traceback in the server's log": "Traceback" not in log,
    }
    figures = {
        "jobs": args.jobs, "clients": args.clients, "clip_seconds": args.clip_seconds,
        "job_workers": args.job_workers, "slow_connections": 2 * args.slow_clients,
        "slow_connections_still_open_at_end": slow_alive,
        "wall_seconds": wall, "server_cpu_seconds": cpu,
        "jobs_per_second": args.jobs / wall, "media_seconds_per_wall_second": media_seconds / wall,
        "server_cpu_per_media_second": cpu / media_seconds,
        "submit_p50": pct(run.submit, 50), "submit_p95": pct(run.submit, 95),
        "decision_p50": pct(run.decided, 50), "decision_p95": pct(run.decided, 95),
        "queue_read_p50": pct(run.queue_reads, 50), "queue_read_p95": pct(run.queue_reads, 95),
        "queue_reads": len(run.queue_reads),
        "review_decision_p50": pct(run.review_posts, 50), "review_decision_p95": pct(run.review_posts, 95),
        "reviews_decided": len(run.reviews_decided), "review_conflicts_409": run.conflicts,
        "status_over_limit": status_413, "unexpected_outcomes": wrong, "errors": run.errors[:20],
    }
    report = {"name": args.name, "checks": checks, "figures": figures, "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "commit": _commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / f"{args.name}.md").write_text(_markdown(report))
    print(_markdown(report))
    return 0 if all(checks.values()) and not wrong else 1


def _open(s: socket.socket) -> bool:
    """Whether the server still holds the connection (a stalled client is not dropped for being slow
    within its timeouts, nor does it hold anyone up)."""
    try:
        s.setblocking(False)
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _markdown(r: dict) -> str:
    f = r["figures"]
    ms = lambda v: f"{v * 1000:.0f} ms"  # noqa: E731
    lines = [f"# prescreen serve under load ({r['name']})", "",
             f"`python -m benchmarks.load` at `{r['commit']}`, {r['date']}, {r['machine']['cpus']} cores, "
             f"Python {r['machine']['python']}. A real `prescreen serve` on loopback: {f['jobs']} screening jobs "
             f"({f['clip_seconds']:g} s uploads: transformed copies of a film and a song, unrelated clips) from "
             f"{f['clients']} concurrent clients, two reviewers reading the queue and deciding every review, "
             f"{f['slow_connections']} stalled or trickling connections open throughout, job_workers "
             f"{f['job_workers']}.", "",
             "| measure | p50 | p95 |", "|---|---|---|",
             f"| job submission (multipart upload, queued) | {ms(f['submit_p50'])} | {ms(f['submit_p95'])} |",
             f"| submission to decision (queue wait included) | {f['decision_p50']:.1f} s | {f['decision_p95']:.1f} s |",
             f"| review queue read ({f['queue_reads']} reads) | {ms(f['queue_read_p50'])} | {ms(f['queue_read_p95'])} |",
             f"| review decision ({f['reviews_decided']} decided, {f['review_conflicts_409']} lost races: 409) | "
             f"{ms(f['review_decision_p50'])} | {ms(f['review_decision_p95'])} |", "",
             f"Throughput: {f['jobs_per_second']:.2f} jobs/s, {f['media_seconds_per_wall_second']:.1f} media "
             f"seconds per wall second over {f['wall_seconds']:.0f} s; the server used {f['server_cpu_seconds']:.0f} s "
             f"of CPU ({f['server_cpu_per_media_second'] * 1000:.0f} ms per media second, HTTP and storage included). "
             f"A body over the limit: {f['status_over_limit']}. Stalled connections still open at the end: "
             f"{f['slow_connections_still_open_at_end']} of {f['slow_connections']}.", "",
             "| check | |", "|---|---|"]
    lines += [f"| {name} | {'yes' if ok else '**NO**'} |" for name, ok in r["checks"].items()]
    lines += [f"| outcomes as expected (copies matched, unrelated allowed) | "
              f"{'yes' if not f['unexpected_outcomes'] else '**NO**: ' + ', '.join(f['unexpected_outcomes'][:10])} |"]
    if f["errors"]:
        lines += ["", "Errors seen by the clients:", ""] + [f"- {e}" for e in f["errors"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
