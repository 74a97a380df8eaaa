"""Bass parts: GM electric / upright / slap / synth basses (FluidR3 or MuseScore General), sampled
synth and slap basses (:mod:`.samples`) and our own subtractive synth bass, sometimes filter-swept.

The line follows the chord roots (fifths, octaves, approach notes) and locks to the kick drum.
"""

from __future__ import annotations

import numpy as np

from .drums import pick
from .events import Part
from .fluid import choose_font
from .samples import BASS_SAMPLES, HOLDOUT_BASS, available
from .song import SongPlan, step_time

# GM programs: 32 acoustic (upright), 33 finger, 34 pick, 35 fretless, 36/37 slap, 38/39 synth
GM_BASSES = (32, 33, 34, 35, 36, 37, 38, 39)
HOLDOUT_GM = (37, 39)
SYNTH_BASSES = ("acid_bass", "pluck_bass", "square_bass", "reese_bass", "sub_bass")
HOLDOUT_SYNTH = ("reese_bass",)
SAMPLED_SHARE = 0.2  # of the songs without our synth bass

STYLE_LINES = {
    "rock": ("eighths", "kick", "root_fifth"),
    "pop": ("kick", "root_fifth", "eighths", "sustain"),
    "funk": ("funk", "kick"),
    "hiphop": ("kick", "sustain"),
    "electronic": ("offbeat", "kick", "sustain", "eighths"),
    "ballad": ("sustain", "root_fifth"),
    "shuffle": ("walking", "root_fifth"),
    "punk": ("eighths",),
}


def _root_pitch(pc: int, low: int) -> int:
    p = low + ((pc - low) % 12)
    return p


def make_bass(plan: SongPlan, rng: np.random.Generator, kick_times: list[float]) -> Part:
    synth = rng.random() < (0.7 if plan.style in ("electronic", "hiphop") else 0.33)
    if synth:
        preset = pick(rng, SYNTH_BASSES, HOLDOUT_SYNTH, plan.split)
        part = Part("bass", engine="subtractive", params={"preset": preset,
                    "glide": float(rng.choice([0.0, 0.0, 0.02, 0.05]))})
        if rng.random() < 0.35:
            part.params["sweep_bar"] = plan.bar
    elif rng.random() < SAMPLED_SHARE and available(BASS_SAMPLES):
        name = pick(rng, available(BASS_SAMPLES), HOLDOUT_BASS, plan.split)
        part = Part("bass", engine="sampler", params={"sample": str(name)})
    else:
        prog = pick(rng, GM_BASSES, HOLDOUT_GM, plan.split)
        if plan.style == "funk" and rng.random() < 0.5:
            prog = 36
        if plan.style == "shuffle" and rng.random() < 0.5:
            prog = 32
        part = Part("bass", program=int(prog))
        choose_font(part, rng)
    part.pan = float(rng.uniform(-0.05, 0.05))
    line = str(rng.choice(STYLE_LINES[plan.style]))
    low = int(rng.integers(28, 36))  # lowest root: E1..B1
    kick = np.array(sorted(kick_times))
    timing_sd = float(rng.uniform(0.002, 0.01))
    base_vel = float(rng.uniform(80, 110))
    bars = list(plan.bars())
    scale_pcs = plan.scale_pcs()
    for j, (b, sec, chord, bt, i) in enumerate(bars):
        if not sec.active["bass"]:
            continue
        root = _root_pitch(chord.root, low)
        fifth = root + 7
        octave = root + 12
        nxt = bars[j + 1][2].root if j + 1 < len(bars) else chord.root
        bar_end = bt + plan.bar
        sec_line = line if sec.name not in ("intro", "breakdown", "outro") or rng.random() < 0.5 else "sustain"
        notes: list[tuple[float, int, float]] = []  # (step, pitch, vel)
        if sec_line == "kick":
            ks = kick[(kick >= bt - 0.02) & (kick < bar_end - 0.02)]
            steps = sorted({int(round((k - bt) / plan.beat * 4)) for k in ks} | {0})
            for s in steps:
                notes.append((s, root if rng.random() < 0.8 else octave, base_vel))
        elif sec_line == "eighths":
            for s in range(0, 16, 2):
                p = root if s < 14 or rng.random() < 0.6 else root + (nxt - chord.root) % 12 - 1
                notes.append((s, p, base_vel + (8 if s % 4 == 0 else -5)))
        elif sec_line == "root_fifth":
            for s, p in ((0, root), (6, root), (8, fifth), (12, octave if rng.random() < 0.5 else root)):
                notes.append((s, p, base_vel))
        elif sec_line == "sustain":
            notes.append((0, root, base_vel))
            if rng.random() < 0.4:
                notes.append((8, fifth if rng.random() < 0.5 else root, base_vel - 10))
        elif sec_line == "offbeat":
            for s in (2, 6, 10, 14):
                notes.append((s, root if rng.random() < 0.8 else octave, base_vel))
        elif sec_line == "funk":
            for s in range(16):
                r = rng.random()
                if s == 0:
                    notes.append((s, root, base_vel + 10))
                elif s % 2 == 1 and r < 0.35:
                    notes.append((s, root if rng.random() < 0.5 else octave, base_vel - (30 if rng.random() < 0.4 else 0)))
                elif r < 0.25:
                    notes.append((s, int(rng.choice([root, octave, fifth, root + 10])), base_vel))
        elif sec_line == "walking":
            target = _root_pitch(nxt, low)
            walk = [root, root + int(rng.choice([4, 3, 2])), fifth, target + int(rng.choice([-1, 1, 2]))]
            for k, p in enumerate(walk):
                notes.append((4 * k, p, base_vel))
        notes.sort()
        for k, (s, p, v) in enumerate(notes):
            t = step_time(plan, bt, s) + rng.normal(0, timing_sd)
            s_next = notes[k + 1][0] if k + 1 < len(notes) else 16
            dur = (s_next - s) * plan.beat / 4 * float(rng.uniform(0.7, 0.95))
            if sec_line == "sustain":
                dur = (s_next - s) * plan.beat / 4 * 0.97
            part.note(t, dur, p, v + rng.normal(0, 6))
            if part.engine == "fluid" and part.program in (35, 38, 39) and rng.random() < 0.12 and dur > 0.2:
                # a slide into the note from below (fretless / synth)
                tt = np.linspace(0, 0.08, 9)
                part.bend_curve(t, tt, -1.0 * (1 - tt / 0.08))
    return part
