"""Write synthetic songs to disk in the MUSDB18-HQ layout, in parallel, deterministically."""

from __future__ import annotations

import json
import os
import shutil
import zlib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
import multiprocessing as mp
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

FILES = ("mixture", "drums", "bass", "other", "vocals")


MAX_ATTEMPTS = 4  # renders of one track before giving up (see generate_dataset)


def track_seed(seed: int, split: str, index: int, attempt: int = 0) -> int:
    """Per-track seed from (seed, split, index): train and test streams never coincide.
    ``attempt`` > 0 gives the seeds a track falls back to when its renderer crashed."""
    split_code = {"train": 0, "test": 1, "valid": 2}.get(split, zlib.crc32(split.encode()) + 3)
    key = [int(seed), split_code, int(index)] + ([int(attempt)] if attempt else [])
    return int(np.random.SeedSequence(key).generate_state(1)[0])


def track_name(split: str, index: int, seed: int = 0) -> str:
    return f"synth-{split}-{index:05d}" if seed == 0 else f"synth-{split}-s{seed}-{index:05d}"


def _complete(folder: Path) -> bool:
    return all((folder / f"{f}.wav").exists() for f in FILES)


ONE_THREAD = {var: "1" for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
# What every song needs, imported once by the fork server rather than by each song's process.
PRELOAD = ["musicsep.data.synth.dataset", "musicsep.data.synth.render", "musicsep.data.synth.speech_voice",
           "musicsep.data.synth.sinsy_voice", "parselmouth", "pyworld", "onnxruntime", "piper", "soundfile"]


def _worker_init() -> None:
    os.environ.update(ONE_THREAD)


def _pool_context():
    """Where the fork server exists (Linux, macOS), each song's fresh process is forked from a server
    that has imported the renderer and its libraries once (about 3 s saved per song); it never
    renders, so every song still starts from the same clean state. Elsewhere: spawn."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    from multiprocessing import forkserver
    from unittest import mock

    with mock.patch.dict(os.environ, ONE_THREAD):  # the server's numpy and numba start one-threaded, as a worker's would
        forkserver.ensure_running()
    return ctx


class SongJob(NamedTuple):
    """One song to render; ``attempt`` > 0 renders it from a fallback seed (see track_seed)."""
    out_dir: str
    split: str
    index: int
    seed: int
    seconds: float
    attempt: int = 0
    singer: str = "mixed"


def _make_track(job: SongJob) -> str:
    out_dir, split, index, seed, seconds, attempt, singer = job
    from .render import render_song

    folder = Path(out_dir) / split / track_name(split, index, seed)
    if _complete(folder):
        return str(folder)
    audio, meta = render_song(track_seed(seed, split, index, attempt), split, seconds, singer)
    if attempt:
        meta["render_attempt"] = attempt
    # every signal lies on the 16-bit grid (see mix.mix_stems): PCM_16 stores it exactly
    write_track(folder, {name: np.round(audio[name].astype(np.float64) * 32768.0) for name in FILES}, meta)
    return str(folder)


def write_track(folder: Path, pcm: dict[str, np.ndarray], meta: dict) -> None:
    """Write ``pcm`` (integer-valued samples per file name in FILES) as 16-bit wavs and ``meta``
    (plus the track's name) into ``folder``, replacing it whole: a reader never sees half a track."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in FILES:
        assert np.abs(pcm[name]).max() <= 32767
        sf.write(str(tmp / f"{name}.wav"), pcm[name].astype(np.int16), 44100, subtype="PCM_16")
    meta["name"] = folder.name
    (tmp / "meta.json").write_text(json.dumps(meta, default=str))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def generate_dataset(out_dir: Path, tracks: int, seconds: float, seed: int, split: str,
                     jobs: int = 2, progress: bool = True, singer: str = "mixed") -> list[Path]:
    """Generate ``tracks`` songs of ``seconds`` each into ``out_dir/<split>/<name>/{stem}.wav``.

    Files are 44.1 kHz stereo 16-bit wav; ``mixture.wav`` is exactly the sum
    drums + bass + other + vocals of the samples as read back (float32 or float64, any order). Existing complete tracks are kept (resume).
    The same (seed, split, index) always gives the same bytes (each song is rendered in a fresh
    worker process). ``singer`` "psola" sings every song with the recorded-speech singer re-sung by
    overlap-add, "sinsy" with Sinsy's singing voice (see :func:`make_vocals`). Returns the track folders.
    """
    from musicsep.errors import UserError

    from . import sinsy_voice
    from .speech_voice import prepare

    if singer == "sinsy" and not sinsy_voice.available():
        raise UserError("--singer sinsy needs the pysinsy package (scripts/setup.sh installs it)")
    out_dir = Path(out_dir)
    (out_dir / split).mkdir(parents=True, exist_ok=True)
    prepare()
    work = [SongJob(str(out_dir), split, i, int(seed), float(seconds), singer=singer) for i in range(int(tracks))]
    bar = None
    if progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=len(work), desc=f"synth {split}", unit="track")
        except ImportError:  # pragma: no cover
            bar = None
    done: dict[int, Path] = {}

    def finished(index: int, path: str) -> None:
        done[index] = Path(path)
        if bar:
            bar.update(1)

    while len(done) < len(work):
        rest = [job for job in work if job.index not in done]
        try:
            _run_pool(rest, jobs, finished)
        except BrokenProcessPool:
            # A native library (eSpeak inside Praat) can crash a worker on some seeds, and the
            # pool is lost with it. The songs being rendered then were the first unfinished ones:
            # each is rendered alone, from its next fallback seed if it crashes again on its own
            # (same seed, same crash: the fallback, and so the bytes, stay reproducible); then the
            # pool goes on with the rest.
            for job in [job for job in rest if job.index not in done][:max(1, int(jobs))]:
                _render_alone(job, finished)
    results = [done[i] for i in range(len(work))]
    if bar:
        bar.close()
    return results


def _render_alone(job: SongJob, finished) -> None:
    for attempt in range(MAX_ATTEMPTS):
        try:
            return _run_pool([job._replace(attempt=attempt)], 1, finished)
        except BrokenProcessPool:
            continue
    raise RuntimeError(f"the renderer crashed on song {job.index} with {MAX_ATTEMPTS} seeds")


def _run_pool(work: list[SongJob], jobs: int, finished) -> None:
    """Render ``work`` with ``jobs`` workers, one fresh process per song: the eSpeak engine inside
    Praat keeps hidden global state from one utterance to the next, so a song is only
    reproducible when it starts from a fresh process."""
    ctx = _pool_context()
    with ProcessPoolExecutor(max_workers=max(1, int(jobs)), mp_context=ctx, initializer=_worker_init,
                             max_tasks_per_child=1) as ex:
        for job, path in zip(work, ex.map(_make_track, work, chunksize=1)):
            finished(job.index, path)
