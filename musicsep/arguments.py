"""Command-line pieces shared by ``musicsep`` (:mod:`musicsep.cli`) and the stage scripts
(:mod:`musicsep.stages`): the parser class and the data options of evaluate / compare."""

from __future__ import annotations

import argparse


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one ``error: ...`` line and status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def add_data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data (default: the embedded MUSDB18 excerpt + data/synth/test when generated)")
    g.add_argument("--root", help="MUSDB18 root folder (or set MUSDB_PATH)")
    g.add_argument("--is-wav", action="store_true", help="the root is MUSDB18-HQ (wav stems)")
    g.add_argument("--subset", default="test", choices=("train", "test"), help="default: test")
    g.add_argument("--tracks", nargs="+", metavar="N|NAME", help="the first N tracks, or tracks by name")
    g.add_argument("--jobs", type=int, default=1, help="processes that score tracks in parallel")
    g.add_argument("--json", metavar="FILE", help="write the results as JSON")
    g.add_argument("--csv", metavar="FILE", help="write per-track results as CSV")


def tracks_option(values: list[str] | None) -> int | list[str] | None:
    if not values:
        return None
    if len(values) == 1 and values[0].isdigit():
        return int(values[0])
    return values
