"""Guitars that sound played: chord shapes on six strings, strums, picking patterns, amp + cabinet.

A strum is one stroke of the pick across the strings: a down-stroke sounds the strings low to high,
an up-stroke high to low and mostly only the top three or four; the stroke takes 8-40 ms (faster
when harder), so each string starts a few milliseconds after the one before; the first strings of a
stroke are hit harder than the last, down-strokes harder than up-strokes, and muted "chucks" are
short and soft. Picked parts play one string at a time from the same shape and let it ring.

The amp is a drive stage between tone filters followed by a loudspeaker cabinet: an impulse
response synthesised here (speaker resonance, cone break-up peaks, steep roll-off above 4-7 kHz,
a microphone comb from the cabinet's reflection), made minimum-phase and convolved.
"""

from __future__ import annotations

import numpy as np
import pedalboard as pb
from scipy.signal import oaconvolve

from .drums import pick

SR = 44100
STANDARD_TUNING = (40, 45, 50, 55, 59, 64)  # E2 A2 D3 G3 B3 E4

# strum patterns on the 16th grid: (step, stroke) with "D" down, "U" up, "x" muted chuck
STRUM_PATTERNS = {
    "folk": ((0, "D"), (4, "D"), (6, "U"), (10, "U"), (12, "D"), (14, "U")),
    "eighths": tuple((s, "D" if s % 4 == 0 else "U") for s in range(0, 16, 2)),
    "downs": tuple((s, "D") for s in range(0, 16, 2)),
    "pop": ((0, "D"), (6, "U"), (8, "D"), (10, "U"), (12, "x"), (14, "U")),
    "funk": ((0, "D"), (2, "x"), (3, "U"), (4, "x"), (6, "D"), (7, "U"), (8, "x"), (10, "D"),
             (11, "U"), (12, "x"), (14, "D"), (15, "U")),
    "reggae": ((4, "x"), (12, "x")),
    "ballad": ((0, "D"), (8, "D"), (10, "U"), (12, "U"), (14, "U")),
    "pushed": ((0, "D"), (6, "D"), (10, "U"), (12, "D"), (14, "U")),
}
HOLDOUT_STRUMS = ("pushed",)
# picking patterns: string slots from the chord shape, 0 = bass string (root), -1 = top string
PICK_PATTERNS = {
    "travis": ((0, 0), (2, -1), (4, 1), (6, -2), (8, 0), (10, -1), (12, 1), (14, -2)),
    "rising": ((0, 0), (2, 1), (4, 2), (6, 3), (8, 4), (10, 3), (12, 2), (14, 1)),
    "broken": ((0, 0), (2, 2), (4, 1), (6, 3), (8, 0), (10, 2), (12, 1), (14, -1)),
    "sixteenths": tuple((s, (0, 2, 1, 3)[s % 4]) for s in range(16)),
    "ballad_arp": ((0, 0), (3, 1), (6, 2), (8, -1), (10, 2), (12, 1), (14, 2)),
}
HOLDOUT_PICKS = ("ballad_arp",)

# amp voicings: drive range (dB), pre-emphasis around 700-1000 Hz (dB), tone-stack mid cut (dB)
AMP_MODELS = {
    "clean": ((0.0, 6.0), (0.0, 2.0), (-3.0, 0.0)),
    "crunch": ((12.0, 20.0), (1.0, 4.0), (-4.0, 1.0)),
    "lead": ((22.0, 32.0), (3.0, 7.0), (-6.0, -1.0)),
    "high_gain": ((30.0, 42.0), (2.0, 6.0), (-9.0, -4.0)),
    "fuzz": ((34.0, 46.0), (-2.0, 1.0), (-2.0, 2.0)),
}
HOLDOUT_AMPS = ("fuzz",)
# cabinets: speaker resonance (Hz), break-up peak (Hz), roll-off corner (Hz), reflection delay (ms)
CABINETS = {
    "1x12_open": ((95, 130), (1800, 2600), (4800, 6500), (0.15, 0.4)),
    "2x12_combo": ((85, 115), (2200, 3200), (4500, 6000), (0.2, 0.6)),
    "4x12_closed": ((70, 100), (2500, 3800), (4000, 5500), (0.3, 0.9)),
    "small_combo": ((120, 170), (1500, 2300), (3800, 5000), (0.1, 0.3)),
    "vintage_2x10": ((100, 140), (2000, 3000), (5000, 7000), (0.2, 0.5)),
}
HOLDOUT_CABS = ("vintage_2x10",)


def chord_shape(chord_pcs: list[int], root_pc: int, position: int, rng: np.random.Generator,
                tuning=STANDARD_TUNING) -> list[int]:
    """Pitches of a chord fingered around fret ``position`` (within a 4-fret span), low to high.

    The bass string is the lowest of the bottom three that reaches the root in the span; every
    string above it plays the lowest chord tone it can reach (open strings count in the first
    position). Now and then only the top four strings are kept (a thinner voicing).
    """
    def frets(open_pitch: int, pcs) -> list[int]:
        span = range(position, position + 4) if position > 1 else range(0, 4)
        return [f for f in span if (open_pitch + f) % 12 in pcs]

    bass = next((k for k in range(3) if frets(tuning[k], [root_pc])), 0)
    pitches = []
    for k in range(bass, len(tuning)):
        reach = frets(tuning[k], [root_pc] if k == bass else chord_pcs)
        if reach:
            pitches.append(tuning[k] + min(reach))
    if len(pitches) > 4 and rng.random() < 0.2:
        pitches = pitches[-4:]
    return sorted(set(pitches))  # two strings on one pitch would cut each other off


def stroke_offsets(n_strings: int, stroke_s: float, rng: np.random.Generator) -> np.ndarray:
    """Onset of each string after the stroke starts: evenly spread over ``stroke_s`` with jitter."""
    if n_strings <= 1:
        return np.zeros(max(n_strings, 0))
    base = np.linspace(0.0, stroke_s, n_strings)
    jitter = rng.normal(0.0, 0.12 * stroke_s / (n_strings - 1), n_strings)
    jitter[0] = 0.0
    return np.maximum.accumulate(np.maximum(base + jitter, 0.0))


def strum(part, t: float, shape: list[int], stroke: str, vel: float, dur: float,
          rng: np.random.Generator) -> None:
    """Add one pick stroke across ``shape`` (pitches low to high) starting at ``t``.

    ``stroke``: ``"D"`` down (low to high, every string), ``"U"`` up (high to low, the top 3-4
    strings), ``"x"`` a muted chuck (all strings, very short, soft).
    """
    if stroke == "U":
        strings = shape[::-1][: int(rng.integers(3, 5))]
    else:
        strings = list(shape)
    # harder strokes are faster; up-strokes cover fewer strings and are quicker still
    stroke_s = float(np.clip(rng.uniform(0.018, 0.04) * (1.25 - vel / 160.0), 0.006, 0.045))
    if stroke == "U":
        stroke_s *= 0.7
    offsets = stroke_offsets(len(strings), stroke_s, rng)
    accent = {"D": 0.0, "U": -14.0, "x": -22.0}[stroke]
    for k, (p, off) in enumerate(zip(strings, offsets)):
        v = vel + accent - 10.0 * k / max(len(strings) - 1, 1) + rng.normal(0, 3)
        length = float(rng.uniform(0.03, 0.06)) if stroke == "x" else max(dur - off, 0.05)
        part.note(t + float(off), length, p, v)


def trim_repeated_notes(part, gap: float = 0.005) -> None:
    """End every note before the next onset of the same pitch (a note-off after a re-struck
    string's note-on would silence the new note); rebuilds the part's note events."""
    notes = sorted(part.notes)
    next_start: dict[int, float] = {}
    trimmed = []
    for t, dur, p, v in reversed(notes):
        end = min(t + dur, next_start.get(p, np.inf) - gap)
        trimmed.append((t, max(end - t, 0.01), p, v))
        next_start[p] = t
    part.notes = []
    part.events = [e for e in part.events if e[1] not in ("on", "off")]
    for t, dur, p, v in reversed(trimmed):
        part.note(t, dur, p, v)


def amp_board(model: str, rng: np.random.Generator) -> tuple[pb.Pedalboard, pb.Pedalboard]:
    """Pre-amp (input filters + drive) and tone-stack boards for one amp voicing."""
    (d0, d1), (e0, e1), (m0, m1) = AMP_MODELS[model]
    pre = [pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(70, 160))),
           pb.PeakFilter(cutoff_frequency_hz=float(rng.uniform(650, 1100)),
                         gain_db=float(rng.uniform(e0, e1)), q=0.7)]
    drive = float(rng.uniform(d0, d1))
    if model == "fuzz":
        pre += [pb.Gain(gain_db=drive), pb.Clipping(threshold_db=-6.0)]
    elif drive > 0:
        pre.append(pb.Distortion(drive_db=drive))
    tone = [pb.LowShelfFilter(cutoff_frequency_hz=120, gain_db=float(rng.uniform(-3, 3))),
            pb.PeakFilter(cutoff_frequency_hz=float(rng.uniform(400, 800)),
                          gain_db=float(rng.uniform(m0, m1)), q=0.8),
            pb.HighShelfFilter(cutoff_frequency_hz=float(rng.uniform(2500, 4000)),
                               gain_db=float(rng.uniform(-3, 4)))]
    return pb.Pedalboard(pre), pb.Pedalboard(tone)


def cabinet_ir(cab: str, rng: np.random.Generator, n_fft: int = 4096, length: int = 1024) -> np.ndarray:
    """A loudspeaker cabinet's impulse response (minimum phase, ``length`` taps, peak 1)."""
    (r0, r1), (b0, b1), (c0, c1), (m0, m1) = CABINETS[cab]
    f = np.fft.rfftfreq(n_fft, 1 / SR)
    fr, fb, fc = float(rng.uniform(r0, r1)), float(rng.uniform(b0, b1)), float(rng.uniform(c0, c1))
    x = np.maximum(f, 1.0)
    mag = (x / fr) ** 2 / np.sqrt((1 - (x / fr) ** 2) ** 2 + ((x / fr) / 1.4) ** 2)  # 2nd-order HP, Q 1.4
    mag = mag / (1 + (x / fc) ** 8)  # steep cone roll-off
    mag = mag * (1 + float(rng.uniform(0.5, 1.5)) * np.exp(-0.5 * (np.log2(x / fb) / 0.25) ** 2))
    for _ in range(int(rng.integers(3, 7))):  # smaller cone resonances and dips
        fk = float(np.exp(rng.uniform(np.log(300), np.log(fc))))
        mag = mag * (1 + float(rng.uniform(-0.5, 0.8)) * np.exp(-0.5 * (np.log2(x / fk) / 0.08) ** 2))
    # the microphone hears the cone plus a reflection a fraction of a millisecond later
    delay = float(rng.uniform(m0, m1)) / 1000
    mag = mag * np.abs(1 + float(rng.uniform(0.15, 0.4)) * np.exp(-2j * np.pi * f * delay))
    # minimum phase by folding the real cepstrum of the log magnitude
    cep = np.fft.irfft(np.log(np.maximum(mag, 1e-6)), n_fft)
    fold = np.zeros(n_fft)
    fold[0] = cep[0]
    fold[1:n_fft // 2] = 2 * cep[1:n_fft // 2]
    fold[n_fft // 2] = cep[n_fft // 2]
    ir = np.fft.irfft(np.exp(np.fft.rfft(fold)), n_fft)[:length]
    ir = ir * np.hanning(2 * length)[length:]  # fade the tail out
    return ir / np.abs(ir).max()


def amp_chain(x: np.ndarray, amp: dict, rng: np.random.Generator) -> np.ndarray:
    """Run a dry guitar (``(n,)`` or ``(n, 2)``) through the amp and cabinet; returns ``(n, 2)``."""
    if x.ndim == 2:
        x = x.mean(axis=1)
    pre, tone = amp_board(amp["model"], rng)
    ir = cabinet_ir(amp["cab"], rng)
    y = pre(np.ascontiguousarray(x[None, :], dtype=np.float32), SR, reset=True)
    y = tone(y, SR, reset=True)[0].astype(np.float64)
    y = oaconvolve(y, ir)[: x.shape[0]]
    peak_in, peak_out = np.abs(x).max() + 1e-9, np.abs(y).max() + 1e-9
    y = y * (peak_in / peak_out)
    return np.stack([y, y], axis=1)


def draw_amp(rng: np.random.Generator, split: str, driven: bool) -> dict:
    """An amp voicing and cabinet for one guitar part; valid/test may draw the held-out ones."""
    models = ("crunch", "lead", "high_gain", "fuzz") if driven else ("clean", "clean", "crunch")
    model = pick(rng, models, HOLDOUT_AMPS, split)
    cab = pick(rng, tuple(CABINETS), HOLDOUT_CABS, split)
    return {"model": str(model), "cab": str(cab)}


def strummed_part(plan, rng: np.random.Generator, part, active: dict, double=None) -> None:
    """Strum the song's chords: one pattern per song (sometimes a second in choruses).

    ``double``: a second part that plays the same strums as a separate take (its own timing and
    stroke details), as rhythm guitars are double-tracked and panned apart on records.
    """
    from .song import step_time

    takes = [part] if double is None else [part, double]
    names = tuple(STRUM_PATTERNS)
    if plan.style == "funk":
        main = "funk"
    elif plan.style in ("punk",):
        main = "downs"
    else:
        main = str(pick(rng, names, HOLDOUT_STRUMS, plan.split))
    chorus = str(pick(rng, names, HOLDOUT_STRUMS, plan.split)) if rng.random() < 0.3 else main
    position = int(rng.choice([0, 0, 1, 3, 5, 7]))
    vel0 = float(rng.uniform(75, 110))
    ring = float(rng.uniform(0.85, 1.0))  # strings ring (almost) until the next stroke
    for b, sec, chord, bt, i in plan.bars():
        if not sec.active["other"] or not active.get(sec.start_bar, True):
            continue
        shape = chord_shape(chord.pcs(), chord.root, position, rng)
        pattern = STRUM_PATTERNS[chorus if sec.name == "chorus" else main]
        for j, (s, stroke) in enumerate(pattern):
            if rng.random() < 0.05:
                continue
            nxt = pattern[j + 1][0] if j + 1 < len(pattern) else 16
            dur = (nxt - s) * plan.beat / 4 * ring + 0.03
            vel = vel0 * (0.75 + 0.25 * sec.energy) + (6 if s % 8 == 0 else 0)
            for take in takes:
                strum(take, step_time(plan, bt, s) + rng.normal(0, 0.005), shape, stroke, vel, dur, rng)
    for take in takes:
        trim_repeated_notes(take)


def power_chords(plan, rng: np.random.Generator, part, active: dict, double=None) -> None:
    """Root-fifth-octave power chords in down-strokes (straight eighths or a pushed rhythm)."""
    from .song import step_time

    takes = [part] if double is None else [part, double]
    for b, sec, chord, bt, i in plan.bars():
        if not sec.active["other"] or not active.get(sec.start_bar, True):
            continue
        root = 40 + (chord.root - 40) % 12
        rhythm = range(0, 16, 2) if rng.random() < 0.7 else (0, 3, 6, 8, 11, 14)
        for s in rhythm:
            vel = 95 + rng.normal(0, 6)
            for take in takes:
                strum(take, step_time(plan, bt, s) + rng.normal(0, 0.005), [root, root + 7, root + 12],
                      "D", vel, plan.beat / 2 * 0.85, rng)
    for take in takes:
        trim_repeated_notes(take)


def picked_part(plan, rng: np.random.Generator, part, active: dict) -> None:
    """Fingerpicked / picked arpeggios over the chord shapes; notes ring into the next ones."""
    from .song import step_time

    name = str(pick(rng, tuple(PICK_PATTERNS), HOLDOUT_PICKS, plan.split))
    pattern = PICK_PATTERNS[name]
    position = int(rng.choice([0, 0, 2, 3, 5]))
    vel0 = float(rng.uniform(65, 95))
    ring = float(rng.uniform(1.5, 4.0))  # each note rings on over the next ones (times its step)
    for b, sec, chord, bt, i in plan.bars():
        if not sec.active["other"] or not active.get(sec.start_bar, True):
            continue
        shape = chord_shape(chord.pcs(), chord.root, position, rng)
        for j, (s, slot) in enumerate(pattern):
            p = shape[max(-len(shape), min(slot, len(shape) - 1))]
            nxt = pattern[j + 1][0] if j + 1 < len(pattern) else 16
            t = step_time(plan, bt, s) + rng.normal(0, 0.006)
            dur = (nxt - s) * plan.beat / 4 * ring
            part.note(t, dur, p, vel0 + (8 if slot == 0 else 0) + rng.normal(0, 6))
    trim_repeated_notes(part)
