# test_schema_partitions.sh — partitioned tables (tests/sql/partitions.sql:
# LIST partitions sub-partitioned by HASH, RANGE by month, DEFAULT
# partitions) resharded 1->4 by tenant_id, which is not their partition key,
# under a write workload that also moves rows between partitions; once with
# publish_via_partition_root off (changes arrive per partition and are routed
# by the parent's rule) and once on.  Every shard gets the same parents and
# partitions; the oracle compares every parent and every partition with the
# source (compare_tables), placement, and the catalog (check_schema_objects).
# A partition listed on its own is refused with a message to list its parent;
# a trigger of one partition counts as its parent's for the preflight's check
# of a shard role that may not set session_replication_role.
# In both modes, partitions made on the source while the stream runs reach the
# shards before their rows: one created, one attached with its columns in
# another order than the parent's, one split off the DEFAULT partition the way
# PostgreSQL requires (DETACH the DEFAULT, create, move the rows, ATTACH) and
# one never written to; the partition tree (bounds, sub-partitioning, indexes)
# ends the same on every shard.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=parttest
W=$(mktemp -d)
WL=
drop_role() {
	psql_on 4 postgres "DO \$\$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgr_part_nosuper') THEN
		REVOKE ALL ON DATABASE $DB FROM pgr_part_nosuper; DROP ROLE pgr_part_nosuper; END IF; END \$\$" >/dev/null
}
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB; drop_role
	psql_on 0 postgres "ALTER SYSTEM RESET logical_decoding_work_mem" -c "SELECT pg_reload_conf()" >/dev/null' EXIT
# the split of the DEFAULT partition is a transaction larger than this: streamed
# before it commits, with the new partition announced inside it
psql_on 0 postgres "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'" -c "SELECT pg_reload_conf()" >/dev/null
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
workload() {
	local i=0 t
	while [ ! -e "$W/stop" ]; do
		t=$(( (i * 7) % 100 + 1 ))
		# once the copy is done (a partition made before it is the copy's, see
		# test_partition_race): a partition created, one attached with its
		# columns in another order than the parent's, one never written to, and
		# one split off the DEFAULT partition the way PostgreSQL requires (its
		# rows moved out of the detached DEFAULT: deletes pgoutput does not send)
		if [ -e "$W/go" ] && [ ! -e "$W/created" ]; then
			psql -X -q -d "$(dsn 0 $DB)" -c "CREATE TABLE ev.events_fr PARTITION OF ev.events FOR VALUES IN ('fr');
				CREATE TABLE ev.events_de (at timestamptz NOT NULL DEFAULT '2024-01-01', payload jsonb,
					kind text NOT NULL CONSTRAINT events_kind_check CHECK (kind <> ''), id bigint NOT NULL,
					region text NOT NULL, tenant_id integer NOT NULL);
				ALTER TABLE ev.events ATTACH PARTITION ev.events_de FOR VALUES IN ('de');
				CREATE TABLE ev.events_es PARTITION OF ev.events FOR VALUES IN ('es');
				BEGIN;
				ALTER TABLE ev.events DETACH PARTITION ev.events_other;
				CREATE TABLE ev.events_it PARTITION OF ev.events FOR VALUES IN ('it');
				INSERT INTO ev.events_it SELECT * FROM ev.events_other WHERE region = 'it';
				DELETE FROM ev.events_other WHERE region = 'it';
				ALTER TABLE ev.events ATTACH PARTITION ev.events_other DEFAULT;
				COMMIT" >/dev/null 2>>"$W/refused" || echo "creating partitions failed: $(tail -3 "$W/refused")" >&2
			touch "$W/created"
		fi
		[ -e "$W/created" ] && psql -X -q -d "$(dsn 0 $DB)" -c "INSERT INTO ev.events (tenant_id, region, kind)
			VALUES ($t, 'fr', 'new partition $i'), ($t, 'de', 'attached $i'), ($t, 'it', 'split $i');
			UPDATE ev.events SET kind = 'seen $i' WHERE tenant_id = $t AND region IN ('de', 'it');
			UPDATE ev.events SET region = 'de' WHERE (region, tenant_id, id) IN
				(SELECT region, tenant_id, id FROM ev.events WHERE tenant_id = $t AND region = 'br' LIMIT 1)" >/dev/null 2>>"$W/refused"
		psql -X -q -d "$(dsn 0 $DB)" -c "BEGIN;
			INSERT INTO ev.events (tenant_id, region, kind, payload)
				VALUES ($t, (ARRAY['eu', 'uk', 'us', 'br', 'jp', 'it'])[$i % 6 + 1], 'w', '{\"i\": $i}');
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

# The partition tree of schema ev on cluster $1: every partition with its
# parent, bounds, sub-partitioning and indexes.
tree() {
	psql_on "$1" $DB "SELECT c.relname, coalesce(pc.relname, '-'), coalesce(pg_get_expr(c.relpartbound, c.oid), '-'),
		coalesce(pg_get_partkeydef(c.oid), '-'),
		coalesce((SELECT string_agg(pg_get_indexdef(x.indexrelid), '; ' ORDER BY 1) FROM pg_index x
			WHERE x.indrelid = c.oid), '-')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class pc ON pc.oid = i.inhparent
		WHERE n.nspname = 'ev' AND c.relkind IN ('r', 'p') ORDER BY 1"
}

for via_root in false true; do
	echo "== publish_via_partition_root = $via_root"
	rm -f "$W/stop" "$W/refused" "$W/created" "$W/go"
	fresh_db $DB 0 1 2 3 4
	load_sql 0 $DB "$(dirname "$0")/../sql/partitions.sql"
	psql_on 0 $DB "INSERT INTO ev.events (tenant_id, region, kind, payload)
		SELECT g % 100 + 1, 'it', 'to split ' || g, jsonb_build_object('pad', repeat('x', 100)) FROM generate_series(1, 1500) g" >/dev/null
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
	# a shard role that may not set session_replication_role: the trigger of one
	# partition would fire a second time there (the partition stands for its
	# parent, which the plan lists)
	drop_role
	psql_on 4 postgres "CREATE ROLE pgr_part_nosuper LOGIN; GRANT ALL ON DATABASE $DB TO pgr_part_nosuper" >/dev/null
	S3="$S3 user=pgr_part_nosuper" expect_rc 1 "$P" plan "$W/plan.yaml"
	expect_contains "$OUT" "may not set session_replication_role, so the copy and the stream would fire 1 trigger(s) and foreign-key action(s) of moved tables a second time on the shards (trigger keep_kind on ev.events_us)"
	drop_role
	expect_rc 0 "$P" plan --json "$W/plan.yaml"
	expect_eq "$(echo "$OUT" | jq -r '.tables[] | select(.name == "ev.payments") | .partitions')" 4 "payments' partitions in --json"
	expect_rc 0 "$P" plan "$W/plan.yaml"
	expect_contains "$OUT" "+ table ev.events_eu_1: created on every shard (schema-pre); a partition, moved with its parent"
	expect_contains "$OUT" "+ table ev.payments_default: created on every shard"
	# new partitions reach the shards in both modes: no warning, no note
	expect_not_contains "$OUT" "publish_via_partition_root"

	workload &
	WL=$!
	sleep 1
	expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
	touch "$W/go"
	while [ ! -e "$W/created" ]; do sleep 0.2; done
	sleep 1
	expect_rc 0 "$P" apply --yes "$W/plan.yaml"
	expect_contains "$ERR" "cutover: done"
	# created by the stream when announced (both modes), the split one after its
	# rows were taken out of the shards' DEFAULT, the empty one at the fence
	for t in fr de it; do expect_contains "$ERR" "partition ev.events_$t created (made on the source during the move)"; done
	expect_contains "$ERR" "of DEFAULT partition ev.events_other belong to the new partition ev.events_it"
	expect_contains "$ERR" "partition ev.events_es created (it is on the source)"
	touch "$W/stop"
	wait $WL
	WL=
	expect_contains "$(cat "$W/refused")" "was moved to shards by pgreshard plan parttest"
	expect_not_contains "$(cat "$W/refused")" "ERROR:  relation"
	for t in tenants events payments; do
		compare_tables $DB ev.$t 0 "1 2 3 4" || fail "content of ev.$t ($via_root)"
		check_placement $DB ev.$t "tenant_id int" tenant_id 4 1 2 3 4 || fail "placement of ev.$t ($via_root)"
	done
	for t in $LEAVES events_fr events_it events_es; do
		compare_tables $DB "ONLY ev.$t" 0 "1 2 3 4" || fail "partition ev.$t ($via_root)"
	done
	# its columns are in another order on the source than on the shards
	compare_tables $DB "(SELECT tenant_id, id, region, kind, payload, at FROM ONLY ev.events_de)" 0 "1 2 3 4" ||
		fail "partition ev.events_de ($via_root)"
	expect_eq "$(psql_on 0 $DB "SELECT attname FROM pg_attribute WHERE attrelid = 'ev.events_de'::regclass AND attnum = 1")" at \
		"the attached partition's first column on the source"
	expect_eq "$(psql_on 1 $DB "SELECT attname FROM pg_attribute WHERE attrelid = 'ev.events_de'::regclass AND attnum = 1")" tenant_id \
		"the attached partition's first column on a shard" 
	for t in events_fr events_de events_it; do
		[ "$(psql_on 0 $DB "SELECT count(*) FROM ONLY ev.$t")" -gt 0 ] || fail "no rows in the new partition $t"
	done
	src_tree=$(tree 0)
	echo "$src_tree" | grep -q '^events_de|events|FOR VALUES IN (.de.)|-|CREATE UNIQUE INDEX' || fail "source tree: $src_tree"
	for c in 1 2 3 4; do
		[ "$(tree $c)" = "$src_tree" ] || { diff <(echo "$src_tree") <(tree $c); fail "partition tree of shard $c ($via_root)"; }
	done
	check_schema_objects $DB ev 0 "1 2 3 4" 'pgreshard_moved' || fail "schema objects ($via_root)"
	[ "$(psql_on 0 $DB "SELECT count(*) FROM ev.events WHERE kind LIKE 'seen%'")" -gt 0 ] || fail "the workload updated nothing"
done
