#!/usr/bin/env bash
# The GPU check of the CUDA plugin (docs/cuda.md), in one call on a machine with an NVIDIA GPU,
# CUDA, cmake and PyTorch with CUDA:
#   1. configure and build everything (-j16) in build-gpu/; where gradlint cannot be configured
#      (its packages are missing there), use the build carried in .gpu-bundle (test/gpu/bundle.sh);
#   2. the [cuda] and [cudaplugin] tests: every kernel and every ONNX node test forward and
#      backward against the CPU backend (GRADLINT_REQUIRE_CUDA=1: a skip fails);
#   3. the zoo (carried in the bundle, else generated), CUDA against the CPU probe;
#   4. GPT-2 small (bench/make_gpt2.py): the CPU and CUDA probes at batch 1 agree, the CUDA loss
#      equals PyTorch's on the same tokens, and one training step (batch 8 x 128 tokens, float32,
#      TF32 off on both) of `gradlint probe --device cuda` against PyTorch's step time.
# Prints a table last; exits 1 if any phase failed or the step is over 1.2x PyTorch's.
#
#   test/gpu/run.sh     # from the repository root; BUILD=dir JOBS=n BUILD_TYPE=t to override,
#                       # PREBUILT=1 to use the carried build without trying to build
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-gpu}
JOBS=${JOBS:-16}
BUILD_TYPE=${BUILD_TYPE:-Release}
PREBUILT=${PREBUILT:-0}
BUNDLE=$ROOT/.gpu-bundle/bundle.tar.xz
OUT=$ROOT/build-gpu-check
mkdir -p "$OUT"
START=$(date +%s)
ROWS=()
FAILED=0
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

row() { ROWS+=("$(printf '%-34s %-7s %s' "$1" "$2" "$3")"); }
elapsed() { echo $(( $(date +%s) - $1 )); }

# phase NAME LIMIT LOG CMD...: runs CMD with a time limit, output in LOG; returns its status.
phase() {
  local name=$1 limit=$2 log=$3; shift 3
  local t0 rc=0
  t0=$(date +%s)
  echo "== $name (limit ${limit}s)" >&2
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 || rc=$?
  PHASE_SECONDS=$(elapsed "$t0")
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 124 ] && echo "   $name: TIMED OUT after ${limit}s" >&2 \
                      || echo "   $name: FAILED (exit $rc); last lines of $log:" >&2
    tail -n 25 "$log" | sed 's/^/   | /' >&2
  fi
  return "$rc"
}

cd "$ROOT"
GPU=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n1 || true)
echo "gradlint GPU check on ${GPU:-an unknown GPU} ($(nproc) cores)" >&2

# A Python with PyTorch for the zoo, and one whose PyTorch has CUDA for the benchmark.
PY_ZOO="" PY_CUDA=""
for P in /usr/bin/python3 python3; do
  command -v "$P" >/dev/null 2>&1 || continue
  if [ -z "$PY_ZOO" ] && "$P" -c "import torch" >/dev/null 2>&1; then PY_ZOO=$P; fi
  if [ -z "$PY_CUDA" ] && "$P" -c "import torch,sys; sys.exit(not torch.cuda.is_available())" \
       >/dev/null 2>&1; then PY_CUDA=$P; fi
done
echo "python for the zoo: ${PY_ZOO:-none}; with CUDA: ${PY_CUDA:-none}" >&2

#--- 1. Build, or the carried build ---------------------------------------------------------
GL_LIBS="" # extra library folders for gradlint's programs (the carried build's)
# Unpacks the bundle where its tests expect it: BUILD and the node tests at the paths they were
# compiled with, reached through a link when this checkout lives elsewhere.
use_bundle() {
  local x=$ROOT/.gpu-bundle/x oroot obuild oshared
  rm -rf "$x" && mkdir -p "$x" && tar -C "$x" -xJf "$BUNDLE" || return 1
  oroot=$(sed -n 's/^root=//p' "$x/MANIFEST")
  obuild=$(sed -n 's/^build=//p' "$x/MANIFEST")
  oshared=$(sed -n 's/^shared=//p' "$x/MANIFEST")
  if [ "$oroot" != "$ROOT" ]; then
    if [ ! -e "$oroot" ]; then
      mkdir -p "$(dirname "$oroot")" && ln -s "$ROOT" "$oroot"
    elif [ "$(cd "$oroot" && pwd -P)" != "$(pwd -P)" ]; then
      echo "   the carried build needs $oroot, which is taken" >&2
      return 1
    fi
  fi
  cp -a "$x/root/." "$ROOT/"
  if [ -d "$x/shared/onnx-node-tests" ] && [ ! -d "$oshared/onnx-node-tests" ]; then
    mkdir -p "$oshared" && cp -a "$x/shared/onnx-node-tests" "$oshared/"
  fi
  BUILD=$ROOT/$obuild
  GL_LIBS=$x/lib
  echo "   using the carried build: $(grep '^made=' "$x/MANIFEST"), $BUILD" >&2
}

GEN=""
command -v ninja >/dev/null 2>&1 && GEN="-G Ninja"
PYDEF=""
[ -n "$PY_ZOO" ] && PYDEF="-DGRADLINT_PYTHON=$(command -v "$PY_ZOO")"
# The ONNX node tests live beside the checkout (../shared), which does not travel to a GPU
# machine: take the bundle's copy for a build made here.
if [ ! -d "$ROOT/../shared/onnx-node-tests" ] && [ -f "$BUNDLE" ] &&
   tar -C "$OUT" -xJf "$BUNDLE" ./shared/onnx-node-tests 2>/dev/null; then
  PYDEF="$PYDEF -DGRADLINT_SHARED_DIR=$OUT/shared"
fi
BUILT=0
if [ "$PREBUILT" != 1 ]; then
  if ! phase "configure" 60 "$OUT/configure.log" \
       cmake -S "$ROOT" -B "$BUILD" $GEN -DCMAKE_BUILD_TYPE="$BUILD_TYPE" $PYDEF; then
    row "build (-j$JOBS)" n/a "cannot configure here (missing packages? $OUT/configure.log)"
  elif phase "build" 200 "$OUT/build.log" cmake --build "$BUILD" -j "$JOBS"; then
    row "build (-j$JOBS)" ok "${PHASE_SECONDS} s"
    BUILT=1
  else
    row "build (-j$JOBS)" FAILED "${PHASE_SECONDS} s, see $OUT/build.log"
    FAILED=1
  fi
fi
if [ "$BUILT" != 1 ]; then
  if [ -f "$BUNDLE" ] && use_bundle; then
    row "carried build" ok "$(sed -n 's/^made=//p' "$ROOT/.gpu-bundle/x/MANIFEST")"
  else
    row "carried build" FAILED "no usable $BUNDLE (make one with test/gpu/bundle.sh, carry .gpu-bundle)"
    FAILED=1
  fi
fi
GRADLINT=$BUILD/tools/gradlint/gradlint
PLUGIN=$BUILD/tools/gradlint/libgradlint_cuda.so
if [ ! -x "$GRADLINT" ] || [ ! -f "$PLUGIN" ]; then
  row "cuda plugin" MISSING "no $PLUGIN: was nvcc found?"
  printf '%s\n' "${ROWS[@]}"
  exit 1
fi
# cuBLAS: where the plugin's RPATH (the toolkit it was built with) does not find it.
CUBLAS_DIR=""
case "$(LD_LIBRARY_PATH=$GL_LIBS ldd "$PLUGIN" 2>&1 || true)" in
  *"libcublas.so.13 => not found"*)
    CUBLAS_DIR=$(find /usr/local /opt /usr/lib -name libcublas.so.13 -print -quit 2>/dev/null || true)
    CUBLAS_DIR=${CUBLAS_DIR%/*}
    echo "   libcublas.so.13 from ${CUBLAS_DIR:-nowhere}" >&2 ;;
esac
PY_LD=${LD_LIBRARY_PATH:-}
export LD_LIBRARY_PATH="${GL_LIBS:+$GL_LIBS:}${CUBLAS_DIR:+$CUBLAS_DIR:}${LD_LIBRARY_PATH:-}"
# Python runs without the carried libraries (its own zlib, protobuf).
PYENV=(env "LD_LIBRARY_PATH=$PY_LD")

#--- 2. Kernel and op tests, while the zoo and GPT-2 are exported ------------------------
# The exports are CPU work: they run in the background during the GPU tests.
GPT2=$OUT/gpt2.onnx
PY_MAKE=${PY_CUDA:-$PY_ZOO}
ZOO_PID="" GPT2_PID=""
ZOO_FROM="generated"
[ -f "$BUNDLE" ] && tar -tJf "$BUNDLE" >"$OUT/bundle.list" 2>/dev/null || : >"$OUT/bundle.list"
if grep -q "/zoo/tiny_gpt/model.onnx$" "$OUT/bundle.list"; then
  # The carried zoo: the models the CPU side was tested on, whatever PyTorch is here.
  ZOO_FROM="carried"
  echo "== the zoo, from the bundle" >&2
  (X=$(mktemp -d) && tar -C "$X" -xJf "$BUNDLE" --wildcards './root/*/zoo/*' &&
   rm -rf "$BUILD/zoo" && mv "$X"/root/*/zoo "$BUILD/zoo" && rm -rf "$X") >"$OUT/zoo.log" 2>&1 &
  ZOO_PID=$!
elif [ -n "$PY_ZOO" ]; then
  echo "== zoo generation, in the background (limit 240s)" >&2
  "${PYENV[@]}" timeout --kill-after=10 240 "$PY_ZOO" test/gpu/export_legacy.py test/zoo/zoo.py \
    --out "$BUILD/zoo" --seeds 1 >"$OUT/zoo.log" 2>&1 &
  ZOO_PID=$!
fi
if [ -n "$PY_MAKE" ]; then
  echo "== bench/make_gpt2.py, in the background (limit 240s)" >&2
  "${PYENV[@]}" timeout --kill-after=10 240 "$PY_MAKE" test/gpu/export_legacy.py bench/make_gpt2.py "$GPT2" \
    >"$OUT/make_gpt2.log" 2>&1 &
  GPT2_PID=$!
fi
# waits for a background job; FAILED with the log's tail when it failed.
finish() {
  local pid=$1 name=$2 log=$3 rc=0
  [ -n "$pid" ] || return 1
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "   $name: FAILED (exit $rc); last lines of $log:" >&2
    tail -n 25 "$log" | sed 's/^/   | /' >&2
  fi
  return "$rc"
}

export GRADLINT_REQUIRE_CUDA=1
ctest_summary() { grep -E "tests passed|tests failed" "$1" | tail -n1 || true; }
# Nothing may skip here: a skipped test would be a check not made.
no_skips() {
  local n
  n=$(grep -c '\*\*\*Skipped' "$1" || true)
  [ "$n" -eq 0 ] || { echo "   $n tests skipped, see $1" >&2; return 1; }
}
if phase "cuda tests" 150 "$OUT/ctest-cuda.log" \
     ctest --test-dir "$BUILD" -R '^cuda (kernels|probe: the ONNX|plugin)' -j 8 -V \
     --no-tests=error --timeout 140 && no_skips "$OUT/ctest-cuda.log"; then
  row "cuda kernels + node tests" ok "${PHASE_SECONDS} s, $(ctest_summary "$OUT/ctest-cuda.log")"
else
  row "cuda kernels + node tests" FAILED "$(ctest_summary "$OUT/ctest-cuda.log"), see $OUT/ctest-cuda.log"
  FAILED=1
fi

#--- 3. The zoo, CUDA against CPU -----------------------------------------------------------
if [ -z "$ZOO_PID" ]; then
  row "zoo: cuda vs cpu probe" FAILED "no zoo: none carried and no python3 with torch"
  FAILED=1
elif finish "$ZOO_PID" "zoo generation" "$OUT/zoo.log" &&
     phase "zoo: cuda vs cpu" 150 "$OUT/ctest-zoo.log" \
       ctest --test-dir "$BUILD" -R '^zoo\.cuda ' -FA zoo --no-tests=error -V --timeout 140 &&
     no_skips "$OUT/ctest-zoo.log"; then
  row "zoo ($ZOO_FROM): cuda vs cpu" ok "${PHASE_SECONDS} s, $(grep -o 'compared [0-9]* zoo models, [0-9]* values' \
    "$OUT/ctest-zoo.log" | head -n1)"
else
  row "zoo: cuda vs cpu probe" FAILED "see $OUT/zoo.log, $OUT/ctest-zoo.log"
  FAILED=1
fi

#--- 4. GPT-2 small: agreement and one training step against PyTorch -----------------------
if ! finish "$GPT2_PID" "bench/make_gpt2.py" "$OUT/make_gpt2.log"; then
  row "gpt2" FAILED "no model: bench/make_gpt2.py failed or no python3 with torch"
  FAILED=1
else
  # CPU and CUDA probes at batch 1 agree on the loss and every gradient norm.
  if phase "gpt2 cpu probe" 120 "$OUT/gpt2-cpu.log" "$GRADLINT" probe "$GPT2" --device cpu \
       --dim batch=1 --format json -o "$OUT/gpt2-cpu.json" &&
     phase "gpt2 cuda probe" 60 "$OUT/gpt2-cuda.log" "$GRADLINT" probe "$GPT2" --device cuda \
       --dim batch=1 --format json -o "$OUT/gpt2-cuda.json"; then
    AGREE=$("${PYENV[@]}" "$PY_MAKE" - "$OUT/gpt2-cpu.json" "$OUT/gpt2-cuda.json" <<'EOF'
import json, sys
c, g = (json.load(open(p)) for p in sys.argv[1:3])
lc, lg = c["loss"]["value"], g["loss"]["value"]
big = max(p["grad_norm"] for p in c["parameters"])
worst = max(abs(a["grad_norm"] - b["grad_norm"]) / max(a["grad_norm"], 1e-6 * big)
            for a, b in zip(c["parameters"], g["parameters"]))
ok = abs(lc - lg) <= 1e-4 * abs(lc) and worst <= 1e-4 and len(c["parameters"]) == len(g["parameters"])
print(("ok" if ok else "FAILED"), f"loss {lc:.6f} vs {lg:.6f}, worst grad-norm rel. diff {worst:.1e}")
EOF
)
    row "gpt2 b1: cpu vs cuda probe" "${AGREE%% *}" "${AGREE#* }"
    [ "${AGREE%% *}" = ok ] || FAILED=1
  else
    row "gpt2 b1: cpu vs cuda probe" FAILED "see $OUT/gpt2-cpu.log, $OUT/gpt2-cuda.log"
    FAILED=1
  fi

  # PyTorch's step on the same GPU; it also writes its token ids and targets.
  if [ -n "$PY_CUDA" ] && phase "pytorch step" 120 "$OUT/torch.json" \
       "${PYENV[@]}" "$PY_CUDA" test/gpu/torch_step.py --batch 8 --seq 128 --write-inputs "$OUT"; then
    TORCH_JSON=$(grep '^{' "$OUT/torch.json" | tail -n1)
  else
    TORCH_JSON=""
  fi
  # gradlint: the same tokens; steps 1 and 21 differ by exactly 20 training steps
  # (optimizer update, forward, loss, backward), so their difference / 20 is one step.
  time_probe() { # STEPS LIMIT: prints the wall seconds of one probe run
    local steps=$1 limit=$2 t0 t1 rc=0
    echo "== gradlint probe --device cuda --steps $steps (limit ${limit}s)" >&2
    t0=$(date +%s.%N)
    timeout --kill-after=10 "$limit" "$GRADLINT" probe "$GPT2" --device cuda --steps "$steps" \
      --input "input_ids=$OUT/input_ids.pb" --targets "$OUT/targets.pb" --format json \
      --timing >"$OUT/gpt2-steps$steps.json" 2>"$OUT/gpt2-steps$steps.err" || rc=$?
    t1=$(date +%s.%N)
    if [ "$rc" -ne 0 ]; then
      echo "   gradlint probe --steps $steps: FAILED (exit $rc)" >&2
      tail -n 5 "$OUT/gpt2-steps$steps.err" | sed 's/^/   | /' >&2
      return "$rc"
    fi
    awk "BEGIN { print $t1 - $t0 }"
  }
  if [ -n "$TORCH_JSON" ] && G1=$(time_probe 1 90) && G21=$(time_probe 21 150); then
    BENCH=$("${PYENV[@]}" "$PY_MAKE" - "$TORCH_JSON" "$G1" "$G21" "$OUT/gpt2-steps21.json" \
             "$OUT/gpt2-steps21.err" <<'EOF'
import json, re, statistics, sys
t = json.loads(sys.argv[1]); g1, g21 = float(sys.argv[2]), float(sys.argv[3])
g = json.load(open(sys.argv[4]))
passes = [float(s) for _, s in re.findall(r"pass (\d+): ([0-9.]+) s", open(sys.argv[5]).read())]
step = (g21 - g1) / 20 * 1e3
fb = statistics.median(passes[1:-1]) * 1e3 if len(passes) > 2 else float("nan")
ratio = step / t["step_ms"]
loss_ok = abs(g["loss"]["value"] - t["loss0"]) <= 1e-4 * abs(t["loss0"])
print("ok" if ratio <= 1.2 and loss_ok else "FAILED")
print(f"gradlint {step:.1f} ms, pytorch {t['step_ms']:.1f} ms: {ratio:.2f}x (target <= 1.2x)")
print(f"gradlint {fb:.1f} ms, pytorch {t['fwd_bwd_ms']:.1f} ms")
print(f"gradlint {g['loss']['value']:.6f}, pytorch {t['loss0']:.6f}" + ("" if loss_ok else " DIFFER"))
print(f"{g1:.1f} s (load, step 0, 1 step)")
EOF
)
    mapfile -t B <<<"$BENCH"
    row "gpt2 b8x128 train step" "${B[0]}" "${B[1]}"
    row "  forward+loss+backward" "" "${B[2]}"
    row "  loss at step 0 (same tokens)" "" "${B[3]}"
    row "  gradlint probe --steps 1, wall" "" "${B[4]}"
    [ "${B[0]}" = ok ] || FAILED=1
  else
    WHY="see $OUT/torch.json, $OUT/gpt2-steps*.err"
    [ -n "$PY_CUDA" ] || WHY="no python3 whose torch has CUDA"
    row "gpt2 b8x128 train step" FAILED "$WHY"
    FAILED=1
  fi
fi

echo >&2
echo "gradlint GPU check: ${GPU:-unknown GPU}, $(elapsed "$START") s in all"
printf '%-34s %-7s %s\n' "phase" "status" "result"
printf '%s\n' "${ROWS[@]}"
exit "$FAILED"
