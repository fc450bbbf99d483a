"""Shared fixtures: a small corpus generated once per session, and a home with it registered.

All media is synthesised with mediagen (PyAV encodes it); nothing is fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

import mediagen as mg
from service import Prescreen

SR = 22050


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


@pytest.fixture(scope="session")
def registered_home(tmp_path_factory, corpus: Corpus) -> Path:
    home = tmp_path_factory.mktemp("home")
    with Prescreen(home, create=True) as engine:
        engine.register([corpus.film_path], "film", title="The Film", owner="Studio A")
        engine.register([corpus.film2_path], "film2", title="Second Film", owner="Studio B")
        engine.register([corpus.song_path], "song", title="The Song", owner="Label C")
    return home


@pytest.fixture(scope="session")
def engine(registered_home: Path):
    with Prescreen(registered_home, create=True) as e:
        yield e
