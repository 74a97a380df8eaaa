#!/usr/bin/env bash
# Step 28 (checkpoints/step28/RULE.txt); extra arguments (e.g. --resume) are passed on.
cd "$(dirname "$0")/../.."  # the repository root
exec nice -n 10 .venv/bin/python -m musicsep.train --synthetic data/synth_v4 data/synth_v5 data/synth_v6 data/synth_v6s1 \
    data/spoken_v6s1 data/psola_v6s3 data/sinsy_v6s4 --records data/records_v6 --records-proba 0.2 \
    --valid data/synth_v4 data/synth_v5 data/synth_v6 data/psola_v6 --val-seconds 30 \
    --init checkpoints/step26/best.pth --lr 2.5e-4 --sdr-weight 0.05 --epochs 7 --minutes 68 --threads 2 \
    --no-wiener-search --snapshots --run-dir runs/unet31 --out runs/unet31/best_model.pth --cache data/cache "$@"
