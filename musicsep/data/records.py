"""Real instrumental records under a synthetic voice: vocals over a real accompaniment.

Real multitrack stems cannot be had here, but real *instrumental* records can: the soundtracks that
Debian ships with free games (rock, electronic and orchestral pieces, recorded, mixed and mastered as
records are) under GPL and Creative Commons licences (:data:`PACKAGES`). Laying the vocal stem of a
synthetic song over 30 s of one of them, at the level of that song's own accompaniment, gives a song
whose true stems are known as two: ``vocals`` and ``accompaniment`` (the record; its drums, bass and
other cannot be told apart). Training learns from them which real instruments are *not* a voice
(``musicsep.train --records``: the loss compares drums + bass + other with the record), and the
held-out quarter of the records makes a probe (``benchmarks/real_backing_probe.py``).

    python -m musicsep.data.records data/synth_v6/valid data/psola_v6/valid --out data/real_backing/valid --seed 0
    python -m musicsep.data.records data/synth_v6/train data/psola_v6s3/train --out data/records_v6/train \
        --seed 1 --train

A fixed quarter of the records (by a hash of their names) is held out for valid splits and probes;
``--train`` draws only from the other three quarters. Valid songs each get a record of their own;
training songs cycle through the training records, each record at several random offsets. The first
10 s of a record (intros, fades) are never used. Same seed, same bytes. Install the records with
``apt-get install nexuiz-music warzone2100-music singularity-music hyperrogue-music asc-music
planetblupi-music-ogg ufoai-music``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.audio import read_audio
from musicsep.errors import UserError

SECONDS = 30.0
SKIP_SECONDS = 10.0
STEMS = ("accompaniment", "vocals")  # a records song's files, in the order training holds them
# (package, folder or .pk3 archive, licence as the package's copyright file gives it)
PACKAGES = [
    ("nexuiz-music", "/usr/share/games/nexuiz/data/music.pk3", "GPL-2+"),
    ("warzone2100-music", "/usr/share/games/warzone2100/music", "GPL-2+"),
    ("singularity-music", "/usr/share/games/singularity/music", "CC-BY-SA-3.0"),
    ("hyperrogue-music", "/usr/share/hyperrogue/music", "GPL-2+"),
    ("asc-music", "/usr/share/games/asc/music", "GPL-2+"),
    ("planetblupi-music-ogg", "/usr/share/planetblupi/music", "GPL-3+"),
    ("ufoai-music", "/usr/share/games/ufoai/base/0music.pk3",
     "per file: GPL-2, GPL-2+, CC-BY-3.0, CC-BY-SA-3.0 or public domain"),
]
AUDIO = (".ogg", ".opus", ".mp3", ".flac", ".wav")


@dataclass(frozen=True)
class Record:
    name: str  # package/file
    licence: str
    source: str  # a file, or "archive.pk3:member"

    def read(self, scratch: Path) -> np.ndarray:
        """The whole record, float32 stereo at 44.1 kHz."""
        path = Path(self.source)
        if ":" in self.source:
            archive, member = self.source.split(":", 1)
            path = scratch / Path(member).name
            with zipfile.ZipFile(archive) as z:
                path.write_bytes(z.read(member))
        with warnings.catch_warnings():  # a few records end a few ms before their header says
            warnings.simplefilter("ignore")
            return read_audio(path)


def held_out(name: str) -> bool:
    """A fixed quarter of the records, by a hash of the name: valid splits and probes only."""
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 4 == 0


def installed_records(held_out_only: bool) -> list[Record]:
    """The installed records of :data:`PACKAGES`, sorted: the held-out quarter or the other three."""
    found = []
    for package, where, licence in PACKAGES:
        path = Path(where)
        if path.suffix == ".pk3" and path.is_file():
            with zipfile.ZipFile(path) as z:
                members = [m for m in z.namelist() if m.lower().endswith(AUDIO)]
            found += [Record(f"{package}/{Path(m).name}", licence, f"{path}:{m}") for m in members]
        elif path.is_dir():
            found += [Record(f"{package}/{f.relative_to(path)}", licence, str(f))
                      for f in path.rglob("*") if f.suffix.lower() in AUDIO]
    return sorted((r for r in found if held_out(r.name) == held_out_only), key=lambda r: r.name)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def lay_over(vocals: np.ndarray, accompaniment_level: float, record: np.ndarray,
             rng: np.random.Generator) -> tuple[np.ndarray, int, float]:
    """30 s of ``record`` after its first 10 s, scaled to ``accompaniment_level`` (RMS) -> (backing,
    start sample, gain); ``vocals`` sets the length."""
    length = min(len(vocals), int(SECONDS * SAMPLE_RATE))
    skip = int(SKIP_SECONDS * SAMPLE_RATE)
    start = int(rng.integers(skip, len(record) - length + 1))
    backing = record[start:start + length]
    gain = accompaniment_level / max(rms(backing), 1e-9)
    return (backing * gain).astype(np.float32), start, gain


def build(vocal_splits: list[str | Path], out: str | Path, seed: int, train: bool,
          songs: int | None = None) -> list[dict]:
    """Write one song per vocal stem (``<out>/<split>-<song>/{accompaniment,vocals}.wav``, 16-bit,
    peak below 1) and ``<out>/manifest.json``; returns the manifest."""
    import soundfile as sf

    from musicsep.train import read_song_stems, song_folders

    out = Path(out)
    if any(out.resolve() == Path(split).resolve() or Path(split).resolve() in out.resolve().parents
           for split in vocal_splits):
        raise UserError(f"{out} is inside a split whose vocals it reads; write it elsewhere")
    records = installed_records(held_out_only=not train)
    vocal_songs = [song for split in vocal_splits for song in song_folders(split)][:songs]
    if not records or (not train and len(records) < len(vocal_songs)):
        raise UserError(f"{len(records)} {'training' if train else 'held-out'} records installed for "
                        f"{len(vocal_songs)} songs; install the packages named in `python -m musicsep.data.records --help`")
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(len(records)))
    out.mkdir(parents=True, exist_ok=True)
    manifest, too_short = [], set()
    min_length = int((SECONDS + SKIP_SECONDS) * SAMPLE_RATE)
    with tempfile.TemporaryDirectory() as scratch:
        for song in vocal_songs:
            stems = read_song_stems(song)
            vocals = stems["vocals"]
            level = rms(sum(stems[s] for s in SOURCES if s != "vocals"))
            while True:  # the next record long enough (training songs go round the records again)
                if not order:
                    if not train or len(too_short) == len(records):
                        raise UserError("too few records of 40 s or more")
                    order = list(rng.permutation(len(records)))
                record = records[order.pop(0)]
                if record.name in too_short:
                    continue
                audio = record.read(Path(scratch))  # decoded again each time: records are minutes long
                if len(audio) >= min_length:
                    break
                too_short.add(record.name)
            backing, start, gain = lay_over(vocals, level, audio, rng)
            vocals = vocals[: len(backing)]
            peak = max(np.abs(backing).max(), np.abs(vocals).max(), np.abs(backing + vocals).max())
            if peak > 0.99:  # 16-bit files: scale both, the song keeps its balance
                backing, vocals, gain = backing * (0.99 / peak), vocals * (0.99 / peak), gain * 0.99 / peak
            name = f"{song.parent.parent.name}-{song.name}"
            folder = out / name
            folder.mkdir(exist_ok=True)
            for stem, wave in zip(STEMS, (backing, vocals)):
                sf.write(folder / f"{stem}.wav", wave, SAMPLE_RATE, subtype="PCM_16")
            manifest.append({"song": name, "vocals_from": str(song), "record": record.name,
                             "licence": record.licence, "start_s": round(start / SAMPLE_RATE, 3),
                             "gain": round(float(gain), 4)})
            print(f"{name}: {record.name} from {start / SAMPLE_RATE:.1f} s, gain {gain:.3f}", flush=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def read_records_song(song: Path) -> np.ndarray:
    """A records song as float32 ``(2, samples, channels)``: accompaniment, vocals."""
    from musicsep.train import read_song_stems

    stems = list(read_song_stems(song, STEMS).values())
    n = min(len(a) for a in stems)
    return np.stack([a[:n] for a in stems])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m musicsep.data.records", description=__doc__.split("\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("vocals", nargs="+", help="split folders (<split>/<song>/vocals.wav ...) whose vocal stems are used")
    ap.add_argument("--out", required=True, help="the split folder to write, e.g. data/records_v6/train")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", action="store_true", help="training songs: records outside the held-out quarter")
    ap.add_argument("--songs", type=int, default=None, help="only the first N vocal stems")
    args = ap.parse_args(argv)
    try:
        build(args.vocals, args.out, args.seed, args.train, args.songs)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
