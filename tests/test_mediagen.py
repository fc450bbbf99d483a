"""mediagen: file round trips, synthesis determinism, transform shapes and durations."""

from __future__ import annotations

import av
import numpy as np
import pytest

import mediagen as mg
from mediagen import bad
from mediagen import transforms as T

SR = 22050


@pytest.fixture(scope="module")
def work() -> mg.Media:
    return mg.synth_work(seed=7, duration=4.0, size=(128, 72), fps=25.0, sample_rate=SR)


@pytest.fixture(scope="module")
def other() -> mg.Media:
    return mg.synth_work(seed=8, duration=6.0, size=(160, 90), fps=30.0, sample_rate=SR)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".m4a", ".mp3", ".wav"])
def test_round_trip(work, tmp_path, suffix):
    back = mg.read_media(mg.write_media(work, tmp_path / f"w{suffix}"), sample_rate=SR)
    if suffix in (".mp4", ".mkv"):
        assert back.size == work.size
        assert abs(back.n_frames - work.n_frames) <= 1
        assert back.fps == pytest.approx(work.fps)
    else:
        assert back.frames is None
    assert back.audio is not None and back.sample_rate == SR
    assert abs(back.duration - work.duration) < 0.1


def test_video_only_and_audio_only(work, tmp_path):
    video = mg.read_media(mg.write_media(T.drop_audio(work), tmp_path / "v.mp4"))
    assert video.audio is None and abs(video.n_frames - work.n_frames) <= 1
    sound = mg.read_media(mg.write_media(T.drop_video(work), tmp_path / "a.mp4"))
    assert sound.frames is None and abs(sound.duration - work.duration) < 0.1


def test_low_bitrate_and_odd_size(tmp_path):
    media = mg.Media(mg.synth_video(1, 1.0, size=(101, 57)), 25.0, None, SR)
    back = mg.read_media(mg.write_media(media, tmp_path / "o.mp4", video_bitrate=150_000))
    assert back.size == (100, 56) and back.n_frames == 25


def test_synthesis_is_deterministic_and_seed_dependent():
    a, b = mg.synth_video(1, 1.0, (64, 36)), mg.synth_video(2, 1.0, (64, 36))
    assert np.array_equal(a, mg.synth_video(1, 1.0, (64, 36)))
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 20
    m1, m2 = mg.synth_music(1, 2.0), mg.synth_music(2, 2.0)
    assert np.array_equal(m1, mg.synth_music(1, 2.0))
    assert m1.shape == (2 * SR,) and m1.dtype == np.float32
    assert np.abs(m1).max() == pytest.approx(0.8, abs=1e-3)
    assert abs(np.corrcoef(m1, m2)[0, 1]) < 0.2
    # a shorter duration is a prefix of a longer one (music: up to the gain)
    assert np.array_equal(a, mg.synth_video(1, 2.0, (64, 36))[:25])
    longer = mg.synth_music(1, 3.0)[: len(m1)]
    assert np.allclose(m1, longer * (m1 @ longer) / (longer @ longer), atol=1e-5)


def test_speech_without_espeak():
    speech = mg.synth_speech(3, 2.0, use_espeak=False)
    assert speech.shape == (2 * SR,) and np.isfinite(speech).all()
    assert 0.5 < np.abs(speech).max() <= 0.8 + 1e-6


def test_degenerate_media():
    bars = mg.test_pattern(1.0, (128, 72))
    assert bars.n_frames == 25 and (bars.frames == bars.frames[0]).all()
    card = mg.title_card("The End", 1.0, (128, 72))
    assert card.frames[0].std() > 1 and card.audio is None
    black = mg.black_video(1.0, (128, 72), audio=True)
    assert black.frames.max() == 0 and black.audio.max() == 0
    quiet = mg.silence(2.0)
    assert quiet.frames is None and quiet.duration == 2.0


def test_picture_transforms(work):
    assert T.scale(work, 0.5).size == (64, 36)
    assert T.crop(work, 0.1).size == (116, 64)
    assert T.letterbox(work, (128, 128)).size == (128, 128)
    assert T.letterbox(work).frames[:, :4].max() == 0  # bars top
    assert T.pillarbox(work).frames[:, :, :4].max() == 0  # bars left
    assert np.array_equal(T.hflip(T.hflip(work)).frames, work.frames)
    for edited in (T.rotate(work, 5), T.color_shift(work, 0.1, 1.2, 0.8, 20), T.greyscale(work),
                   T.add_noise(work, 5), T.caption(work, "a b c d e f g"), T.logo(work)):
        assert edited.frames.shape == work.frames.shape
        assert not np.array_equal(edited.frames, work.frames)
    pip = T.picture_in_picture(work, background=T.drop_audio(work), scale=0.5)
    assert pip.size == work.size and pip.duration == work.duration


def test_time_transforms(work, other):
    fast = T.speed(work, 1.1)
    assert fast.video_duration == pytest.approx(work.duration / 1.1, abs=0.05)
    assert fast.audio_duration == pytest.approx(work.duration / 1.1, abs=0.01)
    assert T.change_fps(work, 15).n_frames == 60
    part = T.excerpt(work, 1.0, 2.5)
    assert part.n_frames == 38 or part.n_frames == 37
    assert part.audio_duration == pytest.approx(1.5)
    placed = T.embed(part, other, at=2.0)
    assert placed.size == other.size and placed.fps == other.fps
    assert placed.duration == pytest.approx(other.duration, abs=0.05)
    assert T.embed(part, other, at=5.5).duration == pytest.approx(7.0, abs=0.05)
    joined = T.concat(work, other, mg.silence(1.0))
    assert joined.duration == pytest.approx(11.0, abs=0.1)
    assert joined.audio_duration == pytest.approx(joined.video_duration, abs=0.05)


def test_audio_transforms(work):
    voice = mg.synth_speech(1, 4.0, use_espeak=False)
    mixed = T.mix_audio(work, voice, snr_db=0.0)
    assert mixed.audio.shape == work.audio.shape and np.abs(mixed.audio).max() <= 1.0
    noise = mixed.audio - work.audio * (mixed.audio @ work.audio) / (work.audio @ work.audio)
    assert np.mean(noise**2) > 0.1 * np.mean(work.audio**2)
    assert T.pitch_shift(work, 2).audio.shape == work.audio.shape
    assert T.tempo(work, 1.25).audio_duration == pytest.approx(3.2, abs=0.01)
    swapped = T.replace_audio(work, voice[: SR])
    assert swapped.audio_duration == pytest.approx(work.video_duration)
    with pytest.raises(ValueError):
        T.scale(T.drop_video(work), 0.5)


def test_bad_files(work, tmp_path):
    empty = mg.read_media(bad.write_zero_duration(tmp_path / "z.mp4"))
    assert empty.n_frames == 0 and empty.audio is not None and len(empty.audio) == 0
    for path in (bad.write_empty(tmp_path / "e.mp4"), bad.write_random_bytes(tmp_path / "r.mp4"),
                 bad.write_text_as_media(tmp_path / "t.mkv")):
        with pytest.raises(av.error.FFmpegError):
            mg.read_media(path)
    full = mg.write_media(work, tmp_path / "f.mkv")
    cut = mg.read_media(bad.write_truncated(full, tmp_path / "c.mkv", 0.5))
    assert 0 < cut.n_frames < work.n_frames
