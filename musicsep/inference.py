"""Chunked separation with overlapping windows and a linear cross-fade, for any separator.

The input arrives as a stream of blocks of any size; the output leaves as a stream of finished
blocks, so memory depends on the chunk length, never on the song's. :func:`separate` is the same
thing for an array in memory. Chunks overlap by ``overlap_seconds``; inside the overlap the two
chunks' outputs are cross-faded with complementary linear ramps, which hides the seams. Because
the cross-fade weights of each output sample sum to one, stems that sum to the mixture in every
chunk still sum to it after the fade.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

from musicsep.separators.base import Separator

DEFAULT_CHUNK_SECONDS = 30.0
DEFAULT_OVERLAP_SECONDS = 1.0


def _fade_window(chunk: int, overlap: int) -> np.ndarray:
    """1 in the middle, linear ramps of ``overlap`` samples at both ends (never exactly 0)."""
    w = np.ones(chunk, dtype=np.float32)
    if overlap:
        ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        w[:overlap] = ramp
        w[-overlap:] = ramp[::-1]
    return w


def chunk_sizes(separator: Separator, sample_rate: int, chunk_seconds: float | None,
                overlap_seconds: float | None) -> tuple[int, int]:
    """Chunk and overlap in samples: explicit values, else the separator's preference, else defaults."""
    chunk_s = chunk_seconds or separator.chunk_seconds or DEFAULT_CHUNK_SECONDS
    overlap_s = next(s for s in (overlap_seconds, separator.overlap_seconds, DEFAULT_OVERLAP_SECONDS) if s is not None)
    chunk = max(1, int(round(chunk_s * sample_rate)))
    overlap = min(int(round(overlap_s * sample_rate)), chunk // 2)
    return chunk, overlap


def separate_stream(separator: Separator, blocks: Iterable[np.ndarray], sample_rate: int,
                    chunk_seconds: float | None = None, overlap_seconds: float | None = None,
                    ) -> Iterator[dict[str, np.ndarray]]:
    """Separate a stream of ``(samples, channels)`` blocks; yield finished stem blocks in order.

    Every yielded dict maps each source to a float32 ``(n, channels)`` block; the blocks of one
    source, joined, have exactly the input's length.
    """
    chunk, overlap = chunk_sizes(separator, sample_rate, chunk_seconds, overlap_seconds)
    hop = chunk - overlap
    fade_in, fade_out = _fade_window(chunk, overlap)[:overlap], _fade_window(chunk, overlap)[hop:]
    stream = iter(blocks)
    buffered: list[np.ndarray] = []
    buffered_len = 0
    exhausted = False
    carry: dict[str, np.ndarray] | None = None  # the previous chunk's faded-out tail

    while True:
        while not exhausted and buffered_len <= chunk:
            block = next(stream, None)
            if block is None:
                exhausted = True
            elif len(block):
                buffered.append(np.asarray(block, dtype=np.float32))
                buffered_len += len(block)
        if buffered_len == 0:
            return
        data = np.concatenate(buffered, axis=0)
        final = exhausted and len(data) <= chunk
        x = data if final else data[:chunk]
        if x.any():
            out = separator.separate(np.ascontiguousarray(x), sample_rate)
            out = {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}
        else:  # digital silence in, silence out: long silent stretches cost nothing
            out = {k: np.zeros_like(x) for k in separator.sources}
        if carry is not None:  # cross-fade with the previous chunk: the ramps sum to one
            for k in out:
                out[k][:overlap] = out[k][:overlap] * fade_in[:, None] + carry[k]
        if final:
            yield out
            return
        carry = {k: v[hop:chunk] * fade_out[:, None] for k, v in out.items()}
        yield {k: v[:hop] for k, v in out.items()}
        buffered, buffered_len = [data[hop:]], len(data) - hop


def separate(separator: Separator, mixture: np.ndarray, sample_rate: int,
             chunk_seconds: float | None = None, overlap_seconds: float | None = None,
             progress: Callable[[int, int | None], None] | None = None) -> dict[str, np.ndarray]:
    """Separate a whole ``(samples, channels)`` array chunk by chunk; same result as the stream.

    ``progress(samples done, total samples)`` is called after each chunk.
    """
    mixture = np.asarray(mixture, dtype=np.float32)
    total = len(mixture)
    pieces: dict[str, list[np.ndarray]] = {}
    done = 0
    for out in separate_stream(separator, [mixture], sample_rate, chunk_seconds, overlap_seconds):
        for k, v in out.items():
            pieces.setdefault(k, []).append(v)
        done += len(next(iter(out.values())))
        if progress is not None:
            progress(done, total)
    return {k: np.concatenate(v, axis=0) for k, v in pieces.items()}
