"""Choose Stage 1's crossover frequencies on the synthetic TRAINING split (never on test data).

Coordinate ascent over a small grid per parameter, maximising the mean global SDR over the stems
that play in each clip (fast to compute); two passes. Prints the best parameters, which are then written as the
defaults of ``musicsep.separators.bandpass.BandpassSeparator``.

    .venv/bin/python benchmarks/tune_bandpass.py --root data/synth --tracks 12 --seconds 20
"""

import argparse
from dataclasses import replace

import numpy as np

from musicsep import SOURCES
from musicsep.data.musdb import load_tracks
from musicsep.evaluate import global_sdr
from musicsep.separators.bandpass import BandpassSeparator
from musicsep.separators.oracle import MixtureBaseline

GRID = {
    "bass_cutoff": [80, 120, 150, 200, 250, 300],
    "vocals_low": [150, 200, 300, 400, 600],
    "vocals_high": [2000, 3000, 4000, 6000, 8000],
    "drums_cutoff": [3000, 4000, 6000, 8000, 11000],
    "transient_strength": [0.0, 0.5, 1.0],
}


def score(sep, clips):
    """Mean global SDR over the (track, stem) pairs whose stem plays (> -30 dB of the mixture)."""
    values = []
    for mixture, targets in clips:
        out = sep.separate(mixture, 44100)
        floor = 1e-3 * np.sum(mixture.astype(np.float64) ** 2)
        values += [global_sdr(targets[s], out[s]) for s in SOURCES if np.sum(targets[s].astype(np.float64) ** 2) > floor]
    return float(np.mean(values))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="data/synth")
    parser.add_argument("--tracks", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    tracks = load_tracks(args.root, is_wav=True, subset="train", select=args.tracks)
    n = int(args.seconds * 44100)
    clips = []
    for t in tracks:  # the middle of each song, where most stems play
        start = max(0, len(t.mixture) // 2 - n // 2)
        clips.append((t.mixture[start:start + n], {s: v[start:start + n] for s, v in t.targets.items()}))
        t.unload()
    print(f"mixture/4 baseline {score(MixtureBaseline(), clips):.3f} dB")
    best = BandpassSeparator()
    best_score = score(best, clips)
    print(f"start {best_score:.3f} dB")
    for _ in range(2):
        for name, values in GRID.items():
            for v in values:
                candidate = replace(best, **{name: v})
                if candidate.vocals_low >= candidate.vocals_high:
                    continue
                s = score(candidate, clips)
                if s > best_score + 1e-4:
                    best, best_score = candidate, s
            print(f"{name} = {getattr(best, name)}  ->  {best_score:.3f} dB")
    print("best:", {k: getattr(best, k) for k in GRID}, f"mean global SDR {best_score:.3f} dB")


if __name__ == "__main__":
    main()
