#!/usr/bin/env bash
# Builds `thinkscale` with `--features cuda` on a machine without a GPU or a CUDA install: the
# NVIDIA compiler, headers and runtime libraries come from PyPI wheels (installed once into
# target/cuda-sdk), kernels are compiled for CUDA_COMPUTE_CAP (default 90: H100/H200), and the
# binary lands in target/cuda/release/thinkscale, to be carried to the GPU machine (which needs
# an NVIDIA driver; libcuda is loaded when the program starts).
#
#   scripts/build-cuda.sh            # CUDA_COMPUTE_CAP=80 scripts/build-cuda.sh for an A100
set -euo pipefail
cd "$(dirname "$0")/.."
sdk="${CUDA_SDK:-target/cuda-sdk}"
cuda="$sdk/nvidia/cu13"
if [ ! -x "$cuda/bin/nvcc" ]; then
  echo "build-cuda: installing the CUDA 13 compiler, headers and libraries from PyPI into $sdk"
  python3 -m pip install --quiet --target "$sdk" nvidia-cuda-nvcc nvidia-cuda-runtime \
    nvidia-cuda-crt nvidia-cuda-cccl nvidia-cublas nvidia-curand
fi
cuda="$(cd "$cuda" && pwd)"
export PATH="$cuda/bin:$PATH"
export CUDA_ROOT="$cuda" CUDA_PATH="$cuda" CUDA_TOOLKIT_ROOT_DIR="$cuda"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
# cudarc 0.19 knows CUDA up to 13.4 and refuses the wheel's 13.5 by name; the driver API it
# binds is the same across 13.x, so it is told 13.4.
export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13040}"
# The wheels keep the C++ standard library headers of CUDA (cccl) apart from the rest.
export NVCC_APPEND_FLAGS="${NVCC_APPEND_FLAGS:-} -I$cuda/include -I$cuda/cccl/include"
nvcc --version | tail -1
# Linking needs the libraries by their plain names, and libcuda, which only a driver installs:
# a stub with the driver functions cudarc names stands in for it (soname libcuda.so.1, so the
# GPU machine's driver is what loads at run time).
link="$(mkdir -p "$sdk/link" && cd "$sdk/link" && pwd)"
for l in nvrtc curand cublas cublasLt cudart; do
  real=$(ls "$cuda"/lib/lib$l.so.* | head -n 1)
  ln -sf "$real" "$link/lib$l.so"
done
export LIBRARY_PATH="$link:$cuda/lib:${LIBRARY_PATH:-}"
if [ ! -f "$link/libcuda.so" ]; then
  # The first build compiles everything and stops at the link for want of libcuda; the stub
  # is made from the cudarc library it compiled.
  cargo build --release --locked --features cuda --target-dir target/cuda || true
  for f in target/cuda/release/deps/libcudarc-*.rlib; do nm "$f" 2>/dev/null; done \
    | awk '$1 == "U" && $2 ~ /^cu[A-Z]/ { print "int " $2 "(void) { return 999; }" }' \
    | sort -u >"$link/cuda_stub.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$link/libcuda.so" "$link/cuda_stub.c"
fi
time cargo build --release --locked --features cuda --target-dir target/cuda
ls -l target/cuda/release/thinkscale
# Stripped and compressed to carry (about 25 MB of 99; the embedded kernels compress well).
strip -o target/cuda/thinkscale-cuda target/cuda/release/thinkscale
gzip -9 -f target/cuda/thinkscale-cuda
ls -l target/cuda/thinkscale-cuda.gz
echo "build-cuda: carry target/cuda/thinkscale-cuda.gz to the GPU machine, gunzip it, put the"
echo "  CUDA 13 libraries on LD_LIBRARY_PATH (the nvidia/cu13/lib of the nvidia-* wheels) and run"
echo "  BIN=./thinkscale-cuda scripts/gpu-compare.sh"
