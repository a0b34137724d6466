#!/usr/bin/env bash
# bench/copy.sh — pgreshard's copy (1 -> 4 shards, rows routed in flight) against a
# plain `psql COPY TO STDOUT | psql COPY FROM STDIN` pipe of the same tables into
# one database, measured in the same run on the same machine.
#
#   bash bench/copy.sh [ROWS]      (default 2000000 rows in the main table)
#
# Prints seconds for each, the ratio pgreshard/pipe (lower is better; target
# <= 1.0) and pgreshard's peak resident memory (target < 64 MiB).  Each run
# also copies with a Lua route hook (the same hash, called from Lua for every
# row, `reads:` the key) and reports its throughput against the built-in hash
# (target >= 0.5).
#
# Then chunks of any key (issue 16): tables of ROWS rows each, keyed by a dense
# bigint, a uuid, a text slug and sparse skewed bigint ids, each copied alone
# (jobs 4, 8 chunks), throughput of each against the dense table in the same
# round (target >= 0.9); the dense and uuid tables with jobs 1 against jobs 4;
# peak memory; and the uuid table killed -9 halfway, the rerun's share of it
# (target <= 0.6).  BENCH_COPY_PARTS="pipe keys" (default) picks the parts.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/lib/clusters.sh
ROWS=${1:-2000000}
P=${PGRESHARD:-./build/pgreshard}
W=$(mktemp -d)

clusters_start 6 >/dev/null
fresh_db bench >/dev/null
echo "bench/copy: loading $ROWS rows into the source..."
psql_on 0 bench "
CREATE TABLE items (id bigint PRIMARY KEY, customer_id bigint NOT NULL, sku text NOT NULL,
                    price numeric(12,2), note text, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO items SELECT g, g % 100000, 'SKU-' || (g::bigint * 7919) % 1000003, (g % 10000) / 100.0,
       CASE WHEN g % 5 = 0 THEN NULL ELSE repeat(md5(g::text), 2) END, now()
FROM generate_series(1, $ROWS) g;
CREATE TABLE customers (id bigint PRIMARY KEY, name text, email text);
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, $((ROWS / 10))) g;
CREATE PUBLICATION pub FOR TABLE items, customers;
ANALYZE;" >/dev/null
bytes=$(psql_on 0 bench "SELECT pg_size_pretty(pg_total_relation_size('items') + pg_total_relation_size('customers'))")

export SRC S0 S1 S2 S3
SRC=$(dsn 0 bench) S0=$(dsn 1 bench) S1=$(dsn 2 bench) S2=$(dsn 3 bench) S3=$(dsn 4 bench)
cat >"$W/plan.yaml" <<YAML
version: 1
name: benchcopy
source: { dsn: "\${SRC}", publication: pub }
destination: { shards: ["\${S0}", "\${S1}", "\${S2}", "\${S3}"] }
tables:
  items: { key: customer_id }
  customers: { key: id }
copy: { jobs: ${BENCH_JOBS:-4}, chunk_rows: 250000 }
YAML
cat >"$W/route.lua" <<'LUA'
function route(table, row, nshards)
  return pgreshard.hash(row.customer_id or row.id, "bigint", nshards)
end
LUA
sed -e 's/^name: benchcopy/name: benchcopylua/' \
    -e 's/  items: { key: customer_id }/  items: { key: customer_id, reads: [customer_id] }/' \
    -e 's/  customers: { key: id }/  customers: { key: id, reads: [id] }/' "$W/plan.yaml" >"$W/lua.yaml"
printf 'sharding: { function: lua }\nhooks: { file: route.lua, route: route }\n' >>"$W/lua.yaml"

baseline() {	# the plain pipe into one database (cluster 5), same tables, no indexes
	fresh_db bench 5 >/dev/null
	psql_on 5 bench "CREATE TABLE items (id bigint, customer_id bigint, sku text, price numeric(12,2), note text, created_at timestamptz);
	                 CREATE TABLE customers (id bigint, name text, email text)" >/dev/null
	local start
	start=$(date +%s.%N)
	for t in items customers; do
		psql -X -q -d "$(dsn 0 bench)" -c "COPY $t TO STDOUT" | psql -X -q -d "$(dsn 5 bench)" -c "COPY $t FROM STDIN"
	done
	awk "BEGIN {print $(date +%s.%N) - $start}"
}

ours() {	# [PLAN] prints: copy-step seconds, whole-apply seconds, max RSS in KiB
	drop_slots 0 bench
	fresh_db bench 1 2 3 4 >/dev/null
	/usr/bin/time -f "%M %e" -o "$W/time" "$P" apply --yes --until copy "${1:-$W/plan.yaml}" 2>"$W/apply.log" ||
		{ cat "$W/apply.log" >&2; exit 1; }
	local rows
	rows=$(for s in 1 2 3 4; do psql_on $s bench "SELECT count(*) FROM items"; done | awk '{s += $1} END {print s}')
	[ "$rows" = "$ROWS" ] || { echo "bench/copy: expected $ROWS rows on the shards, found $rows" >&2; exit 1; }
	read -r rss wall <"$W/time"
	echo "$(sed -n 's/.*step copy: done in \([0-9.]*\) s.*/\1/p' "$W/apply.log") $wall $rss"
}

if [[ " ${BENCH_COPY_PARTS:-pipe keys} " == *" pipe "* ]]; then
: >"$W/results"
for rep in 1 2 3; do
	b=$(baseline)
	read -r c a r <<<"$(ours)"
	read -r l _ _ <<<"$(ours "$W/lua.yaml")"
	echo "$b $c $a $r $l" >>"$W/results"
	awk -v b="$b" -v c="$c" -v a="$a" -v l="$l" -v rep="$rep" 'BEGIN {
		printf "  run %d: pipe %.2f s, pgreshard copy step %.2f s (%.2f), whole apply %.2f s (%.2f), Lua route copy step %.2f s\n", rep, b, c, c / b, a, a / b, l }'
done
sort -n -k1 "$W/results" >/dev/null
awk -v rows="$ROWS" -v size="$bytes" '
	{ b[NR] = $1; c[NR] = $2; a[NR] = $3; if ($4 > rss) rss = $4; rc[NR] = $2 / $1; ra[NR] = $3 / $1; l[NR] = $5; rl[NR] = $2 / $5 }
	function median(x, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t } return x[int((n + 1) / 2)] }
	END {
		printf "bench/copy: %d + %d rows (%s), 1 -> 4 shards, median of %d runs\n", rows, rows / 10, size, NR;
		printf "  baseline psql COPY | psql COPY into 1 database: %7.2f s\n", median(b, NR);
		printf "  pgreshard copy step:                            %7.2f s   ratio %.2f\n", median(c, NR), median(rc, NR);
		printf "  pgreshard apply --until copy (all steps):       %7.2f s   ratio %.2f\n", median(a, NR), median(ra, NR);
		printf "  pgreshard peak memory (max RSS):                %7.1f MiB\n", rss / 1024;
		printf "  copy step with a Lua route hook:                %7.2f s   throughput vs built-in hash %.2f\n", median(l, NR), median(rl, NR) }' "$W/results"
fi
if [[ " ${BENCH_COPY_PARTS:-pipe keys} " == *" keys "* ]]; then
	source "$(dirname "$0")/copy_keys.sh"
fi
rm -rf "$W"
