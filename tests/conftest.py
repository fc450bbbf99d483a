"""Shared fixtures: a small corpus generated once per session, a home with it registered, and
a fresh PostgreSQL database per test when a server is given.

All media is synthesised with mediagen (PyAV encodes it); nothing is fetched.

PostgreSQL: ``PRESCREEN_TEST_POSTGRES_URL`` names a server prescreen may create databases on (say
``postgresql://prescreen@/postgres?host=/tmp/pg``; ``.ci/run`` starts a throwaway one). Without it the
tests that need it skip, saying so; with ``PRESCREEN_REQUIRE_SERVICES=1`` (CI) such a skip is a failure.
The shared registered home (and the ``engine`` fixture over it) comes once per backend, so every test
that uses it runs with its catalog in SQLite and in a PostgreSQL database on that server.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

import mediagen as mg
from service import Prescreen

SR = 22050
POSTGRES_URL_VARIABLE = "PRESCREEN_TEST_POSTGRES_URL"
REQUIRE_SERVICES_VARIABLE = "PRESCREEN_REQUIRE_SERVICES"
SERVICE_MISSING = "service unavailable:"  # how a skip for want of a server begins (the hook below finds it)


@dataclass
class Corpus:
    folder: Path
    film: mg.Media          # 30 s video work with music soundtrack
    film2: mg.Media         # 20 s second video work
    song: mg.Media          # 40 s audio-only work
    other: mg.Media         # 60 s unrelated original content (video + music)
    film_path: Path
    film2_path: Path
    song_path: Path

    def write(self, name: str, media: mg.Media, **kwargs) -> Path:
        """Write an upload under the corpus folder (once per name)."""
        path = self.folder / "uploads" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            mg.write_media(media, path, **kwargs)
        return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Corpus:
    folder = tmp_path_factory.mktemp("corpus")
    film = mg.synth_work(seed=101, duration=30.0)
    film2 = mg.synth_work(seed=404, duration=20.0)
    song = mg.Media(None, 25.0, mg.synth_music(seed=202, duration=40.0), SR)
    other = mg.synth_work(seed=303, duration=60.0)
    refs = folder / "refs"
    refs.mkdir()
    paths = [mg.write_media(m, refs / n) for m, n in ((film, "film.mp4"), (film2, "film2.mp4"), (song, "song.m4a"))]
    return Corpus(folder, film, film2, song, other, *paths)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def registered_home(request, tmp_path_factory, corpus: Corpus):
    """A data folder with the corpus registered, once per backend: its catalog is the folder's SQLite
    file, or a new database on the ``PRESCREEN_TEST_POSTGRES_URL`` server (named in the folder's
    config.toml; skipped, saying so, without a server). Copy it with ``copy_home``."""
    server = None
    if request.param == "postgresql":
        server = os.environ.get(POSTGRES_URL_VARIABLE)
        if not server:
            pytest.skip(f"{SERVICE_MISSING} no PostgreSQL server for the shared catalog ({POSTGRES_URL_VARIABLE} "
                        "is not set; .ci/run starts one)")
        psycopg = pytest.importorskip("psycopg", reason=f"{SERVICE_MISSING} psycopg is not installed")
    home = tmp_path_factory.mktemp(f"home-{request.param}")
    if server:
        name = f"prescreen_engine_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        (home / "config.toml").write_text(f"[catalog]\nurl = {database_url(server, name)!r}\n".replace("'", '"'))
    with Prescreen(home, create=True) as engine:
        engine.register([corpus.film_path], "film", title="The Film", owner="Studio A")
        engine.register([corpus.film2_path], "film2", title="Second Film", owner="Studio B")
        engine.register([corpus.song_path], "song", title="The Song", owner="Label C")
    if server:  # a pristine copy nobody connects to: copy_home clones it (a template must have no sessions)
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}_t TEMPLATE {name}")
        (home / TEMPLATE_DATABASE_FILE).write_text(f"{name}_t")
    yield home
    if server:
        with psycopg.connect(server, autocommit=True) as admin:
            for db in (name, f"{name}_t", *_CLONES.pop(name, ())):
                admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


TEMPLATE_DATABASE_FILE = ".test-template-database"  # in a registered home whose catalog is on PostgreSQL
_CLONES: dict[str, list[str]] = {}  # database -> the clones copy_home made of it (dropped with it)


def copy_home(src: Path, dst: Path) -> Path:
    """A private copy of the data folder ``src`` at ``dst``. A folder whose catalog is a PostgreSQL
    database gets its own clone of the database, so a test that changes
    its copy never changes anyone else's catalog."""
    import shutil

    shutil.copytree(src, dst)
    marker = dst / TEMPLATE_DATABASE_FILE
    if marker.exists():
        import psycopg

        server, template = os.environ[POSTGRES_URL_VARIABLE], marker.read_text().strip()
        name = f"prescreen_copy_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        _CLONES.setdefault(template[:-2], []).append(name)
        (dst / "config.toml").write_text(f"[catalog]\nurl = {database_url(server, name)!r}\n".replace("'", '"'))
        marker.unlink()
    return dst


@pytest.fixture(scope="session")
def engine(registered_home: Path):
    with Prescreen(registered_home, create=True) as e:
        yield e




def _services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES_VARIABLE, "") not in ("", "0")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With PRESCREEN_REQUIRE_SERVICES=1 a test skipped because a service is missing fails instead:
    CI can never pass without the PostgreSQL tests having run."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _services_required() and isinstance(report.longrepr, tuple) \
            and SERVICE_MISSING in str(report.longrepr[2]):
        report.outcome = "failed"
        report.longrepr = f"{report.longrepr[2]} ({REQUIRE_SERVICES_VARIABLE}=1: a missing service is a failure)"


def database_url(server_url: str, name: str) -> str:
    """``server_url`` naming the database ``name`` instead."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture()
def postgres_url():
    """The URL of a new, empty PostgreSQL database, dropped after the test (skips without a server)."""
    server = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server:
        pytest.skip(f"{SERVICE_MISSING} no PostgreSQL server ({POSTGRES_URL_VARIABLE} is not set; .ci/run starts one)")
    psycopg = pytest.importorskip("psycopg", reason=f"{SERVICE_MISSING} psycopg is not installed")
    name = f"prescreen_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield database_url(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_target(request, tmp_path):
    """Where a new catalog goes, once per backend: an SQLite file, or a new PostgreSQL database's URL."""
    if request.param == "sqlite":
        return tmp_path / "catalog.sqlite"
    return request.getfixturevalue("postgres_url")
