"""The back-end every mask-based method shares (NMF, forest, U-Net, oracle).

A method only says how it masks the mixture's STFT; :class:`MaskingSeparator` does the rest, once:
the STFT, the masks applied (or refined by the multichannel Wiener filter), the inverse STFT, and,
where the method asks for it (``residual_last_stem``), the last stem as the mixture minus the
others. Masks sum to one and the inverse STFT is linear and reconstructs the mixture, so that last
stem equals its own inverse transform to float error, and one inverse transform (an eighth of the
U-Net's run time) is saved. Wiener estimates sum to the mixture too, except in bins where the
mixture's spatial covariance is near singular; there the residual differs by up to ~0.1 % of a
stem's energy (measured with the power-2 start of NMF and the forest, which therefore keep their
own last inverse transform and the figures measured with it).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from musicsep.separators.base import BaseSeparator, stems_from_array
from musicsep.spectral import istft, stft, wiener


class Masks:
    """Soft masks ``(sources, [channels,] bins, frames)`` that sum to one over sources."""

    def __init__(self, masks: np.ndarray):
        self.masks = np.asarray(masks)

    def __len__(self) -> int:
        return len(self.masks)

    def apply(self, values: np.ndarray, source: int | None = None) -> np.ndarray:
        """``values`` ``(channels, bins, frames)``, the complex STFT or its magnitudes, masked by one
        source's mask -> ``(channels, bins, frames)``, or by all -> ``(sources, channels, bins, frames)``."""
        if source is not None:
            return self.masks[source] * values
        masks = self.masks if self.masks.ndim == values.ndim + 1 else self.masks[:, None]
        return masks * values[None]


def masked_stems(mixture: np.ndarray, spec: np.ndarray, masks: Masks, n_fft: int, hop_length: int,
                 wiener_iterations: int = 0, wiener_power: float = 2.0, residual_last_stem: bool = True,
                 ) -> np.ndarray:
    """Stems ``(sources, samples, channels)`` float32 from the mixture, its STFT and the masks.

    With ``wiener_iterations`` > 0 the masked magnitudes seed the multichannel Wiener filter
    (:func:`musicsep.spectral.wiener`, at ``wiener_power``); else the masks apply to the complex
    STFT, one source at a time, so memory holds one complex estimate rather than all of them.
    ``residual_last_stem``: the last stem is the mixture minus the others (one inverse STFT fewer).
    """
    n, channels = mixture.shape
    last = len(masks) - 1 if residual_last_stem else len(masks)
    stems = np.empty((len(masks), n, channels), dtype=np.float32)
    if wiener_iterations > 0:
        estimates = wiener(spec, masks.apply(np.abs(spec)), wiener_iterations, power=wiener_power)
        stems[:last] = istft(estimates[:last], n, n_fft, hop_length)
    else:
        for j in range(last):
            stems[j] = istft(masks.apply(spec, j), n, n_fft, hop_length)
    if residual_last_stem:
        np.subtract(mixture, stems[:last].sum(axis=0), out=stems[last])
    return stems


class MaskingSeparator(BaseSeparator):
    """Base of the mask-based separators: subclasses give :meth:`stft_size` and :meth:`mask_spectrogram`."""

    wiener_power = 2.0  # the Wiener filter's initial estimate: ratio of masked magnitudes ** this
    residual_last_stem = False  # True: the last stem is the mixture minus the others (see above)

    def stft_size(self) -> tuple[int, int]:
        """``(n_fft, hop_length)`` of the STFT the masks are made for."""
        raise NotImplementedError

    def wiener_count(self) -> int:
        """Wiener filter iterations after the masks (0: the masks alone)."""
        return 0

    def mask_spectrogram(self, mixture: np.ndarray, spec: np.ndarray, sample_rate: int) -> Masks:
        """The masks for ``mixture`` ``(samples, channels)`` and its STFT ``(channels, bins, frames)``."""
        raise NotImplementedError

    def separate(self, mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        return self.separate_masked(mixture, lambda x, spec: self.mask_spectrogram(x, spec, sample_rate))

    def separate_masked(self, mixture: np.ndarray,
                        make_masks: Callable[[np.ndarray, np.ndarray], Masks]) -> dict[str, np.ndarray]:
        """STFT once, ``make_masks(mixture, spec)``, then the shared ending (:func:`masked_stems`)."""
        x = np.asarray(mixture, dtype=np.float32)
        n_fft, hop_length = self.stft_size()
        spec = stft(x, n_fft, hop_length)
        stems = masked_stems(x, spec, make_masks(x, spec), n_fft, hop_length, self.wiener_count(),
                             self.wiener_power, self.residual_last_stem)
        return stems_from_array(stems, self.sources)
