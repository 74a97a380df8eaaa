"""Small DSP engines written here (numba): a subtractive synth voice and synthesized drums.

The subtractive voice is two band-limited (PolyBLEP) oscillators, a sub oscillator, a resonant
state-variable low-pass filter with its own decay envelope, an ADSR amplifier and soft drive: the
timbre family of synth basses with filter sweeps, plucks, leads and pads that a GM SoundFont lacks.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SR = 44100


@njit(cache=True)
def _polyblep(t, dt):
    if t < dt:
        t = t / dt
        return t + t - t * t - 1.0
    if t > 1.0 - dt:
        t = (t - 1.0) / dt
        return t * t + t + t + 1.0
    return 0.0


@njit(cache=True)
def subtractive_voice(freq, sr, wave, detune, sub, cutoff, env_amt, f_decay, reso, attack,
                      decay, sustain, release, note_len, drive, noise_seed):
    """Render one note. ``freq`` per sample (Hz, includes glides / vibrato); returns mono."""
    n = freq.shape[0]
    out = np.zeros(n)
    p1 = 0.0
    p2 = 0.37
    ps = 0.0
    low = 0.0
    band = 0.0
    k = 2.0 - 2.0 * reso  # damping
    seed = noise_seed
    for i in range(n):
        f = freq[i]
        dt1 = f / sr
        dt2 = f * (1.0 + detune) / sr
        # oscillator 1 / 2
        if wave == 0:  # saw
            o1 = 2.0 * p1 - 1.0 - _polyblep(p1, dt1)
            o2 = 2.0 * p2 - 1.0 - _polyblep(p2, dt2)
        else:  # square
            o1 = (1.0 if p1 < 0.5 else -1.0) + _polyblep(p1, dt1) - _polyblep((p1 + 0.5) % 1.0, dt1)
            o2 = (1.0 if p2 < 0.5 else -1.0) + _polyblep(p2, dt2) - _polyblep((p2 + 0.5) % 1.0, dt2)
        so = np.sin(2.0 * np.pi * ps)
        p1 += dt1
        p2 += dt2
        ps += 0.5 * dt1
        if p1 >= 1.0:
            p1 -= 1.0
        if p2 >= 1.0:
            p2 -= 1.0
        if ps >= 1.0:
            ps -= 1.0
        seed = (seed * 1103515245 + 12345) % 2147483648
        x = 0.5 * o1 + 0.5 * o2 * (detune != 0.0) + sub * so + 0.01 * (seed / 1073741824.0 - 1.0)
        t = i / sr
        # filter envelope and SVF (Chamberlin, 2x oversampled for stability)
        fe = np.exp(-t / f_decay)
        fc = cutoff * (1.0 + env_amt * fe)
        if fc > 0.2 * sr:
            fc = 0.2 * sr
        g = 2.0 * np.sin(np.pi * fc / (2.0 * sr))
        for _ in range(2):
            low += g * band
            high = x - low - k * band
            band += g * high
        y = low
        # amplitude envelope
        if t < attack:
            a = t / attack
        elif t < attack + decay:
            a = 1.0 - (1.0 - sustain) * (t - attack) / decay
        else:
            a = sustain
        if t > note_len:
            a *= np.exp(-(t - note_len) / release)
        y = np.tanh(drive * y) / np.tanh(drive) if drive > 0.0 else y
        out[i] = a * y
    return out


PRESETS = {
    # name: wave, detune, sub, cutoff, env_amt, f_decay, reso, attack, decay, sustain, release, drive
    "acid_bass": (0, 0.0, 0.2, 180.0, 12.0, 0.12, 0.85, 0.003, 0.2, 0.6, 0.05, 1.5),
    "pluck_bass": (0, 0.004, 0.5, 120.0, 20.0, 0.08, 0.5, 0.002, 0.3, 0.4, 0.06, 1.2),
    "square_bass": (1, 0.003, 0.6, 300.0, 5.0, 0.2, 0.4, 0.005, 0.3, 0.7, 0.06, 2.0),
    "reese_bass": (0, 0.012, 0.4, 500.0, 1.5, 0.5, 0.3, 0.01, 0.4, 0.8, 0.1, 1.8),
    "sub_bass": (1, 0.0, 1.0, 150.0, 1.0, 0.1, 0.1, 0.005, 0.1, 0.9, 0.08, 1.0),
    "saw_lead": (0, 0.007, 0.0, 900.0, 3.0, 0.3, 0.4, 0.01, 0.3, 0.7, 0.15, 1.3),
    "square_lead": (1, 0.004, 0.0, 1400.0, 2.0, 0.2, 0.3, 0.01, 0.2, 0.8, 0.15, 1.0),
    "pad": (0, 0.009, 0.0, 700.0, 1.0, 1.5, 0.2, 0.35, 1.0, 0.8, 0.6, 1.0),
    "pluck": (0, 0.005, 0.0, 400.0, 10.0, 0.1, 0.5, 0.002, 0.3, 0.1, 0.2, 1.0),
}


def render_synth_notes(notes, n_samples: int, preset: str, rng: np.random.Generator,
                       vibrato: dict | None = None, glide: float = 0.0, sr: int = SR) -> np.ndarray:
    """Render ``(start, dur, pitch, vel)`` notes with a preset into mono float64 ``(n_samples,)``.

    ``vibrato`` (optional): ``{"depth": semitones, "rate": Hz}``; ``glide`` seconds of portamento
    from the previous note.
    """
    p = list(PRESETS[preset])
    # per-song variation of the preset
    p[3] *= float(rng.uniform(0.7, 1.5))
    p[4] *= float(rng.uniform(0.6, 1.4))
    p[5] *= float(rng.uniform(0.6, 1.6))
    p[6] = float(np.clip(p[6] + rng.uniform(-0.15, 0.1), 0.0, 0.92))
    out = np.zeros(n_samples)
    prev = None
    for (start, dur, pitch, vel) in sorted(notes):
        s0 = int(round(start * sr))
        rel = p[10]
        length = int((dur + 5 * rel) * sr)
        if s0 >= n_samples or length <= 0:
            prev = pitch
            continue
        if s0 < 0:
            prev = pitch
            continue
        length = min(length, n_samples - s0)
        t = np.arange(length) / sr
        semis = np.full(length, float(pitch))
        if glide > 0 and prev is not None and abs(prev - pitch) <= 12:
            semis += (prev - pitch) * np.exp(-t / glide)
        if vibrato is not None and dur > 0.25:
            fade = np.clip((t - 0.2) / 0.3, 0, 1)
            semis += vibrato["depth"] * fade * np.sin(2 * np.pi * vibrato["rate"] * t)
        freq = 440.0 * 2 ** ((semis - 69) / 12)
        y = subtractive_voice(freq, float(sr), int(p[0]), float(p[1]), float(p[2]), float(p[3]),
                              float(p[4]), float(p[5]), float(p[6]), float(p[7]), float(p[8]),
                              float(p[9]), float(rel), float(dur), float(p[11]),
                              int(rng.integers(1, 2**30)))
        out[s0:s0 + length] += (vel / 127.0) ** 1.5 * y
        prev = pitch
    return out


@njit(cache=True)
def _onepole_hp(x, a):
    y = np.zeros_like(x)
    prev_x = 0.0
    prev_y = 0.0
    for i in range(x.shape[0]):
        prev_y = a * (prev_y + x[i] - prev_x)
        prev_x = x[i]
        y[i] = prev_y
    return y


def synth_drum_hit(kind: str, rng: np.random.Generator, sr: int = SR, tune: float = 1.0) -> np.ndarray:
    """One synthesized drum hit (808/909-like): kick, snare, clap, hat, open_hat."""
    if kind == "kick":
        n = int(0.6 * sr)
        t = np.arange(n) / sr
        f = 45 * tune + 110 * np.exp(-t / 0.04)
        ph = 2 * np.pi * np.cumsum(f) / sr
        y = np.sin(ph) * np.exp(-t / (0.25 * tune)) + 0.3 * np.exp(-t / 0.004) * rng.standard_normal(n) * 0.3
        return np.tanh(1.5 * y)
    if kind in ("snare", "clap"):
        n = int(0.35 * sr)
        t = np.arange(n) / sr
        noise = _onepole_hp(rng.standard_normal(n), 0.9)
        if kind == "clap":
            env = sum(np.exp(-np.clip(t - d, 0, None) / 0.01) * (t >= d) for d in (0, 0.01, 0.02))
            env = env + (t >= 0.03) * np.exp(-np.clip(t - 0.03, 0, None) / 0.12)
            return 0.5 * noise * env
        tone = np.sin(2 * np.pi * 185 * tune * t) * np.exp(-t / 0.05)
        return 0.6 * noise * np.exp(-t / 0.09) + 0.6 * tone
    n = int((0.5 if kind == "open_hat" else 0.08) * sr)
    t = np.arange(n) / sr
    noise = _onepole_hp(_onepole_hp(rng.standard_normal(n), 0.6), 0.6)
    return 0.35 * noise * np.exp(-t / (0.15 if kind == "open_hat" else 0.02))


@njit(cache=True)
def swept_lowpass(x, cutoff, reso, sr):
    """Resonant state-variable low-pass whose cutoff (Hz) follows ``cutoff`` sample by sample."""
    out = np.zeros_like(x)
    low = 0.0
    band = 0.0
    k = 2.0 - 2.0 * reso
    for i in range(x.shape[0]):
        fc = min(cutoff[i], 0.2 * sr)
        g = 2.0 * np.sin(np.pi * fc / (2.0 * sr))
        for _ in range(2):
            low += g * band
            high = x[i] - low - k * band
            band += g * high
        out[i] = low
    return out


def sweep_curve(n_samples: int, bar_s: float, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """A filter-sweep cutoff (Hz) for a synth pad or bass: a slow sine over 2-8 bars or a rise over
    each 4- or 8-bar phrase, between a dark and a bright corner drawn per song."""
    lo = float(np.exp(rng.uniform(np.log(200), np.log(700))))
    hi = lo * float(rng.uniform(4, 16))
    t = np.arange(n_samples) / sr
    if rng.random() < 0.5:
        period = bar_s * float(rng.choice([2, 4, 8]))
        pos = 0.5 - 0.5 * np.cos(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    else:
        phrase = bar_s * float(rng.choice([4, 8]))
        pos = (t % phrase) / phrase
    return lo * (hi / lo) ** pos


def filter_sweep(x: np.ndarray, bar_s: float, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """Run mono ``x`` through a resonant low-pass swept by :func:`sweep_curve`; peak kept."""
    cutoff = sweep_curve(x.shape[0], bar_s, rng, sr)
    y = swept_lowpass(np.ascontiguousarray(x, dtype=np.float64), cutoff, float(rng.uniform(0.2, 0.7)), float(sr))
    return y * ((np.abs(x).max() + 1e-12) / (np.abs(y).max() + 1e-12))
