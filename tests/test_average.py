"""musicsep.average: the uniform average of U-Net checkpoints of one lineage."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf
import torch

from musicsep import SOURCES
from musicsep.average import average_checkpoints, main, measure_batchnorm
from musicsep.errors import UserError
from musicsep.separators.unet import UNet, load_model, read_checkpoint, save_checkpoint

SMALL = dict(n_fft=1024, hop_length=256, max_bin=256, patch=[2, 2])


def _checkpoint(path, seed, channels=(8, 16), **extra):
    torch.manual_seed(seed)
    model = UNet(channels=list(channels), **SMALL)
    with torch.no_grad():  # give BatchNorm statistics of its own to each model
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    return save_checkpoint(path, model, **extra), model


def test_the_average_holds_the_mean_of_every_weight_and_statistic(tmp_path):
    paths, models = zip(*(_checkpoint(tmp_path / f"m{i}.pth", seed=i) for i in range(3)))
    out = average_checkpoints(list(paths), tmp_path / "soup.pth")
    soup, payload = load_model(out)
    states = [m.state_dict() for m in models]
    for key, value in soup.state_dict().items():
        if value.is_floating_point():
            expected = sum(s[key].double() for s in states) / 3
            assert torch.allclose(value.double(), expected, atol=1e-6), key
    assert [r["sha256"] for r in payload["averaged_from"]] == [hashlib.sha256(p.read_bytes()).hexdigest()
                                                                for p in paths]


def test_the_average_of_a_model_with_itself_is_that_model(tmp_path):
    path, _ = _checkpoint(tmp_path / "m.pth", seed=0, wiener_iterations=1)
    out = average_checkpoints([path, path], tmp_path / "same.pth")
    a, _ = load_model(path)
    b, payload = load_model(out)
    mag = torch.rand(1, 2, 513, 40)
    with torch.no_grad():
        np.testing.assert_allclose(a(mag).numpy(), b(mag).numpy(), atol=1e-6)
    assert payload["wiener_iterations"] == 1


def test_networks_of_other_shapes_are_refused(tmp_path):
    a, _ = _checkpoint(tmp_path / "a.pth", seed=0)
    b, _ = _checkpoint(tmp_path / "b.pth", seed=1, channels=(8, 12))
    with pytest.raises(UserError, match="different network"):
        average_checkpoints([a, b], tmp_path / "soup.pth")
    assert not (tmp_path / "soup.pth").exists()


def test_command_line_errors_are_one_line_and_inputs_are_never_overwritten(tmp_path, capsys):
    a, _ = _checkpoint(tmp_path / "a.pth", seed=0)
    b, _ = _checkpoint(tmp_path / "b.pth", seed=1)
    before = a.read_bytes()
    assert main([str(a), str(b), "--out", str(a)]) == 2
    assert a.read_bytes() == before
    assert main([str(a), str(tmp_path / "missing.pth"), "--out", str(tmp_path / "x.pth")]) == 2
    assert main([str(a), "--out", str(tmp_path / "x.pth")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert not (tmp_path / "x.pth").exists()
    assert main([str(a), str(b), "--out", str(tmp_path / "x.pth")]) == 0


def _batchnorms(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def _stem_batches(count, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 4, 2, 22050, generator=gen) * 0.1 for _ in range(count)]


def test_measured_batchnorm_statistics_depend_on_the_batches_not_on_the_old_statistics(tmp_path):
    _, model_a = _checkpoint(tmp_path / "a.pth", seed=0)
    _, model_b = _checkpoint(tmp_path / "b.pth", seed=0)
    with torch.no_grad():  # same weights, other statistics
        for m in _batchnorms(model_b):
            m.running_mean.add_(3.0)
            m.running_var.mul_(5.0)
    weights = {k: v.clone() for k, v in model_a.state_dict().items() if "running" not in k and "num_batches" not in k}
    old_mean = _batchnorms(model_a)[0].running_mean.clone()
    model_a.eval()
    assert measure_batchnorm(model_a, _stem_batches(3)) == 3
    assert measure_batchnorm(model_b, _stem_batches(3)) == 3
    for ma, mb in zip(_batchnorms(model_a), _batchnorms(model_b)):
        torch.testing.assert_close(ma.running_mean, mb.running_mean)
        torch.testing.assert_close(ma.running_var, mb.running_var)
        assert ma.momentum == 0.1  # the layer's own setting is back
    assert not torch.allclose(_batchnorms(model_a)[0].running_mean, old_mean)
    assert not model_a.training  # left as it was found
    for k, v in model_a.state_dict().items():  # only the statistics moved
        if k in weights:
            torch.testing.assert_close(v, weights[k])


def test_the_command_line_measures_batchnorm_on_a_folders_training_songs(tmp_path, capsys):
    a, _ = _checkpoint(tmp_path / "a.pth", seed=0)
    b, _ = _checkpoint(tmp_path / "b.pth", seed=1)
    rng = np.random.default_rng(0)
    for song in ("s0", "s1"):
        (tmp_path / "songs" / "train" / song).mkdir(parents=True)
        for name in SOURCES:
            sf.write(tmp_path / "songs" / "train" / song / f"{name}.wav",
                     (rng.standard_normal((44100, 2)) * 0.1).astype(np.float32), 44100)
    plain, measured = tmp_path / "plain.pth", tmp_path / "measured.pth"
    assert main([str(a), str(b), "--out", str(plain)]) == 0
    assert main([str(a), str(b), "--out", str(measured), "--batchnorm-from", str(tmp_path / "songs"),
                 "--batchnorm-batches", "2"]) == 0
    p, m = read_checkpoint(plain), read_checkpoint(measured)
    assert m["batchnorm_measured_on_batches"] == 2
    key = next(k for k in p["state_dict"] if k.endswith("running_var"))
    assert not torch.allclose(p["state_dict"][key], m["state_dict"][key])
    capsys.readouterr()
    assert main([str(a), str(b), "--out", str(tmp_path / "x.pth"), "--batchnorm-from", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert not (tmp_path / "x.pth").exists()
