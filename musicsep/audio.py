"""Reading and writing audio: every format in, float32 ``(samples, channels)`` at 44.1 kHz out.

soundfile (libsndfile) reads wav, flac, ogg and mp3; ffmpeg decodes the rest (mp4, m4a, aac, the
audio stream of a video). Everything is streamed in blocks, so a long file never has to fit in
memory; :func:`read_audio` is simply all the blocks joined. Resampling uses soxr (high quality).
Writes go to a temporary name in the target folder and are renamed when complete.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

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


def to_stereo(block: np.ndarray) -> np.ndarray:
    """Mono is duplicated; more than two channels are down-mixed to left/right."""
    channels = block.shape[1]
    if channels == 2:
        return block
    if channels == 1:
        return np.repeat(block, 2, axis=1)
    # Odd channels lean left, even right, centre-ish ones count for both (a plain, documented down-mix).
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
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
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


def _soundfile_blocks(path: Path, block_frames: int) -> Iterator[tuple[np.ndarray, int]]:
    with sf.SoundFile(str(path)) as f:
        while True:
            block = f.read(block_frames, dtype="float32", always_2d=True)
            if len(block) == 0:
                return
            yield block, f.samplerate


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


def _ffmpeg_blocks(path: Path, block_frames: int, ignore_length: bool = False) -> Iterator[tuple[np.ndarray, int]]:
    info = _probe(path)
    cmd = [_ffmpeg_binary("ffmpeg"), "-v", "error", "-nostdin", *(("-ignore_length", "1") if ignore_length else ()),
           "-i", str(path), "-map", "0:a:0",
           "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    frame_bytes = 4 * info.channels
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        try:
            while True:
                raw = proc.stdout.read(block_frames * frame_bytes)
                usable = len(raw) - len(raw) % frame_bytes
                if usable:
                    yield np.frombuffer(raw[:usable], dtype="<f4").reshape(-1, info.channels), info.sample_rate
                if len(raw) < block_frames * frame_bytes:
                    break
        finally:
            proc.kill()
        proc.wait()


def iter_audio_blocks(path: str | os.PathLike, block_seconds: float = BLOCK_SECONDS,
                      sample_rate: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Yield float32 stereo blocks ``(samples, 2)`` at ``sample_rate``, in order, from any file.

    Raises :class:`UserError` for a missing, empty, unreadable or non-finite file.
    """
    path = Path(path)
    _check_path(path)
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
        for block, rate in reader(path, max(1, int(block_seconds * 48000))):
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
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
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


class AudioWriter:
    """Append blocks to an audio file that appears under its final name only when closed cleanly.

    Use as a context manager; if the block raises, nothing is left behind.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, channels: int = 2,
                 fmt: str = "wav", subtype: str | None = None):
        self.path = Path(path)
        self._subtype = _subtype(fmt, subtype)
        self._format = fmt.upper()
        self._rate, self._channels = sample_rate, channels
        self._atomic = atomic_output(self.path)

    def __enter__(self) -> "AudioWriter":
        tmp = self._atomic.__enter__()
        try:
            self._file = sf.SoundFile(str(tmp), "w", self._rate, self._channels, self._subtype, format=self._format)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            self._atomic.__exit__(type(exc), exc, None)
            raise UserError(f"cannot write {self.path}: {exc}") from None
        return self

    def write(self, block: np.ndarray) -> None:
        try:
            self._file.write(np.asarray(block, dtype=np.float32))
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise UserError(f"cannot write {self.path}: {exc}") from None

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            self._file.close()
        except (sf.LibsndfileError, RuntimeError, OSError) as close_exc:
            if exc is None:
                exc_type, exc = type(close_exc), close_exc
        if exc is not None:
            with contextlib.suppress(BaseException):
                self._atomic.__exit__(exc_type, exc, tb)
            if isinstance(exc, (sf.LibsndfileError, RuntimeError, OSError)):
                raise UserError(f"cannot write {self.path}: {exc}") from None
            return False
        self._atomic.__exit__(None, None, None)
        return False


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int = SAMPLE_RATE,
                fmt: str | None = None, subtype: str | None = None) -> Path:
    """Write float ``(samples, channels)`` audio to wav or flac, atomically. Returns the path."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    with AudioWriter(path, sample_rate, audio.shape[1], fmt, subtype) as writer:
        writer.write(audio)
    return path
