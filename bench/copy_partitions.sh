#!/usr/bin/env bash
# bench/copy_partitions.sh — the copy of a partitioned table, leaf by leaf:
# ROWS rows (default 1000000) in `events`, LIST-partitioned by region into 8
# leaves of equal size, sharded 1 -> 4 by tenant_id; copy.chunk_rows is
# ROWS/8, so each leaf is one chunk.  The copy step is timed with copy.jobs 1
# and 4, three rounds each; medians, and the ratio (jobs 1 / jobs 4: higher
# is better; the leaves are copied in parallel with jobs 4).
#
#   bash bench/copy_partitions.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/lib/clusters.sh
ROWS=${1:-1000000}
P=${PGRESHARD:-./build/pgreshard}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

clusters_start 5 >/dev/null
fresh_db bench >/dev/null
echo "bench/copy_partitions: loading $ROWS rows into 8 leaf partitions..."
psql_on 0 bench "
CREATE TABLE events (tenant_id int NOT NULL, id bigint NOT NULL, region text NOT NULL, kind text NOT NULL,
                     payload text, PRIMARY KEY (region, tenant_id, id)) PARTITION BY LIST (region);
DO \$\$ BEGIN FOR r IN 0..7 LOOP
  EXECUTE format('CREATE TABLE events_r%s PARTITION OF events FOR VALUES IN (%L)', r, 'r' || r);
END LOOP; END \$\$;
INSERT INTO events SELECT g % 10000, g, 'r' || (g % 8), 'k' || g % 7, repeat(md5(g::text), 2)
FROM generate_series(1, $ROWS) g;
CREATE PUBLICATION pub FOR TABLE events;
ANALYZE;" >/dev/null
export SRC S0 S1 S2 S3
SRC=$(dsn 0 bench) S0=$(dsn 1 bench) S1=$(dsn 2 bench) S2=$(dsn 3 bench) S3=$(dsn 4 bench)

copy_once() {	# JOBS: prints the copy step's seconds
	cat >"$W/plan.yaml" <<YAML
version: 1
name: bparts
source: { dsn: "\${SRC}", publication: pub }
destination: { shards: ["\${S0}", "\${S1}", "\${S2}", "\${S3}"] }
tables:
  events: { key: tenant_id }
copy: { jobs: $1, chunk_rows: $((ROWS / 8)) }
YAML
	psql_on 0 bench "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = 'bench'" >/dev/null
	for s in 1 2 3 4; do psql_on $s bench "DROP SCHEMA IF EXISTS pgreshard CASCADE; DROP TABLE IF EXISTS events" >/dev/null; done
	"$P" apply --yes --until copy "$W/plan.yaml" 2>"$W/log" || { cat "$W/log" >&2; exit 1; }
	grep -q "copy: 8 chunk(s) to copy" "$W/log" || { echo "expected 8 leaf chunks" >&2; cat "$W/log" >&2; exit 1; }
	sed -n 's/.*step copy: done in \([0-9.]*\) s.*/\1/p' "$W/log"
}
median() { sort -n | sed -n 2p; }

: >"$W/j1"
: >"$W/j4"
for round in 1 2 3; do
	copy_once 1 >>"$W/j1"
	copy_once 4 >>"$W/j4"
done
j1=$(median <"$W/j1")
j4=$(median <"$W/j4")
echo "partitioned table, $ROWS rows in 8 leaves, 1 -> 4: copy jobs 1 ${j1} s, jobs 4 ${j4} s" \
	"(jobs 1 / jobs 4 = $(echo "scale=2; $j1 / $j4" | bc))"
