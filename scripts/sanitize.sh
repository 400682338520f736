#!/usr/bin/env bash
# Builds with a sanitizer and runs the whole suite with it; any report fails the run.
#   scripts/sanitize.sh asan-ubsan | tsan  [ctest args...]
# Set LLAMA_SERVER and GE_TINY_MODEL (as scripts/test.sh does) to include the real tier.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:?usage: scripts/sanitize.sh asan-ubsan|tsan [ctest args]}"
shift
cmake --preset "$preset" >/dev/null
cmake --build "build-${preset%%-*}" -j"$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp"
ctest --test-dir "build-${preset%%-*}" --output-on-failure -j2 "$@"
