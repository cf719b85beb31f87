#!/usr/bin/env bash
# README's "Selection as an axis" table: banks of 16 samples on 100 toy problems, scored by the
# learned toy PRM and by the calibrated noisy oracle at Q = 0.9, then every choice rule
# recomputed from the stored step scores by `thinkscale reselect` (no new generation).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/reselect}"
cargo build --release --quiet
for v in toy-prm noisy-oracle:0.9; do
  dir="$out/${v//:/-}"
  if [ ! -f "$dir/curves.json" ]; then
    target/release/thinkscale sweep --strategies majority,best-of-n,weighted-best-of-n \
      --budgets 4,16 --limit 100 --bin-samples 0 --draws 200 --verifier "$v" --out "$dir"
  fi
  echo "## $v"
  target/release/thinkscale reselect "$dir"
done
