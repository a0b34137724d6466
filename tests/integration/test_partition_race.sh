# test_partition_race.sh — a partition created on the source between the
# moment apply reads the catalog and the slot's snapshot, when its parent has
# a DEFAULT partition (tests/sql/partitions.sql: ev.events, DEFAULT
# events_other).  The copy sees its rows but the schema steps, which follow
# the catalog, do not create it: the copy must create it on the shards
# before copying, or the rows land in the shards' DEFAULT and PostgreSQL
# refuses to create the partition there afterwards, for good.
#
# Deterministic: PGRESHARD_PG_DUMP points at a wrapper that, the first time
# it runs (apply's inspection, right after the partitions were read and
# before the slot), creates ev.events_fr and fills it, then runs pg_dump.
# Run with publish_via_partition_root off and on; the oracle compares the
# parent and every partition with the source, after the cutover.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=racetest
W=$(mktemp -d)
chmod 755 "$W"
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT
export SRC S0 S1 S2 S3
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)
REAL_DUMP=$(ls -d /usr/lib/postgresql/*/bin/pg_dump 2>/dev/null | sort -V | tail -1)
[ -x "$REAL_DUMP" ] || REAL_DUMP=$(command -v pg_dump)
cat >"$W/pg_dump" <<SH
#!/usr/bin/env bash
if [ ! -e "$W/raced" ]; then
	touch "$W/raced"
	psql -X -q -v ON_ERROR_STOP=1 -d "\$RACE_DSN" -c "CREATE TABLE ev.events_fr PARTITION OF ev.events FOR VALUES IN ('fr');
		INSERT INTO ev.events (tenant_id, region, kind) SELECT g % 100 + 1, 'fr', 'raced ' || g FROM generate_series(1, 300) g" \
		>/dev/null || exit 1
fi
exec "$REAL_DUMP" "\$@"
SH
chmod 755 "$W/pg_dump"

for via_root in false true; do
	echo "== publish_via_partition_root = $via_root"
	rm -f "$W/raced"
	fresh_db $DB 0 1 2 3 4
	load_sql 0 $DB "$(dirname "$0")/../sql/partitions.sql"
	psql_on 0 $DB "CREATE PUBLICATION ev_pub FOR TABLE ev.tenants, ev.events, ev.payments
		WITH (publish_via_partition_root = $via_root)" >/dev/null
	plan_1to4 racetest ev_pub "  ev.tenants: { key: tenant_id }
  ev.events: { key: tenant_id }
  ev.payments: { key: tenant_id }" "copy: { chunk_rows: 1000, jobs: 2 }
cutover: { reverse: false, verify: true, timeout_s: 60 }" >"$W/plan.yaml"
	expect_rc 0 "$P" plan "$W/plan.yaml"
	expect_not_contains "$OUT" "events_fr"
	RACE_DSN=$SRC PGRESHARD_PG_DUMP="$W/pg_dump" expect_rc 0 "$P" apply --yes --until copy "$W/plan.yaml"
	[ -e "$W/raced" ] || fail "the wrapper did not run"
	copy_err=$ERR
	# a little traffic on the raced partition through the stream, then the cutover
	psql_on 0 $DB "UPDATE ev.events SET kind = 'raced, updated' WHERE region = 'fr' AND tenant_id < 20;
		DELETE FROM ev.events WHERE region = 'fr' AND tenant_id > 90;
		INSERT INTO ev.events (tenant_id, region, kind) VALUES (7, 'fr', 'after the copy')" >/dev/null
	RACE_DSN=$SRC PGRESHARD_PG_DUMP="$W/pg_dump" expect_rc 0 "$P" apply --yes "$W/plan.yaml"
	expect_contains "$ERR" "cutover: done"
	for t in tenants events payments; do
		compare_tables $DB ev.$t 0 "1 2 3 4" || fail "content of ev.$t ($via_root)"
	done
	for t in events_fr events_other events_us events_eu_0 events_eu_1; do
		compare_tables $DB "ONLY ev.$t" 0 "1 2 3 4" || fail "partition ev.$t ($via_root)"
	done
	n=0
	for c in 1 2 3 4; do
		n=$((n + $(psql_on $c $DB "SELECT count(*) FROM ONLY ev.events_fr")))
		expect_eq "$(psql_on $c $DB "SELECT count(*) FROM ONLY ev.events_other WHERE region = 'fr'")" 0 \
			"rows of events_fr in the DEFAULT partition of shard $c"
	done
	expect_eq "$n" "$(psql_on 0 $DB "SELECT count(*) FROM ONLY ev.events_fr")" "rows of events_fr on the shards"
	[ "$n" -gt 250 ] || fail "events_fr holds $n rows"
	expect_contains "$copy_err" "partition ev.events_fr created"
done
