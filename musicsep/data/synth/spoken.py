"""A held-out probe for the voice gap: songs whose vocal is natural, unsung speech.

Every singer in the training songs is made to sing: the recorded-speech singer, too, goes through
the WORLD vocoder, which replaces its pitch and re-synthesises it. A real voice never passes through
that vocoder. This probe keeps a split's drums, bass and other stems and replaces the vocal with
phrases spoken (rapped, in effect) by the text-to-speech voices as they come out of the model --
their own pitch, timing and timbre, no vocoder -- through the same vocal production chain as the
songs (``mix.stem_chain``) at the song's vocal level. A model that learnt "WORLD-resynthesised
sound = vocals" loses voice here that it keeps on the split itself.

    python -m musicsep.data.synth.spoken data/synth_v6/valid data/spoken_v6/valid --seed 0
    python -m musicsep.data.synth.spoken data/synth_v6s1/train data/spoken_v6s1/train --seed 1 --train --songs 80

The probe speaks with the two held-out speakers only (``speech_voice.HOLDOUT_SPEAKERS``), which no
training song ever hears; ``--train`` makes training copies with the other speakers only. Those two
are still voices of the Kokoro model that training sings with; ``--festival`` speaks with Festival's
diphone voices instead (Debian festvox packages: waveform snippets of five real speakers, two
English men, Czech, Finnish and Italian women, joined and re-timed), a speech model no training song
uses; ``--train --festival`` makes training copies with eight other Festival voices, never the probe's
five:

    python -m musicsep.data.synth.spoken data/synth_v6/valid data/festival_v6/valid --seed 0 --festival
    python -m musicsep.data.synth.spoken data/synth_v6s2/train data/festival_v6s2/train --seed 2 --train --festival --songs 80
Written in the same layout, 16-bit, mixture = exact sum of the stems; same seed, same bytes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .dataset import write_track
from .mix import SR, _run, active_rms, pan_stereo, stem_chain
from .praat_voice import make_text
from .speech_voice import FEMALE_SPEAKERS, HOLDOUT_SPEAKERS, MALE_SPEAKERS, japanese_text, speak

TRAIN_SPEAKERS = tuple(s for s in dict.fromkeys(FEMALE_SPEAKERS + MALE_SPEAKERS) if s not in HOLDOUT_SPEAKERS)
KEPT = ("drums", "bass", "other")
# Festival diphone voices (scripts/setup.sh installs them); they read the English pseudo-lyrics with
# their own language's letter-to-sound rules
FESTIVAL_SPEAKERS = ("kal_diphone", "ked_diphone", "czech_dita", "suo_fi_lj_diphone", "lp_diphone")
# the ones training may hear: other people (US and Catalan women, Czech, Finnish, Italian, Russian men
# and a Czech boy), never the probe's
FESTIVAL_TRAIN_SPEAKERS = ("cmu_us_slt_arctic_hts", "upc_ca_ona_hts", "czech_ph", "czech_machac", "czech_krb",
                           "hy_fi_mv_diphone", "pc_diphone", "msu_ru_nsh_clunits")


def festival_speak(text: str, stretch: float, voice: str) -> tuple[np.ndarray, int]:
    """``text`` spoken by a Festival voice (``text2wave``), ``stretch`` times slower: mono float64, rate."""
    unspoken = f"Festival could not speak with voice {voice} (scripts/setup.sh installs it)"
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        cmd = ["text2wave", "-eval", f"(voice_{voice})",
               "-eval", f"(Parameter.set 'Duration_Stretch {stretch:.4f})", "-o", str(wav)]
        try:
            subprocess.run(cmd, input=text.encode(), check=True, capture_output=True, timeout=120)
        except FileNotFoundError as exc:
            raise RuntimeError("text2wave not found: install Festival and its voices (scripts/setup.sh)") from exc
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(unspoken) from exc
        if not wav.is_file() or wav.stat().st_size == 0:  # text2wave exits 0 on an unknown voice
            raise RuntimeError(unspoken)
        y, sr = sf.read(str(wav), dtype="float64")
    return (y if y.ndim == 1 else y.mean(axis=1)), int(sr)


def spoken_vocal(rng: np.random.Generator, n: int, speaker: str) -> np.ndarray:
    """Mono speech phrases with pauses between them over ``n`` samples at 44.1 kHz."""
    out = np.zeros(n)
    pos = int(rng.uniform(0.0, 2.0) * SR)
    while pos < n - SR // 2:
        words = int(rng.integers(4, 11))
        festival = speaker in FESTIVAL_SPEAKERS + FESTIVAL_TRAIN_SPEAKERS
        text = make_text(rng, words + 2) if festival or speaker == "joe" else japanese_text(rng, words * 2)
        rate = float(rng.uniform(0.8, 1.2))
        y, sr = festival_speak(text, rate, speaker) if festival else speak(text, rate, speaker)[:2]
        if y.size:
            g = gcd(SR, sr)
            y = resample_poly(y, SR // g, sr // g)[: n - pos]
            out[pos:pos + y.size] += y
            pos += y.size
        pos += int(rng.uniform(0.25, 1.5) * SR)
    return out


def common_scale(stems: dict[str, np.ndarray]) -> float:
    """One gain for all stems: the mix peaks at 0.98 at most and no stem clips in 16 bits on its own
    (a stem can peak above the mix where the others cancel it)."""
    peak = np.abs(sum(stems.values())).max()
    stem_peak = max(np.abs(x).max() for x in stems.values())
    return min(1.0, 0.98 / max(peak, 1e-12), 32767.4 / 32768 / max(stem_peak, 1e-12))


def make_song(src: Path, dst: Path, seed: int, index: int, speakers=HOLDOUT_SPEAKERS) -> Path:
    """``dst``: the song in ``src`` with its vocal replaced by phrases spoken by one of ``speakers``."""
    rng = np.random.default_rng([int(seed), int(index), 0x5B0])
    stems = {name: sf.read(str(src / f"{name}.wav"), dtype="float64")[0] for name in KEPT + ("vocals",)}
    n = stems["drums"].shape[0]
    speaker = str(rng.choice(speakers))
    voice = pan_stereo(spoken_vocal(rng, n, speaker), float(rng.uniform(-0.1, 0.1)))
    voice = _run(stem_chain("vocals", rng, "pop"), voice)[:n]
    instrumental = stems["drums"] + stems["bass"] + stems["other"]
    # the song's own vocal level (or, where it has none, a level a mix would give a voice)
    target = active_rms(stems["vocals"]) or 0.7 * active_rms(instrumental)
    voice *= target / max(active_rms(voice), 1e-9) * 10 ** (rng.uniform(-3, 3) / 20)
    out = {name: stems[name] for name in KEPT} | {"vocals": voice}
    scale = common_scale(out)
    pcm = {name: np.round(x * scale * 32768.0).astype(np.int64) for name, x in out.items()}
    pcm["mixture"] = sum(pcm[name] for name in KEPT + ("vocals",))
    write_track(dst, pcm, {"from": src.name, "speaker": speaker, "scale": scale, "seed": int(seed)})
    return dst


def make_split(src_split: Path, dst_split: Path, seed: int = 0, train: bool = False,
               songs: int | None = None, festival: bool = False) -> list[Path]:
    """The first ``songs`` songs of ``src_split`` (all by default) into ``dst_split``, spoken by the
    held-out speakers; with ``train`` by the speakers training may hear; with ``festival`` by
    Festival's voices (the probe's, or with ``train`` the training ones)."""
    folders = sorted(p for p in Path(src_split).iterdir() if (p / "mixture.wav").is_file())[:songs]
    Path(dst_split).mkdir(parents=True, exist_ok=True)
    speakers = {(False, False): HOLDOUT_SPEAKERS, (True, False): TRAIN_SPEAKERS,
                (False, True): FESTIVAL_SPEAKERS, (True, True): FESTIVAL_TRAIN_SPEAKERS}[train, festival]
    return [make_song(song, Path(dst_split) / song.name, seed, i, speakers) for i, song in enumerate(folders)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m musicsep.data.synth.spoken", description=__doc__.split("\n")[0])
    ap.add_argument("src", type=Path, help="a split folder of songs (e.g. data/synth_v6/valid)")
    ap.add_argument("out", type=Path, help="where the probe's songs go (a new folder)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", action="store_true", help="training copies: only the speakers training may hear")
    ap.add_argument("--songs", type=int, default=None, help="only the first N songs")
    ap.add_argument("--festival", action="store_true",
                    help="speak with Festival's voices (the probe's five; with --train eight others)")
    args = ap.parse_args(argv)
    if not args.src.is_dir():
        print(f"error: {args.src} is not a folder of songs", file=sys.stderr)
        return 2
    if args.out.resolve() == args.src.resolve():
        print("error: the probe must not overwrite its source songs", file=sys.stderr)
        return 2
    try:
        paths = make_split(args.src, args.out, args.seed, args.train, args.songs, args.festival)
    except RuntimeError as exc:  # Festival missing
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
