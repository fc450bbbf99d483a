"""A PostgreSQL catalog's connections notice a vanished peer: TCP keepalives on both ends.

A registration holds a session advisory lock on the server while it fingerprints. If the machine
running it loses power or its network, nothing closes the connection; without keepalives the server
keeps the session (and the lock: every other machine's registration waits) until TCP gives up, about
two hours by default. ``[catalog] dead_peer_seconds`` bounds that on the server's end and the client's.

The server-side settings only exist on TCP connections (over a unix socket PostgreSQL reads them as
0), so those checks need ``PRESCREEN_TEST_POSTGRES_TCP_URL`` (``.ci/run`` sets it: the test server
listens on 127.0.0.1 too).
"""

from __future__ import annotations

import os
import uuid

import pytest

from conftest import SERVICE_MISSING, database_url
from service.config import ConfigError, load_config
from storage.postgres import session_keepalives

TCP_URL_VARIABLE = "PRESCREEN_TEST_POSTGRES_TCP_URL"


@pytest.mark.parametrize("dead_peer", [10, 11, 30, 60, 61.5, 600, 86400])
def test_keepalives_notice_a_dead_peer_within_the_configured_seconds(dead_peer):
    k = session_keepalives(dead_peer)
    assert min(k["idle"], k["interval"], k["count"]) >= 1
    assert k["idle"] + k["count"] * k["interval"] <= dead_peer  # silence, then every probe unanswered
    assert k["user_timeout"] == int(dead_peer * 1000)  # milliseconds


@pytest.mark.parametrize("value", [0, 5, 9.9, 86401, "inf", "nan"])
def test_dead_peer_seconds_out_of_range_is_refused_naming_the_key(tmp_path, value):
    path = tmp_path / "config.toml"
    path.write_text(f"[catalog]\ndead_peer_seconds = {value}\n")
    with pytest.raises(ConfigError, match="dead_peer_seconds"):
        load_config(path)


@pytest.fixture()
def tcp_database():
    server = os.environ.get(TCP_URL_VARIABLE)
    if not server:
        pytest.skip(f"{SERVICE_MISSING} no PostgreSQL server reachable over TCP ({TCP_URL_VARIABLE} is not set; "
                    ".ci/run starts one)")
    psycopg = pytest.importorskip("psycopg", reason=f"{SERVICE_MISSING} psycopg is not installed")
    name = f"prescreen_tcp_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield database_url(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_catalog_connection_carries_the_keepalives_on_both_ends(tmp_path, tcp_database):
    """Through the engine, as a front end opens it: the config's dead_peer_seconds reaches the server's
    session settings (which free a lost machine's locks) and libpq's (a vanished server)."""
    from service import Prescreen

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'[catalog]\nurl = "{tcp_database}"\ndead_peer_seconds = 45\n')
    engine = Prescreen(home, create=True)
    try:
        backend = engine.catalog.backend
        want = session_keepalives(45)
        for db in (backend.db, backend._connect()):  # the catalog's connection, and any it opens later
            server = {name: db.execute(f"SHOW {name}").fetchone()[0] for name in
                      ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count", "tcp_user_timeout")}
            assert server == {"tcp_keepalives_idle": str(want["idle"]), "tcp_keepalives_interval": str(want["interval"]),
                              "tcp_keepalives_count": str(want["count"]), "tcp_user_timeout": str(want["user_timeout"])}
            client = db.info.get_parameters()
            assert client["keepalives"] == "1"
            assert client["keepalives_idle"] == str(want["idle"])
            assert client["keepalives_count"] == str(want["count"])
            assert client["tcp_user_timeout"] == str(want["user_timeout"])
    finally:
        engine.close()
