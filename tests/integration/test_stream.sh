# test_stream.sh — the stream step under a live write workload: inserts, updates
# that change keys under every replica identity (DEFAULT with the key inside and
# outside it, FULL, USING INDEX), deletes, updates of rows with TOASTed columns
# (also moving them), a truncate, a transaction larger than the decoding memory
# (streamed, with a rolled-back subtransaction), kill -9 at several points during
# the stream, and a shard restarted mid-stream.  At the end every shard equals the
# source: content and placement.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=streamtest
SQL="$(dirname "$0")/../sql"
W=$(mktemp -d)
trap 'kill $WL 2>/dev/null; rm -rf "$W"; _pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c2" -l "$PGR_TEST_ROOT/c2.log" -w start >/dev/null 2>&1; drop_db_everywhere $DB' EXIT
WL=

fresh_db $DB 0 1 2 3 4
psql_on 0 postgres "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'" >/dev/null
psql_on 0 postgres "SELECT pg_reload_conf()" >/dev/null
load_sql 0 $DB "$SQL/stream_schema.sql"
export SRC S0 S1 S2 S3
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: streamtest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}", "${S3}"] }
tables:
  s.accounts: { key: id }
  s.orders: { key: customer_id }
  s.full_t: { key: a }
  s.idx_t: { key: code }
  s.docs: { key: k }
  s.scratch: { key: id }
  s.countries: { replicate: true }
copy: { jobs: 2, chunk_rows: 1000 }
YAML

workload() {	# rounds FROM..TO of writes, one psql per round
	local r
	for ((r = $1; r <= $2; r++)); do
		psql -X -q -v ON_ERROR_STOP=1 -v r=$r -d "$(dsn 0 $DB)" -f "$SQL/stream_workload.sql" >/dev/null || return 1
		[ $r -eq 40 ] && psql_on 0 $DB "TRUNCATE s.scratch" >/dev/null
		sleep 0.05
	done
}
# this run reached the stream step (the step's state may still say "running" from a killed run)
stream_started() { for ((i = 0; i < 600; i++)); do grep -q 'step stream: starting' "$1" && break; sleep 0.05; done; }

# writes run during the copy and the stream
workload 1 80 &
WL=$!
# 1: killed during the copy
PGRESHARD_TEST_CHUNK_DELAY_MS=100 "$P" apply --yes --until stream "$W/plan.yaml" >"$W/a.log" 2>&1 &
pid=$!
for ((i = 0; i < 200; i++)); do [ "$(psql_on 1 $DB "SELECT count(*) FROM pgreshard.chunks_done" 2>/dev/null || echo 0)" -ge 2 ] && break; sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null
# 2, 3: killed during the stream
for pause in 0.3 1.0; do
	"$P" apply --yes --until stream "$W/plan.yaml" >"$W/b.log" 2>&1 &
	pid=$!
	stream_started "$W/b.log"
	sleep $pause
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	echo "killed during the stream after ${pause}s: $(psql_on 1 $DB "SELECT lsn FROM pgreshard.apply_progress" 2>/dev/null)"
done
wait $WL || fail "workload failed"
WL=

# a transaction bigger than logical_decoding_work_mem (streamed), with a rolled-back subtransaction
psql_on 0 $DB "BEGIN;
  INSERT INTO s.accounts SELECT g, g % 7, repeat('big', 20) FROM generate_series(500000, 530000) g;
  SAVEPOINT sp;
  INSERT INTO s.accounts SELECT g, 0, 'rolled back' FROM generate_series(600000, 610000) g;
  ROLLBACK TO SAVEPOINT sp;
  UPDATE s.accounts SET region = region + 1 WHERE id BETWEEN 500000 AND 510000;
  COMMIT;" >/dev/null
# a backlog, and a shard restarted while it is applied: the stream resumes by itself
psql_on 0 $DB "UPDATE s.accounts SET name = name || '!' WHERE id < 3000" >/dev/null
for ((r = 100; r < 130; r++)); do psql -X -q -v r=$r -d "$(dsn 0 $DB)" -f "$SQL/stream_workload.sql" >/dev/null; done
"$P" apply --yes --until stream "$W/plan.yaml" >"$W/c.log" 2>&1 &
pid=$!
stream_started "$W/c.log"
_pg_as "$PG_BIN/pg_ctl" -D "$PGR_TEST_ROOT/c2" -m fast -w restart >/dev/null
wait $pid
rc=$?
[ $rc -eq 0 ] || fail "apply --until stream across a shard restart exited $rc: $(tail -5 "$W/c.log")"
echo "shard restart: $(grep -c 'reconnecting' "$W/c.log") reconnect(s)"

# final catch-up, then everything equal
expect_rc 0 "$P" apply --yes --until stream "$W/plan.yaml"
for t in s.accounts s.orders s.full_t s.idx_t s.docs s.scratch; do
	compare_tables $DB "$t" 0 "1 2 3 4" || fail "content of $t"
done
for c in 1 2 3 4; do compare_tables $DB s.countries 0 "$c" || fail "replicated s.countries on $c"; done
check_placement $DB s.accounts "id bigint" id 4 1 2 3 4 || fail "placement accounts"
check_placement $DB s.orders "customer_id bigint" customer_id 4 1 2 3 4 || fail "placement orders"
check_placement $DB s.full_t "a int" a 4 1 2 3 4 || fail "placement full_t"
check_placement $DB s.idx_t "code text" code 4 1 2 3 4 || fail "placement idx_t"
check_placement $DB s.docs "k bigint" k 4 1 2 3 4 || fail "placement docs"
expect_eq "$(psql_on 0 $DB "SELECT count(*) FROM s.accounts WHERE id BETWEEN 600000 AND 610000")" 0 "rolled-back subtransaction"
# TOASTed bodies were never written as NULL or empty
expect_eq "$(for c in 1 2 3 4; do psql_on $c $DB "SELECT count(*) FROM s.docs WHERE body IS NULL OR body = ''"; done | awk '{s += $1} END {print s}')" 0 "TOAST bodies"
# the slot was confirmed past the changes (it keeps moving)
expect_eq "$(psql_on 0 $DB "SELECT confirmed_flush_lsn > '0/0' FROM pg_replication_slots WHERE slot_name = 'pgreshard_streamtest'")" t "slot confirmed"
