# test_apply_errors.sh — apply's bad inputs: each a clear error, exit 1, nothing
# half-written that a rerun cannot finish.  A destination table with rows, a table
# dropped between plan and apply, a foreign slot with the plan's name, a second
# apply of the same plan while one runs, a shard going down mid-copy, a slot whose
# consistent point a killed run did not record.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=errtest
W=$(mktemp -d)
trap 'rm -rf "$W"; _pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c3" -l "$PGR_TEST_ROOT/c3.log" -w start >/dev/null 2>&1; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2 3
psql_on 0 $DB "CREATE TABLE items (id bigint PRIMARY KEY, v text);
  INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 20000) g;
  CREATE TABLE gone (id int PRIMARY KEY);
  CREATE PUBLICATION pub FOR TABLE items, gone" >/dev/null
export SRC S0 S1 S2
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: errtest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}"] }
tables:
  items: { key: id }
  gone: { key: id }
copy: { jobs: 2, chunk_rows: 1000 }
YAML
nothing_created() {
	expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgreshard'")" 0 "state schema on shard 0"
	expect_eq "$(psql_on 0 $DB "SELECT count(*) FROM pg_replication_slots")" 0 "slots on the source"
}

# a destination table that already has rows
psql_on 2 $DB "CREATE TABLE items (id bigint, v text); INSERT INTO items VALUES (1, 'x')" >/dev/null
expect_rc 1 "$P" apply --yes --until copy "$W/plan.yaml"
expect_contains "$ERR" "preflight: shard 1: table public.items already has rows"
expect_contains "$ERR" "nothing was changed"
nothing_created
psql_on 2 $DB "DROP TABLE items" >/dev/null

# a table dropped between plan and apply
psql_on 0 $DB "DROP TABLE gone" >/dev/null
expect_rc 1 "$P" apply --yes --until copy "$W/plan.yaml"
expect_contains "$ERR" "table public.gone does not exist on source"
nothing_created
psql_on 0 $DB "CREATE TABLE gone (id int PRIMARY KEY); ALTER PUBLICATION pub ADD TABLE gone" >/dev/null

# a slot with the plan's name that pgreshard did not create
psql_on 0 $DB "SELECT pg_create_logical_replication_slot('pgreshard_errtest', 'pgoutput')" >/dev/null
expect_rc 1 "$P" apply --yes --until copy "$W/plan.yaml"
expect_contains "$ERR" "replication slot pgreshard_errtest exists but was not created by plan errtest"
psql_on 0 $DB "SELECT pg_drop_replication_slot('pgreshard_errtest')" >/dev/null

# two applies of one plan: the second says who holds it
PGRESHARD_TEST_CHUNK_DELAY_MS=300 "$P" apply --yes --until copy "$W/plan.yaml" >"$W/first.log" 2>&1 &
first=$!
for ((i = 0; i < 100; i++)); do
	[ "$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done" 2>/dev/null || echo 0)" -ge 1 ] && break
	sleep 0.1
done
expect_rc 1 "$P" apply --yes --until copy "$W/plan.yaml"
expect_contains "$ERR" "plan errtest is being applied by another pgreshard (host $(hostname), pid $first"

# a shard goes down mid-copy: the first apply fails cleanly, naming the shard
_pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c3" -m fast -w stop >/dev/null
wait $first
rc=$?
expect_eq "$rc" 1 "exit code of the apply whose shard went down"
expect_contains "$(cat "$W/first.log")" "shard 2 ("
expect_contains "$(cat "$W/first.log")" "a rerun of apply redoes it"
_pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c3" -l "$PGR_TEST_ROOT/c3.log" -w start >/dev/null

# the rerun finishes, exactly
expect_rc 0 "$P" apply --yes --until schema-post "$W/plan.yaml"
compare_tables $DB items 0 "1 2 3" || fail "items after the rerun"
check_placement $DB items "id bigint" id 3 1 2 3 || fail "placement of items"
expect_eq "$(psql_on 1 $DB "SELECT attempts FROM pgreshard.steps WHERE plan_name = 'errtest' AND step = 'copy'")" 2 "copy attempts in the journal"

# a run killed right after creating the slot, before recording its consistent point:
# the rerun records it from the slot (it crashed reading a column it did not select)
psql_on 1 $DB "UPDATE pgreshard.ledger SET lsn = NULL WHERE plan_name = 'errtest' AND kind = 'slot';
	UPDATE pgreshard.steps SET state = 'running' WHERE plan_name = 'errtest' AND step = 'slot'" >/dev/null
expect_rc 0 "$P" apply --yes --until schema-post "$W/plan.yaml"
expect_eq "$(psql_on 1 $DB "SELECT lsn IS NOT NULL FROM pgreshard.ledger WHERE plan_name = 'errtest' AND kind = 'slot'")" t "slot LSN recorded again"
