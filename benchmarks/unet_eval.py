"""U-Net: speed and test scores, run by hand (results quoted in the README / the model card).

    .venv/bin/python benchmarks/unet_eval.py [--model best_model.pth] [--threads 2] [--json out.json]
        [--skip-speed] [--skip-scores] [--tracks N]

Speed: ``UNetSeparator(...).separate`` on a 30 s stereo clip (the first 30 s of a synthetic test
song, else the real excerpt tiled), best and median of ``--repeats`` runs, with 0, 1 and 2 Wiener
iterations; realtime factor = 30 s / wall time (bigger is faster).

Scores: museval BSS Eval v4 (1 s windows, median over windows; median over tracks) through
:func:`musicsep.evaluate.score_track`, on the real MUSDB18 excerpt shipped in ``stempeg`` and on
``data/synth/test``, separated in chunks by :func:`musicsep.inference.separate`, with the
separator's default Wiener setting (the one chosen on the validation split) and with it off/on.
These are test sets: they are reported, never used to choose anything.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musicsep import SAMPLE_RATE, SOURCES  # noqa: E402
from musicsep.data.musdb import EXCERPT_NAME, load_tracks  # noqa: E402
from musicsep.evaluate import score_track  # noqa: E402
from musicsep.inference import separate  # noqa: E402
from musicsep.separators.unet import UNetSeparator  # noqa: E402


def speed(model: str | None, repeats: int, clip: np.ndarray) -> dict[str, dict[str, float]]:
    out = {}
    seconds = len(clip) / SAMPLE_RATE
    for it in (0, 1, 2):
        sep = UNetSeparator(model_path=model, wiener_iterations=it)
        sep.separate(clip[: SAMPLE_RATE], SAMPLE_RATE)  # warm-up (numba compile, oneDNN kernels)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            sep.separate(clip, SAMPLE_RATE)
            times.append(time.perf_counter() - t)
        out[f"wiener_{it}"] = {"best_s": min(times), "median_s": statistics.median(times),
                               "realtime_factor_best": seconds / min(times),
                               "realtime_factor_median": seconds / statistics.median(times)}
        print(f"speed, {it} Wiener iteration(s): best {min(times):.3f} s ({seconds / min(times):.1f}x real time), "
              f"median {statistics.median(times):.3f} s ({seconds / statistics.median(times):.1f}x)", flush=True)
    return out


def scores(model: str | None, tracks, wiener: list[int | None]) -> dict:
    table: dict = {}
    for it in wiener:
        sep = UNetSeparator(model_path=model, wiener_iterations=it)
        default = UNetSeparator(model_path=model).wiener_iterations if it is not None else it
        label = f"wiener_{sep.wiener_iterations}" + (" (default)" if sep.wiener_iterations == default else "")
        per_track = {}
        for track in tracks:
            est = separate(sep, track.mixture, SAMPLE_RATE)
            per_track[track.name] = {s: v["SDR"] for s, v in score_track(track.targets, est).items()}
        real = {k: v for k, v in per_track.items() if k == EXCERPT_NAME}
        synth = {k: v for k, v in per_track.items() if k != EXCERPT_NAME}
        entry = {"per_track": per_track}
        for name, group in (("real_excerpt", real), ("synth_test", synth)):
            if group:
                med = {s: float(np.nanmedian([t[s] for t in group.values()])) for s in SOURCES}
                med["avg"] = float(np.mean([med[s] for s in SOURCES]))
                entry[name] = med
                print(f"{label:22s} {name:13s} ({len(group):2d} tracks) "
                      + " ".join(f"{s} {med[s]:6.2f}" for s in SOURCES) + f"  avg {med['avg']:.2f}", flush=True)
        table[label] = entry
    return table


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--tracks", type=int, default=None, help="score only the first N test tracks")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-scores", action="store_true")
    p.add_argument("--json", default=None)
    p.add_argument("--table-json", default=None, help="the speed table for the README (docs/unet_speed.json)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tracks = load_tracks(subset="test")
    if args.tracks:
        tracks = tracks[: args.tracks]
    result: dict = {"model": args.model or "best_model.pth", "threads": args.threads}
    if not args.skip_speed:
        synth = [t for t in tracks if t.name != EXCERPT_NAME]
        clip = synth[0].mixture if synth else np.tile(tracks[0].mixture, (5, 1))
        result["speed_30s"] = speed(args.model, args.repeats, np.ascontiguousarray(clip[: 30 * SAMPLE_RATE]))
    if not args.skip_scores:
        result["sdr"] = scores(args.model, tracks, [0, 1])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.table_json and "speed_30s" in result:
        from readme_tables import write_table

        rows = [[it.split("_")[1], f"{r['best_s']:.3f} s, {r['realtime_factor_best']:.0f}x real time",
                 f"{r['median_s']:.3f} s, {r['realtime_factor_median']:.0f}x"] for it, r in result["speed_30s"].items()]
        write_table(args.table_json, ["Wiener iterations", "best", "median"], rows,
                    f"{args.threads} threads, best and median of {args.repeats} runs on a 30 s clip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
