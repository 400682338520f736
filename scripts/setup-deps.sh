#!/usr/bin/env bash
# Installs what building and testing gradatum-engine needs, from Debian 12's packages only.
set -euo pipefail
packages=(build-essential cmake ninja-build git ca-certificates curl
  libpoco-dev nlohmann-json3-dev libspdlog-dev catch2
  python3 python3-numpy
  clang libclang-rt-14-dev openssl
  dpkg-dev file)  # dpkg-dev, file: the .deb's dependencies (cpack, dpkg-shlibdeps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the pinned llama.cpp source; a machine may already have it from another packaging.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup-deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${missing[@]}"
fi
