#!/usr/bin/env bash
# Compiles one ABI check program strictly for one language standard, then runs it.
# The compile is part of the test, so a header breakage fails ctest (with the compiler's message)
# instead of the whole build; the run fails it when a runtime check fails.
# Usage: compile_and_run.sh COMPILER STD SOURCE OUTPUT [compiler flags...]
set -euo pipefail
compiler="$1" std="$2" source="$3" output="$4"
shift 4
"$compiler" -std="$std" -Wall -Wextra -pedantic -Werror "$@" -o "$output" "$source"
"$output"
