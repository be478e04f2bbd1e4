#!/usr/bin/env bash
# Installs what gradlint needs on Debian 12 (only what is missing), then
# configures and builds it in ./build. Safe to run again: it does nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  cmake ninja-build g++ ccache pkg-config
  libonnx-dev libprotobuf-dev protobuf-compiler
  llvm-14-dev libboost-graph-dev catch2 libopenblas-dev
  python3 python3-torch python3-onnx python3-numpy
  chromium python3-jsonschema
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "bootstrap: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
ninja -C "$BUILD_DIR"

# The SARIF 2.1.0 JSON schema for the SARIF test ships in an npm package;
# installed once into the build folder, never fetched at test time.
SCHEMA_PKG="@microsoft/jest-sarif@1.0.0-beta.0"
if [ ! -f "$BUILD_DIR/npm/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json" ] &&
   command -v npm >/dev/null; then
  mkdir -p "$BUILD_DIR/npm"
  npm install --prefix "$BUILD_DIR/npm" --no-save --no-audit --no-fund --ignore-scripts \
    --loglevel=error "$SCHEMA_PKG" >/dev/null || echo "bootstrap: npm install of $SCHEMA_PKG failed; the SARIF schema test will be skipped"
fi
