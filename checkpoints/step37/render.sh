#!/usr/bin/env bash
# Step 37 (checkpoints/step37/RULE.txt): every song it trains, picks its epoch and is judged on, from seeds,
# on 2 cores. Sets already there are kept; each line is one set, in the order they are rendered.
#   train: 128 songs from seeds no earlier set used (20 v4, 20 v5, 48 v6, 24 PSOLA, 16 Sinsy), 20 voices
#          of the new v6 songs over real records (needs the records packages, README "Real records"),
#          and the three valid splits of step 35 the run picks its epoch on;
#   judge: the seed-11 splits and the real-backing probe (as checkpoints/step29/render.sh judge); the probe
#          reads the seed-0 valid splits, so `train` (at least its first two lines) goes first.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/render_lib.sh

if [ "${1:-train}" = train ]; then
  synth data/synth_v6 16 0 valid  # the run's choice of epoch (and, with PSOLA's, the probe's voices)
  synth data/psola_v6 16 0 valid psola
  synth data/synth_v6s12 32 12 valid
  fresh_round 13 48 24 16 20 20 20  # seeds 13-17: v6, PSOLA, Sinsy, v4, v5; 20 voices over records
else  # judge
  bash checkpoints/step29/render.sh judge
fi
