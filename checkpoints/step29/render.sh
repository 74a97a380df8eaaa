#!/usr/bin/env bash
# Step 29 (checkpoints/step29/RULE.txt): every song it trains and is judged on, from seeds, on 2 cores.
# First a training subset of step 26's sets (the first 48 v4 and v5 songs, 96 v6, 32 PSOLA, 32 Sinsy
# and 40 v6 voices over real records: needs the records packages, README "Real records") and the seed-0
# v6 and PSOLA valid splits the run picks its epoch on, about 30 min;
# then, while it trains, the judge's seed-11 splits and the real-backing probe (the renders of steps 27-28).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/render_lib.sh

if [ "${1:-train}" = train ]; then
  synth_at 613d1ad data/synth_v4 48 0 train
  synth_at 0353ac9 data/synth_v5 48 0 train
  synth data/synth_v6 96 0 train
  synth data/psola_v6s3 32 3 train psola
  synth data/sinsy_v6s4 32 4 train sinsy
  step data/records_v6/train musicsep.data.records data/synth_v6/train --out data/records_v6/train --seed 1 --train --songs 40
  synth data/synth_v6 16 0 valid  # the run's choice of epoch
  synth data/psola_v6 16 0 valid psola
else  # judge
  synth_at 613d1ad data/synth_v4f11 32 11 valid
  synth_at 0353ac9 data/synth_v5f11 32 11 valid
  synth data/synth_v6f11 32 11 valid
  step data/real_backing/valid musicsep.data.records data/synth_v6/valid data/psola_v6/valid --out data/real_backing/valid --seed 0
fi
