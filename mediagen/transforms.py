"""Edits an uploader might apply to a work, as pure functions ``Media -> Media``.

Inputs are never modified. Units: times in seconds, sizes ``(width, height)``
in pixels, sample rates in Hz, levels in dB, pixel values in 8-bit levels.
Video transforms raise ``ValueError`` on audio-only media and audio
transforms on video-only media. Output video dimensions are kept even
(H.264 needs that) where a transform chooses them.

Picture: :func:`scale`, :func:`resize`, :func:`crop`, :func:`letterbox`,
:func:`pillarbox`, :func:`hflip`, :func:`rotate`, :func:`color_shift`,
:func:`greyscale`, :func:`add_noise`, :func:`caption`, :func:`logo`,
:func:`picture_in_picture`, :func:`vflip`, :func:`rotate90`, :func:`negative`,
:func:`split_screen`, :func:`vertical_over_blur`, :func:`border`, :func:`crop_window`
(an off-centre crop), :func:`decorative_border` and :func:`moving_border` (the work
framed by a textured or an animated pattern).
Time: :func:`change_fps`, :func:`speed`, :func:`excerpt`, :func:`concat`,
:func:`embed`, :func:`shot_starts` (where the shots of a clip begin),
:func:`reverse` (played backwards).
Sound: :func:`mix_audio`, :func:`add_audio_noise`, :func:`pitch_shift`,
:func:`tempo`, :func:`resample_speed`, :func:`gain`, :func:`replace_audio`, :func:`drop_audio`,
:func:`drop_video`.
Codec: :func:`reencode` (write to a file and decode again).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import librosa
import numpy as np
from scipy.ndimage import median_filter

from .media import Media, count, read_media, write_media

__all__ = [
    "scale", "resize", "crop", "letterbox", "pillarbox", "hflip", "rotate", "color_shift",
    "greyscale", "add_noise", "caption", "logo", "picture_in_picture", "vflip", "rotate90", "negative",
    "split_screen", "vertical_over_blur", "border", "crop_window", "decorative_border", "moving_border",
    "change_fps", "speed", "shot_starts", "reverse",
    "excerpt", "concat", "embed", "mix_audio", "add_audio_noise", "pitch_shift", "tempo", "resample_speed", "gain",
    "replace_audio", "drop_audio", "drop_video", "reencode",
]

Size = tuple[int, int]


# --------------------------------------------------------------------------- helpers


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def _video(media: Media, name: str) -> np.ndarray:
    if media.frames is None:
        raise ValueError(f"{name} needs video; this media is audio-only")
    return media.frames


def _audio(media: Media, name: str) -> np.ndarray:
    if media.audio is None:
        raise ValueError(f"{name} needs audio; this media is video-only")
    return media.audio


def _map_frames(media: Media, fn: Callable[[np.ndarray, int], np.ndarray], name: str) -> Media:
    """Apply ``fn(frame, index) -> frame`` to every frame (all outputs the same shape)."""
    frames = _video(media, name)
    probe = fn(np.zeros_like(frames[0]) if len(frames) else np.zeros(frames.shape[1:], np.uint8), 0)
    out = np.empty((len(frames), *probe.shape), np.uint8)
    for i, frame in enumerate(frames):
        out[i] = fn(frame, i)
    return dataclasses.replace(media, frames=out)


def _resize_frames(frames: np.ndarray, size: Size) -> np.ndarray:
    w, h = size
    if frames.shape[2] == w and frames.shape[1] == h:
        return frames
    shrink = w * h < frames.shape[1] * frames.shape[2]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    out = np.empty((len(frames), h, w, 3), np.uint8)
    for i, frame in enumerate(frames):
        out[i] = cv2.resize(frame, (w, h), interpolation=interp)
    return out


def _retime(frames: np.ndarray, src_fps: float, dst_fps: float, rate: float = 1.0,
            n_out: int | None = None) -> np.ndarray:
    """Nearest-earlier-frame resampling: output frame k shows source time k*rate/dst_fps."""
    if n_out is None:
        n_out = count(len(frames) / src_fps / rate, dst_fps)
    idx = np.floor(np.arange(n_out) * rate * src_fps / dst_fps + 1e-6).astype(int)
    return frames[np.clip(idx, 0, len(frames) - 1)] if len(frames) else frames[:0]


def _fit_length(audio: np.ndarray, n: int, loop: bool = False) -> np.ndarray:
    """Trim or extend to ``n`` samples, extending with silence or by looping."""
    if len(audio) >= n:
        return audio[:n].copy()
    if loop and len(audio):
        return np.tile(audio, -(-n // len(audio)))[:n].copy()
    return np.concatenate([audio, np.zeros(n - len(audio), np.float32)])


def _resample(audio: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return audio
    return librosa.resample(audio, orig_sr=src, target_sr=dst).astype(np.float32)


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0


def _limit(audio: np.ndarray) -> np.ndarray:
    """Scale down (never up) so the peak is at most 0.99."""
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    return (audio * (0.99 / peak) if peak > 0.99 else audio).astype(np.float32)


# --------------------------------------------------------------------------- picture


def resize(media: Media, size: Size) -> Media:
    """Resize every frame to ``size`` (width, height) pixels, ignoring aspect ratio."""
    return dataclasses.replace(media, frames=_resize_frames(_video(media, "resize"), size))


def scale(media: Media, factor: float) -> Media:
    """Scale both dimensions by ``factor`` (0.5 halves them), rounded to even pixels."""
    w, h = media.size or (0, 0)
    return resize(media, (_even(w * factor), _even(h * factor)))


def crop(media: Media, fraction: float, anchor: str = "center") -> Media:
    """Cut ``fraction`` of the width and of the height in total (0.1 keeps 90 % x 90 %).

    ``anchor``: "center" (equal margins), "topleft" (keep the top-left part)
    or "bottomright". The output is smaller (even dimensions), not rescaled.
    """
    frames = _video(media, "crop")
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    h, w = frames.shape[1:3]
    kw, kh = min(w, _even(w * (1 - fraction))), min(h, _even(h * (1 - fraction)))
    if anchor == "center":
        x0, y0 = (w - kw) // 2, (h - kh) // 2
    elif anchor == "topleft":
        x0, y0 = 0, 0
    elif anchor == "bottomright":
        x0, y0 = w - kw, h - kh
    else:
        raise ValueError(f"unknown anchor {anchor!r}")
    return dataclasses.replace(media, frames=frames[:, y0 : y0 + kh, x0 : x0 + kw].copy())


def _fit_inside(media: Media, out_size: Size, name: str) -> Media:
    frames = _video(media, name)
    h, w = frames.shape[1:3]
    ow, oh = out_size
    k = min(ow / w, oh / h)
    nw, nh = min(ow, _even(w * k)), min(oh, _even(h * k))
    out = np.zeros((len(frames), oh, ow, 3), np.uint8)
    x0, y0 = (ow - nw) // 2, (oh - nh) // 2
    out[:, y0 : y0 + nh, x0 : x0 + nw] = _resize_frames(frames, (nw, nh))
    return dataclasses.replace(media, frames=out)


def letterbox(media: Media, out_size: Size | None = None) -> Media:
    """Fit the picture inside ``out_size`` keeping its aspect, with black bars.

    Default ``out_size``: same width, height x 4/3, so the picture keeps its
    size and gets bars top and bottom (16:9 shown in a 4:3 frame).
    """
    w, h = media.size or (0, 0)
    return _fit_inside(media, out_size or (w, _even(h * 4 / 3)), "letterbox")


def pillarbox(media: Media, out_size: Size | None = None) -> Media:
    """Like :func:`letterbox`; default ``out_size`` is width x 4/3, same height (side bars)."""
    w, h = media.size or (0, 0)
    return _fit_inside(media, out_size or (_even(w * 4 / 3), h), "pillarbox")


def hflip(media: Media) -> Media:
    """Mirror left-right."""
    return dataclasses.replace(media, frames=_video(media, "hflip")[:, :, ::-1].copy())


def rotate(media: Media, degrees: float, zoom: bool = True) -> Media:
    """Rotate about the centre by ``degrees`` (counter-clockwise positive).

    With ``zoom`` True the picture is enlarged just enough that no corner is
    empty (a 5-degree turn of 16:9 zooms about 1.25x); with False the corners
    are black and nothing is enlarged.
    """
    frames = _video(media, "rotate")
    h, w = frames.shape[1:3]
    rad = np.deg2rad(abs(degrees))
    c, s = np.cos(rad), np.sin(rad)
    k = max((w * c + h * s) / w, (w * s + h * c) / h) if zoom else 1.0
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, k)
    return _map_frames(media, lambda f, _: cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR),
                       "rotate")


def color_shift(media: Media, brightness: float = 0.0, contrast: float = 1.0,
                saturation: float = 1.0, hue_degrees: float = 0.0) -> Media:
    """Colour grading, applied in this order:

    - ``hue_degrees``: rotate hue (HSV) by this many degrees;
    - ``saturation``: multiply HSV saturation (0 = grey, 1 = unchanged);
    - ``contrast``: scale about mid-grey (128) by this factor;
    - ``brightness``: add this fraction of full scale (0.1 = +25.5 levels).
    """
    def grade(frame: np.ndarray, _: int) -> np.ndarray:
        x = frame.astype(np.float32) / 255.0
        if hue_degrees or saturation != 1.0:
            hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)  # float: H in [0, 360), S, V in [0, 1]
            hsv[..., 0] = (hsv[..., 0] + hue_degrees) % 360.0
            hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 1)
            x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        x = (x - 0.5) * contrast + 0.5 + brightness
        return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)

    return _map_frames(media, grade, "color_shift")


def greyscale(media: Media) -> Media:
    """Replace colour by luma (BT.601), kept as three equal RGB channels."""
    return _map_frames(
        media, lambda f, _: cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB),
        "greyscale")


def add_noise(media: Media, sigma: float, seed: int = 0) -> Media:
    """Add Gaussian pixel noise of standard deviation ``sigma`` 8-bit levels (clipped)."""
    rng = np.random.default_rng(seed)
    return _map_frames(
        media,
        lambda f, _: np.clip(f + rng.normal(0, sigma, f.shape).astype(np.float32), 0, 255)
        .astype(np.uint8),
        "add_noise")


def _caption_chunks(text: str | Sequence[str], words_per_caption: int = 5) -> list[str]:
    if not isinstance(text, str):
        return list(text) or [""]
    words = text.split()
    return [" ".join(words[i : i + words_per_caption])
            for i in range(0, len(words), words_per_caption)] or [""]


def caption(media: Media, text: str | Sequence[str], band: bool = True,
            every: float = 3.0) -> Media:
    """Burn subtitles into the bottom of the picture.

    ``text`` is either a list of captions or a string cut into 5-word captions;
    captions change every ``every`` seconds, cycling. With ``band`` True a
    dark translucent band (bottom 22 % of the height) sits behind the text.
    """
    frames = _video(media, "caption")
    h, w = frames.shape[1:3]
    chunks = _caption_chunks(text)
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, h // 200)
    band_top = int(h * 0.78)
    base_scale = h / 320

    def draw(frame: np.ndarray, i: int) -> np.ndarray:
        out = frame.copy()
        if band:
            out[band_top:] = (out[band_top:] * 0.35).astype(np.uint8)
        line = chunks[int(i / media.fps / every) % len(chunks)]
        tw = cv2.getTextSize(line, font, base_scale, thick)[0][0]
        sc = base_scale * min(1.0, 0.94 * w / max(tw, 1))
        tw, th = cv2.getTextSize(line, font, sc, thick)[0]
        y = band_top + (h - band_top + th) // 2
        cv2.putText(out, line, ((w - tw) // 2, y), font, sc, (255, 255, 255), thick, cv2.LINE_AA)
        return out

    return _map_frames(media, draw, "caption")


def _logo_sprite(side: int) -> tuple[np.ndarray, np.ndarray]:
    """A channel-style logo: gold ring with a letter, as (rgb float32, alpha float32)."""
    big = side * 4  # draw large, then shrink, for clean edges
    rgb = np.zeros((big, big, 3), np.uint8)
    alpha = np.zeros((big, big), np.uint8)
    c, r = big // 2, big // 2 - 2
    cv2.circle(alpha, (c, c), r, 255, -1, cv2.LINE_AA)
    cv2.circle(rgb, (c, c), r, (235, 190, 40), -1, cv2.LINE_AA)
    cv2.circle(rgb, (c, c), int(r * 0.78), (30, 40, 120), -1, cv2.LINE_AA)
    scale = big / 60
    (tw, th), _ = cv2.getTextSize("P", cv2.FONT_HERSHEY_DUPLEX, scale, max(1, big // 20))
    cv2.putText(rgb, "P", (c - tw // 2, c + th // 2), cv2.FONT_HERSHEY_DUPLEX, scale,
                (255, 255, 255), max(1, big // 20), cv2.LINE_AA)
    rgb = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.resize(alpha, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    return rgb, alpha[..., None]


def logo(media: Media, corner: str = "tr", size_fraction: float = 0.15,
         opacity: float = 0.85) -> Media:
    """Overlay a round channel logo in a corner ("tl", "tr", "bl", "br").

    The logo is ``size_fraction`` of the frame width across, inset by 3 % of
    the width, blended at ``opacity`` (0-1).
    """
    frames = _video(media, "logo")
    h, w = frames.shape[1:3]
    side = max(4, min(h, int(w * size_fraction)))
    rgb, alpha = _logo_sprite(side)
    alpha = alpha * opacity
    margin = int(w * 0.03)
    if corner not in ("tl", "tr", "bl", "br"):
        raise ValueError(f"unknown corner {corner!r}")
    x0 = margin if corner[1] == "l" else w - margin - side
    y0 = margin if corner[0] == "t" else h - margin - side
    x0, y0 = max(0, x0), max(0, y0)
    out = frames.copy()
    region = out[:, y0 : y0 + side, x0 : x0 + side].astype(np.float32)
    out[:, y0 : y0 + side, x0 : x0 + side] = (region * (1 - alpha) + rgb * alpha + 0.5).astype(
        np.uint8)
    return dataclasses.replace(media, frames=out)


def picture_in_picture(media: Media, background: Media, scale: float = 0.5,
                       position: tuple[float, float] = (0.9, 0.1), audio: str = "inset") -> Media:
    """Show ``media`` as an inset over ``background``.

    The inset is ``scale`` x the background width wide (aspect kept).
    ``position`` (x, y) in [0, 1] places it within the free space: (0, 0) is
    flush top-left, (1, 1) flush bottom-right. The output has the
    background's frame size, ``media``'s fps and duration (the background is
    retimed, looped or cut to fit) and ``audio`` "inset" (media's soundtrack)
    or "background".
    """
    inset = _video(media, "picture_in_picture")
    bg = _video(background, "picture_in_picture")
    bh, bw = bg.shape[1:3]
    ih, iw = inset.shape[1:3]
    nw = min(bw, _even(bw * scale))
    nh = min(bh, _even(nw * ih / iw))
    x0 = int(round(position[0] * (bw - nw)))
    y0 = int(round(position[1] * (bh - nh)))
    n = len(inset)
    bg_frames = _retime(bg, background.fps, media.fps)
    if len(bg_frames) == 0:
        raise ValueError("background has no frames")
    out = bg_frames[np.arange(n) % len(bg_frames)].copy()
    out[:, y0 : y0 + nh, x0 : x0 + nw] = _resize_frames(inset, (nw, nh))
    if audio == "inset":
        sound, sr = media.audio, media.sample_rate
    elif audio == "background":
        sound, sr = background.audio, background.sample_rate
        if sound is not None:
            sound = _fit_length(sound, count(n / media.fps, sr), loop=True)
    else:
        raise ValueError(f"audio must be 'inset' or 'background', got {audio!r}")
    return Media(frames=out, fps=media.fps, audio=sound, sample_rate=sr)


def vflip(media: Media) -> Media:
    """Mirror top-bottom (upside down, mirrored: not a rotation)."""
    return dataclasses.replace(media, frames=_video(media, "vflip")[:, ::-1].copy())


def rotate90(media: Media, turns: int) -> Media:
    """Rotate by ``turns`` quarter turns counter-clockwise (1: 90 degrees, 2: 180, 3: 270).

    Odd turns swap width and height: a landscape work becomes a portrait frame
    (the usual "portrait re-upload").
    """
    frames = _video(media, "rotate90")
    return dataclasses.replace(media, frames=np.ascontiguousarray(np.rot90(frames, turns % 4, axes=(1, 2))))


def negative(media: Media) -> Media:
    """The photographic negative: every level x becomes 255 - x."""
    return dataclasses.replace(media, frames=255 - _video(media, "negative"))


def _frames_like(other: Media, n: int, fps: float, size: Size, name: str) -> np.ndarray:
    """``other``'s frames retimed to ``fps``, looped or cut to ``n`` frames, resized to ``size``."""
    frames = _retime(_video(other, name), other.fps, fps)
    if len(frames) == 0:
        raise ValueError(f"{name}: the other video has no frames")
    return _resize_frames(frames[np.arange(n) % len(frames)], size)


def split_screen(media: Media, other: Media, axis: str = "horizontal", first: bool = True) -> Media:
    """The work beside other video, as ffmpeg's ``hstack`` / ``vstack`` make it.

    ``axis`` "horizontal": side by side (a frame twice as wide), "vertical":
    one above the other (twice as tall). ``first``: the work on the left
    (top), else on the right (bottom). ``other`` is retimed to ``media``'s fps,
    looped or cut to its length and resized to its frame size; the output has
    ``media``'s duration and soundtrack.
    """
    frames = _video(media, "split_screen")
    if axis not in ("horizontal", "vertical"):
        raise ValueError(f"axis must be 'horizontal' or 'vertical', got {axis!r}")
    h, w = frames.shape[1:3]
    beside = _frames_like(other, len(frames), media.fps, (w, h), "split_screen")
    parts = (frames, beside) if first else (beside, frames)
    return dataclasses.replace(media, frames=np.concatenate(parts, axis=2 if axis == "horizontal" else 1))


def vertical_over_blur(media: Media, out_size: Size | None = None, offset: float = 0.0,
                       width_share: float = 1.0, blur_share: float = 0.06, dim: float = 0.8) -> Media:
    """A landscape work in a vertical (9:16) frame over a blurred, zoomed copy of itself.

    The short-video format: the work, ``width_share`` of the frame's width
    (aspect kept), sits over the same picture zoomed to fill the frame,
    blurred (Gaussian, sigma ``blur_share`` of the frame width) and dimmed by
    ``dim``. ``offset`` in [-1, 1] moves the sharp band from the centre to the
    top (-1) or bottom (1) of the free space. Default ``out_size``: 9:16 with
    the work's height as width (a 256x144 work gives 144x256).
    """
    frames = _video(media, "vertical_over_blur")
    if not -1 <= offset <= 1 or not 0 < width_share <= 1:
        raise ValueError("offset must be in [-1, 1] and width_share in (0, 1]")
    h, w = frames.shape[1:3]
    ow, oh = out_size or (_even(h), _even(h * 16 / 9))
    bw = min(ow, _even(ow * width_share))
    bh = min(oh, _even(bw * h / w))
    x0 = (ow - bw) // 2
    y0 = int(round((oh - bh) / 2 * (1 + offset)))
    zoom = max(ow / w, oh / h)
    zw, zh = int(np.ceil(w * zoom)), int(np.ceil(h * zoom))
    sigma = max(1.0, blur_share * ow)
    band = _resize_frames(frames, (bw, bh))
    out = np.empty((len(frames), oh, ow, 3), np.uint8)
    for i, frame in enumerate(frames):
        big = cv2.resize(frame, (zw, zh), interpolation=cv2.INTER_LINEAR)
        bx, by = (zw - ow) // 2, (zh - oh) // 2
        back = cv2.GaussianBlur(big[by : by + oh, bx : bx + ow], (0, 0), sigma)
        out[i] = (back.astype(np.float32) * dim).astype(np.uint8)
        out[i, y0 : y0 + bh, x0 : x0 + bw] = band[i]
    return dataclasses.replace(media, frames=out)


def border(media: Media, sides: tuple[float, float, float, float] = (0.08, 0.08, 0.08, 0.08),
           colour: tuple[int, int, int] = (255, 255, 255), text: str | Sequence[str] | None = None,
           every: float = 3.0) -> Media:
    """The work shrunk inside a uniform border of ``colour`` (RGB), frame size kept.

    ``sides``: (top, bottom, left, right) share of the frame's height / width
    each border takes. The picture is resized to the box between them. With
    ``text`` a caption is written in the top border (dark text, meme style),
    changing every ``every`` seconds like :func:`caption`.
    """
    frames = _video(media, "border")
    h, w = frames.shape[1:3]
    top, bottom, left, right = sides
    if min(sides) < 0 or top + bottom >= 0.9 or left + right >= 0.9:
        raise ValueError(f"border shares must be >= 0 and leave 10 % of the frame, got {sides}")
    y0, y1 = int(round(h * top)), h - int(round(h * bottom))
    x0, x1 = int(round(w * left)), w - int(round(w * right))
    out = np.empty_like(frames)
    out[:] = np.asarray(colour, np.uint8)
    out[:, y0:y1, x0:x1] = _resize_frames(frames, (x1 - x0, y1 - y0))
    if text is None or y0 < 8:
        return dataclasses.replace(media, frames=out)
    chunks = _caption_chunks(text)
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, h // 200)
    ink = (20, 20, 20) if sum(colour) > 384 else (240, 240, 240)
    for i in range(len(out)):
        line = chunks[int(i / media.fps / every) % len(chunks)]
        tw, th = cv2.getTextSize(line, font, 1.0, thick)[0]
        sc = min(0.9 * w / max(tw, 1), 0.6 * y0 / max(th, 1))
        tw, th = cv2.getTextSize(line, font, sc, thick)[0]
        cv2.putText(out[i], line, ((w - tw) // 2, (y0 + th) // 2), font, sc, ink, thick, cv2.LINE_AA)
    return dataclasses.replace(media, frames=out)


def _placed_box(w: int, h: int, share: float, position: tuple[float, float]) -> tuple[int, int, int, int]:
    """(x0, y0, width, height) of a box ``share`` of a w x h frame on each side (even sizes),
    ``position`` (x, y) in [0, 1] placing it within the free space."""
    if not all(0 <= p <= 1 for p in position):
        raise ValueError(f"position must be in [0, 1] x [0, 1], got {position}")
    bw, bh = min(w, _even(w * share)), min(h, _even(h * share))
    return int(round(position[0] * (w - bw))), int(round(position[1] * (h - bh))), bw, bh


def crop_window(media: Media, keep: float, position: tuple[float, float] = (0.5, 0.5),
                keep_size: bool = False) -> Media:
    """Keep a ``keep`` x ``keep`` share of the width and height at ``position``.

    ``position`` (x, y) in [0, 1] places the kept window within the free
    space: (0.5, 0.5) is centred, (0, 0) touches the top-left corner, (1, 1)
    the bottom-right. With ``keep_size`` the window is scaled back up to the
    original frame size (what most re-uploads do); otherwise the output is
    smaller (even dimensions).
    """
    frames = _video(media, "crop_window")
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    h, w = frames.shape[1:3]
    x0, y0, kw, kh = _placed_box(w, h, keep, position)
    out = frames[:, y0 : y0 + kh, x0 : x0 + kw]
    out = _resize_frames(out, (w, h)) if keep_size else out.copy()
    return dataclasses.replace(media, frames=out)


def _border_pattern(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A textured, non-uniform frame template (h, w, 3) float32: interfering colour
    waves (an ornament-like moire), a diagonal lattice and grain, in 2-3 colours."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    v = np.zeros((h, w), np.float32)
    for _ in range(3):
        angle, period = rng.uniform(0, np.pi), rng.uniform(0.03, 0.12) * w
        v += np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + rng.uniform(0, 2 * np.pi))
    lattice = np.abs(np.sin(np.pi * (xx + yy) / rng.uniform(6, 14))) * np.abs(np.sin(np.pi * (xx - yy)
                                                                                   / rng.uniform(6, 14)))
    t = np.clip(0.5 + 0.18 * v + 0.4 * (lattice - 0.5), 0, 1)[..., None]
    a = rng.uniform(20, 235, 3).astype(np.float32)
    b = rng.uniform(20, 235, 3).astype(np.float32)
    img = a * t + b * (1 - t) + rng.normal(0, 8, (h, w, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.float32)


def _framed(media: Media, scale: float, position: tuple[float, float], name: str
            ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The work's frames resized to ``scale`` of the frame (aspect kept) and the
    (x0, y0, width, height) box they take inside a frame of the same size."""
    frames = _video(media, name)
    if not 0 < scale < 1:
        raise ValueError(f"scale must be in (0, 1), got {scale}")
    h, w = frames.shape[1:3]
    box = _placed_box(w, h, scale, position)
    return _resize_frames(frames, box[2:]), box


def _edge_alpha(nw: int, nh: int, soft: int) -> np.ndarray:
    """(nh, nw, 1) float32 opacity of a picture fading into what surrounds it over ``soft`` pixels."""
    if soft <= 0:
        return np.ones((nh, nw, 1), np.float32)
    ramp_x = np.clip((np.minimum(np.arange(nw), np.arange(nw)[::-1]) + 0.5) / soft, 0, 1)
    ramp_y = np.clip((np.minimum(np.arange(nh), np.arange(nh)[::-1]) + 0.5) / soft, 0, 1)
    return (ramp_y[:, None] * ramp_x[None, :])[..., None].astype(np.float32)


def _paste(frames: np.ndarray, inner: np.ndarray, box: tuple[int, int, int, int], soft: int) -> None:
    """Blend ``inner`` (n, nh, nw, 3) into ``frames`` at box (x0, y0, nw, nh), in place."""
    x0, y0, nw, nh = box
    if soft <= 0:
        frames[:, y0 : y0 + nh, x0 : x0 + nw] = inner
        return
    alpha = _edge_alpha(nw, nh, soft)
    region = frames[:, y0 : y0 + nh, x0 : x0 + nw].astype(np.float32)
    frames[:, y0 : y0 + nh, x0 : x0 + nw] = (region * (1 - alpha) + inner * alpha + 0.5).astype(np.uint8)


def decorative_border(media: Media, scale: float = 0.75, seed: int = 0,
                      position: tuple[float, float] = (0.5, 0.5), soft_edge: float = 0.0) -> Media:
    """The work shrunk to ``scale`` of the frame (aspect kept) inside a static
    decorative frame: a textured, patterned, non-uniform template drawn from
    ``seed``. ``position`` places the picture within the free space as in
    :func:`crop_window`. With ``soft_edge`` 0 a light rim surrounds the picture;
    otherwise the picture fades into the pattern over that share of the frame
    width (a vignette-style template, no edge to find).
    """
    inner, box = _framed(media, scale, position, "decorative_border")
    x0, y0, nw, nh = box
    h, w = media.frames.shape[1:3]
    rng = np.random.default_rng(seed)
    template = _border_pattern(rng, w, h)
    soft = int(round(soft_edge * w))
    if soft <= 0:
        rim = max(1, int(round(0.012 * w)))
        cv2.rectangle(template, (x0 - rim, y0 - rim), (x0 + nw + rim - 1, y0 + nh + rim - 1),
                      rng.uniform(180, 255, 3).tolist(), -1)
    out = np.empty_like(media.frames)
    out[:] = template.astype(np.uint8)
    _paste(out, inner, box, soft)
    return dataclasses.replace(media, frames=out)


def moving_border(media: Media, scale: float = 0.75, seed: int = 0,
                  position: tuple[float, float] = (0.5, 0.5), soft_edge: float = 0.0) -> Media:
    """The work shrunk to ``scale`` of the frame inside an animated border whose
    content changes every frame: the template of :func:`decorative_border`
    scrolling diagonally, its colours cycling, and sparkles at new random
    places in every frame. ``soft_edge``: the picture fades into the border
    over that share of the frame width (0: a hard edge)."""
    inner, box = _framed(media, scale, position, "moving_border")
    n, h, w = media.frames.shape[:3]
    rng = np.random.default_rng(seed)
    template = _border_pattern(rng, 2 * w, 2 * h)
    step = rng.uniform(1.5, 4.0, 2) * np.array([w, h]) / 256  # pixels per frame, scaled to the frame
    hue = rng.uniform(0.5, 2.0)  # degrees of colour cycling per frame
    out = np.empty_like(media.frames)
    for i in range(n):
        dx, dy = (int(i * step[0]) % w, int(i * step[1]) % h)
        frame = template[dy : dy + h, dx : dx + w]
        phase = np.deg2rad(i * hue)
        frame = frame * (0.8 + 0.2 * np.cos(phase + np.arange(3) * 2.1)).astype(np.float32)
        for _ in range(12):
            cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
            cv2.circle(frame, (cx, cy), int(rng.integers(1, max(2, w // 60) + 1)), (255, 255, 240), -1)
        out[i] = np.clip(frame, 0, 255).astype(np.uint8)
    _paste(out, inner, box, int(round(soft_edge * w)))
    return dataclasses.replace(media, frames=out)

# --------------------------------------------------------------------------- time


def change_fps(media: Media, fps: float) -> Media:
    """Resample the video to ``fps`` frames per second (frames dropped or repeated).

    Duration and audio are unchanged.
    """
    frames = _video(media, "change_fps")
    return dataclasses.replace(media, frames=_retime(frames, media.fps, fps), fps=float(fps))


def speed(media: Media, factor: float) -> Media:
    """Play ``factor`` times faster (1.1 = 10 % faster): duration becomes duration / factor.

    Video keeps its fps and drops (or repeats) frames; audio is time-stretched
    with a phase vocoder (librosa), so its pitch is unchanged.
    """
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    frames = audio = None
    if media.frames is not None:
        frames = _retime(media.frames, media.fps, media.fps, rate=factor)
    if media.audio is not None:
        audio = _stretch(media.audio, factor)
    return dataclasses.replace(media, frames=frames, audio=audio)


def _stretch(audio: np.ndarray, factor: float) -> np.ndarray:
    n = count(len(audio) / factor, 1)
    if factor == 1.0 or len(audio) < 2048:
        idx = np.minimum((np.arange(n) * factor).astype(int), max(0, len(audio) - 1))
        return audio[idx] if len(audio) else audio
    stretched = librosa.effects.time_stretch(audio, rate=factor)
    return _limit(_fit_length(stretched.astype(np.float32), n))


def tempo(media: Media, factor: float) -> Media:
    """Time-stretch the audio only by ``factor`` (>1 faster, pitch kept); video untouched."""
    return dataclasses.replace(media, audio=_stretch(_audio(media, "tempo"), factor))


def resample_speed(media: Media, factor: float) -> Media:
    """Play the soundtrack ``factor`` times faster with the pitch following, as a tape
    or resampling does (``ffmpeg -af asetrate=sr*factor,aresample=sr``): duration
    / factor, every frequency x factor (12 log2 factor semitones); video untouched."""
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    audio = _audio(media, "resample_speed")
    if factor == 1.0:
        return media
    out = librosa.resample(audio, orig_sr=media.sample_rate * factor, target_sr=media.sample_rate)
    return dataclasses.replace(media, audio=_limit(out.astype(np.float32)))


def shot_starts(media: Media, ratio: float = 4.0) -> np.ndarray:
    """Frame indices where a new shot starts (0 included): frames whose mean absolute
    RGB difference to the previous frame is ``ratio`` times the running median of
    those differences over about a second (colour catches cuts between scenes of
    equal brightness)."""
    frames = _video(media, "shot_starts")
    if len(frames) < 2:
        return np.zeros(min(1, len(frames)), np.int64)
    step = np.array([np.abs(frames[i + 1].astype(np.int16) - frames[i]).mean() for i in range(len(frames) - 1)])
    width = max(3, int(round(media.fps)) | 1)
    background = median_filter(step, size=width, mode="nearest")
    cuts = np.flatnonzero(step > ratio * np.maximum(background, 1e-3)) + 1
    return np.concatenate([[0], cuts]).astype(np.int64)


def reverse(media: Media) -> Media:
    """Played backwards: frames and samples in reverse order (duration kept)."""
    return dataclasses.replace(
        media, frames=None if media.frames is None else media.frames[::-1].copy(),
        audio=None if media.audio is None else media.audio[::-1].copy())


def excerpt(media: Media, start: float, end: float) -> Media:
    """The part from ``start`` to ``end`` seconds (clamped to the media)."""
    if end <= start or start < 0:
        raise ValueError(f"need 0 <= start < end, got {start}, {end}")
    frames = audio = None
    if media.frames is not None:
        first = count(start, media.fps)
        frames = media.frames[first : first + count(end - start, media.fps)].copy()
    if media.audio is not None:
        first = count(start, media.sample_rate)
        audio = media.audio[first : first + count(end - start, media.sample_rate)].copy()
    return dataclasses.replace(media, frames=frames, audio=audio)


def _conform(media: Media, size: Size | None, fps: float, sample_rate: int,
             video: bool, audio: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Frames at ``size``/``fps`` and audio at ``sample_rate``, both exactly as long as
    ``media.duration`` (black frames or silence fill gaps or missing streams)."""
    duration = media.duration
    frames = sound = None
    if video and size is not None:
        n = count(duration, fps)
        if media.frames is None or len(media.frames) == 0:
            frames = np.zeros((n, size[1], size[0], 3), np.uint8)
        else:
            frames = _retime(_resize_frames(media.frames, size), media.fps, fps, n_out=n)
            last = count(media.video_duration, fps)
            frames[last:] = 0  # media with a longer soundtrack: black after the picture ends
    if audio:
        n = count(duration, sample_rate)
        src = media.audio if media.audio is not None else np.zeros(0, np.float32)
        sound = _fit_length(_resample(src, media.sample_rate, sample_rate), n)
    return frames, sound


def concat(*medias: Media) -> Media:
    """Play ``medias`` one after another.

    Frame size and fps come from the first part with video, the sample rate
    from the first part with audio; other parts are resized, retimed and
    resampled to match. A part lacking a stream the others have gets black
    frames or silence for its duration, so picture and sound stay in sync.
    """
    if not medias:
        raise ValueError("concat needs at least one media")
    with_video = [m for m in medias if m.frames is not None]
    with_audio = [m for m in medias if m.audio is not None]
    size = with_video[0].size if with_video else None
    fps = with_video[0].fps if with_video else medias[0].fps
    sr = with_audio[0].sample_rate if with_audio else medias[0].sample_rate
    parts = [_conform(m, size, fps, sr, bool(with_video), bool(with_audio)) for m in medias]
    frames = np.concatenate([p[0] for p in parts]) if with_video else None
    audio = np.concatenate([p[1] for p in parts]) if with_audio else None
    return Media(frames=frames, fps=fps, audio=audio, sample_rate=sr)


def embed(excerpt: Media, background: Media, at: float) -> Media:
    """Put ``excerpt`` into ``background`` from ``at`` seconds on, replacing it there.

    The excerpt is resized/retimed/resampled to the background's format. The
    result lasts as long as the background, or until the excerpt ends if that
    is later (the gap, if ``at`` is past the end, is black/silent). Where the
    excerpt lacks a stream, the background's stream plays on.
    """
    if at < 0:
        raise ValueError(f"at must be >= 0, got {at}")
    size = background.size or excerpt.size
    fps = background.fps if background.frames is not None else excerpt.fps
    sr = background.sample_rate if background.audio is not None else excerpt.sample_rate
    has_video = background.frames is not None or excerpt.frames is not None
    has_audio = background.audio is not None or excerpt.audio is not None
    bg_v, bg_a = _conform(background, size, fps, sr, has_video, has_audio)
    ex_v, ex_a = _conform(excerpt, size, fps, sr, has_video, has_audio)
    frames = audio = None
    if has_video:
        start = count(at, fps)
        frames = np.zeros((max(len(bg_v), start + len(ex_v)), *bg_v.shape[1:]), np.uint8)
        frames[: len(bg_v)] = bg_v
        if excerpt.frames is not None:
            frames[start : start + len(ex_v)] = ex_v
    if has_audio:
        start = count(at, sr)
        audio = np.zeros(max(len(bg_a), start + len(ex_a)), np.float32)
        audio[: len(bg_a)] = bg_a
        if excerpt.audio is not None:
            audio[start : start + len(ex_a)] = ex_a
    return Media(frames=frames, fps=fps, audio=audio, sample_rate=sr)


# --------------------------------------------------------------------------- sound


def mix_audio(media: Media, other_audio: np.ndarray, snr_db: float) -> Media:
    """Mix ``other_audio`` (same sample rate; looped or cut to length) under/over the soundtrack.

    ``other_audio`` is scaled so that soundtrack power / other power = ``snr_db``
    dB: 20 leaves the soundtrack dominant, 0 is equal power, -6 puts the other
    sound (e.g. a voice-over) on top of the music. The mix is scaled down if
    it would clip.
    """
    audio = _audio(media, "mix_audio")
    other = _fit_length(np.asarray(other_audio, np.float32), len(audio), loop=True)
    p_other = _power(other)
    k = np.sqrt(_power(audio) / (p_other * 10 ** (snr_db / 10))) if p_other > 0 else 0.0
    return dataclasses.replace(media, audio=_limit(audio + k * other))


def add_audio_noise(media: Media, snr_db: float, seed: int = 0) -> Media:
    """Add white Gaussian noise at ``snr_db`` dB below the soundtrack's power."""
    audio = _audio(media, "add_audio_noise")
    noise = np.random.default_rng(seed).normal(0, 1, len(audio)).astype(np.float32)
    return mix_audio(media, noise, snr_db)


def pitch_shift(media: Media, semitones: float) -> Media:
    """Shift the soundtrack's pitch by ``semitones`` (duration kept; librosa)."""
    audio = _audio(media, "pitch_shift")
    shifted = librosa.effects.pitch_shift(audio, sr=media.sample_rate, n_steps=semitones)
    return dataclasses.replace(media, audio=_limit(shifted.astype(np.float32)))


def gain(media: Media, db: float) -> Media:
    """Change the soundtrack level by ``db`` decibels (clipped to [-1, 1])."""
    audio = _audio(media, "gain")
    return dataclasses.replace(media, audio=np.clip(audio * 10 ** (db / 20), -1, 1))


def replace_audio(media: Media, audio: np.ndarray | Media) -> Media:
    """Keep the picture, swap the soundtrack (an evasion trick).

    ``audio`` is samples at ``media.sample_rate``, or a :class:`Media` whose
    audio is resampled; it is looped or cut to the video's duration (or to
    ``media.duration`` for audio-only media).
    """
    if isinstance(audio, Media):
        src = _resample(_audio(audio, "replace_audio"), audio.sample_rate, media.sample_rate)
    else:
        src = np.asarray(audio, np.float32)
    seconds = media.video_duration if media.frames is not None else media.duration
    n = count(seconds, media.sample_rate)
    return dataclasses.replace(media, audio=_fit_length(src, n, loop=True))


def drop_audio(media: Media) -> Media:
    """Remove the soundtrack (video only)."""
    _video(media, "drop_audio")
    return dataclasses.replace(media, audio=None)


def drop_video(media: Media) -> Media:
    """Remove the picture (audio only)."""
    _audio(media, "drop_video")
    return dataclasses.replace(media, frames=None)


# --------------------------------------------------------------------------- codec


def reencode(media: Media, suffix: str = ".mp4", video_bitrate: int | None = None,
             audio_bitrate: int | None = None) -> Media:
    """Round-trip through a file of type ``suffix`` (see :func:`write_media`) at the
    given bitrates (bits per second), decoding back at ``media.sample_rate``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_media(media, Path(tmp) / f"reencode{suffix}", video_bitrate, audio_bitrate)
        return read_media(path, sample_rate=media.sample_rate)
