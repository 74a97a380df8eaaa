"""Memory and time of `musicsep separate` on long files: 1, 10 and 60 minutes by default.

Each input is a real-sounding song (a synthetic test song, or the MUSDB18 excerpt when none was
generated) repeated to the length, as 16-bit stereo 44.1 kHz WAV. The command runs in a child
process; its peak resident memory comes from the kernel (wait4's rusage) and its wall time is
measured around it. Inputs and outputs live in a temporary folder that is removed afterwards.

    .venv/bin/python benchmarks/long_input.py --minutes 1 10 60 --method unet
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from musicsep.data.musdb import load_tracks


def make_long_file(path: Path, minutes: float, song: np.ndarray) -> None:
    total = int(minutes * 60 * 44100)
    with sf.SoundFile(path, "w", 44100, 2, "PCM_16") as f:
        written = 0
        while written < total:
            block = song[: total - written]
            f.write(block)
            written += len(block)


def run(cmd: list[str]) -> tuple[float, float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--method", default="unet")
    parser.add_argument("--json", help="also write the table here (docs/long_input.json, rendered into the README)")
    args = parser.parse_args()
    rows = []
    song = load_tracks()[-1].mixture  # the last default track: a synthetic test song when generated
    musicsep = [sys.executable, "-m", "musicsep.cli"]
    print(f"method {args.method}; input: a {len(song) / 44100:.0f} s song repeated; 16-bit stereo 44.1 kHz in and out")
    print(f"{'minutes':>8} {'wall s':>9} {'x realtime':>11} {'peak RSS MB':>12}")
    for minutes in args.minutes:
        with tempfile.TemporaryDirectory(prefix="musicsep-long-") as tmp:
            src = Path(tmp) / "long.wav"
            make_long_file(src, minutes, song)
            wall, peak, _ = run([*musicsep, "separate", str(src), "-o", str(Path(tmp) / "out"),
                                 "-m", args.method, "--bits", "16"])
            print(f"{minutes:>8g} {wall:>9.1f} {minutes * 60 / wall:>11.1f} {peak:>12.0f}", flush=True)
            rows.append([f"{minutes:g}", f"{wall:.1f}", f"{minutes * 60 / wall:.1f}", f"{peak:.0f}"])
    if args.json:
        from readme_tables import write_table

        write_table(args.json, ["minutes", "wall s", "x realtime", "peak RSS MB"], rows,
                    f"method {args.method}, a {len(song) / 44100:.0f} s song repeated")


if __name__ == "__main__":
    main()
