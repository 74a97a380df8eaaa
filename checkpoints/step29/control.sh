#!/usr/bin/env bash
# Step 29's control (report only, never a candidate): train.sh without the stem effects, to tell
# what the effects did from what the smaller set of songs did.
cd "$(dirname "$0")/../.."  # the repository root
exec nice -n 10 .venv/bin/python -m musicsep.train --synthetic data/synth_v4 data/synth_v5 data/synth_v6 \
    data/psola_v6s3 data/sinsy_v6s4 --records data/records_v6 --records-proba 0.1 --effects-proba 0 \
    --valid data/synth_v6 data/psola_v6 --val-seconds 30 \
    --init checkpoints/step26/best.pth --lr 2.5e-4 --sdr-weight 0.05 --epochs 12 --minutes 60 --threads 2 \
    --no-wiener-search --snapshots --run-dir runs/unet33 --out runs/unet33/best_model.pth --cache data/cache "$@"
