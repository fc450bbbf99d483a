"""Synthetic media for prescreen's demo, tests and benchmarks.

- :mod:`mediagen.media`: the :class:`Media` container, :func:`write_media`
  and :func:`read_media` (PyAV only).
- :mod:`mediagen.synth`: deterministic synthetic works (video, music, speech)
  and degenerate content (black, silence, test patterns, title cards);
  static-camera recordings and slow-moving footage.
- :mod:`mediagen.transforms`: documented edits an uploader might make.
- :mod:`mediagen.bad`: broken files for error-handling tests.

Typical use::

    from mediagen import synth_work, write_media, transforms as T
    work = synth_work(seed=1, duration=30.0)
    upload = T.caption(T.speed(T.excerpt(work, 5, 20), 1.05), "nice clip")
    write_media(upload, "upload.mp4", video_bitrate=300_000)
"""

from .media import FORMATS, Media, count, read_media, write_media, write_streams
from .synth import (
    black_video,
    silence,
    synth_music,
    synth_slow_video,
    synth_shots,
    synth_speech,
    synth_static_camera,
    synth_video,
    synth_work,
    test_pattern,
    title_card,
)
from .transforms import (
    add_audio_noise,
    add_noise,
    border,
    caption,
    change_fps,
    color_shift,
    concat,
    crop,
    drop_audio,
    drop_video,
    embed,
    excerpt,
    gain,
    greyscale,
    hflip,
    letterbox,
    logo,
    mix_audio,
    negative,
    picture_in_picture,
    pillarbox,
    pitch_shift,
    reencode,
    replace_audio,
    resample_speed,
    resize,
    rotate,
    rotate90,
    scale,
    speed,
    split_screen,
    tempo,
    vertical_over_blur,
    vflip,
)
from . import bad, transforms

__all__ = [
    "FORMATS",
    "Media",
    "count",
    "read_media",
    "write_media",
    "write_streams",
    "black_video",
    "silence",
    "synth_music",
    "synth_slow_video",
    "synth_speech",
    "synth_static_camera",
    "synth_video",
    "synth_shots",
    "synth_work",
    "test_pattern",
    "title_card",
    "bad",
    "transforms",
    *transforms.__all__,
]
