"""The separator contract and the registry of methods.

A separator takes float32 ``(samples, channels)`` at 44.1 kHz and returns one array of the same
shape per source. It knows nothing of files, datasets, the command line or the web page.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Protocol, runtime_checkable

import numpy as np

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.errors import UserError

MODEL_DIR = Path(__file__).resolve().parent.parent / "models"


@runtime_checkable
class Separator(Protocol):
    sources: tuple[str, ...]
    chunk_seconds: float | None    # the window musicsep.inference cuts long audio into (None: its default)
    overlap_seconds: float | None  # the cross-fade between windows (None: its default)
    needs_references: bool         # True: it separates only with the true stems (separate_with_references)

    def separate(self, mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        ...

    def warm_up(self) -> None:
        """Do one-off start-up work (loading, compiling kernels) before the first real separation."""


class BaseSeparator:
    """The contract's defaults: separators inherit them and override what they need."""

    sources: tuple[str, ...] = SOURCES
    chunk_seconds: float | None = None
    overlap_seconds: float | None = None
    needs_references = False

    def separate(self, mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Separate 0.2 s of quiet noise: loads models and compiles numba / oneDNN kernels."""
        noise = np.random.default_rng(0).standard_normal((SAMPLE_RATE // 5, 2)).astype(np.float32) * 0.01
        self.separate(noise, SAMPLE_RATE)


@dataclass(frozen=True)
class MethodInfo:
    """A registered method: where its separator lives, what it is, what it loads, what it accepts."""

    factory: str                       # "module:Class"; imported only when built, so the CLI starts fast
    description: str                   # one line, for `musicsep methods`
    model_file: str | None = None      # the shipped model's file name (see shipped_model)
    options: Mapping[str, type] = field(default_factory=dict)  # what `-O key=value` may set, and its type


# Methods offered to users who separate.
METHODS: dict[str, MethodInfo] = {
    "bandpass": MethodInfo(
        "musicsep.separators.bandpass:BandpassSeparator",
        "Stage 1: Butterworth filters split the spectrum into bass, voice and treble bands",
        options={"bass_cutoff": float, "vocals_low": float, "vocals_high": float, "drums_cutoff": float,
                 "transient_strength": float, "order": int}),
    "nmf": MethodInfo(
        "musicsep.separators.nmf:NMFSeparator",
        "Stage 2: NMF of the magnitude spectrogram, components grouped into soft masks",
        model_file="nmf.npz",
        options={"variant": str, "n_components": int, "n_iter": int, "mask_power": float,
                 "wiener_iterations": int, "seed": int, "model_path": str}),
    "forest": MethodInfo(
        "musicsep.separators.forest:ForestSeparator",
        "Stage 3: a random forest predicts a soft mask per time-frequency cell",
        model_file="forest.joblib",
        options={"level": str, "mask_power": float, "wiener_iterations": int}),
    "unet": MethodInfo(
        "musicsep.separators.unet:UNetSeparator",
        "Stage 4: an attention U-Net predicts four masks (the best quality)",
        model_file="best_model.pth",
        options={"wiener_iterations": int, "bfloat16": bool, "model_path": str, "device": str,
                 "level_normalisation": bool}),
}


# Reference points that only make sense when scoring: they are not offered to users who separate.
REFERENCE_METHODS: dict[str, MethodInfo] = {
    "mixture": MethodInfo("musicsep.separators.oracle:MixtureBaseline", "every stem is a quarter of the mixture"),
    "oracle": MethodInfo("musicsep.separators.oracle:OracleSeparator",
                         "ideal masks computed from the true stems (an upper bound)", options={"kind": str}),
}


def shipped_model(file_name: str) -> Path:
    """Where a shipped model is: inside the package (an installed wheel carries them all), else at
    the repository root, where ``best_model.pth`` is kept in a checkout (the build copies it in)."""
    packaged = MODEL_DIR / file_name
    checkout = MODEL_DIR.parents[1] / file_name
    return checkout if not packaged.exists() and checkout.exists() else packaged


def method_info(name: str) -> MethodInfo:
    registry = {**METHODS, **REFERENCE_METHODS}
    if name not in registry:
        raise UserError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    return registry[name]


def get_separator(name: str, **options) -> Separator:
    """Build the separator registered under ``name`` (its default model, where it has one)."""
    module_name, factory = method_info(name).factory.split(":")
    return getattr(importlib.import_module(module_name), factory)(**options)


def stems_from_array(stems: np.ndarray, sources: tuple[str, ...] = SOURCES) -> dict[str, np.ndarray]:
    """``(sources, samples, channels)`` -> ``{source: (samples, channels) float32}``."""
    return {name: np.ascontiguousarray(stems[i], dtype=np.float32) for i, name in enumerate(sources)}
