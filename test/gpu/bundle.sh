#!/usr/bin/env bash
# Packs a built tree for test/gpu/run.sh on a GPU machine that cannot build gradlint (its image
# may lack LLVM 14, protobuf, ONNX, Boost and OpenBLAS development packages, and has no package
# registry). Writes .gpu-bundle/bundle.tar.xz (about 40 MB), git-ignored through
# .git/info/exclude, holding:
#   - gradlint, gradlint-tests and libgradlint_cuda.so from BUILD (stripped of debug info), and
#     CTest's files, at their places under BUILD;
#   - the shared libraries they need beyond glibc, libstdc++, zlib and ncurses (OpenBLAS,
#     protobuf, onnx_proto, gfortran);
#   - the ONNX node tests (../shared/onnx-node-tests) and the zoo's models under 2 MB (42 of 48; model.onnx
#     and meta.json: what the CUDA-against-CPU zoo test reads).
# The tests were compiled with absolute paths into BUILD and ../shared; run.sh recreates them
# (with a link from this ROOT to its own when they differ). Carry .gpu-bundle with the run.
#
#   test/gpu/bundle.sh            # BUILD=build-cuda by default; it must be built, zoo included
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${BUILD:-$ROOT/build-cuda}" && pwd)
SHARED=$(cd "$ROOT/../shared" 2>/dev/null && pwd || true)
DEST=$ROOT/.gpu-bundle
case "$BUILD" in "$ROOT"/*) ;; *) echo "bundle.sh: BUILD must be inside $ROOT" >&2; exit 2 ;; esac
REL=${BUILD#"$ROOT"/}
for F in tools/gradlint/gradlint tools/gradlint/libgradlint_cuda.so test/gradlint-tests \
         zoo/tiny_gpt/model.onnx; do
  [ -f "$BUILD/$F" ] || { echo "bundle.sh: $BUILD/$F is missing (build, and run ctest once)" >&2; exit 2; }
done

grep -qx '/.gpu-bundle/' "$ROOT/.git/info/exclude" 2>/dev/null ||
  { mkdir -p "$ROOT/.git/info"; echo '/.gpu-bundle/' >>"$ROOT/.git/info/exclude"; }
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/root/$REL/tools/gradlint" "$STAGE/root/$REL/test" "$STAGE/lib" "$STAGE/shared"

cp "$BUILD/tools/gradlint/gradlint" "$BUILD/tools/gradlint/libgradlint_cuda.so" \
   "$STAGE/root/$REL/tools/gradlint/"
cp "$BUILD/test/gradlint-tests" "$STAGE/root/$REL/test/"
strip --strip-debug "$STAGE/root/$REL/tools/gradlint/"* "$STAGE/root/$REL/test/gradlint-tests"
(cd "$BUILD" && find . -name CTestTestfile.cmake -o -path './test/gradlint-tests_*.cmake' |
   tar -T - -cf -) | tar -C "$STAGE/root/$REL" -xf -
(cd "$BUILD" && find zoo -name model.onnx -size -2000k -printf '%h\n' | while read -r D; do
   mkdir -p "$STAGE/root/$REL/$D"
   cp "$D/model.onnx" "$D/meta.json" "$STAGE/root/$REL/$D/"
 done)

# Shared libraries beyond the ones every Linux has.
ldd "$BUILD/test/gradlint-tests" "$BUILD/tools/gradlint/gradlint" | awk '$3 ~ /^\// { print $3 }' |
  sort -u | while read -r L; do
    case "$(basename "$L")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libstdc++.so*|libgcc_s.so*|\
      libz.so*|libtinfo.so*) ;;
      *) cp -L "$L" "$STAGE/lib/" ;;
    esac
  done
[ -n "$SHARED" ] && [ -d "$SHARED/onnx-node-tests" ] && cp -r "$SHARED/onnx-node-tests" "$STAGE/shared/"

cat >"$STAGE/MANIFEST" <<EOF
root=$ROOT
build=$REL
shared=${SHARED:-$ROOT/../shared}
made=$(date -u +%Y-%m-%dT%H:%MZ) from $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
zoo_models=$(find "$STAGE/root/$REL/zoo" -name model.onnx | wc -l)
EOF
mkdir -p "$DEST"
tar -C "$STAGE" -cf - . | xz -T0 -6 >"$DEST/bundle.tar.xz"
cat "$STAGE/MANIFEST"
ls -la "$DEST/bundle.tar.xz"
