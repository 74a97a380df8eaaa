"""--ray on a local two-CPU Ray started once for the module: a catalog with a corrupt song,
resuming, stems identical to the local path, and compare --ray equal to compare."""

from __future__ import annotations

import json
import os

import pytest
import soundfile as sf

from conftest import make_stems, write_musdb_hq
from musicsep import SAMPLE_RATE, SOURCES
from musicsep.cli import main

ray = pytest.importorskip("ray")

GOOD_SONGS = [f"song{i}" for i in range(5)]


@pytest.fixture(scope="module")
def local_ray():
    saved = dict(os.environ)
    os.environ.update(RAY_USAGE_STATS_ENABLED="0", RAY_agent_register_timeout_ms="120000")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2,
             log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """Five short songs (1-1.8 s) and one file that only claims to be audio."""
    folder = tmp_path_factory.mktemp("songs")
    for i, name in enumerate(GOOD_SONGS):
        stems = make_stems(seconds=1.0 + 0.2 * i, seed=i)
        sf.write(folder / f"{name}.wav", sum(stems.values()), SAMPLE_RATE, subtype="FLOAT")
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio at all")
    return folder


# Stems are compared as 24-bit WAV: libsndfile stamps float WAVs with the time they were written
# (PEAK chunk), so two float files with the same samples differ in a few header bytes.
BITS = ["--bits", "24"]


def stem_bytes(folder, names=SOURCES):
    return {n: (folder / f"{n}.wav").read_bytes() for n in names}


def test_catalog_reports_the_corrupt_song_then_resumes(local_ray, catalog, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["separate", str(catalog), "-m", "bandpass", "-o", str(out), "--ray", *BITS]) == 2
    printed = capsys.readouterr().out
    assert "broken.wav: not a readable audio file" in printed
    lines = dict(line.split()[:2] for line in printed.splitlines() if line.split()[:1] in (["done"], ["skipped"], ["failed"]))
    assert lines == {"done": "5", "skipped": "0", "failed": "1"}
    assert sorted(p.name for p in out.iterdir()) == GOOD_SONGS  # nothing left behind for the broken one
    first = {name: stem_bytes(out / name) for name in GOOD_SONGS}
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}

    # Same stems, byte for byte, as separating the songs here without Ray.
    local = tmp_path / "local"
    assert main(["separate", *(str(catalog / f"{n}.wav") for n in GOOD_SONGS), "-m", "bandpass",
                 "-o", str(local), *BITS]) == 0
    assert {name: stem_bytes(local / name) for name in GOOD_SONGS} == first

    # A second run skips the five songs (their files untouched) and reports the broken one again.
    assert main(["separate", str(catalog), "-m", "bandpass", "-o", str(out), "--ray", *BITS]) == 2
    printed = capsys.readouterr().out
    lines = dict(line.split()[:2] for line in printed.splitlines() if line.split()[:1] in (["done"], ["skipped"], ["failed"]))
    assert lines == {"done": "0", "skipped": "5", "failed": "1"}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")} == mtimes


def test_unet_on_ray_matches_local(local_ray, catalog, tmp_path, capsys):
    song = str(catalog / "song0.wav")
    assert main(["separate", song, "-m", "unet", "--two-stems", "vocals", "-o", str(tmp_path / "ray"),
                 "--ray", "--ray-cpus-per-task", "2", *BITS]) == 0
    assert main(["separate", song, "-m", "unet", "--two-stems", "vocals", "-o", str(tmp_path / "here"), *BITS]) == 0
    names = ["vocals", "no_vocals"]
    on_ray, here = stem_bytes(tmp_path / "ray" / "song0", names), stem_bytes(tmp_path / "here" / "song0", names)
    assert on_ray == here  # two CPUs per task: torch uses two threads, as here


def test_bad_ray_option_is_one_line(local_ray, catalog, tmp_path, capsys):
    assert main(["separate", str(catalog), "-m", "bandpass", "-o", str(tmp_path), "--ray",
                 "--ray-cpus-per-task", "0"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: --ray-cpus-per-task must be positive"


def without_timing(table: str) -> str:
    return "\n".join(line for line in table.splitlines() if not line.startswith(("x realtime", "peak MB")))


def test_compare_on_ray_equals_compare(local_ray, tmp_path, capsys):
    write_musdb_hq(tmp_path / "db", names=("song a", "song b"), seconds=1.5)  # two tracks: medians too
    runs = {}
    for name, extra in (("local", []), ("ray", ["--ray"])):
        files = [str(tmp_path / f"{name}.json"), str(tmp_path / f"{name}.csv")]
        assert main(["compare", "--root", str(tmp_path / "db"), "--is-wav", "--methods", "mixture/4", "bandpass",
                     "--timing-seconds", "0", "--json", files[0], "--csv", files[1], *extra]) == 0
        report = json.loads((tmp_path / f"{name}.json").read_text())
        assert set(report["timing"]) == {"mixture/4", "bandpass"}
        del report["timing"]  # wall times differ between runs; everything else must not
        runs[name] = (without_timing(capsys.readouterr().out), report, (tmp_path / f"{name}.csv").read_text())
    assert runs["ray"][0] == runs["local"][0]  # the printed table
    assert_same_scores(runs["ray"][1], runs["local"][1])
    assert_same_scores(rows(runs["ray"][2]), rows(runs["local"][2]))
    assert set(runs["ray"][1]["per_track"]["bandpass"]) == {"song a", "song b"}


def rows(csv_text: str) -> dict:
    lines = [line.split(",") for line in csv_text.splitlines()]
    return {tuple(r[:3]): dict(zip(lines[0][3:], map(float, r[3:]))) for r in lines[1:]}


def assert_same_scores(got, want, where: str = "") -> None:
    """Equal, except that museval's SIR, SAR and ISR (least squares through BLAS, whose thread count
    differs in a Ray task) may differ in the last digits: within 0.01 dB. SDR is exact."""
    if isinstance(want, dict):
        assert list(got) == list(want), where
        for key in want:
            assert_same_scores(got[key], want[key], f"{where}/{key}")
    elif isinstance(want, float) and want != want:
        assert got != got, where  # NaN (a silent stem) on both sides
    elif {"SIR", "SAR", "ISR"} & set(where.split("/")):
        assert got == pytest.approx(want, abs=0.01), where
    else:
        assert got == want, where
