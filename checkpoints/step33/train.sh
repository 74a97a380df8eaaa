#!/usr/bin/env bash
# Step 33 (checkpoints/step33/RULE.txt): step 30 (best_model.pth when it ran) widened to
# 32-64-88-128-176 channels, then distilled like step 30 (teachers step 13 + step 26, weight 0.5, the
# same songs). Extra arguments (e.g. --resume) are passed on. Data: checkpoints/step29/render.sh train.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
[ -f runs/step13.pth ] || git show 48ce7aa:best_model.pth > runs/step13.pth  # step 13's weights
[ -f runs/unet38/widened.pth ] || .venv/bin/python -m musicsep.widen best_model.pth \
    --channels 32 64 88 128 176 --out runs/unet38/widened.pth
exec nice -n 5 .venv/bin/python -m musicsep.train --synthetic data/synth_v4 data/synth_v5 data/synth_v6 \
    data/psola_v6s3 data/sinsy_v6s4 --records data/records_v6 --records-proba 0.1 \
    --teacher runs/step13.pth checkpoints/step26/best.pth --teacher-weight 0.5 \
    --valid data/synth_v6 data/psola_v6 --val-seconds 30 \
    --init runs/unet38/widened.pth --lr 2.5e-4 --sdr-weight 0.05 --epochs 8 --minutes 30 --bf16 --threads 2 \
    --no-wiener-search --snapshots --run-dir runs/unet38 --out runs/unet38/best_model.pth --cache data/cache "$@"
