# test_copy_scan_crash.sh — a shared scan's rounds (runner/copy/copy_scan.c)
# across crashes of the servers, not only of the runner.  Crash-safe clusters
# (fsync on, synchronous_commit = off, the shards' WAL writer slowed so that
# acknowledged commits stay unflushed for seconds), a uuid table and a text
# table of 8 chunks each, read by shared scans in one pass each (the default
# copy.scan_pass_size: a pass takes up to 8 GiB of a table), in rounds of 8
# blocks, copied 1 -> 2:
#   1. once rounds are committed, a shard and the runner die together
#      (pg_ctl stop -m immediate, kill -9): the shard loses the rounds it had
#      acknowledged but not flushed, each with its progress row; the keeper
#      still holds the snapshot, so the rerun goes on under it, from what the
#      shard really has;
#   2. once rounds are committed again, the source and the runner die
#      together: the keeper's transaction dies with the source, so the rerun
#      says the kept snapshot is gone, takes a new one and removes the rounds
#      of the old one from the shards before copying those groups again.
# Oracles: each chunk's rows on each shard equal its chunks_done row (before
# the stream), every shard equals the source's rows of its partition after the
# stream, no progress row, lease or keeper process is left.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=scancrash
W=$(mktemp -d)
APPLY=

crash_safe_clusters 3 || fail "cannot start crash-safe clusters"
trap '[ -n "$APPLY" ] && kill -9 $APPLY 2>/dev/null; rm -rf "$W"; clusters_stop' EXIT
slow_wal_writer 1 2 || fail "cannot slow the shards' WAL writer"
for c in 0 1 2; do psql_on $c postgres "CREATE DATABASE $DB" >/dev/null; done
psql_on 0 $DB "
CREATE TABLE sessions (id uuid PRIMARY KEY, user_id bigint NOT NULL, data jsonb, seen timestamptz NOT NULL);
CREATE TABLE docs (slug text COLLATE \"C\" PRIMARY KEY, title text, body text);
INSERT INTO sessions SELECT gen_random_uuid(), g % 977, jsonb_build_object('ua', 'agent ' || g), now() - g * interval '1 s'
  FROM generate_series(1, 20000) g;
INSERT INTO docs SELECT md5(g::text) || '-' || g, 'title ' || g, repeat('body ', 10 + g % 7) FROM generate_series(1, 20000) g;
ANALYZE;
CREATE PUBLICATION pub FOR TABLE sessions, docs" >/dev/null
export SRC S0 S1
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: scancrash
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}"] }
tables:
  public.sessions: { key: id }
  public.docs: { key: slug }
copy: { jobs: 2, chunk_rows: 2500 }
cutover: { reverse: false }
YAML
export PGRESHARD_COPY_SHARED_SCAN=on PGRESHARD_SCAN_ROUND_BLOCKS=8 PGRESHARD_TEST_CHUNK_DELAY_MS=200

marks() { echo $(( $(psql_on 1 $DB "SELECT count(*) FROM pgreshard.scan_progress" 2>/dev/null || echo 0)
	+ $(psql_on 2 $DB "SELECT count(*) FROM pgreshard.scan_progress" 2>/dev/null || echo 0) )); }
keeper_pids() { psql_on 1 $DB "SELECT keeper_pid FROM pgreshard.snapshot_keepers WHERE keeper_pid IS NOT NULL" 2>/dev/null; }
writes() {	# rows move between chunks and blocks while the copy runs
	psql_on 0 $DB "
UPDATE sessions SET seen = now(), id = gen_random_uuid() WHERE id IN (SELECT id FROM sessions ORDER BY random() LIMIT 40);
UPDATE docs SET body = body || ' edited' WHERE slug IN (SELECT slug FROM docs ORDER BY random() LIMIT 40);
DELETE FROM docs WHERE slug IN (SELECT slug FROM docs ORDER BY random() LIMIT 10);
INSERT INTO docs SELECT md5(random()::text), 'new', 'b' FROM generate_series(1, 10)" >/dev/null
}
done_rows() { psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done" 2>/dev/null || echo 0; }
# Start an apply; once at least $1 progress rows are committed and $2 chunks
# done on shard 0, kill it -9 together with cluster $3 (immediate stop), and
# start that cluster again.
crash_with() {
	"$P" apply --yes --until copy "$W/plan.yaml" >"$W/run$4.log" 2>&1 &
	APPLY=$!
	for ((i = 0; i < 600; i++)); do
		[ "$(done_rows)" -ge "$2" ] && break
		kill -0 $APPLY 2>/dev/null || break
		sleep 0.05
	done
	sleep 0.3	# a group just recorded on shard 0 is, on shard 1, within a commit
	for ((i = 0; i < 600; i++)); do
		[ "$(marks)" -ge "$1" ] && break
		kill -0 $APPLY 2>/dev/null || break
		sleep 0.05
	done
	kill -0 $APPLY 2>/dev/null || { cat "$W/run$4.log" >&2; fail "the apply ended before rounds were committed"; }
	kill -9 $APPLY
	cluster_crash "$3"
	wait $APPLY 2>/dev/null
	APPLY=
	cluster_restart "$3" || fail "cluster $3 does not start again"
}

writes
crash_with 3 0 1 1
echo "round marks after the shard's crash: $(marks); keeper: $(keeper_pids | tr '\n' ' ')"
writes
crash_with 2 $(( $(done_rows) + 4 )) 0 2
echo "round marks after the source's crash: $(marks); chunks done on shard 0: $(done_rows)"
writes
unset PGRESHARD_TEST_CHUNK_DELAY_MS
expect_rc 0 "$P" apply --yes --until copy "$W/plan.yaml"
echo "$ERR" >"$W/run3.log"
grep -q 'copying on under the snapshot the last run copied under' "$W/run2.log" ||
	fail "after the shard's crash the rerun did not go on under the kept snapshot: $(head -20 "$W/run2.log")"
expect_contains "$ERR" "the snapshot the last run kept is gone"
grep -q 'table public.sessions: its key is scattered over the table; 2 workers read up to 8 neighbouring chunks.*(8 chunk(s) to copy: 1 pass(es) over the table)' "$W"/run*.log ||
	fail "sessions not read in one pass: $(grep -h 'sessions: its key' "$W"/run*.log | head -1)"
expect_contains "$ERR" "of a shared scan interrupted under another snapshot; removed, the chunks are copied again"
expect_eq "$(marks)" 0 "scan_progress rows left"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.snapshot_keepers")" 0 "snapshot leases left"

# each chunk's rows on each shard are the rows it recorded
plan_rows=$(psql_on 1 $DB "SELECT string_agg(format('(%s, %s, %L::text[], %L::text[])', table_index, chunk,
	lo_key, hi_key), ', ') FROM pgreshard.chunk_plan")
for c in 1 2; do
	bad=$(psql_on $c $DB "
	WITH p (table_index, chunk, lo_key, hi_key) AS (VALUES $plan_rows)
	SELECT string_agg(format('table %s chunk %s: %s recorded, %s in its range', p.table_index, p.chunk, d.rows, x.n), '; ')
	FROM p JOIN pgreshard.chunks_done d USING (table_index, chunk)
	CROSS JOIN LATERAL (SELECT CASE p.table_index
		WHEN 0 THEN (SELECT count(*) FROM sessions WHERE (p.lo_key IS NULL OR id >= p.lo_key[1]::uuid)
			AND (p.hi_key IS NULL OR id < p.hi_key[1]::uuid))
		ELSE (SELECT count(*) FROM docs WHERE (p.lo_key IS NULL OR slug >= p.lo_key[1])
			AND (p.hi_key IS NULL OR slug < p.hi_key[1])) END AS n) x
	WHERE d.rows <> x.n")
	[ -z "$bad" ] || fail "cluster $c: chunks hold other rows than they recorded: $bad"
done
expect_eq "$(psql_on 1 $DB "SELECT count(DISTINCT chunk) FROM pgreshard.chunks_done WHERE table_index = 0")" \
	"$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunk_plan WHERE table_index = 0")" "sessions: every chunk done on shard 0"

writes
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
for t in sessions docs; do
	compare_tables $DB "$t" 0 "1 2" || fail "content of $t"
done
check_placement $DB sessions "id uuid" id 2 1 2 || fail "placement of sessions"
check_placement $DB docs "slug text" slug 2 1 2 || fail "placement of docs"
kpids=$(cat "$W"/run*.log | sed -n 's/.*is kept by process \([0-9]*\) for.*/\1/p' | sort -u)
[ "$(echo $kpids | wc -w)" -ge 2 ] || fail "expected two keepers (before and after the source's crash), found: $kpids"
sleep 2.5
for k in $kpids; do
	kill -0 "$k" 2>/dev/null && fail "keeper process $k still runs after the copy is done"
done
echo "ok"
