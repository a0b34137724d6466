# test_copy_any_key.sh — chunks of any key (issue 16), 1 -> 4 under writes:
# sparse skewed bigint ids (split evenly; its chunk plan then turned into the
# pre-key form, integer lo/hi, which must still read), uuid, text under an ICU
# collation, varchar under "C", a composite key, a unique NOT NULL key without
# a primary key and a keyless table, six chunks each.  apply is killed -9
# mid-table seven times while a workload inserts, updates, re-keys (rows move
# between chunks and shards) and deletes, with two truncates between reruns;
# every rerun copies exactly the chunks not yet on every shard (a keyless
# table partly copied on a shard: all of its chunks there), the stream skips
# the changes the later chunks already hold (invariant 4), and every shard
# ends equal to the source.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=anykeytest
SQL="$(dirname "$0")/../sql"
W=$(mktemp -d)
WL=
trap 'kill $WL 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

# the source is cluster 5: this test's WAL must not raise cluster 0's average WAL
# rate, which test_wal_guard's plan estimate reads
fresh_db $DB 5 1 2 3 4
load_sql 5 $DB "$SQL/anykey_schema.sql"
export SRC S0 S1 S2 S3
SRC=$(dsn 5 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: anykey
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}", "${S3}"] }
tables:
  k.skew: { key: id }
  k.uu: { key: id }
  'k."Slugs"': { key: '"Slug"' }
  k.cslug: { key: slug }
  k.comp: { key: [tenant, name] }
  k.uniq: { key: code }
  k.nokey: { key: a }
copy: { jobs: 2, chunk_rows: 1000, keep_snapshot_s: 0, scan_pass_size: 0 }
YAML
# keep_snapshot_s 0: no keeper holds the snapshot across the kills, so each
# rerun copies under a new one and the stream must place the changes among
# chunks of several snapshots (test_copy_shared_scan covers the keeper)
TABLES=(k.skew k.uu 'k."Slugs"' k.cslug k.comp k.uniq k.nokey)

workload() {	# rounds FROM..TO
	local r
	for ((r = $1; r <= $2; r++)); do
		psql -X -q -v ON_ERROR_STOP=1 -v r=$r -d "$(dsn 5 $DB)" -f "$SQL/anykey_workload.sql" >/dev/null || return 1
		echo $r >"$W/round"
		sleep 0.05
	done
}
done_on_shard0() { psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done" 2>/dev/null || echo 0; }

# The chunks a rerun must copy: those missing on some shard; on a shard where a
# table split into block ranges is partly copied, all of that table's chunks.
expected_pending() {
	psql_on 1 $DB "SELECT table_index || ' ' || chunk || ' ' || coalesce(chunk_by, 'int') FROM pgreshard.chunk_plan" >"$W/plan.txt"
	for c in 1 2 3 4; do
		psql_on $c $DB "SELECT $c || ' ' || table_index || ' ' || chunk FROM pgreshard.chunks_done" 2>/dev/null
	done >"$W/done.txt"
	awk 'FNR == NR { plan[$1 " " $2] = $3; tbl[$1] = tbl[$1] " " $2; next }
		{ done[$1 " " $2 " " $3] = 1; any[$1 " " $2] = 1 }
		END {
			for (k in plan) for (s = 1; s <= 4; s++) if (!((s " " k) in done)) {
				split(k, p, " "); miss[s " " p[1]] = 1 }
			for (k in plan) {
				split(k, p, " "); need = 0
				for (s = 1; s <= 4; s++) {
					if (!((s " " k) in done)) need = 1
					if (plan[k] == "ctid" && ((s " " p[1]) in any) && ((s " " p[1]) in miss)) need = 1
				}
				n += need
			}
			print n + 0 }' "$W/plan.txt" "$W/done.txt"
}
reported() { sed -n 's/.*copy: \([0-9]*\) chunk(s) to copy.*/\1/p' "$1" | tail -1; }

workload 1 100000 &
WL=$!
# the chunk plan: several chunks for every table, bounds of each key's kind
export PGRESHARD_TEST_CHUNK_DELAY_MS=500
"$P" apply --yes --until copy "$W/plan.yaml" >"$W/run0.log" 2>&1 &
pid=$!
for ((i = 0; i < 300; i++)); do [ "$(done_on_shard0)" -ge 4 ] && break; sleep 0.1; done
kill -9 $pid 2>/dev/null || fail "apply ended before 4 chunks: $(tail -5 "$W/run0.log")"
wait $pid 2>/dev/null
expect_eq "$(psql_on 1 $DB "SELECT string_agg(DISTINCT table_index || ':' || chunk_by, ' ' ORDER BY table_index || ':' || chunk_by) FROM pgreshard.chunk_plan")" \
	"0:key 1:key 2:key 3:key 4:key 5:key 6:ctid" "chunking of every table"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FILTER (WHERE n < 3) FROM (SELECT count(*) n FROM pgreshard.chunk_plan GROUP BY table_index) c")" 0 "3+ chunks per table"
expect_eq "$(psql_on 1 $DB "SELECT key_cols::text || ' ' || key_colls::text FROM pgreshard.chunk_plan WHERE table_index = 2 LIMIT 1")" \
	'{Slug} {"\"pg_catalog\".\"en-US-x-icu\""}' "ICU key recorded"
# C.UTF-8 (the database's default, and the C.utf8 collation) orders as bytes here
expect_eq "$(psql_on 1 $DB "SELECT string_agg(key_colls::text, ' ' ORDER BY table_index) FROM pgreshard.chunk_plan WHERE chunk = (SELECT min(chunk) FROM pgreshard.chunk_plan c WHERE c.table_index = chunk_plan.table_index) AND table_index IN (4, 5)")" \
	'{NULL,"\"pg_catalog\".\"C\""} {"\"pg_catalog\".\"C\""}' "C.UTF-8 keys recorded as C"
expect_contains "$(cat "$W/run0.log")" 'table k.uniq: key column code is compared as under collation "C": its collation "pg_catalog"."C.utf8" orders as bytes'
# the skewed ids split evenly: boundaries are quantiles of the data, not of min..max
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunk_plan WHERE table_index = 0")" 6 "chunks of k.skew"
bounds=$(psql_on 1 $DB "SELECT string_agg(format('(%s::bigint, %s::bigint)', coalesce(lo_key[1], 'NULL'),
	coalesce(hi_key[1], 'NULL')), ', ') FROM pgreshard.chunk_plan WHERE table_index = 0")
# (rows the workload added or moved since are left out: ids <= 0 or >= 2e12)
expect_eq "$(psql_on 5 $DB "SELECT max(n) <= 1.3 * min(n) FROM (SELECT count(*) n FROM k.skew s, (VALUES $bounds) p(lo, hi)
	WHERE (p.lo IS NULL OR s.id >= p.lo) AND (p.hi IS NULL OR s.id < p.hi) AND s.id > 0 AND s.id < 2000000000000
	GROUP BY p.lo, p.hi) c")" t "k.skew chunks balanced: $bounds"
# a chunk plan written before key chunks (integer lo/hi, no chunk_by) still reads:
# k.skew's rows are turned into that form, and the copy and the stream follow them
psql_on 1 $DB "UPDATE pgreshard.chunk_plan SET lo = lo_key[1]::bigint, hi = hi_key[1]::bigint, chunk_by = NULL,
	key_cols = NULL, key_types = NULL, key_colls = NULL, lo_key = NULL, hi_key = NULL WHERE table_index = 0" >/dev/null
total=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunk_plan")
echo "chunk plan: $total chunks"

# kill -9 at several points, each rerun copying only what is missing
for at in 9 15 21 27 33 38; do
	want=$(expected_pending)
	"$P" apply --yes --until copy "$W/plan.yaml" >"$W/run$at.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 400; i++)); do
		[ -n "$(reported "$W/run$at.log")" ] && [ "$(done_on_shard0)" -ge $at ] && break
		grep -q "step copy: done" "$W/run$at.log" && break
		sleep 0.05
	done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	expect_eq "$(reported "$W/run$at.log")" "$want" "chunks the rerun copies (killed at $at)"
	echo "rerun copied from $want of $total chunks; killed with $(done_on_shard0) done on shard 0 (workload round $(cat "$W/round"))"
	# truncates between reruns: k.uniq (chunks 30-35) half copied before, half after
	# (the stream deletes only the rows outside the later chunks); k.nokey then recopied
	# whole after it (the stream leaves it alone)
	[ $at = 33 ] && psql_on 5 $DB "TRUNCATE k.uniq" >/dev/null
	[ $at = 38 ] && psql_on 5 $DB "TRUNCATE k.nokey" >/dev/null
done
unset PGRESHARD_TEST_CHUNK_DELAY_MS
want=$(expected_pending)
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
[ "$want" -gt 0 ] && expect_eq "$(reported <(echo "$ERR"))" "$want" "chunks the last rerun copies"
expect_contains "$ERR" "step stream: done"
echo "$ERR" >"$W/run_last.log"
# the stream placed older changes among the later chunks by the right rule
expect_contains "$ERR" 'table k.uu: '
expect_contains "$ERR" "rows placed by the key"
expect_contains "$ERR" "rows placed by the source's comparison"
kill -0 $WL 2>/dev/null || fail "the workload stopped early"
kill $WL 2>/dev/null
wait $WL 2>/dev/null
WL=
# a last round of writes, then the final catch-up
workload 900000 900002 || fail "workload"
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
for t in "${TABLES[@]}"; do
	compare_tables $DB "$t" 5 "1 2 3 4" || fail "content of $t"
done
check_placement $DB k.uu "id uuid" id 4 1 2 3 4 || fail "placement uu"
check_placement $DB 'k."Slugs"' '"Slug" text' '"Slug"' 4 1 2 3 4 || fail "placement Slugs"
check_placement $DB k.cslug "slug varchar" slug 4 1 2 3 4 || fail "placement cslug"
check_placement $DB k.comp "tenant int, name text" "tenant, name" 4 1 2 3 4 || fail "placement comp"
check_placement $DB k.uniq "code text" code 4 1 2 3 4 || fail "placement uniq"
check_placement $DB k.nokey "a bigint" a 4 1 2 3 4 || fail "placement nokey"
# keyed tables copied under several snapshots (the case invariant 4 covers);
# the keyless one, partly copied when killed, under one per shard
for c in 1 2 3 4; do
	psql_on $c $DB "SELECT table_index || ':' || count(DISTINCT snapshot_lsn) FROM pgreshard.chunks_done GROUP BY table_index ORDER BY table_index" | tr '\n' ' '
	echo "(snapshots per table on cluster $c)"
done
# (a kill can land a chunk or two late on a loaded machine, so a table may be
# copied by one run: at least four of the six)
several=$(psql_on 1 $DB "SELECT count(*) FROM (SELECT table_index FROM pgreshard.chunks_done WHERE table_index < 6 GROUP BY 1 HAVING count(DISTINCT snapshot_lsn) > 1) t")
[ "$several" -ge 4 ] || fail "only $several keyed table(s) copied under several snapshots"
for c in 1 2 3 4; do
	expect_eq "$(psql_on $c $DB "SELECT count(DISTINCT snapshot_lsn) FROM pgreshard.chunks_done WHERE table_index = 6")" 1 "keyless table, one snapshot on cluster $c"
done
grep -q "has no key to resume by" "$W"/run*.log || fail "the keyless table was never found partly copied"
echo "ok"
