"""A second singing engine: Praat's speech synthesizer (eSpeak inside ``praat-parselmouth``) made
to sing. Each phrase of random lyric words is synthesized as speech with its phoneme TextGrid; the
vowel nuclei are mapped onto the melody notes (consonants keep their natural length, vowels are
stretched to the notes) with a DurationTier, and a PitchTier imposes the sung pitch contour
(glides, vibrato, drift). Overlap-add resynthesis gives real word-like consonants and formant
transitions from a different synthesizer than :mod:`.vocals`, for variety."""

from __future__ import annotations

import numpy as np

from .song import SongPlan

WORDS = (
    "love heart night light fire baby tonight forever never alone home away run dream "
    "feel time world eyes hold stay go know down over under river city morning shadow "
    "golden highway hello goodbye remember money summer winter breaking falling rising "
    "everything nothing somebody nobody believe together lonely crazy little only wanna "
    "gonna yeah oh hey come back inside outside burning dancing singing calling waiting "
    "yesterday tomorrow forget sky rain storm ocean wild free slow fast hands face voice "
    "open closer darker brighter higher lover sister brother mother father street door "
    "window radio station paper silver diamond heaven angel devil memory promise trouble "
    "say tell me you we they all my your our this that when where why just still every "
    # sibilants are among the commonest sounds of sung English: without these a phrase can have none
    "so she is it's yes sun stars kiss miss sweet soul sing shine chance change secret sometimes "
    "these those was us songs lights nights days ways first last best rest sense speak such "
    "sure small smile stand kisses places voices chasing missing"
).split()

VOWEL_CHARS = set("aeiouɑæɐɒɔəɛɜɪʊʌyøœɨʉɯɤɘɵɞɶ")
LANGS = ("English (Great Britain)", "English (America)", "English (Scotland)", "English (Caribbean)",
         "Italian", "Spanish (Spain)", "Portuguese (Brazil)")
MALE = ("Male1", "Male2", "Male3", "Male4", "Male5", "Male6", "Michael", "Robert", "Andy")
FEMALE = ("Female1", "Female2", "Female3", "Female4", "Female5", "Annie", "Linda", "Steph")
HOLDOUT_VOICES = ("Male6", "Female5", "Steph")

_SYNTHS: dict = {}


def _libc_srand(seed: int) -> None:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.srand(ctypes.c_uint(seed))
        libc.srandom(ctypes.c_uint(seed))
    except OSError:  # pragma: no cover - not glibc
        pass


def _synth(lang: str, voice: str):
    from parselmouth.praat import call

    key = (lang, voice)
    if key not in _SYNTHS:
        _SYNTHS[key] = call("Create SpeechSynthesizer", lang, voice)
    return _SYNTHS[key]


def _tier(kind: str, total: float, points) -> object:
    """A Praat PitchTier / DurationTier from points, through Praat's text format (fast)."""
    import os
    import tempfile

    import parselmouth

    lines = ['File type = "ooTextFile"', f'Object class = "{kind}"', "", "0", repr(float(total)), str(len(points))]
    lines += [f"{float(t)!r} {float(v)!r}" for t, v in points]
    fd, path = tempfile.mkstemp(suffix=".txt")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        return parselmouth.read(path)
    finally:
        os.unlink(path)


def _syllables(word: str) -> int:
    groups, prev = 0, False
    for ch in word:
        v = ch in "aeiouy"
        if v and not prev:
            groups += 1
        prev = v
    return max(1, groups - (1 if word.endswith("e") and groups > 1 else 0))


def make_text(rng: np.random.Generator, n_syll: int, vocabulary=WORDS, syllables=None) -> str:
    """Random words from ``vocabulary`` with at least ``n_syll`` syllables (``syllables(word)``
    counts them; English spelling by default)."""
    syllables = syllables or _syllables
    words, count = [], 0
    while count < n_syll:
        w = str(rng.choice(vocabulary))
        words.append(w)
        count += syllables(w)
    return " ".join(words)


def _phonemes(tg):
    from parselmouth.praat import call

    tier = 4
    out = []
    for i in range(1, int(call(tg, "Get number of intervals", tier)) + 1):
        lab = call(tg, "Get label of interval", tier, i)
        out.append((lab, call(tg, "Get start time of interval", tier, i), call(tg, "Get end time of interval", tier, i)))
    return out


def pitch_contour(notes, t: np.ndarray, singer, rng: np.random.Generator) -> np.ndarray:
    """Sung pitch (semitones) at times ``t`` for notes ``(start, dur, pitch)``: glides + vibrato."""
    semis = np.full(t.shape, float(notes[0][2]))
    prev = None
    for (s, d, p) in notes:
        m = t >= s - 0.02
        tt = t[m] - s
        cur = np.full(tt.shape, float(p))
        if prev is not None:
            cur += (prev - p) * np.exp(-np.clip(tt, 0, None) / (singer.glide * float(rng.uniform(0.6, 2.0))))
        if d > 0.35:
            fade = np.clip((tt - singer.vib_delay) / 0.3, 0, 1)
            cur += singer.vib_depth * fade * np.sin(2 * np.pi * singer.vib_rate * tt + rng.uniform(0, 6))
        semis[m] = cur
        prev = p
    drift = np.cumsum(rng.normal(0, 1, t.shape))
    drift -= np.linspace(drift[0], drift[-1], len(drift))
    return semis + drift / (np.abs(drift).max() + 1e-9) * singer.drift


def phrases_of(notes: list[tuple]) -> list[list[tuple]]:
    """Split melody notes ``(start, dur, pitch, syllable, phrase_start)`` into phrases."""
    phrases, cur = [], []
    for nt in notes:
        if nt[4] and cur:
            phrases.append(cur)
            cur = []
        cur.append(nt)
    if cur:
        phrases.append(cur)
    return phrases


def note_anchors(nuclei: list[tuple[float, float]], total: float, ph: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Time anchors spoken -> sung for one phrase: vowel nuclei ``(start, end)`` of the speech
    (``total`` seconds long) are stretched onto the phrase's notes; consonants keep their natural
    length. Returns increasing ``(src, dst)`` times for a piecewise-linear map."""
    k = len(ph)
    m = len(nuclei)
    # target (sung) start/end of each nucleus
    T, E = [], []
    if m <= k:
        bounds = [int(np.floor(j * k / m)) for j in range(m + 1)]
        for j in range(m):
            a, b = bounds[j], bounds[j + 1] - 1
            T.append(ph[a][0])
            E.append(ph[b][0] + ph[b][1])
    else:
        owner = [int(np.floor(j * k / m)) for j in range(m)]
        for j in range(m):
            i = owner[j]
            c = owner.count(i)
            idx = owner[:j].count(i)
            T.append(ph[i][0] + idx * ph[i][1] / c)
            E.append(T[-1] + ph[i][1] / c)
    # anchors original -> target: consonants keep natural length, vowels absorb the rest
    src, dst = [0.0], [T[0] - nuclei[0][0]]
    for j, (s, e) in enumerate(nuclei):
        src.append(s)
        dst.append(max(T[j], dst[-1] + 0.3 * (s - src[-2])))
        gap = (nuclei[j + 1][0] - e) if j + 1 < m else (total - e)
        end_t = (T[j + 1] - gap) if j + 1 < m else (E[j] - min(gap, 0.15))
        src.append(e)
        dst.append(max(end_t, dst[-1] + 0.5 * (e - s)))
    src.append(total)
    dst.append(dst[-1] + (total - nuclei[-1][1]))
    src, dst = np.array(src), np.array(dst)
    keep = np.concatenate([[True], np.diff(src) > 1e-4])
    src, dst = src[keep], dst[keep]
    return src, dst


def add_phrase(out: np.ndarray, y: np.ndarray, start: int) -> None:
    """Add a sung phrase ``y`` to ``out`` at sample ``start`` (cut at both ends), with 10 ms fades."""
    a0 = max(0, -start)
    s0 = max(0, start)
    m = min(len(y) - a0, len(out) - s0)
    if m > 0:
        env = np.ones(m)
        fade = min(m, 441)
        env[:fade] = np.linspace(0, 1, fade)
        env[-fade:] *= np.linspace(1, 0, fade)
        out[s0:s0 + m] += y[a0:a0 + m] * env


def phrase_word_streams(rng: np.random.Generator, lyrics_seed: int | None, phrase_keys, count: int) -> list:
    """One random stream per phrase for its words (and speaking rate). With a ``lyrics_seed`` the
    stream of a phrase depends only on the seed and the phrase's key (its index in the lead's
    melody, or ``phrase_keys[j]``), so a double or a harmony sings the lead's words; without one,
    every phrase draws from ``rng``."""
    if lyrics_seed is None:
        return [rng] * count
    keys = list(range(count)) if phrase_keys is None else list(phrase_keys)
    return [np.random.default_rng([int(lyrics_seed), int(key)]) for key in keys]


def render_praat_voice(notes: list[tuple], singer, female: bool, n_samples: int, rng: np.random.Generator,
                       split: str, sr: int = 44100, lyrics_seed: int | None = None,
                       phrase_keys=None) -> np.ndarray:
    """Render melody notes ``(start, dur, pitch, syllable, phrase_start)`` to mono ``(n_samples,)``.

    Takes rendered with the same ``lyrics_seed`` sing the same words (see
    :func:`phrase_word_streams`) in the same language and eSpeak voice (a double-tracked lead or a
    harmony); without it they are drawn from ``rng``.
    """
    import parselmouth
    from parselmouth.praat import call

    from .drums import pick

    words_rng = rng if lyrics_seed is None else np.random.default_rng(lyrics_seed)
    lang = str(words_rng.choice(LANGS, p=[0.3, 0.3, 0.1, 0.1, 0.07, 0.07, 0.06]))
    voice = pick(words_rng, FEMALE if female else MALE, HOLDOUT_VOICES, split)
    synth = _synth(lang, voice)
    out = np.zeros(n_samples)
    phrases = phrases_of(notes)
    for ph, phrase_rng in zip(phrases, phrase_word_streams(rng, lyrics_seed, phrase_keys, len(phrases))):
        k = len(ph)
        text = make_text(phrase_rng, k)
        # the synthesizer's noise sources draw from Praat's generator and from C's rand() (which
        # other libraries in the process may seed from the clock): seed both for every phrase
        phrase_seed = int(rng.integers(1, 2**31))
        parselmouth.praat.run(f"random_initializeWithSeedUnsafelyButPredictably ({phrase_seed})")
        _libc_srand(phrase_seed)
        try:
            tg, snd = call(synth, "To Sound", text, "yes")
        except Exception:  # pragma: no cover - eSpeak hiccup: skip the phrase
            continue
        phon = _phonemes(tg)
        nuclei = [(s, e) for (lab, s, e) in phon if lab and any(c in VOWEL_CHARS for c in lab)]
        if not nuclei:
            continue
        total = snd.get_total_duration()
        src, dst = note_anchors(nuclei, total, ph)
        # Praat objects: manipulation, duration tier (factors per segment), pitch tier
        try:
            manip = call(snd, "To Manipulation", 0.01, 60, 600)
        except Exception:  # pragma: no cover
            continue
        pts = []
        for a in range(len(src) - 1):
            f = float(np.clip((dst[a + 1] - dst[a]) / (src[a + 1] - src[a]), 0.2, 20))
            pts += [(src[a] + 1e-4, f), (src[a + 1] - 1e-4, f)]
        dtier = _tier("DurationTier", total, pts)
        call([manip, dtier], "Replace duration tier")
        grid = np.arange(0.0, total, 0.01)
        t_target = np.interp(grid, src, dst)
        semis = pitch_contour([(n[0], n[1], n[2]) for n in ph], t_target, singer, rng)
        hz = 440.0 * 2 ** ((semis - 69) / 12)
        ptier = _tier("PitchTier", total, list(zip(grid, hz)))
        call([manip, ptier], "Replace pitch tier")
        # PSOLA draws random periods for unvoiced stretches from Praat's own generator: seed it
        parselmouth.praat.run(f"random_initializeWithSeedUnsafelyButPredictably ({int(rng.integers(1, 2**31))})")
        res = call(manip, "Get resynthesis (overlap-add)")
        y = np.asarray(res.values[0], dtype=np.float64)
        if res.sampling_frequency != sr:
            import soxr

            y = soxr.resample(y, res.sampling_frequency, sr)
        add_phrase(out, y, int(round(dst[0] * sr)))
    c = np.concatenate([[0.0], np.cumsum(out ** 2)])
    idx = np.arange(n_samples)
    env = np.sqrt(np.maximum(c[np.minimum(idx + 221, n_samples)] - c[np.maximum(idx - 220, 0)], 0) / 441)
    air = np.diff(np.diff(rng.standard_normal(n_samples + 2)))
    out += float(rng.uniform(0.004, 0.015)) * env * air / 4
    return out
