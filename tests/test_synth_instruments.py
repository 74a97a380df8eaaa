"""Played instruments of the synthetic songs: strums, chord shapes, amp + cabinet, sampled
instruments, filter sweeps, MuseScore General, split hold-outs and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from musicsep.data.synth import guitar, samples
from musicsep.data.synth.bass import make_bass
from musicsep.data.synth.events import Part
from musicsep.data.synth.fluid import FluidRenderer, musescore_path
from musicsep.data.synth.other import make_other
from musicsep.data.synth.song import make_plan
from musicsep.data.synth.synthlib import filter_sweep

SR = 44100


def _onsets(part: Part) -> list[tuple[float, int, int]]:
    return sorted((t, p, v) for t, _, p, v in part.notes)


def test_down_stroke_sounds_every_string_low_to_high_spread_over_a_few_ms():
    rng = np.random.default_rng(0)
    shape = [40, 47, 52, 56, 59, 64]
    for vel in (60.0, 110.0):
        part = Part("g")
        guitar.strum(part, 1.0, shape, "D", vel, 0.5, rng)
        notes = _onsets(part)
        assert [p for _, p, _ in notes] == shape
        times = np.array([t for t, _, _ in notes])
        assert times[0] == pytest.approx(1.0)
        spread = times[-1] - times[0]
        assert 0.004 <= spread <= 0.045, spread
        assert np.all(np.diff(times) >= 0)
        # the first strings of a stroke are hit harder than the last
        assert notes[0][2] > notes[-1][2]


def test_up_stroke_is_high_to_low_on_the_top_strings_softer_and_chucks_are_short():
    rng = np.random.default_rng(1)
    shape = [40, 47, 52, 56, 59, 64]
    down, up, chuck = Part("d"), Part("u"), Part("x")
    guitar.strum(down, 0.0, shape, "D", 100.0, 0.5, rng)
    guitar.strum(up, 0.0, shape, "U", 100.0, 0.5, rng)
    guitar.strum(chuck, 0.0, shape, "x", 100.0, 0.5, rng)
    ups = _onsets(up)
    assert 3 <= len(ups) <= 4
    assert [p for _, p, _ in ups] == sorted((p for _, p, _ in ups), reverse=True)
    assert ups[0][1] == 64
    assert np.mean([v for *_, v in ups]) < np.mean([v for *_, v in _onsets(down)]) - 5
    assert max(d for _, d, _, _ in chuck.notes) < 0.07
    assert min(d for _, d, _, _ in down.notes) > 0.4


def test_strummed_song_part_groups_notes_into_strokes_and_never_cuts_a_restruck_string():
    plan = make_plan(np.random.default_rng(3), 12.0, 3, "train", style="pop")
    part = Part("g", program=25)
    guitar.strummed_part(plan, np.random.default_rng(4), part, {})
    onsets = np.array(sorted(t for t, *_ in part.notes))
    strokes = np.split(onsets, np.nonzero(np.diff(onsets) > 0.05)[0] + 1)
    assert len(strokes) >= 10
    multi = [s for s in strokes if len(s) >= 3]
    assert len(multi) >= 0.8 * len(strokes)
    assert all(s[-1] - s[0] < 0.05 for s in strokes)
    # a note-off of the same pitch never falls after that pitch's next note-on
    by_pitch: dict[int, list] = {}
    for t, d, p, _ in part.notes:
        by_pitch.setdefault(p, []).append((t, t + d))
    for spans in by_pitch.values():
        spans.sort()
        assert all(end <= nxt for (_, end), (nxt, _) in zip(spans, spans[1:]))


def test_chord_shapes_are_playable_chords_with_the_root_in_the_bass():
    rng = np.random.default_rng(5)
    for pcs, root in (([0, 4, 7], 0), ([9, 0, 4], 9), ([7, 11, 2, 5], 7), ([4, 7, 11], 4)):
        for position in (0, 3, 5, 7):
            shape = guitar.chord_shape(pcs, root, position, rng)
            assert len(shape) >= 3
            assert all(p % 12 in pcs for p in shape)
            assert 40 <= shape[0] and shape[-1] <= 64 + position + 4
            assert len(set(shape)) == len(shape)
            assert root in {p % 12 for p in shape}
            if len(shape) >= 5:  # a full shape has the root in the bass (thin top-string shapes may not)
                assert shape[0] % 12 == root


def _harmonic_ratio(y: np.ndarray, f0: float) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    f = np.fft.rfftfreq(len(y), 1 / SR)
    band = lambda fc: spec[(f > fc - 15) & (f < fc + 15)].max()  # noqa: E731
    return sum(band(k * f0) for k in (2, 3, 4, 5)) / band(f0)


def test_driven_amp_adds_harmonics_and_the_cabinet_rolls_off_the_highs():
    t = np.arange(SR // 2) / SR
    sine = 0.5 * np.sin(2 * np.pi * 220 * t)
    clean = guitar.amp_chain(sine, {"model": "clean", "cab": "2x12_combo"}, np.random.default_rng(0))
    driven = guitar.amp_chain(sine, {"model": "high_gain", "cab": "2x12_combo"}, np.random.default_rng(0))
    assert clean.shape == driven.shape == (len(sine), 2)
    mid = slice(SR // 10, SR // 2)
    assert _harmonic_ratio(driven[mid, 0], 220) > 5 * _harmonic_ratio(clean[mid, 0], 220)
    for cab in guitar.CABINETS:
        ir = guitar.cabinet_ir(cab, np.random.default_rng(1))
        h = np.abs(np.fft.rfft(ir, 8192))
        f = np.fft.rfftfreq(8192, 1 / SR)
        body = h[(f > 500) & (f < 3000)].mean()
        assert h[(f > 10000) & (f < 16000)].mean() < 0.05 * body, cab
        assert h[f < 40].mean() < 0.3 * body, cab


def test_sampler_repitches_the_recording_and_releases_at_note_off(monkeypatch):
    tone = np.sin(2 * np.pi * 110.0 * np.arange(2 * SR) / SR)  # a 2 s "recording" of A2 (45)
    monkeypatch.setattr(samples, "load_sample", lambda name: (tone, 45.0))
    y = samples.render_sampled_notes([(0.1, 0.5, 57, 100)], SR, "any", release=0.08)
    seg = y[int(0.2 * SR):int(0.5 * SR)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    peak_hz = np.fft.rfftfreq(len(seg), 1 / SR)[spec.argmax()]
    assert abs(peak_hz - 220.0) < 5
    assert np.abs(y[: int(0.1 * SR) - 1]).max() == 0
    assert np.abs(y[int(0.72 * SR):]).max() == 0  # silent after note-off + release
    assert np.abs(y[int(0.55 * SR):int(0.6 * SR)]).max() > 0.05
    # a pad keeps its register: two octaves and a semitone up sounds one semitone up
    y = samples.render_sampled_notes([(0.0, 0.5, 45 + 25, 100)], SR, "any", fold_octaves=True)
    seg = y[int(0.1 * SR):int(0.5 * SR)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), 8 * len(seg)))
    peak_hz = np.fft.rfftfreq(8 * len(seg), 1 / SR)[spec.argmax()]
    assert abs(peak_hz - 110.0 * 2 ** (1 / 12)) < 1.0


def test_filter_sweep_moves_the_brightness_over_time():
    noise = np.random.default_rng(0).standard_normal(4 * SR)
    y = filter_sweep(noise, 2.0, np.random.default_rng(2))
    frames = y[: 4 * SR].reshape(40, -1)
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    f = np.fft.rfftfreq(frames.shape[1], 1 / SR)
    centroid = (spec * f).sum(1) / spec.sum(1)
    assert centroid.max() > 2.5 * centroid.min()


@pytest.mark.skipif(not samples.available(samples.ALL_SAMPLES), reason="lmms-common / sonic-pi-samples not installed")
def test_every_listed_sample_loads_and_sounds():
    for name in samples.available(samples.ALL_SAMPLES):
        x, root = samples.load_sample(name)
        assert len(x) > 0.15 * SR and abs(np.abs(x).max() - 1.0) < 1e-9 and 20 < root < 90, name


@pytest.mark.skipif(musescore_path() is None, reason="musescore-general-soundfont not installed")
def test_musescore_font_plays_its_own_samples():
    r = FluidRenderer()
    assert set(r.fonts) == {"musescore", "fluidr3"}
    ev = [(0, "on", 52, 100), (20000, "off", 52, 0)]
    a = r.render(25, 0, ev, 30000, font="fluidr3")
    b = r.render(25, 0, ev, 30000, font="musescore")
    assert np.abs(a).max() > 0.01 and np.abs(b).max() > 0.01
    assert np.abs(a - b).max() > 0.01
    r.close()


def _draws(split: str, n: int) -> dict[str, set]:
    seen: dict[str, set] = {"amp": set(), "cab": set(), "sample": set(), "font": set()}
    for seed in range(n):
        rng = np.random.default_rng(seed)
        plan = make_plan(rng, 8.0, seed, split)
        parts = make_other(plan, rng) + [make_bass(plan, rng, [])]
        for p in parts:
            if "amp" in p.fx:
                seen["amp"].add(p.fx["amp"]["model"])
                seen["cab"].add(p.fx["amp"]["cab"])
            if p.engine == "sampler":
                seen["sample"].add(p.params["sample"])
            if p.engine == "fluid":
                seen["font"].add(p.params.get("font", "fluidr3"))
    return seen


def test_train_never_draws_held_out_amps_cabinets_or_samples_and_test_does():
    held = {"amp": set(guitar.HOLDOUT_AMPS), "cab": set(guitar.HOLDOUT_CABS),
            "sample": set(samples.HOLDOUT_BASS) | set(samples.HOLDOUT_PADS)}
    train = _draws("train", 80)
    for key, names in held.items():
        assert not train[key] & names, key
    assert len(train["amp"]) >= 3 and len(train["cab"]) >= 3
    test = _draws("test", 80)
    assert test["amp"] & held["amp"] and test["cab"] & held["cab"]
    if samples.available(samples.ALL_SAMPLES):
        assert len(train["sample"]) >= 4 and test["sample"] & held["sample"]
    if musescore_path() is not None:
        assert train["font"] == {"fluidr3", "musescore"}


def test_strum_and_pick_patterns_hold_out_one_each_for_valid_and_test(monkeypatch):
    used = []
    real_pick = guitar.pick
    def recording_pick(rng, pool, holdout, split):
        choice = real_pick(rng, pool, holdout, split)
        used.append((split, choice))
        return choice

    monkeypatch.setattr(guitar, "pick", recording_pick)
    for split in ("train", "valid"):
        for seed in range(30):
            plan = make_plan(np.random.default_rng(seed), 8.0, seed, split, style="rock")
            guitar.strummed_part(plan, np.random.default_rng(seed), Part("g"), {})
            guitar.picked_part(plan, np.random.default_rng(seed), Part("g"), {})
    held = set(guitar.HOLDOUT_STRUMS) | set(guitar.HOLDOUT_PICKS)
    assert not {name for split, name in used if split == "train"} & held
    assert {name for split, name in used if split == "valid"} & held


def test_same_seed_renders_the_same_bass_and_other_parts():
    from musicsep.data.synth.fluid import new_renderer
    from musicsep.data.synth.render import render_part

    def render(seed: int) -> tuple[list[np.ndarray], list[Part]]:
        rng = np.random.default_rng(seed)
        new_renderer()
        plan = make_plan(rng, 4.0, seed, "train", style="rock")
        parts = [make_bass(plan, rng, [])] + make_other(plan, rng)
        return [render_part(p, plan.n_samples, rng) for p in parts], parts

    used = set()
    for seed in (5, 23):  # amp-modelled double-tracked guitars, MuseScore, a swept sampled pad
        (a, parts), (b, _) = render(seed), render(seed)
        assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
        assert sum(np.abs(x).max() > 0.01 for x in a) >= 2  # (a part may rest in this window)
        for p in parts:
            used |= {"amp"} if "amp" in p.fx else set()
            used |= {"twin"} if p.name.endswith("b") else set()
            used |= {p.engine, p.params.get("font", "fluidr3")} | ({"sweep"} if "sweep_bar" in p.params else set())
    wanted = {"amp", "twin", "sampler", "sweep"} | ({"musescore"} if musescore_path() else set())
    assert wanted <= used, wanted - used


def _stroke_starts(part: Part) -> np.ndarray:
    onsets = np.array(sorted(t for t, *_ in part.notes))
    return onsets[np.r_[True, np.diff(onsets) > 0.05]]


def test_double_tracked_guitars_play_the_same_strums_as_two_takes_panned_apart():
    found = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        plan = make_plan(rng, 8.0, seed, "train", style="rock")
        parts = make_other(plan, rng)
        for a, b in zip(parts, parts[1:]):
            if b.name != a.name + "b" or not a.notes:
                continue
            found += 1
            assert a.program == b.program and a.params.get("font") == b.params.get("font")
            assert a.pan < -0.5 and b.pan > 0.5
            assert {p for _, _, p, _ in a.notes} == {p for _, _, p, _ in b.notes}
            ta, tb = _stroke_starts(a), _stroke_starts(b)
            assert len(ta) == len(tb)
            gap = np.abs(ta - tb)
            assert gap.max() < 0.04 and gap.mean() > 0.001  # the same strums, but not the same take
    assert found >= 3
