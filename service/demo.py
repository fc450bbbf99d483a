"""The demo of the main job: make reference works and an upload batch, register, screen.

Everything is generated locally (``mediagen``), so the demo needs no network
and no sample files. Each upload carries the outcome a reader should expect,
so the printed table can be checked at a glance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import mediagen as mg
from mediagen import bad
from mediagen import transforms as tf

from .app import App
from .engine import Clock, ScreenResult, system_clock

LOW_VIDEO_BITRATE = 20_000  # bit/s: the low-bitrate re-upload, well below the reference's ~60 kbit/s video
LOW_AUDIO_BITRATE = 24_000  # bit/s: ... and its ~73 kbit/s audio

# (work id, title, owner, file name)
WORKS = (
    ("aurora", "Aurora (short film)", "Northlight Pictures", "aurora.mp4"),
    ("harbor", "Harbor Lights (short film)", "Northlight Pictures", "harbor.mp4"),
    ("tidal", "Tidal (song)", "Blue Reef Records", "tidal.m4a"),
)


def _make_media(folder: Path, say: Callable[[str], None] = print) -> dict[str, str]:
    """Write the references and uploads (if missing); returns upload name -> expected outcome."""
    refs, ups = folder / "references", folder / "uploads"
    refs.mkdir(parents=True, exist_ok=True)
    ups.mkdir(parents=True, exist_ok=True)
    aurora = mg.synth_work(seed=11, duration=30.0)
    harbor = mg.synth_work(seed=37, duration=30.0)
    tidal = mg.Media(None, 25.0, mg.synth_music(seed=23, duration=40.0), aurora.sample_rate)
    original = mg.synth_work(seed=71, duration=60.0)
    speech = mg.synth_speech(seed=5, duration=40.0, sample_rate=aurora.sample_rate)
    plan = {
        refs / "aurora.mp4": lambda: aurora,
        refs / "harbor.mp4": lambda: harbor,
        refs / "tidal.m4a": lambda: tidal,
        ups / "aurora_reupload_lowbitrate.mp4": lambda: aurora,
        ups / "harbor_mirrored_cropped.mp4": lambda: tf.crop(tf.hflip(harbor), 0.1),
        ups / "vlog_quoting_aurora_12s.mp4": lambda: tf.embed(tf.excerpt(aurora, 8.0, 20.0), original, at=30.0),
        ups / "podcast_over_tidal.mp4": lambda: tf.mix_audio(
            tf.replace_audio(tf.excerpt(original, 0.0, 40.0), speech), tidal.audio, snr_db=0.0),
        ups / "unrelated_holiday_clip.mp4": lambda: mg.synth_work(seed=99, duration=20.0),
        ups / "black_screen.mp4": lambda: mg.black_video(10.0, audio=True),
    }
    corrupt = ups / "broken_upload.mp4"
    missing = [path for path in (*plan, corrupt) if not path.exists()]
    if missing:
        say(f"generating {len(missing)} demo media files in {folder} (first run only) ...")
    for path, make in plan.items():
        if not path.exists():
            # the references are encoded at x264's default quality: ~60 kbit/s video + ~73 kbit/s AAC at this
            # size; the low-bitrate re-upload gets about a third of each
            low = "lowbitrate" in path.name
            mg.write_media(make(), path, video_bitrate=LOW_VIDEO_BITRATE if low else None,
                           audio_bitrate=LOW_AUDIO_BITRATE if low else None)
    if not corrupt.exists():
        bad.write_truncated(refs / "harbor.mp4", corrupt, fraction=0.3)
    return {
        "aurora_reupload_lowbitrate.mp4": "block",
        "harbor_mirrored_cropped.mp4": "block",
        "vlog_quoting_aurora_12s.mp4": "review",
        "podcast_over_tidal.mp4": "review",
        "unrelated_holiday_clip.mp4": "allow",
        "black_screen.mp4": "allow",
        "broken_upload.mp4": "error",
    }


def run_demo(home: Path, media: Path, say: Callable[[str], None] = print,
             clock: Clock = system_clock) -> tuple[list[ScreenResult], dict[str, str]]:
    """Generate media under ``media``, register the works in ``home``, screen the uploads."""
    expected = _make_media(media, say)
    with App.open(home, create=True, clock=clock) as app:
        known = {w.work_id for w in app.works()}
        already = [work_id for work_id, *_ in WORKS if work_id in known]
        if already:
            say(f"already registered: {', '.join(already)}")
        for work_id, title, owner, name in WORKS:
            if work_id in known:
                continue
            result = app.register([media / "references" / name], work_id, title, owner)
            f = result.files[0]
            say(f"registered {work_id}: {title} by {owner} "
                f"({f['duration']:.0f} s, {f.get('video_codes', 0)} video + {f.get('audio_codes', 0)} audio codes, "
                f"{f.get('landmark_codes', 0)} landmarks)")
        say("screening the upload batch ...")
        results = list(app.screen(app.upload_items([str(media / "uploads")]), jobs=None))
    return results, expected
