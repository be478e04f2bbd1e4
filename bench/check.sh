#!/usr/bin/env bash
# Benchmark of `gradlint check` on a GPT-2-small-shaped model (issue 4): wall
# time and peak memory, beside the time to read the file and Python's
# onnx.load on the same file, in one run on the same machine.
#   bash bench/check.sh [BUILD_DIR]      (results: append them to bench/RESULTS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WORK=${BENCH_DIR:-$BUILD/bench}
mkdir -p "$WORK"
MODEL=$WORK/gpt2-small.onnx
[ -f "$MODEL" ] || /usr/bin/python3 bench/make_gpt2.py "$MODEL"
sync
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > /dev/null 2>&1
  read -r secs kb < "$WORK/time.txt"
  printf "| %-34s | %8.2f s | %9.0f MiB |\n" "$label" "$secs" "$((kb / 1024))"
}
echo "model: $MODEL ($(du -h "$MODEL" | cut -f1)), $(nproc) cores"
echo "| step | wall | peak RSS |"
echo "|---|---|---|"
measure "cat > /dev/null" cat "$MODEL"
measure "python3 onnx.load" /usr/bin/python3 -c "import onnx,sys; onnx.load(sys.argv[1])" "$MODEL"
measure "gradlint inspect" "$BUILD/tools/gradlint/gradlint" inspect "$MODEL"
measure "gradlint check" "$BUILD/tools/gradlint/gradlint" check "$MODEL"
measure "gradlint check --format json" "$BUILD/tools/gradlint/gradlint" check --format json "$MODEL"
measure "gradlint check --calibrate" "$BUILD/tools/gradlint/gradlint" check --calibrate "$MODEL"
