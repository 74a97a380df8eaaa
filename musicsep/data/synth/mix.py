"""Per-part effects, per-stem processing (EQ, compression, reverb), stem balance and a shared bus
compressor whose gain curve multiplies every stem alike, so the mixture stays their exact sum."""

from __future__ import annotations

import numpy as np
import pedalboard as pb

SR = 44100
STEMS = ("drums", "bass", "other", "vocals")
# loudness of each stem relative to the vocals (dB, active parts only), roughly MUSDB18's balance
STEM_LEVEL_DB = {"drums": -1.0, "bass": -3.0, "other": -2.5, "vocals": 0.0}


def pan_stereo(x: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan of mono ``(n,)`` or balance of stereo ``(n, 2)``; pan in [-1, 1]."""
    ang = (pan + 1) * np.pi / 4
    g = np.array([np.cos(ang), np.sin(ang)]) * np.sqrt(2)
    if x.ndim == 1:
        return x[:, None] * g[None, :]
    return x * g[None, :]


def _run(board: pb.Pedalboard, x: np.ndarray) -> np.ndarray:
    y = board(np.ascontiguousarray(x.T, dtype=np.float32), SR, reset=True)
    return np.asarray(y, dtype=np.float64).T


def part_fx(x: np.ndarray, fx: dict, rng: np.random.Generator) -> np.ndarray:
    """Amp-like distortion (drive + cabinet low-pass) and chorus for guitars / synths."""
    chain = []
    if "distortion" in fx:
        chain += [pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(80, 150))),
                  pb.Distortion(drive_db=float(fx["distortion"])),
                  pb.LowpassFilter(cutoff_frequency_hz=float(rng.uniform(3500, 6500))),
                  pb.PeakFilter(cutoff_frequency_hz=float(rng.uniform(700, 1500)),
                                gain_db=float(rng.uniform(-4, 3)), q=1.0)]
    if fx.get("chorus"):
        chain.append(pb.Chorus(rate_hz=float(rng.uniform(0.5, 2.0)), depth=0.25, mix=0.4))
    if not chain:
        return x
    if x.ndim == 1:
        x = np.stack([x, x], 1)
    y = _run(pb.Pedalboard(chain), x)
    peak_in, peak_out = np.abs(x).max() + 1e-9, np.abs(y).max() + 1e-9
    return y * (peak_in / peak_out)


def stem_chain(stem: str, rng: np.random.Generator, style: str) -> pb.Pedalboard:
    fx = []
    if stem == "vocals":
        fx.append(pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(80, 140))))
        fx.append(pb.PeakFilter(cutoff_frequency_hz=float(rng.uniform(2500, 5000)), gain_db=float(rng.uniform(0, 4)), q=0.8))
        fx.append(pb.Compressor(threshold_db=float(rng.uniform(-24, -14)), ratio=float(rng.uniform(2, 5)),
                                attack_ms=float(rng.uniform(2, 10)), release_ms=float(rng.uniform(60, 200))))
        if rng.random() < 0.35:
            fx.append(pb.Delay(delay_seconds=float(rng.choice([0.25, 0.375, 0.5]) * rng.uniform(0.6, 1.2)),
                               feedback=float(rng.uniform(0.1, 0.35)), mix=float(rng.uniform(0.08, 0.2))))
        fx.append(pb.Reverb(room_size=float(rng.uniform(0.3, 0.9)), damping=float(rng.uniform(0.2, 0.7)),
                            wet_level=float(rng.uniform(0.08, 0.35)), dry_level=1.0, width=1.0))
    elif stem == "drums":
        fx.append(pb.Compressor(threshold_db=float(rng.uniform(-20, -10)), ratio=float(rng.uniform(2, 4)),
                                attack_ms=float(rng.uniform(5, 30)), release_ms=float(rng.uniform(50, 150))))
        fx.append(pb.LowShelfFilter(cutoff_frequency_hz=100, gain_db=float(rng.uniform(-2, 4))))
        fx.append(pb.HighShelfFilter(cutoff_frequency_hz=6000, gain_db=float(rng.uniform(-3, 3))))
        fx.append(pb.Reverb(room_size=float(rng.uniform(0.1, 0.5)), damping=0.5,
                            wet_level=float(rng.uniform(0.03, 0.15)), dry_level=1.0))
    elif stem == "bass":
        fx.append(pb.Compressor(threshold_db=float(rng.uniform(-22, -12)), ratio=float(rng.uniform(3, 6)),
                                attack_ms=float(rng.uniform(5, 20)), release_ms=float(rng.uniform(80, 200))))
        fx.append(pb.PeakFilter(cutoff_frequency_hz=float(rng.uniform(60, 120)), gain_db=float(rng.uniform(-2, 4)), q=1.0))
        if rng.random() < 0.3:
            fx.append(pb.Distortion(drive_db=float(rng.uniform(3, 10))))
            fx.append(pb.LowpassFilter(cutoff_frequency_hz=float(rng.uniform(2000, 5000))))
    else:
        fx.append(pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(60, 180))))
        fx.append(pb.PeakFilter(cutoff_frequency_hz=float(rng.uniform(300, 3000)), gain_db=float(rng.uniform(-4, 3)), q=1.0))
        fx.append(pb.Compressor(threshold_db=float(rng.uniform(-22, -12)), ratio=float(rng.uniform(1.5, 3))))
        fx.append(pb.Reverb(room_size=float(rng.uniform(0.2, 0.8)), damping=float(rng.uniform(0.3, 0.7)),
                            wet_level=float(rng.uniform(0.05, 0.25)), dry_level=1.0, width=1.0))
    return pb.Pedalboard(fx)


def active_rms(x: np.ndarray, frame: int = 4410) -> float:
    """RMS over the frames where the stem plays (within 40 dB of its loudest frame)."""
    m = x.shape[0] // frame
    if m == 0:
        return float(np.sqrt(np.mean(x ** 2)) + 1e-12)
    e = np.mean(x[: m * frame].reshape(m, frame, -1) ** 2, axis=(1, 2))
    if e.max() <= 0:
        return 0.0
    act = e[e > e.max() * 1e-4]
    return float(np.sqrt(act.mean()))


def bus_gain(mix: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A gain curve from a feed-forward RMS compressor on the mix (shared by all stems)."""
    frame = 441
    m = int(np.ceil(mix.shape[0] / frame))
    pad = np.zeros((m * frame, mix.shape[1]))
    pad[: mix.shape[0]] = mix
    e = np.sqrt(np.mean(pad.reshape(m, frame, -1) ** 2, axis=(1, 2)) + 1e-12)
    db = 20 * np.log10(e)
    thr = db.max() - float(rng.uniform(6, 12))
    ratio = 1 + 3 * strength
    over = np.clip(db - thr, 0, None)
    red = over * (1 - 1 / ratio)
    # attack ~ 10 ms, release ~ 150 ms (per 10 ms frame)
    sm = np.zeros_like(red)
    g = 0.0
    for i, r in enumerate(red):
        g = g + (r - g) * (0.6 if r > g else 0.07)
        sm[i] = g
    gain = 10 ** (-sm / 20)
    return np.interp(np.arange(mix.shape[0]), np.arange(m) * frame + frame / 2, gain)


def mix_stems(stems: dict[str, np.ndarray], rng: np.random.Generator, style: str) -> dict[str, np.ndarray]:
    """Process, balance, bus-compress and scale the stems; returns float32 stems and mixture."""
    out = {}
    for s in STEMS:
        x = stems[s]
        if np.abs(x).max() > 0:
            x = x / (np.abs(x).max() + 1e-9)
            x = _run(stem_chain(s, rng, style), x)
        out[s] = x
    ref = None
    for s in STEMS:
        r = active_rms(out[s])
        if r <= 1e-7:
            continue
        target = STEM_LEVEL_DB[s] + float(rng.normal(0, 2.0))
        out[s] = out[s] * (10 ** (target / 20) / r)
    mix = sum(out[s] for s in STEMS)
    if rng.random() < 0.7:
        g = bus_gain(mix, rng, float(rng.uniform(0.2, 1.0)))[:, None]
        for s in STEMS:
            out[s] = out[s] * g
        mix = sum(out[s] for s in STEMS)
    peak = max(np.abs(mix).max(), max(np.abs(out[s]).max() for s in STEMS), 1e-9)
    scale = float(rng.uniform(0.5, 0.95)) / peak
    # quantise each stem to the 16-bit grid: the files are PCM_16 and the mixture, an integer sum of
    # the stems' samples, is then exact however it is read (soundfile, musdb/ffmpeg, float32 or 64)
    res = {s: (np.clip(np.round(out[s] * scale * 32768.0), -32768, 32767) / 32768.0).astype(np.float32)
           for s in STEMS}
    m = res["drums"] + res["bass"]
    m = m + res["other"]
    m = m + res["vocals"]
    res["mixture"] = m
    return res
