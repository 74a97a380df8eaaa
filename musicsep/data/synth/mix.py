"""Per-part effects, per-stem processing (EQ, compression, de-essing, reverb), stem balance, a
shared bus compressor and a mastering limiter whose gain curves multiply every stem alike, so the
mixture stays their exact sum (the "LimitAug" idea: train on loud, limited mixes as real records are)."""

from __future__ import annotations

import numpy as np
import pedalboard as pb

SR = 44100
STEMS = ("drums", "bass", "other", "vocals")
# loudness of each stem relative to the vocals (dB, active parts only), roughly MUSDB18's balance
STEM_LEVEL_DB = {"drums": -1.0, "bass": -3.0, "other": -2.5, "vocals": 0.0}
# share of songs mastered loud (limiter to -14...-8 LUFS); the rest keep a quieter, unlimited mix
MASTERED_SHARE = 0.75


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
    """An amp model and cabinet (:func:`.guitar.amp_chain`) or an amp-like distortion (drive +
    low-pass), and chorus, for guitars / synths."""
    if "amp" in fx:
        from .guitar import amp_chain

        x = amp_chain(x, fx["amp"], rng)
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


def stem_chain(stem: str, rng: np.random.Generator, style: str, facts: dict | None = None) -> pb.Pedalboard:
    """The stem's effects, drawn from ``rng``; ``facts`` hears what was drawn that the song's
    metadata should name (the vocal colour)."""
    facts = {} if facts is None else facts
    fx = []
    if stem == "vocals":
        fx.append(pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(80, 140))))
        fx.append(pb.PeakFilter(cutoff_frequency_hz=float(rng.uniform(2500, 5000)), gain_db=float(rng.uniform(0, 4)), q=0.8))
        fx.append(pb.Compressor(threshold_db=float(rng.uniform(-24, -14)), ratio=float(rng.uniform(2, 5)),
                                attack_ms=float(rng.uniform(2, 10)), release_ms=float(rng.uniform(60, 200))))
        colour = rng.random()
        facts["vocal_colour"] = "telephone" if colour < 0.06 else "driven" if colour < 0.12 else "clean"
        if colour < 0.06:  # telephone / megaphone voice
            fx += [pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(300, 600))),
                   pb.LowpassFilter(cutoff_frequency_hz=float(rng.uniform(2500, 4000))),
                   pb.Distortion(drive_db=float(rng.uniform(6, 16)))]
        elif colour < 0.12:  # driven vocal
            fx += [pb.Distortion(drive_db=float(rng.uniform(8, 20))),
                   pb.LowpassFilter(cutoff_frequency_hz=float(rng.uniform(8000, 14000)))]
        if rng.random() < 0.35:
            fx.append(pb.Delay(delay_seconds=float(rng.choice([0.25, 0.375, 0.5]) * rng.uniform(0.6, 1.2)),
                               feedback=float(rng.uniform(0.1, 0.35)), mix=float(rng.uniform(0.08, 0.2))))
        # a plate-like reverb: small, bright, dense
        plate = rng.random() < 0.5
        fx.append(pb.Reverb(room_size=float(rng.uniform(0.3, 0.55) if plate else rng.uniform(0.5, 0.9)),
                            damping=float(rng.uniform(0.05, 0.25) if plate else rng.uniform(0.2, 0.7)),
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


def de_ess(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Tame sibilance: the 5-10 kHz band's envelope above a threshold is compressed (split-band)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, [5000, 10000], btype="bandpass", fs=SR, output="sos")
    band = sosfiltfilt(sos, x, axis=0)
    env = np.sqrt(np.convolve(np.mean(band ** 2, axis=1), np.ones(220) / 220, mode="same")) + 1e-9
    thr = np.percentile(env, float(rng.uniform(90, 98)))
    gain = np.minimum(1.0, (thr / env) ** 0.4)  # about 1.7:1 above the threshold: tamed, not removed
    return x - band * (1 - gain)[:, None]


def limiter_gain(mix: np.ndarray, ceiling: float, release_s: float, lookahead: int = 64) -> np.ndarray:
    """Sample-wise gain of a brick-wall limiter with look-ahead: ``|mix * gain| <= ceiling``.

    The gain needed per block of ``lookahead`` samples is reached at the block's start (look-ahead
    attack) and recovers exponentially (release); a final sample-wise minimum makes the ceiling
    exact, so the mastered mixture never exceeds it.
    """
    n = mix.shape[0]
    peak = np.abs(mix).max(axis=1)
    m = int(np.ceil(n / lookahead))
    blocks = np.zeros(m * lookahead)
    blocks[:n] = peak
    need = np.minimum(1.0, ceiling / np.maximum(blocks.reshape(m, lookahead).max(axis=1), 1e-12))
    need = np.minimum(need, np.concatenate([need[1:], [1.0]]))  # start reducing one block early
    rel = float(np.exp(-lookahead / (release_s * SR)))
    smooth = np.empty(m)
    g = 1.0
    for i, target in enumerate(need):
        g = target if target < g else target + (g - target) * rel
        smooth[i] = g
    gain = np.interp(np.arange(n), np.arange(m) * lookahead, smooth)
    return np.minimum(gain, ceiling / np.maximum(peak, 1e-12))


def master_gain(mix: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A mastering chain drawn per song: bus gain up to a loudness target of -14...-8 LUFS into a
    brick-wall limiter. Returns the sample-wise gain (to multiply every stem by, so the mixture
    stays their exact sum) and the ceiling, in full-scale units after that gain."""
    import pyloudnorm

    ceiling = float(rng.uniform(0.89, 0.99))
    target = float(rng.uniform(-14, -8))
    loud = pyloudnorm.Meter(SR).integrated_loudness(mix)
    if not np.isfinite(loud):
        return np.ones(mix.shape[0]), ceiling
    # the gain that brings the mix to the target if the limiter did nothing; the limiter then
    # takes the peaks back to the ceiling (integrated loudness ends a little below the target)
    pre = 10 ** ((target - loud) / 20)
    gain = pre * limiter_gain(mix * pre, ceiling, float(rng.uniform(0.03, 0.2)))
    return gain, ceiling


def mix_stems(stems: dict[str, np.ndarray], rng: np.random.Generator, style: str,
              facts: dict | None = None) -> dict[str, np.ndarray]:
    """Process, balance, bus-compress and scale the stems; returns float32 stems and mixture.
    ``facts`` (optional) receives what the song's metadata names, e.g. the vocal colour."""
    out = {}
    for s in STEMS:
        x = stems[s]
        if np.abs(x).max() > 0:
            x = x / (np.abs(x).max() + 1e-9)
            x = _run(stem_chain(s, rng, style, facts), x)
            if s == "vocals" and rng.random() < 0.6:
                x = de_ess(x, rng)
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
    if rng.random() < MASTERED_SHARE:
        g, ceiling = master_gain(mix, rng)
        for s in STEMS:
            out[s] = out[s] * g[:, None]
        mix = sum(out[s] for s in STEMS)
        peak = max(np.abs(mix).max(), max(np.abs(out[s]).max() for s in STEMS), 1e-9)
        scale = min(1.0, ceiling / peak)  # a stem can peak above the limited mix: keep it in range
    else:
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
