"""Drum parts played on sampled kits: the Hydrogen drum kits of Debian's ``hydrogen-drumkits``.

Real recordings of acoustic and electronic kits, several with velocity layers: snares, kicks and
cymbals that FluidR3's seven GM kits do not have. Each kit's ``drumkit.xml`` lists instruments with
a name, volume, pan and layers (sample file, velocity range, gain); an instrument's role (kick,
snare, closed hat, ...) is read from its name, and a GM drum note of :mod:`.drums` plays one
instrument of the matching role, chosen once per song. Kits without a kick, a snare and a hi-hat
(hand percussion, djembes) are skipped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

SR = 44100
HYDROGEN_KITS = Path("/usr/share/hydrogen/data/drumkits")

# GM drum note -> roles to try in order (the first the kit has plays)
NOTE_ROLES = {
    35: ("kick",), 36: ("kick",), 37: ("rim", "snare"), 38: ("snare",), 40: ("snare",), 39: ("clap", "snare"),
    42: ("closed_hat",), 44: ("pedal_hat", "closed_hat"), 46: ("open_hat", "closed_hat"),
    41: ("tom_low", "tom_mid"), 43: ("tom_low", "tom_mid"), 45: ("tom_mid", "tom_low", "tom_high"),
    47: ("tom_mid", "tom_high"), 48: ("tom_high", "tom_mid"), 50: ("tom_high", "tom_mid"),
    49: ("crash", "ride"), 57: ("crash", "ride"), 51: ("ride", "crash"), 59: ("ride", "crash"),
    53: ("ride_bell", "ride"), 54: ("tambourine",), 70: ("shaker",),
}
REQUIRED = ("kick", "snare", "closed_hat")


def role_of(name: str) -> str | None:
    """The drum role an instrument name describes, or None (effects, hand percussion, unnamed)."""
    n = name.lower()
    if "roll" in n or "fx" in n or "zap" in n:
        return None
    if "kick" in n or "bass drum" in n or "bassdrum" in n or re.search(r"\bbd\b", n):
        return "kick"
    if "rim" in n or "stick" in n:
        return "rim"
    if "snare" in n:
        return "snare"
    if "clap" in n:
        return "clap"
    if "hat" in n or re.search(r"\bhh\b", n):
        if "pedal" in n or re.search(r"\bpd\b", n):
            return "pedal_hat"
        if "open" in n or re.search(r"\bop\b", n):
            return "open_hat"
        if any(w in n for w in ("swish", "choke", "free", "semi", "side")):
            return None
        return "closed_hat"
    if "tom" in n:
        if "floor" in n or "low" in n or re.search(r"\blo\b", n):
            return "tom_low"
        if "hi" in n:
            return "tom_high"
        return "tom_mid"
    if "bell" in n or "cup" in n:
        return "ride_bell"
    if "ride" in n:
        return "ride"
    if "crash" in n or "cymbal" in n:
        return "crash"
    if "tamb" in n:
        return "tambourine"
    if "shaker" in n or "maraca" in n:
        return "shaker"
    return None


@dataclass
class Layer:
    path: Path
    low: float  # velocity range, 0..1
    high: float
    gain: float


@dataclass
class Instrument:
    name: str
    role: str
    volume: float
    pan: tuple[float, float]  # left, right gains
    layers: list[Layer] = field(default_factory=list)


@dataclass
class Kit:
    name: str
    roles: dict[str, list[Instrument]]


def _text(node: ET.Element, tag: str, default: str = "") -> str:
    for child in node:
        if child.tag.rsplit("}", 1)[-1] == tag:
            return (child.text or "").strip()
    return default


def _children(node: ET.Element, tag: str) -> list[ET.Element]:
    return [c for c in node.iter() if c.tag.rsplit("}", 1)[-1] == tag]


def read_kit(folder: Path) -> Kit | None:
    """Parse ``folder/drumkit.xml``; None if unreadable or without kick, snare and hi-hat."""
    try:
        root = ET.parse(folder / "drumkit.xml").getroot()
    except (OSError, ET.ParseError):
        return None
    roles: dict[str, list[Instrument]] = {}
    for node in _children(root, "instrument"):
        role = role_of(_text(node, "name"))
        if role is None:
            continue
        inst = Instrument(_text(node, "name"), role, float(_text(node, "volume", "1") or 1),
                          (float(_text(node, "pan_L", "1") or 1), float(_text(node, "pan_R", "1") or 1)))
        layer_nodes = _children(node, "layer")
        if layer_nodes:
            for layer in layer_nodes:
                inst.layers.append(Layer(folder / _text(layer, "filename"), float(_text(layer, "min", "0") or 0),
                                         float(_text(layer, "max", "1") or 1), float(_text(layer, "gain", "1") or 1)))
        elif _text(node, "filename"):  # the older format: one sample per instrument
            inst.layers.append(Layer(folder / _text(node, "filename"), 0.0, 1.0, 1.0))
        inst.layers = [x for x in inst.layers if x.path.is_file()]
        if inst.layers:
            roles.setdefault(role, []).append(inst)
    if not all(r in roles for r in REQUIRED):
        return None
    return Kit(folder.name, roles)


@lru_cache(maxsize=1)
def available_kits(root: str = str(HYDROGEN_KITS)) -> tuple[Kit, ...]:
    """Every usable kit under ``root`` (empty when the package is not installed)."""
    folder = Path(root)
    if not folder.is_dir():
        return ()
    kits = (read_kit(d) for d in sorted(folder.iterdir()) if d.is_dir())
    return tuple(k for k in kits if k is not None)


@lru_cache(maxsize=256)
def _sample(path: Path) -> np.ndarray:
    """A sample as float64 ``(n, 2)`` at 44.1 kHz (resampled if recorded at another rate)."""
    import soundfile as sf

    audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
    audio = audio[:, :2] if audio.shape[1] >= 2 else np.repeat(audio, 2, axis=1)
    if rate != SR:
        from scipy.signal import resample_poly

        g = np.gcd(int(rate), SR)
        audio = resample_poly(audio, SR // g, int(rate) // g, axis=0)
    return audio


def render_sampled_drums(notes: list, n: int, kit: Kit, rng: np.random.Generator) -> np.ndarray:
    """Stereo ``(n, 2)`` of ``notes`` (start s, dur, GM note, velocity) on ``kit``, peak 1.

    Each role plays one instrument of the kit for the whole song; a layer is picked by velocity
    (at random among those that fit); the level follows velocity like Hydrogen's. A closed or
    pedal hi-hat chokes a ringing open one.
    """
    chosen = {role: insts[int(rng.integers(len(insts)))] for role, insts in kit.roles.items()}
    y = np.zeros((n, 2))
    open_hat = np.zeros((n, 2))  # kept apart so that a closed hat can cut it off
    ringing_until = -1
    for t, _dur, pitch, vel in sorted(notes):
        roles = NOTE_ROLES.get(int(pitch), ())
        inst = next((chosen[r] for r in roles if r in chosen), None)
        s0 = int(round(t * SR))
        if inst is None or s0 < 0 or s0 >= n:
            continue
        v = float(np.clip(vel / 127.0, 0.0, 1.0))
        fits = [x for x in inst.layers if x.low <= v <= x.high] or inst.layers
        layer = fits[int(rng.integers(len(fits)))]
        try:
            hit = _sample(layer.path)
        except (OSError, RuntimeError, ValueError):
            continue
        if inst.role in ("closed_hat", "pedal_hat") and s0 < ringing_until:  # choke: 10 ms fade, then silence
            fade = min(441, n - s0)
            open_hat[s0:s0 + fade] *= np.linspace(1.0, 0.0, fade)[:, None]
            open_hat[s0 + fade:ringing_until] = 0.0
            ringing_until = -1
        m = min(len(hit), n - s0)
        gain = v * layer.gain * inst.volume * np.array(inst.pan)
        target = open_hat if inst.role == "open_hat" else y
        target[s0:s0 + m] += hit[:m] * gain[None, :]
        if inst.role == "open_hat":
            ringing_until = max(ringing_until, s0 + m)
    y += open_hat
    peak = np.abs(y).max()
    return y / peak if peak > 0 else y
