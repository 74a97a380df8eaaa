"""Process-wide memory settings for the heavy paths (training and U-Net separation)."""

from __future__ import annotations

import ctypes
import sys


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of handing it back to the OS.

    A training step or a separated window allocates and frees arrays of several MB; with glibc's
    defaults they are unmapped or trimmed on free and the next one faults fresh pages in, which cost
    about a third of the CPU time in training and of the U-Net's separation time on an AVX2 CPU
    (README, "Training the U-Net" and "U-Net speed"). The process may keep up to about 1 GB freed.
    Returns whether it applied (glibc on Linux only); calling it again changes nothing.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl)
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # from <malloc.h>
    settings = ((m_mmap_threshold, 32 << 20), (m_trim_threshold, 1 << 30), (m_top_pad, 256 << 20))
    return all(libc.mallopt(option, value) == 1 for option, value in settings)
