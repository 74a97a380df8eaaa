#!/usr/bin/env bash
# One-step set-up on a fresh Debian machine with Python 3.11: system packages, a virtual
# environment in .venv, the CPU build of PyTorch, then the project and its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# ffmpeg: musdb/stempeg and the mp3/mp4 reader; fluidsynth + the GM SoundFont + the Hydrogen drum kits:
# the synthetic songs;
# festival + festvox voices: the held-out spoken probe and training copies (musicsep.data.synth.spoken --festival);
# chromium: the browser end-to-end tests of the web pages; g++: pip builds pysinsy (Sinsy's singing voice) from source.
APT_PACKAGES="ffmpeg g++ fluidsynth fluid-soundfont-gm musescore-general-soundfont lmms-common sonic-pi-samples hydrogen-drumkits festival festvox-kallpc16k festvox-kdlpc16k festvox-czech-dita festvox-suopuhe-lj festvox-italp16k festvox-us-slt-hts festvox-ca-ona-hts festvox-czech-ph festvox-czech-machac festvox-czech-krb festvox-suopuhe-mv festvox-itapc16k festvox-ru chromium"
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Node.js and npm: npm installs onnxruntime-web (pinned in musicsep/web/package-lock.json) for the
# in-browser page; apt only when npm is missing (a Node.js from elsewhere is kept).
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
(cd musicsep/web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The CPU build first, so nothing later pulls the CUDA one.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -r requirements.txt
.venv/bin/python -m pip install -q --no-deps -e .
