#!/usr/bin/env bash
# keep_cache (issue 12): what a conversation costs after the engine stopped its child for a ttl,
# with and without keep_cache. For each conversation length and each setting, in alternation:
# start the engine (real llama-server, tiny model, one slot), send the conversation, wait for the
# ttl unload, send the follow-up (the conversation plus a few words) and read llama-server's
# timings.prompt_n / prompt_ms for it. Prints a Markdown table (medians over rounds).
#
#   bench/keep_cache.sh [ROUNDS]        (default 5; about 1 minute)
#
# Run it after the README set-up (scripts/demo.sh or scripts/test.sh). Environment: LLAMA_SERVER,
# GE_CACHE as for scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export GE_CACHE="${GE_CACHE:-$HOME/.cache/gradatum-engine}"
rounds="${1:-5}"

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target gradatum-engine llama_server >&2
llama_server="$(bash scripts/get-llama-server.sh | tail -n 1)"
model="$(bash scripts/make-tiny-model.sh "$GE_CACHE/tiny-model.gguf" | tail -n 1)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

# One round: prints "prompt_n prompt_ms save/restore lines" for the follow-up.
round() {
  local keep=$1 repeats=$2 dir="$work/$1-$2-$RANDOM"
  mkdir -p "$dir"
  cat >"$dir/engine.properties" <<EOC
server.listen = 127.0.0.1:$port
server.cache_dir = $dir/cache
models.tiny.backend = llama_server
models.tiny.llama_server.binary = $llama_server
models.tiny.llama_server.model = $model
models.tiny.llama_server.parallel = 1
models.tiny.llama_server.ctx_size = 4096
models.tiny.llama_server.threads = 1
models.tiny.ttl = 1
models.tiny.keep_cache = $keep
EOC
  build/bin/gradatum-engine --config "$dir/engine.properties" >"$dir/log" 2>&1 &
  local engine=$!
  # A round that fails (set -e) must not leave its engine and child running.
  trap 'kill "$engine" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf "127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  python3 - "$port" "$repeats" <<'EOP'
import json, sys, time, urllib.request
port, repeats = sys.argv[1], int(sys.argv[2])
def ask(prompt):
    body = json.dumps({"prompt": prompt, "n_predict": 4, "temperature": 0}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/completion", body, timeout=120) as r:
        return json.load(r)["timings"]
def state():
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/models", timeout=10) as r:
        return next(m for m in json.load(r)["data"] if m["id"] == "tiny")["state"]
text = "the quick brown fox jumps over the lazy dog " * repeats
first = ask(text)
for _ in range(200):
    if state() == "stopped": break
    time.sleep(0.05)
t = ask(text + "and then a few more words")
print(first["prompt_n"], t["prompt_n"], round(t["prompt_ms"], 1))
EOP
  kill "$engine"; wait "$engine" 2>/dev/null || true
  grep -E " (error|warn) " "$dir/log" >&2 || true
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "| conversation tokens | keep_cache | follow-up tokens processed (prompt_n) | follow-up prompt_ms, median (min–max) |"
echo "|---|---|---|---|"
for repeats in 40 330; do
  declare -A n=() ms=() first=()
  for ((r = 0; r < rounds; r++)); do
    for keep in true false; do
      # Not a process substitution: the next round must wait for this engine to exit.
      read -r f pn pms <<<"$(round "$keep" "$repeats")"
      first[$keep]=$f
      n[$keep]+="$pn "
      ms[$keep]+="$pms "
    done
  done
  for keep in true false; do
    med_n=$(tr ' ' '\n' <<<"${n[$keep]}" | grep . | median)
    vals=$(tr ' ' '\n' <<<"${ms[$keep]}" | grep .)
    echo "| ${first[$keep]} | $keep | $med_n | $(median <<<"$vals") ($(sort -n <<<"$vals" | head -1)–$(sort -n <<<"$vals" | tail -1)) |"
  done
  unset n ms first
done
