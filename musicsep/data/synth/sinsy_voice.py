"""A singer whose singing comes from recordings of a real singer: Sinsy's HTS voice
``nitech_jp_song070_f001`` (a statistical singing synthesizer trained on a Japanese woman's sung
recordings, CC-BY 3.0, shipped inside the ``pysinsy`` package) sings each phrase from a MusicXML
score with Japanese syllables, with the timing, vibrato, overshoot and breathiness it learned.
Pitch-synchronous overlap-add (the recorded-speech singer's PSOLA) then puts every note exactly on
its pitch (the voice sings high notes flat) and warps the formants (a brighter, child-like voice);
a man's part is sung an octave up and brought down by the WORLD vocoder with deeper formants."""

from __future__ import annotations

import os
import tempfile
import warnings
from xml.sax.saxutils import escape

import numpy as np

from .praat_voice import add_phrase, phrase_word_streams, phrases_of
from .speech_voice import _air, add_breath, pitch_marks, psola, warp_envelope

FRAME_MS = 5.0
LEAD_S = 0.4  # rest before a phrase: the syllable's consonant starts before its note, as sung
TAIL_S = 0.3
DIVISIONS = 480  # per quarter note, at 60 quarter notes per minute: a unit is 1/480 s
MIN_REST_UNITS = 48  # 0.1 s: the shortest pause the voice's five-state models can sing
MIN_NOTE_UNITS = 48
PSOLA_CEILING = 1100.0  # Hz: a woman's top notes, well above speech
# one octave up for a man's notes (the voice is a woman's), then the formants warped down
WARP = {"female": (0.95, 1.06), "male": (0.8, 0.9), "child": (1.08, 1.18)}
TRANSPOSE = {"female": 0, "male": 12, "child": 0}
KANA = tuple("あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわ"
             "がぎぐげござじずぜぞだでどばびぶべぼぱぴぷぺぽ") + ("きょ", "しゃ", "ちゅ", "りょ", "みゅ")
BACKING_KANA = ("あ", "う", "お")
STEPS = ("C", "C", "D", "D", "E", "F", "F", "G", "G", "A", "A", "B")
SHARP = (0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0)

_SINSY = None


def available() -> bool:
    try:
        _engine()
    except Exception:
        return False
    return True


def _engine():
    """The synthesizer with its Japanese dictionary and the packaged voice, loaded once per process."""
    global _SINSY
    if _SINSY is None:
        with warnings.catch_warnings():  # pysinsy 0.0.5 imports the deprecated pkg_resources
            warnings.simplefilter("ignore")
            import pysinsy
        engine = pysinsy.Sinsy()
        if not engine.setLanguages("j", pysinsy.get_default_dic_dir()):
            raise RuntimeError("Sinsy: the Japanese dictionary did not load")
        if not engine.loadVoices(pysinsy.get_default_htsvoice()):
            raise RuntimeError("Sinsy: the packaged voice did not load")
        _SINSY = engine
    return _SINSY


def score_xml(events: list[tuple[int | None, int, str | None]]) -> str:
    """A one-measure MusicXML score at 60 quarter notes a minute from ``(midi or None, units, kana)``
    events (``None`` is a rest; a unit is 1/480 s); the measure is as long as the events."""
    total = sum(d for _, d, _ in events)
    beats = -(-total // DIVISIONS)
    pad = beats * DIVISIONS - total
    if pad:
        events = list(events[:-1]) + [(None, events[-1][1] + pad, None)]
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<score-partwise version="3.0"><part-list><score-part id="P1"><part-name>voice</part-name>'
           '</score-part></part-list><part id="P1"><measure number="1">',
           f'<attributes><divisions>{DIVISIONS}</divisions><time><beats>{beats}</beats>'
           '<beat-type>4</beat-type></time></attributes><direction><sound tempo="60"/></direction>']
    for midi, units, kana in events:
        if midi is None:
            out.append(f"<note><rest/><duration>{units}</duration></note>")
            continue
        alter = "<alter>1</alter>" if SHARP[midi % 12] else ""
        out.append(f"<note><pitch><step>{STEPS[midi % 12]}</step>{alter}<octave>{midi // 12 - 1}</octave></pitch>"
                   f"<duration>{units}</duration><lyric><text>{escape(kana)}</text></lyric></note>")
    out.append("</measure></part></score-partwise>")
    return "\n".join(out)


def phrase_events(phrase: list[tuple], kana: list[str], transpose: int) -> list[tuple]:
    """Score events for one phrase of notes ``(start, dur, pitch, ...)``: a lead rest, the notes
    (gaps between them as rests) and a tail rest; times relative to ``phrase[0][0] - LEAD_S``."""
    unit = 1.0 / DIVISIONS
    events: list[tuple] = [(None, int(round(LEAD_S / unit)), None)]
    clock = LEAD_S
    t0 = phrase[0][0]
    for (t, dur, pitch, *_), k in zip(phrase, kana):
        gap = int(round((t - t0 + LEAD_S - clock) / unit))
        if gap >= MIN_REST_UNITS:
            events.append((None, gap, None))
            clock += gap * unit
        elif gap > 0:  # too short for the synthesizer's pause: the note before holds on
            events[-1] = (events[-1][0], events[-1][1] + gap, events[-1][2])
            clock += gap * unit
        units = max(int(round((t - t0 + LEAD_S + dur - clock) / unit)), MIN_NOTE_UNITS)
        events.append((int(pitch) + transpose, units, k))
        clock += units * unit
    events.append((None, int(round(TAIL_S / unit)), None))
    return events


def sing_score(xml: str) -> tuple[np.ndarray, int]:
    engine = _engine()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "phrase.xml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(xml)
        if not engine.loadScoreFromMusicXML(path):
            raise RuntimeError("Sinsy could not read the score")
        try:
            y, sr = engine.synthesize()
        finally:
            engine.clearScore()
    return np.asarray(y, dtype=np.float64) / 32768.0, int(sr)


def remove_bursts(y: np.ndarray, sr: int) -> np.ndarray | None:
    """The take with its filter blow-ups cut out, or None when they are most of it.

    On some consonant onsets the voice's synthesis filter diverges for 0.1-0.2 s (peaks of 1e6 to
    1e88, or NaN) and then recovers. Frames of 10 ms louder than ten times the take's median
    sounding frame, or not finite, are silenced with 30 ms on each side and 5 ms fades.
    """
    hop = sr // 100
    m = len(y) // hop
    frames = np.nan_to_num(y[: m * hop], nan=np.inf).reshape(m, hop)
    with np.errstate(over="ignore", invalid="ignore"):
        rms = np.sqrt(np.mean(frames ** 2, axis=1))
    sounding = np.isfinite(rms) & (rms > 1e-3)
    if not sounding.any():
        return None
    bad = ~np.isfinite(rms) | (rms > 10 * np.median(rms[sounding]))
    if not bad.any():
        return y
    bad = np.convolve(bad, np.ones(7), mode="same") > 0  # three frames each side
    if bad.mean() > 0.25:
        return None
    gain = np.repeat(np.where(bad, 0.0, 1.0), hop)
    gain = np.concatenate([gain, np.full(len(y) - len(gain), gain[-1])])
    fade = sr // 200
    gain = np.convolve(np.pad(gain, fade, mode="edge"), np.ones(2 * fade + 1) / (2 * fade + 1), mode="same")[fade:-fade]
    return np.where(gain > 0, np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0), 0.0) * gain


def target_semitones(phrase: list[tuple], t: np.ndarray) -> np.ndarray:
    """The score's pitch (MIDI) at phrase-relative times ``t`` (NaN between notes)."""
    out = np.full(t.shape, np.nan)
    t0 = phrase[0][0] - LEAD_S
    for (s, d, p, *_) in phrase:
        out[(t >= s - t0) & (t < s - t0 + d)] = float(p)
    return out


def on_pitch(f0: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``f0`` moved note by note so that its median over each note's voiced frames sits on the
    note (MIDI ``target`` per frame, NaN between notes), keeping the synthesizer's vibrato and glides."""
    voiced = f0 > 0
    semis = np.where(voiced, 12 * np.log2(np.maximum(f0, 1e-3) / 440.0) + 69, np.nan)
    offset = np.zeros(len(f0))
    have = np.isfinite(target)
    edges = np.flatnonzero(np.diff(np.concatenate([[np.nan], target, [np.nan]])) != 0)
    for a, b in zip(edges[:-1], edges[1:]):
        if not have[a]:
            continue
        mid = slice(a + (b - a) // 4, b - (b - a) // 4 or b)
        v = voiced[mid]
        if v.any():
            offset[a:b] = target[a] - np.median(semis[mid][v])
    # between notes the offset carries on from the last note; a 30 ms smoothing joins the steps
    idx = np.flatnonzero(offset != 0)
    if len(idx):
        offset = np.interp(np.arange(len(f0)), idx, offset[idx])
    k = max(int(30 / FRAME_MS), 1)
    offset = np.convolve(np.pad(offset, k, mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), mode="same")[k:-k]
    return np.where(voiced, f0 * 2 ** (offset / 12), 0.0)


def render_sinsy_voice(notes: list[tuple], voice_type: str, n_samples: int, rng: np.random.Generator,
                       sr: int = 44100, words: tuple[str, ...] | None = None,
                       lyrics_seed: int | None = None, phrase_keys=None) -> np.ndarray:
    """Render melody notes ``(start, dur, pitch, syllable, phrase_start)`` to mono ``(n_samples,)``.

    ``voice_type`` (female, male, child) sets the transposition and the formant warp; ``words``
    asks for backing vowels instead of lyrics; takes with the same ``lyrics_seed`` sing the same
    syllables (see :func:`phrase_word_streams`). The synthesizer brings its own vibrato and glides.
    """
    import soxr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyworld

    warp = float(rng.uniform(*WARP[voice_type]))
    transpose = TRANSPOSE[voice_type]
    out = np.zeros(n_samples)
    phrases = phrases_of(notes)
    for ph, phrase_rng in zip(phrases, phrase_word_streams(rng, lyrics_seed, phrase_keys, len(phrases))):
        pool = BACKING_KANA if words else KANA
        kana = [str(phrase_rng.choice(pool)) for _ in ph]
        y, sy = sing_score(score_xml(phrase_events(ph, kana, transpose)))
        y = remove_bursts(y, sy) if len(y) >= sy * 0.2 else None
        if y is None:
            continue
        y = soxr.resample(y, sy, sr)
        f0, t = pyworld.dio(y, sr, frame_period=FRAME_MS, f0_floor=70.0, f0_ceil=1200.0)
        f0 = pyworld.stonemask(y, f0, t, sr)
        f0_out = on_pitch(f0, target_semitones(ph, t))  # back down the octave, too
        if transpose:  # an octave down is too far for overlap-add: its grains no longer overlap
            sp = warp_envelope(pyworld.cheaptrick(y, f0, t, sr), warp)
            y = pyworld.synthesize(np.ascontiguousarray(f0_out), np.ascontiguousarray(sp),
                                   pyworld.d4c(y, f0, t, sr), sr, FRAME_MS)
        else:  # same timing: only the pitch and the formants move
            span = np.array([0.0, len(y) / sr])
            y = psola(y, sr, pitch_marks(y, sr, PSOLA_CEILING), span, span, t, f0_out, warp, PSOLA_CEILING)
        y = y / (np.abs(y).max() + 1e-9)
        s0 = int(round((ph[0][0] - LEAD_S) * sr))
        add_breath(out, rng, sr, int(round(ph[0][0] * sr)) - int(sr * 0.12))  # a breath before the phrase
        add_phrase(out, y, s0)
    return _air(out, sr, float(rng.uniform(0.02, 0.1)))
