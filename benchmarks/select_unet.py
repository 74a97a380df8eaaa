"""Choose between U-Net checkpoints on the synthetic *valid* split, never on test data.

    .venv/bin/python benchmarks/select_unet.py best_model.pth runs/unet3/best_model.pth [--forest]
        [--valid data/synth_v2/valid] [--json FILE] [--known EARLIER.json ...] [--table-json FILE]
        [--codec aac:128k] [--oracle]

The valid split (``musicsep synth --split valid``) has its own seeds and, like the test split,
draws held-out instruments, drum kits and voices, so it tells how a model carries over to sounds
it never trained on. Each song is separated whole (chunked as ``musicsep separate`` does) with the
separator's default settings and scored like ``musicsep compare``: museval BSS Eval v4 SDR, median
over 1 s windows, then the median over songs per stem (a stem that is silent in a song is left out
for that song); the global SDR (mean over songs) is printed too. ``--forest`` adds the Stage 3
forest as a reference. ``--codec aac:128k`` (or ``mp3:128k``, ...) first sends each mixture through
that lossy codec with ffmpeg, as most songs reach users, and scores against the clean stems.
``--oracle`` adds the ideal ratio mask of the true stems on the same STFT (4096 / 1024): the ceiling
of any network that masks it, also with ``--codec`` (the mask cannot remove the codec's noise).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musicsep import SAMPLE_RATE, SOURCES  # noqa: E402
from musicsep.audio import LOSSY_CODECS, lossy_roundtrip  # noqa: E402
from musicsep.evaluate import score_track  # noqa: E402
from musicsep.inference import separate  # noqa: E402
from musicsep.train import read_song_stems, song_folders  # noqa: E402


def score(separator, songs, codec: tuple[str, str] | None = None) -> dict[str, dict[str, float]]:
    per_song: dict[str, list[float]] = {s: [] for s in SOURCES}
    global_sdr: dict[str, list[float]] = {s: [] for s in SOURCES}
    for _, stems in songs:
        mixture = sum(stems[s] for s in SOURCES)
        if codec is not None:
            mixture = lossy_roundtrip(mixture, *codec)
        if getattr(separator, "needs_references", False):  # the oracle masks the whole song at once
            est = separator.separate_with_references(mixture, SAMPLE_RATE, stems)
        else:
            est = separate(separator, mixture, SAMPLE_RATE)
        audible = {s: stems[s] for s in SOURCES if np.abs(stems[s]).max() > 1e-4}
        for s, v in score_track(audible, {s: est[s] for s in audible}).items():
            if np.isfinite(v["SDR"]):
                per_song[s].append(v["SDR"])
            global_sdr[s].append(v["global_SDR"])
    sdr = {s: float(np.median(v)) for s, v in per_song.items()}
    sdr["avg"] = float(np.mean([sdr[s] for s in SOURCES]))
    glob = {s: float(np.mean(v)) for s, v in global_sdr.items()}
    glob["avg"] = float(np.mean([glob[s] for s in SOURCES]))
    return {"SDR": sdr, "global_SDR": glob}


def show(name: str, r: dict) -> None:
    print(f"{name:34s} SDR " + " ".join(f"{s} {r['SDR'][s]:5.2f}" for s in SOURCES)
          + f"  avg {r['SDR']['avg']:.2f} | global SDR avg {r['global_SDR']['avg']:.2f}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", help="U-Net checkpoints (none: only the --known scores, e.g. to redraw a table)")
    p.add_argument("--valid", default="data/synth_v2/valid")
    p.add_argument("--forest", action="store_true", help="score the Stage 3 forest too, for reference")
    p.add_argument("--oracle", action="store_true", help="score the ideal ratio mask too: the ceiling of masking")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    p.add_argument("--known", nargs="+", default=[], metavar="JSON",
                   help="scores saved earlier by --json on the same valid songs: listed first, not recomputed")
    p.add_argument("--table-json", default=None, help="the README's table (docs/valid_split.json)")
    p.add_argument("--codec", default=None, metavar="CODEC:BITRATE",
                   help=f"code each mixture first ({', '.join(LOSSY_CODECS)}), e.g. aac:128k")
    args = p.parse_args()
    codec = tuple(args.codec.split(":", 1)) if args.codec else None
    if codec is not None and (len(codec) != 2 or codec[0] not in LOSSY_CODECS):
        print(f"error: --codec takes CODEC:BITRATE with CODEC one of {', '.join(LOSSY_CODECS)}, e.g. aac:128k",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    folder = Path(args.valid)
    if not folder.is_dir():
        print(f"error: no valid split at {folder} (musicsep synth --out data/synth_v2 --tracks 16 --seed 0 "
              "--split valid)", file=sys.stderr)
        return 2
    songs = [(song.name, read_song_stems(song)) for song in song_folders(folder)]
    candidates = {}
    if args.forest:
        from musicsep.separators.forest import ForestSeparator

        candidates["forest"] = ForestSeparator
    if args.oracle:
        from musicsep.separators.oracle import OracleSeparator

        candidates["oracle-irm"] = OracleSeparator
    from musicsep.separators.unet import UNetSeparator

    for model in args.models:
        candidates[model] = lambda m=model: UNetSeparator(model_path=m)
    result = {"valid": str(folder), "songs": [n for n, _ in songs], "scores": {}}
    if codec is not None:
        result["codec"] = args.codec
    for path in args.known:
        known = json.loads(Path(path).read_text())
        if known["songs"] != result["songs"] or known.get("codec") != result.get("codec"):
            print(f"error: {path} scored other songs, or another codec, than this run", file=sys.stderr)
            return 2
        result["scores"].update(known["scores"])
        for name, r in known["scores"].items():
            show(name, r)
    for name, make in candidates.items():
        result["scores"][name] = score(make(), songs, codec)
        show(name, result["scores"][name])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.table_json:
        from readme_tables import write_table

        rows = [[name, *(f"{r['SDR'][k]:.2f}" for k in (*SOURCES, "avg")), f"{r['global_SDR']['avg']:.2f}"]
                for name, r in result["scores"].items()]
        coded = f", mixtures through {args.codec}" if codec else ""
        write_table(args.table_json, [f"{folder.parent.name} valid split ({len(songs)} songs{coded}), museval SDR median",
                                      *SOURCES, "avg",
                                      "global SDR avg"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
