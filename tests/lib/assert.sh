# assert.sh — small assertions for integration test scripts.
#
#   run CMD...                   run a command, capturing $OUT, $ERR and $RC
#   expect_rc N CMD...           run, and fail the test unless the exit code is N
#   expect_contains TEXT WANT    fail unless TEXT contains WANT
#   expect_not_contains TEXT BAD fail if TEXT contains BAD
#   expect_eq GOT WANT [WHAT]    fail unless equal
#   fail MSG                     fail the current test
#
# A test script is `set -u` bash; it fails on the first failed expectation
# (exit 1) and prints what it expected and what it got.

OUT="" ERR="" RC=0

fail() {
	[ -n "${PGR_FAIL_DUMP:-}" ] && printf "%s\n%s\n" "$OUT" "$ERR" >"$PGR_FAIL_DUMP"
	echo "FAIL: $*" >&2
	[ -n "$OUT" ] && printf '  stdout (end): %s\n' "$(printf '%s' "$OUT" | tail -c 1500)" >&2
	# the start says what ran, the end (usually) why it failed
	if [ ${#ERR} -gt 3500 ]; then
		printf '  stderr: %s\n  [...]\n%s\n' "$(printf '%s' "$ERR" | head -c 1000)" "$(printf '%s' "$ERR" | tail -c 2500)" >&2
	elif [ -n "$ERR" ]; then
		printf '  stderr: %s\n' "$ERR" >&2
	fi
	exit 1
}

run() {
	local o e
	o=$(mktemp) e=$(mktemp)
	"$@" >"$o" 2>"$e"
	RC=$?
	OUT=$(cat "$o") ERR=$(cat "$e")
	rm -f "$o" "$e"
}

expect_rc() {
	local want=$1
	shift
	run "$@"
	[ "$RC" -eq "$want" ] || fail "expected exit $want, got $RC from: $*"
}

expect_contains() {
	case "$1" in *"$2"*) ;; *) fail "expected to find [$2]" ;; esac
}

expect_not_contains() {
	case "$1" in *"$2"*) fail "did not expect to find [$2]" ;; *) ;; esac
}

expect_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected [$2], got [$1]"
}
