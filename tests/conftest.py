"""Shared fixtures: small generated songs with known stems, and a way to run the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicsep import SAMPLE_RATE, SOURCES


def make_stems(seconds: float = 3.0, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> dict[str, np.ndarray]:
    """Four simple, distinct stems: a low sine bass, noise-burst drums, a chord, a vibrato 'voice'."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    bass = 0.3 * np.sin(2 * np.pi * 55 * t)
    hits = np.zeros(n)
    hits[:: sample_rate // 4] = 1.0
    decay = np.exp(-np.arange(2000) / 200.0)
    drums = 0.5 * np.convolve(hits, decay)[:n] * rng.standard_normal(n)
    other = 0.1 * sum(np.sin(2 * np.pi * f * t) for f in (392.0, 493.9, 587.3))
    f0 = 330 * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.cumsum(np.pi * f0 / sample_rate)
    vocals = 0.15 * sum(np.sin(k * phase) / k for k in range(1, 8))
    stems = {"drums": drums, "bass": bass, "other": other, "vocals": vocals}
    pans = {"drums": (0.9, 1.0), "bass": (1.0, 1.0), "other": (1.0, 0.6), "vocals": (1.0, 1.0)}
    out = {s: np.stack([stems[s] * pans[s][0], stems[s] * pans[s][1]], axis=1) for s in SOURCES}
    gain = 0.8 / np.abs(sum(out.values())).max()  # the mixture peaks at 0.8: nothing clips
    return {s: (gain * v).astype(np.float32) for s, v in out.items()}


def melody_tracking(y: np.ndarray, notes, sr: int, fmin: float, fmax: float) -> tuple[float, float]:
    """How a sung take follows its melody notes ``(start, dur, pitch, ...)``: the share of frames on
    the notes' steady parts (after the glide in) that pyin finds voiced, and the share of those
    within a semitone of the note."""
    import librosa

    f0, voiced, _ = librosa.pyin(librosa.resample(y, orig_sr=sr, target_sr=22050), fmin=fmin, fmax=fmax, sr=22050,
                                 frame_length=2048, hop_length=256)
    t = librosa.times_like(f0, sr=22050, hop_length=256)
    target = np.full(len(t), np.nan)
    for start, dur, pitch, *_ in notes:
        target[(t >= start + 0.08) & (t < start + dur - 0.03)] = pitch
    on_notes = ~np.isnan(target)
    both = on_notes & voiced
    err = np.abs(librosa.hz_to_midi(f0[both]) - target[both])
    return float(voiced[on_notes].mean()), float((err < 1.0).mean())


def damaged_aac(path: Path, seconds: int = 30, runs: int = 1500) -> Path:
    """ADTS AAC with ``runs`` random 8-byte runs overwritten: ffmpeg writes over 64 KB of complaints."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=220:duration={seconds}",
                    "-ac", "2", "-c:a", "aac", "-f", "adts", str(path)], check=True)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(3)
    for pos in rng.integers(0, len(data) - 8, runs):
        data[pos:pos + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def write_musdb_hq(root, names=("song a",), seconds=2.0):
    """A MUSDB18-HQ test folder (wav stems) of generated songs."""
    for i, name in enumerate(names):
        folder = root / "test" / name
        folder.mkdir(parents=True)
        stems = make_stems(seconds=seconds, seed=10 + i)
        sf.write(folder / "mixture.wav", sum(stems.values()), SAMPLE_RATE, subtype="FLOAT")
        for s, v in stems.items():
            sf.write(folder / f"{s}.wav", v, SAMPLE_RATE, subtype="FLOAT")


@pytest.fixture
def stems() -> dict[str, np.ndarray]:
    return make_stems()


@pytest.fixture
def mixture(stems) -> np.ndarray:
    return sum(stems.values()).astype(np.float32)


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """Run ``musicsep`` as a user would, in a fresh process."""
    return subprocess.run([sys.executable, "-m", "musicsep.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def page_faults_by_mode(script: str, modes=("default", "keep"), runs: int = 3) -> dict[str, int]:
    """Run ``python -c script MODE`` in fresh processes, ``runs`` per mode, and give each mode's median
    count of minor page faults (the script prints it last). glibc's malloc settings are per process,
    so each mode needs its own; the median, because glibc's dynamic mmap threshold now and then lets
    a single default process reuse memory as well (seen once in CI: 8,622 faults against 43,000-69,000)."""
    counts: dict[str, list[int]] = {mode: [] for mode in modes}
    for _ in range(runs):
        for mode in modes:  # interleaved, so a busy moment of the machine hits both modes alike
            out = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, check=True)
            counts[mode].append(int(out.stdout.split()[-1]))
    return {mode: sorted(c)[len(c) // 2] for mode, c in counts.items()}


@pytest.fixture(scope="session")
def page_server(tmp_path_factory):
    """One ``streamlit run app.py`` for all the browser tests (tests/test_app_browser.py and
    tests/test_app_load.py): each server's first visit loads the default model, which is slow.

    Its ``TMPDIR`` is a folder of its own, and a closed tab's session is kept 2 s (not 120) so that
    the load tests can see it released.
    """
    from test_app_browser import streamlit_server

    with streamlit_server(tmp_path_factory.mktemp("server"), "--server.disconnectedSessionTTL", "2") as running:
        yield running
