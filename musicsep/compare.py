"""Every method and the reference points on the same tracks: quality, speed and memory.

Quality comes from :func:`musicsep.evaluate.evaluate` (museval, optionally in parallel processes).
Speed and memory are measured separately, one method at a time, each in a fresh process: after a
1 s warm-up (model loading, first-call overheads) it separates the same clip of the test tracks,
and reports seconds of audio per second of wall time and the process's peak resident memory.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.data.musdb import Track
from musicsep.errors import UserError
from musicsep.evaluate import MethodSpec, Report, build_separator, evaluate, peak_rss_mb, run_separator
from musicsep.separators.base import METHODS

# The comparison, in the order of the table: reference point, the five stages' methods, upper bounds.
COMPARISON: tuple[MethodSpec, ...] = (
    MethodSpec("mixture/4", "mixture"),
    MethodSpec("bandpass", "bandpass"),
    MethodSpec("nmf-grouped", "nmf", (("variant", "grouped"),)),
    MethodSpec("nmf-supervised", "nmf", (("variant", "supervised"),)),
    MethodSpec("forest", "forest"),
    MethodSpec("unet-nowiener", "unet", (("wiener_iterations", 0),)),
    MethodSpec("unet", "unet"),
    MethodSpec("oracle-irm", "oracle", (("kind", "irm"),)),
    MethodSpec("oracle-ibm", "oracle", (("kind", "ibm"),)),
)


def available_specs(labels: Sequence[str] | None = None, model: str | None = None) -> list[MethodSpec]:
    """The comparison's entries whose method is installed, optionally only the named labels; with
    ``model``, the U-Net entries load that checkpoint."""
    known = [s for s in COMPARISON if s.method in METHODS or s.method in ("mixture", "oracle")]
    if model is not None:
        from musicsep.api import method_options

        path = method_options("unet", model=model)["model_path"]
        known = [replace(s, options=(*s.options, ("model_path", path))) if s.method == "unet" else s for s in known]
    if not labels:
        return known
    by_label = {s.label: s for s in known}
    unknown = [label for label in labels if label not in {s.label for s in COMPARISON}]
    if unknown:
        raise UserError(f"unknown method {unknown[0]!r} for compare; choose from {', '.join(s.label for s in COMPARISON)}")
    missing = [label for label in labels if label not in by_label]
    if missing:
        raise UserError(f"method {missing[0]!r} is not available in this installation")
    return [by_label[label] for label in labels]


def timing_clip(tracks: Sequence[Track], seconds: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The first ``seconds`` of the tracks, joined end to end: the same audio for every method."""
    need = int(seconds * SAMPLE_RATE)
    mixes, refs = [], {s: [] for s in SOURCES}
    have = 0
    for track in tracks:
        take = min(need - have, len(track.mixture))
        mixes.append(track.mixture[:take])
        for s in SOURCES:
            refs[s].append(track.targets[s][:take])
        have += take
        track.unload()
        if have >= need:
            break
    return np.concatenate(mixes), {s: np.concatenate(v) for s, v in refs.items()}


def _time_in_this_process(spec: MethodSpec, clip_path: str) -> dict[str, float]:
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    data = np.load(clip_path)
    mixture = data["mixture"]
    targets = {s: data[s] for s in SOURCES}
    separator = build_separator(spec)
    warm = slice(0, min(len(mixture), SAMPLE_RATE))
    run_separator(separator, mixture[warm], {s: v[warm] for s, v in targets.items()}, SAMPLE_RATE)
    start = time.perf_counter()
    run_separator(separator, mixture, targets, SAMPLE_RATE)
    wall = time.perf_counter() - start
    return {"realtime_factor": len(mixture) / SAMPLE_RATE / wall, "peak_rss_mb": peak_rss_mb()}


def time_methods(specs: Sequence[MethodSpec], tracks: Sequence[Track], seconds: float = 30.0,
                 log=None) -> dict[str, dict[str, float]]:
    """Real-time factor and peak memory per method, each alone in a fresh process."""
    mixture, targets = timing_clip(tracks, seconds)
    ctx = multiprocessing.get_context("spawn")
    timing = {}
    with tempfile.TemporaryDirectory(prefix="musicsep-timing-") as tmp:
        clip_path = str(Path(tmp) / "clip.npz")
        np.savez(clip_path, mixture=mixture, **targets)
        for spec in specs:
            with ctx.Pool(1, maxtasksperchild=1) as pool:
                timing[spec.label] = pool.apply(_time_in_this_process, (spec, clip_path))
            if log:
                log(f"timed {spec.label}: {timing[spec.label]['realtime_factor']:.1f}x real time")
    return timing


def compare(tracks: Sequence[Track], methods: Sequence[str | MethodSpec] | None = None, jobs: int = 1,
            timing_seconds: float = 30.0, log=None) -> Report:
    """Score ``methods`` (labels of :data:`COMPARISON`, or specs; default: all available) and time them."""
    if methods and all(isinstance(m, MethodSpec) for m in methods):
        specs = list(methods)
    else:
        specs = available_specs(methods)
    report = evaluate(specs, tracks, jobs=jobs, log=log)
    if timing_seconds > 0:
        report.timing = time_methods(specs, tracks, timing_seconds, log=log)
    return report


def plot(report: Report, path: str | os.PathLike) -> None:
    """Grouped bar chart of SDR per stem (and the average), one bar per method, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musicsep.audio import atomic_output

    groups = list(SOURCES) + ["avg"]
    methods = report.methods
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(groups) * len(methods) * 0.35), 4.5), dpi=100)
    for i, m in enumerate(methods):
        summary = report.summary(m)
        values = [summary[g] for g in groups]
        ax.bar(np.arange(len(groups)) + (i - (len(methods) - 1) / 2) * width, values, width, label=m)
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylabel("SDR (dB), museval v4 median")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_title(f"Separation quality on {len(report.tracks)} track(s)")
    ax.legend(fontsize=8, ncols=min(len(methods), 5), loc="upper center", bbox_to_anchor=(0.5, -0.08))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    target = Path(path)
    with atomic_output(target) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
