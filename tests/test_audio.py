import subprocess

import numpy as np
import pytest
import soundfile as sf

from musicsep.audio import audio_info, iter_audio_blocks, lossy_roundtrip, read_audio, to_stereo, write_audio
from musicsep.errors import UserError


def tone(seconds=1.0, sr=44100, channels=2, freq=440.0):
    t = np.arange(int(seconds * sr)) / sr
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([x * (1 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


@pytest.mark.parametrize("fmt,subtype,tol", [("wav", "PCM_16", 1e-4), ("wav", "PCM_24", 1e-6),
                                             ("wav", "FLOAT", 0), ("flac", "PCM_16", 1e-4), ("flac", "PCM_24", 1e-6)])
def test_write_read_round_trip(tmp_path, fmt, subtype, tol):
    x = tone()
    path = write_audio(tmp_path / f"a.{fmt}", x, 44100, subtype=subtype)
    y = read_audio(path)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - x).max() <= tol + 1e-7
    assert [p.name for p in tmp_path.iterdir()] == [f"a.{fmt}"]  # no temporary file left


@pytest.mark.parametrize("ext,codec", [("ogg", "libvorbis"), ("mp3", "libmp3lame"), ("m4a", "aac"), ("mp4", "aac")])
def test_compressed_formats_via_ffmpeg(tmp_path, ext, codec):
    src = write_audio(tmp_path / "src.wav", tone(2.0), 44100)
    out = tmp_path / f"song.{ext}"
    subprocess.run(["ffmpeg", "-v", "error", "-i", src, "-c:a", codec, "-b:a", "192k", out], check=True)
    y = read_audio(out)
    assert y.shape[1] == 2 and abs(len(y) - 2 * 44100) < 0.1 * 44100
    # A 440 Hz tone still dominates its spectrum after lossy coding.
    spectrum = np.abs(np.fft.rfft(y[:44100, 0]))
    assert abs(np.argmax(spectrum) - 440) <= 2


def test_video_file_audio_track(tmp_path):
    src = write_audio(tmp_path / "src.wav", tone(1.0), 44100)
    video = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-i", src,
                    "-shortest", "-c:v", "mpeg4", "-c:a", "aac", video], check=True)
    y = read_audio(video)
    assert y.shape[1] == 2 and abs(len(y) - 44100) < 0.1 * 44100


@pytest.mark.parametrize("rate", [8000, 22050, 48000, 96000])
def test_resampling_keeps_duration_and_pitch(tmp_path, rate):
    write_audio(tmp_path / "a.wav", tone(1.0, sr=rate, freq=1000.0), rate, subtype="FLOAT")
    y = read_audio(tmp_path / "a.wav")
    assert abs(len(y) - 44100) <= 2
    spectrum = np.abs(np.fft.rfft(y[:, 0]))
    assert abs(np.argmax(spectrum) - 1000) <= 1
    assert audio_info(tmp_path / "a.wav").sample_rate == rate


def test_channels_mono_and_surround():
    mono = tone(0.1, channels=1)
    assert np.array_equal(to_stereo(mono), np.repeat(mono, 2, axis=1))
    six = np.arange(60, dtype=np.float32).reshape(10, 6)
    out = to_stereo(six)
    assert out.shape == (10, 2)
    # 5.1 (L R C LFE Ls Rs), ITU-R BS.775: the centre and the surrounds at -3 dB, the LFE dropped.
    assert np.allclose(out[:, 0], six[:, 0] + 0.7071 * (six[:, 2] + six[:, 4]))
    assert np.allclose(out[:, 1], six[:, 1] + 0.7071 * (six[:, 2] + six[:, 5]))
    four = six[:, :4]  # a count without a standard layout: odd channels left, even right
    assert np.allclose(to_stereo(four), np.stack([four[:, 0::2].mean(1), four[:, 1::2].mean(1)], axis=1))


def test_blocks_join_to_whole_file(tmp_path):
    # at 44.1 kHz the blocks are the file's samples exactly
    write_audio(tmp_path / "a.wav", tone(2.5), 44100, subtype="FLOAT")
    blocks = list(iter_audio_blocks(tmp_path / "a.wav", block_seconds=0.3))
    assert len(blocks) > 5
    np.testing.assert_array_equal(np.concatenate(blocks), sf.read(tmp_path / "a.wav", dtype="float32")[0])
    # resampled block by block from 48 kHz: the same tone at 44.1 kHz, no seam between blocks
    write_audio(tmp_path / "b.wav", tone(2.5, sr=48000), 48000, subtype="FLOAT")
    joined = np.concatenate(list(iter_audio_blocks(tmp_path / "b.wav", block_seconds=0.3)))
    assert abs(len(joined) - int(2.5 * 44100)) <= 1
    inner = slice(2000, int(2.5 * 44100) - 2000)  # away from the file's ends (the resampler's edges)
    np.testing.assert_allclose(joined[inner], tone(2.5)[inner], atol=2e-3)


@pytest.mark.parametrize("content", [b"", b"hello, not audio at all", b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_bad_files_raise_user_error(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(UserError):
        read_audio(path)


def test_non_finite_samples_rejected(tmp_path):
    x = tone(0.1)
    x[10, 0] = np.nan
    sf.write(tmp_path / "nan.wav", x, 44100, subtype="FLOAT")
    with pytest.raises(UserError, match="NaN"):
        read_audio(tmp_path / "nan.wav")


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(UserError):
        write_audio(tmp_path / "a.flac", tone(0.1), 44100, subtype="FLOAT")  # flac cannot store float
    with pytest.raises(UserError):
        write_audio(tmp_path / "missing_folder" / "a.wav", tone(0.1), 44100)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("codec", ["aac", "mp3"])
def test_lossy_roundtrip_keeps_length_and_alignment(codec):
    rng = np.random.default_rng(0)
    t = np.arange(44100) / 44100
    audio = np.stack([np.sin(2 * np.pi * 440 * t) * np.exp(-3 * t), 0.1 * rng.standard_normal(t.size)], 1)
    audio = audio.astype(np.float32)
    coded = lossy_roundtrip(audio, codec, "128k")
    assert coded.shape == audio.shape
    lags = range(-200, 201)
    best = max(lags, key=lambda lag: float(np.dot(np.roll(coded[:, 0], lag), audio[:, 0])))
    assert best == 0  # no encoder delay left
    snr = 10 * np.log10(np.sum(audio ** 2) / np.sum((coded - audio) ** 2))
    assert 3.0 < snr < 40.0  # coded: close, not identical
    with pytest.raises(UserError):
        lossy_roundtrip(audio, "vorbis")
