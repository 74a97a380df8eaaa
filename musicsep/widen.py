"""Widen a trained U-Net without changing what it computes, so that fine-tuning can use the room.

    python -m musicsep.widen best_model.pth --channels 16 32 44 64 88 --out wide.pth

Every layer gets the extra channels; the trained weights keep their place. Weights *into* a new
channel start as in a new network (random), weights *from* a new channel into a trained one start at
zero, and new BatchNorm channels start as identities. By induction over the layers every trained
channel then carries exactly the values it carried before, so the wider network returns the same
masks (up to float rounding), while gradients still reach the zero weights (the new channels'
activations are not zero) and fine-tuning can put the extra capacity to use (Net2Net's "wider"
operation, Chen et al., ICLR 2016, with zeros instead of copied units).

The output records the narrow checkpoint's path, SHA-256 and training record (``widened_from``),
and keeps its Wiener iteration count.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch
from torch import nn

from musicsep.errors import UserError
from musicsep.separators.unet import UNet, build_model, load_model, save_checkpoint, training_record


def _input_dim(module: nn.Module) -> int:
    """Which weight axis indexes input channels: (out, in, kh, kw) for a convolution, (in, out, ...)
    for a transposed one."""
    return 0 if isinstance(module, nn.ConvTranspose2d) else 1


@torch.no_grad()
def widen_model(narrow: UNet, channels: list[int], seed: int = 0) -> UNet:
    """A copy of ``narrow`` with ``channels`` per level that computes the same masks."""
    config = narrow.config()
    if len(channels) != len(config["channels"]):
        raise UserError(f"give {len(config['channels'])} widths, one per level (got {len(channels)})")
    if any(new < old for new, old in zip(channels, config["channels"])):
        raise UserError(f"widths {channels} are narrower than the model's {config['channels']} somewhere")
    torch.manual_seed(seed)
    wide = build_model({**config, "channels": list(channels)})
    narrow_modules = dict(narrow.named_modules())
    for name, module in wide.named_modules():
        old = narrow_modules[name]
        for key, new_tensor in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
            old_tensor = getattr(old, key)
            if old_tensor.dim() == 0:  # BatchNorm's step counter
                new_tensor.copy_(old_tensor)
                continue
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and key == "weight":
                # Trained outputs must not read the new inputs: zero that block before the copy.
                axis_in, axis_out = _input_dim(module), 1 - _input_dim(module)
                block = [slice(None)] * new_tensor.dim()
                block[axis_out] = slice(0, old_tensor.shape[axis_out])
                block[axis_in] = slice(old_tensor.shape[axis_in], None)
                new_tensor[tuple(block)] = 0
            new_tensor[tuple(slice(0, n) for n in old_tensor.shape)] = old_tensor
    return wide


def widen_checkpoint(path: str | Path, channels: list[int], out: str | Path, seed: int = 0) -> Path:
    """Write the widened copy of the checkpoint at ``path`` to ``out`` (atomically) and return it."""
    narrow, payload = load_model(path)
    wide = widen_model(narrow, channels, seed)
    record = {"path": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
              **training_record(payload)}
    extra = {k: payload[k] for k in ("sources", "stft") if k in payload}
    return save_checkpoint(out, wide, **extra, wiener_iterations=int(payload.get("wiener_iterations", 0)),
                           widened_from=record, command=" ".join(sys.argv))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m musicsep.widen", description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="a trained U-Net checkpoint")
    p.add_argument("--channels", type=int, nargs="+", required=True, help="the new width of every level")
    p.add_argument("--out", required=True, help="where to write the widened checkpoint")
    p.add_argument("--seed", type=int, default=0, help="seed of the new channels' random weights")
    args = p.parse_args(argv)
    try:
        out = Path(args.out)
        if out.resolve() == Path(args.checkpoint).resolve():
            raise UserError(f"--out {out} is the input; write the wider model elsewhere")
        widen_checkpoint(args.checkpoint, args.channels, out, args.seed)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}: channels {' '.join(map(str, args.channels))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
