"""Voices over real records (musicsep.data.records): held-out records, levels, bytes, training use."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from musicsep import SOURCES
from musicsep.data import records
from musicsep.errors import UserError

SR = 44100


@pytest.fixture
def fake_records(tmp_path, monkeypatch):
    """Sixteen 2 s 'records' in one package folder, songs of 1 s after a 0.5 s skip."""
    folder = tmp_path / "records"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(16):
        sf.write(folder / f"track{k:02d}.wav", 0.1 * rng.standard_normal((2 * SR, 2)), SR, subtype="PCM_16")
    monkeypatch.setattr(records, "PACKAGES", [("fake-music", str(folder), "CC0")])
    monkeypatch.setattr(records, "SECONDS", 1.0)
    monkeypatch.setattr(records, "SKIP_SECONDS", 0.5)
    return folder


def vocal_split(root, songs: int, seed: int = 0, level: float = 0.02):
    rng = np.random.default_rng(seed)
    split = root / "valid"
    for k in range(songs):
        song = split / f"song-{k}"
        song.mkdir(parents=True)
        for j, s in enumerate(SOURCES):
            sf.write(song / f"{s}.wav", level * (j + 1) * rng.standard_normal((SR, 2)), SR, subtype="FLOAT")
    return split


def test_valid_songs_use_held_out_records_once_at_the_songs_own_level(tmp_path, fake_records):
    held, train = records.installed_records(True), records.installed_records(False)
    assert len(held) >= 2 and len(held) + len(train) == 16 and not {r.name for r in held} & {r.name for r in train}
    split = vocal_split(tmp_path / "v", 2)
    manifest = records.build([split], tmp_path / "probe", seed=0, train=False)
    assert len({m["record"] for m in manifest}) == 2 and {m["record"] for m in manifest} <= {r.name for r in held}
    for m in manifest:
        source = split / m["song"].split("-", 1)[1]
        pair = records.read_records_song(tmp_path / "probe" / m["song"])
        accompaniment = sum(sf.read(source / f"{s}.wav")[0] for s in SOURCES if s != "vocals")
        np.testing.assert_allclose(pair[1], sf.read(source / "vocals.wav")[0], atol=1e-4)  # the voice as it was
        assert records.rms(pair[0]) == pytest.approx(records.rms(accompaniment), rel=1e-3)
        assert m["start_s"] >= 0.5


def test_training_songs_never_hear_a_held_out_record_and_go_round_again(tmp_path, fake_records):
    split = vocal_split(tmp_path / "v", 20)
    manifest = records.build([split], tmp_path / "train", seed=1, train=True)
    used = [m["record"] for m in manifest]
    assert len(used) == 20 and len(set(used)) < 20  # fewer training records than songs
    assert not set(used) & {r.name for r in records.installed_records(True)}


def test_same_seed_same_bytes_and_no_writing_into_a_source(tmp_path, fake_records):
    split = vocal_split(tmp_path / "v", 2)
    records.build([split], tmp_path / "a", seed=3, train=False)
    records.build([split], tmp_path / "b", seed=3, train=False)
    for f in sorted((tmp_path / "a").rglob("*.wav")):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()
    with pytest.raises(UserError):
        records.build([split], split / "inside", seed=3, train=False)


def test_without_the_packages_the_command_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(records, "PACKAGES", [("none-music", str(tmp_path / "nowhere"), "-")])
    split = vocal_split(tmp_path / "v", 1)
    assert records.main([str(split), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "install" in err and len(err.strip().splitlines()) == 1


def test_a_loud_song_is_scaled_down_whole_and_keeps_its_balance(tmp_path, fake_records):
    split = vocal_split(tmp_path / "v", 1, level=0.3)
    (m,) = records.build([split], tmp_path / "loud", seed=0, train=False)
    source = split / m["song"].split("-", 1)[1]
    accompaniment = sum(sf.read(source / f"{s}.wav")[0] for s in SOURCES if s != "vocals")
    pair = records.read_records_song(tmp_path / "loud" / m["song"])
    assert np.abs(pair.sum(0)).max() <= 0.99 + 1e-4
    ratio = records.rms(pair[0]) / records.rms(pair[1])
    assert ratio == pytest.approx(records.rms(accompaniment) / records.rms(sf.read(source / "vocals.wav")[0]), rel=1e-3)
