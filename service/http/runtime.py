"""What the HTTP service runs on: application-layer workers, the job runner, the body-size guard.

- :class:`AppPool` — ``[server] workers`` threads, each holding its own :class:`service.app.App` (a
  catalog connection is used from one thread; each worker opens its own, lazily, and opens it again
  after a failure). A request hands a function of the App to the pool and awaits it, so the event
  loop never blocks on the catalog and slow clients never hold a worker.
- :class:`JobRunner` — ``[server] job_workers`` threads that screen the queued jobs (every upload, also
  one screened while its request waits, is a job: screening is bounded by the runners, however many
  requests arrive), put back jobs a killed server left running, and deliver webhooks.
- :class:`BodyLimit` — ASGI middleware: a body over the limit gets 413 before it is read (declared
  length) or as soon as it passes the limit (chunked bodies).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import queue
import threading
from typing import Callable, TypeVar

from ..app import App
from ..errors import TooLarge
from ..oplog import log_failure

T = TypeVar("T")


class AppPool:
    """Threads that each own one App; :meth:`run` runs ``fn(app)`` on one of them."""

    def __init__(self, opener: Callable[[], App], size: int, name: str = "prescreen-app"):
        self._opener = opener
        self._jobs: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(size)]
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        app: App | None = None
        while True:
            item = self._jobs.get()
            if item is None:
                break
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                if app is None:
                    app = self._opener()
                future.set_result(fn(app))
            except BaseException as exc:  # (handed to the request that asked)
                future.set_exception(exc)
                if app is not None and _catalog_failed(exc):
                    _close(app)
                    app = None  # opened again for the next request
        if app is not None:
            _close(app)

    def submit(self, fn: Callable[[App], T]) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((fn, future))
        return future

    async def run(self, fn: Callable[[App], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for t in self._threads:
            t.join(timeout=30)


def _catalog_failed(exc: BaseException) -> bool:
    from ..errors import Unavailable

    return isinstance(exc, Unavailable)


def _close(app: App) -> None:
    try:
        app.close()
    except Exception:
        pass


class JobRunner:
    """Screens queued jobs on its own threads; wakes when a job is submitted (:meth:`wake`) or every
    ``poll_seconds`` (jobs another process queued, webhooks due for another try)."""

    def __init__(self, opener: Callable[[], App], size: int, send: Callable[[str, dict, bytes], None],
                 home, poll_seconds: float = 1.0):
        self._opener, self._send, self._home, self._poll = opener, send, home, poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.finished = threading.Condition()  # notified after each job ends (requests waiting on one)
        self._threads = [threading.Thread(target=self._work, args=(i,), name=f"prescreen-jobs-{i}", daemon=True)
                         for i in range(size)]
        for t in self._threads:
            t.start()

    def wake(self) -> None:
        self._wake.set()

    def _work(self, index: int) -> None:
        app: App | None = None
        while not self._stop.is_set():
            try:
                if app is None:
                    app = self._opener()
                    if index == 0:
                        app.recover_jobs()  # what a killed server left running
                while not self._stop.is_set() and app.run_next_job() is not None:
                    self._notify()
                if index == 0:
                    app.recover_jobs()
                    app.deliver_webhooks(self._send)
            except Exception as exc:  # never dies: logged, the App opened again, tried again
                log_failure(self._home, "the HTTP service's job runner failed", exc)
                if app is not None:
                    _close(app)
                    app = None
                self._stop.wait(self._poll)
            self._wake.wait(self._poll)
            self._wake.clear()
        if app is not None:
            _close(app)

    def _notify(self) -> None:
        with self.finished:
            self.finished.notify_all()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=60)


class BodyLimit:
    """ASGI middleware: 413 (JSON error) for a request body over ``limit_for(path, method)`` bytes."""

    def __init__(self, app, limit_for: Callable[[str, str], int]):
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["path"], scope["method"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _too_large(send, limit)
        seen, started, refused = 0, False, False

        async def counted_receive():
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # a chunked body past the limit: answered now, the rest never read
                    refused = True
                    if not started:
                        await _too_large(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message):
            nonlocal started
            if refused:
                return  # (the 413 is the answer)
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not refused:
                raise  # (after a 413 the app's complaint about its lost body is no news)


async def _too_large(send, limit: int) -> None:
    body = json.dumps(TooLarge(f"the request body is larger than {limit:,} bytes ([server] max_body_bytes; an "
                               "upload screened while the request waits: sync_max_bytes, larger ones go to "
                               "POST /v1/screening/jobs)").as_dict()).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
