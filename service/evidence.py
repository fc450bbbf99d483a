"""Evidence for reviewers: matched segments on both timelines and side-by-side
key-frame thumbnails written as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fingerprint import MediaError
from fingerprint.decode import frames_at

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


def _video_stream(stream: str) -> int:
    """The index among the upload's video streams of a segment's stream ("video 1+audio 0" -> 1; 0 if none)."""
    for part in stream.split("+"):
        kind, _, index = part.partition(" ")
        if kind == "video" and index.split(" ")[0].isdigit():
            return int(index.split(" ")[0])
    return 0


def write_thumbnails(upload_path: str, ref_path: str, segments: list[dict], out_dir: Path,
                     prefix: str, per_segment: int = 3) -> list[Path]:
    """One PNG per segment: rows of (upload frame | reference frame) at the
    segment's start, middle and end, each labelled with its seconds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for k, seg in enumerate(segments):
        span_u = (seg["upload_start"], seg["upload_end"])
        span_r = (seg["ref_start"], seg["ref_end"])
        fractions = np.linspace(0.1, 0.9, per_segment)
        tu = [span_u[0] + f * (span_u[1] - span_u[0]) for f in fractions]
        tr = [span_r[0] + f * (span_r[1] - span_r[0]) for f in fractions]
        try:
            up_frames = frames_at(upload_path, tu, THUMB_WIDTH, _video_stream(seg.get("stream", "")))
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
        path = out_dir / f"{prefix}-segment{k + 1}.png"
        sheet.save(path)
        written.append(path)
    return written
