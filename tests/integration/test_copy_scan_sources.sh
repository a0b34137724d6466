# test_copy_scan_sources.sh — an interrupted shared scan of a table that
# several sources share (2 -> 2), cleared under a new snapshot
# (runner/copy/copy_scan.c).  With several sources a chunk is the same key
# range on every source, and a shard's rows do not say which source they
# came from, so the rows of one source's void rounds cannot be told from
# another source's rows in the same range: the table must be emptied on that
# shard and copied there again whole, never cleared by key range (which would
# delete the other source's rows, chunks already recorded done included).
# A uuid table split between two sources by parity, shared scans in rounds of
# 8 blocks; apply is killed -9 once source 0's chunks are all done on shard 0
# and rounds of source 1's first group committed (the same key ranges), with its snapshot keepers (as a restart of the sources
# would end them); the rerun must say it copies the table again whole, and
# the shards must hold exactly the union of the sources' rows.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=scansources
W=$(mktemp -d)
APPLY=
trap '[ -n "$APPLY" ] && kill -9 $APPLY 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 5 1 2
for c in 0 5; do
	psql_on $c $DB "CREATE TABLE accounts (id uuid PRIMARY KEY, owner text NOT NULL, balance numeric(12,2));
		INSERT INTO accounts SELECT md5('acct' || i)::uuid, 'owner ' || i, i / 7.0 FROM generate_series(1, 30000) i
			WHERE i % 2 = $((c == 0 ? 0 : 1));
		ANALYZE;
		CREATE PUBLICATION pub FOR TABLE accounts" >/dev/null
done
export A B S0 S1
A=$(dsn 0 $DB) B=$(dsn 5 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: scansources
source:
  shards: ["${A}", "${B}"]
  publication: pub
destination:
  shards: ["${S0}", "${S1}"]
tables:
  public.accounts: { key: id }
copy: { jobs: 2, chunk_rows: 2000, scan_passes: 2, scan_pass_size: 0 }
cutover: { reverse: false }
YAML
export PGRESHARD_COPY_SHARED_SCAN=on PGRESHARD_SCAN_ROUND_BLOCKS=8 PGRESHARD_TEST_CHUNK_DELAY_MS=150

marks() { echo $(( $(psql_on 1 $DB "SELECT count(*) FROM pgreshard.scan_progress" 2>/dev/null || echo 0)
	+ $(psql_on 2 $DB "SELECT count(*) FROM pgreshard.scan_progress" 2>/dev/null || echo 0) )); }
done_on_shard0() { psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done" 2>/dev/null || echo 0; }

"$P" apply --yes --until copy "$W/plan.yaml" >"$W/run1.log" 2>&1 &
APPLY=$!
# the workers take source 0's chunks first: once they are all done on shard 0,
# source 1's first group has rows in the same key ranges as those done chunks
n0=0
for ((i = 0; i < 600; i++)); do
	n0=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunk_plan WHERE source = 0" 2>/dev/null || echo 0)
	[ "$n0" -gt 0 ] && [ "$(done_on_shard0)" -ge "$n0" ] && break
	kill -0 $APPLY 2>/dev/null || break
	sleep 0.05
done
sleep 0.3
for ((i = 0; i < 600; i++)); do
	[ "$(marks)" -ge 1 ] && break
	kill -0 $APPLY 2>/dev/null || break
	sleep 0.05
done
kill -0 $APPLY 2>/dev/null || { cat "$W/run1.log" >&2; fail "the copy ended before the kill"; }
kill -9 $APPLY
wait $APPLY 2>/dev/null
APPLY=
before=$(done_on_shard0) m=$(marks)
kp=$(psql_on 1 $DB "SELECT keeper_pid FROM pgreshard.snapshot_keepers WHERE keeper_pid IS NOT NULL")
[ -n "$kp" ] || fail "no snapshot keeper was started"
kill -9 $kp
echo "killed with $before chunk(s) done on shard 0 and $m round mark(s); keepers $(echo $kp) killed"
[ "$before" -ge "$n0" ] && [ "$m" -ge 1 ] || fail "the kill missed: $before chunk(s) done (source 0 has $n0), $m mark(s)"

unset PGRESHARD_TEST_CHUNK_DELAY_MS
expect_rc 0 "$P" apply --yes --until copy "$W/plan.yaml"
expect_contains "$ERR" "the snapshot the last run kept is gone"
expect_contains "$ERR" "several sources share its key ranges, so its"
expect_contains "$ERR" "copied there again whole"
expect_eq "$(marks)" 0 "scan_progress rows left"

# the shards hold exactly the union of the sources' rows (a row lost or twice shows)
for c in 0 5; do psql_on $c $DB "SELECT id, owner, balance FROM accounts"; done | sort >"$W/src"
for c in 1 2; do psql_on $c $DB "SELECT id, owner, balance FROM accounts"; done | sort >"$W/dst"
expect_eq "$(wc -l <"$W/dst")" 30000 "rows on the shards"
cmp -s "$W/src" "$W/dst" || fail "the shards differ from the sources: $(diff "$W/src" "$W/dst" | head -5)"
check_placement $DB accounts "id uuid" id 2 1 2 || fail "placement of accounts"
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
echo "ok"
