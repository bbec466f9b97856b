#!/usr/bin/env bash
# Quick start, command 2: install what is missing, then run every test (unit, integration
# with real ffmpeg/espeak-ng and local HTTP servers, benchmarks in test mode), plus the
# formatting and lint checks.
set -euo pipefail
cd "$(dirname "$0")/.."
REELFORGE_SKIP_BUILD=1 ./scripts/setup.sh
echo "reelforge tests: cargo fmt --check"
cargo fmt --all -- --check
echo "reelforge tests: cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "reelforge tests: cargo test"
cargo test --all-targets
