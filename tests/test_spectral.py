"""The hand-written inverse STFT and the compiled stereo Wiener filter against reference computations."""

import numpy as np
import pytest
import torch

from musicsep.spectral import _wiener_general, _wiener_stereo, istft, stft, wiener


def random_audio(samples: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((samples, channels)).astype(np.float32)


def random_spec(channels: int, bins: int, frames: int, seed: int = 0) -> np.ndarray:
    """A complex spectrogram that is no STFT of anything: the inverse must still match torch's."""
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal((channels, bins, frames)) + 1j * rng.standard_normal((channels, bins, frames))
    spec[:, 0].imag = 0  # the DC and Nyquist bins of a real signal's spectrum are real
    spec[:, -1].imag = 0
    return spec.astype(np.complex64)


@pytest.mark.parametrize("n_fft,hop,length", [(4096, 1024, 44100), (4096, 1024, 5000), (1024, 256, 3001),
                                              (1024, 256, 1), (2048, 768, 9000)])
def test_istft_matches_torch_istft(n_fft, hop, length):
    frames = length // hop + 1
    spec = random_spec(2, n_fft // 2 + 1, frames, seed=length)
    ours = istft(spec, length, n_fft, hop)
    window = torch.hann_window(n_fft)
    theirs = torch.istft(torch.from_numpy(spec), n_fft, hop, window=window, center=True, length=length).numpy().T
    assert ours.shape == (length, 2) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-5 * np.abs(theirs).max(), rtol=0)


def test_istft_inverts_stft_with_a_leading_source_axis():
    audio = random_audio(30000)
    spec = stft(audio)
    stacked = np.stack([spec, 0.5 * spec, -spec])  # (sources, channels, bins, frames)
    out = istft(stacked, len(audio))
    assert out.shape == (3, len(audio), 2)
    for scale, stem in zip((1.0, 0.5, -1.0), out):
        np.testing.assert_allclose(stem, scale * audio, atol=1e-5)


def reference_wiener(x: np.ndarray, mags: np.ndarray, iterations: int, power: float, eps: float = 1e-10) -> np.ndarray:
    """The local Gaussian model, one (bin, frame) at a time in float64, written from the equations.

    Start: ratio masks of ``mags ** power`` per channel. Each iteration: the power spectral density
    ``v_j`` (mean over channels of ``|y_j|^2``), the spatial covariance
    ``R_j = sum_t y_j y_j^H / sum_t v_j`` per bin, then ``y_j = v_j R_j (sum_k v_k R_k)^-1 x``.
    """
    x = x.astype(np.complex128)
    w = mags.astype(np.float64) ** power
    y = x[None] * w / np.maximum(w.sum(0, keepdims=True), eps)
    sources, channels, bins, frames = y.shape
    for _ in range(iterations):
        v = (np.abs(y) ** 2).mean(axis=1)  # (J, F, T)
        new = np.empty_like(y)
        for f in range(bins):
            r = [sum(np.outer(y[j, :, f, t], y[j, :, f, t].conj()) for t in range(frames))
                 / max(v[j, f].sum(), eps) for j in range(sources)]
            for t in range(frames):
                mix_cov = sum(v[j, f, t] * r[j] for j in range(sources)) + eps * np.eye(channels)
                z = np.linalg.solve(mix_cov, x[:, f, t])
                for j in range(sources):
                    new[j, :, f, t] = v[j, f, t] * (r[j] @ z)
        y = new
    return y


def wiener_case(seed: int = 0, sources: int = 3, channels: int = 2, bins: int = 6, frames: int = 9):
    """Sources with their own panning and spectra, and first magnitude estimates that are off."""
    rng = np.random.default_rng(seed)
    true = np.empty((sources, channels, bins, frames), np.complex128)
    for j in range(sources):
        pan = rng.uniform(0.1, 1.0, channels)
        level = rng.uniform(0.0, 2.0, (1, bins, frames)) ** 2
        phase = np.exp(2j * np.pi * rng.uniform(size=(channels, bins, frames)))
        true[j] = pan[:, None, None] * level * phase
    estimate = np.abs(true) * rng.uniform(0.5, 1.5, true.shape)
    return true.sum(0).astype(np.complex64), estimate.astype(np.float32), true


@pytest.mark.parametrize("iterations,power", [(1, 1.0), (2, 1.0), (1, 2.0), (3, 2.0)])
def test_wiener_matches_the_reference_equations(iterations, power):
    mix, mags, _ = wiener_case(seed=iterations)
    expected = reference_wiener(mix, mags, iterations, power)
    out = wiener(mix, mags, iterations=iterations, power=power)
    assert out.shape == mags.shape
    np.testing.assert_allclose(out, expected, atol=1e-4 * np.abs(expected).max(), rtol=0)
    np.testing.assert_allclose(out.sum(0), mix, atol=1e-4 * np.abs(mix).max())  # stems sum to the mixture
    # three channels go the general path (float32 3x3 inverses, some near-singular: a looser match)
    mix3, mags3, _ = wiener_case(seed=iterations, channels=3)
    np.testing.assert_allclose(wiener(mix3, mags3, iterations, power), reference_wiener(mix3, mags3, iterations, power),
                               atol=1e-2 * np.abs(mix3).max(), rtol=0)


@pytest.mark.parametrize("iterations", [1, 2])
def test_compiled_stereo_wiener_equals_the_general_path(iterations):
    """The numba 2x2 path against the batched-tensor one on a real-sized spectrogram."""
    audio = random_audio(3 * 44100, seed=5)
    mix = stft(audio)
    mags = np.abs(mix)[None] * np.random.default_rng(6).uniform(0, 1, (4, 1, 1, mix.shape[-1])).astype(np.float32)
    fast = _wiener_stereo(mix, mags, iterations, 1.0)
    general = _wiener_general(mix, mags, iterations, 1.0)
    np.testing.assert_allclose(fast, general, atol=2e-4 * np.abs(mix).max(), rtol=0)

