#!/usr/bin/env bash
# Step 31 (checkpoints/step31/RULE.txt): step 30's run (checkpoints/step30/train.sh, the same songs,
# second teacher and settings) in its own run folder (the later options win); extra arguments are passed on.
# Its starting point and first teacher is step 30 (best_model.pth when it ran).
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
step30=$(shipped_at $STEP30)
exec bash checkpoints/step30/train.sh --teacher "$step30" checkpoints/step26/best.pth --init "$step30" \
    --run-dir runs/unet35 --out runs/unet35/best_model.pth "$@"
