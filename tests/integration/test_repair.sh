# test_repair.sh — rows deleted, changed and added on shards behind pgreshard's
# back before the cutover: verify finds them, `pgreshard repair` re-copies the
# differing tables while the source keeps writing, verify passes, the cutover
# proceeds and the end is exact (checked row by row against the source, not by
# verify).  A verify killed halfway resumes without comparing its finished tables
# again.  After the cutover, repair refuses, and a rerun of a cutover the journal missed
# does not cut over again.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=repairtest
W=$(mktemp -d)
WRITER=
trap '[ -n "$WRITER" ] && kill $WRITER 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

realistic_move $DB repairtest "$W/plan.yaml" "cutover: { reverse: false, freeze: lock, timeout_s: 60 }"
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"

# before anything is different: nothing to repair
expect_rc 0 "$P" repair "$W/plan.yaml"
expect_contains "$OUT" "nothing to repair"

# --- a verify killed halfway resumes -----------------------------------------
PGRESHARD_TEST_VERIFY_DELAY_MS=1500 "$P" verify "$W/plan.yaml" >"$W/v1.out" 2>"$W/v1.err" &
VPID=$!
for _ in $(seq 1 100); do
	n=$(psql_on 1 $DB "SELECT count(DISTINCT table_index) FROM pgreshard.verify_chunks") || n=0
	[ "$n" -ge 2 ] && break
	sleep 0.1
done
kill -9 $VPID 2>/dev/null; wait $VPID 2>/dev/null
finished=$(psql_on 1 $DB "SELECT count(DISTINCT table_index) FROM pgreshard.verify_chunks")
[ "$finished" -ge 2 ] && [ "$finished" -lt 5 ] || fail "expected the killed verify to have finished 2-4 tables, got $finished"
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
skipped=$(printf '%s\n' "$ERR" | grep -c "was compared by an interrupted verify")
expect_eq "$skipped" "$finished" "tables not compared again"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.verify_chunks")" 0 "progress cleared by a finished verify"

# --- rows changed behind pgreshard's back --------------------------------------
shard_of() { "$P" shard-of "$W/plan.yaml" app.users "$1" --type bigint; }
s100=$(shard_of 100); s101=$(shard_of 101); extra=999999; se=$(shard_of $extra)
psql_on $((s100 + 1)) $DB "UPDATE app.users SET name = 'tampered' WHERE id = 100" >/dev/null
psql_on $((s101 + 1)) $DB "DELETE FROM app.users WHERE id = 101" >/dev/null
psql_on $((se + 1)) $DB "INSERT INTO app.users (id, name) VALUES ($extra, 'ghost')" >/dev/null
psql_on $(( (s101 + 1) % 3 + 1 )) $DB "INSERT INTO app.users (id, name) VALUES (101, 'misplaced')" >/dev/null
psql_on 2 $DB "UPDATE app.regions SET label = 'x' WHERE code = 1" >/dev/null
psql_on 3 $DB "DELETE FROM app.events WHERE user_id IS NOT NULL AND user_id % 10 = 3" >/dev/null
expect_rc 4 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "different app.users on shard $s100: key (100)"
expect_rc 1 "$P" apply --yes "$W/plan.yaml"
expect_contains "$ERR" "pgreshard repair"

# the application keeps writing on the source during the repair
writer() {
	local i=0
	while :; do
		i=$((i + 1))
		psql_on 0 $DB "INSERT INTO app.users (id, name, score) VALUES (100000 + $i, 'new $i', 5);
			UPDATE app.users SET name = 'upd $i', score = 1 + $i % 50 WHERE id = 1 + ($i * 37) % 3000;
			DELETE FROM app.users WHERE id = 1 + ($i * 53) % 3000;
			INSERT INTO app.events VALUES ($i % 300, 'w', '{}');
			UPDATE app.regions SET label = 'r$i' WHERE code = 2" >/dev/null 2>&1
		sleep 0.02
	done
}
writer & WRITER=$!
sleep 1
expect_rc 0 "$P" repair "$W/plan.yaml"
expect_contains "$OUT" "3 table(s) copied again"
expect_contains "$ERR" "difference(s) in table app.users"
expect_not_contains "$ERR" "in table app.\"Order Items\""
sleep 1
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
# a repair of a named table, still under writes
expect_rc 0 "$P" repair "$W/plan.yaml" app.users
expect_contains "$OUT" "1 table(s) copied again"
sleep 1
kill $WRITER; wait $WRITER 2>/dev/null; WRITER=

# the move continues: verify in apply, cutover, finish; the end is exact
expect_rc 0 "$P" apply --yes --until cutover "$W/plan.yaml"
# a run killed after its cutover was done but before the journal said so: the rerun
# does not cut over again (it waited forever in manual mode: found by the fault matrix)
psql_on 1 $DB "UPDATE pgreshard.steps SET state = 'running' WHERE plan_name = 'repairtest'
	AND step = 'cutover'" >/dev/null
expect_rc 0 "$P" apply --yes "$W/plan.yaml"
expect_contains "$ERR" "cutover: already done by an earlier run"
expect_not_contains "$ERR" "writes frozen"
for t in app.users 'app."Order Items"' '"Billing Dept"."Invoices"' app.events; do
	compare_tables $DB "$t" 0 "1 2 3" || fail "$t differs after the cutover"
done
for c in 1 2 3; do compare_tables $DB app.regions 0 "$c" || fail "app.regions differs on cluster $c"; done
check_placement $DB app.users "id bigint" "id" 3 1 2 3 || fail "app.users misplaced"
expect_eq "$(psql_on 0 $DB "SELECT count(*) FROM pg_replication_slots")" 0 "slots left"

# after the cutover the shards are the truth
expect_rc 1 "$P" repair "$W/plan.yaml" app.users
expect_contains "$ERR" "cutover of plan repairtest is done"
echo "test_repair: ok"
