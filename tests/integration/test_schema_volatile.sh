# test_schema_volatile.sh — columns added during the stream with a volatile
# default (random(), clock_timestamp()): PostgreSQL rewrites the table, each
# existing row gets its own value, and the WAL does not carry those values.
#
# Under a workload that keeps writing both tables: on orders (primary key)
# the stream fills the shards' new columns from the source's rows by key, in
# the apply transaction that adds them; on events (no primary key) it says
# so and names the repair, which is run as told.  The move cuts over and
# ends exact: every row's text on the source equals the union of the
# shards' (an oracle independent of verify), placement is PostgreSQL's.
# With schema_changes: stop, the listed statements end with the repair to
# run; run as told, the table ends exact.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=volatiletest
W=$(mktemp -d)
WL=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; drop_db_everywhere volatiletest;
      drop_db_everywhere volatileteststop' EXIT

fresh_db $DB 0 1 2 3
psql_on 0 $DB "CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL, qty int NOT NULL);
  INSERT INTO orders (customer_id, qty) SELECT g % 300, g % 7 FROM generate_series(1, 12000) g;
  CREATE TABLE events (user_id bigint NOT NULL, kind text);
  ALTER TABLE events REPLICA IDENTITY FULL;
  INSERT INTO events SELECT g % 500, 'k' || g FROM generate_series(1, 3000) g;
  CREATE PUBLICATION pub FOR TABLE orders, events" >/dev/null
export SRC S0 S1 S2
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: volatiletest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}"] }
tables:
  orders: { key: customer_id }
  events: { key: user_id }
copy: { jobs: 2, chunk_rows: 5000 }
cutover: { reverse: false, freeze: lock, timeout_s: 30 }
YAML
workload() {
	local i=0
	while [ ! -e "$W/stop" ]; do
		i=$((i + 1))
		psql -X -q -d "$SRC" -c "INSERT INTO orders (customer_id, qty) VALUES ($((i % 300)), $i);
			UPDATE orders SET qty = qty + 1 WHERE id = $((i * 7 % 12000 + 1));
			DELETE FROM orders WHERE id = $((i * 13 % 12000 + 1));
			INSERT INTO events (user_id, kind) VALUES ($((i % 500)), 'w$i')" >/dev/null 2>&1 || true
	done
}
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
workload &
WL=$!
sleep 1
psql_on 0 $DB "ALTER TABLE orders ADD COLUMN token double precision DEFAULT random();
  ALTER TABLE orders ADD COLUMN seen timestamptz NOT NULL DEFAULT clock_timestamp();
  ALTER TABLE events ADD COLUMN r double precision DEFAULT random()" >/dev/null
sleep 1
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" 'table public.orders: column "token" filled on the shards with the source'"'"'s values'
expect_contains "$ERR" 'table public.orders: column "seen" filled on the shards with the source'"'"'s values'
expect_contains "$ERR" 'column "r" has values of its own in the source'"'"'s existing rows'
expect_contains "$ERR" "no primary key to match them by; fix: once the stream has caught up (apply --until stream), run \`pgreshard repair $W/plan.yaml public.events\`"
sleep 1
touch "$W/stop"
wait $WL
WL=
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_rc 0 "$P" repair "$W/plan.yaml" public.events
expect_rc 0 "$P" apply --yes "$W/plan.yaml"
expect_contains "$ERR" "cutover: done"

n=$(psql_on 0 $DB "SELECT count(DISTINCT token) FROM orders WHERE id <= 12000")
[ "$n" -gt 1000 ] || fail "the source's old rows have their own values ($n distinct)"
compare_tables $DB orders 0 "1 2 3" || fail "content of orders"
compare_tables $DB events 0 "1 2 3" || fail "content of events"
check_placement $DB orders "customer_id bigint" customer_id 3 1 2 3 || fail "placement of orders"
check_placement $DB events "user_id bigint" user_id 3 1 2 3 || fail "placement of events"

# schema_changes: stop
DB=${DB}stop
fresh_db $DB 0 1 2 3
psql_on 0 $DB "CREATE TABLE t (id bigint PRIMARY KEY, k int NOT NULL);
  INSERT INTO t SELECT g, g % 50 FROM generate_series(1, 3000) g; CREATE PUBLICATION pub FOR TABLE t" >/dev/null
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
cat >"$W/stop.yaml" <<'YAML'
version: 1
name: volatilestop
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}"] }
tables:
  t: { key: k }
schema_changes: stop
YAML
expect_rc 0 "$P" apply --yes --until stream "$W/stop.yaml"
psql_on 0 $DB "ALTER TABLE t ADD COLUMN r double precision DEFAULT random(); INSERT INTO t (id, k) VALUES (5000, 1)" >/dev/null
expect_rc 1 "$P" apply --yes --until stream "$W/stop.yaml"
expect_contains "$ERR" 'ALTER TABLE "public"."t" ADD COLUMN "r" double precision;'
expect_contains "$ERR" "and afterwards, once the stream has caught up (apply --until stream), \`pgreshard repair $W/stop.yaml public.t\`"
for s in 1 2 3; do
	psql_on $s $DB 'ALTER TABLE "public"."t" ADD COLUMN "r" double precision; ALTER TABLE "public"."t" ALTER COLUMN "r" SET DEFAULT random()' >/dev/null
done
expect_rc 0 "$P" apply --yes --until stream "$W/stop.yaml"
expect_rc 0 "$P" repair "$W/stop.yaml" public.t
expect_rc 0 "$P" apply --yes --until stream "$W/stop.yaml"
compare_tables $DB t 0 "1 2 3" || fail "content of t (stop mode)"
echo ok
