"""Training augmentations, in the manner of Demucs and Open-Unmix: small pieces that compose.

Every piece takes and returns ``(mixture, stems)`` torch tensors, ``stems`` of shape
``(batch, sources, channels, samples)`` and ``mixture`` ``(batch, channels, samples)``. Each changes
the stems and rebuilds the mixture as their sum, so ``mixture == stems.sum(1)`` holds after every
piece (the invariant the tests check). Randomness comes from a ``torch.Generator`` passed in, so a
run is reproducible from its seed.

- :class:`Shift` — crop a random window (time shift) out of slightly longer excerpts, by
  ``max_shift`` samples at most; the same offset for all stems of an example (keeps them aligned).
- :class:`FlipChannels` — swap left and right, independently per stem (Demucs).
- :class:`FlipSign` — multiply each stem by +-1, independently (Demucs).
- :class:`Scale` — random gain per stem, uniform in ``[low, high]`` (Open-Unmix).
- :class:`Remix` — shuffle each source across the batch, so stems from different songs meet (Demucs).
- :class:`RandomEQ` — a random smooth equaliser per stem (timbre variety the synthetic songs lack:
  brighter or darker basses, thinner or fuller voices than the renderer's).
- :class:`Repitch` — play each stem a little faster or slower (pitch and tempo together, up to
  +-``max_semitones``), independently per stem (Demucs): other drum tunings, voices and registers.
  It shortens the excerpt by the largest speed factor, so it goes first and gets longer input.
- :class:`Saturate`, :class:`Reverb`, :class:`Chorus`, :class:`Width` — the effects a mix engineer
  puts on a stem (drive, a room or plate, a doubled or chorused copy, a wider or narrower stereo
  image), drawn per stem, so that no effect is a cue that only one source carries.
  :func:`stem_effects` bundles them (``--effects-proba``).
- :class:`Compose` — apply pieces in order.
- :class:`LossyCodec` — a crude perceptual coder on the **mixture only** (band-wise quantisation
  noise, spectral holes, a low-pass), so the network meets the damage of the mp3 and AAC files users
  bring while learning the clean stems. It is the one piece after which ``mixture != stems.sum(1)``,
  so it runs last, apart from the others.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from scipy.fft import next_fast_len

Pair = tuple[torch.Tensor, torch.Tensor]


def mix(stems: torch.Tensor) -> torch.Tensor:
    """``(batch, sources, channels, samples)`` -> the mixture ``(batch, channels, samples)``."""
    return stems.sum(dim=1)


class Augmentation:
    """Base class: subclasses implement :meth:`stems`; ``__call__`` rebuilds the mixture."""

    def stems(self, stems: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, mixture: torch.Tensor, stems: torch.Tensor,
                 generator: torch.Generator | None = None) -> Pair:
        stems = self.stems(stems, generator)
        return mix(stems), stems

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def _rand(shape: Sequence[int], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(tuple(shape), generator=generator).to(like.device)


class Shift(Augmentation):
    """Random crop of ``samples - max_shift`` samples (the input is ``max_shift`` longer than needed)."""

    def __init__(self, max_shift: int):
        self.max_shift = int(max_shift)

    def stems(self, stems, generator=None):
        if self.max_shift <= 0:
            return stems
        length = stems.shape[-1] - self.max_shift
        offsets = torch.randint(0, self.max_shift + 1, (stems.shape[0],), generator=generator).tolist()
        return torch.stack([s[..., o:o + length] for s, o in zip(stems, offsets)])


class FlipChannels(Augmentation):
    """Swap the two channels of each stem with probability ``proba`` (stereo only)."""

    def __init__(self, proba: float = 0.5):
        self.proba = float(proba)

    def stems(self, stems, generator=None):
        if stems.shape[2] != 2:
            return stems
        flip = (_rand(stems.shape[:2], generator, stems) < self.proba)[..., None, None]
        return torch.where(flip, stems.flip(2), stems)


class FlipSign(Augmentation):
    """Negate each stem with probability ``proba``."""

    def __init__(self, proba: float = 0.5):
        self.proba = float(proba)

    def stems(self, stems, generator=None):
        sign = torch.where(_rand(stems.shape[:2], generator, stems) < self.proba, -1.0, 1.0)
        return stems * sign[..., None, None].to(stems.dtype)


class Scale(Augmentation):
    """Multiply each stem by a gain drawn uniformly from ``[low, high]``."""

    def __init__(self, low: float = 0.25, high: float = 1.25):
        self.low, self.high = float(low), float(high)

    def stems(self, stems, generator=None):
        gain = self.low + (self.high - self.low) * _rand(stems.shape[:2], generator, stems)
        return stems * gain[..., None, None].to(stems.dtype)


class Remix(Augmentation):
    """With probability ``proba`` per batch, give each source its own permutation of the batch."""

    def __init__(self, proba: float = 1.0):
        self.proba = float(proba)

    def stems(self, stems, generator=None):
        batch, sources = stems.shape[:2]
        if batch < 2 or float(torch.rand((), generator=generator)) >= self.proba:
            return stems
        out = torch.empty_like(stems)
        for j in range(sources):
            out[:, j] = stems[torch.randperm(batch, generator=generator).to(stems.device), j]
        return out


class RandomEQ(Augmentation):
    """With probability ``proba`` per stem, a smooth random equaliser: gains drawn uniformly in
    ``[-max_db, max_db]`` at ``points`` log-spaced frequencies (30 Hz to 16 kHz), linear in dB between
    them, applied by one FFT over the excerpt (its impulse response is short, so the wrap-around is
    negligible)."""

    def __init__(self, max_db: float = 9.0, points: int = 6, proba: float = 0.7, sample_rate: int = 44100):
        self.max_db, self.points, self.proba, self.sample_rate = float(max_db), int(points), float(proba), int(sample_rate)

    def stems(self, stems, generator=None):
        batch, sources, _, n = stems.shape
        freqs = torch.fft.rfftfreq(n, 1.0 / self.sample_rate).to(stems.device)
        lo, hi = math.log(30.0), math.log(16000.0)
        position = ((freqs.clamp(min=1.0).log() - lo) / (hi - lo)).clamp(0, 1) * (self.points - 1)
        left = position.floor().long().clamp(max=self.points - 2)
        frac = position - left
        db = (2 * _rand((batch, sources, self.points), generator, stems) - 1) * self.max_db
        db = db * (_rand((batch, sources, 1), generator, stems) < self.proba)
        curve = db[..., left] * (1 - frac) + db[..., left + 1] * frac  # (batch, sources, bins)
        spectrum = torch.fft.rfft(stems.float(), dim=-1) * (10 ** (curve / 20))[:, :, None, :]
        return torch.fft.irfft(spectrum, n=n, dim=-1).to(stems.dtype)


class Repitch(Augmentation):
    """With probability ``proba`` per stem, resample it by a speed factor ``2 ** (k / 12)``, ``k``
    uniform in ``[-max_semitones, max_semitones]``, by truncating or zero-padding its spectrum (band
    limited: no aliasing). Every stem is cropped to ``output_length(n)`` samples from the start, so
    stems left alone stay aligned with each other."""

    def __init__(self, max_semitones: float = 2.0, proba: float = 0.5):
        self.max_semitones, self.proba = float(max_semitones), float(proba)

    @property
    def max_speed(self) -> float:
        return 2.0 ** (self.max_semitones / 12.0)

    def output_length(self, n: int) -> int:
        """Samples left of an ``n``-sample input (the faster a stem plays, the fewer it yields)."""
        return int(n / self.max_speed)

    def input_length(self, n: int) -> int:
        """Input samples needed for exactly ``n`` output samples."""
        return math.ceil(n * self.max_speed)

    def stems(self, stems, generator=None):
        batch, sources, _, n = stems.shape
        out = stems[..., : self.output_length(n)].clone()
        if self.max_semitones <= 0:
            return out
        chosen = _rand((batch, sources), generator, stems) < self.proba
        semitones = (2 * _rand((batch, sources), generator, stems) - 1) * self.max_semitones
        padded = next_fast_len(n, real=True)  # zero-padded FFT sizes: any length stays fast
        for b, j in chosen.nonzero().tolist():
            speed = 2.0 ** (float(semitones[b, j]) / 12.0)
            length = next_fast_len(int(padded / speed), real=True)  # within 0.1 % of padded / speed
            spectrum = torch.fft.rfft(stems[b, j].float(), n=padded, dim=-1)[..., : length // 2 + 1]
            resampled = torch.fft.irfft(spectrum, n=length, dim=-1) * (length / padded)  # zero-pads if longer
            out[b, j] = resampled[..., : out.shape[-1]].to(stems.dtype)
        return out


def _chosen(stems: torch.Tensor, proba: float, generator: torch.Generator | None) -> list[tuple[int, int]]:
    """The (example, source) pairs an effect with probability ``proba`` per stem applies to."""
    return (_rand(stems.shape[:2], generator, stems) < proba).nonzero().tolist()


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


class Saturate(Augmentation):
    """With probability ``proba`` per stem, soft clipping: ``peak * tanh(g x / peak) / tanh(g)`` with a
    drive ``g`` of 0 to ``max_db`` dB (tape, tube or pedal drive: new harmonics, flatter peaks), the
    stem's peak kept."""

    def __init__(self, max_db: float = 24.0, proba: float = 0.3):
        self.max_db, self.proba = float(max_db), float(proba)

    def stems(self, stems, generator=None):
        out = stems.clone()
        for b, j in _chosen(stems, self.proba, generator):
            gain = 10 ** (_uniform(0.0, self.max_db, generator) / 20)
            peak = stems[b, j].abs().max().clamp_min(1e-6)
            out[b, j] = peak * torch.tanh(gain * stems[b, j] / peak) / math.tanh(gain)
        return out


class Reverb(Augmentation):
    """With probability ``proba`` per stem, a room or plate: the stem convolved with decaying noise,
    independent per channel (a diffuse, wide tail), ``rt60`` seconds to fall by 60 dB, high
    frequencies dying faster, after a pre-delay of up to 30 ms, mixed at ``wet_db`` under the dry
    signal's energy. The tail is cut at the excerpt's end (FFT convolution, zero-padded)."""

    def __init__(self, rt60: tuple[float, float] = (0.2, 2.0), wet_db: tuple[float, float] = (-18.0, -4.0),
                 proba: float = 0.3, sample_rate: int = 44100):
        self.rt60, self.wet_db, self.proba, self.sample_rate = tuple(rt60), tuple(wet_db), float(proba), int(sample_rate)

    def impulse(self, channels: int, generator: torch.Generator | None) -> torch.Tensor:
        """``(channels, samples)`` unit-energy impulse response."""
        rt60 = _uniform(*self.rt60, generator)
        n = int(rt60 * self.sample_rate)
        t = torch.arange(n) / self.sample_rate
        noise = torch.randn(channels, n, generator=generator) * 10 ** (-3 * t / rt60)
        # highs die first: blend over the tail towards a copy smoothed by an 8-sample moving average
        smooth = torch.cumsum(noise, dim=-1)
        smooth = (smooth - torch.nn.functional.pad(smooth, (8, 0))[..., :n]) / 8
        blend = (t / rt60).clamp(max=1.0)
        ir = noise * (1 - blend) + smooth * blend
        delay = int(_uniform(0.0, 0.03, generator) * self.sample_rate)
        ir = torch.nn.functional.pad(ir, (delay, 0))
        return ir / ir.square().sum(-1, keepdim=True).sqrt().clamp_min(1e-9)

    def stems(self, stems, generator=None):
        out = stems.clone()
        n = stems.shape[-1]
        for b, j in _chosen(stems, self.proba, generator):
            ir = self.impulse(stems.shape[2], generator)
            size = next_fast_len(n + ir.shape[-1], real=True)
            wet = torch.fft.irfft(torch.fft.rfft(stems[b, j].float(), size) * torch.fft.rfft(ir, size), size)[..., :n]
            dry_energy = stems[b, j].float().square().sum()
            wet = wet * (dry_energy / wet.square().sum().clamp_min(1e-12)).sqrt()
            out[b, j] = (stems[b, j] + wet * 10 ** (_uniform(*self.wet_db, generator) / 20)).to(stems.dtype)
        return out


class Chorus(Augmentation):
    """With probability ``proba`` per stem, a second copy through a slowly swept delay (8-25 ms,
    swept by up to 3 ms at 0.1-1.5 Hz, in opposite phase on the two channels), mixed at -9 to 0 dB:
    chorus, flanger-like sweeps and the smear of a double-tracked part."""

    def __init__(self, proba: float = 0.2, sample_rate: int = 44100):
        self.proba, self.sample_rate = float(proba), int(sample_rate)

    def stems(self, stems, generator=None):
        out = stems.clone()
        channels, n = stems.shape[2:]
        t = torch.arange(n) / self.sample_rate
        for b, j in _chosen(stems, self.proba, generator):
            base, depth = _uniform(0.008, 0.025, generator), _uniform(0.0005, 0.003, generator)
            rate, phase = _uniform(0.1, 1.5, generator), _uniform(0.0, 2 * math.pi, generator)
            sign = torch.tensor([1.0, -1.0][:channels]) if channels == 2 else torch.ones(channels)
            delay = (base + depth * torch.sin(2 * math.pi * rate * t + phase * sign[:, None])) * self.sample_rate
            position = (torch.arange(n) - delay).clamp(0, n - 1)  # (channels, n): where each output sample reads
            left = position.floor().long().clamp(max=n - 2)
            frac = position - left
            x = stems[b, j].float()
            copy = x.gather(-1, left) * (1 - frac) + x.gather(-1, left + 1) * frac
            out[b, j] = (x + copy * 10 ** (_uniform(-9.0, 0.0, generator) / 20)).to(stems.dtype)
        return out


class Width(Augmentation):
    """With probability ``proba`` per stem, the side signal ``(L - R) / 2`` scaled by 0 to ``max_width``
    (0: mono in the centre, 1: unchanged, above 1: wider), the mid kept (stereo only)."""

    def __init__(self, max_width: float = 1.6, proba: float = 0.3):
        self.max_width, self.proba = float(max_width), float(proba)

    def stems(self, stems, generator=None):
        if stems.shape[2] != 2:
            return stems
        width = self.max_width * _rand(stems.shape[:2], generator, stems)
        width = torch.where(_rand(stems.shape[:2], generator, stems) < self.proba, width, torch.ones_like(width))
        mid, side = (stems[:, :, 0] + stems[:, :, 1]) / 2, (stems[:, :, 0] - stems[:, :, 1]) / 2
        side = side * width[..., None].to(stems.dtype)
        return torch.stack([mid + side, mid - side], dim=2)


def stem_effects(proba: float) -> list[Augmentation]:
    """Drive, reverb, chorus and stereo width, each on a share ``proba`` of the stems (none for 0)."""
    if proba <= 0:
        return []
    return [Saturate(24.0, proba), Chorus(proba * 2 / 3), Reverb(proba=proba), Width(1.6, proba)]


class Compose(Augmentation):
    """Apply ``pieces`` in order."""

    def __init__(self, pieces: Sequence[Augmentation]):
        self.pieces = list(pieces)

    def stems(self, stems, generator=None):
        for piece in self.pieces:
            stems = piece.stems(stems, generator)
        return stems


class LossyCodec:
    """With probability ``proba`` per example, code the mixture the way a perceptual coder does, in
    the STFT domain (2048 / 512, Hann): per frame and critical-ish band (25 bands) a noise level below
    the band's mean power, ``smr_db`` (drawn per example: lower is a lower bitrate) near 1-2 kHz and
    less above, by the tilt of real coders (``TILT_DB``); bins under it become spectral holes (zero),
    the others get complex noise of that power; with probability ``lowpass_proba`` everything above a
    cutoff drawn from ``cutoff_hz`` is removed (mp3 and AAC encoders low-pass at 15-20 kHz below 256
    kb/s). The stems are left clean: the target is the song, not the codec's version of it."""

    EDGES_HZ = (0, 100, 200, 300, 400, 510, 630, 770, 920, 1080, 1270, 1480, 1720, 2000, 2320, 2700,
                3150, 3700, 4400, 5300, 6400, 7700, 9500, 12000, 15500, 22051)
    # the signal-to-noise ratio of ffmpeg's aac and mp3 at 128 kb/s per band, relative to the 1-2 kHz
    # band's, on training songs (mixtures of synth_v6/train): coders spend their bits low, the highs
    # get little (at 256 kb/s the curve is ~9 dB higher, of the same shape)
    TILT_HZ = (100, 350, 700, 1400, 2800, 5600, 10000, 14000, 19000)
    TILT_DB = (5.4, 4.7, 3.2, 0.0, -2.4, -7.6, -13.0, -15.0, -18.5)

    def __init__(self, proba: float = 0.5, smr_db: tuple[float, float] = (11.0, 29.0),
                 cutoff_hz: tuple[float, float] = (15000.0, 20000.0), lowpass_proba: float = 0.7,
                 n_fft: int = 2048, sample_rate: int = 44100):
        self.proba, self.smr_db, self.cutoff_hz = float(proba), tuple(smr_db), tuple(cutoff_hz)
        self.lowpass_proba, self.n_fft, self.sample_rate = float(lowpass_proba), int(n_fft), int(sample_rate)
        edges = np.asarray(self.EDGES_HZ, dtype=np.float64)
        centres = np.maximum((edges[:-1] + edges[1:]) / 2, 50.0)
        self.band_tilt_db = torch.from_numpy(np.interp(np.log(centres), np.log(self.TILT_HZ), self.TILT_DB))

    def __repr__(self) -> str:
        # The tilt is printed too: the checkpoint's record must tell the flat coder from the tilted one.
        tilt = ", ".join(f"{hz} Hz {db:+.1f}" for hz, db in zip(self.TILT_HZ, self.TILT_DB))
        return (f"LossyCodec(proba={self.proba}, smr_db={self.smr_db}, cutoff_hz={self.cutoff_hz}, "
                f"lowpass_proba={self.lowpass_proba}, tilt_db=[{tilt}])")

    def __call__(self, mixture: torch.Tensor, stems: torch.Tensor,
                 generator: torch.Generator | None = None) -> Pair:
        chosen = (_rand((mixture.shape[0],), generator, mixture) < self.proba).nonzero().flatten()
        if self.proba <= 0 or len(chosen) == 0:
            return mixture, stems
        coded = mixture.clone()
        coded[chosen] = self.code(mixture[chosen], generator)
        return coded, stems

    def quantise(self, spec: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The coder on an STFT ``(batch, channels, n_fft // 2 + 1, frames)``: holes, noise, low-pass."""
        batch, channels = spec.shape[:2]
        freqs = torch.fft.rfftfreq(self.n_fft, 1.0 / self.sample_rate).to(spec.device)
        band = torch.bucketize(freqs, torch.tensor(self.EDGES_HZ[1:-1], device=spec.device), right=True)
        bands = len(self.EDGES_HZ) - 1
        power = spec.abs().square()
        band_power = torch.zeros(batch, channels, bands, power.shape[-1], device=spec.device)
        band_power.index_add_(2, band, power)
        band_power = band_power / torch.bincount(band, minlength=bands).clamp_min(1)[:, None].to(power)
        low, high = self.smr_db
        smr = low + (high - low) * _rand((batch, 1, 1, 1), generator, power)
        smr = smr + self.band_tilt_db.to(power)[band][:, None]  # (B, 1, F, 1)
        noise_power = band_power[:, :, band] * 10 ** (-smr / 10)  # (B, C, F, T)
        noise = torch.complex(torch.randn(spec.shape, generator=generator), torch.randn(spec.shape, generator=generator))
        coded = torch.where(power < noise_power, torch.zeros_like(spec),
                            spec + noise.to(spec.device) * (noise_power / 2).sqrt())
        cut_low, cut_high = self.cutoff_hz
        cutoff = cut_low + (cut_high - cut_low) * _rand((batch,), generator, power)
        cutoff = torch.where(_rand((batch,), generator, power) < self.lowpass_proba, cutoff, float("inf"))
        return coded * (freqs[None, :] < cutoff[:, None])[:, None, :, None]

    def code(self, audio: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(batch, channels, samples)`` -> the same through the simulated coder."""
        batch, channels, n = audio.shape
        hop, window = self.n_fft // 4, torch.hann_window(self.n_fft, device=audio.device)
        spec = torch.stft(audio.reshape(-1, n).float(), self.n_fft, hop, window=window, return_complex=True)
        coded = self.quantise(spec.reshape(batch, channels, *spec.shape[-2:]), generator)
        out = torch.istft(coded.reshape(-1, *coded.shape[-2:]), self.n_fft, hop, window=window, length=n)
        return out.reshape(batch, channels, n).to(audio.dtype)


def default_augmentation(max_shift: int, remix_proba: float = 0.5, eq_db: float = 9.0,
                         repitch_semitones: float = 0.0, repitch_proba: float = 0.5,
                         effects_proba: float = 0.0) -> Compose:
    """The training default: repitch (``repitch_semitones`` = 0 leaves it out), shift, channel flip,
    sign flip, the stem effects of :func:`stem_effects` (``effects_proba`` = 0, the default, leaves them
    out), random EQ (``eq_db`` = 0 turns it off), gain in [0.25, 1.25], remix. The input must be
    :func:`input_length` samples long."""
    pitch = [Repitch(repitch_semitones, repitch_proba)] if repitch_semitones > 0 else []
    eq = [RandomEQ(eq_db)] if eq_db > 0 else []
    return Compose([*pitch, Shift(max_shift), FlipChannels(0.5), FlipSign(0.5), *stem_effects(effects_proba),
                    *eq, Scale(0.25, 1.25), Remix(remix_proba)])


def input_length(augment: Compose | None, output: int) -> int:
    """Samples a training excerpt needs so that ``augment`` leaves ``output`` samples."""
    if augment is None:
        return output
    for piece in reversed(augment.pieces):
        if isinstance(piece, Shift):
            output += piece.max_shift
        elif isinstance(piece, Repitch):
            output = piece.input_length(output)
    return output
