#!/bin/sh
# Gate: clang-tidy's enabled checks (.clang-tidy, WarningsAsErrors) on every source in src/,
# including readability-function-size (80 lines). Uses the build's compile_commands.json.
set -eu
source_root=$1
build_root=$2
runner=$(command -v run-clang-tidy-14 || command -v run-clang-tidy)
cd "$source_root"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$runner" -p "$build_root" -j 2 -quiet "$source_root/src/" >"$log" 2>&1 || status=$?
# Only our own findings matter; run-clang-tidy also prints the per-file command lines.
grep -E '(warning|error): ' "$log" | grep -v '^/usr/' | sort -u || true
if [ "$status" != 0 ]; then
  echo "clang-tidy: findings above (exit $status)"
  exit 1
fi
echo "clang-tidy: src/ clean"
