#!/usr/bin/env bash
# Generate the tiny random-weight vision projector (see make-tiny-mmproj.py) at OUT.gguf, matching
# the text model TEXT.gguf (the tiny one: scripts/make-tiny-model.sh).
# Usage: scripts/make-tiny-mmproj.sh TEXT.gguf OUT.gguf
# Skips the work when OUT.gguf exists and OUT.gguf.sha256 records the hash of the generator and of
# TEXT (the projector's width follows the text model's), so a change of either regenerates it. Needs
# /usr/bin/python3 with numpy (Debian: python3-numpy). Prints OUT's path as the last line of stdout.
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 TEXT.gguf OUT.gguf" >&2
  exit 2
fi
text="$1"
out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
generator="$here/make-tiny-mmproj.py"
stamp="$out.sha256"
if [[ ! -s "$text" ]]; then
  echo "$0: no text model at $text (make it with scripts/make-tiny-model.sh)" >&2
  exit 1
fi
want=$(sha256sum "$generator" "$text" | cut -d' ' -f1 | sha256sum | cut -d' ' -f1)

if [[ -s "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$out"
  exit 0
fi

src=$("$here/get-llama-server.sh" --source-only | tail -n 1)
rm -f "$stamp"
PYTHONPATH="$src/gguf-py" /usr/bin/python3 "$generator" --text-model "$text" --out "$out"
echo "$want" >"$stamp"
echo "$out"
