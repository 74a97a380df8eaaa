#!/usr/bin/env bash
# Step 35 (checkpoints/step35/RULE.txt): step 30 (best_model.pth when it ran, SHA-256 72c002ab...)
# distilled again like step 30 (checkpoints/step30/train.sh: teachers step 13 + step 26, weight 0.5,
# lr 2.5e-4) on step 29's 256 training songs plus 304 fresh ones (checkpoints/step35/render.sh), with a
# third, fresh valid split for the run's choice of epoch; in its own run folder (the later options win).
# Extra arguments (e.g. --resume) are passed on.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
exec bash checkpoints/step30/train.sh \
    --synthetic data/synth_v4 data/synth_v5 data/synth_v6 data/psola_v6s3 data/sinsy_v6s4 \
    data/synth_v6s5 data/psola_v6s6 data/sinsy_v6s7 data/synth_v4s8 data/synth_v5s9 \
    --teacher "$(shipped_at $STEP13)" checkpoints/step26/best.pth \
    --valid data/synth_v6 data/psola_v6 data/synth_v6s12 \
    --init "$(shipped_at $STEP30)" --epochs 9 --minutes 48 \
    --run-dir runs/unet40 --out runs/unet40/best_model.pth "$@"
