"""musicsep.api: the Separator that the command line and the page use."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.api import ClippingWarning, Separator, list_methods, merge_two_stems, method_options
from musicsep.errors import UserError
from musicsep.separators.base import METHODS
from musicsep.separators.bandpass import BandpassSeparator


@pytest.fixture(scope="module")
def bandpass() -> Separator:
    return Separator("bandpass")


def test_separate_array_matches_the_method_and_keeps_shape(bandpass, mixture):
    stems = bandpass.separate_array(mixture, SAMPLE_RATE)
    direct = BandpassSeparator().separate(mixture, SAMPLE_RATE)
    assert list(stems) == list(SOURCES)
    for s in SOURCES:  # one chunk: exactly the separator's own output
        assert stems[s].shape == mixture.shape and stems[s].dtype == np.float32
        np.testing.assert_allclose(stems[s], direct[s], atol=1e-6)


def test_separate_array_mono_and_other_rates(bandpass, mixture):
    mono = mixture.mean(axis=1)
    stems = bandpass.separate_array(mono, SAMPLE_RATE)
    assert all(v.shape == mono.shape for v in stems.values())
    assert np.abs(sum(stems.values()) - mono).max() < 1e-5  # bandpass stems sum to the input
    t = np.arange(22050) / 22050  # a second at 22.05 kHz: the same length and rate back
    low = (0.3 * np.sin(2 * np.pi * 110 * t) + 0.2 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    stems = bandpass.separate_array(low[:, None], 22050)
    assert all(v.shape == (len(low), 1) for v in stems.values())
    assert np.abs(sum(stems.values())[:, 0] - low).max() < 0.01
    assert np.corrcoef(stems["bass"][:, 0], np.sin(2 * np.pi * 110 * t))[0, 1] > 0.9  # the low tone is bass


def test_two_stems_is_one_stem_and_the_rest(mixture):
    stems = Separator("bandpass", two_stems="vocals").separate_array(mixture, SAMPLE_RATE)
    four = Separator("bandpass").separate_array(mixture, SAMPLE_RATE)
    assert list(stems) == ["vocals", "no_vocals"]
    np.testing.assert_allclose(stems["vocals"], four["vocals"], atol=1e-6)
    np.testing.assert_allclose(stems["no_vocals"], four["drums"] + four["bass"] + four["other"], atol=1e-6)
    assert merge_two_stems(four, None) == four


def test_progress_and_empty_input(bandpass, mixture):
    seen = []
    Separator("bandpass", chunk_seconds=1.0).separate_array(mixture, SAMPLE_RATE, progress=lambda d, t: seen.append((d, t)))
    assert len(seen) >= 3 and seen[-1] == (len(mixture), len(mixture))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    empty = bandpass.separate_array(np.zeros((0, 2), np.float32), SAMPLE_RATE)
    assert list(empty) == list(SOURCES) and all(v.shape == (0, 2) for v in empty.values())


@pytest.mark.parametrize("audio, rate, message", [
    (np.zeros((10, 2, 2)), SAMPLE_RATE, "samples"),
    (np.full((10, 2), np.nan), SAMPLE_RATE, "NaN"),
    (np.zeros((10, 2)), 0, "sample rate"),
])
def test_separate_array_bad_input(bandpass, audio, rate, message):
    with pytest.raises(UserError, match=message):
        bandpass.separate_array(audio, rate)


def test_separate_file_streams_into_stems(tmp_path, mixture):
    sf.write(tmp_path / "song.wav", mixture, SAMPLE_RATE, subtype="FLOAT")
    seen = []
    paths = Separator("bandpass", chunk_seconds=1.0).separate_file(
        tmp_path / "song.wav", tmp_path / "out", format="flac", bits=24, progress=lambda d, t: seen.append((d, t)))
    assert list(paths) == list(SOURCES) and all(p.parent == tmp_path / "out" / "song" for p in paths.values())
    total = sum(sf.read(p, dtype="float32")[0] for p in paths.values())
    assert total.shape == mixture.shape and np.abs(total - mixture).max() < 1e-4
    assert seen[-1] == (len(mixture), len(mixture))
    assert sorted(p.name for p in (tmp_path / "out" / "song").iterdir()) == sorted(f"{s}.flac" for s in SOURCES)


def test_separate_file_never_replaces_without_overwrite(tmp_path, mixture, bandpass):
    sf.write(tmp_path / "song.wav", mixture, SAMPLE_RATE)
    out = tmp_path / "out"
    (out / "song").mkdir(parents=True)
    (out / "song" / "bass.wav").write_bytes(b"keep me")
    with pytest.raises(UserError, match="already exists"):
        bandpass.separate_file(tmp_path / "song.wav", out)
    assert (out / "song" / "bass.wav").read_bytes() == b"keep me"
    assert sorted(p.name for p in (out / "song").iterdir()) == ["bass.wav"]
    bandpass.separate_file(tmp_path / "song.wav", out, overwrite=True)
    assert sf.info(out / "song" / "bass.wav").frames == len(mixture)
    (tmp_path / "drums").mkdir()  # an input named like a stem, where its own stem would go
    sf.write(tmp_path / "drums" / "drums.wav", mixture, SAMPLE_RATE)
    before = (tmp_path / "drums" / "drums.wav").read_bytes()
    with pytest.raises(UserError, match="overwrite the input"):  # even with overwrite
        bandpass.separate_file(tmp_path / "drums" / "drums.wav", tmp_path, overwrite=True)
    assert (tmp_path / "drums" / "drums.wav").read_bytes() == before


def test_failed_file_leaves_nothing(tmp_path, bandpass):
    bad = np.zeros((1000, 2), np.float32)
    bad[500] = np.inf
    sf.write(tmp_path / "bad.wav", bad, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(UserError, match="infinite"):
        bandpass.separate_file(tmp_path / "bad.wav", tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_clipping_is_a_warning(tmp_path, bandpass):
    loud = np.tile(np.array([[1.0], [-1.0]], np.float32), (2000, 2))  # full-scale Nyquist: the treble stem overshoots
    sf.write(tmp_path / "loud.wav", loud, SAMPLE_RATE, subtype="FLOAT")
    with pytest.warns(ClippingWarning, match="clipped"):
        bandpass.separate_file(tmp_path / "loud.wav", tmp_path / "o16", bits=16)


def test_method_options_are_checked_and_typed():
    assert method_options("nmf", wiener=0, options={"variant": "supervised", "n_iter": "40"}) == \
        {"variant": "supervised", "n_iter": 40, "wiener_iterations": 0}
    assert method_options("unet", options={"bfloat16": "false"}) == {"bfloat16": False}
    for method, kwargs, message in [
        ("nmf", {"options": {"rank": "4"}}, "no option 'rank'"),
        ("nmf", {"options": {"n_iter": "many"}}, "must be int"),
        ("nmf", {"options": {"mask_power": "nan"}}, "must be float"),
        ("bandpass", {"wiener": 1}, "no Wiener filter"),
        ("bandpass", {"model": "x.pth"}, "takes no model file"),
        ("forest", {"model": "x.joblib"}, "only loads its shipped model"),
        ("unet", {"model": "/nonexistent/x.pth"}, "not found"),
        ("unet", {"wiener": -1}, "0 or more"),
    ]:
        with pytest.raises(UserError, match=message):
            method_options(method, **kwargs)


def test_separator_refuses_bad_settings():
    for kwargs, message in [({"method": "magic"}, "unknown method"), ({"method": "bandpass", "backend": "onnx"}, "backend"),
                            ({"method": "bandpass", "device": "cuda"}, "CPU only"),
                            ({"method": "bandpass", "two_stems": "guitar"}, "two-stem"),
                            ({"method": "bandpass", "chunk_seconds": -1.0}, "chunk")]:
        with pytest.raises(UserError, match=message):
            Separator(**kwargs)


def test_options_reach_the_method(mixture):
    plain = Separator("bandpass", options={"transient_strength": 0.0}).separate_array(mixture, SAMPLE_RATE)
    direct = BandpassSeparator(transient_strength=0.0).separate(mixture, SAMPLE_RATE)
    np.testing.assert_allclose(plain["drums"], direct["drums"], atol=1e-6)


def test_list_methods_names_descriptions_and_models():
    methods = {m.name: m for m in list_methods()}
    assert list(methods) == list(METHODS)
    assert all(m.description for m in methods.values())
    assert methods["bandpass"].model is None
    assert methods["unet"].model.name == "best_model.pth" and methods["unet"].model.is_file()
    assert methods["nmf"].model.is_file() and methods["forest"].model.is_file()
    assert "wiener_iterations" in methods["unet"].options
