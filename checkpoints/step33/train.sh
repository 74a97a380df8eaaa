#!/usr/bin/env bash
# Step 33 (checkpoints/step33/RULE.txt): step 30 (best_model.pth when it ran) widened to
# 32-64-88-128-176 channels, then step 30's run (checkpoints/step30/train.sh: the same songs, weight
# 0.5, lr 2.5e-4) from it with teachers step 13 + step 26, 8 epochs or 30 minutes, in its own run
# folder (the later options win). Extra arguments (e.g. --resume) are passed on.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
[ -f runs/step13.pth ] || git show 48ce7aa:best_model.pth > runs/step13.pth  # step 13's weights
[ -f runs/unet38/widened.pth ] || .venv/bin/python -m musicsep.widen best_model.pth \
    --channels 32 64 88 128 176 --out runs/unet38/widened.pth
exec bash checkpoints/step30/train.sh --teacher runs/step13.pth checkpoints/step26/best.pth \
    --init runs/unet38/widened.pth --epochs 8 --minutes 30 \
    --run-dir runs/unet38 --out runs/unet38/best_model.pth "$@"
