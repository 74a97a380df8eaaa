"""Plot the four stems (and the mixture) of one synthetic song as spectrograms.

    .venv/bin/python benchmarks/synth_spectrogram.py [--seed 3] [--seconds 12] [--out docs/synth_stems.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from musicsep.data.synth.dataset import track_seed  # noqa: E402
from musicsep.data.synth.render import render_song  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--index", type=int, default=9)
    ap.add_argument("--split", default="train")
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--out", type=Path, default=Path("docs/synth_stems.png"))
    ap.add_argument("--dpi", type=int, default=50)
    args = ap.parse_args()
    import librosa

    audio, meta = render_song(track_seed(args.seed, args.split, args.index), args.split, args.seconds)
    names = ["mixture", "drums", "bass", "other", "vocals"]
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 11), sharex=True)
    for ax, name in zip(axes, names):
        y = audio[name].mean(axis=1)
        S = librosa.amplitude_to_db(np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) + 1e-9, ref=float(np.abs(audio["mixture"]).max()) * 200)
        ax.imshow(S, origin="lower", aspect="auto", vmin=-80, vmax=0, cmap="magma",
                  extent=[0, len(y) / 44100, 0, 22.05])
        ax.set_ylim(0, 16)
        ax.set_ylabel(f"{name}\nkHz")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(f"synthetic song {args.split} #{args.index}: {meta['style']}, {meta['tempo']} BPM, "
                 f"bass {meta['bass']}, other {meta['other']}")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=args.dpi)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
