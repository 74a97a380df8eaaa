#!/usr/bin/env bash
# Step 29's control (report only, never a candidate): train.sh without the stem effects, to tell
# what the effects did from what the smaller set of songs did (the later options win).
exec bash "$(dirname "$0")/train.sh" --effects-proba 0 --run-dir runs/unet33 --out runs/unet33/best_model.pth "$@"
