#!/usr/bin/env bash
# Step 24 under checkpoints/step24/RULE.txt: candidates A (the run's checkpoint) and B (mean of A and step 13).
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
source checkpoints/shipped.sh
SHIPPED=$(shipped_at $STEP13)  # best_model.pth when this step ran: step 13's weights
PY=.venv/bin/python
A=runs/unet28/best_model.pth
B=runs/judge24/mean.pth
[ -f $B ] || $PY -m musicsep.average "$SHIPPED" $A --out $B
score() { nice -n 19 $PY benchmarks/select_unet.py $1 --valid data/$2/valid --threads 1 --json checkpoints/step24/scores/$3_$2.json > runs/judge24/$3_$2.log 2>&1; echo "$3 $2 done $(date +%T)"; }
probe() { nice -n 19 $PY benchmarks/real_backing_probe.py $1 --threads 1 --json checkpoints/step24/scores/$2_real_backing.json > runs/judge24/$2_real_backing.log 2>&1; echo "$2 probe done $(date +%T)"; }
(score $B synth_v4 mean; score $B synth_v6 mean; score $B psola_v6 mean; score $A synth_v5 A; score $A spoken_v6 A; probe $A A) &
(score $B synth_v5 mean; score $B spoken_v6 mean; probe $B mean; score $A synth_v4 A; score $A synth_v6 A; score $A psola_v6 A) &
wait
echo "rule sets done $(date +%T)"
(score $B sinsy_v6 mean) & (score "$SHIPPED" sinsy_v6 shipped) & wait
score $A sinsy_v6 A
echo "all done $(date +%T)"
