"""The HTTP API of ``prescreen serve``: the application layer's use cases over REST, with API keys and roles.

Thin: each endpoint checks who may act (:mod:`service.access`), narrows what a rights holder or an
uploader sees to their own, calls one use case of :class:`service.app.App` on a worker of the pool,
and returns its record as JSON. Errors are ``{"error": {"code", "message", ...}}`` with the status of
the application layer's error class (401, 403, 404, 409, 413, 422, 503; 500 only for a bug, whose
traceback goes to the operators' log).

URL prefixes split the roles' areas (as Meta's hasher-matcher-actioner splits hashing, matching and
curation): ``/v1/screening`` (uploads, jobs, disputes: the platform's pipeline and its uploaders),
``/v1/review`` (the reviewers' queue), ``/v1/rights`` (works, notices and claims of rights holders),
``/v1/admin`` (keys, audit, index: operators); ``/v1/me`` and ``/v1/report`` for every key.
Operators may do everything.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Callable

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..access import RIGHTS_HOLDER, UPLOADER, Principal
from ..app import App
from ..config import Config, load_config
from ..engine import Clock, resolve_home, system_clock
from ..errors import Forbidden, InvalidInput, NotFound, PrescreenError, TooLarge, Unavailable
from ..oplog import log_failure
from .runtime import AppPool, BodyLimit, JobRunner

API_PREFIX = "/v1"
SYNC_PATH = f"{API_PREFIX}/screening/uploads"
KEY_COOKIE = "prescreen_key"
JOB_POLL_SECONDS = 0.2


def send_webhook(timeout: float) -> Callable[[str, dict, bytes], None]:
    """A webhook sender over httpx: raises on a network failure or a non-2xx answer."""
    import httpx

    def send(url: str, headers: dict, body: bytes) -> None:
        answer = httpx.post(url, content=body, headers=headers, timeout=timeout, follow_redirects=False)
        if not 200 <= answer.status_code < 300:
            raise RuntimeError(f"the webhook answered {answer.status_code}")

    return send


class Service:
    """The server's state: the request workers, the job runner, the settings."""

    def __init__(self, home: Path, config: Config, catalog: str | None, clock: Clock, create: bool,
                 webhook_sender: Callable[[str, dict, bytes], None] | None):
        self.home, self.config, self.catalog, self.clock = home, config, catalog, clock
        if create:  # (explicit: a server never starts a catalog by mistake)
            App.open(home, config, create=True, clock=clock, catalog=catalog).close()
        else:
            App.open(home, config, clock=clock, catalog=catalog).close()  # fails now, not on the first request
        params = config.server
        self.pool = AppPool(self.open_app, params.workers)
        self.runner = JobRunner(self.open_app, params.job_workers,
                                webhook_sender or send_webhook(params.webhook_timeout_seconds), home)

    def open_app(self) -> App:
        return App.open(self.home, self.config, clock=self.clock, catalog=self.catalog)

    async def run(self, fn: Callable[[App], Any]) -> Any:
        return await self.pool.run(fn)

    def close(self) -> None:
        """Stop the job runner and the request workers (once; a second call does nothing)."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        self.runner.close()
        self.pool.close()


# -- request bodies --------------------------------------------------------------------------
class RulesBody(BaseModel):
    rules: list[dict] = Field(description="the work's own rules ([] clears them); see `prescreen works rules`")


class PriorityBody(BaseModel):
    priority: bool


class ExclusionBody(BaseModel):
    start: float = Field(description="reference seconds")
    end: float = Field(description="reference seconds")
    reason: str = Field(min_length=1, max_length=2000)
    ref_id: int | None = None


class NoticeBody(BaseModel):
    upload_id: str = Field(min_length=1, max_length=500, description="the published upload noticed")
    start: float | None = Field(None, description="upload seconds kept (with end): only that part joins the work")
    end: float | None = None
    modalities: list[str] = ["video", "audio"]


class DecisionBody(BaseModel):
    outcome: str = Field(description="allow, block, mute-audio, track (screening); upheld or released (dispute)")
    note: str = Field("", max_length=5000)


class DisputeBody(BaseModel):
    reason: str = Field(min_length=1, max_length=5000)
    uploader_id: str | None = Field(None, description="operators only: the uploader of record they act for")


class KeyBody(BaseModel):
    name: str
    role: str
    subject: str | None = None


# -- the app ---------------------------------------------------------------------------------
def create_app(home: str | os.PathLike | None = None, config: Config | str | os.PathLike | None = None, *,
               catalog: str | None = None, clock: Clock = system_clock, create: bool = False,
               webhook_sender: Callable[[str, dict, bytes], None] | None = None) -> FastAPI:
    """The FastAPI application over the data folder ``home`` (and its catalog). ``create``: make the
    catalog if there is none; otherwise a folder without one is refused (InvalidInput)."""
    folder = resolve_home(home)
    if config is None:
        config = load_config(folder / "config.toml" if (folder / "config.toml").is_file() else None)
    elif not isinstance(config, Config):
        config = load_config(config)
    service = Service(folder, config, catalog, clock, create, webhook_sender)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        try:
            yield
        finally:
            await asyncio.to_thread(service.close)

    api = FastAPI(title="prescreen", version="1",
                  description="Content-fingerprint pre-upload filter: register works, screen uploads, review, "
                              "dispute. Send an API key as `Authorization: Bearer <key>` (`prescreen keys create`).",
                  lifespan=lifespan)
    api.state.service = service
    _errors(api, service)
    _routes(api, service)
    from .pages import add_pages  # (after the API: the pages import its checks)

    add_pages(api, service)
    sync, body = config.server.sync_max_bytes, config.server.max_body_bytes
    api.add_middleware(BodyLimit, limit_for=lambda path, method: sync if path == SYNC_PATH else body)
    return api


def _errors(api: FastAPI, service: Service) -> None:
    @api.exception_handler(PrescreenError)
    async def prescreen_error(_request: Request, exc: PrescreenError):
        return json_error(exc)

    @api.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError):
        fields = [{"where": ".".join(str(p) for p in e.get("loc", ())), "why": e.get("msg", "")}
                  for e in exc.errors()]
        return JSONResponse({"error": {"code": "invalid_input", "message": "the request is not valid: " + "; ".join(
            f"{f['where']}: {f['why']}" for f in fields), "fields": fields}}, status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code)

    @api.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):
        log_failure(service.home, f"the HTTP service failed on {request.method} {request.url.path}", exc)
        return JSONResponse({"error": {"code": "internal", "message": "prescreen failed on this request; the "
                                       "operators' log (<home>/logs/prescreen.log) has the details"}}, status_code=500)


def json_error(exc: PrescreenError) -> JSONResponse:
    """An application-layer error as the API answers it: ``{"error": {"code", "message"}}``, its status."""
    return JSONResponse(exc.as_dict(), status_code=exc.http_status)


def request_key(request: Request) -> str | None:
    """The API key of a request: ``Authorization: Bearer``, ``X-API-Key``, or the pages' cookie."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key") or request.cookies.get(KEY_COOKIE)


async def current_principal(request: Request) -> Principal:
    """Who the request acts as (401 without a valid key)."""
    key = request_key(request)
    return await request.app.state.service.run(lambda app: app.authenticate(key))


Who = Annotated[Principal, Depends(current_principal)]


def need(who: Principal, capability: str) -> None:
    """Forbidden unless the key's role has ``capability`` (service.access.CAPABILITIES)."""
    if not who.can(capability):
        raise Forbidden(f"a {who.role} key may not do this ({capability})")


async def owned_work(service: Service, who: Principal, work_id: str) -> None:
    """A rights holder acts on their own works only (another owner's work does not exist for them)."""
    need(who, "works")
    if who.role == RIGHTS_HOLDER:
        work = await service.run(lambda app: app.work(work_id))
        if work.owner != who.subject:
            raise NotFound(f"no work with id {work_id!r}")


async def owned_upload(service: Service, who: Principal, upload_id: str):
    """An upload's status; an uploader sees its own uploads only (another's does not exist for it)."""
    need(who, "uploads.read")
    status = await service.run(lambda app: app.upload(upload_id))
    if who.role == UPLOADER and status.uploader_id != who.subject:
        raise NotFound(f"no upload with id {upload_id!r}")
    return status


def _routes(api: FastAPI, service: Service) -> None:
    run = service.run

    def own_work(who: Principal, work_id: str):
        return owned_work(service, who, work_id)

    def own_upload(who: Principal, upload_id: str):
        return owned_upload(service, who, upload_id)

    def confined(who: Principal, path: str) -> Path:
        """A server-side path an operator named: only inside ``[server] path_roots``."""
        need(who, "paths")
        real = Path(os.path.realpath(path))
        roots = [Path(os.path.realpath(r)) for r in service.config.server.path_roots]
        if not any(real == r or r in real.parents for r in roots):
            raise Forbidden(f"{path!r} is not inside a folder of [server] path_roots"
                            + ("" if roots else " (none is configured: files arrive as request bodies)"))
        return real

    async def fetched(url: str, limit: int) -> Path:
        """An upload given by reference: fetched from under ``[server] object_url_prefixes`` only."""
        params = service.config.server
        if not url_under(url, params.object_url_prefixes):
            raise Forbidden(f"{url!r} is not under a prefix of [server] object_url_prefixes"
                            + ("" if params.object_url_prefixes else " (none is configured)"))
        target = await run(lambda app: app.received_path(url.rsplit("/", 1)[-1].split("?")[0] or "object"))
        await asyncio.to_thread(fetch_object, url, target, limit, params.object_fetch_seconds)
        return target

    async def receive(files: list[UploadFile]) -> list[Path]:
        paths = []
        for f in files:
            target = await run(lambda app: app.received_path(f.filename or "upload"))
            await asyncio.to_thread(_copy, f, target)
            paths.append(target)
        return paths

    # -- everyone ------------------------------------------------------------------------
    @api.get("/healthz", tags=["service"])
    async def healthz():
        """Liveness: no key needed."""
        return {"status": "ok"}

    @api.get(f"{API_PREFIX}/me", tags=["service"])
    async def me(who: Who):
        """The key's name, role and subject."""
        return {"name": who.name, "role": who.role, "subject": who.subject}

    @api.get(f"{API_PREFIX}/report", tags=["service"])
    async def report(who: Who):
        """The transparency report (every role)."""
        need(who, "report")
        rep = await run(lambda app: app.report())
        return rep.figures

    # -- screening -----------------------------------------------------------------------
    async def submit(who: Who, file: UploadFile | None, path: str | None, object_url: str | None,
                     upload_id: str | None, uploader_id: str | None, declared_use: str | None,
                     webhook_url: str | None, webhook_secret: str | None, limit: int):
        need(who, "screen")
        ctx = App.upload_context(upload_id, uploader_id, declared_use)  # (checked before a body is kept)
        if sum(x is not None for x in (file, path, object_url)) != 1:
            raise InvalidInput("give the upload as `file` (a multipart body), as `object_url` (a URL under "
                               "[server] object_url_prefixes) or, operators, as a server-side `path`")
        if who.role == UPLOADER:
            if ctx.uploader_id not in (None, who.subject):
                raise Forbidden("an uploader key screens its own uploads only (leave uploader_id out)")
            ctx = App.upload_context(ctx.upload_id, who.subject, ctx.declared_use)
        prefixes = service.config.server.webhook_url_prefixes
        if webhook_url is not None and not who.is_operator and not url_under(webhook_url, prefixes):
            raise Forbidden(f"webhook_url {webhook_url[:200]!r} is not under a prefix of [server] webhook_url_prefixes"
                            + ("" if prefixes else " (none is configured: only operator keys give webhooks)"))
        if path is not None:
            target, stored = confined(who, path), False
        elif object_url is not None:
            target, stored = await fetched(object_url, limit), True
        else:
            [target], stored = await receive([file]), True
        try:
            job = await run(lambda app: app.submit_job(target, ctx, who.name, stored=stored, webhook_url=webhook_url,
                                                       webhook_secret=webhook_secret))
        except BaseException:
            if stored:  # (a refused job keeps nothing of its body)
                target.unlink(missing_ok=True)
            raise
        service.runner.wake()
        return job

    @api.post(SYNC_PATH, tags=["screening"], responses={202: {"description": "still running: poll the job"}})
    async def screen_upload(who: Who, file: UploadFile | None = File(None), path: str | None = Form(None),
                            object_url: str | None = Form(None), upload_id: str | None = Form(None),
                            uploader_id: str | None = Form(None), declared_use: str | None = Form(None)):
        """Screen one upload while the request waits (bodies or objects up to ``[server] sync_max_bytes``;
        give ``file``, ``object_url`` or, operators, a server-side ``path``): the job,
        done, with the decision as ``result``; 202 with the job if it takes longer than
        ``[server] sync_wait_seconds``."""
        job = await submit(who, file, path, object_url, upload_id, uploader_id, declared_use, None, None,
                           service.config.server.sync_max_bytes)
        deadline = asyncio.get_running_loop().time() + service.config.server.sync_wait_seconds
        while job.status in ("queued", "running"):
            if asyncio.get_running_loop().time() >= deadline:
                return JSONResponse(job.as_dict(), status_code=202)
            await asyncio.sleep(JOB_POLL_SECONDS)
            job = await run(lambda app: app.job(job.job_id))
        return job.as_dict()

    @api.post(f"{API_PREFIX}/screening/jobs", tags=["screening"], status_code=202)
    async def screen_job(who: Who, file: UploadFile | None = File(None), path: str | None = Form(None),
                         object_url: str | None = Form(None), upload_id: str | None = Form(None),
                         uploader_id: str | None = Form(None),
                         declared_use: str | None = Form(None), webhook_url: str | None = Form(None),
                         webhook_secret: str | None = Form(None)):
        """Queue one upload of any size (up to ``[server] max_body_bytes``); poll ``GET
        /v1/screening/jobs/{job_id}`` or give a webhook, called with the decision (signed: header
        ``X-Prescreen-Signature: sha256=HMAC(secret, timestamp + "." + body)``)."""
        job = await submit(who, file, path, object_url, upload_id, uploader_id, declared_use, webhook_url,
                           webhook_secret, service.config.server.max_body_bytes)
        return job.as_dict()

    async def visible_job(who: Principal, job_id: str):
        need(who, "screen")
        job = await run(lambda app: app.job(job_id))
        if not who.is_operator and job.submitted_by != who.name:
            raise NotFound(f"no job with id {job_id!r}")
        return job

    @api.get(f"{API_PREFIX}/screening/jobs/{{job_id}}", tags=["screening"])
    async def get_job(who: Who, job_id: str):
        """A job's status; once done, the decision as ``result``."""
        return (await visible_job(who, job_id)).as_dict()

    @api.get(f"{API_PREFIX}/screening/jobs", tags=["screening"])
    async def list_jobs(who: Who, status: str | None = None, limit: int = Query(100, ge=1, le=1000)):
        """Jobs, newest first (an uploader's: its own)."""
        need(who, "screen")
        mine = None if who.is_operator else who.name
        return [j.as_dict() for j in await run(lambda app: app.jobs(status, mine, limit))]

    @api.get(f"{API_PREFIX}/screening/uploads", tags=["screening"])
    async def list_uploads(who: Who, outcome: str | None = None, limit: int = Query(50, ge=1, le=1000)):
        """Screened uploads, newest first (an uploader's: its own)."""
        need(who, "uploads.read")
        uploader = who.subject if who.role == UPLOADER else None
        return [u.as_dict() for u in await run(lambda app: app.uploads(outcome, uploader, limit))]

    @api.get(f"{API_PREFIX}/screening/uploads/{{upload_id}}", tags=["screening"])
    async def get_upload(who: Who, upload_id: str):
        """One upload: outcome, reasons, matched works, segments on both timelines, reviews, disputes,
        its audit history."""
        return (await own_upload(who, upload_id)).as_dict()

    @api.post(f"{API_PREFIX}/screening/uploads/{{upload_id}}/disputes", tags=["screening"], status_code=201)
    async def dispute(who: Who, upload_id: str, body: DisputeBody):
        """The uploader of record disputes a restriction: it goes to review with a deadline."""
        need(who, "dispute")
        if who.role == UPLOADER:
            if body.uploader_id not in (None, who.subject):
                raise Forbidden("an uploader key disputes its own uploads only")
            await own_upload(who, upload_id)
            uploader = who.subject
        else:
            if not body.uploader_id:
                raise InvalidInput("an operator filing a dispute names the uploader of record (uploader_id)")
            uploader = body.uploader_id
        return (await run(lambda app: app.dispute(upload_id, body.reason, uploader))).as_dict()

    # -- review --------------------------------------------------------------------------
    @api.get(f"{API_PREFIX}/review/queue", tags=["review"])
    async def queue(who: Who, all: bool = False):  # noqa: A002 - the query parameter's name
        """The review queue, most urgent first (``all``: decided ones too)."""
        need(who, "reviews")
        return [r.as_dict() for r in await run(lambda app: app.reviews(pending_only=not all))]

    @api.get(f"{API_PREFIX}/review/{{review_id}}", tags=["review"])
    async def review(who: Who, review_id: int):
        """A review's evidence: the upload, reasons, dispute, and per matched reference its segments with
        key-frame thumbnails (``thumbnails``: URLs)."""
        need(who, "reviews")
        return evidence_view(await run(lambda app: app.review_evidence(review_id)), review_id)

    @api.get(f"{API_PREFIX}/review/{{review_id}}/files/{{name}}", tags=["review"])
    async def review_file(who: Who, review_id: int, name: str):
        """A file of a review's evidence (a thumbnail or spectrogram PNG, an audio excerpt WAV)."""
        need(who, "reviews")
        folder = service.home / "evidence" / f"review-{review_id}"
        target = folder / name
        if "/" in name or name.startswith(".") or not target.is_file():
            raise NotFound(f"review {review_id} has no evidence file {name!r}")
        return FileResponse(target)

    @api.post(f"{API_PREFIX}/review/{{review_id}}/decision", tags=["review"])
    async def decide(who: Who, review_id: int, body: DecisionBody):
        """A reviewer's decision; it applies to the upload at once."""
        need(who, "reviews")
        return (await run(lambda app: app.decide_review(review_id, who.name, body.outcome, body.note))).as_dict()

    # -- rights holders ------------------------------------------------------------------
    @api.post(f"{API_PREFIX}/rights/works", tags=["rights"], status_code=201)
    async def register(who: Who, work_id: str = Form(...), title: str = Form(""), owner: str | None = Form(None),
                       files: list[UploadFile] | None = File(None), paths: list[str] | None = Form(None)):
        """Register a work's reference files (multipart ``files``; operators: server-side ``paths``). A
        rights holder's works carry its owner name."""
        need(who, "works")
        if who.role == RIGHTS_HOLDER:
            if owner not in (None, who.subject):
                raise Forbidden("a rights holder key registers works of its own owner only (leave owner out)")
            owner = who.subject
        if bool(files) == bool(paths):
            raise InvalidInput("give the reference files as `files` (multipart) or, operators, as server-side `paths`")
        targets = [confined(who, p) for p in paths] if paths else await receive(files or [])
        res = await run(lambda app: app.register(targets, work_id, title, owner or "", actor=who.name))
        return _plain(res)

    @api.get(f"{API_PREFIX}/rights/works", tags=["rights"])
    async def works(who: Who):
        """Registered works (a rights holder's: its own)."""
        need(who, "works")
        listed = await run(lambda app: app.works())
        return [w.as_dict() for w in listed if who.role != RIGHTS_HOLDER or w.owner == who.subject]

    @api.get(f"{API_PREFIX}/rights/works/{{work_id}}", tags=["rights"])
    async def work(who: Who, work_id: str):
        await own_work(who, work_id)
        return (await run(lambda app: app.work(work_id))).as_dict()

    @api.delete(f"{API_PREFIX}/rights/works/{{work_id}}", tags=["rights"])
    async def remove(who: Who, work_id: str):
        """Remove a work: its blocks are released, its pending reviews withdrawn."""
        await own_work(who, work_id)
        return (await run(lambda app: app.remove_work(work_id, actor=who.name))).as_dict()

    @api.put(f"{API_PREFIX}/rights/works/{{work_id}}/rules", tags=["rights"])
    async def rules(who: Who, work_id: str, body: RulesBody):
        await own_work(who, work_id)
        return (await run(lambda app: app.set_rules(work_id, body.rules, actor=who.name))).as_dict()

    @api.put(f"{API_PREFIX}/rights/works/{{work_id}}/priority", tags=["rights"])
    async def priority(who: Who, work_id: str, body: PriorityBody):
        """Operators only: a priority work is held to the stricter thresholds of ``[policy.priority]``."""
        need(who, "works.priority")
        return (await run(lambda app: app.set_priority(work_id, body.priority, actor=who.name))).as_dict()

    @api.post(f"{API_PREFIX}/rights/works/{{work_id}}/exclusions", tags=["rights"], status_code=201)
    async def exclude(who: Who, work_id: str, body: ExclusionBody):
        await own_work(who, work_id)
        return (await run(lambda app: app.exclude(work_id, body.start, body.end, body.reason, actor=who.name,
                                                  ref_id=body.ref_id))).as_dict()

    @api.delete(f"{API_PREFIX}/rights/works/{{work_id}}/exclusions/{{exclusion_id}}", tags=["rights"])
    async def unexclude(who: Who, work_id: str, exclusion_id: int, reason: str = Query(..., min_length=1)):
        await own_work(who, work_id)
        return (await run(lambda app: app.unexclude(work_id, exclusion_id, reason, actor=who.name))).as_dict()

    @api.put(f"{API_PREFIX}/rights/works/{{work_id}}/licences/{{uploader_id}}", tags=["rights"])
    async def grant(who: Who, work_id: str, uploader_id: str):
        await own_work(who, work_id)
        return (await run(lambda app: app.license(work_id, uploader_id, True, actor=who.name))).as_dict()

    @api.delete(f"{API_PREFIX}/rights/works/{{work_id}}/licences/{{uploader_id}}", tags=["rights"])
    async def revoke(who: Who, work_id: str, uploader_id: str):
        await own_work(who, work_id)
        return (await run(lambda app: app.license(work_id, uploader_id, False, actor=who.name))).as_dict()

    @api.post(f"{API_PREFIX}/rights/works/{{work_id}}/notices", tags=["rights"], status_code=201)
    async def notice(who: Who, work_id: str, body: NoticeBody):
        """A takedown notice for a published upload: it is blocked and its seconds join the work."""
        await own_work(who, work_id)
        if (body.start is None) != (body.end is None):
            raise InvalidInput("give both start and end (upload seconds), or neither")
        span = None if body.start is None else (body.start, body.end)
        return (await run(lambda app: app.notice(work_id, body.upload_id, actor=who.name, span=span,
                                                 modalities=tuple(body.modalities)))).as_dict()

    @api.get(f"{API_PREFIX}/rights/claims", tags=["rights"])
    async def claims(who: Who, owner: str | None = None, limit: int = Query(200, ge=1, le=5000)):
        """Uploads that matched works: a rights holder's own works only (operators: all, or ``owner``'s)."""
        need(who, "claims")
        if who.role == RIGHTS_HOLDER:
            if owner not in (None, who.subject):
                raise Forbidden("a rights holder key sees the claims on its own works only")
            owner = who.subject
        return [c.as_dict() for c in await run(lambda app: app.claims(owner, limit))]

    # -- operators -----------------------------------------------------------------------
    @api.get(f"{API_PREFIX}/admin/keys", tags=["admin"])
    async def keys(who: Who):
        need(who, "keys")
        return [k.as_dict() for k in await run(lambda app: app.keys())]

    @api.post(f"{API_PREFIX}/admin/keys", tags=["admin"], status_code=201)
    async def create_key(who: Who, body: KeyBody):
        """A new key: ``key`` is shown in this answer only."""
        need(who, "keys")
        made = await run(lambda app: app.create_key(body.name, body.role, body.subject, actor=who.name))
        return {"key": made.key, **made.record.as_dict()}

    @api.delete(f"{API_PREFIX}/admin/keys/{{name}}", tags=["admin"])
    async def revoke_key(who: Who, name: str):
        need(who, "keys")
        return (await run(lambda app: app.revoke_key(name, actor=who.name))).as_dict()

    @api.get(f"{API_PREFIX}/admin/audit", tags=["admin"])
    async def audit(who: Who, upload_id: str | None = None, work_id: str | None = None, action: str | None = None):
        need(who, "audit")
        return [r.as_dict() for r in await run(lambda app: app.audit_log(upload_id, work_id, action))]

    @api.get(f"{API_PREFIX}/admin/audit/verify", tags=["admin"])
    async def verify(who: Who, head: str | None = None):
        """Check the keyed chain (and, given a head kept elsewhere, that the log still holds it)."""
        need(who, "audit")
        return (await run(lambda app: app.verify_audit(head))).as_dict()

    @api.get(f"{API_PREFIX}/admin/index", tags=["admin"])
    async def index(who: Who):
        need(who, "index")
        return (await run(lambda app: app.index_stats())).as_dict()


def url_under(url: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``url`` is under one of ``prefixes`` (each ``scheme://host/path/``): the same scheme and
    host, and no ``..`` segment (plain or percent-encoded) that could climb out of the prefix's path."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        return False
    if ".." in unquote(parts.path).split("/") or "\\" in url:
        return False
    return any(url.startswith(p) for p in prefixes)


def fetch_object(url: str, target: Path, limit: int, seconds: float) -> None:
    """Stream the object at ``url`` into the new file ``target``: at most ``limit`` bytes (TooLarge)
    and ``seconds`` in all (Unavailable); no redirects (they could leave the allowed prefixes). A
    failed fetch leaves no file."""
    import time

    import httpx

    deadline = time.monotonic() + seconds
    try:
        with httpx.stream("GET", url, timeout=min(seconds, 60.0), follow_redirects=False) as answer:
            if answer.status_code != 200:
                raise InvalidInput(f"the object at {url!r} could not be fetched: its server answered "
                                   f"{answer.status_code}")
            declared = answer.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise TooLarge(f"the object is {int(declared)} bytes, more than the {limit} allowed")
            got = 0
            with open(target, "xb") as out:
                for chunk in answer.iter_bytes(1 << 20):
                    got += len(chunk)
                    if got > limit:
                        raise TooLarge(f"the object is more than the {limit} bytes allowed")
                    if time.monotonic() > deadline:
                        raise Unavailable(f"fetching the object took longer than {seconds:g} s "
                                          "([server] object_fetch_seconds)")
                    out.write(chunk)
    except httpx.HTTPError as exc:
        target.unlink(missing_ok=True)
        raise Unavailable(f"the object at {url!r} could not be fetched ({type(exc).__name__})") from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _copy(upload: UploadFile, target: Path) -> None:
    upload.file.seek(0)
    with open(target, "xb") as out:
        shutil.copyfileobj(upload.file, out, 1 << 20)


def _plain(record) -> dict:
    """A record of the layers below as JSON (their ``as_dict``)."""
    return record.as_dict() if hasattr(record, "as_dict") else dict(record)


def evidence_view(evidence, review_id: int) -> dict:
    out = evidence.as_dict()
    url = f"{API_PREFIX}/review/{review_id}/files/"
    for item in out["evidence"]:
        item["thumbnails"] = [url + Path(p).name for p in item["thumbnails"]]
        for excerpt in item["audio"]:
            excerpt.update({k: url + Path(excerpt[k]).name for k in ("upload", "reference", "spectrogram")})
        for seg in item["segments"]:
            seg["thumbnail"] = url + Path(seg["thumbnail"]).name if seg["thumbnail"] else None
            seg["audio"] = {k: url + Path(p).name for k, p in seg["audio"].items()} if seg["audio"] else None
    return out


__all__ = ["API_PREFIX", "KEY_COOKIE", "create_app", "request_key"]
