#!/usr/bin/env bash
# Step 35 (checkpoints/step35/RULE.txt): fresh training songs, from seeds no earlier set used, added to
# step 29's 256 (checkpoints/step29/render.sh train) so the distillation sees more mixtures.
# Sets already there are kept; each line is one set, in the order they were rendered.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/render_lib.sh

synth data/synth_v6s5 128 5 train
synth data/psola_v6s6 48 6 train psola
synth data/sinsy_v6s7 32 7 train sinsy
synth_at 613d1ad data/synth_v4s8 48 8 train
synth_at 0353ac9 data/synth_v5s9 48 9 train
synth data/synth_v6s12 32 12 valid  # the run's choice of epoch, beside the seed-0 v6 and PSOLA splits
