# test_wal_guard.sh — the slot never holds more WAL than the plan allows.
#
# A slow copy (a chunk delay) while the source writes a few MB/s of WAL to a
# table that is not moved: with source.max_retained_wal at 4MB the apply
# stops during the copy with the guard's message, keeping the chunks it
# finished; raised, the rerun copies only the rest and the result is exact.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=walguardtest
W=$(mktemp -d)
WL=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2
psql_on 0 $DB "CREATE TABLE items (id bigint PRIMARY KEY, body text);
  INSERT INTO items SELECT g, repeat('x', 50) FROM generate_series(1, 20000) g;
  CREATE TABLE churn (id bigserial PRIMARY KEY, pad text);
  CREATE PUBLICATION pub FOR TABLE items;
  SELECT pg_stat_reset_shared('wal')" >/dev/null	# no WAL rate yet: plan's estimate skipped, the guard acts
export SRC S0 S1
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
write_plan() {	# MAX_RETAINED_WAL
	cat >"$W/plan.yaml" <<YAML
version: 1
name: walguardtest
source: { dsn: "\${SRC}", publication: pub, max_retained_wal: $1 }
destination: { shards: ["\${S0}", "\${S1}"] }
tables:
  items: { key: id }
copy: { jobs: 1, chunk_rows: 1000 }
YAML
}
churn() {	# WAL on the source until told to stop
	while [ ! -e "$W/stop" ]; do
		psql -X -q -d "$(dsn 0 $DB)" -c "INSERT INTO churn (pad) SELECT repeat('w', 1000) FROM generate_series(1, 2000)" \
			>/dev/null 2>&1 || true
	done
}

write_plan 4MB
churn &
WL=$!
PGRESHARD_TEST_CHUNK_DELAY_MS=400 expect_rc 1 "$P" apply --yes --until copy "$W/plan.yaml"
expect_contains "$ERR" "more than source.max_retained_wal (4.0 MB): stopped before the source's disk is at risk"
touch "$W/stop"
wait $WL
WL=
done_before=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done")
total=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunk_plan")
[ "$done_before" -gt 0 ] && [ "$done_before" -lt "$total" ] ||
	fail "expected some but not all chunks done when the guard stopped the copy ($done_before of $total)"
expect_eq "$(psql_on 1 $DB "SELECT state FROM pgreshard.steps WHERE step = 'copy'")" failed "copy step state"
# nothing half done: every shard's rows are exactly its finished chunks
for s in 1 2; do
	expect_eq "$(psql_on $s $DB "SELECT count(*) FROM items")" \
		"$(psql_on $s $DB "SELECT coalesce(sum(rows), 0) FROM pgreshard.chunks_done")" "rows on cluster $s vs its chunks"
done

# status shows what the slot holds and its wal_status
expect_rc 0 "$P" status --json "$W/plan.yaml"
expect_eq "$(printf '%s' "$OUT" | jq -r '.stream.sources[0].wal_status')" reserved "wal_status in status --json"
[ "$(printf '%s' "$OUT" | jq -r '.stream.sources[0].retained_wal_bytes')" -gt 4194304 ] ||
	fail "retained_wal_bytes in status --json: $(printf '%s' "$OUT" | jq -c '.stream.sources[0]')"
expect_rc 0 "$P" status "$W/plan.yaml"
expect_contains "$OUT" "of WAL (wal_status reserved; limit 4.0 MB)"

write_plan 1GB
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" "$((total - done_before)) chunk(s) to copy"
compare_tables $DB items 0 "1 2" || fail "content of items"
echo ok
