"""Stage 3: classical machine learning -- random-forest masks (see musicsep/separators/forest.py).

    python stage3_classical_ml.py                      # cell and frame levels on the default tracks
    python stage3_classical_ml.py --variant cell --root ~/musdb18 --tracks 5
    python stage3_classical_ml.py train                # refit musicsep/models/forest.joblib
    python stage3_classical_ml.py train --root ~/musdb18   # ... on 10 MUSDB18 train songs
"""

import sys

from musicsep.stages import stage_main


def train(argv):
    from musicsep.arguments import Parser
    from musicsep.data.musdb import iter_examples, load_tracks
    from musicsep.errors import UserError
    from musicsep.separators.forest import DEFAULT_MODEL, ForestSeparator

    p = Parser(prog="stage3_classical_ml.py train", description="Fit the random forests on training songs.")
    p.add_argument("--root", default="data/synth", help="MUSDB18 root with a train subset (default: data/synth)")
    p.add_argument("--is-wav", action="store_true", help="the root holds wav stems (always true for data/synth)")
    p.add_argument("--tracks", type=int, default=10, help="training songs, the first N (default: 10)")
    p.add_argument("--out", default=str(DEFAULT_MODEL), help=f"default: {DEFAULT_MODEL}")
    p.add_argument("--trees", type=int, default=40, help="default: 40")
    p.add_argument("--leaves", type=int, default=2000, help="maximum leaves per tree (default: 2000)")
    p.add_argument("--cells", type=int, default=20000, help="cells drawn per song (default: 20000)")
    p.add_argument("--labels", choices=("share", "dominant"), default="share", help="default: share")
    p.add_argument("--jobs", type=int, default=2, help="processes (default: 2)")
    args = p.parse_args(argv)
    try:
        is_wav = args.is_wav or args.root == "data/synth"
        tracks = load_tracks(args.root, is_wav, "train", args.tracks)

        sep = ForestSeparator().fit(iter_examples(tracks), cells_per_song=args.cells, labels=args.labels,
                                    n_estimators=args.trees, max_leaf_nodes=args.leaves, n_jobs=args.jobs, log=print)
        sep.save(args.out)
        print(f"saved {args.out} ({sep.model.info})")
        return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(stage_main("forest", __doc__, train=train,
                        variants={"cell": {"level": "cell"}, "frame": {"level": "frame"}}))
