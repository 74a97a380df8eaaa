"""Reference points for the comparison: the mixture baseline and the oracle masks.

- :class:`MixtureBaseline` hands every stem a quarter of the mixture: what doing nothing scores.
- :class:`OracleSeparator` builds masks from the *true* stems (ideal ratio mask, or ideal binary
  mask) and applies them to the mixture's STFT: the upper bound of any method that masks this STFT.
  It needs the references, so :mod:`musicsep.evaluate` sets ``references`` before each track.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musicsep import SOURCES
from musicsep.errors import UserError
from musicsep.spectral import apply_masks, ratio_masks, stft


@dataclass
class MixtureBaseline:
    sources: tuple[str, ...] = SOURCES

    def separate(self, mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        share = (np.asarray(mixture, dtype=np.float32) / len(self.sources)).astype(np.float32)
        return {s: share.copy() for s in self.sources}


@dataclass
class OracleSeparator:
    kind: str = "irm"  # "irm": |S_j| / sum_k |S_k|; "ibm": 1 for the loudest source, else 0
    n_fft: int = 4096
    hop_length: int = 1024
    sources: tuple[str, ...] = SOURCES
    needs_references = True
    references: dict[str, np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.kind not in ("irm", "ibm"):
            raise UserError(f"oracle kind must be irm or ibm, not {self.kind!r}")

    def separate(self, mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        if self.references is None:
            raise UserError("the oracle needs the true stems: it only runs inside evaluate/compare")
        mags = np.abs(np.stack([stft(self.references[s], self.n_fft, self.hop_length) for s in self.sources]))
        if self.kind == "irm":
            masks = ratio_masks(mags)
        else:
            masks = (mags == mags.max(axis=0, keepdims=True)).astype(np.float32)
            masks /= masks.sum(axis=0, keepdims=True)  # ties share
        mix_spec = stft(mixture, self.n_fft, self.hop_length)
        out = apply_masks(mix_spec, masks, len(mixture), self.n_fft, self.hop_length)
        return {s: out[i] for i, s in enumerate(self.sources)}
