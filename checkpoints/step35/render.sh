#!/usr/bin/env bash
# Step 35 (checkpoints/step35/RULE.txt): fresh training songs, from seeds no earlier set used, added to
# step 29's 256 (checkpoints/step29/render.sh train) so the distillation sees more mixtures.
# Sets already there are kept; each line is one set, in the order they were rendered.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/render_lib.sh

fresh_round 5 128 48 32 48 48  # seeds 5-9: v6, PSOLA, Sinsy, v4, v5
synth data/synth_v6s12 32 12 valid  # the run's choice of epoch, beside the seed-0 v6 and PSOLA splits
