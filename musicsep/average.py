"""Average U-Net checkpoints of one lineage into one model (a "uniform model soup").

    python -m musicsep.average A.pth B.pth [C.pth ...] --out soup.pth

Checkpoints fine-tuned one from another sit in one basin of the loss, so the mean of their weights
is itself a good model, and often one that carries over better to data unlike the training data
than any of them alone (Wortsman et al., "Model soups", ICML 2022). Inference costs nothing extra:
the result is one network of the same size.

Every tensor of the state dict is averaged, BatchNorm running statistics included (the integer
``num_batches_tracked`` counters are taken from the first checkpoint: inference ignores them). The
networks must have the same configuration. The output records each input's path, SHA-256 and
training record (``averaged_from``), and the Wiener iteration count of the first checkpoint.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any

import torch

from musicsep.errors import UserError
from musicsep.separators.unet import build_model, read_checkpoint, save_checkpoint, training_record


def average_state_dicts(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of floating-point tensors; other tensors come from the first state.
    The states are of one network (:func:`average_checkpoints` checks the configurations)."""
    first = states[0]
    out = {}
    for key, value in first.items():
        if value.is_floating_point():
            out[key] = torch.stack([s[key].double() for s in states]).mean(dim=0).to(value.dtype)
        else:
            out[key] = value.clone()
    return out


def average_checkpoints(paths: list[str | Path], out: str | Path) -> Path:
    """Write the uniform average of ``paths`` to ``out`` (atomically) and return it."""
    if len(paths) < 2:
        raise UserError("give at least two checkpoints to average")
    payloads = [read_checkpoint(p) for p in paths]
    config = payloads[0]["config"]
    if any(p["config"] != config for p in payloads[1:]):
        raise UserError("the checkpoints have different network configurations")
    model = build_model(config)
    model.load_state_dict(average_state_dicts([p["state_dict"] for p in payloads]), strict=True)
    record: list[dict[str, Any]] = []
    for path, payload in zip(paths, payloads):
        record.append({"path": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                       **training_record(payload)})
    first = payloads[0]
    extra = {k: first[k] for k in ("sources", "stft") if k in first}
    return save_checkpoint(out, model, **extra, wiener_iterations=int(first.get("wiener_iterations", 0)),
                           averaged_from=record, command=" ".join(sys.argv))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m musicsep.average", description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+", help="U-Net checkpoints of one lineage (same network)")
    p.add_argument("--out", required=True, help="where to write the averaged checkpoint")
    args = p.parse_args(argv)
    try:
        out = Path(args.out)
        if any(out.resolve() == Path(c).resolve() for c in args.checkpoints):
            raise UserError(f"--out {out} is one of the inputs; write the average elsewhere")
        average_checkpoints(args.checkpoints, out)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}: the mean of {len(args.checkpoints)} checkpoints")
    return 0


if __name__ == "__main__":
    sys.exit(main())
