"""How fast the synthetic song generator runs: songs with stems written to disk.

    .venv/bin/python benchmarks/synth_speed.py [--minutes 3] [--seconds 30] [--jobs 2] [--singer psola]

Prints the realtime factor (seconds of songs per second of wall time) and the projected wall time
for one hour of songs. The CPU time of the worker processes is printed too: on a machine shared
with other jobs, "CPU seconds / jobs" is the wall time the same work takes on idle cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from musicsep.data.synth import generate_dataset
from musicsep.arguments import SINGER_CHOICES


def children_cpu() -> float:
    """CPU seconds of finished child processes, the fork server's songs included (Linux: the server,
    not this process, reaps the workers it forks, so their time shows in its /proc entry)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r.ru_utime + r.ru_stime
    try:
        from multiprocessing import forkserver

        pid = forkserver._forkserver._forkserver_pid
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        cpu += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime
    except (OSError, AttributeError, TypeError, ValueError, IndexError):
        pass  # no fork server (spawned workers are this process's children)
    return cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=3.0, help="minutes of songs to generate")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each song")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--singer", default="mixed", choices=SINGER_CHOICES, help="as musicsep synth --singer")
    args = ap.parse_args()
    tracks = max(1, int(round(args.minutes * 60 / args.seconds)))
    audio_s = tracks * args.seconds
    out = Path(tempfile.mkdtemp(prefix="synth_speed_"))
    try:
        # warm-up (numba compilation cache, SoundFont page cache) outside the timing
        generate_dataset(out / "warm", 1, 4.0, args.seed + 1, "train", jobs=1, progress=False)
        c0 = children_cpu()
        s0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        generate_dataset(out, tracks, args.seconds, args.seed, "train", jobs=args.jobs, progress=False,
                         singer=args.singer)
        wall = time.perf_counter() - t0
        time.sleep(0.5)  # the fork server reaps its last workers
        c1 = children_cpu()
        s1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    cpu = (c1 - c0) + (s1.ru_utime + s1.ru_stime - s0.ru_utime - s0.ru_stime)
    rtf = audio_s / wall
    print(f"{tracks} songs x {args.seconds:.0f} s = {audio_s / 60:.1f} min of audio (5 files each), jobs={args.jobs}")
    print(f"wall {wall:.1f} s -> realtime factor {rtf:.1f}x -> projected {3600 / rtf / 60:.1f} min per hour of songs")
    print(f"CPU {cpu:.1f} s ({cpu / audio_s:.3f} CPU-s per audio second) -> on {args.jobs} idle cores "
          f"{cpu / audio_s * 3600 / args.jobs / 60:.1f} min per hour of songs")


if __name__ == "__main__":
    main()
