"""Scoring: museval BSS Eval v4 (the SiSEC / MUSDB18 protocol) and the SDX global SDR.

Per track and stem, BSS Eval v4 metrics are computed on 1 s windows and the median over windows
is kept (windows where the reference is silent give NaN and are skipped, as museval does); the
figure per stem is then the median over tracks, and "avg" is the mean of the four stem figures.
The global SDR of the SDX challenges, ``10 log10(sum ref^2 / sum (ref - est)^2)`` over the whole
track, is a quick second figure.
"""

from __future__ import annotations

import csv
import io
import json
import resource
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.audio import atomic_output
from musicsep.data.musdb import Track
from musicsep.errors import UserError
from musicsep.inference import separate
from musicsep.separators.base import get_separator

PROTOCOL = "museval BSS Eval v4, 1 s windows, median over windows, median over tracks"
METRICS = ("SDR", "SIR", "SAR", "ISR")


def global_sdr(reference: np.ndarray, estimate: np.ndarray, eps: float = 1e-7) -> float:
    """SDX-challenge SDR of one stem over the whole track, in dB."""
    ref = np.asarray(reference, dtype=np.float64)
    err = ref - np.asarray(estimate, dtype=np.float64)
    return float(10 * np.log10((np.sum(ref**2) + eps) / (np.sum(err**2) + eps)))


def mir_eval_sdr(references: dict[str, np.ndarray], estimates: dict[str, np.ndarray]) -> dict[str, float]:
    """mir_eval's BSS Eval (v3) SDR over the whole track, on the mono down-mix of each stem.

    mir_eval refuses silent references, so a stem that is silent in this track is left out (NaN).
    """
    import mir_eval

    playing = [s for s in SOURCES if s in references and np.any(references[s])]
    out = {s: float("nan") for s in references}
    if playing:
        refs = np.stack([references[s].mean(axis=1) for s in playing]).astype(np.float64)
        ests = np.stack([estimates[s].mean(axis=1) for s in playing]).astype(np.float64)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            sdr = mir_eval.separation.bss_eval_sources(refs, ests, compute_permutation=False)[0]
        out.update({s: float(v) for s, v in zip(playing, sdr)})
    return out


def score_track(references: dict[str, np.ndarray], estimates: dict[str, np.ndarray],
                sample_rate: int = SAMPLE_RATE, with_mir_eval: bool = False) -> dict[str, dict[str, float]]:
    """``{source: {"SDR", "SIR", "SAR", "ISR", "global_SDR"[, "mir_eval_SDR"]}}`` for one track.

    The museval figures are medians over 1 s windows.
    """
    import museval

    # the four stems in their usual order, then any other named reference (e.g. "accompaniment")
    sources = [s for s in SOURCES if s in references] + [s for s in references if s not in SOURCES]
    refs = np.stack([references[s] for s in sources]).astype(np.float64)
    ests = np.stack([estimates[s] for s in sources]).astype(np.float64)
    # museval refuses a track where any reference or estimate is silent throughout; such a stem is
    # scored NaN (as museval scores a window where the reference is silent) and the others as usual.
    scored = [i for i in range(len(sources)) if np.any(refs[i]) and np.any(ests[i])]
    frames = {name: np.full((len(sources), 1), np.nan) for name in ("SDR", "SIR", "SAR", "ISR")}
    if scored:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            sdr, isr, sir, sar = museval.evaluate(refs[scored], ests[scored], win=sample_rate, hop=sample_rate)
        for name, values in (("SDR", sdr), ("SIR", sir), ("SAR", sar), ("ISR", isr)):
            full = np.full((len(sources), values.shape[1]), np.nan)
            full[scored] = values
            frames[name] = full
    result = {}
    for i, s in enumerate(sources):
        per = {}
        for name, values in frames.items():
            finite = values[i][np.isfinite(values[i])]
            per[name] = float(np.median(finite)) if finite.size else float("nan")
        per["global_SDR"] = global_sdr(refs[i], ests[i]) if np.any(refs[i]) else float("nan")
        result[s] = per
    if with_mir_eval:
        for s, value in mir_eval_sdr(references, estimates).items():
            result[s]["mir_eval_SDR"] = value
    return result


@dataclass
class Report:
    """Scores of several methods on the same tracks."""

    tracks: list[str]
    per_track: dict[str, dict[str, dict[str, dict[str, float]]]] = field(default_factory=dict)  # method/track/stem/metric
    timing: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        return list(self.per_track)

    def summary(self, method: str, metric: str = "SDR") -> dict[str, float]:
        """Median over tracks per stem, plus "avg" (mean of the stem medians)."""
        out = {}
        for s in SOURCES:
            values = [t[s].get(metric, float("nan")) for t in self.per_track[method].values() if s in t]
            values = [v for v in values if np.isfinite(v)]
            out[s] = float(np.median(values)) if values else float("nan")
        stems = [out[s] for s in SOURCES if np.isfinite(out[s])]
        out["avg"] = float(np.mean(stems)) if stems else float("nan")
        return out

    def to_json(self) -> dict:
        return {
            "protocol": PROTOCOL,
            "tracks": self.tracks,
            "results": {m: _rounded(self.summary(m)) for m in self.methods},
            "metrics": {m: {k: _rounded(self.summary(m, k)) for k in METRICS + ("global_SDR", "mir_eval_SDR")}
                        for m in self.methods},
            "timing": {m: _rounded(t) for m, t in self.timing.items()},
            "per_track": self.per_track,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Report":
        """The report a :meth:`to_json` output was written from (``None`` scores read back as NaN)."""
        nan = lambda v: float("nan") if v is None else v  # noqa: E731
        per_track = {m: {t: {s: {k: nan(v) for k, v in metrics.items()} for s, metrics in stems.items()}
                         for t, stems in tracks.items()} for m, tracks in data["per_track"].items()}
        timing = {m: {k: nan(v) for k, v in t.items()} for m, t in data.get("timing", {}).items()}
        return cls(tracks=list(data["tracks"]), per_track=per_track, timing=timing)

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["method", "track", "stem", *METRICS, "global_SDR", "mir_eval_SDR"])
        for m, tracks in self.per_track.items():
            for track, stems in tracks.items():
                for s, metrics in stems.items():
                    writer.writerow([m, track, s, *(f"{metrics.get(k, float('nan')):.4f}"
                                                    for k in METRICS + ("global_SDR", "mir_eval_SDR"))])
        return buf.getvalue()

    def table(self) -> str:
        """Stems x methods, museval SDR; then SIR / SAR averages, global SDR and timing rows."""
        methods = self.methods
        width = max(10, *(len(m) + 2 for m in methods))
        head = f"{'SDR (dB)':<12}" + "".join(f"{m:>{width}}" for m in methods)
        lines = [f"{PROTOCOL}; {len(self.tracks)} track(s)", head, "-" * len(head)]
        rows = list(SOURCES) + ["avg"]
        summaries = {m: self.summary(m) for m in methods}
        for r in rows:
            if r == "avg":
                lines.append("-" * len(head))
            lines.append(f"{r:<12}" + "".join(f"{summaries[m][r]:>{width}.2f}" for m in methods))
        for metric, label in (("SIR", "SIR avg"), ("SAR", "SAR avg"), ("global_SDR", "globalSDR")):
            lines.append(f"{label:<12}" + "".join(f"{self.summary(m, metric)['avg']:>{width}.2f}" for m in methods))
        if any("mir_eval_SDR" in stems[s] for m in methods for stems in self.per_track[m].values() for s in stems):
            lines += ["", "mir_eval SDR (BSS Eval v3, whole track, mono; median over tracks)", head, "-" * len(head)]
            mir = {m: self.summary(m, "mir_eval_SDR") for m in methods}
            lines += [f"{r:<12}" + "".join(f"{mir[m][r]:>{width}.2f}" for m in methods) for r in rows]
            lines.append("")
        if self.timing:
            lines.append(f"{'x realtime':<12}" + "".join(
                f"{self.timing.get(m, {}).get('realtime_factor', float('nan')):>{width}.1f}" for m in methods))
            lines.append(f"{'peak MB':<12}" + "".join(
                f"{self.timing.get(m, {}).get('peak_rss_mb', float('nan')):>{width}.0f}" for m in methods))
        return "\n".join(lines)


def _rounded(d: dict[str, float]) -> dict[str, float | None]:
    return {k: (round(v, 4) if np.isfinite(v) else None) for k, v in d.items()}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux's VmHWM belongs to the current program image; ``ru_maxrss`` would carry over the parent's
    peak into a freshly spawned (fork + exec) worker.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Start a new peak-memory measurement in this process; False where the system cannot.

    Linux resets the peak (VmHWM) to the current resident size when ``5`` is written to
    ``/proc/self/clear_refs``; the peak read after a method has run is then that method's.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@dataclass(frozen=True)
class MethodSpec:
    """A method under a label, with separator options: ``MethodSpec("nmf-supervised", "nmf", (("variant", "supervised"),))``."""

    label: str
    method: str
    options: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, spec: "str | MethodSpec") -> "MethodSpec":
        return spec if isinstance(spec, MethodSpec) else cls(spec, spec)


_SEPARATORS: dict[MethodSpec, object] = {}


def build_separator(spec: MethodSpec):
    """One separator per spec and process (models load once), warmed up so that the first track's
    timing is not charged for one-off start-up work."""
    if spec not in _SEPARATORS:
        separator = get_separator(spec.method, **dict(spec.options))
        separator.warm_up()
        _SEPARATORS[spec] = separator
    return _SEPARATORS[spec]


def run_separator(separator, mixture: np.ndarray, targets: dict[str, np.ndarray], rate: int) -> dict[str, np.ndarray]:
    """Separate one track; oracle methods see the true stems and the whole track at once."""
    if separator.needs_references:
        return separator.separate_with_references(mixture, rate, targets)
    return separate(separator, mixture, rate)


def _track_job(spec: MethodSpec, mixture: np.ndarray, targets: dict[str, np.ndarray], rate: int,
               with_mir_eval: bool = False):
    measured = reset_peak_rss()
    separator = build_separator(spec)
    start = time.perf_counter()
    estimates = run_separator(separator, mixture, targets, rate)
    wall = time.perf_counter() - start
    peak = peak_rss_mb() if measured else float("nan")  # before scoring: museval's memory is not the method's
    return score_track(targets, estimates, rate, with_mir_eval), wall, peak


def _single_thread_worker() -> None:
    import torch

    torch.set_num_threads(1)  # the processes share the cores; one thread each avoids oversubscription


def evaluate(methods: Sequence[str | MethodSpec], tracks: Sequence[Track], jobs: int = 1, log=None,
             with_mir_eval: bool = False, pool=None) -> Report:
    """Separate every track with every method and score it; ``jobs`` processes work in parallel,
    or the tasks go to ``pool`` (a :class:`musicsep.distributed.RayPool`: one task per method and track).

    Timing here is the separation wall time; with ``jobs > 1`` or a pool the tasks disturb each other
    (``musicsep compare`` times each method alone in a fresh process). Peak memory is measured per
    method: the peak resident size of the process that separated, from the start of each of the
    method's tracks (model loading included) to its end, the largest over tracks. It includes what
    the process held before (interpreter, libraries, other methods' models already loaded); NaN
    where the system cannot restart the measurement (not Linux).
    """
    if not tracks:
        raise UserError("no tracks to evaluate")
    specs = [MethodSpec.of(m) for m in methods]
    report = Report(tracks=[t.name for t in tracks])
    walls = {s.label: 0.0 for s in specs}
    seconds = 0.0
    results: dict[tuple[str, str], object] = {}
    if pool is None and jobs > 1:
        import multiprocessing

        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_single_thread_worker)
    # Bound what is in flight: a process pool finishes a track's jobs before the next track loads;
    # a Ray pool keeps as many tracks going as its cluster has room for.
    window = getattr(pool, "tracks_in_flight", 1)
    share = getattr(pool, "share", lambda value: value)  # Ray: each track's audio into the object store once
    in_flight: list[Track] = []

    def finish(track: Track) -> None:
        for spec in specs:
            results[spec.label, track.name] = results[spec.label, track.name].result()
            if log:
                log(f"{spec.label}: {track.name}")

    try:
        for track in tracks:
            mixture, targets = track.mixture, track.targets
            seconds += len(mixture) / track.rate
            if pool:
                mixture, targets = share(mixture), share(targets)
            for spec in specs:
                if pool:
                    results[spec.label, track.name] = pool.submit(_track_job, spec, mixture, targets, track.rate, with_mir_eval)
                else:
                    results[spec.label, track.name] = _track_job(spec, mixture, targets, track.rate, with_mir_eval)
                    if log:
                        log(f"{spec.label}: {track.name}")
            track.unload()
            if pool:
                in_flight.append(track)
                while len(in_flight) >= window:
                    finish(in_flight.pop(0))
        for track in in_flight:
            finish(track)
    finally:
        if pool:
            pool.shutdown()
    for spec in specs:
        report.per_track[spec.label] = {}
        peaks = []
        for track in tracks:
            scores, wall, peak = results[spec.label, track.name]
            report.per_track[spec.label][track.name] = scores
            walls[spec.label] += wall
            peaks.append(peak)
        report.timing[spec.label] = {"realtime_factor": seconds / max(walls[spec.label], 1e-9),
                                     "peak_rss_mb": max(peaks)}
    return report


def write_report(report: Report, json_path: str | None = None, csv_path: str | None = None) -> None:
    """Write ``--json`` / ``--csv`` outputs atomically."""
    for path, text in ((json_path, lambda: json.dumps(report.to_json(), indent=2)), (csv_path, report.to_csv)):
        if path:
            target = Path(path)
            if not target.parent.is_dir():
                raise UserError(f"cannot write {target}: folder {target.parent} does not exist")
            with atomic_output(target) as tmp:
                tmp.write_text(text() + ("\n" if path == json_path else ""))
