"""The recorded-speech singer (piper and Kokoro voices re-sung with WORLD or PSOLA) and the mastering
limiter."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import melody_tracking

from musicsep.data.synth.mix import limiter_gain, master_gain, mix_stems
from musicsep.data.synth.song import make_plan
from musicsep.data.synth.speech_voice import find_nuclei, pitch_marks, psola, render_speech_voice
from musicsep.data.synth.vocals import make_melody, make_singer

SR = 44100


def _sing(seed: int, female: bool, seconds: float = 10.0, speaker: str = "joe", method: str = "world"):
    rng = np.random.default_rng(seed)
    plan = make_plan(rng, seconds, seed, "train", style="pop")
    singer = make_singer(rng, female)
    notes = make_melody(plan, rng, singer)
    y = render_speech_voice(notes, singer, "female" if female else "male", plan.n_samples, rng, speaker=speaker,
                            method=method)
    return y, notes


@pytest.fixture(scope="module")
def sung():
    return _sing(3, female=True)


@pytest.fixture(scope="module")
def sung_by(sung):
    """The same song sung by piper's joe (a woman's range) and by two Kokoro speakers."""
    return {"joe": sung, "jf_alpha": _sing(3, female=True, speaker="jf_alpha"),
            "jm_kumo": _sing(3, female=False, speaker="jm_kumo"),
            "joe psola": _sing(3, female=True, method="psola"),
            "jf_alpha psola": _sing(3, female=True, speaker="jf_alpha", method="psola"),
            "jm_kumo psola": _sing(3, female=False, speaker="jm_kumo", method="psola")}


@pytest.mark.parametrize("speaker", ["joe", "jf_alpha", "jm_kumo", "joe psola", "jf_alpha psola", "jm_kumo psola"])
def test_speech_singer_sings_the_melody(sung_by, speaker):
    y, notes = sung_by[speaker]
    assert len(notes) >= 6
    voiced, in_tune = melody_tracking(y, notes, SR, fmin=80, fmax=1000)
    assert voiced > 0.6, voiced
    assert in_tune > 0.75, in_tune


@pytest.mark.parametrize("speaker", ["joe", "jf_alpha", "jm_kumo", "jm_kumo psola"])
def test_speech_singer_has_consonants_and_air(sung_by, speaker):
    y = sung_by[speaker][0]
    spec = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    total = spec.sum()
    assert spec[(freqs > 4000) & (freqs < 10000)].sum() / total > 1e-3  # fricatives and bursts
    assert spec[freqs > 11000].sum() / total > 1e-6  # the exciter's air above the TTS band


def test_speech_singer_same_seed_same_samples(sung):
    again, _ = _sing(3, female=True)
    assert np.array_equal(again, sung[0])
    other, _ = _sing(4, female=True)
    assert not np.array_equal(other[: len(again)], again[: len(other)])


def _glottal_pulses(f0: float, seconds: float, sr: int) -> np.ndarray:
    """A voiced vowel-like sound: a pulse train at ``f0`` through two resonances (700 and 1200 Hz)."""
    from scipy.signal import lfilter

    x = np.zeros(int(seconds * sr))
    x[:: int(round(sr / f0))] = 1.0
    for fc, bw in ((700, 90), (1200, 110)):
        r = np.exp(-np.pi * bw / sr)
        x = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * fc / sr), r * r], x)
    return x / np.abs(x).max()


def _spectral_centroid(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / sr)
    return float((spec * freqs).sum() / spec.sum())


def test_psola_without_changes_gives_back_the_recording():
    """Same times, same pitch, no warp: the overlap-added periods rebuild the input waveform (up to
    a shift of less than one period: the sung pulses start on the phrase's first output time)."""
    sr = 22050
    x = _glottal_pulses(150.0, 1.0, sr)
    marks = pitch_marks(x, sr)
    assert len(marks) > 120 and np.allclose(np.diff(marks), 1 / 150, atol=2e-4)
    t_out = np.arange(0, 1.0, 0.005)
    y = psola(x, sr, marks, np.array([0.0, 1.0]), np.array([0.0, 1.0]), t_out, np.full(len(t_out), 150.0), 1.0)
    assert len(y) == len(x)
    a, b = int(0.1 * sr), int(0.9 * sr)
    period = sr // 150
    best = max(np.corrcoef(x[a:b], y[a + lag:b + lag])[0, 1] for lag in range(-period, period + 1))
    assert best > 0.95


def test_psola_moves_pitch_and_formants_independently():
    import librosa

    sr = 22050
    x = _glottal_pulses(150.0, 1.0, sr)
    marks = pitch_marks(x, sr)
    t_out = np.arange(0, 2.0, 0.005)
    stretch = (np.array([0.0, 1.0]), np.array([0.0, 2.0]))  # twice as long
    high = psola(x, sr, marks, *stretch, t_out, np.full(len(t_out), 220.0), 1.0)
    bright = psola(x, sr, marks, *stretch, t_out, np.full(len(t_out), 220.0), 1.25)
    assert abs(len(high) - 2 * len(x)) <= 2
    for y in (high, bright):
        f0, voiced, _ = librosa.pyin(y, fmin=80, fmax=600, sr=sr, frame_length=2048)
        assert voiced.mean() > 0.8 and abs(np.nanmedian(f0) - 220.0) < 220.0 * 0.03
    mid = slice(int(0.2 * sr), int(1.8 * sr))
    assert _spectral_centroid(bright[mid], sr) > 1.12 * _spectral_centroid(high[mid], sr)


def test_psola_singer_changes_only_the_vocals():
    """``--singer psola``: the same draws, so drums, bass and other are the mixed generator's, and
    every layer is the recorded-speech singer re-sung by PSOLA; same seed, same bytes."""
    from musicsep.data.synth.dataset import track_seed
    from musicsep.data.synth.render import render_song

    seed = track_seed(0, "train", 5)
    mixed, _ = render_song(seed, "train", 6.0)
    audio, meta = render_song(seed, "train", 6.0, singer="psola")
    again, _ = render_song(seed, "train", 6.0, singer="psola")
    assert meta["voice"] == "psola"
    for stem in audio:
        assert np.array_equal(audio[stem], again[stem]), stem
    assert np.abs(audio["vocals"]).max() > 0.01 and not np.array_equal(audio["vocals"], mixed["vocals"])
    assert np.abs(audio["mixture"] - sum(audio[s] for s in ("drums", "bass", "other", "vocals"))).max() < 1e-6


def test_held_out_speakers_are_never_heard_in_training():
    from musicsep.data.synth.speech_voice import HOLDOUT_SPEAKERS, pick_speaker

    for voice_type in ("male", "female", "child"):
        train = {pick_speaker(np.random.default_rng(i), voice_type, "train") for i in range(60)}
        valid = {pick_speaker(np.random.default_rng(i), voice_type, "valid") for i in range(60)}
        assert train and not train & set(HOLDOUT_SPEAKERS), (voice_type, train)
        assert valid & set(HOLDOUT_SPEAKERS), (voice_type, valid)
    assert len({pick_speaker(np.random.default_rng(i), "female", "train") for i in range(60)}) >= 3


def test_kokoro_speech_is_deterministic_and_counts_its_syllables():
    from musicsep.data.synth.speech_voice import speak, vowel_groups

    first, sr, groups = speak("kokoɾo no soɾa", 1.0, "jf_nezumi")
    again, _, _ = speak("kokoɾo no soɾa", 1.0, "jf_nezumi")
    assert sr == 24000 and 0.4 < len(first) / sr < 3.0 and np.array_equal(first, again)
    assert groups == 6 and vowel_groups("kʲoː daiʥoːbɯ") == 4  # "ai" is one nucleus, "ː" lengthens
    slower, _, _ = speak("kokoɾo no soɾa", 1.3, "jf_nezumi")
    assert len(slower) > len(first) * 1.1


def test_a_double_tracked_take_and_a_harmony_sing_the_same_words(monkeypatch):
    """Takes that share a lyrics seed speak the same text, phrase by phrase, whatever their own
    random draws (timing, vibrato, breaths); a take without it draws its own words."""
    import musicsep.data.synth.speech_voice as speech_voice

    spoken: list[list[str]] = []
    real_speak = speech_voice.speak

    def recording_speak(text, length_scale, speaker="joe"):
        spoken[-1].append(text)
        return real_speak(text, length_scale, speaker)

    monkeypatch.setattr(speech_voice, "speak", recording_speak)
    rng = np.random.default_rng(5)
    plan = make_plan(rng, 8.0, 5, "train", style="pop")
    singer = make_singer(rng, False)
    notes = make_melody(plan, rng, singer)
    for take_seed, lyrics in ((1, 77), (2, 77), (3, None)):
        spoken.append([])
        render_speech_voice(notes, singer, "male", plan.n_samples, np.random.default_rng(take_seed),
                            lyrics_seed=lyrics)
    assert len(spoken[0]) >= 2 and spoken[0] == spoken[1]
    assert spoken[2] != spoken[0]
    # a harmony on the second phrase only sings that phrase's words
    from musicsep.data.synth.praat_voice import phrases_of

    second = phrases_of(notes)[1]
    spoken.append([])
    render_speech_voice(second, singer, "male", plan.n_samples, np.random.default_rng(4), lyrics_seed=77,
                        phrase_keys=[1])
    assert spoken[3] == [spoken[0][1]]


def test_find_nuclei_locates_loud_voiced_stretches():
    frame = 0.005
    f0 = np.zeros(200)
    energy = np.full(200, 0.01)
    for a, b in ((20, 50), (80, 100), (140, 190)):
        f0[a:b] = 120.0
        energy[a:b] = 1.0
    nuclei = find_nuclei(f0, energy, 3, frame)
    assert len(nuclei) == 3
    for (s, e), (a, b) in zip(nuclei, ((20, 50), (80, 100), (140, 190))):
        assert abs(s - a * frame) <= 3 * frame and abs(e - b * frame) <= 3 * frame


def test_limiter_holds_the_ceiling_exactly():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SR, 2)) * np.linspace(0.1, 3.0, SR)[:, None]
    g = limiter_gain(x, ceiling=0.9, release_s=0.1)
    assert np.abs(x * g[:, None]).max() <= 0.9 + 1e-12
    assert g.min() < 0.5 and g[: SR // 20].min() > 0.99  # only the loud end is turned down


def test_master_gain_reaches_a_loud_target():
    import pyloudnorm

    rng = np.random.default_rng(1)
    t = np.arange(4 * SR) / SR
    mix = 0.05 * np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], 1)
    mix += 0.02 * rng.standard_normal(mix.shape)
    g, ceiling = master_gain(mix, rng)
    out = mix * g[:, None]
    loud = pyloudnorm.Meter(SR).integrated_loudness(out)
    assert -16.0 < loud < -7.0, loud
    assert np.abs(out).max() <= ceiling + 1e-12


def test_mastered_mix_is_the_exact_sum_of_its_stems():
    import pyloudnorm

    from musicsep.data.synth import mix as mix_module

    rng = np.random.default_rng(2)
    n = 3 * SR
    t = np.arange(n) / SR
    stems = {
        "drums": np.stack([rng.standard_normal(n) * (np.sin(2 * np.pi * 2 * t) > 0.9)] * 2, 1),
        "bass": np.stack([np.sin(2 * np.pi * 55 * t)] * 2, 1),
        "other": np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], 1),
        "vocals": np.stack([np.sin(2 * np.pi * 300 * t * (1 + 0.01 * np.sin(2 * np.pi * 5 * t)))] * 2, 1),
    }
    share = mix_module.MASTERED_SHARE
    mix_module.MASTERED_SHARE = 1.0  # this song is mastered
    try:
        out = mix_stems(stems, rng, "pop")
    finally:
        mix_module.MASTERED_SHARE = share
    total = ((out["drums"] + out["bass"]) + out["other"]) + out["vocals"]
    assert np.array_equal(out["mixture"], total)
    assert np.abs(out["mixture"]).max() <= 1.0
    assert pyloudnorm.Meter(SR).integrated_loudness(out["mixture"].astype(np.float64)) > -17.0


def test_two_processes_assemble_the_kokoro_model_at_once(tmp_path):
    """Two `musicsep synth` commands started together on a new machine both find the model: the
    second waits for the first instead of racing it on the same temporary file."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, KOKORO_JA_CACHE=str(tmp_path))
    code = "from musicsep.data.synth.speech_voice import prepare; prepare()"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE) for _ in range(3)]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    model = tmp_path / "kokoro-v1.0.int8.onnx"
    assert model.stat().st_size > 50_000_000
    assert not list(tmp_path.glob("*.tmp"))
