"""The benchmark corpus: reference works and uploads derived from them, with ground truth.

Everything is synthesised locally with :mod:`mediagen` (no network, no sample
files): films are :func:`mediagen.synth_video` pictures with a
:func:`mediagen.synth_music` score, songs are :func:`mediagen.synth_music`,
voices are :func:`mediagen.synth_speech` (espeak-ng where installed, else the
built-in formant synthesiser; ``ground_truth.json`` records which). Every
random choice comes from a seeded generator, so the same ``--scale`` and
``--seed`` give the same corpus.

References (``references/``)
    Films (``filmNN.mp4``, H.264 + AAC, 256x144, 25 fps) open the way real
    masters do, so degenerate content is present in the catalog and can cause
    false matches: every third film starts with a title card (2 s) and black
    (1 s), every third with broadcast colour bars and a 1 kHz tone (4 s) then
    black (1 s), the rest cold-open; even-numbered films end with 1 s of black.
    Songs (``songNN.m4a``) are audio-only references.

Uploads (``uploads/``)
    One row of :data:`TRANSFORMS` is a documented edit; each row is applied
    ``per_transform`` times (``--scale``), every time to a different work
    (round-robin) and a different excerpt. Visual rows are written *without*
    a soundtrack and audio rows *without* a picture, so each row measures the
    fingerprint of that modality (with the soundtrack kept, every system that
    reads audio would find a visual edit by its sound alone). The evasion,
    partial-use and negative rows carry both streams where the edit says so.

Ground truth (``ground_truth.json``)
    Per upload: the work it uses (or none), the matching segments as upload
    ``[start, end]`` <-> reference ``[start, end]`` seconds, and the expected
    decision. Expected decisions follow fixed rules written here, never any
    system's output (see :data:`EXPECTED_RULES`):

    - a *copy* (the upload is mostly one work: every visual and audio edit,
      the evasion, the long excerpt) -> ``block``;
    - a *quote* (5-10 s of a work inside minutes of original content, with or
      without commentary over it) -> ``review``;
    - *music under a voice-over* (a voice on top of the work's music) -> ``review``;
    - a *negative* (no registered work in it) -> ``allow``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

import mediagen as mg
from mediagen import transforms as T

#: Bump when the corpus recipe changes: a cached corpus of another version is rebuilt.
CORPUS_VERSION = 3

SR = 22050  # sample rate of all synthesised audio, Hz
SIZE = (256, 144)  # frame size of all synthesised video (width, height), pixels
FPS = 25.0

BLOCK, REVIEW, ALLOW = "block", "review", "allow"

#: upload kind -> expected decision, with the reason (written to ground_truth.json).
EXPECTED_RULES = {
    "copy": (BLOCK, "the upload is mostly one registered work (edited or not)"),
    "quote": (REVIEW, "a 5-10 s quote inside minutes of original content: possible fair use, a person decides"),
    "music_under_voice": (REVIEW, "the work's music under a voice-over: a person decides"),
    "negative": (ALLOW, "no registered work in the upload"),
}

TITLES = ("Aurora", "Harbor Lights", "Tidewater", "Glass Orchard", "Northern Relay", "Salt Road",
          "Quiet Engines", "Amber Coast", "Long Field", "Paper Moons", "Iron Meadow", "Low Tide",
          "Blue Hour", "Copper Sky", "Far Signal", "Winter Line")
#: a title card in the references' style for a film that is not registered (hard negative)
UNREGISTERED_TITLE = "Lanterns"
CAPTION_TEXT = ("you will not believe what happens next in this amazing clip please like "
                "and subscribe for more videos every week")


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Plan:
    """Sizes derived from ``--scale`` (1 = the small default)."""

    scale: float
    seed: int
    n_films: int
    n_songs: int
    work_seconds: float  # length of the synthesised content of a film or song
    per_transform: int  # uploads per transformation row
    long_seconds: float  # original content around a short quote ("minutes")
    commentary_seconds: float  # original content around a quote with commentary


def make_plan(scale: float = 1.0, seed: int = 1) -> Plan:
    """Scale 1: 4 films + 2 songs of 36 s content, one upload per row, a 2-minute vlog.

    Counts grow linearly with ``scale``, durations with its square root.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    root = float(np.sqrt(scale))
    return Plan(
        scale=scale,
        seed=seed,
        n_films=max(2, round(4 * scale)),
        n_songs=max(1, round(2 * scale)),
        work_seconds=float(np.clip(round(36 * root), 20, 150)),
        per_transform=max(1, round(scale)),
        long_seconds=float(np.clip(round(120 * root), 60, 600)),
        commentary_seconds=float(np.clip(round(60 * root), 40, 300)),
    )


# --------------------------------------------------------------------------- records


@dataclass
class Segment:
    """Ground truth: upload seconds [upload_start, upload_end] are reference seconds
    [ref_start, ref_end] of the work."""

    upload_start: float
    upload_end: float
    ref_start: float
    ref_end: float

    def box(self) -> tuple[float, float, float, float]:
        return (self.upload_start, self.upload_end, self.ref_start, self.ref_end)


@dataclass
class Reference:
    work_id: str
    title: str
    kind: str  # "film" | "song"
    path: str  # relative to the corpus folder
    duration: float
    content_start: float  # where the synthesised work starts (after any lead-in)
    content_end: float
    lead_in: str  # "title card", "bars and tone", "none"
    seed: int
    has_video: bool
    has_audio: bool


@dataclass
class Upload:
    upload_id: str
    transform: str
    group: str
    path: str  # relative to the corpus folder
    work_id: str | None
    segments: list[Segment]
    kind: str  # a key of EXPECTED_RULES
    expected: str
    duration: float
    has_video: bool
    has_audio: bool
    note: str = ""


@dataclass
class Corpus:
    folder: Path
    plan: Plan
    references: list[Reference]
    uploads: list[Upload]
    meta: dict = field(default_factory=dict)

    def path(self, rel: str) -> Path:
        return self.folder / rel

    def reference(self, work_id: str) -> Reference:
        return next(r for r in self.references if r.work_id == work_id)


# --------------------------------------------------------------------------- helpers


def _seg(us: float, ue: float, rs: float, re: float) -> Segment:
    return Segment(round(us, 3), round(ue, 3), round(rs, 3), round(re, 3))


def _film_media(index: int, seed: int, content_seconds: float) -> tuple[mg.Media, float, str]:
    """A film reference: lead-in (per index), content, optional black tail.

    Returns the media, the content start (s) and the lead-in kind.
    """
    content = mg.synth_work(seed, content_seconds, size=SIZE, fps=FPS, sample_rate=SR)
    parts: list[mg.Media] = []
    lead = ("title card", "bars and tone", "none")[index % 3]
    if lead == "title card":
        parts += [mg.title_card(TITLES[index % len(TITLES)].upper(), 2.0, size=SIZE, fps=FPS),
                  mg.black_video(1.0, size=SIZE, fps=FPS)]
    elif lead == "bars and tone":
        parts += [mg.test_pattern(4.0, size=SIZE, fps=FPS, kind="bars", tone=True, sample_rate=SR),
                  mg.black_video(1.0, size=SIZE, fps=FPS)]
    start = sum(p.duration for p in parts)
    parts.append(content)
    if index % 2 == 1:  # film02, film04, ...: a black tail
        parts.append(mg.black_video(1.0, size=SIZE, fps=FPS))
    return (T.concat(*parts) if len(parts) > 1 else content), start, lead


def _music(seed: int, seconds: float) -> np.ndarray:
    return mg.synth_music(seed, seconds, sample_rate=SR)


def _speech(seed: int, seconds: float) -> np.ndarray:
    return mg.synth_speech(seed, seconds, sample_rate=SR)


def _vlog(seed: int, seconds: float) -> mg.Media:
    """Original content: a synthetic video with a voice talking over it."""
    return mg.Media(mg.synth_video(seed, seconds, size=SIZE, fps=FPS), FPS, _speech(seed, seconds), SR)


def _chroma_profile(audio: np.ndarray) -> np.ndarray:
    import librosa

    chroma = librosa.feature.chroma_stft(y=audio, sr=SR, n_fft=4096, hop_length=2048)
    profile = chroma.mean(axis=1)
    return profile / (np.linalg.norm(profile) + 1e-9)


def hardest_music_seed(target_seed: int, candidates: list[int], probe_seconds: float = 8.0) -> int:
    """The candidate seed whose music is closest in key profile (mean chroma, cosine) to
    ``target_seed``'s: a same-style negative. Uses no system under test and no labels."""
    target = _chroma_profile(_music(target_seed, probe_seconds))
    scores = [float(target @ _chroma_profile(_music(s, probe_seconds))) for s in candidates]
    return candidates[int(np.argmax(scores))]


# --------------------------------------------------------------------------- transformations


@dataclass
class Made:
    """What a transformation produces: media to write and its ground truth."""

    media: mg.Media
    segments: list[Segment]
    kind: str
    suffix: str = ".mp4"
    video_bitrate: int | None = None
    audio_bitrate: int | None = None
    note: str = ""


@dataclass
class Source:
    """The work a transformation is applied to (media in memory) and its content span."""

    ref: Reference
    media: mg.Media


@dataclass(frozen=True)
class Transform:
    name: str
    group: str  # visual | audio | evasion | partial | negative
    doc: str
    make: Callable[["Source | None", np.random.Generator, int], Made]
    needs: str  # "film": works with a picture; "any": any work; "none": no work (negative)


def _excerpt_span(src: Source, rng: np.random.Generator, share: float = 0.75) -> tuple[float, float]:
    """A random excerpt of ``share`` of the work's content: (start, length) in seconds."""
    lo, hi = src.ref.content_start, src.ref.content_end
    length = round((hi - lo) * share, 2)
    start = round(float(rng.uniform(lo, hi - length)), 2)
    return start, length


def _visual(edit: Callable[[mg.Media, np.random.Generator, int], mg.Media], speed: float = 1.0,
            bitrate: int | None = None):
    def make(src: Source, rng: np.random.Generator, seed: int) -> Made:
        s, length = _excerpt_span(src, rng)
        clip = T.drop_audio(T.excerpt(src.media, s, s + length))
        return Made(edit(clip, rng, seed), [_seg(0, length / speed, s, s + length)], "copy",
                    video_bitrate=bitrate, note=f"excerpt {s:.2f}-{s + length:.2f} s of the work")
    return make


def _audio(edit: Callable[[mg.Media, np.random.Generator, int], mg.Media], tempo: float = 1.0,
           suffix: str = ".m4a", bitrate: int | None = None, kind: str = "copy"):
    def make(src: Source, rng: np.random.Generator, seed: int) -> Made:
        s, length = _excerpt_span(src, rng)
        clip = T.excerpt(src.media, s, s + length)
        if clip.frames is not None:
            clip = T.drop_video(clip)
        return Made(edit(clip, rng, seed), [_seg(0, length / tempo, s, s + length)], kind,
                    suffix=suffix, audio_bitrate=bitrate)
    return make


def _angle(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A rotation drawn uniformly in [lo, hi] degrees with a random sign: the issue gives a
    range (2-5 degrees), so no single angle can be tuned for."""
    return round(float(rng.uniform(lo, hi)) * float(rng.choice([-1.0, 1.0])), 2)


def _rotation(lo: float, hi: float):
    def make(src: Source, rng: np.random.Generator, seed: int) -> Made:
        s, length = _excerpt_span(src, rng)
        degrees = _angle(rng, lo, hi)
        clip = T.rotate(T.drop_audio(T.excerpt(src.media, s, s + length)), degrees)
        return Made(clip, [_seg(0, length, s, s + length)], "copy",
                    note=f"excerpt {s:.2f}-{s + length:.2f} s of the work, rotated {degrees:+.2f} degrees")
    return make


def _background(seed: int, seconds: float) -> mg.Media:
    return mg.Media(mg.synth_video(seed, seconds, size=SIZE, fps=FPS), FPS, None, SR)


def _evasion(src: Source, rng: np.random.Generator, seed: int) -> Made:
    s, length = _excerpt_span(src, rng)
    clip = T.replace_audio(T.excerpt(src.media, s, s + length), _music(seed, length))
    return Made(clip, [_seg(0, length, s, s + length)], "copy",
                note="picture of the work, soundtrack replaced by unrelated music")


def _long_excerpt(src: Source, rng: np.random.Generator, seed: int) -> Made:
    s, length = _excerpt_span(src, rng, share=0.8)
    intro, outro = _vlog(seed, 4.0), _vlog(seed + 1, 3.0)
    clip = T.concat(intro, T.excerpt(src.media, s, s + length), outro)
    return Made(clip, [_seg(4.0, 4.0 + length, s, s + length)], "copy",
                note=f"4 s intro + {length:.1f} s of the work + 3 s outro")


def _draw_quote(src: Source, rng: np.random.Generator, length: tuple[float, float],
                place: tuple[float, float], total: float) -> tuple[float, float, float]:
    """(quote seconds, start in the work, start in the upload) drawn in that order."""
    q = round(float(rng.uniform(*length)), 2)
    s = round(float(rng.uniform(src.ref.content_start, src.ref.content_end - q)), 2)
    at = round(float(rng.uniform(*place)) * total, 2)
    return q, s, at


def _short_quote(long_seconds: float):
    def make(src: Source, rng: np.random.Generator, seed: int) -> Made:
        q, s, at = _draw_quote(src, rng, (5.0, 10.0), (0.2, 0.7), long_seconds)
        clip = T.embed(T.excerpt(src.media, s, s + q), _vlog(seed, long_seconds), at)
        return Made(clip, [_seg(at, at + q, s, s + q)], "quote",
                    note=f"{q:.1f} s quote (picture and sound) at {at:.1f} s of a {long_seconds:.0f} s vlog")
    return make


def _commentary_quote(seconds: float):
    def make(src: Source, rng: np.random.Generator, seed: int) -> Made:
        q, s, at = _draw_quote(src, rng, (6.0, 10.0), (0.3, 0.6), seconds)
        vlog = _vlog(seed, seconds)
        voice = vlog.audio[mg.count(at, SR): mg.count(at, SR) + mg.count(q, SR)]
        quote = T.mix_audio(T.excerpt(src.media, s, s + q), voice, snr_db=-12.0)
        clip = T.embed(quote, vlog, at)
        return Made(clip, [_seg(at, at + q, s, s + q)], "quote",
                    note=f"{q:.1f} s quote at {at:.1f} s of a {seconds:.0f} s vlog; the voice goes on "
                         f"over it, the work's sound 12 dB below the voice")
    return make


def _negative(fn: Callable[[np.random.Generator, int], tuple[mg.Media, str]], note: str = ""):
    def make(src: Source | None, rng: np.random.Generator, seed: int) -> Made:
        media, suffix = fn(rng, seed)
        return Made(media, [], "negative", suffix=suffix, note=note)
    return make


# ------------------------------------------------ reframed pictures (vtemporal, issue 9 item 4)


def _offcentre(rng: np.random.Generator) -> tuple[float, float]:
    """Where a 70 % x 70 % crop window sits (``crop_window`` position): touching a corner
    half the time, else anywhere with its centre at least 10 % of the frame off the
    frame's centre (the window's centre moves 0.3 x (position - 0.5) off it)."""
    if rng.random() < 0.5:
        return float(rng.choice([0.0, 1.0])), float(rng.choice([0.0, 1.0]))
    while True:
        p = rng.uniform(0.0, 1.0, 2)
        if float(np.hypot(*(0.3 * (p - 0.5)))) >= 0.10:
            return round(float(p[0]), 3), round(float(p[1]), 3)


def _reframed(kind: str, mirror: bool = False, speed: float = 1.0):
    """A picture-only copy of a 75 % excerpt showing another window of the picture:
    ``kind`` "crop" (30 % off-centre crop), "border" (static patterned border) or
    "moving" (animated border); geometry drawn per upload, then mirrored / sped up."""
    def make(src: Source, rng: np.random.Generator, seed: int) -> Made:
        s, length = _excerpt_span(src, rng)
        clip = T.drop_audio(T.excerpt(src.media, s, s + length))
        if kind == "crop":
            pos, full = _offcentre(rng), bool(rng.random() < 0.5)
            clip = T.crop_window(clip, 0.7, pos, keep_size=full)
            what = f"70 % x 70 % window at {pos}" + (", scaled back to the frame size" if full else "")
        else:
            scale = round(float(rng.uniform(0.65, 0.85)), 3)
            pos = (round(float(rng.uniform(0.25, 0.75)), 3), round(float(rng.uniform(0.25, 0.75)), 3))
            soft = round(float(rng.uniform(0.03, 0.08)), 3) if rng.random() < 0.5 else 0.0
            frame = T.decorative_border if kind == "border" else T.moving_border
            clip = frame(clip, scale, seed=seed, position=pos, soft_edge=soft)
            what = (f"{'static' if kind == 'border' else 'animated'} border, work at {scale:.0%} placed at {pos}, "
                    + (f"soft edge {soft:.0%}" if soft else "hard edge"))
        if mirror:
            clip, what = T.hflip(clip), what + ", mirrored"
        if speed != 1.0:
            clip, what = T.speed(clip, speed), what + f", {speed}x"
        return Made(clip, [_seg(0, length / speed, s, s + length)], "copy",
                    note=f"excerpt {s:.2f}-{s + length:.2f} s of the work: {what}")
    return make


def _recut_unrelated(src: Source, rng: np.random.Generator, seed: int) -> Made:
    """Unregistered footage of the same kind cut exactly where a registered film's excerpt
    cuts, then cropped off-centre: every cut-timing candidate lines up, the picture does not."""
    s, length = _excerpt_span(src, rng)
    excerpt = T.excerpt(src.media, s, s + length)
    starts = T.shot_starts(excerpt)
    shots = np.diff(np.append(starts, excerpt.n_frames))
    other = mg.Media(mg.synth_shots(seed, shots, size=SIZE, fps=FPS), FPS, None, SR)
    pos = _offcentre(rng)
    return Made(T.crop_window(other, 0.7, pos), [], "negative",
                note=f"unregistered footage cut to the {len(shots)} shot lengths of {s:.2f}-{s + length:.2f} s of "
                     f"{src.ref.work_id}, 70 % window at {pos}")


def build_transforms(plan: Plan, hard_music_seed: int) -> list[Transform]:
    """The table of transformations for ``plan`` (name, group, one-line doc, recipe)."""
    V, A = "visual", "audio"
    cs = T.color_shift
    rows = [
        # visual: video-only uploads of a 75 % excerpt, edited
        Transform("reencode_80kbps", V, "H.264 re-encode at 80 kbit/s (blocky)",
                  _visual(lambda m, r, s: m, bitrate=80_000), "film"),
        Transform("downscale_50", V, "picture scaled to 50 % (128x72)",
                  _visual(lambda m, r, s: T.scale(m, 0.5)), "film"),
        Transform("crop_5", V, "5 % of width and height cropped (centre kept)",
                  _visual(lambda m, r, s: T.crop(m, 0.05)), "film"),
        Transform("crop_10", V, "10 % cropped", _visual(lambda m, r, s: T.crop(m, 0.10)), "film"),
        Transform("crop_20", V, "20 % cropped", _visual(lambda m, r, s: T.crop(m, 0.20)), "film"),
        Transform("letterbox", V, "16:9 picture in a 4:3 frame, black bars top and bottom",
                  _visual(lambda m, r, s: T.letterbox(m)), "film"),
        Transform("pillarbox", V, "picture in a wider frame, black bars left and right",
                  _visual(lambda m, r, s: T.pillarbox(m)), "film"),
        Transform("hflip", V, "mirrored left-right", _visual(lambda m, r, s: T.hflip(m)), "film"),
        Transform("rotate_2to3", V, "rotated 2-3.5 degrees either way (drawn per upload), zoomed to fill "
                  "the corners", _rotation(2.0, 3.5), "film"),
        Transform("rotate_4to5", V, "rotated 3.5-5 degrees either way (drawn per upload), zoomed to fill "
                  "the corners", _rotation(3.5, 5.0), "film"),
        Transform("brightness", V, "brightness +20 % of full scale",
                  _visual(lambda m, r, s: cs(m, brightness=0.2)), "film"),
        Transform("contrast", V, "contrast x1.6 about mid-grey",
                  _visual(lambda m, r, s: cs(m, contrast=1.6)), "film"),
        Transform("saturation", V, "saturation x0.3", _visual(lambda m, r, s: cs(m, saturation=0.3)),
                  "film"),
        Transform("hue", V, "hue rotated 60 degrees", _visual(lambda m, r, s: cs(m, hue_degrees=60.0)),
                  "film"),
        Transform("greyscale", V, "colour removed", _visual(lambda m, r, s: T.greyscale(m)), "film"),
        Transform("noise", V, "Gaussian pixel noise, sigma 15 levels",
                  _visual(lambda m, r, s: T.add_noise(m, 15.0, seed=s)), "film"),
        Transform("caption", V, "burnt-in subtitles on a dark band (bottom 22 %)",
                  _visual(lambda m, r, s: T.caption(m, CAPTION_TEXT)), "film"),
        Transform("logo", V, "channel logo in the top-right corner (15 % of the width)",
                  _visual(lambda m, r, s: T.logo(m)), "film"),
        Transform("fps_15", V, "frame rate changed from 25 to 15 fps",
                  _visual(lambda m, r, s: T.change_fps(m, 15.0)), "film"),
        Transform("pip_50", V, "the work at 50 % width as an inset over other video",
                  _visual(lambda m, r, s: T.picture_in_picture(
                      m, _background(s + 17, m.duration), scale=0.5)), "film"),
        Transform("speed_0.9", V, "played at 0.9x (slower; frames repeated)",
                  _visual(lambda m, r, s: T.speed(m, 0.9), speed=0.9), "film"),
        Transform("speed_1.1", V, "played at 1.1x (faster; frames dropped)",
                  _visual(lambda m, r, s: T.speed(m, 1.1), speed=1.1), "film"),
        # audio: audio-only uploads of a 75 % excerpt of the work's sound, edited
        Transform("mp3_32kbps", A, "MP3 at 32 kbit/s", _audio(lambda m, r, s: m, suffix=".mp3",
                                                             bitrate=32_000), "any"),
        Transform("noise_10db", A, "white noise at 10 dB SNR",
                  _audio(lambda m, r, s: T.add_audio_noise(m, 10.0, seed=s)), "any"),
        Transform("noise_0db", A, "white noise at 0 dB SNR (as loud as the music)",
                  _audio(lambda m, r, s: T.add_audio_noise(m, 0.0, seed=s)), "any"),
        Transform("voice_over", A, "a voice on top, the music 6 dB below it (podcast style)",
                  _audio(lambda m, r, s: T.mix_audio(m, _speech(s, m.duration), snr_db=-6.0),
                         kind="music_under_voice"), "any"),
        Transform("pitch_up_1", A, "pitch +1 semitone (duration kept)",
                  _audio(lambda m, r, s: T.pitch_shift(m, 1.0)), "any"),
        Transform("pitch_down_1", A, "pitch -1 semitone (duration kept)",
                  _audio(lambda m, r, s: T.pitch_shift(m, -1.0)), "any"),
        Transform("tempo_0.95", A, "tempo 0.95x (pitch kept)",
                  _audio(lambda m, r, s: T.tempo(m, 0.95), tempo=0.95), "any"),
        Transform("tempo_1.05", A, "tempo 1.05x (pitch kept)",
                  _audio(lambda m, r, s: T.tempo(m, 1.05), tempo=1.05), "any"),
        # evasion and partial use: both streams
        Transform("picture_new_sound", "evasion",
                  "the picture of a 75 % excerpt, soundtrack replaced by other music", _evasion, "film"),
        Transform("long_excerpt", "partial", "80 % of the work between a 4 s intro and a 3 s outro "
                  "(most of the upload)", _long_excerpt, "film"),
        Transform("short_quote", "partial", f"a 5-10 s quote inside {plan.long_seconds:.0f} s of "
                  "original video with a voice", _short_quote(plan.long_seconds), "film"),
        Transform("quote_commentary", "partial", f"a 6-10 s quote inside {plan.commentary_seconds:.0f} s "
                  "of original video, the voice talking over it", _commentary_quote(plan.commentary_seconds),
                  "film"),
        # negatives: no registered work
        Transform("unrelated_work", "negative", "an unrelated film from the same generator (picture + music)",
                  _negative(lambda r, s: (mg.synth_work(s, 30.0, size=SIZE, fps=FPS, sample_rate=SR), ".mp4")),
                  "none"),
        Transform("same_style_music", "negative", "unregistered music closest in key profile to a "
                  "registered song (audio only)",
                  _negative(lambda r, s: (mg.Media(None, FPS, _music(hard_music_seed, 30.0), SR), ".m4a")),
                  "none"),
        Transform("same_kind_imagery", "negative", "unregistered video of the same kind (same generator, "
                  "video only)", _negative(lambda r, s: (_background(s, 30.0), ".mp4")), "none"),
        Transform("vlog_original", "negative", "original video with a voice, no quote",
                  _negative(lambda r, s: (_vlog(s, 45.0), ".mp4")), "none"),
        Transform("black_silent", "negative", "black picture, silent soundtrack, 10 s",
                  _negative(lambda r, s: (mg.black_video(10.0, size=SIZE, fps=FPS, sample_rate=SR,
                                                         audio=True), ".mp4")), "none"),
        Transform("silence", "negative", "digital silence, audio only, 10 s",
                  _negative(lambda r, s: (mg.silence(10.0, sample_rate=SR), ".m4a")), "none"),
        Transform("bars_tone", "negative", "colour bars and a 1 kHz tone, 10 s (one film opens with them)",
                  _negative(lambda r, s: (mg.test_pattern(10.0, size=SIZE, fps=FPS, kind="bars", tone=True,
                                                          sample_rate=SR), ".mp4")), "none"),
        Transform("grid_pattern", "negative", "white crosshatch test card, video only, 8 s",
                  _negative(lambda r, s: (mg.test_pattern(8.0, size=SIZE, fps=FPS, kind="grid"), ".mp4")),
                  "none"),
        Transform("title_card", "negative", "a title card in the films' style, unregistered title, 6 s",
                  _negative(lambda r, s: (mg.title_card(UNREGISTERED_TITLE.upper(), 6.0, size=SIZE, fps=FPS),
                                          ".mp4")), "none"),
    ]
    # reframed pictures (vtemporal, issue 9 item 4), picture only: another window of the picture than any
    # stored whole-frame hash shows; scene-cut timing proposes the line, the central window verifies it
    E = "evasion"
    rows += [
        Transform("crop_30_offcentre", E, "30 % off-centre crop: a 70 % x 70 % window touching a corner or with "
                  "its centre >= 10 % off the frame's centre (drawn per upload), picture only", _reframed("crop"),
                  "film"),
        Transform("border_decorative", E, "the work shrunk to 65-85 % inside a static patterned border (hard or soft "
                  "edge, size and place drawn per upload), picture only", _reframed("border"), "film"),
        Transform("border_moving", E, "the work shrunk to 65-85 % inside an animated border whose content changes "
                  "every frame, picture only", _reframed("moving"), "film"),
        Transform("crop_30_mirror", E, "30 % off-centre crop, mirrored, picture only",
                  _reframed("crop", mirror=True), "film"),
        Transform("border_speed_1.2", E, "decorative border, played at 1.2x, picture only",
                  _reframed("border", speed=1.2), "film"),
        Transform("recut_unrelated", "negative", "unregistered footage cut to a registered film's shot lengths, "
                  "cropped off-centre (picture only): cut timing agrees, the picture does not",
                  _recut_unrelated, "film"),
    ]
    return rows


# --------------------------------------------------------------------------- assignment


@dataclass(frozen=True)
class Job:
    """One unit of generation: a reference work and the uploads derived from it, or
    (work None) the negatives."""

    work: dict | None  # {"work_id", "kind", "index", "seed", "title"}
    uploads: tuple[tuple[int, int], ...]  # (row index, copy index)


def _works(plan: Plan) -> list[dict]:
    films = [{"work_id": f"film{i + 1:02d}", "kind": "film", "index": i, "seed": 1000 * plan.seed + i,
              "title": TITLES[i % len(TITLES)]} for i in range(plan.n_films)]
    songs = [{"work_id": f"song{i + 1:02d}", "kind": "song", "index": i, "seed": 1000 * plan.seed + 500 + i,
              "title": f"Song {i + 1}"} for i in range(plan.n_songs)]
    return films + songs


def _assign(plan: Plan, rows: list[Transform]) -> list[Job]:
    """Round-robin rows over the works they need; every copy uses another work."""
    works = _works(plan)
    films = [w for w in works if w["kind"] == "film"]
    per_work: dict[str, list[tuple[int, int]]] = {w["work_id"]: [] for w in works}
    negatives: list[tuple[int, int]] = []
    counters = {"film": 0, "any": 0}
    for r, row in enumerate(rows):
        for k in range(plan.per_transform):
            if row.needs == "none":
                negatives.append((r, k))
                continue
            pool = films if row.needs == "film" else works
            w = pool[counters[row.needs] % len(pool)]
            counters[row.needs] += 1
            per_work[w["work_id"]].append((r, k))
    jobs = [Job(w, tuple(per_work[w["work_id"]])) for w in works]
    # negatives in two halves so the two generation processes share them
    half = (len(negatives) + 1) // 2
    jobs += [Job(None, tuple(negatives[:half])), Job(None, tuple(negatives[half:]))]
    return jobs


# --------------------------------------------------------------------------- generation


def _duration_of(media: mg.Media, suffix: str) -> tuple[float, bool, bool]:
    audio_only = suffix in (".m4a", ".mp3", ".wav", ".ogg", ".flac")
    has_video = media.frames is not None and not audio_only
    has_audio = media.audio is not None
    dur = max(media.video_duration if has_video else 0.0, media.audio_duration if has_audio else 0.0)
    return round(dur, 3), has_video, has_audio


def _run_job(folder: str, plan: Plan, hard_seed: int, job: Job) -> tuple[list[dict], list[dict]]:
    """Generate one job's reference (if any) and uploads; returns (references, uploads) as dicts."""
    folder_p = Path(folder)
    rows = build_transforms(plan, hard_seed)
    refs: list[dict] = []
    src: Source | None = None
    if job.work is not None:
        w = job.work
        if w["kind"] == "film":
            media, start, lead = _film_media(w["index"], w["seed"], plan.work_seconds)
            rel = f"references/{w['work_id']}.mp4"
        else:
            media = mg.Media(None, FPS, _music(w["seed"], plan.work_seconds), SR)
            start, lead = 0.0, "none"
            rel = f"references/{w['work_id']}.m4a"
        mg.write_media(media, folder_p / rel)
        ref = Reference(w["work_id"], w["title"], w["kind"], rel, round(media.duration, 3), round(start, 3),
                        round(start + plan.work_seconds, 3), lead, w["seed"], media.frames is not None,
                        media.audio is not None)
        refs.append(asdict(ref))
        src = Source(ref, media)
    uploads: list[dict] = []
    for r, k in job.uploads:
        row = rows[r]
        seed = 100_000 * plan.seed + 1000 * r + k + 7
        rng = np.random.default_rng([plan.seed, r, k])
        made = row.make(src, rng, seed)
        uid = f"{row.group}-{row.name}-{k + 1}"
        rel = f"uploads/{uid}{made.suffix}"
        mg.write_media(made.media, folder_p / rel, video_bitrate=made.video_bitrate,
                       audio_bitrate=made.audio_bitrate)
        dur, has_video, has_audio = _duration_of(made.media, made.suffix)
        expected = EXPECTED_RULES[made.kind][0]
        up = Upload(uid, row.name, row.group, rel, src.ref.work_id if (src and made.segments) else None,
                    made.segments, made.kind, expected, dur, has_video, has_audio, made.note)
        uploads.append(asdict(up))
    return refs, uploads


def _speech_engine() -> str:
    return "espeak-ng" if shutil.which("espeak-ng") else "formant synthesiser (mediagen)"


def _load(folder: Path, data: dict) -> Corpus:
    plan = Plan(**data["plan"])
    refs = [Reference(**r) for r in data["references"]]
    ups = []
    for u in data["uploads"]:
        u = dict(u)
        u["segments"] = [Segment(**s) for s in u["segments"]]
        ups.append(Upload(**u))
    return Corpus(folder, plan, refs, ups, data.get("meta", {}))


def build_corpus(workdir: str | os.PathLike, scale: float = 1.0, seed: int = 1, jobs: int = 2,
                 fresh: bool = False, say: Callable[[str], None] = print) -> Corpus:
    """Generate (or reuse) the corpus for ``scale``/``seed`` under ``workdir``.

    The corpus lives in ``<workdir>/corpus-s<scale>-seed<seed>/`` with
    ``references/``, ``uploads/`` and ``ground_truth.json``; a complete corpus
    of the same version, plan and speech engine is reused unless ``fresh``.
    """
    plan = make_plan(scale, seed)
    folder = Path(workdir) / f"corpus-s{scale:g}-seed{seed}"
    gt_path = folder / "ground_truth.json"
    engine = _speech_engine()
    if gt_path.exists() and not fresh:
        data = json.loads(gt_path.read_text())
        if (data.get("version") == CORPUS_VERSION and data.get("plan") == asdict(plan)
                and data.get("meta", {}).get("speech_engine") == engine
                and all((folder / u["path"]).exists() for u in data["uploads"])):
            say(f"corpus: reusing {folder} ({len(data['references'])} references, "
                f"{len(data['uploads'])} uploads)")
            return _load(folder, data)
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "references").mkdir(parents=True)
    (folder / "uploads").mkdir(parents=True)
    t0 = time.perf_counter()
    songs = [w for w in _works(plan) if w["kind"] == "song"]
    candidates = [1000 * seed + 900 + i for i in range(12)]
    hard_seed = hardest_music_seed(songs[0]["seed"], candidates)
    rows = build_transforms(plan, hard_seed)
    job_list = _assign(plan, rows)
    say(f"corpus: generating {plan.n_films} films + {plan.n_songs} songs and "
        f"{sum(len(j.uploads) for j in job_list)} uploads into {folder} ({jobs} processes) ...")
    refs: list[dict] = []
    uploads: list[dict] = []
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_run_job, str(folder), plan, hard_seed, j) for j in job_list]
            for fut in futures:
                r, u = fut.result()
                refs += r
                uploads += u
    else:
        for j in job_list:
            r, u = _run_job(str(folder), plan, hard_seed, j)
            refs += r
            uploads += u
    order = {row.name: i for i, row in enumerate(rows)}
    uploads.sort(key=lambda u: (order[u["transform"]], u["upload_id"]))
    refs.sort(key=lambda r: r["work_id"])
    data = {
        "version": CORPUS_VERSION,
        "plan": asdict(plan),
        "meta": {
            "speech_engine": engine,
            "hard_negative_music_seed": hard_seed,
            "hard_negative_music_target": songs[0]["work_id"],
            "generation_seconds": round(time.perf_counter() - t0, 1),
            "size": list(SIZE), "fps": FPS, "sample_rate": SR,
        },
        "expected_rules": {k: {"decision": v[0], "why": v[1]} for k, v in EXPECTED_RULES.items()},
        "transforms": [{"name": r.name, "group": r.group, "doc": r.doc} for r in rows],
        "references": refs,
        "uploads": uploads,
    }
    gt_path.write_text(json.dumps(data, indent=1))
    say(f"corpus: done in {time.perf_counter() - t0:.0f} s")
    return _load(folder, data)


def transform_docs(plan: Plan) -> list[dict]:
    """name, group, doc of every row (for the report), without generating anything."""
    return [{"name": r.name, "group": r.group, "doc": r.doc} for r in build_transforms(plan, 0)]
