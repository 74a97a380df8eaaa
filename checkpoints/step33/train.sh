#!/usr/bin/env bash
# Step 33 (checkpoints/step33/RULE.txt): step 30 (best_model.pth when it ran) widened to
# 32-64-88-128-176 channels, then step 30's run (checkpoints/step30/train.sh: the same songs, weight
# 0.5, lr 2.5e-4) from it with teachers step 13 + step 26, 8 epochs or 30 minutes, in its own run
# folder (the later options win). Extra arguments (e.g. --resume) are passed on.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
[ -f runs/unet38/widened.pth ] || .venv/bin/python -m musicsep.widen "$(shipped_at $STEP30)" \
    --channels 32 64 88 128 176 --out runs/unet38/widened.pth
exec bash checkpoints/step30/train.sh --teacher "$(shipped_at $STEP13)" checkpoints/step26/best.pth \
    --init runs/unet38/widened.pth --epochs 8 --minutes 30 \
    --run-dir runs/unet38 --out runs/unet38/best_model.pth "$@"
