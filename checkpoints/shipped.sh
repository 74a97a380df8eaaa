# Source it. A recipe step starts from, or learns from, the model shipped when it ran, which
# best_model.pth no longer is once a later model ships: shipped_at COMMIT writes best_model.pth as
# committed at COMMIT to runs/shipped-COMMIT.pth (once) and prints that path.
shipped_at() {
  local out=runs/shipped-$1.pth
  if [ ! -f "$out" ]; then
    mkdir -p runs
    git show "$1:best_model.pth" > "$out.part" && mv "$out.part" "$out"
  fi
  echo "$out"
}
STEP13=48ce7aa  # best_model.pth = step 13's weights (shipped as step 23, the input level range)
STEP30=901bd01  # best_model.pth = step 30
STEP36=708eb39  # best_model.pth = step 36 (the mean of steps 30 and 35)
