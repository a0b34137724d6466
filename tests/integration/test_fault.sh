# test_fault.sh — the fault matrix: a whole move (apply to the end, cutover
# included) under a write workload, on clusters that run synchronous_commit = off
# with fsync on, while the runner is SIGKILLed at random moments and the source
# and every shard are stopped abruptly (pg_ctl stop -m immediate) and started
# again at random moments; apply is simply run again after each.  The end must be
# exact by an oracle that does not use pgreshard: count and sum of row hashes per
# table on the source against the shards, placement by satisfies_hash_partition,
# and no replication slot left anywhere.
#
#   FAULT_SEED=N    replay a run (the seed is printed at the start)
#   FAULT_RUNS=N    whole moves, each on fresh databases (default 1)
#   FAULT_FAULTS=N  faults injected per move (default 6)
#   FAULT_FREEZE=M  the cutover's freeze mode, lock or read_only (default: at random per move)
#
# The short default runs in `make test`; `make fault` runs the long version.
# Prints one summary line: runs, kills by step, crashes by server, result.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
source "$(dirname "$0")/../lib/reshard_checks.sh"
P=$PGRESHARD
SEED=${FAULT_SEED:-$(( $(date +%s%N) % 1000000007 ))}
RUNS=${FAULT_RUNS:-1}
FAULTS=${FAULT_FAULTS:-6}
echo "test_fault: seed $SEED (replay with FAULT_SEED=$SEED), $RUNS run(s), $FAULTS fault(s) each"
RANDOM=$SEED
DB=faulttest
W=$(mktemp -d)
WRITER= APPLY=
cp "$PGRESHARD" "$W/pgreshard" && P=$W/pgreshard	# a rebuild meanwhile does not touch this run

# clusters of our own, crash-safe, on ports the suite's clusters do not use
export PGR_FSYNC=on
PGR_PORT_BASE=$(( ${PGR_PORT_BASE:-$((20000 + ($$ % 2000) * 16))} + 8 ))
unset PGR_TEST_ROOT
clusters_start 4 >/dev/null || fail "cannot start crash-safe clusters"
# acknowledged commits stay unflushed for up to a second on the shards (the default
# 200 ms makes a crash that loses one rare): what a slow disk would do
for c in 1 2 3; do
	psql_on $c postgres "ALTER SYSTEM SET wal_writer_delay = '1s'" -c "SELECT pg_reload_conf()" >/dev/null
done
cleanup_all() {
	[ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null
	[ -n "$APPLY" ] && kill -9 "$APPLY" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$W"
	clusters_stop
}
trap cleanup_all EXIT

export SRC S0 S1 S2
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB) S2=$(dsn 3 $DB)
write_plan() {	# FREEZE
	cat >"$W/plan.yaml" <<YAML
version: 1
name: faulttest
source: { dsn: "\${SRC}", publication: pub }
destination: { shards: ["\${S0}", "\${S1}", "\${S2}"] }
tables:
  public.items: { key: id }
  public.orders: { key: customer_id }
  public.regions: { replicate: true }
copy: { jobs: 2 }
cutover: { reverse: false, mode: manual, freeze: $1, timeout_s: 30, max_lag_bytes: 100000000, switch_command: "sleep 1" }
YAML
}

setup_source() {
	for c in 0 1 2 3; do
		psql_on $c postgres "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
		psql_on $c postgres "CREATE DATABASE $DB" >/dev/null || return 1
	done
	psql_on 0 $DB "
		CREATE TABLE items (id bigint PRIMARY KEY, qty int NOT NULL, note text);
		CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric(12,2),
		                     big text);
		ALTER TABLE orders REPLICA IDENTITY FULL;
		CREATE TABLE regions (code int PRIMARY KEY, label text);
		INSERT INTO items SELECT g, g % 100, 'item ' || g FROM generate_series(1, 20000) g;
		INSERT INTO orders SELECT g, g % 997, g / 10.0,
		       CASE WHEN g % 50 = 0 THEN (SELECT string_agg(md5(g::text || i), '') FROM generate_series(1, 300) i) END
		  FROM generate_series(1, 20000) g;
		INSERT INTO regions SELECT g, 'region ' || g FROM generate_series(1, 20) g;
		CREATE PUBLICATION pub FOR TABLE items, orders, regions;" >/dev/null &&
	# the application's database exists before the move: durable before the
	# first crash (committed asynchronously, a crash within ~200 ms lost it)
	psql_on 0 $DB "CHECKPOINT" >/dev/null
}

# Small transactions of inserts, updates (some moving a row to another shard,
# some leaving a TOASTed value unchanged) and deletes; failures (a server down,
# the freeze, the guard after the cutover) are ignored.
writer() {
	local i=$1
	while :; do
		i=$((i + 1))
		psql -X -q -d "$SRC" -c "BEGIN;
			INSERT INTO items VALUES (100000 + $i, $i % 7, 'w') ON CONFLICT DO NOTHING;
			UPDATE items SET qty = qty + 1 WHERE id = 1 + ($i * 7919) % 20000;
			DELETE FROM items WHERE id = 1 + ($i * 104729) % 20000;
			UPDATE orders SET customer_id = customer_id + 1 WHERE id = 50 * (1 + ($i * 31) % 400);
			UPDATE orders SET amount = amount + 1 WHERE id = 1 + ($i * 613) % 20000;
			INSERT INTO orders VALUES (100000 + $i, $i % 997, 1, NULL) ON CONFLICT DO NOTHING;
			UPDATE regions SET label = 'r' || $i WHERE code = 1 + $i % 20;
			COMMIT" >/dev/null 2>&1 || sleep 0.2
	done
}

# The oracle: per table, count and sum of row hashes on the source against the
# shards (the union; a replicated table: each shard alone), placement, no slot.
digest() { psql_on "$1" $DB "SELECT count(*) || ' ' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM $2 t"; }
sum_digests() {
	local n=0 s=0 a b
	while read -r a b; do n=$((n + a)) s=$((s + b)); done
	echo "$n $s"
}
oracle() {
	local t src dst c
	for t in items orders; do
		src=$(digest 0 $t) || return 1
		dst=$(for c in 1 2 3; do digest $c $t; done | sum_digests)
		[ "$src" = "$dst" ] || { echo "oracle: $t: source $src, shards $dst" >&2; return 1; }
	done
	src=$(digest 0 regions)
	for c in 1 2 3; do
		[ "$(digest $c regions)" = "$src" ] || { echo "oracle: regions differs on cluster $c" >&2; return 1; }
	done
	check_placement $DB items "id bigint" id 3 1 2 3 || return 1
	check_placement $DB orders "customer_id bigint" customer_id 3 1 2 3 || return 1
	for c in 0 1 2 3; do
		[ "$(psql_on $c postgres "SELECT count(*) FROM pg_replication_slots")" = 0 ] ||
			{ echo "oracle: a replication slot is left on cluster $c" >&2; return 1; }
	done
}

# The step the journal shows running (shard 0 may be down: "?").
running_step() {
	local has
	has=$(psql_on 1 $DB "SELECT to_regclass('pgreshard.steps') IS NOT NULL" 2>/dev/null) || { echo "?"; return; }
	[ "$has" = t ] || { echo preflight; return; }
	psql_on 1 $DB "SELECT coalesce((SELECT step || CASE WHEN step <> 'cutover' THEN ''
		WHEN EXISTS (SELECT FROM pgreshard.cutovers WHERE plan_name = 'faulttest' AND outcome = 'running')
		THEN '(freeze)' ELSE '(streaming)' END FROM pgreshard.steps WHERE plan_name = 'faulttest'
		AND state = 'running' LIMIT 1), 'between-steps')" 2>/dev/null || echo "?"
}

# Wait for the apply (at most 300 s: a hang fails the test); its exit code.
wait_apply() {
	local i
	for ((i = 0; i < 3000; i++)); do
		kill -0 "$APPLY" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$APPLY" 2>/dev/null; then
		kill -9 "$APPLY"
		tail -30 "$W/apply.log" >&2
		fail "an apply hung for 300 s (seed $SEED)"
	fi
	wait "$APPLY"
}

start_apply() {
	ATTEMPTS=$((ATTEMPTS + 1))
	[ $ATTEMPTS -le $((RUNS * (FAULTS + 20))) ] ||
		{ tail -40 "$W/apply.log" >&2; fail "run $run: no progress after $ATTEMPTS applies (seed $SEED)"; }
	PGRESHARD_TEST_CHUNK_DELAY_MS=150 PGRESHARD_TEST_VERIFY_DELAY_MS=400 \
		"$P" apply --yes "$W/plan.yaml" >>"$W/apply.log" 2>&1 & APPLY=$!
}

# One fault: SIGKILL the runner, or stop a server abruptly and start it again.
inject() {
	local step c
	step=$(running_step)
	if [ $((RANDOM % 2)) -eq 0 ]; then
		kill -9 $APPLY 2>/dev/null; wait $APPLY 2>/dev/null; APPLY=
		KILLS[$step]=$(( ${KILLS[$step]:-0} + 1 ))
		echo "run $run: SIGKILL during $step" >>"$W/apply.log"
	else
		c=$((RANDOM % 4))
		cluster_crash $c
		CRASHES[$c]=$(( ${CRASHES[$c]:-0} + 1 ))
		echo "run $run: cluster $c stopped abruptly during $step" >>"$W/apply.log"
		sleep "0.$((RANDOM % 10))"
		cluster_restart $c || fail "cluster $c does not start again"
	fi
}

# The cutover is manual: until it is asked for, the apply keeps streaming (and
# confirming the slot), so faults land in the stream as often as in the rest.
# It is asked for before the last 0-2 faults, which may then hit the freeze.
declare -A KILLS CRASHES
ATTEMPTS=0
for ((run = 1; run <= RUNS; run++)); do
	setup_source || fail "cannot set up run $run"
	freeze=lock; [ $((RANDOM % 2)) -eq 0 ] && freeze=read_only
	freeze=${FAULT_FREEZE:-$freeze}
	write_plan $freeze
	echo "run $run: freeze $freeze" >>"$W/apply.log"
	writer $((run * 1000000)) & WRITER=$!
	injected=0 requested=0 done=0 request_at=$((FAULTS - RANDOM % 3))
	while [ $injected -lt $FAULTS ] && [ $done -eq 0 ]; do
		[ $requested -eq 0 ] && [ $injected -ge $request_at ] &&
			"$P" cutover "$W/plan.yaml" >>"$W/apply.log" 2>&1 && requested=1
		[ -z "$APPLY" ] && start_apply
		sleep "$((RANDOM % 30 / 10)).$((RANDOM % 10))"
		if kill -0 $APPLY 2>/dev/null; then
			injected=$((injected + 1))
			inject
		else
			wait $APPLY; rc=$?; APPLY=
			[ $rc -eq 0 ] && done=1
		fi
	done
	while [ $requested -eq 0 ]; do
		"$P" cutover "$W/plan.yaml" >>"$W/apply.log" 2>&1 && requested=1 || sleep 1
	done
	while [ $done -eq 0 ]; do
		[ -z "$APPLY" ] && start_apply
		wait_apply; rc=$?; APPLY=
		[ $rc -eq 0 ] && done=1
	done
	kill $WRITER 2>/dev/null; wait $WRITER 2>/dev/null; WRITER=
	if ! oracle; then
		grep -E "run $run|error" "$W/apply.log" | tail -40 >&2
		fail "run $run (seed $SEED): the end is not exact"
	fi
	: >"$W/apply.log"
	echo "run $run: exact after $injected fault(s) (freeze: $freeze)"
done

kills="" crashes=""
for k in "${!KILLS[@]}"; do kills+="$k=${KILLS[$k]} "; done
for k in "${!CRASHES[@]}"; do crashes+="cluster$k=${CRASHES[$k]} "; done
echo "test_fault: seed $SEED: $RUNS run(s), $ATTEMPTS apply(s); kills by step: ${kills:-none}; crashes: ${crashes:-none}(0 = source); every run exact, no slot left"
