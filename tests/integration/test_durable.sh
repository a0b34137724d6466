# test_durable.sh — durable before confirmed (DESIGN.md invariant 3): shards that
# run synchronous_commit = off, and whose WAL writer is slowed down so that an
# acknowledged commit stays in memory for seconds, are stopped abruptly right after
# `apply --until copy` (copy journaled done) and right after `apply --until stream`
# (slot confirmed).  Nothing may be lost: the next apply's verify (exact) passes and
# the rows equal the source's.  Without the flush before "done" and the synchronous
# group commits, the last chunks and the last changes vanish with the crash.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=durabletest
W=$(mktemp -d)

export PGR_FSYNC=on
PGR_PORT_BASE=$(( ${PGR_PORT_BASE:-$((20000 + ($$ % 2000) * 16))} + 12 ))
unset PGR_TEST_ROOT
clusters_start 3 >/dev/null || fail "cannot start crash-safe clusters"
trap 'rm -rf "$W"; clusters_stop' EXIT
for c in 1 2; do	# acknowledged commits stay in the WAL buffers for up to 10 s
	psql_on $c postgres "ALTER SYSTEM SET wal_writer_delay = '10s'" -c "ALTER SYSTEM SET wal_writer_flush_after = 0" \
		-c "SELECT pg_reload_conf()" >/dev/null
done
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

expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
for i in $(seq 1 40); do
	psql_on 0 $DB "INSERT INTO t SELECT g, 'new' FROM generate_series(5001 + ($i - 1) * 50, 5000 + $i * 50) g;
		UPDATE t SET v = 'changed $i' WHERE id = $i" >/dev/null
done
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
crash_shards
expect_eq "$(rows_on_shards)" 7000 "rows on the shards after a crash right after the stream confirmed"
expect_rc 0 "$P" apply --yes --until verify "$W/plan.yaml"
expect_contains "$ERR" "source and shards match"
echo "test_durable: ok"
