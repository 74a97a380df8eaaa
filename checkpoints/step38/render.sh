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
  synth data/synth_v6s18 80 18 train
  synth data/psola_v6s19 24 19 train psola
  synth data/sinsy_v6s20 16 20 train sinsy
  synth_at 613d1ad data/synth_v4s21 44 21 train
  synth_at 0353ac9 data/synth_v5s22 44 22 train
  step data/records_v6s18/train musicsep.data.records data/synth_v6s18/train --out data/records_v6s18/train --seed 1 --train --songs 20
else  # judge
  bash checkpoints/step37/render.sh judge
fi
