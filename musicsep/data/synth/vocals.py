"""Vocals: a sung melody with word-like syllables from our own source-filter singing synthesizer.

Each melody note carries a syllable (onset consonants + vowel + optional coda). Consonants are
placed just before the beat as singers do, vowels hold the pitch. Formants glide between phoneme
targets (coarticulation), the pitch has portamento, scoops, vibrato that fades in on long notes and
slow drift; phrases start with a breath. Singers differ in range (male / female), formant scale,
breathiness, vibrato and brightness; some songs add a double-track or a harmony line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .drums import pick
from .praat_voice import phrases_of
from .song import SongPlan, step_time
from .voice_dsp import sing

CTRL = 0.002  # control frame, seconds
PRAAT_SHARE = 0.4  # share of songs sung by the Praat/eSpeak engine when the speech singer is missing
# with the recorded-speech singer installed: formant synthesizer, Praat/eSpeak, recorded speech
ENGINES = ("formant", "praat", "speech")
ENGINE_P = (0.2, 0.2, 0.6)
BACKING_WORDS = ("ooh", "ah", "oh")

# vowels: F1, F2, F3 (adult male); F4, F5 are set per singer
VOWELS = {
    "a": (730, 1090, 2440), "i": (280, 2250, 3000), "u": (310, 870, 2240), "e": (530, 1840, 2480),
    "o": (570, 840, 2410), "ae": (660, 1720, 2410), "uh": (640, 1190, 2390), "ih": (390, 1990, 2550),
    "oo": (440, 1020, 2240), "er": (490, 1350, 1690), "eh": (580, 1700, 2500),
}
DIPHTHONGS = {"ai": ("a", "i"), "ei": ("e", "i"), "ou": ("o", "u"), "au": ("a", "u"), "oi": ("o", "i")}
VOWEL_POOL = list(VOWELS) + list(DIPHTHONGS)
VOWEL_P = np.array([8, 6, 4, 5, 6, 4, 4, 5, 2, 2, 3, 5, 4, 4, 3, 1], float)
VOWEL_P /= VOWEL_P.sum()

# consonants: kind, frication centre/bw (Hz), amplitude, voiced, formant targets (F1,F2,F3) or None
CONS = {
    "s": ("fric", 6500, 3500, 0.9, False, None), "z": ("fric", 6200, 3500, 0.5, True, None),
    "sh": ("fric", 3200, 2500, 0.9, False, None), "f": ("fric", 5000, 7000, 0.35, False, None),
    "v": ("fric", 4500, 6000, 0.25, True, None), "th": ("fric", 5500, 7000, 0.3, False, None),
    "h": ("asp", 0, 0, 0.6, False, None),
    "p": ("stop", 1000, 2000, 0.6, False, (300, 900, 2200)), "b": ("stop", 900, 2000, 0.4, True, (300, 900, 2200)),
    "t": ("stop", 4500, 4000, 0.8, False, (300, 1700, 2600)), "d": ("stop", 4000, 4000, 0.5, True, (300, 1700, 2600)),
    "k": ("stop", 2300, 2000, 0.7, False, (300, 2000, 2400)), "g": ("stop", 2200, 2000, 0.45, True, (300, 2000, 2400)),
    "ch": ("affr", 3500, 2500, 0.8, False, (300, 1800, 2600)),
    "m": ("nasal", 0, 0, 0.0, True, (280, 1000, 2200)), "n": ("nasal", 0, 0, 0.0, True, (280, 1600, 2600)),
    "ng": ("nasal", 0, 0, 0.0, True, (280, 2000, 2600)),
    "l": ("liquid", 0, 0, 0.0, True, (360, 1050, 2800)), "r": ("liquid", 0, 0, 0.0, True, (420, 1100, 1600)),
    "w": ("liquid", 0, 0, 0.0, True, (300, 700, 2200)), "y": ("liquid", 0, 0, 0.0, True, (280, 2200, 3000)),
}
ONSETS = ["", "", "", "", "s", "t", "d", "k", "m", "m", "n", "n", "l", "l", "r", "w", "w", "b", "h", "f", "sh", "g",
          "p", "y", "v", "th", "ch", "z", "st", "sl", "tr", "br", "fl", "kr", "gr", "sp"]
CODAS = ["", "", "", "", "", "", "", "n", "n", "t", "s", "d", "m", "l", "k", "ng", "r", "z", "st", "ts"]


def _split_cluster(c: str) -> list[str]:
    out, i = [], 0
    while i < len(c):
        if c[i:i + 2] in CONS:
            out.append(c[i:i + 2])
            i += 2
        else:
            out.append(c[i])
            i += 1
    return out


@dataclass
class Singer:
    low: int
    high: int
    fscale: float
    f4: float
    f5: float
    oq: float
    tilt: float
    breath: float
    vib_rate: float
    vib_depth: float
    vib_delay: float
    glide: float
    drift: float
    hf: float
    jitter: float
    bw_scale: float
    shimmer: float


def make_singer(rng: np.random.Generator, female: bool) -> Singer:
    if female:
        center = int(rng.integers(62, 70))
        fscale = float(rng.uniform(1.1, 1.22))
    else:
        center = int(rng.integers(50, 58))
        fscale = float(rng.uniform(0.95, 1.05))
    return Singer(low=center - 7, high=center + 9, fscale=fscale,
                  f4=float(rng.uniform(3200, 3700)) * fscale, f5=float(rng.uniform(3900, 4600)) * fscale,
                  oq=float(rng.uniform(0.45, 0.75)), tilt=float(rng.uniform(0.0, 0.6)),
                  breath=float(rng.uniform(0.02, 0.25)), vib_rate=float(rng.uniform(4.8, 6.6)),
                  vib_depth=float(rng.uniform(0.15, 0.75)), vib_delay=float(rng.uniform(0.1, 0.35)),
                  glide=float(rng.uniform(0.02, 0.08)), drift=float(rng.uniform(0.05, 0.2)),
                  hf=float(rng.uniform(0.03, 0.12)), jitter=float(rng.uniform(0.03, 0.12)),
                  bw_scale=float(rng.uniform(0.7, 1.5)), shimmer=float(rng.uniform(0.03, 0.12)))


def make_syllable(rng: np.random.Generator) -> tuple[list[str], str, list[str]]:
    onset = _split_cluster(str(rng.choice(ONSETS)))
    vowel = str(rng.choice(VOWEL_POOL, p=VOWEL_P))
    coda = _split_cluster(str(rng.choice(CODAS)))
    return onset, vowel, coda


def make_melody(plan: SongPlan, rng: np.random.Generator, singer: Singer) -> list[tuple]:
    """Vocal notes ``(start, dur, pitch, syllable, phrase_start)`` in seconds (window time)."""
    scale = plan.scale_pcs()
    pitches = [p for p in range(singer.low, singer.high + 1) if p % 12 in scale]
    motifs: dict[str, list] = {}
    notes = []
    density = float(rng.uniform(0.4, 0.9))
    for b, sec, chord, bt, i in plan.bars():
        if not sec.active["vocals"]:
            continue
        key = (sec.name, i % 2)
        if key not in motifs or rng.random() < 0.25:
            # a rhythm for this bar: list of (step, length), with rests
            rhythm, s = [], float(rng.choice([0, 0, 1, 2, 4]))
            while s < 16:
                ln = float(rng.choice([2, 2, 2, 1, 1, 3, 4, 4, 6])) if rng.random() < density else float(rng.choice([4, 6, 8]))
                ln = min(ln, 16 - s)
                if rng.random() < 0.12 and s > 0:
                    s += ln
                    continue
                rhythm.append((s, ln))
                s += ln
            if i % 2 == 1 and rng.random() < 0.6 and rhythm:  # leave a breath gap at the phrase end
                rhythm = [r for r in rhythm if r[0] < 10] or rhythm[:1]
            contour = [int(rng.integers(-3, 4)) for _ in rhythm]
            motifs[key] = (rhythm, contour)
        rhythm, contour = motifs[key]
        lift = 2 if sec.name == "chorus" else 0
        idx_center = len(pitches) // 2 + lift
        for k, (s, ln) in enumerate(rhythm):
            idx = int(np.clip(idx_center + contour[k], 0, len(pitches) - 1))
            p = pitches[idx]
            if s in (0, 8) and p % 12 not in chord.pcs():  # strong beats on chord tones
                cands = [q for q in pitches if q % 12 in chord.pcs()]
                p = min(cands, key=lambda q: abs(q - p))
            t = step_time(plan, bt, s)
            dur = ln * plan.beat / 4
            notes.append([t, dur, p])
    notes.sort()
    merged = []
    for t, dur, p in notes:  # notes shorter than a sung syllable can be are merged into the previous
        if merged and dur < 0.12 and t - (merged[-1][0] + merged[-1][1]) < 0.02:
            merged[-1][1] = t + dur - merged[-1][0]
        else:
            merged.append([t, dur, p])
    notes = merged
    out = []
    for k, (t, dur, p) in enumerate(notes):
        gap_before = t - (notes[k - 1][0] + notes[k - 1][1]) if k else 9.0
        phrase_start = gap_before > 0.3
        if k + 1 < len(notes) and notes[k + 1][0] - (t + dur) < 0.01:
            dur = notes[k + 1][0] - t  # legato
        syl = make_syllable(rng)
        if not phrase_start and rng.random() < 0.12:
            syl = ([], out[-1][3][1], [])  # melisma: same vowel continues
        out.append((t, dur, p, syl, phrase_start))
    return out


def _targets(singer: Singer, name: str) -> np.ndarray:
    f = np.array(VOWELS[name], float) * singer.fscale
    return f


def render_voice(notes: list[tuple], singer: Singer, n_samples: int, rng: np.random.Generator,
                 sr: int = 44100, time_jitter: float = 0.0, transpose: int = 0) -> np.ndarray:
    """Render the notes to mono float64 ``(n_samples,)``."""
    nf = int(np.ceil(n_samples / sr / CTRL)) + 2
    F = np.zeros((nf, 3))
    F[:] = np.array(VOWELS["uh"]) * singer.fscale
    av = np.zeros(nf)
    ah = np.zeros(nf)
    af = np.zeros(nf)
    fc = np.full(nf, 4000.0)
    fbw = np.full(nf, 3000.0)
    semis = np.full(nf, float(notes[0][2] + transpose) if notes else 60.0)
    nasal = np.zeros(nf)

    def fr(t):
        return int(np.clip(round(t / CTRL), 0, nf - 1))

    prev_pitch = None
    prev_end = -10.0
    for (t, dur, p, syl, phrase_start) in notes:
        p = p + transpose
        t = t + (rng.normal(0, time_jitter) if time_jitter else 0.0)
        onset, vowel, coda = syl
        v_from, v_to = DIPHTHONGS.get(vowel, (vowel, vowel))
        # onset consonants before the beat
        cons_len = [float(rng.uniform(0.05, 0.09)) for _ in onset]
        c_start = t - sum(cons_len)
        if phrase_start and rng.random() < 0.7 and c_start - prev_end > 0.35:
            b0 = c_start - float(rng.uniform(0.25, 0.4))
            i0, i1 = fr(b0), fr(c_start - 0.03)
            if i1 > i0:
                env = np.sin(np.linspace(0, np.pi, i1 - i0)) ** 0.7
                af[i0:i1] = np.maximum(af[i0:i1], (singer.breath * 0.3 + 0.02) * env)
                fc[i0:i1] = float(rng.uniform(1200, 2200))
                fbw[i0:i1] = 3000.0
                ah[i0:i1] = np.maximum(ah[i0:i1], 0.25 * env)
                F[i0:i1] = _targets(singer, "uh")
        ct = c_start
        for c, ln in zip(onset, cons_len):
            _place_consonant(c, ct, ln, fr, F, av, ah, af, fc, fbw, nasal, singer, rng, p, semis)
            ct += ln
        # vowel (with diphthong glide) until the coda
        coda_len = [float(rng.uniform(0.05, 0.09)) for _ in coda]
        v_end = t + dur - sum(coda_len) - 0.02
        v_end = max(v_end, t + 0.05)
        i0, i1 = fr(t), fr(v_end)
        if i1 > i0:
            a, b = _targets(singer, v_from), _targets(singer, v_to)
            w = np.clip((np.arange(i1 - i0) / max(1, i1 - i0) - 0.4) / 0.4, 0, 1)[:, None] if v_from != v_to else 0.0
            F[i0:i1] = a * (1 - w) + b * w
            length = i1 - i0
            env = np.ones(length)
            att = min(length, int(0.02 / CTRL))
            env[:att] = np.linspace(0.3, 1, att)
            if dur > 0.5:  # swell on long notes
                env *= 1 + 0.15 * np.sin(np.linspace(0, np.pi, length))
            av[i0:i1] = env * float(rng.uniform(0.75, 1.0))
            ah[i0:i1] = singer.breath
        # pitch: glide from the previous note, scoop into phrase starts, vibrato
        j0, j1 = fr(t - 0.03), fr(t + dur)
        n = j1 - j0
        if n > 0:
            tt = np.arange(n) * CTRL
            cur = np.full(n, float(p))
            if prev_pitch is not None and not phrase_start:
                g = singer.glide * float(rng.uniform(0.6, 2.5))
                cur += (prev_pitch - p) * np.exp(-tt / g)
            elif rng.random() < 0.5:
                cur -= float(rng.uniform(0.5, 2.0)) * np.exp(-tt / 0.06)
            if dur > 0.35:
                fade = np.clip((tt - singer.vib_delay) / 0.3, 0, 1)
                rate = singer.vib_rate * float(rng.uniform(0.93, 1.07))
                cur += singer.vib_depth * fade * np.sin(2 * np.pi * rate * tt + rng.uniform(0, 6))
            if dur > 0.6 and rng.random() < 0.2:  # fall off at the end
                cur -= 2.0 * np.clip((tt - (dur - 0.15)) / 0.15, 0, 1) ** 2
            semis[j0:j1] = cur
        # fill pitch before the next note with this note's pitch (for consonants / rests)
        semis[j1:] = semis[j1 - 1] if j1 > 0 else p
        ct = v_end
        for c, ln in zip(coda, coda_len):
            _place_consonant(c, ct, ln, fr, F, av, ah, af, fc, fbw, nasal, singer, rng, p, semis)
            ct += ln
        if ct > v_end:
            k0 = fr(ct)
            av[k0:k0 + int(0.01 / CTRL)] *= 0.5
        prev_pitch = p
        prev_end = t + dur
    # coarticulation smoothing
    def smooth(x, sec):
        k = max(1, int(sec / CTRL))
        ker = np.hanning(2 * k + 1)
        ker /= ker.sum()
        if x.ndim == 1:
            return np.convolve(x, ker, mode="same")
        return np.stack([np.convolve(x[:, j], ker, mode="same") for j in range(x.shape[1])], 1)

    F = smooth(F, 0.025)
    av = smooth(av, 0.008)
    ah = smooth(ah, 0.006)
    af = smooth(af, 0.003)
    semis = smooth(semis, 0.012)
    # slow pitch drift (cents) and jitter
    drift = np.cumsum(rng.normal(0, 1, nf))
    drift = smooth(drift - smooth(drift, 0.5), 0.05)
    drift = drift / (np.abs(drift).max() + 1e-9) * singer.drift
    semis = semis + drift
    # jitter: fast, small random pitch wobble (a few cents), like a real larynx
    jit = rng.standard_normal(nf)
    jit = smooth(jit, 0.006)
    semis = semis + jit / (jit.std() + 1e-9) * singer.jitter
    # per-sample controls
    ts = np.arange(n_samples) / sr / CTRL
    idx = np.arange(nf)
    up = lambda x: np.interp(ts, idx, x)  # noqa: E731
    f0 = 440.0 * 2 ** ((up(semis) - 69) / 12)
    formants = np.empty((n_samples, 5))
    bws = np.empty((n_samples, 5))
    nas = up(smooth(nasal, 0.01))
    for j in range(3):
        formants[:, j] = up(F[:, j])
    formants[:, 3] = singer.f4
    formants[:, 4] = singer.f5
    # keep F1 above f0 harmonics region a bit (sopranos raise F1 to track f0)
    formants[:, 0] = np.maximum(formants[:, 0], f0 * 1.05)
    formants[:, 1] = np.maximum(formants[:, 1], formants[:, 0] + 200)
    formants[:, 2] = np.maximum(formants[:, 2], formants[:, 1] + 300)
    bws[:, 0] = 80 * singer.bw_scale + 120 * nas
    bws[:, 1] = 100 * singer.bw_scale + 150 * nas
    bws[:, 2] = 150 * singer.bw_scale
    bws[:, 3] = 250 * singer.bw_scale
    bws[:, 4] = 300 * singer.bw_scale
    # shimmer: fast amplitude wobble
    shim = smooth(rng.standard_normal(nf), 0.008)
    av = av * (1 + singer.shimmer * shim / (shim.std() + 1e-9))
    y = sing(f0, up(av) * (1 - 0.6 * nas), up(ah), up(af), formants, bws, up(fc), up(fbw),
             singer.oq, singer.tilt, singer.hf, float(sr), int(rng.integers(1, 2**30)))
    return y


def _place_consonant(c, t, ln, fr, F, av, ah, af, fc, fbw, nasal, singer, rng, pitch, semis):
    kind, cf, bw, amp, voiced, targ = CONS[c]
    i0, i1 = fr(t), fr(t + ln)
    if i1 <= i0:
        return
    n = i1 - i0
    if targ is not None:
        F[i0:i1] = np.array(targ, float) * singer.fscale
    if kind in ("fric", "affr"):
        env = np.sin(np.linspace(0, np.pi, n)) ** 0.5
        if kind == "affr":
            av[i0:i1] = 0
            env = np.concatenate([np.zeros(n // 3), np.ones(n - n // 3)]) * np.linspace(1, 0.6, n)
        af[i0:i1] = amp * env * float(rng.uniform(0.7, 1.1))
        fc[i0:i1] = cf * float(rng.uniform(0.9, 1.1))
        fbw[i0:i1] = bw
        av[i0:i1] = 0.25 if voiced else 0.0
    elif kind == "asp":
        ah[i0:i1] = amp * np.sin(np.linspace(0, np.pi, n))
        av[i0:i1] = 0
    elif kind == "stop":
        close = int(n * 0.6)
        av[i0:i0 + close] = 0.12 if voiced else 0.0
        af[i0:i0 + close] = 0
        b0 = i0 + close
        blen = max(1, min(n - close, int(0.012 / CTRL)))
        af[b0:b0 + blen] = amp
        fc[b0:b0 + blen] = cf
        fbw[b0:b0 + blen] = bw
        if not voiced:
            ah[b0 + blen:i1] = 0.7 * amp
            av[b0:i1] = 0
        else:
            av[b0:i1] = 0.5
    elif kind == "nasal":
        av[i0:i1] = 0.55
        nasal[i0:i1] = 1.0
    elif kind == "liquid":
        av[i0:i1] = 0.7


def pick_engine(rng: np.random.Generator) -> str:
    """Which singer renders a song: the recorded-speech singer when installed, else the two others."""
    from . import speech_voice

    if speech_voice.available():
        return str(rng.choice(ENGINES, p=ENGINE_P))
    return "praat" if rng.random() < PRAAT_SHARE else "formant"


def backing_notes(plan: SongPlan, rng: np.random.Generator, singer: Singer) -> list[tuple]:
    """Sustained chord tones, one per bar, for the choruses' "ooh"/"ah" backing voices."""
    pitches = [p for p in range(singer.low, singer.high + 1)]
    out = []
    for b, sec, chord, bt, i in plan.bars():
        if sec.name not in ("chorus", "prechorus", "outro") or not sec.active["vocals"]:
            continue
        cands = [p for p in pitches if p % 12 in chord.pcs()]
        if cands:
            out.append((bt + 0.02, plan.bar * 0.95, int(rng.choice(cands)), None, True))
    return out


def make_vocals(plan: SongPlan, rng: np.random.Generator, singer_engine: str = "mixed") -> list[dict]:
    """Vocal layers for the stem: ``{"audio": mono, "pan": float, "gain_db": float, "role": str}``.

    ``singer_engine`` "mixed" draws the engine per song; "psola" makes every song's singer the
    recorded-speech one re-sung by overlap-add of its pitch periods (a natural waveform) instead of
    WORLD (the draws are the same, so the rest of the song does not change with the choice);
    "sinsy" makes it Sinsy's singing voice (see :mod:`.sinsy_voice`): the same song and parts,
    but its own draws move the mix settings drawn after the vocals.
    """
    female = bool(rng.random() < 0.5)
    singer = make_singer(rng, female)
    notes = make_melody(plan, rng, singer)
    n = plan.n_samples
    if not notes:
        return []
    # three singing engines: our source-filter singer, Praat/eSpeak words made to sing, and a
    # recorded human voice (neural TTS) re-sung with WORLD
    engine = pick_engine(rng)
    if singer_engine in ("psola", "sinsy"):
        engine = singer_engine
    recorded = engine in ("speech", "psola", "sinsy")
    voice_type = "female" if female else "male"
    if recorded and female and rng.random() < 0.15:
        voice_type = "child"

    lyrics_seed = int(rng.integers(1, 2**31))  # the lead and its double sing the same words
    speakers: dict[str, str] = {}  # one recorded speaker per voice type: a double is the lead's voice

    def voice(nts, sg, fem, jitter=0.0, words=None, lyrics=None, keys=None):
        if jitter:
            nts = [(t + float(rng.normal(0, jitter)), d, p, sy, ps) for (t, d, p, sy, ps) in nts]
        if recorded:
            from .speech_voice import pick_speaker, render_speech_voice

            vt = voice_type if fem == female else ("female" if fem else "male")
            if engine == "sinsy":
                from .sinsy_voice import render_sinsy_voice

                speakers[vt] = "sinsy"
                return render_sinsy_voice(nts, vt, n, rng, words=words, lyrics_seed=lyrics, phrase_keys=keys)
            if vt not in speakers:
                speakers[vt] = pick_speaker(rng, vt, plan.split)
            return render_speech_voice(nts, sg, vt, n, rng, words=words, lyrics_seed=lyrics, speaker=speakers[vt],
                                       phrase_keys=keys, method="psola" if engine == "psola" else "world")
        if engine == "praat":
            from .praat_voice import render_praat_voice

            return render_praat_voice(nts, sg, fem, n, rng, plan.split, lyrics_seed=lyrics, phrase_keys=keys)
        return render_voice(nts, sg, n, rng)

    layers = [{"audio": voice(notes, singer, female, lyrics=lyrics_seed), "pan": float(rng.uniform(-0.05, 0.05)),
               "gain_db": 0.0, "role": "lead", "engine": engine, "speaker": speakers.get(voice_type)}]
    r = rng.random()
    if r < 0.3:  # double-tracked lead
        s2 = make_singer(rng, female)
        s2.low, s2.high = singer.low, singer.high
        s2.fscale = singer.fscale * float(rng.uniform(0.97, 1.03))
        y2 = voice(notes, s2, female, 0.012, lyrics=lyrics_seed)
        side = float(rng.choice([-1, 1]))
        layers[0]["pan"] = -0.3 * side
        layers.append({"audio": y2, "pan": 0.3 * side, "gain_db": -2.0, "role": "double"})
    elif r < 0.55:  # harmony a diatonic third (or sixth below) on whole phrases, mostly in choruses,
        scale = plan.scale_pcs()  # singing the lead's words
        harm, keys = [], []
        for key, phrase in enumerate(phrases_of(notes)):
            sec = plan.section_at(phrase[0][0] + 0.01)
            if sec.name not in ("chorus", "prechorus") and rng.random() < 0.8:
                continue
            keys.append(key)
            for (t, dur, p, syl, ps) in phrase:
                q = p + 3
                while q % 12 not in scale:
                    q += 1
                if rng.random() < 0.3:
                    q -= 12
                harm.append((t, dur, q, syl, ps))
        if harm:
            hfem = bool(rng.random() < 0.5) if rng.random() < 0.3 else female
            hs = make_singer(rng, hfem)
            y2 = voice(harm, hs, hfem, 0.01, lyrics=lyrics_seed, keys=keys)
            layers.append({"audio": y2, "pan": float(rng.uniform(-0.5, 0.5)), "gain_db": float(rng.uniform(-9, -4)),
                           "role": "harmony"})
    if recorded and rng.random() < 0.4:  # backing "oohs": two voices, spread wide
        for side in (-1.0, 1.0):
            bs = make_singer(rng, female)
            bn = backing_notes(plan, rng, bs)
            if bn:
                y3 = voice(bn, bs, female, 0.015, words=BACKING_WORDS)
                layers.append({"audio": y3, "pan": side * float(rng.uniform(0.4, 0.8)),
                               "gain_db": float(rng.uniform(-14, -8)), "role": "backing"})
    return layers
