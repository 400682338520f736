#!/usr/bin/env bash
# Builds the Debian package: gradatum-engine_<version>_<arch>.deb, with its runtime dependencies
# found by dpkg-shlibdeps (package dpkg-dev). Usage: scripts/package.sh [BUILD_DIR [OUT_DIR]]
# (defaults: build, BUILD_DIR). Install it with: apt-get install -y ./gradatum-engine_*.deb
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
out=${2:-$build}
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
cmake --build "$build" -j"${JOBS:-2}" --target gradatum-engine llama_server >&2
mkdir -p "$out"
# cpack installs the build into a staging root with the prefix /usr and packs that.
(cd "$build" && cpack -G DEB -B "$out/_cpack" >&2)
deb=$(ls -t "$out"/_cpack/gradatum-engine_*.deb | head -1)
mv -f "$deb" "$out/"
rm -rf "$out/_cpack"
echo "$out/$(basename "$deb")"
