# test_cutover_read_only.sh — `cutover.freeze: read_only`: the source database is made
# read-only and every other session of it ended during the freeze (so a session that
# began read-write cannot write after the fence); after the cutover the database stays
# read-only and the moved tables refuse writes; the shards equal the frozen source.
set -u
source "$(dirname "$0")/../lib/clusters.sh"
source "$(dirname "$0")/../lib/assert.sh"
P=$PGRESHARD
DB=rotest
W=$(mktemp -d)
trap 'rm -rf "$W"; drop_db_everywhere $DB' EXIT

fresh_db $DB 0 1 2
psql_on 0 $DB "CREATE TABLE items (id bigint PRIMARY KEY, v text);
  INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 3000) g;
  CREATE PUBLICATION pub FOR TABLE items" >/dev/null
export SRC S0 S1
SRC=$(dsn 0 $DB) S0=$(dsn 1 $DB) S1=$(dsn 2 $DB)
cat >"$W/plan.yaml" <<'YAML'
version: 1
name: rotest
source: { dsn: "${SRC}", publication: pub }
destination: { shards: ["${S0}", "${S1}"] }
tables:
  items: { key: id }
cutover: { reverse: false, freeze: read_only, timeout_s: 30 }
YAML
expect_rc 0 "$P" apply --yes --until verify "$W/plan.yaml"
# a session that is open (and began read-write) across the cutover
psql -X -q -d "$(dsn 0 $DB)" -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
sleeper=$!
psql_on 0 $DB "INSERT INTO items VALUES (100001, 'late')" >/dev/null
expect_rc 0 "$P" apply --yes "$W/plan.yaml"
expect_contains "$ERR" "cutover: done"
wait $sleeper
expect_eq "$?" 2 "the open session was ended by the freeze (psql exit 2)"
expect_eq "$(psql_on 0 $DB "SHOW default_transaction_read_only")" on "source database read-only"
expect_rc 1 psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn 0 $DB)" -c "SET default_transaction_read_only = off" -c "INSERT INTO items VALUES (100002, 'x')"
expect_contains "$ERR" "moved to shards"
compare_tables $DB items 0 "1 2" || fail "items after the read_only cutover"
