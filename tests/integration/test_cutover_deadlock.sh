# test_cutover_deadlock.sh — `cutover.freeze: lock` against an application transaction
# that writes two moved tables in the other order: the freeze's LOCK TABLE a, b holds a
# and waits for b, the application holds b and then waits for a, and the server picks the
# freeze as the deadlock victim (its deadlock check runs first).  The freeze must take
# the locks again instead of aborting the cutover, and the application's write must end
# up on the shards.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=dltest
W=$(mktemp -d)
APP=
trap '[ -n "$APP" ] && kill $APP 2>/dev/null; rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2
psql_on 0 $DB "CREATE TABLE a (id bigint PRIMARY KEY, v text);
  CREATE TABLE b (id bigint PRIMARY KEY, v text);
  INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 1000) g;
  INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 1000) g;
  CREATE PUBLICATION pub FOR TABLE a, b" >/dev/null
export SRC S0 S1
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: dltest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}"] }
tables:
  a: { key: id }
  b: { key: id }
cutover: { reverse: false, freeze: lock, timeout_s: 30 }
YAML
expect_rc 0 "$P" apply --yes --until verify "$W/plan.yaml"

# the application session: writes b now, a later (fed through a fifo)
mkfifo "$W/app"
psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn 0 $DB)" <"$W/app" >"$W/app.out" 2>&1 &
APP=$!
exec 3>"$W/app"
echo "BEGIN; INSERT INTO b VALUES (5001, 'app'); SELECT 'holding b';" >&3
for ((i = 0; i < 100; i++)); do grep -q 'holding b' "$W/app.out" && break; sleep 0.05; done

"$P" apply --yes "$W/plan.yaml" >"$W/apply.out" 2>"$W/apply.err" &
apply=$!
# once the freeze waits for b (holding a), the application asks for a: a deadlock
for ((i = 0; i < 600; i++)); do
	[ "$(psql_on 0 $DB "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LOCK TABLE%' AND wait_event_type = 'Lock'")" = 1 ] && break
	sleep 0.05
done
echo "INSERT INTO a VALUES (5001, 'app'); COMMIT;" >&3
exec 3>&-
wait $apply
rc=$?
wait $APP
APP=
OUT=$(cat "$W/apply.out") ERR=$(cat "$W/apply.err")
expect_eq "$rc" 0 "apply with the cutover"
expect_contains "$ERR" "a deadlock with an application transaction (attempt 1); trying again"
expect_contains "$ERR" "cutover: done"
expect_eq "$(psql_on 0 $DB "SELECT count(*) FROM a WHERE id = 5001") $(psql_on 0 $DB "SELECT count(*) FROM b WHERE id = 5001")" "1 1" \
	"the application's transaction committed"
compare_tables $DB a 0 "1 2" || fail "a differs after the cutover"
compare_tables $DB b 0 "1 2" || fail "b differs after the cutover"
