"""The numerical core against references: the fast ISTFT against torch.istft, the closed-form
stereo Wiener filter against the general batched-matrix path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from musicsep.spectral import _wiener_general, _wiener_stereo, istft, stft


@pytest.mark.parametrize("n_fft, hop, length", [(1024, 256, 10000), (4096, 1024, 44100), (512, 128, 300)])
def test_istft_matches_torch(n_fft, hop, length):
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((length, 2)).astype(np.float32)
    spec = stft(audio, n_fft, hop)
    spec = spec * rng.uniform(0.2, 1.0, spec.shape).astype(np.float32)  # not the STFT of any signal
    ours = istft(spec, length, n_fft, hop)  # (length, channels)
    theirs = torch.istft(torch.from_numpy(spec), n_fft, hop, window=torch.hann_window(n_fft), center=True,
                         length=length).numpy().T
    np.testing.assert_allclose(ours, theirs, atol=2e-5 * np.abs(theirs).max())
    np.testing.assert_allclose(istft(stft(audio, n_fft, hop), length, n_fft, hop), audio, atol=1e-4)


@pytest.mark.parametrize("power, iterations", [(1.0, 1), (2.0, 1), (2.0, 2)])
def test_stereo_wiener_matches_the_general_path(power, iterations):
    rng = np.random.default_rng(1)
    shape = (2, 64, 40)
    mix = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    mags = rng.uniform(0.0, 1.0, (4, *shape)).astype(np.float32)
    fast = _wiener_stereo(mix, mags, iterations, power)
    general = _wiener_general(mix, mags, iterations, power)
    np.testing.assert_allclose(fast, general, atol=1e-3 * np.abs(general).max())
    np.testing.assert_allclose(fast.sum(axis=0), mix, atol=1e-3)  # the estimates sum to the mixture
