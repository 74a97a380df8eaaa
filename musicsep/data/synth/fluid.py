"""A minimal ctypes binding to libfluidsynth: render note events offline to float32 stereo.

Only what the generator needs: load the SoundFonts once per song, pick a preset on a channel,
send note / pitch-bend / controller events at sample positions, and render float output straight
into a numpy buffer (``fluid_synth_write_float``). Reverb and chorus are off: effects are applied
per stem later, so each stem stays dry and the mixture is their exact sum.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44100
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
)


def soundfont_path() -> Path:
    """FluidR3_GM if installed (scripts/setup.sh), else the TimGM6mb font inside pretty_midi."""
    env = os.environ.get("MUSICSEP_SOUNDFONT")
    if env:
        return Path(env)
    for cand in SOUNDFONT_CANDIDATES:
        if Path(cand).exists():
            return Path(cand)
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


# MuseScore_General (Debian musescore-general-soundfont, SF3 = Ogg-compressed samples): a second,
# more recent GM set (VSCO strings, newer guitars, basses and keys) that parts may draw instead
MUSESCORE_CANDIDATES = (
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf3/MuseScore_General_Full.sf3",
)


def musescore_path() -> Path | None:
    """The MuseScore General SoundFont if installed (``MUSICSEP_SOUNDFONT2`` overrides; "" = none)."""
    env = os.environ.get("MUSICSEP_SOUNDFONT2")
    if env is not None:
        return Path(env) if env else None
    for cand in MUSESCORE_CANDIDATES:
        if Path(cand).exists():
            return Path(cand)
    return None


def _load_library() -> ctypes.CDLL:
    name = ctypes.util.find_library("fluidsynth") or "libfluidsynth.so.3"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:  # pragma: no cover - depends on the machine
        raise RuntimeError("libfluidsynth not found: install the Debian package 'fluidsynth' "
                           "(scripts/setup.sh)") from exc
    vp = ctypes.c_void_p
    lib.new_fluid_settings.restype = vp
    lib.new_fluid_synth.restype = vp
    lib.new_fluid_synth.argtypes = [vp]
    lib.fluid_settings_setnum.argtypes = [vp, ctypes.c_char_p, ctypes.c_double]
    lib.fluid_settings_setint.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    lib.fluid_synth_sfload.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    lib.fluid_synth_program_select.argtypes = [vp, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.fluid_synth_noteon.argtypes = [vp, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.fluid_synth_noteoff.argtypes = [vp, ctypes.c_int, ctypes.c_int]
    lib.fluid_synth_pitch_bend.argtypes = [vp, ctypes.c_int, ctypes.c_int]
    lib.fluid_synth_pitch_wheel_sens.argtypes = [vp, ctypes.c_int, ctypes.c_int]
    lib.fluid_synth_cc.argtypes = [vp, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.fluid_synth_system_reset.argtypes = [vp]
    lib.delete_fluid_synth.argtypes = [vp]
    lib.delete_fluid_settings.argtypes = [vp]
    lib.fluid_synth_all_sounds_off.argtypes = [vp, ctypes.c_int]
    lib.fluid_synth_write_float.argtypes = [vp, ctypes.c_int, vp, ctypes.c_int, ctypes.c_int,
                                            vp, ctypes.c_int, ctypes.c_int]
    return lib


# share of GM parts played on MuseScore General instead of FluidR3 (when installed)
MUSESCORE_SHARE = 0.6
# MuseScore presets whose samples take over 0.5 s to decode (grand pianos, VSCO strings): FluidR3
MUSESCORE_SLOW = {0, 1, 3, 44, 45, 48, 49, 50, 51}


def choose_font(part, rng) -> None:
    """Draw the SoundFont of a GM :class:`~.events.Part` (one random number, installed or not)."""
    use = rng.random() < MUSESCORE_SHARE
    if use and part.engine == "fluid" and part.program not in MUSESCORE_SLOW and musescore_path():
        part.params["font"] = "musescore"


class FluidRenderer:
    """One synth with the GM SoundFonts; render :class:`~musicsep.data.synth.events.Part` objects.

    Samples load on demand (``synth.dynamic-sample-loading``): loading the 84 MB MuseScore SF3
    then costs about 0.03 s and only the presets a song plays are decoded (most 0.01-0.05 s), where
    a full load decodes every sample (about 5 s per song). MuseScore is loaded first and without a
    preset reset, FluidR3 on top of it: the synth's own resets (new synth, system reset) then
    select FluidR3 presets and never decode MuseScore's large default piano.
    """

    def __init__(self, sf2: Path | None = None, sample_rate: int = SAMPLE_RATE,
                 musescore: Path | None | bool = True):
        self.lib = _load_library()
        self.sample_rate = sample_rate
        settings = self.lib.new_fluid_settings()
        self.lib.fluid_settings_setnum(settings, b"synth.sample-rate", float(sample_rate))
        self.lib.fluid_settings_setint(settings, b"synth.reverb.active", 0)
        self.lib.fluid_settings_setint(settings, b"synth.chorus.active", 0)
        self.lib.fluid_settings_setint(settings, b"synth.polyphony", 256)
        self.lib.fluid_settings_setint(settings, b"synth.cpu-cores", 1)
        self.lib.fluid_settings_setnum(settings, b"synth.gain", 0.4)
        self.lib.fluid_settings_setint(settings, b"synth.dynamic-sample-loading", 1)
        self.settings = settings
        self.synth = self.lib.new_fluid_synth(settings)
        self.fonts: dict[str, int] = {}
        second = musescore_path() if musescore is True else (musescore or None)
        if second is not None:
            sfid = self.lib.fluid_synth_sfload(self.synth, str(second).encode(), 0)
            if sfid >= 0:
                self.fonts["musescore"] = sfid
        path = str(sf2 or soundfont_path()).encode()
        self.sfid = self.lib.fluid_synth_sfload(self.synth, path, 1)
        if self.sfid < 0:
            raise RuntimeError(f"could not load SoundFont {path!r}")
        self.fonts["fluidr3"] = self.sfid

    def render(self, program: int, bank: int, events: list[tuple], n_samples: int,
               channel: int = 0, bend_range: int = 2, font: str = "fluidr3") -> np.ndarray:
        """Render events ``(sample, kind, a, b)`` on one channel; returns float32 ``(n, 2)``.

        ``font``: ``"fluidr3"`` or ``"musescore"`` (falls back to FluidR3 when not installed).

        kinds: ``"on"`` (pitch, velocity), ``"off"`` (pitch, -), ``"bend"`` (value -8192..8191, -),
        ``"cc"`` (controller, value).
        """
        lib, syn = self.lib, self.synth
        lib.fluid_synth_system_reset(syn)
        lib.fluid_synth_program_select(syn, channel, self.fonts.get(font, self.sfid), bank, program)
        lib.fluid_synth_pitch_wheel_sens(syn, channel, bend_range)
        lib.fluid_synth_pitch_bend(syn, channel, 8192)
        tail = int(1.0 * self.sample_rate)
        # fluidsynth renders 64-frame blocks and keeps its position inside the current block between
        # calls: rendering a multiple of 64 frames per song keeps every song aligned (determinism)
        total = -(-(n_samples + tail) // 64) * 64
        left = np.zeros(total, dtype=np.float32)
        right = np.zeros(total, dtype=np.float32)
        lp, rp = left.ctypes.data, right.ctypes.data
        pos = 0
        order = {"off": 0, "cc": 1, "bend": 2, "on": 3}
        for ev in sorted(events, key=lambda e: (e[0], order[e[1]])):
            t = min(max(int(ev[0]), 0), n_samples)
            if t > pos:
                lib.fluid_synth_write_float(syn, t - pos, lp, pos, 1, rp, pos, 1)
                pos = t
            kind = ev[1]
            if kind == "on":
                lib.fluid_synth_noteon(syn, channel, int(ev[2]), int(max(1, min(127, ev[3]))))
            elif kind == "off":
                lib.fluid_synth_noteoff(syn, channel, int(ev[2]))
            elif kind == "bend":
                lib.fluid_synth_pitch_bend(syn, channel, int(max(0, min(16383, ev[2] + 8192))))
            elif kind == "cc":
                lib.fluid_synth_cc(syn, channel, int(ev[2]), int(ev[3]))
        if total > pos:
            lib.fluid_synth_write_float(syn, total - pos, lp, pos, 1, rp, pos, 1)
        lib.fluid_synth_all_sounds_off(syn, -1)
        out = np.stack([left[:n_samples], right[:n_samples]], axis=1)
        return out


    def close(self) -> None:
        if self.synth:
            self.lib.delete_fluid_synth(self.synth)
            self.lib.delete_fluid_settings(self.settings)
            self.synth = None


_RENDERER: FluidRenderer | None = None


def get_renderer() -> FluidRenderer:
    """The current song's renderer (see :func:`new_renderer`)."""
    global _RENDERER
    if _RENDERER is None:
        _RENDERER = FluidRenderer()
    return _RENDERER


def new_renderer() -> FluidRenderer:
    """A fresh synth for a new song.

    A fluidsynth synth carries state from one render to the next even after a system reset (the
    same events render differently the second time), so each song starts from a new synth and
    renders its parts in a fixed order: the same seed then gives the same bytes in any process.
    Loading the SoundFonts costs about 0.05 s (dynamic sample loading, page cache).
    """
    global _RENDERER
    if _RENDERER is not None:
        _RENDERER.close()
    _RENDERER = FluidRenderer()
    return _RENDERER
