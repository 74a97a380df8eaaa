"""Datasets: MUSDB18 through the ``musdb`` package, the embedded default, and synthetic songs."""
