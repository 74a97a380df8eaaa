"""A short audio example of the generator's guitars: strummed, then picked, through amp + cabinet.

    .venv/bin/python benchmarks/guitar_example.py [--seed 2] [--out docs/guitar_amp.ogg]

The first half strums a pop pattern on a clean electric guitar into a crunch amp and a 2x12
cabinet; the second half picks a steel-string guitar dry. Both come from ``musicsep.data.synth``
exactly as songs use them (MuseScore General presets when installed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from musicsep.data.synth.events import Part
from musicsep.data.synth.fluid import musescore_path, new_renderer
from musicsep.data.synth.guitar import picked_part, strummed_part
from musicsep.data.synth.render import render_part
from musicsep.data.synth.song import make_plan

SR = 44100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each half")
    ap.add_argument("--out", type=Path, default=Path("docs/guitar_amp.ogg"))
    args = ap.parse_args()
    font = "musescore" if musescore_path() else "fluidr3"
    new_renderer()
    halves = []
    for program, fx, play in ((27, {"amp": {"model": "crunch", "cab": "2x12_combo"}}, strummed_part),
                              (25, {}, picked_part)):
        rng = np.random.default_rng(args.seed)
        plan = make_plan(rng, args.seconds, args.seed, "train", style="pop")
        part = Part("guitar", program=program, params={"font": font}, fx=fx)
        play(plan, rng, part, {})
        y = render_part(part, plan.n_samples, rng)
        halves.append(y / (np.abs(y).max() + 1e-9))
    y = np.concatenate(halves)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(args.out), (0.9 * y).astype(np.float32), SR, format="OGG", subtype="VORBIS")
    print(f"wrote {args.out} ({y.shape[0] / SR:.1f} s)")


if __name__ == "__main__":
    main()
