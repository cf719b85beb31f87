#!/usr/bin/env bash
# Takes assets/screenshot.png: the workbench under Xvfb after searching one problem.
# Needs: apt-get install xvfb libgl1-mesa-dri libegl1 libegl-mesa0 libgl1 libglx-mesa0
#        mesa-vulkan-drivers libvulkan1 libxkbcommon-x11-0 libxcursor1 libxi6 libx11-xcb1
#        imagemagick xdotool
# Usage: scripts/screenshot.sh [X Y of a problem in the list] [X Y of the Run button]
# With VERIFIER=1 it first picks the toy PRM in the verifier box (coordinates of an older
# layout: check them against the window before relying on them); by default it keeps the
# verifier of the settings (oracle on a fresh start).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
Xvfb :99 -screen 0 1280x800x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
export DISPLAY=:99
sleep 1
./target/release/thinkscale &
app=$!
sleep 4
if [ "${VERIFIER:-0}" = 1 ]; then
  xdotool mousemove 370 12 click 1   # the verifier box
  sleep 1
  xdotool mousemove 355 86 click 1   # toy-prm
  sleep 1
fi
xdotool mousemove "${1:-80}" "${2:-325}" click 1
sleep 1
xdotool mousemove "${3:-1200}" "${4:-12}" click 1
sleep "${WAIT:-4}"
import -window root assets/screenshot.png
echo "wrote assets/screenshot.png"
