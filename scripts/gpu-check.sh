#!/usr/bin/env bash
# Checks NVENC on a machine with an NVIDIA GPU and measures it against libx264 with the
# arguments reelforge renders with (src/media/encoder.rs): 5 s of 1080x1920 testsrc2 at
# 30 fps, libx264 veryfast crf 23 vs h264_nvenc p2 cq 23, then ffprobe of both outputs.
#
#   bash scripts/gpu-check.sh            # outputs in a temporary folder, removed at exit
#   GPU_CHECK_DIR=out bash scripts/gpu-check.sh   # keep the two MP4s in ./out
#
# Exit codes: 0 ok, 1 no NVIDIA GPU, 2 ffmpeg lacks NVENC or a tool is missing,
# 3 an encode failed (H100/H200/A100 have no NVENC engine: expect 3 there).
# Every external call has a timeout, so a broken driver fails instead of hanging.
set -euo pipefail

SECS=5
SIZE=1080x1920
FPS=30

fail() {
    local code=$1
    shift
    echo "gpu-check: FAIL: $*" >&2
    exit "$code"
}

for tool in ffmpeg ffprobe timeout awk; do
    command -v "$tool" >/dev/null || fail 2 "$tool is not installed (apt-get install ffmpeg coreutils gawk)"
done

echo "== GPU"
command -v nvidia-smi >/dev/null || fail 1 "no NVIDIA GPU here: nvidia-smi is not installed"
# nvidia-smi exits non-zero when the driver is missing or sees no device.
gpus=$(timeout 30 nvidia-smi -L 2>&1) || fail 1 "no NVIDIA GPU usable here: nvidia-smi -L said: ${gpus:-nothing}"
[[ -n "$gpus" ]] || fail 1 "no NVIDIA GPU here: nvidia-smi -L listed nothing"
echo "$gpus"

echo "== ffmpeg NVENC encoders"
encoders=$(timeout 30 ffmpeg -hide_banner -nostdin -encoders 2>/dev/null) || fail 2 "ffmpeg -encoders failed"
# grep's no-match status must not trip set -e before the clear message.
nvenc=$(grep nvenc <<<"$encoders" || true)
[[ -n "$nvenc" ]] || fail 2 "this ffmpeg ($(command -v ffmpeg)) is built without NVENC"
echo "$nvenc"

if [[ -n "${GPU_CHECK_DIR:-}" ]]; then
    dir=$GPU_CHECK_DIR
    mkdir -p "$dir"
else
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
fi

# Seconds since the epoch with nanoseconds, for wall times.
now() { date +%s.%N; }

# encode NAME ARGS...: one timed encode of the same generated input; prints the wall time.
encode() {
    local name=$1
    shift
    local out="$dir/$name.mp4" log="$dir/$name.log" start end
    start=$(now)
    if ! timeout 300 ffmpeg -hide_banner -nostdin -loglevel error -y \
        -f lavfi -i "testsrc2=s=$SIZE:r=$FPS:d=$SECS" "$@" -an -f mp4 "$out" 2>"$log"; then
        echo "--- ffmpeg stderr ($name) ---" >&2
        tail -n 15 "$log" >&2
        fail 3 "$name encode failed (a GPU without an NVENC engine, e.g. H100/H200/A100, fails here)"
    fi
    end=$(now)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}

echo "== encoding ${SECS} s of ${SIZE} @ ${FPS} fps"
x264=$(encode libx264 -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p)
echo "libx264 veryfast: ${x264} s"
nvenc_time=$(encode h264_nvenc -c:v h264_nvenc -preset p2 -rc vbr -cq 23 -b:v 0 -pix_fmt yuv420p)
echo "h264_nvenc p2:    ${nvenc_time} s"
awk -v a="$x264" -v b="$nvenc_time" 'BEGIN { printf "speed-up: %.2fx (libx264 time / nvenc time)\n", (b > 0 ? a / b : 0) }'

echo "== ffprobe"
for name in libx264 h264_nvenc; do
    info=$(timeout 60 ffprobe -v error -select_streams v:0 -count_frames \
        -show_entries stream=codec_name,width,height,pix_fmt,nb_read_frames:format=duration,size \
        -of compact=p=0:nk=0 "$dir/$name.mp4") || fail 3 "ffprobe could not read $dir/$name.mp4"
    echo "$name: $(tr '\n' ' ' <<<"$info")"
done
if [[ -n "${GPU_CHECK_DIR:-}" ]]; then echo "outputs kept in $dir"; fi
echo "gpu-check: OK"
