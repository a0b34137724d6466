# test_cli.sh — the command line itself: help, version, usage errors, exit codes.
set -u
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
PLANS="$(dirname "$0")/../plans"

expect_rc 0 "$P" --version
expect_contains "$OUT" "pgreshard "
expect_rc 0 "$P" --help
for c in validate plan apply status verify cutover cleanup shard-of; do
	expect_contains "$OUT" "pgreshard $c"
done
for c in validate plan apply status verify cutover cleanup shard-of; do
	expect_rc 0 "$P" "$c" --help
	expect_contains "$OUT" "Usage: pgreshard $c"
done
expect_rc 2 "$P"
expect_rc 2 "$P" frobnicate
expect_contains "$ERR" "pgreshard: unknown command 'frobnicate'"
expect_rc 2 "$P" --frob
expect_rc 2 "$P" validate
expect_contains "$ERR" "pgreshard: validate: expected one PLAN.yaml argument"
expect_rc 2 "$P" validate a.yaml b.yaml
expect_rc 2 "$P" plan --bogus x.yaml
expect_contains "$ERR" "unknown option '--bogus'"
expect_rc 2 "$P" plan -o
expect_rc 2 "$P" shard-of x.yaml
expect_rc 1 "$P" validate /nonexistent/plan.yaml
expect_contains "$ERR" "pgreshard: /nonexistent/plan.yaml"
# validate touches no database: a plan whose servers do not exist validates
export PGR_TEST_SOURCE_DSN="host=203.0.113.1 port=1" PGR_TEST_HOST=nowhere PGR_TEST_PORT=1 \
	PGR_TEST_EMPTY=x PGR_TEST_JOBS=2
for f in "$PLANS"/good/*.yaml; do
	expect_rc 0 "$P" validate "$f"
	expect_contains "$OUT" "valid"
done
# every bad plan is refused with exit 1 and a FILE:LINE:COL message
n=0
for f in "$PLANS"/bad/*.yaml; do
	want=$(head -1 "$f" | sed -n 's/^# expect: //p')
	expect_rc 1 "$P" validate "$f"
	expect_contains "$ERR" "pgreshard: $f:"
	expect_contains "$ERR" "$want"
	n=$((n + 1))
done
[ "$n" -ge 40 ] || fail "expected at least 40 bad plans, found $n"
echo "checked $n bad plans"
