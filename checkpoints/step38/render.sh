#!/usr/bin/env bash
# Step 38 (checkpoints/step38/RULE.txt): every song it trains and picks its epoch on, from seeds, on
# 2 cores. Sets already there are kept; each line is one set, in the order they are rendered.
#   train: step 37's training and valid sets (checkpoints/step37/render.sh train), then 208 songs from
#          seeds no earlier set used (80 v6, 24 PSOLA, 16 Sinsy, 44 v4, 44 v5) and 20 voices of the
#          new v6 songs over real records (needs the records packages, README "Real records");
#   judge: step 37's (the seed-11 splits and the real-backing probe).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/render_lib.sh

if [ "${1:-train}" = train ]; then
  bash checkpoints/step37/render.sh train
  fresh_round 18 80 24 16 44 44 20  # seeds 18-22: v6, PSOLA, Sinsy, v4, v5; 20 voices over records
else  # judge
  bash checkpoints/step37/render.sh judge
fi
