#!/usr/bin/env bash
# demo/run.sh — pgreshard end to end on local throwaway clusters, under live writes.
#
# Starts five PostgreSQL 15 clusters (a source and four shards), loads a small
# shop database into the source, starts an application-like write workload, and
# runs the whole pipeline: validate, plan, shard-of (checked against PostgreSQL),
# then `apply`: preflight, slot, schema, copy, schema-post, stream, verify and a
# fenced cutover while the writes go on; then reverse replication (a write on
# a shard reaches the source) until `pgreshard finish`; then a summary.  The
# clusters are removed when the demo ends.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/lib/clusters.sh
PGRESHARD=${PGRESHARD:-./build/pgreshard}
W=$(mktemp -d)
WL=
AP=
trap '[ -n "$WL" ] && kill $WL 2>/dev/null; [ -n "$AP" ] && kill $AP 2>/dev/null; rm -rf "$W"; clusters_stop' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting 5 throwaway PostgreSQL 15 clusters (source + 4 shards)"
clusters_start 5
fresh_db shop >/dev/null
load_sql 0 shop demo/shop.sql
export DEMO_SOURCE DEMO_SHARD0 DEMO_SHARD1 DEMO_SHARD2 DEMO_SHARD3
DEMO_SOURCE=$(dsn 0 shop)
DEMO_SHARD0=$(dsn 1 shop) DEMO_SHARD1=$(dsn 2 shop) DEMO_SHARD2=$(dsn 3 shop) DEMO_SHARD3=$(dsn 4 shop)
echo "source: $(psql_on 0 shop "SELECT count(*) FROM shop.customers") customers, $(psql_on 0 shop "SELECT count(*) FROM shop.orders") orders"

step "pgreshard validate plans/demo_shop.yaml"
"$PGRESHARD" validate plans/demo_shop.yaml

step "pgreshard plan plans/demo_shop.yaml"
"$PGRESHARD" plan plans/demo_shop.yaml

step "pgreshard shard-of: where do customers 1..5 go? (checked against PostgreSQL)"
psql_on 0 shop "CREATE TABLE public.demo_check (id bigint) PARTITION BY HASH (id)" >/dev/null
for id in 1 2 3 4 5; do
	shard=$("$PGRESHARD" shard-of plans/demo_shop.yaml shop.customers "$id")
	agrees=$(psql_on 0 shop "SELECT satisfies_hash_partition('public.demo_check'::regclass, 4, $shard, $id::bigint)")
	echo "customer $id -> shard $shard   (PostgreSQL's satisfies_hash_partition: $agrees)"
	[ "$agrees" = t ] || { echo "mismatch!" >&2; exit 1; }
done
psql_on 0 shop "DROP TABLE public.demo_check" >/dev/null

step "live writes: an order-taking workload runs from now on"
(
	i=0
	while [ -d "$W" ] && [ ! -e "$W/stop" ]; do	# the exit trap removes $W: the loop ends with the demo
		c=$((i % 20000 + 1))
		psql -X -q -d "$(dsn 0 shop)" -c "INSERT INTO shop.orders (customer_id, status, total) VALUES ($c, 'new', $((i % 500)).99);
			UPDATE shop.orders SET status = 'paid' WHERE id = $((i % 60000 + 1));
			UPDATE shop.customers SET profile = jsonb_set(coalesce(profile, '{}'), '{visits}', to_jsonb($i)) WHERE id = $c;
			INSERT INTO shop.payments (customer_id, amount) VALUES ($c, $((i % 300)).50)" \
			>/dev/null 2>>"$W/refused" || true
		i=$((i + 1))
		sleep 0.02
	done
	echo "$i" >"$W/writes"
) &
WL=$!
sleep 1

step "pgreshard apply plans/demo_shop.yaml --yes   (copy, stream, verify, fenced cutover, then streaming back)"
start=$(date +%s.%N)
"$PGRESHARD" apply --yes plans/demo_shop.yaml 2> >(tee "$W/apply.log" >&2) &
AP=$!
# after the cutover apply keeps running: it streams the shards' changes back to the source
until grep -q "reverse: streaming" "$W/apply.log" 2>/dev/null; do
	kill -0 $AP 2>/dev/null || { echo "apply ended before the cutover" >&2; exit 1; }
	sleep 0.2
done
total=$(awk "BEGIN {printf \"%.1f\", $(date +%s.%N) - $start}")
sleep 1
touch "$W/stop"
wait $WL
WL=

step "after the cutover"
echo -n "a write to the source now: "
psql -X -q -d "$(dsn 0 shop)" -c "INSERT INTO shop.orders (customer_id, total) VALUES (1, 1)" 2>&1 | sed 's/^psql:[^:]*: //' || true
"$PGRESHARD" verify plans/demo_shop.yaml | tail -1

step "reverse replication: the new cluster's writes reach the old database (the way back stays open)"
id=$(psql_on 1 shop "UPDATE shop.customers SET name = 'renamed on shard 0' WHERE id = (SELECT min(id) FROM shop.customers) RETURNING id")
sleep 2
echo "customer $id on the source: $(psql_on 0 shop "SELECT name FROM shop.customers WHERE id = $id")"
"$PGRESHARD" status plans/demo_shop.yaml | sed -n '/^Reverse replication/,/^$/p'

step "pgreshard finish plans/demo_shop.yaml   (the point of no return; \`pgreshard rollback\` would switch back)"
"$PGRESHARD" finish plans/demo_shop.yaml
wait $AP
AP=

step "summary"
rows=0
for s in 1 2 3 4; do
	n=$(psql_on $s shop "SELECT (SELECT count(*) FROM shop.customers) + (SELECT count(*) FROM shop.orders) + (SELECT count(*) FROM shop.\"Order Items\")
		+ (SELECT count(*) FROM shop.payments)")
	echo "shard $((s - 1)): $n rows"
	rows=$((rows + n))
done
echo "rows moved (sharded tables): $rows; application writes during the run: $(cat "$W/writes"), refused after the cutover: $(grep -c 'moved to shards' "$W/refused" || true)"
echo "time per step:"
sed -n 's/^pgreshard: step \([a-z-]*\): done in \(.*\)$/  \1: \2/p' "$W/apply.log"
echo "freeze (writes held): $(sed -n 's/.*writes were held for \([0-9]*\) ms.*/\1 ms/p' "$W/apply.log")"
echo "apply time to the cutover (it then streamed back until finish): ${total}s"
