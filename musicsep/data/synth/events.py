"""Note-event containers shared by the part generators."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Part:
    """One instrument of one stem: GM preset (or a synth engine) plus timed events in seconds.

    ``events`` holds ``(time, kind, a, b)`` with kind ``on``/``off``/``bend``/``cc`` (see
    :mod:`.fluid`). ``engine`` is ``"fluid"`` for SoundFont presets; other engines render
    ``notes`` themselves. ``fx`` carries per-part effect choices for :mod:`.mix`.
    """

    name: str
    program: int = 0
    bank: int = 0
    engine: str = "fluid"
    events: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # (start, dur, pitch, vel) for own engines
    pan: float = 0.0
    gain_db: float = 0.0
    fx: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def note(self, t: float, dur: float, pitch: int, vel: float) -> None:
        pitch = int(pitch)
        vel = int(np.clip(vel, 1, 127))
        dur = max(dur, 0.02)
        self.events.append((t, "on", pitch, vel))
        self.events.append((t + dur, "off", pitch, 0))
        self.notes.append((t, dur, pitch, vel))

    def bend_curve(self, t0: float, times: np.ndarray, semis: np.ndarray, bend_range: int = 2) -> None:
        """Pitch-bend events following ``semis`` (semitones) at ``t0 + times``."""
        vals = np.clip(np.round(semis / bend_range * 8191), -8192, 8191).astype(int)
        last = None
        for tt, v in zip(times, vals):
            if v != last:
                self.events.append((t0 + float(tt), "bend", int(v), 0))
                last = v


def vibrato_curve(rng: np.random.Generator, dur: float, depth: float, rate: float,
                  delay: float = 0.15, step: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Times and a vibrato (semitones) that fades in after ``delay``, with slight rate drift."""
    t = np.arange(0.0, dur, step)
    fade = np.clip((t - delay) / 0.25, 0, 1)
    r = rate * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)))
    ph = 2 * np.pi * np.cumsum(r) * step
    return t, depth * fade * np.sin(ph)
