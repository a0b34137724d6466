# test_apply_copy.sh — `apply --until schema-post` on a realistic schema, 1 -> 4:
# every row on its shard (satisfies_hash_partition), every table's content equal
# to the source's, indexes and constraints as on the source, kill -9 at several
# points mid-copy and rerun exact, a rerun after success a no-op.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=applytest
SQL="$(dirname "$0")/../sql"
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2 3 4
load_sql 0 $DB "$SQL/realistic.sql"
# enough rows in app.users for many chunks, so the copy can be killed mid-way
psql_on 0 $DB "INSERT INTO app.users SELECT g, 'u' || g, NULL, NULL, NULL, 1 FROM generate_series(3001, 30000) g; ANALYZE app.users" >/dev/null
for s in 0 1 2 3 4; do psql_on 0 postgres "SELECT 1" >/dev/null; done
export SRC S0 S1 S2 S3
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: applytest
source: { dsn: "${SRC}", publication: pub }
destination:
  shards: ["${S0}", "${S1}", "${S2}", "${S3}"]
tables:
  app.users: { key: id }
  'app."Order Items"': { key: [tenant_id, id] }
  '"Billing Dept"."Invoices"': { key: '"InvoiceId"' }
  app.events: { key: user_id }
  app.regions: { replicate: true }
copy:
  jobs: 2
  chunk_rows: 1000
YAML

# --- apply refuses without --yes when not on a terminal, and changes nothing
expect_rc 1 "$P" apply --until copy "$W/plan.yaml" </dev/null
expect_contains "$ERR" "pass --yes"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgreshard'")" 0 "state schema after refusal"

# --- kill -9 at several points mid-copy, then rerun to the end
export PGRESHARD_TEST_CHUNK_DELAY_MS=200
chunks_on_shard0() { psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done" 2>/dev/null || echo 0; }
for at in 3 12 25; do
	"$P" apply --yes --until schema-post "$W/plan.yaml" >"$W/kill.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		[ "$(chunks_on_shard0)" -ge $at ] && break
		sleep 0.1
	done
	kill -9 $pid 2>/dev/null || fail "apply ended before chunk $at: $(cat "$W/kill.log")"
	wait $pid 2>/dev/null
	echo "killed with $(chunks_on_shard0) chunk(s) done on shard 0"
done
unset PGRESHARD_TEST_CHUNK_DELAY_MS
expect_eq "$(psql_on 0 $DB "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgreshard_applytest'")" 1 "slot created"
expect_rc 0 "$P" apply --yes --until schema-post "$W/plan.yaml"
expect_contains "$ERR" "step schema-post: done"

# --- exact: content, placement, schema
for t in app.users 'app."Order Items"' '"Billing Dept"."Invoices"' app.events; do
	compare_tables $DB "$t" 0 "1 2 3 4" || fail "content of $t"
done
for s in 1 2 3 4; do
	compare_tables $DB app.regions 0 "$s" || fail "replicated app.regions on cluster $s"
done
check_placement $DB app.users "id bigint" "id" 4 1 2 3 4 || fail "placement app.users"
check_placement $DB 'app."Order Items"' "tenant_id int, id bigint" "tenant_id, id" 4 1 2 3 4 || fail "placement Order Items"
check_placement $DB '"Billing Dept"."Invoices"' '"InvoiceId" uuid' '"InvoiceId"' 4 1 2 3 4 || fail "placement Invoices"
check_placement $DB app.events "user_id bigint" "user_id" 4 1 2 3 4 || fail "placement events"
for t in app.users 'app."Order Items"' '"Billing Dept"."Invoices"' app.events app.regions; do
	for s in 1 2 3 4; do check_same_schema $DB "$t" 0 $s || fail "schema of $t on cluster $s"; done
done
# generated columns computed by the destination; identity continues
expect_eq "$(psql_on 2 $DB "SELECT count(*) FROM app.\"Order Items\" WHERE total IS DISTINCT FROM price * qty")" 0 "generated column"
# TOAST-sized values arrived whole
expect_eq "$(psql_on 0 $DB "SELECT sum(length(big)) FROM \"Billing Dept\".\"Invoices\"")" \
	"$(for s in 1 2 3 4; do psql_on $s $DB "SELECT coalesce(sum(length(big)), 0) FROM \"Billing Dept\".\"Invoices\""; done | awk '{s += $1} END {print s}')" "TOAST sizes"

# --- a rerun after success is a fast no-op that says so
expect_rc 0 "$P" apply --yes --until schema-post "$W/plan.yaml"
expect_contains "$ERR" "already done; nothing to do"
