"""Reference points for the comparison: the mixture baseline and the oracle masks.

- :class:`MixtureBaseline` hands every stem a quarter of the mixture: what doing nothing scores.
- :class:`OracleSeparator` builds masks from the *true* stems (ideal ratio mask, or ideal binary
  mask) and applies them to the mixture's STFT: the upper bound of any method that masks this STFT.
  It needs the references, which :mod:`musicsep.evaluate` passes to :meth:`separate_with_references`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicsep import SOURCES
from musicsep.errors import UserError
from musicsep.separators.base import BaseSeparator
from musicsep.separators.masking import Masks, MaskingSeparator
from musicsep.spectral import ratio_masks, stft


@dataclass
class MixtureBaseline(BaseSeparator):
    sources: tuple[str, ...] = SOURCES

    def separate(self, mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        share = (np.asarray(mixture, dtype=np.float32) / len(self.sources)).astype(np.float32)
        return {s: share.copy() for s in self.sources}


@dataclass
class OracleSeparator(MaskingSeparator):
    kind: str = "irm"  # "irm": |S_j| / sum_k |S_k|; "ibm": 1 for the loudest source, else 0
    n_fft: int = 4096
    hop_length: int = 1024
    sources: tuple[str, ...] = SOURCES
    needs_references = True

    def __post_init__(self):
        if self.kind not in ("irm", "ibm"):
            raise UserError(f"oracle kind must be irm or ibm, not {self.kind!r}")

    def stft_size(self) -> tuple[int, int]:
        return self.n_fft, self.hop_length

    def separate(self, mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        raise UserError("the oracle needs the true stems: it only runs inside evaluate/compare")

    def warm_up(self) -> None:
        """Nothing to load or compile."""

    def separate_with_references(self, mixture: np.ndarray, sample_rate: int,
                                 references: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Mask the mixture with the ideal masks of the true stems ``references``."""
        return self.separate_masked(mixture, lambda x, spec: self.ideal_masks(references))

    def ideal_masks(self, references: dict[str, np.ndarray]) -> Masks:
        mags = np.abs(np.stack([stft(references[s], self.n_fft, self.hop_length) for s in self.sources]))
        if self.kind == "irm":
            return Masks(ratio_masks(mags))
        masks = (mags == mags.max(axis=0, keepdims=True)).astype(np.float32)
        masks /= masks.sum(axis=0, keepdims=True)  # ties share
        return Masks(masks)
