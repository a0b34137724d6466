# reverse.sh — for the integration tests of reverse replication (after the
# cutover the shards stream back): source it after clusters.sh and assert.sh.
#
#   apply_streaming_back PLAN ERRFILE
#                      start `$PGRESHARD apply --yes PLAN` in the background (its pid
#                      in AP, its stderr appended to ERRFILE) and return once this
#                      apply streams the shards back (pgreshard.runs.reverse_state
#                      stays 'streaming' after an apply hands over, so its own log
#                      line is counted); fail if it ends first or takes 60 s
#   apply_handed_over  the apply in AP exits 0 (it handed the plan to a rollback)
#   apply_stops WHY    the apply in AP exits 1 within 30 s (the stream back stopped)

_streaming_back() { cat "$1" 2>/dev/null | grep -c "reverse: streaming the shards' changes back"; }

apply_streaming_back() {
	local plan=$1 err=$2 before
	before=$(_streaming_back "$err")
	"$PGRESHARD" apply --yes "$plan" >/dev/null 2>>"$err" &
	AP=$!
	for _ in $(seq 1 120); do
		[ "$(_streaming_back "$err")" -gt "$before" ] && return 0
		kill -0 "$AP" 2>/dev/null || fail "apply ended before streaming back: $(tail -5 "$err")"
		sleep 0.5
	done
	fail "reverse replication did not start: $(tail -5 "$err")"
}

apply_handed_over() {
	wait "$AP"
	expect_eq "$?" 0 "the apply handed over"
	AP=
}

apply_stops() {
	for _ in $(seq 1 60); do kill -0 "$AP" 2>/dev/null || break; sleep 0.5; done
	kill -0 "$AP" 2>/dev/null && fail "apply did not stop ($1)"
	wait "$AP"
	expect_eq "$?" 1 "apply stops ($1)"
	AP=
}
