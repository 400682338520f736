#!/usr/bin/env bash
# Builds the .deb from this build tree, unpacks it into a temp root (not the system), and runs
# the unpacked engine: --version, and --check against the unpacked example config (a copy, with
# the model and binary pointed at files that exist). Usage: test_package.sh SOURCE BUILD FAKE
set -euo pipefail
src=$1 build=$2 fake=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
deb=$("$src/scripts/package.sh" "$build" "$work")
echo "built $deb"
fail() { echo "FAIL: $*" >&2; exit 1; }

# The dependencies dpkg-shlibdeps found: the Poco, spdlog/fmt, OpenSSL and C++ runtimes.
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libpocofoundation80 libpoconet80 libpoconetssl80 libpocoutil80 libspdlog1.10 libfmt9 \
  libssl3 libstdc++6; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib"
done

root=$work/root
dpkg-deb -x "$deb" "$root"
for f in usr/bin/gradatum-engine usr/lib/gradatum-engine/plugins/llama_server.so \
  usr/lib/gradatum-engine/plugins/command.so \
  usr/lib/gradatum-engine/plugins/remote.so \
  usr/include/gradatum/plugin_abi.h usr/include/gradatum/plugin_helpers.h \
  usr/lib/cmake/GradatumEngine/GradatumEngineConfig.cmake \
  usr/lib/pkgconfig/gradatum-engine-plugin.pc usr/share/gradatum-engine/examples/c_plugin/Makefile \
  usr/share/gradatum-engine/examples/gradatum-engine.properties \
  usr/share/gradatum-engine/examples/gradatum-engine.ini \
  usr/share/gradatum-engine/examples/gradatum-engine-multi.ini \
  usr/lib/systemd/system/gradatum-engine.service usr/share/man/man1/gradatum-engine.1; do
  [[ -e $root/$f ]] || fail "missing $f in the package"
done
# The SDK's pkg-config file names the installed paths, not the staging area.
grep -qx 'prefix=/usr' "$root/usr/lib/pkgconfig/gradatum-engine-plugin.pc" || fail ".pc prefix not /usr"
grep -qx 'Type=notify' "$root/usr/lib/systemd/system/gradatum-engine.service" || fail "unit not Type=notify"
grep -qx 'ExecStart=/usr/bin/gradatum-engine --config /etc/gradatum-engine/engine.properties' \
  "$root/usr/lib/systemd/system/gradatum-engine.service" || fail "unit ExecStart not /usr/bin"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$root/usr/lib/systemd/system/gradatum-engine.service" 2>&1 |
    grep -v 'gradatum-engine.*is not executable\|Command .* is not executable' || true
fi

engine=$root/usr/bin/gradatum-engine
"$engine" --version | grep -q "^gradatum-engine " || fail "--version"

# The example config as shipped points at a model that is not here: --check must say so.
example=$root/usr/share/gradatum-engine/examples/gradatum-engine.properties
set +e
out=$("$engine" --check --config "$example" 2>&1)
code=$?
set -e
echo "$out"
[[ $code == 1 && $out == *"models.chat.llama_server.model: file not found"* ]] ||
  fail "--check on the shipped example: expected the missing model (exit 1), got $code"

# A copy with the binary and model pointed at files that exist: fine, with the packaged plugin
# found from the unpacked binary's own place (<bin>/../lib/gradatum-engine/plugins).
printf 'GGUF' > "$work/model.gguf"
sed -e "s|^models.chat.llama_server.binary = .*|models.chat.llama_server.binary = $fake|" \
  -e "s|^models.chat.llama_server.model = .*|models.chat.llama_server.model = $work/model.gguf|" \
  "$example" > "$work/engine.properties"
out=$("$engine" --check --config "$work/engine.properties") || fail "--check on the adjusted example: $out"
echo "$out"
[[ $out == *": ok: "* ]] || fail "no summary line"
echo "package test passed"
