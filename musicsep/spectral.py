"""STFT / ISTFT, soft masks and the multichannel Wiener filter.

Shapes: time-domain audio is ``(samples, channels)``; a spectrogram is ``(channels, bins, frames)``
complex64; a set of source spectrograms adds a leading source axis ``(sources, channels, bins, frames)``.
torch does the FFTs (fast, multithreaded); inputs and outputs are numpy.
"""

from __future__ import annotations

import numpy as np
import torch

EPS = 1e-10


def stft(audio: np.ndarray, n_fft: int = 4096, hop_length: int = 1024) -> np.ndarray:
    """``(samples, channels)`` float -> ``(channels, n_fft // 2 + 1, frames)`` complex64 (Hann, centred)."""
    x = torch.from_numpy(np.ascontiguousarray(np.asarray(audio, dtype=np.float32).T))
    window = torch.hann_window(n_fft)
    pad_mode = "reflect" if x.shape[-1] > n_fft // 2 else "constant"
    spec = torch.stft(x, n_fft, hop_length, window=window, center=True, pad_mode=pad_mode, return_complex=True)
    return spec.numpy()


def istft(spec: np.ndarray, length: int, n_fft: int = 4096, hop_length: int = 1024) -> np.ndarray:
    """Inverse of :func:`stft`: ``(..., channels, bins, frames)`` -> ``(..., length, channels)`` float32."""
    spec = np.asarray(spec)
    lead = spec.shape[:-2]
    flat = torch.from_numpy(np.ascontiguousarray(spec.reshape(-1, *spec.shape[-2:])))
    window = torch.hann_window(n_fft)
    out = torch.istft(flat, n_fft, hop_length, window=window, center=True, length=length).numpy()
    return np.moveaxis(out.reshape(*lead, length), -2, -1).astype(np.float32, copy=False)


def ratio_masks(magnitudes: np.ndarray, power: float = 1.0) -> np.ndarray:
    """Soft masks that sum to one over the source axis (axis 0); silence is shared equally."""
    weights = np.power(np.maximum(magnitudes, 0.0), power, dtype=np.float32)
    total = weights.sum(axis=0, keepdims=True)
    equal = np.full_like(weights, 1.0 / weights.shape[0])
    return np.where(total > EPS, weights / np.maximum(total, EPS), equal).astype(np.float32)


def apply_masks(mix_spec: np.ndarray, masks: np.ndarray, length: int, n_fft: int, hop_length: int) -> np.ndarray:
    """Masks ``(sources, [channels,] bins, frames)`` on the mixture STFT -> ``(sources, length, channels)``."""
    if masks.ndim == mix_spec.ndim:
        masks = masks[:, None]
    return istft(masks * mix_spec[None], length, n_fft, hop_length)


def wiener(mix_spec: np.ndarray, magnitudes: np.ndarray, iterations: int = 1, power: float = 2.0) -> np.ndarray:
    """Multichannel Wiener filter (local Gaussian model with per-bin spatial covariances).

    ``mix_spec``: ``(channels, bins, frames)`` complex; ``magnitudes``: ``(sources, channels, bins, frames)``
    first estimates. Returns complex source spectrograms ``(sources, channels, bins, frames)`` that sum
    to the mixture. With ``iterations=0`` it is a plain ratio mask of ``magnitudes ** power``. Each
    iteration re-estimates each source's power spectral density and spatial covariance from the
    current estimates, then applies the Wiener gain ``v_j R_j (sum_k v_k R_k)^-1`` to the mixture.
    """
    x = torch.from_numpy(np.ascontiguousarray(mix_spec)).to(torch.complex64)  # (C, F, T)
    mags = torch.from_numpy(np.ascontiguousarray(magnitudes, dtype=np.float32))
    weights = mags.pow(power)
    y = x[None] * (weights / weights.sum(0, keepdim=True).clamp_min(EPS))
    channels = x.shape[0]
    eye = torch.eye(channels, dtype=torch.complex64)
    xt = x.permute(1, 2, 0)  # (F, T, C)
    for _ in range(iterations):
        yt = y.permute(0, 2, 3, 1)  # (J, F, T, C)
        v = yt.abs().pow(2).mean(-1)  # (J, F, T) power spectral density
        # Spatial covariance per source and bin, normalised by its PSD: (J, F, C, C)
        outer = torch.einsum("jftc,jftd->jfcd", yt, yt.conj())
        r = outer / v.sum(-1).clamp_min(EPS)[..., None, None]
        cov = torch.einsum("jft,jfcd->jftcd", v.to(torch.complex64), r)  # (J, F, T, C, C)
        mix_cov = cov.sum(0) + EPS * eye  # (F, T, C, C)
        inv = torch.linalg.inv(mix_cov)
        gain = cov @ inv[None]  # (J, F, T, C, C)
        y = torch.einsum("jftcd,ftd->jftc", gain, xt).permute(0, 3, 1, 2)
    return y.numpy()
