#!/usr/bin/env bash
# Beam search through a llama.cpp server, beside the same search on thinkscale's local engine
# and beside llama.cpp's own batched benchmark, on one GGUF file in one run:
#
#   scripts/bench-remote.sh [MODEL.gguf] [PROBLEMS] [SLOTS]
#
# 1. starts llama-server (b11434, built by scripts/build-llama-server.sh with llama-batched-bench)
#    on 127.0.0.1 with SLOTS parallel slots (default 16) and its /metrics on;
# 2. runs `thinkscale run --strategy beam` (N = 16, beam width 4: 16 continuations per round) on
#    PROBLEMS toy problems (default 8) with --policy remote:URL and --concurrency SLOTS, then
#    reads from the server's /metrics how many slots were busy per decode on average (the
#    achieved concurrency: at most SLOTS, at most 16 continuations per round);
# 3. runs the same search with --policy MODEL.gguf on the local engine;
# 4. runs llama-batched-bench on the same file at 1, 4 and 16 parallel sequences (64-token shared
#    prompt, 32 tokens each), the server's engine without HTTP and scheduling;
# and prints one table: generated tokens/s and achieved concurrency per row. Both searches use
# the same seed, problems and sampling; the remote and local samples differ (different random
# streams), so their tokens counts differ too: compare rates, not totals.
# Not part of CI: timings on a shared machine are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
limit="${2:-8}"
slots="${3:-16}"
[ -f "$model" ] || scripts/fetch-models.sh
server="$(scripts/build-llama-server.sh llama-batched-bench)"
bin="$(dirname "$server")"
out=target/bench-remote
rm -rf "$out"
mkdir -p "$out"
cargo build --release --quiet
port=8092
url="http://127.0.0.1:$port"
"$server" -m "$model" --host 127.0.0.1 --port "$port" -np "$slots" -c $((slots * 1024)) \
  -t "$(nproc)" --metrics >"$out/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  python3 -c "import urllib.request; urllib.request.urlopen('$url/health')" >/dev/null 2>&1 && break
  sleep 1
done
search=(run --strategy beam --budget 16 --beam-width 4 --limit "$limit" --max-tokens 96
  --verifier logprob --seed 0)
echo "beam search, N = 16, beam width 4, $limit problems: remote ($slots slots) ..."
target/release/thinkscale "${search[@]}" --policy "remote:$url" --concurrency "$slots" \
  --out "$out/remote" >/dev/null
python3 -c "import urllib.request; print(urllib.request.urlopen('$url/metrics').read().decode())" \
  >"$out/metrics.txt"
kill $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
echo "... local engine ..."
target/release/thinkscale "${search[@]}" --policy "$model" --out "$out/local" >/dev/null
echo "... llama-batched-bench ..."
"$bin/llama-batched-bench" -m "$model" -t "$(nproc)" -c 8192 -npp 64 -ntg 32 -npl 1,4,16 -pps \
  2>/dev/null | grep '^|' >"$out/batched-bench.txt"
python3 - "$out" "$slots" <<'EOF'
import json, re, sys
out, slots = sys.argv[1], int(sys.argv[2])
metrics = {}
for line in open(f"{out}/metrics.txt"):
    m = re.match(r"llamacpp:(\w+)\s+([-\d.e+]+)", line)
    if m:
        metrics[m.group(1)] = float(m.group(2))
rows = []
for name in ["remote", "local"]:
    s = json.load(open(f"{out}/{name}/summary.json"))
    c = s["compute"]
    rate = c["generated_tokens"] / s["elapsed_s"]
    busy = metrics.get("n_busy_slots_per_decode") if name == "remote" else None
    label = f"beam search via llama-server ({slots} slots)" if name == "remote" else "beam search on the local engine"
    rows.append((label, c["generated_tokens"], s["elapsed_s"], rate, busy))
# llama-batched-bench columns: | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s |
for line in open(f"{out}/batched-bench.txt"):
    cells = [x.strip() for x in line.strip().strip("|").split("|")]
    if len(cells) >= 10 and cells[2].isdigit():
        b, tg = int(cells[2]), int(cells[1])
        rows.append((f"llama-batched-bench, {b} sequences", b * tg, float(cells[6]), float(cells[7]), float(b)))
print()
print("| workload | generated tokens | seconds | generated tokens/s | achieved concurrency |")
print("|---|---|---|---|---|")
for label, tokens, secs, rate, busy in rows:
    conc = f"{busy:.1f}" if busy is not None else "n/a (one batch per round)"
    print(f"| {label} | {tokens} | {secs:.1f} | {rate:.1f} | {conc} |")
r, l = rows[0][3], rows[1][3]
print(f"\nremote / local generated tokens/s: {r / l:.2f}")
print(f"server: {metrics.get('tokens_predicted_total', 0):.0f} tokens predicted, "
      f"{metrics.get('prompt_tokens_total', 0):.0f} prompt tokens run, "
      f"{metrics.get('n_decode_total', 0):.0f} decode calls")
EOF
