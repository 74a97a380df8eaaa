"""The stage scripts, ``--tracks`` and mir_eval scoring, run in this process on a two-song database."""

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import make_stems
from musicsep import SOURCES
from musicsep.cli import main as cli_main
from musicsep.evaluate import mir_eval_sdr

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    root = tmp_path_factory.mktemp("db")
    for i, name in enumerate(("song a", "song b")):
        folder = root / "test" / name
        folder.mkdir(parents=True)
        stems = make_stems(seconds=1.0, seed=20 + i)
        sf.write(folder / "mixture.wav", sum(stems.values()), 44100, subtype="FLOAT")
        for s, v in stems.items():
            sf.write(folder / f"{s}.wav", v, 44100, subtype="FLOAT")
    return root


def run_script(script: str, *args, monkeypatch) -> int:
    monkeypatch.setattr(sys, "argv", [script, *map(str, args)])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(ROOT / script), run_name="__main__")
    return done.value.code


@pytest.mark.parametrize("script,labels", [
    ("stage1_frequency_thresholding.py", ["bandpass"]),
    ("stage2_spectrogram_masking.py", ["grouped", "supervised"]),
    ("stage3_classical_ml.py", ["cell", "frame"]),
    ("U-Net.py", ["unet", "unet-nowiener"]),
])
def test_stage_script_scores_its_method(script, labels, database, tmp_path, monkeypatch, capsys):
    out = tmp_path / "r.json"
    assert run_script(script, "--root", database, "--is-wav", "--tracks", "song b", "--json", out,
                      monkeypatch=monkeypatch) == 0
    data = json.loads(out.read_text())
    assert data["tracks"] == ["song b"] and list(data["results"]) == labels
    printed = capsys.readouterr().out
    assert all(label in printed for label in labels)
    if script == "U-Net.py":  # the U-Net's script adds mir_eval's table
        assert "mir_eval SDR" in printed and np.isfinite(data["metrics"]["unet"]["mir_eval_SDR"]["avg"])
    assert run_script(script, "train", "--help", monkeypatch=monkeypatch) == (2 if script.startswith("stage1") else 0)


@pytest.mark.parametrize("tracks,expected", [(["1"], ["song a"]), (["2"], ["song a", "song b"]),
                                             (["song b"], ["song b"]), (None, ["song a", "song b"])])
def test_tracks_option(tracks, expected, database, tmp_path, capsys):
    out = tmp_path / "r.json"
    args = ["evaluate", "--root", str(database), "--is-wav", "-m", "mixture", "--json", str(out)]
    assert cli_main(args + (["--tracks", *tracks] if tracks else [])) == 0
    assert json.loads(out.read_text())["tracks"] == expected


def test_tracks_option_unknown_name(database, capsys):
    assert cli_main(["evaluate", "--root", str(database), "--is-wav", "-m", "mixture", "--tracks", "song z"]) == 2
    assert "song z" in capsys.readouterr().err


def test_mir_eval_sdr_follows_the_noise_level():
    """An estimate with white noise 10 dB and 20 dB below the reference scores about that."""
    stems = make_stems(seconds=1.0, seed=2)
    rng = np.random.default_rng(0)
    for level_db in (10, 20):
        noisy = {}
        for s, ref in stems.items():
            noise = rng.standard_normal(ref.shape)
            noise *= np.sqrt(np.sum(ref.mean(1) ** 2) / np.sum(noise.mean(1) ** 2) / 10 ** (level_db / 10))
            noisy[s] = ref + noise
        sdr = mir_eval_sdr(stems, noisy)
        for s in SOURCES:
            assert sdr[s] == pytest.approx(level_db, abs=1.0), (s, level_db, sdr)
    silent = dict(stems, vocals=np.zeros_like(stems["vocals"]))
    sdr = mir_eval_sdr(silent, stems)
    assert np.isnan(sdr["vocals"]) and sdr["drums"] > 30
