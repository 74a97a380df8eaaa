#!/usr/bin/env bash
# Renders, from seed 11, the fresh valid songs that U-Net candidates are judged on since step 27
# (docs/unet.md, "Step 27"): 32 songs of 30 s from each sung generator version (v4 and v5 from their
# commits) and, reported beside them, 32 each sung by the PSOLA and Sinsy singers. No training run
# reads them. About 12 minutes for the sung sets and 8 for the voices on 2 cores (2026-12-07).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/render_lib.sh

synth_at 613d1ad data/synth_v4f11 32 11 valid
synth_at 0353ac9 data/synth_v5f11 32 11 valid
synth data/synth_v6f11 32 11 valid
synth data/psola_v6f11 32 11 valid psola
synth data/sinsy_v6f11 32 11 valid sinsy
