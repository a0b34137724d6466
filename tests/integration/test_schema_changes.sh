# test_schema_changes.sh — schema changes on the source during the move are
# followed on every shard (schema_changes: apply, the default), under a write
# workload that keeps writing the altered table, and the move ends exact.
#
# During the copy (the shards get them from the stream's first Relation
# message) and again during the stream: ADD COLUMN with a constant default
# (old rows get the source's value) and without, RENAME COLUMN, ALTER COLUMN
# TYPE, DROP COLUMN; and changes the stream cannot see, followed before the
# cutover's freeze: CREATE INDEX, SET DEFAULT, SET NOT NULL.  The end is
# checked by an oracle independent of verify (every row's text on the source
# equals the union of the shards'), the shards' columns and indexes equal the
# source's, and placement is PostgreSQL's.  A GENERATED ALWAYS identity
# after the dropped column stays one for the stream (never assigned by its
# UPDATEs: SQLSTATE 428C9 on the shard otherwise).
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=schemachangetest
W=$(mktemp -d)
WL=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2 3
psql_on 0 $DB "CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL,
                  qty int NOT NULL DEFAULT 1, note text, legacy text DEFAULT 'old',
                  ref bigint GENERATED ALWAYS AS IDENTITY);
  INSERT INTO orders (customer_id, qty, note) SELECT g % 300, g % 7, 'n' || g FROM generate_series(1, 20000) g;
  CREATE PUBLICATION pub FOR TABLE orders" >/dev/null
export SRC S0 S1 S2
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: schemachangetest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}"] }
tables:
  orders: { key: customer_id }
copy: { jobs: 2, chunk_rows: 1000 }
cutover: { reverse: false, freeze: lock, timeout_s: 30 }
YAML
workload() {	# inserts, updates, deletes of the columns that never change
	local i=0
	while [ ! -e "$W/stop" ]; do
		psql -X -q -d "$(dsn 0 $DB)" -c "INSERT INTO orders (customer_id, qty) VALUES ($((i % 300)), $i);
			UPDATE orders SET qty = qty + 1 WHERE id = $((i * 7 % 20000 + 1));
			DELETE FROM orders WHERE id = $((i * 13 % 20000 + 1))" >/dev/null 2>&1 || true
		i=$((i + 1))
	done
}
workload &
WL=$!

# during the copy
PGRESHARD_TEST_CHUNK_DELAY_MS=150 "$P" apply --yes --until copy "$W/plan.yaml" >"$W/copy.log" 2>&1 &
copier=$!
# during the copy, after schema-pre's pg_dump (a fixed sleep raced with it on a loaded machine)
for _ in $(seq 1 300); do grep -q "step copy: starting" "$W/copy.log" && break; sleep 0.05; done
psql_on 0 $DB "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';
  ALTER TABLE orders ADD COLUMN shipped_at timestamptz" >/dev/null
wait $copier || { cat "$W/copy.log" >&2; fail "the copy failed"; }

# during the stream
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" 'following it: ALTER TABLE "public"."orders" ADD COLUMN "status" text DEFAULT '"'new'"'::text'
psql_on 0 $DB "ALTER TABLE orders RENAME COLUMN note TO remark" >/dev/null
sleep 0.5
psql_on 0 $DB "ALTER TABLE orders ALTER COLUMN qty TYPE bigint;
  ALTER TABLE orders DROP COLUMN legacy;
  ALTER TABLE orders ADD COLUMN priority int DEFAULT 3" >/dev/null
sleep 0.5
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" 'RENAME COLUMN "note" TO "remark"'
expect_contains "$ERR" 'ALTER COLUMN "qty" TYPE bigint'
expect_contains "$ERR" 'DROP COLUMN "legacy"'
# what the stream cannot see: followed before the freeze
psql_on 0 $DB "CREATE INDEX orders_by_status ON orders (status, customer_id);
  ALTER TABLE orders ALTER COLUMN priority SET DEFAULT 5;
  UPDATE orders SET shipped_at = now() WHERE shipped_at IS NULL AND id % 2 = 0;
  ALTER TABLE orders ALTER COLUMN customer_id SET DEFAULT 0" >/dev/null
sleep 1
touch "$W/stop"
wait $WL
WL=
psql_on 0 $DB "UPDATE orders SET remark = 'after ' || id WHERE id % 97 = 0" >/dev/null
expect_rc 0 "$P" apply --yes "$W/plan.yaml"
expect_contains "$ERR" "following the source's schema: CREATE INDEX orders_by_status"
expect_contains "$ERR" "cutover: done"

compare_tables $DB orders 0 "1 2 3" || fail "content of orders"
check_placement $DB orders "customer_id bigint" customer_id 3 1 2 3 || fail "placement of orders"
cols() { psql_on "$1" $DB "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull
                           || ' ' || attidentity
                           || ' ' || coalesce(pg_get_expr(adbin, adrelid), '-'), ', ' ORDER BY attname)
                           FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
                           WHERE attrelid = 'orders'::regclass AND attnum > 0 AND NOT attisdropped"; }
idx() { psql_on "$1" $DB "SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'orders'"; }
for s in 1 2 3; do
	expect_eq "$(cols $s)" "$(cols 0)" "columns of orders on cluster $s"
	expect_eq "$(idx $s)" "$(idx 0)" "indexes of orders on cluster $s"
done
echo ok
