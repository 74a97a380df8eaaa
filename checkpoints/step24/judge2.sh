#!/usr/bin/env bash
# Step 24, after B failed part 1 (sung mean 6.259 < 6.278): A's sung splits, then Sinsy's valid songs (report only).
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
SHIPPED=$(shipped_at $STEP13)  # best_model.pth when this step ran: step 13's weights
PY=.venv/bin/python
A=runs/unet28/best_model.pth
score() { nice -n 19 $PY benchmarks/select_unet.py $1 --valid data/$2/valid --threads 1 --json checkpoints/step24/scores/$3_$2.json > runs/judge24/$3_$2.log 2>&1; echo "$3 $2 done $(date +%T)"; }
(score $A synth_v4 A; score $A synth_v6 A) & (score $A synth_v5 A; score "$SHIPPED" sinsy_v6 shipped) & wait
score $A sinsy_v6 A
echo "all done $(date +%T)"
