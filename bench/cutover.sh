#!/usr/bin/env bash
# bench/cutover.sh — how long writes are held during the cutover, under a steady
# pgbench write workload (a few hundred transactions per second on the moved
# tables), over several runs; and how long `verify` takes on the same data
# compared with a plain SELECT count(*) over the same tables on both sides.
#
#   bash bench/cutover.sh [RUNS] [TPS]      (defaults: 5 runs, 300 tps)
#
# Prints each run's freeze (cutover.freeze_ms) and the median (target < 1 s),
# and verify seconds against count(*) seconds (target ratio <= 2).  Then, after
# each cutover, reverse replication: the rate at which a burst of changes made
# on the shards (every account updated once, 100,000 changes) drains back to
# the source, and the freeze of `pgreshard rollback` under the same write rate
# on the shards (rollbacks.freeze_ms; target median < 1 s).
set -uo pipefail
cd "$(dirname "$0")/.."
source tests/lib/clusters.sh
RUNS=${1:-5}
TPS=${2:-300}
P=${PGRESHARD:-./build/pgreshard}
PGBENCH=${PGBENCH:-$PG_BIN/pgbench}
W=$(mktemp -d)
AP=
trap '[ -n "$AP" ] && kill -9 $AP 2>/dev/null; rm -rf "$W"; clusters_stop' EXIT
clusters_start 5 >/dev/null

cat >"$W/workload.sql" <<'SQL'
\set aid random(1, 100000)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, :delta, CURRENT_TIMESTAMP);
END;
SQL
cat >"$W/shard_workload.sql" <<'SQL'
\set aid random(1, 100000)
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
SQL

# until the apply streams the shards back
wait_reverse() {
	for _ in $(seq 1 240); do
		[ "$(psql_on 1 bench "SELECT coalesce(reverse_state, '') FROM pgreshard.runs" 2>/dev/null)" = streaming ] && return 0
		sleep 0.25
	done
	echo "bench/cutover: reverse replication did not start" >&2
	exit 1
}

: >"$W/freeze"
: >"$W/rollback"
: >"$W/drain"
: >"$W/drain_ins"
# drain SQL: kill the apply, run SQL on every shard (100,000 changes in all),
# start the apply again and print the rate at which the changes reach the source
drain() {
	local c start
	kill -9 $AP; wait $AP 2>/dev/null
	for c in 1 2 3 4; do psql_on $c bench "${1//:shard/$((c - 1))}" >/dev/null || { echo "bench/cutover: the burst failed on cluster $c" >&2; exit 1; }; done
	for c in 1 2 3 4; do target[$c]=$(psql_on $c bench "SELECT pg_current_wal_lsn()"); done
	start=$(date +%s.%N)
	"$P" -q apply --yes "$W/plan.yaml" 2>>"$W/apply.log" &
	AP=$!
	for c in 1 2 3 4; do
		until [ "$(psql_on $c bench "SELECT coalesce(confirmed_flush_lsn >= '${target[$c]}', false) FROM pg_replication_slots
		                            WHERE slot_name = 'pgreshard_benchcutover_back'")" = t ]; do sleep 0.05; done
	done
	awk "BEGIN {printf \"%.0f\\n\", 100000 / ($(date +%s.%N) - $start)}"
}
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
	"$P" -q apply --yes "$W/plan.yaml" 2>>"$W/apply.log" &
	AP=$!
	wait_reverse
	kill $pgb 2>/dev/null; wait $pgb 2>/dev/null || true
	ms=$(psql_on 1 bench "SELECT freeze_ms FROM pgreshard.cutovers WHERE outcome = 'done'")
	[ -n "$ms" ] && echo "$ms" >>"$W/freeze"
	# reverse drain: a burst of 100,000 changes on the shards while no apply runs,
	# first updates (every account once), then inserts (100,000 history rows,
	# each on the shard its id hashes to, as a router would place them; each
	# INSERT also writes the source's row clock, see README)
	drain "UPDATE pgbench_accounts SET abalance = abalance + 1" >>"$W/drain"
	drain "CREATE TEMP TABLE h (id bigint) PARTITION BY HASH (id);
	       INSERT INTO pgbench_history (id, tid, bid, aid, delta, mtime)
	       SELECT g, 1, 1, g % 100000 + 1, 1, now() FROM generate_series($((run * 1000000)), $((run * 1000000 + 99999))) g
	       WHERE satisfies_hash_partition('h'::regclass, 4, :shard, g::bigint)" >>"$W/drain_ins"
	drain=$(tail -1 "$W/drain") drain_ins=$(tail -1 "$W/drain_ins")
	# the rollback, under writes on the shards at the same rate
	for c in 1 2 3 4; do
		"$PGBENCH" -n -c 1 -j 1 -R "$((TPS / 4))" -T 60 -f "$W/shard_workload.sql" "$(dsn $c bench)" >/dev/null 2>&1 &
		spgb[$c]=$!
	done
	sleep 3
	"$P" -q rollback "$W/plan.yaml" >/dev/null || true
	for c in 1 2 3 4; do kill ${spgb[$c]} 2>/dev/null; wait ${spgb[$c]} 2>/dev/null; done
	wait $AP 2>/dev/null
	AP=
	rms=$(psql_on 1 bench "SELECT freeze_ms FROM pgreshard.rollbacks WHERE outcome = 'done'")
	[ -n "$rms" ] && echo "$rms" >>"$W/rollback"
	echo "  run $run: cutover freeze ${ms:-failed} ms, reverse drain $drain updates/s, $drain_ins inserts/s, rollback freeze ${rms:-failed} ms"
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
sort -n "$W/rollback" | awk '{ x[NR] = $1 } END {
	printf "  rollback freeze (writes held on the shards) median %d ms, min %d ms, max %d ms over %d run(s)\n", x[int((NR + 1) / 2)], x[1], x[NR], NR }'
sort -n "$W/drain" | awk '{ x[NR] = $1 } END {
	printf "  reverse drain median %d updates/s (min %d, max %d) from 4 shards back to the source\n", x[int((NR + 1) / 2)], x[1], x[NR] }'
sort -n "$W/drain_ins" | awk '{ x[NR] = $1 } END {
	printf "  reverse drain median %d inserts/s (min %d, max %d), row clocks included\n", x[int((NR + 1) / 2)], x[1], x[NR] }'
