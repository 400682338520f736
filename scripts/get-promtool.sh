#!/usr/bin/env bash
# Find or fetch promtool (from Debian's prometheus package, unpacked: nothing is installed or
# started); print its path as the last line. Used by the metrics test (GE_PROMTOOL).
set -euo pipefail
CACHE="${GE_CACHE:-$HOME/.cache/gradatum-engine}"
if found=$(command -v promtool 2>/dev/null); then
  echo "$found"
  exit 0
fi
version=$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}')
if [[ -z "$version" || "$version" == "(none)" ]]; then
  # A machine whose package lists were never fetched (all other packages already installed).
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q >/dev/null
  version=$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}')
fi
[[ -n "$version" && "$version" != "(none)" ]] || { echo "get-promtool: no prometheus package known to apt (run apt-get update)" >&2; exit 3; }
dir="$CACHE/promtool-${version//[^A-Za-z0-9.+-]/_}"
if [[ ! -x "$dir/usr/bin/promtool" ]]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "prometheus=$version" >/dev/null)
  mkdir -p "$dir"
  dpkg-deb -x "$tmp"/prometheus_*.deb "$dir"
  rm -rf "$tmp"
fi
echo "$dir/usr/bin/promtool"
