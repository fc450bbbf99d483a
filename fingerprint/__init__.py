"""Media -> fingerprints: decode once, then digests, video and audio codes.

Pure functions over numpy arrays, plus ``fingerprint_file`` which performs the
single decode pass and returns every fingerprint of one file, per stream.

Streaming: a file is decoded as a stream of chunks (``decode.MediaReader``) and
fingerprinted one window of ``[fingerprint.decode] window_seconds`` (audio) or
``video_window_seconds`` at a time,
so memory follows the window, never the file's length (nor what its header or
timestamps claim). Each audio window is fingerprinted with enough context on
both sides (``_audio_contexts``) and its codes are kept where they start inside
it; the pure functions take the window's ``origin`` so every STFT, tempo and
per-second grid is the whole signal's: the codes are those the whole signal
would give (``tests/test_streaming.py``; chroma words sum over a window in
another order, which can flip a bit that all but ties). Video codes are per
frame; what a clip measures as a whole (black borders, an inset) is measured per
window, and a reference's run of near-identical frames is cut at a window edge.
A file shorter than a window is fingerprinted in one call, as before.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .audio import AudioParams
from .cuts import CutParams
from .decode import (
    AcceptParams, AudioChunk, DecodedMedia, DecodeParams, LimitParams, MediaError, MediaReader, StreamInfo,
    VideoChunk, check_file, decode_media,
)
from .digest import FileDigest, file_digest
from .heap import release_free_memory
from .landmarks import LandmarkParams
from .signals import REGISTRY, Signal
from .stereo import LEFT, RIGHT, SIDE, StereoParams, hidden_runs, mid_side
from .types import (AUDIO, CUT, LANDMARK, QUERY, REFERENCE, REFRAME_SIGNALS, SIGNALS, VIDEO, WINDOW, Fingerprint,
                    hamming_matrix)
from .video import VideoParams
from .window import WindowParams

# Bump when the code layout changes in a way the parameters do not show
# (filters, projections, bit order): stored reference codes become unusable.
FORMAT_VERSION = 3  # 2: references also store spectral-peak landmarks; 3: and scene cuts and central-window codes


@dataclass(frozen=True)
class FingerprintParams:
    """Everything that shapes fingerprints; defaults mirror the TOML config.

    reference_fps / query_fps: video frames sampled per second for registered
        references (dense) and for screened uploads (sparser).
    frame_size: side of the square grey frame the decoder produces, pixels.
    decode: how decoding treats damaged files, which frames it may skip, the window.
    limits: the work one file may cause. accept: the containers and codecs read.
    stereo: when a stereo stream's side and channels are fingerprinted besides its mix.
    video, audio, landmark, cut, window: the built-in signals' settings (``[fingerprint.<signal>]``);
    extra: (name, settings) of registered signals that have no field here.
    """

    reference_fps: float = 8.0
    query_fps: float = 4.0
    frame_size: int = 128
    video: VideoParams = field(default_factory=VideoParams)
    audio: AudioParams = field(default_factory=AudioParams)
    landmark: LandmarkParams = field(default_factory=LandmarkParams)
    decode: DecodeParams = field(default_factory=DecodeParams)
    limits: LimitParams = field(default_factory=LimitParams)
    accept: AcceptParams = field(default_factory=AcceptParams)
    stereo: StereoParams = field(default_factory=StereoParams)
    cut: CutParams = field(default_factory=CutParams)
    window: WindowParams = field(default_factory=WindowParams)
    extra: tuple[tuple[str, Any], ...] = ()

    def settings_of(self, signal: str) -> Any:
        """The ``[fingerprint.<signal>]`` settings of a registered signal (None if none were given)."""
        if signal in _PARAM_FIELDS:
            return getattr(self, signal)
        return dict(self.extra).get(signal)


_PARAM_FIELDS = frozenset(f.name for f in fields(FingerprintParams)) - {"extra"}


def format_id(params: "FingerprintParams") -> str:
    """Short id of everything that shapes stored reference codes.

    Two catalogs can share codes only if their ids match; query-only settings
    (upload sampling rate, pitch and tempo variants) are left out.
    """
    import hashlib
    import json

    shape = {"version": FORMAT_VERSION, "reference_fps": params.reference_fps, "frame_size": params.frame_size,
             **{s.name: s.reference_settings(params) for s in REGISTRY if s.settings_type is not None}}
    return f"v{FORMAT_VERSION}-" + hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class FileFingerprints:
    """All fingerprints of one file.

    duration: media seconds. signals: signal name (every registered signal, in registry order) ->
        codes of every stream, possibly empty (what a reference stores).
    timings: seconds spent per stage (digest, decode, each signal's ``stage``: video, audio,
        landmark, reframe (scene cuts and the central window); channels).
    warnings: decoding damage that was worked around, streams ignored, in words
        (empty for a clean file).
    streams: stream label ("video 0", "audio 1", or an audio stream's extra
        rendition: "audio 0 side", "audio 0 left", "audio 0 right") -> signal ->
        its codes: what is screened, one stream at a time.
    stream_info: the streams read (codec, size, channels).
    """

    digest: FileDigest
    duration: float
    has_video: bool
    has_audio: bool
    signals: dict[str, Fingerprint]
    timings: dict[str, float]
    warnings: tuple[str, ...] = ()
    streams: dict[str, dict[str, Fingerprint]] = field(default_factory=dict)
    stream_info: tuple[StreamInfo, ...] = ()

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
    shared: dict = {}  # what several signals derive from the same frames
    for signal in REGISTRY:
        t = clock()
        out[signal.name] = signal.fingerprint(media, role, 1.0 / fps, params, shared)
        timings[signal.stage] = timings.get(signal.stage, 0.0) + clock() - t
    return out, timings


def fingerprint_for_registration(path: str | os.PathLike, params: FingerprintParams
                                 ) -> tuple[FileFingerprints, dict[str, dict[str, Fingerprint]]]:
    """Reference fingerprints plus query-role codes of every stream from one decode.

    The query codes (stream label -> signal -> codes: mirrored video,
    pitch/tempo audio variants) let a new reference be screened against the
    catalog for ownership conflicts; frames are sampled at the reference rate.
    """
    out = _fingerprint(path, (REFERENCE, QUERY), params, None)
    return out[REFERENCE], out[QUERY].streams


def fingerprint_file(path: str | os.PathLike, role: str, params: FingerprintParams,
                     digest: FileDigest | None = None,
                     clock: Callable[[], float] = time.perf_counter) -> FileFingerprints:
    """Digest, decode once and fingerprint every stream of ``path`` as a reference or a query.

    clock: what ``timings`` count (wall seconds; ``time.process_time`` for CPU seconds).
    Raises MediaError when the file is not usable media or is beyond ``params.limits``.
    """
    return _fingerprint(path, (role,), params, digest, clock)[role]


def _fingerprint(path, roles: tuple[str, ...], params: FingerprintParams, digest,
                 clock: Callable[[], float] = time.perf_counter) -> dict[str, FileFingerprints]:
    """One streaming decode of ``path``, fingerprinted window by window for each of ``roles``
    (the first role's sampling rate is used for every role)."""
    t0 = clock()
    check_file(path, params.limits)  # before the digest reads it: FIFOs, devices, oversized files
    if digest is None:
        try:
            digest = file_digest(path)
        except OSError as exc:
            raise MediaError(f"cannot read file: {exc.strerror or exc}") from exc
    t1 = clock()
    fps = params.reference_fps if roles[0] == REFERENCE else params.query_fps
    sink = _Sink(roles, params, clock, tuple(REGISTRY))
    with MediaReader(path, video_fps=fps, frame_size=params.frame_size, sample_rate=params.audio.sample_rate,
                     decode=params.decode, limits=params.limits, accept=params.accept) as reader:
        windows: dict[str, _VideoWindows | _AudioWindows] = {}
        n_video = sum(s.kind == "video" for s in reader.streams)
        n_audio = len(reader.streams) - n_video
        for info in reader.streams:
            if info.kind == "video":
                windows[info.label] = _VideoWindows(info.label, sink, 1.0 / fps,
                                                    params.decode.video_window_seconds / n_video)
            else:
                windows[info.label] = _AudioWindows(info.label, sink, params.decode.window_seconds / n_audio)
        for chunk in reader.chunks():
            windows[chunk.stream].add(chunk)
        for w in windows.values():
            w.finish()
        info = reader.streams
        duration, has_video, has_audio, warnings = reader.duration, reader.has_video, reader.has_audio, reader.warnings
    t2 = clock()
    spent = sum(sink.timings.values())
    timings = {"digest": t1 - t0, "decode": max(0.0, t2 - t1 - spent), **sink.timings}
    out = {}
    for role in roles:
        streams = sink.streams(role, info)
        signals = {}
        for signal in sink.signals:
            parts = [s[signal.name] for s in streams.values() if signal.name in s]
            # (one stream: its own codes, not a copy of them)
            signals[signal.name] = (parts[0] if len(parts) == 1 else Fingerprint.concat(parts)) if parts \
                else signal.empty(params, role)
        out[role] = FileFingerprints(digest, duration, has_video, has_audio, signals, dict(timings),
                                     tuple(warnings), streams, info)
    return out


class _Sink:
    """Codes per (role, stream label, signal) as windows produce them, and the seconds spent per stage."""

    def __init__(self, roles: tuple[str, ...], params: FingerprintParams, clock: Callable[[], float],
                 signals: tuple[Signal, ...]):
        self.roles, self.params, self.clock, self.signals = roles, params, clock, signals
        self.parts: dict[tuple[str, str, str], list[Fingerprint]] = {}
        self.ends: dict[str, float] = {}  # audio rendition -> the end of its audio (seconds), if it reaches it
        self.timings = {s.stage: 0.0 for s in signals}

    def add(self, role: str, label: str, fp: Fingerprint) -> None:
        self.parts.setdefault((role, label, fp.signal), []).append(fp)

    def timed(self, stage: str, fn, *args, **kwargs):
        t = self.clock()
        try:
            return fn(*args, **kwargs)
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + self.clock() - t

    def streams(self, role: str, info: tuple[StreamInfo, ...]) -> dict[str, dict[str, Fingerprint]]:
        """label -> signal -> codes in the order a whole-file call gives them (by variant, then time)."""
        labels = [i.label for i in info]
        extra = sorted({label for (r, label, _) in self.parts if r == role} - set(labels))
        out: dict[str, dict[str, Fingerprint]] = {}
        for label in labels + extra:
            kind = "video" if label.startswith("video") else "audio"
            signals = [s for s in self.signals if s.modality == kind]
            if label not in labels and not any((role, label, s.name) in self.parts for s in signals):
                continue
            out[label] = {}
            for signal in signals:
                parts = self.parts.pop((role, label, signal.name), None)  # (the sink is read once)
                if not parts:
                    out[label][signal.name] = signal.empty(self.params, role)
                    continue
                fp = parts[0] if len(parts) == 1 else _merge_by_variant(parts)
                del parts
                if label in self.ends:
                    fp = signal.at_stream_end(fp, self.ends[label])
                out[label][signal.name] = fp
        return out


def _merge_by_variant(parts: list[Fingerprint]) -> Fingerprint:
    """The windows' codes of one stream and signal in whole-file order (by variant, then time):
    what ``Fingerprint.concat(parts).subset(argsort(variants, stable))`` gives, byte for byte,
    without holding the concatenation and its reordered copy besides the parts.

    Each part's rows are written straight to their place in the result and the part is let go,
    so the peak is the result plus one part, not two or three copies of every code of the file
    (that was the end of fingerprinting a long upload: ~1.5 MiB of query codes a minute). A part
    whose variants are in order (every window's are) needs no index bigger than itself; one that
    is not falls back to a stable sort over all (4 bytes a code more). Empties ``parts``.
    """
    counts = np.stack([np.bincount(p.variants, minlength=256) for p in parts]).astype(np.int64)  # part x variant
    total = int(counts.sum())
    base = np.concatenate([[0], np.cumsum(counts.sum(axis=0))[:-1]])  # first merged row of each variant
    before = np.cumsum(counts, axis=0) - counts  # rows of each variant in the parts before
    where = None
    if not all(len(p) < 2 or bool((np.diff(p.variants.astype(np.int16)) >= 0).all()) for p in parts):
        where = np.empty(total, np.int64)
        where[np.argsort(np.concatenate([p.variants for p in parts]), kind="stable")] = np.arange(total)
    first = parts[0]
    out = Fingerprint(first.signal, np.empty((total, *first.codes.shape[1:]), first.codes.dtype),
                      np.empty(total, first.starts.dtype), np.empty(total, first.ends.dtype),
                      np.empty(total, first.variants.dtype))
    at, i = 0, 0
    while parts:
        part = parts.pop(0)
        if where is not None:
            rows = where[at: at + len(part)]
        else:  # a variant's rows are one run in the part: they go after that variant's rows of earlier parts
            own = counts[i]
            run_start = np.cumsum(own) - own
            rows = np.repeat(base + before[i] - run_start, own) + np.arange(len(part))
        out.codes[rows], out.starts[rows], out.ends[rows], out.variants[rows] = (part.codes, part.starts,
                                                                                 part.ends, part.variants)
        at, i = at + len(part), i + 1
        del part, rows
        release_free_memory()  # (the part's pages, or they stay resident next to the result: ``heap``)
    return out


class _VideoWindows:
    """Sampled frames of one video stream, fingerprinted per window of ``window_seconds`` of its time
    by every video signal's stream (``Signal.video_stream``: most fingerprint each window on its
    own; scene cuts need the whole stream's timing and make their codes when it ends)."""

    def __init__(self, label: str, sink: _Sink, period: float, window_seconds: float):
        self.label, self.sink, self.period, self.window = label, sink, period, window_seconds
        self.frames: list[np.ndarray] = []
        self.times: list[np.ndarray] = []
        self.window_end = window_seconds
        self.streams = [(s, s.video_stream(sink.roles, period, sink.params)) for s in sink.signals
                        if s.modality == "video"]

    def add(self, chunk: VideoChunk) -> None:
        frames, times = chunk.frames, chunk.times
        while len(times):
            cut = int(np.searchsorted(times, self.window_end))
            if cut:
                self.frames.append(frames[:cut])
                self.times.append(times[:cut])
            if cut == len(times):
                return
            self._flush()
            frames, times = frames[cut:], times[cut:]
            self.window_end = (np.floor(times[0] / self.window) + 1) * self.window

    def finish(self) -> None:
        self._flush()
        for signal, stream in self.streams:
            for role, fp in self.sink.timed(signal.stage, stream.finish):
                self.sink.add(role, self.label, fp)

    def _flush(self) -> None:
        if not self.times:
            return
        frames = self.frames[0] if len(self.frames) == 1 else np.concatenate(self.frames)
        times = self.times[0] if len(self.times) == 1 else np.concatenate(self.times)
        self.frames, self.times = [], []
        shared: dict = {}  # what several signals derive from this window's frames
        for signal, stream in self.streams:
            for role, fp in self.sink.timed(signal.stage, stream.window, frames, times, shared):
                self.sink.add(role, self.label, fp)


class _AudioWindows:
    """Audio of one stream, fingerprinted per window of ``window_seconds`` with context either side.

    The mix (mid) always; where the stereo analysis finds that the mix hides
    something (``stereo.hidden_runs``), the side or each channel too, as the
    renditions "<label> side", "<label> left", "<label> right", over those
    stretches only.
    """

    def __init__(self, label: str, sink: _Sink, window_seconds: float):
        params = sink.params
        self.label, self.sink, self.rate = label, sink, params.audio.sample_rate
        self.window = max(1, int(round(window_seconds * self.rate)))
        self.signals = [s for s in sink.signals if s.modality == "audio"]
        # samples of context each signal's codes need either side of a window (its codes are then
        # the whole signal's)
        self.context = {s.name: s.audio_context(params) for s in self.signals}
        self.reach = max(self.context.values(), default=0)
        self.chunks: list[np.ndarray] = []
        self.start = 0  # sample of the stream the buffer starts at
        self.length = 0  # samples buffered
        self.k = 0  # window being filled: samples [k * window, (k + 1) * window)

    def add(self, chunk: AudioChunk) -> None:
        self.chunks.append(chunk.samples)
        self.length += chunk.samples.shape[1]
        while self.start + self.length >= (self.k + 1) * self.window + self.reach:
            self._flush(final=False)

    def finish(self) -> None:
        if self.length:
            self._flush(final=True)

    def _flush(self, final: bool) -> None:
        data = self.chunks[0] if len(self.chunks) == 1 else np.concatenate(self.chunks, axis=1)
        end = self.start + self.length
        own = (self.k * self.window, end if final else (self.k + 1) * self.window)
        sink, params = self.sink, self.sink.params
        if len(data) == 1:
            self._fingerprint(self.label, data[0], own, [own])
        else:
            mid, side = sink.timed("channels", mid_side, data)
            self._fingerprint(self.label, mid, own, [own])
            runs = sink.timed("channels", hidden_runs, data, self.rate, params.stereo, self.start)
            for name, signal in ((SIDE, side), (LEFT, data[0]), (RIGHT, data[1])):
                spans = [(max(a, own[0]), min(b, own[1])) for a, b in runs[name]]
                spans = [(a, b) for a, b in spans if b > a]
                if spans:
                    self._fingerprint(f"{self.label} {name}", signal, own, spans)
                    if final and spans[-1][1] == end:
                        sink.ends[f"{self.label} {name}"] = end / self.rate
        if final:
            sink.ends[self.label] = end / self.rate
        self.k += 1
        keep = max(self.start, own[1] - self.reach)
        self.chunks = [] if final else [data[:, keep - self.start:].copy()]  # (a copy frees the window)
        self.length = 0 if final else end - keep
        self.start = keep

    def _fingerprint(self, label: str, signal: np.ndarray, own: tuple[int, int],
                     spans: list[tuple[int, int]]) -> None:
        """Codes of ``signal`` (the buffer's samples of one rendition) that start inside ``spans``
        (sample ranges within ``own``), each computed with its context. (The last code's reach to
        the end of the audio is set once every window is in: ``_Sink.streams``.)"""
        sink, params, rate = self.sink, self.sink.params, self.rate
        end = self.start + len(signal)
        for lo, hi in spans:
            for kind in self.signals:
                context = self.context[kind.name]
                first, last = max(self.start, lo - context), min(end, hi + context)
                piece = signal[first - self.start: last - self.start]
                if kind.silent(piece, params):
                    continue  # no frame of it can be above the silence level: no code
                for role in sink.roles:
                    fp = sink.timed(kind.stage, kind.audio_fingerprint, piece, rate, first, role, params)
                    if (first, last) != (lo, hi) or (lo, hi) != (self.start, end):
                        keep = fp.starts >= lo / rate
                        if hi < end:
                            keep &= fp.starts < hi / rate
                        fp = fp.subset(keep)
                    sink.add(role, label, fp)


__all__ = [
    "AUDIO", "CUT", "LANDMARK", "QUERY", "REFERENCE", "REFRAME_SIGNALS", "REGISTRY", "SIGNALS",
    "VIDEO", "WINDOW", "Signal",
    "AcceptParams", "AudioParams", "CutParams", "DecodedMedia", "DecodeParams", "FileDigest", "FileFingerprints",
    "Fingerprint", "FingerprintParams", "LandmarkParams", "LimitParams", "MediaError", "StereoParams", "StreamInfo",
    "VideoParams", "WindowParams", "check_file",
    "FORMAT_VERSION", "decode_media", "file_digest", "fingerprint_decoded", "fingerprint_file", "fingerprint_for_registration", "format_id",
    "hamming_matrix",
]
