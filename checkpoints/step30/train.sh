#!/usr/bin/env bash
# Step 30 (checkpoints/step30/RULE.txt); extra arguments (e.g. --resume) are passed on.
# Its starting point and first teacher is step 13 (best_model.pth when it ran).
# Data: checkpoints/step29/render.sh train.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
step13=$(shipped_at $STEP13)
exec nice -n 5 .venv/bin/python -m musicsep.train --synthetic data/synth_v4 data/synth_v5 data/synth_v6 \
    data/psola_v6s3 data/sinsy_v6s4 --records data/records_v6 --records-proba 0.1 \
    --teacher "$step13" checkpoints/step26/best.pth --teacher-weight 0.5 \
    --valid data/synth_v6 data/psola_v6 --val-seconds 30 \
    --init "$step13" --lr 2.5e-4 --sdr-weight 0.05 --epochs 10 --minutes 60 --bf16 --threads 2 \
    --no-wiener-search --snapshots --run-dir runs/unet34 --out runs/unet34/best_model.pth --cache data/cache "$@"
