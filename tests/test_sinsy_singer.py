"""Sinsy's singing voice (``--singer sinsy``): scores, pitch, determinism, the synth command."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from conftest import melody_tracking

from musicsep.data.synth import sinsy_voice
from musicsep.data.synth.sinsy_voice import DIVISIONS, on_pitch, phrase_events, render_sinsy_voice, score_xml
from musicsep.data.synth.song import make_plan
from musicsep.data.synth.vocals import make_melody, make_singer

SR = 44100


def _sing(seed: int, voice_type: str, seconds: float = 10.0):
    rng = np.random.default_rng(seed)
    plan = make_plan(rng, seconds, seed, "train", style="pop")
    notes = make_melody(plan, rng, make_singer(rng, voice_type != "male"))
    return render_sinsy_voice(notes, voice_type, plan.n_samples, rng), notes


@pytest.fixture(scope="module")
def sung():
    return {voice_type: _sing(3, voice_type) for voice_type in ("female", "male")}


@pytest.mark.parametrize("voice_type", ["female", "male"])
def test_sinsy_singer_sings_the_melody(sung, voice_type):
    """Mostly voiced on the notes and within a semitone of them, for a woman's part and for a man's
    (sung an octave up by the voice and brought down)."""
    y, notes = sung[voice_type]
    assert len(notes) >= 6
    voiced, in_tune = melody_tracking(y, notes, SR, fmin=70, fmax=1200)
    assert voiced > 0.7, voiced
    assert in_tune > 0.75, in_tune


def test_sinsy_singer_same_seed_same_samples(sung):
    again, _ = _sing(3, "female")
    assert np.array_equal(again, sung["female"][0])
    other, _ = _sing(4, "female")
    assert not np.array_equal(other[: len(again)], again[: len(other)])


def test_score_holds_the_phrase_timing():
    """Lead rest, notes at their times (a gap too short to sing a pause is held by the note before),
    a tail rest; the measure is exactly as long as its notes."""
    phrase = [(1.0, 0.5, 64, None, True), (1.55, 0.45, 67, None, False), (2.5, 1.0, 60, None, False)]
    events = phrase_events(phrase, ["か", "ら", "あ"], 12)
    pitched = [(m, u) for m, u, k in events if m is not None]
    assert [m for m, _ in pitched] == [76, 79, 72]
    assert pitched[0][1] == round(0.55 * DIVISIONS)  # the 0.05 s gap joined the first note
    starts = np.cumsum([0] + [u for _, u, _ in events])[:-1] / DIVISIONS
    firsts = [s for s, (m, _, _) in zip(starts, events) if m is not None]
    assert np.allclose(np.array(firsts) - firsts[0], [0.0, 0.55, 1.5], atol=2 / DIVISIONS)
    root = ET.fromstring(score_xml(events))
    notes = root.findall(".//note")
    total = sum(int(n.find("duration").text) for n in notes)
    assert total == int(root.find(".//beats").text) * DIVISIONS
    assert [n.find("lyric/text").text for n in notes if n.find("rest") is None] == ["か", "ら", "あ"]
    sharp = root.findall(".//note/pitch")[1]  # MIDI 79 is G5
    assert sharp.find("step").text == "G" and sharp.find("octave").text == "5"


def test_on_pitch_moves_each_note_and_keeps_the_vibrato():
    frames = 400
    target = np.full(frames, np.nan)
    target[20:200], target[220:380] = 72.0, 67.0
    semis = np.where(np.isfinite(target), target - 1.3, np.nan)  # a voice singing flat
    semis += 0.4 * np.sin(np.arange(frames) * 2 * np.pi / 36)  # with vibrato
    f0 = np.where(np.isfinite(semis), 440 * 2 ** ((np.nan_to_num(semis) - 69) / 12), 0.0)
    out = on_pitch(f0, target)
    assert np.array_equal(out > 0, f0 > 0)
    got = 12 * np.log2(out[60:160] / 440) + 69
    assert abs(np.median(got) - 72.0) < 0.1 and got.max() - got.min() > 0.6
    assert abs(np.median(12 * np.log2(out[260:340] / 440) + 69) - 67.0) < 0.1


def test_sinsy_singer_sings_the_same_song():
    """``--singer sinsy``: the song and its parts are the mixed generator's, every layer is Sinsy's
    voice, the mixture is the exact sum of the stems; same seed, same bytes."""
    from musicsep.data.synth.dataset import track_seed
    from musicsep.data.synth.render import render_song

    seed = track_seed(0, "train", 5)
    _, mixed = render_song(seed, "train", 6.0)
    audio, meta = render_song(seed, "train", 6.0, singer="sinsy")
    again, _ = render_song(seed, "train", 6.0, singer="sinsy")
    assert meta["voice"] == "sinsy" and meta["voice_speaker"] == "sinsy"
    for key in ("style", "tempo", "key", "bass", "drum_kit", "other", "sections"):
        assert meta[key] == mixed[key], key
    for stem in audio:
        assert np.array_equal(audio[stem], again[stem]), stem
    assert np.abs(audio["vocals"]).max() > 0.01
    assert np.abs(audio["mixture"] - sum(audio[s] for s in ("drums", "bass", "other", "vocals"))).max() < 1e-6


def test_synth_without_pysinsy_is_one_line(tmp_path, monkeypatch, capsys):
    from musicsep.cli import main

    monkeypatch.setattr(sinsy_voice, "available", lambda: False)
    assert main(["synth", "--out", str(tmp_path / "s"), "--tracks", "1", "--seconds", "2", "--singer", "sinsy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --singer sinsy needs the pysinsy package")
    assert not (tmp_path / "s").exists()


def test_filter_blow_ups_are_cut_out():
    """A burst of 0.15 s (the synthesis filter diverging on a consonant, NaN in it) is silenced with
    a margin; the rest of the take is untouched; a take that is mostly burst is dropped."""
    from musicsep.data.synth.sinsy_voice import remove_bursts

    sr = 48000
    t = np.arange(3 * sr) / sr
    y = 0.2 * np.sin(2 * np.pi * 220 * t)
    y[int(1.0 * sr):int(1.15 * sr)] = 1e30
    y[int(1.1 * sr)] = np.nan
    out = remove_bursts(y, sr)
    assert np.all(np.isfinite(out)) and np.abs(out).max() <= 0.2
    assert np.all(out[int(0.99 * sr):int(1.16 * sr)] == 0)
    keep = np.r_[0:int(0.9 * sr), int(1.3 * sr):len(y)]
    assert np.array_equal(out[keep], y[keep])
    clean = 0.2 * np.sin(2 * np.pi * 220 * t)
    assert np.array_equal(remove_bursts(clean, sr), clean)
    y[: 2 * sr] = np.nan
    assert remove_bursts(y, sr) is None


def test_a_diverging_phrase_is_left_out(monkeypatch):
    """A take that diverges throughout is skipped, the other phrases are sung, and nothing
    non-finite reaches the stem."""
    real = sinsy_voice.sing_score
    calls = []

    def first_diverges(xml):
        y, sr = real(xml)
        calls.append(len(calls))
        return (np.full(len(y), np.nan) if len(calls) == 1 else y), sr

    monkeypatch.setattr(sinsy_voice, "sing_score", first_diverges)
    y, notes = _sing(3, "female")
    from musicsep.data.synth.praat_voice import phrases_of

    phrases = phrases_of(notes)
    assert len(calls) == len(phrases) >= 3
    assert np.all(np.isfinite(y)) and np.abs(y).max() < 10
    first = phrases[0]
    a, b = int(first[0][0] * SR) + SR // 10, int((first[-1][0] + first[-1][1]) * SR)
    later = phrases[2]
    c, d = int(later[0][0] * SR), int((later[-1][0] + later[-1][1]) * SR)
    assert np.sqrt(np.mean(y[max(a, 0):b] ** 2)) < 0.05 * np.sqrt(np.mean(y[c:d] ** 2))
