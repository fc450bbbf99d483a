"""Evidence for reviewers: matched segments on both timelines, side-by-side key-frame thumbnails
written as PNG files, and for audio matches the matched seconds of both files as WAV excerpts to play
with a spectrogram of each."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy.signal import stft

from fingerprint import MediaError
from fingerprint.decode import audio_between, frames_at

THUMB_WIDTH = 240


def _label(img: np.ndarray, text: str) -> Image.Image:
    pic = Image.fromarray(img)
    band = Image.new("RGB", (pic.width, 18), (20, 20, 20))
    ImageDraw.Draw(band).text((4, 3), text, fill=(240, 240, 240))
    out = Image.new("RGB", (pic.width, pic.height + 18))
    out.paste(band, (0, 0))
    out.paste(pic, (0, 18))
    return out


def _blank(text: str, like: Image.Image | None) -> Image.Image:
    w, h = (like.width, like.height) if like else (THUMB_WIDTH, THUMB_WIDTH * 9 // 16 + 18)
    pic = Image.new("RGB", (w, h), (60, 60, 60))
    ImageDraw.Draw(pic).text((6, h // 2), text, fill=(230, 230, 230))
    return pic


def _stream_index(stream: str, kind: str) -> int:
    """The index among the upload's ``kind`` streams of a segment's stream ("video 1+audio 0" -> 1 for
    video, 0 for audio; 0 if it names none)."""
    for part in stream.split("+"):
        named, _, index = part.partition(" ")
        if named == kind and index.split(" ")[0].isdigit():
            return int(index.split(" ")[0])
    return 0


def write_thumbnails(upload_path: str, ref_path: str, segments: dict[int, dict], out_dir: Path,
                     prefix: str, per_segment: int = 3) -> dict[int, Path]:
    """One PNG per segment (``segments``: its number -> the segment), ``<prefix>-segment<number>.png``:
    rows of (upload frame | reference frame) from the segment's start to its end, each labelled with
    its seconds. Returns number -> path for the segments with pictures on both sides."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for k, seg in segments.items():
        span_u = (seg["upload_start"], seg["upload_end"])
        span_r = (seg["ref_start"], seg["ref_end"])
        fractions = np.linspace(0.1, 0.9, per_segment)
        tu = [span_u[0] + f * (span_u[1] - span_u[0]) for f in fractions]
        tr = [span_r[0] + f * (span_r[1] - span_r[0]) for f in fractions]
        try:
            up_frames = frames_at(upload_path, tu, THUMB_WIDTH, _stream_index(seg.get("stream", ""), "video"))
            ref_frames = frames_at(ref_path, tr, THUMB_WIDTH)
        except (MediaError, OSError):
            continue
        if all(f is None for f in up_frames) or all(f is None for f in ref_frames):
            continue  # audio-only: there is no picture to show
        rows = []
        for a, b, ta, tb in zip(up_frames, ref_frames, tu, tr):
            left = _label(a, f"upload {ta:.1f}s") if a is not None else None
            right = _label(b, f"work {tb:.1f}s") if b is not None else None
            left = left or _blank("no frame", right)
            right = right or _blank("no frame", left)
            row = Image.new("RGB", (left.width + right.width + 6, max(left.height, right.height)), (255, 255, 255))
            row.paste(left, (0, 0))
            row.paste(right, (left.width + 6, 0))
            rows.append(row)
        sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height + 6 for r in rows)), (255, 255, 255))
        y = 0
        for r in rows:
            sheet.paste(r, (0, y))
            y += r.height + 6
        path = out_dir / f"{prefix}-segment{k}.png"
        sheet.save(path)
        written[k] = path
    return written


SPECTRUM_ROWS = 96  # spectrogram height per file, pixels (0 to 5.5 kHz)
SPECTRUM_WIDTH = 480  # pixels
_PALETTE = np.array([[12, 7, 34], [72, 22, 110], [160, 45, 100], [232, 100, 40], [250, 220, 90]], float)


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """(channels, n) float samples in [-1, 1] as 16-bit PCM WAV."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").T.copy()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[0])
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())


def log_spectrum(samples: np.ndarray, sample_rate: int, rows: int = SPECTRUM_ROWS,
                 max_hz: float = 5512.5) -> np.ndarray:
    """(rows, frames) dB magnitude of (channels, n) samples up to ``max_hz``, the louder channel at each
    bin (so a phase-inverted channel shows), low frequencies in the last row."""
    if samples.shape[1] < 64:
        return np.full((rows, 1), -120.0)
    _, _, z = stft(samples, fs=sample_rate, nperseg=1024, noverlap=768, boundary=None)
    mag = np.abs(z).max(axis=0)  # (bins, frames)
    bins = mag.shape[0]
    top = max(2, min(bins, int(bins * max_hz / (sample_rate / 2))))
    edges = np.linspace(0, top, rows + 1).astype(int)
    edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)
    bands = np.add.reduceat(mag[:edges[-1]], edges[:-1], axis=0) / np.diff(edges)[:, None]
    return 20 * np.log10(bands[::-1] + 1e-6)


def _colour(db: np.ndarray, floor: float, top: float) -> np.ndarray:
    level = np.clip((db - floor) / max(top - floor, 1e-6), 0, 1) * (len(_PALETTE) - 1)
    low = np.floor(level).astype(int).clip(0, len(_PALETTE) - 2)
    frac = (level - low)[..., None]
    return (_PALETTE[low] * (1 - frac) + _PALETTE[low + 1] * frac).astype(np.uint8)


def spectrogram_sheet(upload: np.ndarray, reference: np.ndarray, sample_rate: int,
                      labels: tuple[str, str]) -> Image.Image:
    """Both excerpts' spectrograms one above the other, on one colour scale, each labelled."""
    specs = [log_spectrum(upload, sample_rate), log_spectrum(reference, sample_rate)]
    top = max(float(s.max()) for s in specs)
    panels = []
    for spec, label in zip(specs, labels):
        pic = Image.fromarray(_colour(spec, top - 80.0, top)).resize((SPECTRUM_WIDTH, SPECTRUM_ROWS))
        panels.append(_label(np.asarray(pic), label))
    sheet = Image.new("RGB", (SPECTRUM_WIDTH, sum(p.height + 4 for p in panels)), (255, 255, 255))
    for k, p in enumerate(panels):
        sheet.paste(p, (0, k * (p.height + 4)))
    return sheet


def write_audio_excerpts(upload_path: str, ref_path: str, segments: dict[int, dict], out_dir: Path, prefix: str,
                         max_seconds: float, sample_rate: int) -> dict[int, dict[str, Path]]:
    """Per segment (``segments``: its number -> the segment): the matched seconds of the upload and of
    the reference as WAV files (the first ``max_seconds`` of a longer segment, on each timeline) and a
    PNG of both spectrograms. Returns number -> ``{upload, reference, spectrogram}`` (paths) for the
    segments whose files both have that audio."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for k, seg in segments.items():
        u0 = seg["upload_start"]
        u1 = min(seg["upload_end"], u0 + max_seconds)
        r0 = seg["ref_start"]
        kept = (u1 - u0) / max(seg["upload_end"] - u0, 1e-9)  # the share of the segment excerpted
        r1 = min(r0 + (seg["ref_end"] - r0) * kept, r0 + max_seconds)
        try:
            up = audio_between(upload_path, u0, u1, sample_rate, _stream_index(seg.get("stream", ""), "audio"))
            ref = audio_between(ref_path, r0, r1, sample_rate)
        except (MediaError, OSError):
            continue
        if up is None or ref is None or up.shape[1] == 0 or ref.shape[1] == 0:
            continue
        stem = f"{prefix}-segment{k}"
        files = {"upload": out_dir / f"{stem}-upload.wav", "reference": out_dir / f"{stem}-work.wav",
                 "spectrogram": out_dir / f"{stem}-spectrogram.png"}
        _write_wav(files["upload"], up, sample_rate)
        _write_wav(files["reference"], ref, sample_rate)
        spectrogram_sheet(up, ref, sample_rate, (f"upload {u0:.1f}-{u1:.1f}s",
                                                 f"work {r0:.1f}-{r1:.1f}s")).save(files["spectrogram"])
        written[k] = files
    return written
