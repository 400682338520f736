#!/usr/bin/env bash
# Generate the tiny random-weight test model (see make-tiny-model.py) at OUT.gguf.
# Usage: scripts/make-tiny-model.sh OUT.gguf
# Skips the work when OUT.gguf exists and OUT.gguf.sha256 records the generator's current hash,
# so editing the generator regenerates the model. Needs /usr/bin/python3 with numpy
# (Debian: python3-numpy). Prints OUT's path as the last line of stdout.
set -euo pipefail

if (($# != 1)); then
  echo "usage: $0 OUT.gguf" >&2
  exit 2
fi
out="$1"
here="$(cd "$(dirname "$0")" && pwd)"
generator="$here/make-tiny-model.py"
stamp="$out.sha256"
want=$(sha256sum "$generator" | cut -d' ' -f1)

if [[ -s "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$out"
  exit 0
fi

src=$("$here/get-llama-server.sh" --source-only | tail -n 1)
rm -f "$stamp"
PYTHONPATH="$src/gguf-py" /usr/bin/python3 "$generator" --llama-src "$src" --out "$out"
echo "$want" >"$stamp"
echo "$out"
