"""Drum parts: GM kit patterns per style, variations, fills, crashes, humanised timing/velocity."""

from __future__ import annotations

import numpy as np

from .events import Part
from .song import SongPlan, step_time

KICK, SNARE, RIM, CLAP, HAT, PEDAL, OPEN, CRASH, RIDE, BELL, TAMB, SHAKER = (
    36, 38, 37, 39, 42, 44, 46, 49, 51, 53, 54, 70)
TOMS = (50, 48, 47, 45, 43, 41)

# FluidR3 drum kits (bank 128): standard, room, power, electronic, TR-808, jazz, brush
KITS = (0, 8, 16, 24, 25, 32, 40)
HOLDOUT_KITS = (8,)

# patterns: kick / snare / hats, 16 steps; X accent, x normal, g ghost; hats: x closed, o open, r ride
PATTERNS = {
    "rock": [
        ("x.......x.x.....", "....x.......x...", "x.x.x.x.x.x.x.x."),
        ("x.....x.x.......", "....x.......x...", "x.x.x.x.x.x.x.xo"),
        ("x.x.....x.x.....", "....x.......x..g", "xxxxxxxxxxxxxxxx"),
        ("x.......x..x....", "....x.......x...", "r.r.r.r.r.r.r.r."),
    ],
    "pop": [
        ("x.......x.......", "....x.......x...", "x.x.x.x.x.x.x.x."),
        ("x......xx.......", "....x.......x...", "xxx.xxx.xxx.xxx."),
        ("x.....x...x.....", "....x.......x...", "x.xox.x.x.xox.x."),
        ("x..x....x.......", "....x.......x...", "x.x.x.x.x.x.x.x."),
    ],
    "funk": [
        ("x.....x...x..x..", "....x..g.g..x..g", "xxxxxxxxxxxxxxxx"),
        ("x.x....x..x.....", "..g.x..g.g..x.g.", "x.x.x.x.x.x.xox."),
        ("x..x..x...x.....", "....x.g..g..x...", "xxxxxxxoxxxxxxxx"),
    ],
    "hiphop": [
        ("x.........x.....", "....x.......x...", "x.x.x.x.x.x.x.x."),
        ("x......x..x.....", "....x.......x...", "xxxxxxxxxxxxxxxx"),
        ("x..x......x..x..", "....x.......x...", "x.x.x.x.x.x.x.x."),
    ],
    "electronic": [
        ("x...x...x...x...", "....x.......x...", "..x...x...x...x."),
        ("x...x...x...x...", "....x.......x...", "xxoxxxoxxxoxxxox"),
        ("x...x...x...x..x", "....x.......x...", "..o...o...o...o."),
    ],
    "ballad": [  # half-time: snare on 3
        ("x.......x.......", "........x.......", "x.x.x.x.x.x.x.x."),
        ("x.....x.........", "........x.......", "r...r...r...r..."),
        ("x..........x....", "........x.......", "x.x.x.x.x.x.x.x."),
    ],
    "shuffle": [  # steps 0,2 of each beat become a triplet feel through swing
        ("x.......x.......", "....x.......x...", "x.xxx.xxx.xxx.xx"),
        ("x.....x.x.......", "....x.......x...", "r.rrr.rrr.rrr.rr"),
        ("x.x.....x.x.....", "....x.......x...", "x.x.x.x.x.x.x.x."),
    ],
    "punk": [
        ("x...x...x...x...", "..x...x...x...x.", "x.x.x.x.x.x.x.x."),
        ("x.x.....x.x.....", "....x.......x...", "xxxxxxxxxxxxxxxx"),
    ],
}
# the last variant of each style is only used for the test split
HOLDOUT_VARIANT = -1


def pick(rng: np.random.Generator, pool, holdout, split: str):
    """Choose from ``pool``: train never sees ``holdout``; test favours it half the time."""
    pool = list(pool)
    holdout = [h for h in holdout if h in pool]
    if split == "train":
        rest = [p for p in pool if p not in holdout] or pool
        return rest[int(rng.integers(len(rest)))]
    if holdout and rng.random() < 0.5:
        return holdout[int(rng.integers(len(holdout)))]
    return pool[int(rng.integers(len(pool)))]


def _variants(style: str, split: str) -> list:
    v = PATTERNS[style]
    return v[:-1] if split == "train" and len(v) > 1 else v


def make_drums(plan: SongPlan, rng: np.random.Generator) -> tuple[Part, list[float]]:
    """The drum part and the kick onset times (for the bass to lock to)."""
    kit = pick(rng, KITS, HOLDOUT_KITS, plan.split)
    if plan.style in ("electronic", "hiphop") and rng.random() < 0.6:
        kit = int(rng.choice([24, 25]))
    part = Part("drums", program=kit, bank=128, pan=0.0)
    variants = _variants(plan.style, plan.split)
    timing_sd = float(rng.uniform(0.002, 0.012)) if plan.style != "electronic" else 0.001
    vel_sd = float(rng.uniform(4, 12))
    base_vel = float(rng.uniform(85, 110))
    kick_times: list[float] = []
    snare_note = SNARE if rng.random() < 0.8 else int(rng.choice([40, CLAP]))
    use_tamb = rng.random() < 0.15
    pattern_by_section: dict[int, tuple] = {}
    for b, sec, chord, bt, i in plan.bars():
        if not sec.active["drums"]:
            continue
        key = sec.start_bar
        if key not in pattern_by_section:
            pattern_by_section[key] = variants[int(rng.integers(len(variants)))]
        kick, snare, hats = pattern_by_section[key]
        energy = sec.energy
        if sec.name in ("intro", "breakdown", "outro") and rng.random() < 0.3:
            hats = "r...r...r...r..." if "r" not in hats else "x...x...x...x..."
        last_bar = i == sec.bars - 1
        fill = last_bar and rng.random() < 0.65
        fill_from = 16 - 4 * int(rng.integers(1, 3)) if fill else 99
        # crash at the start of a section (and sometimes every 8 bars in a chorus)
        if i == 0 or (sec.name == "chorus" and i % 8 == 0 and rng.random() < 0.5):
            t = step_time(plan, bt, 0) + rng.normal(0, timing_sd)
            part.note(t, 1.5, CRASH if rng.random() < 0.8 else 57, base_vel + 10)

        def hit(step, note, vel, dur=0.12):
            t = step_time(plan, bt, step) + rng.normal(0, timing_sd)
            v = vel * (0.75 + 0.25 * energy) + rng.normal(0, vel_sd)
            part.note(t, dur, note, v)
            return t

        for s in range(16):
            if s >= fill_from:
                continue
            if kick[s] == "x" or (rng.random() < 0.04 * energy and s % 2 == 0 and kick[s] == "."):
                kick_times.append(hit(s, KICK, base_vel + 5))
            c = snare[s]
            if c in "xX":
                hit(s, snare_note, base_vel + (15 if c == "X" else 5))
            elif c == "g" and rng.random() < 0.8:
                hit(s, SNARE, 35)
            h = hats[s]
            if h != ".":
                accent = 12 if s % 4 == 0 else (0 if s % 2 == 0 else -12)
                note = {"x": HAT, "o": OPEN, "r": RIDE}[h]
                if energy < 0.5 and note == HAT and rng.random() < 0.3:
                    note = PEDAL
                hit(s, note, base_vel - 15 + accent, 0.1 if note != OPEN else 0.25)
            if use_tamb and s % 4 == 2:
                hit(s, TAMB, base_vel - 30)
        if fill:
            toms = list(TOMS)
            k = int(rng.integers(0, 3))
            for s in range(fill_from, 16):
                if rng.random() < 0.15:
                    continue
                kind = rng.random()
                note = SNARE if kind < 0.4 else toms[min(len(toms) - 1, (s - fill_from) // 2 + k)]
                hit(s, note, base_vel + rng.uniform(-5, 15))
                if rng.random() < 0.3:
                    hit(s + 0.5, note, base_vel - 10)
            kick_times.append(hit(fill_from, KICK, base_vel))
    return part, kick_times
