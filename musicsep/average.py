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

``--batchnorm-from DIR ...`` measures every BatchNorm's statistics again for the averaged weights
on training excerpts of those song folders, as stochastic weight averaging does (Izmailov et al.,
2018): the mean of several networks' statistics is not the statistics of their mean weights.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from musicsep import SAMPLE_RATE
from musicsep.arguments import number
from musicsep.data.augment import mix
from musicsep.errors import UserError
from musicsep.separators.unet import build_model, read_checkpoint, save_checkpoint, training_record
from musicsep.train import TrackSet, batch_stft, load_tracks, sample_batch  # the trainer's own data path


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


@torch.no_grad()
def measure_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Replace every BatchNorm's running statistics by their plain mean over ``batches`` of stems
    ``(B, S, C, samples)`` (mixed, as training feeds the network); returns how many batches ran."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative mean over all batches, not an exponential one
    was_training = model.training
    model.train()
    count = 0
    try:
        for stems in batches:
            model(batch_stft(mix(stems), model.n_fft, model.hop_length).abs())
            count += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        model.train(was_training)
    return count


def training_batches(folders: Sequence[str | Path], cache: Path | None, count: int, batch: int = 6,
                     seconds: float = 3.0, seed: int = 0) -> Iterator[torch.Tensor]:
    """``count`` batches of random training excerpts (the trainer's batch: 6 x 3 s) of the ``train``
    songs of ``folders``, drawn with ``seed``."""
    tracks = TrackSet([], [])
    for folder in folders:
        tracks.extend(load_tracks(folder, True, val_fraction=0.0, cache=cache)[0], f"{Path(folder).name}/")
    if len(tracks) == 0:
        raise UserError(f"no training songs under {', '.join(map(str, folders))}")
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield sample_batch(tracks, batch, int(seconds * SAMPLE_RATE), rng)


def average_checkpoints(paths: list[str | Path], out: str | Path,
                        batchnorm_batches: Iterable[torch.Tensor] | None = None) -> Path:
    """Write the uniform average of ``paths`` to ``out`` (atomically) and return it; with
    ``batchnorm_batches``, BatchNorm statistics measured on them (:func:`measure_batchnorm`)."""
    if len(paths) < 2:
        raise UserError("give at least two checkpoints to average")
    payloads = [read_checkpoint(p) for p in paths]
    config = payloads[0]["config"]
    if any(p["config"] != config for p in payloads[1:]):
        raise UserError("the checkpoints have different network configurations")
    model = build_model(config)
    model.load_state_dict(average_state_dicts([p["state_dict"] for p in payloads]), strict=True)
    measured = measure_batchnorm(model, batchnorm_batches) if batchnorm_batches is not None else 0
    record: list[dict[str, Any]] = []
    for path, payload in zip(paths, payloads):
        record.append({"path": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                       **training_record(payload)})
    first = payloads[0]
    extra = {k: first[k] for k in ("sources", "stft") if k in first}
    return save_checkpoint(out, model, **extra, wiener_iterations=int(first.get("wiener_iterations", 0)),
                           averaged_from=record, batchnorm_measured_on_batches=measured,
                           command=" ".join(sys.argv))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m musicsep.average", description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+", help="U-Net checkpoints of one lineage (same network)")
    p.add_argument("--out", required=True, help="where to write the averaged checkpoint")
    p.add_argument("--batchnorm-from", nargs="+", metavar="DIR",
                   help="song folders (DIR/train) whose training excerpts BatchNorm statistics are measured on")
    p.add_argument("--batchnorm-batches", type=number(int, 1, 100000), default=200,
                   help="batches of 6 x 3 s excerpts for --batchnorm-from (default 200)")
    p.add_argument("--cache", type=Path, help="the trainer's song cache (musicsep train --cache)")
    args = p.parse_args(argv)
    try:
        out = Path(args.out)
        if any(out.resolve() == Path(c).resolve() for c in args.checkpoints):
            raise UserError(f"--out {out} is one of the inputs; write the average elsewhere")
        batches = None
        if args.batchnorm_from:
            batches = training_batches(args.batchnorm_from, args.cache, args.batchnorm_batches)
        average_checkpoints(args.checkpoints, out, batches)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}: the mean of {len(args.checkpoints)} checkpoints")
    return 0


if __name__ == "__main__":
    sys.exit(main())
