# test_schema_rental.sh — a rental / e-commerce schema (tests/sql/rental.sql)
# resharded 1->4 end to end under a write workload of its own: every change
# goes through last_update triggers, a tsvector trigger, an ENABLE ALWAYS
# trigger and ON DELETE CASCADE on the source, and must arrive on the shards
# exactly once (the stream and the copy run with session_replication_role =
# replica; clock_timestamp() stamps would differ if a trigger fired again).
# The oracle is independent of pgreshard verify: compare_tables and
# check_placement on every table, and the schema's objects (views, the
# materialized view, functions, types, triggers, owners, grants, comments)
# compared catalog by catalog.  Also: plan lists the schema objects besides
# the tables and refuses shards that lack the roles owning them
# (schema.skip_owners lifts that); preflight refuses a shard role that may
# not set session_replication_role while triggers would fire twice.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=rentaltest
W=$(mktemp -d)
WL=
drop_roles() {	# the shards' roles of this test (roles are per cluster; the source keeps its own)
	local s
	for s in 1 2 3 4; do psql_on $s postgres "DO \$\$ BEGIN
		IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgr_rental_nosuper') THEN
			REVOKE SET ON PARAMETER session_replication_role FROM pgr_rental_nosuper;
			DROP ROLE pgr_rental_nosuper;
		END IF;
		DROP ROLE IF EXISTS rental_app; DROP ROLE IF EXISTS rental_owner; END \$\$" >/dev/null; done
}
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB; drop_roles' EXIT

fresh_db $DB 0 1 2 3 4
drop_roles
load_sql 0 $DB "$(dirname "$0")/../sql/rental.sql"
export SRC S0 S1 S2 S3
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)
write_plan() {	# EXTRA-SCHEMA-KEYS
	plan_1to4 rentaltest rental_pub "  rental.store: { replicate: true }
  rental.film: { replicate: true }
  rental.inventory: { replicate: true }
  rental.promotion: { replicate: true }
  rental.customer: { key: customer_id }
  rental.rental: { key: customer_id }
  rental.payment: { key: customer_id }" "copy: { chunk_rows: 1000 }
schema: { matviews: refresh$1 }
cutover: { reverse: false, verify: true, timeout_s: 60 }" >"$W/plan.yaml"
}

# plan: the roles that own and are granted objects are missing on the shards:
# a warning, and those owners and grants are listed as left out
write_plan ""
expect_rc 0 "$P" plan "$W/plan.yaml"
expect_contains "$OUT" "warning shard 2: role(s) rental_app, rental_owner own or are granted objects on the source but do not exist here"
expect_contains "$OUT" "- owner of rental.customer: not created: role rental_owner does not exist on every shard"
expect_contains "$OUT" "- grant on rental.customer: not created: role rental_app does not exist on every shard"
expect_contains "$OUT" "+ view rental.customer_list: created on every shard (schema-pre)"
expect_contains "$OUT" "+ body of view rental.film_list: created on every shard (schema-post)"
expect_contains "$OUT" "+ materialized view rental.rentals_per_customer: created on every shard (schema-pre); its data is per shard: refreshed on every shard at the cutover"
expect_contains "$OUT" "+ function rental.customer_by_email: created on every shard"
expect_contains "$OUT" "+ trigger last_update on rental.customer: created on every shard (schema-post)"
expect_contains "$OUT" "- view rental.staff_list: not created: it needs rental.staff, which is not moved"
expect_rc 0 "$P" plan --json "$W/plan.yaml"
expect_eq "$(echo "$OUT" | jq -r '.schema_objects[] | select(.object == "view rental.staff_list") | "\(.created) \(.reason)"')" \
	"false it needs rental.staff, which is not moved" "staff_list in --json"
expect_eq "$(echo "$OUT" | jq -r '.schema_objects[] | select(.object == "extension btree_gist") | "\(.created) \(.step)"')" \
	"true schema-pre" "extension in --json"
# schema.skip_owners: no role needed, no owner or grant at all
write_plan ", skip_owners: true"
expect_rc 0 "$P" plan "$W/plan.yaml"
expect_not_contains "$OUT" "owner of rental.customer"
expect_not_contains "$OUT" "do not exist here"
for s in 1 2 3 4; do psql_on $s postgres "CREATE ROLE rental_owner; CREATE ROLE rental_app" >/dev/null; done
write_plan ""
expect_rc 0 "$P" plan "$W/plan.yaml"
expect_contains "$OUT" "+ owner of rental.customer: created on every shard (schema-post)"
expect_not_contains "$OUT" "do not exist here"

# a shard role that may not set session_replication_role, with triggers to fire twice
psql_on 4 postgres "CREATE ROLE pgr_rental_nosuper LOGIN; GRANT ALL ON DATABASE $DB TO pgr_rental_nosuper" >/dev/null
S3="$S3 user=pgr_rental_nosuper" expect_rc 1 "$P" plan "$W/plan.yaml"
expect_contains "$OUT" "ERROR   shard 3: role \"pgr_rental_nosuper\" may not set session_replication_role"
expect_contains "$OUT" "GRANT SET ON PARAMETER session_replication_role"
psql_on 4 postgres "GRANT SET ON PARAMETER session_replication_role TO pgr_rental_nosuper" >/dev/null
S3="$S3 user=pgr_rental_nosuper" expect_rc 0 "$P" plan "$W/plan.yaml"
expect_not_contains "$OUT" "may not set session_replication_role"

workload() {	# each transaction fires triggers and cascades on the source
	local i=0 c r d
	while [ ! -e "$W/stop" ]; do
		c=$(( (i * 7) % 1000 + 1 )) r=$(( (i * 13) % 1000 + 1 )) d=$(( (i * 31) % 1000 + 1 ))
		psql -X -q -d "$(dsn 0 $DB)" -c "BEGIN;
			INSERT INTO rental.customer (store_id, name, email) VALUES ($((i % 2 + 1)), ROW('New$i', 'Last$i'), 'New$i@Example.ORG');
			UPDATE rental.customer SET visits = visits + 1, tags = tags || 'v$i'::text WHERE customer_id = $c;
			INSERT INTO rental.rental (customer_id, inventory_id) SELECT $r, $((i % 600 + 1)) WHERE EXISTS (SELECT FROM rental.customer WHERE customer_id = $r);
			UPDATE rental.rental SET return_date = now() WHERE customer_id = $r AND return_date IS NULL;
			INSERT INTO rental.payment (customer_id, amount) SELECT $r, $((i % 9)) WHERE EXISTS (SELECT FROM rental.customer WHERE customer_id = $r);
			UPDATE rental.film SET description = description || ' again' WHERE film_id = $((i % 200 + 1));
			UPDATE rental.store SET name = 'Main St $i' WHERE store_id = 1;
			UPDATE rental.customer SET email = 'Changed$i@Example.ORG' WHERE customer_id = $((c + 1));
			DELETE FROM rental.customer WHERE customer_id = $d;
			COMMIT" >/dev/null 2>>"$W/refused" || true
		i=$((i + 1))
	done
}

workload &
WL=$!
sleep 1
expect_rc 0 "$P" apply --yes "$W/plan.yaml"
expect_contains "$ERR" "cutover: done"
expect_contains "$ERR" "shard 3: materialized view rental.rentals_per_customer refreshed"
touch "$W/stop"
wait $WL
WL=
expect_contains "$(cat "$W/refused")" "was moved to shards by pgreshard plan rentaltest"
changes=$(psql_on 1 $DB "SELECT count(*) FROM rental.payment WHERE payment_id > 4000")
echo "payments inserted by the workload and on shard 0: $changes"

# the oracle: rows, placement, objects
for t in customer rental payment; do
	compare_tables $DB rental.$t 0 "1 2 3 4" || fail "content of rental.$t"
done
for t in store film inventory promotion; do
	for s in 1 2 3 4; do compare_tables $DB rental.$t 0 "$s" || fail "replicated rental.$t on cluster $s"; done
done
for t in customer rental payment; do
	check_placement $DB rental.$t "customer_id int" customer_id 4 1 2 3 4 || fail "placement of rental.$t"
done
check_schema_objects $DB rental 0 "1 2 3 4" 'staff|pgreshard_moved' || fail "schema objects"
# the materialized view holds each shard's own rows
for s in 1 2 3 4; do
	expect_eq "$(psql_on $s $DB "SELECT (SELECT count(*) FROM rental.rentals_per_customer) =
		(SELECT count(DISTINCT customer_id) FROM rental.rental)")" t "matview on cluster $s"
done
# after the cutover the application's sessions fire the triggers again
before=$(psql_on 2 $DB "SELECT last_update FROM rental.customer ORDER BY customer_id LIMIT 1")
after=$(psql_on 2 $DB "UPDATE rental.customer SET email = 'AFTER@X.ORG' WHERE customer_id =
	(SELECT min(customer_id) FROM rental.customer) RETURNING last_update::text || '|' || email")
[ "${after%|*}" != "$before" ] || fail "last_update trigger did not fire after the cutover"
expect_eq "${after#*|}" "after@x.org" "ENABLE ALWAYS trigger after the cutover"
expect_eq "$(psql_on 3 $DB "SELECT has_table_privilege('rental_app', 'rental.customer', 'INSERT')")" t "grant on a shard"
