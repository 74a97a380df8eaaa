#!/usr/bin/env bash
# Step 25 under checkpoints/step25/RULE.txt: sung splits of B (mean of A and step 13), then of A.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
SHIPPED=$(shipped_at $STEP13)  # best_model.pth when this step ran: step 13's weights
PY=.venv/bin/python
A=runs/unet29/best_model.pth
B=runs/judge25/mean.pth
until grep -aq "written to runs/unet29/best_model.pth" runs/unet29/train.out; do sleep 20; done
[ -f $B ] || $PY -m musicsep.average "$SHIPPED" $A --out $B
score() { nice -n 19 $PY benchmarks/select_unet.py $1 --valid data/$2/valid --threads 1 --json checkpoints/step25/scores/$3_$2.json > runs/judge25/$3_$2.log 2>&1; echo "$3 $2 done $(date +%T)"; }
(score $B synth_v4 mean; score $B synth_v6 mean; score $A synth_v5 A) & (score $B synth_v5 mean; score $A synth_v4 A; score $A synth_v6 A) & wait
echo "sung done $(date +%T)"
