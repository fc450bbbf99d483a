"""Writers of broken or degenerate files, for error-handling tests.

Each writer creates parent folders and returns the path written.

- :func:`write_empty`: a 0-byte file.
- :func:`write_random_bytes`: seeded random bytes (not a container).
- :func:`write_text_as_media`: plain text under a media file name.
- :func:`write_truncated`: the first part of a real file (cut mid-stream).
- :func:`write_zero_duration`: a valid container header with no packets.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np

from .media import FORMATS

__all__ = [
    "write_empty",
    "write_random_bytes",
    "write_text_as_media",
    "write_truncated",
    "write_zero_duration",
]


_MP4_LIKE = ("mp4", "mov", "ipod")


def _prepare(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_empty(path: str | Path) -> Path:
    """A file of zero bytes."""
    path = _prepare(path)
    path.write_bytes(b"")
    return path


def write_random_bytes(path: str | Path, n: int = 4096, seed: int = 0) -> Path:
    """``n`` random bytes (deterministic per ``seed``)."""
    path = _prepare(path)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())
    return path


def write_text_as_media(path: str | Path) -> Path:
    """Plain UTF-8 text under whatever (media) name ``path`` has."""
    path = _prepare(path)
    path.write_text("This is not a video. It is a text file with a media file name.\n" * 20)
    return path


def write_truncated(src_path: str | Path, dst_path: str | Path, fraction: float = 0.5) -> Path:
    """Copy the first ``fraction`` (0-1) of ``src_path``'s bytes to ``dst_path``.

    For MP4 written by :func:`~mediagen.media.write_media` the index (moov)
    is at the end, so a truncated MP4 usually fails to open; truncated MKV,
    WebM, MP3 or WAV files open and decode their first part.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    data = Path(src_path).read_bytes()
    dst = _prepare(dst_path)
    if Path(src_path).resolve() == dst.resolve():
        raise ValueError("src_path and dst_path must differ")
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def write_zero_duration(path: str | Path, video: bool = True, audio: bool = True) -> Path:
    """A container with headers but no packets: streams are added, then it is closed.

    The streams come from the suffix, as for :func:`~mediagen.media.write_media`
    (a 64x64 video stream at 25 fps and/or a mono 22050 Hz audio stream where
    the format allows). MP4/MOV/M4A are written with an empty ``moov`` up
    front (fragmented layout), so they open with their streams and decode to
    zero frames and zero samples; ``.wav`` and ``.flac`` open with one audio
    stream of zero samples. Checked with FFmpeg 8.1 (PyAV 18.1): ``.mkv``,
    ``.webm`` and ``.ogg`` raise ``av.error.EOFError`` on open and ``.mp3``
    raises ``av.error.InvalidDataError``.
    """
    path = _prepare(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"unsupported suffix {path.suffix!r}")
    options = {"movflags": "frag_keyframe+empty_moov"} if fmt.container in _MP4_LIKE else {}
    with av.open(str(path), mode="w", format=fmt.container, options=options) as container:
        added = False
        if video and fmt.video_codec:
            stream = container.add_stream(fmt.video_codec, rate=25)
            stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
            added = True
        if audio and fmt.audio_codec:
            rate = fmt.audio_rates[0] if fmt.audio_rates else 22050
            container.add_stream(fmt.audio_codec, rate=rate).codec_context.layout = "mono"
            added = True
        if not added:
            raise ValueError(f"{path.suffix} cannot hold the requested streams")
        container.start_encoding()  # writes the header; no frame is ever muxed
    return path


def copy_file(src_path: str | Path, dst_path: str | Path) -> Path:
    """Byte-exact copy (an exact re-upload under another name)."""
    return Path(shutil.copyfile(src_path, _prepare(dst_path)))
