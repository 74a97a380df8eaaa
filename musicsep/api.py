"""The Python API: the one door for separating, used by ``musicsep separate`` and the web page too.

    from musicsep.api import Separator

    separator = Separator("unet")                            # the shipped U-Net
    stems = separator.separate_array(audio, 44100)           # {"drums": (samples, 2) float32, ...}
    paths = separator.separate_file("song.mp3", "separated")  # {"drums": Path("separated/song/drums.wav"), ...}

``Separator(method, model=PATH, wiener=N, options={...})`` names another checkpoint, the Wiener
iterations and a method's other options (:func:`list_methods` says which exist);
``two_stems="vocals"`` gives ``vocals`` and ``no_vocals`` instead of four stems. Bad input of any
kind is a :class:`musicsep.errors.UserError` with a message fit to show a user.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.errors import UserError
from musicsep.separators import base

# progress(samples done, total samples or None when the length is not known in advance)
Progress = Callable[[int, "int | None"], None]

OUTPUT_BITS = {"wav": {"16": "PCM_16", "24": "PCM_24", "32": "FLOAT"}, "flac": {"16": "PCM_16", "24": "PCM_24"}}
DEFAULT_BITS = {"wav": "32", "flac": "24"}
BACKENDS = ("torch", "onnx")  # what runs the U-Net's network: PyTorch, or onnxruntime on its ONNX export


class ClippingWarning(UserWarning):
    """Samples beyond full scale were clipped when writing integer (16/24-bit) stems."""


# --- methods and their options ---------------------------------------------------------------

@dataclass(frozen=True)
class MethodSummary:
    """What :func:`list_methods` tells about a method."""

    name: str
    description: str
    model: Path | None          # the model file it loads by default (None: it has none)
    options: tuple[str, ...]    # what ``options={...}`` / ``-O key=value`` may set


def list_methods() -> list[MethodSummary]:
    """The methods a user can separate with, in registry order (simplest first)."""
    return [MethodSummary(name, info.description, base.shipped_model(info.model_file) if info.model_file else None,
                          tuple(info.options))
            for name, info in base.METHODS.items()]


def default_method() -> str:
    return "unet" if "unet" in base.METHODS else "bandpass"


def _typed(method: str, key: str, value: object, kind: type) -> object:
    """``value`` (a string from the command line, or a Python value) as ``kind``; else a UserError."""
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        if kind is bool:
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
        else:
            try:
                value = kind(text)
            except ValueError:
                pass
            else:
                if kind is int or np.isfinite(value):
                    return value
        raise UserError(f"option {key} of {method} must be {kind.__name__}, not {value!r}")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"option {key} of {method} must be {kind.__name__}, not {value!r}")
    return value


def parse_option_pairs(pairs: Sequence[str] | None) -> dict[str, str]:
    """``["n_iter=40", "variant=supervised"]`` -> ``{"n_iter": "40", "variant": "supervised"}``."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"method options are KEY=VALUE, not {pair!r}")
        out[key.strip()] = value
    return out


def method_options(method: str, model: str | os.PathLike | None = None, wiener: int | None = None,
                   options: Mapping[str, object] | None = None) -> dict[str, object]:
    """The keyword arguments that build ``method``'s separator, checked against what it declares.

    ``model`` and ``wiener`` are shorthands for the options ``model_path`` and ``wiener_iterations``;
    string values (from the command line) are converted to the declared types.
    """
    info = base.method_info(method)
    wanted = dict(options or {})
    if model is not None:
        if "model_path" not in info.options:
            raise UserError(f"method {method} takes no model file" if info.model_file is None else
                            f"method {method} only loads its shipped model ({info.model_file})")
        wanted["model_path"] = os.fspath(model)
    if wiener is not None:
        if "wiener_iterations" not in info.options:
            raise UserError(f"method {method} has no Wiener filter")
        wanted["wiener_iterations"] = wiener
    unknown = [k for k in wanted if k not in info.options]
    if unknown:
        known = ", ".join(info.options) or "none"
        raise UserError(f"method {method} has no option {unknown[0]!r} (its options: {known})")
    typed = {k: _typed(method, k, v, info.options[k]) for k, v in wanted.items()}
    if "model_path" in typed and not Path(str(typed["model_path"])).is_file():
        raise UserError(f"model file not found: {typed['model_path']}")
    if typed.get("wiener_iterations", 0) < 0:
        raise UserError("Wiener iterations must be 0 or more")
    return typed


# --- stems ----------------------------------------------------------------------------------------

def output_names(two_stems: str | None) -> list[str]:
    """The stems written: the four sources, or ``[two_stems, "no_" + two_stems]``."""
    return [two_stems, f"no_{two_stems}"] if two_stems else list(SOURCES)


def merge_two_stems(stems: Mapping[str, np.ndarray], two_stems: str | None) -> dict[str, np.ndarray]:
    """Four stems as they are, or ``{two_stems: ..., "no_" + two_stems: the sum of the others}``."""
    if not two_stems:
        return dict(stems)
    rest = sum(v for k, v in stems.items() if k != two_stems)
    return {two_stems: stems[two_stems], f"no_{two_stems}": np.asarray(rest, dtype=np.float32)}


def output_folder_name(path: Path) -> str:
    """The folder of a file's stems: the whole file name but its last extension
    (``a.b.c.wav`` -> ``a.b.c``, ``.hidden.wav`` -> ``.hidden``)."""
    name = path.name
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem.strip(".") else name  # never "" or "." or "..": always a folder of its own


def output_subtype(fmt: str, bits: str | int | None) -> str:
    """soundfile's sample format for ``fmt`` at ``bits`` (None: the format's default)."""
    if fmt not in OUTPUT_BITS:
        raise UserError(f"unknown output format {fmt!r}; choose from {', '.join(OUTPUT_BITS)}")
    bits = str(bits) if bits is not None else DEFAULT_BITS[fmt]
    if bits not in OUTPUT_BITS[fmt]:
        raise UserError(f"--format {fmt} cannot store --bits {bits}; choose {' or '.join(OUTPUT_BITS[fmt])}")
    return OUTPUT_BITS[fmt][bits]


# --- the separator ----------------------------------------------------------------------------

class Separator:
    """A method with its model and options, ready to separate arrays and files.

    Parameters
    ----------
    method : a name from :func:`list_methods` (``"unet"``, ``"forest"``, ``"nmf"``, ``"bandpass"``).
    model : another model file for the method (a U-Net checkpoint for ``"unet"``; it is read with
        ``torch.load(weights_only=True)``, so a file from elsewhere cannot run code).
    wiener : multichannel Wiener filter iterations after the masks (default: the method's own).
    options : the method's other options, e.g. ``{"variant": "supervised"}`` for ``"nmf"``.
    device : ``"cpu"``, or ``"cuda"`` for the U-Net.
    two_stems : a source name: write that stem and ``no_<name>`` (everything else) only.
    backend : ``"torch"`` (default) or ``"onnx"``: onnxruntime runs the U-Net's network, exported to
        ONNX on first use and cached (``musicsep export``); the U-Net only.
    chunk_seconds : length of the overlapping windows long audio is cut into (default: the method's).
    """

    def __init__(self, method: str = "unet", model: str | os.PathLike | None = None, wiener: int | None = None,
                 options: Mapping[str, object] | None = None, device: str = "cpu", two_stems: str | None = None,
                 backend: str = "torch", chunk_seconds: float | None = None):
        if method not in base.METHODS:
            raise UserError(f"unknown method {method!r}; choose from {', '.join(base.METHODS)}")
        if backend not in BACKENDS:
            raise UserError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        kwargs = method_options(method, model, wiener, options)
        if backend != "torch":
            if method != "unet":
                raise UserError(f"backend {backend!r} runs the U-Net only, not {method}")
            kwargs["backend"] = backend
        if device != "cpu":
            if "device" not in base.METHODS[method].options:
                raise UserError(f"method {method} runs on the CPU only")
            kwargs["device"] = device
        self._setup(method, base.get_separator(method, **kwargs), two_stems, chunk_seconds)

    @classmethod
    def around(cls, core: base.Separator, method: str, two_stems: str | None = None,
               chunk_seconds: float | None = None) -> "Separator":
        """A Separator for a separator object already built (any object under the contract)."""
        self = cls.__new__(cls)
        self._setup(method, core, two_stems, chunk_seconds)
        return self

    def _setup(self, method: str, core: base.Separator, two_stems: str | None, chunk_seconds: float | None) -> None:
        if two_stems is not None and two_stems not in core.sources:
            raise UserError(f"two-stem mode needs one of {', '.join(core.sources)}, not {two_stems!r}")
        if chunk_seconds is not None and not (np.isfinite(chunk_seconds) and chunk_seconds > 0):
            raise UserError(f"chunk seconds must be a positive number, not {chunk_seconds!r}")
        self.method, self.core, self.two_stems, self.chunk_seconds = method, core, two_stems, chunk_seconds

    def __repr__(self) -> str:
        return f"Separator({self.method!r}, two_stems={self.two_stems!r})"

    @property
    def stem_names(self) -> list[str]:
        """The names of the stems this separator returns, in order."""
        return output_names(self.two_stems) if self.two_stems else list(self.core.sources)

    # --- arrays -----------------------------------------------------------------------------------

    def separate_array(self, audio: np.ndarray, sample_rate: int, progress: Progress | None = None,
                       ) -> dict[str, np.ndarray]:
        """Separate audio in memory: ``(samples,)`` or ``(samples, channels)`` at any sample rate.

        Returns ``{stem: float32 array}`` at the input's sample rate and length; mono in, mono out
        (of the input's shape); more than two channels are down-mixed to stereo first.
        """
        from musicsep.audio import to_stereo
        from musicsep.inference import separate

        x = np.asarray(audio, dtype=np.float32)
        if x.ndim not in (1, 2) or (x.ndim == 2 and x.shape[1] == 0):
            raise UserError(f"audio must be (samples,) or (samples, channels), got shape {x.shape}")
        if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
            raise UserError(f"sample rate must be a positive whole number of Hz, not {sample_rate!r}")
        if not np.isfinite(x).all():
            raise UserError("audio contains NaN or infinite samples")
        n = len(x)
        if n == 0:
            return {name: x.copy() for name in self.stem_names}
        stereo = to_stereo(x[:, None] if x.ndim == 1 else x)
        if sample_rate != SAMPLE_RATE:
            stereo = _resample(stereo, sample_rate, SAMPLE_RATE)
        stems = separate(self.core, stereo, SAMPLE_RATE, self.chunk_seconds, progress=progress)
        out = {}
        for name, v in merge_two_stems(stems, self.two_stems).items():
            if sample_rate != SAMPLE_RATE:
                v = _fit_length(_resample(v, SAMPLE_RATE, sample_rate), n)
            if x.ndim == 1 or x.shape[1] == 1:
                v = v.mean(axis=1, keepdims=x.ndim == 2)
            out[name] = np.ascontiguousarray(v, dtype=np.float32)
        return out

    def warm_up(self) -> None:
        """Do the one-off start-up work (compiling kernels) now, so the first song does not wait for it."""
        self.core.warm_up()

    # --- files ------------------------------------------------------------------------------------

    def output_paths(self, path: str | os.PathLike, out_dir: str | os.PathLike, format: str = "wav",
                     ) -> dict[str, Path]:
        """Where :meth:`separate_file` writes each stem of ``path``: ``out_dir/<file name>/<stem>.<format>``
        (as ``musicsep separate -o out_dir``)."""
        folder = Path(out_dir) / output_folder_name(Path(path))
        return {n: folder / f"{n}.{format}" for n in self.stem_names}

    def check_outputs(self, path: str | os.PathLike, out_dir: str | os.PathLike, format: str = "wav",
                      overwrite: bool = False, inputs: Sequence[str | os.PathLike] = ()) -> dict[str, Path]:
        """The output paths, or a UserError if one is the input (or one of ``inputs``: the other files
        of the same run), under any name, or (without ``overwrite``) an existing file, or a stem that
        another run is writing now. ``.part`` files that killed runs left for these stems are removed."""
        from musicsep.audio import remove_stale_part

        protected = {_file_id(Path(p)): Path(p) for p in (path, *inputs)}
        protected.pop(None, None)
        targets = self.output_paths(path, out_dir, format)
        for t in targets.values():
            if _file_id(t) in protected:  # the same file, under any name (a link, ../, a hard link)
                raise UserError(f"output {t} would overwrite the input {protected[_file_id(t)]}; choose another -o")
            if t.exists() and not overwrite:
                raise UserError(f"{t} already exists; use --overwrite to replace it or -o for another folder")
            remove_stale_part(t)
        return targets

    def separate_file(self, path: str | os.PathLike, out_dir: str | os.PathLike, format: str = "wav",
                      bits: str | int | None = None, overwrite: bool = False,
                      progress: Progress | None = None) -> dict[str, Path]:
        """Separate an audio or video file into ``out_dir/<file name>/<stem>.<format>`` (the layout of
        ``musicsep separate``); returns the stems' paths.

        The file is streamed (memory does not grow with its length); each stem appears under its
        name only once complete, and an existing file is never replaced unless ``overwrite``. If it
        fails, nothing is left behind: no stem, no partial file, no folder it created. Integer
        formats clip samples beyond full scale, with a :class:`ClippingWarning`.
        """
        from musicsep.audio import AudioWriter, audio_info, iter_audio_blocks
        from musicsep.inference import separate_stream

        path = Path(path)
        subtype = output_subtype(format, bits)
        targets = self.check_outputs(path, out_dir, format, overwrite)
        out_dir = next(iter(targets.values())).parent
        info = audio_info(path)
        total = int(info.duration * SAMPLE_RATE) if info.duration else None
        # The folders this run creates, deepest first: removed again (if still empty) when it fails.
        created = [d for d in (out_dir, *out_dir.parents) if not d.exists()]
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create output folder {out_dir}: {exc.strerror or exc}") from None
        integer = subtype != "FLOAT"
        clipped = done = 0
        try:
            with contextlib.ExitStack() as stack:
                with _signals_held():
                    writers = {n: stack.enter_context(AudioWriter(t, SAMPLE_RATE, 2, format, subtype,
                                                                  overwrite=overwrite))
                               for n, t in targets.items()}
                for stems in separate_stream(self.core, iter_audio_blocks(path), SAMPLE_RATE, self.chunk_seconds):
                    stems = merge_two_stems(stems, self.two_stems)
                    for n in targets:
                        block = stems[n]
                        if integer:
                            clipped += int(np.count_nonzero(np.abs(block) > 1.0))
                            block = np.clip(block, -1.0, 1.0)
                        writers[n].write(block)
                    done += len(next(iter(stems.values())))
                    if progress is not None:
                        progress(done, total)
        except BaseException:
            for folder in created:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if empty: never removes anything but our own new folders
            raise
        if clipped:
            warnings.warn(f"{clipped} samples beyond full scale were clipped; 32-bit float (--bits 32) keeps them",
                          ClippingWarning, stacklevel=2)
        return targets


@contextlib.contextmanager
def _signals_held():
    """Hold SIGTERM and SIGHUP back while the stems' ``.part`` files are created: the command line turns
    them into an exception, which must not strike between a file's creation and the registration of its
    clean-up. Held signals arrive as soon as the block ends, when every file is in the clean-up's hands."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _file_id(path: Path) -> tuple[int, int] | None:
    """What identifies a file whatever its name (device, inode); None if there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    import soxr

    return soxr.resample(np.ascontiguousarray(audio, dtype=np.float32), rate_in, rate_out, quality="HQ")


def _fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    """Cut or zero-pad ``(samples, channels)`` to ``n`` samples (resampling rounds the length)."""
    if len(audio) >= n:
        return audio[:n]
    return np.pad(audio, ((0, n - len(audio)), (0, 0)))
