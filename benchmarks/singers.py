"""The singing engines on one melody, side by side: spectrograms and short audio examples of the
recorded-speech singer with its two voice models (piper's "joe", Kokoro's "jf_alpha") and its two
re-singing methods (the WORLD vocoder, PSOLA), and Sinsy's singing voice.

    .venv/bin/python benchmarks/singers.py [--seed 3] [--seconds 6] [--out docs/singers.png]
        [--audio docs/singer_speech.ogg] [--audio-kokoro docs/singer_kokoro.ogg]
        [--audio-psola docs/singer_psola.ogg] [--audio-sinsy docs/singer_sinsy.ogg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from musicsep.data.synth.praat_voice import render_praat_voice  # noqa: E402
from musicsep.data.synth.sinsy_voice import render_sinsy_voice  # noqa: E402
from musicsep.data.synth.song import make_plan  # noqa: E402
from musicsep.data.synth.speech_voice import render_speech_voice  # noqa: E402
from musicsep.data.synth.vocals import make_melody, make_singer, render_voice  # noqa: E402

SR = 44100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--out", type=Path, default=Path("docs/singers.png"))
    ap.add_argument("--audio", type=Path, default=Path("docs/singer_speech.ogg"))
    ap.add_argument("--audio-kokoro", type=Path, default=Path("docs/singer_kokoro.ogg"))
    ap.add_argument("--audio-psola", type=Path, default=Path("docs/singer_psola.ogg"))
    ap.add_argument("--audio-sinsy", type=Path, default=Path("docs/singer_sinsy.ogg"))
    args = ap.parse_args()
    import librosa

    rng = np.random.default_rng(args.seed)
    plan = make_plan(rng, args.seconds, args.seed, "train", style="pop")
    singer = make_singer(rng, female=True)
    notes = make_melody(plan, rng, singer)
    n = plan.n_samples
    voices = {
        "formant synthesizer (vocals.py)": render_voice(notes, singer, n, np.random.default_rng(1)),
        "Praat / eSpeak (praat_voice.py)": render_praat_voice(notes, singer, True, n, np.random.default_rng(1), "train"),
        "recorded speech re-sung with WORLD (speech_voice.py), piper's joe warped": render_speech_voice(
            notes, singer, "female", n, np.random.default_rng(1)),
        "recorded speech re-sung with WORLD (speech_voice.py), Kokoro's jf_alpha": render_speech_voice(
            notes, singer, "female", n, np.random.default_rng(1), speaker="jf_alpha"),
        "recorded speech re-sung by PSOLA (speech_voice.py), Kokoro's jf_alpha": render_speech_voice(
            notes, singer, "female", n, np.random.default_rng(1), speaker="jf_alpha", method="psola"),
        "Sinsy's singing voice, put on pitch by PSOLA (sinsy_voice.py)": render_sinsy_voice(
            notes, "female", n, np.random.default_rng(1)),
    }
    fig, axes = plt.subplots(len(voices), 1, figsize=(10, 15), sharex=True)
    for ax, (name, y) in zip(axes, voices.items()):
        S = librosa.amplitude_to_db(np.abs(librosa.stft(y / (np.abs(y).max() + 1e-9), n_fft=2048, hop_length=256)) + 1e-9,
                                    ref=50.0)
        ax.imshow(S, origin="lower", aspect="auto", vmin=-80, vmax=0, cmap="magma", extent=[0, n / SR, 0, SR / 2000])
        ax.set_ylim(0, 16)
        ax.set_xlim(0, n / SR)
        ax.set_ylabel("kHz")
        ax.set_title(name, fontsize=10)
        for (t, d, p, _, _) in notes:  # the melody, drawn as its second harmonic in kHz
            ax.plot([t, t + d], [2 * 440 * 2 ** ((p - 69) / 12) / 1000] * 2, color="cyan", lw=1, alpha=0.6)
    axes[-1].set_xlabel("seconds (cyan: the melody's notes at twice their pitch)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=60)
    examples = [y for name, y in voices.items() if name.startswith(("recorded speech", "Sinsy"))]
    for path, y in zip((args.audio, args.audio_kokoro, args.audio_psola, args.audio_sinsy), examples):
        sf.write(str(path), (0.9 * y / (np.abs(y).max() + 1e-9)).astype(np.float32), SR, format="OGG",
                 subtype="VORBIS")
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
