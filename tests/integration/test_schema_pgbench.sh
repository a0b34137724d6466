# test_schema_pgbench.sh — pgbench's own schema (pgbench -i) resharded 1->4
# while pgbench's built-in TPC-B-like workload runs against the source until
# the cutover refuses it.  pgbench_history has no primary key and no replica
# identity: it is insert-only and already published, so the plan warns
# instead of refusing.  The oracle: every table compared with the source
# (accounts and history as the union of the shards, tellers and branches on
# every shard), placement by aid, and pgbench's own invariant — the balances
# of accounts, tellers and branches each sum to the sum of history's deltas.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
DB=pgbenchtest
W=$(mktemp -d)
WL=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2 3 4
"$PG_BIN/pgbench" -i -q -s 2 -d "$(dsn 0 $DB)" >/dev/null 2>&1 || fail "pgbench -i"
psql_on 0 $DB "CREATE PUBLICATION bench_pub FOR TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history" >/dev/null
export SRC S0 S1 S2 S3
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB) S3=$(dsn 4 $DB)
plan_1to4 pgbenchtest bench_pub "  pgbench_accounts: { key: aid }
  pgbench_history: { key: aid }
  pgbench_tellers: { replicate: true }
  pgbench_branches: { replicate: true }" "copy: { chunk_rows: 50000 }
cutover: { reverse: false, verify: true, timeout_s: 60 }" >"$W/plan.yaml"
expect_rc 0 "$P" plan "$W/plan.yaml"
expect_contains "$OUT" "warning public.pgbench_history: no replica identity: the table is already published"
expect_not_contains "$OUT" "ERROR"

"$PG_BIN/pgbench" -n -c 2 -j 1 -R 150 -T 600 -d "$(dsn 0 $DB)" >"$W/pgbench.log" 2>&1 &
WL=$!
sleep 2
expect_rc 0 "$P" apply --yes "$W/plan.yaml"
expect_contains "$ERR" "cutover: done"
sleep 1
kill $WL 2>/dev/null
wait $WL 2>/dev/null
WL=
echo "history rows written by pgbench: $(psql_on 0 $DB "SELECT count(*) FROM pgbench_history")"
[ "$(psql_on 0 $DB "SELECT count(*) FROM pgbench_history")" -gt 0 ] || fail "pgbench wrote nothing"

for t in pgbench_accounts pgbench_history; do
	compare_tables $DB $t 0 "1 2 3 4" || fail "content of $t"
	check_placement $DB $t "aid int" aid 4 1 2 3 4 || fail "placement of $t"
done
for t in pgbench_tellers pgbench_branches; do
	for s in 1 2 3 4; do compare_tables $DB $t 0 "$s" || fail "replicated $t on cluster $s"; done
done
check_schema_objects $DB public 0 "1 2 3 4" 'pgreshard_moved' || fail "schema objects"
deltas=0 balances=0
for s in 1 2 3 4; do
	deltas=$((deltas + $(psql_on $s $DB "SELECT coalesce(sum(delta), 0) FROM pgbench_history")))
	balances=$((balances + $(psql_on $s $DB "SELECT sum(abalance) FROM pgbench_accounts")))
done
expect_eq "$balances" "$deltas" "sum of account balances over the shards vs history deltas"
expect_eq "$(psql_on 3 $DB "SELECT sum(tbalance) FROM pgbench_tellers")" "$deltas" "tellers' balances on a shard"
expect_eq "$(psql_on 4 $DB "SELECT sum(bbalance) FROM pgbench_branches")" "$deltas" "branches' balances on a shard"
