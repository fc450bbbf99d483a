"""Media -> fingerprints: decode once, then digests, video and audio codes.

Pure functions over numpy arrays, plus ``fingerprint_file`` which performs the
single decode pass and returns every fingerprint of one file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from .audio import AudioParams, query_audio_fingerprint, reference_audio_fingerprint
from .cuts import CutParams, cut_fingerprint
from .decode import DecodedMedia, DecodeParams, MediaError, decode_media
from .digest import FileDigest, file_digest
from .landmarks import LandmarkParams, landmark_fingerprint
from .types import (AUDIO, CUT, EXACT_MATCH, LANDMARK, MODALITY, REFRAME_SIGNALS, SIGNALS, VIDEO, WINDOW, Fingerprint,
                    hamming_matrix)
from .video import VideoParams, query_video_fingerprint, reference_video_fingerprint
from .window import WindowParams, probe_frames, query_window_probes, reference_window_fingerprint

REFERENCE = "reference"
QUERY = "query"
# Bump when the code layout changes in a way the parameters do not show
# (filters, projections, bit order): stored reference codes become unusable.
FORMAT_VERSION = 3  # 2: references also store spectral-peak landmarks; 3: and scene cuts and central-window codes


@dataclass(frozen=True)
class FingerprintParams:
    """Everything that shapes fingerprints; defaults mirror the TOML config.

    reference_fps / query_fps: video frames sampled per second for registered
        references (dense) and for screened uploads (sparser).
    frame_size: side of the square grey frame the decoder produces, pixels.
    decode: how decoding treats damaged files and which frames it may skip.
    """

    reference_fps: float = 8.0
    query_fps: float = 4.0
    frame_size: int = 128
    video: VideoParams = field(default_factory=VideoParams)
    audio: AudioParams = field(default_factory=AudioParams)
    landmark: LandmarkParams = field(default_factory=LandmarkParams)
    decode: DecodeParams = field(default_factory=DecodeParams)
    cut: CutParams = field(default_factory=CutParams)
    window: WindowParams = field(default_factory=WindowParams)


def format_id(params: "FingerprintParams") -> str:
    """Short id of everything that shapes stored reference codes.

    Two catalogs can share codes only if their ids match; query-only settings
    (upload sampling rate, pitch and tempo variants) are left out.
    """
    import hashlib
    import json

    video, audio = _reference_side(params.video), _reference_side(params.audio)
    shape = {"version": FORMAT_VERSION, "reference_fps": params.reference_fps, "frame_size": params.frame_size,
             "video": video, "audio": audio, "landmark": _reference_side(params.landmark),
             "cut": _reference_side(params.cut), "window": _reference_side(params.window)}
    return f"v{FORMAT_VERSION}-" + hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:10]


def _reference_side(params) -> dict:
    return {k: v for k, v in asdict(params).items() if not k.startswith("query_")}


@dataclass(frozen=True)
class FileFingerprints:
    """All fingerprints of one file.

    duration: media seconds. signals: signal name (``SIGNALS`` and ``REFRAME_SIGNALS``) -> codes,
        possibly empty. timings: seconds spent per stage (decode, video, audio, landmark,
        reframe: scene cuts and the central window).
    warnings: decoding damage that was worked around, in words (empty for a clean file).
    """

    digest: FileDigest
    duration: float
    has_video: bool
    has_audio: bool
    signals: dict[str, Fingerprint]
    timings: dict[str, float]
    warnings: tuple[str, ...] = ()

    @property
    def video(self) -> Fingerprint:
        return self.signals[VIDEO]

    @property
    def audio(self) -> Fingerprint:
        return self.signals[AUDIO]


def fingerprint_decoded(media: DecodedMedia, role: str, params: FingerprintParams,
                        clock: Callable[[], float] = time.perf_counter,
                        ) -> tuple[dict[str, Fingerprint], dict[str, float]]:
    """Every signal's fingerprint of already decoded media for ``role``, and seconds per signal.

    clock: what the seconds count (wall time; ``time.process_time`` for CPU seconds).
    """
    fps = params.reference_fps if role == REFERENCE else params.query_fps
    out: dict[str, Fingerprint] = {}
    timings: dict[str, float] = {}
    t0 = clock()
    if role == REFERENCE:
        out[VIDEO] = reference_video_fingerprint(media.frames, media.frame_times, 1.0 / fps, params.video)
    else:
        out[VIDEO] = query_video_fingerprint(media.frames, media.frame_times, 1.0 / fps, params.video)
    t1 = clock()
    if role == REFERENCE:
        out[AUDIO] = reference_audio_fingerprint(media.audio, params.audio)
    else:
        out[AUDIO] = query_audio_fingerprint(media.audio, params.audio)
    t2 = clock()
    out[LANDMARK] = landmark_fingerprint(media.audio, media.sample_rate, params.landmark, query=role == QUERY)
    t3 = clock()
    out.update(_reframe_renditions(media, role, 1.0 / fps, params))
    t4 = clock()
    timings.update(video=t1 - t0, audio=t2 - t1, landmark=t3 - t2, reframe=t4 - t3)
    return out, timings


def _reframe_renditions(media: DecodedMedia, role: str, period: float, params: FingerprintParams
                        ) -> dict[str, Fingerprint]:
    """Scene cuts and the central window (references: its codes; uploads: small frames to verify
    candidates on), for copies that show another window of the picture (``fingerprint.cuts``).

    Cuts are found on frames of half the decoder's size (block means do not need more, and
    halving is four adds), which uploads shrink further into their small frames."""
    half = probe_frames(media.frames, max(params.cut.grid, media.frames.shape[-1] // 2))
    cuts = cut_fingerprint(half, media.frame_times, params.cut, query=role == QUERY)
    if role == QUERY:
        small = probe_frames(half, min(params.window.query_probe_size, half.shape[-1]))
        window = query_window_probes(small, media.frame_times, period, params.window)
    else:
        window = reference_window_fingerprint(media.frames, media.frame_times, period, params.video, params.window)
    return {CUT: cuts, WINDOW: window}


def fingerprint_for_registration(path: str | os.PathLike,
                                 params: FingerprintParams) -> tuple[FileFingerprints, dict[str, Fingerprint]]:
    """Reference fingerprints plus query-role codes of every signal from one decode.

    The query codes (mirrored video, pitch/tempo audio variants) let a new
    reference be screened against the catalog for ownership conflicts.
    """
    ref, media = _fingerprint(path, REFERENCE, params, None)
    as_query = replace(params, query_fps=params.reference_fps)  # frames were sampled at the reference rate
    query, _ = fingerprint_decoded(media, QUERY, as_query)
    return ref, query


def fingerprint_file(path: str | os.PathLike, role: str, params: FingerprintParams,
                     digest: FileDigest | None = None,
                     clock: Callable[[], float] = time.perf_counter) -> FileFingerprints:
    """Digest, decode once and fingerprint ``path`` as a reference or a query.

    clock: what ``timings`` count (wall seconds; ``time.process_time`` for CPU seconds).
    Raises MediaError when the file is not usable media.
    """
    return _fingerprint(path, role, params, digest, clock)[0]


def _fingerprint(path, role, params, digest, clock=time.perf_counter) -> tuple[FileFingerprints, DecodedMedia]:
    t0 = clock()
    if digest is None:
        try:
            digest = file_digest(path)
        except OSError as exc:
            raise MediaError(f"cannot read file: {exc.strerror or exc}") from exc
    t1 = clock()
    fps = params.reference_fps if role == REFERENCE else params.query_fps
    media = decode_media(path, video_fps=fps, frame_size=params.frame_size, sample_rate=params.audio.sample_rate,
                         **asdict(params.decode))
    t2 = clock()
    signals, stage = fingerprint_decoded(media, role, params, clock)
    timings = {"digest": t1 - t0, "decode": t2 - t1, **stage}
    return (FileFingerprints(digest, media.duration, media.has_video, media.has_audio, signals, timings,
                             media.warnings), media)


__all__ = [
    "AUDIO", "CUT", "EXACT_MATCH", "LANDMARK", "MODALITY", "QUERY", "REFERENCE", "REFRAME_SIGNALS", "SIGNALS",
    "VIDEO", "WINDOW", "AudioParams", "CutParams", "DecodedMedia", "DecodeParams", "FileDigest", "FileFingerprints", "Fingerprint",
    "FingerprintParams", "LandmarkParams", "MediaError", "VideoParams", "WindowParams",
    "FORMAT_VERSION", "decode_media", "file_digest", "fingerprint_decoded", "fingerprint_file", "fingerprint_for_registration", "format_id",
    "hamming_matrix",
]
