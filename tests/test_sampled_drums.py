"""Sampled drum kits (Hydrogen drumkit.xml): parsing, roles, rendering, hi-hat choke.

A tiny kit is written to a temporary folder, so these tests do not need hydrogen-drumkits.
"""

from __future__ import annotations

import numpy as np
import soundfile as sf

from musicsep.data.synth.sampled_drums import read_kit, render_sampled_drums, role_of

SR = 44100


def test_roles_from_instrument_names():
    assert role_of("Pearl Kick") == role_of("BassDrum") == role_of("c3 - bass drum 1") == "kick"
    assert role_of("Snare Rock") == "snare" and role_of("Snare Roll") is None
    assert role_of("Closed HH") == role_of("Hi Hat Closed") == "closed_hat"
    assert role_of("Open HH") == role_of("VariBreaks Hat 1 Op") == "open_hat"
    assert role_of("Pedal HH") == "pedal_hat" and role_of("Sabian Hat Swish") is None
    assert role_of("Floor Tom") == "tom_low" and role_of("Tom Hi") == "tom_high" and role_of("Tom Mid") == "tom_mid"
    assert role_of("Paiste Ride") == "ride" and role_of("Ride Bell") == "ride_bell" and role_of("crash16inch") == "crash"
    assert role_of("Djembe1 Slap") is None and role_of("Zap 1") is None


def _write_kit(folder, with_hat=True):
    folder.mkdir()
    t = np.arange(int(0.5 * SR)) / SR
    sounds = {"kick.wav": np.sin(2 * np.pi * 60 * t) * np.exp(-t * 8),
              "snare_soft.wav": 0.3 * np.random.default_rng(0).standard_normal(len(t)) * np.exp(-t * 20),
              "snare_hard.wav": np.random.default_rng(1).standard_normal(len(t)) * np.exp(-t * 20),
              "hat.wav": np.random.default_rng(2).standard_normal(len(t)) * np.exp(-t * 60),
              "open.wav": np.random.default_rng(3).standard_normal(len(t)) * 0.5}
    for name, audio in sounds.items():
        sf.write(folder / name, audio.astype(np.float32), SR)
    hat = ("<instrument><name>Closed HH</name><volume>1</volume><pan_L>1</pan_L><pan_R>0.5</pan_R>"
           "<filename>hat.wav</filename></instrument>"
           "<instrument><name>Open HH</name><volume>1</volume><filename>open.wav</filename></instrument>")
    xml = ('<?xml version="1.0"?><drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">'
           "<name>tiny</name><instrumentList>"
           "<instrument><name>Kick</name><volume>1</volume><layer><filename>kick.wav</filename>"
           "<min>0</min><max>1</max><gain>1</gain></layer></instrument>"
           "<instrument><name>Snare</name><volume>1</volume>"
           "<layer><filename>snare_soft.wav</filename><min>0</min><max>0.5</max><gain>1</gain></layer>"
           "<layer><filename>snare_hard.wav</filename><min>0.5</min><max>1</max><gain>1</gain></layer></instrument>"
           + (hat if with_hat else "") +
           "<instrument><name>Zap 1</name><filename>kick.wav</filename></instrument>"
           "</instrumentList></drumkit_info>")
    (folder / "drumkit.xml").write_text(xml)


def test_kit_parsing_and_rendering(tmp_path):
    _write_kit(tmp_path / "tiny")
    kit = read_kit(tmp_path / "tiny")
    assert kit is not None and sorted(kit.roles) == ["closed_hat", "kick", "open_hat", "snare"]
    assert len(kit.roles["snare"][0].layers) == 2 and kit.roles["closed_hat"][0].pan == (1.0, 0.5)
    _write_kit(tmp_path / "nohat", with_hat=False)
    assert read_kit(tmp_path / "nohat") is None  # no hi-hat: not a drum kit we can play
    assert read_kit(tmp_path) is None  # no drumkit.xml

    n = 2 * SR
    notes = [(0.0, 0.1, 36, 100), (0.5, 0.1, 38, 30), (1.0, 0.1, 38, 120), (1.5, 0.1, 99, 100)]
    y = render_sampled_drums(notes, n, kit, np.random.default_rng(0))
    assert y.shape == (n, 2) and np.isclose(np.abs(y).max(), 1.0)
    seg = lambda a, b: float(np.sqrt(np.mean(y[int(a * SR):int(b * SR)] ** 2)))  # noqa: E731
    assert seg(0.0, 0.05) > 0.1 and seg(0.45, 0.5) < 0.05  # a hit, then its decay
    assert seg(1.0, 1.05) > 2 * seg(0.5, 0.55)  # the loud layer (and velocity) for the loud hit
    assert seg(1.6, 2.0) < 1e-3  # an unknown note plays nothing


def test_closed_hat_chokes_the_open_one(tmp_path):
    _write_kit(tmp_path / "tiny")
    kit = read_kit(tmp_path / "tiny")
    ringing = render_sampled_drums([(0.0, 0.1, 46, 100)], SR, kit, np.random.default_rng(0))
    choked = render_sampled_drums([(0.0, 0.1, 46, 100), (0.2, 0.1, 42, 1)], SR, kit, np.random.default_rng(0))
    late = slice(int(0.3 * SR), int(0.45 * SR))
    assert np.abs(ringing[late]).mean() > 0.1 and np.abs(choked[late]).max() < 1e-3
