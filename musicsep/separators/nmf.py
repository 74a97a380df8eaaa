"""Stage 2: non-negative matrix factorisation of the magnitude spectrogram, then soft masks.

The mixture's magnitude spectrogram (mono, the mean over channels, on the log-spaced band axis
of :mod:`musicsep.separators.bands` -- 177 bands instead of 2049 bins, ten times faster and with
low harmonics still resolved) is factorised as ``V ~ W H`` under the Kullback-Leibler divergence
(multiplicative updates). Each source's share of the reconstruction becomes a soft mask, which is
interpolated back to STFT bins and applied to the complex stereo STFT (optionally refined by the
multichannel Wiener filter of :func:`musicsep.spectral.wiener`). Two variants:

- ``variant="grouped"`` (unsupervised factorisation): ``n_components`` free components are fitted to
  the mixture alone, then each component is assigned to drums / bass / other / vocals from
  descriptors of its spectrum and activation: log spectral centroid and bandwidth, spectral
  flatness, harmonicity (share of the spectrum in narrow peaks), low- and high-band energy shares,
  and the activation's percussiveness (positive flux), sparsity, smoothness and duty cycle. The
  grouping rule is a multinomial logistic regression on these descriptors (and their pairwise
  products), fitted on the synthetic training split: there, every component is labelled by how
  its reconstruction overlaps each true stem. The assignment is soft (each component contributes
  to every source with its class probability).
- ``variant="supervised"``: per-source dictionaries (``W_s``, ``atoms_per_source`` atoms each)
  learned by KL-NMF on the training stems; on a mixture the concatenated dictionary is held fixed
  and only the activations are fitted; source ``s`` is ``W_s H_s``.

Both learned parts ship with the package in ``musicsep/models/nmf.npz`` (under 100 KB);
``python stage2_spectrogram_masking.py train`` relearns them from the first 24 songs of the
synthetic training split (or ``--root``) in a few minutes. The factorisation is our own few lines of torch rather than scikit-learn's
``NMF``: with the KL loss scikit-learn took 10 s for 30 s of audio at rank 32 on the 2049-bin
spectrogram, these updates on the band axis take well under a second.

Long inputs are processed in 30 s blocks (``chunk_seconds``) by :func:`musicsep.inference.separate`,
so memory does not grow with the length of the song; the factorisation is done per block.

Parameters were chosen on the synthetic training split, never on test data
(``benchmarks/tune_nmf.py --fit 12 --val 4``: fit on songs 0-11, score songs 12-15 with the global SDR,
mean over stems and songs). STFT 4096/1024 and 1/24-octave bands were fixed; the grid gave

- grouped: rank 16 / 24 / 40 -> 2.5 / 3.1 / 3.7 dB with one Wiener pass (2.3 / 2.6 / 2.9 dB without);
  mask exponent 2 instead of 1 did not help with Wiener. Chosen: rank 40, one Wiener pass.
- supervised: 8 / 16 / 32 atoms per source -> 3.2 / 2.8 / 3.1 dB without Wiener (2.6 / 2.2 / 2.6 dB
  with one pass); exponent 2 lower. Chosen: 8 atoms, no Wiener pass, 60-80 iterations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.errors import UserError
from musicsep.separators.bands import band_average, band_centres, filterbank, to_bins
from musicsep.separators.base import shipped_model
from musicsep.separators.masking import Masks, MaskingSeparator
from musicsep.spectral import EPS, stft

DEFAULT_MODEL = shipped_model("nmf.npz")
VARIANTS = ("grouped", "supervised")


# --- the factorisation ---------------------------------------------------------------------------

def kl_nmf(V: np.ndarray, W: np.ndarray, H: np.ndarray, n_iter: int, update_W: bool = True,
           update_H: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicative-update NMF under the generalised KL divergence, ``V (F, T) ~ W (F, K) @ H (K, T)``.

    Lee & Seung's updates; ``update_W=False`` holds the dictionary fixed (supervised NMF).
    Returns float32 ``W``, ``H``; columns of ``W`` are rescaled to sum to one (``H`` compensates).
    """
    v = torch.from_numpy(np.ascontiguousarray(V, dtype=np.float32))
    w = torch.from_numpy(np.array(W, dtype=np.float32))
    h = torch.from_numpy(np.array(H, dtype=np.float32))
    threads = torch.get_num_threads()
    # These matrices are small (~200 x 1300): one thread is faster than two fighting over them
    # (25x faster measured on a busy 2-core machine).
    torch.set_num_threads(1)
    try:
        for _ in range(n_iter):
            if update_H:
                r = v / (w @ h).clamp_min(EPS)
                h.mul_((w.T @ r) / w.sum(0)[:, None].clamp_min(EPS))
            if update_W:
                r = v / (w @ h).clamp_min(EPS)
                w.mul_((r @ h.T) / h.sum(1)[None, :].clamp_min(EPS))
    finally:
        torch.set_num_threads(threads)
    if update_W:
        scale = w.sum(0).clamp_min(EPS)
        w, h = w / scale, h * scale[:, None]
    return w.numpy(), h.numpy()


def random_init(V: np.ndarray, rank: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positive random ``W``, ``H`` scaled so that ``W @ H`` has the mean of ``V``."""
    rng = np.random.default_rng(seed)
    scale = float(np.sqrt(max(float(V.mean()), EPS) / rank))
    W = (rng.random((V.shape[0], rank)) + 0.1).astype(np.float32) * scale
    H = (rng.random((rank, V.shape[1])) + 0.1).astype(np.float32) * scale
    return W, H


# --- component descriptors for the grouped variant ------------------------------------------------

FEATURE_NAMES = ("log_centroid", "log_bandwidth", "flatness", "harmonicity", "low_share", "high_share",
                 "percussiveness", "sparsity", "smoothness", "duty_cycle", "energy_share")


def component_features(W: np.ndarray, H: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Descriptors ``(K, len(FEATURE_NAMES))`` of each component's spectrum ``W[:, k]`` and activation ``H[k]``."""
    w = W / np.maximum(W.sum(axis=0, keepdims=True), EPS)  # (F, K), columns sum to one
    f = np.maximum(freqs, 20.0)[:, None]
    centroid = (w * f).sum(0)
    bandwidth = np.sqrt((w * (f - centroid) ** 2).sum(0))
    flatness = np.exp(np.log(w + 1e-9).mean(0)) / np.maximum(w.mean(0), EPS)
    # Harmonicity: how much of the spectrum stands above its 7-band running median (narrow peaks).
    padded = np.pad(w, ((3, 3), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 7, axis=0)
    baseline = np.median(windows, axis=-1)
    harmonicity = np.maximum(w - baseline, 0).sum(0)
    low = w[freqs < 200].sum(0)
    high = w[freqs > 4000].sum(0)
    h = np.maximum(H, 0).astype(np.float64)
    total = np.maximum(h.sum(1), EPS)
    diff = np.diff(h, axis=1)
    percussive = np.maximum(diff, 0).sum(1) / total
    n = h.shape[1]
    l2 = np.sqrt((h ** 2).sum(1))
    sparsity = (np.sqrt(n) - total / np.maximum(l2, EPS)) / max(np.sqrt(n) - 1, EPS)
    smooth = (diff ** 2).sum(1) / np.maximum((h ** 2).sum(1), EPS)
    duty = (h > 0.1 * h.max(1, keepdims=True)).mean(1)
    energy = W.sum(0) * h.sum(1)
    share = np.log(np.maximum(energy / max(energy.sum(), EPS), 1e-6))
    feats = np.stack([np.log2(np.maximum(centroid, 20.0)), np.log2(np.maximum(bandwidth, 1.0)), flatness, harmonicity,
                      low, high, percussive, sparsity, smooth, duty, share], axis=1)
    return np.nan_to_num(feats, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def _expand(feats: np.ndarray) -> np.ndarray:
    """Descriptors plus their pairwise products (a quadratic decision surface for a linear model)."""
    iu = np.triu_indices(feats.shape[1])
    return np.concatenate([feats, (feats[:, :, None] * feats[:, None, :])[:, iu[0], iu[1]]], axis=1)


# --- the learned model -----------------------------------------------------------------------------

@dataclass
class NMFModel:
    """What the NMF separator learns: per-source dictionaries and the component-grouping rule."""

    n_fft: int
    hop_length: int
    bands_per_octave: float
    dictionaries: np.ndarray  # (sources, atoms, bands) float32, each atom sums to one
    group_mean: np.ndarray    # (features,) standardisation of the raw descriptors
    group_scale: np.ndarray
    group_coef: np.ndarray    # (sources, expanded features) logistic regression
    group_intercept: np.ndarray  # (sources,)
    info: str = ""

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, n_fft=self.n_fft, hop_length=self.hop_length,
                            bands_per_octave=self.bands_per_octave, dictionaries=self.dictionaries,
                            group_mean=self.group_mean, group_scale=self.group_scale, group_coef=self.group_coef,
                            group_intercept=self.group_intercept, info=np.array(self.info))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NMFModel":
        path = Path(path)
        if not path.is_file():
            raise UserError(f"NMF model {path} not found; run `python stage2_spectrogram_masking.py train`")
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(int(z["n_fft"]), int(z["hop_length"]), float(z["bands_per_octave"]),
                           z["dictionaries"].astype(np.float32), z["group_mean"], z["group_scale"],
                           z["group_coef"], z["group_intercept"], str(z["info"]))
        except (OSError, KeyError, ValueError) as exc:
            raise UserError(f"NMF model {path} cannot be read: {exc}") from None

    def group_probabilities(self, feats: np.ndarray) -> np.ndarray:
        """``(K, features)`` descriptors -> ``(K, sources)`` probabilities."""
        z = _expand((feats - self.group_mean) / self.group_scale) @ self.group_coef.T + self.group_intercept
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def _mono_bands(audio: np.ndarray, n_fft: int, hop: int, fb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complex STFT ``(C, bins, T)`` and mono band magnitudes ``(bands, T)``."""
    spec = stft(audio, n_fft, hop)
    return spec, band_average(fb, np.abs(spec).mean(axis=0))


def source_frames(targets: dict[str, np.ndarray], n_fft: int, hop: int, fb: np.ndarray) -> dict[str, np.ndarray]:
    """Non-silent mono band-magnitude frames ``(bands, T_s)`` of each true stem of one song."""
    out = {}
    for s in SOURCES:
        _, mag = _mono_bands(targets[s], n_fft, hop, fb)
        energy = mag.sum(0)
        out[s] = mag[:, energy > 1e-3 * max(float(energy.max()), EPS)]
    return out


def learn_dictionaries(frames: dict[str, list[np.ndarray]], atoms: int, frames_per_source: int = 6000,
                       n_iter: int = 200, seed: int = 0) -> np.ndarray:
    """KL-NMF dictionaries ``(sources, atoms, bands)`` from stems' band-magnitude frames, in ``frames`` order."""
    rng = np.random.default_rng(seed)
    out = []
    for i, s in enumerate(frames):
        V = np.concatenate(frames[s], axis=1) if frames[s] else np.zeros((0, 0), np.float32)
        if V.shape[1] == 0:
            raise UserError(f"no non-silent {s} frames in the training songs")
        if V.shape[1] > frames_per_source:
            V = V[:, rng.choice(V.shape[1], frames_per_source, replace=False)]
        W, H = random_init(V, atoms, seed + i)
        W, _ = kl_nmf(V, W, H, n_iter)
        out.append(W.T)
    return np.stack(out).astype(np.float32)


def component_examples(mixture: np.ndarray, targets: dict[str, np.ndarray], n_fft: int, hop: int,
                       bands_per_octave: float, n_components: int, n_iter: int,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unsupervised NMF of one training mixture -> descriptors ``(K, F)``, soft labels ``(K, S)``, weights ``(K,)``.

    A component's label is how its reconstruction ``w_k h_k`` splits between the true stems
    (through the stems' ratio masks); its weight is its share of the mixture's energy.
    """
    fb = filterbank(n_fft, SAMPLE_RATE, bands_per_octave)
    _, V = _mono_bands(mixture, n_fft, hop, fb)
    truth = np.stack([_mono_bands(targets[s], n_fft, hop, fb)[1] for s in SOURCES])
    share = truth / np.maximum(truth.sum(0, keepdims=True), EPS)
    W, H = random_init(V, n_components, seed)
    W, H = kl_nmf(V, W, H, n_iter)
    feats = component_features(W, H, band_centres(fb, n_fft, SAMPLE_RATE))
    labels = np.empty((n_components, len(SOURCES)), np.float32)
    weights = np.empty(n_components, np.float32)
    for k in range(n_components):
        rec = np.outer(W[:, k], H[k])
        labels[k] = (share * rec).sum(axis=(1, 2)) / max(float(rec.sum()), EPS)
        weights[k] = rec.sum()
    return feats, labels, weights / max(float(weights.sum()), EPS)


def fit_grouping(feats: np.ndarray, labels: np.ndarray, weights: np.ndarray, C: float = 1.0):
    """Multinomial logistic regression on soft labels (each component repeated once per source)."""
    from sklearn.linear_model import LogisticRegression

    mean = feats.mean(0)
    scale = np.maximum(feats.std(0), 1e-6)
    X = _expand((feats - mean) / scale)
    n, s = labels.shape
    Xr = np.repeat(X, s, axis=0)
    yr = np.tile(np.arange(s), n)
    wr = (labels * weights[:, None]).reshape(-1)
    keep = wr > 0
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(Xr[keep], yr[keep], sample_weight=wr[keep] * len(wr) / max(wr.sum(), EPS))
    coef = np.zeros((s, X.shape[1]), np.float32)
    intercept = np.full(s, -30.0, np.float32)  # a source never seen in training gets ~0 probability
    coef[clf.classes_] = clf.coef_ if len(clf.classes_) > 2 else np.stack([-clf.coef_[0], clf.coef_[0]]) / 2
    intercept[clf.classes_] = clf.intercept_ if len(clf.classes_) > 2 else np.array(
        [-clf.intercept_[0], clf.intercept_[0]]) / 2
    return mean.astype(np.float32), scale.astype(np.float32), coef, intercept


# --- the separator ---------------------------------------------------------------------------------

@dataclass
class NMFSeparator(MaskingSeparator):
    """NMF masking; see the module docstring. ``model`` (or ``model_path``) holds the learned parts."""

    variant: str = "grouped"
    n_components: int = 40          # grouped: rank of the free factorisation
    n_iter: int = 80
    mask_power: float = 1.0         # masks are ratios of (source estimate) ** mask_power
    wiener_iterations: int | None = None  # None: 1 for grouped, 0 for supervised (best on held-out songs)
    chunk_seconds: float = 30.0
    overlap_seconds: float = 1.0
    seed: int = 0
    model_path: str | None = None
    model: NMFModel | None = field(default=None, repr=False)
    sources: tuple[str, ...] = SOURCES

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise UserError(f"NMF variant must be one of {', '.join(VARIANTS)}, not {self.variant!r}")
        if self.model is None and (self.model_path or DEFAULT_MODEL.is_file()):
            self._model()

    def _model(self) -> NMFModel:
        if self.model is None:
            self.model = NMFModel.load(self.model_path or DEFAULT_MODEL)
        return self.model

    def source_bands(self, V: np.ndarray, freqs: np.ndarray) -> np.ndarray:
        """Mono band magnitudes ``(bands, T)`` -> per-source estimates ``(sources, bands, T)``."""
        model = self._model()
        if self.variant == "supervised":
            D = model.dictionaries  # (S, A, bands)
            n_src, atoms, _ = D.shape
            W = D.reshape(n_src * atoms, -1).T
            H = np.full((W.shape[1], V.shape[1]), max(float(V.mean()), EPS) / W.shape[1], np.float32)
            W, H = kl_nmf(V, W, H, self.n_iter, update_W=False)
            return np.stack([W[:, i * atoms:(i + 1) * atoms] @ H[i * atoms:(i + 1) * atoms] for i in range(n_src)])
        rank = max(1, min(self.n_components, V.shape[1]))
        W, H = random_init(V, rank, self.seed)
        W, H = kl_nmf(V, W, H, self.n_iter)
        P = model.group_probabilities(component_features(W, H, freqs))  # (K, S)
        return np.einsum("fk,ks,kt->sft", W, P, H, optimize=True)

    def masks(self, spec: np.ndarray, sample_rate: int) -> np.ndarray:
        """Complex STFT ``(C, bins, T)`` -> soft masks ``(sources, bins, T)`` that sum to one."""
        model = self._model()
        fb = filterbank(model.n_fft, sample_rate, model.bands_per_octave)
        V = band_average(fb, np.abs(spec).mean(axis=0))
        if float(V.max(initial=0.0)) <= EPS:  # silence: nothing to factorise
            return np.full((len(self.sources),) + spec.shape[1:], 1.0 / len(self.sources), np.float32)
        est = np.maximum(self.source_bands(V, band_centres(fb, model.n_fft, sample_rate)), 0) ** self.mask_power
        total = est.sum(0, keepdims=True)
        band_masks = np.where(total > EPS, est / np.maximum(total, EPS), 1.0 / len(est))
        return to_bins(fb, band_masks)

    def stft_size(self) -> tuple[int, int]:
        model = self._model()
        return model.n_fft, model.hop_length

    def wiener_count(self) -> int:
        if self.wiener_iterations is None:
            return 1 if self.variant == "grouped" else 0
        return self.wiener_iterations

    def mask_spectrogram(self, mixture: np.ndarray, spec: np.ndarray, sample_rate: int) -> Masks:
        return Masks(self.masks(spec, sample_rate))

    # --- training ---------------------------------------------------------------------------------

    def fit(self, examples: Iterable[tuple[np.ndarray, dict[str, np.ndarray]]], n_fft: int = 4096,
            hop_length: int = 1024, bands_per_octave: float = 24.0, atoms_per_source: int = 8,
            C: float = 1.0, log=None) -> "NMFSeparator":
        """Learn the dictionaries and the grouping rule from ``(mixture, {source: stem})`` pairs."""
        fb = filterbank(n_fft, SAMPLE_RATE, bands_per_octave)
        frames: dict[str, list[np.ndarray]] = {s: [] for s in SOURCES}
        parts = []
        for i, (mix, targets) in enumerate(examples):  # one pass; only band magnitudes are kept
            for s, f in source_frames(targets, n_fft, hop_length, fb).items():
                frames[s].append(f)
            parts.append(component_examples(mix, targets, n_fft, hop_length, bands_per_octave,
                                            self.n_components, self.n_iter, seed=i))
            if log:
                log(f"song {i + 1}: {len(mix) / SAMPLE_RATE:.0f} s")
        if not parts:
            raise UserError("no training songs")
        dictionaries = learn_dictionaries(frames, atoms_per_source)
        feats, labels, weights = (np.concatenate(p) for p in zip(*parts))
        mean, scale, coef, intercept = fit_grouping(feats, labels, weights, C)
        self.model = NMFModel(n_fft, hop_length, bands_per_octave, dictionaries, mean, scale, coef, intercept,
                              info=f"trained on {len(parts)} songs; rank {self.n_components}, "
                                   f"{atoms_per_source} atoms per source")
        return self

    def save(self, path: str | os.PathLike = DEFAULT_MODEL) -> None:
        self._model().save(path)

    @classmethod
    def load(cls, path: str | os.PathLike = DEFAULT_MODEL, **options) -> "NMFSeparator":
        return cls(model=NMFModel.load(path), **options)
