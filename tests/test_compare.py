"""The comparison: oracle on top, the baseline as computed by hand, JSON, CSV and the chart."""

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import make_stems, run_cli
from musicsep import SOURCES
from musicsep.compare import COMPARISON, available_specs
from musicsep.data.musdb import Track
from musicsep.evaluate import MethodSpec, evaluate, score_track
from musicsep.errors import UserError


def test_oracle_irm_beats_every_other_method():
    stems = make_stems(seconds=4.0, seed=3)
    track = Track("synthetic", lambda: (sum(stems.values()), stems))
    labels = ["mixture/4", "bandpass", "oracle-irm"]
    report = evaluate([s for s in COMPARISON if s.label in labels], [track])
    oracle = report.summary("oracle-irm")["avg"]
    assert all(oracle > report.summary(m)["avg"] + 3 for m in labels[:-1])


def test_baseline_row_matches_hand_computation():
    stems = make_stems(seconds=3.0, seed=4)
    mixture = sum(stems.values())
    track = Track("synthetic", lambda: (mixture, stems))
    report = evaluate([MethodSpec("mixture/4", "mixture")], [track])
    by_hand = score_track(stems, {s: mixture / 4 for s in SOURCES})
    for s in SOURCES:
        assert report.summary("mixture/4")[s] == pytest.approx(by_hand[s]["SDR"], abs=1e-6)
    assert report.summary("mixture/4")["avg"] == pytest.approx(np.mean([by_hand[s]["SDR"] for s in SOURCES]))


def test_unknown_compare_label():
    with pytest.raises(UserError, match="unknown method"):
        available_specs(["nope"])


def write_musdb_hq(root, names=("song a",), seconds=2.0):
    for i, name in enumerate(names):
        folder = root / "test" / name
        folder.mkdir(parents=True)
        stems = make_stems(seconds=seconds, seed=10 + i)
        sf.write(folder / "mixture.wav", sum(stems.values()), 44100, subtype="FLOAT")
        for s, v in stems.items():
            sf.write(folder / f"{s}.wav", v, 44100, subtype="FLOAT")


def test_compare_command_json_csv_plot(tmp_path):
    write_musdb_hq(tmp_path / "db")
    labels = ["mixture/4", "bandpass", "oracle-ibm"]
    result = run_cli("compare", "--root", tmp_path / "db", "--is-wav", "--methods", *labels, "--jobs", "2",
                     "--timing-seconds", "2", "--json", tmp_path / "c.json", "--csv", tmp_path / "c.csv",
                     "--plot", tmp_path / "c.png")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["tracks"] == ["song a"]
    for label in labels:
        assert set(data["results"][label]) == {*SOURCES, "avg"}
        assert data["timing"][label]["realtime_factor"] > 0 and data["timing"][label]["peak_rss_mb"] > 0
        assert label in result.stdout
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((tmp_path / "c.csv").read_text().splitlines()) == 1 + len(labels) * len(SOURCES)
    # Stable: the same figures a second time (timing aside).
    again = run_cli("compare", "--root", tmp_path / "db", "--is-wav", "--methods", *labels,
                    "--timing-seconds", "0", "--json", tmp_path / "d.json")
    assert json.loads((tmp_path / "d.json").read_text())["results"] == data["results"]


def test_compare_model_reaches_the_unet_entries(tmp_path):
    from musicsep.separators.unet import UNet, save_checkpoint

    path = save_checkpoint(tmp_path / "other.pth", UNet(n_fft=1024, hop_length=256, max_bin=256, channels=[8, 16],
                                                        patch=[2, 2]))
    specs = {s.label: dict(s.options) for s in available_specs(["unet", "unet-nowiener", "forest"], str(path))}
    assert specs["unet"]["model_path"] == specs["unet-nowiener"]["model_path"] == str(path)
    assert specs["unet-nowiener"]["wiener_iterations"] == 0 and "model_path" not in specs["forest"]
    with pytest.raises(UserError, match="not found"):
        available_specs(None, str(tmp_path / "missing.pth"))
