"""A signal is one object in the registry: a toy signal declared and registered here, and only here,
is configured, fingerprinted, stored, indexed, searched, aligned and reported by the public engine.

The toy is a coarse brightness layout of each sampled frame (which of its 8 x 8 blocks are brighter
than the frame's median block: 64 bits), searched within a Hamming radius. The home's config turns
the built-in picture signals off (their segments need an impossible evidence, cut candidates an
impossible number of cuts) and the media has no sound, so whatever finds a copy is the toy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import config_file

import mediagen as mg
from fingerprint import REGISTRY, Fingerprint, Signal
from fingerprint.checks import between
from service import ConfigError, Prescreen, RegisterError, load_config

NAME = "toy_layout"


@dataclass(frozen=True)
class LayoutParams:
    """``[fingerprint.toy_layout]``: grid: blocks per side (grid**2 bits a code); min_block_std:
    frames whose block means vary less than this (grey levels) are flat and get no code."""

    grid: int = 8
    min_block_std: float = 4.0


class LayoutSignal(Signal):
    """Per sampled frame, the blocks brighter than the frame's median block."""

    name = NAME
    modality = "video"
    settings_type = LayoutParams
    match_defaults = {"radius": 8, "change_bits": 8, "min_speed": 0.95, "max_speed": 1.05, "min_hits": 8,
                      "min_evidence": 4.0, "min_segment_seconds": 3.0}
    checks = {f"fingerprint.{NAME}.grid": ((lambda v: v in (4, 8)), "must be 4 or 8 (whole bytes)"),
              f"fingerprint.{NAME}.min_block_std": between(0, 255, "grey levels")}
    cross_checks = ((f"match.{NAME}.radius", lambda r: r["match"][NAME]["radius"] <= r["fingerprint"][NAME]["grid"] ** 2,
                     "must be at most the code's bits (grid**2)"),)

    def code_bytes(self, params, role):
        return self.settings(params).grid ** 2 // 8

    def query_period(self, params):
        return 1.0 / params.query_fps

    def code_seconds(self, raw):
        return 1.0 / raw["fingerprint"]["reference_fps"]

    def frames_fingerprint(self, frames, times, period, role, params, shared):
        g, floor = self.settings(params).grid, self.settings(params).min_block_std
        n, side = len(frames), frames.shape[-1] // self.settings(params).grid * self.settings(params).grid
        blocks = frames[:, :side, :side].reshape(n, g, side // g, g, side // g).mean(axis=(2, 4)).reshape(n, g * g)
        lively = blocks.std(axis=1) >= floor
        bits = np.packbits(blocks > np.median(blocks, axis=1, keepdims=True), axis=1)[lively]
        t = np.asarray(times, np.float64)[lively]
        return Fingerprint(NAME, bits, t, t + period)


CONFIG = """
[match.video]
min_evidence = 1000000.0   # the built-in pHash signal forms no segment
[match.cut]
min_cuts = 1000000         # nor do scene-cut candidates
"""


@pytest.fixture
def toy():
    """The toy signal, registered for one test only."""
    with REGISTRY.registered(LayoutSignal()) as signal:
        yield signal
    assert NAME not in REGISTRY


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """A 30 s silent work, an upload showing its seconds 8-26 at 5-23 inside other footage, and an
    unrelated upload."""
    folder = tmp_path_factory.mktemp("toy")

    def silent(seed: int) -> mg.Media:
        return dataclasses.replace(mg.synth_work(seed=seed, duration=30.0), audio=None)

    work, other = silent(31), silent(32)
    paths = {"work": folder / "work.mp4", "copy": folder / "copy.mp4", "unrelated": folder / "unrelated.mp4"}
    mg.write_media(work, paths["work"])
    mg.write_media(mg.embed(mg.excerpt(work, 8.0, 26.0), other, at=5.0), paths["copy"], video_bitrate=300_000)
    mg.write_media(silent(33), paths["unrelated"])
    return paths


def _home(new_home: Path) -> Path:
    """``new_home`` (either catalog backend) with the toy's settings added to its config.toml."""
    config_file(new_home, new_home / "config.toml", CONFIG)
    return new_home


def test_a_registered_toy_signal_screens_through_the_engine(toy, media, new_home):
    with Prescreen(_home(new_home), create=True) as engine:
        assert engine.config.match.for_signal(NAME).radius == 8  # its declared defaults, in the config
        registered = engine.register([media["work"]], work_id="w", owner="o")
        assert registered.files[0][f"{NAME}_codes"] > 100
        stats = engine.index_stats()["signals"][NAME]
        assert stats["codes"] == registered.files[0][f"{NAME}_codes"] and stats["code_bits"] == 64
        assert stats["search"] == "exact" and not stats["exact_match"]  # a Hamming index, flat

        copy = engine.screen_one(str(media["copy"]))
        assert copy.status == "ok" and [m.work_id for m in copy.matches] == ["w"]
        match = copy.matches[0]
        assert match.signals == (NAME,) and copy.decision.outcome != "allow"
        assert all(NAME in s.signal for s in match.segments)
        first, last = match.segments[0], match.segments[-1]
        assert abs(first.upload_start - 5.0) < 1.0 and abs(last.upload_end - 23.0) < 1.0
        assert abs(first.ref_start - 8.0) < 1.0 and abs(last.ref_end - 26.0) < 1.0
        assert abs(match.matched_seconds - 18.0) < 2.0

        unrelated = engine.screen_one(str(media["unrelated"]))
        assert unrelated.status == "ok" and unrelated.matches == [] and unrelated.decision.outcome == "allow"


def test_without_the_toy_the_same_home_finds_nothing(media, new_home):
    """The other half of the proof: with the toy unregistered the same config leaves the silent work
    no usable signal (registration refuses it), so the copy above was the toy's finding."""
    assert NAME not in REGISTRY
    with Prescreen(_home(new_home), create=True) as engine:
        assert NAME not in engine.config.raw["fingerprint"] and NAME not in engine.indexes.code_bytes
        with pytest.raises(RegisterError) as info:
            engine.register([media["work"]], work_id="w", owner="o")
        assert "no usable fingerprints" in str(info.value.failures)


def test_the_toy_settings_are_declared_checked_and_scoped(toy, tmp_path):
    cfg = load_config()
    assert cfg.raw["fingerprint"][NAME] == {"grid": 8, "min_block_std": 4.0}
    assert toy.settings(cfg.fingerprint) == LayoutParams()
    assert cfg.raw["match"][NAME]["change_bits"] == 8 and cfg.raw["match"][NAME]["inlier_seconds"] == 0.6
    user = tmp_path / "config.toml"
    for text, key in ((f"[fingerprint.{NAME}]\ngrid = 5\n", f"fingerprint.{NAME}.grid"),
                      (f"[fingerprint.{NAME}]\nmin_block_std = -1.0\n", f"fingerprint.{NAME}.min_block_std"),
                      (f"[fingerprint.{NAME}]\ngird = 8\n", f"fingerprint.{NAME}.gird"),
                      (f"[match.{NAME}]\nmin_speed = 0.0\n", f"match.{NAME}.min_speed"),  # the align checks
                      (f"[match.{NAME}]\nradius = 65\n", f"match.{NAME}.radius")):  # its own cross check
        user.write_text(text)
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_config(user)
    user.write_text(f"[fingerprint.{NAME}]\ngrid = 4\n")
    changed = load_config(user)
    assert toy.code_bytes(changed.fingerprint, "reference") == 2 and changed.version != cfg.version


def test_adding_the_toy_touched_only_this_module(toy):
    """No module of prescreen names the toy: the registry is the only place it was added."""
    root = Path(__file__).resolve().parents[1]
    here = Path(__file__).resolve()
    mentions = [p for p in root.rglob("*") if p.suffix in (".py", ".toml") and p.resolve() != here
                and ".git" not in p.parts and NAME in p.read_text(errors="replace")]
    assert mentions == []
    assert REGISTRY.names()[-1] == NAME and REGISTRY[NAME] is toy


def test_registration_is_scoped():
    assert REGISTRY.names() == ("video", "audio", "landmark", "cut", "window")
    assert NAME not in load_config().raw["fingerprint"]
    with REGISTRY.registered(LayoutSignal()):
        with pytest.raises(ValueError, match="already registered"):
            REGISTRY.register(LayoutSignal())
    assert NAME not in REGISTRY
