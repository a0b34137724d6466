#!/usr/bin/env bash
# bench/cutover.sh — how long writes are held during the cutover, under a steady
# pgbench write workload (a few hundred transactions per second on the moved
# tables), over several runs; and how long `verify` takes on the same data
# compared with a plain SELECT count(*) over the same tables on both sides.
#
#   bash bench/cutover.sh [RUNS] [TPS]      (defaults: 5 runs, 300 tps)
#
# Prints each run's freeze (cutover.freeze_ms) and the median (target < 1 s),
# and verify seconds against count(*) seconds (target ratio <= 2).
set -uo pipefail
cd "$(dirname "$0")/.."
source tests/lib/clusters.sh
RUNS=${1:-5}
TPS=${2:-300}
P=${PGRESHARD:-./build/pgreshard}
PGBENCH=${PGBENCH:-$PG_BIN/pgbench}
W=$(mktemp -d)
trap 'rm -rf "$W"; clusters_stop' EXIT
clusters_start 5 >/dev/null

cat >"$W/workload.sql" <<'SQL'
\set aid random(1, 100000)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, :delta, CURRENT_TIMESTAMP);
END;
SQL

: >"$W/freeze"
for run in $(seq 1 "$RUNS"); do
	fresh_db bench >/dev/null
	"$PGBENCH" -i -q -s 1 "$(dsn 0 bench)" >"$W/init.log" 2>&1 || { cat "$W/init.log" >&2; exit 1; }
	psql_on 0 bench "ALTER TABLE pgbench_history ADD COLUMN id bigserial PRIMARY KEY;
		CREATE PUBLICATION pub FOR TABLE pgbench_accounts, pgbench_history, pgbench_branches, pgbench_tellers" >/dev/null
	export SRC S0 S1 S2 S3
	SRC=$(dsn 0 bench) S0=$(dsn 1 bench) S1=$(dsn 2 bench) S2=$(dsn 3 bench) S3=$(dsn 4 bench)
	cat >"$W/plan.yaml" <<'YAML'
version: 1
name: benchcutover
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}", "${S3}"] }
tables:
  pgbench_accounts: { key: aid }
  pgbench_history: { key: id }
  pgbench_branches: { replicate: true }
  pgbench_tellers: { replicate: true }
cutover: { freeze: lock, timeout_s: 30 }
YAML
	"$P" -q apply --yes --until verify "$W/plan.yaml"
	"$PGBENCH" -n -c 4 -j 2 -R "$TPS" -T 60 -f "$W/workload.sql" "$(dsn 0 bench)" >"$W/pgbench.log" 2>&1 &
	pgb=$!
	sleep 3
	"$P" -q apply --yes "$W/plan.yaml" || true
	kill $pgb 2>/dev/null; wait $pgb 2>/dev/null || true
	ms=$(psql_on 1 bench "SELECT freeze_ms FROM pgreshard.cutovers WHERE outcome = 'done'")
	echo "  run $run: freeze ${ms:-failed} ms"
	[ -n "$ms" ] && echo "$ms" >>"$W/freeze"
	if [ "$run" -eq "$RUNS" ]; then
		# verify vs a plain count(*) over the same tables on both sides
		start=$(date +%s.%N)
		for c in 0 1 2 3 4; do
			psql_on $c bench "SELECT count(*) FROM pgbench_accounts; SELECT count(*) FROM pgbench_history;
				SELECT count(*) FROM pgbench_branches; SELECT count(*) FROM pgbench_tellers" >/dev/null
		done
		count_s=$(awk "BEGIN {print $(date +%s.%N) - $start}")
		start=$(date +%s.%N)
		"$P" -q verify "$W/plan.yaml" >/dev/null
		verify_s=$(awk "BEGIN {print $(date +%s.%N) - $start}")
	fi
done
sort -n "$W/freeze" | awk -v runs="$RUNS" -v tps="$TPS" -v c="$count_s" -v v="$verify_s" '
	{ x[NR] = $1 } END {
		printf "bench/cutover: %d run(s) under pgbench at %d tps, freeze: lock\n", runs, tps;
		printf "  freeze (writes held) median %d ms, min %d ms, max %d ms over %d successful run(s)\n", x[int((NR + 1) / 2)], x[1], x[NR], NR;
		printf "  verify %.2f s vs count(*) on both sides %.2f s: ratio %.2f (target <= 2)\n", v, c, v / c }'
