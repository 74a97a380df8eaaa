#!/usr/bin/env bash
# Step 38 (checkpoints/step38/RULE.txt): the candidate, the mean of step 36's weights and its run's
# (checkpoints/step38/train.sh), BatchNorm statistics averaged too.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
.venv/bin/python -m musicsep.average "$(shipped_at $STEP36)" runs/unet42/best_model.pth --out runs/step38.pth
