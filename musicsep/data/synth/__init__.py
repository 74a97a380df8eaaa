"""Synthetic multitrack songs with true stems (drums, bass, other, vocals) in MUSDB18-HQ layout.

``generate_dataset(out_dir, tracks, seconds, seed, split, jobs=2, progress=True)`` writes
``out_dir/<split>/<track>/{mixture,drums,bass,other,vocals}.wav``; see :mod:`.dataset`.
Modules: :mod:`.song` (key, tempo, chords, structure), :mod:`.drums` (+ :mod:`.sampled_drums`), :mod:`.bass`, :mod:`.other`,
:mod:`.vocals` (+ :mod:`.voice_dsp`), :mod:`.synthlib` (own synth engines), :mod:`.fluid`
(SoundFont rendering), :mod:`.mix` (effects and balance), :mod:`.render` (one song).
"""

from .dataset import generate_dataset, track_name, track_seed

__all__ = ["generate_dataset", "track_name", "track_seed"]
