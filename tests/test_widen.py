"""musicsep.widen: a wider copy of a trained U-Net that computes the same masks and can still learn."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from musicsep.errors import UserError
from musicsep.separators.unet import UNet, load_model, save_checkpoint
from musicsep.widen import main, widen_checkpoint, widen_model

SMALL = dict(n_fft=1024, hop_length=256, max_bin=256, patch=[2, 2])


def _trained_like(seed=0, channels=(8, 12, 16)):
    """A small U-Net whose weights and BatchNorm statistics are all non-trivial, as after training."""
    torch.manual_seed(seed)
    model = UNet(channels=list(channels), **SMALL)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.3)
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    return model


def test_the_wider_network_returns_the_same_masks():
    narrow = _trained_like().eval()
    wide = widen_model(narrow, [12, 20, 24]).eval()
    assert sum(p.numel() for p in wide.parameters()) > 1.5 * sum(p.numel() for p in narrow.parameters())
    mag = torch.rand(2, 2, 513, 40) * 5
    with torch.no_grad():
        expected, got = narrow(mag), wide(mag)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)
    # ...in training mode too (BatchNorm on batch statistics), where fine-tuning starts
    narrow.train(), wide.train()
    np.testing.assert_allclose(wide(mag).detach().numpy(), narrow(mag).detach().numpy(), atol=1e-5)


def test_the_zero_weights_into_trained_channels_get_gradients():
    wide = widen_model(_trained_like(), [12, 20, 24]).train()
    masks = wide(torch.rand(2, 2, 513, 40) * 5)
    (masks[:, 0] ** 2).mean().backward()
    # the first decoder block's second conv: trained outputs 0..7 reading new inputs 8..11
    weight = wide.dec[0].b.conv.weight
    assert torch.all(weight.detach()[:8, 8:] == 0)
    assert weight.grad[:8, 8:].abs().sum() > 0
    head = wide.head.weight  # transposed conv: (in, out, kh, kw); the new inputs 8..11
    assert torch.all(head.detach()[8:] == 0) and head.grad[8:].abs().sum() > 0


def test_the_checkpoint_records_where_it_came_from(tmp_path):
    path = save_checkpoint(tmp_path / "narrow.pth", _trained_like(), wiener_iterations=1, command="train it")
    out = widen_checkpoint(path, [10, 14, 20], tmp_path / "wide.pth")
    model, payload = load_model(out)
    assert payload["config"]["channels"] == [10, 14, 20]
    assert payload["wiener_iterations"] == 1
    assert payload["widened_from"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert payload["widened_from"]["command"] == "train it"


def test_narrower_or_misshapen_widths_are_refused(tmp_path):
    narrow = _trained_like()
    with pytest.raises(UserError, match="narrower"):
        widen_model(narrow, [8, 10, 16])
    with pytest.raises(UserError, match="one per level"):
        widen_model(narrow, [8, 12, 16, 20])


def test_the_command_line_never_overwrites_its_input(tmp_path, capsys):
    path = save_checkpoint(tmp_path / "narrow.pth", _trained_like())
    before = path.read_bytes()
    assert main([str(path), "--channels", "8", "12", "20", "--out", str(path)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert path.read_bytes() == before
    assert main([str(tmp_path / "missing.pth"), "--channels", "8", "12", "20", "--out", str(tmp_path / "w.pth")]) == 2
    assert main([str(path), "--channels", "8", "12", "20", "--out", str(tmp_path / "w.pth")]) == 0
    assert load_model(tmp_path / "w.pth")[1]["config"]["channels"] == [8, 12, 20]
