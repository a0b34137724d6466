# test_plan_shape.sh — a plan file edited in the middle of its move is
# refused, with every change listed, before anything is done: tables
# reordered, re-keyed, inserted before others or removed, shards changed in
# number (tables appended at the end are taken in: test_add_table).  The
# restored plan continues where the move was.  A table added to the
# publication during the move is refused with what to do; once it is taken
# out of the publication again, the rerun continues and ends exact.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=planshapetest
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2 3
psql_on 0 $DB "CREATE TABLE customers (id bigint PRIMARY KEY, name text);
  CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL);
  CREATE TABLE late_comer (id bigint PRIMARY KEY);
  INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 500) g;
  INSERT INTO orders SELECT g, g % 500 + 1 FROM generate_series(1, 2000) g;
  CREATE PUBLICATION pub FOR TABLE customers, orders" >/dev/null
export SRC S0 S1 S2
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
write_plan() {	# SHARDS TABLES...
	local shards=$1
	shift
	{
		printf 'version: 1\nname: planshapetest\nsource: { dsn: "${SRC}", publication: pub }\n'
		printf 'destination: { shards: [%s] }\ntables:\n' "$shards"
		printf '  %s\n' "$@"
	} >"$W/plan.yaml"
}
TWO='"${S0}", "${S1}"'
write_plan "$TWO" "customers: { key: id }" "orders: { key: customer_id }"
expect_rc 0 "$P" apply --yes --until copy "$W/plan.yaml"

write_plan "$TWO" "orders: { key: customer_id }" "customers: { key: id }"
expect_rc 1 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" "changed since its move began"
expect_contains "$ERR" "table 1: was public.customers, is now public.orders (tables reordered or replaced)"
expect_contains "$ERR" "nothing was done"
write_plan "$TWO" "customers: { key: id }" "orders: { key: id }"
expect_rc 1 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" "table 2: public.orders: key was (customer_id), is now (id)"
write_plan '"${S0}", "${S1}", "${S2}"' "customers: { key: id }" "orders: { key: customer_id }"
expect_rc 1 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" "destination shards: the move began with 2, the plan now has 3"
psql_on 0 $DB "ALTER PUBLICATION pub ADD TABLE late_comer" >/dev/null
write_plan "$TWO" "customers: { key: id }" "late_comer: { key: id }" "orders: { key: customer_id }"
expect_rc 1 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" "table 2: was public.orders, is now public.late_comer (tables reordered or replaced)"
expect_contains "$ERR" "tables appended at the end of tables:"
psql_on 0 $DB "ALTER PUBLICATION pub DROP TABLE late_comer, orders" >/dev/null
write_plan "$TWO" "customers: { key: id }"
expect_rc 1 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" "table 2: public.orders was removed"
psql_on 0 $DB "ALTER PUBLICATION pub ADD TABLE orders" >/dev/null
expect_eq "$(psql_on 1 $DB "SELECT state FROM pgreshard.steps WHERE step = 'stream'")" "" "stream step never started"

# restored: continues; then a table joins the publication during the stream
write_plan "$TWO" "customers: { key: id }" "orders: { key: customer_id }"
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
psql_on 0 $DB "ALTER PUBLICATION pub ADD TABLE late_comer;
  INSERT INTO late_comer VALUES (1); INSERT INTO orders VALUES (5000, 7)" >/dev/null
expect_rc 1 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" "has table public.late_comer, which the plan does not list"
expect_contains "$ERR" "during a move, at the end of tables: the move copies it in"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM orders WHERE id = 5000")$(psql_on 2 $DB "SELECT count(*) FROM orders WHERE id = 5000")" 00 \
	"nothing applied"
psql_on 0 $DB "ALTER PUBLICATION pub DROP TABLE late_comer; INSERT INTO orders VALUES (5001, 8)" >/dev/null
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
for t in customers orders; do compare_tables $DB $t 0 "1 2" || fail "content of $t"; done
echo ok
