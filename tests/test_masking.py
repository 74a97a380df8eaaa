"""The masking back-end that NMF, the forest, the U-Net and the oracle share."""

from __future__ import annotations

import numpy as np
import pytest

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.errors import UserError
from musicsep.inference import chunk_sizes, DEFAULT_CHUNK_SECONDS
from musicsep.separators.base import BaseSeparator, get_separator
from musicsep.separators.masking import Masks, MaskingSeparator, masked_stems
from musicsep.separators.oracle import OracleSeparator
from musicsep.spectral import istft, ratio_masks, stft, wiener

N_FFT, HOP = 1024, 256


@pytest.fixture
def case(stems, mixture):
    spec = stft(mixture, N_FFT, HOP)
    mags = np.abs(np.stack([stft(stems[s], N_FFT, HOP) for s in SOURCES]))
    return mixture, spec, ratio_masks(mags)  # per-channel masks (4, 2, bins, frames)


@pytest.mark.parametrize("per_channel", [True, False])
def test_masked_stems_are_the_inverse_of_the_masked_stft(case, per_channel):
    mixture, spec, masks = case
    masks = masks if per_channel else masks.mean(axis=1)
    direct = istft((masks if per_channel else masks[:, None]) * spec[None], len(mixture), N_FFT, HOP)
    out = masked_stems(mixture, spec, Masks(masks), N_FFT, HOP, residual_last_stem=False)
    np.testing.assert_allclose(out, direct, atol=1e-6)
    residual = masked_stems(mixture, spec, Masks(masks), N_FFT, HOP, residual_last_stem=True)
    np.testing.assert_allclose(residual[:3], direct[:3], atol=1e-6)
    np.testing.assert_allclose(residual[3], direct[3], atol=1e-4)  # the mixture minus the others
    np.testing.assert_allclose(residual.sum(axis=0), mixture, atol=1e-5)


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_wiener_path(case, power):
    mixture, spec, masks = case
    expected = istft(wiener(spec, masks * np.abs(spec)[None], 1, power=power), len(mixture), N_FFT, HOP)
    out = masked_stems(mixture, spec, Masks(masks), N_FFT, HOP, wiener_iterations=1, wiener_power=power,
                       residual_last_stem=False)
    np.testing.assert_allclose(out, expected, atol=1e-6)


class HalfAndHalf(MaskingSeparator):
    """Two sources, each half of every bin: each stem is half the mixture."""

    sources = ("a", "b")

    def stft_size(self):
        return N_FFT, HOP

    def mask_spectrogram(self, mixture, spec, sample_rate):
        return Masks(np.full((2, *spec.shape[1:]), 0.5, np.float32))


def test_a_new_method_needs_only_its_masks(mixture):
    out = HalfAndHalf().separate(mixture, SAMPLE_RATE)
    assert list(out) == ["a", "b"]
    np.testing.assert_allclose(out["a"], mixture / 2, atol=1e-5)
    np.testing.assert_allclose(out["b"], mixture / 2, atol=1e-5)


def test_oracle_takes_references_as_an_argument(stems, mixture):
    oracle = OracleSeparator(n_fft=N_FFT, hop_length=HOP)
    with pytest.raises(UserError, match="true stems"):
        oracle.separate(mixture, SAMPLE_RATE)
    out = oracle.separate_with_references(mixture, SAMPLE_RATE, stems)
    other = oracle.separate_with_references(mixture, SAMPLE_RATE, {s: stems[SOURCES[-1 - i]] for i, s in enumerate(SOURCES)})
    assert not hasattr(oracle, "references")  # nothing of one track stays on the (cached) object
    assert np.abs(out["bass"] - stems["bass"]).max() < np.abs(other["bass"] - stems["bass"]).max()


def test_chunking_preferences_come_from_the_contract():
    class Plain(BaseSeparator):
        def separate(self, mixture, sample_rate):
            return {s: mixture for s in self.sources}

    assert chunk_sizes(Plain(), 100, None, None)[0] == int(DEFAULT_CHUNK_SECONDS * 100)
    nmf = get_separator("nmf")
    assert chunk_sizes(nmf, 100, None, None) == (int(nmf.chunk_seconds * 100), int(nmf.overlap_seconds * 100))
    assert chunk_sizes(nmf, 100, 2.0, 0.5) == (200, 50)
