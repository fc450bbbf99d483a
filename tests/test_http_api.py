"""The HTTP service (service/http) through its HTTP interface: every endpoint with every role and with
no key, what each role sees of other people's works and uploads, screening while waiting and as a job
with a signed webhook, body limits, server-side paths, errors as JSON, and the audit's actors.

On both catalogs (the registered home of ``conftest``: works film and film2 of Studio A and B, song of
Label C)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from conftest import copy_home
from fastapi.testclient import TestClient

from mediagen import transforms as tf
from service.app import App
from service.http import create_app

KEYS = {"operator": ("olga", None), "rights_holder": ("studio-a", "Studio A"), "reviewer": ("rev", None),
        "uploader": ("uma", "uma")}


@pytest.fixture()
def home(registered_home, tmp_path) -> Path:
    return copy_home(registered_home, tmp_path / "home")


def configure(home: Path, toml: str) -> None:
    """Add settings to the data folder's config (which may name its PostgreSQL catalog already)."""
    path = home / "config.toml"
    path.write_text((path.read_text() if path.exists() else "") + "\n" + toml)


def make_keys(home: Path) -> dict[str, str]:
    """One key per role (KEYS), plus a second uploader and a second rights holder; name -> key."""
    with App.open(home) as app:
        keys = {role: app.create_key(name, role, subject).key for role, (name, subject) in KEYS.items()}
        keys["uploader2"] = app.create_key("ulla", "uploader", "ulla").key
        keys["rights_holder2"] = app.create_key("studio-b", "rights_holder", "Studio B").key
    return keys


def auth(key: str | None) -> dict:
    return {"Authorization": f"Bearer {key}"} if key else {}


@pytest.fixture()
def served(home):
    keys = make_keys(home)
    with TestClient(create_app(home)) as client:
        yield client, keys, home


def screen(client, key, path: Path, upload_id: str, **form) -> dict:
    answer = client.post("/v1/screening/uploads", headers=auth(key), data={"upload_id": upload_id, **form},
                         files={"file": (path.name, path.read_bytes(), "video/mp4")})
    assert answer.status_code == 200, answer.text
    return answer.json()


# every endpoint: (method, path, JSON body or None, roles that may call it)
ALL = {"operator", "rights_holder", "reviewer", "uploader"}
ENDPOINTS = [
    ("GET", "/v1/me", None, ALL),
    ("GET", "/v1/report", None, ALL),
    ("POST", "/v1/screening/uploads", "form", {"operator", "uploader"}),
    ("POST", "/v1/screening/jobs", "form", {"operator", "uploader"}),
    ("GET", "/v1/screening/jobs", None, {"operator", "uploader"}),
    ("GET", "/v1/screening/jobs/job-0000", None, {"operator", "uploader"}),
    ("GET", "/v1/screening/uploads", None, {"operator", "reviewer", "uploader"}),
    ("GET", "/v1/screening/uploads/x-1", None, {"operator", "reviewer", "uploader"}),
    ("POST", "/v1/screening/uploads/x-1/disputes", {"reason": "mine"}, {"operator", "uploader"}),
    ("GET", "/v1/review/queue", None, {"operator", "reviewer"}),
    ("GET", "/v1/review/1", None, {"operator", "reviewer"}),
    ("GET", "/v1/review/1/files/a.png", None, {"operator", "reviewer"}),
    ("POST", "/v1/review/1/decision", {"outcome": "allow"}, {"operator", "reviewer"}),
    ("POST", "/v1/rights/works", "form", {"operator", "rights_holder"}),
    ("GET", "/v1/rights/works", None, {"operator", "rights_holder"}),
    ("GET", "/v1/rights/works/film", None, {"operator", "rights_holder"}),
    ("DELETE", "/v1/rights/works/nope", None, {"operator", "rights_holder"}),
    ("PUT", "/v1/rights/works/nope/rules", {"rules": []}, {"operator", "rights_holder"}),
    ("PUT", "/v1/rights/works/nope/priority", {"priority": True}, {"operator"}),
    ("POST", "/v1/rights/works/nope/exclusions", {"start": 0, "end": 1, "reason": "r"}, {"operator", "rights_holder"}),
    ("DELETE", "/v1/rights/works/nope/exclusions/1?reason=r", None, {"operator", "rights_holder"}),
    ("PUT", "/v1/rights/works/nope/licences/uma", None, {"operator", "rights_holder"}),
    ("DELETE", "/v1/rights/works/nope/licences/uma", None, {"operator", "rights_holder"}),
    ("POST", "/v1/rights/works/nope/notices", {"upload_id": "x-1"}, {"operator", "rights_holder"}),
    ("GET", "/v1/rights/claims", None, {"operator", "rights_holder"}),
    ("GET", "/v1/admin/keys", None, {"operator"}),
    ("POST", "/v1/admin/keys", {"name": "new-key", "role": "reviewer"}, {"operator"}),
    ("DELETE", "/v1/admin/keys/nobody", None, {"operator"}),
    ("GET", "/v1/admin/audit", None, {"operator"}),
    ("GET", "/v1/admin/audit/verify", None, {"operator"}),
    ("GET", "/v1/admin/index", None, {"operator"}),
]


def call(client, method: str, path: str, body, key: str | None):
    if body == "form":
        return client.request(method, path, headers=auth(key), data={"work_id": "w-new"})
    return client.request(method, path, headers=auth(key), json=body)


def test_every_endpoint_refuses_no_key_a_revoked_key_and_every_role_that_may_not_act(served):
    client, keys, home = served
    with App.open(home) as app:
        revoked = app.create_key("gone", "operator").key
        app.revoke_key("gone")
    routes = {(r.path, m) for r in client.app.routes for m in getattr(r, "methods", ())}
    for method, path, body, allowed in ENDPOINTS:
        template = next((p for p, m in routes if m == method and _matches(p, path.split("?")[0])), None)
        assert template, f"{method} {path} is no route"
        for key in (None, "psk_junk", revoked):
            answer = call(client, method, path, body, key)
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.json()["error"]["code"] == "unauthenticated"
        for role in ALL:
            answer = call(client, method, path, body, keys[role])
            if role in allowed:
                assert answer.status_code not in (401, 403), (method, path, role, answer.text)
            else:
                assert answer.status_code == 403, (method, path, role, answer.text)
                assert answer.json()["error"]["code"] == "forbidden"
    # (every route of the API is in the table: a new endpoint must say who may call it)
    listed = {(m, p.split("?")[0]) for m, p, _, _ in ENDPOINTS}
    for path, method in routes:
        if path.startswith("/v1/"):
            assert any(m == method and _matches(path, p) for m, p in listed), f"{method} {path} is not in ENDPOINTS"
    assert client.get("/healthz").json() == {"status": "ok"}


# every page: (method, path, form or None, roles that may open it)
PAGES = [
    ("GET", "/review", None, {"operator", "reviewer"}),
    ("GET", "/review/1", None, {"operator", "reviewer"}),
    ("POST", "/review/1", {"outcome": "allow"}, {"operator", "reviewer"}),
    ("GET", "/claims", None, {"operator", "rights_holder"}),
    ("GET", "/uploads", None, {"operator", "reviewer", "uploader"}),
    ("GET", "/uploads/x-1", None, {"operator", "reviewer", "uploader"}),
    ("POST", "/uploads/x-1/dispute", {"reason": "mine"}, {"uploader"}),
]


def test_every_page_sends_a_visitor_without_a_key_to_sign_in_and_refuses_the_roles_that_may_not(served):
    client, keys, home = served
    routes = {(r.path, m) for r in client.app.routes for m in getattr(r, "methods", ())}
    for method, path, form, allowed in PAGES:
        client.cookies.clear()
        answer = client.request(method, path, data=form, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next="), (path, answer)
        for role in ALL:
            client.cookies.clear()
            assert client.post("/signin", data={"key": keys[role]}, follow_redirects=False).status_code == 303
            answer = client.request(method, path, data=form, follow_redirects=False)
            assert answer.status_code == 303 or "text/html" in answer.headers["content-type"], (path, role)
            if role in allowed:
                assert answer.status_code not in (401, 403), (method, path, role, answer.text)
            else:
                assert answer.status_code == 403 and "may not" in answer.text, (method, path, role, answer.text)
    # every page route is in the table
    listed = {(m, p) for m, p, _, _ in PAGES}
    for path, method in routes:
        if not path.startswith(("/v1/", "/docs", "/openapi", "/redoc", "/static", "/healthz", "/signin", "/signout")) \
                and path != "/":
            assert any(m == method and _matches(path, p) for m, p in listed), f"{method} {path} is not in PAGES"
    # signing in refuses a bad key and never redirects off the site
    client.cookies.clear()
    assert client.post("/signin", data={"key": "psk_junk"}).status_code == 401
    away = client.post("/signin", data={"key": keys["reviewer"], "next": "//evil.example/"}, follow_redirects=False)
    assert away.headers["location"] == "/review"


def _matches(template: str, path: str) -> bool:
    a, b = template.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b))


def test_a_rights_holder_sees_and_changes_only_its_own_works_and_claims(served, corpus):
    client, keys, home = served
    a, b = auth(keys["rights_holder"]), auth(keys["rights_holder2"])
    assert [w["work_id"] for w in client.get("/v1/rights/works", headers=a).json()] == ["film"]
    assert [w["work_id"] for w in client.get("/v1/rights/works", headers=b).json()] == ["film2"]
    for method, path, body in [("GET", "/v1/rights/works/film2", None),
                               ("PUT", "/v1/rights/works/film2/rules", {"rules": [{"action": "track"}]}),
                               ("POST", "/v1/rights/works/film2/exclusions", {"start": 0, "end": 5, "reason": "x"}),
                               ("PUT", "/v1/rights/works/film2/licences/uma", None),
                               ("POST", "/v1/rights/works/film2/notices", {"upload_id": "c-1"}),
                               ("DELETE", "/v1/rights/works/film2", None)]:
        answer = client.request(method, path, headers=a, json=body)
        assert answer.status_code == 404, (method, path, answer.text)  # another owner's work is not there for A
    assert client.get("/v1/rights/works/film2", headers=b).status_code == 200  # (it is, for its owner)
    # both works matched by one upload: each owner's claims show only its own work
    both = corpus.write("http_both.mp4", tf.concat(tf.excerpt(corpus.film, 0, 12), tf.excerpt(corpus.film2, 0, 12)))
    decided = screen(client, keys["operator"], both, "c-1")
    assert {w["work_id"] for w in decided["result"]["works"]} == {"film", "film2"}
    claims_a = client.get("/v1/rights/claims", headers=a).json()
    assert {c["work_id"] for c in claims_a} == {"film"} and claims_a[0]["upload_id"] == "c-1"
    assert claims_a[0]["segments"] and all(s["upload_end"] <= 12.5 for s in claims_a[0]["segments"])
    assert {c["work_id"] for c in client.get("/v1/rights/claims", headers=b).json()} == {"film2"}
    assert client.get("/v1/rights/claims?owner=Studio%20B", headers=a).status_code == 403
    # registering: the key's owner, never another
    files = {"files": ("ref.mp4", corpus.film2_path.read_bytes(), "video/mp4")}
    answer = client.post("/v1/rights/works", headers=a, data={"work_id": "w-x", "owner": "Studio B"}, files=files)
    assert answer.status_code == 403
    # (and the exact file of another owner's work is refused, saying why, not registered twice)
    answer = client.post("/v1/rights/works", headers=a, data={"work_id": "w-x"}, files=files)
    assert answer.status_code == 422 and "already registered" in json.dumps(answer.json()["error"]["failures"])
    assert [w["work_id"] for w in client.get("/v1/rights/works", headers=a).json()] == ["film"]


def test_an_uploader_screens_sees_and_disputes_only_its_own_uploads(served, corpus):
    client, keys, home = served
    me, other = auth(keys["uploader"]), auth(keys["uploader2"])
    done = screen(client, keys["uploader"], corpus.film_path, "u-1")
    assert done["status"] == "done" and done["result"]["outcome"] == "block"
    assert done["result"]["uploader_id"] == "uma"  # the key's uploader id, whatever the form says
    answer = client.post("/v1/screening/uploads", headers=me, data={"upload_id": "u-2", "uploader_id": "ulla"},
                         files={"file": ("x.mp4", corpus.film_path.read_bytes(), "video/mp4")})
    assert answer.status_code == 403
    assert client.get("/v1/screening/uploads/u-1", headers=me).json()["outcome"] == "block"
    assert client.get("/v1/screening/uploads/u-1", headers=other).status_code == 404
    assert [u["upload_id"] for u in client.get("/v1/screening/uploads", headers=other).json()] == []
    assert client.get(f"/v1/screening/jobs/{done['job_id']}", headers=other).status_code == 404
    assert client.post("/v1/screening/uploads/u-1/disputes", headers=other, json={"reason": "x"}).status_code == 404
    filed = client.post("/v1/screening/uploads/u-1/disputes", headers=me, json={"reason": "my own footage"})
    assert filed.status_code == 201, filed.text
    # the reviewer decides it; the audit log names the keys as actors
    rv = auth(keys["reviewer"])
    [item] = [r for r in client.get("/v1/review/queue", headers=rv).json() if r["upload_id"] == "u-1"]
    evidence = client.get(f"/v1/review/{item['review_id']}", headers=rv).json()
    assert evidence["dispute"]["reason"] == "my own footage"
    thumbs = [t for e in evidence["evidence"] for t in e["thumbnails"]]
    assert thumbs and client.get(thumbs[0], headers=rv).headers["content-type"] == "image/png"
    decided = client.post(f"/v1/review/{item['review_id']}/decision", headers=rv, json={"outcome": "released"})
    assert decided.status_code == 200 and decided.json()["reviewer"] == "rev"
    assert client.get("/v1/screening/uploads/u-1", headers=me).json()["outcome"] == "allow"
    assert item["review_id"] not in {r["review_id"] for r in client.get("/v1/review/queue", headers=rv).json()}
    actors = {(r["action"], r["actor"]) for r in client.get("/v1/admin/audit?upload_id=u-1",
                                                             headers=auth(keys["operator"])).json()}
    assert {("job-submitted", "uma"), ("dispute-filed", "uma"), ("review-decision", "rev")} <= set(actors), actors
    assert client.get("/v1/admin/audit/verify", headers=auth(keys["operator"])).json()["problems"] == []


def test_a_job_screens_a_transformed_copy_and_calls_its_webhook_signed_retrying_after_a_failure(home, corpus):
    configure(home, '[server]\nwebhook_backoff_seconds = 0.0\nwebhook_url_prefixes = ["https://hooks.example/"]\n')
    keys = make_keys(home)
    deliveries = []

    def receiver(url, headers, body):
        deliveries.append((url, headers, body))
        if len(deliveries) == 1:
            raise ConnectionError("the receiver is down")

    copy = corpus.write("http_job_copy.mp4", tf.hflip(tf.excerpt(corpus.film, 5, 25)), video_bitrate=300_000)
    with TestClient(create_app(home, webhook_sender=receiver)) as client:
        answer = client.post("/v1/screening/jobs", headers=auth(keys["uploader"]),
                             data={"webhook_url": "https://hooks.example/prescreen", "webhook_secret": "s" * 24},
                             files={"file": (copy.name, copy.read_bytes(), "video/mp4")})
        assert answer.status_code == 202 and answer.json()["status"] in ("queued", "running", "done")
        job_id = answer.json()["job_id"]
        for elsewhere in ("http://127.0.0.1:5432/", "https://hooks.example.evil/", "https://hooks.example/../x"):
            inside = client.post("/v1/screening/jobs", headers=auth(keys["uploader"]),  # not into the server's network
                                 data={"webhook_url": elsewhere, "webhook_secret": "s" * 24},
                                 files={"file": (copy.name, copy.read_bytes(), "video/mp4")})
            assert inside.status_code == 403 and "webhook_url_prefixes" in inside.json()["error"]["message"], elsewhere
        job = _wait(client, keys["uploader"], job_id, lambda j: j["webhook_status"] == "delivered")
        assert job["status"] == "done" and job["attempts"] == 1 and job["webhook_attempts"] == 2
        result = job["result"]
        assert result["outcome"] == "block" and result["upload_id"] == job_id
        [seg] = [s for m in result["matches"] if m["work_id"] == "film" for s in m["segments"]
                 if s["modality"] in ("video", "both")][:1]
        assert abs(seg["ref_start"] - 5) < 1.5 and abs(seg["ref_end"] - 25) < 1.5  # the seconds, both timelines
        assert seg["upload_start"] < 1.5 and abs(seg["upload_end"] - 20) < 1.5
    assert len(deliveries) == 2  # the first failed, the second was the retry
    url, headers, body = deliveries[-1]
    assert url == "https://hooks.example/prescreen" and headers["X-Prescreen-Delivery"] == job_id
    expected = hmac.new(b"s" * 24, headers["X-Prescreen-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["X-Prescreen-Signature"] == "sha256=" + expected.hexdigest()
    sent = json.loads(body)
    assert sent["event"] == "job.done" and sent["job"]["result"]["outcome"] == "block"
    assert "webhook_secret" not in json.dumps(sent)


def _wait(client, key, job_id, done, seconds: float = 120.0) -> dict:
    import time

    deadline = time.monotonic() + seconds
    while True:
        job = client.get(f"/v1/screening/jobs/{job_id}", headers=auth(key)).json()
        if done(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def test_bodies_over_the_limits_get_413_and_paths_only_inside_the_configured_folders(home, corpus, tmp_path):
    allowed = tmp_path / "incoming"
    allowed.mkdir()
    (allowed / "copy.mp4").write_bytes(corpus.film_path.read_bytes())
    (tmp_path / "secret.mp4").write_bytes(corpus.film_path.read_bytes())
    (allowed / "escape.mp4").symlink_to(tmp_path / "secret.mp4")
    size = corpus.film_path.stat().st_size
    configure(home, f"[server]\nsync_max_bytes = {size // 2}\nmax_body_bytes = {size * 3}\n"
                    f"path_roots = [{json.dumps(str(allowed))}]\n")
    keys = make_keys(home)
    with TestClient(create_app(home)) as client:
        op, up = auth(keys["operator"]), auth(keys["uploader"])
        big = {"file": ("film.mp4", corpus.film_path.read_bytes(), "video/mp4")}
        answer = client.post("/v1/screening/uploads", headers=up, files=big)
        assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
        assert client.post("/v1/screening/jobs", headers=up, files=big).status_code == 202  # a job takes it
        huge = {"file": ("huge.mp4", b"\0" * (size * 3 + 10), "video/mp4")}
        assert client.post("/v1/screening/jobs", headers=up, files=huge).status_code == 413

        def chunks():  # no declared length: refused once the limit is passed
            for _ in range(4):
                yield b"\0" * size

        chunked = client.post("/v1/screening/jobs", headers={**up, "Content-Type": "multipart/form-data; boundary=x"},
                              content=chunks())
        assert chunked.status_code == 413
        # server-side paths: operators, inside path_roots only (a link out of it is outside)
        done = client.post("/v1/screening/uploads", headers=op, data={"path": str(allowed / "copy.mp4")})
        assert done.status_code == 200 and done.json()["result"]["outcome"] == "block"
        for where in (tmp_path / "secret.mp4", allowed / "escape.mp4", allowed / ".." / "secret.mp4"):
            answer = client.post("/v1/screening/uploads", headers=op, data={"path": str(where)})
            assert answer.status_code == 403, (where, answer.text)
        assert client.post("/v1/screening/uploads", headers=up, data={"path": str(allowed / "copy.mp4")}
                           ).status_code == 403
        reg = client.post("/v1/rights/works", headers=op, data={"work_id": "w-path", "paths": [str(tmp_path / "secret.mp4")]})
        assert reg.status_code == 403


@pytest.fixture()
def object_store(tmp_path):
    """A plain HTTP server on loopback serving ``tmp_path/store`` (an object store's stand-in)."""
    import functools
    import http.server
    import threading

    root = tmp_path / "store"
    (root / "objects").mkdir(parents=True)
    (root / "private").mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_upload_given_by_reference_is_fetched_only_from_the_configured_prefixes(home, corpus, object_store):
    root, url = object_store
    (root / "objects" / "copy.mp4").write_bytes(corpus.film_path.read_bytes())
    (root / "private" / "copy.mp4").write_bytes(corpus.film_path.read_bytes())
    size = corpus.film_path.stat().st_size
    configure(home, f"[server]\nsync_max_bytes = {size - 1}\nobject_url_prefixes = [\"{url}/objects/\"]\n")
    keys = make_keys(home)
    with TestClient(create_app(home)) as client:
        up = auth(keys["uploader"])
        job = client.post("/v1/screening/jobs", headers=up, data={"object_url": f"{url}/objects/copy.mp4",
                                                                   "upload_id": "by-ref"})
        assert job.status_code == 202, job.text
        for _ in range(600):
            done = client.get(f"/v1/screening/jobs/{job.json()['job_id']}", headers=up).json()
            if done["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert done["status"] == "done" and done["result"]["outcome"] == "block", done
        refused = [
            (f"{url}/private/copy.mp4", 403, "forbidden"),  # outside the prefix
            (f"{url}/objects/../private/copy.mp4", 403, "forbidden"),  # climbing out of it
            (f"{url}/objects/%2e%2e/private/copy.mp4", 403, "forbidden"),
            (f"http://user@127.0.0.1:1/objects/copy.mp4", 403, "forbidden"),  # another host
            (f"{url}/objects/missing.mp4", 422, "invalid_input"),  # the store says 404
        ]
        for where, status, code in refused:
            answer = client.post("/v1/screening/jobs", headers=up, data={"object_url": where})
            assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), (where, answer.text)
        # screened while waiting: the object counts against sync_max_bytes, and nothing is kept of it
        answer = client.post("/v1/screening/uploads", headers=up, data={"object_url": f"{url}/objects/copy.mp4"})
        assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
        both = client.post("/v1/screening/jobs", headers=up, data={"object_url": f"{url}/objects/copy.mp4"},
                           files={"file": ("x.mp4", b"x", "video/mp4")})
        assert both.status_code == 422
    received = [p for p in (home / "received").rglob("*") if p.is_file()]
    assert len(received) == 1  # the fetched job's file only: refused fetches leave nothing behind


def test_errors_are_json_with_a_stable_code(served):
    client, keys, home = served
    op = auth(keys["operator"])
    cases = [
        (client.get("/v1/rights/works/nope", headers=op), 404, "not_found"),
        (client.get("/v1/nothing-here", headers=op), 404, "not_found"),
        (client.post("/v1/review/1/decision", headers=op, json={"note": "no outcome"}), 422, "invalid_input"),
        (client.put("/v1/rights/works/film/rules", headers=op, json={"rules": [{"action": "explode"}]}), 422,
         "invalid_input"),
        (client.post("/v1/screening/uploads", headers=op, data={}), 422, "invalid_input"),
        (client.post("/v1/admin/keys", headers=op, json={"name": "olga", "role": "reviewer"}), 409, "conflict"),
        (client.post("/v1/admin/keys", headers=op, json={"name": "x", "role": "uploader"}), 422, "invalid_input"),
    ]
    for answer, status, code in cases:
        assert answer.status_code == status, answer.text
        body = answer.json()["error"]
        assert body["code"] == code and body["message"]
    # an upload's context is checked as a manifest row's, before its body is kept
    body = {"file": ("x.mp4", b"\0" * 1000, "video/mp4")}
    for form, why in (({"upload_id": "a#2"}, "'#'"), ({"declared_use": "because"}, "declared_use"),
                      ({"uploader_id": "u\0"}, "NUL"), ({"upload_id": "x" * 5000}, "longer than"),
                      ({"webhook_url": "https://h.example/", "webhook_secret": "short"}, "webhook_secret")):
        answer = client.post("/v1/screening/jobs", headers=op, data=form, files=body)
        assert answer.status_code == 422 and why in answer.json()["error"]["message"], (form, answer.text)
    assert not [p for p in (home / "received").rglob("*") if p.is_file()]  # nothing kept of refused jobs
    made = client.post("/v1/admin/keys", headers=op, json={"name": "rita", "role": "reviewer"}).json()
    assert made["key"].startswith("psk_") and client.get("/v1/me", headers=auth(made["key"])).json()["name"] == "rita"
    assert "key" not in client.get("/v1/admin/keys", headers=op).json()[0]
    assert client.get("/openapi.json").json()["info"]["title"] == "prescreen"
    assert client.get("/docs").status_code == 200
