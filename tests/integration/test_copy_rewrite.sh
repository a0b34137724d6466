# test_copy_rewrite.sh — the source's table rewritten while the copy runs
# (runner/copy/copy_rewrite.c).
#
# `ALTER TABLE ... ALTER COLUMN ... TYPE` rewrites a table, and a transaction
# whose snapshot is older then sees it empty: before 0.8.0 the chunks read
# after the ALTER were copied with no rows and recorded done (an apply left
# 20,136 of 60,000 rows on the shards, and succeeded).  Here a table of 12
# chunks (copied two at a time, slowly) is rewritten mid-copy by an ALTER
# COLUMN TYPE under a write workload, a second table by a TRUNCATE and
# refill; then a uuid-keyed table read by shared scans is rewritten
# mid-copy to a numeric of a larger scale with a USING that is not the cast
# (amounts scaled by 10, as a change of unit would), and rows updated right
# after.  The copy must notice, go on under a new snapshot (the rewritten
# tables in text format) and name the column whose type the shards do not
# have yet; the stream must follow the type and make the column's values
# the source's (rows copied before the ALTER hold the unscaled amounts, rows
# copied after it lost the third decimal to the old type), and the move
# must end exact with no repair: per shard, the rows PostgreSQL's hash
# partitioning puts there, with the new column types.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=rewritetest
W=$(mktemp -d)
WL=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2
psql_on 0 $DB "CREATE SCHEMA rw;
	CREATE TABLE rw.orders (id bigint PRIMARY KEY, qty int NOT NULL, note text);
	INSERT INTO rw.orders SELECT g, g % 1000, repeat('n', g % 40) FROM generate_series(1, 60000) g;
	CREATE TABLE rw.tags (id int PRIMARY KEY, tag text);
	INSERT INTO rw.tags SELECT g, 'tag ' || g FROM generate_series(1, 20000) g;
	CREATE TABLE rw.sessions (id uuid PRIMARY KEY, n int, v numeric(10, 2));
	INSERT INTO rw.sessions SELECT gen_random_uuid(), g, g / 7.0 FROM generate_series(1, 40000) g;
	ANALYZE;
	CREATE PUBLICATION pub FOR TABLE rw.orders, rw.tags, rw.sessions" >/dev/null
export SRC S0 S1
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: rewritetest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}"] }
tables:
  rw.orders: { key: id }
  rw.tags: { key: id }
  rw.sessions: { key: id }
copy: { jobs: 2, chunk_rows: 5000, scan_pass_size: 0 }
cutover: { reverse: false }
YAML

workload() {
	local i=0
	while [ ! -e "$W/stop" ]; do
		i=$((i + 1))
		psql -X -q -d "$SRC" -c "INSERT INTO rw.orders VALUES (100000 + $i, $i, 'new');
			UPDATE rw.orders SET note = 'upd $i' WHERE id = $i * 37 % 60000 + 1;
			DELETE FROM rw.orders WHERE id = $i * 53 % 60000 + 1" >/dev/null 2>&1
		sleep 0.02
	done
}
done_chunks() { psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done WHERE table_index = $1" 2>/dev/null || echo 0; }

workload &
WL=$!
PGRESHARD_TEST_CHUNK_DELAY_MS=300 "$P" apply --yes --until copy "$W/plan.yaml" >"$W/copy1.out" 2>"$W/copy1.log" &
APPLY=$!
for _ in $(seq 1 400); do [ "$(done_chunks 0)" -ge 3 ] && break; sleep 0.05; done
psql_on 0 $DB "ALTER TABLE rw.orders ALTER COLUMN qty TYPE bigint" >/dev/null
for _ in $(seq 1 400); do [ "$(done_chunks 1)" -ge 1 ] && break; sleep 0.05; done
psql_on 0 $DB "BEGIN; TRUNCATE rw.tags; INSERT INTO rw.tags SELECT g, 'again ' || g FROM generate_series(1, 15000) g; COMMIT" >/dev/null
wait $APPLY || { cat "$W/copy1.log" >&2; fail "the copy under a rewrite"; }
grep -q "table rw.orders was rewritten or truncated on the source after the copy's snapshot" "$W/copy1.log" ||
	{ cat "$W/copy1.log" >&2; fail "the rewrite of rw.orders is noticed"; }
# the TRUNCATE is noticed when it lands under a snapshot still reading rw.tags;
# when it lands between two snapshots the later one reads the new rows: either
# way the end must be exact (checked below)
if grep -q "table rw.tags was rewritten or truncated" "$W/copy1.log"; then
	echo "the truncate of rw.tags landed under a snapshot and was noticed"
else
	echo "the truncate of rw.tags landed before the new snapshot"
fi
grep -q "copy: taking a new snapshot" "$W/copy1.log" || fail "a new snapshot"
expect_not_contains "$(cat "$W/copy1.log")" "error: "

# shared scans of a uuid key, rewritten between two groups (copy.scan_pass_size
# 0: passes of copy.jobs chunks, not the one pass the default gives this table)
expect_rc 0 "$P" cleanup --drop-data "$W/plan.yaml"
PGRESHARD_COPY_SHARED_SCAN=on PGRESHARD_TEST_CHUNK_DELAY_MS=400 "$P" apply --yes --until copy "$W/plan.yaml" \
	>"$W/copy2.out" 2>"$W/copy2.log" &
APPLY=$!
for _ in $(seq 1 400); do [ "$(done_chunks 2)" -ge 1 ] && break; sleep 0.05; done
psql_on 0 $DB "ALTER TABLE rw.sessions ALTER COLUMN v TYPE numeric(12, 3) USING v * 10" >/dev/null
# a change after it: the stream learns the new type from it (and follows it on the shards)
psql_on 0 $DB "UPDATE rw.sessions SET v = v + 0.001 WHERE n <= 10" >/dev/null
wait $APPLY || { cat "$W/copy2.log" >&2; fail "the shared-scan copy under a rewrite"; }
grep -q "table rw.sessions was rewritten or truncated" "$W/copy2.log" ||
	{ cat "$W/copy2.log" >&2; fail "the rewrite of rw.sessions is noticed"; }

grep -q "table rw.sessions: the source changed the type of v (numeric(12,3) on the source, numeric(10,2) on the shards)" \
	"$W/copy2.log" || { cat "$W/copy2.log" >&2; fail "the retyped column is named"; }

# the stream follows the new column types and fills the retyped column from
# the source (the USING's values, and the third decimal the old type rounded
# off rows copied after the ALTER): the end is exact without a repair
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" 'table rw.sessions: column "v" retyped on the shards and made the source'"'"'s, row by row (40000 row(s) read once'
echo "stream: $(printf '%s\n' "$ERR" | grep -o 'column "v" retyped.*changed on the shards')"
changed=$(printf '%s\n' "$ERR" | sed -n 's/.*read once, \([0-9]*\) changed on the shards.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
# every row copied before the ALTER held the unscaled amount
[ "$changed" -gt 0 ] || fail "the retyped column's values were made the source's"
touch "$W/stop"
wait $WL
WL=
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
for t in rw.orders rw.tags rw.sessions; do
	compare_tables $DB "$t" 0 "1 2" || fail "rows of $t"
done
check_placement $DB rw.orders "id bigint" id 2 1 2 || fail "placement of rw.orders"
check_placement $DB rw.sessions "id uuid" id 2 1 2 || fail "placement of rw.sessions"
for c in 1 2; do
	expect_eq "$(psql_on $c $DB "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'rw.orders'::regclass AND attname = 'qty'")" bigint "qty's type on cluster $c"
done
# a verify whose table is rewritten under it stops and says so (it would
# otherwise see the table empty and report every later row missing); run
# again, it resumes and matches
PGRESHARD_TEST_VERIFY_DELAY_MS=300 "$P" verify "$W/plan.yaml" >"$W/v1.out" 2>"$W/v1.err" &
VPID=$!
for _ in $(seq 1 400); do
	[ "$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.verify_chunks WHERE table_index = 0" 2>/dev/null || echo 0)" -ge 2 ] && break
	sleep 0.05
done
# (a table the verify has not read yet: those it read it holds locks on)
psql_on 0 $DB "VACUUM FULL rw.sessions" >/dev/null
wait $VPID
vrc=$?
[ "$vrc" != 0 ] || { cat "$W/v1.out" "$W/v1.err" >&2; fail "a verify under a rewrite exits 0"; }
grep -q "verify: table rw.sessions was rewritten or truncated on source after the verify's snapshot" "$W/v1.err" ||
	{ cat "$W/v1.out" "$W/v1.err" >&2; fail "the verify names the rewrite"; }
expect_not_contains "$(cat "$W/v1.out")" "missing"
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
echo "ok: $(psql_on 0 $DB "SELECT count(*) FROM rw.orders") orders, $(psql_on 0 $DB "SELECT count(*) FROM rw.tags") tags"
