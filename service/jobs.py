"""Screening a batch on every core: the expensive part of each file in worker processes.

A batch (``Prescreen.screen_items``) claims each file, reads its digest and checks for a stored
result or a byte-identical reference in the screening process; what costs — decoding,
fingerprinting, searching the index and aligning the hits (``engine.search_file``) — runs in a
worker, which reads the catalog and the index files and writes nothing. The outcome comes back
to the screening process, the one writer, which turns segments into per-work matches and a
decision and records them with their audit record and review item in the batch's order, exactly
as with one process: the records of a batch are the same for any number of jobs.

``Inline`` runs the same step in the screening process (``--jobs 1``, one file, the library's
``screen_one``); ``Workers`` keeps ``jobs`` spawned processes, one file each at a time, so the
file a worker died on (killed, out of memory, a crash inside FFmpeg) is known: it becomes that
file's error (``unfinished``, as a screening whose process died) and a new worker takes the next.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from multiprocessing.connection import wait as wait_any
from pathlib import Path

from .processes import this_process

# Claims of a screening process whose files are fingerprinted in workers say so in their ``command``:
# if that process is killed, its claims are not the files' fault (a file that kills a worker is
# recorded as its error at once), so a later run screens those files again instead of reporting
# them unfinished.
WORKERS_MARK = "[jobs] "


def default_jobs() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def delegated(claim: dict) -> bool:
    """Whether a screening claim was made by a process that screens in workers (see WORKERS_MARK)."""
    return (claim.get("command") or "").startswith(WORKERS_MARK)


class Task:
    """One file's search step: ``outcome`` once done, a (kind, value) pair — ("ok", Searched),
    ("media", message), ("internal", message), ("crashed", message) or ("raise", exception)."""

    __slots__ = ("args", "outcome")

    def __init__(self, args: tuple):
        self.args = args
        self.outcome = None

    @property
    def done(self) -> bool:
        return self.outcome is not None


class Inline:
    """The search step in this process, at once (one job)."""

    jobs = 1

    def __init__(self, engine):
        self.engine = engine

    def holder(self) -> dict:
        return this_process()

    def submit(self, given: str, path: Path, digest) -> Task:
        from .engine import search_outcome

        task = Task((given, path, digest))
        task.outcome = search_outcome(self.engine, given, path, digest)
        return task

    def wait(self, task: Task) -> None:
        pass

    def poll(self) -> None:
        pass

    def close(self) -> None:
        pass


class Workers:
    """``jobs`` worker processes (spawned), each searching one file at a time; tasks are handed out
    in the order submitted. ``poll`` collects what has finished without waiting; ``wait(task)``
    waits until that task is done. A worker that dies fails its task (``crashed``) and is replaced
    when it is next needed. ``close`` stops them all (they hold no state worth keeping)."""

    def __init__(self, engine, jobs: int, home: Path, config, catalog: str | None):
        self.engine, self.jobs = engine, jobs
        self._spec = (str(home), config, catalog, max(1, default_jobs() // jobs))
        self._context = multiprocessing.get_context("spawn")
        self._idle: list = []  # (process, connection)
        self._busy: dict = {}  # connection -> (process, task)
        self._queue: deque[Task] = deque()
        self._started = 0

    def holder(self) -> dict:
        holder = this_process()
        return {**holder, "command": (WORKERS_MARK + holder["command"])[:200]}

    def submit(self, given: str, path: Path, digest) -> Task:
        task = Task((given, path, digest))
        if not self._started:  # all at once, at the first file to search (a batch that only resumes starts
            # none): each imports prescreen and loads the index, seconds, while the next digests are read here
            self._idle = [self._spawn() for _ in range(self.jobs)]
        self._queue.append(task)
        self._dispatch()
        return task

    def _spawn(self):
        parent, child = self._context.Pipe()
        proc = self._context.Process(target=worker_main, args=(child, *self._spec), daemon=True,
                                     name=f"prescreen-worker-{self._started}")
        self._started += 1
        proc.start()
        child.close()
        return proc, parent

    def _dispatch(self) -> None:
        while self._queue and (self._idle or len(self._busy) < self.jobs):
            proc, conn = self._idle.pop(0) if self._idle else self._spawn()
            task = self._queue.popleft()
            try:
                conn.send((self.engine.indexes.generation, *task.args))
            except (OSError, EOFError, ValueError):  # died while idle: another takes the task
                self._bury(proc, conn)
                self._queue.appendleft(task)
                continue
            self._busy[conn] = (proc, task)

    def _collect(self, timeout: float | None) -> None:
        if not self._busy:
            return
        sentinels = {proc.sentinel: conn for conn, (proc, _) in self._busy.items()}
        for ready in wait_any([*self._busy, *sentinels], timeout):
            conn = sentinels.get(ready, ready)
            if conn not in self._busy:
                continue  # (its connection and its sentinel were both ready: handled once)
            proc, task = self._busy.pop(conn)
            try:
                if conn.poll():
                    task.outcome = conn.recv()
                    self._idle.append((proc, conn))
                    continue
            except (OSError, EOFError):
                pass
            self._bury(proc, conn)
            task.outcome = ("crashed", _death_words(proc.exitcode))
        self._dispatch()

    @staticmethod
    def _bury(proc, conn) -> None:
        conn.close()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join(5)

    def poll(self) -> None:
        self._collect(0)

    def wait(self, task: Task) -> None:
        while not task.done:
            self._collect(None)

    def close(self) -> None:
        self._queue.clear()
        for proc, conn in self._idle:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        busy = [(proc, conn) for conn, (proc, _) in self._busy.items()]
        for proc, _ in busy:  # an interrupted batch: what they were doing is thrown away
            proc.kill()
        for proc, conn in [*self._idle, *busy]:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
            conn.close()
        self._idle, self._busy = [], {}


def _death_words(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"signal {-exitcode} ({signal.Signals(-exitcode).name})"
        except ValueError:
            how = f"signal {-exitcode}"
    else:
        how = f"exit status {exitcode}"
    return (f"the worker process screening this file died ({how}: killed, out of memory, or a crash inside a "
            "library); it is not screened again unless asked (`prescreen screen --retry-unfinished`)")


def worker_main(conn, home: str, config, catalog: str | None, threads: int) -> None:
    """A worker: open the data folder (reading only), then search the files it is sent until told to
    stop (None) or the screening process is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the screening process, which stops us
    try:
        import faiss

        faiss.omp_set_num_threads(threads)
    except Exception:  # noqa: BLE001 - only a matter of speed
        pass
    from .engine import Prescreen, search_outcome

    engine, failure = None, None
    try:
        engine = Prescreen(home, config, catalog=catalog)
        engine._ensure_index()
    except Exception as exc:  # noqa: BLE001 - reported with each task: the batch stops as it would in one process
        failure = exc
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return  # the screening process is gone
            if message is None:
                return
            generation, given, path, digest = message
            if failure is not None:
                outcome = ("raise", _picklable(failure))
            else:
                try:
                    if engine.indexes.generation != generation or not engine._loaded:
                        engine._ensure_index()
                    outcome = search_outcome(engine, given, path, digest)
                except Exception as exc:  # noqa: BLE001 - the index or the catalog: as in one process
                    outcome = ("raise", _picklable(exc))
                if outcome[0] == "raise":
                    outcome = ("raise", _picklable(outcome[1]))
            try:
                conn.send(outcome)
            except (OSError, ValueError):
                return
    finally:
        if engine is not None:
            engine.close()


def _picklable(exc: BaseException) -> BaseException:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")
