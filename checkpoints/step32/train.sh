#!/usr/bin/env bash
# Step 32 (checkpoints/step32/RULE.txt): step 30's songs and teachers (step 13 + step 26), started from
# step 30 (best_model.pth when it ran), teacher weight $1 (0.75 or 1.0), run folder $2; the two runs
# share the 2 cores (one thread each). Extra arguments (e.g. --resume) are passed on.
# Data: checkpoints/step29/render.sh train.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
weight=$1 run=$2; shift 2
[ -f runs/step13.pth ] || git show 48ce7aa:best_model.pth > runs/step13.pth  # step 13's weights
exec nice -n 5 .venv/bin/python -m musicsep.train --synthetic data/synth_v4 data/synth_v5 data/synth_v6 \
    data/psola_v6s3 data/sinsy_v6s4 --records data/records_v6 --records-proba 0.1 \
    --teacher runs/step13.pth checkpoints/step26/best.pth --teacher-weight "$weight" \
    --valid data/synth_v6 data/psola_v6 --val-seconds 30 \
    --init best_model.pth --lr 1.5e-4 --sdr-weight 0.05 --epochs 6 --minutes 60 --bf16 --threads 1 \
    --no-wiener-search --snapshots --run-dir "$run" --out "$run/best_model.pth" --cache data/cache "$@"
