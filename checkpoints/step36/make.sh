#!/usr/bin/env bash
# Step 36 (checkpoints/step36/RULE.txt): the mean of step 30's and step 35's weights.
# Run after step 35's run (checkpoints/step35/train.sh). When it ran, best_model.pth was step 30.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
[ -f runs/step30.pth ] || git show 901bd01:best_model.pth > runs/step30.pth  # step 30's weights
.venv/bin/python -m musicsep.average runs/step30.pth runs/unet40/best_model.pth --out runs/step36.pth
