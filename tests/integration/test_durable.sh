# test_durable.sh — durable before confirmed (DESIGN.md invariant 3): shards that
# run synchronous_commit = off, and whose WAL writer is slowed down so that an
# acknowledged commit stays in memory for seconds, are stopped abruptly right after
# `apply --until copy` (copy journaled done), and together with the runner once the
# stream (kept running by a manual cutover) has confirmed the slot past every
# change.  Nothing may be lost: the rows are all there and verify (exact) passes.
# Without the flush barrier before "done" the copied rows vanish; without the
# synchronous group commits the last changes do (both checked against builds
# without them).
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=durabletest
W=$(mktemp -d)
APPLY=

crash_safe_clusters 3 || fail "cannot start crash-safe clusters"
trap '[ -n "$APPLY" ] && kill -9 $APPLY 2>/dev/null; rm -rf "$W"; clusters_stop' EXIT
slow_wal_writer 1 2 || fail "cannot slow the shards' WAL writer"
for c in 0 1 2; do psql_on $c postgres "CREATE DATABASE $DB" >/dev/null; done
psql_on 0 $DB "CREATE TABLE t (id bigint PRIMARY KEY, v text);
	INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 5000) g;
	CREATE PUBLICATION pub FOR TABLE t" >/dev/null
export SRC S0 S1
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: durabletest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}"] }
tables:
  public.t: { key: id }
cutover: { reverse: false, mode: manual }
YAML

crash_shards() {
	for c in 1 2; do cluster_crash $c; done
	for c in 1 2; do cluster_restart $c || fail "shard cluster $c does not start again"; done
}
rows_on_shards() {
	echo $(( $(psql_on 1 $DB "SELECT count(*) FROM t") + $(psql_on 2 $DB "SELECT count(*) FROM t") ))
}

expect_rc 0 "$P" apply --yes --until copy "$W/plan.yaml"
crash_shards
expect_eq "$(rows_on_shards)" 5000 "rows on the shards after a crash right after the copy"

# manual cutover: the apply keeps streaming (and confirming the slot) until asked
"$P" apply --yes "$W/plan.yaml" >"$W/apply.log" 2>&1 & APPLY=$!
for _ in $(seq 1 300); do grep -q "manual mode: streaming" "$W/apply.log" && break; sleep 0.1; done
grep -q "manual mode: streaming" "$W/apply.log" || { cat "$W/apply.log" >&2; fail "the apply did not reach the cutover"; }
for i in $(seq 1 40); do
	psql_on 0 $DB "INSERT INTO t SELECT g, 'new' FROM generate_series(5001 + ($i - 1) * 50, 5000 + $i * 50) g;
		UPDATE t SET v = 'changed $i' WHERE id = $i" >/dev/null
done
end=$(psql_on 0 $DB "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 300); do
	[ "$(psql_on 0 $DB "SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'pgreshard_durabletest'")" = t ] && break
	sleep 0.1
done
# the slot is confirmed past every change: the runner and both shards die at once
kill -9 $APPLY; wait $APPLY 2>/dev/null
crash_shards
expect_eq "$(rows_on_shards)" 7000 "rows on the shards after a crash once the stream confirmed them"
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
echo "test_durable: ok"
