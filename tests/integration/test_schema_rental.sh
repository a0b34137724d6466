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
# the tables (a sequence no moved table uses is listed as not created), warns
# about shards that lack the roles owning them (schema.skip_owners lifts
# that), refuses an extension the shards cannot install (naming each shard)
# and a shard role that may not set session_replication_role while triggers
# would fire twice.  payment is range-partitioned by month: no false finding
# about its partitions; the monthly partition job makes next month's
# partition while the stream runs and it reaches every shard before its
# rows; an ENABLE REPLICA trigger fires on the shards for the rows pgreshard
# applies, never on the source.  After the cutover (reverse replication on,
# the default) the application writes to the shards — triggers stamping,
# cascades, payments in three months' partitions — and `rollback` ends with
# the source equal to the union of the shards, writable, the shards refusing.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
source "$(dirname "$0")/../lib/reverse.sh"
P=$PGRESHARD
DB=rentaltest
W=$(mktemp -d)
WL=
AP=
drop_roles() {	# the shards' roles of this test (roles are per cluster; the source keeps its own)
	local s
	for s in 1 2 3 4; do psql_on $s postgres "DO \$\$ BEGIN
		IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgr_rental_nosuper') THEN
			REVOKE SET ON PARAMETER session_replication_role FROM pgr_rental_nosuper;
			DROP ROLE pgr_rental_nosuper;
		END IF;
		DROP ROLE IF EXISTS rental_app; DROP ROLE IF EXISTS rental_owner; END \$\$" >/dev/null; done
}
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; [ -n "$AP" ] && kill -9 $AP 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB; drop_roles' EXIT

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
cutover: { verify: true, timeout_s: 60 }" >"$W/plan.yaml"
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
expect_contains "$OUT" "- sequence public.replica_applied: not created: no moved table owns it or draws from it in a default"
# a moved partitioned table's partitions are moved with it: no foreign key or
# sequence of theirs is reported as staying on the source
expect_not_contains "$OUT" "(not moved) references it"
expect_not_contains "$OUT" "which stays on the source"
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
# the ENABLE REPLICA trigger's counter, which plan says is not created there
for s in 1 2 3 4; do psql_on $s $DB "CREATE SEQUENCE public.replica_applied" >/dev/null; done

# an extension of the source that the shards cannot install: preflight names each
# shard (the source's catalog row renamed, as if its package were missing there)
psql_on 0 $DB "UPDATE pg_extension SET extname = 'pgr_not_installable' WHERE extname = 'btree_gist'" >/dev/null
expect_rc 1 "$P" plan "$W/plan.yaml"
expect_contains "$OUT" "ERROR   shard 0: extension(s) pgr_not_installable cannot be installed here"
expect_contains "$OUT" "ERROR   shard 3: extension(s) pgr_not_installable cannot be installed here"
psql_on 0 $DB "UPDATE pg_extension SET extname = 'btree_gist' WHERE extname = 'pgr_not_installable'" >/dev/null
expect_rc 0 "$P" plan "$W/plan.yaml"
expect_not_contains "$OUT" "cannot be installed"
expect_contains "$OUT" "+ table rental.payment_2024_03: created on every shard (schema-pre); a partition, moved with its parent"

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
		# the monthly partition job, while the stream runs: next month's
		# partition, then payments in it
		if [ -e "$W/go" ] && [ ! -e "$W/created" ]; then
			psql -X -q -d "$(dsn 0 $DB)" -c "CREATE TABLE rental.payment_2030_01 PARTITION OF rental.payment
				FOR VALUES FROM ('2030-01-01') TO ('2030-02-01')" >/dev/null 2>>"$W/refused" ||
				echo "creating the partition failed: $(tail -3 "$W/refused")" >&2
			touch "$W/created"
		fi
		[ -e "$W/created" ] && psql -X -q -d "$(dsn 0 $DB)" -c "INSERT INTO rental.payment (customer_id, amount, payment_date)
			SELECT $r, 1, timestamptz '2030-01-01' + $i * interval '1 minute' WHERE EXISTS (SELECT FROM rental.customer WHERE customer_id = $r)" \
			>/dev/null 2>>"$W/refused"
		i=$((i + 1))
	done
}

workload &
WL=$!
sleep 1
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
touch "$W/go"
while [ ! -e "$W/created" ]; do sleep 0.2; done
sleep 1
# through the cutover; then apply streams the shards' changes back (cutover.reverse)
apply_streaming_back "$W/plan.yaml" "$W/apply.err"
ERR=$(cat "$W/apply.err")
expect_contains "$ERR" "cutover: done"
expect_contains "$ERR" "partition rental.payment_2030_01 created (made on the source during the move)"
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
for t in payment_2024_01 payment_2024_06 payment_default payment_2030_01; do
	compare_tables $DB "ONLY rental.$t" 0 "1 2 3 4" || fail "partition rental.$t"
done
[ "$(psql_on 0 $DB "SELECT count(*) FROM ONLY rental.payment_2030_01")" -gt 0 ] || fail "no payments in the new partition"
check_schema_objects $DB rental 0 "1 2 3 4" 'staff|pgreshard_moved' || fail "schema objects"
# the materialized view holds each shard's own rows
for s in 1 2 3 4; do
	expect_eq "$(psql_on $s $DB "SELECT (SELECT count(*) FROM rental.rentals_per_customer) =
		(SELECT count(DISTINCT customer_id) FROM rental.rental)")" t "matview on cluster $s"
done
# the ENABLE REPLICA trigger fired on the shards for the rows the stream applied
# there (in replica mode; the copy's rows are written before schema-post
# creates triggers, as pg_restore does), never on the source, and not for the
# application's inserts on a shard after the cutover (origin mode)
expect_eq "$(psql_on 0 $DB "SELECT is_called FROM public.replica_applied")" f "ENABLE REPLICA trigger on the source"
for s in 1 2 3 4; do
	expect_eq "$(psql_on $s $DB "SELECT is_called FROM public.replica_applied")" t "ENABLE REPLICA trigger fired by the stream on cluster $s"
done
fired=$(psql_on 2 $DB "SELECT last_value FROM public.replica_applied")
psql_on 2 $DB "INSERT INTO rental.payment (customer_id, amount) SELECT min(customer_id), 1 FROM rental.customer" >/dev/null
expect_eq "$(psql_on 2 $DB "SELECT last_value FROM public.replica_applied")" "$fired" "ENABLE REPLICA trigger in origin mode"
# after the cutover the application's sessions fire the triggers again
before=$(psql_on 2 $DB "SELECT last_update FROM rental.customer ORDER BY customer_id LIMIT 1")
after=$(psql_on 2 $DB "UPDATE rental.customer SET email = 'AFTER@X.ORG' WHERE customer_id =
	(SELECT min(customer_id) FROM rental.customer) RETURNING last_update::text || '|' || email")
[ "${after%|*}" != "$before" ] || fail "last_update trigger did not fire after the cutover"
expect_eq "${after#*|}" "after@x.org" "ENABLE ALWAYS trigger after the cutover"
expect_eq "$(psql_on 3 $DB "SELECT has_table_privilege('rental_app', 'rental.customer', 'INSERT')")" t "grant on a shard"

# the application on the shards, then a rollback: the source ends equal to the
# union of the shards, every change streamed back once, in replica mode (the
# source's last_update triggers would stamp other times; the cascades there
# would act twice), into the partitions of the month it belongs to
for s in 1 2 3 4; do
	psql_on $s $DB "BEGIN;
		UPDATE rental.customer SET visits = visits + 10, tags = tags || 'shard'::text
			WHERE customer_id IN (SELECT customer_id FROM rental.customer ORDER BY customer_id LIMIT 5);
		INSERT INTO rental.payment (customer_id, amount, payment_date)
			SELECT customer_id, 2, d FROM (SELECT customer_id FROM rental.customer ORDER BY customer_id LIMIT 3) c,
			(VALUES (timestamptz '2024-03-15'), ('2030-01-20'), (now())) v(d);
		INSERT INTO rental.rental (customer_id, inventory_id) SELECT max(customer_id), 1 FROM rental.customer;
		UPDATE rental.rental SET return_date = now() WHERE customer_id = (SELECT max(customer_id) FROM rental.customer);
		DELETE FROM rental.customer WHERE customer_id = (SELECT customer_id FROM rental.customer ORDER BY customer_id LIMIT 1 OFFSET 7);
		COMMIT" >/dev/null || fail "the application's writes on cluster $s"
done
expect_rc 0 "$P" rollback "$W/plan.yaml"
expect_contains "$OUT" "serves the moved tables again"
apply_handed_over
for t in customer rental payment; do
	compare_tables $DB rental.$t 0 "1 2 3 4" || fail "rental.$t after the rollback"
done
for t in payment_2024_03 payment_default payment_2030_01; do
	compare_tables $DB "ONLY rental.$t" 0 "1 2 3 4" || fail "partition rental.$t after the rollback"
done
expect_rc 0 psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn 0 $DB)" -c "INSERT INTO rental.payment (customer_id, amount) SELECT min(customer_id), 1 FROM rental.customer"
expect_rc 1 psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn 1 $DB)" -c "UPDATE rental.customer SET visits = 0"
expect_contains "$ERR" "was moved to shards"
