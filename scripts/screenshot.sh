#!/usr/bin/env bash
# Takes the README's two screenshots of the workbench under Xvfb, with no clicks:
#   assets/screenshot.png        beam search, N = 64, on a level-4 toy problem against the toy
#                                PRM (thinkscale gui --problem ... --run), the tree and the
#                                step-score chart;
#   assets/screenshot-plots.png  the Plots tab on a small sweep of the toy world (majority,
#                                weighted best-of-N and beam search at N = 1 ... 16, 60
#                                problems), run first with `thinkscale sweep`;
#   assets/screenshot-compare.png  at 1280x720: beam search pinned beside weighted best-of-N
#                                on the same problem against the noisy oracle at Q = 0.7;
#   assets/screenshot-dial.png   at 1280x720: that beam search re-scored by the dial at Q = 0.97.
# The last two click where the window puts its controls at 1280x720 (xdotool); a layout change
# that moves them needs the coordinates below changed.
# The window starts from its own settings file (strategy beam, budget 64), so the user's
# settings are untouched; its runs are kept under a temporary directory.
# Needs: apt-get install xvfb libgl1-mesa-dri libegl1 libegl-mesa0 libgl1 libglx-mesa0
#        mesa-vulkan-drivers libvulkan1 libxkbcommon-x11-0 libxcursor1 libxi6 libx11-xcb1
#        imagemagick xdotool
# Usage: scripts/screenshot.sh   (WAIT=seconds for the search, default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
bin=$PWD/target/release/thinkscale
tmp=$(mktemp -d)
# A fresh HOME for the window: no window size or settings remembered from other sessions.
mkdir -p "$tmp/home"
Xvfb :99 -screen 0 1440x900x24 >/dev/null 2>&1 &
xvfb=$!
app=
trap 'kill $app $xvfb 2>/dev/null || true; rm -rf "$tmp"' EXIT
export DISPLAY=:99
sleep 1

# The tree: beam search with 16 beams of width 4 ... at N = 64, started by --run.
printf '{"strategy": "beam", "budget": 64, "beam_width": 4}\n' >"$tmp/settings.json"
(cd "$tmp" && HOME="$tmp/home" THINKSCALE_SETTINGS="$tmp/settings.json" \
  "$bin" gui --verifier toy-prm --problem toy-L4-003 --run) &
app=$!
sleep "${WAIT:-20}"
# Select the wrong leaf (where this seeded search puts it; CLICK="X Y" for another spot), so
# the step panel names the step the verifier scored lowest; then the pointer off the widgets.
read -r cx cy <<<"${CLICK:-1050 341}"
xdotool mousemove "$cx" "$cy" click 1
sleep 1
xdotool mousemove 1439 899
sleep 1
import -window root assets/screenshot.png
kill $app
wait $app 2>/dev/null || true
echo "wrote assets/screenshot.png"

# The plots: a small sweep, then the window opened on it (the Plots tab, budget slider at 16).
"$bin" sweep --strategies majority,weighted-best-of-n,beam --budgets 1,2,4,8,16 \
  --beam-widths 4 --verifier toy-prm --limit 60 --out "$tmp/sweep-toy"
printf '{"strategy": "weighted-best-of-n", "budget": 16}\n' >"$tmp/settings.json"
(cd "$tmp" && HOME="$tmp/home" THINKSCALE_SETTINGS="$tmp/settings.json" \
  "$bin" gui --open "$tmp/sweep-toy") &
app=$!
sleep 8
xdotool mousemove 1439 899
sleep 1
import -window root assets/screenshot-plots.png
echo "wrote assets/screenshot-plots.png"
kill $app
wait $app 2>/dev/null || true
kill $xvfb
wait $xvfb 2>/dev/null || true

# At 1280x720: compare, then the dial.
Xvfb :99 -screen 0 1280x720x24 >/dev/null 2>&1 &
xvfb=$!
sleep 1
click() { xdotool mousemove "$1" "$2"; sleep 0.4; xdotool click 1; sleep 1; }
printf '{"strategy": "beam", "budget": 16, "beam_width": 4, "verifier": {"noisy-oracle": {"q": 0.7}}}\n' \
  >"$tmp/settings.json"
rm -rf "$tmp/runs"
(cd "$tmp" && HOME="$tmp/home" THINKSCALE_SETTINGS="$tmp/settings.json" \
  "$bin" gui --problem toy-L4-003 --run) &
app=$!
sleep "${WAIT:-20}"
click 368 99      # Pin
click 1140 62     # Strategy
click 1160 135    # weighted-best-of-n
click 790 12      # Run
sleep 8
xdotool mousemove 1279 719
sleep 1
import -window root assets/screenshot-compare.png
echo "wrote assets/screenshot-compare.png"
kill $app
wait $app 2>/dev/null || true

rm -rf "$tmp/runs"
printf '{"strategy": "beam", "budget": 16, "beam_width": 4, "verifier": {"noisy-oracle": {"q": 0.7}}}\n' \
  >"$tmp/settings.json"
(cd "$tmp" && HOME="$tmp/home" THINKSCALE_SETTINGS="$tmp/settings.json" \
  "$bin" gui --problem toy-L4-003 --run) &
app=$!
sleep "${WAIT:-20}"
# Drag Q from 0.70 to 0.97.
xdotool mousemove 1136 166; sleep 0.5; xdotool mousedown 1; sleep 0.3
xdotool mousemove 1160 166; sleep 0.3; xdotool mousemove 1186 166; sleep 0.3; xdotool mouseup 1
sleep 1
xdotool mousemove 1279 719
sleep 1
import -window root assets/screenshot-dial.png
echo "wrote assets/screenshot-dial.png"
