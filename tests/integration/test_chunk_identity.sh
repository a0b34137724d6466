# test_chunk_identity.sh — invariant 4 when a change does not carry the chunk
# key (issue 16's open question): an UPDATE or DELETE whose old-key tuple holds
# only the replica identity, and the identity is not the chunk key.
#   k.alt: chunked by its primary key (id) while the replica identity is the
#     primary key, then switched to REPLICA IDENTITY USING INDEX on another
#     unique key (code) mid-move: its DELETEs and UPDATEs then carry code
#     only.  The stream must not take such a change as "in a later chunk" on
#     a shard that holds the row in an earlier chunk (it did: the row stayed);
#     it asks the shard whether it holds the row outside the later chunks.
#   k.ri: REPLICA IDENTITY USING INDEX (code) from the start: the chunk key is
#     that index, so every change carries it.
# apply is killed -9 mid-copy (k.alt half copied), the identity changes, the
# workload keeps deleting, updating and re-keying rows in the early chunks, the
# rerun copies the rest under a newer snapshot; the end must be exact.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=chunkident
W=$(mktemp -d)
WL=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 5 1 2
psql_on 5 $DB "CREATE SCHEMA k;
	CREATE TABLE k.alt (id bigint PRIMARY KEY, code text NOT NULL UNIQUE, v int);
	CREATE TABLE k.ri (id bigint PRIMARY KEY, code text NOT NULL UNIQUE, v int);
	ALTER TABLE k.ri REPLICA IDENTITY USING INDEX ri_code_key;
	INSERT INTO k.alt SELECT i, md5('a' || i), i FROM generate_series(1, 6000) i;
	INSERT INTO k.ri SELECT i, md5('r' || i), i FROM generate_series(1, 6000) i;
	ANALYZE; CREATE PUBLICATION pub FOR TABLE k.alt, k.ri" >/dev/null
export SRC S0 S1
SRC=$(dsn 5 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: chunkident
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}"] }
tables:
  k.alt: { key: id }
  k.ri: { key: id }
copy: { jobs: 1, chunk_rows: 1000 }
YAML

workload() {
	local i=0 t
	while :; do
		i=$((i + 1))
		for t in alt ri; do
			psql_on 5 $DB "DELETE FROM k.$t WHERE id = 1 + ($i * 37) % 3000;
				UPDATE k.$t SET v = -v WHERE id IN (1 + ($i * 53) % 3000, 3001 + ($i * 53) % 3000);
				UPDATE k.$t SET code = md5(code) WHERE id = 1 + ($i * 71) % 3000;
				INSERT INTO k.$t VALUES (100000 + $i, md5('new$t' || $i), $i)" >/dev/null 2>&1
		done
		sleep 0.02
	done
}
done_on_shard0() { psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done" 2>/dev/null || echo 0; }

workload & WL=$!
PGRESHARD_TEST_CHUNK_DELAY_MS=700 "$P" apply --yes --until copy "$W/plan.yaml" >"$W/run1.log" 2>&1 &
pid=$!
for _ in $(seq 1 400); do [ "$(done_on_shard0)" -ge 3 ] && break; sleep 0.05; done
kill -9 $pid 2>/dev/null || fail "apply ended before 3 chunks: $(tail -5 "$W/run1.log")"
wait $pid 2>/dev/null
expect_eq "$(psql_on 1 $DB "SELECT string_agg(DISTINCT table_index || ':' || key_cols::text, ' ') FROM pgreshard.chunk_plan")" \
	"0:{id} 1:{code}" "chunk keys: the primary key for k.alt, the replica identity's index for k.ri"
expect_eq "$(psql_on 1 $DB "SELECT count(*) FILTER (WHERE table_index = 0) BETWEEN 1 AND 5 FROM pgreshard.chunks_done")" t \
	"k.alt partly copied"
# the identity changes: k.alt's DELETEs and UPDATEs now carry code, not id
psql_on 5 $DB "ALTER TABLE k.alt REPLICA IDENTITY USING INDEX alt_code_key" >/dev/null
sleep 3
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
expect_contains "$ERR" "table k.alt: "
sleep 1
kill $WL; wait $WL 2>/dev/null; WL=
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
for t in k.alt k.ri; do
	compare_tables $DB "$t" 5 "1 2" || fail "$t differs from the source"
done
expect_rc 0 "$P" verify "$W/plan.yaml"
expect_contains "$OUT" "source and shards match"
echo "test_chunk_identity: ok"
