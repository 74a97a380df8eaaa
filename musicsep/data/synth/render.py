"""Render one synthetic song: plan -> parts -> dry stems -> mixed float32 stems + mixture."""

from __future__ import annotations

import numpy as np

from .bass import make_bass
from .drums import make_drums
from .events import Part
from .fluid import get_renderer, new_renderer
from .mix import mix_stems, pan_stereo, part_fx
from .other import make_other
from .sampled_drums import available_kits, render_sampled_drums
from .samples import PAD_SAMPLES, render_sampled_notes
from .song import make_plan
from .synthlib import filter_sweep, render_synth_notes, synth_drum_hit
from .vocals import make_vocals

SR = 44100
# share of training songs whose drums play a sampled (Hydrogen) kit when the kits are installed;
# valid and test songs never do, and draw no extra random numbers, so they render as before
SAMPLED_KIT_SHARE = 0.5
SYNTH_DRUM_MAP = {36: "kick", 35: "kick", 38: "snare", 40: "snare", 39: "clap", 42: "hat", 44: "hat", 46: "open_hat"}


def render_part(part: Part, n: int, rng: np.random.Generator) -> np.ndarray:
    """Stereo float64 ``(n, 2)`` for one part (panned, with its own effects)."""
    if part.engine == "fluid":
        ev = [(int(round(t * SR)), k, a, b) for (t, k, a, b) in part.events if t < n / SR and t >= 0]
        ev = [e for e in ev if e[0] < n]
        y = get_renderer().render(part.program, part.bank, ev, n,
                                  font=part.params.get("font", "fluidr3")).astype(np.float64)
        # fluidsynth preset timbres differ in level: normalise per part
        y = y / (np.abs(y).max() + 1e-9) if np.abs(y).max() > 0 else y
    elif part.engine in ("subtractive", "sampler"):
        if part.engine == "subtractive":
            y = render_synth_notes(part.notes, n, part.params["preset"], rng,
                                   vibrato=part.params.get("vibrato"), glide=part.params.get("glide", 0.0))
        else:
            y = render_sampled_notes(part.notes, n, part.params["sample"],
                                     fold_octaves=part.params["sample"] in PAD_SAMPLES)
        if "sweep_bar" in part.params and np.abs(y).max() > 0:
            y = filter_sweep(y, part.params["sweep_bar"], rng)
        y = y / (np.abs(y).max() + 1e-9) if np.abs(y).max() > 0 else y
    elif part.engine == "sampled":
        y = render_sampled_drums(part.notes, n, part.params["kit"], rng)
    elif part.engine == "synthdrums":
        y = np.zeros(n)
        tune = float(rng.uniform(0.8, 1.25))
        # sorted: a set of str iterates in a per-process order, and each hit draws from rng
        hits = {k: synth_drum_hit(k, rng, tune=tune) for k in sorted(set(SYNTH_DRUM_MAP.values()))}
        for (t, dur, pitch, vel) in part.notes:
            kind = SYNTH_DRUM_MAP.get(pitch)
            s0 = int(round(t * SR))
            if kind is None or s0 < 0 or s0 >= n:
                continue
            h = hits[kind] * (vel / 127.0)
            m = min(len(h), n - s0)
            y[s0:s0 + m] += h[:m]
        y = y / (np.abs(y).max() + 1e-9) if np.abs(y).max() > 0 else y
    else:
        raise ValueError(part.engine)
    y = part_fx(y, part.fx, rng)
    return pan_stereo(y, part.pan) * 10 ** (part.gain_db / 20)


def instrument_name(part: Part):
    """What plays a part, for the song's metadata: a preset / sample name, or the GM program
    (with its SoundFont and amp when not plain FluidR3)."""
    if part.engine != "fluid":
        return part.params.get("preset", part.params.get("sample", part.engine))
    suffix = ""
    if part.params.get("font", "fluidr3") != "fluidr3":
        suffix += f"@{part.params['font']}"
    if "amp" in part.fx:
        suffix += f"+{part.fx['amp']['model']}/{part.fx['amp']['cab']}"
    return f"{part.program}{suffix}" if suffix else part.program


def render_song(seed: int, split: str, seconds: float, singer: str = "mixed") -> tuple[dict[str, np.ndarray], dict]:
    """All five signals (float32 ``(n, 2)``: drums, bass, other, vocals, mixture) and metadata;
    ``singer`` as in :func:`make_vocals`."""
    rng = np.random.default_rng(seed)
    new_renderer()
    plan = make_plan(rng, seconds, seed, split)
    n = plan.n_samples
    stems = {}
    drum_part, kicks = make_drums(plan, rng)
    kits = available_kits() if split == "train" else ()
    if kits and rng.random() < SAMPLED_KIT_SHARE:
        drum_part.engine = "sampled"
        drum_part.params["kit"] = kits[int(rng.integers(len(kits)))]
        stems["drums"] = render_part(drum_part, n, rng)
    elif plan.style in ("electronic", "hiphop") and rng.random() < 0.35:
        drum_part.engine = "synthdrums"
        # GM-kit extras (toms, crash) still come from the SoundFont
        extra = Part("drums_extra", program=25, bank=128,
                     events=[e for e in drum_part.events if e[2] not in SYNTH_DRUM_MAP or e[1] == "bend"])
        stems["drums"] = render_part(drum_part, n, rng) + 0.5 * render_part(extra, n, rng)
    else:
        stems["drums"] = render_part(drum_part, n, rng)
    bass_part = make_bass(plan, rng, kicks)
    stems["bass"] = render_part(bass_part, n, rng)
    other_parts = make_other(plan, rng)
    other = np.zeros((n, 2))
    for p in other_parts:
        other += render_part(p, n, rng) * 10 ** (float(rng.uniform(-4, 0)) / 20)
    stems["other"] = other
    voc = np.zeros((n, 2))
    layers = make_vocals(plan, rng, singer)
    for layer in layers:
        a = layer["audio"]
        a = a / (np.abs(a).max() + 1e-9)
        voc += pan_stereo(a, layer["pan"]) * 10 ** (layer["gain_db"] / 20)
    stems["vocals"] = voc
    facts: dict = {}
    out = mix_stems(stems, rng, plan.style, facts)
    if drum_part.engine == "fluid":
        drum_kit = drum_part.program
    elif drum_part.engine == "sampled":
        drum_kit = drum_part.params["kit"].name
    else:
        drum_kit = "synth"
    meta = {"seed": seed, "split": split, "style": plan.style, "tempo": round(plan.tempo, 2),
            "key": plan.key, "minor": plan.minor,
            "bass": instrument_name(bass_part),
            "drum_kit": drum_kit,
            "voice": layers[0]["engine"] if layers else None,
            "vocal_layers": [layer["role"] for layer in layers],
            "voice_speaker": layers[0].get("speaker") if layers else None,
            "vocal_colour": facts.get("vocal_colour"),
            "other": [instrument_name(p) for p in other_parts],
            "sections": [(s.name, s.start_bar, s.bars, s.active) for s in plan.sections]}
    return out, meta
