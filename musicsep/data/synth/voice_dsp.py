"""Source-filter singing voice DSP (numba): glottal pulses + aspiration -> cascade formant filter,
plus a parallel frication branch for fricatives, plosive bursts and sibilants."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def sing(f0, av, ah, af, formants, bandwidths, fc, fbw, oq, tilt, hf, sr, seed):
    """Render a voice from per-sample controls.

    f0 (Hz), av (voicing amplitude), ah (aspiration), af (frication) ``(n,)``;
    formants / bandwidths ``(n, 5)`` in Hz; fc / fbw frication centre and bandwidth ``(n,)``;
    oq open quotient (breathy ~0.7, pressed ~0.4); tilt 0..0.9 extra one-pole low-pass on the source.
    """
    n = f0.shape[0]
    out = np.zeros(n)
    phase = 0.0
    prev_g = 0.0
    st = 0.0
    y1 = np.zeros(5)
    y2 = np.zeros(5)
    fy1 = 0.0
    fy2 = 0.0
    fx1 = 0.0
    fx2 = 0.0
    hs_prev = 0.0
    hs_y = 0.0
    s = seed
    hp_prev_x = 0.0
    hp_prev_y = 0.0
    for i in range(n):
        phase += f0[i] / sr
        if phase >= 1.0:
            phase -= 1.0
        # KLGLOTT88-like flow: a t^2 - b t^3 within the open phase
        if phase < oq:
            x = phase / oq
            g = 27.0 / 4.0 * x * x * (1.0 - x)
        else:
            g = 0.0
        dg = g - prev_g  # radiation (differentiated flow)
        prev_g = g
        st = (1.0 - tilt) * dg * 8.0 + tilt * st
        s = (s * 1103515245 + 12345) % 2147483648
        noise = s / 1073741824.0 - 1.0
        src = av[i] * st + ah[i] * noise * (0.4 + 0.6 * g) * 0.15
        # cascade of 5 formant resonators, unity gain at DC
        x = src
        for k in range(5):
            r = np.exp(-np.pi * bandwidths[i, k] / sr)
            c = 2.0 * r * np.cos(2.0 * np.pi * formants[i, k] / sr)
            d = -r * r
            gain = 1.0 - c - d
            yk = gain * x + c * y1[k] + d * y2[k]
            y2[k] = y1[k]
            y1[k] = yk
            x = yk
        # frication: high-passed noise through a resonator
        s = (s * 1103515245 + 12345) % 2147483648
        nz = s / 1073741824.0 - 1.0
        hp = 0.85 * (hp_prev_y + nz - hp_prev_x)
        hp_prev_x = nz
        hp_prev_y = hp
        r = np.exp(-np.pi * fbw[i] / sr)
        c = 2.0 * r * np.cos(2.0 * np.pi * fc[i] / sr)
        d = -r * r
        fy = (1.0 - r) * (hp - fx2) + c * fy1 + d * fy2
        fx2 = fx1
        fx1 = hp
        fy2 = fy1
        fy1 = fy
        # higher poles of the tract: a high-passed copy of the source keeps harmonics above 5 kHz
        hs_y = 0.6 * (hs_y + src - hs_prev)
        hs_prev = src
        out[i] = x + hf * hs_y + af[i] * fy * 0.7
    return out
