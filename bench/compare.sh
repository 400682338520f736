#!/usr/bin/env bash
# The side-by-side benchmark of issue 11: the same child reached directly, through
# gradatum-engine and through nginx (nginx-light, generated loopback config: upstream keepalive,
# proxy_buffering off, proxy_http_version 1.1), variants alternating, rounds repeated, medians
# and spread. Run it after the README set-up (scripts/demo.sh or scripts/test.sh); it installs
# wrk and nginx-light itself when they are missing (apt-get, as root or with sudo).
#
#   bench/compare.sh [--quick] [--rounds N] [--seconds S] [--only SECTION]
#
# SECTION: supervisor, real, small-real, small-fake, sse, body, memory. The results (Markdown)
# go to stdout and to build/bench/compare-<date>.md; progress and nginx's own lines to stderr.
# Environment: LLAMA_SERVER, GE_CACHE as for scripts/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export GE_CACHE="${GE_CACHE:-$HOME/.cache/gradatum-engine}"

missing=()
command -v wrk >/dev/null || missing+=(wrk)
[[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  echo "compare.sh: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  # Where an init system runs, Debian starts its own nginx on port 80; the bench does not use
  # it (it starts its own on a free loopback port) and leaves it alone.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target bench_compare >&2
llama_server="$(bash scripts/get-llama-server.sh | tail -n 1)"
model="$(bash scripts/make-tiny-model.sh "$GE_CACHE/tiny-model.gguf" | tail -n 1)"

out="build/bench/compare-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "## Run $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)."
  echo "Engine: $(git describe --always --dirty 2>/dev/null || echo unknown) (Release); $(/usr/sbin/nginx -v 2>&1); $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2); llama-server $(basename "$(dirname "$(dirname "$(dirname "$llama_server")")")")."
  echo "Command: bench/compare.sh $*"
  echo
  build/bench/bench_compare --llama-server "$llama_server" --model "$model" "$@"
} | tee "$out"
echo "compare.sh: results in $out" >&2
