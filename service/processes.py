"""Who holds what: the data folder's write lock, and the identity of processes that claim work.

A prescreen process records itself (pid, host, boot, the process's start time,
its command) in the write lock file while it holds the lock and in the
catalog's screening claims (see ``Prescreen.screen_one``), so that another
process can name it when it has to give up, and can tell a claim whose process
is gone (kill -9, the OOM killer, a reboot, a reused pid) from one that is
still being worked on.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

WRITE_LOCK_FILE = ".write.lock"  # in the data folder: fcntl lock of writers; holds the holder's identity
HOST = socket.gethostname()


class LockTimeout(Exception):
    """Another process held the data folder's write lock longer than ``[service] lock_timeout_seconds``."""

    kind = "unavailable"


def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


BOOT_ID = (_read("/proc/sys/kernel/random/boot_id") or "").strip() or None


def proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks after boot) of a process, from /proc; None where unknown."""
    text = _read(f"/proc/{pid}/stat")
    if not text or ")" not in text:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def process_alive(pid: int, start: str | None) -> bool:
    """Whether process ``pid`` on this host still runs and is the one that started at ``start``
    (a pid can be reused by another process; a zombie has finished)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    except (OSError, OverflowError):
        return False
    stat = proc_stat(pid)
    if stat is None:
        return True
    state, started = stat
    return state not in ("Z", "X") and (start is None or started == start)


_OWN_START = (proc_stat(os.getpid()) or (None, None))[1]
ACTIVE_CLAIMS: set[int] = set()  # screening claims (catalog row ids) this process holds right now
ACTIVE_JOBS: set[str] = set()  # the HTTP service's screening jobs (job ids) this process runs right now


def this_process() -> dict:
    """This process as a lock or claim records it (``token`` is new on every call)."""
    return {"token": secrets.token_hex(8), "pid": os.getpid(), "host": HOST, "boot_id": BOOT_ID,
            "proc_start": _OWN_START, "command": " ".join(["prescreen", *sys.argv[1:]])[:200],
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def describe_holder(holder: dict) -> str:
    """'pid 4242 on host vm since 2026-05-01T12:00:00+00:00, running `prescreen register ...`'."""
    words = f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}"
    if holder.get("started_at"):
        words += f" since {holder['started_at']}"
    if holder.get("command"):
        words += f", running `{holder['command']}`"
    return words


def claim_is_dead(claim: dict, foreign_after_seconds: float, active: set = ACTIVE_CLAIMS,
                  key: str = "claim_id") -> bool:
    """Whether the process that made ``claim`` (a ``this_process`` record with an id under ``key``) is gone.

    On another host it cannot be checked: abandoned once older than ``foreign_after_seconds``. A claim
    of this very process is alive while its id is in ``active`` (screening claims: ACTIVE_CLAIMS; the
    HTTP service's jobs: ACTIVE_JOBS).
    """
    if claim["host"] != HOST:
        try:
            age = datetime.now(timezone.utc) - datetime.fromisoformat(claim["started_at"])
        except (TypeError, ValueError):
            return True
        return age.total_seconds() > foreign_after_seconds
    if claim["boot_id"] and BOOT_ID and claim["boot_id"] != BOOT_ID:
        return True  # from before a reboot
    if claim["pid"] == os.getpid() and claim["proc_start"] == _OWN_START:
        return claim[key] not in active  # a leftover of this process
    return not process_alive(claim["pid"], claim["proc_start"])


@contextmanager
def write_lock(home: str | os.PathLike, timeout: float) -> Iterator[None]:
    """The data folder's write lock (fcntl: the kernel releases it when the process dies).

    Waits at most ``timeout`` seconds, then raises LockTimeout naming the holder,
    which writes who it is into the lock file while it holds the lock.
    """
    home = Path(home)
    with open(home / WRITE_LOCK_FILE, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = write_lock_holder(home)
                    raise LockTimeout(
                        f"another prescreen process is writing to {home}"
                        + (f" ({describe_holder(holder)})" if holder else "")
                        + f"; gave up after waiting {timeout:g} s ([service] lock_timeout_seconds): "
                        "try again when it has finished") from None
                time.sleep(0.05)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(this_process()))
            handle.flush()
            yield
        finally:
            try:
                handle.seek(0)
                handle.truncate()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def write_lock_holder(home: str | os.PathLike) -> dict | None:
    """The process holding the data folder's write lock (as it recorded itself), or None if free."""
    try:
        with open(Path(home) / WRITE_LOCK_FILE) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    holder = json.loads(handle.read() or "{}")
                except ValueError:
                    holder = {}
                return holder if isinstance(holder, dict) else {}
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None
    except OSError:
        return None
