"""Vocals over real instrumental records: a probe with real recordings, never trained on.

    .venv/bin/python -m musicsep.data.records data/synth_v6/valid data/psola_v6/valid \
        --out data/real_backing/valid --seed 0
    .venv/bin/python benchmarks/real_backing_probe.py best_model.pth [MODEL ...] \
        --probe data/real_backing/valid --threads 1 [--json FILE]

The probe's songs (``musicsep.data.records``) lay the vocal stems of synthetic valid songs
(held-out voices) over 30 s of held-out real instrumental records, so the true stems are vocals and
accompaniment. Each mixture is separated whole; the model's vocals are scored against the voice
and its drums + bass + other against the record (museval SDR, median over 1 s windows, then over
songs, as ``select_unet.py`` does). The record alone is separated too, to measure **false vocals**:
the energy of the vocal output on music without a voice, relative to the record, in dB (median
over songs; lower is better) -- real guitars, keys and pads taken for a voice, which the synthetic
valid splits cannot show.
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
from musicsep.data.records import read_records_song, rms  # noqa: E402
from musicsep.evaluate import score_track  # noqa: E402
from musicsep.inference import separate  # noqa: E402
from musicsep.train import song_folders  # noqa: E402


def score(separator, songs: list[np.ndarray]) -> dict[str, float]:
    """museval SDR of vocals and accompaniment (medians), their mean, and false vocals in dB."""
    sdr: dict[str, list[float]] = {"vocals": [], "accompaniment": []}
    false_vocals = []
    for accompaniment, vocals in songs:
        est = separate(separator, accompaniment + vocals, SAMPLE_RATE)
        refs = {"vocals": vocals, "accompaniment": accompaniment}
        ests = {"vocals": est["vocals"], "accompaniment": sum(est[s] for s in SOURCES if s != "vocals")}
        for stem, v in score_track(refs, ests).items():
            if np.isfinite(v["SDR"]):
                sdr[stem].append(v["SDR"])
        alone = separate(separator, accompaniment, SAMPLE_RATE)["vocals"]
        false_vocals.append(20 * np.log10(max(rms(alone), 1e-9) / max(rms(accompaniment), 1e-9)))
    result = {stem: float(np.median(v)) for stem, v in sdr.items()}
    result["avg"] = float(np.mean([result["vocals"], result["accompaniment"]]))
    result["false_vocals_db"] = float(np.median(false_vocals))
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="U-Net checkpoints")
    p.add_argument("--probe", default="data/real_backing/valid")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    from musicsep.errors import UserError
    from musicsep.separators.unet import UNetSeparator

    torch.set_num_threads(args.threads)
    try:
        folders = song_folders(args.probe)
    except UserError as exc:
        print(f"error: {exc} (make the probe with python -m musicsep.data.records, see --help)", file=sys.stderr)
        return 2
    songs = [read_records_song(f) for f in folders]
    result = {"probe": args.probe, "songs": [f.name for f in folders], "scores": {}}
    for model in args.models:
        r = score(UNetSeparator(model_path=model), songs)
        result["scores"][model] = r
        print(f"{model:40s} vocals {r['vocals']:5.2f} accompaniment {r['accompaniment']:5.2f} "
              f"avg {r['avg']:5.2f} | false vocals {r['false_vocals_db']:6.2f} dB", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
