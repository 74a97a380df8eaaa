"""Stage 2: NMF spectrogram masking (see musicsep/separators/nmf.py).

    python stage2_spectrogram_masking.py                    # both variants on the default tracks
    python stage2_spectrogram_masking.py --variant supervised --root ~/musdb18 --tracks 5
    python stage2_spectrogram_masking.py train              # relearn musicsep/models/nmf.npz
"""

import sys

from musicsep.stages import stage_main


def train(argv):
    from musicsep.arguments import Parser
    from musicsep.data.musdb import iter_examples, load_tracks
    from musicsep.errors import UserError
    from musicsep.separators.nmf import DEFAULT_MODEL, NMFSeparator

    p = Parser(prog="stage2_spectrogram_masking.py train",
               description="Learn the NMF dictionaries and grouping rule from training songs.")
    p.add_argument("--root", default="data/synth", help="MUSDB18 root with a train subset (default: data/synth)")
    p.add_argument("--is-wav", action="store_true", help="the root holds wav stems (always true for data/synth)")
    p.add_argument("--out", default=str(DEFAULT_MODEL), help=f"default: {DEFAULT_MODEL}")
    p.add_argument("--atoms", type=int, default=8, help="dictionary atoms per source (default: 8)")
    p.add_argument("--rank", type=int, default=40, help="grouped variant: components per mixture (default: 40)")
    p.add_argument("--tracks", type=int, default=24, help="use the first N training songs (default: 24)")
    args = p.parse_args(argv)
    try:
        is_wav = args.is_wav or args.root == "data/synth"
        tracks = load_tracks(args.root, is_wav, "train", args.tracks)

        sep = NMFSeparator(n_components=args.rank).fit(iter_examples(tracks), atoms_per_source=args.atoms, log=print)
        sep.save(args.out)
        print(f"saved {args.out} ({sep.model.info})")
        return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(stage_main("nmf", __doc__, train=train,
                        variants={"grouped": {"variant": "grouped"}, "supervised": {"variant": "supervised"}}))
