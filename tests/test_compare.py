"""The comparison: oracle on top, the baseline as computed by hand, JSON, CSV and the chart."""

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import make_stems, run_cli, write_musdb_hq
from musicsep import SOURCES
from musicsep.compare import COMPARISON, available_specs
from musicsep.data.musdb import Track
from musicsep.evaluate import MethodSpec, build_separator, evaluate, global_sdr, run_separator
from musicsep.separators.base import METHODS
from musicsep.errors import UserError


def test_oracle_irm_beats_every_method():
    """The ideal ratio mask is an upper bound for every registered method and the baseline."""
    stems = make_stems(seconds=4.0, seed=3)
    mixture = sum(stems.values())
    def avg_global_sdr(spec):
        estimates = run_separator(build_separator(spec), mixture, stems, 44100)
        return np.mean([global_sdr(stems[s], estimates[s]) for s in SOURCES])
    by_label = {s.label: s for s in COMPARISON}
    oracle = avg_global_sdr(by_label["oracle-irm"])
    others = [by_label["mixture/4"]] + [MethodSpec(m, m) for m in METHODS]
    assert len(others) == 1 + 4
    for spec in others:
        assert oracle > avg_global_sdr(spec) + 3, spec.label


def museval_median_sdr(references, estimates):
    """Per stem, the median over 1 s windows of museval's SDR, straight from museval."""
    import museval

    refs = np.stack([references[s] for s in SOURCES]).astype(np.float64)
    ests = np.stack([estimates[s] for s in SOURCES]).astype(np.float64)
    sdr = museval.evaluate(refs, ests, win=44100, hop=44100)[0]
    return {s: float(np.nanmedian(np.where(np.isfinite(sdr[i]), sdr[i], np.nan))) for i, s in enumerate(SOURCES)}


def test_baseline_row_matches_hand_computation():
    """Three tracks: the row is the median over tracks (the middle one) of museval's medians."""
    songs = [make_stems(seconds=1.5, seed=seed) for seed in (4, 5, 6)]
    tracks = [Track(f"song {i}", lambda stems=stems: (sum(stems.values()), stems)) for i, stems in enumerate(songs)]
    report = evaluate([MethodSpec("mixture/4", "mixture")], tracks)
    by_hand = [museval_median_sdr(stems, {s: sum(stems.values()) / 4 for s in SOURCES}) for stems in songs]
    row = report.summary("mixture/4")
    for s in SOURCES:
        middle = sorted(track[s] for track in by_hand)[1]
        assert row[s] == pytest.approx(middle, abs=1e-6)
    assert row["avg"] == pytest.approx(np.mean([row[s] for s in SOURCES]))
    assert len({round(track["drums"], 3) for track in by_hand}) == 3  # the tracks really differ


def test_unknown_compare_label():
    with pytest.raises(UserError, match="unknown method"):
        available_specs(["nope"])


def assert_timing_rows_match(table: str, data: dict, labels) -> None:
    """The printed "x realtime" and "peak MB" rows show the JSON's figures, method by method."""
    rows = {line[:12].strip(): line[12:].split() for line in table.splitlines()}
    for row, key in (("x realtime", "realtime_factor"), ("peak MB", "peak_rss_mb")):
        printed = [float(v) for v in rows[row]]
        assert printed == pytest.approx([data["timing"][m][key] for m in labels], abs=0.51), row


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
        # each method alone in a fresh process with numpy and torch loaded, holding a 2 s clip
        assert 100 < data["timing"][label]["peak_rss_mb"] < 4000
        assert label in result.stdout
    assert_timing_rows_match(result.stdout, data, labels)
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
