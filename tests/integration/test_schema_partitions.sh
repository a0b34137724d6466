# test_schema_partitions.sh — partitioned tables (tests/sql/partitions.sql:
# LIST partitions sub-partitioned by HASH, RANGE by month, DEFAULT
# partitions) resharded 1->4 by tenant_id, which is not their partition key,
# under a write workload that also moves rows between partitions; once with
# publish_via_partition_root off (changes arrive per partition and are routed
# by the parent's rule) and once on.  Every shard gets the same parents and
# partitions; the oracle compares every parent and every partition with the
# source (compare_tables), placement, and the catalog (check_schema_objects).
# A partition listed on its own is refused with a message to list its parent.
# With publish_via_partition_root off, a partition created on the source while
# the stream runs (and one attached) reaches the shards before its rows.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=parttest
W=$(mktemp -d)
WL=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT
LEAVES="events_eu_0 events_eu_1 events_us events_other payments_2024_01 payments_2024_02 payments_2024_03 payments_default"
export SRC S0 S1 S2 S3
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)
write_plan() {	# EXTRA-TABLE-LINE
	plan_1to4 parttest ev_pub "  ev.tenants: { key: tenant_id }
  ev.events: { key: tenant_id }
  ev.payments: { key: tenant_id }
$1" "copy: { chunk_rows: 1000 }
cutover: { reverse: false, verify: true, timeout_s: 60 }" >"$W/plan.yaml"
}
workload() {	# NEW-PARTITIONS (true: create and attach partitions midway)
	local i=0 t
	while [ ! -e "$W/stop" ]; do
		t=$(( (i * 7) % 100 + 1 ))
		# only once the copy is done: a partition made before it is the schema steps' business
		if [ "$1" = true ] && [ -e "$W/go" ] && [ ! -e "$W/created" ]; then
			psql -X -q -d "$(dsn 0 $DB)" -c "CREATE TABLE ev.events_fr PARTITION OF ev.events FOR VALUES IN ('fr');
				CREATE TABLE ev.events_de (LIKE ev.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
				ALTER TABLE ev.events ATTACH PARTITION ev.events_de FOR VALUES IN ('de')" >/dev/null 2>>"$W/refused"
			touch "$W/created"
		fi
		[ -e "$W/created" ] && psql -X -q -d "$(dsn 0 $DB)" -c "INSERT INTO ev.events (tenant_id, region, kind)
			VALUES ($t, 'fr', 'new partition $i'), ($t, 'de', 'attached $i')" >/dev/null 2>>"$W/refused"
		psql -X -q -d "$(dsn 0 $DB)" -c "BEGIN;
			INSERT INTO ev.events (tenant_id, region, kind, payload)
				VALUES ($t, (ARRAY['eu', 'uk', 'us', 'br', 'jp'])[$i % 5 + 1], 'w', '{\"i\": $i}');
			UPDATE ev.events SET kind = 'seen $i' WHERE tenant_id = $t AND region = 'us';
			UPDATE ev.events SET region = 'eu' WHERE (region, tenant_id, id) IN
				(SELECT region, tenant_id, id FROM ev.events WHERE tenant_id = $t AND region = 'jp' LIMIT 1);
			DELETE FROM ev.events WHERE (region, tenant_id, id) IN
				(SELECT region, tenant_id, id FROM ev.events WHERE tenant_id = $(( t % 100 + 1 )) ORDER BY id LIMIT 1);
			INSERT INTO ev.payments (tenant_id, amount, paid_at) VALUES ($t, $i % 40, timestamptz '2024-01-15' + $i * interval '3 hours');
			UPDATE ev.payments SET paid_at = paid_at + interval '20 days' WHERE (tenant_id, payment_id, paid_at) IN
				(SELECT tenant_id, payment_id, paid_at FROM ev.payments WHERE tenant_id = $t ORDER BY payment_id LIMIT 1);
			DELETE FROM ev.payments WHERE (tenant_id, payment_id, paid_at) IN
				(SELECT tenant_id, payment_id, paid_at FROM ev.payments WHERE tenant_id = $(( (t + 3) % 100 + 1 )) ORDER BY paid_at DESC LIMIT 1);
			COMMIT" >/dev/null 2>>"$W/refused" || true
		i=$((i + 1))
	done
}

for via_root in false true; do
	echo "== publish_via_partition_root = $via_root"
	rm -f "$W/stop" "$W/refused" "$W/created" "$W/go"
	fresh_db $DB 0 1 2 3 4
	load_sql 0 $DB "$(dirname "$0")/../sql/partitions.sql"
	psql_on 0 $DB "CREATE PUBLICATION ev_pub FOR TABLE ev.tenants, ev.events, ev.payments
		WITH (publish_via_partition_root = $via_root)" >/dev/null
	# a partition listed on its own
	write_plan "  ev.events_us: { key: tenant_id }"
	expect_rc 1 "$P" plan "$W/plan.yaml"
	expect_contains "$OUT" "ev.events_us is a partition of ev.events"
	expect_contains "$OUT" "list its parent ev.events in the plan instead"
	write_plan ""
	expect_rc 0 "$P" plan "$W/plan.yaml"
	echo "$OUT" | grep -Eq '^  ev\.events +tenant_id \(integer\)' || fail "the parent with its key in the plan"
	expect_contains "$OUT" "partitioned: 4 partition(s) move with it"
	expect_rc 0 "$P" plan --json "$W/plan.yaml"
	expect_eq "$(echo "$OUT" | jq -r '.tables[] | select(.name == "ev.payments") | .partitions')" 4 "payments' partitions in --json"
	expect_rc 0 "$P" plan "$W/plan.yaml"
	expect_contains "$OUT" "+ table ev.events_eu_1: created on every shard (schema-pre); a partition, moved with its parent"
	expect_contains "$OUT" "+ table ev.payments_default: created on every shard"
	if [ $via_root = true ]; then
		expect_contains "$OUT" "would land in the shards' DEFAULT partition, and PostgreSQL then refuses"
	else expect_not_contains "$OUT" "publish_via_partition_root on"; fi

	new_parts=false
	[ $via_root = false ] && new_parts=true
	workload $new_parts &
	WL=$!
	sleep 1
	if [ $new_parts = true ]; then
		expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
		touch "$W/go"
		while [ ! -e "$W/created" ]; do sleep 0.2; done
		sleep 1
	fi
	expect_rc 0 "$P" apply --yes "$W/plan.yaml"
	expect_contains "$ERR" "cutover: done"
	touch "$W/stop"
	wait $WL
	WL=
	expect_contains "$(cat "$W/refused")" "was moved to shards by pgreshard plan parttest"
	for t in tenants events payments; do
		compare_tables $DB ev.$t 0 "1 2 3 4" || fail "content of ev.$t ($via_root)"
		check_placement $DB ev.$t "tenant_id int" tenant_id 4 1 2 3 4 || fail "placement of ev.$t ($via_root)"
	done
	leaves=$LEAVES
	[ $new_parts = true ] && leaves="$leaves events_fr events_de"
	for t in $leaves; do compare_tables $DB "ONLY ev.$t" 0 "1 2 3 4" || fail "partition ev.$t ($via_root)"; done
	if [ $new_parts = true ]; then
		[ "$(psql_on 0 $DB "SELECT count(*) FROM ONLY ev.events_fr")" -gt 0 ] || fail "no rows in the new partition"
		[ "$(psql_on 0 $DB "SELECT count(*) FROM ONLY ev.events_de")" -gt 0 ] || fail "no rows in the attached partition"
	fi
	check_schema_objects $DB ev 0 "1 2 3 4" 'pgreshard_moved' || fail "schema objects ($via_root)"
	[ "$(psql_on 0 $DB "SELECT count(*) FROM ev.events WHERE kind LIKE 'seen%'")" -gt 0 ] || fail "the workload updated nothing"
done
