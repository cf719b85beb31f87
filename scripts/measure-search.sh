#!/usr/bin/env bash
# Measures the search strategies side by side on the toy world: weighted best-of-N, beam search
# (M = 4 and M = sqrt(N)), lookahead (k = 1, 3) and DVTS, at N = 4, 16, 64, with the oracle,
# toy-PRM and log-prob verifiers, on the first 100 toy problems (20 per level), seed 0.
# Prints a Markdown table (accuracy per level, policy and verifier tokens, FLOPs, wall time per
# run) and, measured alone and back to back, the wall-time ratio of beam search to weighted
# best-of-N at N = 64. Every run's directory (config.json, records.jsonl with the trees,
# summary.json) stays under $OUT.
#
# Knobs (environment): OUT (default target/measure-search), LIMIT (100), BUDGETS ("4 16 64"),
# VERIFIERS ("oracle toy-prm logprob"), JOBS (runs at once; default 2: each toy run uses one
# thread).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-target/measure-search}
LIMIT=${LIMIT:-100}
BUDGETS=${BUDGETS:-"4 16 64"}
VERIFIERS=${VERIFIERS:-"oracle toy-prm logprob"}
JOBS=${JOBS:-2}

cargo build --release --locked --quiet
bin=${CARGO_TARGET_DIR:-target}/release/thinkscale
rm -rf "$OUT"
mkdir -p "$OUT/runs" "$OUT/ratio"

isqrt() { python3 -c "import math; print(math.isqrt($1))"; }

# One line per run: NAME then the run's flags.
plan="$OUT/plan.txt"
: >"$plan"
for v in $VERIFIERS; do
  for n in $BUDGETS; do
    s=$(isqrt "$n")
    common="--verifier $v --budget $n --limit $LIMIT --seed 0"
    echo "$v-n$n-wbon $common --strategy weighted-best-of-n" >>"$plan"
    echo "$v-n$n-beam4 $common --strategy beam --beam-width 4" >>"$plan"
    if [ "$s" != 4 ]; then
      echo "$v-n$n-beam$s $common --strategy beam --beam-width $s" >>"$plan"
    fi
    echo "$v-n$n-la1 $common --strategy lookahead --beam-width 4 --lookahead 1" >>"$plan"
    echo "$v-n$n-la3 $common --strategy lookahead --beam-width 4 --lookahead 3" >>"$plan"
    echo "$v-n$n-dvts $common --strategy dvts --beam-width 4" >>"$plan"
  done
done
echo "measure-search: $(wc -l <"$plan") runs, $JOBS at a time, into $OUT/runs" >&2
# shellcheck disable=SC2016
xargs -P "$JOBS" -L 1 sh -c '
  name=$1; shift
  "$0" run "$@" --out "'"$OUT"'/runs/$name" >"'"$OUT"'/runs/$name.log" 2>&1 \
    || echo "measure-search: $name failed (see its log)" >&2
' "$bin" <"$plan"

# The wall-time ratio, measured alone: weighted best-of-64 then beam search at 64, same problems.
for pair in "wbon --strategy weighted-best-of-n" "beam --strategy beam --beam-width 4"; do
  set -- $pair
  name=$1
  shift
  "$bin" run "$@" --verifier oracle --budget 64 --limit "$LIMIT" --seed 0 \
    --out "$OUT/ratio/$name" >"$OUT/ratio/$name.log" 2>&1
done

python3 - "$OUT" <<'PY'
import json, os, sys

out = sys.argv[1]

def load(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    summ = json.load(open(os.path.join(d, "summary.json")))
    return cfg, summ

def label(cfg):
    s = cfg["strategy"]
    k = s["kind"]
    if k == "weighted-best-of-n":
        return "weighted best-of-N"
    if k == "beam":
        return f"beam M={s['beam_width']}"
    if k == "lookahead":
        return f"lookahead k={s['lookahead']} M={s['beam_width']}"
    if k == "dvts":
        return f"DVTS M={s['beam_width']}"
    return k

rows = []
runs = os.path.join(out, "runs")
for name in sorted(os.listdir(runs)):
    d = os.path.join(runs, name)
    if not os.path.isdir(d) or not os.path.exists(os.path.join(d, "summary.json")):
        continue
    cfg, s = load(d)
    c = s["compute"]
    lv = [s["per_level"].get(str(l), {}).get("accuracy", float("nan")) for l in range(1, 6)]
    rows.append((cfg["verifier"] if isinstance(cfg["verifier"], str) else str(cfg["verifier"]),
                 cfg["budget"], label(cfg), lv, s["accuracy"],
                 c["prompt_tokens"] + c["generated_tokens"], c["verifier_tokens"],
                 c.get("policy_flops", 0.0), c.get("verifier_flops", 0.0), s["elapsed_s"],
                 c.get("recomputed_tokens", 0)))

order = {"oracle": 0, "toy-prm": 1, "logprob": 2}
rows.sort(key=lambda r: (order.get(r[0], 9), r[1], r[2]))
print("| verifier | N | strategy | L1 | L2 | L3 | L4 | L5 | all | policy tokens | verifier tokens | policy FLOPs | verifier FLOPs | wall s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for v, n, lab, lv, acc, pt, vt, pf, vf, wall, _ in rows:
    levels = " | ".join(f"{x:.2f}" for x in lv)
    print(f"| {v} | {n} | {lab} | {levels} | {acc:.2f} | {pt} | {vt} | {pf:.2e} | {vf:.2e} | {wall:.1f} |")

ratio = os.path.join(out, "ratio")
try:
    _, w = load(os.path.join(ratio, "wbon"))
    _, b = load(os.path.join(ratio, "beam"))
    print()
    print(f"N = 64, oracle, measured alone back to back: weighted best-of-64 {w['elapsed_s']:.1f} s, "
          f"beam search (M = 4) {b['elapsed_s']:.1f} s: ratio {b['elapsed_s'] / w['elapsed_s']:.2f}x "
          f"(beam recomputed {b['compute']['recomputed_tokens']} prefix tokens)")
except FileNotFoundError:
    pass
PY
