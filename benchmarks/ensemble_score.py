"""Score the mean of several U-Nets' masks, as select_unet.py and real_backing_probe.py score one.

    .venv/bin/python benchmarks/ensemble_score.py best_model.pth checkpoints/step26/best.pth \
        --valid data/synth_v6f11/valid --threads 1 --json FILE
    .venv/bin/python benchmarks/ensemble_score.py A.pth B.pth --probe data/real_backing/valid --threads 1

An ensemble costs one network pass per model, so it is not a shipping option at the 40x-real-time
target; it measures what a single network distilled from it (``musicsep train --teacher``) could
reach. Every model must share the STFT and the bins it models; the first one's Wiener setting is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import real_backing_probe  # noqa: E402
import select_unet  # noqa: E402

from musicsep.data.records import read_records_song  # noqa: E402
from musicsep.train import read_song_stems, song_folders  # noqa: E402


class MeanOfNetworks:
    """Callable like ``UNetSeparator.network``: the mean of each network's masks."""

    def __init__(self, networks):
        self.networks = networks

    def __call__(self, magnitude: torch.Tensor) -> torch.Tensor:
        return sum(network(magnitude) for network in self.networks) / len(self.networks)


def ensemble(models: list[str]):
    from musicsep.separators.unet import UNetSeparator

    separators = [UNetSeparator(model_path=m) for m in models]
    first = separators[0]
    if any((s.n_fft, s.hop_length, s.max_bin) != (first.n_fft, first.hop_length, first.max_bin) for s in separators):
        raise SystemExit("error: the models differ in STFT size or modelled bins")
    first.network = MeanOfNetworks([s.network for s in separators])
    return first


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--valid", help="a synthetic valid split (select_unet.py's scores)")
    where.add_argument("--probe", help="the real-backing probe (real_backing_probe.py's scores)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    separator = ensemble(args.models)
    name = " + ".join(args.models)
    folders = song_folders(args.valid or args.probe)
    if args.valid:
        r = select_unet.score(separator, [(f.name, read_song_stems(f)) for f in folders])
        select_unet.show("ensemble", r)
        result = {"valid": args.valid, "songs": [f.name for f in folders], "scores": {name: r}}
    else:
        r = real_backing_probe.score(separator, [read_records_song(f) for f in folders])
        print(f"ensemble vocals {r['vocals']:5.2f} accompaniment {r['accompaniment']:5.2f} avg {r['avg']:5.2f} "
              f"| false vocals {r['false_vocals_db']:6.2f} dB", flush=True)
        result = {"probe": args.probe, "songs": [f.name for f in folders], "scores": {name: r}}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
