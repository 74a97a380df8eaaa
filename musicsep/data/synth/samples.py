"""Single-sample instruments from Debian's `lmms-common` and `sonic-pi-samples`.

Each instrument is one recorded note (a synth or slap bass, a pad, strings, an organ) played back
at other pitches by resampling, like a simple hardware sampler: the note is cut at its note-off with
a short release, or ends with the recording. Root pitches were measured once with pyin (median of
the voiced frames) and are written here, so nothing is estimated at run time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100
LMMS = Path("/usr/share/lmms/samples")
SONIC_PI = Path("/usr/share/sonic-pi/samples")

# name: (file, root MIDI pitch)
BASS_SAMPLES = {
    "lmms_bass_hard": (LMMS / "basses/bass_hard02.ogg", 36.11),
    "lmms_bass_acid": (LMMS / "basses/bass_acid02.ogg", 36.01),
    "lmms_slap": (LMMS / "instruments/bassslap02.ogg", 36.01),
    "lmms_matrix_pluck": (LMMS / "basses/matrix1000_pluck01.ogg", 35.91),
    "sonicpi_thick": (SONIC_PI / "bass_thick_c.flac", 35.91),
    "sonicpi_trance": (SONIC_PI / "bass_trance_c.flac", 35.96),
    "sonicpi_voxy": (SONIC_PI / "bass_voxy_c.flac", 36.01),
    "sonicpi_woodsy": (SONIC_PI / "bass_woodsy_c.flac", 36.01),
}
HOLDOUT_BASS = ("sonicpi_woodsy", "lmms_matrix_pluck")
# single notes only: several lmms "strings"/"pad" files hold whole chords or stacked fifths
# (heaven_strings, space_strings, e_organ) and would add wrong chord tones; choirs are left out
# because a choir pad in the "other" stem would teach that sung vowels are not vocals
PAD_SAMPLES = {
    "lmms_juno_pad": (LMMS / "stringsnpads/juno_pad01.ogg", 72.11),
    "lmms_strings": (LMMS / "stringsnpads/strings01.ogg", 60.01),
    "lmms_orion_strings": (LMMS / "stringsnpads/orion_string01.ogg", 60.01),
    "lmms_church_organ": (LMMS / "instruments/church_organ01.ogg", 69.01),
    "lmms_church_organ_low": (LMMS / "instruments/church_organ04.ogg", 45.01),
}
HOLDOUT_PADS = ("lmms_orion_strings",)
ALL_SAMPLES = {**BASS_SAMPLES, **PAD_SAMPLES}


def available(pool: dict) -> tuple[str, ...]:
    """The instruments of ``pool`` whose files are installed (scripts/setup.sh installs both)."""
    return tuple(name for name, (path, _) in pool.items() if path.exists())


@lru_cache(maxsize=None)
def load_sample(name: str) -> tuple[np.ndarray, float]:
    """Mono float64 recording (peak 1, leading silence trimmed) and its root pitch."""
    path, root = ALL_SAMPLES[name]
    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    if sr != SR:  # pragma: no cover - every listed file is 44.1 kHz
        x = np.interp(np.arange(0, len(x), sr / SR), np.arange(len(x)), x)
    start = int(np.argmax(np.abs(x) > 0.01 * np.abs(x).max()))
    x = x[start:]
    return x / (np.abs(x).max() + 1e-12), float(root)


def render_sampled_notes(notes, n_samples: int, name: str, release: float = 0.08,
                         fold_octaves: bool = False) -> np.ndarray:
    """Play ``(start, dur, pitch, vel)`` notes on one sample instrument; mono ``(n_samples,)``.

    ``fold_octaves``: play each note in the octave nearest the recording (within a tritone of
    its root), as a pad keeps its register instead of sounding stretched far from it.
    """
    x, root = load_sample(name)
    out = np.zeros(n_samples)
    src = np.arange(len(x), dtype=np.float64)
    for start, dur, pitch, vel in notes:
        s0 = int(round(start * SR))
        if s0 < 0 or s0 >= n_samples:
            continue
        shift = pitch - root
        if fold_octaves:
            shift -= 12 * round(shift / 12)
        ratio = 2.0 ** (shift / 12.0)  # playback speed
        length = min(int((dur + release) * SR), int((len(x) - 1) / ratio), n_samples - s0)
        if length <= 0:
            continue
        y = np.interp(np.arange(length) * ratio, src, x)
        off = int(dur * SR)
        if off < length:  # release after the note-off
            y[off:] *= np.exp(-np.arange(length - off) / (release / 4 * SR))
        fade = min(64, length)
        y[-fade:] *= np.linspace(1.0, 0.0, fade)
        out[s0:s0 + length] += (vel / 127.0) ** 1.5 * y
    return out
