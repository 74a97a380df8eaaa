"""Stage 1: frequency thresholding with zero-phase Butterworth filters.

- bass: a low-pass below ``bass_cutoff``;
- vocals: a band-pass over the voice range, taken from the mid (L+R)/2 signal, where lead vocals sit;
- drums: a high-pass above ``drums_cutoff`` (cymbals, hi-hats, snare crack), plus the transient part
  of the low band (kick hits): the low band weighted by how far its fast envelope jumps above its slow one;
- other: the residual, so the four stems sum exactly to the mixture.

The defaults were chosen by a grid search on the synthetic training split (see
``benchmarks/tune_bandpass.py``), never on test data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from musicsep import SOURCES
from musicsep.separators.base import BaseSeparator

MIN_FILTER_SAMPLES = 64  # shorter inputs are zero-padded for the filters, then cropped back


def _zero_phase(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Forward-backward filtering along time; pads very short inputs so filtfilt has room."""
    n = len(x)
    pad = max(0, MIN_FILTER_SAMPLES - n)
    padded = np.pad(x, ((0, pad), (0, 0))) if pad else x
    padlen = min(3 * (2 * len(sos) + 1), len(padded) - 1)
    return signal.sosfiltfilt(sos, padded, axis=0, padlen=padlen)[:n]


def _envelope(x: np.ndarray, seconds: float, sample_rate: int) -> np.ndarray:
    """Smoothed absolute value (one-pole low-pass, zero phase) of a mono signal."""
    cutoff = min(0.45 * sample_rate, 1.0 / (2 * np.pi * seconds))
    sos = signal.butter(1, cutoff, btype="lowpass", fs=sample_rate, output="sos")
    return np.maximum(_zero_phase(sos, np.abs(x)[:, None])[:, 0], 0.0)


@dataclass
class BandpassSeparator(BaseSeparator):
    bass_cutoff: float = 200.0
    vocals_low: float = 300.0
    vocals_high: float = 2000.0
    drums_cutoff: float = 4000.0
    transient_strength: float = 1.0
    order: int = 4
    sources: tuple[str, ...] = SOURCES

    def _sos(self, btype: str, cutoff, sample_rate: int) -> np.ndarray:
        return signal.butter(self.order, cutoff, btype=btype, fs=sample_rate, output="sos")

    def separate(self, mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        x = np.asarray(mixture, dtype=np.float64)
        nyquist = sample_rate / 2
        bass = _zero_phase(self._sos("lowpass", min(self.bass_cutoff, 0.99 * nyquist), sample_rate), x)

        mid = x.mean(axis=1, keepdims=True)
        band = (self.vocals_low, min(self.vocals_high, 0.99 * nyquist))
        vocals = np.repeat(_zero_phase(self._sos("bandpass", band, sample_rate), mid), x.shape[1], axis=1)

        drums = _zero_phase(self._sos("highpass", min(self.drums_cutoff, 0.99 * nyquist), sample_rate), x)
        if self.transient_strength > 0:
            # Kick hits: where the low band's 5 ms envelope jumps above its 100 ms envelope.
            low_mono = bass.mean(axis=1)
            fast, slow = _envelope(low_mono, 0.005, sample_rate), _envelope(low_mono, 0.1, sample_rate)
            onset = np.clip((fast - slow) / (fast + 1e-8), 0.0, 1.0) * min(self.transient_strength, 1.0)
            kick = bass * onset[:, None]
            drums, bass = drums + kick, bass - kick

        other = x - bass - vocals - drums
        stems = {"drums": drums, "bass": bass, "other": other, "vocals": vocals}
        return {name: stems[name].astype(np.float32) for name in self.sources}
