"""The "other" stem: 1-4 parts among keys, guitars, strings, pads, brass, winds and synth leads.

Roles: chords (sustained or comped), strummed or picked guitars (:mod:`.guitar`), power chords,
arpeggios and counter-melodies / solos. Leads, guitars, strings and winds get expressive pitch
(vibrato, bends, slides) through pitch-bend events, so that vibrato is not a cue that only the
voice carries. Electric guitars often go through an amp and cabinet instead of a SoundFont's
pre-distorted preset; GM parts draw their SoundFont (FluidR3 or MuseScore General); pads may be
our synth or a sampled pad (:mod:`.samples`), either with a filter sweep.
"""

from __future__ import annotations

import numpy as np

from .drums import pick
from .events import Part, vibrato_curve
from .fluid import choose_font
from .guitar import CABINETS, HOLDOUT_CABS, draw_amp, picked_part, power_chords, strummed_part
from .samples import HOLDOUT_PADS, PAD_SAMPLES, available
from .song import SongPlan, step_time

CHORD_PROGS = (0, 1, 2, 4, 5, 16, 17, 18, 19, 24, 25, 26, 27, 48, 49, 50, 51, 61, 88, 89, 90, 91, 92, 94, 95)
ARP_PROGS = (0, 1, 4, 5, 6, 11, 12, 24, 25, 27, 46, 8, 10)
LEAD_PROGS = (29, 30, 27, 40, 41, 42, 56, 57, 65, 66, 71, 73, 80, 81, 84, 87, 22, 68, 26, 61)
POWER_PROGS = (29, 30)
HOLDOUT = (5, 18, 26, 51, 66, 81, 90, 10, 68)
SYNTH_CHORD = ("pad",)
SYNTH_LEADS = ("saw_lead", "square_lead")
SYNTH_ARPS = ("pluck",)

EXPRESSIVE = {29, 30, 27, 26, 40, 41, 42, 56, 57, 65, 66, 68, 71, 73, 80, 81, 84, 87, 22, 48, 49}
GUITARS = {24, 25, 26, 27, 28, 29, 30}
CLEAN_ELECTRICS = (26, 27, 28)  # jazz, clean, muted: what goes into an amp model
CHORD_GUITARS = (24, 25, 26, 27)  # nylon, steel, jazz, clean
GUITAR_CHORD_SHARE = 0.3  # chord parts that are guitars outright (CHORD_PROGS holds them too)


DOUBLE_TRACK_SHARE = 0.5  # of strummed and power-chord guitars


def _double_track(part: Part, rng: np.random.Generator, split: str) -> Part | None:
    """Sometimes a second take of a rhythm guitar (same instrument, amp voicing, own cabinet)."""
    if rng.random() >= DOUBLE_TRACK_SHARE:
        return None
    twin = Part(part.name + "b", program=part.program, params=dict(part.params), fx=dict(part.fx))
    if "amp" in part.fx:
        twin.fx["amp"] = dict(part.fx["amp"], cab=str(pick(rng, tuple(CABINETS), HOLDOUT_CABS, split)))
    return twin


def _guitar_chords(plan: SongPlan, rng: np.random.Generator, part: Part, active: dict) -> Part | None:
    """A chord guitar: strummed (sometimes double-tracked; returns the second take), picked, or
    comped in eighths / off-beats; electric ones often through an amp model."""
    style = rng.random()
    if part.program in (26, 27) and rng.random() < 0.6:
        part.fx["amp"] = draw_amp(rng, plan.split, driven=rng.random() < 0.3)
    twin = None
    if style < 0.5:
        twin = _double_track(part, rng, plan.split)
        strummed_part(plan, rng, part, active, double=twin)
    elif style < 0.75:
        picked_part(plan, rng, part, active)
    else:
        _chords(plan, rng, part, str(rng.choice(["eighths", "offbeats"])), int(rng.integers(55, 67)))
    return twin


def _pad_part(name: str, params: dict, plan: SongPlan, rng: np.random.Generator) -> Part:
    """A pad: our subtractive synth or a sampled pad, with a filter sweep half the time."""
    pads = available(PAD_SAMPLES)
    if pads and rng.random() < 0.5:
        part = Part(name, engine="sampler", params=dict(params, sample=str(pick(rng, pads, HOLDOUT_PADS, plan.split))))
    else:
        part = Part(name, engine="subtractive", params=dict(params, preset="pad"))
    if rng.random() < 0.5:
        part.params["sweep_bar"] = plan.bar
    return part


def _voicing(chord_pcs: list[int], center: int, rng: np.random.Generator, n: int = 4) -> list[int]:
    notes = []
    for pc in chord_pcs:
        p = center - 6 + ((pc - (center - 6)) % 12)
        notes.append(p)
    notes = sorted(set(notes))
    while len(notes) < n:
        notes.append(notes[len(notes) % len(chord_pcs)] + 12)
    return sorted(notes)[:n + 1]


def _add_expression(part: Part, rng, t: float, dur: float, prog: int | None, strength: float = 1.0):
    """Vibrato on long notes, sometimes a bend up into the note or a scoop."""
    if dur < 0.25:
        return
    guitar = prog in GUITARS
    times, vib = vibrato_curve(rng, dur, depth=strength * float(rng.uniform(0.12, 0.5 if not guitar else 0.7)),
                               rate=float(rng.uniform(4.5, 7.0)), delay=float(rng.uniform(0.05, 0.3)))
    r = rng.random()
    if r < 0.3:  # bend up from a tone (guitar) or semitone below
        depth = 2.0 if guitar else 1.0
        btime = float(rng.uniform(0.06, 0.2))
        vib = vib - depth * np.clip(1 - times / btime, 0, 1)
    elif r < 0.45:  # scoop
        vib = vib - 0.5 * np.exp(-times / 0.04)
    part.bend_curve(t, times, vib)
    part.events.append((t + dur, "bend", 0, 0))


def _chords(plan, rng, part, kind, center, energy_bias=0.0):
    """Block chords in one comping rhythm (guitar strums and picking live in :mod:`.guitar`)."""
    prog = part.program if part.engine == "fluid" else None
    rhythm = {
        "sustain": [(0, 16)],
        "half": [(0, 8), (8, 8)],
        "quarters": [(0, 4), (4, 4), (8, 4), (12, 4)],
        "pushed": [(0, 6), (6, 4), (10, 6)],
        "offbeats": [(2, 2), (6, 2), (10, 2), (14, 2)],
        "eighths": [(s, 2) for s in range(0, 16, 2)],
    }[kind]
    vel0 = float(rng.uniform(65, 100))
    for b, sec, chord, bt, i in plan.bars():
        if not sec.active["other"] or not part.params["sections"].get(sec.start_bar, True):
            continue
        voicing = _voicing(chord.pcs(), center, rng, 3 + int(rng.integers(0, 2)))
        for s, ln in rhythm:
            if kind not in ("sustain", "half") and rng.random() < 0.08:
                continue
            t = step_time(plan, bt, s) + rng.normal(0, 0.006)
            dur = ln * plan.beat / 4 * (0.98 if kind in ("sustain", "half") else float(rng.uniform(0.5, 0.9)))
            for p in voicing:
                off = abs(rng.normal(0, 0.004))
                v = vel0 * (0.7 + 0.3 * sec.energy) + rng.normal(0, 6)
                part.note(t + off, dur - off, p, v)
        if prog in (48, 49) and rng.random() < 0.5:
            _add_expression(part, rng, bt, plan.bar, prog, strength=0.4)


def _arp(plan, rng, part, center):
    step = int(rng.choice([2, 2, 4, 1]))
    shape = str(rng.choice(["up", "updown", "random"]))
    vel0 = float(rng.uniform(60, 95))
    for b, sec, chord, bt, i in plan.bars():
        if not sec.active["other"] or not part.params["sections"].get(sec.start_bar, True):
            continue
        v = _voicing(chord.pcs(), center, rng, 4)
        seq = v + [x + 12 for x in v[:2]]
        if shape == "updown":
            seq = seq + seq[-2:0:-1]
        for k, s in enumerate(range(0, 16, step)):
            p = seq[k % len(seq)] if shape != "random" else int(rng.choice(seq))
            t = step_time(plan, bt, s) + rng.normal(0, 0.004)
            part.note(t, step * plan.beat / 4 * float(rng.uniform(0.6, 1.2)), p, vel0 + rng.normal(0, 8) + (8 if s % 4 == 0 else 0))


def _melody(plan, rng, part, center, solo_only=False):
    """A counter-melody / solo: scale walks anchored on chord tones, long notes get expression."""
    scale = plan.scale_pcs()
    pitches = [p for p in range(center - 10, center + 14) if p % 12 in scale]
    idx = len(pitches) // 2
    vel0 = float(rng.uniform(75, 105))
    prog = part.program if part.engine == "fluid" else None
    density = float(rng.uniform(0.3, 0.8))
    for b, sec, chord, bt, i in plan.bars():
        if not sec.active["other"] or not part.params["sections"].get(sec.start_bar, True):
            continue
        if solo_only and sec.name not in ("solo", "intro", "bridge", "outro", "breakdown") and rng.random() < 0.7:
            continue
        s = 0.0
        while s < 16:
            ln = float(rng.choice([2, 2, 4, 4, 6, 8, 1])) if rng.random() < density else float(rng.choice([4, 8, 12]))
            ln = min(ln, 16 - s)
            if rng.random() < 0.18:  # rest
                s += ln
                continue
            if s == 0 or rng.random() < 0.3:  # land on a chord tone
                cands = [k for k, p in enumerate(pitches) if p % 12 in chord.pcs()]
                idx = min(cands, key=lambda k: abs(k - idx) + rng.random() * 2)
            else:
                idx = int(np.clip(idx + rng.choice([-2, -1, -1, 1, 1, 2, 3, -3]), 0, len(pitches) - 1))
            t = step_time(plan, bt, s) + rng.normal(0, 0.008)
            dur = ln * plan.beat / 4 * float(rng.uniform(0.8, 0.98))
            part.note(t, dur, pitches[idx], vel0 + rng.normal(0, 8))
            if prog is not None and prog in EXPRESSIVE:
                _add_expression(part, rng, t, dur, prog)
            elif part.engine == "subtractive" and dur > 0.3:
                pass  # the synth engine adds its own vibrato
            s += ln


def make_other(plan: SongPlan, rng: np.random.Generator) -> list[Part]:
    n_parts = int(rng.choice([1, 2, 2, 3, 3, 4]))
    roles = ["chords"]
    extra = ["arp", "lead", "chords2", "power"] if plan.style in ("rock", "punk") else ["arp", "lead", "chords2"]
    if plan.style in ("rock", "punk") and rng.random() < 0.6:
        roles = ["power"]
    while len(roles) < n_parts:
        r = str(rng.choice(extra))
        if r not in roles:
            roles.append(r)
        elif len(set(extra) - set(roles)) == 0:
            break
    parts = []
    pans = rng.permutation(np.linspace(-0.6, 0.6, max(len(roles), 2)))
    sections = [sec.start_bar for sec in plan.sections]
    for k, role in enumerate(roles):
        twin = None
        # each part sits out some sections (arrangement), but never all
        # the first part carries the harmony wherever the stem plays; the others come and go
        active = {s: bool(k == 0 or rng.random() < (0.85 if role in ("chords", "power") else 0.6)) for s in sections}
        if not any(active.values()):
            active[sections[0]] = True
        params = {"sections": active}
        if role in ("chords", "chords2"):
            source = rng.random()
            if source < 0.22:
                part = _pad_part(f"other{k}", params, plan, rng)
            elif source < GUITAR_CHORD_SHARE + 0.22:  # guitars carry most records' "other" stem
                part = Part(f"other{k}", program=int(pick(rng, CHORD_GUITARS, HOLDOUT, plan.split)), params=params)
            else:
                part = Part(f"other{k}", program=int(pick(rng, CHORD_PROGS, HOLDOUT, plan.split)), params=params)
            prog = part.program if part.engine == "fluid" else 89
            if prog in (24, 25, 26, 27):
                twin = _guitar_chords(plan, rng, part, active)
            else:
                if prog in (48, 49, 50, 51, 88, 89, 90, 91, 92, 94, 95, 16, 17, 18, 19) or part.engine != "fluid":
                    kind = str(rng.choice(["sustain", "half", "sustain"]))
                else:
                    kind = str(rng.choice(["quarters", "pushed", "offbeats", "half", "sustain", "eighths"]))
                _chords(plan, rng, part, kind, int(rng.integers(55, 67)))
        elif role == "power":
            if rng.random() < 0.6:  # a clean guitar into a driven amp model and cabinet
                part = Part(f"other{k}", program=int(rng.choice(CLEAN_ELECTRICS)), params=params)
                part.fx["amp"] = draw_amp(rng, plan.split, driven=True)
            else:
                part = Part(f"other{k}", program=int(rng.choice(POWER_PROGS)), params=params)
                part.fx["distortion"] = float(rng.uniform(10, 25))
            twin = _double_track(part, rng, plan.split)
            power_chords(plan, rng, part, active, double=twin)
        elif role == "arp":
            if rng.random() < 0.2:
                part = Part(f"other{k}", engine="subtractive", params=dict(params, preset="pluck"))
            else:
                part = Part(f"other{k}", program=int(pick(rng, ARP_PROGS, HOLDOUT, plan.split)), params=params)
            _arp(plan, rng, part, int(rng.integers(60, 72)))
        else:  # lead / counter-melody
            if rng.random() < 0.25:
                part = Part(f"other{k}", engine="subtractive",
                            params=dict(params, preset=str(rng.choice(SYNTH_LEADS)),
                                        vibrato={"depth": float(rng.uniform(0.1, 0.5)), "rate": float(rng.uniform(4.5, 6.5))},
                                        glide=float(rng.choice([0.0, 0.03, 0.06]))))
            else:
                part = Part(f"other{k}", program=int(pick(rng, LEAD_PROGS, HOLDOUT, plan.split)), params=params)
                if part.program in (29, 30) and rng.random() < 0.5:
                    part.program = 27  # the lead guitar's drive comes from the amp model
                    part.fx["amp"] = draw_amp(rng, plan.split, driven=True)
                elif part.program in (29, 30):
                    part.fx["distortion"] = float(rng.uniform(8, 22))
            _melody(plan, rng, part, int(rng.integers(64, 80)), solo_only=rng.random() < 0.5)
        choose_font(part, rng)
        part.pan = float(pans[k])
        if part.engine == "fluid" and part.program in (27, 26) and rng.random() < 0.5:
            part.fx["chorus"] = True
        parts.append(part)
        if twin is not None:  # the two takes panned apart
            twin.params.update({key: part.params[key] for key in ("font",) if key in part.params})
            part.pan, twin.pan = -float(rng.uniform(0.6, 0.95)), float(rng.uniform(0.6, 0.95))
            parts.append(twin)
    return parts
