#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, and make a video from a subject.
# Works with no keys and no network (bundled example script, espeak-ng voice, generated
# backgrounds); configure an LLM and footage folders in config.toml for the real thing.
#   ./scripts/make-video.sh "Why do cats purr?" [reelforge make options…]
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 1 ]]; then
  echo "usage: $0 \"subject\" [options for reelforge make]" >&2
  exit 2
fi
./scripts/setup.sh
subject="$1"
shift
out="${REELFORGE_OUT:-$PWD/reelforge-output.mp4}"
exec ./target/release/reelforge make "$subject" --out "$out" "$@"
