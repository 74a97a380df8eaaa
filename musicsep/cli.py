"""The ``musicsep`` command: separate, evaluate, compare, synth, train, export, web.

Bad input or usage prints one line ``error: ...`` on stderr and exits with status 2; nothing is
half-written and no input is ever overwritten.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Sequence

from musicsep import SOURCES, __version__
from musicsep.api import OUTPUT_BITS, default_method, output_folder_name
from musicsep.arguments import (CHUNK_SECONDS, COUNT, JOBS, SEED, SINGER_CHOICES, SYNTH_SECONDS, TIMING_SECONDS,
                                WIENER_ITERATIONS, Parser, add_data_options, tracks_option)
from musicsep.errors import UserError
from musicsep.separators.base import METHODS, REFERENCE_METHODS


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="musicsep", description="Split a song into drums, bass, other and vocals.")
    parser.add_argument("--version", action="version", version=f"musicsep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("separate", help="separate audio files into stems",
                       description="Separate songs into stems: OUTDIR/<file name>/{drums,bass,other,vocals}.wav")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="audio or video files, or folders of them")
    p.add_argument("-o", "--out", default="separated", metavar="OUTDIR", help="default: separated")
    p.add_argument("-m", "--method", default=default_method(), help=f"{' | '.join(METHODS)} (default: {default_method()})")
    add_method_options(p)
    p.add_argument("--list-methods", action="store_true", help="list the methods, their options and model files")
    p.add_argument("--two-stems", choices=SOURCES, metavar="STEM",
                   help="write only STEM and no_STEM (e.g. --two-stems vocals for karaoke)")
    p.add_argument("--format", default="wav", choices=tuple(OUTPUT_BITS), help="default: wav")
    p.add_argument("--bits", choices=("16", "24", "32"),
                   help="sample format: wav 16, 24 or 32 (float, the default, never clips); flac 16 or 24 (default)")
    p.add_argument("--overwrite", action="store_true", help="replace stems left by an earlier run")
    p.add_argument("--chunk-seconds", type=CHUNK_SECONDS,
                   help="length of the overlapping windows, 1 to 3600 (default: the method's)")
    p.add_argument("--backend", default="torch", choices=("torch", "onnx"),
                   help="what runs the U-Net's network: torch (default) or onnxruntime (its ONNX export, cached)")
    add_ray_options(p, "one task per song; songs already separated are skipped")
    p.set_defaults(func=cmd_separate)

    p = sub.add_parser("evaluate", help="score methods on MUSDB18 or the default tracks (museval SDR)")
    p.add_argument("-m", "--method", action="append", dest="methods", metavar="M",
                   help=f"{' | '.join(METHODS)}; repeat for several (default: {default_method()})")
    add_method_options(p)
    add_data_options(p)
    add_ray_options(p, "one task per method and track (replaces --jobs)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("methods", help="list the methods, their options and model files")
    p.set_defaults(func=cmd_methods)

    p = sub.add_parser("compare", help="every method and the oracle on the same tracks: quality, speed, memory")
    p.add_argument("--methods", nargs="+", metavar="M", help="labels from the comparison (default: all available)")
    p.add_argument("--plot", metavar="FILE.png", help="write a bar chart of SDR per stem and method")
    p.add_argument("--timing-seconds", type=TIMING_SECONDS, default=30.0,
                   help="seconds of audio each method separates for the speed/memory figures, up to 3600 (0: skip)")
    p.add_argument("--model", metavar="PATH", help="the U-Net checkpoint that the unet entries use")
    add_data_options(p)
    add_ray_options(p, "one task per method and track (replaces --jobs); the speed/memory rows are still measured here")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("synth", help="generate synthetic songs with stems (MUSDB18-HQ layout)")
    p.add_argument("--out", required=True, help="root folder; songs go to OUT/<split>/<name>/")
    p.add_argument("--tracks", type=COUNT, default=10)
    p.add_argument("--seconds", type=SYNTH_SECONDS, default=30.0, help="length of each song, up to 3600")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--split", default="train", choices=("train", "valid", "test"),
                   help="valid and test draw held-out instruments and voices half the time; train never does")
    p.add_argument("--jobs", type=JOBS, default=2)
    p.add_argument("--singer", default="mixed", choices=SINGER_CHOICES,
                   help="mixed (default): three singing engines drawn per song; psola: every song sung by "
                        "recorded speech re-sung by pitch-period overlap-add; sinsy: every song sung by "
                        "Sinsy's singing voice (a statistical singer trained on a real singer's recordings)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("export", help="export the U-Net's network as ONNX (for onnxruntime, the browser, phones)",
                       description="Write the U-Net's network (magnitudes in, masks out) as an ONNX model with "
                                   "its STFT settings and config in the model's metadata.")
    p.add_argument("--format", default="onnx", choices=("onnx",), help="default: onnx")
    p.add_argument("-o", "--out", metavar="FILE", help="default: the model's name with .onnx, in this folder")
    p.add_argument("--model", metavar="PATH", help="U-Net checkpoint (default: best_model.pth)")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("web", help="serve the page that separates in your browser (nothing is uploaded)",
                       description="Serve the in-browser separation page: the song is decoded and separated "
                                   "by the browser (onnxruntime-web); this server only sends the page and the model.")
    p.add_argument("--port", type=int, default=8000, help="default: 8000 (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1 (this machine only)")
    p.add_argument("--model", metavar="PATH", help="U-Net checkpoint or exported .onnx (default: best_model.pth)")
    p.set_defaults(func=cmd_web)

    # Only listed here: main() hands everything after "train" to musicsep.train's own parser.
    sub.add_parser("train", help="train the U-Net (see musicsep train --help)", add_help=False)
    return parser


def add_method_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("method options (see musicsep methods)")
    g.add_argument("--model", metavar="PATH", help="another model file (for unet: any U-Net checkpoint)")
    g.add_argument("--wiener", type=WIENER_ITERATIONS, metavar="N", help="Wiener filter iterations after the masks (0 = raw masks)")
    g.add_argument("-O", "--option", action="append", dest="options", metavar="KEY=VALUE",
                   help="one of the method's other options, e.g. -O variant=supervised for nmf; repeatable")


def add_ray_options(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_argument_group("Ray (pip install 'musicsep[ray]')")
    g.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help=f"run on Ray: {what}. No ADDRESS: a local Ray for this run; "
                        "'auto' or host:6379 or ray://host:10001: a cluster")
    g.add_argument("--ray-cpus-per-task", type=float, default=1.0, metavar="N",
                   help="CPUs each task reserves (and torch threads it uses); default 1")


def ray_pool(args):
    """A context giving a RayPool for evaluate/compare --ray, or None without --ray."""
    import contextlib

    from musicsep.distributed import RayPool, ray_session

    if args.ray is None:
        return contextlib.nullcontext(None)
    if args.ray_cpus_per_task <= 0:
        raise UserError("--ray-cpus-per-task must be positive")

    @contextlib.contextmanager
    def pool():
        with ray_session(args.ray or None) as ray:
            yield RayPool(ray, args.ray_cpus_per_task)

    return pool()


def method_options(method: str, args) -> dict:
    from musicsep.api import method_options as checked_options, parse_option_pairs

    return checked_options(method, args.model, args.wiener, parse_option_pairs(args.options))


def cmd_methods(args) -> int:
    from musicsep.api import list_methods

    methods = list_methods()
    width = max(len(m.name) for m in methods)
    for m in methods:
        print(f"{m.name:<{width}}  {m.description}")
        print(f"{'':<{width}}  model: {m.model if m.model else '(none)'}")
        print(f"{'':<{width}}  options: {', '.join(m.options) or '(none)'}")
    return 0


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


def separate_on_ray(args, files: list[Path], options: dict) -> int:
    from musicsep.distributed import separate_catalog

    summary = separate_catalog(
        files, args.out, dict(method=args.method, options=options, two_stems=args.two_stems,
                              chunk_seconds=args.chunk_seconds, backend=args.backend),
        address=args.ray or None, num_cpus_per_task=args.ray_cpus_per_task, format=args.format, bits=args.bits,
        overwrite=args.overwrite, log=print)
    print(summary.table())
    for result in summary.results:
        for message in result.warnings:
            warn(f"{result.path}: {message}")
    return 2 if summary.failed else 0


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def cmd_separate(args) -> int:
    import warnings

    from tqdm import tqdm

    from musicsep.api import Separator, output_subtype

    if args.list_methods:
        return cmd_methods(args)
    if not args.inputs:
        raise UserError("give at least one INPUT file or folder (or --list-methods)")
    if args.method not in METHODS:
        raise UserError(f"unknown method {args.method!r}; choose from {', '.join(METHODS)}")
    output_subtype(args.format, args.bits)
    options = method_options(args.method, args)
    files = collect_inputs(args.inputs)
    out_root = Path(args.out)
    if args.backend != "torch" and args.method != "unet":
        raise UserError(f"--backend {args.backend} runs the U-Net only; leave it out for -m {args.method}")
    if args.ray is not None:
        return separate_on_ray(args, files, options)
    separator = Separator(args.method, options=options, two_stems=args.two_stems, chunk_seconds=args.chunk_seconds,
                          backend=args.backend)
    for path in files:  # every output is checked before the first file is separated
        separator.check_outputs(path, out_root, args.format, args.overwrite, inputs=files)
    for path in files:
        with tqdm(unit="sample", unit_scale=True, desc=path.name, disable=None, leave=False) as bar, \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")

            def progress(done: int, total: int | None, bar=bar) -> None:
                bar.total = total
                bar.update(done - bar.n)

            paths = separator.separate_file(path, out_root, args.format, args.bits, args.overwrite, progress)
        print(f"{path} -> {next(iter(paths.values())).parent}/{{{','.join(paths)}}}.{args.format}")
        for w in caught:
            warn(str(w.message))
    return 0


# --- evaluate / synth / train -----------------------------------------------------------------

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
    from musicsep.evaluate import MethodSpec, build_separator, evaluate, write_report

    methods = args.methods or [default_method()]
    unknown = [m for m in methods if m not in METHODS and m not in REFERENCE_METHODS]
    if unknown:
        raise UserError(f"unknown method {unknown[0]!r}; choose from {', '.join([*METHODS, *REFERENCE_METHODS])}")
    check_report_paths(args.json, args.csv)
    specs = [MethodSpec(m, m, tuple(sorted(method_options(m, args).items()))) for m in methods]
    for spec in specs:  # a bad model file or option fails now, not after the tracks are loaded
        build_separator(spec)
    tracks = load_tracks(args.root, args.is_wav, args.subset, tracks_option(args.tracks), warn=warn)
    with ray_pool(args) as pool:
        report = evaluate(specs, tracks, jobs=args.jobs, log=lambda m: print(m, file=sys.stderr), pool=pool)
    print(report.table())
    write_report(report, args.json, args.csv)
    return 0


def cmd_compare(args) -> int:
    from musicsep.compare import available_specs, compare, plot
    from musicsep.data.musdb import load_tracks
    from musicsep.evaluate import build_separator, write_report

    check_report_paths(args.json, args.csv, args.plot)
    specs = available_specs(args.methods, args.model)
    for spec in specs:  # a bad model file fails now, not after the tracks are loaded
        if spec.method == "unet":
            build_separator(spec)
    tracks = load_tracks(args.root, args.is_wav, args.subset, tracks_option(args.tracks), warn=warn)
    with ray_pool(args) as pool:
        report = compare(tracks, specs, jobs=args.jobs, timing_seconds=args.timing_seconds,
                         log=lambda m: print(m, file=sys.stderr), pool=pool)
    print(report.table())
    write_report(report, args.json, args.csv)
    if args.plot:
        plot(report, args.plot)
    return 0


def cmd_synth(args) -> int:
    from musicsep.data.synth import generate_dataset

    paths = generate_dataset(Path(args.out), args.tracks, args.seconds, args.seed, args.split, jobs=args.jobs,
                             singer=args.singer)
    print(f"wrote {len(paths)} songs to {Path(args.out) / args.split}")
    return 0


def cmd_export(args) -> int:
    from musicsep.export import ONNX_OPSET, export_onnx
    from musicsep.separators.unet import DEFAULT_MODEL_PATH

    model = Path(args.model) if args.model else DEFAULT_MODEL_PATH
    out = Path(args.out) if args.out else Path(model.with_suffix(".onnx").name)
    if out.exists() and out.resolve() == model.resolve():
        raise UserError(f"output {out} would overwrite the model; choose another -o")
    if out.is_dir():
        raise UserError(f"output {out} is a folder; give a file name")
    if out.exists() and not args.overwrite:
        raise UserError(f"{out} already exists; use --overwrite to replace it or -o for another file")
    if not out.parent.is_dir():
        raise UserError(f"output folder {out.parent} does not exist")
    export_onnx(model, out)
    print(f"{model} -> {out} (ONNX, opset {ONNX_OPSET})")
    return 0


def cmd_web(args) -> int:
    from musicsep.web.server import serve

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, got {args.port}")
    return serve(args.host, args.port, args.model)


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
