"""A short audio example of the generator's guitars: a strum through amp + cabinet, then picking.

    .venv/bin/python benchmarks/guitar_example.py [--seed 2] [--out docs/guitar_amp.ogg]

The first half strums a pop pattern on a clean electric guitar into a crunch amp, double-tracked
(2x12 and 4x12 cabinets, panned apart); the second half picks a steel-string guitar dry. Both
come from ``musicsep.data.synth`` exactly as songs use them (MuseScore General presets when installed).
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
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each half")
    ap.add_argument("--out", type=Path, default=Path("docs/guitar_amp.ogg"))
    args = ap.parse_args()
    font = "musescore" if musescore_path() else "fluidr3"
    new_renderer()
    halves = []
    for program, cabs in ((27, ("2x12_combo", "4x12_closed")), (25, ())):
        rng = np.random.default_rng(args.seed)
        plan = make_plan(rng, args.seconds, args.seed, "train", style="pop")
        takes = [Part(f"guitar{k}", program=program, params={"font": font}, pan=pan,
                      fx={"amp": {"model": "crunch", "cab": cab}})
                 for k, (cab, pan) in enumerate(zip(cabs, (-0.8, 0.8)))]
        if takes:
            strummed_part(plan, rng, takes[0], {}, double=takes[1])
        else:
            takes = [Part("guitar", program=program, params={"font": font})]
            picked_part(plan, rng, takes[0], {})
        y = sum(render_part(part, plan.n_samples, rng) for part in takes)
        halves.append(y / (np.abs(y).max() + 1e-9))
    y = np.concatenate(halves)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(args.out), (0.9 * y).astype(np.float32), SR, format="OGG", subtype="VORBIS",
             compression_level=0.7)
    print(f"wrote {args.out} ({y.shape[0] / SR:.1f} s)")


if __name__ == "__main__":
    main()
