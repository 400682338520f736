#!/usr/bin/env bash
# Sets everything up and runs the engine on 127.0.0.1:8080 in front of the real llama-server
# with a tiny generated model (it answers gibberish). Ctrl-C stops the engine and its child.
# Environment: LLAMA_SERVER (use this llama-server), GE_CACHE (cache dir), LISTEN (host:port).
set -euo pipefail
cd "$(dirname "$0")/.."
export GE_CACHE="${GE_CACHE:-$HOME/.cache/gradatum-engine}"
LISTEN="${LISTEN:-127.0.0.1:8080}"

bash scripts/setup-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target gradatum-engine llama_server
llama_server="$(bash scripts/get-llama-server.sh | tail -n 1)"
model="$(bash scripts/make-tiny-model.sh "$GE_CACHE/tiny-model.gguf" | tail -n 1)"

config=build/demo.properties
cat >"$config" <<CONF
server.listen = $LISTEN
models.tiny.backend = llama_server
models.tiny.llama_server.binary = $llama_server
models.tiny.llama_server.model = $model
models.tiny.llama_server.ctx_size = 2048
CONF

cat <<MSG

gradatum-engine is starting on http://$LISTEN with $config. Try, in another terminal:

  curl -N http://$LISTEN/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model":"tiny","stream":true,"max_tokens":32,"messages":[{"role":"user","content":"Hello"}]}'

(The tiny model has random weights: it answers gibberish. Point models.tiny.llama_server.model
at a real GGUF file for real answers.) Ctrl-C stops the engine.

MSG
exec build/bin/gradatum-engine --config "$config"
