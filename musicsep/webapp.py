"""What the Streamlit page (``app.py``) needs, as plain functions that can be tested without a browser.

The page itself only lays out widgets; everything it shows comes from here:

- :func:`method_choices` / :func:`method_label`: the registered methods, best first, with friendly names;
- :func:`upload_key`: the key that lets a page rerun reuse a finished separation;
- :func:`separate_upload`: an uploaded file's bytes -> a :class:`SeparationResult` holding each stem
  as WAV bytes plus a small picture, with a progress callback; all bad input is a :class:`UserError`;
- :class:`SeparationResult.zip_bytes`: every stem in one zip.

An upload's own name never decides where anything is written: the bytes go to a fixed name
(``upload`` + the extension, only if it is a known audio extension) in a fresh temporary folder,
which is removed when the separation ends, whether it worked or not.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, Mapping, TypeVar

import numpy as np
import soundfile as sf

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.audio import AUDIO_EXTENSIONS, audio_info, iter_audio_blocks
from musicsep.api import Separator, default_method, merge_two_stems
from musicsep.errors import UserError
from musicsep.separators.base import METHODS

DEFAULT_MAX_MINUTES = 15.0
MAX_MINUTES_ENV = "MUSICSEP_MAX_MINUTES"
DEFAULT_STALL_SECONDS = 120.0  # a separation reports progress every few seconds; this long without is stuck
STALL_SECONDS_ENV = "MUSICSEP_STALL_SECONDS"
SILENCE_PEAK = 1e-4  # -80 dBFS: below this everywhere, there is nothing to separate

# Best first: the order of the method choice on the page. Unknown (newly registered) methods follow.
METHOD_LABELS: dict[str, str] = {
    "unet": "U-Net — best quality (Stage 4)",
    "forest": "Random-forest masks (Stage 3)",
    "nmf": "NMF spectrogram masking (Stage 2)",
    "bandpass": "Frequency bands — fastest (Stage 1)",
}
METHOD_NOTES: dict[str, str] = {
    "unet": "A neural network trained on multitrack songs. The cleanest stems, and faster than NMF or the forest.",
    "forest": "A random forest predicts a mask for every time-frequency bin.",
    "nmf": "Splits the spectrogram into repeating parts, then masks it.",
    "bandpass": "Splits by frequency range. Instant, but rough.",
}
STEM_LABELS: dict[str, str] = {
    "drums": "Drums", "bass": "Bass", "other": "Other", "vocals": "Vocals",
    "no_vocals": "Accompaniment (no vocals)",
}
STEM_COLORS: dict[str, str] = {
    "drums": "#e4572e", "bass": "#4c72b0", "other": "#55a868", "vocals": "#c44e9f",
    "no_vocals": "#8172b2", "mixture": "#555555",
}

ProgressCallback = Callable[[float, str], None]


# --- choices and limits -----------------------------------------------------------------------

def method_choices(methods: Mapping[str, str] | None = None) -> list[str]:
    """Registered method names, best first (the U-Net, when there is one, is the first)."""
    methods = METHODS if methods is None else methods
    known = [m for m in METHOD_LABELS if m in methods]
    return known + [m for m in methods if m not in METHOD_LABELS]


def default_method_index(choices: list[str]) -> int:
    """Position of the default method (the U-Net when registered) in ``choices``."""
    preferred = default_method()
    return choices.index(preferred) if preferred in choices else 0


def method_label(name: str) -> str:
    return METHOD_LABELS.get(name, name)


def method_note(name: str) -> str:
    return METHOD_NOTES.get(name, "")


def stem_label(name: str) -> str:
    return STEM_LABELS.get(name, name.replace("_", " ").capitalize())


def max_minutes(environ: Mapping[str, str] | None = None) -> float:
    """The longest song the page accepts, in minutes: ``$MUSICSEP_MAX_MINUTES`` or 15."""
    environ = os.environ if environ is None else environ
    raw = environ.get(MAX_MINUTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_MINUTES
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise UserError(f"{MAX_MINUTES_ENV} must be a positive number of minutes, not {raw!r}")
    return value


def format_duration(seconds: float) -> str:
    """``83.4`` -> ``"1:23"``; ``3725`` -> ``"1:02:05"``."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_minutes(minutes: float) -> str:
    return f"{minutes:g} minute" + ("" if minutes == 1 else "s")


def plain(text: str) -> str:
    """``text`` escaped for Streamlit's markdown, so a file name like ``*a*_[b](c).wav`` shows as typed."""
    return re.sub(r"([\\`*_{}\[\]()#+!|<>~$])", r"\\\1", text)


def upload_suffix(file_name: str) -> str:
    """The upload's extension, lower case, if it is a known audio/video one; else a :class:`UserError`."""
    suffix = Path(file_name or "").suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        kinds = ", ".join(e.lstrip(".") for e in AUDIO_EXTENSIONS)
        raise UserError(f"“{file_name}” is not an audio or video file this page can read ({kinds}).")
    return suffix


def safe_name(file_name: str, default: str = "song") -> str:
    """A download-friendly base name from an upload's name: ``"My Song (live).mp3"`` -> ``"My_Song_live"``."""
    stem = Path(file_name or "").name.split(".")[0]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")[:60]
    return stem or default


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def result_key(digest: str, method: str, two_stems: str | None) -> str:
    return f"{digest}:{method}:{two_stems or 'all'}"


def upload_key(data: bytes, method: str, two_stems: str | None) -> str:
    """Same bytes, same method, same mode -> same key (so a page rerun reuses the result)."""
    return result_key(content_hash(data), method, two_stems)


# --- the separation ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Stem:
    name: str
    wav: bytes      # 16-bit PCM WAV, stereo, 44.1 kHz
    picture: bytes  # PNG: waveform and spectrogram

    @property
    def label(self) -> str:
        return stem_label(self.name)


@dataclass(frozen=True)
class SeparationResult:
    file_name: str          # the upload's name, for display and download names only
    method: str
    two_stems: str | None
    sample_rate: int        # the input's own rate (the stems are at 44.1 kHz)
    channels: int
    duration: float         # seconds
    seconds_taken: float    # wall time of the separation itself
    total_seconds: float    # wall time of everything: reading, separating, pictures, encoding
    stems: tuple[Stem, ...]
    mixture_picture: bytes

    @property
    def base_name(self) -> str:
        return safe_name(self.file_name)

    def stem_file_name(self, stem: Stem) -> str:
        return f"{self.base_name}_{stem.name}.wav"

    @property
    def zip_name(self) -> str:
        return f"{self.base_name}_stems.zip"

    def zip_bytes(self) -> bytes:
        return build_zip({f"{s.name}.wav": s.wav for s in self.stems}, folder=self.base_name)

    @property
    def realtime_factor(self) -> float:
        return self.duration / max(self.seconds_taken, 1e-9)


def build_zip(files: Mapping[str, bytes], folder: str = "") -> bytes:
    """A zip of ``{name: bytes}``, inside ``folder/`` when given. Audio barely compresses: stored."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}" if folder else name, data)
    return buffer.getvalue()


def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Float ``(samples, channels)`` -> 16-bit PCM WAV bytes (clipped to full scale)."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), sample_rate,
             subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def _unreadable(exc: UserError, path: Path, file_name: str) -> UserError:
    """audio.py's message, about our temporary path, turned into one about the file the user chose."""
    detail = str(exc).replace(f": {path}", "").replace(str(path), "the file").rstrip(".")
    detail = "" if detail.startswith("not a readable audio file") else f" ({detail})"
    return UserError(f"“{file_name}” cannot be read as audio{detail}. Please choose a song, "
                     "or a video with a sound track.")


def load_upload(path: Path, file_name: str, limit_minutes: float,
                progress: ProgressCallback | None = None) -> tuple[np.ndarray, int, int]:
    """Decode the file at ``path``: ``(mixture (samples, 2) float32 at 44.1 kHz, its rate, channels)``.

    Decoding stops as soon as the song proves longer than ``limit_minutes`` (memory stays bounded even
    when the container does not state its length). Raises :class:`UserError` for unreadable, too long
    or silent audio; the message names ``file_name``, never the temporary path.
    """
    limit_samples = int(limit_minutes * 60 * SAMPLE_RATE) + SAMPLE_RATE  # a second of slack for rounding
    too_long = UserError(f"“{file_name}” is longer than {format_minutes(limit_minutes)}, the limit of this "
                         f"page. Trim it, or use the command line (musicsep separate), which has no limit.")
    try:
        info = audio_info(path)
        if info.duration is not None and info.duration * SAMPLE_RATE > limit_samples:
            raise too_long
        expected = info.duration * SAMPLE_RATE if info.duration else None
        blocks, total = [], 0
        for block in iter_audio_blocks(path, block_seconds=10.0):
            blocks.append(block)
            total += len(block)
            if total > limit_samples:
                raise too_long
            if progress is not None:  # also when the length is unknown: the queue's watchdog hears we are alive
                progress(min(1.0, total / expected) if expected else 0.0, "Reading the file…")
    except UserError as exc:
        if exc is too_long:
            raise
        raise _unreadable(exc, path, file_name) from None
    mixture = np.concatenate(blocks, axis=0)
    if float(np.max(np.abs(mixture))) < SILENCE_PEAK:
        raise UserError(f"“{file_name}” is silent: there is nothing to separate.")
    return mixture, info.sample_rate, info.channels


def separate_upload(data: bytes, file_name: str, separator: Separator, two_stems: str | None = None,
                    progress: ProgressCallback | None = None, limit_minutes: float | None = None,
                    pictures: bool = True) -> SeparationResult:
    """Separate an uploaded file's bytes into stems (WAV bytes + pictures) with ``separator``.

    ``progress(fraction, text)`` is called as the work goes on: reading is the first 5 %,
    the separation up to 90 %, the pictures and WAV encoding the rest. Any problem with the
    input is a :class:`UserError` whose message can be shown to the user as it is.
    """
    method = separator.method
    if two_stems is not None and two_stems not in SOURCES:
        raise UserError(f"two-stem mode needs one of {', '.join(SOURCES)}, not {two_stems!r}")
    if not data:
        raise UserError(f"“{file_name}” is empty.")
    limit = max_minutes() if limit_minutes is None else limit_minutes
    began = time.perf_counter()
    report = progress or (lambda fraction, text: None)
    suffix = upload_suffix(file_name)
    with tempfile.TemporaryDirectory(prefix="musicsep-web-") as work:
        path = Path(work) / f"upload{suffix}"
        path.write_bytes(data)
        report(0.0, "Reading the file…")
        mixture, rate, channels = load_upload(path, file_name, limit,
                                              lambda f, text: report(0.05 * f, text))
    duration = len(mixture) / SAMPLE_RATE
    report(0.05, "Separating…")
    start = time.perf_counter()
    try:
        stems = separator.separate_array(
            mixture, SAMPLE_RATE,
            progress=lambda done, total: report(0.05 + 0.85 * done / total, f"Separating… {done / total:.0%}"))
    except UserError as exc:  # the input was fine by now: this is about the method (e.g. an untrained model)
        raise UserError(f"{method_label(method)} could not separate this song: {exc}. "
                        "Please choose another method.") from None
    seconds_taken = time.perf_counter() - start
    stems = merge_two_stems(stems, two_stems)
    out: list[Stem] = []
    scale = float(np.max(np.abs(mixture)))
    for i, (name, audio) in enumerate(stems.items()):
        report(0.9 + 0.1 * i / len(stems), "Preparing the players…")
        picture = stem_picture(audio, SAMPLE_RATE, STEM_COLORS.get(name, "#333333"), scale) if pictures else b""
        out.append(Stem(name, wav_bytes(audio), picture))
    mixture_picture = stem_picture(mixture, SAMPLE_RATE, STEM_COLORS["mixture"], scale) if pictures else b""
    report(1.0, "Done")
    return SeparationResult(file_name=file_name, method=method, two_stems=two_stems, sample_rate=rate,
                            channels=channels, duration=duration, seconds_taken=seconds_taken,
                            total_seconds=time.perf_counter() - began,
                            stems=tuple(out), mixture_picture=mixture_picture)


# --- one separation at a time, with a watchdog ------------------------------------------------

T = TypeVar("T")
QUEUE_WAIT_TEXT = "Another song is being separated on this server; yours is next…"
STUCK_MESSAGE = ("Separating this file stopped making progress, so it was given up. The file may be damaged: "
                 "please try another file, or the command line (musicsep separate).")


class Stopped(Exception):
    """Raised inside a job's progress report once the watchdog has given the job up."""


def stall_seconds(environ: Mapping[str, str] | None = None) -> float:
    """How long a separation may go without reporting progress: ``$MUSICSEP_STALL_SECONDS`` or 120."""
    environ = os.environ if environ is None else environ
    raw = environ.get(STALL_SECONDS_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_STALL_SECONDS
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise UserError(f"{STALL_SECONDS_ENV} must be a positive number of seconds, not {raw!r}")
    return value


class Job(Generic[T]):
    """One separation running in a thread of its own: its latest progress, and its outcome."""

    def __init__(self, work: Callable[[ProgressCallback], T]):
        self.fraction, self.text = 0.0, "Starting…"
        self.last_report = time.monotonic()
        self.done = threading.Event()
        self.given_up = threading.Event()
        self._work = work
        self._result: T | None = None
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="musicsep-separation", daemon=True)

    def report(self, fraction: float, text: str) -> None:
        if self.given_up.is_set():
            raise Stopped()
        self.fraction, self.text, self.last_report = fraction, text, time.monotonic()

    def _run(self) -> None:
        try:
            self._result = self._work(self.report)
        except BaseException as exc:  # handed to the waiting page, which shows it
            self._error = exc
        finally:
            self.done.set()

    def stalled(self, limit: float) -> bool:
        return not self.done.is_set() and time.monotonic() - self.last_report > limit

    def outcome(self) -> T:
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


class SeparationQueue:
    """Separations run one at a time on a server (two at once would only slow both down), each in a
    thread of its own, watched: a job that reports no progress for ``stall_limit`` seconds (a decoder
    that hangs on a damaged file, say) is given up — its visitor gets :data:`STUCK_MESSAGE`, the job is
    told to stop at its next report, and the next visitor in line goes ahead without waiting for it.
    """

    def __init__(self, stall_limit: float = DEFAULT_STALL_SECONDS, poll_seconds: float = 0.2):
        self.stall_limit = stall_limit
        self.poll_seconds = poll_seconds
        self._changed = threading.Condition()
        self._running: Job | None = None

    def run(self, work: Callable[[ProgressCallback], T], show: ProgressCallback) -> T:
        """Wait for our turn, run ``work(progress)`` and return what it returns (or raise what it raises).

        ``show(fraction, text)`` is called from this (the caller's) thread only, while waiting in line
        and as the job reports progress. Raises :class:`UserError` with :data:`STUCK_MESSAGE` when the
        watchdog gives the job up.
        """
        job: Job[T] = Job(work)
        with self._changed:
            if self._running is not None:
                show(0.0, QUEUE_WAIT_TEXT)
            while self._running is not None and not self._running.stalled(self.stall_limit):
                self._changed.wait(self.poll_seconds)
            if self._running is not None:  # stuck: let it go on alone, told to stop
                self._running.given_up.set()
            self._running = job
        job.thread.start()
        try:
            shown = None
            while not job.done.wait(self.poll_seconds):
                if job.stalled(self.stall_limit):
                    raise UserError(STUCK_MESSAGE)
                if (job.fraction, job.text) != shown:
                    shown = (job.fraction, job.text)
                    show(*shown)
            return job.outcome()
        finally:
            if not job.done.is_set():
                job.given_up.set()
            with self._changed:
                if self._running is job:
                    self._running = None
                self._changed.notify_all()


# --- pictures ---------------------------------------------------------------------------------

def _spectrogram(mono: np.ndarray, sample_rate: int, columns: int = 400, n_fft: int = 2048,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """dB magnitudes ``(bins, columns)`` of ``columns`` evenly spaced frames, and the bin frequencies."""
    n = len(mono)
    padded = np.pad(mono, (n_fft // 2, n_fft // 2))
    starts = np.linspace(0, max(len(padded) - n_fft, 0), columns).astype(int)
    frames = np.stack([padded[s:s + n_fft] for s in starts]) if len(padded) >= n_fft else \
        np.pad(padded, (0, n_fft - len(padded)))[None].repeat(columns, 0)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)).T
    db = 20 * np.log10(spectrum + 1e-6)
    return db, np.fft.rfftfreq(n_fft, 1.0 / sample_rate)


def _log_frequency_rows(db: np.ndarray, freqs: np.ndarray, f_low: float, f_high: float,
                        count: int = 96) -> np.ndarray:
    """``(bins, frames)`` -> ``(count, frames)`` on log-spaced bands: the loudest bin of each band
    (the nearest bin where a band is narrower than one)."""
    edges = np.searchsorted(freqs, np.geomspace(f_low, f_high, count + 1))
    last = len(freqs) - 1
    return np.stack([db[a:b].max(axis=0) if b > a else db[min(a, last)]
                     for a, b in zip(edges[:-1], edges[1:])])


def stem_picture(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, color: str = "#333333",
                 scale: float | None = None, width_px: int = 720, height_px: int = 150) -> bytes:
    """A small PNG: the waveform (min/max envelope) above a log-frequency spectrogram.

    ``scale`` is the full-scale amplitude of the waveform plot; passing the mixture's peak to every
    stem keeps the stems comparable (a quiet stem looks quiet).
    """
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in server threads

    audio = np.asarray(audio, dtype=np.float32)
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    duration = len(mono) / sample_rate
    scale = scale or float(np.max(np.abs(mono))) or 1.0

    columns = 600
    edges = np.linspace(0, len(mono), columns + 1).astype(int)
    lo = np.array([mono[a:b].min() if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])])
    hi = np.array([mono[a:b].max() if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])])
    times = np.linspace(0, duration, columns)

    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    wave_ax, spec_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.6], "hspace": 0.06})
    wave_ax.fill_between(times, lo, hi, color=color, linewidth=0.4)
    wave_ax.set_ylim(-scale, scale)
    wave_ax.set_yticks([])
    wave_ax.axhline(0, color=color, linewidth=0.4, alpha=0.5)

    db, freqs = _spectrogram(mono, sample_rate)
    f_low, f_high = 30.0, min(16000.0, sample_rate / 2)
    rows = _log_frequency_rows(db, freqs, f_low, f_high)
    cmap = LinearSegmentedColormap.from_list("stem", ["#ffffff", color, "#1e1e1e"])  # white: silence
    reference = 20 * np.log10(scale * 512 + 1e-6)  # about a full-scale sine's peak bin: same colours for all stems
    spec_ax.imshow(rows, origin="lower", aspect="auto", cmap=cmap, vmin=reference - 75, vmax=reference,
                   extent=(0, duration, np.log10(f_low), np.log10(f_high)), interpolation="nearest")
    spec_ax.set_yticks(np.log10([100, 1000, 10000]), ["100 Hz", "1 kHz", "10 kHz"])
    spec_ax.set_xlim(0, duration)
    for ax in (wave_ax, spec_ax):
        ax.tick_params(labelsize=7, length=2, colors="#555555")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color("#bbbbbb")
    spec_ax.xaxis.set_major_formatter(_time_formatter(duration))
    fig.subplots_adjust(left=0.09, right=0.98, top=0.97, bottom=0.16)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _time_formatter(duration: float):
    """Axis labels: seconds for short clips (``2.5 s``), else minutes (``1:30``)."""
    from matplotlib.ticker import FuncFormatter

    if duration < 20:
        return FuncFormatter(lambda x, _pos: f"{x:g} s" if x >= 0 else "")
    return FuncFormatter(lambda x, _pos: format_duration(x) if x >= 0 else "")
