#!/usr/bin/env bash
# TLS against plain HTTP on one engine (a plain and an https:// listener, the fake llama-server
# streaming stamped events): time to first byte (TLS handshake included) and per-event delay.
#   bench/tls.sh [rounds, default 30]     (after scripts/test.sh or a build into build/)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-30}"
work="$(mktemp -d)"
trap 'kill "$engine" 2>/dev/null || true; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/ca.key" \
  -out "$work/ca.pem" -days 1 -subj /CN=bench-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/server.key" \
  -out "$work/server.csr" -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$work/ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -out "$work/server.pem" -days 1 -extfile "$work/ext" 2>/dev/null
chmod 600 "$work/server.key"
echo fake >"$work/model.gguf"
plain=18471 tls=18472
cat >"$work/engine.properties" <<CONF
server.listen = 127.0.0.1:$plain, https://127.0.0.1:$tls
server.tls.cert = $work/server.pem
server.tls.key = $work/server.key
logging.level = warn
models.m.backend = llama_server
models.m.llama_server.binary = $PWD/build/tests/fake-llama-server
models.m.llama_server.model = $work/model.gguf
models.m.llama_server.args = --fake-load-ms 0 --fake-stamp-events --fake-stream-events 50 --fake-stream-interval-ms 5
CONF
build/bin/gradatum-engine --config "$work/engine.properties" &
engine=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$plain/health" >/dev/null && break; sleep 0.05; done
NODE_EXTRA_CA_CERTS="$work/ca.pem" node bench/tls_events.mjs "$plain" "$tls" "$rounds"
