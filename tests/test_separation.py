"""Stage 1 and the chunked inference every separator goes through."""

import numpy as np
import pytest

from musicsep import SOURCES
from musicsep.evaluate import global_sdr
from musicsep.inference import separate, separate_stream
from musicsep.separators import get_separator
from musicsep.separators.bandpass import BandpassSeparator
from musicsep.separators.base import BaseSeparator
from musicsep.errors import UserError


def test_bandpass_shapes_dtype_and_exact_sum(mixture):
    stems = BandpassSeparator().separate(mixture, 44100)
    assert list(stems) == list(SOURCES)
    for v in stems.values():
        assert v.shape == mixture.shape and v.dtype == np.float32
    assert np.allclose(sum(stems.values()), mixture, atol=1e-6)


def band_stems(seconds: float = 2.0, sr: int = 44100) -> dict[str, np.ndarray]:
    """One stem per band the filters know: hiss bursts above 6 kHz, a 60 Hz sine, an 800 Hz tone in
    the middle of the stereo image and one in its sides (L = -R), which only the residual keeps."""
    from scipy import signal

    t = np.arange(int(seconds * sr)) / sr
    both = lambda x: np.stack([x, x], axis=1)  # noqa: E731
    bursts = np.exp(-(t % 0.25) / 0.02) * np.random.default_rng(0).standard_normal(len(t))
    hiss = signal.sosfiltfilt(signal.butter(8, 6000, "highpass", fs=sr, output="sos"), 0.3 * bursts)
    side = 0.2 * np.sin(2 * np.pi * 800 * t)
    return {"drums": both(hiss), "bass": both(0.3 * np.sin(2 * np.pi * 60 * t)),
            "other": np.stack([side, -side], axis=1), "vocals": both(0.2 * np.sin(2 * np.pi * 800 * t + 1))}


def test_bandpass_routes_bands_to_their_stems():
    stems = band_stems()
    mixture = sum(stems.values())
    out = BandpassSeparator().separate(mixture, 44100)
    for s in SOURCES:  # measured: drums 16, bass 28, other 31, vocals 35 dB
        assert global_sdr(stems[s], out[s]) > 12, s


@pytest.mark.parametrize("n", [1, 7, 100])
def test_bandpass_tiny_inputs(n):
    x = np.full((n, 2), 0.1, np.float32)
    out = BandpassSeparator().separate(x, 44100)
    assert all(v.shape == (n, 2) and np.isfinite(v).all() for v in out.values())


def test_silence_gives_silent_stems():
    out = BandpassSeparator().separate(np.zeros((44100, 2), np.float32), 44100)
    assert all(np.array_equal(v, np.zeros_like(v)) for v in out.values())


class Scale(BaseSeparator):
    """A separator whose output is known exactly: stem k = weight_k * input."""

    sources = ("a", "b")

    def separate(self, x, sr):
        return {"a": 0.25 * x, "b": 0.75 * x}


@pytest.mark.parametrize("chunk", [0.05, 0.13, 0.5, 5.0])
def test_chunked_cross_fade_is_exact_for_linear_separators(chunk):
    x = np.random.default_rng(0).standard_normal((4321, 2)).astype(np.float32)
    out = separate(Scale(), x, 1000, chunk_seconds=chunk, overlap_seconds=0.02)
    assert np.allclose(out["a"], 0.25 * x, atol=1e-6) and np.allclose(out["b"], 0.75 * x, atol=1e-6)


def test_stream_of_uneven_blocks_equals_array():
    x = np.random.default_rng(0).standard_normal((5000, 2)).astype(np.float32)
    blocks = [x[i:i + 333] for i in range(0, len(x), 333)]
    parts = list(separate_stream(Scale(), blocks, 1000, chunk_seconds=0.4, overlap_seconds=0.05))
    joined = np.concatenate([p["a"] for p in parts])
    assert joined.shape == x.shape and np.allclose(joined, 0.25 * x, atol=1e-6)


def test_chunked_bandpass_close_to_whole(mixture):
    sep = BandpassSeparator()
    whole = sep.separate(mixture, 44100)
    chunked = separate(sep, mixture, 44100, chunk_seconds=1.0, overlap_seconds=0.25)
    for s in SOURCES:
        assert global_sdr(whole[s], chunked[s]) > 20


def test_unknown_method():
    with pytest.raises(UserError, match="unknown method"):
        get_separator("nope")
