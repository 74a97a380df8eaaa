"""Choose the NMF separator's parameters on the synthetic *training* split (never on test data).

The training songs are split by name: the first ``--fit`` songs learn the dictionaries and the
grouping rule, the next ``--val`` songs (held out from that fit) are separated and scored with the
global SDR (SDX definition, mean over stems and songs). Prints one line per setting, best last.

    .venv/bin/python benchmarks/tune_nmf.py --fit 20 --val 6
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.data.musdb import load_tracks
from musicsep.evaluate import global_sdr
from musicsep.separators.bands import filterbank
from musicsep.separators.nmf import (NMFModel, NMFSeparator, component_examples, fit_grouping,
                                     learn_dictionaries, source_frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="data/synth")
    ap.add_argument("--fit", type=int, default=20)
    ap.add_argument("--val", type=int, default=6)
    ap.add_argument("--atoms", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--ranks", type=int, nargs="+", default=[16, 24, 40])
    ap.add_argument("--bpo", type=float, nargs="+", default=[24.0])
    ap.add_argument("--n-fft", type=int, nargs="+", default=[4096])
    ap.add_argument("--iters", type=int, nargs="+", default=[60])
    ap.add_argument("--powers", type=float, nargs="+", default=[1.0, 2.0])
    ap.add_argument("--wiener", type=int, nargs="+", default=[0, 1])
    args = ap.parse_args()
    tracks = load_tracks(args.root, True, "train")
    fit, val = tracks[:args.fit], tracks[args.fit:args.fit + args.val]
    print(f"fit on {len(fit)} songs, score on {len(val)} held-out training songs ({val[0].name} ...)")
    results = []
    for n_fft, bpo in itertools.product(args.n_fft, args.bpo):
        hop = n_fft // 4
        fb = filterbank(n_fft, SAMPLE_RATE, bpo)
        frames = {s: [] for s in SOURCES}
        comps = {r: [] for r in args.ranks}
        for i, t in enumerate(fit):
            for s, f in source_frames(t.targets, n_fft, hop, fb).items():
                frames[s].append(f)
            for r in args.ranks:
                comps[r].append(component_examples(t.mixture, t.targets, n_fft, hop, bpo, r, 80, seed=i))
            t.unload()
        dicts = {a: learn_dictionaries(frames, a) for a in args.atoms}
        groups = {r: fit_grouping(*(np.concatenate(p) for p in zip(*comps[r]))) for r in args.ranks}
        settings = [("supervised", a, None, it, p, w) for a in args.atoms for it in args.iters
                    for p in args.powers for w in args.wiener]
        settings += [("grouped", args.atoms[0], r, 80, p, w) for r in args.ranks for p in args.powers
                     for w in args.wiener]
        scores = {k: [] for k in settings}
        seconds = {k: 0.0 for k in settings}
        for t in val:
            mix, targets = t.mixture, t.targets
            for key in settings:
                variant, a, r, it, p, w = key
                model = NMFModel(n_fft, hop, bpo, dicts[a], *groups[r or args.ranks[0]])
                sep = NMFSeparator(variant=variant, n_components=r or 24, n_iter=it, mask_power=p,
                                   wiener_iterations=w, model=model)
                start = time.perf_counter()
                out = sep.separate(mix, SAMPLE_RATE)
                seconds[key] += time.perf_counter() - start
                scores[key].append(np.mean([global_sdr(targets[s], out[s]) for s in SOURCES]))
            t.unload()
            print(f"scored {t.name}", flush=True)
        audio = len(val) * 30 * SAMPLE_RATE  # the synthetic songs are 30 s long
        for key in settings:
            variant, a, r, it, p, w = key
            results.append((float(np.mean(scores[key])), f"{variant:<10} n_fft={n_fft} bpo={bpo:g} atoms={a} "
                            f"rank={r} iter={it} mask_power={p:g} wiener={w}  "
                            f"x{audio / SAMPLE_RATE / max(seconds[key], 1e-9):.0f} realtime"))
    for variant in ("supervised", "grouped"):
        for score, text in sorted(r for r in results if variant in r[1]):
            print(f"{score:7.2f} dB  {text}")


if __name__ == "__main__":
    main()
