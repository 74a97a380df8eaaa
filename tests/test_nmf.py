"""Stage 2, NMF masking: contract, masks, supervised recovery of known templates, model files."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_stems

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.errors import UserError
from musicsep.evaluate import global_sdr
from musicsep.inference import separate
from musicsep.separators import get_separator
from musicsep.separators.bands import filterbank
from musicsep.separators.nmf import (DEFAULT_MODEL, NMFModel, NMFSeparator, kl_nmf, learn_dictionaries,
                                     random_init, source_frames)
from musicsep.spectral import stft

SR = SAMPLE_RATE


def _assert_sums_to(stems: dict, mixture: np.ndarray) -> None:
    """Masks sum to one; the Wiener pass keeps that up to float32 rounding in its 2x2 solves."""
    err = sum(stems.values()) - mixture
    assert np.abs(err).max() < 2e-3 and np.sqrt(np.mean(err ** 2)) < 1e-5


@pytest.fixture(scope="module")
def trained() -> NMFSeparator:
    """An NMF model learned in seconds from three small generated songs (not the shipped one)."""
    songs = [make_stems(seconds=3.0, seed=seed) for seed in (1, 2, 3)]
    return NMFSeparator(n_components=12, n_iter=40).fit(
        ((sum(st.values()), st) for st in songs), atoms_per_source=4)


def test_kl_nmf_decreases_divergence_and_keeps_fixed_dictionary():
    rng = np.random.default_rng(0)
    V = (rng.random((30, 5)) @ rng.random((5, 80))).astype(np.float32)
    W0, H0 = random_init(V, 5, seed=1)

    def kl(W, H):
        R = W @ H
        return float(np.sum(V * np.log(V / R) - V + R))

    W, H = kl_nmf(V, W0, H0, 200)
    assert kl(W, H) < 0.01 * kl(W0, H0)
    assert np.allclose(W.sum(0), 1.0, atol=1e-4)
    Wf, _ = kl_nmf(V, W0, H0, 20, update_W=False)
    assert np.array_equal(Wf, W0)


@pytest.mark.parametrize("variant", ["grouped", "supervised"])
def test_contract_shapes_dtype_and_sum(trained, variant, mixture):
    sep = NMFSeparator(variant=variant, n_iter=40, model=trained.model)
    out = sep.separate(mixture, SR)
    assert list(out) == list(SOURCES)
    for stem in out.values():
        assert stem.shape == mixture.shape and stem.dtype == np.float32
        assert np.all(np.isfinite(stem))
    _assert_sums_to(out, mixture)
    plain = NMFSeparator(variant=variant, n_iter=40, wiener_iterations=0, model=trained.model).separate(mixture, SR)
    np.testing.assert_allclose(sum(plain.values()), mixture, atol=1e-4)


@pytest.mark.parametrize("variant", ["grouped", "supervised"])
def test_masks_sum_to_one(trained, variant, mixture):
    sep = NMFSeparator(variant=variant, n_iter=40, model=trained.model)
    spec = stft(mixture, trained.model.n_fft, trained.model.hop_length)
    masks = sep.masks(spec, SR)
    assert masks.shape == (4,) + spec.shape[1:]
    assert masks.min() >= -1e-6 and masks.max() <= 1 + 1e-6
    np.testing.assert_allclose(masks.sum(axis=0), 1.0, atol=1e-5)
    assert masks.std() > 0.05  # not a constant 1/4 split


def test_silence_and_tiny_inputs(trained):
    sep = NMFSeparator(n_iter=10, model=trained.model)
    for n in (0 + 1, 100, 5000):
        x = np.zeros((n, 2), np.float32)
        out = sep.separate(x, SR)
        assert all(v.shape == (n, 2) and np.all(v == 0) for v in out.values())


def _template_source(f0: float, tilt: float, seconds: float, seed: int) -> np.ndarray:
    """A harmonic tone with a fixed spectral template and a random on/off envelope, stereo."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    tone = sum(np.sin(2 * np.pi * k * f0 * t) / k ** tilt for k in range(1, 12))
    steps = rng.random(int(seconds * 8) + 1) ** 2
    env = np.repeat(steps, n // len(steps) + 1)[:n]
    x = 0.2 * tone * env
    return np.stack([x, x], axis=1).astype(np.float32)


def test_supervised_recovers_two_known_templates_far_better_than_chance():
    n_fft, hop, bpo = 4096, 1024, 24.0
    fb = filterbank(n_fft, SR, bpo)
    templates = {"a": (110.0, 0.5), "b": (155.0, 2.0)}  # interleaved partials, different tilts
    # Dictionaries from isolated training material (other seeds than the test mixture).
    frames = {name: [source_frames({s: _template_source(f0, tilt, 4.0, seed=10 + i) for s in SOURCES},
                                   n_fft, hop, fb)["drums"]] for i, (name, (f0, tilt)) in enumerate(templates.items())}
    D = learn_dictionaries(frames, atoms=2)
    model = NMFModel(n_fft, hop, bpo, D, np.zeros(11), np.ones(11), np.zeros((2, 1)), np.zeros(2))
    truth = {name: _template_source(f0, tilt, 5.0, seed=99 + i) for i, (name, (f0, tilt)) in enumerate(templates.items())}
    mix = truth["a"] + truth["b"]
    sep = NMFSeparator(variant="supervised", n_iter=100, model=model, sources=("a", "b"))
    out = sep.separate(mix, SR)
    sdr = np.mean([global_sdr(truth[s], out[s]) for s in truth])
    chance = np.mean([global_sdr(truth[s], 0.5 * mix) for s in truth])
    assert sdr > chance + 10.0, (sdr, chance)


def test_trained_model_beats_a_quarter_of_the_mixture(trained):
    stems = make_stems(seconds=3.0, seed=7)
    mix = sum(stems.values())
    for variant in ("supervised", "grouped"):
        out = NMFSeparator(variant=variant, n_iter=60, model=trained.model).separate(mix, SR)
        gain = np.mean([global_sdr(stems[s], out[s]) - global_sdr(stems[s], mix / 4) for s in SOURCES])
        assert gain > (3.0 if variant == "supervised" else 0.5), (variant, gain)


def test_save_load_round_trip(trained, tmp_path, mixture):
    path = tmp_path / "nmf.npz"
    trained.save(path)
    loaded = NMFSeparator.load(path, variant="supervised", n_iter=30)
    np.testing.assert_array_equal(loaded.model.dictionaries, trained.model.dictionaries)
    np.testing.assert_array_equal(loaded.model.group_coef, trained.model.group_coef)
    a = loaded.separate(mixture, SR)
    b = NMFSeparator(variant="supervised", n_iter=30, model=trained.model).separate(mixture, SR)
    for s in SOURCES:
        np.testing.assert_array_equal(a[s], b[s])


def test_bad_model_and_variant_are_user_errors(tmp_path):
    with pytest.raises(UserError):
        NMFModel.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError):
        NMFModel.load(tmp_path / "junk.npz")
    with pytest.raises(UserError):
        NMFSeparator(variant="nope")


def test_registered_and_chunked(mixture):
    sep = get_separator("nmf", n_iter=20)
    assert isinstance(sep, NMFSeparator) and 0 < sep.chunk_seconds <= 60
    long = np.tile(mixture, (2, 1))  # two 1.5 s chunks with 0.5 s overlap
    out = separate(sep, long, SR, chunk_seconds=1.5, overlap_seconds=0.5)
    _assert_sums_to(out, long)
    # before the first cross-fade the stems are the first chunk's own; then they are faded into the next
    chunk, hop = int(1.5 * SR), int(1.0 * SR)
    first = sep.separate(long[:chunk], SR)
    for s in SOURCES:
        np.testing.assert_allclose(out[s][:hop], first[s][:hop], atol=1e-6)
        assert not np.allclose(out[s][hop:chunk], first[s][hop:chunk], atol=1e-4)


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped NMF model yet")
def test_shipped_model_is_small_and_complete():
    assert DEFAULT_MODEL.stat().st_size < 5 * 2**20
    model = NMFModel.load(DEFAULT_MODEL)
    assert model.dictionaries.shape[0] == 4 and np.all(model.dictionaries >= 0)
    assert model.group_coef.shape[0] == 4
