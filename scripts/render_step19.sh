#!/usr/bin/env bash
# Renders, from their seeds, every song step 19 of the U-Net recipe trains and is judged on
# (docs/unet.md, "Step 19"): 25 GB of wav; about 90 minutes for the training and valid sets on an
# AVX2-only 2-core machine (2026-12-06). Run after scripts/setup.sh with the records packages
# installed (README, "Real records"). Sets already there are kept. v4 and v5 come from their
# generators' commits, checked out in ../musicsep-613d1ad and ../musicsep-0353ac9 and run with this
# checkout's virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/render_lib.sh

# Training songs
synth_at 613d1ad data/synth_v4 160 0 train
synth_at 0353ac9 data/synth_v5 160 0 train
synth data/synth_v6 260 0 train
synth data/synth_v6s1 80 1 train
step data/spoken_v6s1/train musicsep.data.synth.spoken data/synth_v6s1/train data/spoken_v6s1/train --seed 1 --train --songs 80
synth data/psola_v6s3 80 3 train psola
step data/records_v6/train musicsep.data.records data/synth_v6/train --out data/records_v6/train --seed 1 --train --songs 100
# Validation songs (the run's own choice of epoch) and the rule's probes
synth_at 613d1ad data/synth_v4 16 0 valid
synth_at 0353ac9 data/synth_v5 16 0 valid
synth data/synth_v6 16 0 valid
synth data/psola_v6 16 0 valid psola
step data/spoken_v6/valid musicsep.data.synth.spoken data/synth_v6/valid data/spoken_v6/valid --seed 0
step data/real_backing/valid musicsep.data.records data/synth_v6/valid data/psola_v6/valid --out data/real_backing/valid --seed 0
