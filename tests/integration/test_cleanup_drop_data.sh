# test_cleanup_drop_data.sh — cancelling a move before its cutover.
#
# A schema with a non-public schema, an enum, a domain, a function returning
# a moved table's row type, a view, identity and serial columns, and names
# that need quotes is moved 1->2 through the stream under writes; one shard
# already had one moved table, created empty by the user.  `cleanup
# --drop-data` drops everything pgreshard created there and empties the
# user's table (keeping it) — also after a cutover with reverse replication
# that aborted, which left the reverse slots and publications on the shards
# and the reverse stream's tables on the source; a fresh apply on the same
# shards then succeeds and ends exact.  After a cutover --drop-data is
# refused and a plain cleanup keeps the shards' tables.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=dropdatatest
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2
psql_on 0 $DB "CREATE SCHEMA app;
  CREATE TYPE app.mood AS ENUM ('ok', 'meh');
  CREATE DOMAIN app.positive AS numeric CHECK (VALUE > 0);
  CREATE TABLE app.\"Customer Accounts\" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                         name text NOT NULL, mood app.mood DEFAULT 'ok');
  CREATE TABLE app.orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL,
                           total app.positive, note text);
  CREATE INDEX orders_customer ON app.orders (customer_id);
  CREATE TABLE app.order_notes (order_id bigint PRIMARY KEY, body text NOT NULL);
  INSERT INTO app.order_notes SELECT g, 'note ' || g FROM generate_series(1, 300) g;
  CREATE FUNCTION app.big_orders(min numeric) RETURNS SETOF app.orders
    LANGUAGE sql STABLE AS 'SELECT * FROM app.orders WHERE total >= min';
  CREATE VIEW app.order_totals AS SELECT customer_id, sum(total) AS total FROM app.orders GROUP BY 1;
  INSERT INTO app.\"Customer Accounts\" (name) SELECT 'c' || g FROM generate_series(1, 500) g;
  INSERT INTO app.orders (customer_id, total) SELECT g % 500 + 1, g FROM generate_series(1, 3000) g;
  CREATE PUBLICATION pub FOR TABLE app.\"Customer Accounts\", app.orders, app.order_notes" >/dev/null
# shard 1 (cluster 2) already has app.order_notes, created empty by the user as on the source
psql_on 2 $DB "CREATE SCHEMA app;
  CREATE TABLE app.order_notes (order_id bigint PRIMARY KEY, body text NOT NULL);
  COMMENT ON TABLE app.order_notes IS 'the user''s own'" >/dev/null
export SRC S0 S1
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: dropdatatest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}"] }
tables:
  'app."Customer Accounts"': { key: id }
  app.orders: { key: customer_id }
  app.order_notes: { key: order_id }
cutover: { reverse: false, freeze: lock, timeout_s: 30 }
YAML
objects_on() {	# CLUSTER: the user schema objects of the database, one per line
	psql_on "$1" $DB "SELECT i.type || ' ' || i.identity FROM (
	    SELECT 'pg_class'::regclass AS c, oid AS o FROM pg_class WHERE relnamespace = 'app'::regnamespace
	    UNION ALL SELECT 'pg_type'::regclass, oid FROM pg_type WHERE typnamespace = 'app'::regnamespace
	      AND typtype IN ('e', 'd')
	    UNION ALL SELECT 'pg_proc'::regclass, oid FROM pg_proc WHERE pronamespace = 'app'::regnamespace) x,
	  LATERAL pg_identify_object(x.c, x.o, 0) i ORDER BY 1" 2>/dev/null
}
before1=$(objects_on 1)
before2=$(objects_on 2)

# 1: through the stream under writes, then cancel
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
psql_on 0 $DB "INSERT INTO app.orders (customer_id, total) SELECT g, g FROM generate_series(1, 100) g;
  UPDATE app.\"Customer Accounts\" SET mood = 'meh' WHERE id % 7 = 0" >/dev/null
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$(objects_on 1)" "function app.big_orders(numeric)"
expect_contains "$(objects_on 1)" "view app.order_totals"
# a cutover with reverse replication that aborts (its switch fails) leaves the reverse
# publication and slot on every shard and the reverse stream's tables on the source
sed -e 's/reverse: false, /switch_command: "exit 3", /' "$W/plan.yaml" >"$W/reverse.yaml"
expect_rc 1 "$P" apply --yes "$W/reverse.yaml"
expect_contains "$ERR" "cutover: aborted"
for c in 1 2; do
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgreshard_dropdatatest_back'")" 1 "reverse slot on cluster $c"
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM pg_publication")" 1 "reverse publication on cluster $c"
done
[ "$(psql_on 0 $DB "SELECT count(*) FROM pg_tables WHERE schemaname = 'pgreshard'")" -gt 1 ] ||
	fail "the reverse stream's tables on the source (progress, owners, row clocks) are not there"
expect_rc 0 "$P" cleanup --drop-data "$W/plan.yaml"
expect_contains "$OUT" "objects pgreshard created on the shards dropped"
expect_contains "$ERR" 'table app."Customer Accounts" dropped'
expect_contains "$ERR" "existed before pgreshard: emptied, kept"
expect_eq "$(objects_on 1)" "$before1" "shard 0's objects after --drop-data"
expect_eq "$(objects_on 2)" "$before2" "shard 1's objects after --drop-data"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pg_namespace WHERE nspname IN ('app', 'pgreshard')")" 0 \
	"schemas left on shard 0"
expect_eq "$(psql_on 2 $DB "SELECT count(*) FROM app.order_notes")" 0 "rows left in the user's table"
expect_eq "$(psql_on 2 $DB "SELECT obj_description('app.order_notes'::regclass)")" "the user's own" \
	"the user's table kept"
expect_eq "$(psql_on 0 $DB "SELECT count(*) FROM pg_replication_slots")" 0 "slots left"
for c in 1 2; do
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM pg_replication_slots")" 0 "reverse slot left on cluster $c"
	expect_eq "$(psql_on $c $DB "SELECT count(*) FROM pg_publication")" 0 "reverse publication left on cluster $c"
done
expect_eq "$(psql_on 0 $DB "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgreshard'")" 0 "pgreshard schema left on the source"
expect_rc 0 "$P" cleanup --drop-data "$W/plan.yaml"
expect_contains "$OUT" "nothing to clean up"

# 2: a fresh apply on the same shards, through the cutover
psql_on 0 $DB "DELETE FROM app.orders WHERE id % 11 = 0" >/dev/null
expect_rc 0 "$P" apply --yes "$W/plan.yaml"
expect_contains "$ERR" "cutover: done"
for t in 'app."Customer Accounts"' app.orders app.order_notes; do
	compare_tables $DB "$t" 0 "1 2" || fail "content of $t after the fresh apply"
done
check_placement $DB app.orders "customer_id bigint" customer_id 2 1 2 || fail "placement of app.orders"

# 3: after the cutover the shards are the truth
expect_rc 1 "$P" cleanup --drop-data "$W/plan.yaml"
expect_contains "$ERR" "been cut over"
expect_rc 0 "$P" cleanup "$W/plan.yaml"
expect_contains "$OUT" "the shards' tables are untouched"
expect_eq "$(psql_on 1 $DB "SELECT count(*) > 0 FROM app.orders")" t "shard 0 keeps its rows"
echo "ok"
