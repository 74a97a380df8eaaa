"""musicsep: music source separation, from band-pass filters to a U-Net.

A stereo mixture in, four stems out (the MUSDB18 convention and order).
"""

__version__ = "0.1.0"

SOURCES: tuple[str, ...] = ("drums", "bass", "other", "vocals")
SAMPLE_RATE = 44100
