"""One decode pass per file, as a stream of bounded chunks: sampled grey frames and audio channels.

Decoding is the cost floor of the whole pipeline, so a file is demuxed exactly
once; video frames are decoded in full (inter-frame codecs need that) but only
the frames at the sampling instants are converted to small grey images, and the
audio is resampled to one fixed rate on the fly (mono as it is, anything with
two or more channels as stereo).

Every file is hostile until shown otherwise (``MediaReader``): before anything
opens it, it must be a regular file within ``[fingerprint.limits]``
``max_file_gigabytes`` (a FIFO would block for ever, /dev/zero never ends); it
is opened only by the FFmpeg demuxers ``[fingerprint.accept]`` lists (no text,
image-sequence, playlist, device or subtitle demuxers) and every audio and video
stream of an accepted codec is read. Declared and decoded duration, pixels per
second, the number of streams and the wall time spent are bounded; a file
beyond a bound is an error that names the bound. Nothing is sized by what a
header or a timestamp claims: chunks are yielded as they are decoded, and the
caller keeps only a bounded window of them (``fingerprint`` fingerprints one
window at a time).
"""

from __future__ import annotations

import fnmatch
import os
import stat
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from .stereo import mid_side

# FFmpeg decoder threading for the fingerprinting decode and the cost floor. Threads
# buy latency on big frames but cost CPU to hand frames between them: on the
# benchmark corpus "AUTO" took 1.5x the CPU of single-threaded decoding (1.15x on
# 720p), and screening parallelises across uploads, so decode on one thread.
DECODER_THREADS = "NONE"

# pixel formats whose first plane is the 8-bit luma image (the grey picture)
_LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21",
                         "yuv411p", "yuv410p", "gray"})


def grey_square(frame: av.VideoFrame, size: int) -> np.ndarray:
    """The frame as a (size, size) uint8 grey image.

    For YUV frames the luma plane is used as it is (no colour conversion) and
    shrunk with OpenCV's area filter: the conversion through swscale cost
    several times the decoding itself.
    """
    if frame.format.name in _LUMA_FIRST:
        plane = frame.planes[0]
        luma = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
    else:
        luma = frame.to_ndarray(format="gray")
    return cv2.resize(luma, (size, size), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class DecodeParams:
    """How decoding treats damaged files, which frames it may skip, and how long a window is.

    max_bad_packet_share: share of packets that may fail to decode before the
        file is called corrupt.
    min_decoded_share: decoded seconds below this share of the declared
        duration make the file truncated (or damaged mid-stream).
    max_audio_gap_seconds: an audio timestamp jump above this is a hole,
        filled with silence and reported as a warning.
    skip_nonref_ratio: when the video's frame rate is at least this many times
        the sampling rate, frames no other frame refers to (most B-frames) are
        not decoded: the frames that remain still come several times per
        sampling interval. 0 decodes every frame.
    window_seconds: media seconds of audio held and fingerprinted at a time
        (shared between the audio streams); bounds memory whatever the file's length.
    video_window_seconds: the same for video (its hashing takes ~80 KB per
        sampled frame while it runs: shorter).
    """

    max_bad_packet_share: float = 0.05
    min_decoded_share: float = 0.9
    max_audio_gap_seconds: float = 0.05
    skip_nonref_ratio: float = 4.0
    window_seconds: float = 300.0
    video_window_seconds: float = 60.0


@dataclass(frozen=True)
class LimitParams:
    """The work one file may cause (TOML ``[fingerprint.limits]``); a file beyond any is an error.

    max_file_gigabytes: file size, 10^9 bytes (checked before the file is read).
    max_declared_seconds: duration the container header declares.
    max_decoded_seconds: media time decoding may reach (a timestamp beyond it
        is an error: screening only a prefix would let a copy placed after it pass).
    max_pixels_per_second: width x height x frame rate summed over the video
        streams, as declared and as decoded.
    max_frame_pixels: width x height of one video frame.
    max_streams: audio and video streams screened (each is decoded and fingerprinted).
    max_wall_seconds: wall-clock seconds decoding and fingerprinting one file may take.
    """

    max_file_gigabytes: float = 128.0
    max_declared_seconds: float = 43200.0
    max_decoded_seconds: float = 43200.0
    max_pixels_per_second: float = 5.0e8
    max_frame_pixels: int = 35_389_440
    max_streams: int = 16
    max_wall_seconds: float = 7200.0


# Demuxers (FFmpeg's names) and codecs of real audio and video: see [fingerprint.accept] in the TOML.
ACCEPTED_DEMUXERS = (
    "mov", "matroska", "avi", "flv", "asf", "mpegts", "mpeg", "mxf", "ogg", "rm", "nut", "dv", "wtv", "gif",
    "ivf", "obu", "h264", "hevc", "vvc", "m4v", "mpegvideo", "yuv4mpegpipe",
    "mp3", "aac", "wav", "w64", "flac", "aiff", "caf", "ac3", "eac3", "dts", "dtshd", "truehd", "mlp", "amr",
    "amrnb", "amrwb", "ape", "wv", "tta", "tak", "mpc", "mpc8", "oma", "xwma", "au", "loas", "latm", "dsf", "shn",
)
ACCEPTED_VIDEO_CODECS = (
    "h264", "hevc", "vvc", "av1", "vp8", "vp9", "mpeg4", "mpeg2video", "mpeg1video", "msmpeg4v1", "msmpeg4v2",
    "msmpeg4v3", "wmv1", "wmv2", "wmv3", "vc1", "h263", "h263p", "h261", "flv1", "vp6", "vp6f", "vp6a", "theora",
    "prores", "dnxhd", "dvvideo", "mjpeg", "ffv1", "huffyuv", "ffvhuff", "utvideo", "rawvideo", "qtrle", "svq1",
    "svq3", "rv10", "rv20", "rv30", "rv40", "cinepak", "indeo3", "indeo4", "indeo5", "gif", "png",
)
ACCEPTED_AUDIO_CODECS = (
    "aac", "aac_latm", "mp3", "mp2", "mp1", "mp3adu", "mp3on4", "opus", "vorbis", "flac", "alac", "ac3", "eac3",
    "dts", "truehd", "mlp", "wmav1", "wmav2", "wmapro", "wmalossless", "wmavoice", "amr_nb", "amr_wb", "ape",
    "wavpack", "tta", "tak", "musepack7", "musepack8", "speex", "gsm", "gsm_ms", "atrac1", "atrac3", "atrac3p",
    "cook", "ra_144", "ra_288", "qdm2", "nellymoser", "g722", "g723_1", "g729", "shorten", "pcm_*", "adpcm_*",
    "dsd_*",
)


@dataclass(frozen=True)
class AcceptParams:
    """What is read (TOML ``[fingerprint.accept]``).

    demuxers: FFmpeg demuxer names (as ``ffprobe -show_format`` prints
        format_name; an entry matches the name or one of its comma-separated
        parts). FFmpeg is allowed to open a file with no other demuxer.
    video_codecs, audio_codecs: codec names (``ffprobe -show_streams``
        codec_name; shell-style patterns such as ``pcm_*``). Streams of other
        codecs are ignored (and said so in the warnings).
    """

    demuxers: tuple[str, ...] = ACCEPTED_DEMUXERS
    video_codecs: tuple[str, ...] = ACCEPTED_VIDEO_CODECS
    audio_codecs: tuple[str, ...] = ACCEPTED_AUDIO_CODECS


class MediaError(Exception):
    """A file that cannot be used as media; the message says why, in words."""


# FFmpeg demuxers that read single pictures: image2 (by file name) and the *_pipe probes (by content)
_IMAGE_DEMUXERS = frozenset({"image2", "image2pipe"})
# demuxers FFmpeg may open only so that the refusal can say what the file is
_TEXT_DEMUXERS = {"tty": "a text file (FFmpeg would draw it as ANSI-art video), not audio or video"}
_SUBTITLE_DEMUXERS = ("srt", "ass", "webvtt", "microdvd", "subviewer", "subviewer1", "sami", "lrc", "stl",
                      "realtext", "mpl2", "pjs", "vplayer", "jacosub", "aqtitle")
STILL_IMAGE = "a still image, not audio or video"
SUBTITLES = "subtitles only, not audio or video"
MISSING_MOOV = ("the MP4/MOV container index (moov box) is missing: the file is likely truncated or "
                "still being written")
_BMFF_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"pnot", b"meta",
                         b"moof", b"mfra", b"sidx", b"styp", b"pdin"})
_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
)


def check_file(path: str | os.PathLike, limits: LimitParams = LimitParams()) -> int:
    """Size in bytes of ``path`` if it may be opened as media, else MediaError saying why.

    Only regular files (symbolic links followed) are read: a FIFO blocks its
    reader for ever, a device such as /dev/zero never ends; both are refused
    from their inode alone, before anything opens them. Empty files and files
    above ``limits.max_file_gigabytes`` are refused too.
    """
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise MediaError(f"cannot read file: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise MediaError("is a directory, not a media file")
    if not stat.S_ISREG(info.st_mode):
        kind = next((what for test, what in _NOT_REGULAR if test(info.st_mode)), "not a regular file")
        via = ""
        if path.is_symlink():
            via = f" (a link to {os.path.realpath(path)})"
        raise MediaError(f"{kind}{via}, not a regular file: refused without opening it")
    if info.st_size == 0:
        raise MediaError("empty file (0 bytes)")
    if info.st_size > limits.max_file_gigabytes * 1e9:
        raise MediaError(f"file of {info.st_size / 1e9:.1f} GB is above [fingerprint.limits] "
                         f"max_file_gigabytes = {limits.max_file_gigabytes:g}")
    return int(info.st_size)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether a demuxer or codec name (or one of its comma-separated parts) matches a pattern."""
    parts = [name, *name.split(",")]
    return any(fnmatch.fnmatchcase(part, pattern) for part in parts for pattern in patterns)


def _probe_whitelist(accept: AcceptParams) -> str:
    """The demuxers FFmpeg may open: the accepted ones, plus those that only identify what
    a refused file is (still images, text, subtitles; none reads other files or the network)."""
    named = [n for n in av.formats_available if n.endswith("_pipe")] + sorted(_IMAGE_DEMUXERS)
    return ",".join(dict.fromkeys([*accept.demuxers, *named, *_TEXT_DEMUXERS, *_SUBTITLE_DEMUXERS]))


def _is_still_image(container) -> bool:
    name = container.format.name
    return name in _IMAGE_DEMUXERS or name.endswith("_pipe")


def _bmff_without_moov(path: Path) -> str | None:
    """For an MP4/MOV-family file (ISO base media boxes) with no moov box: why, else None.

    Walks the top-level boxes by their declared sizes (reading only the headers).
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            offset, seen = 0, []
            while offset + 8 <= size:
                handle.seek(offset)
                head = handle.read(16)
                box_size, kind = struct.unpack(">I4s", head[:8])
                if not seen and kind not in _BMFF_BOXES:
                    return None  # not an ISO base media file
                seen.append(kind)
                if kind == b"moov":
                    return None
                if box_size == 1 and len(head) == 16:
                    box_size = struct.unpack(">Q", head[8:16])[0]
                elif box_size == 0:
                    box_size = size - offset
                if box_size < 8:
                    break
                offset += box_size
    except OSError:
        return None
    return MISSING_MOOV if seen else None


_OGG_MAX_PAGE = 27 + 255 + 255 * 255  # header + segment table + body, bytes


def _ogg_unfinished(path: Path) -> str | None:
    """Why an Ogg file stops before its end, or None when its last page is whole and ends the stream.

    Ogg declares no duration up front (FFmpeg reads it from the last page), so a
    cut file looks like a valid shorter one. A finished file's last page is
    whole and flagged end-of-stream (header type bit 0x04; bytes after it, such
    as an appended tag, are ignored); a cut one ends inside a page or after a
    page without that flag.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = max(0, size - _OGG_MAX_PAGE)
            handle.seek(start)
            tail = handle.read()
    except OSError:
        return None
    at = len(tail)
    while (at := tail.rfind(b"OggS", 0, at)) >= 0:  # the last page header
        head = tail[at: at + 27]
        if len(head) < 27 or head[4] != 0:  # not a page of stream structure version 0
            continue
        segments = tail[at + 27: at + 27 + head[26]]
        if len(segments) < head[26] or at + 27 + head[26] + sum(segments) > len(tail):
            break  # the page runs past the end of the file
        if head[5] & 0x04:
            return None
        return ("truncated: the Ogg stream stops without its end-of-stream page; the file was cut short "
                "or is still being written")
    return "truncated: the file ends inside an Ogg page; it was cut short or is still being written"


def _wav_declared_seconds(path: Path) -> float | None:
    """Seconds of audio a RIFF/WAVE header declares (data chunk size / byte rate), or None.

    FFmpeg estimates a WAV's duration from the file size, so a WAV cut in half
    looks like a valid shorter file; its header still says how long it was.
    Streamed WAVs (data size 0 or 0xFFFFFFFF: unknown) give None.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            byte_rate = None
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                kind, length = struct.unpack("<4sI", chunk)
                if kind == b"fmt ":
                    body = handle.read(length + (length & 1))
                    if len(body) >= 12:
                        byte_rate = struct.unpack("<I", body[8:12])[0]
                elif kind == b"data":
                    if not byte_rate or length in (0, 0xFFFFFFFF):
                        return None
                    return length / byte_rate
                else:
                    handle.seek(length + (length & 1), os.SEEK_CUR)
    except (OSError, struct.error):
        return None


@dataclass(frozen=True)
class StreamInfo:
    """One audio or video stream that is screened.

    label: "video 1", "audio 0": the kind and its index among the file's
        streams of that kind (FFmpeg's ``-map 0:v:1``), as reported in evidence.
    codec: codec name. channels: audio channels in the file (decoded as 1 or 2).
    width, height: video frame size, pixels; rate: declared frames per second (0: unknown).
    """

    label: str
    kind: str
    codec: str
    channels: int = 0
    width: int = 0
    height: int = 0
    rate: float = 0.0

    def as_dict(self) -> dict:
        out = {"stream": self.label, "codec": self.codec}
        if self.kind == "audio":
            out["channels"] = self.channels
        else:
            out.update(width=self.width, height=self.height, fps=round(self.rate, 3))
        return out


@dataclass(frozen=True)
class VideoChunk:
    """Sampled frames of one stream: (n, size, size) uint8 grey, and (n,) presentation times, seconds."""

    stream: str
    frames: np.ndarray
    times: np.ndarray


@dataclass(frozen=True)
class AudioChunk:
    """Consecutive audio of one stream: (channels, n) float32 at the reader's sample rate,
    starting at sample ``start`` of that stream's timeline (channels 1, or 2 for L and R)."""

    stream: str
    samples: np.ndarray
    start: int


_AUDIO_CHUNK = 16384  # samples per yielded audio chunk (~1.5 s at 11 025 Hz)
_VIDEO_CHUNK = 64  # sampled frames per yielded video chunk
_ZEROS = np.zeros((2, _AUDIO_CHUNK), np.float32)
_ZEROS.flags.writeable = False


@dataclass
class _Video:
    stream: object
    info: StreamInfo
    rate: float
    next_sample: float = 0.0
    end: float = 0.0
    seen: int = 0  # frames decoded
    sampled: int = 0  # frames kept
    frames: list = field(default_factory=list)
    times: list = field(default_factory=list)


@dataclass
class _Audio:
    stream: object
    info: StreamInfo
    resampler: object
    channels: int
    placed: int = 0  # samples placed on the stream's timeline (decoded plus filled-in silence)
    gap: float = 0.0  # seconds of silence filled in mid-stream
    origin: float | None = None  # timestamp of the first frame, seconds (sample 0)
    stream_end: float = 0.0  # the latest frame end its timestamps claim
    pending: list = field(default_factory=list)
    pending_samples: int = 0
    pending_start: int = 0


class MediaReader:
    """A media file opened for one streaming decode pass (use as a context manager).

    Opening checks the file (``check_file``), the demuxer and codecs
    (``accept``), the declared duration, the streams and their pixel rate
    (``limits``); ``chunks()`` then yields ``VideoChunk`` and ``AudioChunk``
    records as decoding produces them, checking decoded time, pixel rate and
    the wall-time budget as it goes. When it is exhausted, ``duration``,
    ``has_video``, ``has_audio`` and ``warnings`` describe the file; damage
    beyond the ``decode`` settings raises MediaError instead.

    video_fps: frames sampled per second of each video stream (a frame is kept
        when its timestamp reaches the next sampling instant).
    frame_size: side of the square grey image, pixels.
    sample_rate: audio rate, Hz.
    clock: wall clock for the budget (seconds).
    """

    def __init__(self, path: str | os.PathLike, *, video_fps: float, frame_size: int = 128,
                 sample_rate: int = 11025, decode: DecodeParams = DecodeParams(),
                 limits: LimitParams = LimitParams(), accept: AcceptParams = AcceptParams(),
                 clock: Callable[[], float] = time.monotonic):
        self.path = Path(path)
        self.video_fps, self.frame_size, self.sample_rate = video_fps, frame_size, sample_rate
        self.decode, self.limits, self.accept, self.clock = decode, limits, accept, clock
        self.started = clock()
        self.file_size = check_file(self.path, limits)
        self.warnings: list[str] = []
        self.duration = 0.0
        self.has_video = self.has_audio = False
        self.container = _open(self.path, accept)
        try:
            self._check_container()
            self._select_streams()
        except BaseException:
            self.container.close()
            raise

    # -- opening ------------------------------------------------------------
    def _check_container(self) -> None:
        container, limits = self.container, self.limits
        name = container.format.name
        if _is_still_image(container):
            raise MediaError(STILL_IMAGE)
        if name in _TEXT_DEMUXERS:
            raise MediaError(_TEXT_DEMUXERS[name])
        if name in _SUBTITLE_DEMUXERS:
            raise MediaError(SUBTITLES)
        if not _matches(name, self.accept.demuxers):
            raise MediaError(f"FFmpeg reads this file as {name!r}, which is not an accepted audio/video "
                             "container ([fingerprint.accept] demuxers)")
        if name == "ogg":
            why = _ogg_unfinished(self.path)
            if why:
                raise MediaError(why)
        declared = container.duration / av.time_base if container.duration else None
        if name == "wav":
            header = _wav_declared_seconds(self.path)
            if header and (declared is None or header > declared):
                declared = header
        if declared and declared > limits.max_declared_seconds:
            raise MediaError(f"its header declares {_hms(declared)} of media, above [fingerprint.limits] "
                             f"max_declared_seconds = {limits.max_declared_seconds:g}")
        self.declared = declared

    def _select_streams(self) -> None:
        container, limits, accept = self.container, self.limits, self.accept
        videos: list[_Video] = []
        audios: list[_Audio] = []
        refused = []
        for kind, streams, patterns in (("video", container.streams.video, accept.video_codecs),
                                        ("audio", container.streams.audio, accept.audio_codecs)):
            for i, stream in enumerate(streams):
                label = f"{kind} {i}"
                if kind == "video" and stream.disposition & av.stream.Disposition.attached_pic:
                    continue  # cover art: a still picture, not video
                codec = _codec_name(stream)
                if not _matches(codec, patterns):
                    refused.append(f"{label} (codec {codec!r})")
                    continue
                if kind == "video":
                    ctx = stream.codec_context
                    rate = float(stream.average_rate or 0.0)
                    info = StreamInfo(label, kind, codec, width=int(ctx.width or 0), height=int(ctx.height or 0),
                                      rate=rate)
                    videos.append(_Video(stream, info, rate))
                else:
                    channels = int(stream.codec_context.channels or 1)
                    out = 1 if channels == 1 else 2  # more than two are downmixed to stereo
                    resampler = av.AudioResampler(format="flt" if out == 1 else "fltp",
                                                  layout="mono" if out == 1 else "stereo", rate=self.sample_rate)
                    audios.append(_Audio(stream, StreamInfo(label, kind, codec, channels=channels), resampler, out))
        if refused:
            what = ", ".join(refused)
            if not videos and not audios:
                raise MediaError(f"no audio or video stream of an accepted codec: {what} "
                                 "([fingerprint.accept] video_codecs / audio_codecs)")
            self.warnings.append(f"{what}: not an accepted codec ([fingerprint.accept]); ignored")
        if not videos and not audios:
            raise MediaError("no audio or video stream in the file")
        if len(videos) + len(audios) > limits.max_streams:
            raise MediaError(f"{len(videos)} video and {len(audios)} audio streams, above [fingerprint.limits] "
                             f"max_streams = {limits.max_streams}")
        rate = 0.0
        for v in videos:
            pixels = v.info.width * v.info.height
            if pixels > limits.max_frame_pixels:
                raise MediaError(f"{v.info.label} has frames of {v.info.width}x{v.info.height} "
                                 f"({pixels / 1e6:.1f} Mpixel), above [fingerprint.limits] max_frame_pixels = "
                                 f"{limits.max_frame_pixels}")
            rate += pixels * v.rate
        if rate > limits.max_pixels_per_second:
            what = " + ".join(f"{v.info.width}x{v.info.height} at {v.rate:g} fps" for v in videos)
            raise MediaError(f"video of {what} is {rate / 1e6:.1f} Mpixel/s, above [fingerprint.limits] "
                             f"max_pixels_per_second = {limits.max_pixels_per_second:g}")
        for state in (*videos, *audios):
            state.stream.thread_type = DECODER_THREADS
        for v in videos:
            if self.decode.skip_nonref_ratio > 0 and v.rate >= self.decode.skip_nonref_ratio * self.video_fps:
                # B-frames cost the most to decode and nothing refers to them: the I/P frames that remain
                # still come several times per sampling interval (FFmpeg's skip_frame; ignored by
                # decoders without it, which then decode every frame as before)
                v.stream.codec_context.skip_frame = "NONREF"
        self._videos, self._audios = videos, audios
        self.streams = tuple(s.info for s in (*videos, *audios))

    # -- decoding -----------------------------------------------------------
    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> "MediaReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_budget(self, reached: float) -> None:
        spent = self.clock() - self.started
        if spent > self.limits.max_wall_seconds:
            raise MediaError(f"decoding and fingerprinting took over {self.limits.max_wall_seconds:g} s of wall time "
                             f"([fingerprint.limits] max_wall_seconds; {reached:.0f} s of media reached)")

    def _check_reached(self, seconds: float, label: str) -> None:
        if seconds > self.limits.max_decoded_seconds:
            raise MediaError(f"{label} reaches {_hms(seconds)} (its timestamps run or jump that far), beyond "
                             f"[fingerprint.limits] max_decoded_seconds = {self.limits.max_decoded_seconds:g}; "
                             "the rest is not screened, so neither is the file")

    def chunks(self) -> Iterator[VideoChunk | AudioChunk]:
        """Decoded chunks in decoding order (see the class doc); raises MediaError on bad media."""
        by_stream = {s.stream.index: s for s in (*self._videos, *self._audios)}
        decode = self.decode
        packets = bad = 0
        good_bytes = 0
        first_error = ""
        pixels = 0.0  # pixels decoded so far, all video streams
        reached = 0.0  # the latest video time decoded, seconds
        out: list = []
        try:
            for packet in self.container.demux([s.stream for s in by_stream.values()]):
                self._check_budget(reached)
                state = by_stream.get(packet.stream.index)
                if state is None:
                    continue
                if packet.size == 0 and packet.dts is None:
                    decoded = _safe_decode(packet)  # flush packet at end of stream
                else:
                    packets += 1
                    try:
                        decoded = packet.decode()
                    except av.FFmpegError as exc:
                        bad += 1
                        first_error = first_error or (exc.strerror or type(exc).__name__)
                        continue
                    good_bytes += packet.size
                for frame in decoded or ():
                    if isinstance(state, _Video):
                        t = self._take_video(state, frame, out)
                        reached = max(reached, t)
                        pixels += frame.width * frame.height
                        if pixels > self.limits.max_pixels_per_second * (reached + 2.0):
                            raise MediaError(
                                f"decoding reached {pixels / 1e6:.0f} Mpixel within {reached:.1f} s of video, "
                                f"above [fingerprint.limits] max_pixels_per_second = "
                                f"{self.limits.max_pixels_per_second:g} (frames far denser than declared)")
                    else:
                        self._take_audio(state, frame, out)
                if out:
                    yield from out
                    out.clear()
        except av.FFmpegError as exc:
            raise MediaError(f"corrupt media: demuxing failed ({exc.strerror or type(exc).__name__})") from exc
        for a in self._audios:
            for frame in a.resampler.resample(None):
                self._place(a, frame, out)
            self._flush_audio(a, out)
        for v in self._videos:
            self._flush_video(v, out)
        yield from out
        out.clear()

        if packets and bad / packets > decode.max_bad_packet_share:
            raise MediaError(f"corrupt media: {bad} of {packets} packets failed to decode ({first_error})")
        videos = [v for v in self._videos if v.seen]
        audio_end = max((a.placed / self.sample_rate for a in self._audios), default=0.0)
        self.has_video = any(v.sampled for v in videos)
        self.has_audio = any(a.placed for a in self._audios)
        if not self.has_video and not self.has_audio:
            raise MediaError("no decodable frames or samples (zero-duration or corrupt media)")
        if self.has_video and not self.has_audio and all(v.seen <= 1 for v in videos):
            raise MediaError(STILL_IMAGE)  # e.g. a single-frame GIF
        video_end = max((v.end for v in videos), default=0.0)
        duration = max(video_end, audio_end)
        declared = self.declared
        if declared and declared > 1.0 and duration < declared * decode.min_decoded_share:
            stream_end = max([a.stream_end for a in self._audios] + [video_end])
            raise MediaError(_short_decode(duration, declared, stream_end, good_bytes, self.file_size,
                                           decode.min_decoded_share))
        if bad:
            self.warnings.append(f"{bad} of {packets} packets could not be decoded ({first_error}); "
                                 "the rest was screened")
        for a in self._audios:
            if a.gap > 0:
                where = f" in {a.info.label}" if len(self._audios) > 1 else ""
                self.warnings.append(f"{a.gap:.1f} s of audio missing mid-stream{where} (damaged or "
                                     "discontinuous); filled with silence to keep the timeline")
        self.duration = float(duration)

    def _take_video(self, v: _Video, frame, out: list) -> float:
        t = frame.time
        if t is None:
            t = v.seen / (v.rate or 25.0)
        v.seen += 1
        v.end = max(v.end, t + 1.0 / (v.rate or self.video_fps))
        self._check_reached(t, v.info.label)
        if frame.width * frame.height > self.limits.max_frame_pixels:
            raise MediaError(f"{v.info.label} has a frame of {frame.width}x{frame.height}, above "
                             f"[fingerprint.limits] max_frame_pixels = {self.limits.max_frame_pixels}")
        if t + 1e-6 < v.next_sample:
            return t
        v.frames.append(grey_square(frame, self.frame_size))
        v.times.append(float(t))
        v.sampled += 1
        period = 1.0 / self.video_fps
        v.next_sample = (np.floor(t / period + 1e-6) + 1) * period
        if len(v.frames) >= _VIDEO_CHUNK:
            self._flush_video(v, out)
        return t

    def _flush_video(self, v: _Video, out: list) -> None:
        if v.frames:
            out.append(VideoChunk(v.info.label, np.stack(v.frames), np.asarray(v.times, np.float64)))
            v.frames, v.times = [], []

    def _take_audio(self, a: _Audio, frame, out: list) -> None:
        rate = self.sample_rate
        if frame.time is not None and frame.sample_rate:
            a.stream_end = max(a.stream_end, frame.time + frame.samples / frame.sample_rate)
            self._check_reached(frame.time, a.info.label)
            if a.origin is None:
                a.origin = frame.time  # sample 0 (encoder delay and late starts are left as they were)
            missing = frame.time - (a.origin + a.placed / rate)
            if missing > self.decode.max_audio_gap_seconds:  # a damaged stretch was skipped: keep the timeline
                a.gap += missing
                # silence stands in for audio that could not be decoded: no more of it than the
                # truncation rule allows undecoded (checked before any of it is placed)
                timeline = max(self.declared or 0.0, a.placed / rate + missing)
                self._check_reached(timeline, a.info.label)
                if a.gap > (1.0 - self.decode.min_decoded_share) * timeline:
                    raise MediaError(f"damaged mid-stream: {a.gap:.1f} s of the audio's {timeline:.1f} s "
                                     "timeline is missing (its timestamps jump ahead); too much could not be "
                                     "decoded")
                self._flush_audio(a, out)
                left = int(round(missing * rate))
                while left > 0:  # in bounded pieces: never an array sized by a timestamp
                    n = min(left, _AUDIO_CHUNK)
                    out.append(AudioChunk(a.info.label, _ZEROS[: a.channels, :n], a.placed))
                    a.placed += n
                    left -= n
                a.pending_start = a.placed
        for resampled in a.resampler.resample(frame):
            self._place(a, resampled, out)

    def _place(self, a: _Audio, resampled, out: list) -> None:
        n = resampled.samples
        if not n:
            return
        # views of the planes, no copy (each resampled frame owns its buffer); joined once per chunk
        a.pending.append([np.frombuffer(resampled.planes[c], np.float32, n) for c in range(a.channels)])
        a.pending_samples += n
        a.placed += n
        self._check_reached(a.placed / self.sample_rate, a.info.label)
        if a.pending_samples >= _AUDIO_CHUNK:
            self._flush_audio(a, out)

    def _flush_audio(self, a: _Audio, out: list) -> None:
        if a.pending:
            samples = np.stack([np.concatenate([planes[c] for planes in a.pending]) for c in range(a.channels)])
            out.append(AudioChunk(a.info.label, samples, a.pending_start))
            a.pending, a.pending_samples, a.pending_start = [], 0, a.placed


def _codec_name(stream) -> str:
    """The codec's canonical name (``h264`` whichever decoder PyAV picked), '' if unknown."""
    try:
        codec = stream.codec_context.codec
        return str(getattr(codec, "canonical_name", None) or codec.name)
    except (AttributeError, av.FFmpegError, ValueError):
        return ""


def _hms(seconds: float) -> str:
    """``12345.6 s (3.4 h)``: seconds, with hours where that reads better."""
    return f"{seconds:.1f} s ({seconds / 3600:.1f} h)" if seconds >= 3600 else f"{seconds:.1f} s"


@dataclass(frozen=True)
class DecodedMedia:
    """A whole file decoded into arrays (``decode_media``): the first video stream and the
    first audio stream's mix.

    frames: (n, size, size) uint8 grey images, sampled at a fixed rate.
    frame_times: (n,) float64 presentation time of each frame, seconds.
    audio: (samples,) float32 mono signal at ``sample_rate`` Hz (for stereo:
        the mid, (L + R) / sqrt 2, the level FFmpeg's mono downmix gives; empty
        when the file has no audio stream).
    duration: seconds of media (the longer of the decoded streams).
    warnings: damage that was worked around, in words (packets that failed to
        decode, audio missing mid-stream and filled with silence); empty for a
        clean file.
    """

    frames: np.ndarray
    frame_times: np.ndarray
    audio: np.ndarray
    sample_rate: int
    duration: float
    has_video: bool
    has_audio: bool
    warnings: tuple[str, ...] = ()

    @property
    def audio_seconds(self) -> float:
        return len(self.audio) / float(self.sample_rate) if self.sample_rate else 0.0


def mid_signal(samples: np.ndarray) -> np.ndarray:
    """(n,) float32 mix of (channels, n) audio: mono as it is, stereo (L + R) / sqrt 2
    (FFmpeg's own stereo-to-mono downmix, so stereo files keep the codes they had)."""
    return samples[0] if len(samples) == 1 else mid_side(samples)[0]


def decode_media(path: str | os.PathLike, *, video_fps: float, frame_size: int = 128, sample_rate: int = 11025,
                 max_bad_packet_share: float = DecodeParams.max_bad_packet_share,
                 min_decoded_share: float = DecodeParams.min_decoded_share,
                 max_audio_gap_seconds: float = DecodeParams.max_audio_gap_seconds,
                 skip_nonref_ratio: float = DecodeParams.skip_nonref_ratio,
                 window_seconds: float = DecodeParams.window_seconds,
                 video_window_seconds: float = DecodeParams.video_window_seconds,
                 limits: LimitParams = LimitParams(), accept: AcceptParams = AcceptParams()) -> DecodedMedia:
    """Decode ``path`` whole into arrays: the first video stream's sampled grey frames and the
    first audio stream's mix (see ``MediaReader`` for the arguments and checks).

    Memory grows with the file: for tests and tools on short files. Fingerprinting
    streams windows instead (``fingerprint.fingerprint_file``).
    """
    params = DecodeParams(max_bad_packet_share, min_decoded_share, max_audio_gap_seconds, skip_nonref_ratio,
                          window_seconds, video_window_seconds)
    with MediaReader(path, video_fps=video_fps, frame_size=frame_size, sample_rate=sample_rate, decode=params,
                     limits=limits, accept=accept) as reader:
        video = next((s.label for s in reader.streams if s.kind == "video"), None)
        audio = next((s.label for s in reader.streams if s.kind == "audio"), None)
        frames, times, chunks = [], [], []
        for chunk in reader.chunks():
            if isinstance(chunk, VideoChunk) and chunk.stream == video:
                frames.append(chunk.frames)
                times.append(chunk.times)
            elif isinstance(chunk, AudioChunk) and chunk.stream == audio:
                chunks.append(mid_signal(chunk.samples))
        grey = np.concatenate(frames) if frames else np.zeros((0, frame_size, frame_size), np.uint8)
        signal = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
        return DecodedMedia(grey, np.concatenate(times) if times else np.zeros(0), signal, sample_rate,
                            reader.duration, len(grey) > 0, signal.size > 0, tuple(reader.warnings))


def _open(path: Path, accept: AcceptParams = AcceptParams()):
    """``av.open`` limited to local files and the accepted (or merely identifying) demuxers."""
    options = {"format_whitelist": _probe_whitelist(accept), "protocol_whitelist": "file"}
    try:
        return av.open(os.fspath(path.absolute()), mode="r", metadata_errors="ignore", container_options=options)
    except av.FFmpegError as exc:
        why = _bmff_without_moov(path)
        if why:
            raise MediaError(why) from exc
        raise MediaError(f"not a readable media file ({exc.strerror or type(exc).__name__}; or not of an "
                         "accepted container, [fingerprint.accept] demuxers)") from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise MediaError(f"not a readable media file ({exc})") from exc


def _short_decode(duration: float, declared: float, stream_end: float, good_bytes: int, file_size: int,
                  min_share: float) -> str:
    """Why a file decoded to less than its header declares: cut short, or damaged inside.

    Truncated: the data simply stops; the bytes that decoded are (nearly) the
    whole file. Damaged: the timestamps run on to the declared end but content
    is missing, or the file holds enough bytes for the declared duration (at
    the rate of the part that decoded) yet part of them could not be read.
    """
    said = f"decoded {duration:.1f} s of the {declared:.1f} s its header declares"
    held = duration * file_size / good_bytes if good_bytes else 0.0  # seconds the file's bytes would hold
    if stream_end >= declared * min_share or held >= (duration + declared) / 2:
        return f"damaged mid-stream: {said}; the file is full length but parts of it could not be decoded"
    return f"truncated: the file ends early ({said}); it was cut short or is still being written"


def _safe_decode(packet):
    try:
        return packet.decode()
    except av.FFmpegError:
        return ()


def decode_only(path: str | os.PathLike) -> float:
    """Decode every frame of ``path`` and discard it; returns media seconds.

    The cost floor the benchmarks compare fingerprinting against.
    """
    check_file(path)
    container = _open(Path(path))
    try:
        streams = [s for s in (*container.streams.video[:1], *container.streams.audio[:1])]
        for stream in streams:
            stream.thread_type = DECODER_THREADS  # the same decoder set-up as decode_media
        end = 0.0
        for frame in container.decode(*streams):
            if frame.time is not None:
                end = max(end, frame.time)
        return end
    finally:
        container.close()


def audio_between(path: str | os.PathLike, start: float, end: float, sample_rate: int,
                  stream: int = 0) -> np.ndarray | None:
    """(channels, n) float32 samples, at most two channels, of audio stream ``stream`` (its index among
    the file's audio streams) from ``start`` to ``end`` seconds at ``sample_rate`` Hz, for evidence;
    None for a file without that audio stream.

    Seeks near ``start`` and decodes only up to ``end``: the work is that of the excerpt. Both
    channels are kept (a mono mix would cancel a phase-inverted channel a listener still hears).
    """
    check_file(path)
    container = _open(Path(path))
    try:
        if len(container.streams.audio) <= stream:
            return None
        audio = container.streams.audio[stream]
        layout = "stereo" if (audio.codec_context.channels or 1) >= 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        if start > 1.0 and audio.time_base:
            try:
                container.seek(int((start - 1.0) / audio.time_base), stream=audio, backward=True)
            except av.FFmpegError:
                pass  # not seekable: decode from the beginning
        pieces, kept_from, at = [], None, None  # at: the time of the next resampled sample, seconds
        for packet in container.demux(audio):
            for frame in _safe_decode(packet):
                if at is None:
                    at = float(frame.time or 0.0)
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray()
                    if at + chunk.shape[1] / sample_rate > start:  # (what lies before start is not kept:
                        kept_from = at if kept_from is None else kept_from  # memory is the excerpt's)
                        pieces.append(chunk)
                    at += chunk.shape[1] / sample_rate
            if at is not None and at >= end:
                break
        if not pieces:
            return np.zeros((1, 0), np.float32)
        samples = np.concatenate(pieces, axis=1).astype(np.float32)
        lo = max(0, int(round((start - kept_from) * sample_rate)))
        hi = max(lo, int(round((end - kept_from) * sample_rate)))
        return samples[:, lo:hi]
    finally:
        container.close()


def frames_at(path: str | os.PathLike, times: list[float], width: int = 320,
              stream: int = 0) -> list[np.ndarray | None]:
    """RGB frames (h, width, 3) uint8 of video stream ``stream`` (its index among the file's
    video streams) shown at each of ``times`` (seconds), for evidence.

    One sequential decode; a time past the end gives the last frame, a file
    without that video stream gives None for every time.
    """
    check_file(path)
    container = _open(Path(path))
    try:
        if len(container.streams.video) <= stream:
            return [None] * len(times)
        stream = container.streams.video[stream]
        stream.thread_type = "AUTO"
        order = np.argsort(times)
        out: list[np.ndarray | None] = [None] * len(times)
        k, last = 0, None
        for frame in container.decode(stream):
            t = frame.time or 0.0
            while k < len(order) and t + 1e-3 >= times[order[k]]:
                h = max(2, int(round(width * frame.height / max(frame.width, 1) / 2)) * 2)
                out[order[k]] = frame.reformat(width=width, height=h, format="rgb24").to_ndarray()
                k += 1
            if k == len(order):
                break
            last = frame
        while k < len(order) and last is not None:
            h = max(2, int(round(width * last.height / max(last.width, 1) / 2)) * 2)
            out[order[k]] = last.reformat(width=width, height=h, format="rgb24").to_ndarray()
            k += 1
        return out
    finally:
        container.close()
