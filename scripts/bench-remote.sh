#!/usr/bin/env bash
# Beam search through a llama.cpp server, beside the same search on thinkscale's local engine
# and beside llama.cpp's own batched benchmark, on one GGUF file in one run:
#
#   scripts/bench-remote.sh [MODEL.gguf] [PROBLEMS] [SLOTS]
#
# 1. starts llama-server (b11434, built by scripts/build-llama-server.sh with llama-batched-bench)
#    on 127.0.0.1 with SLOTS parallel slots (default 16) and its /metrics on;
# 2. runs `thinkscale run --strategy beam` (N = 16, beam width 4: 16 continuations per round) on
#    PROBLEMS toy problems (default 8) with --policy remote:URL and --concurrency SLOTS three
#    times, each on a freshly started server: with --parallel-problems 1; with the default
#    (SLOTS problems at once, each sending its requests as it makes them); and with the default
#    and --samples-per-request 1 (every continuation its own request, none sharing a prompt),
#    and reads from its /metrics how many slots were busy per decode on average (the achieved
#    concurrency) and how many prompt tokens it ran;
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
search=(run --strategy beam --budget 16 --beam-width 4 --limit "$limit" --max-tokens 96
  --verifier logprob --seed 0)
# The remote search twice, on a fresh server each time (its /metrics average from its start):
# one problem at a time, then the default (--concurrency problems at once).
for k in 1 default separate; do
  "$server" -m "$model" --host 127.0.0.1 --port "$port" -np "$slots" -c $((slots * 1024)) \
    -t "$(nproc)" --metrics >"$out/server-$k.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 120); do
    python3 -c "import urllib.request; urllib.request.urlopen('$url/health')" >/dev/null 2>&1 && break
    sleep 1
  done
  flag=()
  [ "$k" = 1 ] && flag=(--parallel-problems 1)
  [ "$k" = separate ] && flag=(--samples-per-request 1)
  echo "beam search, N = 16, beam width 4, $limit problems: remote ($slots slots), $k ..."
  target/release/thinkscale "${search[@]}" --policy "remote:$url" --concurrency "$slots" \
    "${flag[@]}" --out "$out/remote-$k" >/dev/null 2>"$out/remote-$k.log"
  python3 -c "import urllib.request; print(urllib.request.urlopen('$url/metrics').read().decode())" \
    >"$out/metrics-$k.txt"
  kill $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
done
echo "... local engine ..."
target/release/thinkscale "${search[@]}" --policy "$model" --out "$out/local" >/dev/null
echo "... llama-batched-bench ..."
"$bin/llama-batched-bench" -m "$model" -t "$(nproc)" -c 8192 -npp 64 -ntg 32 -npl 1,4,16 -pps \
  2>/dev/null | grep '^|' >"$out/batched-bench.txt"
python3 - "$out" "$slots" "$limit" <<'EOF'
import json, re, sys
out, slots, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def metrics(k):
    m = {}
    for line in open(f"{out}/metrics-{k}.txt"):
        r = re.match(r"llamacpp:(\w+)\s+([-\d.e+]+)", line)
        if r:
            m[r.group(1)] = float(r.group(2))
    return m
def said(k):
    # What the run said it would do ("searching K problems at once").
    for line in open(f"{out}/remote-{k}.log"):
        r = re.search(r"searching (\d+) problems? at once", line)
        if r:
            return min(int(r.group(1)), limit)
    return None
rows = []
for name in ["remote-1", "remote-default", "remote-separate", "local"]:
    s = json.load(open(f"{out}/{name}/summary.json"))
    c = s["compute"]
    rate = c["generated_tokens"] / s["elapsed_s"]
    if name == "local":
        label, busy, prompt = "beam search on the local engine", None, c["prompt_tokens"]
    else:
        k = name.split("-")[1]
        m = metrics(k)
        busy, prompt = m.get("n_busy_slots_per_decode"), int(m.get("prompt_tokens_total", 0))
        how = ("its own request each" if k == "separate"
               else "as siblings (the default --samples-per-request)")
        label = (f"beam search via llama-server ({slots} slots), {said(k)} problem(s) at once, "
                 f"continuations {how}")
    rows.append((label, c["generated_tokens"], prompt, s["elapsed_s"], rate, busy))
# llama-batched-bench columns: | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s |
for line in open(f"{out}/batched-bench.txt"):
    cells = [x.strip() for x in line.strip().strip("|").split("|")]
    if len(cells) >= 10 and cells[2].isdigit():
        b, tg = int(cells[2]), int(cells[1])
        rows.append((f"llama-batched-bench, {b} sequences", b * tg, int(cells[0]), float(cells[6]), float(cells[7]), float(b)))
print()
print("| workload | generated tokens | prompt tokens run | seconds | generated tokens/s | achieved concurrency |")
print("|---|---|---|---|---|---|")
for label, tokens, prompt, secs, rate, busy in rows:
    conc = f"{busy:.1f}" if busy is not None else "n/a (one batch per round)"
    print(f"| {label} | {tokens} | {prompt} | {secs:.1f} | {rate:.1f} | {conc} |")
one, many, separate, local = rows[0][4], rows[1][4], rows[2][4], rows[3][4]
print(f"\nremote, problems at once against one at a time: {many / one:.2f}x generated tokens/s")
print(f"remote, siblings against separate requests: {many / separate:.2f}x generated tokens/s")
print(f"remote (problems at once) / local generated tokens/s: {many / local:.2f}")
sts = [r for r in rows if r[0] == f"llama-batched-bench, {min(slots, 16)} sequences"]
if sts:
    print(f"remote (problems at once) / llama-batched-bench at {min(slots, 16)} sequences: "
          f"{many / sts[0][4]:.2f}")
# What the server ran, generated and prompt tokens together, per second of the search.
for k, row in [("default", rows[1]), ("separate", rows[2])]:
    m = metrics(k)
    ran = m.get("tokens_predicted_total", 0) + m.get("prompt_tokens_total", 0)
    print(f"server ({k}): {m.get('tokens_predicted_total', 0):.0f} tokens predicted, "
          f"{m.get('prompt_tokens_total', 0):.0f} prompt tokens run, "
          f"{m.get('n_decode_total', 0):.0f} decode calls; {ran / row[3]:.1f} tokens run per second")
EOF
