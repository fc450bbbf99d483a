"""One decode pass per file: sampled grey video frames and mono audio.

Decoding is the cost floor of the whole pipeline, so a file is demuxed exactly
once; video frames are decoded in full (inter-frame codecs need that) but only
the frames at the sampling instants are converted to small grey images, and the
audio is resampled to one fixed mono rate on the fly.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

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
    """How decoding treats damaged files, and which frames it may skip (see ``decode_media``).

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
    """

    max_bad_packet_share: float = 0.05
    min_decoded_share: float = 0.9
    max_audio_gap_seconds: float = 0.05
    skip_nonref_ratio: float = 4.0


class MediaError(Exception):
    """A file that cannot be used as media; the message says why, in words."""


# FFmpeg demuxers that read single pictures: image2 (by file name) and the *_pipe probes (by content)
_IMAGE_DEMUXERS = frozenset({"image2", "image2pipe"})
STILL_IMAGE = "a still image, not audio or video"
MISSING_MOOV = ("the MP4/MOV container index (moov box) is missing: the file is likely truncated or "
                "still being written")
_BMFF_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"pnot", b"meta",
                         b"moof", b"mfra", b"sidx", b"styp", b"pdin"})


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
class DecodedMedia:
    """What one decode pass yields.

    frames: (n, size, size) uint8 grey images, sampled at a fixed rate.
    frame_times: (n,) float64 presentation time of each frame, seconds.
    audio: (samples,) float32 mono signal in [-1, 1] at ``sample_rate`` Hz
        (empty when the file has no audio stream).
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


def _open(path: Path):
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError(f"cannot read file: {exc.strerror or exc}") from exc
    if path.is_dir():
        raise MediaError("is a directory, not a media file")
    if size == 0:
        raise MediaError("empty file (0 bytes)")
    try:
        return av.open(os.fspath(path), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        why = _bmff_without_moov(path)
        if why:
            raise MediaError(why) from exc
        raise MediaError(f"not a readable media file ({exc.strerror or type(exc).__name__})") from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise MediaError(f"not a readable media file ({exc})") from exc


def decode_media(
    path: str | os.PathLike,
    *,
    video_fps: float,
    frame_size: int = 128,
    sample_rate: int = 11025,
    max_bad_packet_share: float = DecodeParams.max_bad_packet_share,
    min_decoded_share: float = DecodeParams.min_decoded_share,
    max_audio_gap_seconds: float = DecodeParams.max_audio_gap_seconds,
    skip_nonref_ratio: float = DecodeParams.skip_nonref_ratio,
) -> DecodedMedia:
    """Decode ``path`` once into sampled grey frames and mono audio.

    video_fps: frames sampled per second of video (a frame is kept when its
        timestamp reaches the next sampling instant).
    frame_size: side of the square grey image, pixels (aspect is normalised
        away; perceptual hashes work on a square anyway).
    sample_rate: mono audio rate, Hz.
    max_bad_packet_share: share of packets that may fail to decode before the
        file is called corrupt.
    min_decoded_share: a file whose decoded duration is below this share of
        the duration its header declares is called truncated.
    max_audio_gap_seconds: audio frames are placed at their timestamps; a
        jump ahead by more than this (seconds) is filled with silence, so the
        audio timeline stays that of the file when a damaged stretch is
        skipped, and a warning says how much was missing.
    skip_nonref_ratio: skip decoding non-reference frames when the frame rate
        is at least this many times ``video_fps`` (0: decode every frame).

    Raises MediaError for empty, non-media, corrupt, truncated or stream-less
    files.
    """
    path = Path(path)
    container = _open(path)
    try:
        if _is_still_image(container):
            raise MediaError(STILL_IMAGE)
        if container.format.name == "ogg":
            why = _ogg_unfinished(path)
            if why:
                raise MediaError(why)
        declared = container.duration / av.time_base if container.duration else None
        if container.format.name == "wav":
            header = _wav_declared_seconds(path)
            if header and (declared is None or header > declared):
                declared = header
        return _decode_open(
            container, video_fps, frame_size, sample_rate, max_bad_packet_share, min_decoded_share,
            max_audio_gap_seconds, skip_nonref_ratio, declared, path.stat().st_size,
        )
    finally:
        container.close()


def _decode_open(container, video_fps, frame_size, sample_rate, max_bad_share, min_decoded_share, max_audio_gap,
                 skip_nonref_ratio, declared, file_size):
    video = next(iter(container.streams.video), None)
    audio = next(iter(container.streams.audio), None)
    if video is None and audio is None:
        raise MediaError("no audio or video stream in the file")
    streams = [s for s in (video, audio) if s is not None]
    for stream in streams:
        stream.thread_type = DECODER_THREADS
    if video is not None and skip_nonref_ratio > 0 and video.average_rate \
            and float(video.average_rate) >= skip_nonref_ratio * video_fps:
        # B-frames cost the most to decode and nothing refers to them: the I/P frames that remain
        # still come several times per sampling interval (FFmpeg's skip_frame; ignored by
        # decoders without it, which then decode every frame as before)
        video.codec_context.skip_frame = "NONREF"

    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate) if audio else None
    frames: list[np.ndarray] = []
    times: list[float] = []
    chunks: list[np.ndarray] = []
    period = 1.0 / video_fps
    next_sample = 0.0
    video_end = 0.0
    video_frames_seen = 0
    packets = bad = 0
    good_bytes = 0  # bytes of the packets that decoded
    stream_end = 0.0  # the latest frame end by timestamps (what the stream claims to reach)
    first_error = ""
    audio_samples = 0  # mono samples at ``sample_rate`` placed so far (chunks plus silence)
    audio_gap = 0.0  # seconds of silence filled in mid-stream
    audio_origin = None  # timestamp of the first audio frame, seconds

    def take_video(frame) -> None:
        nonlocal next_sample, video_end, video_frames_seen
        t = frame.time
        if t is None:
            rate = float(video.average_rate or 25)
            t = video_frames_seen / rate
        video_frames_seen += 1
        rate = float(video.average_rate or video_fps)
        video_end = max(video_end, t + 1.0 / rate)
        if t + 1e-6 < next_sample:
            return
        frames.append(grey_square(frame, frame_size))
        times.append(float(t))
        next_sample = (np.floor(t / period + 1e-6) + 1) * period

    def take_audio(frame) -> None:
        nonlocal stream_end, audio_samples, audio_gap, audio_origin
        if frame.time is not None and frame.sample_rate:
            stream_end = max(stream_end, frame.time + frame.samples / frame.sample_rate)
            if audio_origin is None:
                audio_origin = frame.time  # sample 0 (encoder delay and late starts are left as they were)
            missing = frame.time - (audio_origin + audio_samples / sample_rate)
            if missing > max_audio_gap:  # a damaged stretch was skipped: keep the file's timeline
                audio_gap += missing
                # silence stands in for audio that could not be decoded: no more of it than the
                # truncation rule allows undecoded (checked before it is allocated)
                timeline = max(declared or 0.0, audio_samples / sample_rate + missing)
                if audio_gap > (1.0 - min_decoded_share) * timeline:
                    raise MediaError(f"damaged mid-stream: {audio_gap:.1f} s of the audio's {timeline:.1f} s "
                                     "timeline is missing (its timestamps jump ahead); too much could not be "
                                     "decoded")
                pad = int(round(missing * sample_rate))
                chunks.append(np.zeros(pad, np.float32))
                audio_samples += pad
        for out in resampler.resample(frame):  # packed mono float32: a view of the plane, no copy
            chunks.append(np.frombuffer(out.planes[0], np.float32, out.samples))
            audio_samples += out.samples

    try:
        for packet in container.demux(streams):
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
                if packet.stream.type == "video":
                    take_video(frame)
                else:
                    take_audio(frame)
    except av.FFmpegError as exc:
        raise MediaError(f"corrupt media: demuxing failed ({exc.strerror or type(exc).__name__})") from exc
    if resampler is not None:
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))

    if packets and bad / packets > max_bad_share:
        raise MediaError(f"corrupt media: {bad} of {packets} packets failed to decode ({first_error})")
    signal = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    has_video = bool(frames)
    has_audio = signal.size > 0
    if not has_video and not has_audio:
        raise MediaError("no decodable frames or samples (zero-duration or corrupt media)")
    if has_video and not has_audio and video_frames_seen == 1:
        raise MediaError(STILL_IMAGE)  # e.g. a single-frame GIF
    audio_end = signal.size / float(sample_rate)
    duration = max(video_end if has_video else 0.0, audio_end)
    if declared and declared > 1.0 and duration < declared * min_decoded_share:
        raise MediaError(_short_decode(duration, declared, max(stream_end, video_end), good_bytes, file_size,
                                       min_decoded_share))
    warnings = []
    if bad:
        warnings.append(f"{bad} of {packets} packets could not be decoded ({first_error}); the rest was screened")
    if audio_gap > 0:
        warnings.append(f"{audio_gap:.1f} s of audio missing mid-stream (damaged or discontinuous); "
                        "filled with silence to keep the timeline")
    grey = np.stack(frames) if frames else np.zeros((0, frame_size, frame_size), np.uint8)
    return DecodedMedia(
        frames=grey,
        frame_times=np.asarray(times, dtype=np.float64),
        audio=signal,
        sample_rate=sample_rate,
        duration=float(duration),
        has_video=has_video,
        has_audio=has_audio,
        warnings=tuple(warnings),
    )


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


def frames_at(path: str | os.PathLike, times: list[float], width: int = 320) -> list[np.ndarray | None]:
    """RGB frames (h, width, 3) uint8 shown at each of ``times`` (seconds), for evidence.

    One sequential decode; a time past the end gives the last frame, a file
    without video gives None for every time.
    """
    container = _open(Path(path))
    try:
        if not container.streams.video:
            return [None] * len(times)
        stream = container.streams.video[0]
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
