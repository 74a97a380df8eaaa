#!/usr/bin/env bash
# Step 32 (checkpoints/step32/RULE.txt): step 30's run (checkpoints/step30/train.sh, the same songs)
# with teachers step 13 + step 26 at weight $1 (0.75 or 1.0), lr 1.5e-4 over 6 epochs, one thread (the
# two runs shared the 2 cores), run folder $2 (the later options win). Its starting point is
# step 30 (best_model.pth when it ran). Extra arguments (e.g. --resume) are passed on.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
weight=$1 run=$2; shift 2
source checkpoints/shipped.sh
exec bash checkpoints/step30/train.sh --teacher "$(shipped_at $STEP13)" checkpoints/step26/best.pth \
    --init "$(shipped_at $STEP30)" --teacher-weight "$weight" --lr 1.5e-4 --epochs 6 --threads 1 \
    --run-dir "$run" --out "$run/best_model.pth" "$@"
