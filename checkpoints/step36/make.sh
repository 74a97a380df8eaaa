#!/usr/bin/env bash
# Step 36 (checkpoints/step36/RULE.txt): the mean of step 30's and step 35's weights.
# Run after step 35's run (checkpoints/step35/train.sh). When it ran, best_model.pth was step 30.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
.venv/bin/python -m musicsep.average "$(shipped_at $STEP30)" runs/unet40/best_model.pth --out runs/step36.pth
