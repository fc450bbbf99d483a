"""``prescreen serve`` as an operator runs it: a real server process on a loopback port, killed with
kill -9 while it screens a job. On restart the job is not silently dropped: it runs again and is
recorded once, or, once it has been tried ``[server] job_max_attempts`` times, fails saying why."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import copy_home

from service.app import App

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """``python -m cli serve`` over a data folder, waited for until it answers /healthz."""

    def __init__(self, home: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--home", str(home), "--port",
                                      str(self.port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"the server ended: {self.proc.communicate()}"
            assert time.monotonic() < deadline, "the server did not answer"
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate()

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        return err.decode()


def wait_for(condition, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return value


@pytest.mark.parametrize("attempts", [3, 1])
def test_a_job_killed_with_its_server_runs_again_or_fails_saying_so(registered_home, tmp_path, corpus, attempts):
    home = copy_home(registered_home, tmp_path / "home")
    with open(home / "config.toml", "a") as config:
        config.write(f"\n[server]\njob_max_attempts = {attempts}\n")
    with App.open(home) as app:
        key = app.create_key("olga", "operator").key
    auth = {"Authorization": f"Bearer {key}"}
    upload = corpus.write("serve_kill_other.mp4", corpus.other)  # 60 s unrelated to every work: allow

    first = Served(home)
    answer = httpx.post(first.url + "/v1/screening/jobs", headers=auth, data={"upload_id": "killed-1"},
                        files={"file": (upload.name, upload.read_bytes(), "video/mp4")}, timeout=60)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    job = lambda url: httpx.get(f"{url}/v1/screening/jobs/{job_id}", headers=auth, timeout=30).json()  # noqa: E731
    wait_for(lambda: job(first.url)["status"] == "running")
    first.kill()  # mid-job: the server is gone, the job still says running

    second = Served(home)
    final = wait_for(lambda: (j := job(second.url))["status"] in ("done", "failed") and j)
    uploads = httpx.get(second.url + "/v1/screening/uploads", headers=auth, timeout=30).json()
    audit = httpx.get(second.url + "/v1/admin/audit", headers=auth, params={"upload_id": "killed-1"}, timeout=30).json()
    verified = httpx.get(second.url + "/v1/admin/audit/verify", headers=auth, timeout=30).json()
    assert "Traceback" not in second.stop()
    assert verified["problems"] == []
    if attempts > 1:  # run again and recorded once
        assert final["status"] == "done" and final["attempts"] == 2, final
        assert final["result"]["outcome"] == "allow"
        assert [u["upload_id"] for u in uploads].count("killed-1") == 1
        assert [r["action"] for r in audit].count("decision") == 1, audit
    else:  # the one attempt was used: failed, saying why, and nothing half-recorded
        assert final["status"] == "failed" and "server stopped while screening it" in final["error"], final
        assert [u["upload_id"] for u in uploads].count("killed-1") <= 1
