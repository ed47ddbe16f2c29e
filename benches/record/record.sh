#!/usr/bin/env bash
# Records the allocations of a program as mem3 traces (docs/trace-format.md):
#
#   benches/record/record.sh OUT PROGRAM [ARGS...]
#
# Builds malloc_trace.c (next to this script) with cc, runs PROGRAM with it preloaded, and gzips what each
# process recorded to OUT.PID.trace.gz (one file for a simple program; a driver such as gcc leaves one per
# process it runs). Prints each file with its number of lines. Linux with glibc; PROGRAM's exit status is
# passed on. A Python program allocates through pymalloc's arenas unless run with PYTHONMALLOC=malloc.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 OUT PROGRAM [ARGS...]" >&2
  exit 2
fi
out=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${CC:-cc}" -O2 -Wall -Wextra -shared -fPIC -o "$work/malloc_trace.so" "$here/malloc_trace.c" -ldl
status=0
MEM3_TRACE="$work/trace" LD_PRELOAD="$work/malloc_trace.so" "$@" || status=$?
shopt -s nullglob
for raw in "$work"/trace.*; do
  file="$out.${raw##*.}.trace.gz"
  gzip -c "$raw" > "$file"
  echo "$file: $(wc -l < "$raw") lines"
done
exit "$status"
