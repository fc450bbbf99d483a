"""Fingerprint layer: bits identical to imagehash, border crop, quality, audio codes."""

import warnings

import imagehash
import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from fingerprint import AudioParams, VideoParams, file_digest, hamming_matrix
from fingerprint.audio import (chroma_words, pack_codes, query_audio_fingerprint, query_variants,
                               reference_audio_fingerprint)
from fingerprint.video import (
    border_box, collapse_runs, frame_quality, inset_box, phash_bits, phash_bits_with_mirror,
    query_video_fingerprint, reference_video_fingerprint,
)


def _textures(n, h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.random((n, h, w)) * 255
    return np.clip(gaussian_filter(noise, (0, 2.5, 2.5)) * 3 - 255, 0, 255).astype(np.uint8)


def test_batched_phash_gives_imagehash_bits():
    frames = _textures(24)
    ours = phash_bits(frames, hash_size=16)
    theirs = np.stack([
        np.packbits(imagehash.phash(Image.fromarray(f), hash_size=16).hash.reshape(-1)) for f in frames
    ])
    assert ours.shape == (24, 32)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("shape", [(128, 128), (96, 128), (128, 90), (118, 118), (102, 115), (64, 64), (70, 200)])
def test_batched_resize_gives_imagehash_bits_for_every_crop_shape(shape, monkeypatch):
    # Pillow runs its vertical pass first for tall narrow images (128 x 90 here), the
    # horizontal pass first otherwise; a small chunk size exercises the chunk boundaries
    import fingerprint.video as video

    monkeypatch.setattr(video, "_RESIZE_CHUNK", 5)
    frames = _textures(12, *shape, seed=sum(shape))
    theirs = np.stack([
        np.packbits(imagehash.phash(Image.fromarray(f), hash_size=16).hash.reshape(-1)) for f in frames
    ])
    np.testing.assert_array_equal(phash_bits(frames, hash_size=16), theirs)


def test_query_rotation_stays_close_to_rotating_the_full_frame():
    # uploads' rotated hashes come from the resized image (cheap); they must stay
    # within a few bits of hashing the rotated full-size frame (the exact path)
    from fingerprint.video import _dct_low_approx, _bits_from_low, _resized_stack, rotated_pixels, rotated_stack

    frames = _textures(16, 128, 128, seed=21)
    for degrees in (-5.0, 5.0):
        exact = phash_bits(rotated_stack(frames, degrees))
        cheap = _bits_from_low(_dct_low_approx(rotated_pixels(_resized_stack(frames, 64), degrees), 16))
        d = np.bitwise_count(exact ^ cheap).sum(axis=1)
        assert np.median(d) <= 8 and d.max() <= 24, d


def test_mirrored_hash_from_dct_sign_flip_equals_hash_of_mirrored_frame():
    frames = _textures(10, seed=3)
    _, mirrored = phash_bits_with_mirror(frames)
    direct = phash_bits(np.ascontiguousarray(frames[:, :, ::-1]))
    assert hamming_matrix(mirrored, direct).diagonal().max() <= 2


def test_border_box_finds_letterbox_and_pillarbox():
    frames = np.zeros((5, 120, 160), np.uint8)
    frames[:, 20:100, 10:150] = _textures(5, 80, 140)
    frames[:, 20:100, 10:150] |= 40  # picture never black
    assert border_box(frames, black_level=24, max_share=0.3) == (20, 100, 10, 150)


def test_flat_frames_have_low_quality_and_yield_no_codes():
    black = np.zeros((16, 64, 64), np.uint8)
    grey = np.full((16, 64, 64), 128, np.uint8)
    assert frame_quality(black).max() == 0 and frame_quality(grey).max() == 0
    t = np.arange(16) / 8.0
    assert len(reference_video_fingerprint(black, t, 0.125, VideoParams())) == 0
    assert len(query_video_fingerprint(grey, t, 0.25, VideoParams())) == 0


def test_static_runs_collapse_to_one_code_per_run():
    frames = np.repeat(_textures(3, seed=5), 8, axis=0)  # three 1-second shots at 8 fps
    t = np.arange(len(frames)) / 8.0
    bits = phash_bits(frames)
    keep, run_end = collapse_runs(bits, t, t + 0.125, max_distance=12, max_run_seconds=10.0)
    np.testing.assert_array_equal(keep, [0, 8, 16])
    np.testing.assert_allclose(run_end, [1.0, 2.0, 3.0])


def _tone_music(seconds, sr=11025, seed=0, semitone_shift=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(seconds * 4)):
        note = rng.integers(48, 72) + semitone_shift
        f = 440 * 2 ** ((note - 69) / 12)
        t = np.arange(sr // 4) / sr
        out.append(np.sin(2 * np.pi * f * t) * np.exp(-3 * t) + 0.5 * np.sin(4 * np.pi * f * t) * np.exp(-5 * t))
    return (0.5 * np.concatenate(out)).astype(np.float32)


@pytest.mark.parametrize("samples", [2048, 4095, 4097, 11025 * 3 + 17, 1378 * 300 + 1377])
def test_spectrogram_and_chroma_filters_equal_librosa(samples):  # the landmarks' 512/256 STFT: see test_landmarks
    # prescreen no longer imports librosa (its import cost more than screening a
    # short upload); the numpy versions must give librosa's values exactly, or
    # stored audio codes would drift
    librosa = pytest.importorskip("librosa")
    from fingerprint.audio import _chroma_filters, _matmul_one_thread
    from fingerprint.spectrum import power_spectrogram

    params = AudioParams()
    signal = _tone_music(samples / params.sample_rate + 1, sr=params.sample_rate)[:samples]
    signal = signal + np.random.default_rng(samples).normal(0, 0.01, samples).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns that n_fft exceeds the shortest signals
        theirs = np.abs(librosa.stft(signal, n_fft=params.n_fft, hop_length=params.hop_length)) ** 2
    ours = power_spectrogram(signal, params.n_fft, params.hop_length, block=7)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)
    bank = librosa.filters.chroma(sr=params.sample_rate, n_fft=params.n_fft, tuning=0.0)
    freqs = librosa.fft_frequencies(sr=params.sample_rate, n_fft=params.n_fft)
    bank[:, (freqs < params.fmin) | (freqs > params.fmax)] = 0.0
    np.testing.assert_array_equal(_chroma_filters(params.sample_rate, params.n_fft, params.fmin, params.fmax), bank)
    # the chroma product on one BLAS thread whatever the process's own BLAS threads, so a reference and
    # its copy screened under different loads get the same sums; a threaded product may differ in the
    # last bits (seen with numpy 2.4.6, OpenBLAS 0.3.31), never by more
    from threadpoolctl import threadpool_limits

    one = _matmul_one_thread(bank, ours)
    with threadpool_limits(limits=2, user_api="blas"):
        np.testing.assert_array_equal(_matmul_one_thread(bank, ours), one)
    np.testing.assert_allclose(one, bank @ ours, rtol=1e-5)


def test_silence_yields_no_audio_codes():
    params = AudioParams()
    assert len(reference_audio_fingerprint(np.zeros(11025 * 10, np.float32), params)) == 0
    assert len(query_audio_fingerprint(np.zeros(11025 * 10, np.float32), params)) == 0


def test_audio_codes_are_fixed_width_and_about_eight_per_second():
    params = AudioParams()
    fp = reference_audio_fingerprint(_tone_music(20), params)
    assert fp.codes.shape[1] == 32  # 8 words x 32 bits
    rate = len(fp) / (fp.starts[-1] - fp.starts[0])
    assert 7.5 < rate < 8.5


def test_pitch_variant_recovers_a_semitone_shift():
    params = AudioParams()
    ref = reference_audio_fingerprint(_tone_music(20, seed=4), params)
    shifted = query_audio_fingerprint(_tone_music(20, seed=4, semitone_shift=1), params)
    d = hamming_matrix(shifted.codes, ref.codes).min(axis=1)
    by_variant = {int(v): np.median(d[shifted.variants == v]) for v in np.unique(shifted.variants)}
    table = query_variants(params)
    up_one = table.index((1.0, 1.0))
    assert by_variant[up_one] < 20 < by_variant[0]


def test_plain_query_variant_is_the_reference_reading():
    # the plain reading must give the stored codes bit for bit: a copy that is not
    # altered is then found at distance 0 (re-encoding aside)
    params = AudioParams()
    signal = _tone_music(15, seed=6)
    ref = reference_audio_fingerprint(signal, params)
    plain = query_audio_fingerprint(signal, params)
    plain = plain.subset(plain.variants == 0)
    np.testing.assert_array_equal(plain.codes, ref.codes)
    np.testing.assert_allclose(plain.starts, ref.starts)


def test_words_pack_big_endian_in_time_order():
    words = np.arange(1, 40, dtype=np.uint32)
    codes = pack_codes(words, AudioParams(words_per_code=2, word_stride=3))
    assert codes.shape == (36, 8)
    assert codes[0].view(">u4").tolist() == [1, 4]
    assert chroma_words(np.ones((12, 15))).size == 0


def test_file_digest(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"abc")
    d = file_digest(p)
    assert d.sha256.startswith("ba7816bf") and d.md5 == "900150983cd24fb0d6963f7d28e17f72" and d.size == 3


def test_inset_box_finds_a_picture_in_picture_and_nothing_in_plain_video():
    n = 24
    background = _textures(n, 128, 128, seed=11)
    inset = _textures(n, 64, 64, seed=12)
    frames = background.copy()
    frames[:, 8:72, 56:120] = np.clip(inset.astype(int) + 60, 0, 255)  # brighter inset, moving independently
    assert inset_box(frames, VideoParams()) == (8, 72, 56, 120)
    assert inset_box(background, VideoParams()) is None


def test_skipping_non_reference_frames_samples_the_same_instants_and_hashes(tmp_path):
    """Uploads skip decoding B-frames (speed); the sampled frames must stay where they were."""
    import av

    import mediagen as mg
    from fingerprint import decode_media
    path = mg.write_media(mg.synth_work(seed=11, duration=12.0), tmp_path / "clip.mp4")
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.has_b_frames  # the case being tested
    every = decode_media(path, video_fps=4.0, skip_nonref_ratio=0)
    skipped = decode_media(path, video_fps=4.0, skip_nonref_ratio=4.0)
    assert len(skipped.frames) == len(every.frames) >= 46
    assert np.abs(skipped.frame_times - every.frame_times).max() <= 0.1  # within a B-frame run at 25 fps
    np.testing.assert_array_equal(skipped.audio, every.audio)
    distances = np.diag(hamming_matrix(phash_bits(skipped.frames), phash_bits(every.frames)))
    assert np.median(distances) <= 16  # of 256 bits: a neighbouring frame, not another picture
