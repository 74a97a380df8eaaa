#!/usr/bin/env bash
# Step 34 (checkpoints/step34/RULE.txt): step 33's run (the same widened start, songs and teachers)
# over 12 epochs instead of 8, in its own run folder (the later options win). The widened start is
# step 30 (best_model.pth when it ran) through musicsep.widen; extra arguments are passed on.
exec bash "$(dirname "$0")/../step33/train.sh" --epochs 12 --minutes 26 \
    --run-dir runs/unet39 --out runs/unet39/best_model.pth "$@"
