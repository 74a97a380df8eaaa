"""What the five stage scripts share: ``python stageN_*.py [evaluate|train] [options]``.

With no arguments a stage script separates the default tracks with its method and prints the SDR
table; ``--root`` points it at MUSDB18 instead. Trainable methods add a ``train`` subcommand.
"""

from __future__ import annotations

import sys
from typing import Callable, Sequence

from musicsep.arguments import Parser, add_data_options, tracks_option
from musicsep.errors import UserError


def stage_main(method: str, description: str, argv: Sequence[str] | None = None,
               train: Callable[[list[str]], int] | None = None,
               variants: dict[str, dict] | None = None, with_mir_eval: bool = False) -> int:
    """Run a stage script. ``variants`` maps a ``--variant`` name to separator options;
    ``with_mir_eval`` adds mir_eval's SDR table next to museval's."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        if train is None:
            print(f"error: {method} has nothing to train", file=sys.stderr)
            return 2
        return train(argv[1:])
    if argv[:1] == ["evaluate"]:
        argv = argv[1:]
    parser = Parser(prog=sys.argv[0], description=description,
                    epilog="Subcommands: evaluate (default)" + (", train (see train --help)" if train else ""))
    add_data_options(parser)
    if variants:
        parser.add_argument("--variant", action="append", choices=tuple(variants),
                            help=f"which variant(s) to score (default: all of {', '.join(variants)})")
    args = parser.parse_args(argv)
    try:
        from musicsep.data.musdb import load_tracks
        from musicsep.evaluate import MethodSpec, evaluate, write_report

        tracks = load_tracks(args.root, args.is_wav, args.subset, tracks_option(args.tracks))
        if variants:
            chosen = getattr(args, "variant", None) or list(variants)
            specs = [MethodSpec(name, method, tuple(sorted(variants[name].items()))) for name in chosen]
        else:
            specs = [MethodSpec(method, method)]
        report = evaluate(specs, tracks, jobs=args.jobs, with_mir_eval=with_mir_eval)
        print(report.table())
        write_report(report, args.json, args.csv)
        return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
