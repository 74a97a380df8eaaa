"""Choose the forest separator's parameters on the synthetic *training* split (never on test data).

The first ``--fit`` training songs (10, as the shipped model) give the training rows; the next
``--val`` songs, held out from that fit, are separated and scored with the global SDR (SDX
definition, mean over stems and songs). Also reports model size and separation speed.

    .venv/bin/python benchmarks/tune_forest.py --fit 10 --val 6
"""

from __future__ import annotations

import argparse
import io
import itertools
import time

import joblib
import numpy as np

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.data.musdb import load_tracks
from musicsep.evaluate import global_sdr
from musicsep.separators.forest import ForestModel, ForestSeparator, fit_forest, training_rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="data/synth")
    ap.add_argument("--fit", type=int, default=10)
    ap.add_argument("--val", type=int, default=6)
    ap.add_argument("--bpo", type=float, nargs="+", default=[6.0])
    ap.add_argument("--cells", type=int, default=20000)
    ap.add_argument("--leaves", type=int, nargs="+", default=[500, 2000, 5000])
    ap.add_argument("--trees", type=int, nargs="+", default=[40])
    ap.add_argument("--labels", nargs="+", default=["share", "dominant"])
    ap.add_argument("--min-leaf", type=int, nargs="+", default=[20])
    ap.add_argument("--level", default="cell")
    args = ap.parse_args()
    tracks = load_tracks(args.root, True, "train")
    fit, val = tracks[:args.fit], tracks[args.fit:args.fit + args.val]
    print(f"fit on {len(fit)} songs, score on {len(val)} held-out training songs ({val[0].name} ...)")
    val_audio = [(t.mixture, t.targets) for t in val]
    results = []
    for bpo in args.bpo:
        rows = training_rows(((t.mixture, t.targets) for t in fit), bands_per_octave=bpo,
                             cells_per_song=args.cells, levels=(args.level,))[args.level]
        for t in fit:
            t.unload()
        for labels, leaves, trees, min_leaf in itertools.product(args.labels, args.leaves, args.trees, args.min_leaf):
            start = time.perf_counter()
            clf = fit_forest(rows, labels, trees, leaves, min_leaf)
            fit_s = time.perf_counter() - start
            model = ForestModel(bands_per_octave=bpo, **{args.level: clf})
            buf = io.BytesIO()
            joblib.dump(clf, buf, compress=("zlib", 6))
            for w in (0, 1):
                sep = ForestSeparator(level=args.level, wiener_iterations=w, model=model)
                scores, seconds = [], 0.0
                for mix, targets in val_audio:
                    start = time.perf_counter()
                    out = sep.separate(mix, SAMPLE_RATE)
                    seconds += time.perf_counter() - start
                    scores.append(np.mean([global_sdr(targets[s], out[s]) for s in SOURCES]))
                audio = sum(len(m) for m, _ in val_audio) / SAMPLE_RATE
                text = (f"bpo={bpo:g} labels={labels:<8} leaves={leaves:<5} trees={trees} min_leaf={min_leaf} "
                        f"wiener={w}  {len(buf.getvalue()) / 2**20:.1f} MB, fit {fit_s:.0f} s, "
                        f"x{audio / seconds:.0f} realtime")
                results.append((float(np.mean(scores)), text))
                print(f"{results[-1][0]:7.2f} dB  {text}", flush=True)
    print("--- sorted")
    for score, text in sorted(results):
        print(f"{score:7.2f} dB  {text}")


if __name__ == "__main__":
    main()
