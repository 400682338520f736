#!/usr/bin/env bash
# Sets up everything and runs the whole test suite (fake and real tiers). CI runs this.
#   scripts/test.sh            build into build/, obtain llama-server + tiny model, run ctest,
#                              then the fuzzers (15 s each) and the fake tier under ASan+UBSan
# Environment: LLAMA_SERVER (use this llama-server), GE_CACHE (cache dir), BUILD_DIR,
#              GE_QUICK=1 (ctest only: no fuzzing, no sanitizer build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
export GE_CACHE="${GE_CACHE:-$HOME/.cache/gradatum-engine}"

bash scripts/setup-deps.sh
start=$(date +%s)
# The real tier needs llama-server: obtaining it must succeed (first time: ~10 min build).
LLAMA_SERVER="$(bash scripts/get-llama-server.sh | tail -n 1)"
export LLAMA_SERVER
GE_TINY_MODEL="$(bash scripts/make-tiny-model.sh "$GE_CACHE/tiny-model.gguf" | tail -n 1)"
export GE_TINY_MODEL
GE_TINY_MMPROJ="$(bash scripts/make-tiny-mmproj.sh "$GE_TINY_MODEL" "$GE_CACHE/tiny-mmproj.gguf" | tail -n 1)"
export GE_TINY_MMPROJ
GE_PROMTOOL="$(bash scripts/get-promtool.sh | tail -n 1)"
export GE_PROMTOOL
echo "test: llama-server $LLAMA_SERVER, model $GE_TINY_MODEL, projector $GE_TINY_MMPROJ ($(( $(date +%s) - start )) s)"

# The official OpenAI SDK, for the tests that use it as a client (pinned by package-lock.json).
(cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error)

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR" -j"$(nproc)"
if [[ "${GE_QUICK:-0}" != 1 ]]; then
  bash scripts/fuzz.sh 15
  # The unit and fake tiers again under AddressSanitizer + UndefinedBehaviorSanitizer.
  bash scripts/sanitize.sh asan-ubsan -LE real --timeout 300
fi
# Two at a time; the real tier holds a resource lock so that only one llama-server runs.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 300 "$@"
