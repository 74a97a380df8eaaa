"""The U-Net as ONNX: `musicsep export`, the onnx backend's parity with torch, and their errors."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import make_stems, run_cli
from test_cli import assert_one_line_error
from test_unet import TINY, tiny_model

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.cli import main
from musicsep.errors import UserError
from musicsep.export import ONNX_OPSET, OnnxNetwork, cached_onnx, export_onnx, read_metadata
from musicsep.inference import separate
from musicsep.separators.unet import DEFAULT_MODEL_PATH, GAIN_RANGE, LEVEL_RANGE, UNetSeparator, save_checkpoint

# Stems of the two backends differ by less than this, relative to each stem's energy (-60 dB).
PARITY_BOUND = 1e-6


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    """Exports made on first use go to a folder of the test's own."""
    monkeypatch.setenv("MUSICSEP_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def tiny_checkpoint(tmp_path):
    model = tiny_model(3).eval()
    for module in model.modules():  # BatchNorm statistics other than the defaults, so folding matters
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return save_checkpoint(tmp_path / "tiny.pth", model, wiener_iterations=1, validation={"avg": 2.5})


def cli(capsys, *args) -> subprocess.CompletedProcess:
    """``musicsep ARGS`` in this process (torch is imported already: seconds saved per call)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum((a - b) ** 2) / max(np.sum(b ** 2), 1e-20))


def test_export_cli_writes_a_model_onnxruntime_runs_at_any_length(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "tiny.onnx"
    result = cli(capsys, "export", "--format", "onnx", "--model", tiny_checkpoint, "-o", out)
    assert result.returncode == 0, result.stderr
    assert f"opset {ONNX_OPSET}" in result.stdout

    network = OnnxNetwork(out)
    meta = network.metadata
    assert meta["config"]["n_fft"] == TINY["n_fft"] and meta["config"]["channels"] == TINY["channels"]
    assert meta["stft"]["hop_length"] == TINY["hop_length"] and meta["stft"]["extend_bins"] == 64
    assert meta["sources"] == list(SOURCES) and meta["wiener_iterations"] == 1 and meta["opset"] == ONNX_OPSET
    assert meta["checkpoint_version"] == "1" and meta["validation"] == {"avg": 2.5}
    assert meta["input_level"] == {"level_range": list(LEVEL_RANGE), "gain_range": list(GAIN_RANGE)}  # for the page
    assert read_metadata(out)["musicsep_version"]
    model = torch.load(tiny_checkpoint, weights_only=True)
    reference = tiny_model().eval()
    reference.load_state_dict(model["state_dict"])
    for frames in (1, 7, 8, 33):  # below, at and above the network's time factor (4 frames here)
        mag = torch.rand(1, 2, TINY["max_bin"], frames) * 4
        with torch.no_grad():
            expected = reference(mag)
        got = network(mag)
        assert got.shape == expected.shape == (1, 4, 2, TINY["max_bin"], frames)
        torch.testing.assert_close(got, expected, atol=2e-5, rtol=0)


def test_onnx_backend_matches_torch_on_a_tiny_model_with_wiener(tiny_checkpoint):
    mixture = sum(make_stems(seconds=1.5, seed=1).values())
    a = UNetSeparator(model_path=tiny_checkpoint, bfloat16=False).separate(mixture, SAMPLE_RATE)
    onnx = UNetSeparator(model_path=tiny_checkpoint, backend="onnx")
    assert onnx.wiener_iterations == 1 and onnx.max_bin == TINY["max_bin"]  # from the ONNX metadata
    b = onnx.separate(mixture, SAMPLE_RATE)
    for s in SOURCES:
        assert relative_error(b[s], a[s]) < PARITY_BOUND, s
    assert len(list((tiny_checkpoint.parent / "cache").glob("unet-*.onnx"))) == 1  # exported once, cached


def test_parity_of_the_shipped_model_on_a_fixed_5_second_input():
    """torch (float32 forced: bfloat16 is the default on some CPUs) and onnxruntime, through the
    same chunked path: stems within -60 dB of each other (measured: about -120 dB, float error)."""
    mixture = sum(make_stems(seconds=5.0, seed=3).values())
    torch_stems = separate(UNetSeparator(DEFAULT_MODEL_PATH, bfloat16=False), mixture, SAMPLE_RATE)
    onnx_stems = separate(UNetSeparator(DEFAULT_MODEL_PATH, backend="onnx"), mixture, SAMPLE_RATE)
    for s in SOURCES:
        assert onnx_stems[s].shape == mixture.shape
        assert relative_error(onnx_stems[s], torch_stems[s]) < PARITY_BOUND, s
        # a stem with sound in it (so the parity above is not between two silences): above -40 dB of
        # the mixture; the shipped model gives this toy song's vocals about -34 dB
        assert np.sum(torch_stems[s] ** 2) > 1e-4 * np.sum(mixture ** 2), s


def test_separate_cli_with_onnx_backend(tmp_path):
    song = sum(make_stems(seconds=2.0, seed=5).values())
    sf.write(tmp_path / "song.wav", song, SAMPLE_RATE, subtype="FLOAT")
    result = run_cli("separate", tmp_path / "song.wav", "-o", tmp_path / "out", "--backend", "onnx", "--two-stems",
                     "vocals")
    assert result.returncode == 0, result.stderr
    expected = separate(UNetSeparator(DEFAULT_MODEL_PATH, bfloat16=False), song, SAMPLE_RATE)
    vocals, rate = sf.read(tmp_path / "out" / "song" / "vocals.wav", dtype="float32")
    rest, _ = sf.read(tmp_path / "out" / "song" / "no_vocals.wav", dtype="float32")
    assert rate == SAMPLE_RATE and vocals.shape == song.shape
    assert relative_error(vocals, expected["vocals"]) < PARITY_BOUND
    np.testing.assert_allclose(vocals + rest, song, atol=1e-5)


def test_export_and_backend_errors(tmp_path, tiny_checkpoint, capsys):
    song = tmp_path / "song.wav"
    sf.write(song, np.zeros((4410, 2)), SAMPLE_RATE)
    existing = tmp_path / "existing.onnx"
    existing.write_bytes(b"keep me")
    (tmp_path / "junk.onnx").write_text("not a model")
    cases = {
        "existing output": (["export", "--model", tiny_checkpoint, "-o", existing], "already exists"),
        "output is the model": (["export", "--model", tiny_checkpoint, "-o", tiny_checkpoint], "overwrite the model"),
        "missing model": (["export", "--model", tmp_path / "nope.pth", "-o", tmp_path / "a.onnx"], "not found"),
        "no such folder": (["export", "--model", tiny_checkpoint, "-o", tmp_path / "no" / "a.onnx"], "does not exist"),
        "not a checkpoint": (["export", "--model", song, "-o", tmp_path / "b.onnx"], "not a usable U-Net model"),
        "unknown format": (["export", "--format", "tflite"], "invalid choice"),
        "backend for another method": (["separate", song, "-m", "bandpass", "--backend", "onnx", "-o",
                                        tmp_path / "out"], "runs the U-Net only"),
        "unknown backend": (["separate", song, "--backend", "tpu", "-o", tmp_path / "out"], "invalid choice"),
    }
    for name, (args, fragment) in cases.items():
        assert_one_line_error(cli(capsys, *args), fragment)
    assert existing.read_bytes() == b"keep me"
    assert not (tmp_path / "out").exists() and not (tmp_path / "a.onnx").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".onnx") == ["existing.onnx", "junk.onnx"]
    assert cli(capsys, "export", "--model", tiny_checkpoint, "-o", existing, "--overwrite").returncode == 0
    assert read_metadata(existing)["config"]["max_bin"] == TINY["max_bin"]

    with pytest.raises(UserError, match="not a usable ONNX model"):
        UNetSeparator(model_path=tmp_path / "junk.onnx", backend="onnx")
    with pytest.raises(UserError, match="onnx backend"):
        UNetSeparator(model_path=existing)  # an .onnx file on the torch backend
    with pytest.raises(UserError, match="unknown backend"):
        UNetSeparator(model_path=tiny_checkpoint, backend="tflite")
    with pytest.raises(UserError, match="torch backend only"):
        UNetSeparator(model=tiny_model(), backend="onnx")


def test_cache_follows_the_checkpoint(tmp_path, tiny_checkpoint):
    first = cached_onnx(tiny_checkpoint)
    written = first.stat().st_mtime_ns
    assert cached_onnx(tiny_checkpoint) == first and first.stat().st_mtime_ns == written  # not exported again
    save_checkpoint(tiny_checkpoint, tiny_model(4))  # retrained: a new export, not the stale one
    second = cached_onnx(tiny_checkpoint)
    assert second != first and second.exists()
    assert read_metadata(second)["checkpoint_sha256"] != read_metadata(first)["checkpoint_sha256"]
    export_onnx(tiny_checkpoint, tmp_path / "again.onnx")
    assert read_metadata(tmp_path / "again.onnx")["checkpoint_sha256"] == read_metadata(second)["checkpoint_sha256"]
