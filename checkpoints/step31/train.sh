#!/usr/bin/env bash
# Step 31 (checkpoints/step31/RULE.txt): step 30's run (checkpoints/step30/train.sh, the same songs,
# teachers and settings) in its own run folder (the later options win); extra arguments are passed on.
# best_model.pth, its starting point and first teacher, was step 30 when it ran.
exec bash "$(dirname "$0")/../step30/train.sh" --run-dir runs/unet35 --out runs/unet35/best_model.pth "$@"
