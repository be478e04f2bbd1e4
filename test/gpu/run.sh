#!/usr/bin/env bash
# The GPU check of the CUDA plugin (docs/cuda.md), in one call on a machine with an NVIDIA GPU,
# CUDA, cmake and PyTorch with CUDA:
#   1. configure and build everything (-j16) in build-gpu/;
#   2. the [cuda] and [cudaplugin] tests: every kernel and every ONNX node test forward and
#      backward against the CPU backend (GRADLINT_REQUIRE_CUDA=1: a skip fails);
#   3. the zoo, CUDA against the CPU probe (the zoo is generated first);
#   4. GPT-2 small (bench/make_gpt2.py): the CPU and CUDA probes at batch 1 agree, the CUDA loss
#      equals PyTorch's on the same tokens, and one training step (batch 8 x 128 tokens, float32,
#      TF32 off on both) of `gradlint probe --device cuda` against PyTorch's step time.
# Prints a table last; exits 1 if any phase failed or the step is over 1.2x PyTorch's.
#
#   test/gpu/run.sh     # from the repository root; BUILD=dir JOBS=n BUILD_TYPE=t to override
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-gpu}
JOBS=${JOBS:-16}
BUILD_TYPE=${BUILD_TYPE:-Release}
OUT=$BUILD/gpu-check
mkdir -p "$OUT"
START=$(date +%s)
ROWS=()
FAILED=0

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

#--- 1. Build -------------------------------------------------------------------------------
GEN=""
command -v ninja >/dev/null 2>&1 && GEN="-G Ninja"
PYDEF=""
[ -n "$PY_ZOO" ] && PYDEF="-DGRADLINT_PYTHON=$(command -v "$PY_ZOO")"
BUILD_CMD="cmake -S '$ROOT' -B '$BUILD' $GEN -DCMAKE_BUILD_TYPE=$BUILD_TYPE $PYDEF \
  && cmake --build '$BUILD' -j $JOBS"
if phase "build" 200 "$OUT/build.log" bash -c "$BUILD_CMD"; then
  row "build (-j$JOBS)" ok "${PHASE_SECONDS} s"
else
  row "build (-j$JOBS)" FAILED "${PHASE_SECONDS} s, see $OUT/build.log"
  FAILED=1
fi
GRADLINT=$BUILD/tools/gradlint/gradlint
if [ "$FAILED" -ne 0 ] || [ ! -f "$BUILD/tools/gradlint/libgradlint_cuda.so" ]; then
  [ "$FAILED" -eq 0 ] && row "cuda plugin" MISSING "no libgradlint_cuda.so: was nvcc found?"
  printf '\n%s\n' "${ROWS[@]}"
  exit 1
fi

#--- 2. Kernel and op tests -----------------------------------------------------------------
export GRADLINT_REQUIRE_CUDA=1
ctest_summary() { grep -E "tests passed|tests failed" "$1" | tail -n1 || true; }
if phase "cuda tests" 150 "$OUT/ctest-cuda.log" \
     ctest --test-dir "$BUILD" -R '^cuda (kernels|probe: the ONNX|plugin)' -j 8 \
     --no-tests=error --output-on-failure --timeout 140; then
  row "cuda kernels + node tests" ok "${PHASE_SECONDS} s, $(ctest_summary "$OUT/ctest-cuda.log")"
else
  row "cuda kernels + node tests" FAILED "$(ctest_summary "$OUT/ctest-cuda.log"), see $OUT/ctest-cuda.log"
  FAILED=1
fi

#--- 3. The zoo, CUDA against CPU -----------------------------------------------------------
if [ -n "$PY_ZOO" ]; then
  if phase "zoo generation" 150 "$OUT/zoo.log" \
       "$PY_ZOO" test/zoo/zoo.py --out "$BUILD/zoo" --seeds 1 &&
     phase "zoo: cuda vs cpu" 150 "$OUT/ctest-zoo.log" \
       ctest --test-dir "$BUILD" -R '^zoo\.cuda ' -FA zoo --no-tests=error \
       --output-on-failure --timeout 140; then
    row "zoo: cuda vs cpu probe" ok "$(grep -o 'compared [0-9]* zoo models, [0-9]* values' \
      "$OUT/ctest-zoo.log" | head -n1)"
  else
    row "zoo: cuda vs cpu probe" FAILED "see $OUT/zoo.log, $OUT/ctest-zoo.log"
    FAILED=1
  fi
else
  row "zoo: cuda vs cpu probe" FAILED "no python3 with torch to generate the zoo"
  FAILED=1
fi

#--- 4. GPT-2 small: agreement and one training step against PyTorch -----------------------
GPT2=$OUT/gpt2.onnx
if [ -z "$PY_CUDA" ]; then
  row "gpt2 step vs pytorch" FAILED "no python3 whose torch has CUDA"
  FAILED=1
elif ! phase "make gpt2" 120 "$OUT/make_gpt2.log" "$PY_CUDA" bench/make_gpt2.py "$GPT2"; then
  row "gpt2 step vs pytorch" FAILED "bench/make_gpt2.py failed, see $OUT/make_gpt2.log"
  FAILED=1
else
  # CPU and CUDA probes at batch 1 agree on the loss and every gradient norm.
  if phase "gpt2 cpu probe" 120 "$OUT/gpt2-cpu.json" \
       "$GRADLINT" probe "$GPT2" --device cpu --dim batch=1 --format json &&
     phase "gpt2 cuda probe" 60 "$OUT/gpt2-cuda.json" \
       "$GRADLINT" probe "$GPT2" --device cuda --dim batch=1 --format json; then
    AGREE=$("$PY_CUDA" - "$OUT/gpt2-cpu.json" "$OUT/gpt2-cuda.json" <<'EOF'
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
    row "gpt2 b1: cpu vs cuda probe" FAILED "see $OUT/gpt2-*.json"
    FAILED=1
  fi

  # PyTorch's step on the same GPU; it also writes its token ids and targets.
  if phase "pytorch step" 120 "$OUT/torch.json" \
       "$PY_CUDA" test/gpu/torch_step.py --batch 8 --seq 128 --write-inputs "$OUT"; then
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
    BENCH=$("$PY_CUDA" - "$TORCH_JSON" "$G1" "$G21" "$OUT/gpt2-steps21.json" \
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
    row "gpt2 b8x128 train step" FAILED "see $OUT/torch.json, $OUT/gpt2-steps*.err"
    FAILED=1
  fi
fi

echo >&2
echo "gradlint GPU check: ${GPU:-unknown GPU}, $(elapsed "$START") s in all"
printf '%-34s %-7s %s\n' "phase" "status" "result"
printf '%s\n' "${ROWS[@]}"
exit "$FAILED"
