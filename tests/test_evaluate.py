import json
import time
from pathlib import Path

import numpy as np
import pytest

from musicsep import SOURCES
from musicsep.data.musdb import EXCERPT_NAME, Track, load_tracks
from musicsep.evaluate import MethodSpec, Report, evaluate, global_sdr, score_track, write_report
from musicsep.separators.base import REFERENCE_METHODS, BaseSeparator, MethodInfo
from musicsep.errors import UserError


def test_perfect_estimate_scores_very_high(stems):
    noisy = {s: v + 1e-4 * np.random.default_rng(1).standard_normal(v.shape).astype(np.float32) for s, v in stems.items()}
    scores = score_track(stems, noisy)
    for s in SOURCES:
        assert scores[s]["SDR"] > 30 and scores[s]["global_SDR"] > 30


def test_swapped_stems_score_low(stems):
    swapped = dict(zip(SOURCES, [stems[s] for s in reversed(SOURCES)]))
    scores = score_track(stems, swapped)
    assert all(scores[s]["SDR"] < 0 for s in SOURCES)


def test_silent_reference_windows_are_skipped(stems):
    # Vocals silent for the first half: those windows are NaN in museval and left out of the median.
    stems = dict(stems)
    vocals = stems["vocals"].copy()
    vocals[: len(vocals) // 2] = 0
    stems["vocals"] = vocals
    scores = score_track(stems, {s: v * 0.9 for s, v in stems.items()})
    assert np.isfinite(scores["vocals"]["SDR"]) and scores["vocals"]["SDR"] > 15


def test_two_stem_split_with_a_named_accompaniment(stems):
    # vocals against everything else (the real-backing probe): a name outside SOURCES is scored too
    refs = {"vocals": stems["vocals"], "accompaniment": stems["drums"] + stems["bass"] + stems["other"]}
    good = score_track(refs, {k: v * 0.9 for k, v in refs.items()})
    swapped = score_track(refs, {"vocals": refs["accompaniment"], "accompaniment": refs["vocals"]})
    assert list(good) == ["vocals", "accompaniment"]
    assert all(good[k]["SDR"] > 15 and swapped[k]["SDR"] < 0 for k in refs)


def test_global_sdr_matches_definition():
    ref = np.ones((100, 2))
    assert global_sdr(ref, ref * 0.9) == pytest.approx(10 * np.log10(200 / (200 * 0.01)), abs=1e-4)


def test_report_table_json_and_csv(tmp_path, stems, mixture):
    track = Track("synthetic", lambda: (mixture, stems))
    report = evaluate(["bandpass"], [track])
    table = report.table()
    assert "bandpass" in table and all(s in table for s in SOURCES)
    write_report(report, tmp_path / "r.json", tmp_path / "r.csv")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["tracks"] == ["synthetic"]
    assert set(data["results"]["bandpass"]) == set(SOURCES) | {"avg"}
    assert data["results"]["bandpass"]["avg"] == pytest.approx(np.mean([data["results"]["bandpass"][s] for s in SOURCES]), abs=1e-3)
    assert set(data["timing"]["bandpass"]) == {"realtime_factor", "peak_rss_mb"}
    assert len((tmp_path / "r.csv").read_text().strip().splitlines()) == 1 + len(SOURCES)


def test_embedded_default_is_the_real_excerpt(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICSEP_SYNTH_DIR", str(tmp_path / "none"))
    monkeypatch.delenv("MUSDB_PATH", raising=False)
    (track,) = load_tracks()
    assert track.name == EXCERPT_NAME
    assert track.mixture.shape == (268288, 2) and track.mixture.dtype == np.float32
    assert set(track.targets) == set(SOURCES)
    # The AAC-coded mixture is close to, not equal to, the sum of its stems (about -15 dB apart).
    err = global_sdr(track.mixture, sum(track.targets.values()))
    assert 8 < err < 25


@pytest.mark.parametrize("make_root,message", [
    (lambda p: p / "missing", "no such folder"),
    (lambda p: p, "no 'test' folder"),
    (lambda p: (p / "test").mkdir() or p, "no "),
])
def test_bad_roots_are_one_line_errors(tmp_path, make_root, message):
    with pytest.raises(UserError, match=message):
        load_tracks(make_root(tmp_path), is_wav=True)


def test_missing_stem_file_is_named(tmp_path, stems, mixture):
    import soundfile as sf

    song = tmp_path / "test" / "song"
    song.mkdir(parents=True)
    sf.write(song / "mixture.wav", mixture, 44100)
    for s in ("drums", "bass", "other"):
        sf.write(song / f"{s}.wav", stems[s], 44100)
    with pytest.raises(UserError, match="vocals.wav"):
        load_tracks(tmp_path, is_wav=True)


class Hungry(BaseSeparator):
    """Holds 300 MB while it separates."""

    sources = SOURCES

    def separate(self, mixture, sample_rate):
        held = np.ones(300 * 2**20 // 8)
        return {s: mixture / 4 + float(held[0] - 1) for s in SOURCES}


class Sleepy(BaseSeparator):
    """Takes half a second of wall time per call, whatever the input."""

    sources = SOURCES

    def separate(self, mixture, sample_rate):
        time.sleep(0.5)
        return {s: mixture / 4 for s in SOURCES}


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="per-method peaks need Linux")
def test_timing_and_peak_memory_are_per_method(monkeypatch, stems, mixture):
    monkeypatch.setitem(REFERENCE_METHODS, "hungry", MethodInfo("test_evaluate:Hungry", "holds 300 MB"))
    monkeypatch.setitem(REFERENCE_METHODS, "sleepy", MethodInfo("test_evaluate:Sleepy", "sleeps"))
    one_second = {s: v[:44100] for s, v in stems.items()}
    track = Track("synthetic", lambda: (mixture[:44100], one_second))
    report = evaluate([MethodSpec("hungry", "hungry"), MethodSpec("sleepy", "sleepy")], [track])
    # the hungry method ran first and its 300 MB are gone: the next method's peak does not carry them
    assert report.timing["hungry"]["peak_rss_mb"] > report.timing["sleepy"]["peak_rss_mb"] + 250, report.timing
    # one second of audio in half a second and a little (a lot on a busy machine): at most twice real time
    assert 1.0 < report.timing["sleepy"]["realtime_factor"] <= 2.0, report.timing
