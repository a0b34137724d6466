# test_reverse_finish.sh — after the cutover `apply` streams the shards back
# (a write on a shard reaches the source; an idle stream back keeps its
# connections; status reports the reverse lag and
# retained WAL, in JSON and for Prometheus) until `pgreshard finish`: then the
# running apply drops the reverse slots and publications and ends its step
# finish with exit 0, and the way back is closed (rollback refused).  With
# cutover.reverse_max_retained passed, apply finishes by itself with a
# warning.  `finish` with no apply running (after apply --until cutover)
# does it itself; the next apply completes the step.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
W=$(mktemp -d)
AP=
trap '[ -n "$AP" ] && kill -9 $AP 2>/dev/null; rm -rf "$W"; drop_db_everywhere revfin; drop_db_everywhere revmax; drop_db_everywhere revidle' EXIT

setup() {	# DB LIMIT
	fresh_db $1 0 1 2
	psql_on 0 $1 "CREATE TABLE items (id bigserial PRIMARY KEY, v text);
	  INSERT INTO items (v) SELECT 'v' || g FROM generate_series(1, 1000) g;
	  CREATE PUBLICATION pub FOR TABLE items" >/dev/null
	cat >"$W/$1.yaml" <<YAML
version: 1
name: $1
source: { dsn: "$(dsn 0 $1)", publication: pub }
destination: { shards: ["$(dsn 1 $1)", "$(dsn 2 $1)"] }
tables:
  items: { key: id }
cutover: { timeout_s: 30$2 }
YAML
}

# 1: finish while an apply streams back
setup revfin ""
expect_rc 0 "$P" plan "$W/revfin.yaml"
expect_contains "$OUT$ERR" "reverse replication slot on each shard holds back"
"$P" apply --yes "$W/revfin.yaml" >"$W/apply.out" 2>"$W/apply.err" &
AP=$!
for _ in $(seq 1 120); do
	[ "$(psql_on 1 revfin "SELECT coalesce(reverse_state, '') FROM pgreshard.runs" 2>/dev/null)" = streaming ] && break
	sleep 0.5
done
id=$(psql_on 2 revfin "UPDATE items SET v = 'from shard 1' WHERE id = (SELECT min(id) FROM items) RETURNING id")
for _ in $(seq 1 40); do
	[ "$(psql_on 0 revfin "SELECT v FROM items WHERE id = $id")" = "from shard 1" ] && break
	sleep 0.25
done
expect_eq "$(psql_on 0 revfin "SELECT v FROM items WHERE id = $id")" "from shard 1" "a shard's write on the source"
# streaming back keeps its connections: an idle stream opens no session anywhere
# (it opened about four per shard every half second: ~50 in these 6 s)
sessions() {	# sessions ever opened to the plan's databases (walsenders aside)
	local n=0 c
	for c in 0 1 2; do n=$((n + $(psql_on $c postgres "SELECT sessions FROM pg_stat_database WHERE datname = 'revfin'"))); done
	echo $n
}
before=$(sessions)
sleep 6
opened=$(($(sessions) - before))
[ "$opened" -le 2 ] || fail "streaming back opened $opened sessions in 6 s"
expect_rc 0 "$P" status --json "$W/revfin.yaml"
expect_eq "$(echo "$OUT" | jq -r '.reverse.state')" streaming "status reverse.state"
expect_eq "$(echo "$OUT" | jq -r '.reverse.shards | length')" 2 "status reverse.shards"
expect_eq "$(echo "$OUT" | jq -r '.reverse.max_retained_bytes')" null "status reverse.max_retained_bytes"
expect_eq "$(echo "$OUT" | jq -r '[.reverse.shards[] | .retained_wal_bytes >= 0 and .lag_bytes >= 0] | all')" true "reverse lag and retained WAL"
expect_rc 0 "$P" status --prometheus "$W/revfin.yaml"
expect_contains "$OUT" 'pgreshard_stream_lag_bytes{plan="revfin",shard="1",direction="reverse"}'
expect_contains "$OUT" 'pgreshard_slot_retained_wal_bytes{plan="revfin",shard="0",slot="pgreshard_revfin_back"}'
expect_rc 0 "$P" status "$W/revfin.yaml"
expect_contains "$OUT" "Reverse replication (shards -> source): streaming"
expect_contains "$OUT" "warning: the reverse slots hold the shards' WAL until \`pgreshard finish\` or \`pgreshard rollback\`; no cutover.reverse_max_retained bounds it"
expect_rc 0 "$P" finish "$W/revfin.yaml"
expect_contains "$OUT" "reverse replication ended"
wait $AP
expect_eq "$?" 0 "the apply after finish"
AP=
expect_contains "$(cat "$W/apply.err")" "step finish: done"
for c in 1 2; do
	expect_eq "$(psql_on $c revfin "SELECT count(*) FROM pg_replication_slots")" 0 "reverse slot on cluster $c"
	expect_eq "$(psql_on $c revfin "SELECT count(*) FROM pg_publication")" 0 "reverse publication on cluster $c"
done
expect_eq "$(psql_on 0 revfin "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE n.nspname = 'pgreshard' AND c.relkind IN ('r', 'p')")" 0 "the reverse stream's tables on the source"
expect_rc 1 "$P" rollback "$W/revfin.yaml"
expect_contains "$ERR" "the way back is closed"
expect_rc 0 "$P" status --json "$W/revfin.yaml"
expect_eq "$(echo "$OUT" | jq -r '.reverse.state')" finished "status after finish"

# 2: cutover.reverse_max_retained passed: apply finishes by itself
setup revmax ", reverse_max_retained: 1kB"
expect_rc 0 timeout 120 "$P" apply --yes "$W/revmax.yaml"
expect_contains "$ERR" "more than cutover.reverse_max_retained"
expect_contains "$ERR" "step finish: done"
expect_eq "$(psql_on 1 revmax "SELECT count(*) FROM pg_replication_slots")" 0 "reverse slot after the automatic finish"

# 3: apply --until cutover leaves the reverse slots; finish with no apply running drops them
# itself, and the next apply completes the step finish
setup revidle ""
expect_rc 0 "$P" apply --yes --until cutover "$W/revidle.yaml"
expect_eq "$(psql_on 2 revidle "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgreshard_revidle_back'")" 1 "reverse slot after --until cutover"
expect_rc 0 "$P" finish "$W/revidle.yaml"
expect_contains "$OUT" "run \`pgreshard apply\` to complete the step finish"
for c in 1 2; do
	expect_eq "$(psql_on $c revidle "SELECT count(*) FROM pg_replication_slots")" 0 "reverse slot on cluster $c after finish"
done
expect_rc 0 "$P" apply --yes "$W/revidle.yaml"
expect_contains "$ERR" "step finish: done"
expect_eq "$(psql_on 0 revidle "SELECT count(*) FROM pg_replication_slots")" 0 "the source's slot after the step finish"
