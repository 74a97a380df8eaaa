"""Songs per minute of `musicsep separate --ray` with 1 and 2 Ray workers on this machine.

The catalog is N copies of a real-sounding song (a synthetic test song, or the MUSDB18 excerpt
when none was generated), cut to --seconds each and written as 16-bit WAV into a temporary folder.
For each worker count a local Ray is started with that many CPUs (one task per CPU, so that many
songs at once), the catalog is separated into a fresh folder and the wall time of the separation
is measured (Ray's own start-up is not counted; worker processes starting and loading the model
are). A machine with C cores cannot scale past C workers, and other load on it shows here.

    .venv/bin/python benchmarks/ray_scaling.py --songs 24 --seconds 30 --method unet --workers 1 2 \
        --json docs/ray_scaling.json --note "quiet machine"
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from musicsep.data.musdb import load_tracks
from musicsep.distributed import QUIET_LOCAL_RAY, separate_catalog


def write_catalog(folder: Path, songs: int, seconds: float, song: np.ndarray) -> list[Path]:
    n = int(seconds * 44100)
    clip = np.resize(song, (n, 2)) if len(song) < n else song[:n]  # repeated to the length if short
    paths = []
    for i in range(songs):
        path = folder / f"song{i:03d}.wav"
        sf.write(path, clip, 44100, subtype="PCM_16")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each song")
    parser.add_argument("--method", default="unet")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", metavar="FILE", help="also write the table for the README (readme_tables.py)")
    parser.add_argument("--note", default="", help="said beside the date in the JSON (e.g. quiet machine)")
    args = parser.parse_args()

    import ray

    for key, value in QUIET_LOCAL_RAY.items():
        os.environ.setdefault(key, value)
    song = load_tracks()[-1].mixture
    rows = []
    print(f"method {args.method}; {args.songs} songs of {args.seconds:.0f} s; {os.cpu_count()} cores here")
    print(f"{'workers':>8} {'wall s':>8} {'songs/min':>10} {'audio h/min':>12} {'speed-up':>9}")
    with tempfile.TemporaryDirectory(prefix="musicsep-ray-") as tmp:
        songs = write_catalog(Path(tmp), args.songs, args.seconds, song)
        for workers in args.workers:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            try:
                start = time.perf_counter()
                summary = separate_catalog(songs, Path(tmp) / f"out{workers}", {"method": args.method},
                                           num_cpus_per_task=1, progress=False)
                wall = time.perf_counter() - start
            finally:
                ray.shutdown()
            if summary.failed:
                raise SystemExit(summary.table())
            row = {"workers": workers, "wall_s": round(wall, 2), "songs_per_min": round(args.songs / wall * 60, 2),
                   "audio_hours_per_min": round(args.songs * args.seconds / 3600 / (wall / 60), 3)}
            row["speed_up"] = round(row["songs_per_min"] / rows[0]["songs_per_min"], 2) if rows else 1.0
            rows.append(row)
            print(f"{workers:>8} {wall:>8.1f} {row['songs_per_min']:>10.2f} {row['audio_hours_per_min']:>12.3f}"
                  f" {row['speed_up']:>9.2f}")
    if args.json:
        from readme_tables import write_table

        table = [[r["workers"], r["wall_s"], r["songs_per_min"], r["audio_hours_per_min"], r["speed_up"]] for r in rows]
        write_table(args.json, ["Ray workers", "wall s", "songs / min", "audio h / min", "speed-up"], table,
                    f"{args.note + ', ' if args.note else ''}{os.cpu_count()} cores, {args.songs} songs of "
                    f"{args.seconds:.0f} s, -m {args.method}, 1 CPU per task; Ray {ray.__version__}")


if __name__ == "__main__":
    main()
