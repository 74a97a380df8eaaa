"""Catalog scale on Ray: one task per song (``separate --ray``) or per method and track
(``evaluate/compare --ray``), on a local Ray or a cluster started with ``ray start``.

Ray is optional (``pip install 'musicsep[ray]'``) and imported only here, only when asked for.
The separator, with its model, goes into Ray's object store once; each worker process unpickles
it once and keeps it for the songs it gets. Every song is separated by the API's
:meth:`musicsep.api.Separator.separate_file`: streamed (a worker's memory does not grow with the
song), stems written atomically, nothing ever overwritten. Songs whose stems all exist already are
skipped before anything is submitted, so a second run resumes where the first stopped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from musicsep.errors import UserError

QUIET_LOCAL_RAY = {
    "RAY_USAGE_STATS_ENABLED": "0",
    # A busy machine starts Ray's agents slowly; the default wait (seconds) would abort the start.
    "RAY_agent_register_timeout_ms": "120000",
}


# --- Ray itself -------------------------------------------------------------------------------------

def _import_ray():
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs Ray: pip install 'musicsep[ray]' (or ray==2.60.0)") from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None) -> Iterator[object]:
    """Ray, connected: to ``address`` (``auto``, ``host:6379`` or ``ray://host:10001``), else to the
    Ray this process already runs, else a local Ray started for the block (all CPUs, no dashboard)
    and shut down after it."""
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    if address:
        kwargs = {"address": address}
    else:
        for key, value in QUIET_LOCAL_RAY.items():
            os.environ.setdefault(key, value)
        # Ray's own start-up notices (token authentication, "Started a local Ray instance") are
        # not for the user of a one-off local run; errors still show.
        kwargs = {"num_cpus": os.cpu_count() or 1, "include_dashboard": False, "logging_level": logging.ERROR}
    try:
        ray.init(**kwargs)
    except Exception as exc:  # ConnectionError, a timeout, a bad address: one line for the user
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise UserError(f"cannot start or reach {where}: {_one_line(exc)}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _limit_threads(num_cpus: float) -> None:
    """Torch in a task uses as many threads as the task has CPUs (tasks share the node's cores)."""
    import torch

    torch.set_num_threads(max(1, int(num_cpus)))


# --- separate: one task per song ------------------------------------------------------------------

@dataclass
class SongResult:
    """What a task reports back: small, whatever the song's length."""

    path: str
    status: str                      # "done", "skipped" or "failed"
    seconds: float = 0.0             # length of the audio separated
    error: str = ""                  # one line, for "failed"
    warnings: list[str] = field(default_factory=list)


@dataclass
class CatalogSummary:
    results: list[SongResult]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[SongResult]:
        return [r for r in self.results if r.status == "failed"]

    def table(self) -> str:
        lines = [f"{'done':<8}{self.count('done'):>6}", f"{'skipped':<8}{self.count('skipped'):>6}",
                 f"{'failed':<8}{self.count('failed'):>6}"]
        lines += [f"  {r.path}: {r.error}" for r in self.failed]
        return "\n".join(lines)


# Per worker process: the separators unpickled so far, by object-store id (each is fetched once).
_WORKER_SEPARATORS: dict[str, object] = {}


def _separate_song(separator_ref: list, path: str, out_root: str, format: str, bits: str | None,
                   overwrite: bool, num_cpus: float) -> SongResult:
    """The task: separate one song with the API. Bad input is a result, not an exception, so that
    Ray does not retry it; only a lost worker is retried (the task's max_retries)."""
    import ray

    from musicsep.audio import audio_info

    key = separator_ref[0].hex()
    if key not in _WORKER_SEPARATORS:
        _WORKER_SEPARATORS[key] = ray.get(separator_ref[0])
    separator = _WORKER_SEPARATORS[key]
    _limit_threads(num_cpus)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            seconds = audio_info(path).duration or 0.0
            separator.separate_file(path, out_root, format, bits, overwrite)
    except Exception as exc:  # noqa: BLE001 - reported by name, the other songs go on
        message = str(exc) if isinstance(exc, UserError) else _one_line(exc)
        return SongResult(path, "failed", error=message)
    return SongResult(path, "done", seconds, warnings=[str(w.message) for w in caught])


def _already_separated(separator, path: Path, out_root: str | os.PathLike, format: str) -> bool:
    return all(p.is_file() for p in separator.output_paths(path, out_root, format).values())


def separate_catalog(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                     separator_kwargs: Mapping[str, object], address: str | None = None,
                     num_cpus_per_task: float = 1, retries: int = 2, progress: bool = True,
                     format: str = "wav", bits: str | None = None, overwrite: bool = False,
                     log: Callable[[str], None] | None = None) -> CatalogSummary:
    """Separate many songs on Ray into ``out_dir/<file name>/<stem>.<format>``, one task per song.

    ``separator_kwargs`` are :class:`musicsep.api.Separator`'s arguments. Songs whose stems all
    exist are skipped (unless ``overwrite``); a task whose worker dies is retried ``retries``
    times; a song that fails (unreadable, or any error) is reported with its one-line error while
    the others finish. ``log`` receives one line per finished song.
    """
    from musicsep.api import Separator, output_subtype

    if num_cpus_per_task <= 0:
        raise UserError("--ray-cpus-per-task must be positive")
    if retries < 0:
        raise UserError("retries must be 0 or more")
    output_subtype(format, bits)
    separator = Separator(**separator_kwargs)  # bad options fail here, before Ray starts
    files = [Path(p) for p in inputs]
    results: dict[Path, SongResult] = {}
    todo = []
    for path in files:
        if not overwrite and _already_separated(separator, path, out_dir, format):
            results[path] = SongResult(str(path), "skipped")
        else:
            todo.append(path)
    if todo:
        with ray_session(address) as ray:
            separator_ref = ray.put(separator)
            task = ray.remote(num_cpus=num_cpus_per_task, max_retries=retries)(_separate_song)
            pending = {task.remote([separator_ref], str(path), str(out_dir), format, bits, overwrite,
                                   num_cpus_per_task): path for path in todo}
            for path, result in _as_completed(ray, pending, len(todo), progress):
                results[path] = result
                if log:
                    folder = next(iter(separator.output_paths(path, out_dir, format).values())).parent
                    log(f"{path} -> {folder}" if result.status == "done"
                        else f"failed: {path}: {result.error}")
    return CatalogSummary([results[p] for p in files])


def _as_completed(ray, pending: dict, total: int, progress: bool) -> Iterator[tuple[Path, SongResult]]:
    """(path, result) as tasks finish, with a progress bar of songs and audio hours per minute."""
    from tqdm import tqdm

    start, audio_seconds = time.monotonic(), 0.0
    with tqdm(total=total, unit="song", desc="songs", disable=None if progress else True,
              file=sys.stderr) as bar:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            path = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except ray.exceptions.RayError as exc:  # the worker died more often than retries allow
                result = SongResult(str(path), "failed", error=f"worker lost: {_one_line(exc)}")
            audio_seconds += result.seconds
            minutes = max(time.monotonic() - start, 1e-9) / 60
            bar.set_postfix_str(f"{audio_seconds / 3600 / minutes:.2f} audio h/min", refresh=False)
            bar.update(1)
            yield path, result


# --- evaluate / compare: one task per (method, track) -----------------------------------------------

class RayPool:
    """The little of ``concurrent.futures.Executor`` that :func:`musicsep.evaluate.evaluate` uses,
    on Ray: ``submit(fn, *args).result()``, and ``share(value)`` to put a track's audio into the
    object store once for all the methods' tasks."""

    def __init__(self, ray, num_cpus_per_task: float = 1, retries: int = 2):
        self.ray = ray
        self.num_cpus = num_cpus_per_task
        self.retries = retries
        self._remote = {}

    @property
    def tracks_in_flight(self) -> int:
        """How many tracks' tasks may run at once: enough to keep every CPU of the cluster busy."""
        cpus = self.ray.cluster_resources().get("CPU", 1)
        return max(1, int(cpus // self.num_cpus))

    def share(self, value):
        return self.ray.put(value)

    def submit(self, fn, *args):
        if fn not in self._remote:
            self._remote[fn] = self.ray.remote(num_cpus=self.num_cpus, max_retries=self.retries)(_threads_then(fn))
        return _RayFuture(self.ray, self._remote[fn].remote(self.num_cpus, *args))

    def shutdown(self) -> None:
        pass


def _threads_then(fn):
    def run(num_cpus, *args):
        _limit_threads(num_cpus)
        return fn(*args)

    run.__name__ = run.__qualname__ = fn.__name__
    return run


class _RayFuture:
    def __init__(self, ray, ref):
        self.ray, self.ref = ray, ref

    def result(self):
        try:
            return self.ray.get(self.ref)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, UserError):
                raise exc.cause from None
            raise UserError(f"a task failed: {_one_line(exc.cause or exc)}") from None
        except self.ray.exceptions.RayError as exc:
            raise UserError(f"a task failed: {_one_line(exc)}") from None
