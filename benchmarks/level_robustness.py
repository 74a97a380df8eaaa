"""How the U-Net's separation depends on the input level, and the training songs' levels.

    .venv/bin/python benchmarks/level_robustness.py [--model best_model.pth] [--valid data/synth_v6/valid]
    .venv/bin/python benchmarks/level_robustness.py --real-backing data/real_backing/valid
    .venv/bin/python benchmarks/level_robustness.py --train-levels data/synth_v4 data/synth_v5 data/synth_v6

The first separates the first 30 s of every valid song with the mixture scaled by -18, -12, -6, 0
and +6 dB (the true stems scaled alike) and prints the quick global SDR per stem, with the U-Net's
input level range on and off. The second does the same for the vocals and the accompaniment
(drums + bass + other) of the real-backing probe's songs (held-out voices over real records,
``musicsep.data.records``) at -12 and 0 dB. The third prints percentiles of the RMS of 20 s windows (hop 10 s)
of every 4th training song: where ``LEVEL_RANGE`` in musicsep/separators/unet.py comes from.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from musicsep import SAMPLE_RATE
from musicsep.separators.unet import UNetSeparator
from musicsep.train import global_sdr, read_song_stems, song_folders

GAINS_DB = (-18, -12, -6, 0, 6)


def scores_at_levels(model: str | None, songs, gains_db) -> None:
    """Print the quick global SDR of each reference of ``songs`` (dicts name -> array, summed into
    the mixture) with the mixture scaled by each of ``gains_db``, the level range off and on. A
    reference that is not a stem ("accompaniment") is scored against drums + bass + other."""
    separators = {mode: UNetSeparator(model, level_normalisation=mode == "on") for mode in ("off", "on")}
    scores: dict[tuple[str, int], list[list[float]]] = {}
    names: list[str] = []
    for ref in songs:
        names = list(ref)
        mixture = sum(ref.values())
        for mode, separator in separators.items():
            for db in gains_db:
                gain = np.float32(10 ** (db / 20))
                out = separator.separate(mixture * gain, SAMPLE_RATE)
                out["accompaniment"] = out["drums"] + out["bass"] + out["other"]
                sdr = [global_sdr(ref[k] * gain, out[k]) for k in names]
                scores.setdefault((mode, db), []).append([np.nan if x is None else x for x in sdr])
    for (mode, db), rows in scores.items():
        mean = np.nanmean(np.array(rows), axis=0)
        print(f"level range {mode:3s}  gain {db:+3d} dB: "
              + " ".join(f"{k} {v:.2f}" for k, v in zip(names, mean)) + f"  avg {mean.mean():.3f}")


def valid_songs(valid: str):
    """The first 30 s of each valid song's stems."""
    for song in song_folders(valid):
        stems = read_song_stems(song)
        n = min(30 * SAMPLE_RATE, min(len(v) for v in stems.values()))
        yield {k: v[:n] for k, v in stems.items()}


def real_backing_songs(probe: str):
    """Each probe song's voice and record."""
    for song in song_folders(probe):
        stems = read_song_stems(song, ("vocals", "accompaniment"))
        n = min(len(v) for v in stems.values())
        yield {k: v[:n] for k, v in stems.items()}


def training_levels(roots: list[str]) -> None:
    rms = []
    window, hop = 20 * SAMPLE_RATE, 10 * SAMPLE_RATE
    for root in roots:
        for song in song_folders(f"{root}/train")[::4]:
            mixture = sum(read_song_stems(song).values()).astype(np.float64)
            for start in range(0, max(1, len(mixture) - window + 1), hop):
                rms.append(np.sqrt(np.mean(np.square(mixture[start:start + window]))))
    levels = 20 * np.log10(np.array(rms))
    print(f"{len(levels)} windows; RMS dBFS percentiles 10/25/50/75/90: "
          + " ".join(f"{np.percentile(levels, p):.1f}" for p in (10, 25, 50, 75, 90)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="U-Net checkpoint (default: the shipped model)")
    p.add_argument("--valid", default="data/synth_v6/valid")
    p.add_argument("--real-backing", metavar="DIR", help="score the real-backing probe's songs instead")
    p.add_argument("--train-levels", nargs="+", metavar="ROOT", help="print the training songs' levels instead")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.train_levels:
        training_levels(args.train_levels)
    elif args.real_backing:
        scores_at_levels(args.model, real_backing_songs(args.real_backing), (-12, 0))
    else:
        scores_at_levels(args.model, valid_songs(args.valid), GAINS_DB)


if __name__ == "__main__":
    main()
