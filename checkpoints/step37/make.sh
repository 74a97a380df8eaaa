#!/usr/bin/env bash
# Step 37 (checkpoints/step37/RULE.txt): the candidate, the mean of step 36's weights and its run's
# (checkpoints/step37/train.sh), BatchNorm statistics averaged too.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
.venv/bin/python -m musicsep.average "$(shipped_at $STEP36)" runs/unet41/best_model.pth --out runs/step37.pth
