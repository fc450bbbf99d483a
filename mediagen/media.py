"""In-memory media and its encoding to / decoding from files with PyAV.

A :class:`Media` holds decoded content: RGB video frames (uint8, shape
``(n, height, width, 3)``) at a frame rate in frames per second, and/or mono
float32 audio in ``[-1, 1]`` at a sample rate in Hz. Either part may be
``None``. Sizes are given as ``(width, height)`` in pixels, times in seconds.

:func:`write_media` picks container and codecs from the file suffix and uses
PyAV only (no ffmpeg binary); :func:`read_media` decodes a whole file back
into a :class:`Media`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = ["Media", "write_media", "write_streams", "read_media", "FORMATS", "count"]


def count(seconds: float, rate: float) -> int:
    """Frames or samples in ``seconds`` at ``rate`` per second, rounded half up (never < 0)."""
    return max(0, int(np.floor(seconds * rate + 0.5)))


@dataclass
class Media:
    """Decoded media: optional video frames plus optional mono audio.

    Attributes:
        frames: ``(n, height, width, 3)`` uint8 RGB, or ``None`` (audio only).
        fps: video frame rate in frames per second (ignored without frames).
        audio: ``(samples,)`` float32 mono in ``[-1, 1]``, or ``None`` (video only).
        sample_rate: audio sample rate in Hz.
    """

    frames: np.ndarray | None
    fps: float
    audio: np.ndarray | None
    sample_rate: int

    def __post_init__(self) -> None:
        if self.frames is not None:
            if self.frames.ndim != 4 or self.frames.shape[-1] != 3:
                raise ValueError(f"frames must be (n, h, w, 3), got {self.frames.shape}")
            if self.frames.dtype != np.uint8:
                raise ValueError(f"frames must be uint8, got {self.frames.dtype}")
            if self.fps <= 0:
                raise ValueError(f"fps must be positive, got {self.fps}")
        if self.audio is not None:
            if self.audio.ndim != 1:
                raise ValueError(f"audio must be mono (samples,), got {self.audio.shape}")
            if self.audio.dtype != np.float32:
                self.audio = self.audio.astype(np.float32)

    @property
    def has_video(self) -> bool:
        return self.frames is not None

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    @property
    def n_frames(self) -> int:
        return 0 if self.frames is None else int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int] | None:
        """Frame size ``(width, height)`` in pixels, or ``None`` without video."""
        if self.frames is None:
            return None
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    @property
    def video_duration(self) -> float:
        """Seconds of video (frames / fps); 0 without video."""
        return self.n_frames / self.fps if self.frames is not None else 0.0

    @property
    def audio_duration(self) -> float:
        """Seconds of audio (samples / sample_rate); 0 without audio."""
        return len(self.audio) / self.sample_rate if self.audio is not None else 0.0

    @property
    def duration(self) -> float:
        """Seconds: the longer of the video and audio durations."""
        return max(self.video_duration, self.audio_duration)

    def __repr__(self) -> str:
        video = f"{self.n_frames}x{self.size} @ {self.fps:g} fps" if self.has_video else "None"
        audio = f"{len(self.audio)} @ {self.sample_rate} Hz" if self.audio is not None else "None"
        return f"Media(video={video}, audio={audio}, duration={self.duration:.3f} s)"


@dataclass(frozen=True)
class _Format:
    """How to write one file suffix: container name, codecs and their options."""

    container: str
    video_codec: str | None
    audio_codec: str | None
    video_options: tuple[tuple[str, str], ...] = ()
    audio_rates: tuple[int, ...] | None = None  # allowed sample rates, None = any


_X264 = (("preset", "veryfast"), ("tune", "film"))
_VP9 = (("deadline", "realtime"), ("cpu-used", "8"), ("row-mt", "1"))
_OPUS_RATES = (48000, 24000, 16000, 12000, 8000)

#: File suffix -> how :func:`write_media` encodes it.
FORMATS: dict[str, _Format] = {
    ".mp4": _Format("mp4", "libx264", "aac", _X264),
    ".mov": _Format("mov", "libx264", "aac", _X264),
    ".mkv": _Format("matroska", "libx264", "aac", _X264),
    ".webm": _Format("webm", "libvpx-vp9", "libopus", _VP9, _OPUS_RATES),
    ".m4a": _Format("ipod", None, "aac"),
    ".mp3": _Format("mp3", None, "libmp3lame"),
    ".wav": _Format("wav", None, "pcm_s16le"),
    ".ogg": _Format("ogg", None, "libopus", audio_rates=_OPUS_RATES),
    ".flac": _Format("flac", None, "flac"),
}


def write_media(
    media: Media,
    path: str | Path,
    video_bitrate: int | None = None,
    audio_bitrate: int | None = None,
) -> Path:
    """Encode ``media`` to ``path``; container and codecs follow the suffix.

    ``.mp4``/``.mov``/``.mkv``: H.264 (libx264, veryfast, yuv420p) + AAC;
    ``.webm``: VP9 + Opus; ``.m4a``: AAC; ``.mp3``: MP3; ``.wav``: 16-bit PCM;
    ``.ogg``: Opus; ``.flac``: FLAC. Audio-only formats drop the video.
    H.264/VP9 need even dimensions: an odd last row/column is cropped. Opus
    only takes 8/12/16/24/48 kHz, so audio is resampled to 48 kHz for it.

    Args:
        video_bitrate: target video bits per second (e.g. 150_000); default is
            quality-based (x264 CRF 23).
        audio_bitrate: target audio bits per second; default is the codec's.

    Returns the path written. Raises ``ValueError`` for an unknown suffix or
    when there is nothing the format can hold.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"unsupported suffix {path.suffix!r}; use one of {sorted(FORMATS)}")
    frames = media.frames if fmt.video_codec else None
    audio = media.audio if fmt.audio_codec else None
    if frames is None and audio is None:
        raise ValueError(f"{path.suffix} needs {'video or audio' if fmt.video_codec else 'audio'}")
    if frames is not None:
        frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
        if frames.shape[1] == 0 or frames.shape[2] == 0:
            raise ValueError(f"frames too small to encode: {media.frames.shape}")

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format=fmt.container) as container:
        vstream = astream = None
        if frames is not None:
            rate = Fraction(media.fps).limit_denominator(1001)
            vstream = container.add_stream(fmt.video_codec, rate=rate)
            vstream.width, vstream.height = frames.shape[2], frames.shape[1]
            vstream.pix_fmt = "yuv420p"
            vstream.codec_context.time_base = 1 / rate
            options = dict(fmt.video_options)
            if video_bitrate:
                vstream.codec_context.bit_rate = int(video_bitrate)
            elif fmt.video_codec == "libx264":
                options["crf"] = "23"
            elif fmt.video_codec == "libvpx-vp9":
                options.update({"crf": "33", "b": "0"})
            vstream.codec_context.options = options
        if audio is not None:
            rate_hz = media.sample_rate
            if fmt.audio_rates and rate_hz not in fmt.audio_rates:
                rate_hz = fmt.audio_rates[0]
            astream = container.add_stream(fmt.audio_codec, rate=rate_hz)
            astream.codec_context.layout = "mono"
            if audio_bitrate:
                astream.codec_context.bit_rate = int(audio_bitrate)

        video_packets = (
            _encode_video(vstream, frames, media.fps) if vstream is not None else iter(())
        )
        audio_packets = (
            _encode_audio(astream, audio, media.sample_rate) if astream is not None else iter(())
        )
        _mux_interleaved(container, video_packets, audio_packets)
    return path


def _encode_video(
    stream: av.VideoStream, frames: np.ndarray, fps: float
) -> Iterator[tuple[float, list]]:
    """Yield ``(time_s, packets)`` for each frame, then the flushed packets."""
    for i, array in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
        frame.pts = i
        yield i / fps, stream.encode(frame)
    yield float("inf"), stream.encode(None)


def _encode_audio(
    stream: av.AudioStream, audio: np.ndarray, sample_rate: int, chunk: int = 4096
) -> Iterator[tuple[float, list]]:
    """Yield ``(time_s, packets)`` per chunk of mono input, then the flushed packets."""
    return _encode_channels(stream, np.asarray(audio)[None], sample_rate, "mono", chunk)


def _mux_interleaved(
    container: av.container.OutputContainer,
    *sources: Iterator[tuple[float, list]],
) -> None:
    """Mux packets from several encoders in roughly increasing time order."""
    heads: list[tuple[float, list] | None] = [next(s, None) for s in sources]
    while any(h is not None for h in heads):
        i = min((i for i, h in enumerate(heads) if h is not None), key=lambda i: heads[i][0])
        container.mux(heads[i][1])
        heads[i] = next(sources[i], None)


def read_media(path: str | Path, sample_rate: int = 22050) -> Media:
    """Decode a whole file with PyAV.

    Video: the first video stream, every frame as RGB uint8; ``fps`` is the
    stream's average frame rate. Audio: the first audio stream, downmixed to
    mono float32 and resampled to ``sample_rate`` Hz. A missing stream gives
    ``None``; a stream without any frames gives an empty array. Errors from
    PyAV (``av.error.FFmpegError`` subclasses) propagate.
    """
    with av.open(str(path)) as container:
        vstream = container.streams.video[0] if container.streams.video else None
        astream = container.streams.audio[0] if container.streams.audio else None
        streams = [s for s in (vstream, astream) if s is not None]
        if vstream is not None:
            vstream.thread_type = "AUTO"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        frames: list[np.ndarray] = []
        chunks: list[np.ndarray] = []
        for packet in container.demux(*streams) if streams else ():
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    frames.append(frame.to_ndarray(format="rgb24"))
                elif isinstance(frame, av.AudioFrame):
                    chunks += [f.to_ndarray()[0] for f in resampler.resample(frame)]
        if astream is not None:
            chunks += [f.to_ndarray()[0] for f in resampler.resample(None)]

        fps = 25.0
        video = None
        if vstream is not None:
            rate = vstream.average_rate or vstream.guessed_rate
            fps = float(rate) if rate and 0 < rate <= 1000 else 25.0  # else: no usable rate
            width, height = vstream.codec_context.width, vstream.codec_context.height
            video = np.stack(frames) if frames else np.zeros((0, height, width, 3), np.uint8)
        audio = None
        if astream is not None:
            audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return Media(frames=video, fps=fps, audio=audio, sample_rate=sample_rate)


def write_streams(
    path: str | Path,
    videos: list[Media] = (),
    audios: list[np.ndarray] = (),
    sample_rate: int = 22050,
    audio_codec: str | None = None,
) -> Path:
    """Encode several video and audio streams into one file (``.mkv``, ``.mp4``, ``.mov``; audio
    only also ``.m4a``, ``.flac``, ``.wav``): the multi-stream and stereo counterpart of
    :func:`write_media`, which it leaves as it is.

    Args:
        videos: one :class:`Media` per video stream (its frames and fps; its audio is ignored),
            H.264 as in :func:`write_media`.
        audios: one array per audio stream: ``(samples,)`` mono or ``(2, samples)`` stereo
            float32 in ``[-1, 1]`` at ``sample_rate`` Hz.
        audio_codec: default AAC (FLAC for ``.flac``, 16-bit PCM for ``.wav``).

    Streams appear in the order given (``video 0``, ``video 1``, ...). Returns the path.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    container_name = {".mkv": "matroska", ".mp4": "mp4", ".mov": "mov", ".m4a": "ipod", ".flac": "flac",
                      ".wav": "wav"}.get(suffix)
    if container_name is None:
        raise ValueError(f"unsupported suffix {path.suffix!r} for write_streams")
    codec = audio_codec or {".flac": "flac", ".wav": "pcm_s16le"}.get(suffix, "aac")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format=container_name) as container:
        sources = []
        for media in videos:
            frames = media.frames[:, : media.frames.shape[1] // 2 * 2, : media.frames.shape[2] // 2 * 2]
            rate = Fraction(media.fps).limit_denominator(1001)
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = 1 / rate
            stream.codec_context.options = {**dict(_X264), "crf": "23"}
            sources.append(_encode_video(stream, frames, media.fps))
        for audio in audios:
            audio = np.atleast_2d(np.asarray(audio, np.float32))
            layout = "mono" if len(audio) == 1 else "stereo"
            stream = container.add_stream(codec, rate=sample_rate)
            stream.codec_context.layout = layout
            sources.append(_encode_channels(stream, audio, sample_rate, layout))
        _mux_interleaved(container, *sources)
    return path


def _encode_channels(stream: av.AudioStream, audio: np.ndarray, sample_rate: int, layout: str,
                     chunk: int = 4096) -> Iterator[tuple[float, list]]:
    """:func:`_encode_audio` for ``(channels, samples)`` audio in ``layout``."""
    ctx = stream.codec_context
    resampler = av.AudioResampler(format=ctx.format.name, layout=layout, rate=ctx.sample_rate)
    fifo = av.AudioFifo()
    frame_size = ctx.frame_size or 1024
    samples = np.clip(audio, -1.0, 1.0).astype(np.float32)

    def drain(final: bool) -> list:
        packets = []
        while fifo.samples >= frame_size or (final and fifo.samples):
            packets += stream.encode(fifo.read(min(frame_size, fifo.samples)))
        return packets

    for start in range(0, samples.shape[1], chunk):
        block = np.ascontiguousarray(samples[:, start: start + chunk])
        # (one channel: packed samples, as mono input always was; planar and packed frames of
        # one channel resample to different bytes)
        frame = av.AudioFrame.from_ndarray(block, format="flt" if len(block) == 1 else "fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = start
        for out in resampler.resample(frame):
            fifo.write(out)
        yield start / sample_rate, drain(final=False)
    for out in resampler.resample(None):
        fifo.write(out)
    yield float("inf"), drain(final=True) + stream.encode(None)
