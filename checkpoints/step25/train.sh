#!/usr/bin/env bash
# Step 25 (checkpoints/step25/RULE.txt); extra arguments (e.g. --resume) are passed on.
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
SHIPPED=$(shipped_at $STEP13)  # best_model.pth when this step ran: step 13's weights
exec nice -n 10 .venv/bin/python -m musicsep.train --synthetic data/synth_v4 data/synth_v5 data/synth_v6 \
    data/spoken_v6s1 data/sinsy_v6s4 --valid data/synth_v4 data/synth_v5 data/synth_v6 data/psola_v6 --val-seconds 30 \
    --init "$SHIPPED" --lr 5e-5 --sdr-weight 0.05 --epochs 3 --threads 2 --no-wiener-search \
    --snapshots --run-dir runs/unet29 --out runs/unet29/best_model.pth --cache data/cache "$@"
