# test_verify_chunks.sh — verify and repair at the copy's chunk granularity
# (issue 16): a uuid-keyed table of ten key-range chunks, moved 1 -> 3.  An
# exact verify compares it chunk by chunk; one killed -9 mid-table resumes at
# the next chunk it had not compared (not at the start of the table).  A row
# tampered with on one shard is named with its chunk; `pgreshard repair`,
# while the source keeps writing, re-copies that one chunk on that one shard
# (every other chunk record untouched, the copy reports one chunk), the stream
# skips the changes the re-copied chunk already holds (invariant 4), and the
# end is exact, row by row.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=verifychunks
W=$(mktemp -d)
WRITER=
trap '[ -n "$WRITER" ] && kill $WRITER 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

# the source is cluster 5 (cluster 0's WAL rate is read by test_wal_guard)
fresh_db $DB 5 1 2 3
psql_on 5 $DB "CREATE SCHEMA k;
	CREATE TABLE k.big (id uuid PRIMARY KEY, n int NOT NULL, payload text);
	INSERT INTO k.big SELECT md5('row' || i)::uuid, i, repeat('x', i % 50) FROM generate_series(1, 30000) i;
	CREATE TABLE k.small (id int PRIMARY KEY, v text);
	INSERT INTO k.small SELECT i, 'v' || i FROM generate_series(1, 100) i;
	ANALYZE; CREATE PUBLICATION pub FOR TABLE k.big, k.small" >/dev/null
export SRC S0 S1 S2
SRC=$(dsn 5 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: verifychunks
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}"] }
tables:
  k.big: { key: id }
  k.small: { key: id }
copy: { jobs: 2, chunk_rows: 3000 }
YAML
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
N=$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunk_plan WHERE table_index = 0")
[ "$N" -ge 8 ] || fail "expected about ten chunks of k.big, got $N"
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
expect_contains "$ERR" "table k.big: $N of $N chunk(s) compared"

# --- a verify killed -9 mid-table resumes at the next chunk ----------------------
chunks_recorded() { psql_on 1 $DB "SELECT count(DISTINCT chunk) FROM pgreshard.verify_chunks WHERE table_index = 0" 2>/dev/null || echo 0; }
PGRESHARD_TEST_VERIFY_DELAY_MS=400 "$P" verify "$W/plan.yaml" >"$W/v1.out" 2>"$W/v1.err" &
VPID=$!
for _ in $(seq 1 300); do
	[ "$(chunks_recorded)" -ge 3 ] && break
	sleep 0.05
done
kill -9 $VPID 2>/dev/null; wait $VPID 2>/dev/null
done_before=$(chunks_recorded)
[ "$done_before" -ge 3 ] && [ "$done_before" -lt "$N" ] || fail "expected the killed verify to be mid-table, it recorded $done_before of $N chunks"
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
expect_contains "$ERR" "table k.big: $done_before of $N chunk(s) were compared by an interrupted verify"
expect_contains "$ERR" "table k.big: $((N - done_before)) of $N chunk(s) compared"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.verify_chunks")" 0 "progress cleared by a finished verify"
echo "verify resumed after $done_before of $N chunks"

# --- one row tampered with on one shard: verify names its chunk --------------------
U=$(psql_on 5 $DB "SELECT id FROM k.big WHERE n = 12345")
S=$("$P" shard-of "$W/plan.yaml" k.big "$U" --type uuid)
C=$(psql_on 1 $DB "SELECT chunk + 1 FROM pgreshard.chunk_plan WHERE table_index = 0
	AND (lo_key IS NULL OR '$U'::uuid >= lo_key[1]::uuid) AND (hi_key IS NULL OR '$U'::uuid < hi_key[1]::uuid)")
psql_on $((S + 1)) $DB "UPDATE k.big SET payload = 'tampered' WHERE id = '$U'" >/dev/null
expect_rc 4 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "different k.big on shard $S (chunk $C of $N): key ($U)"
expect_contains "$OUT" "chunk $C of $N of k.big differs on shard $S: 1 row(s)"
expect_eq "$(printf '%s\n' "$OUT" | grep -c "^  chunk .* differs")" 1 "one differing chunk"

# --- repair re-copies that chunk on that shard only, under writes -----------------
for c in 1 2 3; do
	psql_on $c $DB "SELECT table_index || ':' || chunk || ':' || snapshot_lsn FROM pgreshard.chunks_done ORDER BY 1"
done >"$W/before.txt"
writer() {
	local i=0
	while :; do
		i=$((i + 1))
		psql_on 5 $DB "INSERT INTO k.big VALUES (md5('new' || $i)::uuid, -$i, 'new');
			UPDATE k.big SET payload = 'upd $i' WHERE n IN ($i * 7 % 30000, $i * 13 % 30000);
			UPDATE k.big SET id = md5('moved' || $i)::uuid WHERE n = $i * 11 % 30000 + 1;
			DELETE FROM k.big WHERE n = $i * 17 % 30000 + 2;
			UPDATE k.small SET v = 'w' || $i WHERE id = $i % 100 + 1" >/dev/null 2>&1
		sleep 0.02
	done
}
writer & WRITER=$!
sleep 1
expect_rc 0 "$P" repair "$W/plan.yaml"
expect_contains "$OUT" "1 chunk(s) of 1 table(s) copied again"
expect_contains "$ERR" "table k.big, chunk $C of $N differs on shard $S: re-copying that chunk there"
expect_contains "$ERR" "copy: 1 chunk(s) to copy"
for c in 1 2 3; do
	psql_on $c $DB "SELECT table_index || ':' || chunk || ':' || snapshot_lsn FROM pgreshard.chunks_done ORDER BY 1"
done >"$W/after.txt"
changed=$(diff "$W/before.txt" "$W/after.txt" | grep -c '^>')
expect_eq "$changed" 1 "chunk records re-written by the repair"
diff "$W/before.txt" "$W/after.txt" | grep -q "^> 0:$((C - 1)):" || fail "the re-copied chunk is not chunk $C: $(diff "$W/before.txt" "$W/after.txt")"
expect_eq "$(psql_on $((S + 1)) $DB "SELECT count(*) FROM pgreshard.chunks_done WHERE table_index = 0 AND chunk = $((C - 1))
	AND snapshot_lsn > (SELECT min(snapshot_lsn) FROM pgreshard.chunks_done)")" 1 "the chunk has the repair's newer snapshot on shard $S"
sleep 1
# the stream resumes: the re-copied chunk's older changes skipped, later ones applied
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" "table k.big: 1 chunk(s) copied after the slot's snapshot"
sleep 1
kill $WRITER; wait $WRITER 2>/dev/null; WRITER=
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
for t in k.big k.small; do
	compare_tables $DB "$t" 5 "1 2 3" || fail "$t differs from the source"
done
echo "test_verify_chunks: ok"
