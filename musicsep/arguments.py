"""Command-line pieces shared by ``musicsep`` (:mod:`musicsep.cli`) and the stage scripts
(:mod:`musicsep.stages`): the parser class and the data options of evaluate / compare."""

from __future__ import annotations

import argparse
import math
from typing import Callable


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
WIENER_ITERATIONS = number(int, 0, 100)
SINGER_CHOICES = ("mixed", "psola", "sinsy")  # musicsep synth --singer (see data.synth.vocals.make_vocals)


def add_data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data (default: the embedded MUSDB18 excerpt + data/synth/test when generated)")
    g.add_argument("--root", help="MUSDB18 root folder (or set MUSDB_PATH)")
    g.add_argument("--is-wav", action="store_true", help="the root is MUSDB18-HQ (wav stems)")
    g.add_argument("--subset", default="test", choices=("train", "test"), help="default: test")
    g.add_argument("--tracks", nargs="+", metavar="N|NAME", help="the first N tracks, or tracks by name")
    g.add_argument("--jobs", type=JOBS, default=1, help="processes that score tracks in parallel")
    g.add_argument("--json", metavar="FILE", help="write the results as JSON")
    g.add_argument("--csv", metavar="FILE", help="write per-track results as CSV")


def tracks_option(values: list[str] | None) -> int | list[str] | None:
    if not values:
        return None
    if len(values) == 1 and values[0].isdigit():
        return int(values[0])
    return values
