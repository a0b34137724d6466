#!/usr/bin/env bash
# run.sh — every test of pgreshard: unit tests (cmocka) and integration tests
# against real PostgreSQL 15 clusters, for the plain build and the
# AddressSanitizer/UndefinedBehaviorSanitizer build.
#
#   tests/run.sh [FILTER]    FILTER: run only tests whose name matches it (a bash regex: a word, or a|b)
#
# The integration tests of each build run at the same time as the other
# build's (PGR_TEST_SERIAL=1: one after the other), each build on its own six
# clusters on its own ports, so they never see each other's databases or
# slots.  Each build's lines are printed when it ends; the run ends with
# "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
FILTER=${1:-}
source tests/lib/clusters.sh

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
BUILDS=${PGR_TEST_BUILDS:-"build build/asan"}
LOGDIR=$(mktemp -d /tmp/pgreshard-testlogs.XXXXXX)
chmod 755 "$LOGDIR"
trap 'rm -rf "$LOGDIR"' EXIT

record() {	# NAME RC LOGFILE SECONDS
	if [ "$2" -eq 0 ]; then
		printf 'ok    %-58s %3ss\n' "$1" "$4"
	else
		printf 'FAIL  %-58s %3ss\n' "$1" "$4"
		sed 's/^/      | /' "$3" | tail -40
	fi
}

run_one() {	# NAME CMD...
	local name=$1 log start rc
	shift
	[ -n "$FILTER" ] && ! [[ "$name" =~ $FILTER ]] && return 0
	log="$LOGDIR/$(echo "$name" | tr '/ ' '__').log"
	start=$SECONDS
	"$@" >"$log" 2>&1
	rc=$?
	record "$name" "$rc" "$log" $((SECONDS - start))
}

# The integration tests of build $1 on clusters of their own (ports from $2).
integration() {
	local b=$1 t s
	PGR_TEST_ROOT='' PGR_CLUSTERS=0 PGR_PORT_BASE=$2
	clusters_start 6 || { echo "FAIL  $b: cannot start test clusters"; return 1; }
	export PGR_TEST_DSN
	PGR_TEST_DSN=$(dsn 0 postgres)
	for t in "$b"/tests/*; do
		case "$(basename "$t")" in test_*) continue ;; esac
		[ -x "$t" ] && run_one "$b/$(basename "$t")" "$t"
	done
	for s in tests/integration/test_*.sh; do
		run_one "$b/$(basename "$s" .sh)" env PGRESHARD="$ROOT/$b/pgreshard" bash "$s"
	done
	clusters_stop
}

echo "== PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')"
echo "== layout"
run_one "layout (scripts/check-layout.sh)" bash scripts/check-layout.sh | tee "$LOGDIR/results.0"

echo "== unit tests"
for b in $BUILDS; do
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] && run_one "$b/$(basename "$t")" "$t"
	done
done | tee "$LOGDIR/results.1"

echo "== integration tests"
base=$((20000 + ($$ % 1000) * 32))
k=0 pids=()
for b in $BUILDS; do
	if [ "${PGR_TEST_SERIAL:-0}" = 1 ]; then
		integration "$b" $((base + 16 * k)) | tee "$LOGDIR/results.i$k"
	else
		(integration "$b" $((base + 16 * k)) >"$LOGDIR/results.i$k" 2>&1) &
		pids+=($!)
	fi
	k=$((k + 1))
done
for ((i = 0; i < ${#pids[@]}; i++)); do
	wait "${pids[$i]}"
	cat "$LOGDIR/results.i$i"
done

passed=$(cat "$LOGDIR"/results.* | grep -c '^ok ')
failed=$(cat "$LOGDIR"/results.* | grep -c '^FAIL ')
echo
[ "$failed" -gt 0 ] && { echo "failed:"; cat "$LOGDIR"/results.* | sed -n 's/^FAIL  \([^ ]*\).*/  \1/p'; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
