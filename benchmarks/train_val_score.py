"""A saved model on a training run's own validation measure, to set it beside the run's curve.

    .venv/bin/python benchmarks/train_val_score.py best_model.pth [MODEL ...] \
        --valid data/synth_v4 data/synth_v5 data/synth_v6 data/psola_v6 --val-seconds 30 --threads 1

``musicsep train`` chooses its epoch on a quick measure (global SDR of each stem on the middle
``--val-seconds`` of every valid song, mean over songs, then over stems; no Wiener filter), not on
museval's median that ``select_unet.py`` reports. This prints that measure for finished models, read
with the same functions as the training run, so a run's "val SDR" line can be compared with them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musicsep import SOURCES  # noqa: E402
from musicsep.separators.unet import load_model  # noqa: E402
from musicsep.train import load_valid_folders, validate, validation_excerpts  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="checkpoints (.pth)")
    p.add_argument("--valid", nargs="+", required=True, metavar="DIR", help="synthetic folders with a valid split")
    p.add_argument("--val-seconds", type=float, default=10.0, help="as musicsep train's option")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    excerpts = validation_excerpts(load_valid_folders(args.valid), args.val_seconds)
    for path in args.models:
        r = validate(load_model(path)[0], excerpts)  # unfused, float32: as the training run validates
        print(f"{path}: val SDR {r['avg']:.2f} dB (" + " ".join(f"{s} {r[s]:.2f}" for s in SOURCES) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
