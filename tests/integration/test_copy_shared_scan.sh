# test_copy_shared_scan.sh — shared scans (runner/copy/copy_group.c) keep every
# row in its own chunk, and continue where a killed run stopped.  A uuid
# table, a text table under an ICU collation and a composite key (an integer
# with negative values, text under "C"), ~10 chunks each — the uuid and
# composite rows placed in their chunks by pgreshard itself
# (runner/copy/copy_bucket.c), the ICU slugs by the source's CASE (a binary
# search over the chunks' bounds) — are copied 1 -> 4 with copy.jobs 3 and
# copy.scan_passes 2 (9 chunks a table: groups of 5 and 4 chunks, each read
# together by 3 block ranges, each range in rounds of 8 blocks committed on
# every shard with the slice's progress, runner/copy/copy_scan.c) while a
# workload inserts, updates, re-keys (rows move between chunks and shards) and
# deletes; apply is killed -9 six times, at different points of the groups.
# After each of the first three kills the snapshot keeper
# (runner/prepare/snapshot_keeper.c) is killed too, as a source restart would
# end it: the rerun copies under a new snapshot, so the rounds committed under
# the old one must be removed from the shards first.  After the last three it
# lives: the rerun must go on under the same snapshot after the committed
# rounds.  Exact oracles:
#   - before the stream runs, on every shard, each chunk's rows (counted in its
#     key range on the shard) are exactly the rows its chunks_done row says it
#     wrote: a row sent with the wrong chunk shows up as a count off by one in
#     two chunks, a row lost or read twice at a group's edge or at a round's
#     edge (or left over from a void round) as well;
#   - after the stream, every shard holds exactly the source's rows of its
#     hash partition (multiset compare: a row copied twice is caught);
#   - when the copy is done, no progress row, lease or keeper process is left.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=sharedscantest
W=$(mktemp -d)
WL=
trap 'kill $WL 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 5 1 2 3 4
psql_on 5 $DB "
CREATE SCHEMA ss;
CREATE TABLE ss.uu (id uuid PRIMARY KEY, n int NOT NULL, v text);
CREATE TABLE ss.\"Slugs\" (\"Slug\" text COLLATE \"en-US-x-icu\" PRIMARY KEY, n int NOT NULL, v text);
CREATE TABLE ss.comp (tenant int, name text COLLATE \"C\", n int NOT NULL, v text, PRIMARY KEY (tenant, name));
INSERT INTO ss.uu SELECT gen_random_uuid(), g, 'v' || g FROM generate_series(1, 10000) g;
-- mixed case and accents: ICU order is not byte order
INSERT INTO ss.\"Slugs\" SELECT (ARRAY['a', 'B', 'é', 'Z', 'ä'])[1 + g % 5] || md5(g::text), g, 'v' || g
  FROM generate_series(1, 10000) g;
INSERT INTO ss.comp SELECT g % 5 - 2, (ARRAY['x', 'Y', 'é'])[1 + g % 3] || md5(g::text), g, 'v' || g
  FROM generate_series(1, 10000) g;
ANALYZE;
CREATE PUBLICATION pub FOR TABLE ss.uu, ss.\"Slugs\", ss.comp" >/dev/null
export SRC S0 S1 S2 S3
SRC=$(dsn 5 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: sharedscan
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}", "${S3}"] }
tables:
  ss.uu: { key: id }
  'ss."Slugs"': { key: '"Slug"' }
  ss.comp: { key: [tenant, name] }
copy: { jobs: 3, chunk_rows: 1000, scan_passes: 2, scan_pass_size: 0 }
YAML
# the tables here are in insertion order only by accident of a fresh load:
# the shared scan is forced rather than left to the key's statistics
export PGRESHARD_COPY_SHARED_SCAN=on

workload() {	# rounds FROM..TO: writes that move rows between chunks
	local r
	for ((r = $1; r <= $2; r++)); do
		psql_on 5 $DB "
INSERT INTO ss.uu SELECT gen_random_uuid(), g, 'w$r' FROM generate_series(1, 8) g;
UPDATE ss.uu SET v = v || 'u' WHERE id IN (SELECT id FROM ss.uu ORDER BY md5(id::text || '$r') LIMIT 8);
UPDATE ss.uu SET id = gen_random_uuid() WHERE id IN (SELECT id FROM ss.uu ORDER BY md5(id::text || '$r' || 'k') LIMIT 4);
DELETE FROM ss.uu WHERE id IN (SELECT id FROM ss.uu ORDER BY md5(id::text || '$r' || 'd') LIMIT 3);
INSERT INTO ss.\"Slugs\" SELECT (ARRAY['a', 'B', 'é', 'Z'])[1 + g % 4] || md5('$r-' || g), g, 'w' FROM generate_series(1, 8) g;
UPDATE ss.\"Slugs\" SET \"Slug\" = (ARRAY['Ä', 'b', 'z'])[1 + n % 3] || md5(\"Slug\")
  WHERE \"Slug\" IN (SELECT \"Slug\" FROM ss.\"Slugs\" ORDER BY md5(\"Slug\" || '$r' || 'k') LIMIT 4);
DELETE FROM ss.\"Slugs\" WHERE \"Slug\" IN (SELECT \"Slug\" FROM ss.\"Slugs\" ORDER BY md5(\"Slug\" || '$r' || 'd') LIMIT 3);
INSERT INTO ss.comp SELECT g % 5, 'n' || md5('$r-' || g), g, 'w' FROM generate_series(1, 8) g;
UPDATE ss.comp SET tenant = (tenant + 2) % 5, name = 'm' || md5(name)
  WHERE (tenant, name) IN (SELECT tenant, name FROM ss.comp ORDER BY md5(name || '$r' || 'k') LIMIT 4);
UPDATE ss.comp SET v = v || 'u' WHERE (tenant, name) IN (SELECT tenant, name FROM ss.comp ORDER BY md5(name || '$r') LIMIT 8);
DELETE FROM ss.comp WHERE (tenant, name) IN (SELECT tenant, name FROM ss.comp ORDER BY md5(name || '$r' || 'd') LIMIT 3)" >/dev/null || return 1
		echo $r >"$W/round"
		sleep 0.05
	done
}
done_on_shard0() { psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done" 2>/dev/null || echo 0; }

marks() {	# scan_progress rows on all shards
	local c n=0
	for c in 1 2 3 4; do n=$((n + $(psql_on $c $DB "SELECT count(*) FROM pgreshard.scan_progress" 2>/dev/null || echo 0))); done
	echo $n
}
keeper_pids() { psql_on 1 $DB "SELECT keeper_pid FROM pgreshard.snapshot_keepers WHERE keeper_pid IS NOT NULL" 2>/dev/null; }

workload 1 100000 &
WL=$!
# a pause after each round's commit on the shards, so that kills land between
# rounds and between the shards of one round
export PGRESHARD_TEST_CHUNK_DELAY_MS=150 PGRESHARD_SCAN_ROUND_BLOCKS=4
n=0 partial=0 all_pids=
for at in 2 7 11 16 20 25; do
	n=$((n + 1))
	# the last run with fewer workers than the groups it continues have block ranges
	[ $n -eq 6 ] && sed -i 's/jobs: 3,/jobs: 2,/' "$W/plan.yaml"
	"$P" apply --yes --until copy "$W/plan.yaml" >"$W/run$n.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 400; i++)); do
		[ "$(done_on_shard0)" -ge $at ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	# then into the next group: some of its rounds committed
	for ((i = 0; i < 60; i++)); do
		[ "$(marks)" -gt 0 ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	sleep 0.$((RANDOM % 3))
	# the group may have ended during the pause (its marks become chunks):
	# into the next group's rounds again
	for ((i = 0; i < 60; i++)); do
		[ "$(marks)" -gt 0 ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	# a run that ended by itself must have finished the copy, not failed
	kill -0 $pid 2>/dev/null || grep -q "applied up to step copy" "$W/run$n.log" ||
		fail "run $n ended before its kill: $(grep -v '^  ' "$W/run$n.log" | tail -5)"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	m=$(marks)
	[ "$m" -gt 0 ] && partial=$((partial + 1))
	kp=$(keeper_pids | tr '\n' ' ')
	all_pids="$all_pids $kp"
	if [ $n -le 3 ] && [ -n "$kp" ]; then
		kill -9 $kp 2>/dev/null
		what="keeper $kp killed"
	else
		what="keeper $kp kept"
	fi
	echo "killed with $(done_on_shard0) chunk(s) done on shard 0 and $m round mark(s) on the shards, $what (workload round $(cat "$W/round"))"
	# status names the kept snapshot and its process
	if [ $n -eq 4 ] && [ -n "$kp" ]; then
		expect_rc 0 "$P" status "$W/plan.yaml"
		expect_contains "$OUT" "is kept by process ${kp%% *} on "
		expect_rc 0 "$P" status --json "$W/plan.yaml"
		expect_eq "$(echo "$OUT" | jq '.copy.snapshot_keepers[0].pid')" "${kp%% *}" "status --json: the keeper's pid"
		expect_rc 0 "$P" status --prometheus "$W/plan.yaml"
		expect_contains "$OUT" 'pgreshard_copy_snapshot_kept_seconds{plan="sharedscan",source="0"} '
	fi
done
unset PGRESHARD_TEST_CHUNK_DELAY_MS
expect_rc 0 "$P" apply --yes --until copy "$W/plan.yaml"
cat "$W"/run*.log >"$W/all.log"
echo "$ERR" >>"$W/all.log"
[ $partial -ge 4 ] || fail "only $partial kill(s) left rounds of a group committed: the kills missed"
# keeper lost: the rounds of the old snapshot removed; keeper alive: continued under it
grep -q 'of a shared scan interrupted under another snapshot; removed, the chunks are copied again' "$W/all.log" ||
	fail "no interrupted shared scan was cleared after its keeper was killed"
grep -q 'copying on under the snapshot the last run copied under' "$W/all.log" || fail "no rerun went on under the kept snapshot"
grep -q 'continuing the shared scan an earlier run began under the same snapshot' "$W/all.log" ||
	fail "no rerun continued a shared scan after its committed rounds"
grep -q 'continuing the shared scan an earlier run began under the same snapshot' "$W/run6.log" ||
	fail "the run with 2 workers did not continue the groups of 3 block ranges: $(grep copy: "$W/run6.log" | head -5)"
# nothing left behind: progress, leases, keeper processes
expect_eq "$(marks)" 0 "scan_progress rows left"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.snapshot_keepers")" 0 "snapshot leases left"
sleep 2.5
for k in $all_pids; do
	kill -0 "$k" 2>/dev/null && fail "keeper process $k still runs after the copy is done"
done
grep -q 'table ss.uu: its key is scattered' "$W/all.log" || fail "no shared scan of ss.uu: $(head -20 "$W/run2.log")"
grep -q 'table ss."Slugs": its key is scattered' "$W/all.log" || fail "no shared scan of ss.\"Slugs\""
# who places the rows in their chunks: pgreshard for uuid and (int, text under
# "C"), the source's CASE for a text key under ICU
grep -q 'table ss.uu: its key is scattered.*pgreshard places each row' "$W/all.log" || fail "ss.uu's rows not placed by pgreshard"
grep -q 'table ss.comp: its key is scattered.*pgreshard places each row' "$W/all.log" || fail "ss.comp's rows not placed by pgreshard"
grep -q 'table ss."Slugs": its key is scattered.*the source names' "$W/all.log" || fail "ss.\"Slugs\" not placed by the source"
# copy.scan_passes 2: 9 chunks in groups of 5 and 4, not 3 groups of 3
grep -q 'table ss.uu: its key is scattered over the table; 3 workers read up to 5 neighbouring chunks.*(9 chunk(s) to copy: 2 pass(es) over the table)' "$W/all.log" ||
	fail "ss.uu not read in 2 passes: $(grep 'ss.uu: its key' "$W/all.log" | head -1)"
total=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunk_plan")
[ "$total" -ge 24 ] || fail "expected ~10 chunks per table, the plan has $total"
# groups were split by the kills: some tables have chunks under several snapshots
# (on one shard, or a group done on some shards and copied again for the others)
several=$(for c in 1 2 3 4; do psql_on $c $DB "SELECT table_index || ' ' || snapshot_lsn FROM pgreshard.chunks_done"; done |
	sort -u | awk '{ print $1 }' | uniq -d | wc -l)
[ "$several" -ge 1 ] || fail "no table copied under several snapshots: the kills missed"

# oracle 1: each chunk's rows on each shard are the rows it recorded (the stream
# has not run: the shards hold only what the copy wrote)
plan_rows=$(psql_on 1 $DB "SELECT string_agg(format('(%s, %s, %L::text[], %L::text[])', table_index, chunk,
	lo_key, hi_key), ', ') FROM pgreshard.chunk_plan")
for c in 1 2 3 4; do
	bad=$(psql_on $c $DB "
	WITH p (table_index, chunk, lo_key, hi_key) AS (VALUES $plan_rows)
	SELECT string_agg(format('table %s chunk %s: %s recorded, %s in its range', p.table_index, p.chunk, d.rows, x.n), '; ')
	FROM p JOIN pgreshard.chunks_done d USING (table_index, chunk)
	CROSS JOIN LATERAL (SELECT CASE p.table_index
		WHEN 0 THEN (SELECT count(*) FROM ss.uu WHERE (p.lo_key IS NULL OR id >= p.lo_key[1]::uuid)
			AND (p.hi_key IS NULL OR id < p.hi_key[1]::uuid))
		WHEN 1 THEN (SELECT count(*) FROM ss.\"Slugs\" WHERE (p.lo_key IS NULL OR \"Slug\" >= p.lo_key[1])
			AND (p.hi_key IS NULL OR \"Slug\" < p.hi_key[1]))
		ELSE (SELECT count(*) FROM ss.comp WHERE (p.lo_key IS NULL OR (tenant, name) >= (p.lo_key[1]::int, p.lo_key[2]))
			AND (p.hi_key IS NULL OR (tenant, name) < (p.hi_key[1]::int, p.hi_key[2]))) END AS n) x
	WHERE d.rows <> x.n")
	[ -z "$bad" ] || fail "cluster $c: chunks hold rows of other chunks: $bad"
done
# the boundaries are keys of the data (sampled): rows equal to a bound exist
expect_eq "$(psql_on 5 $DB "SELECT count(*) > 0 FROM ss.uu WHERE id::text IN ($(psql_on 1 $DB "SELECT string_agg(quote_literal(lo_key[1]), ',') FROM pgreshard.chunk_plan WHERE table_index = 0 AND lo_key IS NOT NULL"))")" t "bound keys are rows"

# oracle 2: after the stream, each shard equals the source's rows of its partition
kill $WL 2>/dev/null
wait $WL 2>/dev/null
WL=
workload 900000 900001 || fail "workload"
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
for t in ss.uu 'ss."Slugs"' ss.comp; do
	compare_tables $DB "$t" 5 "1 2 3 4" || fail "content of $t"
done
check_placement $DB ss.uu "id uuid" id 4 1 2 3 4 || fail "placement uu"
check_placement $DB 'ss."Slugs"' '"Slug" text' '"Slug"' 4 1 2 3 4 || fail "placement Slugs"
check_placement $DB ss.comp "tenant int, name text" "tenant, name" 4 1 2 3 4 || fail "placement comp"
echo "ok"
