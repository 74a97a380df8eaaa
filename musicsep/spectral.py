"""STFT / ISTFT, soft masks and the multichannel Wiener filter.

Shapes: time-domain audio is ``(samples, channels)``; a spectrogram is ``(channels, bins, frames)``
complex64; a set of source spectrograms adds a leading source axis ``(sources, channels, bins, frames)``.
torch does the FFTs (fast, multithreaded); inputs and outputs are numpy.
"""

from __future__ import annotations

import numba
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


def _overlap_add(frames: torch.Tensor, hop_length: int) -> torch.Tensor:
    """``(batch, frames, n_fft)`` -> ``(batch, (frames - 1) * hop + n_fft)``; ``n_fft`` a multiple of ``hop``."""
    batch, count, n_fft = frames.shape
    ratio = n_fft // hop_length
    blocks = frames.reshape(batch, count, ratio, hop_length)
    out = torch.zeros(batch, count + ratio - 1, hop_length, dtype=frames.dtype)
    for k in range(ratio):
        out[:, k:k + count] += blocks[:, :, k]
    return out.reshape(batch, -1)


def istft(spec: np.ndarray, length: int, n_fft: int = 4096, hop_length: int = 1024) -> np.ndarray:
    """Inverse of :func:`stft`: ``(..., channels, bins, frames)`` -> ``(..., length, channels)`` float32.

    Same result as ``torch.istft`` (Hann window, centred, window-sum normalisation) but, when the
    hop divides ``n_fft``, computed as one batched inverse real FFT plus ``n_fft / hop`` shifted
    block additions, which is several times faster on a CPU than torch's fold-based overlap-add.
    """
    spec = np.asarray(spec)
    lead = spec.shape[:-2]
    flat = torch.from_numpy(np.ascontiguousarray(spec.reshape(-1, *spec.shape[-2:])))
    window = torch.hann_window(n_fft)
    if n_fft % hop_length or flat.shape[-1] == 0:
        out = torch.istft(flat, n_fft, hop_length, window=window, center=True, length=length).float()
    else:
        count = flat.shape[-1]
        envelope = _overlap_add(window.square().expand(1, count, n_fft), hop_length)[0]
        start = n_fft // 2
        stop = min(start + length, (count - 1) * hop_length + n_fft)
        scale = 1.0 / envelope[start:stop].clamp_min(1e-11)
        out = torch.zeros(flat.shape[0], length, dtype=torch.float32)
        # two signals at a time: the frame buffers of a whole 4-source chunk would be ~10x its audio
        for i in range(0, flat.shape[0], 2):
            frames = torch.fft.irfft(flat[i:i + 2].transpose(1, 2), n=n_fft)  # (2, frames, n_fft)
            frames *= window
            torch.mul(_overlap_add(frames, hop_length)[:, start:stop], scale, out=out[i:i + 2, : stop - start])
    return np.moveaxis(out.numpy().reshape(*lead, length), -2, -1)


def ratio_masks(magnitudes: np.ndarray, power: float = 1.0) -> np.ndarray:
    """Soft masks that sum to one over the source axis (axis 0); silence is shared equally."""
    weights = np.power(np.maximum(magnitudes, 0.0), power, dtype=np.float32)
    total = weights.sum(axis=0, keepdims=True)
    equal = np.full_like(weights, 1.0 / weights.shape[0])
    return np.where(total > EPS, weights / np.maximum(total, EPS), equal).astype(np.float32)


@numba.njit(parallel=True, fastmath=False, cache=True)
def _wiener_stereo_kernel(x, mags, power, iterations, eps):  # pragma: no cover - compiled
    """Stereo Wiener filter, one frequency bin per task; see :func:`_wiener_stereo`."""
    n_src, _, n_bins, n_frames = mags.shape
    out = np.empty((n_src, 2, n_bins, n_frames), dtype=np.complex64)
    for f in numba.prange(n_bins):
        y = np.empty((n_src, 2, n_frames), dtype=np.complex128)
        w = np.empty((n_src, n_frames), dtype=np.float64)
        # Initial estimates: ratio masks of magnitudes ** power, per channel.
        for c in range(2):
            for t in range(n_frames):
                total = 0.0
                for j in range(n_src):
                    m = max(float(mags[j, c, f, t]), 0.0)
                    if power == 2.0:
                        w[j, t] = m * m
                    elif power == 1.0:
                        w[j, t] = m
                    else:
                        w[j, t] = m ** power
                    total += w[j, t]
                if total > eps:
                    for j in range(n_src):
                        y[j, c, t] = x[c, f, t] * (w[j, t] / total)
                else:
                    for j in range(n_src):
                        y[j, c, t] = x[c, f, t] * (w[j, t] / eps)
        r00 = np.empty(n_src)
        r11 = np.empty(n_src)
        r01 = np.empty(n_src, dtype=np.complex128)
        v = w  # reuse the buffer: power spectral densities (n_src, n_frames)
        for _ in range(iterations):
            for j in range(n_src):
                s00 = 0.0
                s11 = 0.0
                s01 = 0.0 + 0.0j
                vs = 0.0
                for t in range(n_frames):
                    a0 = y[j, 0, t]
                    a1 = y[j, 1, t]
                    p0 = a0.real * a0.real + a0.imag * a0.imag
                    p1 = a1.real * a1.real + a1.imag * a1.imag
                    v[j, t] = 0.5 * (p0 + p1)
                    vs += v[j, t]
                    s00 += p0
                    s11 += p1
                    s01 += a0 * a1.conjugate()
                vs = max(vs, eps)
                r00[j] = s00 / vs
                r11[j] = s11 / vs
                r01[j] = s01 / vs
            for t in range(n_frames):
                a = eps
                d = eps
                b = 0.0 + 0.0j
                for j in range(n_src):
                    a += v[j, t] * r00[j]
                    d += v[j, t] * r11[j]
                    b += v[j, t] * r01[j]
                det = a * d - (b.real * b.real + b.imag * b.imag)
                x0 = complex(x[0, f, t])
                x1 = complex(x[1, f, t])
                z0 = (d * x0 - b * x1) / det
                z1 = (a * x1 - b.conjugate() * x0) / det
                for j in range(n_src):
                    y[j, 0, t] = v[j, t] * (r00[j] * z0 + r01[j] * z1)
                    y[j, 1, t] = v[j, t] * (r01[j].conjugate() * z0 + r11[j] * z1)
        for j in range(n_src):
            for c in range(2):
                for t in range(n_frames):
                    out[j, c, f, t] = y[j, c, t]
    return out


def _wiener_stereo(mix_spec: np.ndarray, magnitudes: np.ndarray, iterations: int, power: float) -> np.ndarray:
    """:func:`wiener` for two channels, with the 2x2 algebra written out and compiled (numba).

    Same maths as the general path, but nothing of size ``sources x bins x frames x 2 x 2`` is ever
    built: per frequency bin, the mixture covariance is two real diagonals and one complex corner,
    its inverse is applied to the mixture once (``z = Cx^-1 x``), and each source is ``v_j R_j z``.
    Memory is the output alone; for a 30 s stereo clip at STFT 4096/1024 one iteration takes well
    under 0.1 s on two cores, against about 1.5 s for the batched-tensor path.
    """
    x = np.ascontiguousarray(mix_spec, dtype=np.complex64)
    mags = np.ascontiguousarray(magnitudes, dtype=np.float32)
    return _wiener_stereo_kernel(x, mags, float(power), int(iterations), EPS)


def wiener(mix_spec: np.ndarray, magnitudes: np.ndarray, iterations: int = 1, power: float = 2.0) -> np.ndarray:
    """Multichannel Wiener filter (local Gaussian model with per-bin spatial covariances).

    ``mix_spec``: ``(channels, bins, frames)`` complex; ``magnitudes``: ``(sources, channels, bins, frames)``
    first estimates. Returns complex source spectrograms ``(sources, channels, bins, frames)`` that sum
    to the mixture. With ``iterations=0`` it is a plain ratio mask of ``magnitudes ** power``. Each
    iteration re-estimates each source's power spectral density and spatial covariance from the
    current estimates, then applies the Wiener gain ``v_j R_j (sum_k v_k R_k)^-1`` to the mixture.
    Stereo input takes a closed-form 2x2 path (:func:`_wiener_stereo`) with the same result.
    """
    if np.shape(mix_spec)[0] == 2 and iterations > 0:
        return _wiener_stereo(mix_spec, magnitudes, iterations, power)
    return _wiener_general(mix_spec, magnitudes, iterations, power)


def _wiener_general(mix_spec: np.ndarray, magnitudes: np.ndarray, iterations: int, power: float) -> np.ndarray:
    """:func:`wiener` for any channel count, with batched tensors (the reference for the stereo path)."""
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
