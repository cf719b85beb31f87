#!/usr/bin/env bash
# Takes assets/screenshot.png: the workbench under Xvfb after searching one problem.
# Needs: apt-get install xvfb libgl1-mesa-dri libegl1 libegl-mesa0 libgl1 libglx-mesa0
#        mesa-vulkan-drivers libvulkan1 libxkbcommon-x11-0 libxcursor1 libxi6 libx11-xcb1
#        imagemagick xdotool
# Usage: scripts/screenshot.sh [X Y of a problem in the list] [X Y of the Run button]
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
xdotool mousemove "${1:-120}" "${2:-118}" click 1
sleep 0.5
xdotool mousemove "${3:-900}" "${4:-20}" click 1
sleep "${WAIT:-4}"
import -window root assets/screenshot.png
echo "wrote assets/screenshot.png"
