"""Shared fixtures: a small corpus generated once per session, a home with it registered, and
a fresh PostgreSQL database per test when a server is given.

All media is synthesised with mediagen (PyAV encodes it); nothing is fetched.

PostgreSQL: ``PRESCREEN_TEST_POSTGRES_URL`` names a server prescreen may create databases on (say
``postgresql://prescreen@/postgres?host=/tmp/pg``; ``.ci/run`` starts a throwaway one). Without it the
tests that need it skip, saying so; with ``PRESCREEN_REQUIRE_SERVICES=1`` (CI) such a skip is a failure.
``catalog_backend`` gives each backend once: the shared registered home (and the ``engine`` fixture over
it), the ``new_home`` fixture and every data folder a fixture makes with ``catalog_backend.new_home`` have
their catalog in SQLite and in a PostgreSQL database on that server, so the tests using them run on both;
``copy_home`` gives a copy its own clone of the database.
"""

from __future__ import annotations

import json
import os
import sqlite3
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


class CatalogBackend:
    """A backend a test's data folders get their catalog in: ``sqlite`` (the folder's own file) or
    ``postgresql`` (a new database on the ``PRESCREEN_TEST_POSTGRES_URL`` server, named in the folder's
    config.toml as a user would set it up)."""

    def __init__(self, name: str, server: str | None = None):
        self.name, self.server = name, server

    def __repr__(self) -> str:
        return self.name

    def new_home(self, folder: Path) -> Path:
        """An empty data folder at ``folder`` (made) whose catalog, made on first use, is of this backend.
        A database made during a test is dropped when the test ends; one made by a module- or
        session-scoped fixture when the session ends."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.server:
            _name_catalog(folder, database_url(self.server, _new_database(self.server, "prescreen_home")))
        return folder


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def catalog_backend(request):
    """Each backend once (PostgreSQL skips, saying so, without a server): a test or fixture that makes its
    data folders with ``catalog_backend.new_home`` (or the ``new_home`` fixture) runs on both."""
    if request.param == "sqlite":
        yield CatalogBackend("sqlite")
        return
    server = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server:
        pytest.skip(f"{SERVICE_MISSING} no PostgreSQL server for the catalog ({POSTGRES_URL_VARIABLE} "
                    "is not set; .ci/run starts one)")
    pytest.importorskip("psycopg", reason=f"{SERVICE_MISSING} psycopg is not installed")
    yield CatalogBackend("postgresql", server)
    _drop_databases_after(0)


@pytest.fixture()
def new_home(catalog_backend: CatalogBackend, tmp_path: Path) -> Path:
    """``tmp_path / "home"``: an empty data folder with its catalog in each backend in turn."""
    return catalog_backend.new_home(tmp_path / "home")


@pytest.fixture(scope="session")
def registered_home(tmp_path_factory, corpus: Corpus, catalog_backend: CatalogBackend):
    """A data folder with the corpus registered, once per backend (see ``catalog_backend``). Copy it with
    ``copy_home``."""
    home = catalog_backend.new_home(tmp_path_factory.mktemp(f"home-{catalog_backend.name}"))
    with Prescreen(home, create=True) as engine:
        engine.register([corpus.film_path], "film", title="The Film", owner="Studio A")
        engine.register([corpus.film2_path], "film2", title="Second Film", owner="Studio B")
        engine.register([corpus.song_path], "song", title="The Song", owner="Label C")
    return freeze_template(home)


TEMPLATE_DATABASE_FILE = ".test-template-database"  # in a data folder whose copies clone that database
_DATABASES: list[str] = []  # the databases the tests made, oldest first: a stack dropped from the top


def _new_database(server: str, prefix: str, template: str | None = None) -> str:
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    _DATABASES.append(name)
    return name


def _drop_databases_after(keep: int) -> None:
    if len(_DATABASES) <= keep:
        return
    import psycopg

    with psycopg.connect(os.environ[POSTGRES_URL_VARIABLE], autocommit=True) as admin:
        while len(_DATABASES) > keep:
            admin.execute(f"DROP DATABASE IF EXISTS {_DATABASES.pop()} WITH (FORCE)")


@pytest.fixture(autouse=True)
def _drop_databases_made_by_the_test():
    """Drop the databases the test (and its function-scoped fixtures) made. Wider fixtures are set up
    before it (pytest orders by scope), so theirs are below the mark and stay for the session."""
    mark = len(_DATABASES)
    yield
    _drop_databases_after(mark)


def _name_catalog(home: Path, url: str) -> None:
    (home / "config.toml").write_text(catalog_table(url))


def catalog_table(url: str) -> str:
    """A config file's ``[catalog]`` table naming ``url`` (a JSON string is a TOML basic string)."""
    return f"[catalog]\nurl = {json.dumps(url)}\n"


def home_catalog(home: Path) -> str | Path:
    """The catalog of the data folder ``home``: the PostgreSQL URL its config.toml names, or its SQLite file."""
    import tomllib

    config = home / "config.toml"
    url = tomllib.loads(config.read_text()).get("catalog", {}).get("url") if config.is_file() else None
    return url or home / "catalog.sqlite"


def is_postgres(home: Path) -> bool:
    return isinstance(home_catalog(home), str)


def config_file(home: Path, path: Path, text: str) -> Path:
    """Write a ``--config`` file with the settings ``text`` at ``path``, keeping ``home``'s catalog: such a
    file replaces the data folder's config.toml, its ``[catalog] url`` included."""
    catalog = home_catalog(home)
    path.write_text(text + (catalog_table(catalog) if isinstance(catalog, str) else ""))
    return path


def _database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


TEMPLATE_FOLDER_FILE = ".test-template-folder"  # in a data folder whose copies copy that pristine folder


def freeze_template(home: Path) -> Path:
    """Keep a pristine copy of ``home`` for ``copy_home`` to copy: of its PostgreSQL catalog (a template
    database must have no sessions, and ``home``'s own may be in use), or on SQLite of the whole folder
    (tests that screen into ``home`` itself, the ``engine`` fixture's, must not reach the copies: the
    copies on both backends start from the registered works alone)."""
    import shutil

    catalog = home_catalog(home)
    if isinstance(catalog, str):
        server = os.environ[POSTGRES_URL_VARIABLE]
        (home / TEMPLATE_DATABASE_FILE).write_text(_new_database(server, "prescreen_tmpl", _database_of(catalog)))
    else:
        pristine = home.with_name(home.name + "-pristine")
        shutil.copytree(home, pristine)
        (home / TEMPLATE_FOLDER_FILE).write_text(str(pristine))
    return home


def copy_home(src: Path, dst: Path) -> Path:
    """A private copy of the data folder ``src`` at ``dst``. A folder whose catalog is a PostgreSQL
    database gets its own clone of it (``CREATE DATABASE ... TEMPLATE``: of the pristine copy
    ``freeze_template`` kept, else of the database itself, which then must have no sessions), so a test
    that changes its copy never changes anyone else's catalog."""
    import shutil

    folder = src / TEMPLATE_FOLDER_FILE
    shutil.copytree(Path(folder.read_text()) if folder.exists() else src, dst)
    catalog = home_catalog(dst)
    if isinstance(catalog, str):
        marker = dst / TEMPLATE_DATABASE_FILE
        template = marker.read_text().strip() if marker.exists() else _database_of(catalog)
        marker.unlink(missing_ok=True)
        server = os.environ[POSTGRES_URL_VARIABLE]
        _name_catalog(dst, database_url(server, _new_database(server, "prescreen_copy", template)))
    return dst


def raw_rows(home: Path, sql: str, args: tuple = ()) -> list[tuple]:
    """The rows of one statement run directly on ``home``'s catalog (autocommit), as another program
    would (psql, sqlite3); ``?`` placeholders on both backends. A database error propagates: the
    driver's own (sqlite3.DatabaseError, psycopg.Error)."""
    catalog = home_catalog(home)
    if isinstance(catalog, str):
        import psycopg

        with psycopg.connect(catalog, autocommit=True) as db:
            cursor = db.execute(sql.replace("?", "%s"), args) if args else db.execute(sql)
            return cursor.fetchall() if cursor.description else []
    db = sqlite3.connect(catalog, isolation_level=None)
    try:
        cursor = db.execute(sql, args)
        return cursor.fetchall() if cursor.description else []
    finally:
        db.close()


class RawConnection:
    """A direct autocommit connection to ``home``'s catalog, as another program (psql, sqlite3) has: rows
    read by position and by name, ``?`` placeholders on both backends, ``postgres`` says which."""

    def __init__(self, home: Path):
        catalog = home_catalog(home)
        self.postgres = isinstance(catalog, str)
        if self.postgres:
            import psycopg
            from storage.postgres import _row_factory

            self.db = psycopg.connect(catalog, autocommit=True, row_factory=_row_factory)
        else:
            self.db = sqlite3.connect(catalog, isolation_level=None)
            self.db.row_factory = sqlite3.Row

    def execute(self, sql: str, args: tuple = ()):
        if self.postgres:
            return self.db.execute(sql.replace("?", "%s"), args) if args else self.db.execute(sql)
        return self.db.execute(sql, args)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def database_errors() -> tuple[type[BaseException], ...]:
    """The drivers' error classes (what ``raw_rows`` raises on either backend)."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.DatabaseError,)
    return sqlite3.DatabaseError, psycopg.Error


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
    pytest.importorskip("psycopg", reason=f"{SERVICE_MISSING} psycopg is not installed")
    return database_url(server, _new_database(server, "prescreen_test"))  # (dropped when the test ends)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_target(request, tmp_path):
    """Where a new catalog goes, once per backend: an SQLite file, or a new PostgreSQL database's URL."""
    if request.param == "sqlite":
        return tmp_path / "catalog.sqlite"
    return request.getfixturevalue("postgres_url")
