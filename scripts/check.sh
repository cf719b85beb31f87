#!/usr/bin/env bash
# Exactly what CI runs: formatting, lints, then the test command from README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
