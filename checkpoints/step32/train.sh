#!/usr/bin/env bash
# Step 32 (checkpoints/step32/RULE.txt): step 30's run (checkpoints/step30/train.sh, the same songs)
# with teachers step 13 + step 26 at weight $1 (0.75 or 1.0), lr 1.5e-4 over 6 epochs, one thread (the
# two runs shared the 2 cores), run folder $2 (the later options win). best_model.pth, its starting
# point, was step 30 when it ran. Extra arguments (e.g. --resume) are passed on.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
weight=$1 run=$2; shift 2
[ -f runs/step13.pth ] || git show 48ce7aa:best_model.pth > runs/step13.pth  # step 13's weights
exec bash checkpoints/step30/train.sh --teacher runs/step13.pth checkpoints/step26/best.pth \
    --teacher-weight "$weight" --lr 1.5e-4 --epochs 6 --threads 1 \
    --run-dir "$run" --out "$run/best_model.pth" "$@"
