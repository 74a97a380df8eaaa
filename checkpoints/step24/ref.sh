#!/usr/bin/env bash
# Step 24 reference: the shipped model (step 23 code) on the spoken and PSOLA valid splits.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
SHIPPED=$(shipped_at $STEP13)  # best_model.pth when this step ran: step 13's weights
PY=.venv/bin/python
score() { nice -n 19 $PY benchmarks/select_unet.py "$SHIPPED" --valid data/$1/valid --threads 1 --json checkpoints/step24/scores/shipped_$1.json > runs/judge24/shipped_$1.log 2>&1; echo "$1 done $(date +%T)"; }
score spoken_v6 & score psola_v6 & wait
echo "ref done $(date +%T)"
