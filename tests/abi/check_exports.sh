#!/usr/bin/env bash
# A plugin must export exactly one symbol: the ABI entry (ARCHITECTURE.md, plugin_abi.h).
set -euo pipefail
plugin="$1"
exported=$(nm -D --defined-only "$plugin" | awk '{print $NF}' | sort)
if [[ "$exported" != "ge_plugin_entry" ]]; then
  echo "$plugin exports more than ge_plugin_entry:"
  echo "$exported"
  exit 1
fi
echo "$plugin exports only ge_plugin_entry"
