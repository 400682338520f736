#!/usr/bin/env bash
# Find or build llama.cpp's llama-server; print its absolute path as the last line of stdout.
#
# Lookup order (the tests use the same one):
#   1. $LLAMA_SERVER, if set (must be executable);
#   2. `llama-server` on PATH;
#   3. the pinned CPU build cached under $GE_CACHE (default ~/.cache/gradatum-engine),
#      built here from the llama.cpp release bundled in the npm package node-llama-cpp@3.21.1.
# Options: --source-only  fetch and verify the llama.cpp source (for the model generator), print its dir.
#          --no-build     do not build; exit 3 if no llama-server is found.
# Progress goes to stderr. Exit codes: 0 found, 2 missing tools, 3 not found (--no-build), 4 bad bundle.
set -euo pipefail

NPM_PACKAGE="node-llama-cpp@3.21.1"
PINNED_COMMIT="80fb11ac73e66d89eae2c6a91d8a77428fa733ed"
CACHE="${GE_CACHE:-$HOME/.cache/gradatum-engine}"
ROOT="$CACHE/llama.cpp-${PINNED_COMMIT:0:12}"
SRC="$ROOT/src"
BUILD="$ROOT/build"
BIN="$BUILD/bin/llama-server"
# The build with llama.cpp's web UI (built with npm from the bundled source): a build without it
# (an older cache) is reconfigured and rebuilt incrementally.
DONE="$BUILD/.complete-with-ui"

say() { echo "get-llama-server: $*" >&2; }

source_only=0
no_build=0
for arg in "$@"; do
  case "$arg" in
    --source-only) source_only=1 ;;
    --no-build) no_build=1 ;;
    *) say "unknown option $arg"; exit 2 ;;
  esac
done

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { say "needs '$tool' on PATH"; exit 2; }
  done
}

fetch_source() {
  if [[ -f "$SRC/.verified" ]]; then return; fi
  need npm git tar
  say "fetching llama.cpp from $NPM_PACKAGE (commit ${PINNED_COMMIT:0:12})"
  mkdir -p "$ROOT"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$NPM_PACKAGE" >/dev/null)
  tar -xzf "$tmp"/node-llama-cpp-*.tgz -C "$tmp" package/llama/gitRelease.bundle
  rm -rf "$SRC"
  git -c advice.detachedHead=false clone --quiet "$tmp/package/llama/gitRelease.bundle" "$SRC"
  rm -rf "$tmp"
  local head
  head=$(git -C "$SRC" rev-parse HEAD)
  if [[ "$head" != "$PINNED_COMMIT" ]]; then
    say "bundle commit $head is not the pinned $PINNED_COMMIT"
    exit 4
  fi
  touch "$SRC/.verified"
}

if ((source_only)); then
  fetch_source
  echo "$SRC"
  exit 0
fi

if [[ -n "${LLAMA_SERVER:-}" ]]; then
  if [[ ! -x "$LLAMA_SERVER" ]]; then
    say "LLAMA_SERVER=$LLAMA_SERVER is not an executable file"
    exit 3
  fi
  readlink -f "$LLAMA_SERVER"
  exit 0
fi
if found=$(command -v llama-server 2>/dev/null); then
  readlink -f "$found"
  exit 0
fi
if [[ -x "$BIN" && -f "$DONE" ]]; then
  echo "$BIN"
  exit 0
fi
if ((no_build)); then
  say "no llama-server: set LLAMA_SERVER, put one on PATH, or run scripts/get-llama-server.sh"
  exit 3
fi

need cmake ninja c++
fetch_source
say "building llama-server (CPU only, with its web UI) into $BUILD; about 14 minutes on 2 cores the first time"
start=$(date +%s)
cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_BUILD_UI=ON -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF >"$ROOT/configure.log" 2>&1 ||
  { say "cmake configure failed, see $ROOT/configure.log"; tail -n 20 "$ROOT/configure.log" >&2; exit 1; }
# Ninja prints [n/N] per step: keep the progress visible without flooding the log.
cmake --build "$BUILD" --target llama-server -j"$(nproc)" 2>&1 | tee "$ROOT/build.log" |
  awk '/^\[[0-9]+\/[0-9]+\]/ { split($1, a, /[\[\/\]]/); if (a[2] % 25 == 0 || a[2] == a[3]) { print "get-llama-server: step " a[2] "/" a[3]; fflush() } } /error/ { print; fflush() }' >&2
if [[ ! -x "$BIN" ]]; then
  say "build failed, see $ROOT/build.log"
  exit 1
fi
"$BIN" --version >&2 || true
# The web UI is provisioned at build time (npm ci && npm run build in tools/ui); without it
# llama-server answers 404 on /.
if ! grep -q "UI: npm build succeeded\|UI: npm output up-to-date" "$ROOT/build.log"; then
  say "warning: the web UI was not built (see $ROOT/build.log); llama-server will serve no UI"
fi
touch "$DONE"
say "built in $(( $(date +%s) - start )) s"
echo "$BIN"
