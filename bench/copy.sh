#!/usr/bin/env bash
# bench/copy.sh — pgreshard's copy (1 -> 4 shards, rows routed in flight) against a
# plain `psql COPY TO STDOUT | psql COPY FROM STDIN` pipe of the same tables into
# one database, measured in the same run on the same machine.
#
#   bash bench/copy.sh [ROWS]      (default 2000000 rows in the main table)
#
# Prints seconds for each, the ratio pgreshard/pipe (lower is better; target
# <= 1.0) and pgreshard's peak resident memory (target < 64 MiB).
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
INSERT INTO items SELECT g, g % 100000, 'SKU-' || (g * 7919) % 1000003, (g % 10000) / 100.0,
       CASE WHEN g % 5 = 0 THEN NULL ELSE repeat(md5(g::text), 2) END, now()
FROM generate_series(1, $ROWS) g;
CREATE TABLE customers (id bigint PRIMARY KEY, name text, email text);
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, $((ROWS / 10))) g;
CREATE PUBLICATION pub FOR TABLE items, customers;
VACUUM ANALYZE;" >/dev/null
bytes=$(psql_on 0 bench "SELECT pg_size_pretty(pg_total_relation_size('items') + pg_total_relation_size('customers'))")

# baseline: the plain pipe into one database (cluster 5), same tables, no indexes
psql_on 5 bench "CREATE TABLE items (id bigint, customer_id bigint, sku text, price numeric(12,2), note text, created_at timestamptz);
                 CREATE TABLE customers (id bigint, name text, email text)" >/dev/null
start=$(date +%s.%N)
for t in items customers; do
	psql -X -q -d "$(dsn 0 bench)" -c "COPY $t TO STDOUT" | psql -X -q -d "$(dsn 5 bench)" -c "COPY $t FROM STDIN"
done
pipe=$(awk "BEGIN {print $(date +%s.%N) - $start}")

export SRC S0 S1 S2 S3
SRC=$(dsn 0 bench) S0=$(dsn 1 bench) S1=$(dsn 2 bench) S2=$(dsn 3 bench) S3=$(dsn 4 bench)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: benchcopy
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}", "${S2}", "${S3}"] }
tables:
  items: { key: customer_id }
  customers: { key: id }
copy: { jobs: 2, chunk_rows: 250000 }
YAML
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$W/maxrss" "$P" -q apply --yes --until copy "$W/plan.yaml"
ours=$(awk "BEGIN {print $(date +%s.%N) - $start}")
rss_kb=$(cat "$W/maxrss")
rows=$(for s in 1 2 3 4; do psql_on $s bench "SELECT count(*) FROM items"; done | awk '{s += $1} END {print s}')
[ "$rows" = "$ROWS" ] || { echo "bench/copy: expected $ROWS rows on the shards, found $rows" >&2; exit 1; }
rm -rf "$W"
awk -v pipe="$pipe" -v ours="$ours" -v rss="$rss_kb" -v rows="$ROWS" -v size="$bytes" 'BEGIN {
	printf "bench/copy: %d + %d rows (%s)\n", rows, rows / 10, size;
	printf "  psql COPY | psql COPY (1 database):   %7.2f s\n", pipe;
	printf "  pgreshard apply --until copy (4 shards): %7.2f s  (ratio %.2f)\n", ours, ours / pipe;
	printf "  pgreshard peak memory:                 %7.1f MiB\n", rss / 1024 }'
