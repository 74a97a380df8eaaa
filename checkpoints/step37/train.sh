#!/usr/bin/env bash
# Step 37 (checkpoints/step37/RULE.txt): step 36 (SHA-256 821f4590...) distilled like steps 30 and 35
# (teachers step 13 + step 26, weight 0.5, lr 2.5e-4) on 128 fresh songs (checkpoints/step37/render.sh).
# Extra arguments (e.g. --resume) are passed on.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
exec nice -n 5 .venv/bin/python -m musicsep.train \
    --synthetic data/synth_v6s13 data/psola_v6s14 data/sinsy_v6s15 data/synth_v4s16 data/synth_v5s17 \
    --records data/records_v6s13 --records-proba 0.1 \
    --teacher "$(shipped_at $STEP13)" checkpoints/step26/best.pth --teacher-weight 0.5 \
    --valid data/synth_v6 data/psola_v6 data/synth_v6s12 --val-seconds 30 \
    --init "$(shipped_at $STEP36)" --lr 2.5e-4 --sdr-weight 0.05 --epochs 6 --minutes 25 --bf16 --threads 2 \
    --no-wiener-search --snapshots --run-dir runs/unet41 --out runs/unet41/best_model.pth --cache data/cache "$@"
