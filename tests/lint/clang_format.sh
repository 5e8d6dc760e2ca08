#!/bin/sh
# Gate: every C++ file in the tree is formatted as .clang-format says (clang-format 14).
set -eu
cd "$1"
files=$(git ls-files 'src/*.cpp' 'src/*.h' 'include/*.h' 'tests/*.cpp' 'tests/*.h' 2>/dev/null ||
  find src include tests -name '*.cpp' -o -name '*.h')
status=0
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "clang-format: $f differs; run: clang-format -i $f"
    status=1
  fi
done
[ "$status" = 0 ] && echo "clang-format: $(echo "$files" | wc -w) files clean"
exit "$status"
