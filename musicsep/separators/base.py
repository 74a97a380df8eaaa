"""The separator contract and the registry of methods.

A separator takes float32 ``(samples, channels)`` at 44.1 kHz and returns one array of the same
shape per source. It knows nothing of files, datasets, the command line or the web page.
"""

from __future__ import annotations

import importlib
from typing import Protocol, runtime_checkable

import numpy as np

from musicsep import SOURCES
from musicsep.errors import UserError


@runtime_checkable
class Separator(Protocol):
    sources: tuple[str, ...]

    def separate(self, mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        ...


# name -> "module:factory"; modules are imported only when asked for, so the CLI starts fast.
METHODS: dict[str, str] = {
    "bandpass": "musicsep.separators.bandpass:BandpassSeparator",
    "nmf": "musicsep.separators.nmf:NMFSeparator",
    "forest": "musicsep.separators.forest:ForestSeparator",
    "unet": "musicsep.separators.unet:UNetSeparator",
}


# Reference points that only make sense when scoring: they are not offered to users who separate.
REFERENCE_METHODS: dict[str, str] = {
    "mixture": "musicsep.separators.oracle:MixtureBaseline",
    "oracle": "musicsep.separators.oracle:OracleSeparator",
}


def get_separator(name: str, **options) -> Separator:
    """Build the separator registered under ``name`` (its default model, where it has one)."""
    registry = {**METHODS, **REFERENCE_METHODS}
    if name not in registry:
        raise UserError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    module_name, factory = registry[name].split(":")
    return getattr(importlib.import_module(module_name), factory)(**options)


def stems_from_array(stems: np.ndarray, sources: tuple[str, ...] = SOURCES) -> dict[str, np.ndarray]:
    """``(sources, samples, channels)`` -> ``{source: (samples, channels) float32}``."""
    return {name: np.ascontiguousarray(stems[i], dtype=np.float32) for i, name in enumerate(sources)}
