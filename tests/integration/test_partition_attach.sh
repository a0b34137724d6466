# test_partition_attach.sh — partitions attached, detached and indexed on the
# source while the move streams (issue 13: real schemas).
#
# The event log of tests/sql/partitions.sql (ev.events: LIST by region, one
# region sub-partitioned by HASH, a DEFAULT partition) is resharded 1->4 by
# tenant_id under a write workload, with a manual cutover, once with
# publish_via_partition_root off and once on.  While apply streams:
#
#   - ev.events_fr, a table filled beforehand with 8,000 rows (every tenth
#     with a payload large enough to be TOASTed), is ATTACHed; the workload
#     then inserts, updates (leaving the TOASTed payload unchanged), moves
#     out and deletes its rows; apply is killed -9 while it copies the
#     partition's rows in (some of its late chunks done, others not);
#   - while apply is down: ev.events_apac, a table sub-partitioned by HASH
#     with its own leaves and 3,000 rows, is ATTACHed; indexes are made on
#     one leaf each (a UNIQUE one on events_eu_0, one on the new events_fr),
#     a leaf's own index made before the move is dropped, an index is made
#     ON ONLY the parent with one partition's index attached to it (ALTER
#     INDEX ... ATTACH PARTITION), and events_us is DETACHed (the workload
#     stopped writing it first);
#   - apply runs again, copies the rest, and is killed -9 once more after
#     the late copies; a third apply streams until `pgreshard cutover`.
#
# The oracle is independent of verify: per shard, the count and md5 of the
# sorted rows of ev.events equal those of the source's rows that
# PostgreSQL's hash partitioning routes there, and every partition's rows
# (union of the shards) equal the source's.  The shards end with the
# source's partition tree and the partitions' own indexes.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=attachtest
W=$(mktemp -d)
WL= APPLY=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; [ -n "$APPLY" ] && kill -9 $APPLY 2>/dev/null; wait 2>/dev/null;
      rm -rf "$W"; drop_db_everywhere $DB' EXIT
export SRC S0 S1 S2 S3
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)

workload() {
	local i=0 t regions
	while [ ! -e "$W/stop" ]; do
		t=$(( (i * 7) % 100 + 1 ))
		regions="'eu', 'uk', 'br', 'jp'"
		[ -e "$W/no_us" ] || regions="$regions, 'us'"
		[ -e "$W/fr" ] && regions="$regions, 'fr'"
		[ -e "$W/apac" ] && regions="$regions, 'au', 'nz'"
		psql -X -q -d "$SRC" -c "BEGIN;
			INSERT INTO ev.events (tenant_id, region, kind, payload)
				SELECT $t, (ARRAY[$regions])[1 + $i % cardinality(ARRAY[$regions])], 'w $i', '{\"i\": $i}';
			UPDATE ev.events SET kind = 'seen $i' WHERE (region, tenant_id, id) IN
				(SELECT region, tenant_id, id FROM ev.events WHERE tenant_id = $t AND region IN ($regions)
				 ORDER BY id DESC LIMIT 3);
			UPDATE ev.events SET kind = 'old $i' WHERE (region, tenant_id, id) IN
				(SELECT region, tenant_id, id FROM ev.events WHERE tenant_id = $(( (t + 11) % 100 + 1 ))
				 AND region IN ($regions) ORDER BY id LIMIT 2);
			UPDATE ev.events SET region = 'br', kind = 'moved $i' WHERE (region, tenant_id, id) IN
				(SELECT region, tenant_id, id FROM ev.events WHERE tenant_id = $(( (t + 5) % 100 + 1 ))
				 AND region IN ($regions) AND region <> 'br' ORDER BY id LIMIT 1);
			DELETE FROM ev.events WHERE (region, tenant_id, id) IN
				(SELECT region, tenant_id, id FROM ev.events WHERE tenant_id = $(( (t + 9) % 100 + 1 ))
				 AND region IN ($regions) ORDER BY id DESC LIMIT 1);
			COMMIT" >/dev/null 2>>"$W/refused" || true
		i=$((i + 1))
	done
}

# Per shard: count and md5 of the sorted rows of ev.events, on the shard and
# on the source for the rows hash partitioning routes to it.
oracle() {
	local i want got
	for i in 0 1 2 3; do
		want=$(psql_on 0 $DB "DROP TABLE IF EXISTS pg_temp.hp; CREATE TEMP TABLE hp (tenant_id int) PARTITION BY HASH (tenant_id);
			SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text COLLATE \"C\"), ''))
			FROM ev.events t WHERE satisfies_hash_partition('pg_temp.hp'::regclass, 4, $i, tenant_id)")
		got=$(psql_on $((i + 1)) $DB "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n'
			ORDER BY t::text COLLATE \"C\"), '')) FROM ev.events t")
		expect_eq "$got" "$want" "ev.events on shard $i: count and md5 of its rows"
	done
}

# The partition tree of schema ev on cluster $1: every table with its parent,
# bounds, sub-partitioning and indexes (names and definitions, and the index
# each is attached to).
tree() {
	psql_on "$1" $DB "SELECT c.relname, coalesce(pc.relname, '-'), coalesce(pg_get_expr(c.relpartbound, c.oid), '-'),
		coalesce(pg_get_partkeydef(c.oid), '-'),
		coalesce((SELECT string_agg(regexp_replace(pg_get_indexdef(x.indexrelid), 'INDEX \S+ ON', 'INDEX ON')
			|| coalesce(' < ' || (SELECT h.inhparent::regclass::text FROM pg_inherits h WHERE h.inhrelid = x.indexrelid), ''),
			'; ' ORDER BY 1) FROM pg_index x WHERE x.indrelid = c.oid), '-')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class pc ON pc.oid = i.inhparent
		WHERE n.nspname = 'ev' AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE 'payments%' ORDER BY 1"
}

late_done() {	# LEAF-LIKE: "done total" of the late chunks of those leaves on shard 0
	psql_on 1 $DB "SELECT (SELECT count(*) FROM pgreshard.chunks_done d JOIN pgreshard.chunk_plan p
		USING (plan_name, source, table_index, chunk) WHERE p.leaf_name LIKE '$1') || ' ' ||
		(SELECT count(*) FROM pgreshard.chunk_plan WHERE leaf_name LIKE '$1')" 2>/dev/null || echo "0 0"
}

start_apply() {	# LOG [env...]
	local log=$1
	shift
	env "$@" "$P" apply --yes "$W/plan.yaml" >"$log" 2>&1 &
	APPLY=$!
}

# DDL on the source under the workload: a deadlock with its transactions or
# a lock timeout aborts it whole (nothing attached): tried again, and the
# test fails when it never goes through.
source_ddl() {	# SQL
	local try err
	for try in $(seq 1 20); do
		err=$(psql_on 0 $DB "SET lock_timeout = '2s'; $1" 2>&1 >/dev/null) && return 0
		case "$err" in
		*"deadlock detected"* | *"lock timeout"*) echo "(source DDL retried after: ${err%%$'\n'*})"; sleep 0.2 ;;
		*) fail "DDL on the source: $err" ;;
		esac
	done
	fail "DDL on the source never got its locks: $err"
}

kill_apply() {
	kill -9 $APPLY 2>/dev/null
	wait $APPLY 2>/dev/null
	APPLY=
}

run_case() {	# publish_via_partition_root
	local via_root=$1 n done total rc
	echo "== publish_via_partition_root = $via_root"
	rm -f "$W"/stop "$W"/fr "$W"/apac "$W"/no_us "$W"/refused
	fresh_db $DB 0 1 2 3 4
	load_sql 0 $DB "$(dirname "$0")/../sql/partitions.sql"
	psql_on 0 $DB "INSERT INTO ev.events (tenant_id, region, kind, payload, at)
		  SELECT g % 100 + 1, (ARRAY['eu', 'uk', 'us', 'br', 'jp'])[g % 5 + 1], 'bulk ' || g, jsonb_build_object('n', g),
		         timestamptz '2024-02-01' + g * interval '1 second' FROM generate_series(1, 12000) g;
		CREATE INDEX events_eu_1_kind ON ev.events_eu_1 (kind);
		-- filled before it is attached: its rows never pass through the parent
		CREATE TABLE ev.events_fr (LIKE ev.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
		INSERT INTO ev.events_fr (tenant_id, id, region, kind, payload, at)
		  SELECT g % 100 + 1, 1000000 + g, 'fr', 'fr ' || g,
		         CASE WHEN g % 10 = 0 THEN jsonb_build_object('big', (SELECT string_agg(md5(g::text || x::text), '')
		           FROM generate_series(1, 300) x)) ELSE jsonb_build_object('n', g) END,
		         timestamptz '2024-03-01' + g * interval '1 minute' FROM generate_series(1, 8000) g;
		ALTER TABLE ev.events_fr ADD PRIMARY KEY (region, tenant_id, id);
		CREATE TABLE ev.events_apac (LIKE ev.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY HASH (tenant_id);
		CREATE TABLE ev.events_apac_0 PARTITION OF ev.events_apac FOR VALUES WITH (MODULUS 2, REMAINDER 0);
		CREATE TABLE ev.events_apac_1 PARTITION OF ev.events_apac FOR VALUES WITH (MODULUS 2, REMAINDER 1);
		INSERT INTO ev.events_apac (tenant_id, id, region, kind, payload)
		  SELECT g % 100 + 1, 2000000 + g, (ARRAY['au', 'nz'])[g % 2 + 1], 'apac ' || g, jsonb_build_object('n', g)
		  FROM generate_series(1, 3000) g;
		ANALYZE;
		CREATE PUBLICATION ev_pub FOR TABLE ev.tenants, ev.events WITH (publish_via_partition_root = $via_root)" >/dev/null
	expect_eq "$(psql_on 0 $DB "SELECT count(*) FROM ev.events_fr WHERE pg_column_size(payload) > 2000")" 800 "TOASTed rows in events_fr"
	plan_1to4 attachtest ev_pub "  ev.tenants: { key: tenant_id }
  ev.events: { key: tenant_id }" "copy: { chunk_rows: 1000, jobs: 2 }
cutover: { reverse: false, mode: manual, freeze: lock, timeout_s: 60, verify: true }" >"$W/plan.yaml"
	expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"

	workload &
	WL=$!
	start_apply "$W/run1.log" PGRESHARD_TEST_CHUNK_DELAY_MS=400
	for _ in $(seq 1 600); do	# streaming, verified, waiting for `pgreshard cutover`
		grep -q "streaming until" "$W/run1.log" && break
		kill -0 $APPLY 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	source_ddl "ALTER TABLE ev.events ATTACH PARTITION ev.events_fr FOR VALUES IN ('fr')"
	touch "$W/fr"
	# kill -9 while the partition's rows are copied in
	for _ in $(seq 1 1200); do
		read -r done total <<<"$(late_done events_fr)"
		[ "$done" -ge 2 ] && break
		kill -0 $APPLY 2>/dev/null || break
		sleep 0.05
	done
	kill_apply
	read -r done total <<<"$(late_done events_fr)"
	echo "kill -9 with $done of $total late chunk(s) of events_fr done on shard 0"
	[ "$done" -ge 1 ] && [ "$done" -lt "$total" ] || { cat "$W/run1.log" >&2; fail "the kill did not land in the late copy ($done of $total)"; }
	grep -q "partition ev.events_fr was attached during the move: its rows are copied in under a new snapshot" "$W/run1.log" ||
		{ cat "$W/run1.log" >&2; fail "the stream says it copies the attached partition in"; }

	# while apply is down: a sub-partitioned table attached, a partition's own
	# indexes made, dropped and attached, a partition detached
	touch "$W/no_us"
	sleep 1
	source_ddl "ALTER TABLE ev.events ATTACH PARTITION ev.events_apac FOR VALUES IN ('au', 'nz');
		CREATE UNIQUE INDEX events_eu_0_uq ON ev.events_eu_0 (id, tenant_id);
		CREATE INDEX events_fr_kind ON ev.events_fr (kind) WHERE kind <> 'x';
		DROP INDEX ev.events_eu_1_kind;
		CREATE INDEX events_kind_p ON ONLY ev.events (kind);
		CREATE INDEX events_other_kind ON ev.events_other (kind);
		ALTER INDEX ev.events_kind_p ATTACH PARTITION ev.events_other_kind;
		ALTER TABLE ev.events DETACH PARTITION ev.events_us"
	touch "$W/apac"
	start_apply "$W/run2.log"
	for _ in $(seq 1 1200); do
		read -r done total <<<"$(late_done 'events_apac_%')"
		[ "$total" -gt 0 ] && [ "$done" = "$total" ] && break
		kill -0 $APPLY 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	kill_apply	# after the late copies
	expect_eq "$done" "$total" "events_apac's late chunks done before the second kill"
	grep -q "partition ev.events_apac_0 was attached during the move" "$W/run2.log" || {
		cat "$W/run2.log" >&2
		# said last, so that a log cut in the middle still shows it
		echo "events_apac's parent on the source: $(psql_on 0 $DB "SELECT coalesce((SELECT inhparent::regclass::text
			FROM pg_inherits WHERE inhrelid = 'ev.events_apac'::regclass), 'none')" 2>&1);" \
			"late chunks of events_apac planned: $total; apply lines about partitions:" >&2
		grep -i "partition\|attach\|error" "$W/run2.log" | tail -5 >&2
		fail "events_apac copied in"
	}
	grep -q "partition ev.events_us was detached on the source during the move: detached here too" "$W/run2.log" ||
		{ cat "$W/run2.log" >&2; fail "events_us detached on the shards"; }

	start_apply "$W/run3.log"
	for _ in $(seq 1 600); do
		grep -q "streaming until" "$W/run3.log" && break
		kill -0 $APPLY 2>/dev/null || break
		sleep 0.1
	done
	sleep 4
	touch "$W/stop"
	wait $WL
	WL=
	expect_rc 0 "$P" cutover "$W/plan.yaml"
	wait $APPLY
	rc=$?
	APPLY=
	[ "$rc" = 0 ] || { cat "$W/run3.log" >&2; fail "apply after the kills ($via_root)"; }
	grep -q "cutover: done" "$W/run3.log" || fail "cut over"
	expect_not_contains "$(cat "$W/refused" 2>/dev/null)" "ERROR:  relation"

	oracle
	compare_tables $DB ev.tenants 0 "1 2 3 4" || fail "ev.tenants ($via_root)"
	for t in events_fr events_apac_0 events_apac_1 events_eu_0 events_eu_1 events_other; do
		compare_tables $DB "ONLY ev.$t" 0 "1 2 3 4" || fail "partition ev.$t ($via_root)"
	done
	check_placement $DB ev.events "tenant_id int" tenant_id 4 1 2 3 4 || fail "placement ($via_root)"
	for t in fr apac; do
		n=$(psql_on 0 $DB "SELECT count(*) FROM ev.events_$t WHERE kind LIKE 'seen%' OR kind LIKE 'old%'")
		[ "$n" -gt 0 ] || fail "the workload changed no row of events_$t"
	done
	[ "$(psql_on 0 $DB "SELECT count(*) FROM ev.events WHERE region = 'fr' AND pg_column_size(payload) > 2000 AND kind LIKE 'old%'")" -gt 0 ] ||
		echo "(no TOASTed row of events_fr was updated this time)"
	src_tree=$(tree 0)
	echo "$src_tree" | grep -q '^events_us|-|-|-|' || fail "events_us detached on the source: $src_tree"
	for c in 1 2 3 4; do
		[ "$(tree $c)" = "$src_tree" ] || { diff <(echo "$src_tree") <(tree $c) >&2; fail "partition tree and indexes of shard $c ($via_root)"; }
		expect_eq "$(psql_on $c $DB "SELECT indisunique FROM pg_index WHERE indexrelid = 'ev.events_eu_0_uq'::regclass")" t \
			"the unique index of one partition on shard $c"
		expect_eq "$(psql_on $c $DB "SELECT count(*) FROM pg_class WHERE relname = 'events_eu_1_kind'")" 0 "a dropped index on shard $c"
		expect_eq "$(psql_on $c $DB "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'ev.events_other_kind'::regclass
			AND inhparent = 'ev.events_kind_p'::regclass")" 1 "an index attached to the parent's on shard $c"
	done
	echo "case $via_root: events $(psql_on 0 $DB "SELECT count(*) FROM ev.events") rows, events_fr $(psql_on 0 $DB "SELECT count(*) FROM ev.events_fr"), exact on 4 shards"
}

run_case false
run_case true
echo ok
