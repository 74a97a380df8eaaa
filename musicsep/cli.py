"""The ``musicsep`` command: separate, evaluate, compare, synth, train, export, web.

Bad input or usage prints one line ``error: ...`` on stderr and exits with status 2; nothing is
half-written and no input is ever overwritten.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

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


def _add_data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data (default: the embedded MUSDB18 excerpt + data/synth/test when generated)")
    g.add_argument("--root", help="MUSDB18 root folder (or set MUSDB_PATH)")
    g.add_argument("--is-wav", action="store_true", help="the root is MUSDB18-HQ (wav stems)")
    g.add_argument("--subset", default="test", choices=("train", "test"), help="default: test")
    g.add_argument("--tracks", nargs="+", metavar="N|NAME", help="the first N tracks, or tracks by name")
    g.add_argument("--jobs", type=int, default=1, help="processes that score tracks in parallel")
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
    p.add_argument("--chunk-seconds", type=float, help="length of the overlapping windows (default: the method's)")
    p.add_argument("--backend", default="torch", choices=("torch", "onnx"),
                   help="what runs the U-Net's network: torch (default) or onnxruntime (its ONNX export, cached)")
    p.set_defaults(func=cmd_separate)

    p = sub.add_parser("evaluate", help="score methods on MUSDB18 or the default tracks (museval SDR)")
    p.add_argument("-m", "--method", action="append", dest="methods", metavar="M",
                   help=f"{' | '.join(METHODS)}; repeat for several (default: {default_method()})")
    _add_data_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("compare", help="every method and the oracle on the same tracks: quality, speed, memory")
    p.add_argument("--methods", nargs="+", metavar="M", help="labels from the comparison (default: all available)")
    p.add_argument("--plot", metavar="FILE.png", help="write a bar chart of SDR per stem and method")
    p.add_argument("--timing-seconds", type=float, default=30.0,
                   help="seconds of audio each method separates for the speed/memory figures (0: skip)")
    _add_data_options(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("synth", help="generate synthetic songs with stems (MUSDB18-HQ layout)")
    p.add_argument("--out", required=True, help="root folder; songs go to OUT/<split>/<name>/")
    p.add_argument("--tracks", type=int, default=10)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="train", choices=("train", "valid", "test"),
                   help="valid and test draw held-out instruments and voices half the time; train never does")
    p.add_argument("--jobs", type=int, default=2)
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

    p = sub.add_parser("train", help="train the U-Net (see musicsep train --help)", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_train)
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
    stems = [f.name.split(".")[0] for f in files]
    duplicate = next((s for s in stems if stems.count(s) > 1), None)
    if duplicate:
        raise UserError(f"two inputs would share the output folder {duplicate!r}; separate them in two runs")
    return files


def output_names(two_stems: str | None) -> list[str]:
    return [two_stems, f"no_{two_stems}"] if two_stems else list(SOURCES)


def _separate_one(separator, path: Path, out_dir: Path, names: list[str], fmt: str, subtype: str,
                  chunk_seconds: float | None) -> int:
    """Stream one file through the separator into its stem files; returns clipped sample count."""
    import contextlib

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
            writers = {n: stack.enter_context(AudioWriter(out_dir / f"{n}.{fmt}", SAMPLE_RATE, 2, fmt, subtype))
                       for n in names}
            bar = stack.enter_context(tqdm(total=total, unit="sample", unit_scale=True, desc=path.name,
                                           disable=None, leave=False))
            for stems in separate_stream(separator, iter_audio_blocks(path), SAMPLE_RATE, chunk_seconds):
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


def cmd_separate(args) -> int:
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
    plans = []
    for path in files:
        out_dir = out_root / path.name.split(".")[0]
        targets = [out_dir / f"{n}.{fmt}" for n in names]
        for t in targets:
            if t.exists() and t.resolve() == path.resolve():
                raise UserError(f"output {t} would overwrite the input; choose another -o")
            if t.exists() and not args.overwrite:
                raise UserError(f"{t} already exists; use --overwrite to replace it or -o for another folder")
        plans.append((path, out_dir))
    if args.backend != "torch" and args.method != "unet":
        raise UserError(f"--backend {args.backend} runs the U-Net only; leave it out for -m {args.method}")
    separator = get_separator(args.method, **({"backend": args.backend} if args.method == "unet" else {}))
    for path, out_dir in plans:
        clipped = _separate_one(separator, path, out_dir, names, fmt, subtype, args.chunk_seconds)
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


def cmd_evaluate(args) -> int:
    from musicsep.data.musdb import load_tracks
    from musicsep.evaluate import evaluate, write_report

    methods = args.methods or [default_method()]
    unknown = [m for m in methods if m not in METHODS and m not in REFERENCE_METHODS]
    if unknown:
        raise UserError(f"unknown method {unknown[0]!r}; choose from {', '.join([*METHODS, *REFERENCE_METHODS])}")
    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    tracks = load_tracks(args.root, args.is_wav, args.subset, tracks_option(args.tracks))
    report = evaluate(methods, tracks, jobs=args.jobs, log=lambda m: print(m, file=sys.stderr))
    print(report.table())
    write_report(report, args.json, args.csv)
    return 0


def cmd_compare(args) -> int:
    from musicsep.compare import compare, plot
    from musicsep.data.musdb import load_tracks
    from musicsep.evaluate import write_report

    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    tracks = load_tracks(args.root, args.is_wav, args.subset, tracks_option(args.tracks))
    report = compare(tracks, args.methods, jobs=args.jobs, timing_seconds=args.timing_seconds,
                     log=lambda m: print(m, file=sys.stderr))
    print(report.table())
    write_report(report, args.json, args.csv)
    if args.plot:
        plot(report, args.plot)
    return 0


def cmd_synth(args) -> int:
    from musicsep.data.synth import generate_dataset

    if args.tracks < 1 or args.seconds <= 0:
        raise UserError("--tracks must be at least 1 and --seconds positive")
    paths = generate_dataset(Path(args.out), args.tracks, args.seconds, args.seed, args.split, jobs=args.jobs)
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


def cmd_train(args) -> int:
    from musicsep.train import main as train_main

    return train_main(args.rest)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory; try a smaller --chunk-seconds", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
