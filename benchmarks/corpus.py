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
    Songs (``songNN.m4a``) are audio-only references. Static-camera works
    (``camNN.mp4``, video only) are the first seconds of a recording from a
    fixed camera, a talk-show set or a street camera
    (:func:`mediagen.synth_static_camera`): later seconds of the same
    recording and other episodes on the same set are hard negatives. Slow
    films (``slowNN.mp4``) are long shots at a twentieth of the usual motion
    with a score (:func:`mediagen.synth_slow_video`), quoted briefly under a voice.

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
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import numpy as np

import mediagen as mg
from mediagen import transforms as T

#: Bump when the corpus recipe changes: a cached corpus of another version is rebuilt.
CORPUS_VERSION = 4

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
    kind: str  # "film" | "song" | "static" (a static-camera recording) | "slow" (a slow-moving film)
    path: str  # relative to the corpus folder
    duration: float
    content_start: float  # where the synthesised work starts (after any lead-in)
    content_end: float
    lead_in: str  # "title card", "bars and tone", "none"
    seed: int
    has_video: bool
    has_audio: bool
    scene: str = ""  # static-camera works: "street" or "studio" (see mediagen.synth_static_camera)


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
    write: Callable[[Path], None] | None = None  # writes the file itself (stereo, several streams)


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
    needs: str  # "film": films; "any": films and songs; "static", "slow": works of that kind; "none": no work


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


def _rotation(lo: float, hi: float, zoom: bool = True):
    def make(src: Source, rng: np.random.Generator, seed: int) -> Made:
        s, length = _excerpt_span(src, rng)
        degrees = _angle(rng, lo, hi)
        clip = T.rotate(T.drop_audio(T.excerpt(src.media, s, s + length)), degrees, zoom=zoom)
        corners = "" if zoom else ", black corners"
        return Made(clip, [_seg(0, length, s, s + length)], "copy",
                    note=f"excerpt {s:.2f}-{s + length:.2f} s of the work, rotated {degrees:+.2f} degrees{corners}")
    return make


def _background(seed: int, seconds: float) -> mg.Media:
    return mg.Media(mg.synth_video(seed, seconds, size=SIZE, fps=FPS), FPS, None, SR)


# --- picture evasions found by query renditions (issue 9, the "vgeo" part): every
# angle, side, offset, colour and speed is drawn per upload from its seeded generator


def _drawn(edit: Callable[[mg.Media, np.random.Generator, int], tuple[mg.Media, str]],
           speed: tuple[float, float] | None = None):
    """A visual row whose edit draws its own parameters (and says which in the note);
    ``speed``: a playback speed drawn log-uniformly in that range, applied first."""
    def make(src: Source, rng: np.random.Generator, seed: int) -> Made:
        s, length = _excerpt_span(src, rng)
        clip = T.drop_audio(T.excerpt(src.media, s, s + length))
        factor = 1.0
        if speed is not None:
            factor = round(float(np.exp(rng.uniform(np.log(speed[0]), np.log(speed[1])))), 3)
            clip = T.speed(clip, factor)
        edited, how = edit(clip, rng, seed)
        note = f"excerpt {s:.2f}-{s + length:.2f} s of the work" + (f", played at {factor:g}x" if speed else "")
        return Made(edited, [_seg(0, length / factor, s, s + length)], "copy", note=note + (f", {how}" if how else ""))
    return make


def _quarter_turn(m: mg.Media, rng: np.random.Generator, seed: int) -> tuple[mg.Media, str]:
    turns = int(rng.choice([1, 3]))
    return T.rotate90(m, turns), f"turned {90 * turns} degrees counter-clockwise into a portrait frame"


def _split(axis: str):
    def edit(m: mg.Media, rng: np.random.Generator, seed: int) -> tuple[mg.Media, str]:
        first = bool(rng.integers(2))
        side = ("left" if first else "right") if axis == "horizontal" else ("top" if first else "bottom")
        return T.split_screen(m, _background(seed + 31, m.duration), axis, first), f"the work on the {side}"
    return edit


def _over_blur(m: mg.Media, rng: np.random.Generator, seed: int) -> tuple[mg.Media, str]:
    offset, blur = round(float(rng.uniform(-0.5, 0.5)), 2), round(float(rng.uniform(0.04, 0.1)), 3)
    return (T.vertical_over_blur(m, offset=offset, blur_share=blur),
            f"band offset {offset:+.2f} of the free space, blur sigma {blur:.3f} of the width")


def _border_sides(rng: np.random.Generator, lo: float, hi: float) -> tuple[float, float, float, float]:
    return tuple(round(float(v), 3) for v in rng.uniform(lo, hi, 4))  # type: ignore[return-value]


def _coloured_border(m: mg.Media, rng: np.random.Generator, seed: int) -> tuple[mg.Media, str]:
    sides = _border_sides(rng, 0.04, 0.12)
    colour = (255, 255, 255) if rng.random() < 0.5 else tuple(int(v) for v in rng.integers(0, 256, 3))
    return T.border(m, sides, colour), f"border {sides} (top, bottom, left, right) in RGB {colour}"


def _classic_combo(m: mg.Media, rng: np.random.Generator, seed: int) -> tuple[mg.Media, str]:
    top, rest = round(float(rng.uniform(0.15, 0.22)), 3), _border_sides(rng, 0.03, 0.06)
    sides = (top, *rest[1:])
    out = T.border(T.crop(T.hflip(m), 0.15), sides, (255, 255, 255), text=CAPTION_TEXT)
    return out, f"mirrored, 15 % cropped, white border {sides} with a caption in the top band"


def _unregistered_split(rng: np.random.Generator, seed: int) -> tuple[mg.Media, str]:
    axis = "horizontal" if rng.random() < 0.5 else "vertical"
    return T.split_screen(_background(seed, 24.0), _background(seed + 1, 24.0), axis), ".mp4"


def _unregistered_rendition(rng: np.random.Generator, seed: int) -> tuple[mg.Media, str]:
    clip = _background(seed, 24.0)
    edits = [T.negative, T.vflip, lambda m: T.rotate90(m, 1), lambda m: T.rotate(m, _angle(rng, 10, 20), zoom=False),
             lambda m: T.border(m, _border_sides(rng, 0.04, 0.12))]
    return edits[int(rng.integers(len(edits)))](clip), ".mp4"


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


# --------------------------------------------------------------------------- issue 9, audio: evasions and quotes


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, avoid: float = 0.05) -> float:
    """A factor drawn log-uniformly in [lo, hi], at least ``avoid`` (relative) away from 1:
    a range, not grid points a system could be tuned to."""
    while True:
        f = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        if abs(np.log(f)) >= np.log1p(avoid):
            return round(f, 3)


def _audio_retimed(how: str, factor: float | tuple[float, float]):
    """An audio-only copy played at another speed: ``how`` = "tempo" (duration changed,
    pitch kept: a phase vocoder) or "speed" (pitch following: resampled); ``factor``
    fixed, or a (lo, hi) range drawn per upload."""
    edit = T.tempo if how == "tempo" else T.resample_speed

    def make(src: Source, rng: np.random.Generator, seed: int) -> Made:
        f = factor if isinstance(factor, float) else _log_uniform(rng, *factor)
        s, length = _excerpt_span(src, rng)
        clip = T.drop_video(T.excerpt(src.media, s, s + length)) if src.media.frames is not None \
            else T.excerpt(src.media, s, s + length)
        return Made(edit(clip, f), [_seg(0, length / f, s, s + length)], "copy", suffix=".m4a",
                    note=f"excerpt {s:.2f}-{s + length:.2f} s of the work's sound, {how} x{f:.3f}")
    return make


def _song_snippet_under(over: str, seconds: float, snippet: float = 7.0):
    """A ``snippet``-second excerpt of the work's sound inside ``seconds`` of a podcast
    (speech, audio only), 6-12 dB (drawn) under other sound: the voice talking on
    over it (``over`` = "voice") or other music playing over it ("music")."""
    def make(src: Source, rng: np.random.Generator, seed: int) -> Made:
        s = round(float(rng.uniform(src.ref.content_start, src.ref.content_end - snippet)), 2)
        at = round(float(rng.uniform(0.2, 0.7)) * seconds, 2)
        under_db = round(float(rng.uniform(6.0, 12.0)), 1)
        podcast = mg.Media(None, FPS, _speech(seed, seconds), SR)
        if over == "voice":
            cover = podcast.audio[mg.count(at, SR): mg.count(at, SR) + mg.count(snippet, SR)]
        else:
            cover = _music(seed + 5, snippet)
        work = T.excerpt(src.media, s, s + snippet)
        if work.frames is not None:
            work = T.drop_video(work)
        clip = T.embed(T.mix_audio(work, cover, snr_db=-under_db), podcast, at)
        return Made(clip, [_seg(at, at + snippet, s, s + snippet)], "quote", suffix=".m4a",
                    note=f"{snippet:.0f} s of the work's sound at {at:.1f} s of a {seconds:.0f} s podcast, "
                         f"{under_db:.1f} dB under {'the voice' if over == 'voice' else 'other music'}")
    return make


@lru_cache(maxsize=4)
def pitched_same_style(plan_seed: int, n_songs: int, count: int, probe_seconds: float = 8.0
                       ) -> tuple[tuple[int, int], ...]:
    """(music seed, semitones) of ``count`` hard negatives: unregistered music of the
    songs' generator that, shifted by 1-3 semitones, comes closest in key profile
    (mean chroma, cosine) to some registered song. Uses no system under test and
    no labels; each seed used once."""
    songs = [_chroma_profile(_music(1000 * plan_seed + 500 + i, probe_seconds)) for i in range(n_songs)]
    scored = []
    for seed in (1000 * plan_seed + 950 + i for i in range(12)):
        profile = _chroma_profile(_music(seed, probe_seconds))
        for shift in (-3, -2, -1, 1, 2, 3):
            rolled = np.roll(profile, shift)  # up k semitones: pitch class c moves to c + k
            scored.append((max(float(rolled @ song) for song in songs), seed, shift))
    out, used = [], set()
    for _, seed, shift in sorted(scored, reverse=True):
        if seed not in used:
            out.append((seed, shift))
            used.add(seed)
        if len(out) == count:
            break
    return tuple(out)


def _same_style_pitched(plan: Plan, seconds: float = 30.0):
    """Negative: unregistered same-style music pitch-shifted towards a registered song's key."""
    def make(src: Source | None, rng: np.random.Generator, seed: int) -> Made:
        picks = pitched_same_style(plan.seed, plan.n_songs, plan.per_transform)
        copy = (seed - 7) % 1000  # the copy index k of this row (see the upload seeds in _run_job)
        music_seed, shift = picks[copy % len(picks)]
        media = T.pitch_shift(mg.Media(None, FPS, _music(music_seed, seconds), SR), float(shift))
        return Made(media, [], "negative", suffix=".m4a",
                    note=f"unregistered music (seed {music_seed}) shifted {shift:+d} semitones towards a "
                         f"registered song's key")
    return make


# -- motion (issue 9): static cameras and slow footage ------------------------------------------------

#: seconds between a static-camera work's registered part and the later seconds used as a negative
STATIC_GAP_SECONDS = 5.0
#: slow films move at this share of the usual speed (camera and shapes): long shots that change by less than
#: ``change_bits`` a second, where one-second change counting missed about a fifth of 5-10 s quotes
SLOW_PACE = 0.05


def _static_recording(ref: Reference, episode: int, seconds: float) -> mg.Media:
    """The first ``seconds`` of episode ``episode`` (0: the registered one) of a static-camera
    work's set (video only)."""
    frames = mg.synth_static_camera(ref.seed, ref.seed * 10 + episode, seconds, size=SIZE, fps=FPS, kind=ref.scene)
    return mg.Media(frames, FPS, None, SR)


def _static_media(index: int, seed: int, seconds: float) -> tuple[mg.Media, str]:
    """A static-camera work: the first ``seconds`` of a street camera (odd index) or a
    talk-show episode (even index); returns the media and its scene kind."""
    scene = ("studio", "street")[index % 2]
    frames = mg.synth_static_camera(seed, seed * 10, seconds, size=SIZE, fps=FPS, kind=scene)
    return mg.Media(frames, FPS, None, SR), scene


def _slow_media(seed: int, seconds: float) -> mg.Media:
    """A slow-moving film: long shots (6-12 s) at ``SLOW_PACE`` of the usual motion, with a music score."""
    return mg.Media(mg.synth_slow_video(seed, seconds, size=SIZE, fps=FPS, pace=SLOW_PACE), FPS,
                    _music(seed, seconds), SR)


def _static_later(src: Source, rng: np.random.Generator, seed: int) -> Made:
    """Seconds of the registered recording after its registered part: same set, same camera,
    never registered."""
    length = round((src.ref.content_end - src.ref.content_start) * 0.75, 2)
    start = round(src.ref.content_end + STATIC_GAP_SECONDS + float(rng.uniform(0, 5)), 2)
    clip = T.excerpt(_static_recording(src.ref, 0, start + length + 1.0), start, start + length)
    return Made(clip, [], "negative", note=f"seconds {start:.2f}-{start + length:.2f} of the recording whose "
                                           f"first {src.ref.content_end:.0f} s are registered as {src.ref.work_id}")


def _static_episode(src: Source, rng: np.random.Generator, seed: int) -> Made:
    """Another episode (or day) on the set of a registered static-camera work."""
    length = round((src.ref.content_end - src.ref.content_start) * 0.75, 2)
    start = round(float(rng.uniform(0, 10)), 2)
    episode = 1 + int(rng.integers(0, 1000))
    clip = T.excerpt(_static_recording(src.ref, episode, start + length + 1.0), start, start + length)
    return Made(clip, [], "negative", note=f"episode {episode} on the set of {src.ref.work_id}, seconds "
                                           f"{start:.2f}-{start + length:.2f}")


def _slow_quote(seconds: float, keep_sound: bool):
    def make(src: Source, rng: np.random.Generator, seed: int) -> Made:
        q, s, at = _draw_quote(src, rng, (5.0, 10.0), (0.3, 0.6), seconds)
        vlog = _vlog(seed, seconds)
        voice = vlog.audio[mg.count(at, SR): mg.count(at, SR) + mg.count(q, SR)]
        quote = T.excerpt(src.media, s, s + q)
        quote = T.mix_audio(quote, voice, snr_db=-12.0) if keep_sound else T.replace_audio(quote, voice)
        how = "the work's sound 12 dB below the voice" if keep_sound else "the work's sound replaced by the voice"
        return Made(T.embed(quote, vlog, at), [_seg(at, at + q, s, s + q)], "quote",
                    note=f"{q:.1f} s quote of slow footage at {at:.1f} s of a {seconds:.0f} s vlog; {how}")
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
        # motion (issue 9, items 5 and 6): static-camera recordings whose first seconds are registered,
        # and short quotes of slow-moving footage under a voice (references: _static_media, _slow_media)
        Transform("static_copy", V, "a static-camera recording (street camera or talk-show set): a copy of "
                  "75 % of its registered seconds", _visual(lambda m, r, s: m), "static"),
        Transform("static_later", "negative", "unregistered later seconds of a static-camera recording whose "
                  "first seconds are registered (video only)", _static_later, "static"),
        Transform("static_episode", "negative", "another episode on the same static set: other guests or "
                  "traffic, other seconds (video only)", _static_episode, "static"),
        Transform("slow_quote_voice", "partial", f"a 5-10 s quote of slow-moving footage inside "
                  f"{plan.commentary_seconds:.0f} s of original video, a voice talking over it (the work's sound "
                  "12 dB below)", _slow_quote(plan.commentary_seconds, keep_sound=True), "slow"),
        Transform("slow_quote_picture", "partial", "the same quote with the work's sound replaced by the voice "
                  "(only the picture can find it)", _slow_quote(plan.commentary_seconds, keep_sound=False),
                  "slow"),
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
        # issue 9, "vgeo": picture evasions found by query renditions, and their hard negatives. Appended
        # after the older rows so that theirs keep their row index (their random draws and seeds).
        # Video only, parameters drawn per upload
        Transform("vflip", V, "upside down (mirrored top-bottom)", _visual(lambda m, r, s: T.vflip(m)), "film"),
        Transform("rotate_90", V, "turned 90 degrees either way (drawn per upload) into a portrait frame",
                  _drawn(_quarter_turn), "film"),
        Transform("rotate_180", V, "turned 180 degrees", _visual(lambda m, r, s: T.rotate90(m, 2)), "film"),
        Transform("tilt_10to20", V, "tilted 10-20 degrees either way (drawn per upload), zoomed to fill the "
                  "corners", _rotation(10.0, 20.0), "film"),
        Transform("tilt_corners", V, "tilted 10-20 degrees either way (drawn per upload), corners left black",
                  _rotation(10.0, 20.0, zoom=False), "film"),
        Transform("negative_image", V, "photographic negative", _visual(lambda m, r, s: T.negative(m)), "film"),
        Transform("split_lr", V, "split screen: the work in the left or right half (drawn) beside other video",
                  _drawn(_split("horizontal")), "film"),
        Transform("split_tb", V, "split screen: the work in the top or bottom half (drawn) with other video",
                  _drawn(_split("vertical")), "film"),
        Transform("vertical_blur", V, "9:16 vertical frame: the work across it over a blurred, zoomed copy "
                  "(band offset and blur drawn)", _drawn(_over_blur), "film"),
        Transform("border_colour", V, "inside a white or coloured border, 4-12 % per side (drawn)",
                  _drawn(_coloured_border), "film"),
        Transform("classic_combo", V, "mirrored, 1.2x speed, 15 % crop, white border with a caption "
                  "(border drawn)", _drawn(_classic_combo, speed=(1.2, 1.2)), "film"),
        Transform("speed_slow", V, "played at 0.5-0.8x (drawn per upload; frames repeated)",
                  _drawn(lambda m, r, s: (m, ""), speed=(0.5, 0.8)), "film"),
        Transform("speed_fast", V, "played at 1.25-2x (drawn per upload; frames dropped)",
                  _drawn(lambda m, r, s: (m, ""), speed=(1.25, 2.0)), "film"),
        # hard negatives for the picture renditions (issue 9, "vgeo"): unregistered video only
        Transform("split_unregistered", "negative", "a split screen of two unregistered videos (axis drawn)",
                  _negative(_unregistered_split), "none"),
        Transform("vertical_blur_unregistered", "negative", "unregistered video in a 9:16 frame over a blurred "
                  "copy of itself", _negative(lambda r, s: (T.vertical_over_blur(_background(s, 24.0)), ".mp4")),
                  "none"),
        Transform("unrelated_renditions", "negative", "unregistered video negative, upside down, turned 90 "
                  "degrees, tilted with black corners or in a white border (drawn)",
                  _negative(_unregistered_rendition), "none"),
    ]
    # decode (issue 9): what a mono mix and the first streams hide
    rows += [
        Transform("stereo_phase_inverted", A, "stereo, one channel phase-inverted (pan=stereo|c0=-1*c0|c1=c0): "
                  "heard as the music, its mono mix cancels to silence", _phase_inverted, "any"),
        Transform("second_streams", "evasion", "the work's picture and sound in the second video and audio "
                  "streams, unrelated video and music in the first ones", _second_streams, "film"),
        Transform("vflip_phase_inverted", "evasion", "a full copy with its soundtrack, upside down and in stereo "
                  "with one channel phase-inverted (together: each signal's trick at once)", _vflip_phase_inverted,
                  "film"),
    ]
    # issue 9, audio: pitch +-2/3 semitones, tempo and speed 0.8-1.25x (audio only), 7 s song snippets
    # under other sound, same-style music at another pitch
    rows += [
        Transform("pitch_up_2", A, "pitch +2 semitones (duration kept)",
                  _audio(lambda m, r, s: T.pitch_shift(m, 2.0)), "any"),
        Transform("pitch_down_2", A, "pitch -2 semitones (duration kept)",
                  _audio(lambda m, r, s: T.pitch_shift(m, -2.0)), "any"),
        Transform("pitch_up_3", A, "pitch +3 semitones (duration kept)",
                  _audio(lambda m, r, s: T.pitch_shift(m, 3.0)), "any"),
        Transform("pitch_down_3", A, "pitch -3 semitones (duration kept)",
                  _audio(lambda m, r, s: T.pitch_shift(m, -3.0)), "any"),
        Transform("tempo_0.8", A, "tempo 0.8x (pitch kept)", _audio_retimed("tempo", 0.8), "any"),
        Transform("tempo_1.25", A, "tempo 1.25x (pitch kept)", _audio_retimed("tempo", 1.25), "any"),
        Transform("tempo_drawn", A, "tempo drawn per upload in 0.8-1.25x, at least 5 % off (pitch kept)",
                  _audio_retimed("tempo", (0.8, 1.25)), "any"),
        Transform("audio_speed_0.8", A, "played at 0.8x, pitch following (resampled: -3.9 semitones)",
                  _audio_retimed("speed", 0.8), "any"),
        Transform("audio_speed_1.25", A, "played at 1.25x, pitch following (resampled: +3.9 semitones)",
                  _audio_retimed("speed", 1.25), "any"),
        Transform("audio_speed_drawn", A, "played at a speed drawn per upload in 0.8-1.25x, at least 5 % off, "
                  "pitch following (resampled)", _audio_retimed("speed", (0.8, 1.25)), "any"),
        Transform("snippet_under_voice", "partial", f"7 s of the work's sound inside a {plan.commentary_seconds:.0f} s "
                  "podcast, 6-12 dB under the voice (audio only)",
                  _song_snippet_under("voice", plan.commentary_seconds), "any"),
        Transform("snippet_under_music", "partial", f"7 s of the work's sound inside a {plan.commentary_seconds:.0f} s "
                  "podcast, 6-12 dB under other music (audio only)",
                  _song_snippet_under("music", plan.commentary_seconds), "any"),
        Transform("same_style_pitched", "negative", "unregistered same-style music shifted 1-3 semitones towards "
                  "a registered song's key (audio only)", _same_style_pitched(plan), "none"),
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


def _phase_inverted(src: Source, rng: np.random.Generator, seed: int) -> Made:
    """An audio-only stereo copy of a 75 % excerpt whose left channel is inverted (written as two
    channels: the mono Media below is only what the file holds for durations)."""
    s, length = _excerpt_span(src, rng)
    clip = T.excerpt(src.media, s, s + length)
    audio = clip.audio
    return Made(mg.Media(None, FPS, audio, SR), [_seg(0, length, s, s + length)], "copy", suffix=".m4a",
                note=f"excerpt {s:.2f}-{s + length:.2f} s, L = -x, R = x",
                write=lambda path: mg.write_streams(path, audios=[np.stack([-audio, audio])], sample_rate=SR))


def _vflip_phase_inverted(src: Source, rng: np.random.Generator, seed: int) -> Made:
    """A 75 % excerpt, picture and sound: the picture upside down, the sound in stereo with its
    left channel inverted (a listener hears the music; its mono mix is silence)."""
    s, length = _excerpt_span(src, rng)
    clip = T.vflip(T.excerpt(src.media, s, s + length))
    audio = clip.audio
    return Made(clip, [_seg(0, length, s, s + length)], "copy", suffix=".mp4",
                note=f"excerpt {s:.2f}-{s + length:.2f} s, upside down, L = -x, R = x",
                write=lambda path: mg.write_streams(path, videos=[clip], audios=[np.stack([-audio, audio])],
                                                    sample_rate=SR))


def _second_streams(src: Source, rng: np.random.Generator, seed: int) -> Made:
    """Two video and two audio streams: unrelated first ones, the work's excerpt second."""
    s, length = _excerpt_span(src, rng)
    clip = T.excerpt(src.media, s, s + length)
    decoy = _background(seed + 29, length)
    music = _music(seed + 31, length)
    return Made(clip, [_seg(0, length, s, s + length)], "copy", suffix=".mkv",
                note=f"excerpt {s:.2f}-{s + length:.2f} s in video 1 and audio 1",
                write=lambda path: mg.write_streams(path, videos=[decoy, clip], audios=[music, clip.audio],
                                                    sample_rate=SR))


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
    # motion (issue 9): static-camera recordings (talk-show sets, street cameras) and slow-moving films
    n = max(2, round(plan.scale))
    static = [{"work_id": f"cam{i + 1:02d}", "kind": "static", "index": i, "seed": 1000 * plan.seed + 700 + i,
               "title": f"{('Talk show', 'Street camera')[i % 2]} {i // 2 + 1}"} for i in range(n)]
    slow = [{"work_id": f"slow{i + 1:02d}", "kind": "slow", "index": i, "seed": 1000 * plan.seed + 800 + i,
             "title": f"Slow film {i + 1}"} for i in range(max(1, round(plan.scale)))]
    return films + songs + static + slow


def _assign(plan: Plan, rows: list[Transform]) -> list[Job]:
    """Round-robin rows over the works they need; every copy uses another work."""
    works = _works(plan)
    films = [w for w in works if w["kind"] == "film"]
    per_work: dict[str, list[tuple[int, int]]] = {w["work_id"]: [] for w in works}
    negatives: list[tuple[int, int]] = []
    by_kind = {kind: [w for w in works if w["kind"] == kind] for kind in ("static", "slow")}
    works_ = [w for w in works if w["kind"] in ("film", "song")]  # "any" row: films and songs
    counters = {"film": 0, "any": 0, "static": 0, "slow": 0}
    for r, row in enumerate(rows):
        for k in range(plan.per_transform):
            if row.needs == "none":
                negatives.append((r, k))
                continue
            pool = films if row.needs == "film" else by_kind.get(row.needs, works_)
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
        scene = ""
        if w["kind"] == "film":
            media, start, lead = _film_media(w["index"], w["seed"], plan.work_seconds)
            rel = f"references/{w['work_id']}.mp4"
        elif w["kind"] == "static":
            (media, scene), start, lead = _static_media(w["index"], w["seed"], plan.work_seconds), 0.0, "none"
            rel = f"references/{w['work_id']}.mp4"
        elif w["kind"] == "slow":
            media, start, lead = _slow_media(w["seed"], plan.work_seconds), 0.0, "none"
            rel = f"references/{w['work_id']}.mp4"
        else:
            media = mg.Media(None, FPS, _music(w["seed"], plan.work_seconds), SR)
            start, lead = 0.0, "none"
            rel = f"references/{w['work_id']}.m4a"
        mg.write_media(media, folder_p / rel)
        ref = Reference(w["work_id"], w["title"], w["kind"], rel, round(media.duration, 3), round(start, 3),
                        round(start + plan.work_seconds, 3), lead, w["seed"], media.frames is not None,
                        media.audio is not None, scene)
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
        if made.write is not None:
            made.write(folder_p / rel)
        else:
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
