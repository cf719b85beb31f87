#!/usr/bin/env bash
# The GPU check: build with CUDA, then run the bench on the GPU and on the CPU side by side.
#
#   scripts/gpu-check.sh [MODEL] [extra `thinkscale bench` flags]
#
# Needs the CUDA toolkit (nvcc on the PATH, or CUDA_ROOT) where it builds, and an NVIDIA GPU
# where it runs. To check on a GPU machine without a Rust toolchain: build here with
# `cargo build --release --features cuda` (nvcc from PyPI's nvidia-cuda-nvcc wheel works),
# carry target/release/thinkscale and the model there, and run the last two commands below.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
shift || true
[ -f "$model" ] || scripts/fetch-models.sh
cargo build --release --features cuda
target/release/thinkscale bench --policy "$model" --device cuda:0 "$@"
target/release/thinkscale bench --policy "$model" --device cpu "$@"
