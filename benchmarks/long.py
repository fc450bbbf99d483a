"""Memory and time of one long upload: a 1080p film registered, then a copy of it screened.

The film is generated with the ffmpeg command-line tool (not needed by the
product): :func:`mediagen.synth_video` scenes scaled to 1920x1080, 25 fps, H.264 (x264 ultrafast), with
a soundtrack of :func:`mediagen.synth_music` (a new seed every minute, so the
music never repeats), AAC; beyond 10 minutes the picture loops (see
``make_long_film``). It is cached under ``<workdir>/long/``. Each step
runs in a fresh child process (``spawn``) with a fresh data folder, and reports
its peak resident memory (VmHWM), CPU and wall seconds:

- *register*: ``Prescreen.register`` of the film (reference fingerprints at
  8 fps plus the query-role codes of the ownership check, from one decode);
- *screen copy*: ``Prescreen.screen_one`` of the same film remuxed to Matroska
  (other bytes, so it is decoded and fingerprinted, and it matches the whole
  registered film: the heaviest case for search and alignment too).

``python -m benchmarks`` runs a 10-minute film; ``--long-minutes 120`` the
2-hour one (generation ~15-25 min, then ~20-30 min of decoding on one core).
``python -m benchmarks.long --minutes 120 [--height 144] [--out FILE]`` runs it alone;
``--height 144`` makes the same film at 256x144 (the picture before it is scaled
up): what the search and alignment hold does not depend on the resolution, and
it decodes in a fraction of the time (for measuring those steps; the
documented figures are 1080p).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import wave
from pathlib import Path

import numpy as np

from .speed import _in_child, _rss_mib

RATE = 16000  # the soundtrack's rate, Hz (the music's hi-hat filter needs more than 12 kHz)


PICTURE_MINUTES = 10.0  # longer films loop a picture of this length (encoding 1080p is the slow part)


def _soundtrack(path: Path, seconds: float) -> None:
    """A WAV of music that never repeats: a new ``synth_music`` seed every minute."""
    import mediagen as mg

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        left, minute = seconds, 0
        while left > 0:
            piece = mg.synth_music(90_000 + minute, min(60.0, left), sample_rate=RATE)
            out.writeframes((np.clip(piece, -1, 1) * 32767).astype("<i2").tobytes())
            left -= 60.0
            minute += 1


SIZES = {1080: (1920, 1080), 144: (256, 144)}  # picture heights made: (width, height)


def make_long_film(workdir: Path, minutes: float, say=print, height: int = 1080) -> Path:
    """The cached ``minutes``-long 1080p film (generated on first use); needs ffmpeg.

    The picture is :func:`mediagen.synth_video` (a new scene seed every minute,
    as the benchmark films are made) scaled to 1920x1080 by ffmpeg, so codes
    change as a film's do (a test pattern's near-identical frames would match
    every frame with every frame). Up to ``PICTURE_MINUTES`` it is encoded
    whole; a longer film loops that picture (stream copy) under a soundtrack of
    its own length, so the music never repeats while the picture repeats every
    ``PICTURE_MINUTES``.
    """
    import mediagen as mg

    folder = Path(workdir) / "long"
    out_w, out_h = SIZES[height]
    path = folder / f"film-{minutes:g}min-{height}p.mp4"
    if path.exists():
        return path
    if not shutil.which("ffmpeg"):
        raise RuntimeError("ffmpeg (the command-line tool) is needed to generate the long film")
    folder.mkdir(parents=True, exist_ok=True)
    seconds = minutes * 60.0
    base = make_long_film(workdir, PICTURE_MINUTES, say, height) if minutes > PICTURE_MINUTES else None
    say(f"long upload: generating a {minutes:g}-minute {height}p film with ffmpeg (cached in {folder}) ...")
    t0 = time.perf_counter()
    sound = folder / f"soundtrack-{minutes:g}min.wav"
    if not sound.exists():
        _soundtrack(sound.with_suffix(".part"), seconds)
        sound.with_suffix(".part").rename(sound)
    part = folder / (path.name + ".part.mp4")
    audio = ["-c:a", "aac", "-b:a", "96k", "-t", f"{seconds:g}", str(part)]
    if base is None:
        width, height, fps = 256, 144, 25
        cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", str(fps), "-i", "-", "-i", str(sound), "-vf", f"scale={out_w}:{out_h}:flags=bicubic",
               "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-g", "250", "-pix_fmt", "yuv420p", *audio]
        with subprocess.Popen(cmd, stdin=subprocess.PIPE) as proc:
            left, minute = seconds, 0
            while left > 0:
                piece = mg.synth_video(70_000 + minute, min(60.0, left), size=(width, height), fps=float(fps))
                proc.stdin.write(np.ascontiguousarray(piece).tobytes())
                left -= 60.0
                minute += 1
            proc.stdin.close()
        if proc.returncode:
            raise RuntimeError(f"ffmpeg failed generating {path.name} (exit {proc.returncode})")
    else:
        loops = int(np.ceil(minutes / PICTURE_MINUTES)) - 1
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(loops), "-i", str(base), "-i", str(sound),
                        "-map", "0:v", "-map", "1:a", "-c:v", "copy", *audio], check=True)
    part.rename(path)
    say(f"long upload: film generated in {time.perf_counter() - t0:.0f} s ({path.stat().st_size / 1e6:.0f} MB)")
    return path


def _remux(path: Path) -> Path:
    copy = path.with_suffix(".copy.mkv")
    if not copy.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-map", "0", "-c", "copy", str(copy)],
                       check=True)
    return copy


def _child_step(step: str, home: str, path: str) -> dict:
    from service import Prescreen

    baseline = _rss_mib()
    c0, w0 = time.process_time(), time.perf_counter()
    with Prescreen(home, create=True) as engine:
        if step == "register":
            result = engine.register([path], work_id="long-film", title="Long film", owner="benchmark")
            detail = {"files": result.files}
        else:
            r = engine.screen_one(path)
            detail = {"status": r.status, "error": r.error, "decision": r.decision.outcome if r.decision else None,
                      "matched_seconds": [round(m.matched_seconds, 1) for m in r.matches],
                      "timings": {k: round(v, 2) for k, v in r.timings.items()}}
    return {"cpu_seconds": round(time.process_time() - c0, 1), "wall_seconds": round(time.perf_counter() - w0, 1),
            "baseline_rss_mib": round(baseline, 1), "peak_rss_mib": round(_rss_mib(), 1), **detail}


def long_upload(workdir: Path, minutes: float, say=print, height: int = 1080) -> dict:
    """Register the long film and screen a copy of it, each in a fresh process: memory and time."""
    film = make_long_film(workdir, minutes, say, height)
    copy = _remux(film)
    home = Path(workdir) / f"long-home-{minutes:g}min-{height}p"
    shutil.rmtree(home, ignore_errors=True)
    out = {"minutes": minutes, "file": film.name, "file_mb": round(film.stat().st_size / 1e6, 1),
           "size": "x".join(map(str, SIZES[height])), "fps": 25}
    for step, path in (("register", film), ("screen_copy", copy)):
        say(f"long upload: {step.replace('_', ' ')} of the {minutes:g}-minute film ...")
        out[step] = _in_child(_child_step, step, str(home), str(path))
        r = out[step]
        say(f"long upload: {step}: peak {r['peak_rss_mib']:.0f} MiB, {r['cpu_seconds']:.0f} CPU s, "
            f"{r['wall_seconds']:.0f} s")
    shutil.rmtree(home, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> None:
    import argparse
    import json

    p = argparse.ArgumentParser(description="memory and time of registering and screening one long film")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--height", type=int, choices=sorted(SIZES), default=1080)
    p.add_argument("--workdir", type=Path, default=Path(__file__).parent / "work")
    p.add_argument("--out", type=Path, help="write the result JSON here")
    args = p.parse_args(argv)
    result = long_upload(args.workdir, args.minutes, height=args.height)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
