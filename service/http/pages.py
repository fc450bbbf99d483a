"""The web pages of ``prescreen serve``: server-rendered (Jinja2), no build step, a little JavaScript.

Signing in with an API key sets an HttpOnly, SameSite=Strict cookie (so another site can neither
read it nor make the browser post a form with it); every page then acts as that key, through the
same capability and ownership checks and the same use cases as the JSON API. Pages by role:
reviewers (and operators) the queue ordered by deadline and one review's evidence with its decision
form; rights holders the claims on their own works; uploaders their own uploads, each decision's
reasons and a dispute form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..access import OPERATOR, REVIEWER, RIGHTS_HOLDER, UPLOADER, Principal
from ..errors import Forbidden, PrescreenError, Unauthenticated
from .api import KEY_COOKIE, Service, evidence_view, current_principal, json_error, need, owned_upload

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
HOME_OF_ROLE = {OPERATOR: "/review", REVIEWER: "/review", RIGHTS_HOLDER: "/claims", UPLOADER: "/uploads"}
SCREENING_OUTCOMES = ("allow", "block", "mute-audio", "track")
DISPUTE_OUTCOMES = ("upheld", "released")


def timeline(duration: float | None, spans: list[tuple[float, float]], width: float = 1000.0) -> dict:
    """Where spans (seconds) fall on a bar of ``width`` units for a timeline of ``duration`` seconds:
    ``{duration, ticks: [(x, label)], spans: [(x, w, start, end)]}`` (an unknown duration: the
    spans' end)."""
    total = max(duration or 0.0, max((e for _, e in spans), default=0.0), 1e-6)
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 1e9) if total / s <= 8)
    ticks = [(t / total * width, f"{t:g}s") for t in range(0, int(total) + 1, int(step))] if step < 1e9 else []
    return {"duration": total, "ticks": ticks,
            "spans": [(a / total * width, max((b - a) / total * width, 2.0), a, b) for a, b in spans]}


def _segment_pairs(item: dict, upload_duration: float | None) -> dict:
    """The two timelines of one matched reference, each segment drawn on both and joined."""
    segs = item["segments"]
    return {"upload": timeline(upload_duration, [(s["upload_start"], s["upload_end"]) for s in segs]),
            "reference": timeline(item.get("reference_duration"), [(s["ref_start"], s["ref_end"]) for s in segs])}


def add_pages(api: FastAPI, service: Service) -> None:
    run = service.run
    api.mount("/static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="static")

    def render(request: Request, name: str, who: Principal | None, status: int = 200, **context: Any):
        return TEMPLATES.TemplateResponse(request, name, {"who": who, "nav": _nav(who), **context},
                                          status_code=status)

    async def signed_in(request: Request) -> Principal:
        return await current_principal(request)

    @api.exception_handler(Unauthenticated)
    async def not_signed_in(request: Request, exc: Unauthenticated):
        if _is_page(request):
            return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)
        return json_error(exc)

    @api.exception_handler(PrescreenError)
    async def page_error(request: Request, exc: PrescreenError):
        if _is_page(request):
            who = getattr(request.state, "who", None)
            return render(request, "error.html", who, exc.http_status, error=exc.as_dict()["error"])
        return json_error(exc)

    @api.get("/", include_in_schema=False)
    async def start(request: Request):
        who = await signed_in(request)
        return RedirectResponse(HOME_OF_ROLE[who.role], status_code=303)

    @api.get("/signin", include_in_schema=False, response_class=HTMLResponse)
    async def signin_form(request: Request, next: str = "/"):  # noqa: A002 - the query parameter's name
        return render(request, "signin.html", None, next=_local(next))

    @api.post("/signin", include_in_schema=False)
    async def signin(request: Request, key: str = Form(""), next: str = Form("/")):  # noqa: A002
        try:
            who = await run(lambda app: app.authenticate(key.strip()))
        except Unauthenticated as exc:
            return render(request, "signin.html", None, 401, next=_local(next), error=str(exc))
        target = _local(next)
        answer = RedirectResponse(HOME_OF_ROLE[who.role] if target == "/" else target, status_code=303)
        answer.set_cookie(KEY_COOKIE, key.strip(), max_age=int(service.config.server.session_hours * 3600),
                          httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
        return answer

    @api.post("/signout", include_in_schema=False)
    async def signout():
        answer = RedirectResponse("/signin", status_code=303)
        answer.delete_cookie(KEY_COOKIE, path="/")
        return answer

    # -- reviewers -----------------------------------------------------------------------
    @api.get("/review", include_in_schema=False, response_class=HTMLResponse)
    async def queue_page(request: Request, decided: int | None = None):
        who = request.state.who = await signed_in(request)
        need(who, "reviews")
        entries = await run(lambda app: app.reviews(pending_only=True))
        return render(request, "queue.html", who, entries=entries, decided=decided)

    @api.get("/review/{review_id}", include_in_schema=False, response_class=HTMLResponse)
    async def review_page(request: Request, review_id: int):
        who = request.state.who = await signed_in(request)
        need(who, "reviews")
        evidence = evidence_view(await run(lambda app: app.review_evidence(review_id)), review_id)
        duration = evidence["upload"].get("duration")
        for item in evidence["evidence"]:
            item["timelines"] = _segment_pairs(item, duration)
        kind = evidence["review"]["kind"]
        return render(request, "review.html", who, ev=evidence,
                      outcomes=DISPUTE_OUTCOMES if kind == "dispute" else SCREENING_OUTCOMES)

    @api.post("/review/{review_id}", include_in_schema=False)
    async def decide_page(request: Request, review_id: int, outcome: str = Form(""), note: str = Form("")):
        who = request.state.who = await signed_in(request)
        need(who, "reviews")
        await run(lambda app: app.decide_review(review_id, who.name, outcome, note))
        return RedirectResponse(f"/review?decided={review_id}", status_code=303)

    # -- rights holders ------------------------------------------------------------------
    @api.get("/claims", include_in_schema=False, response_class=HTMLResponse)
    async def claims_page(request: Request):
        who = request.state.who = await signed_in(request)
        need(who, "claims")
        owner = who.subject if who.role == RIGHTS_HOLDER else None
        claims = await run(lambda app: app.claims(owner))
        works = {w.work_id: w for w in await run(lambda app: app.works()) if owner is None or w.owner == owner}
        lines = [timeline(works[c.work_id].seconds if c.work_id in works else None,
                          [(s["ref_start"], s["ref_end"]) for s in c.segments]) for c in claims]
        return render(request, "claims.html", who, rows=list(zip(claims, lines)), works=works)

    # -- uploaders -----------------------------------------------------------------------
    @api.get("/uploads", include_in_schema=False, response_class=HTMLResponse)
    async def uploads_page(request: Request):
        who = request.state.who = await signed_in(request)
        need(who, "uploads.read")
        mine = who.subject if who.role == UPLOADER else None
        return render(request, "uploads.html", who, uploads=await run(lambda app: app.uploads(None, mine, 200)))

    @api.get("/uploads/{upload_id}", include_in_schema=False, response_class=HTMLResponse)
    async def upload_page(request: Request, upload_id: str, filed: int | None = None):
        who = request.state.who = await signed_in(request)
        status = await owned_upload(service, who, upload_id)
        spans = [(s["upload_start"], s["upload_end"]) for m in status.matches for s in m.get("segments", [])]
        return render(request, "upload.html", who, up=status, line=timeline(status.duration, spans), filed=filed,
                      may_dispute=who.can("dispute") and who.role == UPLOADER)

    @api.post("/uploads/{upload_id}/dispute", include_in_schema=False)
    async def dispute_page(request: Request, upload_id: str, reason: str = Form("")):
        who = request.state.who = await signed_in(request)
        need(who, "dispute")
        if who.role != UPLOADER:
            raise Forbidden(f"a {who.role} key may not file a dispute on this page: the uploader of record does "
                            "(operators: the API, naming uploader_id)")
        await owned_upload(service, who, upload_id)
        filed = await run(lambda app: app.dispute(upload_id, reason.strip(), who.subject))
        return RedirectResponse(f"/uploads/{quote(upload_id)}?filed={filed.dispute_id}", status_code=303)


def _nav(who: Principal | None) -> list[tuple[str, str]]:
    if who is None:
        return []
    links = [("/review", "Review queue", "reviews"), ("/claims", "Claims", "claims"),
             ("/uploads", "Uploads", "uploads.read")]
    return [(href, label) for href, label, cap in links if who.can(cap)]


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/v1") or path in ("/healthz", "/openapi.json") or path.startswith("/docs"))


def _local(target: str) -> str:
    """A redirect target on this site only (never another host: no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


__all__ = ["add_pages", "timeline"]
