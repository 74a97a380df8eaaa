"""A log-spaced triangular filterbank over STFT bins, shared by the NMF and forest separators.

Both methods work on a coarser frequency axis than the STFT's (2049 bins at ``n_fft=4096``): the
NMF to run ten times faster, the forest to have a manageable number of (frame, band) cells. Bands
are one STFT bin wide at the bottom and ``1 / bands_per_octave`` octave wide higher up, so low
harmonics stay resolved. The triangles form a partition of unity over the bins, which makes the
two directions simple:

- analysis: ``band_average(B, S)`` = each band's weighted mean magnitude, ``(..., bins, frames)`` ->
  ``(..., bands, frames)``;
- synthesis: ``to_bins(B, M)`` = linear interpolation between band centres, ``(..., bands, frames)``
  -> ``(..., bins, frames)``; masks that sum to one over sources still do after it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=16)
def filterbank(n_fft: int, sample_rate: int, bands_per_octave: float = 24.0,
               min_hz: float = 0.0) -> np.ndarray:
    """Triangles ``(bands, bins)`` float32 whose columns sum to one.

    Band centres are every bin up to the frequency where ``1 / bands_per_octave`` octave becomes
    wider than a bin, then geometrically spaced up to Nyquist. ``min_hz`` merges everything below
    it into the first band.
    """
    n_bins = n_fft // 2 + 1
    bin_hz = sample_rate / n_fft
    nyquist = sample_rate / 2
    ratio = 2.0 ** (1.0 / bands_per_octave)
    # Linear part: centres at bin frequencies while the log step is narrower than a bin.
    switch = bin_hz / (ratio - 1.0)
    start = max(min_hz, 0.0)
    linear = np.arange(np.ceil(start / bin_hz), np.floor(min(switch, nyquist) / bin_hz) + 1) * bin_hz
    if start > 0:
        linear = np.concatenate([[0.0], linear[linear > start]])
    last = linear[-1] if len(linear) else bin_hz
    n_log = int(np.floor(np.log(nyquist / last) / np.log(ratio)))
    log = last * ratio ** np.arange(1, n_log + 1)
    centres = np.concatenate([linear, log])
    if centres[-1] < nyquist - 1e-6:
        centres = np.concatenate([centres, [nyquist]])
    freqs = np.arange(n_bins) * bin_hz
    # Piecewise-linear "hat" functions over the centres: a partition of unity on [0, nyquist].
    fb = np.zeros((len(centres), n_bins), dtype=np.float64)
    idx = np.clip(np.searchsorted(centres, freqs, side="right") - 1, 0, len(centres) - 2)
    lo, hi = centres[idx], centres[idx + 1]
    frac = np.clip((freqs - lo) / (hi - lo), 0.0, 1.0)
    cols = np.arange(n_bins)
    fb[idx, cols] += 1.0 - frac
    fb[idx + 1, cols] += frac
    fb = fb[fb.sum(axis=1) > 0]  # a centre that no bin reaches (cannot happen, but be safe)
    fb /= fb.sum(axis=0, keepdims=True)
    fb.setflags(write=False)
    return fb.astype(np.float32)


def band_centres(fb: np.ndarray, n_fft: int, sample_rate: int) -> np.ndarray:
    """Weighted centre frequency of each band, in Hz."""
    freqs = np.arange(fb.shape[1]) * sample_rate / n_fft
    return (fb @ freqs) / np.maximum(fb.sum(axis=1), 1e-12)


def band_average(fb: np.ndarray, spec: np.ndarray) -> np.ndarray:
    """``(..., bins, frames)`` -> ``(..., bands, frames)``: each band's weighted mean."""
    weights = fb / np.maximum(fb.sum(axis=1, keepdims=True), 1e-12)
    return np.einsum("kf,...ft->...kt", weights, spec, optimize=True).astype(np.float32, copy=False)


def to_bins(fb: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``(..., bands, frames)`` -> ``(..., bins, frames)``: interpolation between band centres."""
    return np.einsum("kf,...kt->...ft", fb, values, optimize=True).astype(np.float32, copy=False)
