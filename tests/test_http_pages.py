"""The web pages in a real browser: headless Chromium (Debian's ``chromium``, driven by Playwright)
against ``prescreen serve``'s application on a loopback port.

A reviewer signs in with a key, opens the most urgent review, sees the matched segments drawn on both
timelines, the side-by-side key frames and, for an audio match, the spectrograms and excerpts to play,
decides by keyboard and sees the review leave the queue; an uploader sees its decision with the reasons
and files a dispute; a rights holder sees the claims on its works. Every page is also checked at phone
width (no sideways scrolling). A screenshot of each page goes to ``$PRESCREEN_TEST_OUTPUT/screenshots``
(default ``test-output/screenshots``).

Chromium is ``$PRESCREEN_TEST_CHROMIUM`` or ``chromium`` on PATH (``.ci/run`` installs it); without it
these tests skip, saying so, and CI turns that skip into a failure."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import SERVICE_MISSING, copy_home

import mediagen as mg
from mediagen import transforms as tf
from policy import UploadContext
from service.app import App
from service.http import create_app

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
OUTPUT = Path(os.environ.get("PRESCREEN_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "test-output"))


def chromium_path() -> str:
    path = os.environ.get("PRESCREEN_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip(f"{SERVICE_MISSING} no Chromium for the browser tests (set PRESCREEN_TEST_CHROMIUM or put "
                    "Debian's chromium on PATH; .ci/run installs it)")
    return path


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api", reason=f"{SERVICE_MISSING} playwright is not installed")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


class LiveServer:
    """The service's application under uvicorn on a free loopback port, in a thread."""

    def __init__(self, home: Path):
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(create_app(home), host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture()
def site(registered_home, tmp_path, corpus):
    """A served data folder with: a full copy of the film by uploader uma (block), a voice over the song
    by uma (review: audio under other sound), and keys for a reviewer, uma and Studio A."""
    home = copy_home(registered_home, tmp_path / "home")
    speech = mg.synth_speech(seed=11, duration=30.0, sample_rate=corpus.song.sample_rate, use_espeak=False)
    talk = mg.Media(None, 25.0, speech, corpus.song.sample_rate)
    voice = corpus.write("pages_voice_over_song.m4a", tf.mix_audio(talk, tf.excerpt(corpus.song, 5.0, 35.0).audio,
                                                                   snr_db=3.0))
    with App.open(home) as app:
        keys = {name: app.create_key(name, role, subject).key for name, role, subject in
                (("rita", "reviewer", None), ("uma", "uploader", "uma"), ("studio-a", "rights_holder", "Studio A"))}
        items = [(str(corpus.film_path), corpus.film_path, UploadContext("film-copy", "uma", None)),
                 (str(voice), voice, UploadContext("podcast", "uma", None))]
        results = {r.upload_id: r.decision.outcome for r in app.screen(items)}
    assert results == {"film-copy": "block", "podcast": "review"}, results
    server = LiveServer(home)
    yield server, keys
    server.close()


def shoot(page, name: str) -> None:
    """A screenshot of the whole page, and the same page at phone width: readable without sideways
    scrolling."""
    folder = OUTPUT / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    wide = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(folder / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    assert wide <= PHONE["width"], f"{name}: {wide} px wide at phone width"


def sign_in(browser, server: LiveServer, key: str):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(server.url + "/")
    assert page.url.startswith(server.url + "/signin")  # not signed in: sent to sign in
    page.fill("#key", "psk_notakey_" + "x" * 40)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "key" in page.inner_text("[role=alert]")  # refused, saying why
    page.fill("#key", key)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    cookie = next(c for c in context.cookies() if c["name"] == "prescreen_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    return context, page


def loaded_images(page, selector: str) -> int:
    """How many of the images ``selector`` finds are loaded, once each is scrolled into view (the page
    loads them lazily) and at least one has loaded (or 20 s have passed)."""
    for k in range(page.locator(selector).count()):
        page.locator(selector).nth(k).scroll_into_view_if_needed()
    count = f"[...document.querySelectorAll('{selector}')].filter(i => i.complete && i.naturalWidth > 0).length"
    try:
        page.wait_for_function(f"{count} > 0", timeout=20_000)
    except Exception:  # playwright's TimeoutError: none loaded, which the caller's assertion reports
        pass
    return page.evaluate(count)


def test_a_reviewer_decides_the_most_urgent_review_by_keyboard(browser, site):
    server, keys = site
    context, page = sign_in(browser, server, keys["rita"])
    assert page.url == server.url + "/review"
    shoot(page, "review-queue")
    dues = page.eval_on_selector_all("table.queue time", "els => els.map(e => e.getAttribute('datetime'))")
    assert len(dues) == 1 and dues == sorted(dues)  # the podcast's screening review
    first = page.locator("a.open-review").first
    review_id = first.inner_text().split()[-1]
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/review/{review_id}")
    assert "audio-under-other-sound" in page.inner_text("main")
    # the matched segment on both timelines, the spectrograms of both and the excerpts to play
    assert page.locator(".timeline.upload rect.seg").count() >= 1
    assert page.locator(".timeline.reference rect.seg").count() >= 1
    assert loaded_images(page, "img.spectrogram") >= 1
    audio = page.locator("audio").first.get_attribute("src")
    assert context.request.get(server.url + audio).headers["content-type"].startswith("audio/")
    shoot(page, "review-audio")
    # decide by keyboard: the outcome, a note, submit
    page.focus("input[name=outcome][value=allow]")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.type("quoted under commentary: fair use")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/review?decided=*")
    assert f"Review {review_id} decided" in page.inner_text("[role=status]")
    assert page.locator("a.open-review").count() == 0 and "Nothing to review" in page.inner_text("main")
    shoot(page, "review-queue-after")
    with App.open(Path(server.server.config.app.state.service.home)) as app:
        decided = app.review_evidence(int(review_id)).review
    assert (decided.outcome, decided.reviewer, decided.note) == ("allow", "rita", "quoted under commentary: fair use")
    context.close()


def test_an_uploader_disputes_and_the_reviewer_sees_frames_side_by_side(browser, site):
    server, keys = site
    context, page = sign_in(browser, server, keys["uma"])
    assert page.url == server.url + "/uploads"
    shoot(page, "uploads")
    page.click("text=film-copy")
    page.wait_for_url("**/uploads/film-copy")
    text = page.inner_text("main")
    assert "block" in text and "The Film" in text  # the decision and its reasons
    assert page.locator(".timeline rect.seg").count() >= 1
    page.fill("#reason", "I filmed this myself")
    page.click("text=File dispute")
    page.wait_for_url("**/uploads/film-copy?filed=*")
    assert "filed" in page.inner_text("[role=status]")
    assert "I filmed this myself" in page.inner_text("main")
    shoot(page, "upload-disputed")
    assert page.goto(server.url + "/review").status == 403  # an uploader does not review
    context.close()

    context, page = sign_in(browser, server, keys["rita"])
    dues = page.eval_on_selector_all("table.queue time", "els => els.map(e => e.getAttribute('datetime'))")
    assert len(dues) == 2 and dues == sorted(dues)
    row = page.locator("table.queue tr", has_text="dispute")
    row.locator("a.open-review").click()
    assert "I filmed this myself" in page.inner_text("blockquote.dispute")
    assert page.locator(".timeline.upload rect.seg").count() >= 1
    assert page.locator(".timeline.reference rect.seg").count() >= 1
    assert loaded_images(page, "img.thumb") >= 1
    assert page.locator("input[name=outcome][value=upheld]").count() == 1
    shoot(page, "review-dispute")
    context.close()


def test_a_rights_holder_sees_the_claims_on_its_own_works(browser, site):
    server, keys = site
    context, page = sign_in(browser, server, keys["studio-a"])
    assert page.url == server.url + "/claims"
    text = page.inner_text("main")
    assert "film-copy" in text and "podcast" not in text  # the song is Label C's
    assert page.locator(".claim .timeline rect.seg").count() >= 1
    shoot(page, "claims")
    assert page.goto(server.url + "/review/1").status == 403
    context.close()
