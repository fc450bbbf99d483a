"""Deterministic synthetic media: textured video, music, speech, degenerate content.

Everything here is a pure function of its arguments (``seed`` included), so
tests and benchmarks can regenerate the same "works" on demand. Conventions:
``duration`` in seconds, ``size`` as ``(width, height)`` in pixels, ``fps`` in
frames per second, ``sample_rate`` in Hz. Video is ``(n, height, width, 3)``
uint8 RGB; audio is ``(samples,)`` float32 mono in ``[-1, 1]``.

- :func:`synth_video`: scenes of 2-6 s, each with its own procedural textured
  background (clouds, plasma, landscape, warped stripes, bokeh), a slow camera
  pan/zoom, several textured moving/rotating shapes, vignette and film grain.
- :func:`synth_music`: a random key, tempo and chord progression, with pad
  chords, a bass line, a phrase-structured melody, drums and a little reverb.
- :func:`synth_speech`: espeak-ng when installed, else a formant synthesiser.
- :func:`synth_shots`: video of the same kind cut at given shot lengths.
- :func:`synth_work`: video plus a music soundtrack, as a :class:`Media`.
- :func:`black_video`, :func:`test_pattern`, :func:`title_card`,
  :func:`silence`: degenerate content that must never be matched on.
- :func:`synth_static_camera`: a fixed camera (street view, talk-show set)
  where only small things move; :func:`synth_slow_video`: long, slow shots.
"""

from __future__ import annotations

import colorsys
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
from scipy import signal
from scipy.ndimage import uniform_filter1d

from .media import Media, count

__all__ = [
    "synth_video",
    "synth_shots",
    "synth_music",
    "synth_speech",
    "synth_work",
    "synth_static_camera",
    "synth_slow_video",
    "black_video",
    "test_pattern",
    "title_card",
    "silence",
]

Size = tuple[int, int]

# Distinct sub-streams of randomness, so video and audio of one seed are independent.
_VIDEO, _MUSIC, _SPEECH = 1, 2, 3


# --------------------------------------------------------------------------- video


def _colour(rng: np.random.Generator, hue: float | None = None,
            sat: tuple[float, float] = (0.35, 0.95),
            val: tuple[float, float] = (0.3, 1.0)) -> np.ndarray:
    """A random RGB colour (float32, 0-255); hue in [0, 1) or random, saturation and
    value drawn from the given ranges."""
    h = rng.random() if hue is None else hue % 1.0
    rgb = colorsys.hsv_to_rgb(h, rng.uniform(*sat), rng.uniform(*val))
    return np.array(rgb, np.float32) * 255.0


def _palette(rng: np.random.Generator, k: int) -> np.ndarray:
    """``k`` colours around a random base hue, sorted dark to bright, shape (k, 3)."""
    base = rng.random()
    spread = rng.uniform(0.05, 0.45)
    cols = [_colour(rng, base + spread * rng.uniform(-1, 1)) for _ in range(k)]
    return np.array(sorted(cols, key=lambda c: float(c.sum())), np.float32)


def _gradient_map(values: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (h, w) through colour stops (k, 3) -> (h, w, 3) float32."""
    stops = np.linspace(0.0, 1.0, len(colours))
    return np.stack([np.interp(values, stops, colours[:, c]) for c in range(3)], -1).astype(
        np.float32
    )


def _normalise(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return ((x - lo) / (hi - lo + 1e-9)).astype(np.float32)


def _fractal_noise(rng: np.random.Generator, w: int, h: int, base: int = 3, octaves: int = 5,
                   persistence: float = 0.55) -> np.ndarray:
    """Smooth value noise summed over octaves, (h, w) float32 in [0, 1]."""
    acc = np.zeros((h, w), np.float32)
    amp = 1.0
    for octave in range(octaves):
        cells = base * 2**octave
        grid = rng.random((max(2, round(cells * h / w)) + 1, cells + 1)).astype(np.float32)
        acc += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        amp *= persistence
    return _normalise(acc)


def _background(rng: np.random.Generator, kind: str, w: int, h: int) -> np.ndarray:
    """A procedural (h, w, 3) float32 background of one ``kind``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "clouds":
        img = _gradient_map(_fractal_noise(rng, w, h, base=rng.integers(2, 5)), _palette(rng, 3))
    elif kind == "plasma":
        v = np.zeros((h, w), np.float32)
        for _ in range(4):
            angle, period = rng.uniform(0, np.pi), rng.uniform(0.15, 0.6) * w
            v += np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period
                        + rng.uniform(0, 2 * np.pi))
        v += 2.0 * _fractal_noise(rng, w, h)
        img = _gradient_map(_normalise(v), _palette(rng, 4))
    elif kind == "landscape":
        top = _colour(rng, rng.uniform(0.5, 0.7), val=(0.5, 1))  # blue-ish sky
        low = _colour(rng, rng.uniform(0.0, 0.15), sat=(0.1, 0.5))  # warm haze at the horizon
        sky = _gradient_map(yy / h, np.stack([top, low]))
        sky += 60 * (_fractal_noise(rng, w, h, base=2)[..., None] - 0.5)
        horizon = h * rng.uniform(0.4, 0.7) + sum(
            h * rng.uniform(0.02, 0.1) * np.sin(2 * np.pi * xx[0] / (w * rng.uniform(0.2, 1.2))
                                                + rng.uniform(0, 6.3)) for _ in range(3))
        ground = _gradient_map(_fractal_noise(rng, w, h, base=6), _palette(rng, 3) * 0.7)
        sun = np.exp(-((xx - rng.uniform(0, w)) ** 2 + (yy - rng.uniform(0, h / 3)) ** 2)
                     / (2 * (h * 0.08) ** 2))
        sky += 120 * sun[..., None]
        mask = np.clip(yy - horizon[None, :], 0, 1)[..., None]
        img = sky * (1 - mask) + ground * mask
    elif kind == "stripes":
        angle, period = rng.uniform(0, np.pi), rng.uniform(0.04, 0.15) * w
        warp = 0.8 * _fractal_noise(rng, w, h, base=2)
        phase = (xx * np.cos(angle) + yy * np.sin(angle)) / period + warp
        if rng.random() < 0.5:  # checkerboard variant
            other = (-xx * np.sin(angle) + yy * np.cos(angle)) / period + warp
            v = np.sin(2 * np.pi * phase) * np.sin(2 * np.pi * other)
        else:
            v = np.sin(2 * np.pi * phase)
        a, b = _colour(rng), _colour(rng)
        t = (np.tanh(3 * v) * 0.5 + 0.5)[..., None]
        shade = 0.6 + 0.4 * _fractal_noise(rng, w, h)[..., None]
        img = (a * t + b * (1 - t)) * shade
    else:  # "bokeh": soft gradient with blurred discs
        img = _gradient_map(_normalise(xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)),
                            _palette(rng, 2) * 0.6)
        layer = np.zeros_like(img)
        for _ in range(rng.integers(15, 40)):
            centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            cv2.circle(layer, centre, int(rng.uniform(0.02, 0.1) * w),
                       _colour(rng).tolist(), -1, cv2.LINE_AA)
        img = img + 0.6 * cv2.GaussianBlur(layer, (0, 0), rng.uniform(1.5, 4))
    return np.clip(img, 0, 255).astype(np.float32)


_BACKGROUNDS = ("clouds", "plasma", "landscape", "stripes", "bokeh")


class _Sprite:
    """A textured shape (RGB + alpha) moving, bouncing and rotating on screen."""

    def __init__(self, rng: np.random.Generator, w: int, h: int):
        side = int(h * rng.uniform(0.12, 0.4)) | 1
        mask = np.zeros((side, side), np.uint8)
        c, r = side // 2, side // 2 - 1
        kind = rng.integers(0, 5)
        if kind == 0:
            cv2.circle(mask, (c, c), r, 255, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.ellipse(mask, (c, c), (r, int(r * rng.uniform(0.3, 0.8))), 0, 0, 360, 255, -1,
                        cv2.LINE_AA)
        elif kind == 2:
            half = int(r * rng.uniform(0.4, 0.9))
            cv2.rectangle(mask, (c - r, c - half), (c + r, c + half), 255, -1, cv2.LINE_AA)
        else:  # triangle (3) or star-ish polygon (4)
            k = 3 if kind == 3 else int(rng.integers(5, 8)) * 2
            angles = np.linspace(0, 2 * np.pi, k, endpoint=False) + rng.uniform(0, np.pi)
            radii = r * (np.where(np.arange(k) % 2, rng.uniform(0.4, 0.7), 1.0) if k > 3 else 1.0)
            pts = np.stack([c + radii * np.cos(angles), c + radii * np.sin(angles)], -1)
            cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255, cv2.LINE_AA)
        yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
        colour_a, colour_b = _colour(rng, val=(0.5, 1.0)), _colour(rng, val=(0.2, 0.9))
        if rng.random() < 0.5:
            t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1))[..., None]
            t = _normalise(t)
        else:
            t = (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 6) * (xx + yy * rng.uniform(-1, 1))))
            t = t[..., None]
        self.rgba = np.dstack([colour_a * t + colour_b * (1 - t), mask.astype(np.float32) / 255])
        self.side = side
        self.w, self.h = w, h
        self.pos = rng.uniform([0, 0], [w, h])
        self.vel = rng.uniform(-1, 1, 2) * rng.uniform(10, 60)  # pixels per second
        self.wobble = rng.uniform(0, 15), rng.uniform(0.3, 1.5), rng.uniform(0, 6.3)
        self.angle0, self.spin = rng.uniform(0, 360), rng.uniform(-60, 60)  # degrees, deg/s
        self.scale_osc = rng.uniform(0, 0.2), rng.uniform(0.2, 1.0)

    def draw(self, frame: np.ndarray, t: float) -> None:
        """Alpha-blend the sprite at time ``t`` (seconds) into ``frame`` in place."""
        amp, freq, phase = self.wobble
        p = self.pos + self.vel * t + amp * np.sin(2 * np.pi * freq * t + phase)
        span = np.array([self.w, self.h], np.float64)
        p = span - np.abs(np.mod(p, 2 * span) - span)  # bounce off the frame edges
        scale = 1.0 + self.scale_osc[0] * np.sin(2 * np.pi * self.scale_osc[1] * t)
        m = cv2.getRotationMatrix2D((self.side / 2, self.side / 2), self.angle0 + self.spin * t,
                                    scale)
        m[:, 2] += p - self.side / 2
        half = self.side * scale * 0.75
        x0, y0 = (max(0, int(p[0] - half)), max(0, int(p[1] - half)))
        x1, y1 = (min(self.w, int(p[0] + half) + 1), min(self.h, int(p[1] + half) + 1))
        if x1 <= x0 or y1 <= y0:
            return
        m[:, 2] -= (x0, y0)
        patch = cv2.warpAffine(self.rgba, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        alpha = patch[..., 3:]
        region = frame[y0:y1, x0:x1]
        region[:] = region * (1 - alpha) + patch[..., :3] * alpha


class _Scene:
    """One shot: background, camera path and sprites."""

    def __init__(self, rng: np.random.Generator, kind: str, w: int, h: int):
        margin = 1.4
        self.bg = _background(rng, kind, int(w * margin), int(h * margin))
        self.w, self.h = w, h
        self.zoom = rng.uniform(1.0, 1.15), rng.uniform(-0.04, 0.04)  # start, per second
        self.centre = np.array([w * margin / 2, h * margin / 2]) + rng.uniform(-0.1, 0.1, 2) * h
        self.pan = rng.uniform(-1, 1, 2) * rng.uniform(2, 12)  # pixels per second
        self.sprites = [_Sprite(rng, w, h) for _ in range(rng.integers(3, 8))]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2
        self.vignette = (1.0 - rng.uniform(0.3, 0.8) * r2)[..., None].astype(np.float32)

    def render(self, t: float) -> np.ndarray:
        bh, bw = self.bg.shape[:2]
        zoom = max(1.0, self.zoom[0] + self.zoom[1] * t)
        half = np.array([self.w, self.h]) / (2 * zoom)
        lo, hi = half, np.array([bw, bh]) - half
        cx, cy = np.clip(self.centre + self.pan * t, lo, hi)  # keep the view inside
        m = np.array([[1 / zoom, 0, cx - half[0]], [0, 1 / zoom, cy - half[1]]], np.float64)
        frame = cv2.warpAffine(self.bg, m, (self.w, self.h),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT)
        for sprite in self.sprites:
            sprite.draw(frame, t)
        return frame * self.vignette


def synth_video(
    seed: int, duration: float, size: Size = (256, 144), fps: float = 25.0
) -> np.ndarray:
    """Realistic-looking synthetic video, ``(round(duration*fps), h, w, 3)`` uint8 RGB.

    Scenes last 2-6 s and each has its own background kind and palette (never
    the same kind twice in a row), a slow pan/zoom and 3-7 moving shapes;
    frames get a vignette and a light film grain (about 2.5 levels rms).
    Different seeds give unrelated videos; the same seed gives identical ones,
    and a shorter duration gives exactly the first frames of a longer one.
    """
    w, h = size
    rng = np.random.default_rng([seed, _VIDEO])
    n = count(duration, fps)
    out = np.empty((n, h, w, 3), np.uint8)
    grain = rng.normal(0, 2.5, (7, h, w, 1)).astype(np.float32)
    start, kind = 0, None
    while start < n:
        length = max(1, int(round(rng.uniform(2.0, 6.0) * fps)))
        kind = rng.choice([k for k in _BACKGROUNDS if k != kind])
        scene = _Scene(rng, str(kind), w, h)
        for i in range(start, min(n, start + length)):
            frame = scene.render((i - start) / fps) + grain[i % len(grain)]
            np.clip(frame, 0, 255, out=frame)
            out[i] = frame
        start += length
    return out


def synth_shots(seed: int, shot_frames: list[int] | np.ndarray, size: Size = (256, 144),
                fps: float = 25.0) -> np.ndarray:
    """Video like :func:`synth_video` whose shots last exactly ``shot_frames`` frames each
    (one new scene per shot, never the same background kind twice in a row): other
    footage cut to a given rhythm, e.g. a registered film's, a hard negative for
    anything that matches on cut timing. ``(sum(shot_frames), h, w, 3)`` uint8 RGB."""
    w, h = size
    rng = np.random.default_rng([seed, _VIDEO, 7])
    lengths = [int(n) for n in shot_frames]
    out = np.empty((sum(lengths), h, w, 3), np.uint8)
    grain = rng.normal(0, 2.5, (7, h, w, 1)).astype(np.float32)
    start, kind = 0, None
    for length in lengths:
        kind = rng.choice([k for k in _BACKGROUNDS if k != kind])
        scene = _Scene(rng, str(kind), w, h)
        for i in range(start, start + length):
            frame = scene.render((i - start) / fps) + grain[i % len(grain)]
            np.clip(frame, 0, 255, out=frame)
            out[i] = frame
        start += length
    return out


# --------------------------------------------------------------------------- music

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
# Scale degrees (0 = tonic) of common four-chord loops.
_PROGRESSIONS = {
    "major": [(0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (0, 3, 4, 3), (1, 4, 0, 5), (0, 3, 5, 4)],
    "minor": [(0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (5, 6, 0, 0), (0, 2, 3, 4)],
}


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def _adsr(n: int, sr: int, attack: float, decay: float, sustain: float, release: float,
          held: int) -> np.ndarray:
    """Envelope of ``n`` samples: attack/decay/release in seconds, held for ``held`` samples."""
    t = np.arange(n) / sr
    env = np.where(t < attack, t / max(attack, 1e-4),
                   sustain + (1 - sustain) * np.exp(-(t - attack) / max(decay, 1e-4)))
    t_off = held / sr
    level_off = env[min(held, n - 1)] if n else 0.0
    after = level_off * np.exp(-(t - t_off) / max(release, 1e-4))
    return np.where(t < t_off, env, after).astype(np.float32)


def _tone(freq: float, seconds: float, sr: int, partials: np.ndarray, env: tuple,
          brightness_decay: float = 2.0, vibrato: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """One note: harmonic partials (relative amplitudes) with an ADSR envelope.

    ``env`` is (attack, decay, sustain level, release) in seconds/level;
    higher partials decay ``brightness_decay`` times faster per harmonic number;
    ``vibrato`` is (rate Hz, depth cents).
    """
    held = int(seconds * sr)
    n = held + int(env[3] * 4 * sr)
    t = np.arange(n, dtype=np.float32) / sr
    rate, depth = vibrato
    if depth:
        inst = freq * 2 ** (depth / 1200 * np.sin(2 * np.pi * rate * t))
        phase = 2 * np.pi * np.cumsum(inst) / sr
    else:
        phase = 2 * np.pi * freq * t
    k = np.arange(1, len(partials) + 1, dtype=np.float32)
    keep = k * freq < sr / 2 * 0.9
    k, amps = k[keep], partials[keep]
    decay = np.exp(-np.outer(t, (k - 1) * brightness_decay))
    wave = (np.sin(np.outer(phase, k)) * decay) @ amps
    return (wave * _adsr(n, sr, env[0], env[1], env[2], env[3], held)).astype(np.float32)


def _place(out: np.ndarray, sound: np.ndarray, at: float, sr: int, gain: float) -> None:
    start = int(at * sr)
    if start >= len(out):
        return
    seg = sound[: len(out) - start]
    out[start : start + len(seg)] += gain * seg


def _vary(rng: np.random.Generator, step: int | None) -> int | None:
    """A melody step kept (80 %) or moved one scale step; rests stay rests."""
    if step is None or rng.random() < 0.8:
        return step
    return step + int(rng.choice([-1, 1]))


def _melody_phrase(rng: np.random.Generator, beats: int) -> list[tuple[float, float, int | None]]:
    """(onset beat, length in beats, scale step or None for a rest) covering ``beats``."""
    notes, beat, step = [], 0.0, int(rng.integers(0, 5))
    while beat < beats:
        length = float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.0, 1.5, 2.0]))
        length = min(length, beats - beat)
        step = int(np.clip(step + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), -3, 7))
        notes.append((beat, length, None if rng.random() < 0.12 else step))
        beat += length
    return notes


def synth_music(seed: int, duration: float, sample_rate: int = 22050) -> np.ndarray:
    """Music-like audio, ``(round(duration*sample_rate),)`` float32, peak 0.8.

    Per seed: key (any of 12 roots), major or minor mode, tempo 80-140 BPM, a
    four-chord progression of one bar per chord (varied on alternate loops),
    instrument timbres. Parts: sustained pad triads, a bass line on chord roots
    and fifths, a melody made of 2-bar phrases (reused with variation) that
    lands on chord tones on strong beats, optional drums (kick, snare, hi-hat)
    and a short noise reverb. A shorter duration gives a prefix of a longer
    one up to the overall gain (the peak normalisation).
    """
    sr = sample_rate
    rng = np.random.default_rng([seed, _MUSIC])
    n = count(duration, sr)
    out = np.zeros(n + sr, np.float32)  # one second of slack for note tails
    mode = str(rng.choice(["major", "minor"]))
    scale = _MAJOR if mode == "major" else _MINOR
    root = int(rng.integers(45, 57))  # tonic in the bass octave, MIDI
    progression = list(_PROGRESSIONS[mode][rng.integers(len(_PROGRESSIONS[mode]))])
    beat = 60.0 / rng.uniform(80, 140)  # seconds per beat
    bar = 4 * beat
    pad_partials = 1.0 / np.arange(1, 9) ** rng.uniform(1.0, 2.2)
    lead_partials = rng.uniform(0.1, 1.0, 6) / np.arange(1, 7)
    lead_partials[0] = 1.0
    lead_env = (0.01, 0.25, 0.2, 0.15) if rng.random() < 0.5 else (0.04, 0.3, 0.7, 0.12)
    vibrato = (rng.uniform(4.5, 6.5), rng.uniform(0, 15))
    bass_partials = np.array([1.0, 0.5, 0.25, 0.1])
    drums = rng.random() < 0.8
    ir_t = np.arange(int(0.6 * sr)) / sr
    reverb = rng.normal(0, 1, len(ir_t)) * np.exp(-ir_t / rng.uniform(0.1, 0.25))
    reverb[0] = 0
    reverb = (reverb / np.sqrt(np.sum(reverb**2))).astype(np.float32)  # unit energy

    def pitch(degree: int, octave: int = 0) -> int:
        return root + 12 * (octave + degree // 7) + int(scale[degree % 7])

    phrases: list[list] = []
    n_bars = int(np.ceil(duration / bar)) + 1
    for b in range(n_bars):
        t0 = b * bar
        loop, pos = divmod(b, len(progression))
        degree = progression[pos]
        if loop % 2 == 1 and pos == len(progression) - 1 and rng.random() < 0.7:
            degree = int(rng.choice([3, 4, 5]))  # turnaround variation
        chord = [degree, degree + 2, degree + 4]
        seventh = rng.random() < 0.25
        # pad: one triad (maybe with 7th) held for the bar, voiced an octave up
        for d in chord + ([degree + 6] if seventh else []):
            note = _tone(_midi_hz(pitch(d, 1)) * (1 + rng.uniform(-0.002, 0.002)), bar * 0.98, sr,
                         pad_partials, (0.08, 0.6, 0.6, 0.3), brightness_decay=1.5)
            _place(out, note, t0, sr, 0.10)
        # bass: root on 1 and 3, fifth or octave in between
        pattern = [(0, 1.5, degree), (1.5, 0.5, degree + 4), (2, 1.5, degree),
                   (3.5, 0.5, degree + 7)]  # (onset beat, length in beats, scale degree)
        for onset, length, d in pattern:
            note = _tone(_midi_hz(pitch(d, 0)), length * beat * 0.9, sr, bass_partials,
                         (0.01, 0.2, 0.5, 0.05), brightness_decay=6.0)
            _place(out, note, t0 + onset * beat, sr, 0.28)
        # melody: 2-bar phrases; every other phrase reuses an earlier one, slightly varied
        if b % 2 == 0:
            if phrases and rng.random() < 0.5:
                base = phrases[int(rng.integers(len(phrases)))]
                phrase = [(onset, length, _vary(rng, step)) for onset, length, step in base]
            else:
                phrase = _melody_phrase(rng, 8)
            phrases.append(phrase)
            for onset, length, step in phrase:
                if step is None:
                    continue
                bar_degree = progression[(pos + int(onset // 4)) % len(progression)]
                d = bar_degree + step
                if onset % 2 == 0:  # strong beat: snap to the nearest chord tone
                    tones = np.array([bar_degree + o for o in (-3, 0, 2, 4, 7, 9, 11)])
                    d = int(tones[np.argmin(np.abs(tones - d))])
                note = _tone(_midi_hz(pitch(d, 2)), length * beat * 0.92, sr, lead_partials,
                             lead_env, brightness_decay=3.0, vibrato=vibrato)
                _place(out, note, t0 + onset * beat, sr, 0.22)
        if drums:
            _drum_bar(rng, out, t0, beat, sr)

    out = out + 0.2 * signal.fftconvolve(out, reverb)[: len(out)]
    out = out[:n]
    peak = float(np.abs(out).max()) if n else 0.0
    return (out * (0.8 / peak) if peak > 0 else out).astype(np.float32)


def _drum_bar(rng: np.random.Generator, out: np.ndarray, t0: float, beat: float, sr: int) -> None:
    """Kick on 1 and 3 (plus the odd off-beat), snare on 2 and 4, hi-hat eighths."""
    t = np.arange(int(0.3 * sr)) / sr
    kick = np.sin(2 * np.pi * (45 * t + 75 * 0.04 * (1 - np.exp(-t / 0.04)))) * np.exp(-t / 0.12)
    noise = rng.normal(0, 1, len(t))
    snare = (signal.lfilter(*signal.butter(2, [1000, 5000], "bandpass", fs=sr), noise)
             * np.exp(-t / 0.07) + 0.4 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05))
    hat = signal.lfilter(*signal.butter(2, 6000, "highpass", fs=sr), noise) * np.exp(-t / 0.015)
    for k in (0, 2) + ((2.5,) if rng.random() < 0.3 else ()):
        _place(out, kick.astype(np.float32), t0 + k * beat, sr, 0.45)
    for k in (1, 3):
        _place(out, snare.astype(np.float32), t0 + k * beat, sr, 0.14)
    for k in np.arange(0, 4, 0.5):
        if rng.random() < 0.85:
            _place(out, hat.astype(np.float32), t0 + k * beat, sr, 0.05 if k % 1 else 0.08)


# --------------------------------------------------------------------------- speech

# (F1, F2, F3) in Hz for an adult male voice.
_VOWELS = np.array([
    (730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
    (570, 840, 2410), (660, 1720, 2410), (490, 1350, 1690), (390, 1990, 2550),
    (520, 1190, 2390),
], np.float32)
_NASAL = np.array((260, 1300, 2500), np.float32)
_BANDWIDTHS = np.array((80, 100, 140, 200), np.float32)  # Hz, per formant (F4 fixed)
_F4 = 3500.0
# Fricative noise bands in Hz.
_NOISE_BANDS = {"s": (3800, 8000), "sh": (1800, 4800), "f": (1000, 7000), "h": (500, 3500),
                "burst": (1200, 5000)}
_WORDS = ("the quick morning light falls over quiet rivers while people walk along old stone "
          "bridges and talk about their plans for the weekend a small dog runs across the "
          "market square as the baker opens his shop and the smell of fresh bread fills the "
          "street children laugh near the fountain and a train leaves the station on time").split()


def synth_speech(seed: int, duration: float, sample_rate: int = 22050,
                 use_espeak: bool | None = None) -> np.ndarray:
    """Speech-like voice, ``(round(duration*sample_rate),)`` float32, peak 0.8.

    With ``use_espeak`` None (default) espeak-ng is used when it is on PATH,
    else the built-in formant synthesiser; True requires espeak-ng
    (RuntimeError if missing); False always uses the formant synthesiser, so
    the output does not depend on what is installed.

    The formant synthesiser: Rosenberg glottal pulses at a per-seed speaker
    pitch (100-220 Hz) with phrase declination and word accents, a cascade of
    four formant resonators following vowel targets (F1-F3), syllables of
    80-300 ms (3-6 per second), fricative/plosive/nasal onsets, word gaps and
    phrase pauses of 0.25-0.6 s.
    """
    available = shutil.which("espeak-ng") is not None
    if use_espeak and not available:
        raise RuntimeError("use_espeak=True but espeak-ng is not installed")
    if use_espeak is None:
        use_espeak = available
    if use_espeak:
        return _espeak_speech(seed, duration, sample_rate)
    return _formant_speech(seed, duration, sample_rate)


def _sentence(rng: np.random.Generator) -> str:
    n = int(rng.integers(5, 12))
    return " ".join(rng.choice(_WORDS, n)).capitalize() + "."


def _espeak_speech(seed: int, duration: float, sr: int) -> np.ndarray:
    """Sentences spoken by espeak-ng with a per-seed voice, speed and pitch."""
    from scipy.io import wavfile

    rng = np.random.default_rng([seed, _SPEECH])
    n = count(duration, sr)
    voice = str(rng.choice(["en-us", "en", "en-us+m3", "en+f2", "en-us+f4", "en+m7"]))
    speed, pitch = int(rng.integers(140, 185)), int(rng.integers(30, 70))
    parts, total = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        while total < n:
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                            "-w", str(wav), _sentence(rng)], check=True, capture_output=True)
            rate, data = wavfile.read(wav)
            x = data.astype(np.float32)
            if data.dtype == np.int16:
                x /= 32768.0
            if x.ndim > 1:
                x = x.mean(axis=1)
            if rate != sr:
                x = signal.resample_poly(x, sr, rate).astype(np.float32)
            if len(x) == 0:
                raise RuntimeError("espeak-ng produced no audio")
            pause = np.zeros(int(rng.uniform(0.25, 0.6) * sr), np.float32)
            parts += [x, pause]
            total += len(x) + len(pause)
    out = np.concatenate(parts)[:n] if parts else np.zeros(0, np.float32)
    peak = float(np.abs(out).max()) if n else 0.0
    return (out * (0.8 / peak) if peak > 0 else out).astype(np.float32)


def _formant_speech(seed: int, duration: float, sr: int) -> np.ndarray:
    rng = np.random.default_rng([seed, _SPEECH])
    n = count(duration, sr)
    f0_base = rng.uniform(100, 220)  # Hz
    tract = 1.0 + (f0_base - 100) / 120 * 0.17  # shorter vocal tract for higher voices

    # Control tracks, one value per sample, built segment by segment.
    formants = np.zeros((n, 3), np.float32)
    voice = np.zeros(n, np.float32)
    noise_amp = {k: np.zeros(n, np.float32) for k in _NOISE_BANDS}
    accent = np.zeros(n, np.float32)
    phrase_pos = np.zeros(n, np.float32)  # 0 -> 1 across each phrase, for declination

    pos = 0
    last_formants = _VOWELS[0]
    while pos < n:
        phrase_start = pos
        for _ in range(int(rng.integers(3, 9))):  # words per phrase
            for syllable in range(int(rng.integers(1, 4))):
                onset = rng.choice(["", "s", "sh", "f", "h", "stop", "nasal", "glide"],
                                   p=[0.2, 0.12, 0.06, 0.08, 0.06, 0.24, 0.14, 0.10])
                seg = int(rng.uniform(0.04, 0.1) * sr) if onset else 0
                end = min(n, pos + seg)
                if onset in ("s", "sh", "f", "h"):
                    noise_amp[onset][pos:end] = 0.6 if onset in ("s", "sh") else 0.3
                    formants[pos:end] = last_formants
                elif onset == "stop":  # closure, then a short burst
                    burst = min(end, pos + int(0.6 * seg))
                    noise_amp["burst"][burst:end] = 0.5
                    formants[pos:end] = last_formants
                elif onset in ("nasal", "glide"):
                    voice[pos:end] = 0.35 if onset == "nasal" else 0.7
                    formants[pos:end] = _NASAL if onset == "nasal" else _VOWELS[rng.integers(1, 3)]
                pos = end
                vowel = _VOWELS[rng.integers(len(_VOWELS))]
                end = min(n, pos + int(rng.uniform(0.08, 0.22) * sr))
                formants[pos:end] = vowel
                voice[pos:end] = 1.0
                if syllable == 0 and rng.random() < 0.5:
                    accent[pos:end] = rng.uniform(0.08, 0.2)  # stressed syllable: pitch up
                last_formants = vowel
                pos = end
            gap = min(n, pos + int(rng.uniform(0.0, 0.09) * sr))
            formants[pos:gap] = last_formants
            pos = gap
        phrase_pos[phrase_start:pos] = np.linspace(0, 1, pos - phrase_start)
        pause = min(n, pos + int(rng.uniform(0.25, 0.6) * sr))
        formants[pos:pause] = last_formants
        pos = pause

    # Smooth the tracks (coarticulation, no clicks).
    smooth = lambda x, ms: uniform_filter1d(x, max(1, int(ms * sr / 1000)), axis=0)  # noqa: E731
    formants = smooth(formants, 40) * tract
    voice = smooth(voice, 20)
    f0 = f0_base * (1.12 - 0.25 * phrase_pos + smooth(accent, 60))
    drift = signal.resample(rng.normal(0, 1, max(2, n // 2000)), n) if n else np.zeros(0)
    f0 = (f0 * (1 + 0.02 * drift)).astype(np.float32)

    # Glottal source: Rosenberg pulse per period, differentiated (lip radiation).
    phase = np.cumsum(f0 / sr) % 1.0
    rise, fall = 0.4, 0.16
    closing = np.where(phase < rise + fall, np.cos(0.5 * np.pi * (phase - rise) / fall), 0.0)
    pulse = np.where(phase < rise, 0.5 * (1 - np.cos(np.pi * phase / rise)), closing)
    source = np.diff(pulse, prepend=0.0)
    source = (source / (source.std() + 1e-9) + 0.1 * rng.normal(0, 1, n)) * voice  # + breath
    speech = _formant_filter(source.astype(np.float32), formants, sr)
    speech /= np.sqrt(np.mean(speech[voice > 0.5] ** 2)) if (voice > 0.5).any() else 1.0

    white = rng.normal(0, 1, n).astype(np.float32)
    for kind, (lo, hi) in _NOISE_BANDS.items():
        amp = smooth(noise_amp[kind], 10)
        if amp.any() and lo < sr / 2 * 0.9:
            band = signal.sosfilt(signal.butter(4, [lo, min(hi, sr / 2 * 0.95)], "bandpass",
                                                fs=sr, output="sos"), white)
            speech += 0.4 * band / (band.std() + 1e-9) * amp  # ~ -8 dB (s, sh) re vowels
    peak = float(np.abs(speech).max()) if n else 0.0
    return (speech * (0.8 / peak) if peak > 0 else speech).astype(np.float32)


def _formant_filter(
    source: np.ndarray, formants: np.ndarray, sr: int, block: int = 110
) -> np.ndarray:
    """Cascade of 2-pole resonators (F1-F3 tracks + fixed F4), updated every ``block`` samples."""
    out = np.zeros_like(source)
    zi = np.zeros((4, 2))
    f4 = np.full((1,), _F4, np.float32)
    for start in range(0, len(source), block):
        freqs = np.concatenate([formants[start], f4])
        r = np.exp(-np.pi * _BANDWIDTHS / sr)
        b_coef, c_coef = 2 * r * np.cos(2 * np.pi * freqs / sr), -(r**2)
        gain = 1 - b_coef - c_coef  # unity gain at 0 Hz
        sos = np.zeros((4, 6))
        sos[:, 0], sos[:, 3], sos[:, 4], sos[:, 5] = gain, 1.0, -b_coef, -c_coef
        out[start : start + block], zi = signal.sosfilt(sos, source[start : start + block], zi=zi)
    return out


# --------------------------------------------------------------------------- works, degenerate


def synth_work(seed: int, duration: float, size: Size = (256, 144), fps: float = 25.0,
               sample_rate: int = 22050, video: bool = True, audio: bool = True) -> Media:
    """A synthetic "work": :func:`synth_video` plus a :func:`synth_music` soundtrack."""
    return Media(
        frames=synth_video(seed, duration, size, fps) if video else None,
        fps=fps,
        audio=synth_music(seed, duration, sample_rate) if audio else None,
        sample_rate=sample_rate,
    )


def silence(duration: float, sample_rate: int = 22050, dither_db: float | None = None) -> Media:
    """Audio-only silence; with ``dither_db`` (e.g. -90) a fixed-seed noise floor of that
    rms level in dBFS."""
    audio = np.zeros(count(duration, sample_rate), np.float32)
    if dither_db is not None:
        audio += np.random.default_rng(0).normal(0, 10 ** (dither_db / 20), len(audio)).astype(
            np.float32)
    return Media(frames=None, fps=25.0, audio=audio, sample_rate=sample_rate)


def black_video(duration: float, size: Size = (256, 144), fps: float = 25.0,
                sample_rate: int = 22050, audio: bool = False) -> Media:
    """All-black frames; with ``audio`` True also a silent (all-zero) soundtrack."""
    w, h = size
    frames = np.zeros((count(duration, fps), h, w, 3), np.uint8)
    sound = np.zeros(count(duration, sample_rate), np.float32) if audio else None
    return Media(frames=frames, fps=fps, audio=sound, sample_rate=sample_rate)


def _static(image: np.ndarray, duration: float, fps: float) -> np.ndarray:
    return np.repeat(image[None], count(duration, fps), axis=0)


def _bars_image(w: int, h: int) -> np.ndarray:
    """SMPTE-like colour bars: 75 % bars, reversed strip, then a PLUGE-like bottom row."""
    top = np.array([[191, 191, 191], [191, 191, 0], [0, 191, 191], [0, 191, 0],
                    [191, 0, 191], [191, 0, 0], [0, 0, 191]], np.uint8)
    mid = np.array([[0, 0, 191], [19, 19, 19], [191, 0, 191], [19, 19, 19],
                    [0, 191, 191], [19, 19, 19], [191, 191, 191]], np.uint8)
    bottom = np.array([[0, 33, 76], [255, 255, 255], [50, 0, 106], [19, 19, 19],
                       [9, 9, 9], [19, 19, 19], [29, 29, 29]], np.uint8)
    cols = np.minimum(np.arange(w) * 7 // w, 6)
    img = np.empty((h, w, 3), np.uint8)
    h1, h2 = int(h * 0.67), int(h * 0.75)
    img[:h1], img[h1:h2], img[h2:] = top[cols], mid[cols], bottom[cols]
    return img


def test_pattern(duration: float, size: Size = (256, 144), fps: float = 25.0, kind: str = "bars",
                 tone: bool = False, sample_rate: int = 22050) -> Media:
    """A static test card. ``kind``: "bars" (SMPTE-like colour bars), "grid"
    (white crosshatch on black) or "ramp" (horizontal grey ramp). With ``tone``
    True the soundtrack is a 1 kHz sine at -20 dBFS, else there is no audio.
    """
    w, h = size
    if kind == "bars":
        img = _bars_image(w, h)
    elif kind == "grid":
        img = np.zeros((h, w, 3), np.uint8)
        step = max(4, h // 8)
        img[::step], img[:, ::step] = 255, 255
    elif kind == "ramp":
        img = np.repeat(np.linspace(0, 255, w, dtype=np.float32)[None, :, None], h, 0)
        img = np.repeat(img, 3, 2).astype(np.uint8)
    else:
        raise ValueError(f"unknown test pattern {kind!r}; use 'bars', 'grid' or 'ramp'")
    sound = None
    if tone:
        t = np.arange(count(duration, sample_rate)) / sample_rate
        sound = (0.1 * np.sqrt(2) * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    return Media(frames=_static(img, duration, fps), fps=fps, audio=sound, sample_rate=sample_rate)


test_pattern.__test__ = False  # not a pytest test despite the name


def title_card(text: str, duration: float, size: Size = (256, 144), fps: float = 25.0,
               background: tuple[int, int, int] = (12, 16, 40),
               colour: tuple[int, int, int] = (235, 235, 235)) -> Media:
    """Static centred text (lines split on newlines) on a plain RGB background; no audio."""
    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    img[:] = background
    lines = text.split("\n")
    font, thick = cv2.FONT_HERSHEY_DUPLEX, max(1, h // 120)
    widest = max(cv2.getTextSize(line, font, 1.0, thick)[0][0] for line in lines) or 1
    tall = cv2.getTextSize("Ag", font, 1.0, thick)[0][1] * 1.8
    scale = min(0.9 * w / widest, 0.7 * h / (tall * len(lines)), h / 100)
    line_h = int(tall * scale)
    y = (h - line_h * len(lines)) // 2 + line_h * 3 // 4
    for line in lines:
        tw = cv2.getTextSize(line, font, scale, thick)[0][0]
        cv2.putText(img, line, ((w - tw) // 2, y), font, scale, colour, thick, cv2.LINE_AA)
        y += line_h
    return Media(frames=_static(img, duration, fps), fps=fps, audio=None, sample_rate=22050)


# --------------------------------------------------------------------------- static camera, slow footage

_STATIC_KINDS = ("street", "studio")
_SET, _EPISODE, _NOISE = 4, 5, 6  # randomness of a fixed set, of what moves in one recording, of sensor noise


def _smooth_wave(rng: np.random.Generator, amplitude: float, freqs: tuple[float, float], k: int = 3):
    """A smooth aperiodic signal ``f(t)`` (t in seconds, peak about ``amplitude``): a sum of
    ``k`` sines at random frequencies (Hz) and phases, drawn once."""
    f = rng.uniform(*freqs, k)
    phase = rng.uniform(0, 2 * np.pi, k)
    weight = rng.uniform(0.5, 1.0, k)
    weight *= amplitude / weight.sum()
    return lambda t: float(np.sum(weight * np.sin(2 * np.pi * f * t + phase)))


def _street_set(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, list[float]]:
    """A fixed street view: sky and houses (a ``landscape`` background with
    building blocks and lit windows), a road band at the bottom. Returns the
    (h, w, 3) float32 image and the y (pixels) of the lanes things move along."""
    img = _background(rng, "landscape", w, h)
    road_top = int(h * rng.uniform(0.62, 0.72))
    x = -int(rng.uniform(0, 0.1) * w)
    while x < w:  # a row of buildings standing on the road's edge
        bw = int(rng.uniform(0.08, 0.22) * w)
        top = int(h * rng.uniform(0.15, 0.5))
        colour = _colour(rng, sat=(0.05, 0.4), val=(0.25, 0.8))
        cv2.rectangle(img, (x, top), (x + bw, road_top), colour.tolist(), -1)
        lit = _colour(rng, rng.uniform(0.1, 0.18), sat=(0.3, 0.7), val=(0.7, 1.0))
        step = max(4, int(rng.uniform(0.025, 0.045) * w))
        for wy in range(top + step // 2, road_top - step, step):
            for wx in range(x + step // 2, x + bw - step // 2, step):
                shade = lit if rng.random() < 0.5 else colour * 0.45
                cv2.rectangle(img, (wx, wy), (wx + step // 2, wy + step // 2), shade.tolist(), -1)
        x += bw + int(rng.uniform(0, 0.05) * w)
    asphalt = _colour(rng, sat=(0.0, 0.1), val=(0.2, 0.35))
    img[road_top:] = asphalt * (0.85 + 0.3 * _fractal_noise(rng, w, h - road_top, base=8)[..., None])
    for y in (road_top + (h - road_top) // 2,):  # lane markings
        for mx in range(0, w, max(8, w // 12)):
            cv2.rectangle(img, (mx, y - 1), (mx + max(4, w // 30), y + 1), (220, 220, 210), -1)
    lanes = [road_top + (h - road_top) * f for f in (0.3, 0.75)]
    return np.clip(img, 0, 255).astype(np.float32), lanes


def _studio_set(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, list[float]]:
    """A fixed talk-show set: a backdrop (``bokeh``, ``plasma`` or ``stripes``),
    a desk across the lower third and a few props. Returns the (h, w, 3) float32
    image and the x (pixels) of the seats people sit at."""
    img = _background(rng, str(rng.choice(["bokeh", "plasma", "stripes"])), w, h) * 0.8
    desk_top = int(h * rng.uniform(0.62, 0.7))
    desk = _colour(rng, sat=(0.2, 0.6), val=(0.35, 0.7))
    cv2.rectangle(img, (int(0.08 * w), desk_top), (int(0.92 * w), h), desk.tolist(), -1)
    cv2.rectangle(img, (int(0.08 * w), desk_top), (int(0.92 * w), desk_top + max(2, h // 40)),
                  (desk * 1.3).clip(0, 255).tolist(), -1)
    for _ in range(int(rng.integers(2, 4))):  # props: a plant, a screen, a lamp
        px, py = int(rng.uniform(0.02, 0.98) * w), int(rng.uniform(0.1, 0.5) * h)
        side = int(rng.uniform(0.06, 0.14) * h)
        cv2.rectangle(img, (px - side, py - side), (px + side, py + side), _colour(rng).tolist(), -1)
    n = int(rng.integers(2, 4))
    seats = list(np.linspace(0.25, 0.75, n) * w + rng.uniform(-0.03, 0.03, n) * w)
    return np.clip(img, 0, 255).astype(np.float32), seats


class _Mover:
    """Something crossing a street view: a car (a box on wheels) or a pedestrian."""

    def __init__(self, rng: np.random.Generator, w: int, h: int, lanes: list[float], t0: float):
        self.car = bool(rng.random() < 0.6)
        self.size = h * (rng.uniform(0.1, 0.18) if self.car else rng.uniform(0.12, 0.2))
        self.y = float(lanes[int(rng.integers(0, len(lanes)))]) + rng.uniform(-0.03, 0.03) * h
        self.direction = 1.0 if rng.random() < 0.5 else -1.0
        self.speed = (rng.uniform(0.25, 0.6) if self.car else rng.uniform(0.04, 0.1)) * w  # pixels per second
        self.colour, self.other = _colour(rng, val=(0.3, 1.0)), _colour(rng, val=(0.2, 0.8))
        self.t0 = t0
        self.w = w
        self.length = self.size * (2.2 if self.car else 0.45)
        self.bob = _smooth_wave(rng, 0.04 * self.size, (0.8, 2.0), 2)

    def span(self) -> tuple[float, float]:
        """Seconds during which it is in view."""
        return self.t0, self.t0 + (self.w + 2 * self.length) / self.speed

    def draw(self, frame: np.ndarray, t: float, shift: int = 4) -> None:
        s = float(1 << shift)
        travelled = (t - self.t0) * self.speed - self.length
        x = travelled if self.direction > 0 else self.w - travelled
        y = self.y + self.bob(t)
        p = lambda a, b: (int(round(a * s)), int(round(b * s)))  # noqa: E731 (sub-pixel point)
        if self.car:
            half, tall = self.length / 2, self.size / 2
            cv2.rectangle(frame, p(x - half, y - tall), p(x + half, y + tall * 0.4), self.colour.tolist(), -1,
                          cv2.LINE_AA, shift)
            cv2.rectangle(frame, p(x - half * 0.5, y - tall * 1.5), p(x + half * 0.5, y - tall), self.other.tolist(),
                          -1, cv2.LINE_AA, shift)
            for wx in (x - half * 0.6, x + half * 0.6):
                cv2.circle(frame, p(wx, y + tall * 0.4), int(tall * 0.45 * s), (20, 20, 20), -1, cv2.LINE_AA, shift)
        else:
            cv2.ellipse(frame, p(x, y - self.size * 0.35), (int(self.length * 0.5 * s), int(self.size * 0.4 * s)), 0,
                        0, 360, self.colour.tolist(), -1, cv2.LINE_AA, shift)
            cv2.circle(frame, p(x, y - self.size * 0.9), int(self.size * 0.15 * s), self.other.tolist(), -1,
                       cv2.LINE_AA, shift)


class _Person:
    """Someone seated at a desk, moving in place: sways, nods, turns and gestures."""

    def __init__(self, looks: np.random.Generator, rng: np.random.Generator, w: int, h: int, seat: float,
                 desk: float):
        """looks: the randomness of who it is (size, colours); rng: of how they move."""
        self.x, self.base = seat + looks.uniform(-0.02, 0.02) * w, desk
        self.width = h * looks.uniform(0.14, 0.22)
        self.tall = h * looks.uniform(0.22, 0.32)
        self.head = h * looks.uniform(0.07, 0.1)
        self.shirt = _colour(looks, val=(0.25, 0.95))
        self.skin = _colour(looks, looks.uniform(0.03, 0.1), (0.3, 0.6))
        self.hair = _colour(looks, sat=(0.1, 0.6), val=(0.05, 0.5))
        self.sway = _smooth_wave(rng, 0.04 * h, (0.03, 0.3), 4)
        self.lean = _smooth_wave(rng, 0.025 * h, (0.02, 0.2), 3)
        self.nod = _smooth_wave(rng, 0.02 * h, (0.2, 0.9), 4)
        self.turn = _smooth_wave(rng, 0.03 * h, (0.05, 0.4), 4)
        self.hands = [(_smooth_wave(rng, 0.12 * h, (0.05, 0.5), 4), _smooth_wave(rng, 0.04 * h, (0.1, 0.6), 3))
                      for _ in range(2)]

    def draw(self, frame: np.ndarray, t: float, shift: int = 4) -> None:
        s = float(1 << shift)
        p = lambda a, b: (int(round(a * s)), int(round(b * s)))  # noqa: E731 (sub-pixel point)
        x = self.x + self.sway(t)
        tall = self.tall + self.lean(t)  # leaning forward (towards the desk) and back
        top = self.base - tall + self.nod(t) * 0.3
        cv2.ellipse(frame, p(x, self.base), (int(self.width * 0.5 * s), int(tall * s)), 0, 180, 360,
                    self.shirt.tolist(), -1, cv2.LINE_AA, shift)
        hx, hy = x + self.turn(t), top - self.head * 0.9 + self.nod(t)
        cv2.circle(frame, p(hx, hy), int(self.head * s), self.skin.tolist(), -1, cv2.LINE_AA, shift)
        cv2.ellipse(frame, p(hx, hy - self.head * 0.3), (int(self.head * 1.05 * s), int(self.head * 0.8 * s)), 0,
                    180, 360, self.hair.tolist(), -1, cv2.LINE_AA, shift)
        for side, (lift, reach) in zip((-1.0, 1.0), self.hands):  # gesturing: hands raised and moved about
            shoulder = (x + side * self.width * 0.35, self.base - tall * 0.75)
            hand = (x + side * (self.width * 0.55 + reach(t)), self.base - max(0.0, lift(t)) * 1.5)
            cv2.line(frame, p(*shoulder), p(*hand), self.shirt.tolist(), max(1, int(self.width * 0.18)),
                     cv2.LINE_AA, shift)
            cv2.circle(frame, p(*hand), int(self.head * 0.45 * s), self.skin.tolist(), -1, cv2.LINE_AA, shift)


def synth_static_camera(set_seed: int, episode_seed: int, duration: float, size: Size = (256, 144),
                        fps: float = 25.0, kind: str = "street") -> np.ndarray:
    """A fixed camera: ``(round(duration*fps), h, w, 3)`` uint8 RGB.

    kind "street": a street view (houses, a road) where cars and pedestrians
    enter, cross and leave (about one every two seconds); "studio": a talk-show
    set (backdrop, desk, props) with a host and one or two guests seated at it,
    moving in place (swaying, leaning, nodding, turning, gesturing). The set
    (what never moves, where the lanes and seats are, and the host) comes from
    ``set_seed`` only; the guests, the traffic and how everyone moves come from
    ``episode_seed``: the same ``set_seed`` with another ``episode_seed`` is
    another episode on the same set, or another day of the same street camera. Frames get a slow lighting drift (a few percent
    over a minute), a vignette and fresh sensor noise every frame (about 2
    grey levels rms). Deterministic; a shorter duration gives exactly the
    first frames of a longer one.
    """
    if kind not in _STATIC_KINDS:
        raise ValueError(f"unknown static camera kind {kind!r}; use one of {', '.join(_STATIC_KINDS)}")
    w, h = size
    set_rng = np.random.default_rng([set_seed, _SET, _STATIC_KINDS.index(kind)])
    place, spots = (_street_set if kind == "street" else _studio_set)(set_rng, w, h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vignette = (1.0 - set_rng.uniform(0.2, 0.5) * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2))[..., None]
    rng = np.random.default_rng([episode_seed, _EPISODE, _STATIC_KINDS.index(kind)])
    light = _smooth_wave(rng, rng.uniform(0.02, 0.05), (1 / 120, 1 / 30), 2)
    n = count(duration, fps)
    if kind == "studio":  # the host (first seat) is the same every episode, the guests are not
        desk = h * 0.68
        people = [_Person(set_rng if k == 0 else rng, rng, w, h, seat, desk) for k, seat in enumerate(spots)]
    else:  # arrivals drawn in time order (a Poisson process), from before the first frame on
        movers, t = [], -8.0
        while t < n / fps:
            movers.append(_Mover(rng, w, h, spots, t))
            t += float(rng.exponential(2.0))
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        t = i / fps
        frame = place.copy()
        if kind == "studio":
            for person in people:
                person.draw(frame, t)
        else:
            for mover in movers:
                t0, t1 = mover.span()
                if t0 <= t <= t1:
                    mover.draw(frame, t)
        frame *= vignette * (1.0 + light(t))
        frame += np.random.default_rng([episode_seed, _NOISE, i]).normal(0, 2.0, (h, w, 1)).astype(np.float32)
        np.clip(frame, 0, 255, out=frame)
        out[i] = frame
    return out


def synth_slow_video(seed: int, duration: float, size: Size = (256, 144), fps: float = 25.0,
                     pace: float = 0.25, scene_seconds: tuple[float, float] = (6.0, 12.0)) -> np.ndarray:
    """Slow-moving footage, ``(round(duration*fps), h, w, 3)`` uint8 RGB: long shots
    (``scene_seconds``) of the :func:`synth_video` kind in which the camera pan
    and zoom and every shape's motion, spin and wobble run at ``pace`` times
    their usual speed (0.25: a quarter). Deterministic; a shorter duration
    gives exactly the first frames of a longer one.
    """
    w, h = size
    rng = np.random.default_rng([seed, _VIDEO, 7])
    n = count(duration, fps)
    out = np.empty((n, h, w, 3), np.uint8)
    grain = rng.normal(0, 2.5, (7, h, w, 1)).astype(np.float32)
    start, kind = 0, None
    while start < n:
        length = max(1, int(round(rng.uniform(*scene_seconds) * fps)))
        kind = rng.choice([k for k in _BACKGROUNDS if k != kind])
        scene = _Scene(rng, str(kind), w, h)
        for i in range(start, min(n, start + length)):
            # a scene played at ``pace`` shows what it shows at pace * t (every motion is a function of t)
            frame = scene.render(pace * (i - start) / fps) + grain[i % len(grain)]
            np.clip(frame, 0, 255, out=frame)
            out[i] = frame
        start += length
    return out
