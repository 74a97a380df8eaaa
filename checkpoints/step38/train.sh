#!/usr/bin/env bash
# Step 38 (checkpoints/step38/RULE.txt): step 36 (SHA-256 821f4590...) distilled like steps 30, 35 and 37
# (checkpoints/step30/train.sh: teachers step 13 + step 26, weight 0.5, lr 2.5e-4) on 336 fresh songs and
# their voices over real records (checkpoints/step38/render.sh), in its own run folder (the later options
# win). Extra arguments (e.g. --resume) are passed on.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
exec bash checkpoints/step30/train.sh \
    --synthetic data/synth_v6s13 data/psola_v6s14 data/sinsy_v6s15 data/synth_v4s16 data/synth_v5s17 \
    data/synth_v6s18 data/psola_v6s19 data/sinsy_v6s20 data/synth_v4s21 data/synth_v5s22 \
    --records data/records_v6s13 data/records_v6s18 \
    --teacher "$(shipped_at $STEP13)" checkpoints/step26/best.pth \
    --valid data/synth_v6 data/psola_v6 data/synth_v6s12 \
    --init "$(shipped_at $STEP36)" --epochs 9 --minutes 40 \
    --run-dir runs/unet42 --out runs/unet42/best_model.pth "$@"
