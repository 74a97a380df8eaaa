"""Stage 3, random-forest masks: features, training on a tiny set, contract, save/load, shipped model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_stems

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.errors import UserError
from musicsep.evaluate import global_sdr
from musicsep.separators import get_separator
from musicsep.separators.bands import band_centres, filterbank
from musicsep.separators.forest import (DEFAULT_MODEL, FRAME_FEATURES, ForestModel, ForestSeparator,
                                        cell_features, frame_features)
from musicsep.spectral import stft

SR = SAMPLE_RATE


def _assert_sums_to(stems: dict, mixture: np.ndarray) -> None:
    """Masks sum to one; the Wiener pass keeps that up to float32 rounding in its 2x2 solves."""
    err = sum(stems.values()) - mixture
    assert np.abs(err).max() < 2e-3 and np.sqrt(np.mean(err ** 2)) < 1e-5


def _song(seed: int, seconds: float = 2.0):
    stems = make_stems(seconds=seconds, seed=seed)
    # Vary the levels from song to song so the forest cannot learn one fixed balance.
    gains = np.random.default_rng(seed).uniform(0.5, 1.5, len(SOURCES))
    stems = {s: (g * stems[s]).astype(np.float32) for g, s in zip(gains, SOURCES)}
    return sum(stems.values()).astype(np.float32), stems


@pytest.fixture(scope="module")
def trained() -> ForestSeparator:
    """Both levels fitted on three tiny generated songs, in a few seconds."""
    return ForestSeparator().fit((_song(seed) for seed in (1, 2, 3)), cells_per_song=4000, n_estimators=8,
                                 max_leaf_nodes=200, n_jobs=1)


def test_feature_shapes(mixture):
    spec = stft(mixture, 4096, 1024)
    ff = frame_features(mixture, spec, SR, 4096, 1024)
    assert ff.shape == (spec.shape[-1], FRAME_FEATURES) and np.all(np.isfinite(ff))
    fb = filterbank(4096, SR, 6.0)
    X = cell_features(spec, ff, fb, band_centres(fb, 4096, SR))
    assert X.shape[0] == fb.shape[0] * spec.shape[-1] and X.shape[1] > FRAME_FEATURES
    assert np.all(np.isfinite(X))
    # Tiny input: a single frame still gives one row of finite features per band.
    tiny = mixture[:300]
    spec = stft(tiny, 4096, 1024)
    X = cell_features(spec, frame_features(tiny, spec, SR, 4096, 1024), fb, band_centres(fb, 4096, SR))
    assert X.shape[0] == fb.shape[0] * spec.shape[-1] and np.all(np.isfinite(X))


@pytest.mark.parametrize("level", ["cell", "frame"])
def test_contract_shapes_dtype_and_sum(trained, level, mixture):
    out = ForestSeparator(level=level, model=trained.model).separate(mixture, SR)
    assert list(out) == list(SOURCES)
    for stem in out.values():
        assert stem.shape == mixture.shape and stem.dtype == np.float32 and np.all(np.isfinite(stem))
    _assert_sums_to(out, mixture)
    plain = ForestSeparator(level=level, wiener_iterations=0, model=trained.model).separate(mixture, SR)
    np.testing.assert_allclose(sum(plain.values()), mixture, atol=1e-4)


@pytest.mark.parametrize("level", ["cell", "frame"])
def test_masks_sum_to_one(trained, level, mixture):
    sep = ForestSeparator(level=level, model=trained.model)
    spec = stft(mixture, 4096, 1024)
    masks = sep.masks(mixture, spec, SR)
    assert masks.shape == (4,) + spec.shape[1:]
    assert masks.min() >= -1e-6 and masks.max() <= 1 + 1e-6
    np.testing.assert_allclose(masks.sum(axis=0), 1.0, atol=1e-5)
    if level == "frame":  # one mask per frame, the same at every frequency
        assert np.allclose(masks, masks[:, :1, :])
    else:
        assert masks[:, :, 5:-5].std(axis=1).mean() > 0.05


def test_cell_forest_separates_an_unseen_song(trained):
    mix, stems = _song(seed=9, seconds=3.0)
    out = ForestSeparator(level="cell", model=trained.model).separate(mix, SR)
    gain = np.mean([global_sdr(stems[s], out[s]) - global_sdr(stems[s], mix / 4) for s in SOURCES])
    assert gain > 4.0, gain
    frame = ForestSeparator(level="frame", model=trained.model).separate(mix, SR)
    frame_gain = np.mean([global_sdr(stems[s], frame[s]) - global_sdr(stems[s], mix / 4) for s in SOURCES])
    assert gain > frame_gain + 2.0, (gain, frame_gain)  # cells see frequency, frames cannot


def test_dominant_labels_also_train(mixture):
    sep = ForestSeparator().fit([_song(4)], cells_per_song=2000, labels="dominant", n_estimators=4,
                                max_leaf_nodes=50, n_jobs=1, levels=("cell",))
    assert sep.model.frame is None and set(sep.model.cell.classes_) <= {0, 1, 2, 3}
    out = sep.separate(mixture, SR)
    _assert_sums_to(out, mixture)
    with pytest.raises(UserError):
        ForestSeparator(level="frame", model=sep.model).separate(mixture, SR)


def test_save_load_round_trip(trained, tmp_path, mixture):
    path = tmp_path / "forest.joblib"
    trained.save(path)
    loaded = ForestSeparator.load(path)
    assert loaded.model.n_fft == trained.model.n_fft
    a = loaded.separate(mixture, SR)
    b = ForestSeparator(model=trained.model).separate(mixture, SR)
    for s in SOURCES:
        np.testing.assert_array_equal(a[s], b[s])


def test_bad_model_and_level_are_user_errors(tmp_path):
    with pytest.raises(UserError):
        ForestModel.load(tmp_path / "missing.joblib")
    (tmp_path / "junk.joblib").write_bytes(b"junk")
    with pytest.raises(UserError):
        ForestModel.load(tmp_path / "junk.joblib")
    with pytest.raises(UserError):
        ForestSeparator(level="pixel")
    with pytest.raises(UserError):
        ForestSeparator().fit([], n_jobs=1)


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped forest model yet")
def test_shipped_model_is_small_and_registered(mixture):
    assert DEFAULT_MODEL.stat().st_size <= 20 * 2**20
    sep = get_separator("forest")
    assert isinstance(sep, ForestSeparator) and 0 < sep.chunk_seconds <= 60
    out = sep.separate(mixture[: SR], SR)
    _assert_sums_to(out, mixture[: SR])
