#!/usr/bin/env bash
# Step 25, B passed part 1 (sung mean 6.292 >= 6.278): parts 2 and 3 for B.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
PY=.venv/bin/python
B=runs/judge25/mean.pth
score() { $PY benchmarks/select_unet.py $B --valid data/$1/valid --threads 1 --json checkpoints/step25/scores/mean_$1.json > runs/judge25/mean_$1.log 2>&1; echo "mean $1 done $(date +%T)"; }
score spoken_v6 & score psola_v6 & ($PY benchmarks/real_backing_probe.py $B --threads 1 --json checkpoints/step25/scores/mean_real_backing.json > runs/judge25/mean_real_backing.log 2>&1; echo "mean probe done $(date +%T)") & wait
echo "B done $(date +%T)"
