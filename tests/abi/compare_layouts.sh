#!/usr/bin/env bash
# Builds layout_1_0.c against the frozen ABI 1.0 header and against the current one, runs both
# and requires the same output: every 1.0 member keeps its offset and size.
# Usage: compare_layouts.sh CC SOURCE_DIR OUTPUT_DIR
set -euo pipefail
cc=$1 src=$2 out=$3
mkdir -p "$out"
flags=(-std=c11 -Wall -Wextra -pedantic -Werror)
"$cc" "${flags[@]}" -DGE_FROZEN_1_0 -I"$src/tests/abi/frozen" -o "$out/layout_frozen" \
  "$src/tests/abi/layout_1_0.c"
"$cc" "${flags[@]}" -I"$src/core/include" -o "$out/layout_current" "$src/tests/abi/layout_1_0.c"
"$out/layout_frozen" > "$out/layout_frozen.txt"
"$out/layout_current" > "$out/layout_current.txt"
if ! diff -u "$out/layout_frozen.txt" "$out/layout_current.txt"; then
  echo "FAIL: the current plugin_abi.h moved or resized an ABI 1.0 member (diff above)" >&2
  exit 1
fi
echo "every ABI 1.0 member has its 1.0 offset and size ($(wc -l < "$out/layout_frozen.txt") lines)"
