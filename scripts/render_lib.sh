# Shared by the render scripts (source it): render song sets from seeds, each kept if already there.
# Older generator versions run from their commits, checked out as worktrees in ../musicsep-COMMIT, with
# this checkout's virtual environment.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=$ROOT/.venv/bin/python

synth_in() {  # synth_in CHECKOUT OUT TRACKS SEED SPLIT [SINGER]: the generator of that checkout
  [ -d "$ROOT/$2/$5" ] && return
  (cd "$1" && "$PY" -c "import sys; from musicsep.cli import main; sys.exit(main())" \
    synth --out "$ROOT/$2" --tracks "$3" --seconds 30 --seed "$4" --split "$5" ${6:+--singer "$6"})
}
synth() { synth_in "$ROOT" "$@"; }  # synth OUT TRACKS SEED SPLIT [SINGER]
synth_at() {  # synth_at COMMIT OUT TRACKS SEED SPLIT: an older commit's generator
  local wt=$ROOT/../musicsep-$1
  [ -d "$wt" ] || git -C "$ROOT" worktree add -f "$wt" "$1" >/dev/null
  synth_in "$wt" "${@:2}"
}
step() { [ -d "$ROOT/$1" ] || (cd "$ROOT" && "$PY" -m "${@:2}"); }  # step OUT MODULE ARGS...: a derived set
# fresh_round SEED V6 PSOLA SINSY V4 V5 [VOICES]: one round of training songs from five consecutive seeds
# (SEED..SEED+4: v6, PSOLA-sung v6, Sinsy-sung v6, the v4 and v5 generators), then VOICES of the v6 songs
# over real records (none if left out).
fresh_round() {
  local s=$1
  synth data/synth_v6s$s "$2" $s train
  synth data/psola_v6s$((s + 1)) "$3" $((s + 1)) train psola
  synth data/sinsy_v6s$((s + 2)) "$4" $((s + 2)) train sinsy
  synth_at 613d1ad data/synth_v4s$((s + 3)) "$5" $((s + 3)) train
  synth_at 0353ac9 data/synth_v5s$((s + 4)) "$6" $((s + 4)) train
  [ -z "${7:-}" ] || step data/records_v6s$s/train musicsep.data.records data/synth_v6s$s/train \
    --out data/records_v6s$s/train --seed 1 --train --songs "$7"
}
