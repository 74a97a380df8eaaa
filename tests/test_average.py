"""musicsep.average: the uniform average of U-Net checkpoints of one lineage."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from musicsep.average import average_checkpoints, main
from musicsep.errors import UserError
from musicsep.separators.unet import UNet, load_model, save_checkpoint

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
