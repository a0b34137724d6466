#!/usr/bin/env bash
# check-layout.sh — the code's layout rules (README "How the code is laid out"):
#
#   1. every folder of code has a README.md saying what it owns and what it
#      may call;
#   2. header names are unique (every header folder is on the include path);
#   3. folders include each other without a cycle: the graph of "folder A
#      includes a header of folder B" is a partial order (tsort finds loops);
#   4. no C file or header is longer than 800 lines.
#
#   scripts/check-layout.sh          check, exit 1 on any violation
#   scripts/check-layout.sh --graph  print the folder dependency edges
set -u
cd "$(dirname "$0")/.."
MAX_LINES=800
fail=0

dirs=$(find common lua planner runner -name '*.[ch]' -printf '%h\n' | sort -u)

graph_only=0
[ "${1:-}" = "--graph" ] && graph_only=1

for d in $dirs; do
	[ "$graph_only" -eq 1 ] && break
	[ -f "$d/README.md" ] || { echo "layout: $d has no README.md (what it owns, what it may call)"; fail=1; }
done

declare -A owner
while read -r h; do
	b=$(basename "$h")
	if [ -n "${owner[$b]:-}" ]; then
		echo "layout: header $b exists in ${owner[$b]} and $(dirname "$h"): names must be unique"
		fail=1
	fi
	owner[$b]=$(dirname "$h")
done < <(find $dirs -maxdepth 1 -name '*.h' | sort)

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for d in $dirs; do
	for f in "$d"/*.[ch]; do
		[ -f "$f" ] || continue
		while read -r inc; do
			to=${owner[$inc]:-}
			[ -n "$to" ] && [ "$to" != "$d" ] && echo "$d $to" >>"$edges"
		done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
		n=$(wc -l <"$f")
		if [ "$n" -gt "$MAX_LINES" ]; then
			echo "layout: $f has $n lines (at most $MAX_LINES: split it by concern)"
			fail=1
		fi
	done
done
sort -u -o "$edges" "$edges"

if [ "$graph_only" -eq 1 ]; then
	cat "$edges"
	exit 0
fi

if ! tsort "$edges" >/dev/null 2>"$edges.err"; then
	echo "layout: folders include each other in a cycle:"
	sed 's/^/  /' "$edges.err"
	fail=1
fi
rm -f "$edges.err"
[ "$fail" -eq 0 ] && echo "layout: $(echo "$dirs" | wc -w) folders, $(wc -l <"$edges") dependencies, no cycle, no file over $MAX_LINES lines"
exit "$fail"
