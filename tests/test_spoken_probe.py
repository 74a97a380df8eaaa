"""The spoken-vocal probe: a split's songs with the vocal replaced by unsung speech."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from musicsep.data.synth import spoken

SR = 44100
STEMS = ("drums", "bass", "other", "vocals")


def _source_song(folder, seed: int, seconds: float = 4.0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    pcm = {name: (rng.standard_normal((int(seconds * SR), 2)) * 2000).astype(np.int64) for name in STEMS}
    pcm["vocals"][: SR] = 0  # a silent start, as many songs have
    pcm["mixture"] = sum(pcm[name] for name in STEMS)
    for name, x in pcm.items():
        sf.write(str(folder / f"{name}.wav"), x.astype(np.int16), SR, subtype="PCM_16")


def _read(folder):
    return {name: sf.read(str(folder / f"{name}.wav"), dtype="int16")[0].astype(np.int64)
            for name in ("mixture", *STEMS)}


def test_probe_keeps_the_band_replaces_the_voice_and_sums_exactly(tmp_path):
    src = tmp_path / "valid"
    _source_song(src / "song-a", 1)
    before = (src / "song-a" / "vocals.wav").read_bytes()
    out = spoken.make_split(src, tmp_path / "probe", seed=0)
    assert [p.name for p in out] == ["song-a"]
    got, orig = _read(out[0]), _read(src / "song-a")
    assert np.array_equal(got["mixture"], sum(got[name] for name in STEMS))
    scale = json.loads((out[0] / "meta.json").read_text())["scale"]  # all stems alike, so nothing clips
    for name in ("drums", "bass", "other"):
        assert np.allclose(got[name], orig[name] * scale, atol=1.0)
    voice = got["vocals"] / 32768.0
    assert np.abs(voice).max() > 0.01  # somebody speaks
    assert abs(np.corrcoef(got["vocals"][:, 0], orig["vocals"][:, 0])[0, 1]) < 0.1  # not the old vocal
    assert (src / "song-a" / "vocals.wav").read_bytes() == before


def test_same_seed_same_bytes(tmp_path):
    _source_song(tmp_path / "valid" / "s", 2, seconds=3.0)
    a = spoken.make_split(tmp_path / "valid", tmp_path / "a", seed=3)[0]
    b = spoken.make_split(tmp_path / "valid", tmp_path / "b", seed=3)[0]
    for name in ("mixture", *STEMS):
        assert (a / f"{name}.wav").read_bytes() == (b / f"{name}.wav").read_bytes()


def test_command_refuses_to_overwrite_its_source(tmp_path, capsys):
    _source_song(tmp_path / "valid" / "s", 4, seconds=1.0)
    assert spoken.main([str(tmp_path / "valid"), str(tmp_path / "valid")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert spoken.main([str(tmp_path / "missing"), str(tmp_path / "out")]) == 2


def test_probe_speakers_are_held_out_and_training_copies_never_use_them(tmp_path):
    from musicsep.data.synth.speech_voice import HOLDOUT_SPEAKERS

    for i in range(3):
        _source_song(tmp_path / "valid" / f"s{i}", 10 + i, seconds=1.0)
    probe = spoken.make_split(tmp_path / "valid", tmp_path / "probe", seed=0)
    train = spoken.make_split(tmp_path / "valid", tmp_path / "train", seed=0, train=True, songs=2)
    assert len(train) == 2
    assert all(json.loads((p / "meta.json").read_text())["speaker"] in HOLDOUT_SPEAKERS for p in probe)
    assert all(json.loads((p / "meta.json").read_text())["speaker"] not in HOLDOUT_SPEAKERS for p in train)


def test_festival_probe_speaks_with_festival_voices_only(tmp_path):
    from musicsep.data.synth.speech_voice import FEMALE_SPEAKERS, MALE_SPEAKERS

    for i in range(2):
        _source_song(tmp_path / "valid" / f"s{i}", 20 + i, seconds=3.0)
    probe = spoken.make_split(tmp_path / "valid", tmp_path / "probe", seed=0, festival=True)
    for song in probe:
        speaker = json.loads((song / "meta.json").read_text())["speaker"]
        assert speaker in spoken.FESTIVAL_SPEAKERS and speaker not in FEMALE_SPEAKERS + MALE_SPEAKERS
        got = _read(song)
        assert np.array_equal(got["mixture"], sum(got[name] for name in STEMS))
        assert np.abs(got["vocals"]).max() / 32768.0 > 0.01
    # a Festival voice really speaks: most of its energy in the speech band, none of it clipped
    y, sr = spoken.festival_speak("the river runs under the night light", 1.0, "kal_diphone")
    assert sr == 16000 and 1.0 < y.size / sr < 5.0 and np.abs(y).max() < 1.0
    spec = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(y.size, 1 / sr)
    assert spec[(freqs > 80) & (freqs < 4000)].sum() > 0.8 * spec.sum()


def test_festival_training_copies_never_use_the_probe_voices(tmp_path):
    assert not set(spoken.FESTIVAL_TRAIN_SPEAKERS) & set(spoken.FESTIVAL_SPEAKERS)
    for i in range(3):
        _source_song(tmp_path / "valid" / f"s{i}", 30 + i, seconds=1.5)
    train = spoken.make_split(tmp_path / "valid", tmp_path / "train", seed=0, train=True, festival=True)
    for song in train:
        assert json.loads((song / "meta.json").read_text())["speaker"] in spoken.FESTIVAL_TRAIN_SPEAKERS
        got = _read(song)
        assert np.array_equal(got["mixture"], sum(got[name] for name in STEMS))
    # every training voice is installed and speaks
    for voice in spoken.FESTIVAL_TRAIN_SPEAKERS:
        y, sr = spoken.festival_speak("the river runs", 1.0, voice)
        assert sr >= 16000 and 0.3 < y.size / sr < 4.0 and 0.01 < np.abs(y).max() < 1.0, voice


def test_a_missing_festival_voice_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no_such_voice"):
        spoken.festival_speak("hello", 1.0, "no_such_voice")


def test_the_common_scale_keeps_every_stem_inside_16_bits():
    # the mix is quiet where the voice and the band cancel, but the voice alone peaks above full scale
    stems = {"vocals": np.array([[1.5, 1.5], [0.1, 0.1]]), "other": np.array([[-1.2, -1.2], [0.0, 0.0]])}
    scale = spoken.common_scale(stems)
    assert all(np.round(x * scale * 32768.0).max() <= 32767 for x in stems.values())
    assert spoken.common_scale({"vocals": np.full((4, 2), 0.5)}) == 1.0  # quiet songs keep their level
    assert spoken.common_scale({"vocals": np.full((4, 2), 0.7), "other": np.full((4, 2), 0.7)}) == 0.98 / 1.4
