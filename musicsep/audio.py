"""Reading and writing audio: every format in, float32 ``(samples, channels)`` at 44.1 kHz out.

soundfile (libsndfile) reads wav, flac, ogg and mp3; ffmpeg decodes the rest (mp4, m4a, aac, the
audio stream of a video). Everything is streamed in blocks, so a long file never has to fit in
memory; :func:`read_audio` is simply all the blocks joined. Resampling uses soxr (high quality).

Stems (:class:`AudioWriter`) are written to ``<name>.part``, read back and checked, then placed
without ever replacing a file that is there (unless asked to); a failure removes the ``.part``.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import functools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import soundfile as sf
import soxr

from musicsep import SAMPLE_RATE
from musicsep.errors import UserError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".mp4", ".m4a", ".aac", ".aiff", ".aif", ".opus", ".webm", ".mkv", ".mov")
WRITE_SUBTYPES = {"wav": ("PCM_16", "PCM_24", "FLOAT"), "flac": ("PCM_16", "PCM_24")}
BLOCK_SECONDS = 30.0


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds before any conversion."""

    sample_rate: int
    channels: int
    frames: int | None  # None when the container does not say

    @property
    def duration(self) -> float | None:
        return None if self.frames is None else self.frames / self.sample_rate


ITU_SURROUND = 0.7071  # ITU-R BS.775 down-mix gain of the centre and surround channels (-3 dB)


def to_stereo(block: np.ndarray) -> np.ndarray:
    """Mono is duplicated; 5.1 and 7.1 are down-mixed with the ITU-R BS.775 coefficients.

    5.1 (L R C LFE Ls Rs, the WAV / FLAC / ffmpeg order): L' = L + 0.707 C + 0.707 Ls,
    R' = R + 0.707 C + 0.707 Rs, the LFE dropped; 7.1 (L R C LFE Lb Rb Ls Rs) adds the back pair like
    the side pair. Any other count (3, 4, 5, 7, more than 8, whose layout a file does not reliably
    state): odd channels averaged into the left, even ones into the right.
    """
    channels = block.shape[1]
    if channels == 2:
        return block
    if channels == 1:
        return np.repeat(block, 2, axis=1)
    if channels in (6, 8):
        centre = ITU_SURROUND * block[:, 2]
        left = block[:, 0] + centre + ITU_SURROUND * block[:, 4::2].sum(axis=1)
        right = block[:, 1] + centre + ITU_SURROUND * block[:, 5::2].sum(axis=1)
        return np.stack([left, right], axis=1).astype(block.dtype, copy=False)
    left = block[:, 0::2].mean(axis=1)
    right = block[:, 1::2].mean(axis=1)
    return np.stack([left, right], axis=1)


def _check_path(path: Path) -> None:
    if not path.exists():
        raise UserError(f"input not found: {path}")
    if path.is_dir():
        raise UserError(f"input is a folder, not an audio file: {path}")
    if path.stat().st_size == 0:
        raise UserError(f"input is an empty file: {path}")


def _ffmpeg_binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise UserError(f"{name} is needed to read this file but is not installed (run scripts/setup.sh)")
    return found


def _probe(path: Path) -> AudioInfo:
    """Sample rate, channels and length of the first audio stream, via ffprobe."""
    cmd = [_ffmpeg_binary("ffprobe"), "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=sample_rate,channels,duration", "-of", "json", str(path)]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise UserError(f"reading {path} takes too long (ffprobe gave up after 2 minutes)") from None
    try:
        stream = json.loads(result.stdout)["streams"][0]
        rate, channels = int(stream["sample_rate"]), int(stream["channels"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise UserError(f"not a readable audio file: {path}") from None
    if rate <= 0 or channels <= 0:
        raise UserError(f"not a readable audio file: {path}")
    duration = stream.get("duration")
    frames = int(float(duration) * rate) if duration not in (None, "N/A") else None
    return AudioInfo(rate, channels, frames)


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Sample rate, channel count and length of ``path`` as stored."""
    path = Path(path)
    _check_path(path)
    try:
        info = sf.info(str(path))
        return AudioInfo(info.samplerate, info.channels, info.frames)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return _probe(path)


Warn = Callable[[str], None]


def _wav_declared_frames(path: Path) -> int | None:
    """The frame count a RIFF/WAVE header declares (libsndfile quietly clamps it to what is there).

    None when the file is not a plain WAV or the header leaves the length open (a streamed WAV).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                kind, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if kind == b"fmt ":
                    fmt = f.read(size)
                    block_align = int.from_bytes(fmt[12:14], "little") if len(fmt) >= 14 else None
                    f.seek(size % 2, os.SEEK_CUR)
                elif kind == b"data":
                    if not block_align or size in (0, 0xFFFFFFFF):
                        return None
                    return size // block_align
                else:
                    f.seek(size + size % 2, os.SEEK_CUR)
    except OSError:
        return None


def _soundfile_blocks(path: Path, block_frames: int, warn: Warn) -> Iterator[tuple[np.ndarray, int]]:
    with sf.SoundFile(str(path)) as f:
        declared = _wav_declared_frames(path) if f.format == "WAV" else (None if f.format == "MPEG" else f.frames)
        read = 0
        while True:
            block = f.read(block_frames, dtype="float32", always_2d=True)
            if len(block) == 0:
                break
            read += len(block)
            yield block, f.samplerate
    if declared is not None and read < declared:
        warn(f"{path}: file ends early: {read} of {declared} samples; only those were used")


STDERR_TAIL_BYTES = 4000  # what is kept of a decoder's messages, for the error that names the problem


def _drain(stream, tail: collections.deque) -> None:
    """Read a pipe to its end, keeping its last lines: a decoder that prints thousands of complaints
    about a damaged file must never block on a full pipe while we wait for its audio."""
    size = 0
    for line in iter(stream.readline, b""):
        tail.append(line)
        size += len(line)
        while size > STDERR_TAIL_BYTES and len(tail) > 1:
            size -= len(tail.popleft())


def _wav_length_understated(path: Path) -> bool:
    """A RIFF/WAVE file whose data chunk claims to end before the file does, with no further chunk
    where it claims to end: the length field lies (e.g. a recorder that never finished its header),
    and libsndfile would read only the claimed part."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return False
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, chunk_size = f.read(4), int.from_bytes(f.read(4), "little")
            end = pos + 8 + chunk_size + (chunk_size & 1)
            if chunk_id == b"data":
                if end >= size:
                    return False
                f.seek(end)
                following = f.read(8)
                is_chunk = (len(following) == 8 and all(32 <= b < 127 for b in following[:4])
                            and end + 8 + int.from_bytes(following[4:], "little") <= size)
                return not is_chunk
            pos = end
    return False


def _ffmpeg_blocks(path: Path, block_frames: int, warn: Warn,
                   ignore_length: bool = False) -> Iterator[tuple[np.ndarray, int]]:
    info = _probe(path)
    cmd = [_ffmpeg_binary("ffmpeg"), "-v", "error", "-nostdin", *(("-ignore_length", "1") if ignore_length else ()),
           "-i", str(path), "-map", "0:a:0",
           "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    frame_bytes = 4 * info.channels
    tail: collections.deque[bytes] = collections.deque()
    read = 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        drainer = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
        drainer.start()
        finished = False
        try:
            while True:
                raw = proc.stdout.read(block_frames * frame_bytes)
                usable = len(raw) - len(raw) % frame_bytes
                if usable:
                    read += usable // frame_bytes
                    yield np.frombuffer(raw[:usable], dtype="<f4").reshape(-1, info.channels), info.sample_rate
                if len(raw) < block_frames * frame_bytes:
                    break
            finished = True
        finally:
            if not finished:  # the caller stopped early (an error, a signal): no need to decode the rest
                proc.kill()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            drainer.join(timeout=5)
    if proc.returncode != 0:
        last = next((ln for ln in reversed(tail) if ln.strip()), b"").decode("utf-8", "replace").strip()
        if read == 0:
            raise UserError(f"cannot decode {path}" + (f": {last}" if last else ""))
        warn(f"{path}: the decoder stopped with an error, the audio may end early" + (f" ({last})" if last else ""))


def iter_audio_blocks(path: str | os.PathLike, block_seconds: float = BLOCK_SECONDS,
                      sample_rate: int = SAMPLE_RATE, warn: Warn | None = None) -> Iterator[np.ndarray]:
    """Yield float32 stereo blocks ``(samples, 2)`` at ``sample_rate``, in order, from any file.

    Raises :class:`UserError` for a missing, empty, unreadable or non-finite file. A file that ends
    before the length its header declares is read up to its end and ``warn(message)`` is called
    (default: :func:`warnings.warn`).
    """
    path = Path(path)
    _check_path(path)
    warn = warn or (lambda message: warnings.warn(message, stacklevel=3))
    try:
        with sf.SoundFile(str(path)):
            pass
        reader = _soundfile_blocks
        if _wav_length_understated(path):  # ffmpeg can be told to read on to the end of the file
            reader = functools.partial(_ffmpeg_blocks, ignore_length=True)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        reader = _ffmpeg_blocks
    resampler = None
    total = 0
    try:
        for block, rate in reader(path, max(1, int(block_seconds * 48000)), warn):
            if not np.isfinite(block).all():
                raise UserError(f"input contains NaN or infinite samples: {path}")
            block = to_stereo(block)
            if rate != sample_rate:
                if resampler is None:
                    resampler = soxr.ResampleStream(rate, sample_rate, 2, dtype="float32", quality="HQ")
                block = resampler.resample_chunk(np.ascontiguousarray(block))
            total += len(block)
            if len(block):
                yield np.ascontiguousarray(block, dtype=np.float32)
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros((0, 2), np.float32), last=True)
            total += len(tail)
            if len(tail):
                yield tail.astype(np.float32)
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
        raise UserError(f"cannot decode {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if total == 0:
        raise UserError(f"input has no audio samples: {path}")


def read_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The whole file as float32 ``(samples, 2)`` at ``sample_rate``."""
    return np.concatenate(list(iter_audio_blocks(path, sample_rate=sample_rate)), axis=0)


def _subtype(fmt: str, subtype: str | None) -> str:
    if fmt not in WRITE_SUBTYPES:
        raise UserError(f"unknown output format {fmt!r}; choose from {', '.join(WRITE_SUBTYPES)}")
    subtype = (subtype or "PCM_16").upper()
    if subtype not in WRITE_SUBTYPES[fmt]:
        raise UserError(f"{fmt} cannot store {subtype}; choose from {', '.join(WRITE_SUBTYPES[fmt])}")
    return subtype


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    For reports (JSON, CSV, pictures) that a new run is meant to replace; stems use :class:`AudioWriter`.
    """
    path = Path(path)
    # O_EXCL on a random name: never clobbers anything; the mode follows the umask like any new file.
    tmp_path = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.part"
    try:
        os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise UserError(f"cannot write to {path.parent}: {exc.strerror or exc}") from None
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        tmp_path.unlink(missing_ok=True)


# --- stems: written to <name>.part, verified, then placed without replacing anything ---------------

PART_SUFFIX = ".part"
_SOUNDFILE_ERRORS = (sf.LibsndfileError, RuntimeError, OSError, AssertionError, ValueError)  # soundfile asserts on short writes


def part_path(path: str | os.PathLike) -> Path:
    """Where ``path`` is written before it is complete: ``vocals.wav`` -> ``vocals.wav.part``."""
    path = Path(path)
    return path.with_name(path.name + PART_SUFFIX)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def remove_stale_part(path: str | os.PathLike) -> None:
    """Remove ``path``'s ``.part`` left by a run that was killed (SIGKILL, power loss).

    A writing run holds a lock on its ``.part``; one whose lock is free belongs to nobody. A ``.part``
    that is still locked belongs to a run writing the same stem right now: a :class:`UserError`.
    """
    part = part_path(path)
    try:
        fd = os.open(part, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):  # nothing there (the folder itself may not exist)
        return
    except OSError as exc:
        raise UserError(f"cannot remove the unfinished {part}: {_reason(exc)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another run is writing {path} right now; wait for it or choose another -o") from None
        with contextlib.suppress(FileNotFoundError):
            if os.stat(part).st_ino == os.fstat(fd).st_ino:  # still the file we locked
                part.unlink()
    finally:
        os.close(fd)


def verify_audio_file(path: Path, frames: int, channels: int, sample_rate: int) -> None:
    """Reopen a finished file: its length, channels and rate must be what was written, and its last
    samples must decode (a full disk can leave a FLAC whose header or tail is garbage)."""
    with sf.SoundFile(str(path)) as f:
        if (f.frames, f.channels, f.samplerate) != (frames, channels, sample_rate):
            raise RuntimeError(f"it reads back as {f.frames} frames of {f.channels} channels at {f.samplerate} Hz, "
                               f"not the {frames} frames of {channels} channels written")
        tail = min(frames, 4096)
        if tail:
            f.seek(frames - tail)
            if len(f.read(tail, dtype="float32", always_2d=True)) != tail:
                raise RuntimeError("its last samples cannot be read back")


def place_file(part: Path, path: Path, overwrite: bool = False) -> None:
    """Move a finished ``part`` to ``path``. Without ``overwrite`` an existing ``path`` is never replaced,
    even one that another process creates at the same moment (link + unlink, not rename)."""
    if overwrite:
        os.replace(part, path)
        return
    try:
        os.link(part, path)
    except FileExistsError:
        raise UserError(f"{path} appeared while this run was writing it (another run?); "
                        "it was left as it is and this run's copy removed") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        # A file system without hard links (FAT, some network shares): create-exclusive, then rename over it.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.replace(part, path)
        return
    os.unlink(part)


class AudioWriter:
    """Append blocks to an audio file that appears under its final name only when complete.

    The blocks go to ``<name>.part`` (locked while written, so a later run can tell a live one from
    a killed one's leftover). On a clean exit the file is closed, read back and checked, then placed
    with :func:`place_file`; on any error or exception (a signal turned into one included) the
    ``.part`` is removed and nothing else is touched. Every failure is a :class:`UserError`.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, channels: int = 2,
                 fmt: str = "wav", subtype: str | None = None, overwrite: bool = False):
        self.path = Path(path)
        self.part = part_path(self.path)
        self._subtype = _subtype(fmt, subtype)
        self._format = fmt.upper()
        self._rate, self._channels = sample_rate, channels
        self._overwrite = overwrite
        self._fd: int | None = None
        self._file: sf.SoundFile | None = None
        self.frames = 0

    def _create_part(self) -> int:
        for attempt in range(2):
            try:
                return os.open(self.part, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                if attempt:
                    raise UserError(f"another run is writing {self.path} right now; wait for it or choose another -o") from None
                remove_stale_part(self.path)
            except OSError as exc:
                raise UserError(f"cannot write to {self.path.parent}: {_reason(exc)}") from None
        raise AssertionError("unreachable")

    def __enter__(self) -> "AudioWriter":
        self._fd = self._create_part()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(self.part).st_ino != os.fstat(self._fd).st_ino:  # removed as stale before we locked it
                raise UserError(f"another run is writing {self.path} right now; wait for it or choose another -o")
            self._file = sf.SoundFile(str(self.part), "w", self._rate, self._channels, self._subtype,
                                      format=self._format)
        except BaseException as exc:
            self._discard()
            if isinstance(exc, (*_SOUNDFILE_ERRORS, BlockingIOError)):
                raise UserError(f"cannot write {self.path}: {_reason(exc)}") from None
            raise
        return self

    def write(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float32)
        try:
            self._file.write(block)
        except _SOUNDFILE_ERRORS as exc:
            raise UserError(f"cannot write {self.path}: {_reason(exc)}") from None
        self.frames += len(block)

    def _discard(self) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
            self._file = None
        if self._fd is not None:
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self.part).st_ino == os.fstat(self._fd).st_ino:  # never another run's .part
                    self.part.unlink()
            os.close(self._fd)  # releases the lock
            self._fd = None

    def _finish(self) -> None:
        try:
            file, self._file = self._file, None
            file.close()
            verify_audio_file(self.part, self.frames, self._channels, self._rate)
        except _SOUNDFILE_ERRORS as exc:
            raise UserError(f"cannot write {self.path}: {_reason(exc)}") from None
        try:
            place_file(self.part, self.path, self._overwrite)
        except OSError as exc:
            raise UserError(f"cannot write {self.path}: {_reason(exc)}") from None
        os.close(self._fd)
        self._fd = None

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc is None:
                self._finish()
        finally:
            self._discard()  # after a successful finish: nothing left to do
        return False


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int = SAMPLE_RATE,
                fmt: str | None = None, subtype: str | None = None, overwrite: bool = False) -> Path:
    """Write float ``(samples, channels)`` audio to wav or flac, completely or not at all. Returns the path.

    An existing file is replaced only with ``overwrite``.
    """
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    with AudioWriter(path, sample_rate, audio.shape[1], fmt, subtype, overwrite) as writer:
        writer.write(audio)
    return path


LOSSY_CODECS = {"aac": ("aac", "m4a"), "mp3": ("libmp3lame", "mp3")}


def lossy_roundtrip(audio: np.ndarray, codec: str = "aac", bitrate: str = "128k",
                    sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``audio`` (samples, channels) encoded by ffmpeg (``codec``: aac or mp3) at ``bitrate`` and
    decoded again: what a song suffers on its way to a user as an .m4a or .mp3. Same length and
    alignment as the input (ffmpeg trims the encoder delay; its padding at the end is cut here)."""
    if codec not in LOSSY_CODECS:
        raise UserError(f"unknown codec {codec!r}; choose from {', '.join(LOSSY_CODECS)}")
    encoder, extension = LOSSY_CODECS[codec]
    ffmpeg = _ffmpeg_binary("ffmpeg")
    with tempfile.TemporaryDirectory() as folder:
        source, coded, decoded = (Path(folder) / name for name in ("in.wav", f"coded.{extension}", "out.wav"))
        sf.write(source, audio, sample_rate, subtype="FLOAT")
        for command in ([ffmpeg, "-v", "error", "-y", "-i", source, "-c:a", encoder, "-b:a", bitrate, coded],
                        [ffmpeg, "-v", "error", "-y", "-i", coded, "-c:a", "pcm_f32le", decoded]):
            subprocess.run([str(c) for c in command], check=True, capture_output=True)
        out, _ = sf.read(decoded, dtype="float32", always_2d=True)
    out = out[: len(audio)]
    return np.pad(out, ((0, len(audio) - len(out)), (0, 0))) if len(out) < len(audio) else out
