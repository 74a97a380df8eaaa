"""Song plan: key, tempo, style, chord progression and a pop-song structure.

A plan is a whole song (intro, verses, choruses, bridge, outro) from which a window of the wanted
length is cut, like a MUSDB18 excerpt: stems enter and leave at section boundaries, and some are
silent for long stretches. Everything here is pure data drawn from one ``numpy`` generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STEMS = ("drums", "bass", "other", "vocals")

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)

# style -> (tempo range BPM, swing, typical bass style, feel)
STYLES = {
    "rock": ((100, 160), 0.0),
    "pop": ((88, 132), 0.0),
    "funk": ((90, 118), 0.0),
    "hiphop": ((72, 100), 0.15),
    "electronic": ((116, 132), 0.0),
    "ballad": ((60, 84), 0.0),
    "shuffle": ((80, 150), 1.0),
    "punk": ((150, 180), 0.0),
}

# progressions as scale degrees (0-based) per bar; chord quality comes from the scale
PROG_MAJOR = [
    (0, 4, 5, 3), (5, 3, 0, 4), (0, 3, 4, 3), (0, 5, 3, 4), (0, 3, 0, 4), (1, 4, 0, 0),
    (0, 0, 3, 3), (3, 4, 0, 5), (0, 2, 3, 4), (3, 0, 4, 5), (0, 4, 3, 0), (5, 4, 3, 4),
]
PROG_MINOR = [
    (0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4), (0, 3, 6, 2), (5, 6, 0, 0),
    (0, 2, 6, 3), (0, 0, 5, 4), (3, 4, 0, 0), (0, 6, 3, 5),
]
BLUES = (0, 0, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4)

# section name -> (bars choices, activity probabilities for drums, bass, other, vocals, energy)
SECTION_TYPES = {
    "intro": ((4, 8), (0.45, 0.45, 0.95, 0.08), 0.4),
    "verse": ((8, 16), (0.85, 0.9, 0.9, 1.0), 0.6),
    "prechorus": ((4,), (0.8, 0.9, 0.95, 1.0), 0.7),
    "chorus": ((8,), (0.97, 0.97, 1.0, 1.0), 1.0),
    "bridge": ((4, 8), (0.6, 0.7, 1.0, 0.55), 0.6),
    "solo": ((8,), (0.95, 0.95, 1.0, 0.05), 0.9),
    "breakdown": ((4,), (0.5, 0.3, 0.9, 0.4), 0.35),
    "outro": ((4, 8), (0.5, 0.55, 0.95, 0.3), 0.4),
}

FORMS = [
    ["intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"],
    ["intro", "verse", "prechorus", "chorus", "verse", "prechorus", "chorus", "solo", "chorus", "outro"],
    ["intro", "verse", "verse", "chorus", "breakdown", "chorus", "outro"],
    ["verse", "chorus", "verse", "chorus", "solo", "chorus", "chorus"],
    ["intro", "chorus", "verse", "chorus", "bridge", "breakdown", "chorus", "outro"],
]


@dataclass
class Chord:
    root: int           # pitch class 0-11
    tones: tuple        # intervals from root, e.g. (0, 4, 7) or (0, 3, 7, 10)

    def pcs(self) -> list[int]:
        return [(self.root + t) % 12 for t in self.tones]


@dataclass
class Section:
    name: str
    start_bar: int
    bars: int
    active: dict
    energy: float
    progression: list = field(default_factory=list)  # one Chord per bar


@dataclass
class SongPlan:
    seed: int
    split: str
    style: str
    tempo: float
    swing: float
    key: int
    minor: bool
    sections: list
    bar_offset: float          # seconds: song time of the window start
    seconds: float
    sample_rate: int = 44100
    no_vocals: bool = False

    @property
    def beat(self) -> float:
        return 60.0 / self.tempo

    @property
    def bar(self) -> float:
        return 4 * self.beat

    @property
    def n_samples(self) -> int:
        return int(round(self.seconds * self.sample_rate))

    @property
    def scale(self) -> tuple:
        return MINOR if self.minor else MAJOR

    def scale_pcs(self) -> list[int]:
        return [(self.key + s) % 12 for s in self.scale]

    def bars(self):
        """Yield ``(bar_index, section, chord, bar_start_seconds)`` for bars touching the window.

        Times are relative to the window start (may be negative for one lead-in bar).
        """
        for sec in self.sections:
            for i in range(sec.bars):
                b = sec.start_bar + i
                t = b * self.bar - self.bar_offset
                if t + self.bar < -self.bar or t > self.seconds:
                    continue
                yield b, sec, sec.progression[i], t, i

    def section_at(self, t: float):
        for sec in self.sections:
            s = sec.start_bar * self.bar - self.bar_offset
            if s <= t < s + sec.bars * self.bar:
                return sec
        return self.sections[-1]


def chord_from_degree(key: int, scale: tuple, degree: int, seventh: bool) -> Chord:
    root = scale[degree % 7]
    third = scale[(degree + 2) % 7]
    fifth = scale[(degree + 4) % 7]
    tones = [0, (third - root) % 12, (fifth - root) % 12]
    if seventh:
        tones.append((scale[(degree + 6) % 7] - root) % 12)
    return Chord((key + root) % 12, tuple(tones))


def make_plan(rng: np.random.Generator, seconds: float, seed: int, split: str,
              style: str | None = None) -> SongPlan:
    style = style or str(rng.choice(list(STYLES), p=[0.18, 0.2, 0.1, 0.1, 0.1, 0.12, 0.1, 0.1]))
    (lo, hi), swing = STYLES[style]
    tempo = float(rng.uniform(lo, hi))
    if style == "shuffle":
        swing = 1.0
    elif swing:
        swing = float(rng.uniform(0, 0.5))
    elif rng.random() < 0.1:
        swing = float(rng.uniform(0.1, 0.4))
    minor = bool(rng.random() < 0.45)
    key = int(rng.integers(12))
    scale = MINOR if minor else MAJOR
    progs = PROG_MINOR if minor else PROG_MAJOR
    sevenths = rng.random() < (0.6 if style in ("funk", "shuffle") else 0.2)
    by_type = {}
    for name in SECTION_TYPES:
        if style == "shuffle" and name in ("verse", "solo", "chorus"):
            degs = BLUES
            by_type[name] = [Chord((key + (0, 5, 7)[[0, 3, 4].index(d)]) % 12, (0, 4, 7, 10)) for d in degs]
            continue
        p = progs[int(rng.integers(len(progs)))]
        if rng.random() < 0.25:  # two bars per chord
            p = tuple(d for d in p for _ in range(2))
        by_type[name] = [chord_from_degree(key, scale, d, bool(sevenths and rng.random() < 0.7)) for d in p]
    form = list(FORMS[int(rng.integers(len(FORMS)))])
    no_vocals = bool(rng.random() < 0.04)
    no_drums = bool(rng.random() < 0.05) or (style == "ballad" and rng.random() < 0.2)
    sections, bar = [], 0
    for name in form:
        bars_choice, probs, energy = SECTION_TYPES[name]
        nb = int(rng.choice(bars_choice))
        if style == "shuffle" and name in ("verse", "solo", "chorus"):
            nb = 12
        active = {s: bool(rng.random() < p) for s, p in zip(STEMS, probs)}
        if no_vocals:
            active["vocals"] = False
        if no_drums:
            active["drums"] = False
        if not any(active.values()):
            active["other"] = True
        prog = by_type[name]
        sections.append(Section(name, bar, nb, active, energy * float(rng.uniform(0.85, 1.15)),
                                [prog[i % len(prog)] for i in range(nb)]))
        bar += nb
    bar_sec = 4 * 60.0 / tempo
    total = bar * bar_sec
    # a window like a MUSDB18 excerpt: anywhere in the song, starting on a bar line
    max_start_bar = max(0, int((total - seconds) / bar_sec))
    start_bar = int(rng.integers(0, max_start_bar + 1)) if max_start_bar > 0 else 0
    while total < start_bar * bar_sec + seconds:  # song too short: loop the last sections
        src = sections[-(len(sections) % 3) - 1]
        sections.append(Section(src.name, bar, src.bars, dict(src.active), src.energy, list(src.progression)))
        bar += src.bars
        total = bar * bar_sec
    return SongPlan(seed=seed, split=split, style=style, tempo=tempo, swing=swing, key=key,
                    minor=minor, sections=sections, bar_offset=start_bar * bar_sec,
                    seconds=seconds, no_vocals=no_vocals)


def step_time(plan: SongPlan, bar_t: float, step: float) -> float:
    """Time of a 16th-note step within a bar (swing delays the off-beat 8ths / 16ths)."""
    beat_i, sub = divmod(step, 4)
    if plan.swing > 0:
        if plan.style == "shuffle" or plan.swing >= 0.9:
            # triplet feel on 8ths: step 2 -> 2/3 of the beat
            warp = {0: 0.0, 1: 1 / 3, 2: 2 / 3, 3: 5 / 6}
            frac = warp.get(int(sub), sub / 4) + (sub - int(sub)) / 4
        else:
            frac = sub / 4 + (plan.swing * 0.08 if int(sub) % 2 == 1 else 0.0)
    else:
        frac = sub / 4
    return bar_t + (beat_i + frac) * plan.beat
