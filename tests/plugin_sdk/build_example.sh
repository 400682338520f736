#!/usr/bin/env bash
# The SDK as an outsider gets it: installs this build into OUT/prefix, copies the example plugin
# out of that prefix (share/gradatum-engine/examples/c_plugin) and builds it twice against the
# prefix only, never this source tree:
#   - OUT/cmake: its own CMake project, find_package(GradatumEngine) through CMAKE_PREFIX_PATH,
#     then `cmake --install`, which must put it in the prefix's plugin directory;
#   - OUT/pc: its Makefile, pkg-config (PKG_CONFIG_LIBDIR: the prefix's .pc alone) and cc.
# Each result must export ge_plugin_entry alone. test_sdk_example.cpp then runs the engine with
# each. Usage: build_example.sh BUILD_DIR OUT_DIR C_COMPILER CHECK_EXPORTS_SCRIPT
set -euo pipefail
build=$1 out=$2 cc=$3 check_exports=$4
fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
prefix=$out/prefix
cmake --install "$build" --prefix "$prefix" > "$out/install.log"
plugin_dir=$prefix/lib/gradatum-engine/plugins
for f in include/gradatum/plugin_abi.h include/gradatum/plugin_helpers.h \
  lib/cmake/GradatumEngine/GradatumEngineConfig.cmake \
  lib/cmake/GradatumEngine/GradatumEngineConfigVersion.cmake \
  lib/pkgconfig/gradatum-engine-plugin.pc share/gradatum-engine/examples/c_plugin/example_plugin.c; do
  [[ -f $prefix/$f ]] || fail "the install lacks $f"
done
cp -r "$prefix/share/gradatum-engine/examples/c_plugin" "$out/src"

# Nothing from the environment may point the builds elsewhere.
unset CMAKE_PREFIX_PATH PKG_CONFIG_PATH CFLAGS CPATH C_INCLUDE_PATH
export CC=$cc

echo "== CMake: find_package(GradatumEngine)"
cmake -S "$out/src" -B "$out/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS=-Werror -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
cmake --build "$out/cmake" --verbose
grep -q -- "-fvisibility=hidden" "$out/cmake/compile_commands.json" ||
  fail "GradatumEngine::plugin_sdk did not add -fvisibility=hidden"
grep -q -- "-I$prefix/include\|-isystem $prefix/include" "$out/cmake/compile_commands.json" ||
  fail "the include directory is not the prefix's"
cmake --install "$out/cmake"
[[ -f $plugin_dir/example.so ]] || fail "cmake --install did not put example.so in $plugin_dir"
bash "$check_exports" "$plugin_dir/example.so"

echo "== pkg-config and cc: the example's Makefile"
export PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig
[[ $(pkg-config --variable=plugindir gradatum-engine-plugin) == "$plugin_dir" ]] ||
  fail "pkg-config plugindir is $(pkg-config --variable=plugindir gradatum-engine-plugin)"
[[ $(pkg-config --cflags gradatum-engine-plugin) == *-fvisibility=hidden* ]] ||
  fail "pkg-config --cflags lacks -fvisibility=hidden"
mkdir -p "$out/pc"
make -C "$out/pc" -f "$out/src/Makefile" CFLAGS="-O2 -Wall -Wextra -Werror"
bash "$check_exports" "$out/pc/example.so"
make -C "$out/pc" -f "$out/src/Makefile" install DESTDIR="$out/staged"
[[ -f $out/staged$plugin_dir/example.so ]] || fail "make install did not use plugindir"

# The flag does its job: a function not marked for export stays inside the plugin.
echo 'int ge_sdk_not_exported(void) { return 1; }' > "$out/visibility.c"
"$cc" $(pkg-config --cflags gradatum-engine-plugin) -shared -fPIC -o "$out/visibility.so" \
  "$out/visibility.c"
if nm -D --defined-only "$out/visibility.so" | grep -q ge_sdk_not_exported; then
  fail "with the SDK's flags an unmarked function is exported"
fi
echo "the example plugin built out of tree, with CMake and with pkg-config"
