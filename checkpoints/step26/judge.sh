#!/usr/bin/env bash
# Step 26 under checkpoints/step26/RULE.txt: part 1 (sung splits), then parts 2 and 3 if it passes.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
PY=.venv/bin/python
M=runs/unet30/best_model.pth
S=checkpoints/step26/scores
mkdir -p $S runs/judge26
until grep -aq "written to $M" runs/unet30/train.out; do sleep 20; done
score() { $PY benchmarks/select_unet.py $M --valid data/$1/valid --threads 1 --json $S/step26_$1.json > runs/judge26/$1.log 2>&1; echo "$1 done $(date +%T)"; }
(score synth_v4; score synth_v6) & score synth_v5 & wait
sung=$($PY -c "import json,sys; print(sum(json.load(open(f'$S/step26_{s}.json'))['scores']['$M']['SDR']['avg'] for s in ('synth_v4','synth_v5','synth_v6'))/3)" 2>/dev/null || true)
[ -n "$sung" ] || { echo "no sung scores"; exit 1; }
echo "sung mean: $sung"
$PY -c "import sys; sys.exit(0 if float('$sung') >= 6.278 else 1)" || { echo "part 1 FAILS"; score sinsy_v6; exit 0; }
score spoken_v6 & score psola_v6 & wait
( $PY benchmarks/real_backing_probe.py $M --threads 1 --json $S/step26_real_backing.json > runs/judge26/real_backing.log 2>&1; echo "probe done $(date +%T)" ) & score sinsy_v6 & wait
echo "judged $(date +%T)"
