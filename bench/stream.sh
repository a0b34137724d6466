#!/usr/bin/env bash
# bench/stream.sh — pgreshard's stream step (one slot on the source, every change routed
# to 1 of 4 shards) against native PostgreSQL logical replication doing the same job
# (4 publications with row filters on the key's hash, 4 subscriptions, so 4 slots that
# each decode the whole WAL), measured in the same run on the same machine.
#
#   bash bench/stream.sh [CHANGES]     (default 500000 row changes; BENCH_REPS=N runs, default 1)
#
# Each side gets the same schema, the same initial rows and the same backlog: CHANGES row
# changes (inserts, updates, key-moving updates, deletes) in transactions of 10-100 rows,
# written while its consumer is stopped.  Then the consumer is started and timed until it
# has applied everything committed before it started.  Prints the drain seconds (ratio
# pgreshard/native, target <= 1.0) and the CPU seconds the source's walsenders spent
# decoding (ratio, target <= 1/3), and fails unless every pgreshard shard holds the same
# rows (count, sum of id and of customer_id) as the matching native subscriber.
#
# Cluster 0 is the source, 1-4 the shards: database pgr for pgreshard, nat for native.
# Every sharding key lies inside its table's replica identity (items: the primary key;
# orders: REPLICA IDENTITY FULL), since native row filters refuse UPDATE/DELETE on a
# table whose filter column is outside its replica identity.  Native filters use
# PostgreSQL's own routing: shard = (hashint8extended(k, 0x7A5B22367996DCFD) +
# 0x49a0f4dd15e5a8e3) mod 2^64 mod 4 (hash_combine64(0, h)), i.e. (h & 3) = (shard + 1) % 4;
# checked against satisfies_hash_partition on every initial key before use.
set -euo pipefail
shopt -s inherit_errexit	# a failure inside $(ours) or $(native) stops the run
cd "$(dirname "$0")/.."
source tests/lib/clusters.sh
CHANGES=${1:-500000}
REPS=${BENCH_REPS:-1}
INIT=100000	# initial rows per table
W=$(mktemp -d)
cp "${PGRESHARD:-./build/pgreshard}" "$W/pgreshard"	# the same binary for every run
P=$W/pgreshard
SEED=8816678312871386365	# 0x7A5B22367996DCFD, PostgreSQL's hash-partition seed
shard_of() { echo "(((hashint8extended($1, $SEED) & 3) + 3) % 4)::int"; }
filter() { echo "(hashint8extended($1, $SEED) & 3) = $((($2 + 1) % 4))"; }
TICK=$(getconf CLK_TCK)
die() { echo "bench/stream: $*" >&2; rm -rf "$W"; exit 1; }

read -r LOAD _ </proc/loadavg	# anything else running makes the figures noisy: shown
clusters_start 5 >/dev/null
# no autovacuum anywhere: its exiting workers would be counted as pgreshard's CPU, and
# both sides' drains run undisturbed
for i in 0 1 2 3 4; do
	psql_on $i postgres "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null
	PMS[i]=$(head -1 "$PGR_TEST_ROOT/c$i/postmaster.pid")
done
PM=${PMS[0]}

SCHEMA="
CREATE TABLE items (id bigint PRIMARY KEY, customer_id bigint NOT NULL, sku text NOT NULL,
                    price numeric(12,2) NOT NULL, note text, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric(12,2) NOT NULL,
                     status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE orders REPLICA IDENTITY FULL;"
ROWS="
INSERT INTO items (id, customer_id, sku, price, note)
  SELECT g, g % 10007, 'SKU-' || g, (g % 10000) / 100.0, md5(g::text) FROM generate_series(1, $INIT) g;
INSERT INTO orders (id, customer_id, amount, status)
  SELECT g, g % 10007, (g % 5000) / 10.0, 'new' FROM generate_series(1, $INIT) g;
ANALYZE;"

# The backlog, deterministic so both sides get the same one.  Transaction i touches m rows
# of each table (2m = 10..100): 40 % inserts of new ids at the tail, 20 % deletes at the
# head, 10 % key moves (items: id + 10^12; orders: customer_id + 1000003 — both change
# the shard 3 times in 4), 30 % plain updates somewhere in the live middle.  Every
# statement hits exactly the rows it aims at, so the count of changes is exact.
workload() {	# DB: prints the number of row changes written
	psql_on 0 "$1" "DO \$\$
DECLARE done bigint := 0; i bigint := 0; m int; ins int; del int; mov int; upd int;
        nid bigint := $INIT + 1; head bigint := 1; u bigint;
BEGIN
  WHILE done < $CHANGES LOOP
    i := i + 1;
    m := 5 + (i * 37) % 46;
    mov := m / 10; del := m / 5; upd := 3 * m / 10; ins := m - mov - del - upd;
    u := head + del + mov + (i * 7919) % ($INIT / 2);
    INSERT INTO items (id, customer_id, sku, price, note)
      SELECT g, g % 10007, 'SKU-' || g, (g % 10000) / 100.0, md5(g::text) FROM generate_series(nid, nid + ins - 1) g;
    INSERT INTO orders (id, customer_id, amount, status)
      SELECT g, g % 10007, (g % 5000) / 10.0, 'new' FROM generate_series(nid, nid + ins - 1) g;
    DELETE FROM items WHERE id >= head AND id < head + del;
    DELETE FROM orders WHERE id >= head AND id < head + del;
    UPDATE items SET id = id + 1000000000000, updated_at = now() WHERE id >= head + del AND id < head + del + mov;
    UPDATE orders SET customer_id = customer_id + 1000003, status = 'moved' WHERE id >= head + del AND id < head + del + mov;
    UPDATE items SET price = price + 1, updated_at = now() WHERE id >= u AND id < u + upd;
    UPDATE orders SET amount = amount + 1, status = 'paid' WHERE id >= u AND id < u + upd;
    nid := nid + ins; head := head + del + mov; done := done + 2 * m;
    COMMIT;
  END LOOP;
  PERFORM set_config('bench.changes', done::text, false);
END \$\$" -c "SELECT current_setting('bench.changes')" -c "CHECKPOINT"
}

walsender_pids() { pgrep -P "$PM" -f 'walsender' || true; }
proc_cpu() { awk -v t="$TICK" '{ s += $14 + $15 } END { print s / t }' "$@"; }	# seconds
# CPU ticks of the exited (reaped) children of the postmasters of clusters "$@".  pgreshard's
# walsender is gone when it exits, so its CPU is read here; this also counts its few short
# non-replication sessions on the source (preflight, catalog: ~0.1 s), nothing else runs there.
children_cpu() { for i in "$@"; do cat "/proc/${PMS[i]}/stat"; done | awk '{ s += $16 + $17 } END { print s }'; }

ours() {	# prints: changes, stream step s, apply wall s, walsender cpu s, pgreshard + shard backends cpu s
	fresh_db pgr 0 1 2 3 4 >/dev/null
	psql_on 0 pgr "$SCHEMA $ROWS CREATE PUBLICATION pub FOR TABLE items, orders;" >/dev/null
	export SRC S0 S1 S2 S3
	SRC=$(dsn 0 pgr) S0=$(dsn 1 pgr) S1=$(dsn 2 pgr) S2=$(dsn 3 pgr) S3=$(dsn 4 pgr)
	cat >"$W/plan.yaml" <<YAML
version: 1
name: benchstream
source: { dsn: "\${SRC}", publication: pub }
destination: { shards: ["\${S0}", "\${S1}", "\${S2}", "\${S3}"] }
tables:
  items: { key: id }
  orders: { key: customer_id }
copy: { jobs: 2, chunk_rows: 250000 }
YAML
	"$P" apply --yes --until copy "$W/plan.yaml" 2>"$W/copy.log" || { cat "$W/copy.log" >&2; die "apply --until copy failed"; }
	local n c0 c1 d0 d1 wall ucpu scpu step applied
	n=$(workload pgr)
	[ -z "$(walsender_pids)" ] || die "a walsender is running on the source before the stream step"
	c0=$(children_cpu 0) d0=$(children_cpu 1 2 3 4)
	/usr/bin/time -f "%e %U %S" -o "$W/time" "$P" apply --yes --until stream "$W/plan.yaml" 2>"$W/stream.log" ||
		{ cat "$W/stream.log" >&2; die "apply --until stream failed (log above)"; }
	for _ in $(seq 100); do	# until its backends are reaped (and so counted in cutime)
		[ -z "$(walsender_pids)$(for i in 1 2 3 4; do pgrep -P "${PMS[i]}" -f ' pgr ' || true; done)" ] && break
		sleep 0.1
	done
	c1=$(children_cpu 0) d1=$(children_cpu 1 2 3 4)
	read -r wall ucpu scpu <"$W/time"
	step=$(sed -n 's/.*step stream: done in \([0-9.]*\) s.*/\1/p' "$W/stream.log")
	applied=$(sed -n 's/.*stream caught up: .*, \([0-9]*\) change(s) applied.*/\1/p' "$W/stream.log")
	[ -n "$step" ] || { cat "$W/stream.log" >&2; die "no 'step stream: done in X s' in pgreshard's log"; }
	[ "$applied" = "$n" ] || echo "bench/stream: WARNING: pgreshard says it applied $applied changes, the workload wrote $n" >&2
	echo "$n $step $wall" \
		"$(awk "BEGIN { print ($c1 - $c0) / $TICK, $ucpu + $scpu + ($d1 - $d0) / $TICK }")"
}

native() {	# prints: changes, drain s, walsender cpu s, apply workers cpu s
	local k n t bad lsn start pids
	fresh_db nat 0 1 2 3 4 >/dev/null
	psql_on 0 nat "$SCHEMA $ROWS" >/dev/null
	bad=$(psql_on 0 nat "CREATE TEMP TABLE ph (k bigint) PARTITION BY HASH (k);
		SELECT count(*) FROM (SELECT id AS k FROM items UNION ALL SELECT customer_id FROM orders) s
		WHERE NOT satisfies_hash_partition('ph'::regclass, 4, $(shard_of k), k)")
	[ "$bad" = 0 ] || die "the row filter expression disagrees with PostgreSQL's hash partitioning on $bad keys"
	for k in 0 1 2 3; do
		psql_on 0 nat "CREATE PUBLICATION nat_p$k FOR TABLE items WHERE ($(filter id $k)),
		                                         orders WHERE ($(filter customer_id $k))"
		psql_on $((k + 1)) nat "$SCHEMA"
		for t in items orders; do	# the shard's share of the initial rows (copy_data = false below)
			psql -X -q -d "$(dsn 0 nat)" -c "COPY (SELECT * FROM $t WHERE $(filter "$([ $t = items ] && echo id || echo customer_id)" $k)) TO STDOUT" |
				psql -X -q -d "$(dsn $((k + 1)) nat)" -c "COPY $t FROM STDIN"
		done
		psql_on $((k + 1)) nat "ANALYZE" -c "CREATE SUBSCRIPTION nat_s$k CONNECTION '$(dsn 0 nat)' PUBLICATION nat_p$k
			WITH (copy_data = false, create_slot = true, enabled = false)"
	done >/dev/null
	n=$(workload nat)
	lsn=$(psql_on 0 nat "SELECT pg_current_wal_lsn()")
	start=$(date +%s.%N)
	for k in 0 1 2 3; do psql_on $((k + 1)) nat "ALTER SUBSCRIPTION nat_s$k ENABLE"; done
	psql_on 0 nat "DO \$\$ BEGIN
		WHILE (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'nat\\_s_'
		       AND confirmed_flush_lsn >= '$lsn') < 4 LOOP PERFORM pg_sleep(0.02); END LOOP; END \$\$"
	echo -n "$n $(awk "BEGIN { print $(date +%s.%N) - $start }") "
	pids=$(psql_on 0 nat "SELECT pid FROM pg_stat_replication WHERE application_name LIKE 'nat\\_s_'")
	[ "$(wc -w <<<"$pids")" = 4 ] || die "expected 4 native walsenders, found: $pids"
	echo -n "$(proc_cpu $(printf '/proc/%s/stat ' $pids)) "
	proc_cpu $(for k in 1 2 3 4; do psql_on $k nat "SELECT '/proc/' || pid || '/stat' FROM pg_stat_subscription"; done)
}

check() {	# each pgreshard shard holds the same rows as its native subscriber
	local k t q a b rows fail=0
	for t in items orders; do
		q="SELECT count(*) || ' ' || coalesce(sum(id), 0) || ' ' || coalesce(sum(customer_id), 0) FROM $t"
		rows=
		for k in 0 1 2 3; do
			a=$(psql_on $((k + 1)) pgr "$q") b=$(psql_on $((k + 1)) nat "$q")
			[ "$a" = "$b" ] || { echo "bench/stream: MISMATCH $t shard $k: pgreshard '$a', native '$b' (count sum(id) sum(customer_id))" >&2; fail=1; }
			rows+="${rows:+ / }${a%% *}"
		done
		echo "    $t rows per shard: $rows" >&2
		a=$(psql_on 0 pgr "SELECT count(*) FROM $t")
		b=$(for k in 1 2 3 4; do psql_on $k pgr "SELECT count(*) FROM $t"; done | awk '{ s += $1 } END { print s }')
		[ "$a" = "$b" ] || { echo "bench/stream: MISMATCH $t: $a rows on the source, $b on pgreshard's shards" >&2; fail=1; }
	done
	[ $fail = 0 ] || die "pgreshard's shards and the native subscribers disagree (see above)"
	for k in 0 1 2 3; do psql_on $((k + 1)) nat "DROP SUBSCRIPTION nat_s$k" >/dev/null; done
}

: >"$W/results"
for ((rep = 1; rep <= REPS; rep++)); do
	r=$(ours) || exit 1
	read -r n1 step wall wcpu pcpu <<<"$r"
	r=$(native) || exit 1
	read -r n2 nat ncpu acpu <<<"$r"
	[ "$n1" = "$n2" ] || die "the two sides got different workloads ($n1 and $n2 changes)"
	echo "  run $rep: $n1 changes; pgreshard stream step $step s (apply $wall s), native $nat s;" \
		"walsender CPU $wcpu s vs $ncpu s" >&2
	check
	echo "$n1 $step $wall $nat $wcpu $ncpu $pcpu $acpu" >>"$W/results"
done
awk -v reps="$REPS" -v load="$LOAD" '
	function median(x, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t } return x[int((n + 1) / 2)] }
	{ n = $1; s[NR] = $2; a[NR] = $3; d[NR] = $4; w[NR] = $5; c[NR] = $6; p[NR] = $7; q[NR] = $8; rd[NR] = $2 / $4; rc[NR] = $5 / $6 }
	END {
		printf "bench/stream: %d row changes, 1 -> 4 shards, median of %d run(s), load average at start %s\n", n, reps, load;
		printf "  native logical replication, 4 filtered subscriptions, drain:  %7.2f s\n", median(d, NR);
		printf "  pgreshard stream step (apply --until stream: %.2f s), drain:   %7.2f s   ratio %.2f (target <= 1.0)\n", median(a, NR), median(s, NR), median(rd, NR);
		printf "  source walsender CPU, native (4 slots):                       %7.2f s\n", median(c, NR);
		printf "  source walsender CPU, pgreshard (1 slot):                     %7.2f s   ratio %.2f (target <= 0.33)\n", median(w, NR), median(rc, NR);
		printf "  apply CPU, native (4 apply workers):                          %7.2f s\n", median(q, NR);
		printf "  apply CPU, pgreshard (its process + its shard backends):      %7.2f s\n", median(p, NR);
		printf "  rows per shard: pgreshard = native, every table and shard\n" }' "$W/results"
rm -rf "$W"
