"""Stage 3: classical machine learning -- a random forest predicts soft masks from hand-made features.

Two granularities (``level``):

- ``"frame"`` (the design card's version): one prediction per STFT frame from the frame's
  descriptors -- 20 MFCCs and their deltas, spectral centroid, bandwidth, roll-off and flatness,
  zero-crossing rate and RMS level. The class probabilities become a mask that is the same at every
  frequency of that frame: it can only say "this moment is mostly drums", never "the low end is bass".
- ``"cell"`` (the default): one prediction per (frame, frequency band) cell, bands from the
  log-spaced filterbank of :mod:`musicsep.separators.bands` (1/6 octave, 57 bands). Features: the
  frame's descriptors above, plus the cell's own log magnitude, its offsets from the neighbouring
  bands (+-1, +-2) and frames (+-1, +-2), from the median over +-8 frames (sustained, harmonic
  energy) and over +-3 bands (broadband, percussive energy), its level against the frame's loudest
  band, the band's frequency, and two stereo cues (level difference between channels and how
  "centred" the cell is, |L-R| / (|L|+|R|)). ``predict_proba`` per cell gives four probabilities
  that sum to one; they are interpolated from bands to STFT bins and applied to the complex STFT.

Labels come from the true stems of training songs. With ``labels="share"`` (the default) every
cell is shown to the forest once per source, weighted by that source's share of the cell's
magnitude (and by the cell's loudness), so ``predict_proba`` estimates the ideal ratio mask; with
``labels="dominant"`` each cell carries the single dominant source's label. Frame-level training does
the same on whole frames.

The trained model (both levels) ships as ``musicsep/models/forest.joblib``; ``python
stage3_classical_ml.py train`` refits it from 10 training songs (the synthetic train split, or
MUSDB18 train with ``--root``) on both cores, drawing a bounded number of cells per song (20 000)
so memory stays small: 40 trees of at most 2000 leaves, about 10 MB compressed.

Settings were chosen on held-out songs of the synthetic training split, never on test data
(``benchmarks/tune_forest.py --fit 10 --val 4``: fit on songs 0-9, score songs 10-13 by the global
SDR, mean over stems and songs -- a mean that near-silent stems of one song drag far below zero, so
only differences between its lines mean anything). One Wiener pass added 2.1 dB (share labels) and
1.0 dB (dominant labels); share labels beat dominant ones by 0.4 dB with it; 500 / 2000 / 5000 leaves
gave -0.03 / +0.02 / +0.02 dB (5.5 / 8.8 / 9.3 MB). Chosen: share labels, 2000 leaves, one Wiener pass.
The band resolution (1/6 octave), 40 trees and the feature set were fixed by hand, not searched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.errors import UserError
from musicsep.separators.bands import band_average, band_centres, filterbank, to_bins
from musicsep.separators.base import shipped_model
from musicsep.separators.masking import Masks, MaskingSeparator
from musicsep.spectral import EPS, stft

DEFAULT_MODEL = shipped_model("forest.joblib")
LEVELS = ("cell", "frame")
FORMAT_VERSION = 1


def _db(x: np.ndarray) -> np.ndarray:
    return (20.0 * np.log10(np.maximum(x, 1e-6))).astype(np.float32)


def frame_features(audio: np.ndarray, spec: np.ndarray, sample_rate: int, n_fft: int, hop: int,
                   n_mfcc: int = 20) -> np.ndarray:
    """Per-frame descriptors ``(frames, features)`` of a stereo mixture and its STFT ``(C, bins, T)``."""
    import librosa

    n_frames = spec.shape[-1]
    mag = np.abs(spec).mean(axis=0)  # (bins, T) mono magnitude
    power = mag ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=sample_rate, n_fft=n_fft, n_mels=64, fmax=sample_rate / 2)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None), n_mfcc=n_mfcc)
    width = 9 if n_frames >= 9 else max(3, n_frames | 1) if n_frames >= 3 else 0
    delta = librosa.feature.delta(mfcc, width=width, mode="nearest") if width else np.zeros_like(mfcc)
    freqs = np.arange(mag.shape[0]) * sample_rate / n_fft
    centroid = librosa.feature.spectral_centroid(S=mag, freq=freqs)[0]
    bandwidth = librosa.feature.spectral_bandwidth(S=mag, freq=freqs)[0]
    rolloff = librosa.feature.spectral_rolloff(S=mag, freq=freqs, roll_percent=0.85)[0]
    flatness = librosa.feature.spectral_flatness(S=mag)[0]
    mono = np.asarray(audio, dtype=np.float32).mean(axis=1)
    if len(mono) < n_fft:
        mono = np.pad(mono, (0, n_fft - len(mono)))
    zcr = librosa.feature.zero_crossing_rate(mono, frame_length=n_fft, hop_length=hop, center=True)[0]
    zcr = np.pad(zcr, (0, max(0, n_frames - len(zcr))), mode="edge")[:n_frames]
    rms = np.sqrt(power.mean(axis=0))
    cols = [mfcc.T, delta.T,
            np.log2(np.maximum(np.stack([centroid, bandwidth, rolloff], axis=1), 20.0)),
            np.log10(np.maximum(flatness, 1e-6))[:, None], zcr[:, None], _db(rms)[:, None]]
    return np.concatenate(cols, axis=1).astype(np.float32)


FRAME_FEATURES = 20 * 2 + 3 + 1 + 1 + 1


def _shift(x: np.ndarray, offset: int, axis: int) -> np.ndarray:
    """``x`` moved by ``offset`` along ``axis`` with edge values repeated (out[i] = x[i + offset])."""
    n = x.shape[axis]
    idx = np.clip(np.arange(n) + offset, 0, n - 1)
    return np.take(x, idx, axis=axis)


def _running_median(x: np.ndarray, radius: int, axis: int) -> np.ndarray:
    from scipy.ndimage import median_filter

    size = [1, 1]
    size[axis] = 2 * radius + 1
    return median_filter(x, size=tuple(size), mode="nearest")


def cell_features(spec: np.ndarray, frame_feats: np.ndarray, fb: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Features of every (band, frame) cell: ``(bands * frames, features)``, band-major order."""
    mags = band_average(fb, np.abs(spec))  # (C, bands, T)
    mono = mags.mean(axis=0)
    L = _db(mono)  # (bands, T)
    n_bands, n_frames = L.shape
    cols = [L]
    for off in (-2, -1, 1, 2):
        cols.append(_shift(L, off, 0) - L)
    for off in (-2, -1, 1, 2):
        cols.append(_shift(L, off, 1) - L)
    cols.append(_running_median(L, 8, 1) - L)  # sustained (harmonic) context
    cols.append(_running_median(L, 3, 0) - L)  # broadband (percussive) context
    cols.append(L - L.max(axis=0, keepdims=True))
    cols.append(np.broadcast_to(np.log2(np.maximum(centres, 10.0))[:, None], L.shape))
    if mags.shape[0] >= 2:
        left, right = mags[0], mags[1]
        cols.append(_db(left) - _db(right))
        side = band_average(fb, np.abs(spec[0] - spec[1]))
        cols.append(side / np.maximum(left + right, 1e-6))
    else:
        cols += [np.zeros_like(L), np.zeros_like(L)]
    cell = np.stack(cols, axis=-1).reshape(n_bands * n_frames, -1)
    frames = np.broadcast_to(frame_feats[None], (n_bands, n_frames, frame_feats.shape[1]))
    return np.concatenate([cell, frames.reshape(n_bands * n_frames, -1)], axis=1).astype(np.float32)


def _label_targets(targets: dict[str, np.ndarray], n_fft: int, hop: int, fb: np.ndarray | None) -> np.ndarray:
    """Per-source mono magnitude ``(sources, bands or 1, frames)`` of the true stems."""
    out = []
    for s in SOURCES:
        mag = np.abs(stft(targets[s], n_fft, hop)).mean(axis=0)
        out.append(band_average(fb, mag) if fb is not None else np.sqrt((mag ** 2).sum(axis=0, keepdims=True)))
    return np.stack(out)


def _expand_labels(X: np.ndarray, share: np.ndarray, weight: np.ndarray, mode: str):
    """Rows -> (X, y, sample_weight): one row per source weighted by its share, or the dominant source."""
    n_src = share.shape[1]
    if mode == "dominant":
        return X, share.argmax(axis=1), weight
    w = (share * weight[:, None]).reshape(-1)
    keep = w > 1e-4 * max(float(w.max(initial=0.0)), EPS)
    rows = np.repeat(np.arange(len(X)), n_src)[keep]
    return X[rows], np.tile(np.arange(n_src), len(X))[keep], w[keep]


def training_rows(examples: Iterable[tuple[np.ndarray, dict[str, np.ndarray]]], n_fft: int = 4096,
                  hop_length: int = 1024, bands_per_octave: float = 6.0, cells_per_song: int = 20000,
                  seed: int = 0, levels: tuple[str, ...] = LEVELS, log=None) -> dict[str, list]:
    """Features, source shares and weights of training songs: ``{level: [(X, share, weight) per song]}``.

    Cell level keeps at most ``cells_per_song`` randomly drawn non-silent cells per song, so memory is
    bounded by songs x cells, whatever the songs' length. Weights are the cell's (frame's) mixture magnitude.
    """
    rng = np.random.default_rng(seed)
    fb = filterbank(n_fft, SAMPLE_RATE, bands_per_octave)
    centres = band_centres(fb, n_fft, SAMPLE_RATE)
    parts: dict[str, list] = {lv: [] for lv in levels}
    for n, (mix, targets) in enumerate(examples, start=1):
        spec = stft(mix, n_fft, hop_length)
        ff = frame_features(mix, spec, SAMPLE_RATE, n_fft, hop_length)
        if "frame" in levels:
            truth = _label_targets(targets, n_fft, hop_length, None)[:, 0].T  # (T, S)
            share = truth / np.maximum(truth.sum(1, keepdims=True), EPS)
            weight = np.sqrt((np.abs(spec) ** 2).mean(axis=0).sum(axis=0))
            ok = truth.sum(1) > EPS
            parts["frame"].append((ff[ok], share[ok], weight[ok]))
        if "cell" in levels:
            truth = _label_targets(targets, n_fft, hop_length, fb)  # (S, bands, T)
            X = cell_features(spec, ff, fb, centres)
            share = truth.reshape(len(SOURCES), -1).T
            total = share.sum(1)
            share = share / np.maximum(total[:, None], EPS)
            weight = band_average(fb, np.abs(spec).mean(axis=0)).reshape(-1)
            ok = np.flatnonzero((total > EPS) & (weight > 1e-4 * max(float(weight.max(initial=0)), EPS)))
            if len(ok) > cells_per_song:
                ok = rng.choice(ok, cells_per_song, replace=False)
            parts["cell"].append((X[ok], share[ok], weight[ok]))
        if log:
            log(f"song {n}: features done")
    if not any(parts.values()) or not all(parts.values()):
        raise UserError("no training songs")
    return parts


def fit_forest(rows: list, labels: str = "share", n_estimators: int = 40, max_leaf_nodes: int = 2000,
               min_samples_leaf: int = 20, max_samples: float | None = 0.5, n_jobs: int = 2, seed: int = 0):
    """A RandomForestClassifier on the rows of :func:`training_rows` (one level)."""
    from sklearn.ensemble import RandomForestClassifier

    if labels not in ("share", "dominant"):
        raise UserError(f"labels must be share or dominant, not {labels!r}")
    X = np.concatenate([p[0] for p in rows])
    share = np.concatenate([p[1] for p in rows])
    weight = np.concatenate([p[2] for p in rows]).astype(np.float64)
    weight /= max(weight.mean(), EPS)
    X, y, w = _expand_labels(X, share, weight, labels)
    clf = RandomForestClassifier(n_estimators=n_estimators, max_leaf_nodes=max_leaf_nodes,
                                 min_samples_leaf=min_samples_leaf, max_features="sqrt",
                                 max_samples=max_samples, n_jobs=n_jobs, random_state=seed)
    clf.fit(X, y, sample_weight=w)
    clf.n_jobs = 1  # prediction runs on one chunk at a time: no worker pool
    return clf


@dataclass
class ForestModel:
    """The fitted forests of both levels and the analysis settings they were trained with."""

    n_fft: int = 4096
    hop_length: int = 1024
    bands_per_octave: float = 6.0
    cell: object = None   # sklearn RandomForestClassifier
    frame: object = None
    info: str = ""

    def save(self, path: str | os.PathLike) -> None:
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        joblib.dump({"format": FORMAT_VERSION, "n_fft": self.n_fft, "hop_length": self.hop_length,
                     "bands_per_octave": self.bands_per_octave, "cell": self.cell, "frame": self.frame,
                     "info": self.info}, tmp, compress=("zlib", 6))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ForestModel":
        import joblib

        path = Path(path)
        if not path.is_file():
            raise UserError(f"forest model {path} not found; run `python stage3_classical_ml.py train`")
        try:
            d = joblib.load(path)
        except Exception as exc:  # joblib / pickle raise many kinds
            raise UserError(f"forest model {path} cannot be read: {exc}") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT_VERSION:
            raise UserError(f"forest model {path}: not a musicsep forest model (format {FORMAT_VERSION})")
        return cls(d["n_fft"], d["hop_length"], d["bands_per_octave"], d["cell"], d["frame"], d.get("info", ""))


@dataclass
class ForestSeparator(MaskingSeparator):
    """Random-forest masking; see the module docstring."""

    level: str = "cell"
    mask_power: float = 1.0         # masks are ratios of probability ** mask_power
    wiener_iterations: int = 1       # one Wiener pass: +2 dB on held-out training songs
    chunk_seconds: float = 30.0
    overlap_seconds: float = 1.0
    model_path: str | None = None
    model: ForestModel | None = field(default=None, repr=False)
    sources: tuple[str, ...] = SOURCES

    def __post_init__(self):
        if self.level not in LEVELS:
            raise UserError(f"forest level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        if self.model is None and (self.model_path or DEFAULT_MODEL.is_file()):
            self._model()  # a missing or broken model file shows now, not at the first song

    def _model(self) -> ForestModel:
        if self.model is None:
            self.model = ForestModel.load(self.model_path or DEFAULT_MODEL)
        return self.model

    def _features(self, audio: np.ndarray, spec: np.ndarray, sample_rate: int, level: str) -> np.ndarray:
        m = self._model()
        ff = frame_features(audio, spec, sample_rate, m.n_fft, m.hop_length)
        if level == "frame":
            return ff
        fb = filterbank(m.n_fft, sample_rate, m.bands_per_octave)
        return cell_features(spec, ff, fb, band_centres(fb, m.n_fft, sample_rate))

    def masks(self, audio: np.ndarray, spec: np.ndarray, sample_rate: int) -> np.ndarray:
        """Soft masks ``(sources, bins, frames)`` that sum to one over sources."""
        m = self._model()
        clf = m.cell if self.level == "cell" else m.frame
        if clf is None:
            raise UserError(f"the forest model has no {self.level}-level forest; retrain it")
        X = self._features(audio, spec, sample_rate, self.level)
        proba = np.zeros((len(X), len(SOURCES)), np.float32)
        proba[:, clf.classes_] = clf.predict_proba(X)
        if self.mask_power != 1.0:
            proba = proba ** self.mask_power
            proba /= np.maximum(proba.sum(axis=1, keepdims=True), EPS)
        n_bins, n_frames = spec.shape[-2:]
        if self.level == "frame":
            return np.ascontiguousarray(np.broadcast_to(proba.T[:, None, :], (len(SOURCES), n_bins, n_frames)))
        fb = filterbank(m.n_fft, sample_rate, m.bands_per_octave)
        band_masks = proba.reshape(fb.shape[0], n_frames, len(SOURCES)).transpose(2, 0, 1)
        return to_bins(fb, band_masks)

    def stft_size(self) -> tuple[int, int]:
        model = self._model()
        return model.n_fft, model.hop_length

    def wiener_count(self) -> int:
        return self.wiener_iterations

    def mask_spectrogram(self, mixture: np.ndarray, spec: np.ndarray, sample_rate: int) -> Masks:
        return Masks(self.masks(mixture, spec, sample_rate))

    # --- training ---------------------------------------------------------------------------------

    def fit(self, examples: Iterable[tuple[np.ndarray, dict[str, np.ndarray]]], n_fft: int = 4096,
            hop_length: int = 1024, bands_per_octave: float = 6.0, cells_per_song: int = 20000,
            labels: str = "share", n_estimators: int = 40, max_leaf_nodes: int = 2000,
            min_samples_leaf: int = 20, max_samples: float | None = 0.5, n_jobs: int = 2, seed: int = 0,
            levels: tuple[str, ...] = LEVELS, log=None) -> "ForestSeparator":
        """Fit the forests of ``levels`` on ``(mixture, {source: stem})`` training pairs."""
        rows = training_rows(examples, n_fft, hop_length, bands_per_octave, cells_per_song, seed, levels, log)
        n_songs = len(next(iter(rows.values())))
        model = ForestModel(n_fft, hop_length, bands_per_octave,
                            info=f"trained on {n_songs} songs, labels={labels}, {n_estimators} trees, "
                                 f"<= {max_leaf_nodes} leaves, {cells_per_song} cells per song")
        for lv in levels:
            clf = fit_forest(rows[lv], labels, n_estimators, max_leaf_nodes, min_samples_leaf, max_samples,
                             n_jobs, seed)
            setattr(model, lv, clf)
            if log:
                log(f"{lv}: fitted {n_estimators} trees, {sum(t.tree_.node_count for t in clf.estimators_)} nodes")
        self.model = model
        return self

    def save(self, path: str | os.PathLike = DEFAULT_MODEL) -> None:
        self._model().save(path)

    @classmethod
    def load(cls, path: str | os.PathLike = DEFAULT_MODEL, **options) -> "ForestSeparator":
        return cls(model=ForestModel.load(path), **options)
