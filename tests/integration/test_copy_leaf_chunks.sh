# test_copy_leaf_chunks.sh — the copy reads a partitioned table leaf by leaf
# (tests/sql/partitions.sql, ev.events grown to 24,000 rows: LIST partitions,
# one sub-partitioned by HASH, a DEFAULT), each leaf in chunks of its own
# key range, copied by two workers; apply is killed -9 mid-copy three times
# while a workload inserts, updates, moves rows between partitions (region
# changes: a DELETE in the old partition and an INSERT in the new one) and
# deletes, so leaf chunks are copied under several snapshots.  The stream
# must skip exactly the changes a later leaf chunk already holds (invariant
# 4): placed by the change's own partition with publish_via_partition_root
# off, by the source's test of the partition constraints with it on.  Every
# partition ends equal to the source.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=leaftest
W=$(mktemp -d)
WL=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT
LEAVES="events_eu_0 events_eu_1 events_us events_other"
export SRC S0 S1 S2 S3
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)

workload() {
	local i=0 t
	while [ ! -e "$W/stop" ]; do
		t=$(( (i * 13) % 100 + 1 ))
		psql -X -q -d "$SRC" -c "BEGIN;
			INSERT INTO ev.events (tenant_id, region, kind) VALUES ($t, (ARRAY['eu', 'uk', 'us', 'br', 'jp'])[$i % 5 + 1], 'w $i');
			UPDATE ev.events SET kind = 'seen $i' WHERE (region, tenant_id, id) IN
				(SELECT region, tenant_id, id FROM ev.events WHERE tenant_id = $t ORDER BY id DESC LIMIT 3);
			UPDATE ev.events SET region = (ARRAY['us', 'eu', 'br', 'uk'])[$i % 4 + 1], kind = 'moved $i'
				WHERE (region, tenant_id, id) IN (SELECT region, tenant_id, id FROM ev.events
				WHERE tenant_id = $(( (t + 5) % 100 + 1 )) ORDER BY id LIMIT 2);
			DELETE FROM ev.events WHERE (region, tenant_id, id) IN
				(SELECT region, tenant_id, id FROM ev.events WHERE tenant_id = $(( (t + 9) % 100 + 1 )) ORDER BY id DESC LIMIT 1);
			COMMIT" >/dev/null 2>&1 || true
		i=$((i + 1))
	done
}
done_on_shard0() { psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done WHERE table_index = 1" 2>/dev/null || echo 0; }

for via_root in false true; do
	echo "== publish_via_partition_root = $via_root"
	rm -f "$W/stop"
	fresh_db $DB 0 1 2 3 4
	load_sql 0 $DB "$(dirname "$0")/../sql/partitions.sql"
	psql_on 0 $DB "INSERT INTO ev.events (tenant_id, region, kind, at)
		SELECT g % 100 + 1, (ARRAY['eu', 'uk', 'us', 'br', 'jp'])[g % 5 + 1], 'bulk ' || g, timestamptz '2024-02-01' + g * interval '1 second'
		FROM generate_series(1, 21000) g; ANALYZE ev.events;
		CREATE PUBLICATION ev_pub FOR TABLE ev.tenants, ev.events WITH (publish_via_partition_root = $via_root)" >/dev/null
	plan_1to4 leaftest ev_pub "  ev.tenants: { key: tenant_id }
  ev.events: { key: tenant_id }" "copy: { chunk_rows: 1000, jobs: 2 }" >"$W/plan.yaml"
	workload &
	WL=$!
	export PGRESHARD_TEST_CHUNK_DELAY_MS=300
	for at in 4 10 16; do
		"$P" apply --yes --until copy "$W/plan.yaml" >"$W/run$at.log" 2>&1 &
		pid=$!
		for ((i = 0; i < 600; i++)); do
			[ "$(done_on_shard0)" -ge $at ] && break
			grep -q "step copy: done" "$W/run$at.log" && break
			sleep 0.05
		done
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null
		echo "killed with $(done_on_shard0) chunk(s) of ev.events done on shard 0"
	done
	unset PGRESHARD_TEST_CHUNK_DELAY_MS
	# one chunk run per leaf, several chunks for the big leaves, all numbered apart
	expect_eq "$(psql_on 1 $DB "SELECT string_agg(leaf_name || ':' || (count > 1)::text, ' ' ORDER BY leaf_name) FROM
		(SELECT leaf_name, count(*) FROM pgreshard.chunk_plan WHERE table_index = 1 GROUP BY 1) c")" \
		"events_eu_0:true events_eu_1:true events_other:true events_us:true" "leaf chunks of ev.events"
	expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
	expect_contains "$ERR" "table ev.events: "
	expect_contains "$ERR" "chunk(s) copied after the slot's snapshot"
	touch "$W/stop"
	wait $WL
	WL=
	expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
	several=$(psql_on 1 $DB "SELECT count(DISTINCT snapshot_lsn) FROM pgreshard.chunks_done WHERE table_index = 1")
	[ "$several" -ge 2 ] || fail "ev.events copied under $several snapshot(s) only"
	compare_tables $DB ev.events 0 "1 2 3 4" || fail "content of ev.events ($via_root)"
	for t in $LEAVES; do
		compare_tables $DB "ONLY ev.$t" 0 "1 2 3 4" || fail "partition ev.$t ($via_root)"
	done
	check_placement $DB ev.events "tenant_id int" tenant_id 4 1 2 3 4 || fail "placement ($via_root)"
	[ "$(psql_on 0 $DB "SELECT count(*) FROM ev.events WHERE kind LIKE 'moved%'")" -gt 0 ] || fail "no row moved between partitions"
	expect_rc 0 "$P" cleanup "$W/plan.yaml"
done
