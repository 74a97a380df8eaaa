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
