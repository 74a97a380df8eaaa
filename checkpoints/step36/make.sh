#!/usr/bin/env bash
# Step 36 (checkpoints/step36/RULE.txt): the mean of step 30's and step 35's weights.
# Run with step 30 as best_model.pth and step 35's run done (checkpoints/step35/train.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
.venv/bin/python -m musicsep.average best_model.pth runs/unet40/best_model.pth --out runs/step36.pth
