"""The command line end to end, and every bad input answered with one line and status 2."""

import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from conftest import run_cli
from test_compare import assert_timing_rows_match
from musicsep import SOURCES, __version__


@pytest.fixture
def song(tmp_path, mixture):
    path = tmp_path / "my song.wav"
    sf.write(path, mixture, 44100, subtype="PCM_16")
    return path


def assert_one_line_error(result, fragment=""):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and fragment in lines[0]


def test_version_and_help():
    assert run_cli("--version").stdout.strip() == f"musicsep {__version__}"
    out = run_cli("separate", "--help").stdout
    assert "--two-stems" in out and "--method" in out and "--format" in out


def test_separate_mp3_writes_four_stems_of_input_length(tmp_path, song):
    mp3 = tmp_path / "song.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", song, mp3], check=True)
    result = run_cli("separate", mp3, "-o", tmp_path / "out", "--method", "bandpass")
    assert result.returncode == 0, result.stderr
    n = len(sf.read(song)[0])
    for s in SOURCES:
        data, rate = sf.read(tmp_path / "out" / "song" / f"{s}.wav")
        assert rate == 44100 and data.shape[1] == 2 and abs(len(data) - n) < 0.05 * n


def test_two_stems_flac_and_sum(tmp_path, song):
    result = run_cli("separate", song, "-o", tmp_path / "out", "-m", "bandpass", "--two-stems", "vocals",
                     "--format", "flac")
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / "my song"
    assert sorted(p.name for p in folder.iterdir()) == ["no_vocals.flac", "vocals.flac"]
    vocals, _ = sf.read(folder / "vocals.flac")
    rest, _ = sf.read(folder / "no_vocals.flac")
    assert np.abs(vocals + rest - sf.read(song)[0]).max() < 1e-3


def test_folder_input_and_no_overwrite_without_flag(tmp_path, song):
    out = tmp_path / "out"
    assert run_cli("separate", tmp_path, "-o", out, "-m", "bandpass").returncode == 0
    before = (out / "my song" / "bass.wav").read_bytes()
    assert_one_line_error(run_cli("separate", song, "-o", out, "-m", "bandpass"), "already exists")
    assert (out / "my song" / "bass.wav").read_bytes() == before
    assert run_cli("separate", song, "-o", out, "-m", "bandpass", "--overwrite").returncode == 0


def test_all_zero_file_gives_silent_stems(tmp_path):
    sf.write(tmp_path / "zeros.wav", np.zeros((4410, 2)), 44100)
    assert run_cli("separate", tmp_path / "zeros.wav", "-o", tmp_path / "o", "-m", "bandpass").returncode == 0
    for s in SOURCES:
        data, _ = sf.read(tmp_path / "o" / "zeros" / f"{s}.wav")
        assert data.shape == (4410, 2) and not np.isnan(data).any() and not data.any()


def test_one_sample_file(tmp_path):
    sf.write(tmp_path / "one.wav", np.full((1, 2), 0.5), 44100)
    assert run_cli("separate", tmp_path / "one.wav", "-o", tmp_path / "o", "-m", "bandpass").returncode == 0
    assert sf.info(tmp_path / "o" / "one" / "bass.wav").frames == 1


def bad_inputs(tmp_path):
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "text.wav").write_text("this is not audio\n")
    (tmp_path / "zero.wav").write_bytes(b"")
    nan = np.zeros((100, 2), np.float32)
    nan[5] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 44100, subtype="FLOAT")
    inf = np.zeros((100, 2), np.float32)
    inf[7] = np.inf
    sf.write(tmp_path / "inf.wav", inf, 44100, subtype="FLOAT")
    return {
        "missing path": (["separate", tmp_path / "nope.wav"], "not found"),
        "folder without audio": (["separate", tmp_path / "empty_dir"], "no audio files"),
        "text named .wav": (["separate", tmp_path / "text.wav"], "not a readable audio file"),
        "zero-length file": (["separate", tmp_path / "zero.wav"], "empty file"),
        "NaN samples": (["separate", tmp_path / "nan.wav"], "NaN"),
        "infinite samples": (["separate", tmp_path / "inf.wav"], "infinite"),
        "unknown method": (["separate", tmp_path / "nan.wav", "--method", "magic"], "unknown method"),
        "unknown command": (["frobnicate"], "invalid choice"),
        "flac with float": (["separate", tmp_path / "nan.wav", "--format", "flac", "--bits", "32"], "cannot store"),
    }


def test_bad_inputs_one_line_error_and_nothing_written(tmp_path):
    for name, (args, fragment) in bad_inputs(tmp_path).items():
        out = tmp_path / f"out-{name.replace(' ', '_')}"
        result = run_cli(*args, "-o", out) if args[0] == "separate" else run_cli(*args)
        assert_one_line_error(result, fragment)
        assert not out.exists(), name


def test_unwritable_output_folder(tmp_path, song):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert_one_line_error(run_cli("separate", song, "-o", blocker / "sub", "-m", "bandpass"), "cannot create")


def test_input_is_never_overwritten(tmp_path, mixture):
    # The input is named like a stem and sits where that stem's output would go: -o <grandparent>.
    folder = tmp_path / "drums"
    folder.mkdir()
    sf.write(folder / "drums.wav", mixture, 44100)
    before = (folder / "drums.wav").read_bytes()
    result = run_cli("separate", folder / "drums.wav", "-o", tmp_path, "-m", "bandpass", "--overwrite")
    assert_one_line_error(result, "overwrite the input")
    assert (folder / "drums.wav").read_bytes() == before


def test_evaluate_json_schema(tmp_path):
    result = run_cli("evaluate", "--method", "bandpass", "--json", tmp_path / "r.json",
                     cwd=tmp_path)  # cwd without data/synth: just the embedded excerpt
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["protocol"].startswith("museval")
    assert data["tracks"] == ["The Easton Ellises - Falcon 69"]
    assert set(data["results"]["bandpass"]) == {*SOURCES, "avg"}
    assert "drums" in result.stdout and "avg" in result.stdout
    assert_timing_rows_match(result.stdout, data, ["bandpass"])


def test_evaluate_bad_root(tmp_path):
    assert_one_line_error(run_cli("evaluate", "--root", tmp_path / "nowhere", "-m", "bandpass"), "--root")


@pytest.fixture
def loud_song(tmp_path, mixture):
    """One second peaking at 4.0, stored as float so the input itself is not clipped."""
    path = tmp_path / "loud.wav"
    sf.write(path, 5 * mixture[:44100], 44100, subtype="FLOAT")
    return path


@pytest.mark.parametrize("fmt,bits,tolerance", [("wav", "16", 1e-4), ("wav", "24", 1e-6), ("flac", None, 1e-6)])
def test_clipped_samples_are_counted_and_warned(tmp_path, loud_song, fmt, bits, tolerance):
    from musicsep.separators.bandpass import BandpassSeparator

    stems = BandpassSeparator().separate(sf.read(loud_song, dtype="float32")[0], 44100)
    beyond = sum(int(np.count_nonzero(np.abs(v) > 1.0)) for v in stems.values())
    assert beyond > 50
    result = run_cli("separate", loud_song, "-o", tmp_path / "out", "-m", "bandpass", "--format", fmt,
                     *(["--bits", bits] if bits else []))
    assert result.returncode == 0, result.stderr
    assert f"warning: {beyond} samples beyond full scale were clipped" in result.stderr
    for s, v in stems.items():
        written, _ = sf.read(tmp_path / "out" / "loud" / f"{s}.{fmt}")
        np.testing.assert_allclose(written, np.clip(v, -1, 1), atol=tolerance + 1e-7)


def test_float_wav_keeps_samples_beyond_full_scale(tmp_path, loud_song):
    result = run_cli("separate", loud_song, "-o", tmp_path / "out", "-m", "bandpass")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    written = [sf.read(tmp_path / "out" / "loud" / f"{s}.wav", dtype="float32")[0] for s in SOURCES]
    np.testing.assert_allclose(sum(written), sf.read(loud_song, dtype="float32")[0], atol=1e-5)
    assert max(np.abs(w).max() for w in written) > 1.0


def test_default_method_is_the_shipped_unet(tmp_path, song):
    from musicsep.inference import separate
    from musicsep.separators.unet import UNetSeparator

    result = run_cli("separate", song, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    expected = separate(UNetSeparator(), sf.read(song, dtype="float32")[0], 44100)
    for s in SOURCES:
        written, _ = sf.read(tmp_path / "out" / "my song" / f"{s}.wav", dtype="float32")
        error = np.sum((written - expected[s]) ** 2) / np.sum(expected[s] ** 2)
        assert error < 1e-4, s  # the U-Net's stems (32-bit float), not another method's


# --- method options: --model, --wiener, -O, the list of methods ----------------------------------

def main_in_process(capsys, *args) -> subprocess.CompletedProcess:
    """``musicsep ARGS`` in this process (no interpreter start-up): its status, stdout and stderr."""
    from musicsep.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


@pytest.fixture
def other_checkpoint(tmp_path):
    """A tiny U-Net checkpoint that is not the shipped one."""
    import torch

    from musicsep.separators.unet import UNet, save_checkpoint

    torch.manual_seed(1)
    model = UNet(n_fft=1024, hop_length=256, max_bin=256, channels=[4, 6, 8], patch=[4, 2])
    return save_checkpoint(tmp_path / "other.pth", model, wiener_iterations=0)


def test_separate_with_another_model_and_wiener(tmp_path, song, other_checkpoint):
    out = tmp_path / "out"
    result = run_cli("separate", song, "-o", out, "--model", other_checkpoint, "--wiener", "1")  # as a user would
    assert result.returncode == 0, result.stderr
    stems = {s: sf.read(out / "my song" / f"{s}.wav")[0] for s in SOURCES}
    mixture = sf.read(song)[0]
    assert np.abs(sum(stems.values()) - mixture).max() < 1e-3
    from musicsep.api import Separator

    shipped = Separator("unet", wiener=1).separate_array(mixture, 44100)
    assert np.abs(shipped["vocals"] - stems["vocals"]).max() > 1e-3  # the other model was used, not the shipped one


def foreign_files(tmp_path):
    import torch

    (tmp_path / "notes.txt").write_text("these are my notes\n")
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "state_dict.pth")  # another project's weights
    torch.save({"format": "musicsep-unet", "version": 1, "config": {}, "state_dict": {},
                "evil": subprocess.CompletedProcess(["x"], 0)}, tmp_path / "pickle.pth")  # needs unpickling code
    return {"notes.txt": "not a usable U-Net model file", "state_dict.pth": "not a musicsep U-Net checkpoint",
            "pickle.pth": "not a usable U-Net model file", "missing.pth": "not found"}


@pytest.mark.parametrize("command", ["separate", "evaluate"])
def test_bad_model_file_is_one_line_error(tmp_path, capsys, song, command):
    for name, fragment in foreign_files(tmp_path).items():
        out = tmp_path / f"out-{name}"
        args = [song, "-o", out] if command == "separate" else ["--json", out]
        assert_one_line_error(main_in_process(capsys, command, *args, "--model", tmp_path / name), fragment)
        assert not out.exists()


def test_method_option_errors(tmp_path, capsys, song):
    for args, fragment in [
        (["-m", "nmf", "-O", "rank=3"], "no option 'rank'"),
        (["-m", "nmf", "-O", "n_iter=lots"], "must be int"),
        (["-m", "nmf", "-O", "variant"], "KEY=VALUE"),
        (["-m", "bandpass", "--wiener", "2"], "no Wiener filter"),
        (["-m", "bandpass", "--model", song], "takes no model file"),
        (["-m", "unet", "--wiener", "-1"], "out of range"),
    ]:
        assert_one_line_error(main_in_process(capsys, "separate", song, "-o", tmp_path / "o", *args), fragment)
    assert not (tmp_path / "o").exists()


def test_method_option_reaches_the_method(tmp_path, capsys, song):
    result = main_in_process(capsys, "separate", song, "-o", tmp_path / "o", "-m", "nmf", "-O", "variant=supervised",
                     "-O", "n_iter=5", "--wiener", "0")
    assert result.returncode == 0, result.stderr
    from musicsep.api import Separator

    expected = Separator("nmf", wiener=0, options={"variant": "supervised", "n_iter": 5}).separate_array(
        sf.read(song, dtype="float32")[0], 44100)
    written = sf.read(tmp_path / "o" / "my song" / "bass.wav", dtype="float32")[0]
    assert np.abs(written - expected["bass"]).max() < 1e-6


def test_list_methods(capsys):
    assert run_cli("methods").stdout == main_in_process(capsys, "separate", "--list-methods").stdout
    for args in (["separate", "--list-methods"], ["methods"]):
        result = main_in_process(capsys, *args)
        assert result.returncode == 0, result.stderr
        for name in ("bandpass", "nmf", "forest", "unet"):
            assert any(line.startswith(name) for line in result.stdout.splitlines()), result.stdout
        assert "best_model.pth" in result.stdout and "nmf.npz" in result.stdout and "forest.joblib" in result.stdout
