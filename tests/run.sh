#!/usr/bin/env bash
# run.sh — every test of pgreshard: unit tests (cmocka) and integration tests
# against real PostgreSQL 15 clusters, for the plain build and the
# AddressSanitizer/UndefinedBehaviorSanitizer build.
#
#   tests/run.sh [FILTER]    FILTER: run only tests whose name contains it
#
# Prints one line per test and ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
FILTER=${1:-}
source tests/lib/clusters.sh

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
BUILDS=${PGR_TEST_BUILDS:-"build build/asan"}
PASSED=0 FAILED=0 FAILED_NAMES=()
LOGDIR=$(mktemp -d /tmp/pgreshard-testlogs.XXXXXX)

record() {	# NAME RC LOGFILE SECONDS
	if [ "$2" -eq 0 ]; then
		PASSED=$((PASSED + 1)); printf 'ok    %-58s %3ss\n' "$1" "$4"
	else
		FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); printf 'FAIL  %-58s %3ss\n' "$1" "$4"
		sed 's/^/      | /' "$3" | tail -40
	fi
}

run_one() {	# NAME CMD...
	local name=$1 log start rc
	shift
	[ -n "$FILTER" ] && [[ "$name" != *"$FILTER"* ]] && return 0
	log="$LOGDIR/$(echo "$name" | tr '/ ' '__').log"
	start=$SECONDS
	"$@" >"$log" 2>&1
	rc=$?
	record "$name" "$rc" "$log" $((SECONDS - start))
}

echo "== starting PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') test clusters"
clusters_start 6 || { echo "cannot start test clusters" >&2; exit 1; }
export PGR_TEST_DSN
PGR_TEST_DSN=$(dsn 0 postgres)

echo "== layout"
run_one "layout (scripts/check-layout.sh)" bash scripts/check-layout.sh

echo "== unit tests"
for b in $BUILDS; do
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] && run_one "$b/$(basename "$t")" "$t"
	done
done

echo "== integration tests"
for b in $BUILDS; do
	for t in "$b"/tests/*; do
		case "$(basename "$t")" in test_*) continue ;; esac
		[ -x "$t" ] && run_one "$b/$(basename "$t")" "$t"
	done
	for s in tests/integration/test_*.sh; do
		run_one "$b/$(basename "$s" .sh)" env PGRESHARD="$ROOT/$b/pgreshard" bash "$s"
	done
done
clusters_stop
rm -rf "$LOGDIR"

echo
[ "$FAILED" -gt 0 ] && printf 'failed: %s\n' "${FAILED_NAMES[@]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
