"""MUSDB18 / MUSDB18-HQ tracks through the ``musdb`` package, and the embedded default tracks.

Without a root, the default tracks are the real MUSDB18 test excerpt that ships inside ``stempeg``
("The Easton Ellises - Falcon 69", 6 s) plus the synthetic test songs in ``data/synth/test`` when
they exist (``musicsep synth``; the folder can be moved with ``MUSICSEP_SYNTH_DIR``). Tracks load
lazily, one at a time, so a whole MUSDB18 subset never sits in memory. The network is never used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.errors import UserError

EXCERPT_NAME = "The Easton Ellises - Falcon 69"
STEM_FILES = ("mixture",) + SOURCES


def synth_dir() -> Path:
    return Path(os.environ.get("MUSICSEP_SYNTH_DIR", "data/synth"))


@dataclass
class Track:
    """One song with its true stems; audio is loaded on first access."""

    name: str
    _load: Callable[[], tuple[np.ndarray, dict[str, np.ndarray]]] = field(repr=False)
    rate: int = SAMPLE_RATE
    _cache: tuple[np.ndarray, dict[str, np.ndarray]] | None = field(default=None, repr=False)

    def _loaded(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if self._cache is None:
            self._cache = self._load()
        return self._cache

    @property
    def mixture(self) -> np.ndarray:
        """float32 ``(samples, 2)``."""
        return self._loaded()[0]

    @property
    def targets(self) -> dict[str, np.ndarray]:
        """``{source: float32 (samples, 2)}`` in :data:`musicsep.SOURCES` order."""
        return self._loaded()[1]

    def unload(self) -> None:
        self._cache = None


def iter_examples(tracks: Sequence[Track]) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """``(mixture, targets)`` of each track in turn, unloading each after use: training on many
    songs holds one in memory at a time."""
    for track in tracks:
        yield track.mixture, track.targets
        track.unload()


def _excerpt_track() -> Track:
    def load():
        import stempeg

        stems, rate = stempeg.read_stems(stempeg.example_stem_path())
        if rate != SAMPLE_RATE:
            raise UserError(f"the embedded excerpt has an unexpected sample rate {rate}")
        stems = stems.astype(np.float32)
        # Stream order in MUSDB18 stem files: mixture, drums, bass, other, vocals.
        return stems[0], dict(zip(SOURCES, stems[1:]))

    return Track(EXCERPT_NAME, load)


def consistent_stems(name: str, mixture: np.ndarray, targets: dict[str, np.ndarray],
                     warn: Callable[[str], None] | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A track's mixture and stems as float32 stereo of one length: mono (or surround) is turned into
    stereo as :func:`musicsep.audio.to_stereo` does, and stems of different lengths are trimmed to the
    shortest (as MUSDB's own tools do), with a warning."""
    from musicsep.audio import to_stereo

    def stereo(audio: np.ndarray) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32)
        return to_stereo(audio.reshape(len(audio), -1))

    mixture = stereo(mixture)
    targets = {s: stereo(a) for s, a in targets.items()}
    lengths = {"mixture": len(mixture), **{s: len(a) for s, a in targets.items()}}
    shortest = min(lengths.values())
    if shortest == 0:
        empty = next(k for k, n in lengths.items() if n == 0)
        raise UserError(f"track {name!r}: {empty} has no samples")
    if max(lengths.values()) != shortest:
        if warn:
            longest = max(lengths, key=lengths.get)
            warn(f"track {name!r}: stems differ in length ({min(lengths, key=lengths.get)} {shortest} samples, "
                 f"{longest} {lengths[longest]}); all trimmed to {shortest}")
        mixture = mixture[:shortest]
        targets = {s: a[:shortest] for s, a in targets.items()}
    return mixture, targets


def _musdb_tracks(root: Path, is_wav: bool, subset: str, warn: Callable[[str], None] | None = None) -> list[Track]:
    if not root.is_dir():
        raise UserError(f"--root {root}: no such folder")
    if not (root / subset).is_dir():
        raise UserError(f"--root {root}: no '{subset}' folder inside (choose another --subset, or a MUSDB18 root)")
    import musdb

    try:
        db = musdb.DB(root=str(root), is_wav=is_wav, subsets=subset, download=False)
    except Exception as exc:  # musdb raises bare Exceptions for layout problems
        raise UserError(f"--root {root}: not a MUSDB18 folder ({exc})") from None
    if not db.tracks:
        kind = "track folders with mixture.wav (is --is-wav right?)" if is_wav else ".stem.mp4 files (add --is-wav for MUSDB18-HQ)"
        raise UserError(f"--root {root}: no {kind} in {root / subset}")

    def loader(mtrack):
        def load():
            try:
                mix = mtrack.audio
                targets = {s: mtrack.targets[s].audio for s in SOURCES}
            except Exception as exc:  # musdb/stempeg: many kinds, multi-line messages with ffprobe's banner
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise UserError(f"track {mtrack.name!r} in --root {root} cannot be read: {detail}") from None
            if mtrack.rate != SAMPLE_RATE:
                raise UserError(f"track {mtrack.name!r}: sample rate {mtrack.rate}, expected {SAMPLE_RATE}")
            return consistent_stems(mtrack.name, mix, targets, warn)
        return load

    for mtrack in db.tracks:
        if is_wav:
            folder = Path(mtrack.path) if Path(mtrack.path).is_dir() else Path(mtrack.path).parent  # musdb gives mixture.wav
            missing = [s for s in STEM_FILES if not (folder / f"{s}.wav").is_file()]
            if missing:
                raise UserError(f"--root {root}: track {mtrack.name!r} lacks {', '.join(m + '.wav' for m in missing)}")
    return [Track(t.name, loader(t)) for t in db.tracks]


def select_tracks(tracks: list[Track], select: int | Sequence[str] | None) -> list[Track]:
    """All tracks, the first N, or the named ones (an unknown name is an error)."""
    if select is None:
        return tracks
    if isinstance(select, int):
        if select < 1:
            raise UserError("--tracks must be at least 1")
        return tracks[:select]
    by_name = {t.name: t for t in tracks}
    unknown = [n for n in select if n not in by_name]
    if unknown:
        raise UserError(f"--tracks: no track named {unknown[0]!r}")
    return [by_name[n] for n in select]


def load_tracks(root: str | os.PathLike | None = None, is_wav: bool = False, subset: str = "test",
                select: int | Sequence[str] | None = None, include_synthetic: bool = True,
                warn: Callable[[str], None] | None = None) -> list[Track]:
    """Tracks of a MUSDB18 root (``root`` or ``$MUSDB_PATH``), or the embedded default.

    The default is the stempeg excerpt plus the synthetic songs of ``subset`` when generated.
    ``warn(message)`` hears about tracks that needed fixing (stems of different lengths).
    """
    if subset not in ("train", "test"):
        raise UserError(f"--subset must be train or test, not {subset!r}")
    root = root or os.environ.get("MUSDB_PATH") or None
    if root is not None:
        return select_tracks(_musdb_tracks(Path(root), is_wav, subset, warn), select)
    tracks = [_excerpt_track()] if subset == "test" else []
    synth = synth_dir()
    if include_synthetic and (synth / subset).is_dir() and any((synth / subset).iterdir()):
        tracks += _musdb_tracks(synth, True, subset, warn)
    if not tracks:
        raise UserError(f"no default {subset} tracks: generate them with `musicsep synth --split {subset}` or give --root")
    return select_tracks(tracks, select)
