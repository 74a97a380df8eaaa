"""The ``musicsep`` command: separate, evaluate, compare, synth, train.

Bad input or usage prints one line ``error: ...`` on stderr and exits with status 2; nothing is
half-written and no input is ever overwritten.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
from pathlib import Path
from typing import Callable, Sequence

from musicsep import SAMPLE_RATE, SOURCES, __version__
from musicsep.errors import UserError
from musicsep.separators.base import METHODS, REFERENCE_METHODS

OUTPUT_BITS = {"wav": {"16": "PCM_16", "24": "PCM_24", "32": "FLOAT"}, "flac": {"16": "PCM_16", "24": "PCM_24"}}
DEFAULT_BITS = {"wav": "32", "flac": "24"}


def default_method() -> str:
    return "unet" if "unet" in METHODS else "bandpass"


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one ``error: ...`` line and status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def number(kind: type, low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite ``kind`` (int or float) in ``[low, high]`` (``(low, high]`` with
    ``low_open``), checked at parse time so a bad value is one ``error:`` line, never a traceback or a
    run that cannot end."""
    bounds = f"{'more than' if low_open else 'at least'} {low:g} and at most {high:g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if not math.isfinite(value) or value < low or value > high or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: give a number {bounds}")
        return value

    parse.__name__ = "int" if kind is int else "number"  # what argparse names in "invalid int value"
    return parse


JOBS = number(int, 1, 256)
CHUNK_SECONDS = number(float, 1.0, 3600.0)   # below 1 s the overlap-add does more than it separates
TIMING_SECONDS = number(float, 0.0, 3600.0)  # 0 skips the timing
SYNTH_SECONDS = number(float, 0.0, 3600.0, low_open=True)
COUNT = number(int, 1, 100_000)
SEED = number(int, 0, 2**32 - 1)


def _add_data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data (default: the embedded MUSDB18 excerpt + data/synth/test when generated)")
    g.add_argument("--root", help="MUSDB18 root folder (or set MUSDB_PATH)")
    g.add_argument("--is-wav", action="store_true", help="the root is MUSDB18-HQ (wav stems)")
    g.add_argument("--subset", default="test", choices=("train", "test"), help="default: test")
    g.add_argument("--tracks", nargs="+", metavar="N|NAME", help="the first N tracks, or tracks by name")
    g.add_argument("--jobs", type=JOBS, default=1, help="processes that score tracks in parallel")
    g.add_argument("--json", metavar="FILE", help="write the results as JSON")
    g.add_argument("--csv", metavar="FILE", help="write per-track results as CSV")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="musicsep", description="Split a song into drums, bass, other and vocals.")
    parser.add_argument("--version", action="version", version=f"musicsep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("separate", help="separate audio files into stems",
                       description="Separate songs into stems: OUTDIR/<file name>/{drums,bass,other,vocals}.wav")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio or video files, or folders of them")
    p.add_argument("-o", "--out", default="separated", metavar="OUTDIR", help="default: separated")
    p.add_argument("-m", "--method", default=default_method(), help=f"{' | '.join(METHODS)} (default: {default_method()})")
    p.add_argument("--two-stems", choices=SOURCES, metavar="STEM",
                   help="write only STEM and no_STEM (e.g. --two-stems vocals for karaoke)")
    p.add_argument("--format", default="wav", choices=tuple(OUTPUT_BITS), help="default: wav")
    p.add_argument("--bits", choices=("16", "24", "32"),
                   help="sample format: wav 16, 24 or 32 (float, the default, never clips); flac 16 or 24 (default)")
    p.add_argument("--overwrite", action="store_true", help="replace stems left by an earlier run")
    p.add_argument("--chunk-seconds", type=CHUNK_SECONDS,
                   help="length of the overlapping windows, 1 to 3600 (default: the method's)")
    p.set_defaults(func=cmd_separate)

    p = sub.add_parser("evaluate", help="score methods on MUSDB18 or the default tracks (museval SDR)")
    p.add_argument("-m", "--method", action="append", dest="methods", metavar="M",
                   help=f"{' | '.join(METHODS)}; repeat for several (default: {default_method()})")
    _add_data_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("compare", help="every method and the oracle on the same tracks: quality, speed, memory")
    p.add_argument("--methods", nargs="+", metavar="M", help="labels from the comparison (default: all available)")
    p.add_argument("--plot", metavar="FILE.png", help="write a bar chart of SDR per stem and method")
    p.add_argument("--timing-seconds", type=TIMING_SECONDS, default=30.0,
                   help="seconds of audio each method separates for the speed/memory figures, up to 3600 (0: skip)")
    _add_data_options(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("synth", help="generate synthetic songs with stems (MUSDB18-HQ layout)")
    p.add_argument("--out", required=True, help="root folder; songs go to OUT/<split>/<name>/")
    p.add_argument("--tracks", type=COUNT, default=10)
    p.add_argument("--seconds", type=SYNTH_SECONDS, default=30.0, help="length of each song, up to 3600")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--split", default="train", choices=("train", "valid", "test"),
                   help="valid and test draw held-out instruments and voices half the time; train never does")
    p.add_argument("--jobs", type=JOBS, default=2)
    p.set_defaults(func=cmd_synth)

    # Only listed here: main() hands everything after "train" to musicsep.train's own parser.
    sub.add_parser("train", help="train the U-Net (see musicsep train --help)", add_help=False)
    return parser


# --- separate ---------------------------------------------------------------------------------

def collect_inputs(inputs: Sequence[str]) -> list[Path]:
    """Files as given; folders expanded to the audio files directly inside them."""
    from musicsep.audio import AUDIO_EXTENSIONS

    files: list[Path] = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                raise UserError(f"no audio files in folder {path}")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise UserError(f"input not found: {path}")
    stems = [output_folder_name(f) for f in files]
    duplicate = next((s for s in stems if stems.count(s) > 1), None)
    if duplicate:
        raise UserError(f"two inputs would share the output folder {duplicate!r}; separate them in two runs")
    return files


def output_folder_name(path: Path) -> str:
    """The whole file name but its last extension: ``a.b.c.wav`` -> ``a.b.c``, ``.hidden.wav`` -> ``.hidden``."""
    name = path.name
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem.strip(".") else name  # never "" or "." or "..": always a folder of its own


def output_names(two_stems: str | None) -> list[str]:
    return [two_stems, f"no_{two_stems}"] if two_stems else list(SOURCES)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _separate_one(separator, path: Path, out_dir: Path, names: list[str], fmt: str, subtype: str,
                  chunk_seconds: float | None, overwrite: bool) -> int:
    """Stream one file through the separator into its stem files; returns clipped sample count."""
    import numpy as np
    from tqdm import tqdm

    from musicsep.audio import AudioWriter, audio_info, iter_audio_blocks
    from musicsep.inference import separate_stream

    info = audio_info(path)
    total = int(info.duration * SAMPLE_RATE) if info.duration else None
    # The folders this run creates, deepest first: removed again (if still empty) when it fails.
    created = [d for d in (out_dir, *out_dir.parents) if not d.exists()]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out_dir}: {exc.strerror or exc}") from None
    integer = subtype != "FLOAT"
    clipped = 0
    try:
        with contextlib.ExitStack() as stack:
            writers = {n: stack.enter_context(AudioWriter(out_dir / f"{n}.{fmt}", SAMPLE_RATE, 2, fmt, subtype,
                                                          overwrite=overwrite))
                       for n in names}
            bar = stack.enter_context(tqdm(total=total, unit="sample", unit_scale=True, desc=path.name,
                                           disable=None, leave=False))
            for stems in separate_stream(separator, iter_audio_blocks(path, warn=warn), SAMPLE_RATE,
                                         chunk_seconds):
                if len(names) == 2 and names[0] in stems:
                    rest = sum(v for k, v in stems.items() if k != names[0])
                    stems = {names[0]: stems[names[0]], names[1]: rest}
                for n in names:
                    block = stems[n]
                    if integer:
                        clipped += int(np.count_nonzero(np.abs(block) > 1.0))
                        block = np.clip(block, -1.0, 1.0)
                    writers[n].write(block)
                bar.update(len(next(iter(stems.values()))))
    except BaseException:
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: never removes anything but our own new folders
        raise
    return clipped


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def cmd_separate(args) -> int:
    from musicsep.audio import remove_stale_part
    from musicsep.separators.base import get_separator

    if args.method not in METHODS:
        raise UserError(f"unknown method {args.method!r}; choose from {', '.join(METHODS)}")
    fmt = args.format
    bits = args.bits or DEFAULT_BITS[fmt]
    if bits not in OUTPUT_BITS[fmt]:
        raise UserError(f"--format {fmt} cannot store --bits {bits}; choose {' or '.join(OUTPUT_BITS[fmt])}")
    subtype = OUTPUT_BITS[fmt][bits]
    files = collect_inputs(args.inputs)
    out_root = Path(args.out)
    names = output_names(args.two_stems)
    inputs = {_file_id(p): p for p in files}
    plans = []
    for path in files:
        out_dir = out_root / output_folder_name(path)
        for target in (out_dir / f"{n}.{fmt}" for n in names):
            if _file_id(target) in inputs:  # the same file, under any name (a link, ../, a hard link)
                raise UserError(f"output {target} would overwrite the input {inputs[_file_id(target)]}; choose another -o")
            if target.exists() and not args.overwrite:
                raise UserError(f"{target} already exists; use --overwrite to replace it or -o for another folder")
            remove_stale_part(target)
        plans.append((path, out_dir))
    separator = get_separator(args.method)
    for path, out_dir in plans:
        clipped = _separate_one(separator, path, out_dir, names, fmt, subtype, args.chunk_seconds, args.overwrite)
        print(f"{path} -> {out_dir}/{{{','.join(names)}}}.{fmt}")
        if clipped:
            print(f"warning: {clipped} samples beyond full scale were clipped; --bits 32 keeps them", file=sys.stderr)
    return 0


# --- evaluate / synth / train -----------------------------------------------------------------

def tracks_option(values: list[str] | None) -> int | list[str] | None:
    if not values:
        return None
    if len(values) == 1 and values[0].isdigit():
        return int(values[0])
    return values


def check_report_paths(*paths: str | None) -> None:
    """``--json`` / ``--csv`` / ``--plot`` must name a file in an existing folder: refused before
    scoring, not after an hour of it."""
    for name in filter(None, paths):
        target = Path(name)
        if target.is_dir():
            raise UserError(f"cannot write {target}: it is a folder; give a file name")
        if not target.parent.is_dir():
            raise UserError(f"cannot write {target}: folder {target.parent} does not exist")
        if not os.access(target.parent, os.W_OK):
            raise UserError(f"cannot write {target}: folder {target.parent} is not writable")


def cmd_evaluate(args) -> int:
    from musicsep.data.musdb import load_tracks
    from musicsep.evaluate import evaluate, write_report

    methods = args.methods or [default_method()]
    unknown = [m for m in methods if m not in METHODS and m not in REFERENCE_METHODS]
    if unknown:
        raise UserError(f"unknown method {unknown[0]!r}; choose from {', '.join([*METHODS, *REFERENCE_METHODS])}")
    check_report_paths(args.json, args.csv)
    tracks = load_tracks(args.root, args.is_wav, args.subset, tracks_option(args.tracks), warn=warn)
    report = evaluate(methods, tracks, jobs=args.jobs, log=lambda m: print(m, file=sys.stderr))
    print(report.table())
    write_report(report, args.json, args.csv)
    return 0


def cmd_compare(args) -> int:
    from musicsep.compare import compare, plot
    from musicsep.data.musdb import load_tracks
    from musicsep.evaluate import write_report

    check_report_paths(args.json, args.csv, args.plot)
    tracks = load_tracks(args.root, args.is_wav, args.subset, tracks_option(args.tracks), warn=warn)
    report = compare(tracks, args.methods, jobs=args.jobs, timing_seconds=args.timing_seconds,
                     log=lambda m: print(m, file=sys.stderr))
    print(report.table())
    write_report(report, args.json, args.csv)
    if args.plot:
        plot(report, args.plot)
    return 0


def cmd_synth(args) -> int:
    from musicsep.data.synth import generate_dataset

    paths = generate_dataset(Path(args.out), args.tracks, args.seconds, args.seed, args.split, jobs=args.jobs)
    print(f"wrote {len(paths)} songs to {Path(args.out) / args.split}")
    return 0


def run_train(argv: Sequence[str]) -> int:
    """``musicsep train ARGS``: musicsep.train's own parser and options, with one-line usage errors."""
    from musicsep import train

    parser = train.build_parser()
    parser.error = lambda message: parser.exit(2, f"error: {message} (see musicsep train --help)\n")
    train.train(parser.parse_args(argv))
    return 0


class Terminated(BaseException):
    """SIGTERM or SIGHUP (``kill``, ``timeout``, a closed terminal), raised wherever the program is, so
    that every cleanup (the ``.part`` files, new empty folders) runs as it does for Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _raise_terminated(signum, _frame):
    for sig in TERMINATING_SIGNALS:  # a second signal must not cut the cleanup short
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def signals_raise() -> "contextlib.AbstractContextManager[None]":
    """SIGTERM and SIGHUP raise :class:`Terminated` inside the block (only the main thread gets signals)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in TERMINATING_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def library_output_hidden():
    """C libraries (libmpg123 inside libsndfile) and the tools they start (ffprobe under musdb) write
    straight to file descriptor 2; point it at /dev/null so that our own one-line ``error:`` or
    ``warning:`` is all the terminal shows. Python's own stderr keeps the terminal."""
    try:
        python_stderr_is_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # already redirected in-process (pytest's capsys)
        python_stderr_is_fd2 = False
    sys.stderr.flush()
    saved_fd = os.dup(2)
    original = sys.stderr
    if python_stderr_is_fd2:
        sys.stderr = open(saved_fd, "w", encoding=original.encoding, errors=original.errors,
                          buffering=1, closefd=False)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved_fd, 2)
        if python_stderr_is_fd2:
            sys.stderr.close()
            sys.stderr = original
        os.close(saved_fd)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["train"]:  # its options belong to musicsep.train's parser, --help included
            return run_train(argv[1:])
        with signals_raise():
            parser = build_parser()
            args = parser.parse_args(argv)
            if not getattr(args, "func", None):
                parser.print_help()
                return 2
            with library_output_hidden():
                return args.func(args) or 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"error: stopped by {signal.Signals(exc.signum).name}; unfinished files were removed", file=sys.stderr)
        return 128 + exc.signum
    except MemoryError:
        print("error: out of memory; try a smaller --chunk-seconds", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
