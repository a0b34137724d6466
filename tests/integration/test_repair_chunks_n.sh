# test_repair_chunks_n.sh — verify and repair at chunk granularity with
# several sources (issue 16), 2 -> 3.
#
# A uuid-keyed table split between two sources (the old layout: by parity of
# a column, so each source holds a random half of the key space) and a
# replicated table.  The second source's chunk plan takes the first's key
# ranges, so chunk c is the same range on both: verify compares chunk by
# chunk and repair re-copies only the differing chunks, from both sources,
# only on the shards where they differ, while both sources keep writing.
# A chunk of the replicated table is re-copied from source 0 alone.  The
# stream then skips, per source, the changes the re-copied chunks already
# hold (invariant 4), and the end is exact: the union of the sources equals
# the union of the shards, row by row, and every row is on its shard.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=repairntest
W=$(mktemp -d)
WRITER=
trap '[ -n "$WRITER" ] && kill $WRITER 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 5 1 2 3
schema="CREATE SCHEMA k;
	CREATE TABLE k.big (id uuid PRIMARY KEY, n int NOT NULL, payload text);
	CREATE TABLE k.ref (code text PRIMARY KEY, label text);
	CREATE PUBLICATION pub FOR TABLE k.big, k.ref;"
for c in 0 5; do
	psql_on $c $DB "$schema
		INSERT INTO k.big SELECT md5('row' || i)::uuid, i, repeat('x', i % 50) FROM generate_series(1, 40000) i
			WHERE i % 2 = $((c == 0 ? 0 : 1));
		INSERT INTO k.ref SELECT 'c' || i, 'label ' || i FROM generate_series(1, 5000) i;
		ANALYZE" >/dev/null
done
export A B S0 S1 S2
A=$(dsn 0 $DB) B=$(dsn 5 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: repairn
source:
  shards: ["${A}", "${B}"]
  publication: pub
destination:
  shards: ["${S0}", "${S1}", "${S2}"]
tables:
  k.big: { key: id }
  k.ref: { replicate: true }
copy: { jobs: 2, chunk_rows: 2000 }
cutover: { reverse: false }
YAML
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
N=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunk_plan WHERE table_index = 0 AND source = 0")
[ "$N" -ge 6 ] || fail "expected about ten chunks of k.big per source, got $N"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM (SELECT chunk FROM pgreshard.chunk_plan WHERE table_index = 0
	GROUP BY chunk, lo_key, hi_key HAVING count(*) = 2) x")" "$N" "source 1's chunks of k.big are source 0's key ranges"
R=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunk_plan WHERE table_index = 1")
[ "$R" -ge 2 ] || fail "expected several chunks of the replicated k.ref, got $R"
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
expect_contains "$ERR" "table k.big: $N of $N chunk(s) compared"

# --- rows of both sources tampered with on two shards ----------------------------
chunk_of() {	# UUID -> 1-based chunk of k.big
	psql_on 1 $DB "SELECT chunk + 1 FROM pgreshard.chunk_plan WHERE table_index = 0 AND source = 0
		AND (lo_key IS NULL OR '$1'::uuid >= lo_key[1]::uuid) AND (hi_key IS NULL OR '$1'::uuid < hi_key[1]::uuid)"
}
UA=$(psql_on 0 $DB "SELECT id FROM k.big WHERE n = 12346")	# source 0's row
UB=$(psql_on 5 $DB "SELECT id FROM k.big WHERE n = 2001")	# source 1's row
SA=$("$P" shard-of "$W/plan.yaml" k.big "$UA" --type uuid)
SB=$("$P" shard-of "$W/plan.yaml" k.big "$UB" --type uuid)
CA=$(chunk_of "$UA") CB=$(chunk_of "$UB")
[ "$CA" != "$CB" ] || { UB=$(psql_on 5 $DB "SELECT id FROM k.big WHERE n = 2003"); SB=$("$P" shard-of "$W/plan.yaml" k.big "$UB" --type uuid); CB=$(chunk_of "$UB"); }
[ "$CA" != "$CB" ] || fail "pick rows of two chunks"
psql_on $((SA + 1)) $DB "UPDATE k.big SET payload = 'tampered' WHERE id = '$UA'" >/dev/null
psql_on $((SB + 1)) $DB "DELETE FROM k.big WHERE id = '$UB'" >/dev/null
RS=$(psql_on 1 $DB "SELECT chunk + 1 FROM pgreshard.chunk_plan WHERE table_index = 1 AND source = 0
	AND (lo_key IS NULL OR 'c777' >= lo_key[1]) AND (hi_key IS NULL OR 'c777' < hi_key[1])")
psql_on 3 $DB "UPDATE k.ref SET label = 'wrong' WHERE code = 'c777'" >/dev/null
expect_rc 4 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "chunk $CA of $N of k.big differs on shard $SA"
expect_contains "$OUT" "chunk $CB of $N of k.big differs on shard $SB"
expect_contains "$OUT" "chunk $RS of $R of k.ref differs on shard 2"

# --- repair, under writes on both sources ------------------------------------------
records() {
	for c in 1 2 3; do
		psql_on $c $DB "SELECT '$c:' || source || ':' || table_index || ':' || chunk || ':' || snapshot_lsn
			FROM pgreshard.chunks_done ORDER BY 1"
	done
}
records >"$W/before.txt"
writer() {
	local i=0 c
	while :; do
		i=$((i + 1))
		for c in 0 5; do
			psql_on $c $DB "INSERT INTO k.big VALUES (md5('new' || $c || '-' || $i)::uuid, -$i, 'new');
				UPDATE k.big SET payload = 'upd $i' WHERE n IN ($i * 7 % 40000, $i * 13 % 40000);
				UPDATE k.big SET id = md5('moved' || $c || '-' || $i)::uuid WHERE n = $i * 11 % 40000 + 1;
				DELETE FROM k.big WHERE n = $i * 17 % 40000 + 2;
				UPDATE k.ref SET label = 'w' || $i WHERE code = 'c' || ($i % 5000 + 1)" >/dev/null 2>&1
		done
		sleep 0.02
	done
}
writer & WRITER=$!
sleep 1
expect_rc 0 "$P" repair "$W/plan.yaml"
expect_contains "$OUT" "3 chunk(s) of 2 table(s) copied again"
expect_contains "$ERR" "table k.big, chunk $CA of $N differs on shard $SA: re-copying that chunk there"
expect_contains "$ERR" "table k.big, chunk $CB of $N differs on shard $SB: re-copying that chunk there"
# k.big's two chunks from each source, k.ref's from source 0
expect_contains "$ERR" "copy: 5 chunk(s) to copy"
records >"$W/after.txt"
changed=$(diff "$W/before.txt" "$W/after.txt" | grep '^>' | sed 's/^> //; s/:[^:]*$//' | sort | tr '\n' ' ')
want=$(printf '%s\n' "$((SA + 1)):0:0:$((CA - 1))" "$((SA + 1)):1:0:$((CA - 1))" "$((SB + 1)):0:0:$((CB - 1))" \
	"$((SB + 1)):1:0:$((CB - 1))" "3:0:1:$((RS - 1))" | sort | tr '\n' ' ')
expect_eq "$changed" "$want" "chunk records re-written by the repair (shard:source:table:chunk)"
sleep 1
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
sleep 1
kill $WRITER; wait $WRITER 2>/dev/null; WRITER=
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
diff <( (for c in 0 5; do psql_on $c $DB "COPY (SELECT t::text FROM k.big t) TO STDOUT"; done) | LC_ALL=C sort) \
	<( (for s in 1 2 3; do psql_on $s $DB "COPY (SELECT t::text FROM k.big t) TO STDOUT"; done) | LC_ALL=C sort) >"$W/diff" ||
	{ head -20 "$W/diff" >&2; fail "k.big differs between the 2 sources and the 3 shards"; }
check_placement $DB k.big "id uuid" id 3 1 2 3 || fail "placement of k.big"
for s in 1 2 3; do compare_tables $DB k.ref 0 "$s" || fail "replicated k.ref on cluster $s"; done
echo "test_repair_chunks_n: ok ($N chunks per source)"
