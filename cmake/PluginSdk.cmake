# The installed plugin SDK: the ABI header (and the optional C helpers), a CMake package
# (find_package(GradatumEngine) -> GradatumEngine::plugin_sdk), a pkg-config file
# (gradatum-engine-plugin.pc) and the example plugin's sources. docs/PLUGINS.md tells how to use
# them; tests/plugin_sdk/ builds the example against an installed copy only.
include(CMakePackageConfigHelpers)

# The ABI version, read from the header itself: one source of truth.
file(STRINGS ${PROJECT_SOURCE_DIR}/core/include/gradatum/plugin_abi.h GE_ABI_LINES
  REGEX "^#define GE_ABI_(MAJOR|MINOR) [0-9]+$")
string(REGEX REPLACE ".*GE_ABI_MAJOR ([0-9]+).*" "\\1" GE_ABI_MAJOR_VALUE "${GE_ABI_LINES}")
string(REGEX REPLACE ".*GE_ABI_MINOR ([0-9]+).*" "\\1" GE_ABI_MINOR_VALUE "${GE_ABI_LINES}")
set(GE_ABI_VERSION ${GE_ABI_MAJOR_VALUE}.${GE_ABI_MINOR_VALUE})

install(FILES core/include/gradatum/plugin_abi.h core/include/gradatum/plugin_helpers.h
  core/include/gradatum/config_values.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/gradatum)

# Not a multiarch libdir, like the plugin directory the package points at.
set(GE_CMAKE_PACKAGE_DIR lib/cmake/GradatumEngine)
configure_package_config_file(cmake/GradatumEngineConfig.cmake.in
  ${CMAKE_BINARY_DIR}/sdk/GradatumEngineConfig.cmake
  INSTALL_DESTINATION ${GE_CMAKE_PACKAGE_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR GE_PLUGIN_INSTALL_DIR)
# Header-only: any architecture; 0.x releases are compatible within their major (0).
write_basic_package_version_file(${CMAKE_BINARY_DIR}/sdk/GradatumEngineConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_BINARY_DIR}/sdk/GradatumEngineConfig.cmake
  ${CMAKE_BINARY_DIR}/sdk/GradatumEngineConfigVersion.cmake
  DESTINATION ${GE_CMAKE_PACKAGE_DIR})

# The .pc names absolute paths: filled in at install time, for the prefix of that install
# (cpack installs with /usr).
install(CODE "
  set(GE_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(CMAKE_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR})
  set(GE_PLUGIN_INSTALL_DIR ${GE_PLUGIN_INSTALL_DIR})
  set(GE_ABI_VERSION ${GE_ABI_VERSION})
  set(PROJECT_VERSION ${PROJECT_VERSION})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/gradatum-engine-plugin.pc.in
    ${CMAKE_BINARY_DIR}/install-generated/gradatum-engine-plugin.pc @ONLY)
")
install(FILES ${CMAKE_BINARY_DIR}/install-generated/gradatum-engine-plugin.pc
  DESTINATION lib/pkgconfig)

install(FILES examples/c_plugin/CMakeLists.txt examples/c_plugin/Makefile
  examples/c_plugin/example_plugin.c
  DESTINATION ${CMAKE_INSTALL_DATADIR}/gradatum-engine/examples/c_plugin)
